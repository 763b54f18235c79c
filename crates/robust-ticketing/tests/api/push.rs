//! Web push end to end: a tiny push service on loopback checks the VAPID
//! token against the application's public key and decrypts each message
//! with the subscription's private key, which only the test (the "browser")
//! holds. A push service answering 410 makes the subscription go away.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, spawn_app, spawn_app_with};

/// A message the push service accepted, decrypted.
#[derive(Clone, Debug)]
struct Delivered {
    subscription: String,
    message: Value,
}

#[derive(Clone, Default)]
struct PushService {
    /// Which subscription (path segment) each browser's keys are.
    browsers: Arc<Mutex<Vec<(String, Browser)>>>,
    delivered: Arc<Mutex<Vec<Delivered>>>,
    gone_hits: Arc<Mutex<u32>>,
    /// Answers 503 to the first delivery: the job must retry.
    unavailable_once: Arc<Mutex<bool>>,
    unavailable_hits: Arc<Mutex<u32>>,
    /// The application's VAPID public key, base64url.
    vapid_key: Arc<Mutex<String>>,
    origin: Arc<Mutex<String>>,
}

#[derive(Clone)]
struct Browser {
    secret: Vec<u8>,
    auth: [u8; 16],
}

impl Browser {
    fn new() -> Self {
        let secret = loop {
            let mut b = [0u8; 32];
            rand::fill(&mut b);
            if p256::SecretKey::from_slice(&b).is_ok() {
                break b.to_vec();
            }
        };
        let mut auth = [0u8; 16];
        rand::fill(&mut auth);
        Self { secret, auth }
    }

    fn p256dh(&self) -> String {
        URL_SAFE_NO_PAD.encode(p256::SecretKey::from_slice(&self.secret).unwrap().public_key().to_sec1_bytes())
    }

    fn auth(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.auth)
    }
}

/// Checks the RFC 8292 `Authorization: vapid t=…, k=…` header: the key is
/// the application's, the ES256 signature verifies with it, and the claims
/// name this push service's origin, a near expiry and a contact.
fn check_vapid(service: &PushService, headers: &HeaderMap) -> Result<(), String> {
    let header = headers.get("authorization").and_then(|v| v.to_str().ok()).ok_or("no Authorization")?;
    let (t, k) = header.strip_prefix("vapid t=").and_then(|r| r.split_once(", k=")).ok_or("not a vapid header")?;
    if k != *service.vapid_key.lock().unwrap() {
        return Err(format!("k={k} is not the application's key"));
    }
    let (signing_input, signature) = t.rsplit_once('.').ok_or("JWT without signature")?;
    let key = VerifyingKey::from_sec1_bytes(&URL_SAFE_NO_PAD.decode(k).map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    let signature = Signature::from_slice(&URL_SAFE_NO_PAD.decode(signature).map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    key.verify(signing_input.as_bytes(), &signature).map_err(|_| "VAPID signature does not verify".to_owned())?;
    let (header_b64, claims_b64) = signing_input.split_once('.').ok_or("JWT without claims")?;
    let jwt_header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header_b64).unwrap()).unwrap();
    assert_eq!(jwt_header["alg"], "ES256");
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims_b64).unwrap()).unwrap();
    if claims["aud"] != *service.origin.lock().unwrap() {
        return Err(format!("aud {} is not this push service", claims["aud"]));
    }
    let exp = claims["exp"].as_i64().ok_or("no exp")?;
    let now = Utc::now().timestamp();
    if exp <= now || exp > now + 24 * 60 * 60 {
        return Err(format!("exp {exp} is not within 24 hours"));
    }
    if !claims["sub"].as_str().is_some_and(|s| s.starts_with("mailto:") || s.starts_with("https:")) {
        return Err("sub is not a contact".into());
    }
    Ok(())
}

