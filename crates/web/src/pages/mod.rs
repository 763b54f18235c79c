//! The web app: server-rendered pages for buyers, organizers and gate staff,
//! served by the same binary as the API.
//!
//! Pages call the use cases on [`ticketing::Ticketing`] directly, so browsing
//! and buying by list work without JavaScript; ES modules under `assets/`
//! add the live seat map, the countdown, the venue builder preview, live
//! sales and the offline scanner. Scripts reach the REST API through
//! `/app/api/…`, which is the API itself with the session cookie standing in
//! for the bearer token (and a CSRF header required on writes), so the token
//! never has to be readable by scripts.
//!
//! This module never touches SQL and holds no business rule beyond choosing
//! seats for "best available" (see [`seats`]).

pub mod account;
pub mod assets;
pub mod buyer;
pub mod console;
pub mod event_orders;
pub mod gate;
pub mod layout;
pub mod manage;
pub mod notifications;
pub mod queue;
pub mod session;
pub mod team;
pub mod ticket_types;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use maud::html;
use tower::ServiceExt;

use crate::AppState;
use crate::problem::Problem;
use layout::{Page, Section};
use session::Viewer;

/// The API router that `/app/api/…` forwards to.
#[derive(Clone)]
struct ApiService(Router);

pub fn router(state: AppState, api: Router) -> Router {
    let pages = Router::new()
        .route("/", get(buyer::home))
        .route("/events/{event}", get(buyer::event_page))
        .route("/events/{event}/seats", get(buyer::seat_list))
        .route("/events/{event}/hold", post(buyer::create_hold))
        .route("/events/{event}/calendar.ics", get(buyer::calendar))
        .route("/events/{event}/queue", get(queue::page))
        .route("/checkout/{hold}", get(buyer::checkout))
        .route("/checkout/{hold}/pay", post(buyer::pay))
        .route("/checkout/{hold}/release", post(buyer::release))
        .route("/orders/{order}", get(buyer::order_page))
        .route("/orders/{order}/refund", post(buyer::refund_after_move))
        .route("/tickets", get(buyer::tickets_page))
        .route("/notifications", get(notifications::list))
        .route("/notifications/{notification}/read", post(notifications::mark_read))
        .route("/tickets/{ticket}/qr.png", get(buyer::ticket_qr))
        .route("/tickets/{ticket}/transfer", post(buyer::offer_transfer))
        .route("/tickets/{ticket}/sell", post(buyer::sell_ticket))
        .route("/listings/{listing}/withdraw", post(buyer::withdraw_listing))
        .route("/transfers/{transfer}/accept", post(buyer::accept_transfer))
        .route("/transfers/{transfer}/cancel", post(buyer::cancel_transfer))
        .route("/listings/{listing}/hold", post(buyer::hold_listing))
        .route("/signup", get(account::signup_form).post(account::signup))
        .route("/verify-email", get(account::verify_email_page).post(account::verify_email))
        .route("/verify-email/send", get(account::send_verification_form).post(account::send_verification))
        .route("/signin", get(account::signin_form).post(account::signin))
        .route("/forgot-password", get(account::forgot_password_form).post(account::forgot_password))
        .route("/reset-password", get(account::reset_password_page).post(account::reset_password))
        .route("/account", get(account::account))
        .route("/account/password", post(account::change_password))
        .route("/signout", get(account::signout_form).post(account::signout))
        .route("/offline", get(offline_page))
        .route("/console", get(console::home))
        .route("/console/organization", post(console::create_organization))
        .route("/console/organization/switch", post(console::switch_organization))
        .route("/console/fees", post(console::save_fees))
        .route("/console/team", post(team::add))
        .route("/console/team/{member}/remove", post(team::remove))
        .route("/console/team/{member}/role", post(team::change_role))
        .route("/console/team/invitations/{invitation}/withdraw", post(team::withdraw))
        .route("/invitations/{secret}", get(team::invitation_page).post(team::accept))
        .route("/console/venues/new", get(console::venue_form).post(console::create_venue))
        .route("/console/venues/{venue}", get(console::venue_edit_form).post(console::save_venue))
        .route("/console/venues/{venue}/delete", post(console::delete_venue))
        .route("/console/events/new", get(console::event_form).post(console::create_event))
        .route("/console/events/{event}/publish", get(manage::review_publish).post(manage::publish))
        .route("/console/events/{event}/sales", get(manage::sales))
        .route("/console/events/{event}/controls", post(manage::save_controls))
        .route("/console/events/{event}/flags/{flag}/clear", post(manage::clear_flag))
        .route("/console/events/{event}/cancel", get(manage::review_cancel).post(manage::cancel))
        .route("/console/events/{event}/delete", post(manage::delete_draft))
        .route("/console/events/{event}/edit", get(manage::details_form).post(manage::save_details))
        .route("/console/events/{event}/reschedule", get(manage::review_reschedule).post(manage::reschedule))
        .route("/console/events/{event}/orders", get(event_orders::list))
        .route("/console/events/{event}/orders/{order}", get(event_orders::show))
        .route("/console/events/{event}/orders/{order}/refund", post(event_orders::refund))
        .route("/console/events/{event}/orders/{order}/cancel", post(event_orders::cancel))
        .route("/console/events/{event}/ticket-types/new", get(ticket_types::new_form).post(ticket_types::add))
        .route(
            "/console/events/{event}/ticket-types/{ticket_type}",
            get(ticket_types::edit_form).post(ticket_types::save),
        )
        .route("/console/events/{event}/ticket-types/{ticket_type}/delete", post(ticket_types::delete))
        .route("/gate", get(gate::choose_event))
        .route("/gate/{event}", get(gate::scanner))
        .route("/gate/{event}/scan", post(gate::scan))
        .route("/app/api/{*rest}", any(api_proxy))
        .layer(axum::Extension(ApiService(api)))
        .layer(middleware::from_fn(session::ensure_csrf_cookie))
        .layer(middleware::from_fn(back_to_page))
        .with_state(state);
    Router::new()
        .route("/assets/{name}", get(assets::serve))
        .route("/sw.js", get(assets::service_worker))
        .route("/manifest.webmanifest", get(assets::manifest))
        .merge(pages)
        .layer(middleware::from_fn(security_headers))
}

