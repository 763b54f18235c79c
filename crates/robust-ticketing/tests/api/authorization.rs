//! Authorization: every protected route refuses anonymous callers and bad
//! tokens (401), organizer routes refuse the wrong role and the wrong
//! organization (403, or 404 where the resource is hidden), a buyer's holds,
//! orders and tickets are invisible to everyone else, and drafts stay private.
//! Every refusal also leaves the state as it was.

use chrono::Duration;
use domain::Clock;
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

/// Sends a request with a raw `Authorization` header (or none). Requests to
/// `POST /api/v1/orders` get a fresh Idempotency-Key so that only the
/// credentials are wrong.
async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    body: Option<&Value>,
    authorization: Option<&str>,
) -> Response {
    let mut req = app.client.request(method.clone(), app.url(path));
    if let Some(body) = body {
        req = req.json(body);
    }
    if let Some(value) = authorization {
        req = req.header("authorization", value);
    }
    if method == Method::POST && path == "/api/v1/orders" {
        req = req.header("Idempotency-Key", uuid::Uuid::new_v4().to_string());
    }
    req.send().await.expect("request sent")
}

/// Asserts a problem document with `status`, naming `what` when the status is wrong.
async fn expect_problem(r: Response, status: StatusCode, what: &str) -> Value {
    let got = r.status();
    if got != status {
        let body = r.text().await.unwrap_or_default();
        panic!("{what}: expected {status}, got {got}: {body}");
    }
    assert_problem(r, status).await
}

/// Asserts a problem document whose status is one of `allowed`.
async fn expect_refusal(r: Response, allowed: &[StatusCode], what: &str) -> Value {
    let got = r.status();
    if !allowed.contains(&got) {
        let body = r.text().await.unwrap_or_default();
        panic!("{what}: expected one of {allowed:?}, got {got}: {body}");
    }
    assert_problem(r, got).await
}

async fn json_ok(r: Response, what: &str) -> Value {
    let got = r.status();
    let body = r.text().await.unwrap();
    assert_eq!(got, StatusCode::OK, "{what}: {body}");
    serde_json::from_str(&body).expect("JSON body")
}

fn venue_body(name: &str) -> Value {
    json!({
        "name": name, "address": "2 Side Street", "timezone": "Europe/Berlin",
        "seat_map": {"sections": [{"name": "Stalls", "price_zone": "main", "rows": [{"label": "A", "seats": 4}]}],
                     "ga_areas": [{"name": "Pit", "capacity": 10}]}
    })
}

fn event_body(app: &TestApp, venue_id: &str, ga_area: &str, title: &str) -> Value {
    let starts = app.clock.now() + Duration::days(40);
    json!({
        "venue_id": venue_id, "title": title, "description": "", "category": "theatre",
        "starts_at": starts, "ends_at": starts + Duration::hours(2),
        "ticket_types": [
            {"name": "Seated", "price": {"amount": 3000, "currency": "EUR"}, "price_zone": "main", "max_per_order": 4},
            {"name": "Standing", "price": {"amount": 1500, "currency": "EUR"}, "ga_area_id": ga_area, "max_per_order": 4}
        ]
    })
}

/// Creates an event at the fixture's venue and leaves it a draft.
async fn draft_event(app: &TestApp, f: &Fixture) -> String {
    let body = event_body(app, &f.venue_id, &f.ga_area, "Secret Preview");
    let r = app.post(&format!("/api/v1/organizations/{}/events", f.org.id), Some(&f.org.owner.token), &body).await;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
    let event: Value = r.json().await.unwrap();
    assert_eq!(event["status"], "draft");
    event["id"].as_str().unwrap().to_owned()
}

/// The status of an event as its organization's owner sees it.
async fn event_status(app: &TestApp, owner: &Account, event: &str) -> String {
    let e = json_ok(app.get(&format!("/api/v1/events/{event}"), Some(&owner.token)).await, "event").await;
    e["status"].as_str().unwrap().to_owned()
}

/// The ids listed by an organization's venue listing, as its owner sees it.
async fn venue_ids(app: &TestApp, org: &Org) -> Vec<String> {
    let r = app.get(&format!("/api/v1/organizations/{}/venues", org.id), Some(&org.owner.token)).await;
    let venues = json_ok(r, "venue list").await;
    venues.as_array().unwrap().iter().map(|v| v["id"].as_str().unwrap().to_owned()).collect()
}

