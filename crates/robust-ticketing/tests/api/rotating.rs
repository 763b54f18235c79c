//! Rotating barcodes (issue 6): the holder's app shows a code that changes
//! every 15 s; a code older than a minute, or made for another ticket, is
//! refused online and in an offline gate's sync; events that rotate refuse
//! static barcodes, events that don't accept both.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Duration;
use domain::Clock;
use domain::rotating::{ROTATION_MAX_AGE_STEPS, ROTATION_STEP_SECS, rotating_code};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

/// A published event with `barcodes` ("static" or "rotating") and 4 seats.
struct Setup {
    event_id: String,
    seats: Vec<String>,
    gate: Account,
}

async fn setup(app: &TestApp, barcodes: &str) -> Setup {
    let org = app.org(&format!("owner-{}@example.org", uuid::Uuid::new_v4())).await;
    let (venue_id, seats, ga_area) = app.venue(&org, 1, 4, 10).await;
    let starts = app.clock.now() + Duration::days(30);
    let body = json!({
        "venue_id": venue_id, "title": "Rotating Gig", "description": "A test event", "category": "concert",
        "starts_at": starts, "ends_at": starts + Duration::hours(3), "barcodes": barcodes,
        "ticket_types": [
            {"name": "Seated", "price": {"amount": SEAT_PRICE, "currency": "EUR"}, "price_zone": "main", "max_per_order": 4},
            {"name": "Standing", "price": {"amount": GA_PRICE, "currency": "EUR"}, "ga_area_id": ga_area, "max_per_order": 4}
        ]
    });
    let r = app.post(&format!("/api/v1/organizations/{}/events", org.id), Some(&org.owner.token), &body).await;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
    let event: Value = r.json().await.unwrap();
    assert_eq!(event["barcodes"], barcodes);
    let event_id = event["id"].as_str().unwrap().to_owned();
    let r = app.post(&format!("/api/v1/events/{event_id}/publish"), Some(&org.owner.token), &json!({})).await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let gate = app.member(&org, &format!("gate-{}@example.org", uuid::Uuid::new_v4()), "gate").await;
    Setup { event_id, seats, gate }
}

/// A ticket as its holder sees it, with its static barcode and, when the
/// event rotates, its rotating secret.
struct Held {
    id: String,
    barcode: String,
    secret: Option<[u8; 32]>,
}

async fn held(app: &TestApp, holder: &Account, ticket: &Value) -> Held {
    let id = ticket["id"].as_str().unwrap().to_owned();
    let r = app.get(&format!("/api/v1/tickets/{id}"), Some(&holder.token)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let t: Value = r.json().await.unwrap();
    let secret = t.get("rotating").map(|r| {
        assert_eq!(r["step_secs"], ROTATION_STEP_SECS);
        URL_SAFE_NO_PAD.decode(r["secret"].as_str().unwrap()).unwrap().try_into().unwrap()
    });
    Held { id, barcode: t["barcode"].as_str().unwrap().to_owned(), secret }
}

async fn refused_because(r: reqwest::Response, reason: &str) -> Value {
    let p = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(p["result"], "invalid", "{p}");
    assert_eq!(p["reason"], reason, "{p}");
    p
}

#[tokio::test]
async fn a_live_code_admits_and_a_screenshot_older_than_a_minute_does_not() {
    let app = spawn_app().await;
    let s = setup(&app, "rotating").await;
    let buyer = app.signup("buyer@example.org").await;
    let order = app.buy(&buyer.token, &s.event_id, &[&s.seats[0], &s.seats[1]], &[]).await;
    let one = held(&app, &buyer, &order["tickets"][0]).await;
    let two = held(&app, &buyer, &order["tickets"][1]).await;
    let secret = one.secret.expect("a rotating event's ticket carries its secret");

    // The holder takes a screenshot of the live code; 61 s later it is refused
    // whatever second of its step it was taken in.
    let screenshot = rotating_code(&one.barcode, &secret, app.clock.now()).unwrap();
    app.clock.advance(Duration::seconds((ROTATION_MAX_AGE_STEPS + 1) * ROTATION_STEP_SECS + 1));
    let p = refused_because(app.checkin(&s.gate.token, &s.event_id, &screenshot).await, "code_stale").await;
    assert!(p["detail"].as_str().unwrap().contains("older than a minute"), "{p}");

    // A code for ticket one, well-formed and current, but made with ticket
    // two's secret: refused.
    let forged = rotating_code(&one.barcode, &two.secret.unwrap(), app.clock.now()).unwrap();
    refused_because(app.checkin(&s.gate.token, &s.event_id, &forged).await, "code_not_for_ticket").await;

    // The static barcode (a printout, or the old screenshot's inner part): refused.
    let p = refused_because(app.checkin(&s.gate.token, &s.event_id, &one.barcode).await, "live_code_required").await;
    assert!(p["detail"].as_str().unwrap().contains("live code"), "{p}");

    // The live code admits, once.
    let live = rotating_code(&one.barcode, &secret, app.clock.now()).unwrap();
    let r = app.checkin(&s.gate.token, &s.event_id, &live).await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["result"], "admitted");
    assert_eq!(v["ticket_id"], one.id);
    let r = app.checkin(&s.gate.token, &s.event_id, &live).await;
    assert_problem(r, StatusCode::CONFLICT).await;

    // A code from 50 s ago (within the window) still admits: a slow queue is fine.
    let earlier = rotating_code(&two.barcode, &two.secret.unwrap(), app.clock.now() - Duration::seconds(45)).unwrap();
    let r = app.checkin(&s.gate.token, &s.event_id, &earlier).await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
}

