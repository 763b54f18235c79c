//! Rate limits: per client address on every API request, per address again
//! (far tighter) on the requests that check or set a password, and per
//! account on the requests that take inventory or money (holds, orders,
//! joining a waiting room). Over the limit, the answer is 429 with
//! `Retry-After`: a problem document for the API, a page for a form.
//!
//! The limiters are GCRA token buckets (the `governor` crate) kept in this
//! process: each node limits what it sees, so behind a load balancer with N
//! nodes a client gets at most N times the rate. That is the usual trade for
//! not putting a shared store in every request's path; the per-account
//! ticket limit and the waiting room, which must hold across nodes, live in
//! the database instead.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use domain::ids::UserId;
use governor::clock::{Clock, DefaultClock};
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

use crate::AppState;
use crate::problem::Problem;

/// Requests a second one address may make to the API, sustained, by default:
/// far above what a person clicking does, far below a script's flood.
pub const IP_PER_SECOND_DEFAULT: u32 = 50;
/// Requests one address may make at once before the rate applies.
pub const IP_BURST_DEFAULT: u32 = 100;
/// Holds, orders and queue joins one account may make a minute, sustained.
pub const ACCOUNT_PER_MINUTE_DEFAULT: u32 = 60;
/// ... and at once.
pub const ACCOUNT_BURST_DEFAULT: u32 = 10;
/// Sign-ins, sign-ups and password requests one address may make a minute,
/// sustained: a person mistyping a password a few times is never slowed,
/// a script guessing passwords is held to a few thousand guesses a day.
pub const SIGN_IN_PER_MINUTE_DEFAULT: u32 = 20;
/// ... and at once.
pub const SIGN_IN_BURST_DEFAULT: u32 = 10;
/// Keys not seen for this long are dropped from memory.
pub const IDLE_KEY_SECS: u64 = 600;

/// Rate-limit settings; a zero rate switches that limit off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimitConfig {
    pub ip_per_second: u32,
    pub ip_burst: u32,
    pub account_per_minute: u32,
    pub account_burst: u32,
    pub sign_in_per_minute: u32,
    pub sign_in_burst: u32,
    /// Take the client address from the last `X-Forwarded-For` entry (set
    /// by a reverse proxy in front), not from the TCP peer.
    pub trust_forwarded_for: bool,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            ip_per_second: IP_PER_SECOND_DEFAULT,
            ip_burst: IP_BURST_DEFAULT,
            account_per_minute: ACCOUNT_PER_MINUTE_DEFAULT,
            account_burst: ACCOUNT_BURST_DEFAULT,
            sign_in_per_minute: SIGN_IN_PER_MINUTE_DEFAULT,
            sign_in_burst: SIGN_IN_BURST_DEFAULT,
            trust_forwarded_for: false,
        }
    }
}

impl RateLimitConfig {
    /// No limits: for load tests and test suites that race many buyers from
    /// one address.
    pub fn off() -> Self {
        Self {
            ip_per_second: 0,
            ip_burst: 0,
            account_per_minute: 0,
            account_burst: 0,
            sign_in_per_minute: 0,
            sign_in_burst: 0,
            trust_forwarded_for: false,
        }
    }
}

type Keyed<K> = RateLimiter<K, DefaultKeyedStateStore<K>, DefaultClock>;

/// The limiters of one process.
#[derive(Clone, Default)]
pub struct RateLimits {
    per_ip: Option<Arc<Keyed<IpAddr>>>,
    per_account: Option<Arc<Keyed<UserId>>>,
    /// Requests that check or set a password, per address.
    sign_in: Option<Arc<Keyed<IpAddr>>>,
    trust_forwarded_for: bool,
}

fn quota(per: Duration, burst: u32) -> Quota {
    let burst = NonZeroU32::new(burst.max(1)).expect("at least 1");
    Quota::with_period(per).expect("a positive period").allow_burst(burst)
}

impl RateLimits {
    pub fn new(config: &RateLimitConfig) -> Self {
        let per_ip = (config.ip_per_second > 0).then(|| {
            let period = Duration::from_secs(1) / config.ip_per_second;
            Arc::new(RateLimiter::dashmap(quota(period, config.ip_burst)))
        });
        let per_account = (config.account_per_minute > 0).then(|| {
            let period = Duration::from_secs(60) / config.account_per_minute;
            Arc::new(RateLimiter::dashmap(quota(period, config.account_burst)))
        });
        let sign_in = (config.sign_in_per_minute > 0).then(|| {
            let period = Duration::from_secs(60) / config.sign_in_per_minute;
            Arc::new(RateLimiter::dashmap(quota(period, config.sign_in_burst)))
        });
        Self { per_ip, per_account, sign_in, trust_forwarded_for: config.trust_forwarded_for }
    }

    /// Counts one inventory or money request of `user`.
    pub fn check_account(&self, user: UserId) -> Result<(), Problem> {
        match &self.per_account {
            Some(limiter) => limiter
                .check_key(&user)
                .map_err(|not_until| too_many(not_until.wait_time_from(DefaultClock::default().now()), "this account")),
            None => Ok(()),
        }
    }