/// The ids listed by an organization's event listing, as its owner sees it.
async fn org_event_ids(app: &TestApp, org: &Org) -> Vec<String> {
    let r = app.get(&format!("/api/v1/organizations/{}/events", org.id), Some(&org.owner.token)).await;
    let events = json_ok(r, "organization's events").await;
    let mut ids: Vec<String> =
        events.as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_owned()).collect();
    ids.sort();
    ids
}

/// The memberships `/me` reports for an account.
async fn memberships(app: &TestApp, account: &Account) -> Vec<(String, String)> {
    let me = json_ok(app.get("/api/v1/me", Some(&account.token)).await, "/me").await;
    me["memberships"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["organization_id"].as_str().unwrap().to_owned(), m["role"].as_str().unwrap().to_owned()))
        .collect()
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

/// An organizer route: what it does, method, path, body, the statuses
/// outsiders may get, and the status the organization's gate staff get.
type OrganizerRoute<'a> = (&'static str, Method, String, Option<Value>, &'a [StatusCode], StatusCode);

/// A published event with a sold seat, a held seat, and a draft event next to it.
struct Scene {
    app: TestApp,
    f: Fixture,
    buyer: Account,
    draft: String,
    hold_id: String,
    order_id: String,
    ticket_id: String,
    barcode: String,
}

async fn scene() -> Scene {
    let app = spawn_app().await;
    let f = app.fixture(2, 4, 20).await;
    let draft = draft_event(&app, &f).await;
    let buyer = app.signup("buyer@example.org").await;
    let order = app.buy(&buyer.token, &f.event_id, &[&f.seats[0]], &[]).await;
    let r = app.hold(&buyer.token, &f.event_id, &[&f.seats[1]], &[]).await;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
    let hold: Value = r.json().await.unwrap();
    let ticket = &order["tickets"][0];
    Scene {
        order_id: order["id"].as_str().unwrap().to_owned(),
        ticket_id: ticket["id"].as_str().unwrap().to_owned(),
        barcode: ticket["barcode"].as_str().unwrap().to_owned(),
        hold_id: hold["id"].as_str().unwrap().to_owned(),
        app,
        f,
        buyer,
        draft,
    }
}

