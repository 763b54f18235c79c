//! Moving a sold event: the tickets stay valid and every holder is told.

use std::time::Duration as Wait;

use chrono::{DateTime, Duration, Utc};
use domain::Clock;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Fixture, TestApp, assert_problem, spawn_app};

async fn reschedule(app: &TestApp, f: &Fixture, token: &str, body: Value) -> reqwest::Response {
    app.post(&format!("/api/v1/events/{}/reschedule", f.event_id), Some(token), &body).await
}

async fn starts_at(app: &TestApp, f: &Fixture) -> DateTime<Utc> {
    let event: Value = app.get(&format!("/api/v1/events/{}", f.event_id), None).await.json().await.unwrap();
    event["starts_at"].as_str().unwrap().parse().unwrap()
}

/// The account's notifications of `kind`, once there are `n` of them (the
/// job that writes them runs in the background).
async fn notices_of(app: &TestApp, token: &str, kind: &str, n: usize) -> Vec<Value> {
    let mut found = Vec::new();
    for _ in 0..200 {
        let list: Value = app.get("/api/v1/me/notifications", Some(token)).await.json().await.unwrap();
        found = list["items"].as_array().unwrap().iter().filter(|x| x["kind"] == kind).cloned().collect();
        if found.len() >= n {
            break;
        }
        tokio::time::sleep(Wait::from_millis(50)).await;
    }
    assert_eq!(found.len(), n, "{kind} notices: {found:?}");
    found
}