/// A form's address opened as a page (a reload, a bookmark, a restored tab
/// after a failed submit) goes to the page the form is on, not to a bare 405
/// that browsers show as a broken site.
async fn back_to_page(request: Request, next: Next) -> Response {
    let reading = request.method() == Method::GET || request.method() == Method::HEAD;
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    if !reading || response.status() != StatusCode::METHOD_NOT_ALLOWED || path.starts_with("/app/api/") {
        return response;
    }
    match form_page(&path) {
        Some(page) => axum::response::Redirect::to(&page).into_response(),
        None => response,
    }
}

/// The page whose form posts to `path`.
fn form_page(path: &str) -> Option<String> {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let page = match parts.as_slice() {
        ["events", event, "hold"] => format!("/events/{event}"),
        ["checkout", hold, "pay" | "release"] => format!("/checkout/{hold}"),
        ["orders", order, "refund"] => format!("/orders/{order}"),
        ["gate", event, "scan"] => format!("/gate/{event}"),
        ["tickets", _, "transfer"] | ["transfers", _, "accept" | "cancel"] => "/tickets".to_owned(),
        ["listings", _, "hold"] => "/".to_owned(),
        ["notifications", _, "read"] => "/notifications".to_owned(),
        ["console", "events", event, "controls" | "flags", ..] => format!("/console/events/{event}/sales"),
        ["console", "events", event, "orders", order, "refund"] => format!("/console/events/{event}/orders/{order}"),
        ["console", ..] => "/console".to_owned(),
        ["account", "password"] => "/account".to_owned(),
        _ => return None,
    };
    // Path segments are echoed into a local address only: no scheme, no
    // second slash, nothing a browser could read as another site.
    page.chars().all(|c| c.is_ascii_alphanumeric() || c == '/' || c == '-').then_some(page)
}

/// Headers every page and asset gets: no framing, no sniffing, no inline
/// scripts (every script is a module file), no third-party anything.
async fn security_headers(request: Request, next: Next) -> Response {
    let is_api = request.uri().path().starts_with("/app/api/");
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    if !is_api {
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
                 connect-src 'self'; media-src 'self' blob:; object-src 'none'; base-uri 'none'; \
                 form-action 'self'; frame-ancestors 'none'; manifest-src 'self'; worker-src 'self'",
            ),
        );
    }
    response
}

