//! The test harness: every test gets its own server on a free port with a
//! fresh SQLite database in a temporary folder, a clock it controls, and the
//! test payment gateway whose ledger it can read. Tests speak real HTTP.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use domain::Clock;
use reqwest::{Response, StatusCode};
use robust_ticketing::{Config, Running};
use serde_json::{Value, json};
use ticketing::accounts::PasswordHashing;
use ticketing::{Payments, TestGateway};

/// A clock the test moves by hand, so expiry needs no sleeping.
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    pub fn advance(&self, by: Duration) {
        *self.0.lock().unwrap() += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

pub struct TestApp {
    /// `http://127.0.0.1:PORT`
    pub root: String,
    pub client: reqwest::Client,
    pub clock: Arc<ManualClock>,
    pub gateway: Arc<TestGateway>,
    /// Dropping it would shut the server down: it holds the shutdown signal.
    _running: Running,
    _db: TestDatabase,
    config: Config,
    /// A connection to the test's database, opened on first use.
    pool: tokio::sync::OnceCell<sqlx::AnyPool>,
}

pub const HOLD_TTL_SECS: u64 = 600;
pub const PASSWORD: &str = "correct horse battery";

/// Set `TEST_DATABASE=postgres` to run the suite on PostgreSQL; each test
/// then gets a database of its own on the server at `TEST_POSTGRES_URL`.
pub const POSTGRES_URL_DEFAULT: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A database for one test, removed when dropped.
pub struct TestDatabase {
    pub url: String,
    postgres: Option<(String, String)>,
    _dir: tempfile::TempDir,
}

impl TestDatabase {
    /// A fresh database of the backend under test (`TEST_DATABASE`).
    pub async fn new() -> Self {
        if std::env::var("TEST_DATABASE").as_deref() == Ok("postgres") {
            return Self::postgres().await;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("test.db").display());
        Self { url, postgres: None, _dir: dir }
    }

    /// A fresh, empty PostgreSQL database.
    pub async fn postgres() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let admin_url = std::env::var("TEST_POSTGRES_URL").unwrap_or_else(|_| POSTGRES_URL_DEFAULT.to_owned());
        let name = format!("rt_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&admin_url)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at {admin_url} is not reachable: {e}"));
        sqlx::Executor::execute(&mut admin, sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).await.unwrap();
        let base = admin_url.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin_url);
        Self { url: format!("{base}/{name}"), postgres: Some((admin_url.clone(), name)), _dir: dir }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some((admin_url, name)) = self.postgres.take() else { return };
        // Drop runs inside the test's runtime, which cannot block on async
        // work: use a thread with a runtime of its own.
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                if let Ok(mut admin) = <sqlx::PgConnection as sqlx::Connection>::connect(&admin_url).await {
                    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    let _ = sqlx::Executor::execute(&mut admin, sqlx::AssertSqlSafe(sql)).await;
                }
            });
        })
        .join()
        .ok();
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// A server whose configuration `configure` adjusts (e.g. an SMTP server).
pub async fn spawn_app_with(configure: impl FnOnce(&mut Config)) -> TestApp {
    spawn_app_with_gateways(configure, &[]).await
}

/// A server with Stripe gateways besides the test gateway.
pub async fn spawn_app_with_gateways(
    configure: impl FnOnce(&mut Config),
    stripe: &[robust_ticketing::StripeSettings],
) -> TestApp {
    let db = TestDatabase::new().await;
    let db_url = db.url.clone();
    let mut config = Config {
        bind: "127.0.0.1:0".parse().unwrap(),
        database_url: db_url,
        demo: false,
        hold_ttl_secs: HOLD_TTL_SECS,
        // Hundreds of accounts per test: the OWASP cost would dominate.
        password_hashing: PasswordHashing::insecure_fast(),
        // Tests race hundreds of buyers from one address; the rate-limit
        // tests switch limits on themselves.
        rate_limits: web::limits::RateLimitConfig::off(),
        // Webhook receivers and push services in tests listen on loopback;
        // the outbound tests switch the public-only default back on.
        outbound: ticketing::outbound::OutboundPolicy::AllowPrivate,
        ..Config::default()
    };
    configure(&mut config);
    let clock = Arc::new(ManualClock(Mutex::new(Utc::now())));
    let gateway = Arc::new(TestGateway::default());
    let payments = robust_ticketing::payment_gateways(gateway.clone(), stripe).expect("gateways configure");
    let running = robust_ticketing::start(&config, clock.clone(), payments).await.expect("server starts");
    TestApp::around(running, clock, gateway, db, config, Default::default())
}