#[tokio::test]
async fn a_sold_event_moves_its_tickets_stay_valid_and_every_holder_is_told_once() {
    let app = spawn_app().await;
    let f = app.fixture(1, 4, 5).await;
    let ada = app.signup("ada@example.org").await;
    let bob = app.signup("bob@example.org").await;
    let order = app.buy(&ada.token, &f.event_id, &[&f.seats[0], &f.seats[1]], &[]).await;
    app.buy(&bob.token, &f.event_id, &[], &[(&f.ga_area, 1)]).await;
    let old = starts_at(&app, &f).await;

    // The plain edit still refuses to move a sold event, and says what does.
    let r = app
        .client
        .patch(app.url(&format!("/api/v1/events/{}", f.event_id)))
        .bearer_auth(&f.org.owner.token)
        .json(&json!({"starts_at": old + Duration::days(7), "ends_at": old + Duration::days(7) + Duration::hours(3)}))
        .send()
        .await
        .unwrap();
    let p = assert_problem(r, StatusCode::CONFLICT).await;
    assert!(p["detail"].as_str().unwrap().contains("/reschedule"), "{p}");

    let new = old + Duration::days(7);
    let note = "The singer is ill.\nSame seats, same doors.";
    let r = reschedule(
        &app,
        &f,
        &f.org.owner.token,
        json!({"starts_at": new, "ends_at": new + Duration::hours(3), "note": note}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let moved: Value = r.json().await.unwrap();
    assert_eq!(moved["event"]["starts_at"].as_str().unwrap().parse::<DateTime<Utc>>().unwrap(), new);
    assert_eq!(moved["reschedule"]["old_starts_at"].as_str().unwrap().parse::<DateTime<Utc>>().unwrap(), old);
    assert_eq!(moved["reschedule"]["note"], note);
    assert_eq!(starts_at(&app, &f).await, new);

    // Each holder hears once, with both dates and the organizer's words.
    for who in [&ada, &bob] {
        let told = notices_of(&app, &who.token, "event_rescheduled", 1).await;
        assert!(told[0]["title"].as_str().unwrap().starts_with("New date: Test Gig"), "{}", told[0]);
    }
    let moves: Value = app
        .get(&format!("/api/v1/events/{}/reschedules", f.event_id), Some(&f.org.owner.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(moves.as_array().unwrap().len(), 1);

    // The tickets are the same tickets: valid, and they admit at the gate.
    let ticket = &order["tickets"][0];
    let r = app.get(&format!("/api/v1/tickets/{}", ticket["id"].as_str().unwrap()), Some(&ada.token)).await;
    let t: Value = r.json().await.unwrap();
    assert_eq!(t["status"], "valid", "{t}");
    let r = app.checkin(&f.org.owner.token, &f.event_id, ticket["barcode"].as_str().unwrap()).await;
    assert_eq!(r.status(), StatusCode::OK);
    let scan: Value = r.json().await.unwrap();
    assert_eq!(scan["result"], "admitted", "{scan}");

    // A second move tells them again, once more.
    let later = new + Duration::days(1);
    // A browser sends the note's line breaks as CRLF; each counts as one.
    let crlf = "line\r\n".repeat(400);
    let r = reschedule(
        &app,
        &f,
        &f.org.owner.token,
        json!({"starts_at": later, "ends_at": later + Duration::hours(3), "note": crlf}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    notices_of(&app, &bob.token, "event_rescheduled", 2).await;
    tokio::time::sleep(Wait::from_millis(300)).await;
    notices_of(&app, &bob.token, "event_rescheduled", 2).await;
}

#[tokio::test]
async fn a_postponed_event_reminds_its_holders_again_before_the_new_date() {
    let app = spawn_app().await;
    let f = app.fixture(1, 2, 1).await;
    let ada = app.signup("ada@example.org").await;
    app.buy(&ada.token, &f.event_id, &[&f.seats[0]], &[]).await;
    // The event starts in 30 days: the reminder goes out within its last day.
    app.clock.advance(Duration::days(29) + Duration::hours(1));
    let token = app.login("ada@example.org").await;
    notices_of(&app, &token, "event_reminder", 1).await;

    let owner = app.login(&f.org.owner.email).await;
    let new = starts_at(&app, &f).await + Duration::days(14);
    let r = reschedule(&app, &f, &owner, json!({"starts_at": new, "ends_at": new + Duration::hours(3)})).await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    notices_of(&app, &token, "event_rescheduled", 1).await;
    // No second reminder while the new date is two weeks off...
    tokio::time::sleep(Wait::from_millis(1_500)).await;
    notices_of(&app, &token, "event_reminder", 1).await;
    // ...and one the day before it.
    app.clock.advance(Duration::days(14));
    let token = app.login("ada@example.org").await;
    notices_of(&app, &token, "event_reminder", 2).await;
}

#[tokio::test]
async fn what_cannot_be_moved_and_by_whom() {
    let app = spawn_app().await;
    let f = app.fixture(1, 2, 1).await;
    let owner = f.org.owner.token.clone();
    let gate = app.member(&f.org, "gate@example.org", "gate").await;
    let buyer = app.signup("buyer@example.org").await;
    app.buy(&buyer.token, &f.event_id, &[&f.seats[0]], &[]).await;
    let old = starts_at(&app, &f).await;
    let new = old + Duration::days(2);
    let ok = json!({"starts_at": new, "ends_at": new + Duration::hours(3)});

    assert_problem(reschedule(&app, &f, &gate.token, ok.clone()).await, StatusCode::FORBIDDEN).await;
    assert_problem(reschedule(&app, &f, &buyer.token, ok.clone()).await, StatusCode::FORBIDDEN).await;
    let unprocessable = [
        json!({"starts_at": old, "ends_at": old + Duration::hours(3)}),
        json!({"starts_at": new, "ends_at": new - Duration::hours(1)}),
        // A year typed wrong: the start has passed.
        json!({"starts_at": old - Duration::days(365), "ends_at": old - Duration::days(365) + Duration::hours(3)}),
        json!({"starts_at": "1970-01-01T00:00:00Z", "ends_at": "1970-01-01T01:00:00Z"}),
        json!({"starts_at": Utc::now() + Duration::days(365 * 11), "ends_at": Utc::now() + Duration::days(365 * 11 + 1)}),
        json!({"starts_at": new, "ends_at": new + Duration::hours(3), "note": "ring\u{7}"}),
        json!({"starts_at": new, "ends_at": new + Duration::hours(3), "note": "x".repeat(2_001)}),
        json!({"starts_at": new, "ends_at": new + Duration::hours(3), "notify": false}),
        json!({"starts_at": new}),
        json!({"starts_at": "next friday", "ends_at": new}),
    ];
    for body in unprocessable {
        let r = reschedule(&app, &f, &owner, body.clone()).await;
        let status = r.status();
        assert!(status == StatusCode::UNPROCESSABLE_ENTITY || status == StatusCode::BAD_REQUEST, "{body}: {status}");
        assert_problem(r, status).await;
    }
    assert_eq!(starts_at(&app, &f).await, old, "nothing moved");
    let moves: Value =
        app.get(&format!("/api/v1/events/{}/reschedules", f.event_id), Some(&owner)).await.json().await.unwrap();
    assert!(moves.as_array().unwrap().is_empty());

    // A cancelled event stays where it was.
    let r = app.post(&format!("/api/v1/events/{}/cancel", f.event_id), Some(&owner), &json!({})).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_problem(reschedule(&app, &f, &owner, ok).await, StatusCode::CONFLICT).await;
}

#[tokio::test]
async fn buyers_from_before_a_move_take_their_money_back_within_the_window_offered() {
    let app = spawn_app().await;
    let f = app.fixture(1, 4, 5).await;
    let ada = app.signup("ada@example.org").await;
    let bob = app.signup("bob@example.org").await;
    let carl = app.signup("carl@example.org").await;
    let order = app.buy(&ada.token, &f.event_id, &[&f.seats[0], &f.seats[1]], &[]).await;
    let order_id = order["id"].as_str().unwrap().to_owned();
    let carls = app.buy(&carl.token, &f.event_id, &[], &[(&f.ga_area, 1)]).await;
    // Ada passed one ticket on to Bob: that one is Bob's now, not Ada's to refund.
    let given = order["tickets"][1]["id"].as_str().unwrap();
    let r = app
        .post(&format!("/api/v1/tickets/{given}/transfers"), Some(&ada.token), &json!({"to_email": "bob@example.org"}))
        .await;
    let offer: Value = r.json().await.unwrap();
    let r = app
        .post(&format!("/api/v1/transfers/{}/accept", offer["id"].as_str().unwrap()), Some(&bob.token), &json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);

    let request = |token: String, order: String| {
        let url = app.url(&format!("/api/v1/orders/{order}/refund-request"));
        let req = app.client.post(url).bearer_auth(token).json(&json!({}));
        async move { req.send().await.unwrap() }
    };
    // Nothing is offered before a move.
    assert_problem(request(ada.token.clone(), order_id.clone()).await, StatusCode::CONFLICT).await;

    let old = starts_at(&app, &f).await;
    let new = old + Duration::days(10);
    app.clock.advance(Duration::minutes(1));
    let now = app.clock.now();
    for bad in [now - Duration::hours(1), new + Duration::hours(1)] {
        let body = json!({"starts_at": new, "ends_at": new + Duration::hours(3), "refunds_until": bad});
        assert_problem(reschedule(&app, &f, &f.org.owner.token, body).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let body = json!({"starts_at": new, "ends_at": new + Duration::hours(3), "refunds_until": now + Duration::days(3)});
    let r = reschedule(&app, &f, &f.org.owner.token, body).await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    // The message opens the order the money comes back from; Bob, who got
    // his ticket from Ada, has no order to refund and is sent to his tickets.
    let adas = &notices_of(&app, &ada.token, "event_rescheduled", 1).await[0];
    assert_eq!(adas["link"], format!("/orders/{order_id}"), "{adas}");
    let bobs = &notices_of(&app, &bob.token, "event_rescheduled", 1).await[0];
    assert_eq!(bobs["link"], "/tickets", "{bobs}");
    let dave = app.signup("dave@example.org").await;
    let daves = app.buy(&dave.token, &f.event_id, &[&f.seats[2]], &[]).await;

    // Ada gets back the ticket she still holds; Bob keeps his.
    let r = request(ada.token.clone(), order_id.clone()).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let refund: Value = r.json().await.unwrap();
    assert_eq!(refund["amount"]["amount"], crate::helpers::SEAT_PRICE, "{refund}");
    assert_eq!(refund["reason"], "event_moved");
    assert_eq!(refund["ticket_ids"], json!([order["tickets"][0]["id"]]));
    let r = request(ada.token.clone(), order_id.clone()).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(r.headers().get("idempotent-replayed").unwrap(), "true");
    let ticket = |token: String, id: String| {
        let url = app.url(&format!("/api/v1/tickets/{id}"));
        let req = app.client.get(url).bearer_auth(token);
        async move { req.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let adas = order["tickets"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(ticket(ada.token.clone(), adas).await["status"], "revoked");
    assert_eq!(ticket(bob.token.clone(), given.to_owned()).await["status"], "valid");
    // Bob did not buy that order; Dave bought after the move, knowing the date.
    assert_problem(request(bob.token.clone(), order_id.clone()).await, StatusCode::NOT_FOUND).await;
    let daves = daves["id"].as_str().unwrap().to_owned();
    assert_problem(request(dave.token.clone(), daves).await, StatusCode::CONFLICT).await;
    // Carl waited too long.
    app.clock.advance(Duration::days(3) + Duration::seconds(1));
    let carl_token = app.login("carl@example.org").await;
    let carls = carls["id"].as_str().unwrap().to_owned();
    let p = assert_problem(request(carl_token, carls).await, StatusCode::CONFLICT).await;
    assert!(p["detail"].as_str().unwrap().contains("window has closed"), "{p}");
}

/// Sales set to end at the start, or to open a while before it, move with
/// the event when the organizer asks: otherwise a postponed event's sale
/// would close at the old date, and an earlier one would keep a release
/// that opens after it is over (refused, since nobody could buy it).
#[tokio::test]
async fn sales_times_still_ahead_move_with_the_event_when_asked() {
    let app = spawn_app().await;
    let f = app.fixture(1, 4, 5).await;
    let owner = f.org.owner.token.clone();
    let old = starts_at(&app, &f).await;
    let types = format!("/api/v1/events/{}/ticket-types", f.event_id);
    let r = app
        .client
        .patch(app.url(&format!("{types}/{}", f.seat_type)))
        .bearer_auth(&owner)
        .json(&json!({"sales_end": old}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let late: Value = app
        .post(
            &types,
            Some(&owner),
            &json!({"name": "Late release", "price": {"amount": 100, "currency": "EUR"}, "price_zone": "main",
                    "sales_start": old - Duration::hours(1)}),
        )
        .await
        .json()
        .await
        .unwrap();
    let late = late["id"].as_str().unwrap().to_owned();
    let times = async || -> Vec<(String, Value, Value)> {
        let event: Value = app.get(&format!("/api/v1/events/{}", f.event_id), None).await.json().await.unwrap();
        let mut t: Vec<_> = event["ticket_types"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| (t["id"].as_str().unwrap().to_owned(), t["sales_start"].clone(), t["sales_end"].clone()))
            .collect();
        t.sort_by(|a, b| a.0.cmp(&b.0));
        t
    };
    let before = times().await;

    // Two days earlier, sales left alone: the late release would open after
    // the event, so the move is refused and nothing changes.
    let earlier = old - Duration::days(2);
    let body = json!({"starts_at": earlier, "ends_at": earlier + Duration::hours(3)});
    let p = assert_problem(reschedule(&app, &f, &owner, body).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(p["detail"].as_str().unwrap().contains("Late release"), "{p}");
    assert_eq!(times().await, before);
    // Asked to, the sales move along.
    let body = json!({"starts_at": earlier, "ends_at": earlier + Duration::hours(3), "move_sales_windows": true});
    assert_eq!(reschedule(&app, &f, &owner, body).await.status(), StatusCode::OK);
    let at = |v: &Value| v.as_str().map(|s| s.parse::<DateTime<Utc>>().unwrap());
    for (id, start, end) in times().await {
        if id == f.seat_type {
            assert_eq!((at(&start), at(&end)), (None, Some(earlier)), "the sale ends at the new start");
        } else if id == late {
            assert_eq!((at(&start), at(&end)), (Some(earlier - Duration::hours(1)), None));
        } else {
            assert_eq!((at(&start), at(&end)), (None, None), "a type without sales times keeps none");
        }
    }
    // A running sale whose end would move to before now is not made up:
    // the move is refused whole.
    let running: Value = app
        .post(
            &types,
            Some(&owner),
            &json!({"name": "Running", "price": {"amount": 100, "currency": "EUR"}, "price_zone": "main",
                    "sales_end": app.clock.now() + Duration::hours(2)}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(running["id"].is_string(), "{running}");
    let before = times().await;
    let sooner = earlier - Duration::days(10);
    let body = json!({"starts_at": sooner, "ends_at": sooner + Duration::hours(3), "move_sales_windows": true});
    let p = assert_problem(reschedule(&app, &f, &owner, body).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(p["detail"].as_str().unwrap().contains("Running"), "{p}");
    assert_eq!(times().await, before, "nothing moved");
    assert_eq!(starts_at(&app, &f).await, earlier);
    // A move without the flag leaves them where they are now.
    let later = earlier + Duration::days(1);
    let r = reschedule(&app, &f, &owner, json!({"starts_at": later, "ends_at": later + Duration::hours(3)})).await;
    assert_eq!(r.status(), StatusCode::OK);
    let seat = times().await.into_iter().find(|t| t.0 == f.seat_type).unwrap();
    assert_eq!(at(&seat.2), Some(earlier));
}

/// A buyer who gives back a whole order after a move gets everything they
/// paid, the service fee included: they did not choose the new date.
#[tokio::test]
async fn a_whole_order_given_back_after_a_move_returns_its_service_fee_too() {
    let app = spawn_app().await;
    let f = app.fixture(1, 10, 10).await;
    let r =
        crate::fees::put_fees(&app, &f.org.id, &f.org.owner.token, &json!({"percent_bp": 500, "fixed_per_ticket": 50}))
            .await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let ada = app.signup("ada@example.org").await;
    let order = app.buy(&ada.token, &f.event_id, &[&f.seats[0], &f.seats[1]], &[]).await;
    let total = order["total"]["amount"].as_i64().unwrap();
    assert!(total > 2 * crate::helpers::SEAT_PRICE, "a fee was charged: {order}");

    let new = starts_at(&app, &f).await + Duration::days(10);
    app.clock.advance(Duration::minutes(1));
    let until = app.clock.now() + Duration::days(3);
    let body = json!({"starts_at": new, "ends_at": new + Duration::hours(3), "refunds_until": until});
    assert_eq!(reschedule(&app, &f, &f.org.owner.token, body).await.status(), StatusCode::OK);
    let r = app
        .post(&format!("/api/v1/orders/{}/refund-request", order["id"].as_str().unwrap()), Some(&ada.token), &json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let refund: Value = r.json().await.unwrap();
    assert_eq!(refund["amount"]["amount"], total, "{refund}");
}
