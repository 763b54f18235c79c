//! Checkout: idempotency, declines, tickets and their QR codes.

use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::Value;
use tokio::task::JoinSet;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_idempotency_key_replayed_twenty_times_concurrently_makes_one_order() {
    let app = spawn_app().await;
    let f = app.fixture(1, 4, 10).await;
    let buyer = app.signup("buyer@example.org").await;
    let r = app.hold(&buyer.token, &f.event_id, &[&f.seats[0], &f.seats[1]], &[(&f.ga_area, 2)]).await;
    let hold: Value = r.json().await.unwrap();
    let hold_id = hold["id"].as_str().unwrap().to_owned();

    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(20));
    let mut set = JoinSet::new();
    for _ in 0..20 {
        let (client, url, token, hold_id, barrier) =
            (app.client.clone(), app.url("/api/v1/orders"), buyer.token.clone(), hold_id.clone(), barrier.clone());
        set.spawn(async move {
            barrier.wait().await;
            let r = client
                .post(url)
                .bearer_auth(token)
                .header("Idempotency-Key", "checkout-once")
                .json(&serde_json::json!({"hold_id": hold_id, "payment": {"gateway": "test", "token": "tok_ok"}}))
                .send()
                .await
                .unwrap();
            let replayed = r.headers().contains_key("idempotent-replayed");
            (r.status(), replayed, r.json::<Value>().await.unwrap())
        });
    }
    let results = set.join_all().await;
    let mut order_ids = HashSet::new();
    let mut ticket_sets = HashSet::new();
    for (status, _, body) in &results {
        assert_eq!(*status, StatusCode::CREATED, "every replay returns the first result: {body}");
        order_ids.insert(body["id"].as_str().unwrap().to_owned());
        let mut tickets: Vec<_> = body["tickets"].as_array().unwrap().iter().map(|t| t["id"].to_string()).collect();
        tickets.sort();
        ticket_sets.insert(tickets);
    }
    assert_eq!(order_ids.len(), 1, "one order");
    assert_eq!(ticket_sets.len(), 1, "the same tickets every time");
    assert_eq!(results.iter().filter(|(_, replayed, _)| !replayed).count(), 1, "exactly one original response");
    assert_eq!(app.gateway.charges().len(), 1, "charged once");
    assert_eq!(app.gateway.net_charged_minor(), 2 * SEAT_PRICE + 2 * GA_PRICE);

    let mine: Value = app.get("/api/v1/me/orders", Some(&buyer.token)).await.json().await.unwrap();
    assert_eq!(mine["items"].as_array().unwrap().len(), 1);
    let tickets: Value = app.get("/api/v1/me/tickets", Some(&buyer.token)).await.json().await.unwrap();
    assert_eq!(tickets["items"].as_array().unwrap().len(), 4, "two seats and two standing places");

    // A new key for the same hold cannot buy it again.
    let r = app.order(&buyer.token, &hold_id, "another-key", "tok_ok").await;
    let problem = assert_problem(r, StatusCode::CONFLICT).await;
    assert_eq!(problem["order_id"], serde_json::json!(order_ids.iter().next().unwrap()));
    assert_eq!(app.gateway.charges().len(), 1);
}

#[tokio::test]
async fn one_key_raced_with_two_different_requests_buys_one_hold_and_refuses_the_other_body() {
    let app = spawn_app().await;
    let f = app.fixture(1, 4, 10).await;
    let buyer = app.signup("buyer@example.org").await;
    let mut holds = Vec::new();
    for seat in &f.seats[..2] {
        let h: Value = app.hold(&buyer.token, &f.event_id, &[seat], &[]).await.json().await.unwrap();
        holds.push(h["id"].as_str().unwrap().to_owned());
    }
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(12));
    let mut set = JoinSet::new();
    for i in 0..12 {
        let (client, url, token, hold, barrier) =
            (app.client.clone(), app.url("/api/v1/orders"), buyer.token.clone(), holds[i % 2].clone(), barrier.clone());
        set.spawn(async move {
            barrier.wait().await;
            let r = client
                .post(url)
                .bearer_auth(token)
                .header("Idempotency-Key", "raced-key")
                .json(&serde_json::json!({"hold_id": hold, "payment": {"gateway": "test", "token": "tok_ok"}}))
                .send()
                .await
                .unwrap();
            (hold, r.status(), r.json::<Value>().await.unwrap())
        });
    }
    let results = set.join_all().await;
    let winners: HashSet<_> = results
        .iter()
        .filter(|(_, s, _)| *s == StatusCode::CREATED)
        .map(|(h, _, b)| (h.clone(), b["id"].clone()))
        .collect();
    assert_eq!(winners.len(), 1, "one hold, one order: {results:?}");
    let (won, _) = winners.iter().next().unwrap();
    for (hold, status, body) in &results {
        let expected = if hold == won { StatusCode::CREATED } else { StatusCode::UNPROCESSABLE_ENTITY };
        assert_eq!(*status, expected, "{body}");
    }
    assert_eq!(app.gateway.charges().len(), 1, "charged once");
}

