//! Bad input: malformed JSON, wrong types, impossible quantities, unknown ids,
//! oversized bodies and seats of another venue are each a 4xx problem+json,
//! never a 500 or a panic, and leave nothing half-written behind.

use chrono::Duration;
use domain::Clock;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

/// Asserts a problem document with `status`, naming `what` when the status is wrong.
async fn expect_problem(r: Response, status: StatusCode, what: &str) -> Value {
    let got = r.status();
    if got != status {
        let body = r.text().await.unwrap_or_default();
        panic!("{what}: expected {status}, got {got}: {body}");
    }
    assert_problem(r, status).await
}

/// POSTs `body` as-is with the given content type (none if `None`).
async fn post_raw(
    app: &TestApp,
    path: &str,
    token: Option<&str>,
    content_type: Option<&str>,
    body: impl Into<reqwest::Body>,
) -> Response {
    let mut req = app.client.post(app.url(path)).body(body);
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.expect("request sent")
}

/// POST /orders with an explicit (or no) Idempotency-Key.
async fn order_with_key(app: &TestApp, token: &str, hold_id: &str, key: Option<&str>) -> Response {
    let mut req = app
        .client
        .post(app.url("/api/v1/orders"))
        .bearer_auth(token)
        .json(&json!({"hold_id": hold_id, "payment": {"gateway": "test", "token": "tok_ok"}}));
    if let Some(k) = key {
        req = req.header("Idempotency-Key", k);
    }
    req.send().await.expect("request sent")
}