/// `/app/api/v1/…` is `/api/v1/…` for scripts of signed-in pages: the session
/// cookie becomes the bearer token, and every method but GET/HEAD must carry
/// the CSRF token in `x-csrf-token`.
async fn api_proxy(axum::Extension(ApiService(api)): axum::Extension<ApiService>, request: Request) -> Response {
    let (mut parts, body) = request.into_parts();
    let safe = parts.method == Method::GET || parts.method == Method::HEAD;
    if !safe {
        let submitted = parts.headers.get(session::CSRF_HEADER).and_then(|v| v.to_str().ok());
        if !session::csrf_ok(&parts.headers, submitted) {
            return Problem::forbidden("the CSRF token is missing or stale; reload the page and try again")
                .into_response();
        }
    }
    let token = session::cookie(&parts.headers, session::SESSION_COOKIE).map(str::to_owned);
    parts.headers.remove(header::COOKIE);
    parts.headers.remove(header::AUTHORIZATION);
    if let Some(token) = token
        && let Ok(value) = HeaderValue::from_str(&format!("Bearer {token}"))
    {
        parts.headers.insert(header::AUTHORIZATION, value);
    }
    let path_and_query = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let Some(rest) = path_and_query.strip_prefix("/app") else {
        return Problem::not_found("no such route").into_response();
    };
    parts.uri = match rest.parse::<Uri>() {
        Ok(uri) => uri,
        Err(_) => return Problem::bad_request("malformed path").into_response(),
    };
    // A fresh request: the outer route's path parameters must not leak into
    // the API's extractors.
    parts.extensions = Default::default();
    let request = Request::from_parts(parts, body);
    match api.oneshot(request).await {
        Ok(response) => response.map(Body::new),
        Err(never) => match never {},
    }
}

async fn offline_page(viewer: Viewer) -> Response {
    layout::respond(
        StatusCode::OK,
        Page {
            title: "Offline",
            viewer: &viewer,
            section: Section::Tickets,
            scripts: &[],
            body: html! {
                section.panel.error-page {
                    h1 { "You are offline" }
                    p { "This page is not saved on this device. Tickets you have opened before are available under My tickets, even without a network." }
                    p { a.button href="/tickets" { "My tickets" } }
                }
            },
        },
    )
}

/// The HTML 404 for browsers; API clients keep getting problem+json.
pub fn wants_html(headers: &axum::http::HeaderMap) -> bool {
    headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("text/html"))
}

/// The HTML 404 with the visitor's own header: signed in, they must not
/// look signed out because an address was wrong.
pub fn not_found_page_for(viewer: &Viewer) -> Response {
    layout::error_page(
        viewer,
        StatusCode::NOT_FOUND,
        "Page not found",
        "There is nothing at this address. What it showed may have been removed, or the link is mistyped.",
    )
}

#[cfg(test)]
mod tests {
    use super::form_page;

    #[test]
    fn a_forms_address_opened_as_a_page_leads_to_the_page_with_the_form() {
        let id = "01a21a75-0000-7000-8000-000000000001";
        assert_eq!(form_page(&format!("/events/{id}/hold")), Some(format!("/events/{id}")));
        assert_eq!(form_page(&format!("/checkout/{id}/pay")), Some(format!("/checkout/{id}")));
        assert_eq!(form_page(&format!("/tickets/{id}/transfer")).as_deref(), Some("/tickets"));
        assert_eq!(form_page("/console/organization").as_deref(), Some("/console"));
        assert_eq!(form_page("/console/events/e1/controls").as_deref(), Some("/console/events/e1/sales"));
        assert_eq!(form_page("/console/events/e1/flags/f1/clear").as_deref(), Some("/console/events/e1/sales"));
        assert_eq!(form_page("/console/events/e1/orders/o1/refund").as_deref(), Some("/console/events/e1/orders/o1"));
        assert_eq!(form_page("/events/x/seats"), None);
        // Never somewhere else: a decoded segment with a slash or a scheme.
        assert_eq!(form_page("/events/%2F%2Fevil.example/hold"), None);
        assert_eq!(form_page("/events/https:/hold"), None);
    }
}
