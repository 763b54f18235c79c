//! Plain text people type: names, titles, labels.
//!
//! A name is one line of printable text. Control characters (a NUL byte, an
//! escape sequence, a line break) have no place in one: they break e-mail
//! headers, CSV exports and terminals that show logs, so they are refused at
//! the edge rather than escaped everywhere a name is shown.

/// Whether `s` has no control characters, nor the invisible marks that
/// reorder text (U+202A to U+202E, U+2066 to U+2069), with which a name can
/// show as something else than it is.
pub fn is_one_line(s: &str) -> bool {
    !s.chars().any(|c| c.is_control() || is_bidi_control(c))
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Whether `s` is a name: at most `max` characters once trimmed, on one
/// line (see [`is_one_line`]), with at least one visible character. A name
/// of zero-width spaces alone shows as nothing: a list row or a link with
/// nothing to click.
pub fn is_name(s: &str, max: usize) -> bool {
    let s = s.trim();
    s.chars().count() <= max && is_one_line(s) && s.chars().any(|c| !c.is_whitespace() && !is_invisible(c))
}

/// What two names are compared by when they must differ: compatibility
/// forms folded (full-width `ＳＴＡＬＬＳ` is `STALLS`), invisible characters
/// dropped (zero-width spaces, soft hyphens), case and runs of spaces
/// ignored. Two names with one key would look alike to a buyer.
pub fn name_key(s: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    let visible = s.nfkc().filter(|c| !is_invisible(*c)).collect::<String>().to_lowercase();
    visible.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn is_invisible(c: char) -> bool {
    matches!(c, '\u{00AD}' | '\u{034F}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}')
        || is_bidi_control(c)
}

/// Whether `s` has no control characters but line breaks and tabs, as an
/// address or a description may.
pub fn is_printable(s: &str) -> bool {
    !s.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
}

/// `s` as quoted back in an error: at most `max` characters, control
/// characters replaced, so that an error never echoes a megabyte or a byte
/// that breaks what shows it.
pub fn excerpt(s: &str, max: usize) -> String {
    let mut out: String = s.chars().take(max).map(|c| if c.is_control() { '\u{FFFD}' } else { c }).collect();
    if s.chars().nth(max).is_some() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_text_has_no_control_characters() {
        assert!(is_one_line("Ada Lovelace — Saal 2"));
        for bad in ["a\0b", "a\nb", "a\tb", "\u{1b}[31m", "Org\u{202E}gro"] {
            assert!(!is_one_line(bad), "{bad:?}");
        }
        assert!(is_printable("Hauptstraße 1\n10115 Berlin"));
        assert!(!is_printable("a\0b"));
    }

    #[test]
    fn a_name_has_something_to_see_and_a_bounded_length() {
        assert!(is_name(" Jazz Night ", 10));
        assert!(is_name("\u{00E9}t\u{00E9}", 3));
        for blank in ["", "   ", "\u{200B}\u{200B}", "\u{FEFF} \u{00AD}", "\u{2060}"] {
            assert!(!is_name(blank, 10), "{blank:?}");
        }
        assert!(!is_name("eleven char", 10));
        assert!(!is_name("two\nlines", 10));
    }

    #[test]
    fn names_that_look_alike_share_a_key() {
        let key = name_key("Stalls");
        for alike in [
            "stalls",
            "STALLS",
            "Stalls\u{200B}",
            "St\u{00AD}alls",
            "\u{FF33}\u{FF34}\u{FF21}\u{FF2C}\u{FF2C}\u{FF33}",
            " Stalls ",
        ] {
            assert_eq!(name_key(alike), key, "{alike:?}");
        }
        assert_eq!(name_key("Early  bird"), name_key("early bird"));
        assert_ne!(name_key("Stalls"), name_key("Stall"));
    }

    #[test]
    fn an_excerpt_is_short_and_clean() {
        assert_eq!(excerpt("short", 10), "short");
        assert_eq!(excerpt(&"x".repeat(1_000_000), 5), "xxxxx…");
        assert_eq!(excerpt("a\0b", 10), "a\u{FFFD}b");
    }
}
