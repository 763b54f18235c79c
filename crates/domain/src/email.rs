//! E-mail addresses, parsed once at the edge.

use std::fmt;

/// The longest address accepted (RFC 5321 path limit).
pub const EMAIL_LEN_MAX: usize = 254;

/// A syntactically plausible e-mail address, trimmed and lower-cased so that
/// `Ada@Example.org` and `ada@example.org` are one account.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Email(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", if .0.trim().is_empty() { "an e-mail address is needed".to_owned() } else { format!("'{}' is not a valid e-mail address", .0) })]
pub struct InvalidEmail(pub String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, InvalidEmail> {
        let s = raw.trim().to_lowercase();
        // Quoted back in the error, so cut short: the input may be a megabyte.
        let invalid = || InvalidEmail(crate::text::excerpt(raw, EMAIL_LEN_MAX));
        if s.is_empty() || s.len() > EMAIL_LEN_MAX || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid());
        }
        let (local, domain) = s.rsplit_once('@').ok_or_else(invalid)?;
        // Host names: letters (any script, for internationalised domains),
        // digits and inner hyphens, in dot-separated labels; no IP literals.
        let label_ok = |l: &str| {
            !l.is_empty()
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        };
        let domain_ok = domain.contains('.') && domain.split('.').all(label_ok);
        // The unquoted local part of RFC 5322 (dot-atom), letters of any
        // script allowed (RFC 6531). Quoted local parts, invisible
        // characters and direction overrides are refused: an address is
        // shown to people, and must read as what it is.
        const ATEXT: &str = "!#$%&'*+/=?^_`{|}~-";
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && local.split('.').all(|part| !part.is_empty())
            && local.chars().all(|c| c == '.' || c.is_alphanumeric() || ATEXT.contains(c));
        if !local_ok || !domain_ok {
            return Err(invalid());
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_and_rejects() {
        assert_eq!(Email::parse(" Ada@Example.ORG ").unwrap().as_str(), "ada@example.org");
        for bad in [
            "",
            "ada",
            "ada@",
            "@x.org",
            "a b@x.org",
            "ada@x",
            "ada@x..org",
            "a@b@c.org",
            "a\0@x.org",
            "<script>alert(1)</script>@x.test",
            "a@x.test<script>",
            "a@[127.0.0.1]",
            "a..b@x.test",
            ".a@x.test",
            "a@-x.test",
            "a@x-.test",
            "a\u{200b}@x.test",
            "a@x.test\u{200b}",
            "\u{202e}gro.x@a",
            "\"quoted\"@x.test",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad} should be rejected");
        }
        for good in ["o'brien+tickets@x.org", "ada.lovelace@mail.example.co.uk", "jürgen@müller.de", "a_b-c@x-y.org"]
        {
            assert!(Email::parse(good).is_ok(), "{good} should be accepted");
        }
        let long = format!("{}@x.org", "a".repeat(1_000_000));
        let quoted = Email::parse(&long).unwrap_err().0;
        assert!(quoted.chars().count() <= EMAIL_LEN_MAX + 1, "the error quotes {} characters", quoted.len());
    }
}
