//! The organizer's payout report: JSON and CSV, exact for a small scenario.

use domain::Clock;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fees::put_fees;
use crate::helpers::{GA_PRICE, SEAT_PRICE, assert_problem, spawn_app};

#[tokio::test]
async fn the_payout_report_adds_up_sales_fees_and_refunds_per_currency() {
    let app = spawn_app().await;
    let f = app.fixture(2, 5, 50).await;
    let owner = &f.org.owner.token;
    let r = put_fees(&app, &f.org.id, owner, &json!({"percent_bp": 250, "fixed_per_ticket": 50})).await;
    assert_eq!(r.status(), StatusCode::OK);

    let path = format!("/api/v1/events/{}/payouts", f.event_id);
    let empty: Value = app.get(&path, Some(owner)).await.json().await.unwrap();
    assert_eq!(empty["currencies"], json!([]));

    // Buyer A: two seats, 90.00 + fee 2.25 + 1.00. Buyer B: two GA places,
    // 40.00 + fee 1.00 + 1.00; then one of B's places is refunded (20.00).
    let a = app.signup("payout-a@example.org").await;
    let order_a = app.buy(&a.token, &f.event_id, &[&f.seats[0], &f.seats[1]], &[]).await;
    let b = app.signup("payout-b@example.org").await;
    let order_b = app.buy(&b.token, &f.event_id, &[], &[(&f.ga_area, 2)]).await;
    let refunded_ticket = order_b["tickets"][0]["id"].as_str().unwrap();
    let r = app
        .post(
            &format!("/api/v1/orders/{}/refunds", order_b["id"].as_str().unwrap()),
            Some(owner),
            &json!({"ticket_ids": [refunded_ticket]}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
    // A's order is refunded in full: ticket money and fee (93.25).
    let r =
        app.post(&format!("/api/v1/orders/{}/refunds", order_a["id"].as_str().unwrap()), Some(owner), &json!({})).await;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
    let refund_a: Value = r.json().await.unwrap();
    assert_eq!(refund_a["amount"]["amount"], 2 * SEAT_PRICE + 325);

    let gross = 2 * SEAT_PRICE + 2 * GA_PRICE; // 130.00
    let fees = (225 + 100) + (100 + 100); // 5.25
    let refunds = GA_PRICE + 2 * SEAT_PRICE + 325; // 20.00 + 93.25
    let refunded_fees = 325; // A's fee went back with A's refund
    let r = app.get(&path, Some(owner)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let report: Value = r.json().await.unwrap();
    let eur = |amount: i64| json!({"amount": amount, "currency": "EUR"});
    assert_eq!(report["event_id"], f.event_id.as_str());
    assert_eq!(
        report["currencies"],
        json!([{
            "currency": "EUR", "orders": 2,
            "gross_sales": eur(gross), "platform_fees": eur(fees), "refunds": eur(refunds),
            "refunded_fees": eur(refunded_fees), "resale_seller_shares": eur(0),
            "net_payout": eur(gross - (refunds - refunded_fees)),
        }])
    );

    let expected_csv = "currency,orders,gross_sales,platform_fees,refunds,refunded_fees,resale_seller_shares,net_payout\r\n\
         EUR,2,130.00,5.25,113.25,3.25,0.00,20.00\r\n";
    let r = app.get(&format!("{path}.csv"), Some(owner)).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    assert_eq!(r.text().await.unwrap(), expected_csv);
    let r = app.client.get(app.url(&path)).bearer_auth(owner).header("accept", "text/csv").send().await.unwrap();
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    assert_eq!(r.text().await.unwrap(), expected_csv);

    // Buyers, gate staff and strangers see nothing of it.
    let gate = app.member(&f.org, "payout-gate@example.org", "gate").await;
    assert_problem(app.get(&path, Some(&gate.token)).await, StatusCode::FORBIDDEN).await;
    assert_problem(app.get(&path, Some(&a.token)).await, StatusCode::NOT_FOUND).await;
    assert_problem(app.get(&format!("{path}.csv"), None).await, StatusCode::UNAUTHORIZED).await;
    assert_problem(
        app.get(&format!("/api/v1/events/{}/payouts", uuid::Uuid::new_v4()), Some(owner)).await,
        StatusCode::NOT_FOUND,
    )
    .await;
}

/// Each event is priced in its own currency; a JPY event's fee and report
/// are in yen (no minor digits), never added to the EUR figures.
#[tokio::test]
async fn events_in_other_currencies_are_charged_and_reported_in_their_own() {
    let app = spawn_app().await;
    let f = app.fixture(1, 4, 10).await;
    let owner = &f.org.owner.token;
    let r = put_fees(&app, &f.org.id, owner, &json!({"percent_bp": 250, "fixed_per_ticket": 50})).await;
    assert_eq!(r.status(), StatusCode::OK);
    let starts = app.clock.now() + chrono::Duration::days(20);
    let body = json!({
        "venue_id": f.venue_id, "title": "Tokyo Night", "description": "", "category": "concert",
        "starts_at": starts, "ends_at": starts + chrono::Duration::hours(2),
        "ticket_types": [
            {"name": "Seated", "price": {"amount": 4500, "currency": "JPY"}, "price_zone": "main", "max_per_order": 4},
            {"name": "Standing", "price": {"amount": 2000, "currency": "JPY"}, "ga_area_id": f.ga_area, "max_per_order": 4}
        ]
    });
    let r = app.post(&format!("/api/v1/organizations/{}/events", f.org.id), Some(owner), &body).await;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
    let jpy_event = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let r = app.post(&format!("/api/v1/events/{jpy_event}/publish"), Some(owner), &json!({})).await;
    assert_eq!(r.status(), StatusCode::OK);

    let buyer = app.signup("yen@example.org").await;
    let hold: Value = app.hold(&buyer.token, &jpy_event, &[&f.seats[0]], &[]).await.json().await.unwrap();
    // 2.5 % of 4500 JPY = 112.5 → 113; plus 50 JPY per ticket.
    assert_eq!(hold["fee"], json!({"amount": 163, "currency": "JPY"}));
    assert_eq!(hold["total"], json!({"amount": 4663, "currency": "JPY"}));
    let r = app.order(&buyer.token, hold["id"].as_str().unwrap(), "yen-1", "tok_ok").await;
    assert_eq!(r.status(), StatusCode::CREATED);
    app.buy(&buyer.token, &f.event_id, &[&f.seats[1]], &[]).await;
    let charged: Vec<(i64, String)> =
        app.gateway.charges().iter().map(|c| (c.amount.amount_minor(), c.amount.currency().to_string())).collect();
    assert_eq!(charged, vec![(4663, "JPY".to_owned()), (SEAT_PRICE + 113 + 50, "EUR".to_owned())]);

    let jpy: Value = app.get(&format!("/api/v1/events/{jpy_event}/payouts"), Some(owner)).await.json().await.unwrap();
    let lines = jpy["currencies"].as_array().unwrap();
    assert_eq!(lines.len(), 1);
    assert_eq!((lines[0]["currency"].as_str(), lines[0]["net_payout"]["amount"].as_i64()), (Some("JPY"), Some(4500)));
    let csv = app.get(&format!("/api/v1/events/{jpy_event}/payouts.csv"), Some(owner)).await.text().await.unwrap();
    assert_eq!(csv.lines().nth(1), Some("JPY,1,4500,163,0,0,0,4500"));
    let eur: Value =
        app.get(&format!("/api/v1/events/{}/payouts", f.event_id), Some(owner)).await.json().await.unwrap();
    assert_eq!(eur["currencies"][0]["currency"], "EUR");
    assert_eq!(eur["currencies"][0]["gross_sales"]["amount"], SEAT_PRICE);
}
