//! Resale: the price cap, royalty plus escrow adding up to the payment,
//! escrow released only after the event, the seller's barcode revoked.

use chrono::Duration;
use domain::Clock;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

async fn list(app: &TestApp, token: &str, ticket: &str, amount: i64) -> reqwest::Response {
    app.post(
        &format!("/api/v1/tickets/{ticket}/listings"),
        Some(token),
        &json!({"price": {"amount": amount, "currency": "EUR"}}),
    )
    .await
}

/// Holds `listing` for the buyer whose token this is; returns the hold.
async fn hold_listing(app: &TestApp, token: &str, listing: &Value) -> Value {
    let r =
        app.post(&format!("/api/v1/listings/{}/holds", listing["id"].as_str().unwrap()), Some(token), &json!({})).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    r.json().await.unwrap()
}

async fn payouts(app: &TestApp, token: &str) -> Value {
    app.get("/api/v1/me/payouts", Some(token)).await.json().await.unwrap()
}

#[tokio::test]
async fn a_resale_respects_the_cap_splits_to_the_cent_and_pays_the_seller_after_the_event() {
    let app = spawn_app().await;
    let f = app.fixture(1, 4, 10).await;
    let seller = app.signup("seller@example.org").await;
    let order = app.buy(&seller.token, &f.event_id, &[&f.seats[0]], &[]).await;
    let ticket = order["tickets"][0]["id"].as_str().unwrap().to_owned();
    let old_barcode = order["tickets"][0]["barcode"].as_str().unwrap().to_owned();

    // Face value 45.00, default cap +10 %: 49.50 is the most.
    let p = assert_problem(list(&app, &seller.token, &ticket, 4951).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(p["detail"].as_str().unwrap().contains("49.50"), "{p}");
    let r = list(&app, &seller.token, &ticket, 4950).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let listing: Value = r.json().await.unwrap();
    assert_eq!(listing["price"]["amount"], 4950);
    let (royalty, escrow) =
        (listing["royalty"]["amount"].as_i64().unwrap(), listing["seller_receives"]["amount"].as_i64().unwrap());
    assert_eq!(royalty, 247, "5 % royalty, rounded down");
    assert_eq!(royalty + escrow, 4950, "royalty and escrow add up to the price to the cent");
    assert_problem(list(&app, &seller.token, &ticket, 4000).await, StatusCode::CONFLICT).await;

    // Listed publicly on the event.
    let listings: Value = app.get(&format!("/api/v1/events/{}/listings", f.event_id), None).await.json().await.unwrap();
    assert_eq!(listings["items"][0]["id"], listing["id"]);
    assert_eq!(listings["items"][0]["seat"]["row"], "R0");

    // The seller cannot buy it back; a buyer holds it, a second buyer cannot.
    let id = listing["id"].as_str().unwrap();
    let r = app.post(&format!("/api/v1/listings/{id}/holds"), Some(&seller.token), &json!({})).await;
    let p = assert_problem(r, StatusCode::CONFLICT).await;
    assert!(p["detail"].as_str().unwrap().contains("your own listing"), "{p}");
    // A visitor pressing Buy signs in first, and comes back to the event.
    let no_follow = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let r = no_follow.post(app.url(&format!("/listings/{id}/hold"))).form(&[("csrf", "x")]).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let to = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(to.starts_with("/signin?next=") && to.contains(&f.event_id), "{to}");
    let buyer = app.signup("buyer@example.org").await;
    let other = app.signup("other@example.org").await;
    let r = app.post(&format!("/api/v1/listings/{id}/holds"), Some(&buyer.token), &json!({})).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let hold: Value = r.json().await.unwrap();
    assert_eq!(hold["total"]["amount"], 4950);
    let r = app.post(&format!("/api/v1/listings/{id}/holds"), Some(&other.token), &json!({})).await;
    assert_problem(r, StatusCode::CONFLICT).await;

    let charged_before = app.gateway.net_charged_minor();
    let r = app.order(&buyer.token, hold["id"].as_str().unwrap(), "resale-1", "tok_ok").await;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
    let bought: Value = app.get("/api/v1/me/tickets", Some(&buyer.token)).await.json().await.unwrap();
    let new_ticket = &bought["items"][0];
    assert_eq!(new_ticket["id"], ticket.as_str(), "the same place, now the buyer's");
    assert_eq!(app.gateway.net_charged_minor() - charged_before, 4950, "the buyer paid the listed price");
    let sellers: Value = app.get("/api/v1/me/tickets", Some(&seller.token)).await.json().await.unwrap();
    assert!(sellers["items"].as_array().unwrap().is_empty());
    // The seller is told, with the order: the ticket went, and for how much.
    let told: Value = app.get("/api/v1/me/notifications", Some(&seller.token)).await.json().await.unwrap();
    let sold: Vec<&Value> = told["items"].as_array().unwrap().iter().filter(|n| n["kind"] == "resale_sold").collect();
    assert_eq!(sold.len(), 1, "{told}");
    assert_eq!(sold[0]["title"], "Your ticket for Test Gig was sold", "{told}");

    // The seller's barcode is dead; the buyer's works; the log shows both steps.
    let p = assert_problem(
        app.checkin(&f.org.owner.token, &f.event_id, &old_barcode).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(p["result"], "revoked");
    let r = app.checkin(&f.org.owner.token, &f.event_id, new_ticket["barcode"].as_str().unwrap()).await;
    assert_eq!(r.status(), StatusCode::OK);
    let history: Value = app.get(&format!("/api/v1/tickets/{ticket}/history"), None).await.json().await.unwrap();
    let kinds: Vec<&str> = history["entries"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["issue", "resale", "check_in"]);

    // Escrow: held until the event has taken place, then released.
    let p = payouts(&app, &seller.token).await;
    assert_eq!(p["items"][0]["status"], "held");
    assert_eq!(p["items"][0]["amount"]["amount"], escrow);
    tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
    assert_eq!(payouts(&app, &seller.token).await["items"][0]["status"], "held", "not before the event");
    app.clock.advance(Duration::days(31));
    let seller_token = app.login("seller@example.org").await;
    let mut released = false;
    for _ in 0..50 {
        if payouts(&app, &seller_token).await["items"][0]["status"] == "released" {
            released = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(released, "escrow is paid out once the event has ended");
}

#[tokio::test]
async fn cancelling_the_event_refunds_escrow_and_listings_can_be_withdrawn() {
    let app = spawn_app().await;
    let f = app.fixture(1, 4, 10).await;
    let seller = app.signup("seller@example.org").await;
    let order = app.buy(&seller.token, &f.event_id, &[&f.seats[0], &f.seats[1]], &[]).await;
    let (a, b) = (order["tickets"][0]["id"].as_str().unwrap(), order["tickets"][1]["id"].as_str().unwrap());

    let kept: Value = list(&app, &seller.token, b, 4500).await.json().await.unwrap();
    let r = app.delete(&format!("/api/v1/listings/{}", kept["id"].as_str().unwrap()), Some(&seller.token)).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let listings: Value = app.get(&format!("/api/v1/events/{}/listings", f.event_id), None).await.json().await.unwrap();
    assert!(listings["items"].as_array().unwrap().is_empty());

    let listing: Value = list(&app, &seller.token, a, 4000).await.json().await.unwrap();
    let buyer = app.signup("buyer@example.org").await;
    let hold = hold_listing(&app, &buyer.token, &listing).await;
    assert_eq!(
        app.order(&buyer.token, hold["id"].as_str().unwrap(), "resale-2", "tok_ok").await.status(),
        StatusCode::CREATED
    );
    let r = app.post(&format!("/api/v1/events/{}/cancel", f.event_id), Some(&f.org.owner.token), &json!({})).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(payouts(&app, &seller.token).await["items"][0]["status"], "refunded");

    // Used or foreign tickets cannot be listed.
    let stranger = app.signup("stranger@example.org").await;
    assert_problem(list(&app, &stranger.token, a, 100).await, StatusCode::NOT_FOUND).await;
}

/// A listed ticket its seller uses at the gate comes off the market: nobody
/// can buy a ticket that admits no more, and a buyer who held it is refused
/// at checkout without being charged.
#[tokio::test]
async fn a_listed_ticket_let_in_at_the_gate_is_no_longer_for_sale() {
    let app = spawn_app().await;
    let f = app.fixture(1, 4, 10).await;
    let seller = app.signup("seller@example.org").await;
    let order = app.buy(&seller.token, &f.event_id, &[&f.seats[0], &f.seats[1]], &[]).await;
    let (a, b) = (&order["tickets"][0], &order["tickets"][1]);
    let held: Value = list(&app, &seller.token, a["id"].as_str().unwrap(), 4500).await.json().await.unwrap();
    list(&app, &seller.token, b["id"].as_str().unwrap(), 4500).await;
    let buyer = app.signup("buyer@example.org").await;
    let hold = hold_listing(&app, &buyer.token, &held).await;

    // One is let in online, the other by an offline gate's sync.
    let r = app.checkin(&f.org.owner.token, &f.event_id, a["barcode"].as_str().unwrap()).await;
    assert_eq!(r.status(), StatusCode::OK);
    let scans = json!({"device_id": "gate-1", "scans": [{"barcode": b["barcode"], "scanned_at": app.clock.now()}]});
    let r = app.post(&format!("/api/v1/events/{}/checkins/sync", f.event_id), Some(&f.org.owner.token), &scans).await;
    let synced: Value = r.json().await.unwrap();
    assert_eq!(synced["results"][0]["result"], "admitted", "{synced}");

    let listings: Value = app.get(&format!("/api/v1/events/{}/listings", f.event_id), None).await.json().await.unwrap();
    assert!(listings["items"].as_array().unwrap().is_empty(), "{listings}");
    let r = app.order(&buyer.token, hold["id"].as_str().unwrap(), "resale-used", "tok_ok").await;
    assert_eq!(r.status(), StatusCode::CONFLICT, "{}", r.text().await.unwrap());
    assert!(payouts(&app, &seller.token).await["items"].as_array().unwrap().is_empty(), "nothing was sold");
}

/// A ticket resold on the market paid its seller back through escrow: a
/// later refund of the order it came from pays back the rest, not its face
/// value a second time. Cancelling the event sends the escrow back to the
/// resale's buyer, and then the seller's whole order is refunded.
#[tokio::test]
async fn refunding_an_order_after_a_resale_leaves_out_the_resold_ticket() {
    let app = spawn_app().await;
    let f = app.fixture(1, 4, 10).await;
    let seller = app.signup("seller@example.org").await;
    let order = app.buy(&seller.token, &f.event_id, &[&f.seats[0], &f.seats[1]], &[]).await;
    let total = order["total"]["amount"].as_i64().unwrap();
    let face = order["tickets"][0]["price"]["amount"].as_i64().unwrap();
    let listing: Value =
        list(&app, &seller.token, order["tickets"][0]["id"].as_str().unwrap(), 4000).await.json().await.unwrap();
    let buyer = app.signup("buyer@example.org").await;
    let hold = hold_listing(&app, &buyer.token, &listing).await;
    let r = app.order(&buyer.token, hold["id"].as_str().unwrap(), "resale-refund", "tok_ok").await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let bought: Value = r.json().await.unwrap();

    let path = format!("/api/v1/orders/{}/refunds", order["id"].as_str().unwrap());
    let too_much = json!({"amount": {"amount": total - face + 1, "currency": "EUR"}});
    assert_problem(app.post(&path, Some(&f.org.owner.token), &too_much).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    let r = app.post(&path, Some(&f.org.owner.token), &json!({})).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let refund: Value = r.json().await.unwrap();
    assert_eq!(refund["amount"]["amount"], total - face, "{refund}");
    assert_eq!(payouts(&app, &seller.token).await["items"][0]["status"], "held", "the seller's share is still owed");
    let r = app.checkin(&f.org.owner.token, &f.event_id, bought["tickets"][0]["barcode"].as_str().unwrap()).await;
    assert_eq!(r.status(), StatusCode::OK, "the resold ticket still admits its buyer");
    let first_path = format!("/api/v1/orders/{}", order["id"].as_str().unwrap());

    // Another sale, then the event is cancelled: escrow back to the buyer
    // first, so the seller's order is refunded whole.
    let second = app.buy(&seller.token, &f.event_id, &[&f.seats[2]], &[]).await;
    let listing: Value =
        list(&app, &seller.token, second["tickets"][0]["id"].as_str().unwrap(), 4000).await.json().await.unwrap();
    let hold = hold_listing(&app, &buyer.token, &listing).await;
    let r = app.order(&buyer.token, hold["id"].as_str().unwrap(), "resale-cancel", "tok_ok").await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = app.post(&format!("/api/v1/events/{}/cancel", f.event_id), Some(&f.org.owner.token), &json!({})).await;
    assert_eq!(r.status(), StatusCode::OK);
    let second_path = format!("/api/v1/orders/{}", second["id"].as_str().unwrap());
    let mut refunded = Value::Null;
    for _ in 0..100 {
        let o: Value = app.get(&second_path, Some(&seller.token)).await.json().await.unwrap();
        if !o["refunds"].as_array().unwrap().is_empty() {
            refunded = o;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(refunded["refunded_total"]["amount"], second["total"]["amount"], "{refunded}");
    // The first order, refunded but for the resold ticket, gets that ticket's
    // face value back too now that its escrow went back to the buyer.
    let mut first = Value::Null;
    for _ in 0..100 {
        first = app.get(&first_path, Some(&seller.token)).await.json().await.unwrap();
        if first["refunded_total"]["amount"] == total {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(first["refunded_total"]["amount"], total, "{first}");
}
