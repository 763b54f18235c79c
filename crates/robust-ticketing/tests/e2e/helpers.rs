//! The harness: each test gets its own server (fresh SQLite database in a
//! temporary folder, wall clock, test gateway), a TCP relay in front of it
//! that the test can cut to take the network away from the browser, and
//! helpers that set up data through the REST API.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use robust_ticketing::{Config, Running};
use serde_json::{Value, json};
use ticketing::accounts::PasswordHashing;
use ticketing::{Payments, SystemClock, TestGateway};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Mutex, MutexGuard};
use tokio::task::JoinHandle;

pub const PASSWORD: &str = "correct horse battery";

/// Browser tests run one at a time: each starts a Chromium, and the machine
/// they run on may have two cores.
pub async fn one_at_a_time() -> MutexGuard<'static, ()> {
    static LOCK: std::sync::OnceLock<Mutex<()>> = std::sync::OnceLock::new();
    LOCK.get_or_init(|| Mutex::new(())).lock().await
}

/// A relay from a public port to the server; `cut` drops every connection
/// and refuses new ones, like pulling the network cable.
pub struct Relay {
    pub addr: std::net::SocketAddr,
    cut: Arc<AtomicBool>,
    conns: Arc<std::sync::Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl Relay {
    async fn start(upstream: std::net::SocketAddr) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("relay binds");
        let addr = listener.local_addr().unwrap();
        let cut = Arc::new(AtomicBool::new(false));
        let conns: Arc<std::sync::Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let (c, k) = (cut.clone(), conns.clone());
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if c.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let task = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                let mut list = k.lock().unwrap();
                list.retain(|t| !t.is_finished());
                list.push(task);
            }
        });
        Relay { addr, cut, conns, accept }
    }

    pub fn set_cut(&self, cut: bool) {
        self.cut.store(cut, Ordering::SeqCst);
        if cut {
            for t in self.conns.lock().unwrap().drain(..) {
                t.abort();
            }
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.accept.abort();
        for t in self.conns.lock().unwrap().drain(..) {
            t.abort();
        }
    }
}

pub struct App {
    /// The server itself, for API calls from the test.
    pub api_root: String,
    /// Where the browser goes: through the relay.
    pub root: String,
    pub relay: Relay,
    pub http: reqwest::Client,
    _running: Running,
    _dir: tempfile::TempDir,
}

pub async fn spawn_app() -> App {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = Config {
        bind: "127.0.0.1:0".parse().unwrap(),
        database_url: format!("sqlite://{}", dir.path().join("e2e.db").display()),
        demo: false,
        hold_ttl_secs: 600,
        password_hashing: PasswordHashing::insecure_fast(),
        ..Config::default()
    };
    let payments = Payments::default().with(Arc::new(TestGateway::default()));
    let running = robust_ticketing::start(&config, Arc::new(SystemClock), payments).await.expect("server starts");
    let relay = Relay::start(running.addr).await;
    App {
        api_root: format!("http://{}", running.addr),
        root: format!("http://{}", relay.addr),
        relay,
        http: reqwest::Client::new(),
        _running: running,
        _dir: dir,
    }
}

#[derive(Clone, Debug)]
pub struct Account {
    pub email: String,
    pub token: String,
}

/// A published event and what the test needs to know about it.
#[derive(Clone, Debug)]
pub struct Event {
    pub id: String,
    pub title: String,
    pub owner: Account,
    /// Seat ids in map order.
    pub seats: Vec<String>,
}

