//! Browsing events: listing, search, filters, paging, event details.

use chrono::{Duration, Utc};
use domain::Clock;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

async fn create_event(
    app: &TestApp,
    org: &Org,
    venue: &str,
    title: &str,
    category: &str,
    days: i64,
    publish: bool,
) -> String {
    let starts = Utc::now() + Duration::days(days);
    let r = app
        .post(
            &format!("/api/v1/organizations/{}/events", org.id),
            Some(&org.owner.token),
            &json!({"venue_id": venue, "title": title, "description": format!("{title} live"), "category": category,
                    "starts_at": starts, "ends_at": starts + Duration::hours(2),
                    "ticket_types": [{"name": "Seat", "price": {"amount": 1000 + days, "currency": "EUR"}, "price_zone": "main"}]}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let id = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    if publish {
        let r = app.post(&format!("/api/v1/events/{id}/publish"), Some(&org.owner.token), &json!({})).await;
        assert_eq!(r.status(), StatusCode::OK);
    }
    id
}

fn titles(page: &Value) -> Vec<String> {
    page["items"].as_array().unwrap().iter().map(|e| e["title"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn the_listing_shows_published_upcoming_events_soonest_first_with_filters_and_pages() {
    let app = spawn_app().await;
    let org = app.org("owner@example.org").await;
    let (venue, _, _) = app.venue(&org, 1, 5, 5).await;
    create_event(&app, &org, &venue, "Jazz Night", "concert", 3, true).await;
    create_event(&app, &org, &venue, "Hamlet", "theatre", 1, true).await;
    create_event(&app, &org, &venue, "Rock 50% Off", "concert", 2, true).await;
    create_event(&app, &org, &venue, "Secret Draft", "concert", 4, false).await;
    let cancelled = create_event(&app, &org, &venue, "Called Off", "comedy", 5, true).await;
    let r = app.post(&format!("/api/v1/events/{cancelled}/cancel"), Some(&org.owner.token), &json!({})).await;
    assert_eq!(r.status(), StatusCode::OK);

    let all: Value = app.get("/api/v1/events", None).await.json().await.unwrap();
    assert_eq!(titles(&all), ["Hamlet", "Rock 50% Off", "Jazz Night"]);
    assert!(all["next_cursor"].is_null());
    let first = &all["items"][0];
    assert_eq!(first["venue"]["name"], "Test Hall");
    assert_eq!(first["min_price"], json!({"amount": 1001, "currency": "EUR"}));
    // Listed "from" the cheapest price on sale: not a type whose sale has
    // ended, nor one still to come while another is on sale.
    let hamlet = first["id"].as_str().unwrap();
    let now = app.clock.now();
    let types = format!("/api/v1/events/{hamlet}/ticket-types");
    for (name, start, end) in [
        ("Preview", now - Duration::days(9), now + Duration::hours(1)),
        ("Flash", now + Duration::hours(10), now + Duration::hours(20)),
    ] {
        let body = json!({"name": name, "price": {"amount": 500, "currency": "EUR"}, "price_zone": "main",
                          "sales_start": start, "sales_end": end});
        let r = app.post(&types, Some(&org.owner.token), &body).await;
        assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
        // A type whose sales would be over before it exists is a date typed
        // wrong: refused, so that it does not sit unsellable on the event.
        if name == "Preview" {
            let preview: Value = r.json().await.unwrap();
            let over = json!({"name": "Past", "price": {"amount": 500, "currency": "EUR"}, "price_zone": "main",
                              "sales_start": now - Duration::days(9), "sales_end": now - Duration::days(8)});
            let refused = app.post(&types, Some(&org.owner.token), &over).await;
            let problem = assert_problem(refused, StatusCode::UNPROCESSABLE_ENTITY).await;
            assert!(problem["detail"].as_str().unwrap().contains("over already"), "{problem}");
            // Ending a type's sales later is how an organizer stops them.
            let ended = json!({"sales_end": now - Duration::days(8)});
            let preview = app.url(&format!("{types}/{}", preview["id"].as_str().unwrap()));
            let r = app.client.patch(preview).bearer_auth(&org.owner.token).json(&ended).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
        }
    }
    let all: Value = app.get("/api/v1/events", None).await.json().await.unwrap();
    assert_eq!(all["items"][0]["min_price"], json!({"amount": 1001, "currency": "EUR"}), "{}", all["items"][0]);

    let concerts: Value = app.get("/api/v1/events?category=concert", None).await.json().await.unwrap();
    assert_eq!(titles(&concerts), ["Rock 50% Off", "Jazz Night"]);
    let search: Value = app.get("/api/v1/events?q=jazz", None).await.json().await.unwrap();
    assert_eq!(titles(&search), ["Jazz Night"]);
    // The venue's address is searched too: a street or a city finds its events.
    let street: Value = app.get("/api/v1/events?q=test%20street", None).await.json().await.unwrap();
    assert_eq!(titles(&street), ["Hamlet", "Rock 50% Off", "Jazz Night"]);
    // Every word must match, in any order and in any of the fields.
    let words: Value = app.get("/api/v1/events?q=night%20%20JAZZ", None).await.json().await.unwrap();
    assert_eq!(titles(&words), ["Jazz Night"]);
    let across: Value = app.get("/api/v1/events?q=street%20hamlet", None).await.json().await.unwrap();
    assert_eq!(titles(&across), ["Hamlet"]);
    let none: Value = app.get("/api/v1/events?q=jazz%20hamlet", None).await.json().await.unwrap();
    assert_eq!(titles(&none), Vec::<String>::new());
    // LIKE wildcards in the query are literal text.
    let percent: Value = app.get("/api/v1/events?q=50%25", None).await.json().await.unwrap();
    assert_eq!(titles(&percent), ["Rock 50% Off"]);
    let from = (Utc::now() + Duration::hours(36)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let later: Value = app.get(&format!("/api/v1/events?from={from}"), None).await.json().await.unwrap();
    assert_eq!(titles(&later), ["Rock 50% Off", "Jazz Night"]);

    // Paging one at a time visits each event once, in order.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/events?limit=1&cursor={c}"),
            None => "/api/v1/events?limit=1".to_owned(),
        };
        let page: Value = app.get(&path, None).await.json().await.unwrap();
        seen.extend(titles(&page));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, ["Hamlet", "Rock 50% Off", "Jazz Night"]);
}

#[tokio::test]
async fn event_details_show_ticket_types_venue_and_time_zone() {
    let app = spawn_app().await;
    let f = app.fixture(1, 3, 10).await;
    let r = app.get(&format!("/api/v1/events/{}", f.event_id), None).await;
    assert_eq!(r.status(), StatusCode::OK);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["status"], "published");
    assert_eq!(e["timezone"], "Europe/Berlin");
    assert_eq!(e["venue_id"], f.venue_id.as_str());
    let types = e["ticket_types"].as_array().unwrap();
    assert_eq!(types.len(), 2);
    assert_eq!(types[0]["price"], json!({"amount": SEAT_PRICE, "currency": "EUR"}));
    assert_eq!(types[0]["price_zone"], "main");
    assert_eq!(types[1]["ga_area_id"], f.ga_area.as_str());
}

/// A client that lost the answer to an event's creation sends it again with
/// the same `Idempotency-Key` and gets the event it made, not a second one.
/// Another key, or none, makes another event; a key is per organization.
#[tokio::test]
async fn creating_an_event_again_with_its_key_answers_the_first_event() {
    let app = spawn_app().await;
    let f = app.fixture(1, 4, 10).await;
    let other = app.fixture(1, 2, 5).await;
    let create = |org: &Org, venue: &str, title: &str, key: Option<&str>| {
        let starts = app.clock.now() + Duration::days(20);
        let body = json!({"venue_id": venue, "title": title, "category": "concert",
            "starts_at": starts, "ends_at": starts + Duration::hours(2),
            "ticket_types": [{"name": "Seat", "price": {"amount": 2500, "currency": "EUR"}, "price_zone": "main"}]});
        let mut req = app.client.post(app.url(&format!("/api/v1/organizations/{}/events", org.id)));
        if let Some(k) = key {
            req = req.header("Idempotency-Key", k);
        }
        req.bearer_auth(&org.owner.token).json(&body).send()
    };
    let count = |org: &Org| {
        let path = format!("/api/v1/organizations/{}/events", org.id);
        let token = org.owner.token.clone();
        let app = &app;
        async move { app.get(&path, Some(&token)).await.json::<Value>().await.unwrap().as_array().unwrap().len() }
    };
    let first = create(&f.org, &f.venue_id, "Matinee", Some("create-matinee-1")).await.unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first: Value = first.json().await.unwrap();
    // The retry answers the first event.
    let again = create(&f.org, &f.venue_id, "Matinee", Some("create-matinee-1")).await.unwrap();
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["id"], first["id"]);
    assert_eq!(again["ticket_types"], first["ticket_types"]);
    // The key with another request is a mistake, said as such.
    let changed = create(&f.org, &f.venue_id, "Matinee (again)", Some("create-matinee-1")).await.unwrap();
    let p = assert_problem(changed, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(p["type"], "urn:robust-ticketing:problem:idempotency-key-reused", "{p}");
    assert_eq!(count(&f.org).await, 2, "the fixture's event and the matinee");
    // Retries sent at once all answer the one event they made.
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(8));
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let request = create(&f.org, &f.venue_id, "Evening", Some("create-evening"));
        let barrier = barrier.clone();
        set.spawn(async move {
            barrier.wait().await;
            request.await.unwrap()
        });
    }
    let mut ids = Vec::new();
    let mut fresh = 0;
    for r in set.join_all().await {
        assert_eq!(r.status(), StatusCode::CREATED);
        fresh += usize::from(r.headers().get("idempotent-replayed").is_none());
        ids.push(r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned());
    }
    ids.sort_unstable();
    ids.dedup();
    assert_eq!((ids.len(), fresh), (1, 1), "one event, made once: {ids:?}");
    assert_eq!(count(&f.org).await, 3);
    // Another key, or none, is another event.
    for key in [Some("create-matinee-2"), None] {
        let r = create(&f.org, &f.venue_id, "Matinee", key).await.unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        assert_ne!(r.json::<Value>().await.unwrap()["id"], first["id"]);
    }
    assert_eq!(count(&f.org).await, 5);
    // Another organization's key of the same text is its own.
    let theirs = create(&other.org, &other.venue_id, "Theirs", Some("create-matinee-1")).await.unwrap();
    assert_eq!(theirs.status(), StatusCode::CREATED);
    assert!(theirs.headers().get("idempotent-replayed").is_none());
    assert_eq!(count(&other.org).await, 2);
    // A malformed key is refused before anything is made.
    let r = create(&f.org, &f.venue_id, "Matinee", Some("has spaces")).await.unwrap();
    assert_problem(r, StatusCode::BAD_REQUEST).await;
    assert_eq!(count(&f.org).await, 5);
}

/// A venue's name and address are corrected after the fact (a typo, a
/// new street number), through the API or the console; its events show
/// the new ones. Its seat map and time zone stay. Nobody else may.
#[tokio::test]
async fn a_venues_name_and_address_are_corrected_and_its_events_show_them() {
    let app = spawn_app().await;
    let f = app.fixture(1, 4, 10).await;
    let path = format!("/api/v1/venues/{}", f.venue_id);
    let patch = |token: &str, body: Value| app.client.patch(app.url(&path)).bearer_auth(token).json(&body).send();
    let r = patch(&f.org.owner.token, json!({"address": "2 Quay Street"})).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        (&v["name"], &v["address"], &v["timezone"]),
        (&json!("Test Hall"), &json!("2 Quay Street"), &json!("Europe/Berlin"))
    );
    for bad in [
        json!({"name": "  "}),
        json!({"name": "\u{200B}"}),
        json!({"timezone": "Mars/Olympus"}),
        json!({"name": "x\ny"}),
    ] {
        let r = patch(&f.org.owner.token, bad.clone()).await.unwrap();
        assert!(
            r.status() == StatusCode::UNPROCESSABLE_ENTITY || r.status() == StatusCode::BAD_REQUEST,
            "{bad}: {}",
            r.status()
        );
    }
    // Its events' times were typed in its zone: the zone stays.
    let r = patch(&f.org.owner.token, json!({"timezone": "UTC", "name": "Renamed"})).await.unwrap();
    let p = assert_problem(r, StatusCode::CONFLICT).await;
    assert_eq!(p["type"], "urn:robust-ticketing:problem:venue-in-use", "{p}");
    let map: Value = app.get(&format!("/api/v1/venues/{}/seat-map", f.venue_id), None).await.json().await.unwrap();
    assert_eq!((&map["timezone"], &map["name"]), (&json!("Europe/Berlin"), &json!("Test Hall")), "nothing changed");
    let stranger = app.signup("stranger@example.org").await;
    let r = patch(&stranger.token, json!({"name": "Mine now"})).await.unwrap();
    assert_problem(r, StatusCode::NOT_FOUND).await;
    let gate = app.member(&f.org, "gate@example.org", "gate").await;
    assert_problem(patch(&gate.token, json!({"name": "Gate Hall"})).await.unwrap(), StatusCode::FORBIDDEN).await;

    // From the console.
    let csrf = "c".repeat(64);
    let r = app
        .client
        .post(app.url(&format!("/console/venues/{}", f.venue_id)))
        .header("cookie", format!("rt_session={}; rt_csrf={csrf}", f.org.owner.token))
        .form(&[("csrf", csrf.as_str()), ("name", "Test Hall East"), ("address", "2 Quay Street")])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success() || r.status().is_redirection(), "{}", r.status());
    // The event shows it, once the read cache (a second) has passed.
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let event: Value = app.get(&format!("/api/v1/events/{}", f.event_id), None).await.json().await.unwrap();
    assert_eq!(event["venue"]["name"], "Test Hall East", "{event}");
}