/// A named change to an otherwise valid request body.
type Mutation = (&'static str, fn(&mut Value));

fn holds_path(event: &str) -> String {
    format!("/api/v1/events/{event}/holds")
}

fn venue_body(name: &str) -> Value {
    json!({
        "name": name, "address": "3 Valid Road", "timezone": "Europe/Berlin",
        "seat_map": {"sections": [{"name": "Stalls", "price_zone": "main", "rows": [{"label": "A", "seats": 3}]}],
                     "ga_areas": [{"name": "Pit", "capacity": 10}]}
    })
}

fn event_body(app: &TestApp, venue_id: &str, ga_area: &str) -> Value {
    let starts = app.clock.now() + Duration::days(20);
    json!({
        "venue_id": venue_id, "title": "Valid Gig", "description": "", "category": "concert",
        "starts_at": starts, "ends_at": starts + Duration::hours(2),
        "ticket_types": [
            {"name": "Seated", "price": {"amount": 3000, "currency": "EUR"}, "price_zone": "main", "max_per_order": 4},
            {"name": "Standing", "price": {"amount": 1500, "currency": "EUR"}, "ga_area_id": ga_area, "max_per_order": 4}
        ]
    })
}

fn seat_status(availability: &Value, seat: &str) -> String {
    availability["seats"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == seat)
        .unwrap_or_else(|| panic!("seat {seat} missing from availability"))["status"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn ga_remaining(availability: &Value, area: &str) -> u64 {
    let ga = availability["ga"].as_array().unwrap().iter().find(|g| g["area_id"] == area).expect("GA area listed");
    assert!(ga["capacity"].is_u64(), "{ga}");
    ga["remaining"].as_u64().unwrap()
}

/// Every seat available and every GA place remaining: nothing is held or sold.
async fn assert_untouched(app: &TestApp, f: &Fixture, ga_capacity: u64) {
    let a = app.availability(&f.event_id).await;
    assert_eq!(count_status(&a, "available"), f.seats.len(), "a rejected request held or sold seats: {a}");
    assert_eq!(ga_remaining(&a, &f.ga_area), ga_capacity, "a rejected request took GA places: {a}");
}

async fn venue_ids(app: &TestApp, org: &Org) -> Vec<String> {
    let r = app.get(&format!("/api/v1/organizations/{}/venues", org.id), Some(&org.owner.token)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    v.as_array().unwrap().iter().map(|v| v["id"].as_str().unwrap().to_owned()).collect()
}

async fn org_event_ids(app: &TestApp, org: &Org) -> Vec<String> {
    let r = app.get(&format!("/api/v1/organizations/{}/events", org.id), Some(&org.owner.token)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    v.as_array().unwrap().iter().map(|v| v["id"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn malformed_json_is_a_400_problem_and_holds_nothing() {
    let app = spawn_app().await;
    let f = app.fixture(2, 3, 10).await;
    let buyer = app.signup("buyer@example.org").await;
    let owner = Some(f.org.owner.token.as_str());
    let targets = [
        ("POST holds", holds_path(&f.event_id), Some(buyer.token.as_str())),
        ("POST register", "/api/v1/auth/register".to_owned(), None),
        ("POST login", "/api/v1/auth/login".to_owned(), None),
        ("POST venues", format!("/api/v1/organizations/{}/venues", f.org.id), owner),
        ("POST events", format!("/api/v1/organizations/{}/events", f.org.id), owner),
        ("POST checkins", format!("/api/v1/events/{}/checkins", f.event_id), owner),
    ];
    let broken: [&[u8]; 6] =
        [br#"{"seats": ["#, b"{", b"not json at all", br#"{"seats": [], }"#, b"", &[0xff, 0xfe, b'{']];
    for raw in broken {
        let body = String::from_utf8_lossy(raw);
        for (what, path, token) in &targets {
            let r = post_raw(&app, path, *token, Some("application/json"), raw.to_vec()).await;
            expect_problem(r, StatusCode::BAD_REQUEST, &format!("{what} with body {body:?}")).await;
        }
        let r = app
            .client
            .post(app.url("/api/v1/orders"))
            .bearer_auth(&buyer.token)
            .header("Idempotency-Key", uuid::Uuid::new_v4().to_string())
            .header("content-type", "application/json")
            .body(raw.to_vec())
            .send()
            .await
            .unwrap();
        expect_problem(r, StatusCode::BAD_REQUEST, &format!("POST orders with body {body:?}")).await;
    }
    // Well-formed JSON nested deeper than the parser goes: unparseable (400) or
    // the wrong shape (422), but never a crash.
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    for (what, path, token) in &targets {
        let r = post_raw(&app, path, *token, Some("application/json"), deep.clone()).await;
        let status = r.status();
        assert!(
            status == StatusCode::BAD_REQUEST || status == StatusCode::UNPROCESSABLE_ENTITY,
            "{what} with 10,000 nested arrays: got {status}: {}",
            r.text().await.unwrap()
        );
        assert_problem(r, status).await;
    }
    assert_untouched(&app, &f, 10).await;
    assert_eq!(venue_ids(&app, &f.org).await, vec![f.venue_id.clone()]);
    assert_eq!(org_event_ids(&app, &f.org).await, vec![f.event_id.clone()]);
    assert!(app.gateway.charges().is_empty());
    let r = app.get("/healthz", None).await;
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_body_that_is_not_declared_as_json_is_a_415() {
    let app = spawn_app().await;
    let f = app.fixture(1, 3, 10).await;
    let buyer = app.signup("buyer@example.org").await;
    let hold = json!({"seats": [f.seats[0]]}).to_string();
    for content_type in [None, Some("text/plain"), Some("application/x-www-form-urlencoded")] {
        let what = format!("a hold sent with content type {content_type:?}");
        let r = post_raw(&app, &holds_path(&f.event_id), Some(&buyer.token), content_type, hold.clone()).await;
        expect_problem(r, StatusCode::UNSUPPORTED_MEDIA_TYPE, &what).await;
    }
    let register = json!({"email": "plain@example.org", "password": PASSWORD, "name": "Plain"}).to_string();
    let r = post_raw(&app, "/api/v1/auth/register", None, None, register).await;
    expect_problem(r, StatusCode::UNSUPPORTED_MEDIA_TYPE, "a registration without a content type").await;
    // Neither request took effect.
    assert_untouched(&app, &f, 10).await;
    let r = app.post("/api/v1/auth/login", None, &json!({"email": "plain@example.org", "password": PASSWORD})).await;
    expect_problem(r, StatusCode::UNAUTHORIZED, "signing in to the account a 415 should not have created").await;
}

#[tokio::test]
async fn wrong_json_types_are_a_422() {
    let app = spawn_app().await;
    let f = app.fixture(1, 3, 10).await;
    let buyer = app.signup("buyer@example.org").await;
    let holds = [
        ("GA quantity as a word", json!({"ga": [{"area_id": f.ga_area, "quantity": "two"}]})),
        ("GA quantity as a fraction", json!({"ga": [{"area_id": f.ga_area, "quantity": 1.5}]})),
        ("GA quantity beyond u32", json!({"ga": [{"area_id": f.ga_area, "quantity": 4_294_967_296_u64}]})),
        ("seats as a number", json!({"seats": 5})),
        ("a seat id that is not a uuid", json!({"seats": ["seat-1"]})),
        ("a GA area id that is a number", json!({"ga": [{"area_id": 7, "quantity": 1}]})),
        ("the body as an array", json!([f.seats[0]])),
        ("the body as a string", json!("seats")),
    ];
    for (what, body) in holds {
        let r = app.post(&holds_path(&f.event_id), Some(&buyer.token), &body).await;
        expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY, &format!("a hold with {what}")).await;
    }

    let events = format!("/api/v1/organizations/{}/events", f.org.id);
    let mut price_as_string = event_body(&app, &f.venue_id, &f.ga_area);
    price_as_string["ticket_types"][0]["price"] = json!("30.00 EUR");
    let mut amount_as_string = event_body(&app, &f.venue_id, &f.ga_area);
    amount_as_string["ticket_types"][0]["price"]["amount"] = json!("3000");
    let mut starts_tomorrow = event_body(&app, &f.venue_id, &f.ga_area);
    starts_tomorrow["starts_at"] = json!("tomorrow");
    let mut venue_not_uuid = event_body(&app, &f.venue_id, &f.ga_area);
    venue_not_uuid["venue_id"] = json!("hall-1");
    let mut no_title = event_body(&app, &f.venue_id, &f.ga_area);
    no_title.as_object_mut().unwrap().remove("title");
    let mut max_negative = event_body(&app, &f.venue_id, &f.ga_area);
    max_negative["ticket_types"][0]["max_per_order"] = json!(-1);
    for (what, body) in [
        ("a price given as a string", price_as_string),
        ("a price amount given as a string", amount_as_string),
        ("starts_at 'tomorrow'", starts_tomorrow),
        ("a venue_id that is not a uuid", venue_not_uuid),
        ("no title", no_title),
        ("a negative max_per_order", max_negative),
    ] {
        let r = app.post(&events, Some(&f.org.owner.token), &body).await;
        expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY, &format!("an event with {what}")).await;
    }

    let venues = format!("/api/v1/organizations/{}/venues", f.org.id);
    let mut seats_as_word = venue_body("Typo Hall");
    seats_as_word["seat_map"]["sections"][0]["rows"][0]["seats"] = json!("ten");
    let mut capacity_negative = venue_body("Negative Hall");
    capacity_negative["seat_map"]["ga_areas"][0]["capacity"] = json!(-5);
    for (what, body) in [("seats as a word", seats_as_word), ("a negative GA capacity", capacity_negative)] {
        let r = app.post(&venues, Some(&f.org.owner.token), &body).await;
        expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY, &format!("a venue with {what}")).await;
    }

    let r = app.post("/api/v1/auth/register", None, &json!({"email": 42, "password": PASSWORD, "name": "N"})).await;
    expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "a registration with a numeric e-mail").await;
    let r = app.checkin(&f.org.owner.token, &f.event_id, "").await;
    expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "a check-in with an empty barcode").await;
    let r = app.post(&format!("/api/v1/events/{}/checkins", f.event_id), Some(&f.org.owner.token), &json!({})).await;
    expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "a check-in without a barcode").await;
    // A null where a choice of words belongs is the wrong shape too, though
    // the JSON parser reports it as a syntax error.
    let controls = format!("/api/v1/events/{}/sale-controls", f.event_id);
    for (what, body) in
        [("a null waiting room", json!({"waiting_room": null})), ("a numeric one", json!({"waiting_room": 1}))]
    {
        let r = app.client.put(app.url(&controls)).bearer_auth(&f.org.owner.token).json(&body).send().await.unwrap();
        expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY, &format!("sale controls with {what}")).await;
    }
    let r = app.get(&controls, Some(&f.org.owner.token)).await;
    expect_problem(r, StatusCode::NOT_FOUND, "sale controls after refused changes").await;

    assert_untouched(&app, &f, 10).await;
    assert_eq!(org_event_ids(&app, &f.org).await, vec![f.event_id.clone()]);
    assert_eq!(venue_ids(&app, &f.org).await, vec![f.venue_id.clone()]);
}

#[tokio::test]
async fn impossible_quantities_and_empty_or_repeated_picks_are_a_422() {
    let app = spawn_app().await;
    // The fixture's ticket types allow 10 per order.
    let f = app.fixture(3, 5, 50).await;
    let buyer = app.signup("buyer@example.org").await;
    let event = holds_path(&f.event_id);
    let eleven_seats: Vec<&String> = f.seats.iter().take(11).collect();
    let cases = [
        ("a negative GA quantity", json!({"ga": [{"area_id": f.ga_area, "quantity": -1}]})),
        ("a zero GA quantity", json!({"ga": [{"area_id": f.ga_area, "quantity": 0}]})),
        (
            "a zero GA quantity beside a valid seat",
            json!({"seats": [f.seats[0]], "ga": [{"area_id": f.ga_area, "quantity": 0}]}),
        ),
        ("nothing at all", json!({})),
        ("empty lists", json!({"seats": [], "ga": []})),
        ("the same seat twice", json!({"seats": [f.seats[0], f.seats[0]]})),
        ("the same seat twice, once as an object", json!({"seats": [f.seats[0], {"seat_id": f.seats[0]}]})),
        ("a seat sold as the GA ticket type", json!({"seats": [{"seat_id": f.seats[0], "ticket_type_id": f.ga_type}]})),
        (
            "GA places sold as the seated ticket type",
            json!({"ga": [{"area_id": f.ga_area, "quantity": 1, "ticket_type_id": f.seat_type}]}),
        ),
        (
            "the same GA area twice",
            json!({"ga": [{"area_id": f.ga_area, "quantity": 1}, {"area_id": f.ga_area, "quantity": 1}]}),
        ),
        ("more GA places than max_per_order", json!({"ga": [{"area_id": f.ga_area, "quantity": 11}]})),
        ("more seats than max_per_order", json!({"seats": eleven_seats})),
        ("more GA places than any hold may have", json!({"ga": [{"area_id": f.ga_area, "quantity": 1000}]})),
    ];
    for (what, body) in cases {
        let r = app.post(&event, Some(&buyer.token), &body).await;
        expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY, &format!("a hold of {what}")).await;
    }
    assert_untouched(&app, &f, 50).await;
    // Exactly the limit is fine: the 422s were about the limit.
    let r = app.hold(&buyer.token, &f.event_id, &[], &[(&f.ga_area, 10)]).await;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
}

#[tokio::test]
async fn unknown_ids_are_404_in_the_path_and_422_in_the_body() {
    let app = spawn_app().await;
    let f = app.fixture(1, 3, 10).await;
    let buyer = app.signup("buyer@example.org").await;
    let random = || uuid::Uuid::new_v4().to_string();

    let r = app.hold(&buyer.token, &random(), &[&f.seats[0]], &[]).await;
    expect_problem(r, StatusCode::NOT_FOUND, "a hold for an event that does not exist").await;
    let r = app.hold(&buyer.token, &f.event_id, &[&random()], &[]).await;
    expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "a hold naming a seat that does not exist").await;
    let r = app.hold(&buyer.token, &f.event_id, &[&f.seats[0], &random()], &[]).await;
    expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "a hold naming a real and an unknown seat").await;
    let r = app.hold(&buyer.token, &f.event_id, &[], &[(&random(), 1)]).await;
    expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "a hold naming a GA area that does not exist").await;
    let r = app
        .post(
            &holds_path(&f.event_id),
            Some(&buyer.token),
            &json!({"seats": [{"seat_id": f.seats[0], "ticket_type_id": random()}]}),
        )
        .await;
    expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "a hold naming a ticket type that does not exist").await;

    for path in [
        "/api/v1/events/not-a-uuid".to_owned(),
        "/api/v1/events/not-a-uuid/availability".to_owned(),
        format!("/api/v1/events/{}", random()),
        format!("/api/v1/events/{}/availability", random()),
        format!("/api/v1/venues/{}/seat-map", random()),
        "/api/v1/venues/42/seat-map".to_owned(),
        "/api/v1/no-such-route".to_owned(),
    ] {
        let r = app.get(&path, None).await;
        expect_problem(r, StatusCode::NOT_FOUND, &format!("GET {path}")).await;
    }
    for path in [
        format!("/api/v1/holds/{}", random()),
        "/api/v1/holds/not-a-uuid".to_owned(),
        format!("/api/v1/orders/{}", random()),
        format!("/api/v1/tickets/{}", random()),
        format!("/api/v1/tickets/{}/qr.svg", random()),
        "/api/v1/tickets/not-a-uuid/qr.png".to_owned(),
    ] {
        let r = app.get(&path, Some(&buyer.token)).await;
        expect_problem(r, StatusCode::NOT_FOUND, &format!("GET {path}")).await;
    }
    let r = app.post("/api/v1/events/not-a-uuid/holds", Some(&buyer.token), &json!({"seats": [f.seats[0]]})).await;
    let p = expect_problem(r, StatusCode::NOT_FOUND, "a hold on /events/not-a-uuid").await;
    // Said in the API's words, not the parser's.
    assert_eq!(p["detail"], "no event has the id 'not-a-uuid'", "{p}");
    let r = app.delete(&format!("/api/v1/holds/{}", random()), Some(&buyer.token)).await;
    expect_problem(r, StatusCode::NOT_FOUND, "releasing a hold that does not exist").await;
    let r = app.post(&format!("/api/v1/events/{}/publish", random()), Some(&f.org.owner.token), &json!({})).await;
    expect_problem(r, StatusCode::NOT_FOUND, "publishing an event that does not exist").await;
    let r = app.checkin(&f.org.owner.token, &random(), "anything").await;
    expect_problem(r, StatusCode::NOT_FOUND, "checking in at an event that does not exist").await;

    let r = app.order(&buyer.token, &random(), &random(), "tok_ok").await;
    expect_problem(r, StatusCode::NOT_FOUND, "an order for a hold that does not exist").await;

    let mut unknown_venue = event_body(&app, &random(), &f.ga_area);
    unknown_venue["ticket_types"] = json!([
        {"name": "Seated", "price": {"amount": 3000, "currency": "EUR"}, "price_zone": "main", "max_per_order": 4}
    ]);
    let r =
        app.post(&format!("/api/v1/organizations/{}/events", f.org.id), Some(&f.org.owner.token), &unknown_venue).await;
    expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "an event at a venue that does not exist").await;
    let r = app
        .post(
            &format!("/api/v1/organizations/{}/members", f.org.id),
            Some(&f.org.owner.token),
            &json!({"email": "nobody@example.org", "role": "gate"}),
        )
        .await;
    expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "adding a member without an account").await;

    assert_untouched(&app, &f, 10).await;
    assert_eq!(org_event_ids(&app, &f.org).await, vec![f.event_id.clone()]);
    assert!(app.gateway.charges().is_empty(), "a failed order was charged");
}

