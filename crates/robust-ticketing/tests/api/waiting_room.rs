//! The virtual waiting room, rate limits, the per-account ticket limit and
//! velocity rules: a big on-sale stays fair.

use std::sync::Arc;

use chrono::Duration;
use domain::Clock;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::helpers::*;

/// Cheap work in tests; the default is tested in the domain crate.
const DIFFICULTY: u8 = 4;

async fn controls(app: &TestApp, fx: &Fixture, body: Value) -> Value {
    let r = app
        .client
        .put(app.url(&format!("/api/v1/events/{}/sale-controls", fx.event_id)))
        .bearer_auth(&fx.org.owner.token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    r.json().await.unwrap()
}

async fn room_on(app: &TestApp, fx: &Fixture, extra: Value) -> Value {
    let mut body = json!({"waiting_room": "on", "pow_difficulty": DIFFICULTY});
    body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    controls(app, fx, body).await
}

/// Solves the challenge and joins the line; returns the position.
async fn join(app: &TestApp, event: &str, token: &str) -> Value {
    join_answering(app, event, token, StatusCode::CREATED).await
}

/// Joins as `join`, expecting `status`: 201 for a new place, 200 for the
/// place already held.
async fn join_answering(app: &TestApp, event: &str, token: &str, status: StatusCode) -> Value {
    let r = app.post(&format!("/api/v1/events/{event}/waiting-room/challenge"), Some(token), &json!({})).await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let c: Value = r.json().await.unwrap();
    let challenge = c["challenge"].as_str().unwrap();
    let solution = domain::admission::solve(challenge, c["difficulty"].as_u64().unwrap() as u8);
    let body = json!({"challenge": challenge, "solution": solution});
    let r = app.post(&format!("/api/v1/events/{event}/waiting-room/entries"), Some(token), &body).await;
    assert_eq!(r.status(), status, "{}", r.text().await.unwrap());
    r.json().await.unwrap()
}

async fn position(app: &TestApp, event: &str, token: &str) -> Value {
    let r = app.get(&format!("/api/v1/events/{event}/waiting-room/entries/me"), Some(token)).await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    r.json().await.unwrap()
}

/// Lets the next buyers in, as every node does each second.
async fn tend(app: &TestApp) -> u32 {
    app.ticketing().tend_waiting_rooms().await.unwrap()
}

/// Joins and waits for the turn; returns the admission token.
async fn admitted(app: &TestApp, event: &str, token: &str) -> String {
    join(app, event, token).await;
    tend(app).await;
    let p = position(app, event, token).await;
    assert_eq!(p["status"], "admitted", "{p}");
    p["admission_token"].as_str().unwrap().to_owned()
}

async fn hold_with(app: &TestApp, token: &str, event: &str, seat: &str, admission: Option<&str>) -> reqwest::Response {
    let body = json!({"seats": [seat], "admission_token": admission});
    app.post(&format!("/api/v1/events/{event}/holds"), Some(token), &body).await
}

async fn problem_type(r: reqwest::Response, status: StatusCode) -> String {
    let v = assert_problem(r, status).await;
    v["type"].as_str().unwrap().rsplit(':').next().unwrap().to_owned()
}

#[tokio::test]
async fn with_the_room_on_a_hold_needs_a_valid_token_that_works_once() {
    let app = spawn_app().await;
    let fx = app.fixture(2, 10, 50).await;
    let other = app.fixture(1, 5, 10).await;
    let set = room_on(&app, &fx, json!({})).await;
    assert_eq!(set["room_active"], true, "{set}");
    room_on(&app, &other, json!({})).await;
    let event = fx.event_id.as_str();
    let (a, b) = (app.signup("a@example.org").await, app.signup("b@example.org").await);

    // No token, a garbled one: refused, nothing held.
    let r = hold_with(&app, &a.token, event, &fx.seats[0], None).await;
    assert_eq!(problem_type(r, StatusCode::FORBIDDEN).await, "admission-required");
    let r = hold_with(&app, &a.token, event, &fx.seats[0], Some("RTA1.garbage.x")).await;
    assert_eq!(problem_type(r, StatusCode::FORBIDDEN).await, "admission-invalid");

    let token = admitted(&app, event, &a.token).await;
    // Someone else's token is not yours.
    let r = hold_with(&app, &b.token, event, &fx.seats[0], Some(&token)).await;
    assert_eq!(problem_type(r, StatusCode::FORBIDDEN).await, "admission-invalid");
    // A token of another event does not open this one.
    let other_token = admitted(&app, &other.event_id, &b.token).await;
    let r = hold_with(&app, &b.token, event, &fx.seats[0], Some(&other_token)).await;
    assert_eq!(problem_type(r, StatusCode::FORBIDDEN).await, "admission-invalid");

    // The token works once.
    let r = hold_with(&app, &a.token, event, &fx.seats[0], Some(&token)).await;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
    let r = hold_with(&app, &a.token, event, &fx.seats[1], Some(&token)).await;
    assert_eq!(problem_type(r, StatusCode::FORBIDDEN).await, "admission-spent");
    assert_eq!(position(&app, event, &a.token).await["status"], "used");

    // Losing a race for a seat does not cost the turn: the spend rolls back
    // with the failed hold.
    let c = app.signup("c@example.org").await;
    let token_c = admitted(&app, event, &c.token).await;
    let r = hold_with(&app, &c.token, event, &fx.seats[0], Some(&token_c)).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let r = hold_with(&app, &c.token, event, &fx.seats[2], Some(&token_c)).await;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());

    // A token whose time ran out is refused, and the line says the turn lapsed.
    let d = app.signup("d@example.org").await;
    let token_d = admitted(&app, event, &d.token).await;
    app.clock.advance(Duration::seconds(domain::admission::ADMISSION_TOKEN_TTL_SECS + 1));
    let r = hold_with(&app, &d.token, event, &fx.seats[3], Some(&token_d)).await;
    assert_eq!(problem_type(r, StatusCode::FORBIDDEN).await, "admission-invalid");
    assert_eq!(position(&app, event, &d.token).await["status"], "expired");
    // Joining again puts the buyer at the back, with a new turn to come.
    let again = join(&app, event, &d.token).await;
    assert_eq!(again["status"], "waiting", "{again}");

    // Switched off, the room lets everyone hold.
    controls(&app, &fx, json!({"waiting_room": "off"})).await;
    let r = hold_with(&app, &b.token, event, &fx.seats[5], None).await;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
}

