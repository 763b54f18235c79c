//! Compact availability: two bits a seat in seat-map order, served from a
//! snapshot at most two seconds old, with an ETag.

use base64::Engine;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;

fn code(statuses: &[u8], i: usize) -> u8 {
    (statuses[i / 4] >> (2 * (i % 4))) & 0b11
}

/// Reads the compact availability until `done` holds (the snapshot is
/// refreshed a few times a second).
async fn compact_until(app: &TestApp, event: &str, done: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    for _ in 0..60 {
        let r = app.get(&format!("/api/v1/events/{event}/availability/compact"), None).await;
        assert_eq!(r.status(), StatusCode::OK);
        last = r.json().await.unwrap();
        if done(&last) {
            return last;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("compact availability never showed what was expected: {last}");
}

#[tokio::test]
async fn compact_availability_packs_every_seat_in_map_order() {
    let app = spawn_app().await;
    let fx = app.fixture(3, 7, 40).await;
    let event = fx.event_id.as_str();
    let fresh = compact_until(&app, event, |_| true).await;
    assert_eq!(fresh["seat_count"], 21);
    assert_eq!(fresh["encoding"], "2bit-lsb");
    assert_eq!(fresh["available"], 21);

    let a = app.signup("a@example.org").await;
    app.buy(&a.token, event, &[&fx.seats[5]], &[(&fx.ga_area, 3)]).await;
    assert_eq!(app.hold(&a.token, event, &[&fx.seats[20]], &[]).await.status(), StatusCode::CREATED);
    let v = compact_until(&app, event, |v| v["held"] == 1 && v["sold"] == 1).await;
    assert_eq!(v["available"], 19);
    let statuses = base64::engine::general_purpose::STANDARD.decode(v["statuses"].as_str().unwrap()).unwrap();
    assert_eq!(statuses.len(), 6, "21 seats in 6 bytes");
    for i in 0..21 {
        let expected = match i {
            5 => 2,
            20 => 1,
            _ => 0,
        };
        assert_eq!(code(&statuses, i), expected, "seat {i}");
    }
    // The same as the full JSON says, seat by seat.
    let full = app.availability(event).await;
    for (i, seat) in full["seats"].as_array().unwrap().iter().enumerate() {
        assert_eq!(seat["id"], fx.seats[i].as_str());
        let expected = match seat["status"].as_str().unwrap() {
            "available" => 0,
            "held" => 1,
            _ => 2,
        };
        assert_eq!(code(&statuses, i), expected, "seat {i}");
    }
    assert_eq!(v["ga"][0]["remaining"], 37);

    // Unchanged: 304 for the ETag the client has.
    let r = app.get(&format!("/api/v1/events/{event}/availability/compact"), None).await;
    let etag = r.headers()["etag"].to_str().unwrap().to_owned();
    let r = app
        .client
        .get(app.url(&format!("/api/v1/events/{event}/availability/compact")))
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);

    let r = app.get(&format!("/api/v1/events/{}/availability/compact", uuid::Uuid::new_v4()), None).await;
    assert_problem(r, StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn compact_availability_shows_holds_and_sales_as_the_node_hears_of_them() {
    // The database is read once an hour here: only the live changes this
    // node hears (directly on SQLite, through the relay on PostgreSQL) can
    // show the hold and the sale.
    let app = spawn_app_with(|c| c.availability_reread_millis = 3_600_000).await;
    let fx = app.fixture(2, 5, 40).await;
    let event = fx.event_id.as_str();
    let first = compact_until(&app, event, |_| true).await;
    assert_eq!((first["available"].as_u64(), first["held"].as_u64()), (Some(10), Some(0)));
    let etag = |r: &reqwest::Response| r.headers()["etag"].to_str().unwrap().to_owned();
    let before = etag(&app.get(&format!("/api/v1/events/{event}/availability/compact"), None).await);

    let a = app.signup("a@example.org").await;
    assert_eq!(app.hold(&a.token, event, &[&fx.seats[3]], &[]).await.status(), StatusCode::CREATED);
    let held = compact_until(&app, event, |v| v["held"] == 1).await;
    let statuses = base64::engine::general_purpose::STANDARD.decode(held["statuses"].as_str().unwrap()).unwrap();
    assert_eq!(code(&statuses, 3), 1);
    let after = etag(&app.get(&format!("/api/v1/events/{event}/availability/compact"), None).await);
    assert_ne!(after, before, "a new ETag for what changed");

    app.buy(&a.token, event, &[&fx.seats[7]], &[(&fx.ga_area, 2)]).await;
    let sold = compact_until(&app, event, |v| v["sold"] == 1 && v["ga"][0]["remaining"] == 38).await;
    let statuses = base64::engine::general_purpose::STANDARD.decode(sold["statuses"].as_str().unwrap()).unwrap();
    assert_eq!((code(&statuses, 3), code(&statuses, 7)), (1, 2));
    assert_eq!((sold["available"].as_u64(), sold["held"].as_u64()), (Some(8), Some(1)));
}