#[tokio::test]
async fn a_hold_naming_a_seat_or_area_of_another_venue_is_refused() {
    let app = spawn_app().await;
    let org = app.org("owner@example.org").await;
    let (venue_a, seats_a, area_a) = app.venue(&org, 1, 3, 10).await;
    let (venue_b, seats_b, area_b) = app.venue(&org, 1, 3, 10).await;
    let (event_a, _, _) = app.event(&org, &venue_a, &area_a, 10).await;
    let (event_b, _, _) = app.event(&org, &venue_b, &area_b, 10).await;
    let buyer = app.signup("buyer@example.org").await;

    let r = app.hold(&buyer.token, &event_a, &[&seats_b[0]], &[]).await;
    expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "a seat of venue B on the event at venue A").await;
    let r = app.hold(&buyer.token, &event_a, &[&seats_a[0], &seats_b[0]], &[]).await;
    expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "a seat of each venue on the event at venue A").await;
    let r = app.hold(&buyer.token, &event_a, &[], &[(&area_b, 1)]).await;
    expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "a GA area of venue B on the event at venue A").await;
    let r = app.hold(&buyer.token, &event_a, &[&seats_a[1]], &[(&area_b, 1)]).await;
    expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "a seat of A with a GA area of B").await;

    // A ticket type admitting to venue B's GA area cannot be sold at venue A either.
    let starts = app.clock.now() + Duration::days(10);
    let cross = json!({
        "venue_id": venue_a, "title": "Cross Gig", "category": "concert",
        "starts_at": starts, "ends_at": starts + Duration::hours(2),
        "ticket_types": [{"name": "Standing", "price": {"amount": 100, "currency": "EUR"}, "ga_area_id": area_b}]
    });
    let r = app.post(&format!("/api/v1/organizations/{}/events", org.id), Some(&org.owner.token), &cross).await;
    expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "an event at A selling B's GA area").await;

    for (event, seats) in [(&event_a, &seats_a), (&event_b, &seats_b)] {
        let a = app.availability(event).await;
        assert_eq!(count_status(&a, "available"), seats.len(), "{a}");
        assert_eq!(a["ga"][0]["remaining"], 10, "{a}");
    }
    assert_eq!(org_event_ids(&app, &org).await.len(), 2);
    // The very same seat of B is fine on B's own event.
    let r = app.hold(&buyer.token, &event_b, &[&seats_b[0]], &[]).await;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
}