#[tokio::test]
async fn early_arrivals_are_admitted_by_lottery_later_ones_in_arrival_order() {
    const EARLY: usize = 30;
    const LATE: usize = 8;
    const WINDOW: usize = 5;
    let app = spawn_app().await;
    let fx = app.fixture(2, 10, 50).await;
    let event = fx.event_id.as_str();
    let opens = app.clock.now() + Duration::minutes(10);
    room_on(&app, &fx, json!({"opens_at": opens, "admission_window": WINDOW})).await;

    let mut early = Vec::new();
    for i in 0..EARLY {
        let a = app.signup(&format!("early{i}@example.org")).await;
        let p = join(&app, event, &a.token).await;
        // Before the draw nobody has a place, so arriving first buys nothing.
        assert_eq!(p["status"], "waiting");
        assert!(p["ahead"].is_null(), "{p}");
        early.push(a);
    }
    // Joining again (a refresh) returns the same entry, and says so.
    let first = position(&app, event, &early[0].token).await;
    let again = join_answering(&app, event, &early[0].token, StatusCode::OK).await;
    assert_eq!(first["entry_id"], again["entry_id"]);
    // Changing another setting keeps the opening time: the lottery is not drawn early.
    let changed =
        controls(&app, &fx, json!({"waiting_room": "on", "pow_difficulty": DIFFICULTY, "admission_window": WINDOW}))
            .await;
    let kept = changed["opens_at"].as_str().unwrap().parse::<chrono::DateTime<chrono::Utc>>().unwrap();
    assert_eq!(kept.timestamp_millis(), opens.timestamp_millis(), "{changed}");
    // Nobody is let in before the opening.
    assert_eq!(tend(&app).await, 0);
    // The organizer's console counts them, places or not.
    let sales = app.page(&format!("/console/events/{event}/sales"), &fx.org.owner.token).await;
    let said = format!("{EARLY} waiting now ({EARLY} of them joined early and are placed by the lottery)");
    assert!(sales.contains(&said), "the console says how many wait: {said}");

    app.clock.advance(Duration::minutes(11));
    let mut late = Vec::new();
    for i in 0..LATE {
        let a = app.signup(&format!("late{i}@example.org")).await;
        join(&app, event, &a.token).await;
        late.push(a);
    }
    // Places in line (from 1). The server's own once-a-second admission may
    // let the first ones in at any moment now, so the test reads places,
    // which never change, rather than how many are ahead.
    let mut early_places = Vec::new();
    for a in &early {
        early_places.push(position(&app, event, &a.token).await["place"].as_u64().unwrap());
    }
    let mut late_places = Vec::new();
    for a in &late {
        late_places.push(position(&app, event, &a.token).await["place"].as_u64().unwrap());
    }
    // Early arrivals fill the first places, in an order that is not the
    // order they came in (the chance of the identity is 1 in 30!).
    let mut sorted = early_places.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (1..=EARLY as u64).collect::<Vec<_>>());
    assert_ne!(early_places, sorted, "early arrivals kept their arrival order: no lottery");
    // Later arrivals follow, first come, first served.
    assert_eq!(late_places, (EARLY as u64 + 1..=(EARLY + LATE) as u64).collect::<Vec<_>>());

    // Admission follows the places, as many at once as the window allows.
    tend(&app).await;
    for (a, place) in early.iter().zip(&early_places) {
        let p = position(&app, event, &a.token).await;
        let expected = if (*place as usize) <= WINDOW { "admitted" } else { "waiting" };
        assert_eq!(p["status"], expected, "place {place}: {p}");
    }
    // Nobody more until someone admitted finishes or lapses.
    assert_eq!(tend(&app).await, 0);
    let next = early.iter().zip(&early_places).find(|(_, p)| **p == 1).unwrap().0;
    let token = position(&app, event, &next.token).await["admission_token"].as_str().unwrap().to_owned();
    let r = hold_with(&app, &next.token, event, &fx.seats[0], Some(&token)).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let hold: Value = r.json().await.unwrap();
    let r = app.order(&next.token, hold["id"].as_str().unwrap(), "k1", "tok_ok").await;
    assert_eq!(r.status(), StatusCode::CREATED);
    tend(&app).await;
    let sixth = early.iter().zip(&early_places).find(|(_, p)| **p == WINDOW as u64 + 1).unwrap().0;
    assert_eq!(position(&app, event, &sixth.token).await["status"], "admitted");
    let waiting_ahead = position(&app, event, &late[0].token).await;
    assert_eq!(waiting_ahead["ahead"], (EARLY - WINDOW - 1) as u64, "{waiting_ahead}");
    assert!(waiting_ahead["estimated_wait_secs"].as_u64().is_some(), "{waiting_ahead}");
}