#[tokio::test]
async fn every_protected_route_answers_401_without_a_valid_token_and_changes_nothing() {
    let s = scene().await;
    let (app, f) = (&s.app, &s.f);
    let candidate = app.signup("candidate@example.org").await;
    let org = &f.org.id;
    let routes: Vec<(Method, String, Option<Value>)> = vec![
        (Method::POST, "/api/v1/auth/logout".into(), None),
        (Method::GET, "/api/v1/me".into(), None),
        (Method::POST, "/api/v1/organizations".into(), Some(json!({"name": "Sneaky Org"}))),
        (
            Method::POST,
            format!("/api/v1/organizations/{org}/members"),
            Some(json!({"email": candidate.email, "role": "gate"})),
        ),
        (Method::POST, format!("/api/v1/organizations/{org}/venues"), Some(venue_body("Sneaky Hall"))),
        (Method::GET, format!("/api/v1/organizations/{org}/venues"), None),
        (
            Method::POST,
            format!("/api/v1/organizations/{org}/events"),
            Some(event_body(app, &f.venue_id, &f.ga_area, "Sneaky Gig")),
        ),
        (Method::GET, format!("/api/v1/organizations/{org}/events"), None),
        (Method::POST, format!("/api/v1/events/{}/publish", s.draft), Some(json!({}))),
        (Method::POST, format!("/api/v1/events/{}/cancel", f.event_id), Some(json!({}))),
        (Method::POST, format!("/api/v1/events/{}/holds", f.event_id), Some(json!({"seats": [f.seats[2]], "ga": []}))),
        (Method::GET, format!("/api/v1/holds/{}", s.hold_id), None),
        (Method::DELETE, format!("/api/v1/holds/{}", s.hold_id), None),
        (
            Method::POST,
            "/api/v1/orders".into(),
            Some(json!({"hold_id": s.hold_id, "payment": {"gateway": "test", "token": "tok_ok"}})),
        ),
        (Method::GET, format!("/api/v1/orders/{}", s.order_id), None),
        (Method::GET, "/api/v1/me/orders".into(), None),
        (Method::GET, "/api/v1/me/tickets".into(), None),
        (Method::GET, format!("/api/v1/tickets/{}", s.ticket_id), None),
        (Method::GET, format!("/api/v1/tickets/{}/qr.svg", s.ticket_id), None),
        (Method::GET, format!("/api/v1/tickets/{}/qr.png", s.ticket_id), None),
        (Method::POST, format!("/api/v1/events/{}/checkins", f.event_id), Some(json!({"barcode": s.barcode}))),
    ];
    let credentials: [(&str, Option<&str>); 5] = [
        ("no Authorization header", None),
        ("an unknown bearer token", Some("Bearer nonsense")),
        ("a Basic Authorization header", Some("Basic abc")),
        ("a bearer scheme without a token", Some("Bearer ")),
        ("the token without a scheme", Some(s.buyer.token.as_str())),
    ];
    for (method, path, body) in &routes {
        for (how, authorization) in credentials {
            let r = send(app, method.clone(), path, body.as_ref(), authorization).await;
            let what = format!("{method} {path} with {how}");
            let challenge = r.headers().get("www-authenticate").map(|v| v.to_str().unwrap().to_owned());
            expect_problem(r, StatusCode::UNAUTHORIZED, &what).await;
            assert!(
                challenge.is_some_and(|c| c.to_ascii_lowercase().starts_with("bearer")),
                "{what}: a 401 must carry a 'WWW-Authenticate: Bearer' challenge"
            );
        }
    }

    // A header that is not even text is just as unauthorized.
    let garbled = reqwest::header::HeaderValue::from_bytes(b"Bearer \xff\xfe").unwrap();
    let r = app.client.get(app.url("/api/v1/me")).header("authorization", garbled).send().await.unwrap();
    expect_problem(r, StatusCode::UNAUTHORIZED, "GET /api/v1/me with a non-UTF-8 Authorization header").await;

    // Nothing happened: no member, venue, event, publication, cancellation,
    // hold, release, order, charge or check-in.
    assert!(memberships(app, &candidate).await.is_empty(), "a member was added anonymously");
    assert_eq!(venue_ids(app, &f.org).await, vec![f.venue_id.clone()], "a venue was created anonymously");
    let mut expected_events = vec![f.event_id.clone(), s.draft.clone()];
    expected_events.sort();
    assert_eq!(org_event_ids(app, &f.org).await, expected_events, "an event was created anonymously");
    assert_eq!(event_status(app, &f.org.owner, &s.draft).await, "draft");
    assert_eq!(event_status(app, &f.org.owner, &f.event_id).await, "published");
    let hold = json_ok(app.get(&format!("/api/v1/holds/{}", s.hold_id), Some(&s.buyer.token)).await, "hold").await;
    assert_eq!(hold["status"], "active", "{hold}");
    let availability = app.availability(&f.event_id).await;
    assert_eq!(seat_status(&availability, &f.seats[0]), "sold");
    assert_eq!(seat_status(&availability, &f.seats[1]), "held");
    assert_eq!(seat_status(&availability, &f.seats[2]), "available");
    assert_eq!(count_status(&availability, "available"), f.seats.len() - 2);
    assert_eq!(app.gateway.charges().len(), 1, "only the setup purchase was charged");
    let ticket =
        json_ok(app.get(&format!("/api/v1/tickets/{}", s.ticket_id), Some(&s.buyer.token)).await, "ticket").await;
    assert!(ticket["checked_in_at"].is_null(), "the ticket was checked in anonymously: {ticket}");
    // The buyer's own token still works: the 401s were about credentials.
    json_ok(app.get("/api/v1/me", Some(&s.buyer.token)).await, "/me").await;
}

#[tokio::test]
async fn public_routes_answer_without_a_token() {
    let s = scene().await;
    let (app, f) = (&s.app, &s.f);
    for path in [
        "/healthz".to_owned(),
        "/metrics".to_owned(),
        "/api/v1/openapi.json".to_owned(),
        "/api/v1/events".to_owned(),
        format!("/api/v1/events/{}", f.event_id),
        format!("/api/v1/events/{}/availability", f.event_id),
        format!("/api/v1/venues/{}/seat-map", f.venue_id),
    ] {
        let r = app.get(&path, None).await;
        assert_eq!(r.status(), StatusCode::OK, "GET {path}: {}", r.text().await.unwrap());
    }
}