#[tokio::test]
async fn a_body_over_the_size_limit_is_a_413() {
    let app = spawn_app().await;
    let f = app.fixture(1, 3, 10).await;
    let buyer = app.signup("buyer@example.org").await;
    let limit = 4 * 1024 * 1024;
    let padding = "x".repeat(limit + 1024);
    let hold = format!(r#"{{"seats": [], "ga": [], "padding": "{padding}"}}"#);
    let r = post_raw(&app, &holds_path(&f.event_id), Some(&buyer.token), Some("application/json"), hold).await;
    expect_problem(r, StatusCode::PAYLOAD_TOO_LARGE, "a 4 MiB hold").await;

    let labels: Vec<String> = (0..limit / 8).map(|i| format!("{i:07}")).collect();
    let mut venue = venue_body("Huge Hall");
    venue["seat_map"]["sections"][0]["rows"][0]["seats"] = json!(labels);
    let venue = venue.to_string();
    assert!(venue.len() > limit);
    let path = format!("/api/v1/organizations/{}/venues", f.org.id);
    let r = post_raw(&app, &path, Some(&f.org.owner.token), Some("application/json"), venue).await;
    expect_problem(r, StatusCode::PAYLOAD_TOO_LARGE, "a venue body over 4 MiB").await;
    // Routes that take their body as it comes say so the same way.
    let big = format!(r#"{{"padding": "{padding}"}}"#);
    let r = post_raw(&app, "/api/v1/payments/test/webhook", None, Some("application/json"), big.clone()).await;
    expect_problem(r, StatusCode::PAYLOAD_TOO_LARGE, "a 4 MiB gateway event").await;
    let listing = format!("/api/v1/listings/{}/holds", uuid::Uuid::new_v4());
    let r = post_raw(&app, &listing, Some(&buyer.token), Some("application/json"), big).await;
    expect_problem(r, StatusCode::PAYLOAD_TOO_LARGE, "a 4 MiB resale hold").await;
    // And a resale hold's body of the wrong shape is a 422, as everywhere.
    for body in [r#"{"x": 1}"#, r#"{"admission_token": 1}"#, "null"] {
        let r = post_raw(&app, &listing, Some(&buyer.token), Some("application/json"), body.to_owned()).await;
        expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY, &format!("a resale hold of {body}")).await;
    }

    assert_untouched(&app, &f, 10).await;
    assert_eq!(venue_ids(&app, &f.org).await, vec![f.venue_id.clone()]);
    // The server is still fine afterwards.
    let r = app.get("/healthz", None).await;
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_order_needs_a_sane_idempotency_key_and_failed_orders_charge_nothing() {
    let app = spawn_app().await;
    let f = app.fixture(1, 3, 10).await;
    let buyer = app.signup("buyer@example.org").await;
    let r = app.hold(&buyer.token, &f.event_id, &[&f.seats[0]], &[]).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let hold: Value = r.json().await.unwrap();
    let hold_id = hold["id"].as_str().unwrap();

    let r = order_with_key(&app, &buyer.token, hold_id, None).await;
    expect_problem(r, StatusCode::BAD_REQUEST, "an order without an Idempotency-Key").await;
    let too_long = "k".repeat(256);
    for (what, key) in [
        ("an Idempotency-Key of 256 characters", too_long.as_str()),
        ("an empty Idempotency-Key", ""),
        ("an Idempotency-Key with a space", "two words"),
    ] {
        let r = order_with_key(&app, &buyer.token, hold_id, Some(key)).await;
        expect_problem(r, StatusCode::BAD_REQUEST, &format!("an order with {what}")).await;
    }
    let r = app
        .client
        .post(app.url("/api/v1/orders"))
        .bearer_auth(&buyer.token)
        .header("Idempotency-Key", reqwest::header::HeaderValue::from_bytes(b"key-\xff").unwrap())
        .json(&json!({"hold_id": hold_id, "payment": {"gateway": "test", "token": "tok_ok"}}))
        .send()
        .await
        .unwrap();
    expect_problem(r, StatusCode::BAD_REQUEST, "an order with a non-UTF-8 Idempotency-Key").await;
    // Two keys: which one names the request would be a guess.
    let r = app
        .client
        .post(app.url("/api/v1/orders"))
        .bearer_auth(&buyer.token)
        .header("Idempotency-Key", "first-key")
        .header("Idempotency-Key", "second-key")
        .json(&json!({"hold_id": hold_id, "payment": {"gateway": "test", "token": "tok_ok"}}))
        .send()
        .await
        .unwrap();
    let p = expect_problem(r, StatusCode::BAD_REQUEST, "an order with two Idempotency-Keys").await;
    assert!(p["detail"].as_str().unwrap_or_default().contains("one Idempotency-Key"), "{p}");
    let bodies = [
        ("an unknown gateway", json!({"hold_id": hold_id, "payment": {"gateway": "stripe", "token": "tok_ok"}})),
        ("no payment", json!({"hold_id": hold_id})),
        ("a hold id that is not a uuid", json!({"hold_id": "h-1", "payment": {"gateway": "test", "token": "tok_ok"}})),
        ("an empty payment token", json!({"hold_id": hold_id, "payment": {"gateway": "test", "token": ""}})),
        (
            "a payment token of 100 KB",
            json!({"hold_id": hold_id, "payment": {"gateway": "test", "token": "t".repeat(100_000)}}),
        ),
    ];
    for (what, body) in bodies {
        let r = app
            .client
            .post(app.url("/api/v1/orders"))
            .bearer_auth(&buyer.token)
            .header("Idempotency-Key", uuid::Uuid::new_v4().to_string())
            .json(&body)
            .send()
            .await
            .unwrap();
        expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY, &format!("an order with {what}")).await;
    }
    assert!(app.gateway.charges().is_empty(), "a rejected order was charged: {:?}", app.gateway.charges());
    let r = app.get(&format!("/api/v1/holds/{hold_id}"), Some(&buyer.token)).await;
    let still: Value = r.json().await.unwrap();
    assert_eq!(still["status"], "active", "a rejected order consumed the hold: {still}");
    let mine: Value = app.get("/api/v1/me/orders", Some(&buyer.token)).await.json().await.unwrap();
    assert_eq!(mine["items"], json!([]), "{mine}");

    // A key of exactly 255 characters is accepted: the 400s were about the key.
    let longest = "k".repeat(255);
    let r = order_with_key(&app, &buyer.token, hold_id, Some(&longest)).await;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
    assert_eq!(app.gateway.charges().len(), 1);
}

#[tokio::test]
async fn invalid_venue_definitions_are_a_422_and_leave_no_venue_behind() {
    let app = spawn_app().await;
    let org = app.org("owner@example.org").await;
    let venues = format!("/api/v1/organizations/{}/venues", org.id);
    let r = app.post(&venues, Some(&org.owner.token), &venue_body("Good Hall")).await;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
    let good: Value = r.json().await.unwrap();

    let mutations: Vec<Mutation> = vec![
        ("an unknown time zone", |v| v["timezone"] = json!("Mars/Base")),
        ("an empty name", |v| v["name"] = json!("   ")),
        ("zero seats in a row", |v| v["seat_map"]["sections"][0]["rows"][0]["seats"] = json!(0)),
        ("a row with an empty label list", |v| v["seat_map"]["sections"][0]["rows"][0]["seats"] = json!([])),
        ("a seat label used twice in a row", |v| {
            v["seat_map"]["sections"][0]["rows"][0]["seats"] = json!(["1", "2", "1"])
        }),
        ("duplicate row labels", |v| {
            v["seat_map"]["sections"][0]["rows"] = json!([{"label": "A", "seats": 3}, {"label": "A", "seats": 2}])
        }),
        ("a section without rows", |v| v["seat_map"]["sections"][0]["rows"] = json!([])),
        ("a GA area of capacity 0", |v| v["seat_map"]["ga_areas"][0]["capacity"] = json!(0)),
        ("no seats and no GA areas", |v| v["seat_map"] = json!({"sections": [], "ga_areas": []})),
        ("an accessible seat that does not exist", |v| {
            v["seat_map"]["sections"][0]["rows"][0]["accessible"] = json!(["99"])
        }),
        ("a row of more than 1000 seats", |v| v["seat_map"]["sections"][0]["rows"][0]["seats"] = json!(1001)),
        // Answered by its count: not four billion seat labels first.
        ("a row of 4294967295 seats", |v| v["seat_map"]["sections"][0]["rows"][0]["seats"] = json!(4_294_967_295_u64)),
        ("a NUL byte in the name", |v| v["name"] = json!("Hall\u{0}One")),
        ("a line break in a section name", |v| v["seat_map"]["sections"][0]["name"] = json!("Stalls\nLeft")),
        ("a curve radius of zero", |v| v["seat_map"]["sections"][0]["curve_radius"] = json!(0.0)),
        ("a row of 100 seats curved into a circle of radius 5", |v| {
            v["seat_map"]["sections"][0]["rows"][0]["seats"] = json!(100);
            v["seat_map"]["sections"][0]["curve_radius"] = json!(5.0);
        }),
    ];
    for (what, mutate) in mutations {
        let mut body = venue_body("Bad Hall");
        mutate(&mut body);
        let r = app.post(&venues, Some(&org.owner.token), &body).await;
        expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY, &format!("a venue with {what}")).await;
    }
    assert_eq!(
        venue_ids(&app, &org).await,
        vec![good["id"].as_str().unwrap().to_owned()],
        "a rejected venue was stored"
    );
}

