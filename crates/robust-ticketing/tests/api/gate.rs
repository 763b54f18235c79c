//! Offline gates (manifest, sync, conflicts), organizer stats, webhooks.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Duration;
use domain::Clock;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test]
async fn the_gate_manifest_lets_a_gate_verify_barcodes_with_no_server() {
    let app = spawn_app().await;
    let f = app.fixture(1, 4, 10).await;
    let gate = app.member(&f.org, "gate@example.org", "gate").await;
    let buyer = app.signup("buyer@example.org").await;
    let order = app.buy(&buyer.token, &f.event_id, &[&f.seats[0], &f.seats[1]], &[]).await;

    let r = app.get(&format!("/api/v1/events/{}/gate-manifest", f.event_id), Some(&gate.token)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let m: Value = r.json().await.unwrap();
    let key: [u8; 32] = URL_SAFE_NO_PAD.decode(m["public_key"].as_str().unwrap()).unwrap().try_into().unwrap();
    for t in order["tickets"].as_array().unwrap() {
        let claims = domain::barcode::verify(&key, t["barcode"].as_str().unwrap()).expect("verifies offline");
        assert_eq!(claims.ticket.to_string(), t["id"].as_str().unwrap());
        let listed = m["tickets"].as_array().unwrap().iter().find(|x| x["id"] == t["id"]).expect("listed");
        assert_eq!(listed["serial"], claims.serial);
        assert_eq!(listed["status"], "valid");
    }
    // Buyers and other organizations get nothing.
    let r = app.get(&format!("/api/v1/events/{}/gate-manifest", f.event_id), Some(&buyer.token)).await;
    assert_problem(r, StatusCode::FORBIDDEN).await;
}

#[tokio::test]
async fn a_ticket_admitted_at_two_offline_gates_is_a_conflict_after_sync() {
    let app = spawn_app().await;
    let f = app.fixture(1, 4, 10).await;
    let gate = app.member(&f.org, "gate@example.org", "gate").await;
    let buyer = app.signup("buyer@example.org").await;
    let order = app.buy(&buyer.token, &f.event_id, &[&f.seats[0], &f.seats[1]], &[]).await;
    let (one, two) =
        (order["tickets"][0]["barcode"].as_str().unwrap(), order["tickets"][1]["barcode"].as_str().unwrap());
    // The scans come after the sale, as at a real gate.
    app.clock.advance(Duration::minutes(30));
    let t0 = chrono::SubsecRound::trunc_subsecs(app.clock.now() - Duration::minutes(10), 3);
    let path = format!("/api/v1/events/{}/checkins/sync", f.event_id);
    let sync = async |device: &str, scans: Value| {
        app.post(&path, Some(&gate.token), &json!({"device_id": device, "scans": scans})).await
    };

    // Gate A admitted both tickets offline; gate B admitted ticket one later.
    let r = sync(
        "gate-a",
        json!([{"barcode": one, "scanned_at": t0}, {"barcode": two, "scanned_at": t0 + Duration::seconds(5)}]),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let a: Value = r.json().await.unwrap();
    assert_eq!(a["results"][0]["result"], "admitted");
    assert_eq!(a["results"][1]["result"], "admitted");
    assert_eq!(a["results"][0]["checked_in_at"], json!(t0));

    let r = sync(
        "gate-b",
        json!([{"barcode": one, "scanned_at": t0 + Duration::minutes(2)}, {"barcode": "RT1.bogus", "scanned_at": t0}]),
    )
    .await;
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["results"][0]["result"], "conflict", "{b}");
    assert_eq!(b["results"][0]["first_device_id"], "gate-a");
    assert_eq!(b["results"][0]["checked_in_at"], json!(t0), "the first admission stands");
    assert_eq!(b["results"][1]["result"], "invalid");

    // Gate A syncing the same scans again (a retry) changes nothing.
    let r = sync("gate-a", json!([{"barcode": one, "scanned_at": t0}])).await;
    let again: Value = r.json().await.unwrap();
    assert_eq!(again["results"][0]["result"], "admitted");
    // Gate A reporting ticket two a second time, at another moment, let
    // someone in on it twice: that is a conflict, not a retry.
    let r = sync("gate-a", json!([{"barcode": two, "scanned_at": t0 + Duration::seconds(7)}])).await;
    let twice: Value = r.json().await.unwrap();
    assert_eq!(twice["results"][0]["result"], "conflict", "{twice}");
    assert_eq!(twice["results"][0]["first_device_id"], "gate-a", "{twice}");

    // Online, the ticket is used.
    let r = app.checkin(&gate.token, &f.event_id, one).await;
    let p = assert_problem(r, StatusCode::CONFLICT).await;
    assert_eq!(p["checked_in_at"], json!(t0));

    // Bad batches are refused whole.
    let r = sync("", json!([{"barcode": one, "scanned_at": t0}])).await;
    assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    let r = sync("gate-c", json!([])).await;
    assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
}

/// An offline gate let a holder in; before it synced, the ticket was passed
/// on, or refunded. The admission stands and the ticket is used: the new
/// holder's barcode no longer admits, so one ticket never lets two people
/// in. A scan made after the change is refused, as before.
#[tokio::test]
async fn an_offline_admission_before_a_transfer_or_refund_stands_when_synced_after_it() {
    let app = spawn_app().await;
    let mut f = app.fixture(1, 4, 10).await;
    // The sale is the day before the event; gates open 12 hours before it.
    app.clock.advance(Duration::days(30) - Duration::hours(14));
    f.org.owner.token = app.login(&f.org.owner.email).await;
    let gate = app.member(&f.org, "gate@example.org", "gate").await;
    let alice = app.signup("alice@example.org").await;
    let order = app.buy(&alice.token, &f.event_id, &[&f.seats[0], &f.seats[1], &f.seats[2]], &[]).await;
    let code = |i: usize| order["tickets"][i]["barcode"].as_str().unwrap().to_owned();
    let id = |i: usize| order["tickets"][i]["id"].as_str().unwrap().to_owned();
    // Two hours before the start, gate A admits all three tickets offline;
    // ten minutes later the changes below are made online.
    app.clock.advance(Duration::hours(11) + Duration::minutes(50));
    let t0 = chrono::SubsecRound::trunc_subsecs(app.clock.now() - Duration::minutes(10), 3);
    let before_gates_opened = app.clock.now() - Duration::hours(11);
    assert!(before_gates_opened > chrono::DateTime::parse_from_rfc3339(order["created_at"].as_str().unwrap()).unwrap());

    // Meanwhile (online) Alice passes tickets 0 and 2 on to Bob, and the
    // organizer refunds ticket 1.
    let bob = app.signup("bob@example.org").await;
    let mut bobs = Vec::new();
    for i in [0, 2] {
        let r = app
            .post(
                &format!("/api/v1/tickets/{}/transfers", id(i)),
                Some(&alice.token),
                &json!({"to_email": "bob@example.org"}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
        let offer: Value = r.json().await.unwrap();
        let r = app
            .post(&format!("/api/v1/transfers/{}/accept", offer["id"].as_str().unwrap()), Some(&bob.token), &json!({}))
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let accepted: Value = r.json().await.unwrap();
        bobs.push(accepted["ticket"]["barcode"].as_str().unwrap().to_owned());
    }
    let r = app
        .client
        .post(app.url(&format!("/api/v1/orders/{}/refunds", order["id"].as_str().unwrap())))
        .bearer_auth(&f.org.owner.token)
        .header("Idempotency-Key", "refund-1")
        .json(&json!({"ticket_ids": [id(1)]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    // Bob goes in on ticket 2 before gate A is back online.
    assert_eq!(app.checkin(&gate.token, &f.event_id, &bobs[1]).await.status(), StatusCode::OK);

    let path = format!("/api/v1/events/{}/checkins/sync", f.event_id);
    let sync = async |device: &str, scans: Value| -> Value {
        let r = app.post(&path, Some(&gate.token), &json!({"device_id": device, "scans": scans})).await;
        assert_eq!(r.status(), StatusCode::OK);
        r.json().await.unwrap()
    };
    // A scan dated before the gates opened, of a barcode passed on since,
    // let nobody in: it cannot cancel the new holder's ticket.
    let v = sync("gate-early", json!([{"barcode": code(0), "scanned_at": before_gates_opened}])).await;
    assert_eq!(v["results"][0]["result"], "revoked", "{v}");

    let scans = json!([
        {"barcode": code(0), "scanned_at": t0},
        {"barcode": code(1), "scanned_at": t0 + Duration::seconds(1)},
        {"barcode": code(2), "scanned_at": t0 + Duration::seconds(2)},
    ]);
    let v = sync("gate-a", scans.clone()).await;
    let results = v["results"].as_array().unwrap();
    assert_eq!(results[0]["result"], "used_before_reissue", "{v}");
    assert_eq!(results[0]["checked_in_at"], json!(t0), "{v}");
    assert_eq!(results[1]["result"], "used_before_revocation", "{v}");
    assert_eq!(results[1]["ticket_id"], id(1).as_str());
    // Ticket 2 let two people in: that is a conflict with Bob's online use.
    assert_eq!(results[2]["result"], "conflict", "{v}");
    assert_eq!(results[2]["first_device_id"], Value::Null, "{v}");
    // Sending the same scans again (a lost answer) says the same.
    let again = sync("gate-a", scans).await;
    assert_eq!(again["results"], v["results"]);
    // Bob hears of it before the gate tells him, once.
    let inbox = crate::mail::notifications(&app, &bob.token).await;
    let told: Vec<&Value> =
        inbox["items"].as_array().unwrap().iter().filter(|n| n["kind"] == "ticket_revoked").collect();
    assert_eq!(told.len(), 1, "{inbox}");

    // The public log has the use, dated when it happened, before the
    // refund's revocation; a passed-on ticket's use is not put in Bob's name.
    let kinds = async |ticket: String| -> Vec<String> {
        let h: Value = app.get(&format!("/api/v1/tickets/{ticket}/history"), None).await.json().await.unwrap();
        h["entries"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(kinds(id(1)).await, ["issue", "check_in", "revoke"]);
    assert_eq!(kinds(id(0)).await, ["issue", "transfer"]);

    // Bob's ticket 0 was used by Alice before it was his: refused online.
    let p = assert_problem(app.checkin(&gate.token, &f.event_id, &bobs[0]).await, StatusCode::CONFLICT).await;
    assert_eq!(p["checked_in_at"], json!(t0));
    // Another gate that let ticket 0 in offline too (before the transfer)
    // is in conflict with gate A.
    let v = sync("gate-b", json!([{"barcode": code(0), "scanned_at": t0 + Duration::seconds(30)}])).await;
    assert_eq!(v["results"][0]["result"], "conflict", "{v}");
    assert_eq!(v["results"][0]["first_device_id"], "gate-a", "{v}");
    // Alice's old barcodes scanned after the changes were refused, as the
    // gate should have refused them.
    app.clock.advance(Duration::minutes(1));
    let v = sync("gate-c", json!([{"barcode": code(1), "scanned_at": app.clock.now() - Duration::seconds(5)}])).await;
    assert_eq!(v["results"][0]["result"], "revoked", "{v}");

    // The organizer sees what needs a look, in the API and the console.
    let problems: Value = app
        .get(&format!("/api/v1/events/{}/checkins/problems", f.event_id), Some(&f.org.owner.token))
        .await
        .json()
        .await
        .unwrap();
    let listed: Vec<(String, String)> = problems["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["ticket_id"].as_str().unwrap().to_owned(), p["result"].as_str().unwrap().to_owned()))
        .collect();
    for expected in
        [(id(0), "used_before_reissue"), (id(1), "used_before_revocation"), (id(2), "conflict"), (id(0), "conflict")]
    {
        let n = listed.iter().filter(|(t, r)| (t.as_str(), r.as_str()) == (expected.0.as_str(), expected.1)).count();
        assert_eq!(n, 1, "{expected:?} once, re-sends included: {problems}");
    }
    assert!(problems["items"][0]["place"].as_str().unwrap().starts_with("Seated"), "{problems}");
    let r = app.get(&format!("/api/v1/events/{}/checkins/problems", f.event_id), Some(&gate.token)).await;
    assert_problem(r, StatusCode::FORBIDDEN).await;
    let page = app.page(&format!("/console/events/{}/sales", f.event_id), &f.org.owner.token).await;
    assert!(page.contains("Offline scans to look at") && page.contains("before it was refunded"), "{page}");

    // The organizer's numbers count the refunded ticket's use.
    let stats: Value =
        app.get(&format!("/api/v1/events/{}/stats", f.event_id), Some(&f.org.owner.token)).await.json().await.unwrap();
    assert_eq!(stats["checked_in"], 3, "{stats}");
}

/// A scan of a passed-on ticket's new barcode dated before that barcode
/// existed proves nothing about when it was made: it counts as made when
/// synced.
#[tokio::test]
async fn a_synced_scan_dated_before_its_barcode_was_issued_counts_as_synced_now() {
    let app = spawn_app().await;
    let mut f = app.fixture(1, 4, 10).await;
    app.clock.advance(Duration::days(30) - Duration::hours(2));
    f.org.owner.token = app.login(&f.org.owner.email).await;
    let gate = app.member(&f.org, "gate@example.org", "gate").await;
    let alice = app.signup("alice@example.org").await;
    let bob = app.signup("bob@example.org").await;
    let order = app.buy(&alice.token, &f.event_id, &[&f.seats[0]], &[]).await;
    app.clock.advance(Duration::minutes(30));
    let given = app.clock.now();
    let ticket = order["tickets"][0]["id"].as_str().unwrap();
    let r = app
        .post(
            &format!("/api/v1/tickets/{ticket}/transfers"),
            Some(&alice.token),
            &json!({"to_email": "bob@example.org"}),
        )
        .await;
    let offer: Value = r.json().await.unwrap();
    let r = app
        .post(&format!("/api/v1/transfers/{}/accept", offer["id"].as_str().unwrap()), Some(&bob.token), &json!({}))
        .await;
    let bobs: Value = r.json().await.unwrap();
    app.clock.advance(Duration::minutes(20));
    let now = chrono::SubsecRound::trunc_subsecs(app.clock.now(), 3);
    let r = app
        .post(
            &format!("/api/v1/events/{}/checkins/sync", f.event_id),
            Some(&gate.token),
            &json!({"device_id": "gate-a", "scans": [
                {"barcode": bobs["ticket"]["barcode"], "scanned_at": given - Duration::minutes(5)}]}),
        )
        .await;
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["results"][0]["result"], "admitted", "{v}");
    assert_eq!(v["results"][0]["checked_in_at"], json!(now), "{v}");
}

/// A gate whose clock was reset to 1970, or that dates a scan before the
/// ticket existed, cannot write an impossible time into the public log: such
/// a scan counts as made when it is synced. An overlong code is refused and
/// not sent back whole.
#[tokio::test]
async fn synced_scans_at_impossible_times_count_as_synced_now_and_long_codes_are_not_echoed() {
    let app = spawn_app().await;
    let f = app.fixture(1, 4, 10).await;
    let gate = app.member(&f.org, "gate@example.org", "gate").await;
    let buyer = app.signup("buyer@example.org").await;
    let order = app.buy(&buyer.token, &f.event_id, &[&f.seats[0], &f.seats[1]], &[]).await;
    app.clock.advance(Duration::hours(1));
    let now = chrono::SubsecRound::trunc_subsecs(app.clock.now(), 3);
    let long = format!("RT1.{}", "A".repeat(100_000));
    let r = app
        .post(
            &format!("/api/v1/events/{}/checkins/sync", f.event_id),
            Some(&gate.token),
            &json!({"device_id": "gate-a", "scans": [
                {"barcode": order["tickets"][0]["barcode"], "scanned_at": "1970-01-01T00:00:00Z"},
                {"barcode": order["tickets"][1]["barcode"], "scanned_at": now - Duration::minutes(90)},
                {"barcode": long, "scanned_at": now},
            ]}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    for admitted in &v["results"].as_array().unwrap()[..2] {
        assert_eq!(admitted["result"], "admitted", "{v}");
        assert_eq!(admitted["checked_in_at"], json!(now), "{v}");
    }
    assert_eq!(v["results"][2]["result"], "invalid");
    assert!(v["results"][2]["barcode"].as_str().unwrap().len() <= domain::barcode::BARCODE_LEN_MAX);
    // The log agrees: issued, then checked in now.
    let ticket = order["tickets"][0]["id"].as_str().unwrap();
    let history: Value = app.get(&format!("/api/v1/tickets/{ticket}/history"), None).await.json().await.unwrap();
    let entries = history["entries"].as_array().unwrap();
    assert_eq!(entries.iter().map(|e| e["kind"].as_str().unwrap()).collect::<Vec<_>>(), ["issue", "check_in"]);
    assert_eq!(entries[1]["at"], json!(now));
}

#[tokio::test]
async fn organizers_see_sales_holds_check_ins_and_revenue() {
    let app = spawn_app().await;
    let f = app.fixture(2, 5, 20).await;
    let buyer = app.signup("buyer@example.org").await;
    let order = app.buy(&buyer.token, &f.event_id, &[&f.seats[0], &f.seats[1]], &[(&f.ga_area, 3)]).await;
    app.hold(&buyer.token, &f.event_id, &[&f.seats[2]], &[]).await;
    let r = app.checkin(&f.org.owner.token, &f.event_id, order["tickets"][0]["barcode"].as_str().unwrap()).await;
    assert_eq!(r.status(), StatusCode::OK);

    let r = app.get(&format!("/api/v1/events/{}/stats", f.event_id), Some(&f.org.owner.token)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let s: Value = r.json().await.unwrap();
    assert_eq!(s["capacity"], 10 + 20);
    assert_eq!(s["sold"], 5);
    assert_eq!(s["held"], 1);
    assert_eq!(s["checked_in"], 1);
    assert_eq!(s["revenue"], json!({"amount": 2 * SEAT_PRICE + 3 * GA_PRICE, "currency": "EUR"}));
    let sales: i64 = s["sales"].as_array().unwrap().iter().map(|m| m["count"].as_i64().unwrap()).sum();
    assert_eq!(sales, 5);

    // Refunds come off the revenue: a ticket's price, and a goodwill amount.
    let refunds = format!("/api/v1/orders/{}/refunds", order["id"].as_str().unwrap());
    let owner = Some(f.org.owner.token.as_str());
    let r = app.post(&refunds, owner, &json!({"ticket_ids": [order["tickets"][1]["id"]]})).await;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
    let r = app.post(&refunds, owner, &json!({"amount": {"amount": 500, "currency": "EUR"}})).await;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
    let r = app.get(&format!("/api/v1/events/{}/stats", f.event_id), owner).await;
    let s: Value = r.json().await.unwrap();
    assert_eq!(s["sold"], 4);
    assert_eq!(s["revenue"]["amount"], SEAT_PRICE + 3 * GA_PRICE - 500, "{s}");

    let gate = app.member(&f.org, "gate@example.org", "gate").await;
    let r = app.get(&format!("/api/v1/events/{}/stats", f.event_id), Some(&gate.token)).await;
    assert_problem(r, StatusCode::FORBIDDEN).await;
}

#[tokio::test]
async fn webhook_endpoints_are_validated_and_for_organizers_only() {
    let app = spawn_app().await;
    let f = app.fixture(1, 2, 2).await;
    let path = format!("/api/v1/organizations/{}/webhooks", f.org.id);
    let r = app.post(&path, Some(&f.org.owner.token), &json!({"url": "https://hooks.example.org/rt"})).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let hook: Value = r.json().await.unwrap();
    assert!(hook["secret"].as_str().unwrap().starts_with("whsec_"));
    assert_eq!(hook["event_types"], json!(["order.paid"]));
    for bad in [
        json!({"url": "ftp://x.org"}),
        json!({"url": "not a url"}),
        json!({"url": "https://x.org", "event_types": ["order.eaten"]}),
        // Kept as typed: nothing a parser would drop or encode.
        json!({"url": "https://x.org/h\u{0}evil"}),
        json!({"url": "https://x.org/h\r\nX-Injected: 1"}),
        json!({"url": "https://x.org/a b"}),
    ] {
        let r = app.post(&path, Some(&f.org.owner.token), &bad).await;
        assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let buyer = app.signup("buyer@example.org").await;
    let r = app.post(&path, Some(&buyer.token), &json!({"url": "https://evil.example.org"})).await;
    assert_problem(r, StatusCode::FORBIDDEN).await;
}

/// By default an organizer cannot point webhooks into the server's own
/// network (a metadata service, an admin port on localhost).
#[tokio::test]
async fn webhooks_to_private_addresses_are_refused_by_default() {
    let app = spawn_app_with(|c| c.outbound = ticketing::outbound::OutboundPolicy::PublicOnly).await;
    let f = app.fixture(1, 2, 2).await;
    let path = format!("/api/v1/organizations/{}/webhooks", f.org.id);
    for url in [
        "http://127.0.0.1:5432/",
        "http://169.254.169.254/latest/meta-data/",
        "http://192.168.0.1/admin",
        "http://[::1]:8080/hook",
        "http://0x7f000001/",
        "http://localhost:15672/api",
    ] {
        let r = app.post(&path, Some(&f.org.owner.token), &json!({"url": url})).await;
        let problem = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert!(problem["detail"].as_str().unwrap().contains("not a public address"), "{url}: {problem}");
    }
    // Typos that a URL parser would repair into some other host, and port 0.
    for url in ["http:///hooks.example.org/rt", "https:hooks.example.org", "https://hooks.example.org:0/rt"] {
        let r = app.post(&path, Some(&f.org.owner.token), &json!({"url": url})).await;
        let problem = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert!(problem["detail"].as_str().unwrap().contains("http:// or https://"), "{url}: {problem}");
    }
    // A password in the address would be answered back and logged.
    for url in ["https://user:secret@hooks.example.org/rt", "https://token@hooks.example.org/rt"] {
        let r = app.post(&path, Some(&f.org.owner.token), &json!({"url": url})).await;
        let problem = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert!(problem["detail"].as_str().unwrap().contains("user name or password"), "{url}: {problem}");
    }
    let r = app.post(&path, Some(&f.org.owner.token), &json!({"url": "https://hooks.example.org/rt"})).await;
    assert_eq!(r.status(), StatusCode::CREATED);
}

/// The limit on an organization's webhook endpoints holds when many are
/// added at the same moment.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn webhook_endpoints_added_at_once_stop_at_the_limit() {
    let app = spawn_app().await;
    let f = app.fixture(1, 2, 2).await;
    let path = format!("/api/v1/organizations/{}/webhooks", f.org.id);
    let tries = ticketing::webhooks::WEBHOOK_ENDPOINTS_MAX + 10;
    let app = std::sync::Arc::new(app);
    let mut set = tokio::task::JoinSet::new();
    for i in 0..tries {
        let (app, path, token) = (app.clone(), path.clone(), f.org.owner.token.clone());
        set.spawn(async move {
            app.post(&path, Some(&token), &json!({"url": format!("https://hooks.example.org/{i}")})).await.status()
        });
    }
    let statuses = set.join_all().await;
    let created = statuses.iter().filter(|s| **s == StatusCode::CREATED).count();
    assert_eq!(created, ticketing::webhooks::WEBHOOK_ENDPOINTS_MAX, "{statuses:?}");
    assert!(statuses.iter().all(|s| s.is_success() || s.is_client_error()), "{statuses:?}");
}
