//! Static assets compiled into the binary: CSS, ES modules, the service
//! worker, the web app manifest and icons. No CDN and no build step: the
//! product works offline and from a fresh checkout.

use std::sync::OnceLock;

use axum::extract::{Path, Query};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
    /// Whether every visitor's service worker stores it on install. A large
    /// file only some pages need is stored by those pages instead.
    precache: bool,
}

macro_rules! asset {
    ($name:literal, $type:expr) => {
        asset!($name, $type, precache = true)
    };
    ($name:literal, $type:expr, precache = $precache:expr) => {
        Asset {
            name: $name,
            content_type: $type,
            bytes: include_bytes!(concat!("../../assets/", $name)),
            precache: $precache,
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";

static ASSETS: &[Asset] = &[
    asset!("app.css", "text/css; charset=utf-8"),
    asset!("app.js", JS),
    asset!("api.js", JS),
    asset!("seatmap.js", JS),
    asset!("event.js", JS),
    asset!("picks.js", JS),
    asset!("checkout.js", JS),
    asset!("tickets.js", JS),
    asset!("push.js", JS),
    asset!("builder.js", JS),
    asset!("sales.js", JS),
    asset!("sales-util.js", JS),
    asset!("scanner.js", JS),
    asset!("rotating.js", JS),
    asset!("queue.js", JS),
    asset!("qrcode.js", JS),
    // A QR decoder (250 KB) for the gate's camera where the browser has
    // none; the scanner page stores it for offline use.
    asset!("jsqr.js", JS, precache = false),
    asset!("icon.svg", "image/svg+xml"),
    asset!("icon-192.png", "image/png"),
    asset!("icon-512.png", "image/png"),
];

const SERVICE_WORKER: &str = include_str!("../../assets/sw.js");
const MANIFEST: &str = include_str!("../../assets/manifest.webmanifest");

/// A short hash of every asset: part of each asset URL, so browsers and the
/// service worker cache assets forever and a new build is fetched at once.
pub fn version() -> &'static str {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION.get_or_init(|| {
        // FNV-1a: stable across builds and platforms, unlike DefaultHasher.
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for asset in ASSETS {
            for b in asset.name.bytes().chain(asset.bytes.iter().copied()) {
                hash ^= u64::from(b);
                hash = hash.wrapping_mul(0x0100_0000_01b3);
            }
        }
        for b in SERVICE_WORKER.bytes() {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        format!("{:012x}", hash >> 16)
    })
}

pub fn asset_url(name: &str) -> String {
    format!("/assets/{name}?v={}", version())
}

#[derive(Deserialize)]
pub struct VersionQuery {
    v: Option<String>,
}

pub async fn serve(Path(name): Path<String>, Query(q): Query<VersionQuery>) -> Response {
    let Some(asset) = ASSETS.iter().find(|a| a.name == name) else {
        return (StatusCode::NOT_FOUND, "no such asset").into_response();
    };
    let cache = if q.v.as_deref() == Some(version()) {
        "public, max-age=31536000, immutable"
    } else {
        "public, max-age=0, must-revalidate"
    };
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
            (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        ],
        asset.bytes,
    )
        .into_response()
}

/// The service worker, at the root so that its scope is the whole site. It
/// learns the asset version so that each build gets its own cache.
pub async fn service_worker() -> Response {
    let mut urls: Vec<String> = ASSETS.iter().filter(|a| a.precache).map(|a| asset_url(a.name)).collect();
    urls.push("/offline".to_owned());
    let body = SERVICE_WORKER
        .replace("__ASSET_VERSION__", version())
        .replace("\"__PRECACHE__\"", &serde_json::to_string(&urls).expect("strings serialise"));
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(JS)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (header::HeaderName::from_static("service-worker-allowed"), HeaderValue::from_static("/")),
        ],
        body,
    )
        .into_response()
}

pub async fn manifest() -> Response {
    let body = MANIFEST.replace("__V__", version());
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("application/manifest+json")),
            (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600")),
        ],
        body,
    )
        .into_response()
}