#[tokio::test]
async fn buyers_gate_staff_and_other_organizations_cannot_run_an_organization() {
    let s = scene().await;
    let (app, f) = (&s.app, &s.f);
    let gate = app.member(&f.org, "gate@example.org", "gate").await;
    let rival = app.org("rival-owner@example.org").await;
    let candidate = app.signup("candidate@example.org").await;
    let org = &f.org.id;
    let forbidden = [StatusCode::FORBIDDEN];
    // Outsiders do not even see a draft, so 404 is as good as 403 there.
    let hidden_or_forbidden = [StatusCode::FORBIDDEN, StatusCode::NOT_FOUND];

    // (what, method, path, body, for outsiders, for the organization's gate staff)
    let routes: Vec<OrganizerRoute> = vec![
        (
            "add a member",
            Method::POST,
            format!("/api/v1/organizations/{org}/members"),
            Some(json!({"email": candidate.email, "role": "gate"})),
            &forbidden,
            StatusCode::FORBIDDEN,
        ),
        (
            "create a venue",
            Method::POST,
            format!("/api/v1/organizations/{org}/venues"),
            Some(venue_body("Intruder Hall")),
            &forbidden,
            StatusCode::FORBIDDEN,
        ),
        (
            "list venues",
            Method::GET,
            format!("/api/v1/organizations/{org}/venues"),
            None,
            &forbidden,
            StatusCode::FORBIDDEN,
        ),
        (
            "create an event",
            Method::POST,
            format!("/api/v1/organizations/{org}/events"),
            Some(event_body(app, &f.venue_id, &f.ga_area, "Intruder Gig")),
            &forbidden,
            StatusCode::FORBIDDEN,
        ),
        (
            "publish the draft",
            Method::POST,
            format!("/api/v1/events/{}/publish", s.draft),
            Some(json!({})),
            &hidden_or_forbidden,
            StatusCode::FORBIDDEN,
        ),
        (
            "cancel the draft",
            Method::POST,
            format!("/api/v1/events/{}/cancel", s.draft),
            Some(json!({})),
            &hidden_or_forbidden,
            StatusCode::FORBIDDEN,
        ),
        (
            "cancel the published event",
            Method::POST,
            format!("/api/v1/events/{}/cancel", f.event_id),
            Some(json!({})),
            &forbidden,
            StatusCode::FORBIDDEN,
        ),
        (
            "list the organization's events",
            Method::GET,
            format!("/api/v1/organizations/{org}/events"),
            None,
            &forbidden,
            // Gate staff are members: they may see what is on.
            StatusCode::OK,
        ),
    ];
    let bearer = |a: &Account| format!("Bearer {}", a.token);
    let outsiders = [("a buyer", bearer(&s.buyer)), ("another organization's owner", bearer(&rival.owner))];
    for (what, method, path, body, for_outsiders, for_gate) in &routes {
        for (who, authorization) in &outsiders {
            let r = send(app, method.clone(), path, body.as_ref(), Some(authorization)).await;
            expect_refusal(r, for_outsiders, &format!("{who} tries to {what}: {method} {path}")).await;
        }
        let r = send(app, method.clone(), path, body.as_ref(), Some(&bearer(&gate))).await;
        let context = format!("gate staff try to {what}: {method} {path}");
        if *for_gate == StatusCode::OK {
            assert_eq!(r.status(), StatusCode::OK, "{context}: {}", r.text().await.unwrap());
        } else {
            expect_problem(r, *for_gate, &context).await;
        }
    }

    // Everything is as it was.
    assert!(memberships(app, &candidate).await.is_empty(), "the candidate became a member");
    assert_eq!(venue_ids(app, &f.org).await, vec![f.venue_id.clone()], "a venue was created");
    assert!(venue_ids(app, &rival).await.is_empty(), "the rival's attempt created a venue in their own org");
    let mut expected_events = vec![f.event_id.clone(), s.draft.clone()];
    expected_events.sort();
    assert_eq!(org_event_ids(app, &f.org).await, expected_events, "an event was created");
    assert!(org_event_ids(app, &rival).await.is_empty(), "the rival's attempt created an event in their own org");
    assert_eq!(event_status(app, &f.org.owner, &s.draft).await, "draft", "the draft changed state");
    assert_eq!(event_status(app, &f.org.owner, &f.event_id).await, "published", "the published event changed state");
    // Still on sale: a buyer can hold a seat.
    let r = app.hold(&s.buyer.token, &f.event_id, &[&f.seats[2]], &[]).await;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
}

