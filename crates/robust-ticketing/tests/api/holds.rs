//! Holds: no oversell under concurrency, all-or-nothing, expiry without a sweep.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::Duration;
use domain::Clock;
use reqwest::StatusCode;
use serde_json::Value;
use tokio::task::JoinSet;

use crate::helpers::*;

const BUYERS: usize = 500;
const UNITS: usize = 100;

/// What one racing buyer ended with.
enum Outcome {
    Bought(Value),
    Refused(StatusCode, Value),
}

async fn buyers(app: &TestApp, n: usize) -> Vec<Account> {
    let mut set = JoinSet::new();
    let app = Arc::new((app.root.clone(), app.client.clone()));
    for i in 0..n {
        let app = app.clone();
        set.spawn(async move {
            let (root, client) = &*app;
            let email = format!("buyer{i}-{}@example.org", uuid::Uuid::new_v4());
            let body = serde_json::json!({"email": email, "password": PASSWORD, "name": "Buyer"});
            let r = client.post(format!("{root}/api/v1/auth/register")).json(&body).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::CREATED);
            let user: Value = r.json().await.unwrap();
            let r = client.post(format!("{root}/api/v1/auth/login")).json(&body).send().await.unwrap();
            let session: Value = r.json().await.unwrap();
            Account {
                id: user["id"].as_str().unwrap().to_owned(),
                email,
                token: session["access_token"].as_str().unwrap().to_owned(),
            }
        });
    }
    set.join_all().await
}