/// An organizer who moves the opening after a lottery was drawn (say, from
/// a time already past to one ahead) holds a new draw at the new time: the
/// buyers who joined before it are let in then, not left waiting for good.
#[tokio::test]
async fn moving_the_opening_after_a_draw_draws_again_at_the_new_time() {
    let app = spawn_app().await;
    let fx = app.fixture(1, 10, 50).await;
    let event = fx.event_id.as_str();
    room_on(&app, &fx, json!({"opens_at": app.clock.now() - Duration::minutes(5)})).await;
    let first = app.signup("first@example.org").await;
    join(&app, event, &first.token).await;
    tend(&app).await;
    assert_eq!(position(&app, event, &first.token).await["status"], "admitted");

    // The opening moved ahead: a buyer joining now waits for its draw...
    room_on(&app, &fx, json!({"opens_at": app.clock.now() + Duration::minutes(5)})).await;
    let early = app.signup("early@example.org").await;
    let p = join(&app, event, &early.token).await;
    assert!(p["place"].is_null(), "{p}");
    tend(&app).await;
    assert_eq!(position(&app, event, &early.token).await["status"], "waiting");
    // ...and gets a place and a turn when it comes.
    app.clock.advance(Duration::minutes(6));
    tend(&app).await;
    let p = position(&app, event, &early.token).await;
    assert_eq!(p["status"], "admitted", "{p}");
    assert_eq!(p["place"], 2, "{p}");

    // Taking the lottery away (opening now) lets an early joiner in at once.
    room_on(&app, &fx, json!({"opens_at": app.clock.now() + Duration::minutes(5)})).await;
    let another = app.signup("another@example.org").await;
    join(&app, event, &another.token).await;
    room_on(&app, &fx, json!({"opens_at": app.clock.now()})).await;
    tend(&app).await;
    let p = position(&app, event, &another.token).await;
    assert_eq!(p["status"], "admitted", "{p}");
}

