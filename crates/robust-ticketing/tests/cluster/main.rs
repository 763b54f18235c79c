//! Several `serve` processes on one PostgreSQL database: the arbitration of
//! seats, live updates across nodes, jobs surviving a killed node, and how
//! late one node sees a change made on another (the read cache).
//! PostgreSQL is required (`TEST_POSTGRES_URL`, default the local server).

#[allow(dead_code)]
#[path = "../api/helpers.rs"]
mod helpers;
#[allow(dead_code)]
#[path = "../api/node.rs"]
mod node;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::task::JoinSet;

use helpers::TestDatabase;
use node::{Node, client, free_port, signup, start_node};

/// An organizer's published event with `rows` × `per_row` seats, made via `node`.
async fn event_on(client: &reqwest::Client, node: &Node, rows: usize, per_row: u32) -> (String, String, Vec<String>) {
    let root = &node.root;
    let owner = signup(client, root, &format!("owner-{}@example.org", uuid::Uuid::new_v4())).await;
    let org: Value = client
        .post(format!("{root}/api/v1/organizations"))
        .bearer_auth(&owner)
        .json(&json!({"name": "Cluster Org"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let org = org["id"].as_str().unwrap().to_owned();
    let rows: Vec<Value> = (0..rows).map(|i| json!({"label": format!("R{i}"), "seats": per_row})).collect();
    let venue: Value = client
        .post(format!("{root}/api/v1/organizations/{org}/venues"))
        .bearer_auth(&owner)
        .json(&json!({"name": "Arena", "timezone": "Europe/Paris",
                      "seat_map": {"sections": [{"name": "Main", "price_zone": "main", "rows": rows}]}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let starts = chrono::Utc::now() + chrono::Duration::days(10);
    let event: Value = client
        .post(format!("{root}/api/v1/organizations/{org}/events"))
        .bearer_auth(&owner)
        .json(&json!({"venue_id": venue["id"], "title": "Big On-Sale", "category": "concert",
                      "starts_at": starts, "ends_at": starts + chrono::Duration::hours(3),
                      "ticket_types": [{"name": "Seat", "price": {"amount": 5000, "currency": "EUR"}, "price_zone": "main"}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let event = event["id"].as_str().unwrap().to_owned();
    let r = client.post(format!("{root}/api/v1/events/{event}/publish")).bearer_auth(&owner).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let seats = node::seats_of(client, root, &event).await;
    (owner, event, seats)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_nodes_sell_two_hundred_seats_to_a_thousand_buyers_exactly_once() {
    const BUYERS: usize = 1_000;
    const SEATS: usize = 200;
    let db = TestDatabase::postgres().await;
    let mut nodes = Vec::new();
    for _ in 0..3 {
        nodes.push(start_node(&db.url, free_port(), &["--no-demo", "--postgres-connections-max", "8"]).await);
    }
    let client = client();
    let (_, event, seats) = event_on(&client, &nodes[0], 10, 20).await;
    assert_eq!(seats.len(), SEATS);
    let roots: Vec<String> = nodes.iter().map(|n| n.root.clone()).collect();

    // Accounts, made across all three nodes.
    let mut set = JoinSet::new();
    let gate = Arc::new(tokio::sync::Semaphore::new(64));
    for i in 0..BUYERS {
        let (client, root, gate) = (client.clone(), roots[i % 3].clone(), gate.clone());
        set.spawn(async move {
            let _permit = gate.acquire().await.unwrap();
            (i, signup(&client, &root, &format!("buyer{i}-{}@example.org", uuid::Uuid::new_v4())).await)
        });
    }
    let mut tokens = set.join_all().await;
    tokens.sort();

    // Everyone at once, five buyers per seat, spread over the nodes.
    let barrier = Arc::new(tokio::sync::Barrier::new(BUYERS));
    let mut set = JoinSet::new();
    for (i, token) in tokens {
        let (client, root, barrier, event, seat) =
            (client.clone(), roots[i % 3].clone(), barrier.clone(), event.clone(), seats[i % SEATS].clone());
        set.spawn(async move {
            barrier.wait().await;
            let r = client
                .post(format!("{root}/api/v1/events/{event}/holds"))
                .bearer_auth(&token)
                .json(&json!({"seats": [seat]}))
                .send()
                .await
                .unwrap();
            let status = r.status();
            let body: Value = r.json().await.unwrap();
            if status != StatusCode::CREATED {
                return (status, None);
            }
            let r = client
                .post(format!("{root}/api/v1/orders"))
                .bearer_auth(&token)
                .header("Idempotency-Key", format!("cluster-{i}"))
                .json(&json!({"hold_id": body["id"], "payment": {"gateway": "test", "token": "tok_ok"}}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::CREATED);
            let order: Value = r.json().await.unwrap();
            (StatusCode::CREATED, Some(order["tickets"][0]["seat_id"].as_str().unwrap().to_owned()))
        });
    }
    let results = set.join_all().await;
    let sold: Vec<String> = results.iter().filter_map(|(_, s)| s.clone()).collect();
    let distinct: HashSet<&String> = sold.iter().collect();
    assert_eq!(sold.len(), SEATS, "exactly the capacity is sold");
    assert_eq!(distinct.len(), SEATS, "no seat is sold twice");
    for (status, _) in results.iter().filter(|(_, s)| s.is_none()) {
        assert_eq!(*status, StatusCode::CONFLICT, "every loser gets 409");
    }
    // Every node agrees.
    for root in &roots {
        let a: Value = client
            .get(format!("{root}/api/v1/events/{event}/availability"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let n = a["seats"].as_array().unwrap().iter().filter(|s| s["status"] == "sold").count();
        assert_eq!(n, SEATS, "{root}");
    }
}

/// Reads server-sent events from `response` until `found` accepts one;
/// `buffer` keeps what was read past it for the next call.
async fn wait_for_event(response: &mut reqwest::Response, buffer: &mut String, found: impl Fn(&str, &Value) -> bool) {
    loop {
        let chunk = response.chunk().await.unwrap().expect("the stream stays open");
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let message: String = buffer.drain(..end + 2).collect();
            let name = message.lines().find_map(|l| l.strip_prefix("event: ")).unwrap_or("message").to_owned();
            let data = message.lines().find_map(|l| l.strip_prefix("data: ")).unwrap_or("{}");
            if found(&name, &serde_json::from_str(data).unwrap_or(Value::Null)) {
                return;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_seat_sold_on_one_node_shows_as_sold_on_another_nodes_stream_within_a_second() {
    let db = TestDatabase::postgres().await;
    let a = start_node(&db.url, free_port(), &["--no-demo"]).await;
    let _b = start_node(&db.url, free_port(), &["--no-demo"]).await;
    let c = start_node(&db.url, free_port(), &["--no-demo"]).await;
    let client = client();
    let (owner, event, seats) = event_on(&client, &a, 2, 5).await;
    let buyer = signup(&client, &a.root, "stream-buyer@example.org").await;

    let stream = client.get(format!("{}/api/v1/events/{event}/live", c.root)).send().await.unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    assert_eq!(stream.headers()["content-type"], "text/event-stream");
    // Wait until the stream is live before selling.
    let mut stream = stream;
    let first = stream.chunk().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).contains("event: ready"));

    let seat = seats[3].clone();
    let sold_at = tokio::time::Instant::now();
    let order = node::buy(&client, &a.root, &buyer, &event, &[&seat], "stream-order").await.expect("bought on node A");
    assert_eq!(order["tickets"][0]["seat_id"], seat.as_str());
    let mut buffer = String::new();
    let watched = wait_for_event(&mut stream, &mut buffer, |name, data| {
        name == "availability"
            && data["seats"]
                .as_array()
                .is_some_and(|s| s.iter().any(|s| s["id"] == seat.as_str() && s["status"] == "sold"))
    });
    tokio::time::timeout(Duration::from_secs(1), watched).await.expect("node C's stream showed the sale within 1 s");
    assert!(sold_at.elapsed() < Duration::from_secs(3));

    // A check-in on node A reaches node C's watchers too.
    let r = client
        .post(format!("{}/api/v1/events/{event}/checkins", a.root))
        .bearer_auth(&owner)
        .json(&json!({"barcode": order["tickets"][0]["barcode"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let watched = wait_for_event(&mut stream, &mut buffer, |name, data| name == "checkins" && data["checked_in"] == 1);
    tokio::time::timeout(Duration::from_secs(1), watched)
        .await
        .expect("node C's stream showed the check-in within 1 s");
}

/// Changes published at once on one node reach watchers on another, every
/// one of them: notifications that arrive together are sent together.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_seats_sold_at_once_on_one_node_all_show_as_sold_on_another_nodes_stream() {
    let db = TestDatabase::postgres().await;
    let a = start_node(&db.url, free_port(), &["--no-demo"]).await;
    let b = start_node(&db.url, free_port(), &["--no-demo"]).await;
    let client = client();
    let (_owner, event, seats) = event_on(&client, &a, 2, 5).await;
    let mut stream = client.get(format!("{}/api/v1/events/{event}/live", b.root)).send().await.unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    let first = stream.chunk().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).contains("event: ready"));

    let mut buyers = JoinSet::new();
    for (i, seat) in seats.iter().enumerate() {
        let (client, root, event, seat) = (client.clone(), a.root.clone(), event.clone(), seat.clone());
        buyers.spawn(async move {
            let buyer = signup(&client, &root, &format!("burst-{i}@example.org")).await;
            node::buy(&client, &root, &buyer, &event, &[&seat], &format!("burst-{i}")).await.expect("bought");
        });
    }
    while let Some(done) = buyers.join_next().await {
        done.unwrap();
    }
    let unseen: Arc<Mutex<HashSet<String>>> = Arc::new(Mutex::new(seats.iter().cloned().collect()));
    let mut buffer = String::new();
    let watched = wait_for_event(&mut stream, &mut buffer, |name, data| {
        let mut unseen = unseen.lock().unwrap();
        if name == "availability" {
            for s in data["seats"].as_array().into_iter().flatten().filter(|s| s["status"] == "sold") {
                unseen.remove(s["id"].as_str().unwrap_or_default());
            }
        }
        unseen.is_empty()
    });
    tokio::time::timeout(Duration::from_secs(5), watched).await.expect("every sale reached node B's stream");
}

/// A webhook receiver that stalls on its first delivery (so the sender can
/// be killed mid-job) and applies each webhook-id once.
#[derive(Default)]
struct Receiver {
    deliveries: Mutex<Vec<String>>,
    applied: Mutex<HashSet<String>>,
    stalled_once: Mutex<bool>,
}

async fn receive(
    axum::extract::State(r): axum::extract::State<Arc<Receiver>>,
    headers: axum::http::HeaderMap,
    body: String,
) -> StatusCode {
    let id = headers.get("webhook-id").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    assert!(headers.get("webhook-signature").is_some_and(|s| s.to_str().unwrap().starts_with("v1,")));
    let payload: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(payload["type"], "order.paid");
    r.deliveries.lock().unwrap().push(id.clone());
    let stall = {
        let mut stalled = r.stalled_once.lock().unwrap();
        !std::mem::replace(&mut *stalled, true)
    };
    if stall {
        // Never answer: the test kills the sending node meanwhile.
        tokio::time::sleep(Duration::from_secs(120)).await;
    }
    r.applied.lock().unwrap().insert(id);
    StatusCode::NO_CONTENT
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_job_claimed_by_a_killed_process_is_completed_by_another_exactly_once() {
    let receiver = Arc::new(Receiver::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook_url = format!("http://{}/hooks", listener.local_addr().unwrap());
    let app = axum::Router::new().route("/hooks", axum::routing::post(receive)).with_state(receiver.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let db = TestDatabase::postgres().await;
    // The receiver listens on loopback, which webhooks reach only when allowed.
    let lease = ["--no-demo", "--job-lease-secs", "2", "--allow-private-outbound"];
    let mut a = start_node(&db.url, free_port(), &lease).await;
    let client = client();
    let (owner, event, seats) = event_on(&client, &a, 1, 5).await;
    let org: Value =
        client.get(format!("{}/api/v1/me", a.root)).bearer_auth(&owner).send().await.unwrap().json().await.unwrap();
    let org = org["memberships"][0]["organization_id"].as_str().unwrap().to_owned();
    let r = client
        .post(format!("{}/api/v1/organizations/{org}/webhooks", a.root))
        .bearer_auth(&owner)
        .json(&json!({"url": hook_url, "event_types": ["order.paid"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);

    let buyer = signup(&client, &a.root, "hook-buyer@example.org").await;
    node::buy(&client, &a.root, &buyer, &event, &[&seats[0]], "hook-order").await.expect("order on node A");
    // Node A's worker claims the delivery job and is stuck in the call.
    for _ in 0..100 {
        if !receiver.deliveries.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(receiver.deliveries.lock().unwrap().len(), 1, "node A took the job");
    a.kill_9().await;

    // Node B takes the job over once A's lease has lapsed.
    let _b = start_node(&db.url, free_port(), &lease).await;
    for _ in 0..200 {
        if !receiver.applied.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let deliveries = receiver.deliveries.lock().unwrap().clone();
    let applied = receiver.applied.lock().unwrap().clone();
    assert_eq!(applied.len(), 1, "the effect happened once");
    assert_eq!(deliveries.len(), 2, "delivered again after the crash: {deliveries:?}");
    assert_eq!(deliveries[0], deliveries[1], "with the same webhook-id, so the receiver can deduplicate");

    // The job is recorded done, and nothing failed.
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_robust-ticketing"))
        .args(["jobs", "--database-url", &db.url, "--status", "all"])
        .output()
        .await
        .unwrap();
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    let lines: Vec<&str> = listing.lines().filter(|l| l.contains("webhook.deliver")).collect();
    assert_eq!(lines.len(), 1, "{listing}");
    assert!(lines[0].contains(" done ") && lines[0].contains("attempts 2/"), "{listing}");
}

/// Polls `probe` until it is true or `within` has passed.
async fn eventually(within: Duration, mut probe: impl AsyncFnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    while tokio::time::Instant::now() < deadline {
        if probe().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_out_and_a_cancellation_on_one_node_hold_on_another_within_the_read_caches_lifetime() {
    let db = TestDatabase::postgres().await;
    let a = start_node(&db.url, free_port(), &["--no-demo"]).await;
    let b = start_node(&db.url, free_port(), &["--no-demo"]).await;
    let client = client();
    let (owner, event, seats) = event_on(&client, &a, 2, 60).await;
    let buyer = signup(&client, &a.root, "cached-buyer@example.org").await;
    // Node B reads (and caches) the session and the event.
    let me = client.get(format!("{}/api/v1/me", b.root)).bearer_auth(&buyer).send().await.unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    let hold = |seat: String| {
        let (client, root, buyer, event) = (client.clone(), b.root.clone(), buyer.clone(), event.clone());
        async move {
            client
                .post(format!("{root}/api/v1/events/{event}/holds"))
                .bearer_auth(&buyer)
                .json(&json!({"seats": [seat]}))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(hold(seats[0].clone()).await, StatusCode::CREATED);
    // Bound on how late another node may see a change: the cache's
    // lifetime, plus room for a slow machine.
    let within = store::READ_CACHE_TTL + Duration::from_secs(3);

    let r = client.post(format!("{}/api/v1/events/{event}/cancel", a.root)).bearer_auth(&owner).json(&json!({})).send();
    assert_eq!(r.await.unwrap().status(), StatusCode::OK);
    // Each try asks for a seat nobody holds: only the cancellation can refuse it.
    let mut free = seats[1..].iter().cloned();
    let refused = eventually(within, async || match free.next() {
        Some(seat) => hold(seat).await.is_client_error(),
        None => false,
    });
    assert!(refused.await, "node B kept selling a cancelled event");

    let r = client.post(format!("{}/api/v1/auth/logout", a.root)).bearer_auth(&buyer).send().await.unwrap();
    assert!(r.status().is_success());
    let signed_out = eventually(within, async || {
        let r = client.get(format!("{}/api/v1/me", b.root)).bearer_auth(&buyer).send().await.unwrap();
        r.status() == StatusCode::UNAUTHORIZED
    });
    assert!(signed_out.await, "node B still accepted a signed-out token");
}
