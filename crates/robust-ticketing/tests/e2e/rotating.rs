//! Rotating barcodes in the holder's app: My tickets draws a live QR code
//! that changes every step, also with the network cut, and the code it shows
//! is admitted at the gate.

use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};

use crate::buyer::sign_in;
use crate::helpers::{App, Event, one_at_a_time, screenshot_dir, spawn_app};
use crate::webdriver::Browser;

/// A published event whose barcodes rotate: one section of 2 × 5 seats.
async fn rotating_event(app: &App) -> Event {
    let owner = app.account("owner").await;
    let org = app.post("/organizations", Some(&owner.token), json!({"name": "E2E Rotations"})).await;
    let org = org["id"].as_str().unwrap().to_owned();
    let venue = app
        .post(
            &format!("/organizations/{org}/venues"),
            Some(&owner.token),
            json!({"name": "Turning Hall", "address": "2 Quay Street", "timezone": "Europe/Berlin",
                   "seat_map": {"sections": [{"name": "Stalls", "price_zone": "stalls",
                                              "rows": [{"label": "A", "seats": 5}, {"label": "B", "seats": 5}]}],
                                "ga_areas": []}}),
        )
        .await;
    let venue_id = venue["id"].as_str().unwrap().to_owned();
    let map = app.get(&format!("/venues/{venue_id}/seat-map"), None).await;
    let starts = chrono::Utc::now() + chrono::Duration::days(14);
    let title = "Rotating Night";
    let event = app
        .post(
            &format!("/organizations/{org}/events"),
            Some(&owner.token),
            json!({"venue_id": venue_id, "title": title, "description": "Codes that turn.", "category": "concert",
                   "starts_at": starts, "ends_at": starts + chrono::Duration::hours(3), "barcodes": "rotating",
                   "ticket_types": [{"name": "Seat", "price": {"amount": 3000, "currency": "EUR"}, "price_zone": "stalls"}]}),
        )
        .await;
    assert_eq!(event["barcodes"], "rotating");
    let id = event["id"].as_str().unwrap().to_owned();
    app.post(&format!("/events/{id}/publish"), Some(&owner.token), json!({})).await;
    let seats = map["sections"][0]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["seats"].as_array().unwrap().iter())
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    Event { id, title: title.to_owned(), owner, seats }
}

/// Decodes the QR code drawn on the ticket's canvas, and returns it with the
/// code the page shows as text for manual entry.
async fn live_code(b: &Browser) -> (String, String) {
    let data_url =
        b.js("return document.querySelector('#tickets .ticket canvas.qr-live').toDataURL('image/png')", vec![]).await;
    let png = base64::engine::general_purpose::STANDARD
        .decode(data_url.as_str().unwrap().strip_prefix("data:image/png;base64,").expect("a PNG data URL"))
        .expect("base64");
    let img = image::load_from_memory(&png).expect("a PNG").to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(img);
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code on the canvas");
    let decoded = grids[0].decode().expect("the QR code decodes").1;
    let text = b.js("return document.querySelector('#tickets .ticket .live-code').textContent", vec![]).await;
    (decoded, text.as_str().unwrap().to_owned())
}

