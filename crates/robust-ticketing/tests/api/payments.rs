//! Real payments: the Stripe adapter against localstripe (a stateful Stripe
//! emulator the test starts on loopback), signed webhooks, failover from a
//! gateway answering 500 to a working one, and reconciliation.
//!
//! The test plays Stripe.js: it creates the PaymentMethod at localstripe
//! itself and hands only the `pm_...` id to our API.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use domain::Clock;
use reqwest::StatusCode;
use robust_ticketing::StripeSettings;
use serde_json::{Value, json};
use ticketing::payments::stripe::sign;

use crate::helpers::{Account, Fixture, TestApp, assert_problem, spawn_app_with_gateways};

const TOOLS_DIR_DEFAULT: &str = "/var/tmp/robust-ticketing-tools";
const SECRET_KEY: &str = "sk_test_robustticketing";
const WEBHOOK_SECRET: &str = "whsec_robustticketing_test";
/// localstripe's cards: this one pays ...
const CARD_OK: &str = "4242424242424242";
/// ... and this one is declined when charged (`card_declined`).
const CARD_DECLINED: &str = "4000000000000341";
/// How long localstripe may take to start (a Python interpreter).
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A localstripe process on a free loopback port, killed when dropped.
pub struct LocalStripe {
    child: Child,
    pub base: String,
    client: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl LocalStripe {
    pub async fn start() -> Self {
        ticketing::install_crypto_provider();
        let tools = std::env::var("TEST_TOOLS_DIR").unwrap_or_else(|_| TOOLS_DIR_DEFAULT.to_owned());
        let program = std::path::Path::new(&tools).join("venv/bin/localstripe");
        assert!(
            program.exists(),
            "{} is missing: run scripts/install-test-tools.sh (or set TEST_TOOLS_DIR)",
            program.display()
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        // Its own working folder; --from-scratch ignores any saved state.
        let dir = tempfile::tempdir().unwrap();
        let child = Command::new(&program)
            .args(["--port", &port.to_string(), "--from-scratch"])
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
        let stripe =
            Self { child, base: format!("http://127.0.0.1:{port}"), client: reqwest::Client::new(), _dir: dir };
        let deadline = tokio::time::Instant::now() + START_TIMEOUT;
        loop {
            let r =
                stripe.client.get(format!("{}/v1/payment_intents", stripe.base)).bearer_auth(SECRET_KEY).send().await;
            if r.is_ok_and(|r| r.status().is_success()) {
                return stripe;
            }
            assert!(tokio::time::Instant::now() < deadline, "localstripe did not answer on port {port}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// What Stripe.js does in the buyer's browser: a PaymentMethod for a card.
    pub async fn payment_method(&self, card: &str) -> String {
        let r = self
            .client
            .post(format!("{}/v1/payment_methods", self.base))
            .bearer_auth(SECRET_KEY)
            .form(&[
                ("type", "card"),
                ("card[number]", card),
                ("card[exp_month]", "12"),
                ("card[exp_year]", "2034"),
                ("card[cvc]", "123"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let pm: Value = r.json().await.unwrap();
        pm["id"].as_str().unwrap().to_owned()
    }

    /// Registers our webhook endpoint with its signing secret.
    pub async fn register_webhook(&self, url: &str) {
        let r = self
            .client
            .post(format!("{}/_config/webhooks/rt", self.base))
            .form(&[("url", url), ("secret", WEBHOOK_SECRET)])
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
    }

    pub async fn list(&self, what: &str) -> Vec<Value> {
        let r =
            self.client.get(format!("{}/v1/{what}?limit=100", self.base)).bearer_auth(SECRET_KEY).send().await.unwrap();
        let list: Value = r.json().await.unwrap();
        list["data"].as_array().cloned().unwrap_or_default()
    }

    pub fn settings(&self, name: &str) -> StripeSettings {
        StripeSettings {
            name: Some(name.to_owned()),
            secret_key: SECRET_KEY.to_owned(),
            api_base: Some(self.base.clone()),
            webhook_secret: Some(WEBHOOK_SECRET.to_owned()),
            timeout_secs: Some(10),
        }
    }
}

impl Drop for LocalStripe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A gateway that answers 500 to everything, and counts the calls.
async fn broken_gateway() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let calls = std::sync::Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let app = axum::Router::new().fallback(move || {
        let counted = counted.clone();
        async move {
            counted.fetch_add(1, Ordering::SeqCst);
            (axum::http::StatusCode::INTERNAL_SERVER_ERROR, r#"{"error":{"type":"api_error","message":"down"}}"#)
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), calls)
}

async fn pay(app: &TestApp, buyer: &Account, hold: &str, gateway: &str, token: &str, key: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/orders"))
        .bearer_auth(&buyer.token)
        .header("Idempotency-Key", key)
        .json(&json!({"hold_id": hold, "payment": {"gateway": gateway, "token": token}}))
        .send()
        .await
        .unwrap()
}

async fn hold_seat(app: &TestApp, buyer: &Account, f: &Fixture, seat: usize) -> String {
    hold_seat_total(app, buyer, f, seat).await.0
}

/// The hold's id and what it will charge (amount, currency).
async fn hold_seat_total(app: &TestApp, buyer: &Account, f: &Fixture, seat: usize) -> (String, i64, String) {
    let r = app.hold(&buyer.token, &f.event_id, &[&f.seats[seat]], &[]).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let hold: Value = r.json().await.unwrap();
    (
        hold["id"].as_str().unwrap().to_owned(),
        hold["total"]["amount"].as_i64().unwrap(),
        hold["total"]["currency"].as_str().unwrap().to_owned(),
    )
}

async fn payment_reference(db: &sqlx::AnyPool, order: &Value) -> String {
    let (reference,): (String,) = sqlx::query_as("SELECT payment_reference FROM orders WHERE id = $1")
        .bind(order["id"].as_str().unwrap())
        .fetch_one(db)
        .await
        .unwrap();
    reference
}

async fn database(app: &TestApp) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    sqlx::any::AnyPoolOptions::new().max_connections(1).connect(app.db_url()).await.expect("test database")
}

/// Rows of a table, as a crude fingerprint of what a request changed.
async fn count(db: &sqlx::AnyPool, sql: &'static str) -> i64 {
    let (n,): (i64,) = sqlx::query_as(sql).fetch_one(db).await.unwrap();
    n
}

async fn wait_for_events(db: &sqlx::AnyPool, at_least: i64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while count(db, "SELECT COUNT(*) FROM payment_events").await < at_least {
        assert!(tokio::time::Instant::now() < deadline, "localstripe's webhooks did not arrive");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn post_webhook(app: &TestApp, gateway: &str, signature: &str, body: &str) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/api/v1/payments/{gateway}/webhook")))
        .header("content-type", "application/json")
        .header("stripe-signature", signature)
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn stripe_pays_for_an_order_declines_a_card_and_ignores_replayed_webhooks() {
    let stripe = LocalStripe::start().await;
    let app = spawn_app_with_gateways(|_| {}, &[stripe.settings("stripe")]).await;
    stripe.register_webhook(&app.url("/api/v1/payments/stripe/webhook")).await;
    let f = app.fixture(1, 4, 10).await;
    let buyer = app.signup("stripe-buyer@example.org").await;

    // Paid: an order with its ticket, and one succeeded PaymentIntent.
    let hold = hold_seat(&app, &buyer, &f, 0).await;
    let pm = stripe.payment_method(CARD_OK).await;
    let r = pay(&app, &buyer, &hold, "stripe", &pm, "stripe-order-1").await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let order: Value = r.json().await.unwrap();
    assert_eq!(order["status"], "paid");
    assert_eq!(order["payment_gateway"], "stripe");
    assert_eq!(order["tickets"].as_array().unwrap().len(), 1);
    let db = database(&app).await;
    let intents = stripe.list("payment_intents").await;
    assert_eq!(intents.len(), 1);
    assert_eq!(intents[0]["status"], "succeeded");
    assert_eq!(intents[0]["id"], payment_reference(&db, &order).await);
    assert_eq!(intents[0]["amount"], order["total"]["amount"]);

    // Declined: 402, no order, no ticket, the seat still only held.
    let other = app.signup("declined-buyer@example.org").await;
    let hold2 = hold_seat(&app, &other, &f, 1).await;
    let declined = stripe.payment_method(CARD_DECLINED).await;
    let r = pay(&app, &other, &hold2, "stripe", &declined, "stripe-order-2").await;
    assert_problem(r, StatusCode::PAYMENT_REQUIRED).await;
    let mine: Value = app.get("/api/v1/me/orders", Some(&other.token)).await.json().await.unwrap();
    assert_eq!(mine["items"].as_array().unwrap().len(), 0);
    let tickets: Value = app.get("/api/v1/me/tickets", Some(&other.token)).await.json().await.unwrap();
    assert_eq!(tickets["items"].as_array().unwrap().len(), 0);

    // localstripe's webhooks (succeeded, then payment_failed) arrive and are
    // recorded; they change nothing here (the order exists, the decline was
    // recorded).
    wait_for_events(&db, 2).await;
    let (status,): (String,) = sqlx::query_as("SELECT status FROM payment_attempts WHERE hold_id = $1")
        .bind(&hold2)
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(status, "declined");

    // A replayed webhook (Stripe's event as listed, validly signed) changes
    // nothing: no order, ticket, attempt or refund appears or moves.
    let events = stripe.list("events").await;
    let succeeded = events.iter().find(|e| e["type"] == "payment_intent.succeeded").expect("a succeeded event");
    let body = serde_json::to_string(succeeded).unwrap();
    let fingerprint = || async {
        (
            count(&db, "SELECT COUNT(*) FROM orders").await,
            count(&db, "SELECT COUNT(*) FROM tickets").await,
            count(&db, "SELECT COUNT(*) FROM payment_attempts WHERE status = 'completed'").await,
            count(&db, "SELECT COUNT(*) FROM payment_events").await,
        )
    };
    let before = fingerprint().await;
    for _ in 0..2 {
        let r =
            post_webhook(&app, "stripe", &sign(WEBHOOK_SECRET, app.clock.now().timestamp(), body.as_bytes()), &body)
                .await;
        assert_eq!(r.status(), StatusCode::OK);
        let outcome: Value = r.json().await.unwrap();
        assert_eq!(outcome["outcome"], "duplicate");
    }
    assert_eq!(fingerprint().await, before);
    assert_eq!(stripe.list("refunds").await.len(), 0);
    assert_eq!(stripe.list("payment_intents").await.len(), 2, "one paid, one declined; nothing more");
}

#[tokio::test]
async fn webhooks_with_a_bad_signature_or_a_stale_timestamp_are_refused() {
    let stripe = LocalStripe::start().await;
    let app = spawn_app_with_gateways(|_| {}, &[stripe.settings("stripe")]).await;
    let body = json!({"id": "evt_forged", "type": "payment_intent.succeeded",
                      "data": {"object": {"id": "pi_forged", "object": "payment_intent", "amount": 100, "metadata": {}}}})
    .to_string();
    let now = app.clock.now().timestamp();
    // Wrong secret.
    let r = post_webhook(&app, "stripe", &sign("whsec_wrong", now, body.as_bytes()), &body).await;
    assert_problem(r, StatusCode::BAD_REQUEST).await;
    // Right secret, body changed after signing.
    let signature = sign(WEBHOOK_SECRET, now, body.as_bytes());
    let r = post_webhook(&app, "stripe", &signature, &body.replace("100", "1")).await;
    assert_problem(r, StatusCode::BAD_REQUEST).await;
    // Right signature, timestamp outside the five-minute tolerance, either side.
    for t in [now - 301, now + 301] {
        let r = post_webhook(&app, "stripe", &sign(WEBHOOK_SECRET, t, body.as_bytes()), &body).await;
        assert_problem(r, StatusCode::BAD_REQUEST).await;
    }
    // No signature at all.
    let r = app
        .client
        .post(app.url("/api/v1/payments/stripe/webhook"))
        .header("content-type", "application/json")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_problem(r, StatusCode::BAD_REQUEST).await;
    // The application's clock decides: moved on six minutes, a signature made
    // at the old "now" is stale.
    app.clock.advance(chrono::Duration::seconds(360));
    let r = post_webhook(&app, "stripe", &signature, &body).await;
    assert_problem(r, StatusCode::BAD_REQUEST).await;
    // None of them was recorded; a valid one is accepted (and, naming no
    // attempt of ours, changes nothing else).
    let db = database(&app).await;
    assert_eq!(count(&db, "SELECT COUNT(*) FROM payment_events").await, 0);
    let r =
        post_webhook(&app, "stripe", &sign(WEBHOOK_SECRET, app.clock.now().timestamp(), body.as_bytes()), &body).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM payment_events").await, 1);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM orders").await, 0);
    // A gateway without webhooks (the test gateway) or unknown: 404.
    let r = post_webhook(&app, "test", &signature, &body).await;
    assert_problem(r, StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn checkout_fails_over_from_a_broken_gateway_and_charges_once() {
    let stripe = LocalStripe::start().await;
    let (broken_base, broken_calls) = broken_gateway().await;
    let broken =
        StripeSettings { name: Some("stripe_primary".to_owned()), api_base: Some(broken_base), ..stripe.settings("") };
    let app = spawn_app_with_gateways(|_| {}, &[broken, stripe.settings("stripe")]).await;
    let f = app.fixture(1, 4, 10).await;

    // The organizer lists the broken account first; only configured names.
    let path = format!("/api/v1/organizations/{}/payment-gateways", f.org.id);
    let r = app
        .client
        .put(app.url(&path))
        .bearer_auth(&f.org.owner.token)
        .json(&json!({"gateways": ["nope"]}))
        .send()
        .await
        .unwrap();
    assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    let r = app
        .client
        .put(app.url(&path))
        .bearer_auth(&f.org.owner.token)
        .json(&json!({"gateways": ["stripe_primary", "stripe"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let listed: Value = app.get(&path, Some(&f.org.owner.token)).await.json().await.unwrap();
    assert_eq!(listed["gateways"], json!(["stripe_primary", "stripe"]));
    let buyer = app.signup("failover-buyer@example.org").await;
    let r = app
        .client
        .put(app.url(&path))
        .bearer_auth(&buyer.token)
        .json(&json!({"gateways": ["stripe"]}))
        .send()
        .await
        .unwrap();
    assert_problem(r, StatusCode::FORBIDDEN).await;

    let hold = hold_seat(&app, &buyer, &f, 0).await;
    let pm = stripe.payment_method(CARD_OK).await;
    let r = pay(&app, &buyer, &hold, "stripe", &pm, "failover-1").await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let order: Value = r.json().await.unwrap();
    assert_eq!(order["payment_gateway"], "stripe");
    assert_eq!(order["tickets"].as_array().unwrap().len(), 1);
    assert!(broken_calls.load(std::sync::atomic::Ordering::SeqCst) >= 1, "the primary was tried first");

    // A replay returns the same order and charges nothing more.
    let r = pay(&app, &buyer, &hold, "stripe", &pm, "failover-1").await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let again: Value = r.json().await.unwrap();
    assert_eq!(again["id"], order["id"]);

    // Charged exactly once in total.
    let intents = stripe.list("payment_intents").await;
    let succeeded: Vec<&Value> = intents.iter().filter(|pi| pi["status"] == "succeeded").collect();
    assert_eq!(succeeded.len(), 1, "{intents:#?}");
    assert_eq!(succeeded[0]["amount"], order["total"]["amount"]);
    let db = database(&app).await;
    assert_eq!(succeeded[0]["id"], payment_reference(&db, &order).await);

    // The primary's attempt stays open (its answer was a 500), and the
    // reconciler, which cannot ask that gateway to search, leaves it be
    // rather than guess; nothing is refunded.
    app.clock.advance(chrono::Duration::seconds(ticketing::payments::attempts::RECONCILE_AFTER_SECS + 1));
    app.ticketing().reconcile_payments().await.unwrap();
    assert_eq!(stripe.list("refunds").await.len(), 0);
    let (completed,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM payment_attempts WHERE hold_id = $1 AND status = 'completed' AND gateway = 'stripe'",
    )
    .bind(&hold)
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(completed, 1);
}

#[tokio::test]
async fn a_charge_whose_answer_was_lost_is_completed_by_its_webhook() {
    // The gateway took the money but its answer never reached us: the
    // attempt, written before the call, lets the webhook finish the order.
    let stripe = LocalStripe::start().await;
    let app = spawn_app_with_gateways(|_| {}, &[stripe.settings("stripe")]).await;
    let f = app.fixture(1, 4, 10).await;
    let buyer = app.signup("lost-answer@example.org").await;
    let (hold, total, currency) = hold_seat_total(&app, &buyer, &f, 0).await;
    let pm = stripe.payment_method(CARD_OK).await;
    let db = database(&app).await;
    // Charge at localstripe as our adapter would have, for an attempt we
    // record by hand (the checkout "crashed" after the call).
    let user_id = buyer.id.clone();
    let attempt = uuid::Uuid::now_v7().to_string();
    let now_ms = app.clock.now().timestamp() * 1000;
    sqlx::query(
        "INSERT INTO payment_attempts (id, hold_id, user_id, gateway, amount, currency, order_key, idempotency_key, \
         status, created_at, updated_at) VALUES ($1, $2, $3, 'stripe', $4, $5, 'lost-1', $6, 'pending', $7, $7)",
    )
    .bind(&attempt)
    .bind(&hold)
    .bind(&user_id)
    .bind(total)
    .bind(&currency)
    .bind(format!("order:{user_id}:lost-1:stripe"))
    .bind(now_ms)
    .execute(&db)
    .await
    .unwrap();
    stripe.register_webhook(&app.url("/api/v1/payments/stripe/webhook")).await;
    let r = reqwest::Client::new()
        .post(format!("{}/v1/payment_intents", stripe.base))
        .bearer_auth(SECRET_KEY)
        .form(&[
            ("amount", total.to_string()),
            ("currency", currency.to_lowercase()),
            ("payment_method", pm),
            ("confirm", "true".to_owned()),
            ("metadata[attempt_id]", attempt.clone()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    wait_for_events(&db, 1).await;
    let mine: Value = app.get("/api/v1/me/orders", Some(&buyer.token)).await.json().await.unwrap();
    let orders = mine["items"].as_array().unwrap();
    assert_eq!(orders.len(), 1, "the webhook completed the order");
    assert_eq!(orders[0]["tickets"].as_array().unwrap().len(), 1);
    let (status,): (String,) = sqlx::query_as("SELECT status FROM payment_attempts WHERE id = $1")
        .bind(&attempt)
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(status, "completed");
    assert_eq!(stripe.list("refunds").await.len(), 0);
}

/// Records a payment attempt and makes its charge at the test gateway, as a
/// checkout that died right after the gateway call would have left it.
async fn orphaned_charge(
    app: &TestApp,
    db: &sqlx::AnyPool,
    buyer: &Account,
    hold: (&str, i64, &str),
    key: &str,
) -> String {
    use ticketing::PaymentGateway;
    let (hold, total, currency) = hold;
    let attempt = uuid::Uuid::now_v7().to_string();
    let gateway_key = format!("order:{}:{key}:test", buyer.id);
    sqlx::query(
        "INSERT INTO payment_attempts (id, hold_id, user_id, gateway, amount, currency, order_key, idempotency_key, \
         status, created_at, updated_at) VALUES ($1, $2, $3, 'test', $4, $5, $6, $7, 'pending', $8, $8)",
    )
    .bind(&attempt)
    .bind(hold)
    .bind(&buyer.id)
    .bind(total)
    .bind(currency)
    .bind(key)
    .bind(&gateway_key)
    .bind(app.clock.now().timestamp_millis())
    .execute(db)
    .await
    .unwrap();
    let amount = domain::money::Money::new(total, currency.parse().unwrap()).unwrap();
    app.gateway
        .charge(ticketing::payments::ChargeRequest {
            idempotency_key: &gateway_key,
            attempt: &attempt,
            amount,
            token: ticketing::payments::TEST_TOKEN_OK,
            description: "orphaned",
        })
        .await
        .unwrap();
    attempt
}

#[tokio::test]
async fn reconciliation_completes_a_charge_without_an_order_or_refunds_it_once_the_hold_is_gone() {
    let app = crate::helpers::spawn_app().await;
    let db = database(&app).await;
    let f = app.fixture(1, 4, 10).await;
    let early = app.signup("early@example.org").await;
    let late = app.signup("late@example.org").await;
    let (h1, t1, c1) = hold_seat_total(&app, &early, &f, 0).await;
    let a1 = orphaned_charge(&app, &db, &early, (&h1, t1, &c1), "k-early").await;

    // Not yet: the checkout that made it might still be committing.
    app.ticketing().reconcile_payments().await.unwrap();
    let mine: Value = app.get("/api/v1/me/orders", Some(&early.token)).await.json().await.unwrap();
    assert_eq!(mine["items"].as_array().unwrap().len(), 0);

    // Past the settle time, with the hold still live: the order is made.
    app.clock.advance(chrono::Duration::seconds(ticketing::payments::attempts::RECONCILE_AFTER_SECS + 1));
    let (h2, t2, c2) = hold_seat_total(&app, &late, &f, 1).await;
    let a2 = orphaned_charge(&app, &db, &late, (&h2, t2, &c2), "k-late").await;
    app.ticketing().reconcile_payments().await.unwrap();
    let mine: Value = app.get("/api/v1/me/orders", Some(&early.token)).await.json().await.unwrap();
    assert_eq!(mine["items"].as_array().unwrap().len(), 1, "completed into an order");
    assert_eq!(mine["items"][0]["tickets"].as_array().unwrap().len(), 1);
    let status = |id: String| {
        let db = db.clone();
        async move {
            let (s,): (String,) = sqlx::query_as("SELECT status FROM payment_attempts WHERE id = $1")
                .bind(id)
                .fetch_one(&db)
                .await
                .unwrap();
            s
        }
    };
    assert_eq!(status(a1.clone()).await, "completed");

    // The second buyer's hold expires before reconciliation: refunded, once.
    app.clock.advance(chrono::Duration::seconds(crate::helpers::HOLD_TTL_SECS as i64 + 1));
    app.ticketing().reconcile_payments().await.unwrap();
    app.clock.advance(chrono::Duration::seconds(ticketing::payments::attempts::RECONCILE_AFTER_SECS + 1));
    app.ticketing().reconcile_payments().await.unwrap();
    assert_eq!(status(a2).await, "refunded");
    let mine: Value = app.get("/api/v1/me/orders", Some(&late.token)).await.json().await.unwrap();
    assert_eq!(mine["items"].as_array().unwrap().len(), 0);
    let charges = app.gateway.charges();
    assert_eq!(charges.len(), 2);
    assert_eq!(charges.iter().filter(|c| c.refunded).count(), 1);
    assert_eq!(app.gateway.net_charged_minor(), t1);
    assert_eq!(status(a1).await, "completed", "the completed attempt is never refunded");
}

#[tokio::test]
async fn stripe_refunds_part_and_then_the_rest_of_an_order() {
    let stripe = LocalStripe::start().await;
    let app = spawn_app_with_gateways(|_| {}, &[stripe.settings("stripe")]).await;
    let f = app.fixture(1, 4, 10).await;
    let buyer = app.signup("refunded-buyer@example.org").await;
    let r = app.hold(&buyer.token, &f.event_id, &[&f.seats[0], &f.seats[1]], &[]).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let hold: Value = r.json().await.unwrap();
    let pm = stripe.payment_method(CARD_OK).await;
    let r = pay(&app, &buyer, hold["id"].as_str().unwrap(), "stripe", &pm, "refund-me").await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let order: Value = r.json().await.unwrap();
    let total = order["total"]["amount"].as_i64().unwrap();
    let currency = order["total"]["currency"].as_str().unwrap();
    let path = format!("/api/v1/orders/{}/refunds", order["id"].as_str().unwrap());
    let refund = |body: Value, key: &'static str| {
        app.client
            .post(app.url(&path))
            .bearer_auth(&f.org.owner.token)
            .header("Idempotency-Key", key)
            .json(&body)
            .send()
    };
    let r = refund(json!({"amount": {"amount": 1000, "currency": currency}}), "part").await.unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let r = refund(json!({}), "rest").await.unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    // The refund jobs call Stripe; wait for both refunds to be there.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let refunds = loop {
        let refunds = stripe.list("refunds").await;
        if refunds.len() >= 2 || tokio::time::Instant::now() > deadline {
            break refunds;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let mut amounts: Vec<i64> = refunds.iter().map(|r| r["amount"].as_i64().unwrap()).collect();
    amounts.sort_unstable();
    let mut expected = vec![1000, total - 1000];
    expected.sort_unstable();
    assert_eq!(amounts, expected, "{refunds:#?}");
    let db = database(&app).await;
    let reference = payment_reference(&db, &order).await;
    assert!(refunds.iter().all(|r| r["payment_intent"] == reference.as_str()));
}

#[tokio::test]
async fn a_key_left_pending_by_a_checkout_that_died_is_taken_over_by_a_later_retry() {
    use sha2::Digest;
    let app = crate::helpers::spawn_app().await;
    let db = database(&app).await;
    let f = app.fixture(1, 4, 10).await;
    let buyer = app.signup("died-mid-checkout@example.org").await;
    let (hold, total, currency) = hold_seat_total(&app, &buyer, &f, 0).await;
    // The checkout claimed its key, recorded its attempt and was charged,
    // then its process died: the key stays pending.
    orphaned_charge(&app, &db, &buyer, (&hold, total, &currency), "died-1").await;
    let mut request_hash = sha2::Sha256::new();
    for part in [hold.as_str(), "test", ticketing::payments::TEST_TOKEN_OK] {
        request_hash.update((part.len() as u64).to_be_bytes());
        request_hash.update(part.as_bytes());
    }
    let now_ms = app.clock.now().timestamp_millis();
    sqlx::query(
        "INSERT INTO idempotency_keys (user_id, key, request_hash, state, created_at, updated_at) \
         VALUES ($1, 'died-1', $2, 'pending', $3, $3)",
    )
    .bind(&buyer.id)
    .bind(request_hash.finalize().to_vec())
    .bind(now_ms)
    .execute(&db)
    .await
    .unwrap();

    // Long after, the buyer retries with the same key and body: the retry
    // takes the key over, finds the charge already made and completes the
    // order with it.
    app.clock.advance(chrono::Duration::seconds(121));
    let r = app.order(&buyer.token, &hold, "died-1", ticketing::payments::TEST_TOKEN_OK).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let order: Value = r.json().await.unwrap();
    assert_eq!(order["tickets"].as_array().unwrap().len(), 1, "{order}");
    assert_eq!(app.gateway.charges().len(), 1, "charged once");
    assert_eq!(app.gateway.net_charged_minor(), total);
    // Replayed from now on.
    let again = app.order(&buyer.token, &hold, "died-1", ticketing::payments::TEST_TOKEN_OK).await;
    assert_eq!(again.status(), StatusCode::CREATED);
    assert!(again.headers().contains_key("idempotent-replayed"));
    assert_eq!(again.json::<Value>().await.unwrap()["id"], order["id"]);
}