#[tokio::test]
async fn an_admin_cannot_grant_admin_and_gate_staff_cannot_add_members() {
    let app = spawn_app().await;
    let org = app.org("owner@example.org").await;
    let admin = app.member(&org, "admin@example.org", "admin").await;
    let gate = app.member(&org, "gate@example.org", "gate").await;
    let first = app.signup("first@example.org").await;
    let second = app.signup("second@example.org").await;
    let members = format!("/api/v1/organizations/{}/members", org.id);

    let r = app.post(&members, Some(&admin.token), &json!({"email": first.email, "role": "admin"})).await;
    expect_problem(r, StatusCode::FORBIDDEN, "an admin grants admin").await;
    for role in ["gate", "admin"] {
        let r = app.post(&members, Some(&gate.token), &json!({"email": first.email, "role": role})).await;
        expect_problem(r, StatusCode::FORBIDDEN, &format!("gate staff grant {role}")).await;
    }
    assert!(memberships(&app, &first).await.is_empty(), "a refused grant still made a member");

    // What an admin may do: add gate staff.
    let r = app.post(&members, Some(&admin.token), &json!({"email": first.email, "role": "gate"})).await;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
    assert_eq!(memberships(&app, &first).await, vec![(org.id.clone(), "gate".to_owned())]);

    // Gate staff just added still cannot add anyone.
    let r = app.post(&members, Some(&first.token), &json!({"email": second.email, "role": "gate"})).await;
    expect_problem(r, StatusCode::FORBIDDEN, "new gate staff add a member").await;
    assert!(memberships(&app, &second).await.is_empty());
    // And the admin's own role is unchanged.
    assert_eq!(memberships(&app, &admin).await, vec![(org.id.clone(), "admin".to_owned())]);
}

#[tokio::test]
async fn a_buyer_cannot_create_events() {
    let app = spawn_app().await;
    let f = app.fixture(1, 4, 10).await;
    let buyer = app.signup("buyer@example.org").await;
    let body = event_body(&app, &f.venue_id, &f.ga_area, "Buyer's Own Gig");

    let r = app.post(&format!("/api/v1/organizations/{}/events", f.org.id), Some(&buyer.token), &body).await;
    expect_problem(r, StatusCode::FORBIDDEN, "a buyer creates an event in someone's organization").await;
    let nowhere = uuid::Uuid::new_v4();
    let r = app.post(&format!("/api/v1/organizations/{nowhere}/events"), Some(&buyer.token), &body).await;
    expect_refusal(
        r,
        &[StatusCode::FORBIDDEN, StatusCode::NOT_FOUND],
        "a buyer creates an event in an organization that does not exist",
    )
    .await;

    assert_eq!(org_event_ids(&app, &f.org).await, vec![f.event_id.clone()], "an event was created");
    let listed = json_ok(app.get("/api/v1/events", None).await, "event listing").await;
    let titles: Vec<&str> = listed["items"].as_array().unwrap().iter().map(|e| e["title"].as_str().unwrap()).collect();
    assert!(!titles.contains(&"Buyer's Own Gig"), "{titles:?}");
}

#[tokio::test]
async fn only_gate_staff_of_the_events_organization_can_check_tickets_in() {
    let s = scene().await;
    let (app, f) = (&s.app, &s.f);
    let gate = app.member(&f.org, "gate@example.org", "gate").await;
    let rival = app.org("rival-owner@example.org").await;
    let rival_gate = app.member(&rival, "rival-gate@example.org", "gate").await;
    let ticket_path = format!("/api/v1/tickets/{}", s.ticket_id);

    let refusals = [
        ("the ticket's own buyer", &s.buyer),
        ("gate staff of another organization", &rival_gate),
        ("the owner of another organization", &rival.owner),
    ];
    for (who, account) in refusals {
        let r = app.checkin(&account.token, &f.event_id, &s.barcode).await;
        expect_problem(r, StatusCode::FORBIDDEN, &format!("{who} checks a ticket in")).await;
    }
    let ticket = json_ok(app.get(&ticket_path, Some(&s.buyer.token)).await, "ticket").await;
    assert!(ticket["checked_in_at"].is_null(), "a refused scan admitted the ticket: {ticket}");

    let r = app.checkin(&gate.token, &f.event_id, &s.barcode).await;
    let admitted = json_ok(r, "gate staff of the organization check in").await;
    assert_eq!(admitted["result"], "admitted", "{admitted}");
    assert_eq!(admitted["ticket_id"], s.ticket_id.as_str(), "{admitted}");
    let ticket = json_ok(app.get(&ticket_path, Some(&s.buyer.token)).await, "ticket").await;
    assert!(!ticket["checked_in_at"].is_null(), "the admitted ticket does not show its check-in: {ticket}");
}