#[tokio::test]
async fn invalid_event_definitions_are_a_422_and_leave_no_event_behind() {
    let app = spawn_app().await;
    let f = app.fixture(1, 3, 10).await;
    let events = format!("/api/v1/organizations/{}/events", f.org.id);
    let mutations: Vec<Mutation> = vec![
        ("an unknown currency", |v| v["ticket_types"][0]["price"]["currency"] = json!("XYZ")),
        ("a negative price", |v| v["ticket_types"][0]["price"]["amount"] = json!(-100)),
        ("mixed currencies", |v| v["ticket_types"][1]["price"]["currency"] = json!("USD")),
        ("ends_at before starts_at", |v| {
            let starts = v["starts_at"].clone();
            v["starts_at"] = v["ends_at"].clone();
            v["ends_at"] = starts;
        }),
        ("ends_at equal to starts_at", |v| v["ends_at"] = v["starts_at"].clone()),
        ("an event over already", |v| {
            v["starts_at"] = json!(chrono::Utc::now() - chrono::Duration::days(3));
            v["ends_at"] = json!(chrono::Utc::now() - chrono::Duration::days(3) + chrono::Duration::hours(2));
        }),
        ("an unknown category", |v| v["category"] = json!("opera")),
        ("an empty title", |v| v["title"] = json!("  ")),
        ("a NUL byte in the title", |v| v["title"] = json!("Gala\u{0}")),
        ("a title of zero-width spaces alone", |v| v["title"] = json!("\u{200B}\u{200B}\u{FEFF}")),
        ("a ticket type named with a soft hyphen alone", |v| v["ticket_types"][0]["name"] = json!("\u{00AD}")),
        ("a ticket type with both price_zone and ga_area_id", |v| {
            v["ticket_types"][1]["price_zone"] = json!("main");
        }),
        ("a ticket type with neither price_zone nor ga_area_id", |v| {
            v["ticket_types"][0].as_object_mut().unwrap().remove("price_zone");
        }),
        ("a price zone the venue does not have", |v| v["ticket_types"][0]["price_zone"] = json!("balcony")),
        ("a GA area the venue does not have", |v| {
            v["ticket_types"][1]["ga_area_id"] = json!(uuid::Uuid::new_v4());
        }),
        ("max_per_order 0", |v| v["ticket_types"][0]["max_per_order"] = json!(0)),
        ("max_per_order above 50", |v| v["ticket_types"][0]["max_per_order"] = json!(51)),
        ("a price beyond the maximum", |v| v["ticket_types"][0]["price"]["amount"] = json!(i64::MAX)),
        ("an event lasting 200 days", |v| {
            let starts: chrono::DateTime<chrono::Utc> = serde_json::from_value(v["starts_at"].clone()).unwrap();
            v["ends_at"] = json!(starts + Duration::days(200));
        }),
        ("a date beyond what a timestamp holds", |v| {
            v["starts_at"] = json!("+262143-01-01T00:00:00Z");
            v["ends_at"] = json!("+262143-01-01T03:00:00Z");
        }),
        ("an event in year 9999", |v| {
            v["starts_at"] = json!("9999-12-30T19:00:00Z");
            v["ends_at"] = json!("9999-12-30T23:00:00Z");
        }),
        ("two ticket types with one name", |v| v["ticket_types"][1]["name"] = json!("Seated")),
        ("sales ending before they start", |v| {
            v["ticket_types"][0]["sales_start"] = json!("2031-01-02T00:00:00Z");
            v["ticket_types"][0]["sales_end"] = json!("2031-01-01T00:00:00Z");
        }),
        ("sales that open when the event has ended", |v| v["ticket_types"][0]["sales_start"] = v["ends_at"].clone()),
        ("sales that open in a negative year", |v| {
            v["ticket_types"][0]["sales_start"] = json!("-9999-01-01T00:00:00Z");
        }),
        ("sales that are over already", |v| {
            v["ticket_types"][0]["sales_start"] = json!("2020-01-01T00:00:00Z");
            v["ticket_types"][0]["sales_end"] = json!("2020-01-02T00:00:00Z");
        }),
    ];
    for (what, mutate) in mutations {
        let mut body = event_body(&app, &f.venue_id, &f.ga_area);
        mutate(&mut body);
        let r = app.post(&events, Some(&f.org.owner.token), &body).await;
        expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY, &format!("an event with {what}")).await;
    }
    assert_eq!(org_event_ids(&app, &f.org).await, vec![f.event_id.clone()], "a rejected event was stored");
    // The unmodified body is accepted: the 422s were about the changes.
    let r = app.post(&events, Some(&f.org.owner.token), &event_body(&app, &f.venue_id, &f.ga_area)).await;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
}

