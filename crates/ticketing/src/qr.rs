//! QR codes for ticket barcodes, as SVG and PNG: drawn by the web app and
//! embedded in e-mailed tickets.

use qrcode::{EcLevel, QrCode};

/// Error correction M (15 %): survives a scratched phone screen, keeps the
/// code small enough to scan from a distance.
const EC_LEVEL: EcLevel = EcLevel::M;
/// Smallest rendered size, in pixels; scanners want at least ~2 px a module.
const MIN_SIZE_PX: u32 = 320;

#[derive(Debug, thiserror::Error)]
pub enum QrError {
    #[error("cannot encode QR code: {0}")]
    Encode(#[from] qrcode::types::QrError),
    #[error("cannot write PNG: {0}")]
    Png(#[from] image::ImageError),
}

pub fn svg(data: &str) -> Result<String, QrError> {
    let code = QrCode::with_error_correction_level(data.as_bytes(), EC_LEVEL)?;
    Ok(code.render::<qrcode::render::svg::Color>().min_dimensions(MIN_SIZE_PX, MIN_SIZE_PX).quiet_zone(true).build())
}

pub fn png(data: &str) -> Result<Vec<u8>, QrError> {
    let code = QrCode::with_error_correction_level(data.as_bytes(), EC_LEVEL)?;
    let img = code.render::<image::Luma<u8>>().min_dimensions(MIN_SIZE_PX, MIN_SIZE_PX).quiet_zone(true).build();
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)?;
    Ok(out.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_both_formats() {
        let data = "RT1.".to_string() + &"A".repeat(135);
        let s = svg(&data).unwrap();
        assert!(s.starts_with("<?xml") && s.contains("<svg"));
        let p = png(&data).unwrap();
        assert_eq!(&p[..8], b"\x89PNG\r\n\x1a\n");
    }
}