impl App {
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self.http.request(method, format!("{}/api/v1{path}", self.api_root));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.expect("API reachable");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Value {
        let (status, v) = self.call(reqwest::Method::POST, path, token, Some(body)).await;
        assert!((200..300).contains(&status), "POST {path} answered {status}: {v}");
        v
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Value {
        let (status, v) = self.call(reqwest::Method::GET, path, token, None).await;
        assert!((200..300).contains(&status), "GET {path} answered {status}: {v}");
        v
    }

    /// A new account, its address confirmed with the link mailed to it.
    pub async fn account(&self, name: &str) -> Account {
        let email = format!("{name}-{}@e2e.test", uuid::Uuid::new_v4().simple());
        self.post("/auth/register", None, json!({"email": email, "password": PASSWORD, "name": name})).await;
        sqlx::any::install_default_drivers();
        let url = format!("sqlite://{}", self._dir.path().join("e2e.db").display());
        let mut db = <sqlx::AnyConnection as sqlx::Connection>::connect(&url).await.expect("test database");
        let link: String =
            sqlx::query_scalar("SELECT link FROM notifications WHERE email = $1 AND kind = 'verify_email'")
                .bind(&email)
                .fetch_one(&mut db)
                .await
                .expect("a confirmation link was mailed");
        let token = link.split_once("token=").expect("a confirmation link").1;
        self.post("/auth/verify-email", None, json!({"token": token})).await;
        let login = self.post("/auth/login", None, json!({"email": email, "password": PASSWORD})).await;
        Account { email, token: login["access_token"].as_str().unwrap().to_owned() }
    }

    /// A published event at a new venue whose seat map is `sections`.
    pub async fn event_with(&self, title: &str, sections: Value, ga: Value) -> Event {
        let owner = self.account("owner").await;
        let org = self.post("/organizations", Some(&owner.token), json!({"name": "E2E Productions"})).await;
        let org = org["id"].as_str().unwrap().to_owned();
        let venue = self
            .post(
                &format!("/organizations/{org}/venues"),
                Some(&owner.token),
                json!({"name": "Harbour Hall", "address": "1 Quay Street", "timezone": "Europe/Berlin",
                       "seat_map": {"sections": sections, "ga_areas": ga}}),
            )
            .await;
        let venue_id = venue["id"].as_str().unwrap().to_owned();
        let map = self.get(&format!("/venues/{venue_id}/seat-map"), None).await;
        let mut zones: Vec<String> =
            map["sections"].as_array().unwrap().iter().map(|s| s["price_zone"].as_str().unwrap().to_owned()).collect();
        zones.dedup();
        let mut types: Vec<Value> = zones
            .iter()
            .enumerate()
            .map(|(i, z)| json!({"name": format!("{z} seat"), "price": {"amount": 4500 - 1000 * i as i64, "currency": "EUR"}, "price_zone": z}))
            .collect();
        for a in map["ga_areas"].as_array().unwrap() {
            types.push(json!({"name": a["name"], "price": {"amount": 2000, "currency": "EUR"}, "ga_area_id": a["id"]}));
        }
        let starts = chrono::Utc::now() + chrono::Duration::days(14);
        let event = self
            .post(
                &format!("/organizations/{org}/events"),
                Some(&owner.token),
                json!({"venue_id": venue_id, "title": title, "description": "An evening of music by the harbour.",
                       "category": "concert", "starts_at": starts, "ends_at": starts + chrono::Duration::hours(3),
                       "ticket_types": types}),
            )
            .await;
        let id = event["id"].as_str().unwrap().to_owned();
        self.post(&format!("/events/{id}/publish"), Some(&owner.token), json!({})).await;
        let seats = map["sections"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| s["rows"].as_array().unwrap().iter())
            .flat_map(|r| r["seats"].as_array().unwrap().iter())
            .map(|s| s["id"].as_str().unwrap().to_owned())
            .collect();
        Event { id, title: title.to_owned(), owner, seats }
    }

    /// A small hall: two sections of 4 rows × 10 seats.
    pub async fn small_event(&self, title: &str) -> Event {
        self.event_with(
            title,
            json!([
                {"name": "Stalls", "price_zone": "stalls", "rows": (0..4).map(|i| json!({"label": ((b'A' + i) as char).to_string(), "seats": 10})).collect::<Vec<_>>(), "curve_radius": 30.0},
                {"name": "Balcony", "price_zone": "balcony", "rows": (0..4).map(|i| json!({"label": ((b'A' + i) as char).to_string(), "seats": 10})).collect::<Vec<_>>()}
            ]),
            json!([{"name": "Standing floor", "capacity": 100}]),
        )
        .await
    }

    /// Buys `seats` for `buyer` through the API; returns the order.
    pub async fn buy(&self, buyer: &Account, event: &str, seats: &[&str]) -> Value {
        let hold = self.post(&format!("/events/{event}/holds"), Some(&buyer.token), json!({"seats": seats})).await;
        let r = self
            .http
            .post(format!("{}/api/v1/orders", self.api_root))
            .bearer_auth(&buyer.token)
            .header("Idempotency-Key", uuid::Uuid::new_v4().to_string())
            .json(&json!({"hold_id": hold["id"], "payment": {"gateway": "test", "token": "tok_ok"}}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 201);
        r.json().await.unwrap()
    }
}

/// Where screenshots go when `RT_E2E_SCREENSHOTS` names a folder.
pub fn screenshot_dir() -> Option<std::path::PathBuf> {
    std::env::var_os("RT_E2E_SCREENSHOTS").map(std::path::PathBuf::from).inspect(|d| {
        let _ = std::fs::create_dir_all(d);
    })
}
