//! Cookie sessions and CSRF protection for the server-rendered pages.
//!
//! The session cookie holds the same bearer token the API issues (looked up
//! with [`ticketing::Ticketing::authenticate`] on every request), so signing
//! out in the browser revokes it everywhere. It is `HttpOnly` (scripts never
//! see it), `SameSite=Lax` (not sent on cross-site subrequests or POSTs) and
//! `Secure` when the request came over HTTPS.
//!
//! CSRF: a double-submit token. Every visitor gets a random `rt_csrf` cookie;
//! every form carries the same value in a hidden field (scripts send it in the
//! `x-csrf-token` header) and a POST whose value differs is refused. A
//! cross-site page can neither read the cookie nor set it for this origin.

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use domain::ids::{OrganizationId, UserId};

use crate::AppState;

pub const SESSION_COOKIE: &str = "rt_session";
pub const CSRF_COOKIE: &str = "rt_csrf";
/// Which of the organizations a person manages the console shows.
pub const ORG_COOKIE: &str = "rt_org";
/// A console choice lasts a year; it is a preference, not a credential.
const ORG_COOKIE_MAX_AGE_SECS: i64 = 366 * 24 * 3600;
/// The waiting room's admission token, set by the queue page when the
/// buyer's turn comes, so that the seat form (which works without
/// JavaScript) can present it.
pub const ADMISSION_COOKIE: &str = "rt_admission";
pub const CSRF_FIELD: &str = "csrf";
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Length of a CSRF token in hex characters (two v4 UUIDs: 244 random bits).
const CSRF_TOKEN_LEN: usize = 64;
/// The longest cookie value we look at; a bearer token is far shorter.
const COOKIE_VALUE_LEN_MAX: usize = 512;

/// The value of cookie `name`, if the request has it.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty() && v.len() <= COOKIE_VALUE_LEN_MAX)
}

/// Whether the client reached us over HTTPS (directly or through a proxy).
pub fn is_https(headers: &HeaderMap) -> bool {
    headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()).is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

fn cookie_header(name: &str, value: &str, max_age_secs: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let raw = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}");
    HeaderValue::from_str(&raw).expect("cookie values are ASCII tokens")
}

pub fn session_cookie(token: &str, max_age_secs: i64, secure: bool) -> HeaderValue {
    cookie_header(SESSION_COOKIE, token, max_age_secs, secure)
}

/// Remembers the organization the console shows; membership is checked on
/// every request, so a forged value shows nothing it should not.
pub fn org_cookie(org: OrganizationId, secure: bool) -> HeaderValue {
    cookie_header(ORG_COOKIE, &org.to_string(), ORG_COOKIE_MAX_AGE_SECS, secure)
}

pub fn clear_session_cookie(secure: bool) -> HeaderValue {
    cookie_header(SESSION_COOKIE, "", 0, secure)
}

fn new_csrf_token() -> String {
    format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple())
}

/// The CSRF token of this request: from its cookie, or freshly minted by
/// [`ensure_csrf_cookie`].
#[derive(Clone, Debug)]
pub struct CsrfToken(pub String);

/// Middleware: gives every visitor a CSRF cookie, and makes the token
/// available to handlers as an extension.
pub async fn ensure_csrf_cookie(mut request: Request, next: Next) -> Response {
    let existing = cookie(request.headers(), CSRF_COOKIE).filter(|t| t.len() == CSRF_TOKEN_LEN).map(str::to_owned);
    let minted = existing.is_none();
    let token = existing.unwrap_or_else(new_csrf_token);
    let secure = is_https(request.headers());
    request.extensions_mut().insert(CsrfToken(token.clone()));
    let mut response = next.run(request).await;
    if minted {
        // A year: the token only has to match the form, it grants nothing.
        response.headers_mut().append(header::SET_COOKIE, cookie_header(CSRF_COOKIE, &token, 365 * 24 * 3600, secure));
    }
    response
}

/// Constant-time comparison, so the token cannot be guessed byte by byte.
fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether `submitted` matches the request's CSRF cookie.
pub fn csrf_ok(headers: &HeaderMap, submitted: Option<&str>) -> bool {
    match (cookie(headers, CSRF_COOKIE), submitted) {
        (Some(expected), Some(got)) => same_token(expected, got),
        _ => false,
    }
}

/// Who is looking at the page: the signed-in user (if any), the session
/// token and the CSRF token to put into forms.
#[derive(Clone, Debug)]
pub struct Viewer {
    pub user: Option<UserId>,
    pub name: Option<String>,
    pub token: Option<String>,
    /// A member of some organization (owner, admin or gate staff): the
    /// scanner is in their menu, not in every buyer's.
    pub staff: bool,
    /// The organization chosen for the console, if any (not yet checked).
    pub org: Option<OrganizationId>,
    pub csrf: String,
    pub secure: bool,
}