    fn check_ip(&self, ip: IpAddr) -> Result<(), Problem> {
        match &self.per_ip {
            Some(limiter) => limiter
                .check_key(&ip)
                .map_err(|not_until| too_many(not_until.wait_time_from(DefaultClock::default().now()), "this address")),
            None => Ok(()),
        }
    }

    fn check_sign_in(&self, ip: IpAddr) -> Result<(), Problem> {
        match &self.sign_in {
            Some(limiter) => limiter
                .check_key(&ip)
                .map_err(|not_until| too_many(not_until.wait_time_from(DefaultClock::default().now()), "this address")),
            None => Ok(()),
        }
    }

    /// Forgets clients that have gone quiet, so memory stays bounded.
    pub fn forget_idle(&self) {
        if let Some(l) = &self.sign_in {
            l.retain_recent();
            l.shrink_to_fit();
        }
        if let Some(l) = &self.per_ip {
            l.retain_recent();
            l.shrink_to_fit();
        }
        if let Some(l) = &self.per_account {
            l.retain_recent();
            l.shrink_to_fit();
        }
    }

    fn client_ip(&self, request: &Request) -> Option<IpAddr> {
        if self.trust_forwarded_for
            && let Some(ip) = request
                .headers()
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .filter_map(|s| s.trim().parse::<IpAddr>().ok())
                .next_back()
        {
            return Some(ip);
        }
        request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip())
    }
}

fn too_many(wait: Duration, whom: &str) -> Problem {
    // Whole seconds, rounded up: `Retry-After: 0` would invite a hot loop.
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let secs = secs.max(1);
    Problem::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate-limited",
        "Too many requests",
        format!("{whom} is sending requests faster than allowed; retry in {secs} s"),
    )
    .with("retry_after_secs", secs)
    .with_header_value(header::RETRY_AFTER, HeaderValue::from(secs))
}

/// The API paths and form addresses that check or set a password: each
/// costs an argon2 hash, and each is a guess an attacker would make.
const SIGN_IN_PATHS: [&str; 10] = [
    "/api/v1/auth/login",
    "/api/v1/auth/register",
    "/api/v1/auth/password-reset",
    "/api/v1/auth/password-reset/confirm",
    "/api/v1/me/password",
    "/signin",
    "/signup",
    "/forgot-password",
    "/reset-password",
    "/account/password",
];

fn is_sign_in(request: &Request) -> bool {
    // Most requests are reads: they never get as far as the path.
    if request.method() == axum::http::Method::GET || request.method() == axum::http::Method::HEAD {
        return false;
    }
    let path = request.uri().path();
    let path = path.strip_prefix("/app").filter(|p| p.starts_with("/api/")).unwrap_or(path);
    SIGN_IN_PATHS.contains(&path.trim_end_matches('/'))
}

/// Middleware: the per-address limit on `/api/` and `/app/api/` requests,
/// and the sign-in limit on every request that checks or sets a password.
/// Pages and static assets are not counted otherwise: a page load fetches
/// many.
pub async fn limit_by_address(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let api = path.starts_with("/api/") || path.starts_with("/app/api/");
    let sign_in = is_sign_in(&request);
    let ip = if api || sign_in { state.limits.client_ip(&request) } else { None };
    if api
        && let Some(ip) = ip
        && let Err(problem) = state.limits.check_ip(ip)
    {
        metrics::counter!("http_rate_limited_total", "by" => "address").increment(1);
        return problem.into_response();
    }
    if sign_in
        && let Some(ip) = ip
        && let Err(problem) = state.limits.check_sign_in(ip)
    {
        metrics::counter!("http_rate_limited_total", "by" => "sign_in").increment(1);
        if api {
            return problem.into_response();
        }
        // A form: a page that says so, not a problem document shown as text.
        let (mut parts, _) = request.into_parts();
        let viewer =
            crate::pages::session::Viewer::from_request_parts(&mut parts, &state).await.unwrap_or_else(|e| match e {});
        let response = problem.into_response();
        let retry_after = response.headers().get(header::RETRY_AFTER).cloned();
        let (status, detail, _) = crate::pages::layout::problem_detail_of(response).await;
        let mut page = crate::pages::layout::error_page(&viewer, status, "Too many attempts", &detail);
        if let Some(v) = retry_after {
            page.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return page;
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_over_its_burst_waits() {
        let limits =
            RateLimits::new(&RateLimitConfig { account_per_minute: 60, account_burst: 3, ..RateLimitConfig::off() });
        let user = UserId::new();
        for _ in 0..3 {
            assert!(limits.check_account(user).is_ok());
        }
        let refused = limits.check_account(user).unwrap_err();
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
        let response = refused.into_response();
        let retry: u64 = response.headers()[header::RETRY_AFTER].to_str().unwrap().parse().unwrap();
        assert!((1..=2).contains(&retry), "{retry}");
        // Another account is not affected.
        assert!(limits.check_account(UserId::new()).is_ok());
    }

    #[test]
    fn zero_switches_a_limit_off() {
        let limits = RateLimits::new(&RateLimitConfig::off());
        let user = UserId::new();
        for _ in 0..1_000 {
            assert!(limits.check_account(user).is_ok());
            assert!(limits.check_ip(IpAddr::from([127, 0, 0, 1])).is_ok());
        }
    }
}
