//! Durability: the real server binary is killed with SIGKILL mid-sale and
//! restarted on the same database; nothing it confirmed is lost.

use std::collections::HashSet;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::process::{Child, Command};
use tokio::task::JoinSet;

struct Server {
    child: Child,
    root: String,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn start(db_url: &str, port: u16) -> Server {
    let child = Command::new(env!("CARGO_BIN_EXE_robust-ticketing"))
        .args(["serve", "--bind", &format!("127.0.0.1:{port}"), "--database-url", db_url])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("server binary starts");
    let root = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    for _ in 0..300 {
        if let Ok(r) = client.get(format!("{root}/healthz")).send().await
            && r.status() == StatusCode::OK
        {
            return Server { child, root };
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("server did not become healthy");
}

async fn login(client: &reqwest::Client, root: &str, email: &str, password: &str) -> String {
    let r = client
        .post(format!("{root}/api/v1/auth/login"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    r.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn orders_tickets_and_checkins_survive_kill_9() {
    use robust_ticketing::demo::{BUYER_EMAIL, BUYER_PASSWORD, GATE_EMAIL, GATE_PASSWORD};
    let dir = tempfile::tempdir().unwrap();
    let db_url = format!("sqlite://{}", dir.path().join("crash.db").display());
    let port = free_port();
    let mut server = start(&db_url, port).await;
    let root = server.root.clone();
    let client = reqwest::Client::new();
    let buyer = login(&client, &root, BUYER_EMAIL, BUYER_PASSWORD).await;
    let gate = login(&client, &root, GATE_EMAIL, GATE_PASSWORD).await;

    let events: Value = client.get(format!("{root}/api/v1/events")).send().await.unwrap().json().await.unwrap();
    let event = events["items"][0]["id"].as_str().unwrap().to_owned();
    let detail: Value = client.get(format!("{root}/api/v1/events/{event}")).send().await.unwrap().json().await.unwrap();
    let map: Value = client
        .get(format!("{root}/api/v1/venues/{}/seat-map", detail["venue_id"].as_str().unwrap()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let seats: Vec<String> = map["sections"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["rows"].as_array().unwrap().iter())
        .flat_map(|r| r["seats"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().to_owned()))
        .collect();

    // One order, checked in, before anything goes wrong.
    let first = buy(&client, &root, &buyer, &event, &seats[0], "first").await.expect("first order");
    let barcode = first["tickets"][0]["barcode"].as_str().unwrap().to_owned();
    let r = client
        .post(format!("{root}/api/v1/events/{event}/checkins"))
        .bearer_auth(&gate)
        .json(&json!({"barcode": barcode}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    // Buyers keep buying while the server is killed under them.
    let stop = Arc::new(AtomicBool::new(false));
    let mut set = JoinSet::new();
    for worker in 0..8 {
        let (client, root, buyer, event, seats, stop) =
            (client.clone(), root.clone(), buyer.clone(), event.clone(), seats.clone(), stop.clone());
        set.spawn(async move {
            let mut confirmed = Vec::new();
            let mut i = 1 + worker;
            while !stop.load(Ordering::Relaxed) && i < seats.len() {
                if let Some(order) = buy(&client, &root, &buyer, &event, &seats[i], &format!("crash-{i}")).await {
                    confirmed.push(order);
                }
                i += 8;
            }
            confirmed
        });
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.child.start_kill().unwrap(); // SIGKILL: no shutdown hooks run.
    server.child.wait().await.unwrap();
    stop.store(true, Ordering::Relaxed);
    let mut confirmed: Vec<Value> = set.join_all().await.into_iter().flatten().collect();
    confirmed.push(first);
    assert!(confirmed.len() > 5, "the sale was under way when the server died ({} orders)", confirmed.len());

    let server = start(&db_url, port).await;
    let root = server.root.clone();
    // Every order the client saw as paid is there, with its tickets.
    for order in &confirmed {
        let r = client
            .get(format!("{root}/api/v1/orders/{}", order["id"].as_str().unwrap()))
            .bearer_auth(&buyer)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "order {} lost", order["id"]);
        let stored: Value = r.json().await.unwrap();
        assert_eq!(stored["status"], "paid");
        let barcodes = |o: &Value| -> Vec<Value> {
            o["tickets"].as_array().unwrap().iter().map(|t| t["barcode"].clone()).collect()
        };
        assert_eq!(barcodes(&stored), barcodes(order), "the same tickets, with the same barcodes");
    }
    // No seat is sold twice, and every sold seat belongs to a stored order.
    let all: Value =
        client.get(format!("{root}/api/v1/me/tickets")).bearer_auth(&buyer).send().await.unwrap().json().await.unwrap();
    let ticket_seats: Vec<_> =
        all["items"].as_array().unwrap().iter().map(|t| t["seat_id"].as_str().unwrap().to_owned()).collect();
    let distinct: HashSet<_> = ticket_seats.iter().collect();
    assert_eq!(distinct.len(), ticket_seats.len(), "a seat was sold twice");
    let availability: Value =
        client.get(format!("{root}/api/v1/events/{event}/availability")).send().await.unwrap().json().await.unwrap();
    let sold = availability["seats"].as_array().unwrap().iter().filter(|s| s["status"] == "sold").count();
    assert_eq!(sold, ticket_seats.len());
    assert!(sold >= confirmed.len());
    // The check-in survived: the ticket is not admitted twice.
    let gate = login(&client, &root, GATE_EMAIL, GATE_PASSWORD).await;
    let r = client
        .post(format!("{root}/api/v1/events/{event}/checkins"))
        .bearer_auth(&gate)
        .json(&json!({"barcode": barcode}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    drop(server);
}

/// Holds one seat and pays; `None` if any step failed (the server may die).
async fn buy(client: &reqwest::Client, root: &str, token: &str, event: &str, seat: &str, key: &str) -> Option<Value> {
    let r = client
        .post(format!("{root}/api/v1/events/{event}/holds"))
        .bearer_auth(token)
        .json(&json!({"seats": [seat]}))
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
