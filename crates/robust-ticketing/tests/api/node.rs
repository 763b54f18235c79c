//! Server processes: the real binary, started and killed like in production.
//! Shared by the API suite (restart) and the cluster suite.

use std::process::Stdio;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::process::{Child, Command};

pub struct Node {
    pub child: Child,
    pub root: String,
}

pub fn client() -> reqwest::Client {
    ticketing::install_crypto_provider();
    reqwest::Client::builder().pool_max_idle_per_host(1_000).build().unwrap()
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Starts `robust-ticketing serve` on `port` with `extra` flags and waits
/// until it answers /healthz.
pub async fn start_node(db_url: &str, port: u16, extra: &[&str]) -> Node {
    let child = Command::new(env!("CARGO_BIN_EXE_robust-ticketing"))
        .args(["serve", "--bind", &format!("127.0.0.1:{port}"), "--database-url", db_url])
        .args(extra)
        // Cheap password hashing: these tests create hundreds of accounts.
        .env("ARGON2_MEMORY_KIB", "1024")
        .env("ARGON2_ITERATIONS", "1")
        // Many buyers from one address, one account buying fast.
        .env("RATE_LIMIT_IP_PER_SECOND", "0")
        .env("RATE_LIMIT_ACCOUNT_PER_MINUTE", "0")
        .env("RATE_LIMIT_SIGN_IN_PER_MINUTE", "0")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("server binary starts");
    let root = format!("http://127.0.0.1:{port}");
    let http = client();
    for _ in 0..300 {
        if let Ok(r) = http.get(format!("{root}/healthz")).send().await
            && r.status() == StatusCode::OK
        {
            return Node { child, root };
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("server did not become healthy");
}

impl Node {
    /// SIGKILL: no shutdown hooks, no flushing, like a power cut to the process.
    pub async fn kill_9(&mut self) {
        self.child.start_kill().unwrap();
        self.child.wait().await.unwrap();
    }
}

pub async fn login(client: &reqwest::Client, root: &str, email: &str, password: &str) -> String {
    let r = client
        .post(format!("{root}/api/v1/auth/login"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    r.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned()
}

#[allow(dead_code)] // used by the cluster suite
pub async fn signup(client: &reqwest::Client, root: &str, email: &str) -> String {
    let body = json!({"email": email, "password": "correct horse battery", "name": "Buyer"});
    let r = client.post(format!("{root}/api/v1/auth/register")).json(&body).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
    login(client, root, email, "correct horse battery").await
}

/// Every seat id of the venue of `event`, in map order.
pub async fn seats_of(client: &reqwest::Client, root: &str, event: &str) -> Vec<String> {
    let detail: Value = client.get(format!("{root}/api/v1/events/{event}")).send().await.unwrap().json().await.unwrap();
    let map: Value = client
        .get(format!("{root}/api/v1/venues/{}/seat-map", detail["venue_id"].as_str().unwrap()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    map["sections"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["rows"].as_array().unwrap().iter())
        .flat_map(|r| r["seats"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().to_owned()))
        .collect()
}

/// Holds the seats and pays; `None` if any step failed (the server may die).
pub async fn buy(
    client: &reqwest::Client,
    root: &str,
    token: &str,
    event: &str,
    seats: &[&str],
    key: &str,
) -> Option<Value> {
    let r = client
        .post(format!("{root}/api/v1/events/{event}/holds"))
        .bearer_auth(token)
        .json(&json!({"seats": seats}))
        .send()
        .await
        .ok()?;
    if r.status() != StatusCode::CREATED {
        return None;
    }
    let hold: Value = r.json().await.ok()?;
    let r = client
        .post(format!("{root}/api/v1/orders"))
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .json(&json!({"hold_id": hold["id"], "payment": {"gateway": "test", "token": "tok_ok"}}))
        .send()
        .await
        .ok()?;
    if r.status() != StatusCode::CREATED {
        return None;
    }
    r.json().await.ok()
}
