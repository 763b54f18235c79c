//! Refunds by organizers, and event cancellation refunding everyone.

use std::time::Duration;

use domain::Clock;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Account, Fixture, SEAT_PRICE, TestApp, assert_problem, spawn_app_with};
use crate::mail::{SmtpServer, notifications};

async fn order_of(app: &TestApp, token: &str, order: &str) -> Value {
    let r = app.get(&format!("/api/v1/orders/{order}"), Some(token)).await;
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

/// Waits for the background refund jobs to settle every refund of `order`.
async fn settled(app: &TestApp, token: &str, order: &str) -> Value {
    for _ in 0..100 {
        let o = order_of(app, token, order).await;
        let refunds = o["refunds"].as_array().unwrap();
        if !refunds.is_empty() && refunds.iter().all(|r| r["status"] == "refunded") {
            return o;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("refunds of {order} did not settle: {}", order_of(app, token, order).await);
}

#[tokio::test]
async fn an_organizer_refunds_one_ticket_which_is_revoked_and_its_seat_sold_again() {
    let smtp = SmtpServer::start().await;
    let url = smtp.url();
    let app = spawn_app_with(|c| c.mail.smtp_url = Some(url)).await;
    let f = app.fixture(1, 4, 1).await;
    let ada = app.signup("ada@example.org").await;
    let order = app.buy(&ada.token, &f.event_id, &[&f.seats[0], &f.seats[1]], &[]).await;
    let order_id = order["id"].as_str().unwrap();
    let refunded = &order["tickets"][0];
    let path = format!("/api/v1/orders/{order_id}/refunds");

    // Only the organizer's managers may refund; the buyer and the gate staff
    // see 403, strangers 404.
    assert_problem(app.post(&path, Some(&ada.token), &json!({})).await, StatusCode::FORBIDDEN).await;
    let stranger = app.signup("stranger@example.org").await;
    assert_problem(app.post(&path, Some(&stranger.token), &json!({})).await, StatusCode::NOT_FOUND).await;
    let gate = app.member(&f.org, "gate@example.org", "gate").await;
    assert_problem(app.post(&path, Some(&gate.token), &json!({})).await, StatusCode::FORBIDDEN).await;
    // Bad input is a 4xx problem.
    let owner = &f.org.owner.token;
    let too_much = json!({"amount": {"amount": 3 * SEAT_PRICE, "currency": "EUR"}});
    assert_problem(app.post(&path, Some(owner), &too_much).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    let other_currency = json!({"amount": {"amount": 100, "currency": "USD"}});
    assert_problem(app.post(&path, Some(owner), &other_currency).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    let foreign = json!({"ticket_ids": [uuid::Uuid::new_v4()]});
    assert_problem(app.post(&path, Some(owner), &foreign).await, StatusCode::UNPROCESSABLE_ENTITY).await;

    let body = json!({"ticket_ids": [refunded["id"]]});
    let send =
        || app.client.post(app.url(&path)).bearer_auth(owner).header("Idempotency-Key", "refund-1").json(&body).send();
    let r = send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let refund: Value = r.json().await.unwrap();
    assert_eq!(refund["amount"]["amount"], SEAT_PRICE);
    assert_eq!(refund["requested_by"], f.org.owner.id.as_str());
    // A replay returns the same refund and refunds nothing more.
    let again = send().await.unwrap();
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.json::<Value>().await.unwrap()["id"], refund["id"]);
    // The same key for another refund is refused, not taken for a replay.
    let other = json!({"amount": {"amount": 100, "currency": "EUR"}});
    let r =
        app.client.post(app.url(&path)).bearer_auth(owner).header("Idempotency-Key", "refund-1").json(&other).send();
    let p = assert_problem(r.await.unwrap(), StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(p["type"].as_str().unwrap().ends_with("idempotency-key-reused"), "{p}");

    // Revoked at once: check-in refuses it; the other ticket still works.
    let p = assert_problem(
        app.checkin(owner, &f.event_id, refunded["barcode"].as_str().unwrap()).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(p["result"], "revoked");
    let manifest: Value =
        app.get(&format!("/api/v1/events/{}/gate-manifest", f.event_id), Some(owner)).await.json().await.unwrap();
    let listed = manifest.to_string();
    assert!(listed.contains(refunded["id"].as_str().unwrap()), "the manifest lists it");

    // The public log says so: whoever is offered it later can check.
    let kinds = async |ticket: &Value| -> Vec<String> {
        let path = format!("/api/v1/tickets/{}/history", ticket["id"].as_str().unwrap());
        let h: Value = app.get(&path, None).await.json().await.unwrap();
        h["entries"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(kinds(refunded).await, ["issue", "revoke"]);
    assert_eq!(kinds(&order["tickets"][1]).await, ["issue"]);

    // The seat is for sale again, to someone else.
    let bob = app.signup("bob@example.org").await;
    app.buy(&bob.token, &f.event_id, &[&f.seats[0]], &[]).await;

    // The money comes back; the order shows it; the buyer is told.
    let o = settled(&app, &ada.token, order_id).await;
    assert_eq!(o["status"], "paid", "partly refunded");
    assert_eq!(o["refunded_total"]["amount"], SEAT_PRICE);
    assert_eq!(o["refunds"][0]["ticket_ids"][0], refunded["id"]);
    let r = app.checkin(owner, &f.event_id, order["tickets"][1]["barcode"].as_str().unwrap()).await;
    assert_eq!(r.status(), StatusCode::OK);
    // Two confirmations and one refund message.
    let got = smtp.wait_for(&app, 3).await;
    let refund_mail = got.iter().find(|m| m.subject.starts_with("Refund of 45.00 EUR")).expect("a refund e-mail");
    assert_eq!(refund_mail.to, "ada@example.org");
    let kinds: Vec<Value> =
        notifications(&app, &ada.token).await["items"].as_array().unwrap().iter().map(|n| n["kind"].clone()).collect();
    assert_eq!(kinds, vec![json!("refund"), json!("order_confirmation")]);

    // The rest, then nothing is left.
    let r = app.post(&path, Some(owner), &json!({})).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_problem(app.post(&path, Some(owner), &json!({})).await, StatusCode::CONFLICT).await;
    let o = settled(&app, &ada.token, order_id).await;
    assert_eq!(o["status"], "refunded");
    assert_eq!(o["refunded_total"]["amount"], 2 * SEAT_PRICE);
}

/// An event, and Ada's order of two of its seats.
async fn two_seats_bought(app: &TestApp) -> (Fixture, Account, Value) {
    let f = app.fixture(1, 4, 1).await;
    let ada = app.signup("ada@example.org").await;
    let order = app.buy(&ada.token, &f.event_id, &[&f.seats[0], &f.seats[1]], &[]).await;
    (f, ada, order)
}

fn seat_status(availability: &Value, seat: &str) -> String {
    let seats = availability["seats"].as_array().unwrap();
    let s = seats.iter().find(|s| s["id"] == seat).expect("the seat is in the availability");
    s["status"].as_str().unwrap().to_owned()
}

/// A ticket used at the gate keeps its seat, whatever money comes back:
/// refunded by name it is refused and nothing is written; a refund of the
/// whole order pays everything back but revokes only the unused ticket, so
/// the used seat is never sold, nor anyone admitted on it, a second time.
#[tokio::test]
async fn a_ticket_used_at_the_gate_keeps_its_seat_when_its_order_is_refunded() {
    let app = spawn_app_with(|_| {}).await;
    let (f, ada, order) = two_seats_bought(&app).await;
    let order_id = order["id"].as_str().unwrap();
    let path = format!("/api/v1/orders/{order_id}/refunds");
    let owner = &f.org.owner.token;
    let (used, unused) = (&order["tickets"][0], &order["tickets"][1]);
    let used_seat = used["seat_id"].as_str().unwrap();
    let r = app.checkin(owner, &f.event_id, used["barcode"].as_str().unwrap()).await;
    assert_eq!(r.status(), StatusCode::OK);

    let p = assert_problem(
        app.post(&path, Some(owner), &json!({"ticket_ids": [used["id"]]})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains("used"), "{p}");
    let o = order_of(&app, &ada.token, order_id).await;
    assert_eq!(o["refunds"], json!([]), "a refused refund was recorded: {o}");

    let r = app.post(&path, Some(owner), &json!({})).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let refund: Value = r.json().await.unwrap();
    assert_eq!(refund["amount"]["amount"], 2 * SEAT_PRICE, "{refund}");
    assert_eq!(refund["ticket_ids"], json!([unused["id"]]), "{refund}");
    let o = settled(&app, &ada.token, order_id).await;
    assert_eq!(o["status"], "refunded");
    let status_of =
        |id: &Value| o["tickets"].as_array().unwrap().iter().find(|t| t["id"] == *id).unwrap()["status"].clone();
    assert_eq!(status_of(&used["id"]), "valid", "{o}");
    assert_eq!(status_of(&unused["id"]), "revoked", "{o}");

    let a = app.availability(&f.event_id).await;
    assert_eq!(seat_status(&a, used_seat), "sold");
    assert_eq!(seat_status(&a, unused["seat_id"].as_str().unwrap()), "available");
    let bob = app.signup("bob@example.org").await;
    assert_problem(app.hold(&bob.token, &f.event_id, &[used_seat], &[]).await, StatusCode::CONFLICT).await;
    // Shown again, the used ticket is still the one that went in.
    let p =
        assert_problem(app.checkin(owner, &f.event_id, used["barcode"].as_str().unwrap()).await, StatusCode::CONFLICT)
            .await;
    assert_eq!(p["result"], "already_checked_in", "{p}");
}

/// After a goodwill refund by amount, refunding the tickets one by one still
/// works: the last one brings back what is left, not its full price, and is
/// revoked. A ticket refunded already is named as such, from a stale page too.
#[tokio::test]
async fn tickets_refunded_after_a_goodwill_refund_bring_back_what_is_left() {
    let app = spawn_app_with(|_| {}).await;
    let (f, ada, order) = two_seats_bought(&app).await;
    let order_id = order["id"].as_str().unwrap();
    let path = format!("/api/v1/orders/{order_id}/refunds");
    let owner = &f.org.owner.token;
    let (first, second) = (&order["tickets"][0]["id"], &order["tickets"][1]["id"]);
    let goodwill = json!({"amount": {"amount": 1000, "currency": "EUR"}});
    assert_eq!(app.post(&path, Some(owner), &goodwill).await.status(), StatusCode::CREATED);

    let r = app.post(&path, Some(owner), &json!({"ticket_ids": [first]})).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(r.json::<Value>().await.unwrap()["amount"]["amount"], SEAT_PRICE);
    // The same ticket again: refunded already, whatever is left.
    let again = app.post(&path, Some(owner), &json!({"ticket_ids": [first]})).await;
    let p = assert_problem(again, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(p["detail"].as_str().unwrap().contains("refunded"), "{p}");
    let r = app.post(&path, Some(owner), &json!({"ticket_ids": [second]})).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let refund: Value = r.json().await.unwrap();
    assert_eq!(refund["amount"]["amount"], SEAT_PRICE - 1000, "{refund}");
    let o = settled(&app, &ada.token, order_id).await;
    assert_eq!(o["status"], "refunded");
    assert!(o["tickets"].as_array().unwrap().iter().all(|t| t["status"] == "revoked"), "{o}");
}

/// A refund naming a ticket revokes that ticket alone, even when it takes
/// everything left after a refund by amount: the order's other tickets are
/// not part of what was asked.
#[tokio::test]
async fn a_refund_naming_one_ticket_revokes_that_ticket_alone() {
    let app = spawn_app_with(|_| {}).await;
    let (f, ada, order) = two_seats_bought(&app).await;
    let order_id = order["id"].as_str().unwrap();
    let path = format!("/api/v1/orders/{order_id}/refunds");
    let owner = &f.org.owner.token;
    let most = json!({"amount": {"amount": 2 * SEAT_PRICE - 500, "currency": "EUR"}});
    assert_eq!(app.post(&path, Some(owner), &most).await.status(), StatusCode::CREATED);
    let (first, second) = (&order["tickets"][0]["id"], &order["tickets"][1]["id"]);
    let r = app.post(&path, Some(owner), &json!({"ticket_ids": [first]})).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let refund: Value = r.json().await.unwrap();
    assert_eq!(refund["amount"]["amount"], 500, "what was left: {refund}");
    assert_eq!(refund["ticket_ids"], json!([first]), "{refund}");
    let o = settled(&app, &ada.token, order_id).await;
    let status_of =
        |id: &Value| o["tickets"].as_array().unwrap().iter().find(|t| t["id"] == *id).unwrap()["status"].clone();
    assert_eq!(status_of(first), "revoked");
    assert_eq!(status_of(second), "valid", "{o}");
}

/// Money back by amount: a part leaves the tickets valid (a goodwill
/// refund); the rest of the order revokes every ticket still valid, so a
/// buyer with all their money back holds nothing that admits or sells.
#[tokio::test]
async fn refunding_the_rest_of_an_order_by_amount_revokes_its_tickets() {
    let app = spawn_app_with(|_| {}).await;
    let (f, ada, order) = two_seats_bought(&app).await;
    let order_id = order["id"].as_str().unwrap();
    let path = format!("/api/v1/orders/{order_id}/refunds");
    let owner = &f.org.owner.token;
    let by_amount = |amount: i64| json!({"amount": {"amount": amount, "currency": "EUR"}});

    let r = app.post(&path, Some(owner), &by_amount(SEAT_PRICE / 2)).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let o = order_of(&app, &ada.token, order_id).await;
    assert!(o["tickets"].as_array().unwrap().iter().all(|t| t["status"] == "valid"), "{o}");

    let r = app.post(&path, Some(owner), &by_amount(2 * SEAT_PRICE - SEAT_PRICE / 2)).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let refund: Value = r.json().await.unwrap();
    assert_eq!(refund["ticket_ids"].as_array().unwrap().len(), 2, "{refund}");
    let o = settled(&app, &ada.token, order_id).await;
    assert_eq!(o["status"], "refunded");
    assert!(o["tickets"].as_array().unwrap().iter().all(|t| t["status"] == "revoked"), "{o}");
    for t in order["tickets"].as_array().unwrap() {
        let p = assert_problem(
            app.checkin(owner, &f.event_id, t["barcode"].as_str().unwrap()).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert_eq!(p["result"], "revoked");
    }
    // Nothing is left, however it is asked for.
    for body in [by_amount(1), json!({}), json!({"ticket_ids": [order["tickets"][0]["id"]]})] {
        assert_problem(app.post(&path, Some(owner), &body).await, StatusCode::CONFLICT).await;
    }
}

#[tokio::test]
async fn cancelling_an_event_refunds_every_order_revokes_every_ticket_and_tells_every_buyer() {
    let smtp = SmtpServer::start().await;
    let url = smtp.url();
    let app = spawn_app_with(|c| c.mail.smtp_url = Some(url)).await;
    let f = app.fixture(2, 5, 20).await;
    let buyers =
        [app.signup("ada@example.org").await, app.signup("bob@example.org").await, app.signup("cy@example.org").await];
    let mut orders = Vec::new();
    orders.push(app.buy(&buyers[0].token, &f.event_id, &[&f.seats[0], &f.seats[1]], &[]).await);
    orders.push(app.buy(&buyers[1].token, &f.event_id, &[], &[(&f.ga_area, 3)]).await);
    orders.push(app.buy(&buyers[2].token, &f.event_id, &[&f.seats[2]], &[(&f.ga_area, 1)]).await);
    // One order partly refunded before: only the rest comes back now.
    let owner = &f.org.owner.token;
    let partial = json!({"amount": {"amount": 500, "currency": "EUR"}});
    let path = format!("/api/v1/orders/{}/refunds", orders[1]["id"].as_str().unwrap());
    assert_eq!(app.post(&path, Some(owner), &partial).await.status(), StatusCode::CREATED);
    assert!(app.gateway.net_charged_minor() > 0);

    // A buyer is half-way through buying when the event is cancelled.
    let r = app.hold(&buyers[2].token, &f.event_id, &[&f.seats[3]], &[]).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let hold: Value = r.json().await.unwrap();
    let hold_path = format!("/api/v1/holds/{}", hold["id"].as_str().unwrap());

    let r = app.post(&format!("/api/v1/events/{}/cancel", f.event_id), Some(owner), &json!({})).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "cancelled");
    // Their hold ends with the event, and says so; paying it is refused.
    let h: Value = app.get(&hold_path, Some(&buyers[2].token)).await.json().await.unwrap();
    assert_eq!(h["status"], "released", "{h}");
    let r = app.order(&buyers[2].token, hold["id"].as_str().unwrap(), "late-1", "tok_ok").await;
    assert!(r.status().is_client_error(), "{}", r.status());
    let seat = app.availability(&f.event_id).await;
    assert!(!seat.to_string().contains("\"held\""), "no seat stays held: {seat}");
    // No more holds.
    let r = app.hold(&buyers[0].token, &f.event_id, &[&f.seats[4]], &[]).await;
    assert!(r.status().is_client_error(), "{}", r.status());
    // The calendar file now takes the event out of calendars; the page
    // shows no prices or places left.
    let ics = app.get(&format!("/events/{}/calendar.ics", f.event_id), None).await.text().await.unwrap();
    assert!(ics.contains("STATUS:CANCELLED") && ics.contains("METHOD:CANCEL"), "{ics}");
    let page = app.get(&format!("/events/{}", f.event_id), None).await.text().await.unwrap();
    assert!(page.contains("has been cancelled") && !page.contains("prices-h"), "the page still sells");

    for (order, buyer) in orders.iter().zip(&buyers) {
        let o = settled(&app, &buyer.token, order["id"].as_str().unwrap()).await;
        assert_eq!(o["status"], "refunded");
        assert_eq!(o["refunded_total"], o["total"]);
        for t in order["tickets"].as_array().unwrap() {
            let path = format!("/api/v1/tickets/{}/history", t["id"].as_str().unwrap());
            let h: Value = app.get(&path, None).await.json().await.unwrap();
            let last = h["entries"].as_array().unwrap().last().unwrap()["kind"].clone();
            assert_eq!(last, "revoke", "{h}");
            let p = assert_problem(
                app.checkin(owner, &f.event_id, t["barcode"].as_str().unwrap()).await,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
            assert_eq!(p["result"], "revoked");
        }
    }
    // The test gateway's ledger nets to zero.
    for _ in 0..50 {
        if app.gateway.net_charged_minor() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(app.gateway.net_charged_minor(), 0);

    // Every buyer: a confirmation, a cancellation, and refund messages
    // (bob two: the partial one and the rest).
    let got = smtp.wait_for(&app, 3 + 3 + 4).await;
    for b in &buyers {
        let cancelled: Vec<_> = got.iter().filter(|m| m.to == b.email && m.subject == "Cancelled: Test Gig").collect();
        assert_eq!(cancelled.len(), 1, "{} is told once", b.email);
        assert!(cancelled[0].text.contains("has been cancelled"));
        let kinds: Vec<String> = notifications(&app, &b.token).await["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["kind"].as_str().unwrap().to_owned())
            .collect();
        assert!(kinds.contains(&"event_cancelled".to_owned()), "{kinds:?}");
    }
    // Re-running is harmless: the job finished; nothing more arrives.
    for _ in 0..5 {
        app.clock.advance(chrono::Duration::hours(1));
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    assert_eq!(smtp.messages().len(), 10);
}

/// Organizers find an event's orders by the buyer's address, a page at a
/// time, and see one with its tickets; nobody else does.
#[tokio::test]
async fn organizers_find_an_events_orders_by_buyer_and_page_through_them() {
    let app = crate::helpers::spawn_app().await;
    let f = app.fixture(1, 4, 100).await;
    let owner = Some(f.org.owner.token.as_str());
    let ada = app.signup("ada@example.org").await;
    let bob = app.signup("bob_99@example.org").await;
    let page = ticketing::refunds::EVENT_ORDERS_PAGE as usize;
    for _ in 0..page + 1 {
        app.buy(&ada.token, &f.event_id, &[], &[(&f.ga_area, 1)]).await;
    }
    let bobs = app.buy(&bob.token, &f.event_id, &[&f.seats[0]], &[]).await;
    let orders = format!("/api/v1/events/{}/orders", f.event_id);
    let app = &app;
    let orders = &orders;
    let list = async |query: String| app.get(&format!("{orders}?{query}"), owner).await.json::<Value>().await.unwrap();

    // Newest first, a page at a time, every order once.
    let first = list(String::new()).await;
    assert_eq!(first["items"].as_array().unwrap().len(), page);
    assert_eq!(first["items"][0]["id"], bobs["id"]);
    assert_eq!(first["items"][0]["buyer_email"], "bob_99@example.org");
    assert_eq!(
        (first["items"][0]["tickets"].as_u64(), first["items"][0]["total"]["amount"].as_i64()),
        (Some(1), bobs["total"]["amount"].as_i64())
    );
    let next = first["next_before"].as_str().expect("a second page");
    let second = list(format!("before={next}")).await;
    assert_eq!(second["items"].as_array().unwrap().len(), 2);
    assert!(second["next_before"].is_null());
    let mut seen: Vec<&str> = first["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["items"].as_array().unwrap())
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), page + 2, "no order twice, none left out");

    // Search: part of an address in any case, or the start of an order number;
    // LIKE's own characters are themselves.
    let found = list("q=BOB_99".into()).await;
    assert_eq!(found["items"].as_array().unwrap().len(), 1, "{found}");
    let prefix = &bobs["id"].as_str().unwrap()[..13];
    assert_eq!(list(format!("q={prefix}")).await["items"][0]["id"], bobs["id"]);
    // The reference a buyer reads out from the receipt, typed any way.
    let reference = bobs["reference"].as_str().unwrap();
    assert!(bobs["id"].as_str().unwrap().ends_with(&reference.replace('-', "").to_lowercase()), "{bobs}");
    for typed in [reference.to_owned(), reference.to_lowercase().replace('-', ""), reference[5..].to_owned()] {
        let found = list(format!("q={typed}")).await;
        assert_eq!(found["items"].as_array().unwrap().len(), 1, "{typed}: {found}");
        assert_eq!(found["items"][0]["reference"], reference);
    }
    assert_eq!(list("q=b%25b".into()).await["items"].as_array().unwrap().len(), 0, "% is not a wildcard");
    let by_name = list("q=TEST%20PERSON".into()).await;
    assert_eq!(by_name["items"].as_array().unwrap().len(), page, "every buyer here is a Test Person: {by_name}");
    assert_eq!(list("q=ada_".into()).await["items"].as_array().unwrap().len(), 0, "_ is not a wildcard");
    let r = app.get(&format!("{orders}?q={}", "x".repeat(300)), owner).await;
    assert_problem(r, StatusCode::BAD_REQUEST).await;

    // One order, with its tickets.
    let one = app.get(&format!("{orders}/{}", bobs["id"].as_str().unwrap()), owner).await;
    assert_eq!(one.status(), StatusCode::OK);
    let one: Value = one.json().await.unwrap();
    assert_eq!(one["tickets"][0]["id"], bobs["tickets"][0]["id"]);

    // Not for gate staff, buyers or other organizers; not through another event.
    let gate = app.member(&f.org, "gate@example.org", "gate").await;
    for token in [&gate.token, &ada.token] {
        assert_problem(app.get(orders, Some(token)).await, StatusCode::FORBIDDEN).await;
    }
    let other = app.fixture(1, 2, 2).await;
    let r = app
        .get(
            &format!("/api/v1/events/{}/orders/{}", other.event_id, bobs["id"].as_str().unwrap()),
            Some(&other.org.owner.token),
        )
        .await;
    assert_problem(r, StatusCode::NOT_FOUND).await;
}

/// The console's refund form pays back once, however often it is sent.
#[tokio::test]
async fn the_console_refund_form_sent_twice_refunds_once() {
    let app = crate::helpers::spawn_app().await;
    let f = app.fixture(1, 4, 10).await;
    let ada = app.signup("ada@example.org").await;
    let order = app.buy(&ada.token, &f.event_id, &[&f.seats[0], &f.seats[1]], &[]).await;
    let order_id = order["id"].as_str().unwrap();
    let csrf = "c".repeat(64);
    let path = format!("/console/events/{}/orders/{order_id}/refund", f.event_id);
    let key = uuid::Uuid::new_v4().to_string();
    let send = |fields: Vec<(&'static str, String)>| {
        let mut form = vec![("csrf", csrf.clone()), ("refund_key", key.clone())];
        form.extend(fields);
        app.client
            .post(app.url(&path))
            .header("cookie", format!("rt_session={}; rt_csrf={csrf}", f.org.owner.token))
            .form(&form)
            .send()
    };
    // A typo is refused and refunds nothing.
    let r = send(vec![("mode", "amount".into()), ("amount", "five".into())]).await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let ticket = order["tickets"][0]["id"].as_str().unwrap().to_owned();
    for _ in 0..2 {
        let r = send(vec![("mode", "tickets".into()), ("ticket", ticket.clone())]).await.unwrap();
        assert!(r.status().is_success() || r.status().is_redirection(), "{}", r.status());
    }
    let after = order_of(&app, &ada.token, order_id).await;
    let refunds = after["refunds"].as_array().unwrap();
    assert_eq!(refunds.len(), 1, "{after}");
    assert_eq!(refunds[0]["amount"]["amount"], SEAT_PRICE);
    assert_eq!(after["tickets"][0]["status"], "revoked");
    assert_eq!(after["tickets"][1]["status"], "valid");

    // Everything left takes a tick besides the press: without it nothing happens.
    let key = uuid::Uuid::new_v4().to_string();
    let all = |confirm: Option<&str>| {
        let mut form = vec![("csrf", csrf.clone()), ("refund_key", key.clone()), ("mode", "all".to_owned())];
        form.extend(confirm.map(|c| ("confirm", c.to_owned())));
        app.client
            .post(app.url(&path))
            .header("cookie", format!("rt_session={}; rt_csrf={csrf}", f.org.owner.token))
            .form(&form)
            .send()
    };
    let r = all(None).await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("Tick the box"));
    assert_eq!(order_of(&app, &ada.token, order_id).await["refunds"].as_array().unwrap().len(), 1);
    let r = all(Some("yes")).await.unwrap();
    assert!(r.status().is_success() || r.status().is_redirection(), "{}", r.status());
    let after = settled(&app, &ada.token, order_id).await;
    assert_eq!(after["status"], "refunded", "{after}");
}

/// A ticket passed on to someone else is revoked with the order it was
/// bought with: its holder, who did not buy it, is told.
#[tokio::test]
async fn the_holder_of_a_passed_on_ticket_is_told_when_its_order_is_refunded() {
    let app = spawn_app_with(|_| {}).await;
    let (f, ada, order) = two_seats_bought(&app).await;
    let bob = app.signup("bob@example.org").await;
    let ticket = order["tickets"][0]["id"].as_str().unwrap();
    let offer = app
        .post(&format!("/api/v1/tickets/{ticket}/transfers"), Some(&ada.token), &json!({"to_email": "bob@example.org"}))
        .await;
    let offer: Value = offer.json().await.unwrap();
    let r = app
        .post(&format!("/api/v1/transfers/{}/accept", offer["id"].as_str().unwrap()), Some(&bob.token), &json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);

    let path = format!("/api/v1/orders/{}/refunds", order["id"].as_str().unwrap());
    assert_eq!(app.post(&path, Some(&f.org.owner.token), &json!({})).await.status(), StatusCode::CREATED);
    let told = notifications(&app, &bob.token).await;
    let revoked = told["items"].as_array().unwrap().iter().find(|n| n["kind"] == "ticket_revoked").expect("told");
    assert!(revoked["title"].as_str().unwrap().contains("no longer admits"), "{revoked}");
    let mine = notifications(&app, &ada.token).await;
    assert!(!mine.to_string().contains("ticket_revoked"), "the buyer hears of the refund itself: {mine}");
}

/// The console offers to refund by price only tickets that have admitted
/// nobody: a used ticket's refund would be refused.
#[tokio::test]
async fn the_console_offers_no_refund_of_a_ticket_that_was_used() {
    let app = crate::helpers::spawn_app().await;
    let f = app.fixture(1, 5, 10).await;
    let ada = app.signup("ada@example.org").await;
    let order = app.buy(&ada.token, &f.event_id, &[&f.seats[0], &f.seats[1]], &[]).await;
    let (used, unused) = (&order["tickets"][0], &order["tickets"][1]);
    let r = app.checkin(&f.org.owner.token, &f.event_id, used["barcode"].as_str().unwrap()).await;
    assert_eq!(r.status(), StatusCode::OK);
    let page = app
        .page(&format!("/console/events/{}/orders/{}", f.event_id, order["id"].as_str().unwrap()), &f.org.owner.token)
        .await;
    let offered = |t: &Value| page.contains(&format!("name=\"ticket\" value=\"{}\"", t["id"].as_str().unwrap()));
    assert!(offered(unused), "{page}");
    assert!(!offered(used), "{page}");

    // The sales page shows the revenue as served, not only once its
    // script has asked for it.
    let stats: Value =
        app.get(&format!("/api/v1/events/{}/stats", f.event_id), Some(&f.org.owner.token)).await.json().await.unwrap();
    let minor = stats["revenue"]["amount"].as_i64().unwrap();
    assert!(minor > 0, "{stats}");
    let page = app.page(&format!("/console/events/{}/sales", f.event_id), &f.org.owner.token).await;
    let shown = format!("id=\"stat-revenue\">EUR {}.{:02}<", minor / 100, minor % 100);
    assert!(page.contains(&shown), "{shown} in {page}");
    assert!(page.contains("id=\"stat-sold\">2<") && page.contains("id=\"stat-held\">0<"), "{page}");
}

/// Free tickets have nothing to refund, so the organizer cancels them: one
/// by one or all at once, each stopping at the gate, its place on sale
/// again, the public log recording it and its holder told.
#[tokio::test]
async fn an_organizer_cancels_free_tickets_which_stop_admitting_and_go_back_on_sale() {
    let app = crate::helpers::spawn_app().await;
    let f = app.fixture(1, 5, 10).await;
    let owner = &f.org.owner.token;
    app.set_price(owner, &f.event_id, &f.seat_type, 0).await;
    let ada = app.signup("ada@example.org").await;
    let order = app.buy(&ada.token, &f.event_id, &[&f.seats[0], &f.seats[1], &f.seats[2]], &[]).await;
    let order_id = order["id"].as_str().unwrap();
    let ticket = |i: usize| order["tickets"][i]["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/orders/{order_id}/cancellations");

    // A refund is not how: there is no money.
    let r = app.post(&format!("/api/v1/orders/{order_id}/refunds"), Some(owner), &json!({})).await;
    let problem = assert_problem(r, StatusCode::CONFLICT).await;
    assert!(problem["detail"].as_str().unwrap().contains("cancel them instead"), "{problem}");
    let r =
        app.post(&format!("/api/v1/orders/{order_id}/refunds"), Some(owner), &json!({"ticket_ids": [ticket(0)]})).await;
    assert_problem(r, StatusCode::CONFLICT).await;
    // The buyer asks the organizer; a stranger finds no such order.
    let r = app.post(&path, Some(&ada.token), &json!({"ticket_ids": [ticket(0)]})).await;
    assert_problem(r, StatusCode::FORBIDDEN).await;
    let eve = app.signup("eve@example.org").await;
    assert_problem(app.post(&path, Some(&eve.token), &json!({})).await, StatusCode::NOT_FOUND).await;
    // A ticket of another order is not this order's to cancel; a bad body
    // is told, and none of these cancels anything (an array, or an empty
    // list, is not "every ticket").
    for bad in [
        json!({"ticket_ids": [uuid::Uuid::new_v4()]}),
        json!({"ticket_ids": "all"}),
        json!({"ticket_ids": []}),
        json!([]),
        json!([[ticket(0)]]),
    ] {
        let r = app.post(&path, Some(owner), &bad).await;
        assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let still = order_of(&app, &ada.token, order_id).await;
    assert!(still["tickets"].as_array().unwrap().iter().all(|t| t["status"] == "valid"), "{still}");

    // One ticket goes.
    let r = app.post(&path, Some(owner), &json!({"ticket_ids": [ticket(0)]})).await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let done: Value = r.json().await.unwrap();
    assert_eq!(done["ticket_ids"], json!([ticket(0)]));
    assert_eq!(done["order_closed"], false);
    let barcode = order["tickets"][0]["barcode"].as_str().unwrap();
    let p = assert_problem(app.checkin(owner, &f.event_id, barcode).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(p["result"], "revoked");
    // Its seat is for sale again, to someone else; the others are not.
    app.buy(&eve.token, &f.event_id, &[&f.seats[0]], &[]).await;
    assert_problem(app.hold(&eve.token, &f.event_id, &[&f.seats[1]], &[]).await, StatusCode::CONFLICT).await;
    let history: Value = app.get(&format!("/api/v1/tickets/{}/history", ticket(0)), None).await.json().await.unwrap();
    let kinds: Vec<&str> = history["entries"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["issue", "revoke"], "{history}");
    let told = notifications(&app, &ada.token).await;
    let revoked = told["items"].as_array().unwrap().iter().filter(|n| n["kind"] == "ticket_revoked").count();
    assert_eq!(revoked, 1, "{told}");
    // Cancelled once: again, it is refused; the others are untouched.
    let r = app.post(&path, Some(owner), &json!({"ticket_ids": [ticket(0)]})).await;
    assert_problem(r, StatusCode::CONFLICT).await;

    // A used ticket stays; the rest go when none is named.
    let used = order["tickets"][1]["barcode"].as_str().unwrap();
    assert_eq!(app.checkin(owner, &f.event_id, used).await.status(), StatusCode::OK);
    let r = app.post(&path, Some(owner), &json!({"ticket_ids": [ticket(1)]})).await;
    assert_problem(r, StatusCode::CONFLICT).await;
    let r = app.post(&path, Some(owner), &json!({})).await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let done: Value = r.json().await.unwrap();
    assert_eq!(done["ticket_ids"], json!([ticket(2)]));
    assert_eq!(done["order_closed"], false, "a used ticket is still the order's");
    assert_problem(app.post(&path, Some(owner), &json!({})).await, StatusCode::CONFLICT).await;

    // A paid ticket is refunded, not cancelled.
    let bob = app.signup("bob@example.org").await;
    let paid = app.buy(&bob.token, &f.event_id, &[], &[(&f.ga_area, 1)]).await;
    let r = app
        .post(
            &format!("/api/v1/orders/{}/cancellations", paid["id"].as_str().unwrap()),
            Some(owner),
            &json!({"ticket_ids": [paid["tickets"][0]["id"]]}),
        )
        .await;
    let problem = assert_problem(r, StatusCode::CONFLICT).await;
    assert!(problem["detail"].as_str().unwrap().contains("refund it instead"), "{problem}");
}

/// On the console, free tickets are offered for cancellation, not refund;
/// an order whose every ticket was cancelled reads so to organizer and buyer.
#[tokio::test]
async fn the_console_cancels_free_tickets_and_the_order_reads_cancelled() {
    let app = crate::helpers::spawn_app().await;
    let f = app.fixture(1, 5, 10).await;
    let owner = &f.org.owner.token;
    app.set_price(owner, &f.event_id, &f.ga_type, 0).await;
    let ada = app.signup("ada@example.org").await;
    let order = app.buy(&ada.token, &f.event_id, &[], &[(&f.ga_area, 2)]).await;
    let order_id = order["id"].as_str().unwrap();
    let page_path = format!("/console/events/{}/orders/{order_id}", f.event_id);
    let page = app.page(&page_path, owner).await;
    assert!(page.contains("Cancel free tickets") && page.contains("Nothing: the tickets are free"), "{page}");
    assert!(!page.contains("id=\"refund\""), "nothing to refund: {page}");

    let csrf = "c".repeat(64);
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let post = async |fields: &[(&str, &str)]| {
        let mut form = vec![("csrf", csrf.as_str())];
        form.extend_from_slice(fields);
        client
            .post(app.url(&format!("{page_path}/cancel")))
            .header("cookie", format!("rt_session={owner}; rt_csrf={csrf}"))
            .form(&form)
            .send()
            .await
            .unwrap()
    };
    // Nothing ticked: told so, nothing cancelled.
    let r = post(&[]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("Tick the tickets to cancel."));
    let (a, b) = (order["tickets"][0]["id"].as_str().unwrap(), order["tickets"][1]["id"].as_str().unwrap());
    let r = post(&[("ticket", a), ("ticket", b)]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let to = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(to.ends_with("?cancelled=1"), "{to}");
    let page = app.page(&to, owner).await;
    assert!(page.contains("Tickets cancelled.") && !page.contains("Cancel the ticked tickets"), "{page}");
    assert_eq!(page.matches(">Cancelled<").count(), 2, "{page}");
    let list = app.page(&format!("/console/events/{}/orders", f.event_id), owner).await;
    assert!(list.contains("Cancelled"), "{list}");
    let mine = app.page(&format!("/orders/{order_id}"), &ada.token).await;
    assert!(mine.contains("was cancelled by the organizer") && !mine.contains("paid back"), "{mine}");
    // One notice for both tickets, not one each.
    let told = notifications(&app, &ada.token).await;
    let revoked: Vec<&Value> =
        told["items"].as_array().unwrap().iter().filter(|n| n["kind"] == "ticket_revoked").collect();
    assert_eq!(revoked.len(), 1, "{told}");
    assert!(revoked[0]["title"].as_str().unwrap().contains("Your 2 tickets for Test Gig no longer admit"), "{told}");
    // Both places are on sale again: the whole area can be held.
    let bob = app.signup("bob@example.org").await;
    assert_eq!(app.hold(&bob.token, &f.event_id, &[], &[(&f.ga_area, 10)]).await.status(), StatusCode::CREATED);
}

/// A ticket passed on between a cancellation's read and its write: its
/// notice would go to the one who no longer holds it, so the store cancels
/// nothing (the use case then reads again and tells the new holder).
#[tokio::test]
async fn a_cancellation_whose_ticket_changed_hands_meanwhile_changes_nothing() {
    let app = crate::helpers::spawn_app().await;
    let f = app.fixture(1, 5, 10).await;
    app.set_price(&f.org.owner.token, &f.event_id, &f.seat_type, 0).await;
    let ada = app.signup("ada@example.org").await;
    let order = app.buy(&ada.token, &f.event_id, &[&f.seats[0]], &[]).await;
    let order_id = domain::ids::OrderId::from_uuid(order["id"].as_str().unwrap().parse().unwrap());
    let ticket = domain::ids::TicketId::from_uuid(order["tickets"][0]["id"].as_str().unwrap().parse().unwrap());
    let ada_id = domain::ids::UserId::from_uuid(ada.id.parse().unwrap());
    let store = app.ticketing().store();
    let entry = |ticket, event, _holder| store::NewLedgerEntry {
        kind: "revoke",
        ticket,
        event,
        leaf_input: b"revoke".to_vec(),
    };
    let cancel = async |holder| {
        let c = store::CancelFreeTickets {
            order: order_id,
            tickets: &[(ticket, holder)],
            revoke_entry: &entry,
            notices: &[],
        };
        store.cancel_free_tickets(&c, app.clock.now()).await
    };
    let r = cancel(domain::ids::UserId::new()).await;
    assert!(matches!(r, Err(store::CancelTicketsError::HolderChanged)), "{r:?}");
    let still = order_of(&app, &ada.token, order["id"].as_str().unwrap()).await;
    assert_eq!(still["tickets"][0]["status"], "valid", "{still}");
    let history: Value = app.get(&format!("/api/v1/tickets/{ticket}/history"), None).await.json().await.unwrap();
    assert_eq!(history["entries"].as_array().unwrap().len(), 1, "only its issue: {history}");
    // With its holder as it is, it goes.
    let done = cancel(ada_id).await.unwrap();
    assert_eq!(done.tickets, [ticket]);
}

/// The buyer's order page says which of its tickets still admit: a refund
/// of the paid ticket of an order with a free one leaves the free one
/// valid, a cancelled free ticket is called cancelled, a free order is
/// offered no money back when the event moves, and a passed-on ticket that
/// was cancelled is no longer someone else's to show.
#[tokio::test]
async fn the_buyers_order_page_tells_which_tickets_still_admit() {
    let app = crate::helpers::spawn_app().await;
    let f = app.fixture(1, 5, 10).await;
    let owner = &f.org.owner.token;
    app.set_price(owner, &f.event_id, &f.ga_type, 0).await;
    let ada = app.signup("ada@example.org").await;
    let order = app.buy(&ada.token, &f.event_id, &[&f.seats[0]], &[(&f.ga_area, 1)]).await;
    let order_id = order["id"].as_str().unwrap();
    let tickets = order["tickets"].as_array().unwrap();
    let seated = tickets.iter().find(|t| t["seat_id"].is_string()).unwrap()["id"].as_str().unwrap();
    let free = tickets.iter().find(|t| t["seat_id"].is_null()).unwrap()["id"].as_str().unwrap();
    let r =
        app.post(&format!("/api/v1/orders/{order_id}/refunds"), Some(owner), &json!({"ticket_ids": [seated]})).await;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
    let page = app.page(&format!("/orders/{order_id}"), &ada.token).await;
    assert!(page.contains("Your 1 ticket is below") || page.contains("1 of its tickets still admits"), "{page}");
    assert!(!page.contains("Its tickets no longer admit") && !page.contains("Its unused tickets"), "{page}");

    let r = app
        .post(&format!("/api/v1/orders/{order_id}/cancellations"), Some(owner), &json!({"ticket_ids": [free]}))
        .await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let page = app.page(&format!("/orders/{order_id}"), &ada.token).await;
    assert!(!page.contains("You're going!") && page.contains("Cancelled – this ticket no longer admits"), "{page}");

    // A free order, its ticket passed on and then cancelled; the event moves.
    let bob = app.signup("bob@example.org").await;
    let gift = app.buy(&ada.token, &f.event_id, &[], &[(&f.ga_area, 2)]).await;
    let gift_id = gift["id"].as_str().unwrap();
    let passed = gift["tickets"][0]["id"].as_str().unwrap();
    let r = app
        .post(&format!("/api/v1/tickets/{passed}/transfers"), Some(&ada.token), &json!({"to_email": "bob@example.org"}))
        .await;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
    let offer: Value = r.json().await.unwrap();
    let r = app
        .post(&format!("/api/v1/transfers/{}/accept", offer["id"].as_str().unwrap()), Some(&bob.token), &json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let page = app.page(&format!("/orders/{gift_id}"), &ada.token).await;
    assert!(page.contains("id=\"passed-on\""), "{page}");
    // The organizer sees whom it was passed on to before cancelling it.
    let console = app.page(&format!("/console/events/{}/orders/{gift_id}", f.event_id), owner).await;
    assert!(console.contains("passed on to bob@example.org"), "{console}");
    let r = app
        .post(&format!("/api/v1/orders/{gift_id}/cancellations"), Some(owner), &json!({"ticket_ids": [passed]}))
        .await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    // The new holder is the one told.
    let told = notifications(&app, &bob.token).await;
    assert!(told.to_string().contains("ticket_revoked"), "{told}");
    let page = app.page(&format!("/orders/{gift_id}"), &ada.token).await;
    assert!(!page.contains("id=\"passed-on\"") && page.contains("Your 1 ticket is below"), "{page}");

    let moved = app.clock.now() + chrono::Duration::days(40);
    let until = app.clock.now() + chrono::Duration::days(3);
    let body = json!({"starts_at": moved, "ends_at": moved + chrono::Duration::hours(3), "refunds_until": until});
    let r = app.post(&format!("/api/v1/events/{}/reschedule", f.event_id), Some(owner), &body).await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let page = app.page(&format!("/orders/{gift_id}"), &ada.token).await;
    assert!(!page.contains("Refund my tickets"), "nothing to refund on free tickets: {page}");
}