#[tokio::test]
async fn joining_needs_a_solved_fresh_challenge_of_this_event() {
    let app = spawn_app().await;
    let fx = app.fixture(1, 5, 10).await;
    let event = fx.event_id.as_str();
    let a = app.signup("a@example.org").await;
    // No room: nothing to join.
    let r = app.post(&format!("/api/v1/events/{event}/waiting-room/challenge"), Some(&a.token), &json!({})).await;
    assert_eq!(problem_type(r, StatusCode::CONFLICT).await, "no-waiting-room");
    room_on(&app, &fx, json!({"pow_difficulty": 12})).await;
    let r = app.post(&format!("/api/v1/events/{event}/waiting-room/challenge"), Some(&a.token), &json!({})).await;
    let c: Value = r.json().await.unwrap();
    let challenge = c["challenge"].as_str().unwrap().to_owned();
    let url = format!("/api/v1/events/{event}/waiting-room/entries");
    let wrong = (0u64..).map(|n| n.to_string()).find(|s| domain::admission::work_bits(&challenge, s) < 12).unwrap();
    for body in [
        json!({"challenge": challenge, "solution": wrong}),
        json!({"challenge": "RTP2.made.up", "solution": "1"}),
        json!({"challenge": challenge, "solution": "x".repeat(500)}),
    ] {
        let r = app.post(&url, Some(&a.token), &body).await;
        assert_eq!(problem_type(r, StatusCode::UNPROCESSABLE_ENTITY).await, "challenge-failed");
    }
    let r = app.post(&url, Some(&a.token), &json!({"challenge": challenge})).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = app.get(&format!("{url}/me"), Some(&a.token)).await;
    assert_problem(r, StatusCode::NOT_FOUND).await;
    // Solved, it lets its own account join, not another one.
    let solution = domain::admission::solve(&challenge, 12);
    let b = app.signup("b@example.org").await;
    let r = app.post(&url, Some(&b.token), &json!({"challenge": challenge, "solution": solution})).await;
    assert_eq!(problem_type(r, StatusCode::UNPROCESSABLE_ENTITY).await, "challenge-failed");
    // A solved challenge, but too old.
    app.clock.advance(Duration::seconds(domain::admission::CHALLENGE_TTL_SECS + 1));
    let r = app.post(&url, Some(&a.token), &json!({"challenge": challenge, "solution": solution})).await;
    assert_eq!(problem_type(r, StatusCode::UNPROCESSABLE_ENTITY).await, "challenge-failed");
}

