//! Durability: the real server binary is killed with SIGKILL mid-sale and
//! restarted on the same database; nothing it confirmed is lost.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::node::{buy, client, free_port, login, seats_of, start_node};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn orders_tickets_and_checkins_survive_kill_9() {
    use robust_ticketing::demo::{BUYER_EMAIL, BUYER_PASSWORD, GATE_EMAIL, GATE_PASSWORD};
    let db = crate::helpers::TestDatabase::new().await;
    let db_url = db.url.clone();
    let port = free_port();
    let mut server = start_node(&db_url, port, &[]).await;
    let root = server.root.clone();
    let client = client();
    let buyer = login(&client, &root, BUYER_EMAIL, BUYER_PASSWORD).await;
    let gate = login(&client, &root, GATE_EMAIL, GATE_PASSWORD).await;

    let events: Value = client.get(format!("{root}/api/v1/events")).send().await.unwrap().json().await.unwrap();
    let event = events["items"][0]["id"].as_str().unwrap().to_owned();
    let seats = seats_of(&client, &root, &event).await;

    // One order, checked in, before anything goes wrong.
    let first = buy(&client, &root, &buyer, &event, &[&seats[0]], "first").await.expect("first order");
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
                if let Some(order) = buy(&client, &root, &buyer, &event, &[&seats[i]], &format!("crash-{i}")).await {
                    confirmed.push(order);
                }
                i += 8;
            }
            confirmed
        });
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.kill_9().await;
    stop.store(true, Ordering::Relaxed);
    let mut confirmed: Vec<Value> = set.join_all().await.into_iter().flatten().collect();
    confirmed.push(first);
    assert!(confirmed.len() > 5, "the sale was under way when the server died ({} orders)", confirmed.len());

    let server = start_node(&db_url, port, &[]).await;
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
