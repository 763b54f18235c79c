//! iCalendar (RFC 5545) files for events, attached to order confirmations so
//! buyers can put the event in their calendar.

use crate::Timestamp;

/// Longest content line, in octets, before it is folded (RFC 5545 §3.1).
const LINE_OCTETS_MAX: usize = 75;

/// What a calendar entry for an event says.
#[derive(Clone, Debug)]
pub struct CalendarEvent<'a> {
    /// Globally unique and stable: the same event is the same entry.
    pub uid: &'a str,
    pub title: &'a str,
    pub location: &'a str,
    pub description: &'a str,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    /// When the file was made (DTSTAMP).
    pub stamp: Timestamp,
    /// The event's page.
    pub url: Option<&'a str>,
    /// `CANCELLED` entries remove the event from calendars that imported it.
    pub cancelled: bool,
}

fn utc(t: Timestamp) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

/// Escapes a TEXT value: backslash, semicolon, comma and newlines.
fn text(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// Folds a content line at 75 octets, never inside a UTF-8 character, and
/// ends it with CRLF.
fn fold(line: &str, out: &mut String) {
    let mut width = 0;
    for c in line.chars() {
        if width + c.len_utf8() > LINE_OCTETS_MAX {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += c.len_utf8();
    }
    out.push_str("\r\n");
}

/// A complete `.ics` file with one VEVENT.
pub fn event_ics(e: &CalendarEvent<'_>) -> String {
    let method = if e.cancelled { "CANCEL" } else { "PUBLISH" };
    let status = if e.cancelled { "CANCELLED" } else { "CONFIRMED" };
    let mut lines = vec![
        "BEGIN:VCALENDAR".to_owned(),
        "VERSION:2.0".to_owned(),
        "PRODID:-//RobustTicketing//Tickets//EN".to_owned(),
        "CALSCALE:GREGORIAN".to_owned(),
        format!("METHOD:{method}"),
        "BEGIN:VEVENT".to_owned(),
        format!("UID:{}", text(e.uid)),
        format!("DTSTAMP:{}", utc(e.stamp)),
        format!("DTSTART:{}", utc(e.starts_at)),
        format!("DTEND:{}", utc(e.ends_at)),
        format!("SUMMARY:{}", text(e.title)),
        format!("LOCATION:{}", text(e.location)),
        format!("DESCRIPTION:{}", text(e.description)),
        format!("STATUS:{status}"),
    ];
    if let Some(url) = e.url {
        lines.push(format!("URL:{url}"));
    }
    lines.extend(["END:VEVENT".to_owned(), "END:VCALENDAR".to_owned()]);
    // An empty DESCRIPTION says nothing: leave it out.
    lines.retain(|l| l != "DESCRIPTION:");
    let mut out = String::new();
    for l in &lines {
        fold(l, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn sample(title: &str) -> String {
        let at = chrono::Utc.with_ymd_and_hms(2026, 12, 24, 19, 30, 0).unwrap();
        event_ics(&CalendarEvent {
            uid: "e1@example.org",
            title,
            location: "Hall; Main, Street",
            description: "line one\nline two",
            starts_at: at,
            ends_at: at + chrono::Duration::hours(3),
            stamp: at,
            url: Some("https://t.example/events/e1"),
            cancelled: false,
        })
    }

    #[test]
    fn writes_a_valid_vevent() {
        let ics = sample("Gig");
        assert!(ics.starts_with("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"));
        assert!(ics.contains("\r\nURL:https://t.example/events/e1\r\n"));
        assert!(ics.contains("\r\nDTSTART:20261224T193000Z\r\n"));
        assert!(ics.contains("\r\nDTEND:20261224T223000Z\r\n"));
        assert!(ics.contains("\r\nLOCATION:Hall\\; Main\\, Street\r\n"));
        assert!(ics.contains("\r\nDESCRIPTION:line one\\nline two\r\n"));
        assert!(ics.ends_with("END:VCALENDAR\r\n"));
    }

    #[test]
    fn folds_long_lines_on_character_boundaries() {
        let ics = sample(&"Ü".repeat(100));
        for line in ics.split("\r\n") {
            assert!(line.len() <= LINE_OCTETS_MAX, "{line}");
        }
        let unfolded = ics.replace("\r\n ", "");
        assert!(unfolded.contains(&format!("SUMMARY:{}", "Ü".repeat(100))));
    }
}