#[tokio::test]
async fn an_auto_room_switches_itself_on_under_load() {
    let app = spawn_app().await;
    let fx = app.fixture(2, 10, 50).await;
    let event = fx.event_id.as_str();
    controls(&app, &fx, json!({"waiting_room": "auto", "auto_threshold": 3, "pow_difficulty": DIFFICULTY})).await;
    let a = app.signup("a@example.org").await;
    for seat in &fx.seats[..3] {
        let r = hold_with(&app, &a.token, event, seat, None).await;
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    tend(&app).await;
    let info: Value = app.get(&format!("/api/v1/events/{event}/waiting-room"), None).await.json().await.unwrap();
    assert_eq!(info["active"], true, "{info}");
    let r = hold_with(&app, &a.token, event, &fx.seats[4], None).await;
    assert_eq!(problem_type(r, StatusCode::FORBIDDEN).await, "admission-required");
}

#[tokio::test]
async fn rate_limits_answer_429_with_retry_after() {
    let app = spawn_app_with(|c| {
        c.rate_limits = web::limits::RateLimitConfig {
            ip_per_second: 5,
            ip_burst: 20,
            account_per_minute: 6,
            account_burst: 3,
            ..web::limits::RateLimitConfig::off()
        };
    })
    .await;
    let fx = app.fixture(1, 10, 10).await;
    let (a, b) = (app.signup("a@example.org").await, app.signup("b@example.org").await);
    // Per account: the fourth hold in a burst waits; another account does not.
    for seat in &fx.seats[..3] {
        assert_eq!(hold_with(&app, &a.token, &fx.event_id, seat, None).await.status(), StatusCode::CREATED);
    }
    let r = hold_with(&app, &a.token, &fx.event_id, &fx.seats[3], None).await;
    let retry: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=10).contains(&retry), "Retry-After {retry}");
    assert_eq!(problem_type(r, StatusCode::TOO_MANY_REQUESTS).await, "rate-limited");
    // The seat map's form gets the event page back, saying when to retry,
    // not a problem document for the browser to show as text.
    let csrf = "c".repeat(64);
    let r = app
        .client
        .post(app.url(&format!("/events/{}/hold", fx.event_id)))
        .header("cookie", format!("rt_session={}; rt_csrf={csrf}", a.token))
        .form(&[("csrf", csrf.as_str()), ("seat", fx.seats[4].as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().contains_key("retry-after"));
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let html = r.text().await.unwrap();
    assert!(html.contains("faster than allowed") && html.contains("id=\"hold-error\""), "{html}");
    assert_eq!(hold_with(&app, &b.token, &fx.event_id, &fx.seats[3], None).await.status(), StatusCode::CREATED);

    // Per address: a flood of reads from one address is cut off.
    let mut limited = None;
    for _ in 0..60 {
        let r = app.get("/api/v1/events", None).await;
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(r);
            break;
        }
    }
    let r = limited.expect("60 requests at once from one address were never limited");
    assert!(r.headers()["retry-after"].to_str().unwrap().parse::<u64>().unwrap() >= 1);
    assert_problem(r, StatusCode::TOO_MANY_REQUESTS).await;
}

/// Password guessing: sign-ins, sign-ups and password requests from one
/// address are limited far more tightly than other requests, on the API
/// and on the forms alike; everything else goes on.
#[tokio::test]
async fn password_guesses_from_one_address_are_limited() {
    let app = spawn_app_with(|c| {
        c.rate_limits = web::limits::RateLimitConfig {
            sign_in_per_minute: 2,
            sign_in_burst: 4,
            ..web::limits::RateLimitConfig::off()
        };
    })
    .await;
    let guess = async |password: &str| {
        app.post("/api/v1/auth/login", None, &json!({"email": "ada@example.org", "password": password})).await
    };
    // Sign-up and its sign-in count: two left.
    let ada = app.signup("ada@example.org").await;
    for _ in 0..2 {
        assert_eq!(guess("not the password").await.status(), StatusCode::UNAUTHORIZED);
    }
    let r = guess(crate::helpers::PASSWORD).await;
    let retry: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=30).contains(&retry), "Retry-After {retry}");
    assert_eq!(problem_type(r, StatusCode::TOO_MANY_REQUESTS).await, "rate-limited");
    for (path, body) in [
        ("/api/v1/auth/password-reset", json!({"email": "ada@example.org"})),
        ("/app/api/v1/auth/login", json!({"email": "ada@example.org", "password": "x"})),
    ] {
        assert_eq!(app.post(path, None, &body).await.status(), StatusCode::TOO_MANY_REQUESTS, "{path}");
    }
    // The sign-in form gets a page that says so.
    let csrf = "c".repeat(64);
    let r = app
        .client
        .post(app.url("/signin"))
        .header("cookie", format!("rt_csrf={csrf}"))
        .form(&[("csrf", csrf.as_str()), ("email", "ada@example.org"), ("password", "guess")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().contains_key("retry-after"));
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(r.text().await.unwrap().contains("Too many attempts"));
    // Reading pages and the signed-in API are not held up.
    assert_eq!(app.get("/signin", None).await.status(), StatusCode::OK);
    assert_eq!(app.get("/api/v1/me", Some(&ada.token)).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_per_account_ticket_limit_holds_across_orders_and_racing_holds() {
    let app = spawn_app().await;
    let fx = app.fixture(4, 10, 100).await;
    let event = fx.event_id.as_str();
    controls(&app, &fx, json!({"waiting_room": "off", "tickets_per_account_max": 4})).await;
    let a = app.signup("a@example.org").await;
    // Two bought in one order, one GA place in a second order, one held.
    app.buy(&a.token, event, &[&fx.seats[0], &fx.seats[1]], &[]).await;
    app.buy(&a.token, event, &[], &[(&fx.ga_area, 1)]).await;
    assert_eq!(app.hold(&a.token, event, &[&fx.seats[2]], &[]).await.status(), StatusCode::CREATED);
    let r = app.hold(&a.token, event, &[&fx.seats[3]], &[]).await;
    let v = assert_problem(r, StatusCode::CONFLICT).await;
    assert_eq!(v["tickets_per_account_max"], 4);
    assert_eq!(v["tickets_already"], 4);
    let r = app.hold(&a.token, event, &[], &[(&fx.ga_area, 1)]).await;
    assert_problem(r, StatusCode::CONFLICT).await;

    // Ten racing holds of one account: the limit still holds.
    let b = app.signup("b@example.org").await;
    let app = Arc::new(app);
    let mut set = JoinSet::new();
    for seat in &fx.seats[10..20] {
        let (app, token, event, seat) = (app.clone(), b.token.clone(), fx.event_id.clone(), seat.clone());
        set.spawn(async move { app.hold(&token, &event, &[&seat], &[]).await.status() });
    }
    let statuses = set.join_all().await;
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CREATED).count(), 4, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == StatusCode::CREATED || *s == StatusCode::CONFLICT), "{statuses:?}");
}