async fn receive(
    State(service): State<PushService>,
    Path(subscription): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> AxumStatus {
    if let Err(e) = check_vapid(&service, &headers) {
        eprintln!("push service refused: {e}");
        return AxumStatus::UNAUTHORIZED;
    }
    if headers.get("content-encoding").and_then(|v| v.to_str().ok()) != Some("aes128gcm")
        || headers.get("ttl").is_none()
    {
        return AxumStatus::BAD_REQUEST;
    }
    if std::mem::take(&mut *service.unavailable_once.lock().unwrap()) {
        *service.unavailable_hits.lock().unwrap() += 1;
        return AxumStatus::SERVICE_UNAVAILABLE;
    }
    if subscription == "gone" {
        *service.gone_hits.lock().unwrap() += 1;
        return AxumStatus::GONE;
    }
    let browser = service.browsers.lock().unwrap().iter().find(|(s, _)| *s == subscription).map(|(_, b)| b.clone());
    let Some(browser) = browser else { return AxumStatus::NOT_FOUND };
    let Ok(plain) = domain::webpush::decrypt(&browser.secret, &browser.auth, &body) else {
        return AxumStatus::BAD_REQUEST;
    };
    let message: Value = serde_json::from_slice(&plain).expect("the message is JSON");
    service.delivered.lock().unwrap().push(Delivered { subscription, message });
    AxumStatus::CREATED
}

/// Starts the push service on a free loopback port; returns its origin.
async fn push_service(service: PushService) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    *service.origin.lock().unwrap() = origin.clone();
    let router = axum::Router::new().route("/push/{subscription}", axum::routing::post(receive)).with_state(service);
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    origin
}

async fn subscribe(app: &TestApp, token: &str, endpoint: &str, p256dh: &str, auth: &str) -> reqwest::Response {
    app.post(
        "/api/v1/me/push-subscriptions",
        Some(token),
        &json!({"endpoint": endpoint, "expirationTime": null, "keys": {"p256dh": p256dh, "auth": auth}}),
    )
    .await
}