#[tokio::test]
async fn static_events_accept_printed_barcodes_and_only_holders_see_rotating_secrets() {
    let app = spawn_app().await;
    let s = setup(&app, "static").await;
    let buyer = app.signup("buyer@example.org").await;
    let order = app.buy(&buyer.token, &s.event_id, &[&s.seats[0], &s.seats[1]], &[]).await;
    let one = held(&app, &buyer, &order["tickets"][0]).await;
    assert!(one.secret.is_none(), "static events hand out no rotating secret");
    let r = app.checkin(&s.gate.token, &s.event_id, &one.barcode).await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());

    // Nobody but the holder sees a rotating ticket's secret.
    let r = setup(&app, "rotating").await;
    let order = app.buy(&buyer.token, &r.event_id, &[&r.seats[0]], &[]).await;
    let ticket = order["tickets"][0]["id"].as_str().unwrap();
    let stranger = app.signup("stranger@example.org").await;
    let resp = app.get(&format!("/api/v1/tickets/{ticket}"), Some(&stranger.token)).await;
    assert_problem(resp, StatusCode::NOT_FOUND).await;
    let listed: Value = app.get("/api/v1/me/tickets", Some(&buyer.token)).await.json().await.unwrap();
    assert!(listed["items"].as_array().unwrap().iter().all(|t| t.get("rotating").is_none()), "only per ticket");
}

