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
        let domain_ok = !domain.is_empty()
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && domain.contains('.')
            && !domain.contains('@');
        if local.is_empty() || local.len() > 64 || local.contains('@') || !domain_ok {
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
        for bad in ["", "ada", "ada@", "@x.org", "a b@x.org", "ada@x", "ada@x..org", "a@b@c.org", "a\0@x.org"] {
            assert!(Email::parse(bad).is_err(), "{bad} should be rejected");
        }
        let long = format!("{}@x.org", "a".repeat(1_000_000));
        let quoted = Email::parse(&long).unwrap_err().0;
        assert!(quoted.chars().count() <= EMAIL_LEN_MAX + 1, "the error quotes {} characters", quoted.len());
    }
}
