//! The HTTP face of RobustTicketing: the versioned REST API under `/api/v1`,
//! its OpenAPI document, health and metrics.
//!
//! This is the only crate that knows HTTP: status codes, headers, JSON
//! shapes. It turns requests into use-case calls on [`ticketing::Ticketing`]
//! and use-case errors into RFC 9457 problem+json in one place
//! ([`problem`]). It never touches SQL.

pub mod dto;
pub mod extract;
pub mod limits;
pub mod pages;
pub mod problem;
pub mod qr;
pub mod routes;

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use ticketing::Ticketing;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::problem::Problem;

/// Largest request body accepted. A 200,000-seat map with explicit seat
/// labels fits; anything bigger is not a ticketing request.
pub const REQUEST_BODY_BYTES_MAX: usize = 4 * 1024 * 1024;

/// What every request shares. Cloned several times per request by the
/// router and the extractors, so it is one reference count, not a copy of
/// each part: a copy was two dozen contended atomic increments and a string
/// allocation per clone, a few per cent of the CPU in an on-sale.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

/// The parts of [`AppState`], reached through it.
#[derive(Clone)]
pub struct Shared {
    pub ticketing: Ticketing,
    /// Per-address and per-account request limits (off unless configured).
    pub limits: limits::RateLimits,
    metrics: PrometheusHandle,
    /// Turns true when the server begins shutting down: long-lived streams
    /// end so that graceful shutdown does not wait for them forever.
    closing: tokio::sync::watch::Receiver<bool>,
    /// Compact availability, rendered once per snapshot.
    compact_bodies: Arc<routes::events::CompactBodies>,
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    pub fn new(ticketing: Ticketing) -> Self {
        Self(Arc::new(Shared {
            ticketing,
            limits: limits::RateLimits::default(),
            metrics: metrics_handle(),
            closing: tokio::sync::watch::channel(false).1,
            compact_bodies: Default::default(),
        }))
    }

    /// Configuration, while the state is being built: copies the parts only
    /// if the state was shared already.
    pub fn with_rate_limits(mut self, config: &limits::RateLimitConfig) -> Self {
        Arc::make_mut(&mut self.0).limits = limits::RateLimits::new(config);
        self
    }

    pub fn closing_on(mut self, closing: tokio::sync::watch::Receiver<bool>) -> Self {
        Arc::make_mut(&mut self.0).closing = closing;
        self
    }

    /// Resolves when the server starts shutting down.
    pub fn closing(&self) -> impl std::future::Future<Output = ()> + Send + 'static + use<> {
        let mut rx = self.closing.clone();
        async move {
            if rx.wait_for(|closing| *closing).await.is_err() {
                // No one can announce a shutdown: never resolve.
                std::future::pending::<()>().await;
            }
        }
    }
}

/// The process-wide Prometheus recorder. The `metrics` facade has one global
/// recorder, so it is installed once however many apps a process builds.
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .set_buckets(&[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5])
                .expect("bucket list is not empty")
                .install_recorder()
                .expect("no other metrics recorder is installed")
        })
        .clone()
}

#[derive(OpenApi)]
#[openapi(
    info(title = "RobustTicketing API", description = "Venues, events, holds, orders, tickets and check-in. \
        Money is {amount, currency} in minor units; times are RFC 3339; errors are RFC 9457 problem+json."),
    modifiers(&BearerAuth),
    tags((name = "accounts"), (name = "organizations"), (name = "venues"), (name = "events"), (name = "waiting room"), (name = "holds"),
         (name = "orders"), (name = "tickets"), (name = "check-in"), (name = "resale"), (name = "ledger"), (name = "operations"))
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The OpenAPI document is served from here (and documents itself).
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "operations",
    responses((status = 200, content_type = "application/json", body = Object)))]
async fn openapi_json(State(doc): State<Arc<String>>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], doc.as_str().to_owned())
}