#[tokio::test]
async fn bad_query_parameters_on_the_event_listing_are_a_400() {
    let app = spawn_app().await;
    app.fixture(1, 2, 5).await;
    for query in [
        "cursor=garbage",
        "cursor=Zm9vOmJhcg",
        "from=notadate",
        "to=2030-13-45",
        "category=opera",
        "limit=0",
        "limit=-1",
        "limit=many",
        "from=2030-02-01T00:00:00Z&to=2030-01-01T00:00:00Z",
    ] {
        let r = app.get(&format!("/api/v1/events?{query}"), None).await;
        expect_problem(r, StatusCode::BAD_REQUEST, &format!("GET /api/v1/events?{query}")).await;
    }
    let long = "a".repeat(201);
    let r = app.get(&format!("/api/v1/events?q={long}"), None).await;
    expect_problem(r, StatusCode::BAD_REQUEST, "a search text of 201 characters").await;
    // The home page's search box says so too, as the asker's mistake.
    let r = app.get(&format!("/?q={long}"), None).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("at most 200 characters"));
    // Sane parameters work.
    let r = app.get("/api/v1/events?limit=1&category=concert&from=2000-01-01T00:00:00Z", None).await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let page: Value = r.json().await.unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 1, "{page}");
}

#[tokio::test]
async fn invalid_registrations_are_refused_and_create_no_account() {
    let app = spawn_app().await;
    let cases = [
        ("a malformed e-mail", json!({"email": "not-an-email", "password": PASSWORD, "name": "A"})),
        ("an e-mail without a domain", json!({"email": "someone@", "password": PASSWORD, "name": "A"})),
        ("a 3-character password", json!({"email": "short@example.org", "password": "abc", "name": "A"})),
        ("an empty name", json!({"email": "noname@example.org", "password": PASSWORD, "name": " "})),
        ("no password", json!({"email": "nopass@example.org", "name": "A"})),
        ("a 300-byte password", json!({"email": "long@example.org", "password": "p".repeat(300), "name": "A"})),
    ];
    for (what, body) in &cases {
        let r = app.post("/api/v1/auth/register", None, body).await;
        expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY, &format!("registering with {what}")).await;
    }
    let r = app.post("/api/v1/auth/login", None, &json!({"email": "short@example.org", "password": "abc"})).await;
    expect_problem(r, StatusCode::UNAUTHORIZED, "signing in to the refused account").await;

    let first = app.signup("taken@example.org").await;
    let r = app
        .post(
            "/api/v1/auth/register",
            None,
            &json!({"email": "taken@example.org", "password": "another password", "name": "B"}),
        )
        .await;
    expect_problem(r, StatusCode::CONFLICT, "registering a taken e-mail").await;
    // The duplicate did not replace the first account's password.
    let r = app
        .post("/api/v1/auth/login", None, &json!({"email": "taken@example.org", "password": "another password"}))
        .await;
    expect_problem(r, StatusCode::UNAUTHORIZED, "signing in with the duplicate's password").await;
    let me: Value = app.get("/api/v1/me", Some(&first.token)).await.json().await.unwrap();
    assert_eq!(me["id"], first.id.as_str(), "{me}");
    assert_eq!(me["name"], "Test Person", "{me}");
}