impl TestApp {
    /// The application inside the server, for tests that run a background
    /// step (such as letting the next buyers out of a waiting room) at a
    /// moment of their choosing rather than on the server's own timer.
    pub fn ticketing(&self) -> &ticketing::Ticketing {
        &self._running.ticketing
    }

    /// Stops the server gracefully and starts a new one on the same
    /// database, clock and gateway (as after a process restart); `configure`
    /// may change its settings.
    pub async fn restart(self, configure: impl FnOnce(&mut Config)) -> TestApp {
        let TestApp { clock, gateway, _running, _db, mut config, pool, .. } = self;
        _running.shutdown().await.expect("server stops");
        configure(&mut config);
        let payments = Payments::default().with(gateway.clone());
        let running = robust_ticketing::start(&config, clock.clone(), payments).await.expect("server restarts");
        TestApp::around(running, clock, gateway, _db, config, pool)
    }

    /// The test's handles around a running server.
    fn around(
        running: Running,
        clock: Arc<ManualClock>,
        gateway: Arc<TestGateway>,
        db: TestDatabase,
        config: Config,
        pool: tokio::sync::OnceCell<sqlx::AnyPool>,
    ) -> TestApp {
        let client = reqwest::Client::builder().pool_max_idle_per_host(600).build().unwrap();
        TestApp {
            root: format!("http://{}", running.addr),
            client,
            clock,
            gateway,
            _running: running,
            _db: db,
            config,
            pool,
        }
    }
}

/// A signed-in account.
#[derive(Clone, Debug)]
pub struct Account {
    pub id: String,
    pub email: String,
    pub token: String,
}

/// An organization with its owner.
#[derive(Clone, Debug)]
pub struct Org {
    pub id: String,
    pub owner: Account,
}

/// A published event at a fresh venue.
#[derive(Clone, Debug)]
pub struct Fixture {
    pub org: Org,
    pub venue_id: String,
    pub event_id: String,
    /// Seat ids in map order.
    pub seats: Vec<String>,
    pub ga_area: String,
    pub seat_type: String,
    pub ga_type: String,
}

pub const SEAT_PRICE: i64 = 4500;
pub const GA_PRICE: i64 = 2000;

