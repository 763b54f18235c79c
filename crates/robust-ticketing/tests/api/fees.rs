//! Platform fees: set per organization, shown on the hold, charged, recorded.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{GA_PRICE, SEAT_PRICE, assert_problem, spawn_app};

pub(crate) async fn put_fees(app: &crate::helpers::TestApp, org: &str, token: &str, body: &Value) -> reqwest::Response {
    app.client
        .put(app.url(&format!("/api/v1/organizations/{org}/fees")))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_fee_is_shown_on_the_hold_charged_and_recorded_on_the_order() {
    let app = spawn_app().await;
    let f = app.fixture(2, 5, 50).await;
    let r = put_fees(&app, &f.org.id, &f.org.owner.token, &json!({"percent_bp": 250, "fixed_per_ticket": 50})).await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let fees: Value = r.json().await.unwrap();
    assert_eq!((fees["percent_bp"].as_i64(), fees["fixed_per_ticket"].as_i64()), (Some(250), Some(50)));

    let buyer = app.signup("fee-buyer@example.org").await;
    let r = app.hold(&buyer.token, &f.event_id, &[&f.seats[0], &f.seats[1]], &[(&f.ga_area, 1)]).await;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
    let hold: Value = r.json().await.unwrap();
    // 2 × 45.00 + 20.00 = 110.00; 2.5 % = 2.75; 3 tickets × 0.50 = 1.50.
    let subtotal = 2 * SEAT_PRICE + GA_PRICE;
    let fee = 275 + 150;
    assert_eq!(hold["subtotal"], json!({"amount": subtotal, "currency": "EUR"}));
    assert_eq!(hold["fee"], json!({"amount": fee, "currency": "EUR"}));
    assert_eq!(hold["total"], json!({"amount": subtotal + fee, "currency": "EUR"}));
    // The same figures when the hold is read back.
    let again: Value = app
        .get(&format!("/api/v1/holds/{}", hold["id"].as_str().unwrap()), Some(&buyer.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!((&again["subtotal"], &again["fee"], &again["total"]), (&hold["subtotal"], &hold["fee"], &hold["total"]));

    // A fee changed after the hold was placed does not change what it costs.
    let r = put_fees(&app, &f.org.id, &f.org.owner.token, &json!({"percent_bp": 1000, "fixed_per_ticket": 0})).await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = app.order(&buyer.token, hold["id"].as_str().unwrap(), "fee-order-1", "tok_ok").await;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
    let order: Value = r.json().await.unwrap();
    assert_eq!(order["total"]["amount"], subtotal + fee);
    assert_eq!(order["fee"]["amount"], fee);
    assert_eq!(order["subtotal"]["amount"], subtotal);
    let charges = app.gateway.charges();
    assert_eq!(charges.len(), 1);
    assert_eq!(charges[0].amount.amount_minor(), subtotal + fee, "the gateway charged the total with the fee");
    assert_eq!(charges[0].amount.currency().as_str(), "EUR");
    let read: Value = app
        .get(&format!("/api/v1/orders/{}", order["id"].as_str().unwrap()), Some(&buyer.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(read["fee"]["amount"], fee);

    // The new fee applies to the next hold: 10 % of 45.00.
    let hold: Value = app.hold(&buyer.token, &f.event_id, &[&f.seats[2]], &[]).await.json().await.unwrap();
    assert_eq!((hold["fee"]["amount"].as_i64(), hold["total"]["amount"].as_i64()), (Some(450), Some(SEAT_PRICE + 450)));
}

#[tokio::test]
async fn without_a_fee_the_total_is_the_ticket_prices() {
    let app = spawn_app().await;
    let f = app.fixture(1, 2, 10).await;
    let buyer = app.signup("nofee@example.org").await;
    let hold: Value = app.hold(&buyer.token, &f.event_id, &[&f.seats[0]], &[]).await.json().await.unwrap();
    assert_eq!(hold["fee"]["amount"], 0);
    assert_eq!(hold["subtotal"]["amount"], SEAT_PRICE);
    assert_eq!(hold["total"]["amount"], SEAT_PRICE);
}

#[tokio::test]
async fn fees_out_of_range_or_by_the_wrong_people_are_refused() {
    let app = spawn_app().await;
    let f = app.fixture(1, 2, 10).await;
    let owner = &f.org.owner.token;
    for body in [
        json!({"percent_bp": 2501, "fixed_per_ticket": 0}),
        json!({"percent_bp": -1, "fixed_per_ticket": 0}),
        json!({"percent_bp": 100, "fixed_per_ticket": 10001}),
        json!({"percent_bp": 100, "fixed_per_ticket": -5}),
    ] {
        let p = assert_problem(put_fees(&app, &f.org.id, owner, &body).await, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert!(p["detail"].as_str().unwrap().contains("between"), "{p}");
    }
    assert_problem(
        put_fees(&app, &f.org.id, owner, &json!({"percent_bp": "lots", "fixed_per_ticket": 0})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let admin = app.member(&f.org, "fee-admin@example.org", "admin").await;
    assert_problem(
        put_fees(&app, &f.org.id, &admin.token, &json!({"percent_bp": 100, "fixed_per_ticket": 0})).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    let r = app.get(&format!("/api/v1/organizations/{}/fees", f.org.id), Some(&admin.token)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let stranger = app.signup("fee-stranger@example.org").await;
    assert_problem(
        put_fees(&app, &f.org.id, &stranger.token, &json!({"percent_bp": 100, "fixed_per_ticket": 0})).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    // Nothing was stored by the refused requests.
    let fees: Value =
        app.get(&format!("/api/v1/organizations/{}/fees", f.org.id), Some(owner)).await.json().await.unwrap();
    assert_eq!((fees["percent_bp"].as_i64(), fees["fixed_per_ticket"].as_i64()), (Some(0), Some(0)));
}

/// The console shows the service fee to owners and admins; the owner sets
/// it there, in per cent and cents, and the API reads what was saved.
#[tokio::test]
async fn the_owner_sets_the_service_fee_in_the_console() {
    let app = spawn_app().await;
    let f = app.fixture(1, 2, 5).await;
    let admin = app.member(&f.org, "admin@example.org", "admin").await;
    let csrf = "c".repeat(64);
    let no_follow = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let save = async |token: &str, percent: &str, fixed: &str| {
        no_follow
            .post(app.url("/console/fees"))
            .header("cookie", format!("rt_session={token}; rt_csrf={csrf}"))
            .form(&[("csrf", csrf.as_str()), ("percent", percent), ("fixed", fixed)])
            .send()
            .await
            .unwrap()
    };
    let home = app.page("/console", &f.org.owner.token).await;
    assert!(home.contains("id=\"fees-form\"") && home.contains("0 % of the tickets"), "{home}");

    let r = save(&f.org.owner.token, "2,5", "50").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/console?fees_saved=1#fees");
    let fees: Value = app
        .get(&format!("/api/v1/organizations/{}/fees", f.org.id), Some(&f.org.owner.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!((fees["percent_bp"].as_i64(), fees["fixed_per_ticket"].as_i64()), (Some(250), Some(50)));
    let home = app.page("/console?fees_saved=1", &f.org.owner.token).await;
    assert!(home.contains("Service fee saved") && home.contains("2.5 % of the tickets"), "{home}");

    // Out of range or not a number: a page that says why; nothing changes.
    for (percent, fixed) in [("26", "0"), ("2.555", "0"), ("two", "0"), ("1", "-5"), ("1", "0.5"), ("1", "10001")] {
        let r = save(&f.org.owner.token, percent, fixed).await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{percent} {fixed}");
        assert!(r.text().await.unwrap().contains("Service fee not saved"));
    }
    // An admin sees the fee but not the form, and cannot save it.
    let home = app.page("/console", &admin.token).await;
    assert!(home.contains("id=\"fees-now\"") && !home.contains("id=\"fees-form\""), "{home}");
    assert_eq!(save(&admin.token, "0", "0").await.status(), StatusCode::FORBIDDEN);
    let fees: Value = app
        .get(&format!("/api/v1/organizations/{}/fees", f.org.id), Some(&f.org.owner.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(fees["percent_bp"].as_i64(), Some(250), "unchanged");
}