#[tokio::test]
async fn a_refused_hold_leaves_its_free_seats_and_places_untouched() {
    let app = spawn_app().await;
    let f = app.fixture(1, 4, 5).await;
    let first = app.signup("first@example.org").await;
    let second = app.signup("second@example.org").await;
    let r = app.hold(&first.token, &f.event_id, &[&f.seats[0]], &[]).await;
    assert_eq!(r.status(), StatusCode::CREATED);

    let r = app.hold(&second.token, &f.event_id, &[&f.seats[1], &f.seats[0]], &[]).await;
    let p = expect_problem(r, StatusCode::CONFLICT, "a hold of a free and a held seat").await;
    assert_eq!(p["unavailable_seats"], json!([f.seats[0]]), "{p}");
    let r = app.hold(&second.token, &f.event_id, &[&f.seats[2], &f.seats[0]], &[(&f.ga_area, 3)]).await;
    expect_problem(r, StatusCode::CONFLICT, "a hold of a free seat, GA places and a held seat").await;
    let r = app.hold(&second.token, &f.event_id, &[&f.seats[3]], &[(&f.ga_area, 6)]).await;
    let p = expect_problem(r, StatusCode::CONFLICT, "a hold of a free seat and more GA places than remain").await;
    assert_eq!(p["unavailable_ga_areas"], json!([f.ga_area]), "{p}");

    let a = app.availability(&f.event_id).await;
    assert_eq!(seat_status(&a, &f.seats[0]), "held");
    for seat in &f.seats[1..] {
        assert_eq!(seat_status(&a, seat), "available", "a refused hold kept seat {seat}: {a}");
    }
    assert_eq!(ga_remaining(&a, &f.ga_area), 5, "a refused hold kept GA places: {a}");
    // The free seats really are free: the second buyer can take them now.
    let r = app.hold(&second.token, &f.event_id, &[&f.seats[1], &f.seats[2]], &[(&f.ga_area, 5)]).await;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
}

#[tokio::test]
async fn invalid_organizations_members_and_barcodes_are_refused() {
    let app = spawn_app().await;
    let f = app.fixture(1, 3, 10).await;
    let buyer = app.signup("buyer@example.org").await;
    for (what, name) in [("an empty name", String::new()), ("a 201-character name", "o".repeat(201))] {
        let r = app.post("/api/v1/organizations", Some(&buyer.token), &json!({"name": name})).await;
        expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY, &format!("an organization with {what}")).await;
    }
    let me: Value = app.get("/api/v1/me", Some(&buyer.token)).await.json().await.unwrap();
    assert_eq!(me["memberships"], json!([]), "a refused organization was created: {me}");

    let members = format!("/api/v1/organizations/{}/members", f.org.id);
    let owner = Some(f.org.owner.token.as_str());
    for (what, body, status) in [
        ("the owner role", json!({"email": buyer.email, "role": "owner"}), StatusCode::UNPROCESSABLE_ENTITY),
        ("an unknown role", json!({"email": buyer.email, "role": "superuser"}), StatusCode::UNPROCESSABLE_ENTITY),
        ("a role in the wrong case", json!({"email": buyer.email, "role": "Admin"}), StatusCode::UNPROCESSABLE_ENTITY),
        ("a malformed e-mail", json!({"email": "buyer-at-example", "role": "gate"}), StatusCode::UNPROCESSABLE_ENTITY),
        ("the owner themself", json!({"email": f.org.owner.email, "role": "gate"}), StatusCode::CONFLICT),
    ] {
        let r = app.post(&members, owner, &body).await;
        expect_problem(r, status, &format!("adding a member with {what}")).await;
    }
    let me: Value = app.get("/api/v1/me", Some(&buyer.token)).await.json().await.unwrap();
    assert_eq!(me["memberships"], json!([]), "a refused grant made a member: {me}");
    let owner_me: Value = app.get("/api/v1/me", owner).await.json().await.unwrap();
    assert_eq!(owner_me["memberships"], json!([{"organization_id": f.org.id, "role": "owner"}]), "{owner_me}");
    app.member(&f.org, "gate@example.org", "gate").await;
    let r = app.post(&members, owner, &json!({"email": "gate@example.org", "role": "admin"})).await;
    expect_problem(r, StatusCode::CONFLICT, "adding a member twice").await;

    for (what, code) in [("a 100,000-character barcode", "x".repeat(100_000)), ("a blank barcode", "   ".to_owned())] {
        let r = app.checkin(&f.org.owner.token, &f.event_id, &code).await;
        expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY, &format!("a check-in with {what}")).await;
    }
    let r = app.checkin(&f.org.owner.token, &f.event_id, "eyJhbGciOi.forged.signature").await;
    let p = expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "a check-in with a forged barcode").await;
    assert_eq!(p["result"], "invalid", "{p}");
}

#[tokio::test]
async fn a_wrong_method_is_a_405_problem() {
    let app = spawn_app().await;
    let r = app.client.put(app.url("/api/v1/events")).json(&json!({})).send().await.unwrap();
    expect_problem(r, StatusCode::METHOD_NOT_ALLOWED, "PUT /api/v1/events").await;
    let r = app.delete("/api/v1/me", None).await;
    expect_problem(r, StatusCode::METHOD_NOT_ALLOWED, "DELETE /api/v1/me").await;
}

#[tokio::test]
async fn a_venue_whose_seat_coordinates_overflow_is_refused_or_still_drawn_with_numbers() {
    let app = spawn_app().await;
    let org = app.org("owner@example.org").await;
    let venues = format!("/api/v1/organizations/{}/venues", org.id);
    // Finite, valid JSON numbers, but far enough out that laying seats out overflows f64.
    for (what, origin, radius) in [
        ("a far-away straight section", json!({"x": 1e307, "y": 1e307}), Value::Null),
        ("a far-away curved section", json!({"x": 1e307, "y": 0.0}), json!(1e307)),
    ] {
        let mut body = venue_body("Far Hall");
        body["seat_map"]["sections"][0]["origin"] = origin;
        body["seat_map"]["sections"][0]["curve_radius"] = radius;
        let r = app.post(&venues, Some(&org.owner.token), &body).await;
        if r.status() != StatusCode::CREATED {
            expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY, what).await;
            continue;
        }
        let created: Value = r.json().await.unwrap();
        let map: Value = app
            .get(&format!("/api/v1/venues/{}/seat-map", created["id"].as_str().unwrap()), None)
            .await
            .json()
            .await
            .unwrap();
        for seat in map["sections"][0]["rows"][0]["seats"].as_array().unwrap() {
            assert!(
                seat["x"].is_f64() && seat["y"].is_f64(),
                "{what}: the venue was accepted but its seat map has coordinates that are not numbers: {seat}"
            );
        }
    }
}