impl TestApp {
    /// The test database's URL, for tests that tamper with it directly.
    pub fn db_url(&self) -> &str {
        &self._db.url
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.root)
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        let mut req = self.client.get(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("request sent")
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> Response {
        let mut req = self.client.post(self.url(path)).json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("request sent")
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> Response {
        let mut req = self.client.delete(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("request sent")
    }

    /// A web page as the account with bearer token `token` sees it.
    pub async fn page(&self, path: &str, token: &str) -> String {
        let r = self.client.get(self.url(path)).header("cookie", format!("rt_session={token}")).send().await.unwrap();
        r.text().await.unwrap()
    }

    /// The test's database, for what only a mailbox would see.
    pub async fn database(&self) -> &sqlx::AnyPool {
        self.pool
            .get_or_init(|| async {
                sqlx::any::install_default_drivers();
                sqlx::any::AnyPoolOptions::new().max_connections(1).connect(self.db_url()).await.expect("test database")
            })
            .await
    }

    /// The secrets of the links mailed to confirm `email`, oldest first.
    pub async fn verification_tokens(&self, email: &str) -> Vec<String> {
        let links: Vec<String> = sqlx::query_scalar(
            "SELECT link FROM notifications WHERE email = $1 AND kind = 'verify_email' ORDER BY created_at, id",
        )
        .bind(email)
        .fetch_all(self.database().await)
        .await
        .unwrap();
        links.iter().map(|l| l.split_once("token=").expect("a confirmation link").1.to_owned()).collect()
    }

    /// Registers and signs in a new account, and confirms its address with
    /// the link mailed to it, as its owner would.
    pub async fn signup(&self, email: &str) -> Account {
        let account = self.signup_unconfirmed(email).await;
        let token = self.verification_tokens(email).await.pop().expect("a confirmation link was mailed");
        let r = self.post("/api/v1/auth/verify-email", None, &json!({"token": token})).await;
        assert_eq!(r.status(), StatusCode::OK, "confirm {email}");
        account
    }

    /// Registers and signs in a new account whose address is not confirmed.
    pub async fn signup_unconfirmed(&self, email: &str) -> Account {
        let r = self
            .post("/api/v1/auth/register", None, &json!({"email": email, "password": PASSWORD, "name": "Test Person"}))
            .await;
        assert_eq!(r.status(), StatusCode::CREATED, "register {email}: {}", r.text().await.unwrap());
        let user: Value = r.json().await.unwrap();
        let r = self.post("/api/v1/auth/login", None, &json!({"email": email, "password": PASSWORD})).await;
        assert_eq!(r.status(), StatusCode::OK);
        let session: Value = r.json().await.unwrap();
        Account {
            id: user["id"].as_str().unwrap().to_owned(),
            email: email.to_owned(),
            token: session["access_token"].as_str().unwrap().to_owned(),
        }
    }

    /// A fresh bearer token for an existing account.
    pub async fn login(&self, email: &str) -> String {
        let r = self.post("/api/v1/auth/login", None, &json!({"email": email, "password": PASSWORD})).await;
        assert_eq!(r.status(), StatusCode::OK);
        r.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned()
    }

    pub async fn org(&self, owner_email: &str) -> Org {
        let owner = self.signup(owner_email).await;
        let r = self.post("/api/v1/organizations", Some(&owner.token), &json!({"name": "Test Org"})).await;
        assert_eq!(r.status(), StatusCode::CREATED);
        let org: Value = r.json().await.unwrap();
        Org { id: org["id"].as_str().unwrap().to_owned(), owner }
    }

    /// Adds a new account to the organization with `role`.
    pub async fn member(&self, org: &Org, email: &str, role: &str) -> Account {
        let account = self.signup(email).await;
        let r = self
            .post(
                &format!("/api/v1/organizations/{}/members", org.id),
                Some(&org.owner.token),
                &json!({"email": email, "role": role}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
        account
    }

    /// A venue with one section of `rows` × `per_row` seats and a GA area.
    pub async fn venue(&self, org: &Org, rows: usize, per_row: u32, ga_capacity: u32) -> (String, Vec<String>, String) {
        let rows: Vec<Value> = (0..rows).map(|i| json!({"label": format!("R{i}"), "seats": per_row})).collect();
        let body = json!({
            "name": "Test Hall", "address": "1 Test Street", "timezone": "Europe/Berlin",
            "seat_map": {"sections": [{"name": "Main", "price_zone": "main", "rows": rows}],
                         "ga_areas": [{"name": "Floor", "capacity": ga_capacity}]}
        });
        let r = self.post(&format!("/api/v1/organizations/{}/venues", org.id), Some(&org.owner.token), &body).await;
        assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
        let venue: Value = r.json().await.unwrap();
        let venue_id = venue["id"].as_str().unwrap().to_owned();
        let map: Value = self.get(&format!("/api/v1/venues/{venue_id}/seat-map"), None).await.json().await.unwrap();
        let seats = map["sections"][0]["rows"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| r["seats"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().to_owned()))
            .collect();
        let area = map["ga_areas"][0]["id"].as_str().unwrap().to_owned();
        (venue_id, seats, area)
    }

    /// Creates and publishes an event at the venue; returns (event, seat type, GA type).
    pub async fn event(
        &self,
        org: &Org,
        venue_id: &str,
        ga_area: &str,
        max_per_order: u32,
    ) -> (String, String, String) {
        let starts = self.clock.now() + Duration::days(30);
        let body = json!({
            "venue_id": venue_id, "title": "Test Gig", "description": "A test event", "category": "concert",
            "starts_at": starts, "ends_at": starts + Duration::hours(3),
            "ticket_types": [
                {"name": "Seated", "price": {"amount": SEAT_PRICE, "currency": "EUR"}, "price_zone": "main", "max_per_order": max_per_order},
                {"name": "Standing", "price": {"amount": GA_PRICE, "currency": "EUR"}, "ga_area_id": ga_area, "max_per_order": max_per_order}
            ]
        });
        let r = self.post(&format!("/api/v1/organizations/{}/events", org.id), Some(&org.owner.token), &body).await;
        assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
        let event: Value = r.json().await.unwrap();
        let event_id = event["id"].as_str().unwrap().to_owned();
        let r = self.post(&format!("/api/v1/events/{event_id}/publish"), Some(&org.owner.token), &json!({})).await;
        assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
        let types = event["ticket_types"].as_array().unwrap();
        (event_id, types[0]["id"].as_str().unwrap().to_owned(), types[1]["id"].as_str().unwrap().to_owned())
    }

    /// An organization, a venue of `rows` × `per_row` seats plus a GA area,
    /// and a published event there.
    pub async fn fixture(&self, rows: usize, per_row: u32, ga_capacity: u32) -> Fixture {
        let org = self.org(&format!("owner-{}@example.org", uuid::Uuid::new_v4())).await;
        let (venue_id, seats, ga_area) = self.venue(&org, rows, per_row, ga_capacity).await;
        let (event_id, seat_type, ga_type) = self.event(&org, &venue_id, &ga_area, 10).await;
        Fixture { org, venue_id, event_id, seats, ga_area, seat_type, ga_type }
    }

    /// Sets a ticket type's price in EUR minor units (0: free tickets).
    pub async fn set_price(&self, owner: &str, event: &str, ticket_type: &str, amount: i64) {
        let r = self
            .client
            .patch(self.url(&format!("/api/v1/events/{event}/ticket-types/{ticket_type}")))
            .bearer_auth(owner)
            .json(&json!({"price": {"amount": amount, "currency": "EUR"}}))
            .send()
            .await
            .expect("request sent");
        assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    }

    pub async fn hold(&self, token: &str, event: &str, seats: &[&str], ga: &[(&str, i64)]) -> Response {
        let ga: Vec<Value> = ga.iter().map(|(a, q)| json!({"area_id": a, "quantity": q})).collect();
        self.post(&format!("/api/v1/events/{event}/holds"), Some(token), &json!({"seats": seats, "ga": ga})).await
    }

    pub async fn order(&self, token: &str, hold_id: &str, key: &str, payment_token: &str) -> Response {
        self.client
            .post(self.url("/api/v1/orders"))
            .bearer_auth(token)
            .header("Idempotency-Key", key)
            .json(&json!({"hold_id": hold_id, "payment": {"gateway": "test", "token": payment_token}}))
            .send()
            .await
            .expect("request sent")
    }

    /// Holds and pays; returns the order.
    pub async fn buy(&self, token: &str, event: &str, seats: &[&str], ga: &[(&str, i64)]) -> Value {
        let r = self.hold(token, event, seats, ga).await;
        assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
        let hold: Value = r.json().await.unwrap();
        let r = self.order(token, hold["id"].as_str().unwrap(), &uuid::Uuid::new_v4().to_string(), "tok_ok").await;
        assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
        r.json().await.unwrap()
    }

    pub async fn availability(&self, event: &str) -> Value {
        let r = self.get(&format!("/api/v1/events/{event}/availability"), None).await;
        assert_eq!(r.status(), StatusCode::OK);
        r.json().await.unwrap()
    }

    pub async fn checkin(&self, token: &str, event: &str, barcode: &str) -> Response {
        self.post(&format!("/api/v1/events/{event}/checkins"), Some(token), &json!({"barcode": barcode})).await
    }
}

/// Seat statuses from an availability document, by status.
pub fn count_status(availability: &Value, status: &str) -> usize {
    availability["seats"].as_array().unwrap().iter().filter(|s| s["status"] == status).count()
}

/// Asserts an RFC 9457 problem with `status` and a non-empty detail; returns the body.
pub async fn assert_problem(r: Response, status: StatusCode) -> Value {
    let got = r.status();
    let content_type = r.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    let body = r.text().await.unwrap();
    assert_eq!(got, status, "expected {status}, got {got}: {body}");
    assert_eq!(content_type, "application/problem+json", "not a problem document: {body}");
    let v: Value = serde_json::from_str(&body).expect("problem body is JSON");
    assert_eq!(v["status"], status.as_u16(), "{v}");
    assert!(v["detail"].as_str().is_some_and(|d| !d.is_empty()), "problem without a detail: {v}");
    assert!(v["type"].as_str().is_some_and(|d| !d.is_empty()), "problem without a type: {v}");
    v
}