impl Viewer {
    pub fn signed_in(&self) -> bool {
        self.user.is_some()
    }
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let csrf = parts.extensions.get::<CsrfToken>().map(|t| t.0.clone()).unwrap_or_else(new_csrf_token);
        let secure = is_https(&parts.headers);
        let token = cookie(&parts.headers, SESSION_COOKIE).map(str::to_owned);
        let org = cookie(&parts.headers, ORG_COOKIE).and_then(|v| v.parse().ok());
        let mut viewer = Viewer { user: None, name: None, token: None, staff: false, org, csrf, secure };
        if let Some(token) = token {
            // A store failure reads as "signed out" here; the page the
            // visitor asked for reports the failure itself if it needs data.
            match state.ticketing.authenticate(&token).await {
                Ok(Some(user)) => {
                    viewer.user = Some(user);
                    viewer.token = Some(token);
                    if let Ok(Some(me)) = state.ticketing.me(user).await {
                        viewer.name = Some(me.user.name);
                        viewer.staff = !me.memberships.is_empty();
                    }
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "session lookup failed"),
            }
        }
        Ok(viewer)
    }
}

/// The fields of a submitted form, in order (a name may repeat: `seat=…&seat=…`).
/// A body that is not a form reads as no fields, so the CSRF check refuses it.
pub struct Fields(pub Vec<(String, String)>);

impl Fields {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The trimmed value, or "" when absent.
    pub fn text(&self, name: &str) -> String {
        self.get(name).map(|v| v.trim().to_owned()).unwrap_or_default()
    }

    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0.iter().filter(move |(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn csrf(&self) -> Option<&str> {
        self.get(CSRF_FIELD)
    }
}

impl<S: Send + Sync> axum::extract::FromRequest<S> for Fields {
    type Rejection = std::convert::Infallible;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Form::<Vec<(String, String)>>::from_request(req, state).await {
            Ok(axum::Form(fields)) => Ok(Fields(fields)),
            Err(_) => Ok(Fields(Vec::new())),
        }
    }
}

/// A local path to go back to after signing in; anything else goes home.
/// Only visible ASCII: browsers drop tabs and line breaks from a
/// `Location` (`/<TAB>/evil.example` becomes `//evil.example`, another site),
/// and a control character cannot go into a header at all. Paths with other
/// characters arrive percent-encoded.
pub fn local_path(next: Option<&str>) -> String {
    match next {
        Some(p)
            if p.starts_with('/')
                && !p.starts_with("//")
                && !p.contains('\\')
                && p.len() < 512
                && p.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            p.to_owned()
        }
        _ => "/".to_owned(),
    }
}

/// A page's query string, parsed. One that does not parse (a parameter
/// given twice, a number that is none) is answered with a page saying so,
/// as every other page error is: axum's own answer is bare text.
pub struct PageQuery<T>(pub T);

impl<T: serde::de::DeserializeOwned + Send> FromRequestParts<AppState> for PageQuery<T> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if let Ok(axum::extract::Query(q)) = axum::extract::Query::<T>::try_from_uri(&parts.uri) {
            return Ok(PageQuery(q));
        }
        let Ok(viewer) = Viewer::from_request_parts(parts, state).await;
        Err(super::layout::error_page(
            &viewer,
            axum::http::StatusCode::BAD_REQUEST,
            "This address is not understood",
            "A part of the address after the question mark is given twice or has a value that cannot be used. \
             Open the link again as it was sent, or start from the events.",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cookies_among_others() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("a=1; rt_session=tok; rt_csrf=x"));
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("tok"));
        assert_eq!(cookie(&h, "missing"), None);
        assert!(csrf_ok(&h, Some("x")));
        assert!(!csrf_ok(&h, Some("y")));
        assert!(!csrf_ok(&h, None));
    }

    #[test]
    fn only_this_sites_paths_are_returned_to() {
        assert_eq!(local_path(Some("/events/e1%23buy")), "/events/e1%23buy");
        assert_eq!(local_path(Some("/tickets?x=1#y")), "/tickets?x=1#y");
        for away in [
            "//evil.example",
            "/\t/evil.example/x",
            "/\\evil.example",
            "https://evil.example",
            "/a\r\nSet-Cookie: x=1",
            "/a\0b",
            "/a\u{7f}",
            "/ caf\u{e9}",
            "",
        ] {
            assert_eq!(local_path(Some(away)), "/", "{away:?}");
        }
        assert_eq!(local_path(None), "/");
    }

    #[test]
    fn session_cookie_is_locked_down() {
        let c = session_cookie("abc", 60, true);
        let c = c.to_str().unwrap();
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Lax") && c.contains("Secure"));
        assert!(!session_cookie("abc", 60, false).to_str().unwrap().contains("Secure"));
    }
}