/// Every documented operation, called with ids that are not ids, with ids
/// that name nothing, and with real ids and a body of the wrong shape,
/// answers a 4xx problem document (or succeeds): never a 5xx.
#[tokio::test]
async fn every_documented_route_answers_garbage_with_a_4xx_never_a_5xx() {
    let app = spawn_app().await;
    let f = app.fixture(2, 5, 10).await;
    let buyer = app.signup("sweeper@example.org").await;
    let hold: Value = app.hold(&buyer.token, &f.event_id, &[&f.seats[0]], &[]).await.json().await.unwrap();
    let doc: Value = app.get("/api/v1/openapi.json", None).await.json().await.unwrap();
    let real = |name: &str| -> String {
        match name {
            "org" => f.org.id.clone(),
            "venue" => f.venue_id.clone(),
            "event" => f.event_id.clone(),
            "hold" => hold["id"].as_str().unwrap_or_default().to_owned(),
            _ => uuid::Uuid::new_v4().to_string(),
        }
    };
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let variants = [
                (fill_params(path, &|_| "not-an-id".to_owned()), json!({"surprise": [1, "x", null]})),
                (fill_params(path, &|_| "00000000-0000-0000-0000-000000000000".to_owned()), json!({"a": {}})),
                (fill_params(path, &real), json!([1, 2, 3])),
            ];
            for (concrete, body) in variants {
                if m == reqwest::Method::GET && concrete.contains("/live") {
                    continue; // a stream that is open stays open
                }
                for token in [Some(&buyer.token), Some(&f.org.owner.token)] {
                    let mut req = app.client.request(m.clone(), app.url(&concrete)).json(&body);
                    if let Some(t) = token {
                        req = req.bearer_auth(t);
                    }
                    let r = tokio::time::timeout(std::time::Duration::from_secs(10), req.send())
                        .await
                        .unwrap_or_else(|_| panic!("{method} {concrete} did not answer"))
                        .unwrap();
                    let status = r.status();
                    let content_type =
                        r.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
                    let text = r.text().await.unwrap_or_default();
                    assert!(status.as_u16() < 500, "{method} {concrete} answered {status}: {text}");
                    if status.is_client_error() {
                        assert_eq!(content_type, "application/problem+json", "{method} {concrete}: {text}");
                    }
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 300, "only {checked} calls made");
}

/// `path` with each `{name}` replaced by `value(name)`.
fn fill_params(path: &str, value: &dyn Fn(&str) -> String) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        let close = rest[open..].find('}').map(|c| open + c).expect("balanced braces");
        out.push_str(&rest[..open]);
        out.push_str(&value(&rest[open + 1..close]));
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

/// Names and addresses are one line of printable text, and an error quotes
/// what it refuses only in part: a megabyte in gives a short answer out.
#[tokio::test]
async fn control_characters_are_refused_and_errors_do_not_echo_megabytes() {
    let app = spawn_app().await;
    for (email, name) in
        [("nul\u{0}@example.org", "Ada"), ("ada@example.org", "Ada\u{0}"), ("ada@example.org", "Ada\nBob")]
    {
        let r = app
            .post("/api/v1/auth/register", None, &json!({"email": email, "password": "a-long-password", "name": name}))
            .await;
        expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY, &format!("registering {email:?} {name:?}")).await;
    }
    let huge = format!("{}@example.org", "x".repeat(1_000_000));
    let r = app
        .post("/api/v1/auth/register", None, &json!({"email": huge, "password": "a-long-password", "name": "Ada"}))
        .await;
    let p = expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "a megabyte e-mail address").await;
    assert!(
        p["detail"].as_str().unwrap().len() < 4_000,
        "the error quotes {} bytes",
        p["detail"].as_str().unwrap().len()
    );
    let r = app
        .post("/api/v1/organizations", Some(&app.signup("owner@example.org").await.token), &json!({"name": "Org\u{7}"}))
        .await;
    expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "an organization name with a bell").await;
}

/// A page address whose query does not parse (a parameter given twice, a
/// number that is none) is answered with a 400 page, as other page errors
/// are, not with bare text.
#[tokio::test]
async fn a_page_query_that_does_not_parse_is_a_400_page() {
    let app = spawn_app().await;
    let f = app.fixture(1, 4, 10).await;
    let buyer = app.signup("buyer@example.org").await;
    for path in [
        "/verify-email?token=a&token=b".to_owned(),
        "/tickets?claim=a&claim=b".to_owned(),
        "/?q=a&q=b".to_owned(),
        format!("/console/events/{}/orders?q=x&q=y", f.event_id),
    ] {
        let token = if path.starts_with("/console") { &f.org.owner.token } else { &buyer.token };
        let r = app.client.get(app.url(&path)).header("cookie", format!("rt_session={token}")).send().await;
        let r = r.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{path}");
        assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/html"), "{path}");
        assert!(r.text().await.unwrap().contains("This address is not understood"), "{path}");
    }
}

/// A field the API does not know is a 422 naming it, not silently dropped:
/// a typo in an optional field would otherwise create something other than
/// what was meant (an event without its description, a venue without its
/// standing area), and nothing is created.
#[tokio::test]
async fn unknown_fields_in_a_body_are_a_422_that_names_them() {
    let app = spawn_app().await;
    let f = app.fixture(1, 3, 10).await;
    let buyer = app.signup("buyer@example.org").await;
    let owner = Some(f.org.owner.token.as_str());
    let mut event = event_body(&app, &f.venue_id, &f.ga_area);
    event["descripton"] = json!("A typo");
    let mut typed = event_body(&app, &f.venue_id, &f.ga_area);
    typed["ticket_types"][0]["max_per_ordr"] = json!(2);
    let mut venue = venue_body("Typo Hall");
    venue["seat_map"]["ga_area"] = json!([{"name": "Floor", "capacity": 10}]);
    let cases = [
        (format!("/api/v1/organizations/{}/events", f.org.id), owner, event, "descripton"),
        (format!("/api/v1/organizations/{}/events", f.org.id), owner, typed, "max_per_ordr"),
        (format!("/api/v1/organizations/{}/venues", f.org.id), owner, venue, "ga_area"),
        (
            holds_path(&f.event_id),
            Some(buyer.token.as_str()),
            json!({"seats": [f.seats[0]], "seat": f.seats[1]}),
            "seat",
        ),
        (
            format!("/api/v1/organizations/{}/webhooks", f.org.id),
            owner,
            json!({"url": "https://hooks.example.org/rt", "event_types": ["order.paid"], "zzz": 1}),
            "zzz",
        ),
    ];
    for (path, token, body, field) in cases {
        let r = app.post(&path, token, &body).await;
        let p = expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY, &format!("{path} with {field}")).await;
        assert!(p["detail"].as_str().unwrap().contains(&format!("`{field}`")), "{p}");
    }
    let r = app
        .client
        .put(app.url(&format!("/api/v1/organizations/{}/payment-gateways", f.org.id)))
        .bearer_auth(&f.org.owner.token)
        .json(&json!({"gateways": ["test"], "fallback": true}))
        .send()
        .await
        .unwrap();
    expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "payment gateways with fallback").await;
    assert_eq!(org_event_ids(&app, &f.org).await, vec![f.event_id.clone()], "no event was created");
    assert_eq!(venue_ids(&app, &f.org).await, vec![f.venue_id.clone()], "no venue was created");
    assert_untouched(&app, &f, 10).await;
}