/// Every API route, registered together with its OpenAPI description so the
/// two cannot drift apart.
fn api() -> OpenApiRouter<AppState> {
    use routes::*;
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(accounts::register))
        .routes(routes!(accounts::login))
        .routes(routes!(accounts::logout))
        .routes(routes!(accounts::me))
        .routes(routes!(accounts::verify_email))
        .routes(routes!(accounts::send_email_verification))
        .routes(routes!(accounts::request_password_reset))
        .routes(routes!(accounts::reset_password))
        .routes(routes!(accounts::change_password))
        .routes(routes!(organizations::create))
        .routes(routes!(organizations::add_member, organizations::members))
        .routes(routes!(organizations::remove_member, organizations::change_role))
        .routes(routes!(organizations::invite, organizations::invitations))
        .routes(routes!(organizations::revoke_invitation))
        .routes(routes!(organizations::invitation))
        .routes(routes!(organizations::accept_invitation))
        .routes(routes!(events::add_ticket_type))
        .routes(routes!(events::change_ticket_type, events::delete_ticket_type))
        .routes(routes!(fees::get_fees, fees::set_fees))
        .routes(routes!(fees::payouts))
        .routes(routes!(fees::payouts_csv))
        .routes(routes!(push::vapid_public_key))
        .routes(routes!(push::subscribe, push::unsubscribe, push::list))
        .routes(routes!(webhooks::create))
        .routes(routes!(payments::get_gateways, payments::set_gateways))
        .routes(routes!(payments::webhook))
        .routes(routes!(venues::create, venues::list))
        .routes(routes!(venues::seat_map))
        .routes(routes!(venues::edit, venues::delete))
        .routes(routes!(events::create, events::list_of_organization))
        .routes(routes!(events::publish))
        .routes(routes!(events::cancel))
        .routes(routes!(events::list))
        .routes(routes!(events::get, events::edit, events::delete))
        .routes(routes!(events::reschedule))
        .routes(routes!(events::reschedules))
        .routes(routes!(events::availability))
        .routes(routes!(events::compact_availability))
        .routes(routes!(live::stream))
        .routes(routes!(waiting_room::get_controls, waiting_room::put_controls))
        .routes(routes!(waiting_room::info))
        .routes(routes!(waiting_room::challenge))
        .routes(routes!(waiting_room::join))
        .routes(routes!(waiting_room::mine))
        .routes(routes!(waiting_room::live))
        .routes(routes!(waiting_room::flags))
        .routes(routes!(waiting_room::clear_flag))
        .routes(routes!(holds::create))
        .routes(routes!(holds::get, holds::release))
        .routes(routes!(orders::create))
        .routes(routes!(orders::get))
        .routes(routes!(orders::mine))
        .routes(routes!(refunds::create))
        .routes(routes!(refunds::cancel_free))
        .routes(routes!(refunds::request_after_move))
        .routes(routes!(refunds::of_event))
        .routes(routes!(refunds::of_event_one))
        .routes(routes!(notifications::mine))
        .routes(routes!(notifications::mark_read))
        .routes(routes!(notifications::set_locale))
        .routes(routes!(tickets::mine))
        .routes(routes!(tickets::get))
        .routes(routes!(tickets::qr_svg))
        .routes(routes!(tickets::qr_png))
        .routes(routes!(transfers::offer))
        .routes(routes!(resale::create))
        .routes(routes!(resale::of_event))
        .routes(routes!(resale::withdraw))
        .routes(routes!(resale::hold))
        .routes(routes!(resale::payouts))
        .routes(routes!(transfers::accept))
        .routes(routes!(transfers::incoming))
        .routes(routes!(transfers::outgoing))
        .routes(routes!(transfers::cancel))
        .routes(routes!(checkins::create))
        .routes(routes!(gate::manifest))
        .routes(routes!(gate::sync))
        .routes(routes!(gate::problems))
        .routes(routes!(gate::stats))
        .routes(routes!(ledger::sth))
        .routes(routes!(ledger::entries))
        .routes(routes!(ledger::inclusion))
        .routes(routes!(ledger::consistency))
        .routes(routes!(ledger::history))
        .routes(routes!(ops::healthz))
        .routes(routes!(ops::metrics))
}

/// The OpenAPI document of every route, as the server serves it.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, mut doc) = api().split_for_parts();
    let (_, own) = OpenApiRouter::<Arc<String>>::new().routes(routes!(openapi_json)).split_for_parts();
    doc.merge(own);
    doc
}

pub fn router(state: AppState) -> Router {
    let (api_router, _) = api().split_for_parts();
    let doc = Arc::new(openapi().to_pretty_json().expect("the OpenAPI document serialises"));
    let docs = Router::new().route("/api/v1/openapi.json", axum::routing::get(openapi_json)).with_state(doc);
    let api = api_router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state.clone())
        .merge(docs);
    // The web app: pages, assets, and `/app/api/…` (the API with cookie sessions).
    api.clone()
        .merge(pages::router(state.clone(), api))
        .layer(middleware::from_fn_with_state(state, limits::limit_by_address))
        .layer(DefaultBodyLimit::max(REQUEST_BODY_BYTES_MAX))
        .layer(middleware::from_fn(track_http))
        .layer(CatchPanicLayer::custom(panic_problem))
        .layer(TraceLayer::new_for_http())
}

async fn not_found(viewer: pages::session::Viewer, uri: axum::http::Uri, headers: axum::http::HeaderMap) -> Response {
    // Browsers asking for a page get a page; API clients get problem+json.
    if !uri.path().starts_with("/api/") && pages::wants_html(&headers) {
        return pages::not_found_page_for(&viewer);
    }
    Problem::not_found("no such route; see /api/v1/openapi.json").into_response()
}

async fn method_not_allowed() -> Problem {
    Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "Method not allowed",
        "this route does not take that method; see /api/v1/openapi.json",
    )
}

fn panic_problem(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    Problem::internal(&"a request handler panicked").into_response()
}

/// A request method as a metrics label. A client may send any token as a
/// method, and each label value is a series kept for the life of the
/// process: made-up methods share one, so they cannot grow memory without
/// bound.
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::CONNECT => "CONNECT",
        _ => "OTHER",
    }
}

/// Counts requests and records their latency per route and status.
async fn track_http(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = method_label(request.method());
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    let labels = [("method", method.to_owned()), ("route", route), ("status", status)];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels).record(started.elapsed().as_secs_f64());
    response
}