#[tokio::test]
async fn the_order_a_checkout_answers_with_is_the_order_read_back_later() {
    let app = spawn_app().await;
    let f = app.fixture(1, 4, 10).await;
    let buyer = app.signup("buyer@example.org").await;
    let placed = app.buy(&buyer.token, &f.event_id, &[&f.seats[0], &f.seats[2]], &[(&f.ga_area, 2)]).await;
    assert_eq!(placed["tickets"].as_array().unwrap().len(), 4, "{placed}");
    let r = app.get(&format!("/api/v1/orders/{}", placed["id"].as_str().unwrap()), Some(&buyer.token)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let read: Value = r.json().await.unwrap();
    assert_eq!(placed, read);
}

#[tokio::test]
async fn a_key_reused_with_a_different_request_is_refused() {
    let app = spawn_app().await;
    let f = app.fixture(1, 4, 10).await;
    let buyer = app.signup("buyer@example.org").await;
    let h1: Value = app.hold(&buyer.token, &f.event_id, &[&f.seats[0]], &[]).await.json().await.unwrap();
    let h2: Value = app.hold(&buyer.token, &f.event_id, &[&f.seats[1]], &[]).await.json().await.unwrap();
    let r = app.order(&buyer.token, h1["id"].as_str().unwrap(), "same-key", "tok_ok").await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = app.order(&buyer.token, h2["id"].as_str().unwrap(), "same-key", "tok_ok").await;
    assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(app.gateway.charges().len(), 1);
}

#[tokio::test]
async fn a_declined_payment_is_402_issues_nothing_and_the_hold_stays_payable() {
    let app = spawn_app().await;
    let f = app.fixture(1, 4, 10).await;
    let buyer = app.signup("buyer@example.org").await;
    let hold: Value = app.hold(&buyer.token, &f.event_id, &[&f.seats[0]], &[]).await.json().await.unwrap();
    let hold_id = hold["id"].as_str().unwrap();

    let r = app.order(&buyer.token, hold_id, "attempt-1", "tok_declined").await;
    assert_problem(r, StatusCode::PAYMENT_REQUIRED).await;
    // The same key replays the decline rather than trying again.
    let r = app.order(&buyer.token, hold_id, "attempt-1", "tok_declined").await;
    assert_problem(r, StatusCode::PAYMENT_REQUIRED).await;
    let tickets: Value = app.get("/api/v1/me/tickets", Some(&buyer.token)).await.json().await.unwrap();
    assert!(tickets["items"].as_array().unwrap().is_empty());
    assert_eq!(count_status(&app.availability(&f.event_id).await, "held"), 1);

    // A new attempt with another card works.
    let r = app.order(&buyer.token, hold_id, "attempt-2", "tok_ok").await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(count_status(&app.availability(&f.event_id).await, "sold"), 1);
}

#[tokio::test]
async fn a_gateway_outage_is_503_and_the_same_key_can_be_retried() {
    let app = spawn_app().await;
    let f = app.fixture(1, 4, 10).await;
    let buyer = app.signup("buyer@example.org").await;
    let hold: Value = app.hold(&buyer.token, &f.event_id, &[&f.seats[0]], &[]).await.json().await.unwrap();
    let hold_id = hold["id"].as_str().unwrap();
    let r = app.order(&buyer.token, hold_id, "retry-me", "tok_unavailable").await;
    assert_problem(r, StatusCode::SERVICE_UNAVAILABLE).await;
    assert!(app.gateway.charges().is_empty());
    // A transient failure is not remembered: a retry with the same key (and
    // the same body) runs again. A different token is a different request.
    let r = app.order(&buyer.token, hold_id, "retry-me", "tok_unavailable").await;
    assert_problem(r, StatusCode::SERVICE_UNAVAILABLE).await;
}

#[tokio::test]
async fn tickets_carry_signed_barcodes_and_qr_codes_that_encode_them() {
    let app = spawn_app().await;
    let f = app.fixture(1, 4, 10).await;
    let buyer = app.signup("buyer@example.org").await;
    let order = app.buy(&buyer.token, &f.event_id, &[&f.seats[0]], &[(&f.ga_area, 1)]).await;
    let tickets = order["tickets"].as_array().unwrap();
    assert_eq!(tickets.len(), 2);
    let seated = tickets.iter().find(|t| t["seat_id"].is_string()).unwrap();
    assert_eq!(seated["seat_id"], f.seats[0].as_str());
    assert_eq!(seated["seat"]["row"], "R0");
    assert_eq!(seated["price"]["amount"], SEAT_PRICE);
    let id = seated["id"].as_str().unwrap();
    let barcode = seated["barcode"].as_str().unwrap();
    assert!(barcode.starts_with("RT1."));

    let r = app.get(&format!("/api/v1/tickets/{id}"), Some(&buyer.token)).await;
    let ticket: Value = r.json().await.unwrap();
    assert_eq!(ticket["barcode"], barcode);

    let r = app.get(&format!("/api/v1/tickets/{id}/qr.svg"), Some(&buyer.token)).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "image/svg+xml");
    assert!(r.text().await.unwrap().contains("<svg"));

    let r = app.get(&format!("/api/v1/tickets/{id}/qr.png"), Some(&buyer.token)).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "image/png");
    let png = r.bytes().await.unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    // The QR encodes exactly the barcode: render it ourselves and compare.
    assert_eq!(png.as_ref(), web::qr::png(barcode).unwrap().as_slice());
}

