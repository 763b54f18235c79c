//! The page shell (head, header, navigation, footer) and the formatting every
//! page shares: money by currency exponent, times in the venue's time zone,
//! and problem documents turned into sentences a person can act on.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use domain::money::Money;
use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::assets::asset_url;
use super::session::{CSRF_FIELD, Viewer};
use crate::problem::Problem;

/// Which part of the site a page belongs to, for the navigation highlight.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Events,
    Tickets,
    Console,
    Gate,
    Account,
    SignUp,
    Notifications,
}

pub struct Page<'a> {
    pub title: &'a str,
    pub viewer: &'a Viewer,
    pub section: Section,
    /// Extra ES modules this page loads (file names under /assets/).
    pub scripts: &'a [&'a str],
    pub body: Markup,
}

pub fn render(page: Page<'_>) -> Markup {
    let nav = |href: &str, label: &str, section: Section| {
        html! {
            a href=(href) aria-current=[(page.section == section).then_some("page")] { (label) }
        }
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="theme-color" content="#1d3a8a";
                meta name="csrf-token" content=(page.viewer.csrf);
                title { (page.title) " · RobustTicketing" }
                link rel="manifest" href="/manifest.webmanifest";
                link rel="icon" href=(asset_url("icon.svg")) type="image/svg+xml";
                link rel="apple-touch-icon" href=(asset_url("icon-192.png"));
                link rel="stylesheet" href=(asset_url("app.css"));
                script type="module" src=(asset_url("app.js")) {}
                @for s in page.scripts {
                    script type="module" src=(asset_url(s)) {}
                }
            }
            body {
                a.skip-link href="#main" { "Skip to content" }
                header.site-header {
                    div.wrap.header-row {
                        a.brand href="/" {
                            img src=(asset_url("icon.svg")) alt="" width="28" height="28";
                            span { "RobustTicketing" }
                        }
                        nav.site-nav aria-label="Main" {
                            (nav("/", "Events", Section::Events))
                            @if page.viewer.signed_in() {
                                (nav("/tickets", "My tickets", Section::Tickets))
                                (nav("/notifications", "Notifications", Section::Notifications))
                                // Buyers far outnumber organizers: the console is
                                // in the menu of organization members, and one
                                // footer link away for anyone starting one.
                                @if page.viewer.staff || page.section == Section::Console {
                                    (nav("/console", "Console", Section::Console))
                                }
                                @if page.viewer.staff { (nav("/gate", "Scanner", Section::Gate)) }
                                (nav("/account", "Account", Section::Account))
                                form.inline method="post" action="/signout" {
                                    input type="hidden" name=(CSRF_FIELD) value=(page.viewer.csrf);
                                    button.link-button type="submit" { "Sign out" }
                                }
                            } @else {
                                (nav("/signin", "Sign in", Section::Account))
                                a.button.small href="/signup" aria-current=[(page.section == Section::SignUp).then_some("page")] { "Sign up" }
                            }
                        }
                    }
                }
                div #offline-banner.offline-banner hidden role="status" {
                    "You are offline. Tickets you have opened before are still here."
                }
                main #main.wrap tabindex="-1" { (page.body) }
                footer.site-footer {
                    div.wrap {
                        p { "RobustTicketing — a seat is sold at most once, a ticket admitted at most once." }
                        @if !page.viewer.staff {
                            p { a href="/console" { "Selling tickets? Start an organization" } }
                        }
                        @if let Some(name) = &page.viewer.name {
                            p.muted { "Signed in as " (name) }
                        }
                    }
                }
            }
        }
    }
}

/// A full page with a status code.
pub fn respond(status: StatusCode, page: Page<'_>) -> Response {
    (status, render(page)).into_response()
}

/// The hidden CSRF field every POST form carries.
pub fn csrf_field(viewer: &Viewer) -> Markup {
    html! { input type="hidden" name=(CSRF_FIELD) value=(viewer.csrf); }
}

/// A friendly error box.
pub fn alert(message: &str) -> Markup {
    html! { div.alert.alert-error role="alert" { p { (message) } } }
}

pub fn notice(message: &str) -> Markup {
    html! { div.alert.alert-ok role="status" { p { (message) } } }
}

/// An error page: what went wrong, and where to go from here.
pub fn error_page(viewer: &Viewer, status: StatusCode, heading: &str, message: &str) -> Response {
    error_page_in(viewer, status, heading, message, Section::Events, ("/", "Back to events"))
}

/// [`error_page`] of a part of the app: it is marked in the navigation, and
/// the way back leads into it (an organizer goes back to the console, not to
/// the buyers' event list).
pub fn error_page_in(
    viewer: &Viewer,
    status: StatusCode,
    heading: &str,
    message: &str,
    section: Section,
    (back, back_label): (&str, &str),
) -> Response {
    respond(
        status,
        Page {
            title: heading,
            viewer,
            section,
            scripts: &[],
            body: html! {
                section.panel.error-page {
                    h1 { (heading) }
                    p { (message) }
                    p { a.button href=(back) { (back_label) } }
                }
            },
        },
    )
}

/// The `detail` of a problem document: the sentence the API would send.
pub async fn problem_detail(problem: Problem) -> (StatusCode, String, serde_json::Value) {
    problem_detail_of(problem.into_response()).await
}