/// Each buyer holds what `pick` says and, if the hold succeeds, pays for it.
async fn race(app: &TestApp, accounts: Vec<Account>, event: &str, pick: impl Fn(usize) -> Value) -> Vec<Outcome> {
    let barrier = Arc::new(tokio::sync::Barrier::new(accounts.len()));
    let mut set = JoinSet::new();
    for (i, account) in accounts.into_iter().enumerate() {
        let (root, client, barrier) = (app.root.clone(), app.client.clone(), barrier.clone());
        let url = format!("{root}/api/v1/events/{event}/holds");
        let body = pick(i);
        set.spawn(async move {
            barrier.wait().await;
            let r = client.post(&url).bearer_auth(&account.token).json(&body).send().await.unwrap();
            let status = r.status();
            let hold: Value = r.json().await.unwrap();
            if status != StatusCode::CREATED {
                return Outcome::Refused(status, hold);
            }
            let r = client
                .post(format!("{root}/api/v1/orders"))
                .bearer_auth(&account.token)
                .header("Idempotency-Key", format!("race-{i}"))
                .json(&serde_json::json!({"hold_id": hold["id"], "payment": {"gateway": "test", "token": "tok_ok"}}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::CREATED, "a held seat must be payable");
            Outcome::Bought(r.json().await.unwrap())
        });
    }
    set.join_all().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn five_hundred_buyers_racing_for_one_hundred_seats_buy_exactly_one_hundred() {
    let app = spawn_app().await;
    let f = app.fixture(10, 10, 50).await;
    assert_eq!(f.seats.len(), UNITS);
    let accounts = buyers(&app, BUYERS).await;
    // Five buyers want each seat, and all start at once.
    let seats = f.seats.clone();
    let outcomes = race(&app, accounts, &f.event_id, move |i| serde_json::json!({"seats": [seats[i % UNITS]]})).await;

    let mut sold = Vec::new();
    for o in &outcomes {
        match o {
            Outcome::Bought(order) => {
                for t in order["tickets"].as_array().unwrap() {
                    sold.push(t["seat_id"].as_str().unwrap().to_owned());
                }
            }
            Outcome::Refused(status, problem) => {
                assert_eq!(*status, StatusCode::CONFLICT, "every loser gets 409: {problem}");
                assert_eq!(problem["unavailable_seats"].as_array().unwrap().len(), 1);
            }
        }
    }
    let distinct: HashSet<_> = sold.iter().collect();
    assert_eq!(sold.len(), UNITS, "exactly the capacity is sold");
    assert_eq!(distinct.len(), UNITS, "no seat is sold twice");
    let refused = outcomes.iter().filter(|o| matches!(o, Outcome::Refused(..))).count();
    assert_eq!(refused, BUYERS - UNITS);
    let availability = app.availability(&f.event_id).await;
    assert_eq!(count_status(&availability, "sold"), UNITS);
    assert_eq!(app.gateway.charges().len(), UNITS, "only winners are charged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn five_hundred_buyers_racing_for_a_ga_area_of_one_hundred_buy_exactly_one_hundred() {
    let app = spawn_app().await;
    let f = app.fixture(1, 5, UNITS as u32).await;
    let accounts = buyers(&app, BUYERS).await;
    let area = f.ga_area.clone();
    let outcomes =
        race(&app, accounts, &f.event_id, move |_| serde_json::json!({"ga": [{"area_id": area, "quantity": 1}]})).await;

    let mut tickets = HashSet::new();
    for o in &outcomes {
        match o {
            Outcome::Bought(order) => {
                for t in order["tickets"].as_array().unwrap() {
                    assert_eq!(t["ga_area_id"], f.ga_area.as_str());
                    assert!(tickets.insert(t["id"].as_str().unwrap().to_owned()));
                }
            }
            Outcome::Refused(status, problem) => {
                assert_eq!(*status, StatusCode::CONFLICT, "every loser gets 409: {problem}");
                assert_eq!(problem["unavailable_ga_areas"][0], f.ga_area.as_str());
            }
        }
    }
    assert_eq!(tickets.len(), UNITS, "exactly the capacity is sold");
    let availability = app.availability(&f.event_id).await;
    assert_eq!(availability["ga"][0]["remaining"], 0);
    assert_eq!(app.gateway.charges().len(), UNITS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn overlapping_multi_seat_holds_never_share_a_seat() {
    let app = spawn_app().await;
    let f = app.fixture(2, 10, 10).await;
    let accounts = buyers(&app, 60).await;
    let barrier = Arc::new(tokio::sync::Barrier::new(accounts.len()));
    let mut set = JoinSet::new();
    for (i, account) in accounts.into_iter().enumerate() {
        // Each buyer wants three neighbouring seats; neighbours overlap.
        let seats: Vec<String> = (0..3).map(|k| f.seats[(i + k) % f.seats.len()].clone()).collect();
        let (url, client, barrier) =
            (app.url(&format!("/api/v1/events/{}/holds", f.event_id)), app.client.clone(), barrier.clone());
        set.spawn(async move {
            barrier.wait().await;
            let r = client
                .post(&url)
                .bearer_auth(&account.token)
                .json(&serde_json::json!({"seats": seats}))
                .send()
                .await
                .unwrap();
            (r.status(), r.json::<Value>().await.unwrap(), seats)
        });
    }
    let mut held = HashSet::new();
    for (status, body, seats) in set.join_all().await {
        match status {
            StatusCode::CREATED => {
                assert_eq!(body["items"].as_array().unwrap().len(), 3, "all three or nothing");
                for s in seats {
                    assert!(held.insert(s), "a seat is in two live holds");
                }
            }
            StatusCode::CONFLICT => {}
            other => panic!("unexpected {other}: {body}"),
        }
    }
    let availability = app.availability(&f.event_id).await;
    assert_eq!(count_status(&availability, "held"), held.len(), "holds and availability agree");
}

#[tokio::test]
async fn an_expired_hold_frees_its_seats_at_once_and_cannot_be_paid() {
    let app = spawn_app().await;
    let f = app.fixture(1, 4, 10).await;
    let alice = app.signup("alice@example.org").await;
    let bob = app.signup("bob@example.org").await;
    let seat = f.seats[0].as_str();

    let r = app.hold(&alice.token, &f.event_id, &[seat], &[(&f.ga_area, 3)]).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let hold: Value = r.json().await.unwrap();
    let availability = app.availability(&f.event_id).await;
    assert_eq!(count_status(&availability, "held"), 1);
    assert_eq!(availability["ga"][0]["remaining"], 7);
    let r = app.hold(&bob.token, &f.event_id, &[seat], &[]).await;
    assert_problem(r, StatusCode::CONFLICT).await;

    // One second past expiry; no sweeper has run.
    app.clock.advance(Duration::seconds(HOLD_TTL_SECS as i64 + 1));
    let availability = app.availability(&f.event_id).await;
    assert_eq!(count_status(&availability, "available"), 4, "the seat is free the moment the hold expires");
    assert_eq!(availability["ga"][0]["remaining"], 10);

    let r = app.order(&alice.token, hold["id"].as_str().unwrap(), "late-payment", "tok_ok").await;
    let problem = assert_problem(r, StatusCode::CONFLICT).await;
    assert!(problem["detail"].as_str().unwrap().contains("expired"));
    assert!(app.gateway.charges().is_empty(), "an expired hold charges nothing");

    // Someone else can take the seat now, and the late payer still cannot.
    let r = app.hold(&bob.token, &f.event_id, &[seat], &[]).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = app.order(&alice.token, hold["id"].as_str().unwrap(), "late-payment-2", "tok_ok").await;
    assert_problem(r, StatusCode::CONFLICT).await;
    assert!(app.gateway.charges().is_empty());
}

#[tokio::test]
async fn a_released_hold_frees_its_seats() {
    let app = spawn_app().await;
    let f = app.fixture(1, 2, 10).await;
    let alice = app.signup("alice@example.org").await;
    let r = app.hold(&alice.token, &f.event_id, &[&f.seats[0]], &[(&f.ga_area, 2)]).await;
    let hold: Value = r.json().await.unwrap();
    let r = app.delete(&format!("/api/v1/holds/{}", hold["id"].as_str().unwrap()), Some(&alice.token)).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let availability = app.availability(&f.event_id).await;
    assert_eq!(count_status(&availability, "available"), 2);
    assert_eq!(availability["ga"][0]["remaining"], 10);
    let r = app.order(&alice.token, hold["id"].as_str().unwrap(), "after-release", "tok_ok").await;
    assert_problem(r, StatusCode::CONFLICT).await;
    assert!(app.gateway.charges().is_empty());
}

#[tokio::test]
async fn a_hold_locks_in_the_price_shown_and_holds_all_or_nothing() {
    let app = spawn_app().await;
    let f = app.fixture(1, 3, 2).await;
    let alice = app.signup("alice@example.org").await;
    let bob = app.signup("bob@example.org").await;
    let r = app.hold(&alice.token, &f.event_id, &[&f.seats[0], &f.seats[1]], &[(&f.ga_area, 1)]).await;
    let hold: Value = r.json().await.unwrap();
    assert_eq!(hold["total"]["amount"], 2 * SEAT_PRICE + GA_PRICE);
    assert_eq!(hold["total"]["currency"], "EUR");

    // Bob asks for a free seat and a taken one, then for more GA than is left:
    // neither request holds anything.
    let r = app.hold(&bob.token, &f.event_id, &[&f.seats[2], &f.seats[1]], &[]).await;
    let problem = assert_problem(r, StatusCode::CONFLICT).await;
    assert_eq!(problem["unavailable_seats"], serde_json::json!([f.seats[1]]));
    let r = app.hold(&bob.token, &f.event_id, &[&f.seats[2]], &[(&f.ga_area, 2)]).await;
    assert_problem(r, StatusCode::CONFLICT).await;
    let availability = app.availability(&f.event_id).await;
    assert_eq!(count_status(&availability, "available"), 1, "seat 3 was not half-held");
    assert_eq!(availability["ga"][0]["remaining"], 1);

    let r = app.order(&alice.token, hold["id"].as_str().unwrap(), "k", "tok_ok").await;
    let order: Value = r.json().await.unwrap();
    assert_eq!(order["total"], hold["total"]);
    assert_eq!(order["tickets"].as_array().unwrap().len(), 3);
    assert_eq!(app.gateway.net_charged_minor(), 2 * SEAT_PRICE + GA_PRICE);
}

#[tokio::test]
async fn holds_on_unpublished_events_are_refused() {
    let app = spawn_app().await;
    let org = app.org("owner@example.org").await;
    let (venue, seats, area) = app.venue(&org, 1, 2, 5).await;
    let starts = chrono::Utc::now() + Duration::days(3);
    let r = app
        .post(
            &format!("/api/v1/organizations/{}/events", org.id),
            Some(&org.owner.token),
            &serde_json::json!({"venue_id": venue, "title": "Draft", "category": "theatre",
                "starts_at": starts, "ends_at": starts + Duration::hours(2),
                "ticket_types": [{"name": "A", "price": {"amount": 100, "currency": "EUR"}, "price_zone": "main"},
                                 {"name": "B", "price": {"amount": 100, "currency": "EUR"}, "ga_area_id": area}]}),
        )
        .await;
    let event: Value = r.json().await.unwrap();
    let id = event["id"].as_str().unwrap();
    // The organizer can see the draft but not sell it.
    let r = app.hold(&org.owner.token, id, &[&seats[0]], &[]).await;
    assert_problem(r, StatusCode::CONFLICT).await;
    let r = app.post(&format!("/api/v1/events/{id}/cancel"), Some(&org.owner.token), &serde_json::json!({})).await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = app.post(&format!("/api/v1/events/{id}/publish"), Some(&org.owner.token), &serde_json::json!({})).await;
    assert_problem(r, StatusCode::CONFLICT).await;
}

#[tokio::test]
async fn best_available_holds_adjacent_seats_in_front_and_never_taken_ones() {
    let app = spawn_app().await;
    let f = app.fixture(3, 6, 10).await;
    let alice = app.signup("alice@example.org").await;
    let bob = app.signup("bob@example.org").await;
    // Alice takes the two middle seats of the front row.
    let r = app.hold(&alice.token, &f.event_id, &[&f.seats[2], &f.seats[3]], &[]).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    // Bob asks for three together: the front row has no three in a row left.
    let body = serde_json::json!({"best_available": {"count": 3, "price_zone": "main"}, "ga": [{"area_id": f.ga_area, "quantity": 1}]});
    let r = app.post(&format!("/api/v1/events/{}/holds", f.event_id), Some(&bob.token), &body).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let hold: Value = r.json().await.unwrap();
    let seats: Vec<&str> = hold["items"].as_array().unwrap().iter().filter_map(|i| i["seat_id"].as_str()).collect();
    assert_eq!(seats, [&f.seats[7], &f.seats[8], &f.seats[9]], "the centre of the second row");
    assert_eq!(hold["total"]["amount"], 3 * SEAT_PRICE + GA_PRICE);
    // More than there are, or both named and chosen seats: refused, nothing held.
    let r = app
        .post(
            &format!("/api/v1/events/{}/holds", f.event_id),
            Some(&bob.token),
            &serde_json::json!({"best_available": {"count": 14}}),
        )
        .await;
    assert_problem(r, StatusCode::CONFLICT).await;
    let r = app
        .post(
            &format!("/api/v1/events/{}/holds", f.event_id),
            Some(&bob.token),
            &serde_json::json!({"seats": [f.seats[0]], "best_available": {"count": 1}}),
        )
        .await;
    assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    // Asks no map could answer are bad input, not a sold-out conflict.
    for ask in [
        serde_json::json!({"count": 0}),
        serde_json::json!({"count": 4_294_967_295_u64}),
        serde_json::json!({"count": 1, "price_zone": "no-such-zone"}),
    ] {
        let r = app
            .post(
                &format!("/api/v1/events/{}/holds", f.event_id),
                Some(&bob.token),
                &serde_json::json!({ "best_available": ask }),
            )
            .await;
        assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    assert_eq!(count_status(&app.availability(&f.event_id).await, "held"), 5);
}

/// "Best available" looks only at seats that can be sold now: a zone whose
/// ticket types are all outside their sales window is passed over, and
/// asked for by name it is refused as such.
#[tokio::test]
async fn best_available_passes_over_zones_not_on_sale() {
    let app = spawn_app().await;
    let org = app.org("owner@example.org").await;
    let owner = Some(org.owner.token.as_str());
    let venue = serde_json::json!({"name": "Two Zones", "timezone": "Europe/Berlin", "seat_map": {"sections": [
        {"name": "Front", "price_zone": "front", "rows": [{"label": "A", "seats": 4}]},
        {"name": "Back", "price_zone": "back", "rows": [{"label": "B", "seats": 4}]}]}});
    let venue: Value =
        app.post(&format!("/api/v1/organizations/{}/venues", org.id), owner, &venue).await.json().await.unwrap();
    let starts = app.clock.now() + Duration::days(5);
    let price = serde_json::json!({"amount": 3000, "currency": "EUR"});
    let event = serde_json::json!({"venue_id": venue["id"], "title": "Zoned", "category": "concert", "starts_at": starts,
        "ends_at": starts + Duration::hours(2), "ticket_types": [
            {"name": "Front", "price": price, "price_zone": "front", "sales_start": starts - Duration::days(1)},
            {"name": "Back", "price": price, "price_zone": "back"}]});
    let event: Value =
        app.post(&format!("/api/v1/organizations/{}/events", org.id), owner, &event).await.json().await.unwrap();
    let id = event["id"].as_str().unwrap();
    assert_eq!(
        app.post(&format!("/api/v1/events/{id}/publish"), owner, &serde_json::json!({})).await.status(),
        StatusCode::OK
    );
    let buyer = app.signup("buyer@example.org").await;
    let holds = format!("/api/v1/events/{id}/holds");
    let r = app.post(&holds, Some(&buyer.token), &serde_json::json!({"best_available": {"count": 2}})).await;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
    let back: Vec<String> = {
        let map: Value = app
            .get(&format!("/api/v1/venues/{}/seat-map", venue["id"].as_str().unwrap()), None)
            .await
            .json()
            .await
            .unwrap();
        map["sections"][1]["rows"][0]["seats"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let hold: Value = r.json().await.unwrap();
    for item in hold["items"].as_array().unwrap() {
        assert!(back.contains(&item["seat_id"].as_str().unwrap().to_owned()), "a back seat: {item}");
    }
    let r = app
        .post(&holds, Some(&buyer.token), &serde_json::json!({"best_available": {"count": 1, "price_zone": "front"}}))
        .await;
    let p = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(p["detail"].as_str().unwrap().contains("not on sale now"), "{p}");
}

/// Holds and checkouts that arrive together are written together, several
/// to a transaction; each must still get the answer it would get alone.
/// Here every buyer pays for one hold twice at once (two Idempotency-Keys),
/// so batches hold doomed checkouts beside good ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn checkouts_written_together_each_get_their_own_answer() {
    const PAIRS: usize = 24;
    let app = spawn_app().await;
    let f = app.fixture(3, 10, 10).await;
    let accounts = buyers(&app, PAIRS).await;

    // Everyone holds a different seat at the same moment: all succeed.
    let barrier = Arc::new(tokio::sync::Barrier::new(PAIRS));
    let mut set = JoinSet::new();
    for (i, account) in accounts.iter().enumerate() {
        let (root, client, barrier) = (app.root.clone(), app.client.clone(), barrier.clone());
        let (url, token, seat) =
            (format!("{root}/api/v1/events/{}/holds", f.event_id), account.token.clone(), f.seats[i].clone());
        set.spawn(async move {
            barrier.wait().await;
            let r = client.post(&url).bearer_auth(&token).json(&serde_json::json!({"seats": [seat]})).send().await;
            let r = r.unwrap();
            assert_eq!(r.status(), StatusCode::CREATED);
            (i, r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned())
        });
    }
    let mut holds = set.join_all().await;
    holds.sort();

    // Then each pays for its hold twice at once, under two keys.
    let barrier = Arc::new(tokio::sync::Barrier::new(2 * PAIRS));
    let mut set = JoinSet::new();
    for (i, hold) in &holds {
        for copy in 0..2 {
            let (root, client, barrier) = (app.root.clone(), app.client.clone(), barrier.clone());
            let (token, hold, i) = (accounts[*i].token.clone(), hold.clone(), *i);
            set.spawn(async move {
                barrier.wait().await;
                let r = client
                    .post(format!("{root}/api/v1/orders"))
                    .bearer_auth(&token)
                    .header("Idempotency-Key", format!("twice-{i}-{copy}"))
                    .json(&serde_json::json!({"hold_id": hold, "payment": {"gateway": "test", "token": "tok_ok"}}))
                    .send()
                    .await
                    .unwrap();
                let status = r.status();
                (i, status, r.json::<Value>().await.unwrap())
            });
        }
    }
    let answers = set.join_all().await;
    for i in 0..PAIRS {
        let mine: Vec<_> = answers.iter().filter(|(b, ..)| *b == i).collect();
        let paid: Vec<_> = mine.iter().filter(|(_, s, _)| *s == StatusCode::CREATED).collect();
        assert_eq!(paid.len(), 1, "buyer {i} pays once: {mine:?}");
        let order = &paid[0].2;
        assert_eq!(order["tickets"].as_array().unwrap().len(), 1);
        assert_eq!(order["tickets"][0]["seat_id"], f.seats[i].as_str(), "buyer {i} gets the seat they held");
        let other = mine.iter().find(|(_, s, _)| *s != StatusCode::CREATED).unwrap();
        assert_eq!(other.1, StatusCode::CONFLICT, "the second checkout of a hold is refused: {other:?}");
    }
    let availability = app.availability(&f.event_id).await;
    assert_eq!(count_status(&availability, "sold"), PAIRS);
    assert_eq!(count_status(&availability, "held"), 0);
    // Whatever a refused checkout charged was given back.
    assert_eq!(app.gateway.net_charged_minor(), PAIRS as i64 * SEAT_PRICE);
}

/// Two shows at one venue share its seat ids; holds for the same seat at
/// different shows, written together, must not stand in each other's way.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_seat_at_two_shows_can_be_held_at_once() {
    const PER_SHOW: usize = 10;
    let app = spawn_app().await;
    let f = app.fixture(1, PER_SHOW as u32, 10).await;
    let (second_show, _, _) = app.event(&f.org, &f.venue_id, &f.ga_area, 10).await;
    let shows = [f.event_id.clone(), second_show];
    let accounts = buyers(&app, 2 * PER_SHOW).await;
    let barrier = Arc::new(tokio::sync::Barrier::new(accounts.len()));
    let mut set = JoinSet::new();
    for (i, account) in accounts.into_iter().enumerate() {
        let (root, client, barrier) = (app.root.clone(), app.client.clone(), barrier.clone());
        let (show, seat) = (shows[i / PER_SHOW].clone(), f.seats[i % PER_SHOW].clone());
        set.spawn(async move {
            barrier.wait().await;
            let r = client
                .post(format!("{root}/api/v1/events/{show}/holds"))
                .bearer_auth(&account.token)
                .json(&serde_json::json!({"seats": [seat]}))
                .send()
                .await
                .unwrap();
            (r.status(), r.text().await.unwrap())
        });
    }
    for (status, body) in set.join_all().await {
        assert_eq!(status, StatusCode::CREATED, "every seat is free at its own show: {body}");
    }
    for show in &shows {
        assert_eq!(count_status(&app.availability(show).await, "held"), PER_SHOW);
    }
}

/// Buying from the seat list (no JavaScript needed): a refused hold, say one
/// seat over the limit per order, comes back to the list with its message
/// and the picks still ticked, not to the event page with them lost.
#[tokio::test]
async fn a_hold_refused_from_the_seat_list_keeps_the_picks_there() {
    let app = spawn_app().await;
    let f = app.fixture(2, 10, 10).await;
    let ada = app.signup("ada@example.org").await;
    let csrf = "c".repeat(64);
    let mut form = vec![("csrf", csrf.clone()), ("from", "list".to_owned())];
    form.extend(f.seats.iter().take(11).map(|s| ("seat", s.clone())));
    let r = app
        .client
        .post(app.url(&format!("/events/{}/hold", f.event_id)))
        .header("cookie", format!("rt_session={}; rt_csrf={csrf}", ada.token))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error(), "{}", r.status());
    let html = r.text().await.unwrap();
    assert!(html.contains("<h1>Choose seats</h1>"), "back on the seat list");
    assert!(html.contains("id=\"hold-error\""), "with the reason");
    let ticked = html.matches("\" checked>").count();
    assert_eq!(ticked, 11, "the picks, still ticked");
    let held: Value = app.get(&format!("/api/v1/events/{}/availability", f.event_id), None).await.json().await.unwrap();
    assert!(held["seats"].as_array().unwrap().iter().all(|s| s["status"] == "available"), "nothing was held");
}

/// A buyer who chooses places again on the web wants those instead of the
/// ones held before, not both: the earlier hold is released (its places go
/// back on sale) and the checkout says so. A hold whose payment may be on
/// its way is left alone.
#[tokio::test]
async fn choosing_places_again_on_the_web_replaces_the_earlier_hold() {
    let app = spawn_app().await;
    let f = app.fixture(1, 10, 10).await;
    let ada = app.signup("ada@example.org").await;
    let csrf = "c".repeat(64);
    let no_follow = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let choose = async |seat: &str| {
        let r = no_follow
            .post(app.url(&format!("/events/{}/hold", f.event_id)))
            .header("cookie", format!("rt_session={}; rt_csrf={csrf}", ada.token))
            .form(&[("csrf", csrf.as_str()), ("seat", seat)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        r.headers()["location"].to_str().unwrap().to_owned()
    };
    let seat_status = async |seat: &str| {
        let a = app.availability(&f.event_id).await;
        a["seats"].as_array().unwrap().iter().find(|s| s["id"] == seat).unwrap()["status"].clone()
    };

    let first = choose(&f.seats[0]).await;
    assert!(first.starts_with("/checkout/") && !first.contains('?'), "{first}");
    // A hold whose payment could not be confirmed (the gateway was down) stays.
    let paying: Value = app.hold(&ada.token, &f.event_id, &[&f.seats[1]], &[]).await.json().await.unwrap();
    let paying = paying["id"].as_str().unwrap();
    let r = app.order(&ada.token, paying, "gateway-down", "tok_unavailable").await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    let attempt: String = sqlx::query_scalar("SELECT status FROM payment_attempts WHERE hold_id = $1")
        .bind(paying)
        .fetch_one(app.database().await)
        .await
        .unwrap();
    assert_eq!(attempt, "pending");

    let second = choose(&f.seats[2]).await;
    assert!(second.ends_with("?replaced=1"), "{second}");
    assert_eq!(seat_status(&f.seats[1]).await, "held", "the hold being paid for is kept");
    assert_eq!(seat_status(&f.seats[0]).await, "available", "the earlier place is on sale again");
    assert_eq!(seat_status(&f.seats[2]).await, "held");
    let page = app.page(&second, &ada.token).await;
    assert!(page.contains("these replace them"), "{page}");
    let r = app.get(&first.replace("/checkout/", "/api/v1/holds/"), Some(&ada.token)).await;
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "released");
    // The API keeps every hold: a program may hold for several carts.
    let r = app.hold(&ada.token, &f.event_id, &[&f.seats[3]], &[]).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(seat_status(&f.seats[2]).await, "held");
}

/// A zone with several ticket types (a full and a reduced price): the web
/// offers the choice, on the map per seat and on the seat list for the
/// seats ticked, and the hold is priced as chosen. Without a choice a seat
/// is sold as the cheapest type on sale, as the API does.
#[tokio::test]
async fn a_buyer_on_the_web_chooses_the_ticket_type_of_each_seat() {
    let app = spawn_app().await;
    let f = app.fixture(1, 10, 10).await;
    let r = app
        .post(
            &format!("/api/v1/events/{}/ticket-types", f.event_id),
            Some(&f.org.owner.token),
            &serde_json::json!({"name": "Premium seat", "price": {"amount": 9900, "currency": "EUR"}, "price_zone": "main"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
    let premium = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let ada = app.signup("ada@example.org").await;

    // The map's data offers both, the default first.
    let page = app.page(&format!("/events/{}", f.event_id), &ada.token).await;
    let island = page.split("id=\"event-data\"").nth(1).unwrap();
    let island: Value = serde_json::from_str(&island[island.find('>').unwrap() + 1..island.find("</script>").unwrap()])
        .expect("the page's data");
    let types = island["zones"][0]["types"].as_array().unwrap();
    let ids: Vec<&str> = types.iter().map(|t| t["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [f.seat_type.as_str(), premium.as_str()], "{island}");
    // The seat list offers the choice for the seats ticked.
    let list = app.page(&format!("/events/{}/seats", f.event_id), &ada.token).await;
    assert!(list.contains("name=\"zone_type\"") && list.contains("Premium seat"), "{list}");

    let csrf = "c".repeat(64);
    let no_follow = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let hold = async |form: Vec<(String, String)>| {
        let mut form = form;
        form.push(("csrf".into(), csrf.clone()));
        let r = no_follow
            .post(app.url(&format!("/events/{}/hold", f.event_id)))
            .header("cookie", format!("rt_session={}; rt_csrf={csrf}", ada.token))
            .form(&form)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let location = r.headers().get("location").map(|l| l.to_str().unwrap().to_owned());
        (status, location, r.text().await.unwrap())
    };
    let lines = async |location: &str| -> Vec<(String, i64)> {
        let id = location.trim_start_matches("/checkout/").split('?').next().unwrap().to_owned();
        let h: Value = app.get(&format!("/api/v1/holds/{id}"), Some(&ada.token)).await.json().await.unwrap();
        let mut lines: Vec<(String, i64)> = h["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| (l["ticket_type_id"].as_str().unwrap().to_owned(), l["unit_price"]["amount"].as_i64().unwrap()))
            .collect();
        lines.sort();
        lines
    };
    // On the map: one seat as premium, one left at the default.
    let (status, location, _) = hold(vec![
        ("seat".into(), f.seats[0].clone()),
        ("seat".into(), f.seats[1].clone()),
        (format!("type_{}", f.seats[0]), premium.clone()),
    ])
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let mut want = vec![(premium.clone(), 9900), (f.seat_type.clone(), crate::helpers::SEAT_PRICE)];
    want.sort();
    assert_eq!(lines(&location.unwrap()).await, want);
    // On the list: every ticked seat as the type chosen there.
    let (status, location, _) = hold(vec![
        ("from".into(), "list".into()),
        ("seat".into(), f.seats[2].clone()),
        ("seat".into(), f.seats[3].clone()),
        ("zone_type".into(), premium.clone()),
    ])
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(lines(&location.unwrap()).await, vec![(premium.clone(), 9900); 2]);
    // A type that is not this zone's (the standing one) or not a type at
    // all is refused, and the list keeps the choice.
    for bad in [f.ga_type.clone(), "not-a-type".to_owned()] {
        let (status, _, html) = hold(vec![
            ("from".into(), "list".into()),
            ("seat".into(), f.seats[4].clone()),
            ("zone_type".into(), bad.clone()),
        ])
        .await;
        assert!(status.is_client_error(), "{bad}: {status}");
        assert!(html.contains("id=\"hold-error\""), "{bad}");
    }
}

/// A checkout reads its hold, then records its payment attempt, then
/// charges. A hold released in between (the buyer chose other places on
/// the web, or let it go through the API) gets no attempt, so nothing is
/// charged for it: the single path and a batch both look at the hold in the
/// transaction that records the attempt.
#[tokio::test]
async fn a_hold_released_before_its_payment_attempt_is_recorded_is_not_charged() {
    use domain::ids::{HoldId, PaymentAttemptId, UserId};
    use store::{AttemptBegin, NewPaymentAttempt};

    let app = spawn_app().await;
    let f = app.fixture(1, 10, 10).await;
    let ada = app.signup("ada@example.org").await;
    let user: UserId = ada.id.parse().unwrap();
    let mut holds = Vec::new();
    for seat in &f.seats[..6] {
        let hold: Value = app.hold(&ada.token, &f.event_id, &[seat], &[]).await.json().await.unwrap();
        holds.push(hold["id"].as_str().unwrap().parse::<HoldId>().unwrap());
    }
    // Every other hold is released after its checkout would have read it.
    for hold in holds.iter().step_by(2) {
        let r = app.delete(&format!("/api/v1/holds/{hold}"), Some(&ada.token)).await;
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
    }

    let store = app.ticketing().store().clone();
    let begin = |hold: HoldId, n: usize| {
        let store = store.clone();
        let now = app.clock.now();
        async move {
            let (order_key, key) = (format!("order-{n}"), format!("attempt-{n}"));
            let a = NewPaymentAttempt {
                id: PaymentAttemptId::new(),
                hold,
                user,
                gateway: "test",
                amount: domain::money::Money::new(5000, "EUR".parse().unwrap()).unwrap(),
                order_key: &order_key,
                idempotency_key: &key,
                claim_order_key: Some(b"request".as_slice()),
            };
            store.begin_payment_attempt(&a, now).await.unwrap()
        }
    };
    // One at a time (the single path), then all at once (batches).
    let alone = begin(holds[0], 0).await;
    assert!(matches!(alone, AttemptBegin::HoldGone), "{alone:?}");
    let alone = begin(holds[1], 1).await;
    assert!(matches!(alone, AttemptBegin::Recorded(_)), "{alone:?}");
    let tasks: Vec<_> = holds.iter().enumerate().skip(2).map(|(n, h)| tokio::spawn(begin(*h, n))).collect();
    let mut together = Vec::new();
    for t in tasks {
        together.push(t.await.unwrap());
    }
    for (n, begun) in together.iter().enumerate() {
        let released = n % 2 == 0;
        assert_eq!(matches!(begun, AttemptBegin::HoldGone), released, "hold {}: {begun:?}", n + 2);
        assert_eq!(matches!(begun, AttemptBegin::Recorded(_)), !released, "hold {}: {begun:?}", n + 2);
    }

    // Nothing was written for the released holds: no attempt, no key.
    let db = app.database().await;
    for (n, hold) in holds.iter().enumerate() {
        let attempts: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM payment_attempts WHERE hold_id = $1")
            .bind(hold.to_string())
            .fetch_one(db)
            .await
            .unwrap();
        let keys: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM idempotency_keys WHERE key = $1")
            .bind(format!("order-{n}"))
            .fetch_one(db)
            .await
            .unwrap();
        assert_eq!((attempts, keys), if n % 2 == 0 { (0, 0) } else { (1, 1) }, "hold {n}");
    }
    // An expired hold is refused the same way.
    app.clock.advance(Duration::seconds(HOLD_TTL_SECS as i64 + 1));
    let late = begin(holds[1], 99).await;
    assert!(matches!(late, AttemptBegin::HoldGone), "{late:?}");
    assert!(app.gateway.charges().is_empty());
}