/// A venue made by mistake is deleted with its seat map, from the API or the
/// console, while no event was created at it; a deleted draft does not
/// count. One with events stays: it is where their tickets' seats are.
#[tokio::test]
async fn a_venue_without_events_is_deleted_and_one_with_events_stays() {
    let app = spawn_app().await;
    let f = app.fixture(1, 4, 10).await;
    let stranger = app.org("stranger@example.org").await;
    let gate = app.member(&f.org, "gate@example.org", "gate").await;
    let owner = Some(f.org.owner.token.as_str());
    let venues = format!("/api/v1/organizations/{}/venues", f.org.id);
    let listed = || async {
        let list: Value = app.get(&venues, owner).await.json().await.unwrap();
        list.as_array().unwrap().iter().map(|v| v["id"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
    };
    let (spare, _, _) = app.venue(&f.org, 3, 10, 20).await;
    let (drafted, _, drafted_area) = app.venue(&f.org, 1, 5, 5).await;
    // A draft made at one venue and deleted again leaves it deletable.
    let starts = app.clock.now() + Duration::days(10);
    let draft = json!({"venue_id": drafted, "title": "Try", "category": "concert", "starts_at": starts,
        "ends_at": starts + Duration::hours(2),
        "ticket_types": [{"name": "Floor", "price": {"amount": 900, "currency": "EUR"}, "ga_area_id": drafted_area}]});
    let draft: Value =
        app.post(&format!("/api/v1/organizations/{}/events", f.org.id), owner, &draft).await.json().await.unwrap();
    let draft = draft["id"].as_str().unwrap().to_owned();
    let r = app.delete(&format!("/api/v1/venues/{drafted}"), owner).await;
    let p = assert_problem(r, StatusCode::CONFLICT).await;
    assert_eq!(p["type"], "urn:robust-ticketing:problem:venue-in-use", "{p}");
    assert_eq!(app.delete(&format!("/api/v1/events/{draft}"), owner).await.status(), StatusCode::NO_CONTENT);

    // Nobody outside the owners and admins deletes one; a stranger is told
    // nothing about it.
    assert_problem(app.delete(&format!("/api/v1/venues/{spare}"), Some(&gate.token)).await, StatusCode::FORBIDDEN)
        .await;
    let r = app.delete(&format!("/api/v1/venues/{spare}"), Some(&stranger.owner.token)).await;
    assert_problem(r, StatusCode::NOT_FOUND).await;
    assert_eq!(listed().await, [f.venue_id.clone(), spare.clone(), drafted.clone()]);

    // A venue without events takes another time zone (typed wrong at first).
    let r = app
        .client
        .patch(app.url(&format!("/api/v1/venues/{spare}")))
        .bearer_auth(&f.org.owner.token)
        .json(&json!({"timezone": "America/New_York"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["timezone"], "America/New_York");

    // The venue on sale stays, with its map.
    let r = app.delete(&format!("/api/v1/venues/{}", f.venue_id), owner).await;
    assert_problem(r, StatusCode::CONFLICT).await;
    assert_eq!(app.get(&format!("/api/v1/venues/{}/seat-map", f.venue_id), None).await.status(), StatusCode::OK);

    // The others go, the spare one from the console's two-step form.
    assert_eq!(app.delete(&format!("/api/v1/venues/{drafted}"), owner).await.status(), StatusCode::NO_CONTENT);
    let csrf = "c".repeat(64);
    let cookie = format!("rt_session={}; rt_csrf={csrf}", f.org.owner.token);
    let page = app.client.get(app.url(&format!("/console/venues/{spare}"))).header("cookie", &cookie).send().await;
    let page = page.unwrap().text().await.unwrap();
    assert!(page.contains(&format!("action=\"/console/venues/{spare}/delete\"")), "the console offers to delete it");
    let page =
        app.client.get(app.url(&format!("/console/venues/{}", f.venue_id))).header("cookie", &cookie).send().await;
    let page = page.unwrap().text().await.unwrap();
    assert!(!page.contains("/delete\"") && page.contains("the venue stays"), "a venue with events offers none");
    let r = app
        .client
        .post(app.url(&format!("/console/venues/{spare}/delete")))
        .header("cookie", &cookie)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success() || r.status().is_redirection(), "{}", r.status());
    assert_eq!(listed().await, std::slice::from_ref(&f.venue_id));
    for gone in [&spare, &drafted] {
        let r = app.get(&format!("/api/v1/venues/{gone}/seat-map"), None).await;
        assert_problem(r, StatusCode::NOT_FOUND).await;
        assert_problem(app.delete(&format!("/api/v1/venues/{gone}"), owner).await, StatusCode::NOT_FOUND).await;
    }
    // The event on sale still sells.
    let buyer = app.signup("buyer@example.org").await;
    app.buy(&buyer.token, &f.event_id, &[&f.seats[0]], &[]).await;
}

/// An event created while its venue's time zone is being changed: one of
/// the two loses, so an event never ends up in a zone its times were not
/// read in.
#[tokio::test]
async fn a_time_zone_change_and_an_event_at_the_venue_never_both_go_through() {
    let app = spawn_app().await;
    let org = app.org("owner@example.org").await;
    for round in 0..6 {
        let (venue, _, area) = app.venue(&org, 1, 4, 5).await;
        let starts = app.clock.now() + Duration::days(3);
        let event = json!({"venue_id": venue, "title": format!("Race {round}"), "category": "concert",
            "starts_at": starts, "ends_at": starts + Duration::hours(2),
            "ticket_types": [{"name": "Floor", "price": {"amount": 900, "currency": "EUR"}, "ga_area_id": area}]});
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(2));
        let create = app
            .client
            .post(app.url(&format!("/api/v1/organizations/{}/events", org.id)))
            .bearer_auth(&org.owner.token)
            .json(&event)
            .send();
        let rezone = app
            .client
            .patch(app.url(&format!("/api/v1/venues/{venue}")))
            .bearer_auth(&org.owner.token)
            .json(&json!({"timezone": "Asia/Tokyo"}))
            .send();
        let (b1, b2) = (barrier.clone(), barrier);
        let (created, rezoned) = tokio::join!(
            async move {
                b1.wait().await;
                create.await.unwrap()
            },
            async move {
                b2.wait().await;
                rezone.await.unwrap()
            }
        );
        let rezoned = rezoned.status();
        assert!(rezoned == StatusCode::OK || rezoned == StatusCode::CONFLICT, "round {round}: {rezoned}");
        let map: Value = app.get(&format!("/api/v1/venues/{venue}/seat-map"), None).await.json().await.unwrap();
        match created.status() {
            // Made: in the zone the venue has now, whichever went first.
            StatusCode::CREATED => {
                let event: Value = created.json().await.unwrap();
                assert_eq!(
                    event["timezone"], map["timezone"],
                    "round {round}: the event's times were read in another zone"
                );
            }
            StatusCode::CONFLICT => assert_eq!(rezoned, StatusCode::OK, "round {round}: nothing went through"),
            other => panic!("round {round}: {other}"),
        }
    }
}

#[tokio::test]
async fn seat_maps_carry_rows_coordinates_and_accessible_seats() {
    let app = spawn_app().await;
    let org = app.org("owner@example.org").await;
    let body = json!({
        "name": "Curved Hall", "timezone": "America/New_York",
        "seat_map": {
            "sections": [
                {"name": "Orchestra", "price_zone": "front", "curve_radius": 20.0,
                 "rows": [{"label": "A", "seats": 10, "accessible": ["1", "10"]}, {"label": "B", "seats": ["101", "102", "103"]}]},
                {"name": "Circle", "price_zone": "back", "rows": [{"label": "A", "seats": 4}]}
            ],
            "ga_areas": [{"name": "Pit", "capacity": 250}]
        }
    });
    let r = app.post(&format!("/api/v1/organizations/{}/venues", org.id), Some(&org.owner.token), &body).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let created: Value = r.json().await.unwrap();
    assert_eq!(created["seat_count"], 17);
    assert_eq!(created["ga_capacity"], 250);
    let map: Value = app
        .get(&format!("/api/v1/venues/{}/seat-map", created["id"].as_str().unwrap()), None)
        .await
        .json()
        .await
        .unwrap();
    let orchestra = &map["sections"][0];
    assert_eq!(orchestra["price_zone"], "front");
    let row_a = orchestra["rows"][0]["seats"].as_array().unwrap();
    assert_eq!(row_a.len(), 10);
    assert_eq!(row_a[0]["accessible"], true);
    assert_eq!(row_a[1]["accessible"], false);
    assert!(row_a[0]["y"].as_f64().unwrap() < row_a[5]["y"].as_f64().unwrap(), "curved rows bend towards the stage");
    let row_b: Vec<_> = orchestra["rows"][1]["seats"].as_array().unwrap().iter().map(|s| s["label"].clone()).collect();
    assert_eq!(row_b, [json!("101"), json!("102"), json!("103")]);
    assert!(map["sections"][1]["rows"][0]["seats"][0]["y"].as_f64().unwrap() > row_a[5]["y"].as_f64().unwrap());
    assert_eq!(map["ga_areas"][0]["capacity"], 250);
    assert_eq!(map["timezone"], "America/New_York");
}

#[tokio::test]
async fn me_lists_memberships_and_metrics_count_business_events() {
    let app = spawn_app().await;
    let f = app.fixture(1, 2, 2).await;
    let me: Value = app.get("/api/v1/me", Some(&f.org.owner.token)).await.json().await.unwrap();
    assert_eq!(me["memberships"], json!([{"organization_id": f.org.id, "role": "owner"}]));
    let buyer = app.signup("buyer@example.org").await;
    app.buy(&buyer.token, &f.event_id, &[&f.seats[0]], &[]).await;
    // Made-up methods share one label: a client cannot add a series each.
    for made_up in ["FROBNICATE", "XYZZYQ"] {
        let method = reqwest::Method::from_bytes(made_up.as_bytes()).unwrap();
        app.client.request(method, app.url("/api/v1/events")).send().await.unwrap();
    }
    let r = app.get("/metrics", None).await;
    assert_eq!(r.status(), StatusCode::OK);
    let text = r.text().await.unwrap();
    assert!(!text.contains("FROBNICATE") && !text.contains("XYZZYQ"), "a made-up method became a label");
    assert!(text.contains("method=\"OTHER\""), "{text}");
    for metric in [
        "http_requests_total",
        "http_request_duration_seconds",
        "holds_placed_total",
        "orders_paid_total",
        "tickets_issued_total",
    ] {
        assert!(text.contains(metric), "/metrics lacks {metric}");
    }
    let health: Value = app.get("/healthz", None).await.json().await.unwrap();
    assert_eq!(health["status"], "ok");
}

/// Organizers add a ticket type during a sale and change another's price;
/// a hold keeps the price it was placed at.
#[tokio::test]
async fn ticket_types_are_added_and_changed_during_a_sale_and_holds_keep_their_price() {
    let app = spawn_app().await;
    let f = app.fixture(1, 6, 10).await;
    let owner = Some(f.org.owner.token.as_str());
    let types = format!("/api/v1/events/{}/ticket-types", f.event_id);
    let patch = |id: &str, body: Value| {
        app.client.patch(app.url(&format!("{types}/{id}"))).bearer_auth(&f.org.owner.token).json(&body).send()
    };
    let event = app.get(&format!("/api/v1/events/{}", f.event_id), None).await.json::<Value>().await.unwrap();
    let ends_at = event["ends_at"].clone();

    // Refused whole, and nothing added.
    for (what, body) in [
        (
            "a name in use, in other case",
            json!({"name": "seated", "price": {"amount": 100, "currency": "EUR"}, "price_zone": "main"}),
        ),
        (
            "a name in use, in full-width letters",
            json!({"name": "\u{FF33}eated", "price": {"amount": 100, "currency": "EUR"}, "price_zone": "main"}),
        ),
        (
            "a name in use, with a zero-width space",
            json!({"name": "Seat\u{200B}ed", "price": {"amount": 100, "currency": "EUR"}, "price_zone": "main"}),
        ),
        (
            "a zone the venue lacks",
            json!({"name": "Box", "price": {"amount": 100, "currency": "EUR"}, "price_zone": "box"}),
        ),
        (
            "another currency",
            json!({"name": "Late", "price": {"amount": 100, "currency": "USD"}, "price_zone": "main"}),
        ),
        (
            "sales opening when it has ended",
            json!({"name": "Late", "price": {"amount": 100, "currency": "EUR"}, "price_zone": "main", "sales_start": ends_at}),
        ),
        (
            "both a zone and an area",
            json!({"name": "Late", "price": {"amount": 100, "currency": "EUR"}, "price_zone": "main", "ga_area_id": f.ga_area}),
        ),
    ] {
        let r = app.post(&types, owner, &body).await;
        let p = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(p["type"], "urn:robust-ticketing:problem:invalid-event", "{what}: {p}");
    }
    let gate = app.member(&f.org, "gate@example.org", "gate").await;
    let late = json!({"name": "Late release", "price": {"amount": 9900, "currency": "EUR"}, "price_zone": "main",
                      "sales_start": app.clock.now() + Duration::hours(1)});
    assert_problem(app.post(&types, Some(&gate.token), &late).await, StatusCode::FORBIDDEN).await;
    let r = app.post(&types, owner, &late).await;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
    let added: Value = r.json().await.unwrap();
    let event = app.get(&format!("/api/v1/events/{}", f.event_id), None).await.json::<Value>().await.unwrap();
    let names: Vec<&str> =
        event["ticket_types"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Seated", "Standing", "Late release"]);
    assert_eq!(added["sales_start"], event["ticket_types"][2]["sales_start"]);

    // A buyer holds at the price of the moment; the price then rises.
    let buyer = app.signup("buyer@example.org").await;
    let r = app.hold(&buyer.token, &f.event_id, &[&f.seats[0]], &[]).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let early: Value = r.json().await.unwrap();
    assert_eq!(early["subtotal"]["amount"], SEAT_PRICE);
    let r =
        patch(&f.seat_type, json!({"price": {"amount": 6000, "currency": "EUR"}, "sales_end": null})).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let changed: Value = r.json().await.unwrap();
    assert_eq!((changed["name"].as_str(), changed["price"]["amount"].as_i64()), (Some("Seated"), Some(6000)));
    let r = app.order(&buyer.token, early["id"].as_str().unwrap(), &uuid::Uuid::new_v4().to_string(), "tok_ok").await;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
    let order: Value = r.json().await.unwrap();
    assert_eq!(order["subtotal"]["amount"], SEAT_PRICE, "the hold keeps its price");
    let r = app.hold(&buyer.token, &f.event_id, &[&f.seats[1]], &[]).await;
    let later: Value = r.json().await.unwrap();
    assert_eq!(later["subtotal"]["amount"], 6000, "a new hold pays the new price");

    // Changes are checked as additions are.
    for (what, body) in [
        ("a name in use", json!({"name": "Standing"})),
        ("another currency", json!({"price": {"amount": 6000, "currency": "USD"}})),
        ("another currency, though other types would follow", json!({"price": {"amount": 6000, "currency": "GBP"}})),
        ("a limit of 0", json!({"max_per_order": 0})),
        (
            "a window that ends before it starts",
            json!({"sales_start": app.clock.now() + Duration::days(2), "sales_end": app.clock.now() + Duration::days(1)}),
        ),
        ("what it admits", json!({"price_zone": "balcony"})),
    ] {
        let r = patch(&f.seat_type, body).await.unwrap();
        assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
        let _ = what;
    }
    let r = patch(&uuid::Uuid::new_v4().to_string(), json!({"name": "Ghost"})).await.unwrap();
    assert_problem(r, StatusCode::NOT_FOUND).await;
    let event = app.get(&format!("/api/v1/events/{}", f.event_id), None).await.json::<Value>().await.unwrap();
    assert_eq!(event["ticket_types"][0]["price"]["amount"], 6000, "refused changes changed nothing");
    assert_eq!(event["ticket_types"][0]["name"], "Seated");

    // Two changes at once both hold: each is made to the type as the other left it.
    let standing = f.ga_type.as_str();
    let (renamed, repriced) = tokio::join!(
        patch(standing, json!({"name": "Floor"})),
        patch(standing, json!({"price": {"amount": 2500, "currency": "EUR"}}))
    );
    assert_eq!((renamed.unwrap().status(), repriced.unwrap().status()), (StatusCode::OK, StatusCode::OK));
    let event = app.get(&format!("/api/v1/events/{}", f.event_id), None).await.json::<Value>().await.unwrap();
    let floor = event["ticket_types"].as_array().unwrap().iter().find(|t| t["id"] == standing).unwrap().clone();
    assert_eq!((floor["name"].as_str(), floor["price"]["amount"].as_i64()), (Some("Floor"), Some(2500)), "{floor}");

    // Over once cancelled.
    let r = app.post(&format!("/api/v1/events/{}/cancel", f.event_id), owner, &json!({})).await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = app
        .post(
            &types,
            owner,
            &json!({"name": "Encore", "price": {"amount": 100, "currency": "EUR"}, "price_zone": "main"}),
        )
        .await;
    assert_problem(r, StatusCode::CONFLICT).await;
    assert_problem(patch(&f.seat_type, json!({"name": "Renamed"})).await.unwrap(), StatusCode::CONFLICT).await;
}

/// A type whose sales ended (or have yet to open) is not offered: the event
/// page says when instead of how many are left, its seats are drawn as not
/// for sale, and its standing places have no quantity to pick.
#[tokio::test]
async fn the_event_page_offers_only_types_on_sale_now() {
    let app = spawn_app().await;
    let f = app.fixture(1, 6, 10).await;
    let page = || async {
        app.client.get(app.url(&format!("/events/{}", f.event_id))).send().await.unwrap().text().await.unwrap()
    };
    let before = page().await;
    assert!(before.contains(&format!("name=\"ga_{}\"", f.ga_area)) && !before.contains("sales ended"));
    assert!(before.contains("\"max_per_order\":10,\"on_sale\":true"), "the seat zone is on sale");
    let end = |tt: &str| {
        let path = app.url(&format!("/api/v1/events/{}/ticket-types/{tt}", f.event_id));
        let ended = json!({"sales_end": app.clock.now() - Duration::minutes(1)});
        app.client.patch(path).bearer_auth(&f.org.owner.token).json(&ended).send()
    };
    // Standing's type ends; the seats are still sold.
    assert_eq!(end(&f.ga_type).await.unwrap().status(), StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let standing_ended = page().await;
    assert_eq!(standing_ended.matches("sales ended").count(), 1, "standing's type says so");
    assert!(!standing_ended.contains(&format!("name=\"ga_{}\"", f.ga_area)), "no standing places to pick");
    assert!(standing_ended.contains("\"max_per_order\":10,\"on_sale\":true"), "the seats are still offered");
    // Then the seats' type: its zone is drawn as not for sale.
    assert_eq!(end(&f.seat_type).await.unwrap().status(), StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let all_ended = page().await;
    assert_eq!(all_ended.matches("sales ended").count(), 2, "both types say so");
    assert!(all_ended.contains("\"max_per_order\":10,\"on_sale\":false"), "{all_ended}");
    let list = app.client.get(app.url(&format!("/events/{}/seats", f.event_id))).send().await.unwrap();
    let list = list.text().await.unwrap();
    // Each seat says so, and its section's tab.
    assert_eq!(list.matches("not on sale now").count(), f.seats.len() + 1, "the seat list offers none");
    // "Best available" says why it finds nothing: not sold out, not on sale.
    let buyer = app.signup("buyer@example.org").await;
    let r = app
        .post(
            &format!("/api/v1/events/{}/holds", f.event_id),
            Some(&buyer.token),
            &json!({"best_available": {"count": 1}}),
        )
        .await;
    let p = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(p["detail"].as_str().unwrap().contains("not on sale now"), "{p}");
}

/// Organizers fix an event's details after creating it; its date moves only
/// while nothing is sold, since a postponement must reach its buyers.
/// A ticket type made by mistake is deleted; one held or sold stays (its
/// sales window ends instead), and an event on sale keeps at least one.
#[tokio::test]
async fn a_ticket_type_nobody_bought_is_deleted_and_the_last_one_on_sale_stays() {
    let app = spawn_app().await;
    let f = app.fixture(1, 6, 10).await;
    let owner = Some(f.org.owner.token.as_str());
    let types = format!("/api/v1/events/{}/ticket-types", f.event_id);
    let delete = |id: &str| app.client.delete(app.url(&format!("{types}/{id}"))).bearer_auth(&f.org.owner.token).send();
    let body = json!({"name": "Typo", "price": {"amount": 100, "currency": "EUR"}, "price_zone": "main"});
    let made: Value = app.post(&types, owner, &body).await.json().await.unwrap();
    let typo = made["id"].as_str().unwrap();

    // From the console too (its Delete button on the type's page).
    let console: Value = app
        .post(
            &types,
            owner,
            &json!({"name": "Typo 2", "price": {"amount": 100, "currency": "EUR"},
        "price_zone": "main"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let csrf = "c".repeat(64);
    let r = app
        .client
        .post(app.url(&format!(
            "/console/events/{}/ticket-types/{}/delete",
            f.event_id,
            console["id"].as_str().unwrap()
        )))
        .header("cookie", format!("rt_session={}; rt_csrf={csrf}", f.org.owner.token))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success() || r.status().is_redirection(), "{}", r.status());
    let event: Value = app.get(&format!("/api/v1/events/{}", f.event_id), None).await.json().await.unwrap();
    assert!(!event.to_string().contains("Typo 2"), "{event}");

    // Others may not.
    let buyer = app.signup("buyer@example.org").await;
    let r = app.client.delete(app.url(&format!("{types}/{typo}"))).bearer_auth(&buyer.token).send().await.unwrap();
    assert!(r.status() == StatusCode::FORBIDDEN || r.status() == StatusCode::NOT_FOUND, "{}", r.status());
    assert_eq!(delete(typo).await.unwrap().status(), StatusCode::NO_CONTENT);
    let event: Value = app.get(&format!("/api/v1/events/{}", f.event_id), None).await.json().await.unwrap();
    assert!(!event.to_string().contains("Typo"), "{event}");
    assert_problem(delete(typo).await.unwrap(), StatusCode::NOT_FOUND).await;

    // Sold once: it stays, as the record of the sale.
    app.buy(&buyer.token, &f.event_id, &[&f.seats[0]], &[]).await;
    let p = assert_problem(delete(&f.seat_type).await.unwrap(), StatusCode::CONFLICT).await;
    assert!(p["type"].as_str().unwrap().ends_with("ticket-type-in-use"), "{p}");
    // The last type of an event on sale stays too.
    let only = app.fixture(1, 2, 1).await;
    let r = app.client.delete(app.url(&format!("/api/v1/events/{}/ticket-types/{}", only.event_id, only.ga_type)));
    assert_eq!(r.bearer_auth(&only.org.owner.token).send().await.unwrap().status(), StatusCode::NO_CONTENT);
    let r = app.client.delete(app.url(&format!("/api/v1/events/{}/ticket-types/{}", only.event_id, only.seat_type)));
    let p = assert_problem(r.bearer_auth(&only.org.owner.token).send().await.unwrap(), StatusCode::CONFLICT).await;
    assert!(p["type"].as_str().unwrap().ends_with("last-ticket-type"), "{p}");
}

#[tokio::test]
async fn an_event_is_edited_and_its_date_moves_only_while_unsold() {
    let app = spawn_app().await;
    let f = app.fixture(1, 4, 10).await;
    let path = format!("/api/v1/events/{}", f.event_id);
    let patch = |token: &str, body: Value| app.client.patch(app.url(&path)).bearer_auth(token).json(&body).send();
    let owner = f.org.owner.token.as_str();
    let before = app.get(&path, None).await.json::<Value>().await.unwrap();
    let starts: chrono::DateTime<Utc> = before["starts_at"].as_str().unwrap().parse().unwrap();

    let r = patch(owner, json!({"title": "Test Gig: Late Show", "description": "Doors at 8.", "category": "comedy"}))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let r = patch(
        owner,
        json!({"starts_at": starts + Duration::days(1), "ends_at": starts + Duration::days(1) + Duration::hours(3)}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let after = app.get(&path, None).await.json::<Value>().await.unwrap();
    assert_eq!((after["title"].as_str(), after["category"].as_str()), (Some("Test Gig: Late Show"), Some("comedy")));
    let moved: chrono::DateTime<Utc> = after["starts_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(moved, starts + Duration::days(1));

    for (what, body) in [
        ("an empty title", json!({"title": "  "})),
        ("an end before the start", json!({"ends_at": starts - Duration::days(2)})),
        ("an unknown category", json!({"category": "opera"})),
        ("a start in year 9999", json!({"starts_at": "9999-01-01T19:00:00Z", "ends_at": "9999-01-01T22:00:00Z"})),
        ("a field that is not there", json!({"venue_id": f.venue_id})),
    ] {
        let r = patch(owner, body).await.unwrap();
        let p = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
        let _ = (what, p);
    }
    let gate = app.member(&f.org, "gate@example.org", "gate").await;
    assert_problem(patch(&gate.token, json!({"title": "Mine"})).await.unwrap(), StatusCode::FORBIDDEN).await;

    // Sold: the words may change, the date may not.
    let buyer = app.signup("buyer@example.org").await;
    app.buy(&buyer.token, &f.event_id, &[&f.seats[0]], &[]).await;
    let r = patch(
        owner,
        json!({"starts_at": starts + Duration::days(7), "ends_at": starts + Duration::days(7) + Duration::hours(3)}),
    )
    .await
    .unwrap();
    let p = assert_problem(r, StatusCode::CONFLICT).await;
    assert!(p["type"].as_str().unwrap().ends_with("event-sold"), "{p}");
    let r = patch(owner, json!({"title": "Test Gig: Sold Out"})).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let now = app.get(&path, None).await.json::<Value>().await.unwrap();
    assert_eq!(now["starts_at"], after["starts_at"], "the date stayed");
    assert_eq!(now["title"], "Test Gig: Sold Out");

    // Over once cancelled.
    let r = app.post(&format!("{path}/cancel"), Some(owner), &json!({})).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_problem(patch(owner, json!({"title": "Encore"})).await.unwrap(), StatusCode::CONFLICT).await;
}

#[tokio::test]
async fn a_draft_is_deleted_with_everything_it_had_and_an_event_that_went_on_sale_is_not() {
    let app = spawn_app().await;
    let f = app.fixture(1, 4, 5).await;
    let gate = app.member(&f.org, "gate@example.org", "gate").await;
    let outsider = app.signup("outsider@example.org").await;
    let draft = create_event(&app, &f.org, &f.venue_id, "Never Mind", "concert", 20, false).await;
    // Things a draft can have before it goes on sale: sale settings and more ticket types.
    let r = app
        .client
        .put(app.url(&format!("/api/v1/events/{draft}/sale-controls")))
        .bearer_auth(&f.org.owner.token)
        .json(&json!({"waiting_room": "on", "tickets_per_account_max": 4}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let r = app
        .post(
            &format!("/api/v1/events/{draft}/ticket-types"),
            Some(&f.org.owner.token),
            &json!({"name": "Early", "price": {"amount": 1000, "currency": "EUR"}, "price_zone": "main"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());

    let path = format!("/api/v1/events/{draft}");
    assert_problem(app.delete(&path, Some(&gate.token)).await, StatusCode::FORBIDDEN).await;
    let r = app.delete(&path, Some(&outsider.token)).await;
    let status = r.status();
    assert!(matches!(status, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND), "{status}");
    assert_problem(r, status).await;
    assert_problem(app.delete(&path, None).await, StatusCode::UNAUTHORIZED).await;

    assert_eq!(app.delete(&path, Some(&f.org.owner.token)).await.status(), StatusCode::NO_CONTENT);
    assert_problem(app.get(&path, Some(&f.org.owner.token)).await, StatusCode::NOT_FOUND).await;
    assert_problem(app.delete(&path, Some(&f.org.owner.token)).await, StatusCode::NOT_FOUND).await;
    let r = app.get(&format!("/api/v1/organizations/{}/events", f.org.id), Some(&f.org.owner.token)).await;
    let listed: Value = r.json().await.unwrap();
    assert!(!listed.to_string().contains(&draft), "{listed}");

    // A published event is cancelled, never deleted: it stays, with its sales.
    let buyer = app.signup("buyer@example.org").await;
    app.buy(&buyer.token, &f.event_id, &[&f.seats[0]], &[]).await;
    let path = format!("/api/v1/events/{}", f.event_id);
    let p = assert_problem(app.delete(&path, Some(&f.org.owner.token)).await, StatusCode::CONFLICT).await;
    assert!(p["detail"].as_str().unwrap().contains("cancel"), "{p}");
    assert_eq!(app.get(&path, None).await.status(), StatusCode::OK);
}

/// A draft whose every ticket type's sales are over would be listed without
/// anything to sell: publishing it is refused until a sales window is open.
#[tokio::test]
async fn a_draft_whose_sales_are_all_over_is_not_published() {
    let app = spawn_app().await;
    let org = app.org("owner@example.org").await;
    let (venue, _, _) = app.venue(&org, 1, 5, 5).await;
    let starts = app.clock.now() + Duration::days(10);
    let body = json!({"venue_id": venue, "title": "Closed", "category": "concert",
        "starts_at": starts, "ends_at": starts + Duration::hours(2),
        "ticket_types": [{"name": "Seat", "price": {"amount": 1000, "currency": "EUR"}, "price_zone": "main"}]});
    let event: Value = app
        .post(&format!("/api/v1/organizations/{}/events", org.id), Some(&org.owner.token), &body)
        .await
        .json()
        .await
        .unwrap();
    let id = event["id"].as_str().unwrap();
    let tt = event["ticket_types"][0]["id"].as_str().unwrap();
    let path = app.url(&format!("/api/v1/events/{id}/ticket-types/{tt}"));
    let end = |at: chrono::DateTime<Utc>| {
        app.client.patch(path.clone()).bearer_auth(&org.owner.token).json(&json!({"sales_end": at})).send()
    };
    assert_eq!(end(app.clock.now() - Duration::minutes(1)).await.unwrap().status(), StatusCode::OK);
    let publish = format!("/api/v1/events/{id}/publish");
    let r = app.post(&publish, Some(&org.owner.token), &json!({})).await;
    let p = assert_problem(r, StatusCode::CONFLICT).await;
    assert!(p["detail"].as_str().unwrap().contains("sales of every ticket type are over"), "{p}");
    assert_eq!(end(app.clock.now() + Duration::days(5)).await.unwrap().status(), StatusCode::OK);
    assert_eq!(app.post(&publish, Some(&org.owner.token), &json!({})).await.status(), StatusCode::OK);
}

/// The console's venue form sent twice (Back and Create again, or a double
/// press) makes one venue: the form's own key finds the venue it made.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_venue_form_sent_twice_makes_one_venue() {
    let app = spawn_app().await;
    let org = app.org("owner@example.org").await;
    let csrf = "c".repeat(64);
    let cookie = format!("rt_session={}; rt_csrf={csrf}", org.owner.token);
    let key = uuid::Uuid::new_v4().to_string();
    let form = [
        ("csrf", csrf.as_str()),
        ("form_key", key.as_str()),
        ("name", "Twin Hall"),
        ("address", "1 Main Street"),
        ("timezone", "Europe/Berlin"),
        ("section_name", "Stalls"),
        ("section_zone", "stalls"),
        ("section_rows", "2"),
        ("section_seats", "5"),
        ("section_shape", "straight"),
        ("section_radius", ""),
    ];
    let no_follow = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let send = || no_follow.post(app.url("/console/venues/new")).header("cookie", cookie.clone()).form(&form).send();
    let (a, b, c) = tokio::join!(send(), send(), send());
    let mut to = Vec::new();
    for r in [a, b, c] {
        let r = r.unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        to.push(r.headers()["location"].to_str().unwrap().to_owned());
    }
    assert!(to.iter().all(|l| *l == to[0]), "each answer names the one venue: {to:?}");
    let venue_count = || async {
        let r = app.get(&format!("/api/v1/organizations/{}/venues", org.id), Some(&org.owner.token)).await;
        r.json::<Value>().await.unwrap().as_array().unwrap().len()
    };
    assert_eq!(venue_count().await, 1);
    // Another form page's key makes another venue.
    let other = uuid::Uuid::new_v4().to_string();
    let mut form2 = form;
    form2[1] = ("form_key", other.as_str());
    let r = no_follow.post(app.url("/console/venues/new")).header("cookie", cookie.clone()).form(&form2).send().await;
    assert_eq!(r.unwrap().status(), StatusCode::SEE_OTHER);
    assert_eq!(venue_count().await, 2);
}

/// Publish pressed twice in the console lands on the console both times; a
/// refusal there leads back to the console, not to the buyers' event list.
#[tokio::test]
async fn the_console_answers_publish_pressed_twice_and_leads_back_to_itself() {
    let app = spawn_app().await;
    let org = app.org("owner@example.org").await;
    let (venue, _, _) = app.venue(&org, 1, 5, 5).await;
    let starts = app.clock.now() + Duration::days(10);
    let draft = |title: &str| {
        json!({"venue_id": venue, "title": title, "category": "concert", "starts_at": starts,
            "ends_at": starts + Duration::hours(2),
            "ticket_types": [{"name": "Seat", "price": {"amount": 1000, "currency": "EUR"}, "price_zone": "main"}]})
    };
    let events = format!("/api/v1/organizations/{}/events", org.id);
    let event: Value = app.post(&events, Some(&org.owner.token), &draft("Twice")).await.json().await.unwrap();
    let csrf = "c".repeat(64);
    let no_follow = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let press = |id: String| {
        no_follow
            .post(app.url(&format!("/console/events/{id}/publish")))
            .header("cookie", format!("rt_session={}; rt_csrf={csrf}", org.owner.token))
            .form(&[("csrf", csrf.as_str())])
            .send()
    };
    for _ in 0..2 {
        let r = press(event["id"].as_str().unwrap().to_owned()).await.unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(r.headers()["location"], "/console?published=1");
    }
    // A draft whose sales are all over is refused, and the way back is the console.
    let closed: Value = app.post(&events, Some(&org.owner.token), &draft("Closed")).await.json().await.unwrap();
    let tt = closed["ticket_types"][0]["id"].as_str().unwrap();
    let path = app.url(&format!("/api/v1/events/{}/ticket-types/{tt}", closed["id"].as_str().unwrap()));
    let ended = json!({"sales_end": app.clock.now() - Duration::minutes(1)});
    assert_eq!(
        app.client.patch(path).bearer_auth(&org.owner.token).json(&ended).send().await.unwrap().status(),
        StatusCode::OK
    );
    let r = press(closed["id"].as_str().unwrap().to_owned()).await.unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let page = r.text().await.unwrap();
    assert!(page.contains("href=\"/console\"") && page.contains("Back to the console"), "{page}");
}

/// A console form sent twice (a double click, a resent form after a slow
/// answer) shows what the first one did, not an error page: deleting a
/// venue, a draft, a ticket type, removing a member or withdrawing an
/// invitation a second time lands on the list the thing is gone from.
#[tokio::test]
async fn a_console_delete_sent_twice_lands_on_the_list_not_an_error_page() {
    let app = spawn_app().await;
    let f = app.fixture(1, 4, 10).await;
    let owner = Some(f.org.owner.token.as_str());
    let (spare, _, _) = app.venue(&f.org, 1, 2, 1).await;
    let starts = app.clock.now() + Duration::days(20);
    let draft: Value = app
        .post(
            &format!("/api/v1/organizations/{}/events", f.org.id),
            owner,
            &json!({"venue_id": f.venue_id, "title": "Draft", "category": "concert", "starts_at": starts,
                    "ends_at": starts + Duration::hours(2),
                    "ticket_types": [{"name": "Seat", "price": {"amount": 100, "currency": "EUR"}, "price_zone": "main"}]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let extra: Value = app
        .post(
            &format!("/api/v1/events/{}/ticket-types", f.event_id),
            owner,
            &json!({"name": "Extra", "price": {"amount": 100, "currency": "EUR"}, "price_zone": "main"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let gate = app.member(&f.org, "gate@example.org", "gate").await;
    let r = app
        .post(
            &format!("/api/v1/organizations/{}/invitations", f.org.id),
            owner,
            &json!({"email": "later@example.org", "role": "gate"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
    let invitation = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();

    let csrf = "c".repeat(64);
    let no_follow = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let twice = async |path: String, fields: &[(&str, &str)]| {
        let mut form = vec![("csrf", csrf.as_str())];
        form.extend_from_slice(fields);
        let mut answers = Vec::new();
        for _ in 0..2 {
            let r = no_follow
                .post(app.url(&path))
                .header("cookie", format!("rt_session={}; rt_csrf={csrf}", f.org.owner.token))
                .form(&form)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::SEE_OTHER, "{path}: {}", r.text().await.unwrap());
            answers.push(r.headers()["location"].to_str().unwrap().to_owned());
        }
        answers
    };
    assert_eq!(
        twice(format!("/console/venues/{spare}/delete"), &[]).await,
        ["/console?venue_deleted=1", "/console?gone=venue"]
    );
    let draft = draft["id"].as_str().unwrap();
    assert_eq!(
        twice(format!("/console/events/{draft}/delete"), &[("confirm", "yes")]).await,
        ["/console?deleted=1", "/console?gone=event"]
    );
    let extra = extra["id"].as_str().unwrap();
    let answers = twice(format!("/console/events/{}/ticket-types/{extra}/delete", f.event_id), &[]).await;
    assert!(answers.iter().all(|a| a.ends_with("/sales#ticket-types")), "{answers:?}");
    assert_eq!(
        twice(format!("/console/team/{}/remove", gate.id), &[]).await,
        ["/console?member_removed=1#team", "/console?member_removed=1#team"]
    );
    assert_eq!(
        twice(format!("/console/team/invitations/{invitation}/withdraw"), &[]).await,
        ["/console?invitation_withdrawn=1#team", "/console?invitation_gone=1#team"]
    );
    // Each lands on a page that says so.
    let home = app.page("/console?gone=venue", &f.org.owner.token).await;
    assert!(home.contains("That venue is deleted already"), "{home}");
    let home = app.page("/console?invitation_gone=1", &f.org.owner.token).await;
    assert!(home.contains("no longer open"), "{home}");
    // A venue or draft that was never there is still a 404 for the API.
    assert_problem(app.delete(&format!("/api/v1/venues/{spare}"), owner).await, StatusCode::NOT_FOUND).await;
}

/// The venue builder marks wheelchair spaces by row and seat; the seat map
/// carries them, and a space that is not a seat of its section is refused
/// with the section's rows and seats named, making no venue.
#[tokio::test]
async fn the_venue_builder_marks_wheelchair_spaces() {
    let app = spawn_app().await;
    let org = app.org("owner@example.org").await;
    let csrf = "c".repeat(64);
    let cookie = format!("rt_session={}; rt_csrf={csrf}", org.owner.token);
    let no_follow = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let send = async |spaces: &str| {
        let form = [
            ("csrf", csrf.as_str()),
            ("name", "Step-free Hall"),
            ("timezone", "Europe/Berlin"),
            ("section_name", "Stalls"),
            ("section_zone", "stalls"),
            ("section_rows", "3"),
            ("section_seats", "6"),
            ("section_shape", "straight"),
            ("section_radius", ""),
            ("section_accessible", spaces),
        ];
        no_follow
            .post(app.url("/console/venues/new"))
            .header("cookie", cookie.clone())
            .form(&form)
            .send()
            .await
            .unwrap()
    };
    let r = send("A7").await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("rows A to C, seats 1 to 6"));
    let venues = || async {
        let r = app.get(&format!("/api/v1/organizations/{}/venues", org.id), Some(&org.owner.token)).await;
        r.json::<Value>()
            .await
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["id"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert!(venues().await.is_empty());

    assert_eq!(send("a1 A2, c6").await.status(), StatusCode::SEE_OTHER);
    let venue = venues().await.pop().unwrap();
    let map: Value = app.get(&format!("/api/v1/venues/{venue}/seat-map"), None).await.json().await.unwrap();
    let marked: Vec<String> = map["sections"][0]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| {
            let row = r["label"].as_str().unwrap().to_owned();
            r["seats"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|s| s["accessible"] == true)
                .map(move |s| format!("{row}{}", s["label"].as_str().unwrap()))
        })
        .collect();
    assert_eq!(marked, ["A1", "A2", "C6"]);
}

/// What an organizer gets wrong in the console's forms, and in the API's
/// venue and event bodies, is told in their own terms: fields they can see,
/// percent where they typed percent, no type names or minor units.
#[tokio::test]
async fn mistakes_in_venue_and_event_input_are_told_in_the_forms_own_words() {
    let app = spawn_app().await;
    let f = app.fixture(1, 4, 10).await;
    let owner = &f.org.owner.token;
    let csrf = "c".repeat(64);
    let cookie = format!("rt_session={owner}; rt_csrf={csrf}");
    let no_follow = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let post = async |path: &str, form: &[(&str, &str)]| {
        let mut form = form.to_vec();
        form.push(("csrf", csrf.as_str()));
        let r = no_follow.post(app.url(path)).header("cookie", cookie.clone()).form(&form).send().await.unwrap();
        (r.status(), r.text().await.unwrap())
    };
    let venue_form = |shape: &'static str, radius: &'static str| {
        vec![
            ("name", "Round Hall"),
            ("timezone", "Europe/Berlin"),
            ("section_name", "Stalls"),
            ("section_zone", "stalls"),
            ("section_rows", "2"),
            ("section_seats", "5"),
            ("section_shape", shape),
            ("section_radius", radius),
            ("section_accessible", ""),
        ]
    };
    let (status, html) = post("/console/venues/new", &venue_form("hexagon", "")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("rows are straight or curved"), "{html}");
    let (status, html) = post("/console/venues/new", &venue_form("curved", "0")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("curve radius is a number of seat widths from 1 to") && !html.contains("origin"), "{html}");

    let venue = f.venue_id.as_str();
    let event_form = |venue: &'static str, price: &'static str| {
        vec![
            ("venue", venue),
            ("shown_venue", venue),
            ("title", "Late Show"),
            ("category", "concert"),
            ("starts", "2027-03-01T20:00"),
            ("ends", "2027-03-01T23:00"),
            ("currency", "EUR"),
            ("price_main", price),
            ("form_key", ""),
        ]
    };
    let nowhere = "00000000-0000-0000-0000-000000000000";
    let (status, html) = post("/console/events/new", &event_form(nowhere, "45.00")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("not one of your organization") && !html.contains("You picked another venue"), "{html}");
    let venue: &'static str = Box::leak(venue.to_owned().into_boxed_str());
    let (status, html) = post("/console/events/new", &event_form(venue, "99999999999")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("more than a ticket may cost") && !html.contains("minor units"), "{html}");

    // The API: a row's seats, and a resale policy in percent.
    let r = app
        .post(
            &format!("/api/v1/organizations/{}/venues", f.org.id),
            Some(owner),
            &serde_json::json!({"name": "Minus", "timezone": "UTC",
                "seat_map": {"sections": [{"name": "A", "price_zone": "a", "rows": [{"label": "1", "seats": -1}]}]}}),
        )
        .await;
    let p = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(p["detail"].as_str().unwrap().contains("a row's seats are a number"), "{p}");
    let starts = app.clock.now() + chrono::Duration::days(20);
    let r = app
        .post(
            &format!("/api/v1/organizations/{}/events", f.org.id),
            Some(owner),
            &serde_json::json!({"venue_id": f.venue_id, "title": "Resold", "category": "concert",
                "starts_at": starts, "ends_at": starts + chrono::Duration::hours(2),
                "ticket_types": [{"name": "Seat", "price": {"amount": 5000, "currency": "EUR"}, "price_zone": "main"}],
                "resale_policy": {"allowed": true, "max_price_percent": 400, "royalty_percent": 5}}),
        )
        .await;
    let p = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    let detail = p["detail"].as_str().unwrap();
    assert!(detail.contains("300 %") && !detail.contains("bps"), "{p}");
}
