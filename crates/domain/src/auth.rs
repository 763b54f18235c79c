//! Roles within an organization and what each may do.
//!
//! Buyers need no organization at all: any signed-in user can buy. Organization
//! roles only grant powers over that organization's venues, events and gates.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Shortest password accepted; NIST SP 800-63B asks for at least 8.
pub const PASSWORD_LEN_MIN: usize = 8;
/// Longest password accepted, in bytes: bounds the work argon2 does per request.
pub const PASSWORD_LEN_MAX: usize = 256;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Created the organization; can do everything, including adding admins.
    Owner,
    /// Manages venues, events and members (but not other admins).
    Admin,
    /// Gate staff: may check tickets in, nothing else.
    Gate,
}

impl Role {
    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Gate => "gate",
        }
    }

    /// Create and change venues, events and ticket types; publish; see sales.
    pub fn can_manage_events(&self) -> bool {
        matches!(self, Role::Owner | Role::Admin)
    }

    /// Scan tickets at the gate. Managers may scan too: small organizers staff
    /// their own doors.
    pub fn can_check_in(&self) -> bool {
        matches!(self, Role::Owner | Role::Admin | Role::Gate)
    }

    /// Whether this role may grant `granted` to someone else.
    pub fn can_grant(&self, granted: Role) -> bool {
        match (self, granted) {
            (_, Role::Owner) => false,
            (Role::Owner, _) => true,
            (Role::Admin, Role::Gate) => true,
            _ => false,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a role (owner, admin or gate)")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "owner" => Ok(Role::Owner),
            "admin" => Ok(Role::Admin),
            "gate" => Ok(Role::Gate),
            other => Err(UnknownRole(other.to_owned())),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordPolicyError {
    #[error("password must be at least {PASSWORD_LEN_MIN} characters")]
    TooShort,
    #[error("password must be at most {PASSWORD_LEN_MAX} bytes")]
    TooLong,
}

pub fn check_password_policy(password: &str) -> Result<(), PasswordPolicyError> {
    if password.chars().count() < PASSWORD_LEN_MIN {
        return Err(PasswordPolicyError::TooShort);
    }
    if password.len() > PASSWORD_LEN_MAX {
        return Err(PasswordPolicyError::TooLong);
    }
    Ok(())
}

/// Password checks one address may have in a window without a success
/// before its sign-ins are refused until the window ends. The per-address
/// request limit stops a guesser on one network address; this stops one
/// spread over many. Whoever owns the address can still get in at once by a
/// mailed reset link, which clears the count: a stranger can slow an
/// account's sign-ins, never take them away.
pub const SIGN_IN_FAILURES_MAX: i64 = 10;
/// The window the failures are counted in, from the first of them.
pub const SIGN_IN_FAILURE_WINDOW_MINUTES: i64 = 15;

/// Password checks counted for an address since its last success: how
/// many (the one being made included), since when.
///
/// A check is counted before the password is looked at, so that checks
/// made at once cannot all pass a count none of them has added to yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignInFailures {
    pub count: i64,
    pub since: crate::Timestamp,
}

impl SignInFailures {
    /// The window these checks are counted in.
    pub fn window() -> chrono::Duration {
        chrono::Duration::minutes(SIGN_IN_FAILURE_WINDOW_MINUTES)
    }

    /// How long sign-ins to the address are refused from `now`, if the check
    /// this count includes may not be made.
    pub fn refused_for(&self, now: crate::Timestamp) -> Option<chrono::Duration> {
        let ends = self.since + Self::window();
        (self.count > SIGN_IN_FAILURES_MAX && ends > now).then(|| ends - now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_ins_are_refused_after_too_many_failures_until_their_window_ends() {
        let since = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let at = |minutes| since + chrono::Duration::minutes(minutes);
        let last_allowed = SignInFailures { count: SIGN_IN_FAILURES_MAX, since };
        assert_eq!(last_allowed.refused_for(at(1)), None);
        let full = SignInFailures { count: SIGN_IN_FAILURES_MAX + 1, since };
        assert_eq!(full.refused_for(at(1)), Some(chrono::Duration::minutes(SIGN_IN_FAILURE_WINDOW_MINUTES - 1)));
        assert_eq!(full.refused_for(at(SIGN_IN_FAILURE_WINDOW_MINUTES)), None, "the window has ended");
    }

    #[test]
    fn gate_staff_only_scan() {
        assert!(Role::Gate.can_check_in());
        assert!(!Role::Gate.can_manage_events());
        assert!(!Role::Gate.can_grant(Role::Gate));
    }

    #[test]
    fn nobody_grants_ownership_and_admins_cannot_mint_admins() {
        for r in [Role::Owner, Role::Admin, Role::Gate] {
            assert!(!r.can_grant(Role::Owner));
        }
        assert!(Role::Owner.can_grant(Role::Admin));
        assert!(!Role::Admin.can_grant(Role::Admin));
        assert!(Role::Admin.can_grant(Role::Gate));
    }
}
