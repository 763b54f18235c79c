//! Check-in: admitted at most once, forgeries and other events refused.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use serde_json::Value;
use tokio::task::JoinSet;

use crate::helpers::*;

async fn bought_barcode(app: &TestApp, f: &Fixture, seat: usize) -> (String, String) {
    let buyer = app.signup(&format!("buyer{seat}@example.org")).await;
    let order = app.buy(&buyer.token, &f.event_id, &[&f.seats[seat]], &[]).await;
    let t = &order["tickets"][0];
    (t["id"].as_str().unwrap().to_owned(), t["barcode"].as_str().unwrap().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_ticket_scanned_by_twenty_gates_at_once_is_admitted_exactly_once() {
    let app = spawn_app().await;
    let f = app.fixture(1, 4, 10).await;
    let (ticket, barcode) = bought_barcode(&app, &f, 0).await;
    let mut gates = Vec::new();
    for i in 0..20 {
        gates.push(app.member(&f.org, &format!("gate{i}@example.org"), "gate").await);
    }
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(gates.len()));
    let mut set = JoinSet::new();
    for gate in gates {
        let (client, url, barcode, barrier) = (
            app.client.clone(),
            app.url(&format!("/api/v1/events/{}/checkins", f.event_id)),
            barcode.clone(),
            barrier.clone(),
        );
        set.spawn(async move {
            barrier.wait().await;
            let r = client
                .post(url)
                .bearer_auth(gate.token)
                .json(&serde_json::json!({"barcode": barcode}))
                .send()
                .await
                .unwrap();
            (r.status(), r.json::<Value>().await.unwrap())
        });
    }
    let results = set.join_all().await;
    let admitted: Vec<_> = results.iter().filter(|(s, _)| *s == StatusCode::OK).collect();
    assert_eq!(admitted.len(), 1, "exactly one gate admits: {results:?}");
    assert_eq!(admitted[0].1["result"], "admitted");
    assert_eq!(admitted[0].1["ticket_id"], ticket.as_str());
    let at = admitted[0].1["checked_in_at"].clone();
    for (status, body) in results.iter().filter(|(s, _)| *s != StatusCode::OK) {
        assert_eq!(*status, StatusCode::CONFLICT, "{body}");
        assert_eq!(body["result"], "already_checked_in");
        assert_eq!(body["checked_in_at"], at, "tells when it was admitted");
    }
}

#[tokio::test]
async fn forged_altered_and_foreign_barcodes_are_rejected() {
    let app = spawn_app().await;
    let f = app.fixture(1, 4, 10).await;
    let gate = app.member(&f.org, "gate@example.org", "gate").await;
    let (_, barcode) = bought_barcode(&app, &f, 0).await;

    // Every single-character change to the barcode is refused as invalid.
    let body = URL_SAFE_NO_PAD.decode(&barcode[4..]).unwrap();
    for i in [0, 1, 20, 36, 40, 100] {
        let mut bytes = body.clone();
        bytes[i] ^= 0x40;
        let altered = format!("RT1.{}", URL_SAFE_NO_PAD.encode(&bytes));
        let r = app.checkin(&gate.token, &f.event_id, &altered).await;
        let p = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(p["result"], "invalid", "byte {i} altered");
    }
    // Made up, or signed by a key that is not the event's.
    let forged_key = domain::barcode::EventKey::from_secret([7; 32]);
    let claims = domain::barcode::peek(&barcode).unwrap();
    let forged = forged_key.sign(&domain::barcode::BarcodeClaims { serial: claims.serial, ..claims });
    for code in [forged.as_str(), "RT1.AAAA", "hello", "https://example.org/ticket/1"] {
        let r = app.checkin(&gate.token, &f.event_id, code).await;
        let p = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(p["result"], "invalid", "{code}");
    }

    // A genuine ticket of another event of the same organization.
    let (other_event, _, _) = app.event(&f.org, &f.venue_id, &f.ga_area, 10).await;
    let buyer = app.signup("other@example.org").await;
    let order = app.buy(&buyer.token, &other_event, &[&f.seats[1]], &[]).await;
    let other_barcode = order["tickets"][0]["barcode"].as_str().unwrap();
    let r = app.checkin(&gate.token, &f.event_id, other_barcode).await;
    let p = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(p["result"], "wrong_event");

    // None of that admitted anything: the genuine ticket still gets in once.
    let r = app.checkin(&gate.token, &f.event_id, &barcode).await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = app.checkin(&gate.token, &other_event, other_barcode).await;
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_checked_in_ticket_shows_when_it_was_admitted() {
    let app = spawn_app().await;
    let f = app.fixture(1, 4, 10).await;
    let buyer = app.signup("buyer@example.org").await;
    let order = app.buy(&buyer.token, &f.event_id, &[&f.seats[0]], &[]).await;
    let ticket = &order["tickets"][0];
    assert!(ticket["checked_in_at"].is_null());
    let r = app.checkin(&f.org.owner.token, &f.event_id, ticket["barcode"].as_str().unwrap()).await;
    let admitted: Value = r.json().await.unwrap();
    // The gate learns where to send the holder.
    let seat = &ticket["seat"];
    let place = format!(
        "{}, row {}, seat {}",
        seat["section"].as_str().unwrap(),
        seat["row"].as_str().unwrap(),
        seat["seat"].as_str().unwrap()
    );
    assert_eq!(admitted["place"], place.as_str(), "{admitted}");
    assert_eq!(admitted["ticket_type_name"], "Seated");
    let r = app.get(&format!("/api/v1/tickets/{}", ticket["id"].as_str().unwrap()), Some(&buyer.token)).await;
    let after: Value = r.json().await.unwrap();
    assert_eq!(after["checked_in_at"], admitted["checked_in_at"]);
}