#[tokio::test]
async fn the_manifest_carries_rotating_secrets_and_sync_judges_codes_by_scan_time() {
    let app = spawn_app().await;
    let s = setup(&app, "rotating").await;
    let buyer = app.signup("buyer@example.org").await;
    let order = app.buy(&buyer.token, &s.event_id, &[&s.seats[0], &s.seats[1], &s.seats[2]], &[]).await;
    let one = held(&app, &buyer, &order["tickets"][0]).await;
    let two = held(&app, &buyer, &order["tickets"][1]).await;
    let three = held(&app, &buyer, &order["tickets"][2]).await;

    let r = app.get(&format!("/api/v1/events/{}/gate-manifest", s.event_id), Some(&s.gate.token)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let m: Value = r.json().await.unwrap();
    assert_eq!(m["barcodes"], "rotating");
    assert_eq!(m["rotation_step_secs"], ROTATION_STEP_SECS);
    assert_eq!(m["rotation_max_age_steps"], ROTATION_MAX_AGE_STEPS);
    for t in [&one, &two, &three] {
        let listed = m["tickets"].as_array().unwrap().iter().find(|x| x["id"] == t.id.as_str()).expect("listed");
        assert_eq!(listed["rotating_secret"], URL_SAFE_NO_PAD.encode(t.secret.unwrap()));
    }

    // Scanned offline 10 minutes ago (20 minutes after the sale): the live
    // code then, a screenshot that was 61 s old then, a code for the wrong
    // ticket, and a static barcode.
    app.clock.advance(Duration::minutes(30));
    let t0 = chrono::SubsecRound::trunc_subsecs(app.clock.now() - Duration::minutes(10), 3);
    let live = rotating_code(&one.barcode, &one.secret.unwrap(), t0).unwrap();
    let stale = rotating_code(&two.barcode, &two.secret.unwrap(), t0 - Duration::seconds(61)).unwrap();
    let wrong = rotating_code(&three.barcode, &one.secret.unwrap(), t0).unwrap();
    let r = app
        .post(
            &format!("/api/v1/events/{}/checkins/sync", s.event_id),
            Some(&s.gate.token),
            &json!({"device_id": "gate-a", "scans": [
                {"barcode": live, "scanned_at": t0},
                {"barcode": stale, "scanned_at": t0},
                {"barcode": wrong, "scanned_at": t0},
                {"barcode": three.barcode, "scanned_at": t0},
            ]}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    let results = v["results"].as_array().unwrap();
    assert_eq!(results[0]["result"], "admitted", "{v}");
    assert_eq!(results[0]["checked_in_at"], json!(t0));
    assert_eq!((&results[1]["result"], &results[1]["reason"]), (&json!("invalid"), &json!("code_stale")), "{v}");
    assert_eq!((&results[2]["result"], &results[2]["reason"]), (&json!("invalid"), &json!("code_not_for_ticket")));
    assert_eq!((&results[3]["result"], &results[3]["reason"]), (&json!("invalid"), &json!("live_code_required")));

    // A static event's manifest says so and carries no secrets.
    let st = setup(&app, "static").await;
    app.buy(&buyer.token, &st.event_id, &[&st.seats[0]], &[]).await;
    let m: Value = app
        .get(&format!("/api/v1/events/{}/gate-manifest", st.event_id), Some(&st.gate.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(m["barcodes"], "static");
    assert!(m["tickets"][0].get("rotating_secret").is_none(), "{m}");
}

/// The ten characters a gate types when a QR code will not scan.
#[tokio::test]
async fn a_typed_entry_code_admits_once_follows_a_reissue_and_is_refused_where_codes_rotate() {
    let app = spawn_app().await;
    let s = setup(&app, "static").await;
    let buyer = app.signup("buyer@example.org").await;
    let order = app.buy(&buyer.token, &s.event_id, &[&s.seats[0], &s.seats[1], &s.seats[2]], &[]).await;
    let code = |t: &Value| t["entry_code"].as_str().unwrap().to_owned();
    let (one, two, three) = (&order["tickets"][0], &order["tickets"][1], &order["tickets"][2]);
    let derived = domain::barcode::entry_code(one["barcode"].as_str().unwrap());
    assert_eq!(code(one), domain::barcode::display_entry_code(&derived));

    // Typed as staff type it, in lower case and without the dash: admitted once.
    let r = app.checkin(&s.gate.token, &s.event_id, &code(one).replace('-', " ").to_lowercase()).await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let admitted: Value = r.json().await.unwrap();
    assert_eq!(admitted["ticket_id"], one["id"]);
    let r = app.checkin(&s.gate.token, &s.event_id, one["barcode"].as_str().unwrap()).await;
    let p = assert_problem(r, StatusCode::CONFLICT).await;
    assert_eq!(p["result"], "already_checked_in", "the code and the QR code are one ticket");

    // A typo names no ticket.
    let mut typo = code(two);
    let last = if typo.ends_with('0') { "1" } else { "0" };
    typo.replace_range(typo.len() - 1.., last);
    refused_because(app.checkin(&s.gate.token, &s.event_id, &typo).await, "unknown_entry_code").await;

    // A re-issue changes the code: the old one admits nothing, the new one does.
    let bob = app.signup("bob@example.org").await;
    let two_id = two["id"].as_str().unwrap();
    let r = app
        .post(
            &format!("/api/v1/tickets/{two_id}/transfers"),
            Some(&buyer.token),
            &json!({"to_email": "bob@example.org"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
    let offer: Value = r.json().await.unwrap();
    let r = app
        .post(&format!("/api/v1/transfers/{}/accept", offer["id"].as_str().unwrap()), Some(&bob.token), &json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let reissued: Value = r.json().await.unwrap();
    assert_ne!(code(&reissued["ticket"]), code(two));
    // The old code is answered as the old QR code is: re-issued, not a typo.
    let r = app.checkin(&s.gate.token, &s.event_id, two["barcode"].as_str().unwrap()).await;
    let old_qr = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    let r = app.checkin(&s.gate.token, &s.event_id, &code(two)).await;
    let old_code = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!((&old_code["result"], &old_code["reason"]), (&old_qr["result"], &old_qr["reason"]), "{old_code}");
    assert_ne!(old_code["reason"], "unknown_entry_code");
    let r = app.checkin(&s.gate.token, &s.event_id, &code(&reissued["ticket"])).await;
    assert_eq!(r.status(), StatusCode::OK);

    // A ticket issued before entry codes existed gets its code at start.
    sqlx::any::install_default_drivers();
    let db = sqlx::any::AnyPoolOptions::new().max_connections(1).connect(app.db_url()).await.unwrap();
    sqlx::query("UPDATE tickets SET entry_code = NULL WHERE id = $1")
        .bind(three["id"].as_str().unwrap())
        .execute(&db)
        .await
        .unwrap();
    db.close().await;
    assert_eq!(app.ticketing().store().fill_entry_codes().await.unwrap(), 1);
    assert_eq!(app.ticketing().store().fill_entry_codes().await.unwrap(), 0);

    // The manifest carries the codes for offline gates, and a typed code syncs.
    let r = app.get(&format!("/api/v1/events/{}/gate-manifest", s.event_id), Some(&s.gate.token)).await;
    let manifest: Value = r.json().await.unwrap();
    let listed = manifest["tickets"].as_array().unwrap().iter().find(|t| t["id"] == three["id"]).unwrap().clone();
    let canonical = code(three).replace('-', "");
    let event_id = domain::ids::EventId::from_uuid(s.event_id.parse().unwrap());
    assert_eq!(listed["entry_code_hash"].as_str().unwrap(), domain::barcode::entry_code_digest(event_id, &canonical));
    assert!(!manifest.to_string().contains(&canonical), "the manifest lists no code in the clear");
    // ...and the code the transferred ticket had before, so that an offline
    // gate answers it as re-issued too; not the one it has now.
    let retired = manifest["retired_entry_code_hashes"].as_array().unwrap();
    let digest = |t: &Value| domain::barcode::entry_code_digest(event_id, &code(t).replace('-', ""));
    assert_eq!(retired, &vec![json!(digest(two))], "{manifest}");
    assert!(!manifest.to_string().contains(&code(two).replace('-', "")), "retired codes are hashed too");
    let scans = json!([{"barcode": code(three), "scanned_at": app.clock.now()}]);
    let r = app
        .post(
            &format!("/api/v1/events/{}/checkins/sync", s.event_id),
            Some(&s.gate.token),
            &json!({"device_id": "gate-a", "scans": scans}),
        )
        .await;
    let synced: Value = r.json().await.unwrap();
    assert_eq!(synced["results"][0]["result"], "admitted", "{synced}");
    assert_eq!(synced["results"][0]["ticket_id"], three["id"]);

    // Where codes rotate, a typed code is as refused as a screenshot.
    let r = setup(&app, "rotating").await;
    let order = app.buy(&buyer.token, &r.event_id, &[&r.seats[0]], &[]).await;
    let ticket = &order["tickets"][0];
    refused_because(app.checkin(&r.gate.token, &r.event_id, &code(ticket)).await, "live_code_required").await;
    let resp = app.get(&format!("/api/v1/events/{}/gate-manifest", r.event_id), Some(&r.gate.token)).await;
    let manifest: Value = resp.json().await.unwrap();
    assert!(manifest["tickets"].as_array().unwrap().iter().all(|t| t.get("entry_code_hash").is_none()), "{manifest}");
}
