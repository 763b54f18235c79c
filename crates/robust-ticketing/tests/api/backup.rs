//! Backups taken while tickets sell restore with every order paid before.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use tokio::task::JoinSet;

use crate::helpers::TestDatabase;
use crate::node::{buy, client, free_port, login, seats_of, start_node};

async fn run(args: &[&str]) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_robust-ticketing")).args(args).output().await.unwrap();
    assert!(out.status.success(), "{args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_taken_during_sales_restores_every_order_paid_before_it() {
    use robust_ticketing::demo::{BUYER_EMAIL, BUYER_PASSWORD};
    let db = TestDatabase::new().await;
    let mut node = start_node(&db.url, free_port(), &[]).await;
    let root = node.root.clone();
    let client = client();
    let buyer = login(&client, &root, BUYER_EMAIL, BUYER_PASSWORD).await;
    let events: Value = client.get(format!("{root}/api/v1/events")).send().await.unwrap().json().await.unwrap();
    let event = events["items"][0]["id"].as_str().unwrap().to_owned();
    let seats = seats_of(&client, &root, &event).await;

    // Sales run throughout; every order records when its 201 arrived.
    let selling = Arc::new(AtomicBool::new(true));
    let sold = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut set = JoinSet::new();
    for worker in 0..4 {
        let (client, root, buyer, event, seats, selling, sold) =
            (client.clone(), root.clone(), buyer.clone(), event.clone(), seats.clone(), selling.clone(), sold.clone());
        set.spawn(async move {
            let mut confirmed = Vec::new();
            let mut i = worker;
            while selling.load(Ordering::Relaxed) && i < seats.len() {
                if let Some(order) = buy(&client, &root, &buyer, &event, &[&seats[i]], &format!("b-{i}")).await {
                    confirmed.push((tokio::time::Instant::now(), order["id"].as_str().unwrap().to_owned()));
                    sold.fetch_add(1, Ordering::Relaxed);
                }
                i += 4;
            }
            confirmed
        });
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    let backup_dir = tempfile::tempdir().unwrap();
    let file = backup_dir.path().join("backup.db");
    let started = tokio::time::Instant::now();
    let sold_before = sold.load(Ordering::Relaxed);
    run(&["backup", "--database-url", &db.url, "--to", file.to_str().unwrap()]).await;
    // Sales go on after the backup began (a busy test machine may need a
    // moment for the next order to complete).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while sold.load(Ordering::Relaxed) <= sold_before + 1 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    selling.store(false, Ordering::Relaxed);
    let confirmed: Vec<(tokio::time::Instant, String)> = set.join_all().await.into_iter().flatten().collect();
    node.kill_9().await;
    let before: Vec<&String> = confirmed.iter().filter(|(at, _)| *at < started).map(|(_, id)| id).collect();
    assert!(before.len() >= 5, "sales were under way when the backup began ({} orders)", before.len());
    assert!(confirmed.len() > before.len(), "sales went on during the backup");

    // Restore into a new, empty database and serve from it.
    let restored = if db.url.starts_with("sqlite") {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("restored.db").display());
        (url, Some(dir), None)
    } else {
        let fresh = TestDatabase::postgres().await;
        (fresh.url.clone(), None, Some(fresh))
    };
    run(&["restore", "--database-url", &restored.0, "--from", file.to_str().unwrap()]).await;
    let node = start_node(&restored.0, free_port(), &["--no-demo"]).await;
    for order in &before {
        let r = client.get(format!("{}/api/v1/orders/{order}", node.root)).bearer_auth(&buyer).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "order {order}, paid before the backup, is missing after restore");
        let stored: Value = r.json().await.unwrap();
        assert_eq!(stored["status"], "paid");
        assert_eq!(stored["tickets"].as_array().unwrap().len(), 1);
    }
    let availability: Value = client
        .get(format!("{}/api/v1/events/{event}/availability", node.root))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let sold = availability["seats"].as_array().unwrap().iter().filter(|s| s["status"] == "sold").count();
    let tickets: Value = client
        .get(format!("{}/api/v1/me/tickets", node.root))
        .bearer_auth(&buyer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(sold, tickets["items"].as_array().unwrap().len(), "seats and tickets agree in the backup");
    assert!(sold >= before.len());
}