/// [`problem_detail`] of a problem already made into a response.
pub async fn problem_detail_of(response: Response) -> (StatusCode, String, serde_json::Value) {
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), 64 * 1024).await.unwrap_or_default();
    let doc: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let detail = doc
        .get("detail")
        .and_then(|d| d.as_str())
        .map(capitalise)
        .unwrap_or_else(|| "Something went wrong on our side. Please try again in a moment.".to_owned());
    (status, detail, doc)
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => {
            let mut out: String = first.to_uppercase().collect();
            out.push_str(chars.as_str());
            if !out.ends_with('.') && !out.ends_with('?') && !out.ends_with('!') {
                out.push('.');
            }
            out
        }
        None => String::new(),
    }
}

/// `EUR 45.00`, `JPY 4500`, `KWD 1.250`: the amount at the currency's exponent.
pub fn money(m: &Money) -> String {
    money_parts(m.amount_minor(), m.currency().as_str(), m.currency().exponent())
}

/// A ticket's price as a buyer reads it: "Free" when it costs nothing.
/// Totals and refunds stay amounts ([`money`]).
pub fn price(m: &Money) -> String {
    if m.amount_minor() == 0 { "Free".to_owned() } else { money(m) }
}

pub fn money_parts(amount_minor: i64, currency: &str, exponent: u8) -> String {
    if exponent == 0 {
        return format!("{currency} {amount_minor}");
    }
    let scale = 10_i64.pow(u32::from(exponent));
    let sign = if amount_minor < 0 { "-" } else { "" };
    let abs = amount_minor.unsigned_abs();
    let scale = scale as u64;
    format!("{currency} {sign}{}.{:0width$}", abs / scale, abs % scale, width = usize::from(exponent))
}

/// A time in the venue's zone, with the zone's abbreviation: "Sat 14 Jun 2025, 19:30 CEST".
/// `s` as a query parameter's value: a local address with its `#part`
/// survives being passed on as `?next=`.
pub fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

pub fn local_time(at: DateTime<Utc>, timezone: &str) -> String {
    match timezone.parse::<chrono_tz::Tz>() {
        Ok(tz) => at.with_timezone(&tz).format("%a %-d %b %Y, %H:%M %Z").to_string(),
        Err(_) => at.format("%a %-d %b %Y, %H:%M UTC").to_string(),
    }
}

pub fn local_date(at: DateTime<Utc>, timezone: &str) -> (String, String, String) {
    match timezone.parse::<chrono_tz::Tz>() {
        Ok(tz) => {
            let t = at.with_timezone(&tz);
            (t.format("%b").to_string(), t.format("%-d").to_string(), t.format("%a %H:%M").to_string())
        }
        Err(_) => (at.format("%b").to_string(), at.format("%-d").to_string(), at.format("%a %H:%M").to_string()),
    }
}

/// JSON for a `<script type="application/json">` island: `<` is escaped so
/// no value can close the script element.
pub fn json_island(id: &str, value: &serde_json::Value) -> Markup {
    let json = value.to_string().replace('<', "\\u003c");
    html! { script type="application/json" id=(id) { (PreEscaped(json)) } }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_uses_the_currency_exponent() {
        assert_eq!(money_parts(4500, "EUR", 2), "EUR 45.00");
        assert_eq!(money_parts(5, "EUR", 2), "EUR 0.05");
        assert_eq!(money_parts(4500, "JPY", 0), "JPY 4500");
        assert_eq!(money_parts(1250, "KWD", 3), "KWD 1.250");
    }

    #[test]
    fn times_are_shown_in_the_venue_zone() {
        let at: DateTime<Utc> = "2025-06-14T17:30:00Z".parse().unwrap();
        assert_eq!(local_time(at, "Europe/Berlin"), "Sat 14 Jun 2025, 19:30 CEST");
        assert_eq!(local_time(at, "Not/AZone"), "Sat 14 Jun 2025, 17:30 UTC");
    }

    #[test]
    fn a_return_address_keeps_its_part_when_passed_on() {
        assert_eq!(urlencode("/events/e1#buy"), "/events/e1%23buy");
        assert_eq!(urlencode("/?q=a b&x=1"), "/%3Fq%3Da%20b%26x%3D1");
    }

    #[test]
    fn the_navigation_marks_the_page_it_is_on() {
        let viewer = Viewer {
            user: None,
            name: None,
            token: None,
            staff: false,
            org: None,
            csrf: "c".repeat(64),
            secure: false,
        };
        let current = |section| {
            let page =
                render(Page { title: "t", viewer: &viewer, section, scripts: &[], body: html! {} }).into_string();
            let marked: Vec<&str> = page
                .split("<a ")
                .skip(1)
                .filter(|a| a.split('>').next().unwrap_or("").contains("aria-current=\"page\""))
                .filter_map(|a| a.split("href=\"").nth(1)?.split('"').next())
                .collect();
            marked.join(" ")
        };
        assert_eq!(current(Section::SignUp), "/signup");
        assert_eq!(current(Section::Account), "/signin");
        assert_eq!(current(Section::Events), "/");
    }

    #[test]
    fn islands_cannot_close_their_script() {
        let m = json_island("x", &serde_json::json!({"t": "</script><b>"})).into_string();
        assert!(!m.contains("</script><b>"));
    }
}