#[tokio::test]
async fn card_testing_blocks_the_account_until_the_organizer_clears_it() {
    let app = spawn_app().await;
    let fx = app.fixture(2, 10, 100).await;
    let event = fx.event_id.as_str();
    controls(&app, &fx, json!({"waiting_room": "off"})).await;
    let a = app.signup("a@example.org").await;
    let declines = ticketing::waiting_room::VELOCITY_DECLINES_PER_HOUR_MAX as usize + 1;
    for i in 0..declines {
        let r = app.hold(&a.token, event, &[], &[(&fx.ga_area, 1)]).await;
        assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
        let hold: Value = r.json().await.unwrap();
        let r = app.order(&a.token, hold["id"].as_str().unwrap(), &format!("k{i}"), "tok_declined").await;
        assert_eq!(r.status(), StatusCode::PAYMENT_REQUIRED);
    }
    // The rules run after each attempt; the next attempt sets them off.
    let _ = app.hold(&a.token, event, &[], &[(&fx.ga_area, 1)]).await;
    let flags_url = format!("/api/v1/events/{event}/account-flags");
    let mut flags = Value::Null;
    for _ in 0..100 {
        flags = app.get(&flags_url, Some(&fx.org.owner.token)).await.json().await.unwrap();
        if flags.as_array().is_some_and(|f| !f.is_empty()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let flag = &flags[0];
    assert_eq!(flag["rule"], "card-testing", "{flags}");
    assert_eq!(flag["email"], "a@example.org");
    let r = app.hold(&a.token, event, &[], &[(&fx.ga_area, 1)]).await;
    let body = assert_problem(r, StatusCode::FORBIDDEN).await;
    assert!(body["type"].as_str().unwrap().ends_with("account-blocked"), "{body}");
    // Buyers can't see the review list.
    assert_problem(app.get(&flags_url, Some(&a.token)).await, StatusCode::FORBIDDEN).await;

    let clear = format!("{flags_url}/{}/clear", flag["id"].as_str().unwrap());
    assert_eq!(app.post(&clear, Some(&fx.org.owner.token), &json!({})).await.status(), StatusCode::NO_CONTENT);
    assert_problem(app.post(&clear, Some(&fx.org.owner.token), &json!({})).await, StatusCode::NOT_FOUND).await;
    let r = app.hold(&a.token, event, &[], &[(&fx.ga_area, 1)]).await;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
}

#[tokio::test]
async fn bad_sale_controls_are_refused() {
    let app = spawn_app().await;
    let fx = app.fixture(1, 5, 10).await;
    let url = app.url(&format!("/api/v1/events/{}/sale-controls", fx.event_id));
    for body in [
        json!({"waiting_room": "sometimes"}),
        json!({"waiting_room": "on", "admission_window": 0}),
        json!({"waiting_room": "on", "pow_difficulty": 40}),
        json!({"waiting_room": "on", "tickets_per_account_max": 0}),
        json!({"waiting_room": "on", "auto_threshold": 0}),
        json!({"waiting_room": "on", "surprise": 1}),
        json!({"waiting_room": "on", "opens_at": app.clock.now() + Duration::days(365)}),
    ] {
        let r = app.client.put(&url).bearer_auth(&fx.org.owner.token).json(&body).send().await.unwrap();
        assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let buyer = app.signup("b@example.org").await;
    let r = app.client.put(&url).bearer_auth(&buyer.token).json(&json!({"waiting_room": "on"})).send().await.unwrap();
    assert_problem(r, StatusCode::FORBIDDEN).await;
    let r = app.get(&format!("/api/v1/events/{}/sale-controls", fx.event_id), Some(&fx.org.owner.token)).await;
    assert_problem(r, StatusCode::NOT_FOUND).await;
    // A cancelled event's sale is over: nothing left to control.
    let r = app.post(&format!("/api/v1/events/{}/cancel", fx.event_id), Some(&fx.org.owner.token), &json!({})).await;
    assert!(r.status().is_success(), "{}", r.status());
    let r = app
        .client
        .put(&url)
        .bearer_auth(&fx.org.owner.token)
        .json(&json!({"waiting_room": "on"}))
        .send()
        .await
        .unwrap();
    assert_problem(r, StatusCode::CONFLICT).await;
}

/// A change names what changes: the settings left out keep their values,
/// and `null` removes the ticket limit.
#[tokio::test]
async fn sale_controls_left_out_keep_their_values() {
    let app = spawn_app().await;
    let fx = app.fixture(1, 5, 10).await;
    let set = controls(
        &app,
        &fx,
        json!({"waiting_room": "on", "admission_window": 7, "pow_difficulty": DIFFICULTY, "tickets_per_account_max": 2}),
    )
    .await;
    assert_eq!((set["admission_window"].as_u64(), set["tickets_per_account_max"].as_u64()), (Some(7), Some(2)));
    let off = controls(&app, &fx, json!({"waiting_room": "off"})).await;
    assert_eq!(off["waiting_room"], "off");
    assert_eq!(
        (off["admission_window"].as_u64(), off["pow_difficulty"].as_u64(), off["tickets_per_account_max"].as_u64()),
        (Some(7), Some(u64::from(DIFFICULTY)), Some(2)),
        "{off}"
    );
    let unlimited = controls(&app, &fx, json!({"waiting_room": "off", "tickets_per_account_max": null})).await;
    assert!(unlimited["tickets_per_account_max"].is_null(), "{unlimited}");
    assert_eq!(unlimited["admission_window"], 7);
}

/// A cancelled event's line hands out no places and no turns.
#[tokio::test]
async fn a_cancelled_events_line_is_closed() {
    let app = spawn_app().await;
    let fx = app.fixture(1, 5, 10).await;
    room_on(&app, &fx, json!({})).await;
    let a = app.signup("a@example.org").await;
    join(&app, &fx.event_id, &a.token).await;
    let r = app.post(&format!("/api/v1/events/{}/cancel", fx.event_id), Some(&fx.org.owner.token), &json!({})).await;
    assert!(r.status().is_success());
    let b = app.signup("b@example.org").await;
    let r =
        app.post(&format!("/api/v1/events/{}/waiting-room/challenge", fx.event_id), Some(&b.token), &json!({})).await;
    assert_eq!(problem_type(r, StatusCode::CONFLICT).await, "sale-over");
    let r = app.get(&format!("/api/v1/events/{}/waiting-room/entries/me", fx.event_id), Some(&a.token)).await;
    assert_eq!(problem_type(r, StatusCode::CONFLICT).await, "sale-over");
    assert_eq!(tend(&app).await, 0, "nobody is let in");
}

/// The resale market is no way around the sale's protections: holding a
/// listed ticket needs an admission while the room is on, and counts toward
/// the account's ticket limit.
#[tokio::test]
async fn resale_holds_obey_the_waiting_room_and_the_ticket_limit() {
    let app = spawn_app().await;
    let fx = app.fixture(2, 10, 100).await;
    let event = fx.event_id.as_str();
    let seller = app.signup("seller@example.org").await;
    let order = app.buy(&seller.token, event, &[&fx.seats[0], &fx.seats[1]], &[]).await;
    let mut listings = Vec::new();
    for t in order["tickets"].as_array().unwrap() {
        let body = json!({"price": {"amount": 4500, "currency": "EUR"}});
        let r = app
            .post(&format!("/api/v1/tickets/{}/listings", t["id"].as_str().unwrap()), Some(&seller.token), &body)
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
        listings.push(r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned());
    }
    let hold_listing = async |token: &str, listing: &str, admission: Option<&str>| {
        let body = match admission {
            Some(a) => json!({"admission_token": a}),
            None => json!({}),
        };
        app.post(&format!("/api/v1/listings/{listing}/holds"), Some(token), &body).await
    };

    // The room is on: no token, no hold; with one, the hold goes through once.
    room_on(&app, &fx, json!({"tickets_per_account_max": 2})).await;
    let buyer = app.signup("buyer@example.org").await;
    let r = hold_listing(&buyer.token, &listings[0], None).await;
    assert_eq!(problem_type(r, StatusCode::FORBIDDEN).await, "admission-required");
    let token = admitted(&app, event, &buyer.token).await;
    assert_eq!(hold_listing(&buyer.token, &listings[0], Some(&token)).await.status(), StatusCode::CREATED);
    let r = hold_listing(&buyer.token, &listings[1], Some(&token)).await;
    assert_eq!(problem_type(r, StatusCode::FORBIDDEN).await, "admission-spent");

    // The room is off: the limit of one ticket per account still counts the held listing.
    controls(&app, &fx, json!({"waiting_room": "off", "tickets_per_account_max": 1})).await;
    let r = hold_listing(&buyer.token, &listings[1], None).await;
    let v = assert_problem(r, StatusCode::CONFLICT).await;
    assert_eq!(v["tickets_per_account_max"], 1);
    // Another account may; an empty body is fine.
    let other = app.signup("other@example.org").await;
    let r = app
        .client
        .post(app.url(&format!("/api/v1/listings/{}/holds", listings[1])))
        .bearer_auth(&other.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
}

/// A gift counts toward the ticket limit as a purchase does: accepting a
/// transfer that would take the account past it is refused, and the ticket
/// stays with whoever offered it.
#[tokio::test]
async fn accepting_a_transfer_counts_toward_the_ticket_limit() {
    let app = spawn_app().await;
    let fx = app.fixture(1, 10, 10).await;
    let event = fx.event_id.as_str();
    controls(&app, &fx, json!({"waiting_room": "off", "tickets_per_account_max": 1})).await;
    let giver = app.signup("giver@example.org").await;
    let taker = app.signup("taker@example.org").await;
    let gift = app.buy(&giver.token, event, &[&fx.seats[0]], &[]).await;
    app.buy(&taker.token, event, &[&fx.seats[1]], &[]).await;
    let ticket = gift["tickets"][0]["id"].as_str().unwrap();
    let r = app
        .post(
            &format!("/api/v1/tickets/{ticket}/transfers"),
            Some(&giver.token),
            &json!({"to_email": "taker@example.org"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let offer: Value = r.json().await.unwrap();
    let r = app
        .post(&format!("/api/v1/transfers/{}/accept", offer["id"].as_str().unwrap()), Some(&taker.token), &json!({}))
        .await;
    assert_eq!(problem_type(r, StatusCode::CONFLICT).await, "ticket-limit");
    let mine: Value = app.get("/api/v1/me/tickets", Some(&giver.token)).await.json().await.unwrap();
    assert_eq!(mine["items"][0]["id"], ticket, "the ticket stays with the giver");
}