const LIVE: &str = "document.documentElement.dataset.liveCodes === '1' \
    && (document.querySelector('#tickets .ticket canvas.qr-live').dataset.code || '').startsWith('RT2.')";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn my_tickets_shows_a_live_code_that_changes_works_offline_and_is_admitted() {
    let _one = one_at_a_time().await;
    let app = spawn_app().await;
    let event = rotating_event(&app).await;
    let buyer = app.account("buyer").await;
    let order = app.buy(&buyer, &event.id, &[&event.seats[0]]).await;
    let static_barcode = order["tickets"][0]["barcode"].as_str().unwrap().to_owned();
    let b = Browser::start(&app.root, 360).await;
    sign_in(&b, &buyer.email, "/tickets").await;

    b.wait_for(LIVE, "the live code").await;
    let (first, text) = live_code(&b).await;
    assert!(first.starts_with("RT2."), "a rotating code: {first}");
    assert_eq!(first, text, "the QR code and the text for manual entry agree");
    let (inner, _, _) = domain::rotating::split_rotating(&first).expect("a well-formed rotating code");
    assert_eq!(inner, static_barcode, "it wraps the ticket's signed barcode");
    assert!(b.text("#tickets .ticket .qr-countdown").await.contains("renews in"), "a visible countdown");
    if let Some(d) = screenshot_dir() {
        b.screenshot(&d.join("tickets-rotating-360.png").display().to_string()).await;
    }
    b.wait_for(
        "navigator.serviceWorker.controller && document.documentElement.dataset.offlineReady === '1'",
        "tickets saved for offline use",
    )
    .await;

    // Cut the network and reopen the page: the code is still drawn, and
    // still changes, from the page's own copy of the secret.
    app.relay.set_cut(true);
    b.set_offline(true).await;
    b.goto("/tickets").await;
    b.wait_for(LIVE, "the live code while offline").await;
    let step: String = b
        .js("return document.querySelector('#tickets .ticket-qr').dataset.step", vec![])
        .await
        .as_str()
        .unwrap()
        .into();
    b.wait_for_within(
        &format!("document.querySelector('#tickets .ticket-qr').dataset.step !== '{step}'"),
        "the next step's code",
        Duration::from_secs(20),
    )
    .await;
    let (next, text) = live_code(&b).await;
    assert_eq!(next, text);
    assert!(next.starts_with("RT2.") && next != first, "a new code for the new step");

    // The code on screen is admitted (stale codes are refused: tests/api/rotating.rs).
    let (status, body) = app
        .call(
            reqwest::Method::POST,
            &format!("/events/{}/checkins", event.id),
            Some(&event.owner.token),
            Some(json!({"barcode": next})),
        )
        .await;
    assert_eq!((status, body["result"].as_str()), (200, Some("admitted")), "{body}");
    // A printout of the static barcode would not have been.
    let (status, body) = app
        .call(
            reqwest::Method::POST,
            &format!("/events/{}/checkins", event.id),
            Some(&event.owner.token),
            Some(json!({"barcode": static_barcode})),
        )
        .await;
    assert_eq!((status, &body["reason"]), (422, &Value::from("live_code_required")), "{body}");
    b.quit().await;
}

/// An offline gate checks rotating codes itself: the live code admits; a
/// screenshot older than a minute, a code made with another ticket's secret
/// and a static barcode are refused, each with its reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offline_gate_admits_live_codes_and_refuses_old_foreign_and_static_ones() {
    let _one = one_at_a_time().await;
    let app = spawn_app().await;
    let event = rotating_event(&app).await;
    let buyer = app.account("buyer").await;
    let order = app.buy(&buyer, &event.id, &[&event.seats[0], &event.seats[1]]).await;
    let mut held = Vec::new();
    for t in order["tickets"].as_array().unwrap() {
        let t = app.get(&format!("/tickets/{}", t["id"].as_str().unwrap()), Some(&buyer.token)).await;
        let secret: [u8; 32] = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(t["rotating"]["secret"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        held.push((t["barcode"].as_str().unwrap().to_owned(), secret));
    }
    let code = |i: usize, secret: &[u8; 32], age_secs: i64| {
        domain::rotating::rotating_code(&held[i].0, secret, chrono::Utc::now() - chrono::Duration::seconds(age_secs))
            .unwrap()
    };

    let b = Browser::start(&app.root, 360).await;
    sign_in(&b, &event.owner.email, "/gate").await;
    b.goto(&format!("/gate/{}", event.id)).await;
    b.wait_for("document.documentElement.dataset.gateManifest === '1'", "the ticket list downloaded").await;
    app.relay.set_cut(true);
    b.set_offline(true).await;
    b.wait_for("!navigator.onLine", "offline").await;

    let refused = [
        (code(0, &held[0].1, 61), "OLDER THAN A MINUTE"),
        (code(1, &held[0].1, 0), "NOT MADE FOR THIS TICKET"),
        (held[0].0.clone(), "NEEDS THE LIVE CODE"),
    ];
    for (scanned, why) in refused {
        b.fill("#barcode", &format!("{scanned}\n")).await;
        b.wait_for(
            &format!(
                "document.getElementById('scan-result').dataset.result === 'rejected' \
                 && document.getElementById('scan-result').innerText.toUpperCase().includes('{why}')"
            ),
            why,
        )
        .await;
        b.js("document.getElementById('scan-result').dataset.result = ''", vec![]).await;
    }
    b.fill("#barcode", &format!("{}\n", code(0, &held[0].1, 0))).await;
    b.wait_for(
        "document.getElementById('scan-result').dataset.result === 'admitted'",
        "the live code admitted offline",
    )
    .await;

    // Back online, the sync agrees with the gate.
    app.relay.set_cut(false);
    b.set_offline(false).await;
    b.wait_for("document.documentElement.dataset.gateQueue === '0'", "the queue synced").await;
    let stats = app.get(&format!("/events/{}/stats", event.id), Some(&event.owner.token)).await;
    assert_eq!(stats["checked_in"], 1, "{stats}");
    b.quit().await;
}