async fn unsubscribe(app: &TestApp, token: &str, endpoint: &str) -> reqwest::Response {
    app.client
        .delete(app.url("/api/v1/me/push-subscriptions"))
        .bearer_auth(token)
        .json(&json!({"endpoint": endpoint}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn reminders_are_pushed_encrypted_with_a_valid_vapid_token_and_gone_subscriptions_are_removed() {
    let app = spawn_app().await;
    let service = PushService::default();
    *service.unavailable_once.lock().unwrap() = true;
    let origin = push_service(service.clone()).await;

    let r = app.get("/api/v1/push/vapid-public-key", None).await;
    assert_eq!(r.status(), StatusCode::OK);
    let key = r.json::<Value>().await.unwrap()["public_key"].as_str().unwrap().to_owned();
    assert_eq!(URL_SAFE_NO_PAD.decode(&key).unwrap().len(), 65);
    let again: Value = app.get("/api/v1/push/vapid-public-key", None).await.json().await.unwrap();
    assert_eq!(again["public_key"], key.as_str(), "the key is kept, not regenerated");
    *service.vapid_key.lock().unwrap() = key;

    let f = app.fixture(1, 4, 10).await;
    let buyer = app.signup("push-buyer@example.org").await;
    let browser = Browser::new();
    service.browsers.lock().unwrap().push(("phone".into(), browser.clone()));
    let r = subscribe(&app, &buyer.token, &format!("{origin}/push/phone"), &browser.p256dh(), &browser.auth()).await;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
    // A second device whose subscription the push service has forgotten.
    let old = Browser::new();
    let gone = format!("{origin}/push/gone");
    let r = subscribe(&app, &buyer.token, &gone, &old.p256dh(), &old.auth()).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    // Someone who did not allow reminders gets none.
    let other = app.signup("push-other@example.org").await;
    app.buy(&other.token, &f.event_id, &[&f.seats[1]], &[]).await;
    app.buy(&buyer.token, &f.event_id, &[&f.seats[0]], &[]).await;

    // The event starts in 30 days: nothing yet. A day before it, the reminder.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(service.delivered.lock().unwrap().is_empty());
    app.clock.advance(chrono::Duration::days(29) + chrono::Duration::hours(1));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let done = !service.delivered.lock().unwrap().is_empty() && *service.gone_hits.lock().unwrap() > 0;
        if done {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no reminder was pushed");
        // A refused attempt is retried after a back-off on the app's clock.
        app.clock.advance(chrono::Duration::seconds(5));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let delivered = service.delivered.lock().unwrap().clone();
    assert_eq!(delivered.len(), 1, "one reminder to the one live subscription: {delivered:?}");
    assert_eq!(delivered[0].subscription, "phone");
    assert_eq!(*service.unavailable_hits.lock().unwrap(), 1, "the 503 was answered once, then retried");
    assert_eq!(delivered[0].message["title"], "Tomorrow: Test Gig");
    assert_eq!(delivered[0].message["url"], "/tickets");
    assert!(delivered[0].message["body"].as_str().unwrap().contains("Test Hall"));

    // The 410 removed that subscription; the live one is still there. (The
    // clock moved a month: the buyer signs in again.)
    let buyer = crate::helpers::Account { token: app.login(&buyer.email).await, ..buyer };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let endpoints = loop {
        let r = app.get("/api/v1/me/push-subscriptions", Some(&buyer.token)).await;
        assert_eq!(r.status(), StatusCode::OK);
        let list: Value = r.json().await.unwrap();
        let endpoints: Vec<String> =
            list["items"].as_array().unwrap().iter().map(|s| s["endpoint"].as_str().unwrap().to_owned()).collect();
        if !endpoints.contains(&gone) || tokio::time::Instant::now() > deadline {
            break endpoints;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(endpoints, vec![format!("{origin}/push/phone")]);
    assert_eq!(*service.gone_hits.lock().unwrap(), 1, "a 410 is not retried");
    assert_problem(unsubscribe(&app, &buyer.token, &gone).await, StatusCode::NOT_FOUND).await;
    let r = unsubscribe(&app, &buyer.token, &format!("{origin}/push/phone")).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn bad_subscriptions_are_refused() {
    let app = spawn_app().await;
    let buyer = app.signup("push-bad@example.org").await;
    let b = Browser::new();
    let (p, a) = (b.p256dh(), b.auth());
    for (endpoint, p256dh, auth) in [
        ("http://push.example.com/x", p.as_str(), a.as_str()),
        ("ftp://push.example.com/x", &p, &a),
        ("not a url", &p, &a),
        ("https://user:secret@push.example.com/x", &p, &a),
        ("https://push.example.com/abc\u{0}", &p, &a),
        ("https://push.example.com/a\r\nb", &p, &a),
        ("  https://push.example.com/abc  ", &p, &a),
        ("https://push.example.com/x", "AAAA", &a),
        ("https://push.example.com/x", &p, "AAAA"),
        ("https://push.example.com/x", "not base64!", &a),
    ] {
        let r = subscribe(&app, &buyer.token, endpoint, p256dh, auth).await;
        assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    // A point off the curve.
    let mut off = URL_SAFE_NO_PAD.decode(&p).unwrap();
    off[64] ^= 1;
    let r = subscribe(&app, &buyer.token, "https://push.example.com/x", &URL_SAFE_NO_PAD.encode(off), &a).await;
    assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    let r = app
        .post("/api/v1/me/push-subscriptions", Some(&buyer.token), &json!({"endpoint": "https://p.example/x"}))
        .await;
    assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    let r = app.post("/api/v1/me/push-subscriptions", None, &json!({})).await;
    assert_problem(r, StatusCode::UNAUTHORIZED).await;
    assert_problem(unsubscribe(&app, &buyer.token, "https://push.example.com/never").await, StatusCode::NOT_FOUND)
        .await;
    // https anywhere is fine.
    let r = subscribe(&app, &buyer.token, "https://push.example.com/ok", &p, &a).await;
    assert_eq!(r.status(), StatusCode::CREATED);
}

/// By default a buyer cannot point the server's push requests into its own
/// network: an endpoint naming a private address or localhost is refused.
#[tokio::test]
async fn push_endpoints_on_private_addresses_are_refused_by_default() {
    let app = spawn_app_with(|c| c.outbound = ticketing::outbound::OutboundPolicy::PublicOnly).await;
    let buyer = app.signup("private-push@example.org").await;
    let browser = Browser::new();
    for endpoint in [
        "http://127.0.0.1:4000/push/1",
        "https://169.254.169.254/latest/meta-data",
        "https://10.0.0.7/push",
        "https://[fd00::1]/push",
        "http://localhost:4000/push/1",
    ] {
        let r = subscribe(&app, &buyer.token, endpoint, &browser.p256dh(), &browser.auth()).await;
        let problem = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert!(problem["detail"].as_str().unwrap().contains("not a public address"), "{endpoint}: {problem}");
    }
    let r =
        subscribe(&app, &buyer.token, "https://push.example.net/send/abc", &browser.p256dh(), &browser.auth()).await;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
}