/// Free tickets (price 0, no fee) are ordered without any payment: no
/// gateway is asked and no attempt recorded, yet the order keeps every
/// promise a paid one does: its Idempotency-Key replays it, its hold
/// becomes one order only, its tickets admit once, and a cancellation
/// revokes them.
#[tokio::test]
async fn free_tickets_are_ordered_without_a_payment() {
    let app = spawn_app().await;
    let f = app.fixture(1, 5, 50).await;
    let owner = &f.org.owner.token;
    app.set_price(owner, &f.event_id, &f.ga_type, 0).await;
    let ada = app.signup("ada@example.org").await;
    let hold: Value = app.hold(&ada.token, &f.event_id, &[], &[(&f.ga_area, 2)]).await.json().await.unwrap();
    assert_eq!(hold["total"]["amount"], 0, "{hold}");
    let hold_id = hold["id"].as_str().unwrap();

    let r = app.order(&ada.token, hold_id, "free-1", "tok_ok").await;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
    let order: Value = r.json().await.unwrap();
    assert_eq!(order["total"]["amount"], 0);
    assert_eq!(order["tickets"].as_array().unwrap().len(), 2);
    assert!(app.gateway.charges().is_empty(), "nothing was charged");
    let attempts: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM payment_attempts").fetch_one(app.database().await).await.unwrap();
    assert_eq!(attempts, 0);

    // The key replays the order; another key finds the hold ordered.
    let r = app.order(&ada.token, hold_id, "free-1", "tok_ok").await;
    assert!(r.status().is_success(), "{}", r.status());
    assert_eq!(r.json::<Value>().await.unwrap()["id"], order["id"]);
    let r = app.order(&ada.token, hold_id, "free-2", "tok_ok").await;
    assert_problem(r, StatusCode::CONFLICT).await;
    // The same key with another hold is a different request.
    let other: Value = app.hold(&ada.token, &f.event_id, &[], &[(&f.ga_area, 1)]).await.json().await.unwrap();
    let r = app.order(&ada.token, other["id"].as_str().unwrap(), "free-1", "tok_ok").await;
    assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;

    // On the web a free type reads "Free", and the checkout asks for no card.
    let event_page = app.page(&format!("/events/{}", f.event_id), &ada.token).await;
    assert!(event_page.contains("Free (") && event_page.contains("Free</"), "{event_page}");
    // The event's card says that some are free and what the others cost.
    let home = app.page("/", &ada.token).await;
    let paid =
        format!("<strong>Free</strong> or from <strong>EUR {}.{:02}</strong>", SEAT_PRICE / 100, SEAT_PRICE % 100);
    assert!(home.contains(&paid), "{home}");
    let page = app.page(&format!("/checkout/{}", other["id"].as_str().unwrap()), &ada.token).await;
    assert!(page.contains("Get my tickets") && !page.contains("Test card"), "{page}");
    let csrf = "c".repeat(64);
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(app.url(&format!("/checkout/{}/pay", other["id"].as_str().unwrap())))
        .header("cookie", format!("rt_session={}; rt_csrf={csrf}", ada.token))
        .form(&[("csrf", csrf.as_str()), ("idempotency_key", "free-web-1")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(r.headers()["location"].to_str().unwrap().starts_with("/orders/"));

    // The buyer's order page confirms it (nothing was refunded) and offers
    // no sale of a ticket that has no price.
    let page = app.page(&format!("/orders/{}", order["id"].as_str().unwrap()), &ada.token).await;
    assert!(page.contains("is confirmed: the tickets are free") && !page.contains("Refunded"), "{page}");
    assert!(!page.contains("Sell this ticket"), "{page}");
    // My tickets leads to it.
    let tickets = app.page("/tickets", &ada.token).await;
    assert!(tickets.contains(&format!("href=\"/orders/{}\"", order["id"].as_str().unwrap())), "{tickets}");

    // The tickets admit once.
    let barcode = order["tickets"][0]["barcode"].as_str().unwrap();
    assert_eq!(app.checkin(owner, &f.event_id, barcode).await.status(), StatusCode::OK);
    assert_eq!(app.checkin(owner, &f.event_id, barcode).await.status(), StatusCode::CONFLICT);

    // A cancelled event revokes them; there is no money to return.
    let r = app.post(&format!("/api/v1/events/{}/cancel", f.event_id), Some(owner), &serde_json::json!({})).await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    // The cancellation's job revokes them.
    let revoked = async || {
        let r = app.get(&format!("/api/v1/orders/{}", order["id"].as_str().unwrap()), Some(&ada.token)).await;
        let after: Value = r.json().await.unwrap();
        after["tickets"].as_array().unwrap().iter().all(|t| t["status"] != "valid")
    };
    let mut tries = 0;
    while !revoked().await {
        tries += 1;
        assert!(tries < 100, "the free tickets were not revoked");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(app.gateway.charges().is_empty());
}

/// Checkouts of one hold racing with different keys: one pays, and every
/// other is told that the hold was ordered, with the order, not that it
/// expired: it is only milliseconds old.
#[tokio::test]
async fn checkouts_racing_for_one_hold_are_told_it_was_ordered() {
    let app = spawn_app().await;
    let f = app.fixture(1, 5, 10).await;
    let ada = app.signup("ada@example.org").await;
    let hold: Value = app.hold(&ada.token, &f.event_id, &[&f.seats[0]], &[]).await.json().await.unwrap();
    let hold_id = hold["id"].as_str().unwrap().to_owned();
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(12));
    let mut set = tokio::task::JoinSet::new();
    for i in 0..12 {
        let (client, url, token, hold_id, barrier) =
            (app.client.clone(), app.url("/api/v1/orders"), ada.token.clone(), hold_id.clone(), barrier.clone());
        set.spawn(async move {
            barrier.wait().await;
            let r = client
                .post(url)
                .bearer_auth(token)
                .header("Idempotency-Key", format!("race-{i}"))
                .json(&serde_json::json!({"hold_id": hold_id, "payment": {"gateway": "test", "token": "tok_ok"}}))
                .send()
                .await
                .unwrap();
            (r.status(), r.json::<Value>().await.unwrap())
        });
    }
    let results = set.join_all().await;
    let paid: Vec<_> = results.iter().filter(|(s, _)| *s == StatusCode::CREATED).collect();
    assert_eq!(paid.len(), 1, "{results:?}");
    for (status, body) in results.iter().filter(|(s, _)| *s != StatusCode::CREATED) {
        assert_eq!(*status, StatusCode::CONFLICT, "{body}");
        assert!(body["type"].as_str().unwrap().ends_with("hold-ordered"), "{body}");
        assert_eq!(body["order_id"], paid[0].1["id"], "{body}");
    }
    // Only the order's money is kept. (On PostgreSQL racing checkouts may
    // each record an attempt and charge before one wins; every other charge
    // is given back before its answer.)
    assert_eq!(app.gateway.net_charged_minor(), paid[0].1["total"]["amount"].as_i64().unwrap());
}