#[tokio::test]
async fn another_users_hold_order_ticket_and_qr_codes_are_not_found() {
    let s = scene().await;
    let (app, f) = (&s.app, &s.f);
    let stranger = app.signup("stranger@example.org").await;
    let hold = format!("/api/v1/holds/{}", s.hold_id);
    let ticket = format!("/api/v1/tickets/{}", s.ticket_id);
    let private = [
        format!("/api/v1/orders/{}", s.order_id),
        ticket.clone(),
        format!("{ticket}/qr.svg"),
        format!("{ticket}/qr.png"),
        hold.clone(),
    ];
    for (who, account) in [("a stranger", &stranger), ("the event's organizer", &f.org.owner)] {
        for path in &private {
            let r = app.get(path, Some(&account.token)).await;
            expect_problem(r, StatusCode::NOT_FOUND, &format!("{who} reads GET {path}")).await;
        }
        let r = app.delete(&hold, Some(&account.token)).await;
        expect_problem(r, StatusCode::NOT_FOUND, &format!("{who} releases someone else's hold")).await;
        let r = app.order(&account.token, &s.hold_id, &uuid::Uuid::new_v4().to_string(), "tok_ok").await;
        expect_problem(r, StatusCode::NOT_FOUND, &format!("{who} pays for someone else's hold")).await;
    }
    for path in ["/api/v1/me/orders", "/api/v1/me/tickets"] {
        let mine = json_ok(app.get(path, Some(&stranger.token)).await, path).await;
        assert_eq!(mine["items"], json!([]), "GET {path} shows the stranger someone else's: {mine}");
    }

    // The hold is still the buyer's and still holds its seat; nobody was charged.
    let availability = app.availability(&f.event_id).await;
    assert_eq!(seat_status(&availability, &f.seats[1]), "held", "a stranger released the hold");
    let h = json_ok(app.get(&hold, Some(&s.buyer.token)).await, "own hold").await;
    assert_eq!(h["status"], "active", "{h}");
    assert_eq!(app.gateway.charges().len(), 1, "a stranger's order attempt was charged");

    // The buyer still sees everything of their own.
    let r = app.get(&format!("{ticket}/qr.svg"), Some(&s.buyer.token)).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "image/svg+xml");
    let r = app.get(&format!("{ticket}/qr.png"), Some(&s.buyer.token)).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "image/png");
    json_ok(app.get(&format!("/api/v1/orders/{}", s.order_id), Some(&s.buyer.token)).await, "own order").await;
    let r = app.order(&s.buyer.token, &s.hold_id, &uuid::Uuid::new_v4().to_string(), "tok_ok").await;
    assert_eq!(r.status(), StatusCode::CREATED, "the owner pays for the hold: {}", r.text().await.unwrap());
}

#[tokio::test]
async fn a_draft_event_is_hidden_from_everyone_outside_its_organization() {
    let s = scene().await;
    let (app, f) = (&s.app, &s.f);
    let admin = app.member(&f.org, "admin@example.org", "admin").await;
    let gate = app.member(&f.org, "gate@example.org", "gate").await;
    let rival = app.org("rival-owner@example.org").await;
    let event = format!("/api/v1/events/{}", s.draft);
    let availability = format!("{event}/availability");

    // The draft answers exactly like an event that does not exist.
    let missing = app.get(&format!("/api/v1/events/{}", uuid::Uuid::new_v4()), None).await;
    let missing = expect_problem(missing, StatusCode::NOT_FOUND, "an unknown event").await;
    let outsiders =
        [("anonymous", None), ("a buyer", Some(&s.buyer)), ("another organization's owner", Some(&rival.owner))];
    for (who, account) in outsiders {
        let token = account.map(|a| a.token.as_str());
        for path in [&event, &availability] {
            let r = app.get(path, token).await;
            let p = expect_problem(r, StatusCode::NOT_FOUND, &format!("{who} reads GET {path}")).await;
            assert_eq!(p["type"], missing["type"], "{who}: a draft must look like nothing at all: {p}");
        }
        if let Some(a) = account {
            let r = app.hold(&a.token, &s.draft, &[&f.seats[3]], &[]).await;
            expect_problem(r, StatusCode::NOT_FOUND, &format!("{who} holds a seat of the draft")).await;
        }
    }
    for (who, account) in [("the owner", &f.org.owner), ("an admin", &admin), ("gate staff", &gate)] {
        let e = json_ok(app.get(&event, Some(&account.token)).await, &format!("{who} reads the draft")).await;
        assert_eq!(e["status"], "draft", "{who}: {e}");
        let a = json_ok(app.get(&availability, Some(&account.token)).await, &format!("{who} reads availability")).await;
        assert_eq!(count_status(&a, "available"), f.seats.len(), "{who}: {a}");
    }
    let listed = json_ok(app.get("/api/v1/events", None).await, "event listing").await;
    let ids: Vec<&str> = listed["items"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert!(ids.contains(&f.event_id.as_str()), "{ids:?}");
    assert!(!ids.contains(&s.draft.as_str()), "the public listing shows a draft: {ids:?}");
}

#[tokio::test]
async fn a_token_stops_working_after_logout() {
    let app = spawn_app().await;
    let account = app.signup("leaving@example.org").await;
    json_ok(app.get("/api/v1/me", Some(&account.token)).await, "/me before logout").await;

    let r = app.post("/api/v1/auth/logout", Some(&account.token), &json!({})).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT, "{}", r.text().await.unwrap());

    for path in ["/api/v1/me", "/api/v1/me/orders", "/api/v1/me/tickets"] {
        let r = app.get(path, Some(&account.token)).await;
        expect_problem(r, StatusCode::UNAUTHORIZED, &format!("GET {path} after logout")).await;
    }
    let r = app.post("/api/v1/organizations", Some(&account.token), &json!({"name": "After Hours"})).await;
    expect_problem(r, StatusCode::UNAUTHORIZED, "creating an organization after logout").await;
    let r = app.post("/api/v1/auth/logout", Some(&account.token), &json!({})).await;
    expect_problem(r, StatusCode::UNAUTHORIZED, "logging out twice").await;

    // Signing in again gives a fresh token that works, and the account made nothing while signed out.
    let r = app.post("/api/v1/auth/login", None, &json!({"email": account.email, "password": PASSWORD})).await;
    let session = json_ok(r, "login").await;
    let token = session["access_token"].as_str().unwrap();
    assert_ne!(token, account.token);
    let me = json_ok(app.get("/api/v1/me", Some(token)).await, "/me with the new token").await;
    assert_eq!(me["memberships"], json!([]), "{me}");
}

