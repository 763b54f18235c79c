//! Venue details other than the seat map.

use crate::seatmap::NAME_LEN_MAX;

/// Longest postal address, in characters.
pub const ADDRESS_LEN_MAX: usize = 500;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VenueError {
    #[error("venue name must be 1 to {NAME_LEN_MAX} characters on one line, without control characters")]
    BadName,
    #[error("address must be at most {ADDRESS_LEN_MAX} characters, without control characters")]
    AddressTooLong,
    #[error("'{0}' is not an IANA time zone (for example Europe/Berlin or America/New_York)")]
    UnknownTimezone(String),
}

/// An IANA time-zone name, checked against the tz database.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timezone(chrono_tz::Tz);

impl Timezone {
    pub fn parse(name: &str) -> Result<Self, VenueError> {
        name.trim().parse::<chrono_tz::Tz>().map(Timezone).map_err(|_| VenueError::UnknownTimezone(name.to_owned()))
    }

    pub fn name(&self) -> &'static str {
        self.0.name()
    }

    pub fn tz(&self) -> chrono_tz::Tz {
        self.0
    }
}

pub fn check_venue_details(name: &str, address: &str) -> Result<(), VenueError> {
    if !crate::text::is_name(name, NAME_LEN_MAX) {
        return Err(VenueError::BadName);
    }
    if address.chars().count() > ADDRESS_LEN_MAX || !crate::text::is_printable(address) {
        return Err(VenueError::AddressTooLong);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_zones_come_from_the_tz_database() {
        assert_eq!(Timezone::parse("Europe/Berlin").unwrap().name(), "Europe/Berlin");
        assert!(Timezone::parse("Mars/Olympus").is_err());
        assert!(Timezone::parse("").is_err());
    }

    #[test]
    fn names_are_required() {
        assert_eq!(check_venue_details("  ", ""), Err(VenueError::BadName));
        assert!(check_venue_details("Hall", "1 Main St").is_ok());
    }
}