#[tokio::test]
async fn the_team_is_listed_and_members_are_removed_by_whoever_may_add_them() {
    let app = spawn_app().await;
    let f = app.fixture(1, 4, 10).await;
    let admin = app.member(&f.org, "admin@example.org", "admin").await;
    let gate = app.member(&f.org, "gate@example.org", "gate").await;
    let buyer = app.signup("buyer@example.org").await;
    let members = format!("/api/v1/organizations/{}/members", f.org.id);

    let team = json_ok(app.get(&members, Some(&f.org.owner.token)).await, "the owner lists the team").await;
    let listed: Vec<(String, String)> = team
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["email"].as_str().unwrap().to_owned(), m["role"].as_str().unwrap().to_owned()))
        .collect();
    let expected =
        [(f.org.owner.email.as_str(), "owner"), ("admin@example.org", "admin"), ("gate@example.org", "gate")];
    assert_eq!(listed, expected.map(|(e, r)| (e.to_owned(), r.to_owned())).to_vec());
    let id_of = |email: &str| {
        team.as_array().unwrap().iter().find(|m| m["email"] == email).unwrap()["user_id"].as_str().unwrap().to_owned()
    };
    let (owner_id, admin_id, gate_id) =
        (id_of(&f.org.owner.email), id_of("admin@example.org"), id_of("gate@example.org"));
    for (who, token) in [("gate staff", &gate.token), ("a buyer", &buyer.token)] {
        expect_problem(app.get(&members, Some(token)).await, StatusCode::FORBIDDEN, &format!("{who} list the team"))
            .await;
    }

    // Signing in with nowhere particular to go: organizers start at the
    // console, gate staff at the scanner, buyers at the events.
    let csrf = "c".repeat(64);
    let browser = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    for (email, landing) in
        [(f.org.owner.email.as_str(), "/console"), ("gate@example.org", "/gate"), ("buyer@example.org", "/")]
    {
        let r = browser
            .post(app.url("/signin"))
            .header("cookie", format!("rt_csrf={csrf}"))
            .form(&[("csrf", csrf.as_str()), ("email", email), ("password", PASSWORD), ("next", "/")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["location"], landing, "{email}");
    }

    // Removing follows granting: nobody removes the owner, admins remove
    // gate staff only, gate staff remove nobody.
    let member = |id: &str| format!("{members}/{id}");
    expect_problem(
        app.delete(&member(&owner_id), Some(&admin.token)).await,
        StatusCode::CONFLICT,
        "removing the owner",
    )
    .await;
    expect_problem(
        app.delete(&member(&owner_id), Some(&f.org.owner.token)).await,
        StatusCode::CONFLICT,
        "the owner leaving",
    )
    .await;
    expect_problem(
        app.delete(&member(&admin_id), Some(&admin.token)).await,
        StatusCode::FORBIDDEN,
        "an admin removes an admin",
    )
    .await;
    expect_problem(app.delete(&member(&gate_id), Some(&gate.token)).await, StatusCode::FORBIDDEN, "gate staff remove")
        .await;
    let stranger = uuid::Uuid::new_v4().to_string();
    expect_problem(
        app.delete(&member(&stranger), Some(&f.org.owner.token)).await,
        StatusCode::NOT_FOUND,
        "a non-member",
    )
    .await;
    assert_eq!(memberships(&app, &gate).await, vec![(f.org.id.clone(), "gate".to_owned())]);

    // Gate staff removed after the season lose the scanner at once.
    let order = app.buy(&buyer.token, &f.event_id, &[&f.seats[0], &f.seats[1]], &[]).await;
    app.clock.advance(Duration::minutes(10));
    let removed_at = app.clock.now();
    let r = app.delete(&member(&gate_id), Some(&admin.token)).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert!(memberships(&app, &gate).await.is_empty());
    let r = app.checkin(&gate.token, &f.event_id, order["tickets"][0]["barcode"].as_str().unwrap()).await;
    expect_problem(r, StatusCode::FORBIDDEN, "a removed gate scans").await;
    let r = app.get(&format!("/api/v1/events/{}/gate-manifest", f.event_id), Some(&gate.token)).await;
    expect_problem(r, StatusCode::FORBIDDEN, "a removed gate downloads the ticket list").await;
    // What their device admitted offline before the removal still syncs (the
    // holder is inside); what it scanned after does not.
    app.clock.advance(Duration::minutes(5));
    let scans = json!([
        {"barcode": order["tickets"][0]["barcode"], "scanned_at": removed_at - Duration::minutes(1)},
        {"barcode": order["tickets"][1]["barcode"], "scanned_at": removed_at + Duration::minutes(1)},
    ]);
    let r = app
        .post(
            &format!("/api/v1/events/{}/checkins/sync", f.event_id),
            Some(&gate.token),
            &json!({"device_id": "door-1", "scans": scans}),
        )
        .await;
    let synced = json_ok(r, "a removed gate syncs its backlog").await;
    assert_eq!(synced["results"][0]["result"], "admitted", "{synced}");
    assert_eq!(synced["results"][1]["result"], "invalid", "{synced}");
    assert_eq!(synced["results"][1]["reason"], "scanner_removed", "{synced}");
    // Nor does a scan dated before the removal of a ticket sold after it:
    // such a date is impossible, so it proves nothing.
    let later = app.buy(&buyer.token, &f.event_id, &[&f.seats[2]], &[]).await;
    let r = app
        .post(
            &format!("/api/v1/events/{}/checkins/sync", f.event_id),
            Some(&gate.token),
            &json!({"device_id": "door-1", "scans": [
                {"barcode": later["tickets"][0]["barcode"], "scanned_at": removed_at - Duration::minutes(1)}]}),
        )
        .await;
    let synced = json_ok(r, "a removed gate syncs a ticket sold after the removal").await;
    assert_eq!(synced["results"][0]["result"], "invalid", "{synced}");
    assert_eq!(synced["results"][0]["reason"], "scanner_removed", "{synced}");
    let r = app.checkin(&f.org.owner.token, &f.event_id, later["tickets"][0]["barcode"].as_str().unwrap()).await;
    assert_eq!(r.status(), StatusCode::OK, "the ticket was not used");
    let stranger = app.signup("stranger@example.org").await;
    let r = app
        .post(
            &format!("/api/v1/events/{}/checkins/sync", f.event_id),
            Some(&stranger.token),
            &json!({"device_id": "x", "scans": scans}),
        )
        .await;
    expect_problem(r, StatusCode::FORBIDDEN, "someone never on the team syncs").await;
    expect_problem(app.delete(&member(&gate_id), Some(&admin.token)).await, StatusCode::NOT_FOUND, "removing twice")
        .await;
    // The owner removes the admin.
    let r = app.delete(&member(&admin_id), Some(&f.org.owner.token)).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    expect_problem(app.get(&members, Some(&admin.token)).await, StatusCode::FORBIDDEN, "a removed admin").await;
    // A day after the removal the device has had its chance: even scans
    // dated before the removal are refused (one could date any scan so).
    let unused = app.buy(&buyer.token, &f.event_id, &[&f.seats[3]], &[]).await;
    app.clock.advance(ticketing::gate::REMOVED_SCANNER_SYNC_GRACE);
    let token = app.login(&gate.email).await;
    let r = app
        .post(
            &format!("/api/v1/events/{}/checkins/sync", f.event_id),
            Some(&token),
            &json!({"device_id": "door-1", "scans": [
                {"barcode": unused["tickets"][0]["barcode"], "scanned_at": removed_at - Duration::minutes(1)}]}),
        )
        .await;
    let synced = json_ok(r, "a removed gate syncs a day later").await;
    assert_eq!(synced["results"][0]["reason"], "scanner_removed", "{synced}");
}
