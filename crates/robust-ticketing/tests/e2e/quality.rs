//! Accessibility (axe-core: no serious or critical violations on the main
//! pages), the installable PWA, and pages that work at 360 px and without
//! JavaScript.

use serde_json::{Value, json};

use crate::buyer::sign_in;
use crate::helpers::{one_at_a_time, screenshot_dir, spawn_app};
use crate::webdriver::Browser;

pub(crate) fn axe_source() -> Option<String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let default = root.join("target/axe/node_modules/axe-core/axe.min.js");
    let path = std::env::var_os("AXE_CORE_JS").map(std::path::PathBuf::from).unwrap_or(default);
    std::fs::read_to_string(path).ok()
}

pub(crate) async fn axe_violations(b: &Browser, axe: &str) -> Vec<Value> {
    b.js(axe, vec![]).await;
    let v = b
        .js_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, { resultTypes: ['violations'] })
               .then(r => done(r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
                 .map(v => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map(n => n.target.join(' ')) }))))
               .catch(e => done([{ id: 'axe-error', help: String(e) }]));",
            vec![],
        )
        .await;
    v.as_array().cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn main_pages_have_no_serious_or_critical_axe_violations() {
    // scripts/install-browser.sh installs axe-core; without it this check
    // cannot run, and a check that does not run must not pass.
    let axe = axe_source().expect("axe-core is not installed: run scripts/install-browser.sh");
    let _one = one_at_a_time().await;
    let app = spawn_app().await;
    let event = app.small_event("Accessible Evening").await;
    let buyer = app.account("buyer").await;
    let order = app.buy(&buyer, &event.id, &[&event.seats[0]]).await;
    let hold =
        app.post(&format!("/events/{}/holds", event.id), Some(&buyer.token), json!({"seats": [&event.seats[5]]})).await;
    let b = Browser::start(&app.root, 1280).await;
    let mut failures = Vec::new();
    let mut check = |page: &str, v: Vec<Value>| {
        if !v.is_empty() {
            failures.push(format!("{page}: {}", serde_json::to_string_pretty(&v).unwrap()));
        }
    };
    for (path, ready) in [
        ("/".to_owned(), "document.getElementById('events')"),
        (format!("/events/{}", event.id), "document.documentElement.dataset.seatmapReady === '1'"),
        (format!("/events/{}/seats", event.id), "document.querySelector('.seat-row')"),
        ("/signin".to_owned(), "document.getElementById('email')"),
        ("/signup".to_owned(), "document.getElementById('email')"),
        ("/forgot-password".to_owned(), "document.getElementById('email')"),
    ] {
        b.goto(&path).await;
        b.wait_for(ready, &path).await;
        check(&path, axe_violations(&b, &axe).await);
    }
    sign_in(&b, &buyer.email, "/tickets").await;
    for (path, ready) in [
        ("/tickets".to_owned(), "document.querySelector('.ticket')"),
        (format!("/orders/{}", order["id"].as_str().unwrap()), "document.querySelector('.ticket')"),
        (format!("/checkout/{}", hold["id"].as_str().unwrap()), "document.getElementById('pay-button')"),
        ("/console".to_owned(), "document.getElementById('org_name')"),
        ("/notifications".to_owned(), "document.querySelector('.notification-list')"),
        ("/account".to_owned(), "document.getElementById('current_password')"),
    ] {
        b.goto(&path).await;
        b.wait_for(ready, &path).await;
        check(&path, axe_violations(&b, &axe).await);
    }
    // When a notification came is shown in this device's zone, not in UTC,
    // in the shape the server writes venue times in ("Sat 14 Jun 2025,
    // 19:30 CEST").
    b.cdp("Emulation.setTimezoneOverride", json!({"timezoneId": "America/New_York"})).await;
    b.goto("/notifications").await;
    b.wait_for("document.querySelector('.notification-list time')", "the notifications").await;
    let when = b.text(".notification-list time").await;
    let at: chrono::DateTime<chrono::Utc> = b
        .js("return document.querySelector('.notification-list time').dateTime", vec![])
        .await
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let there = at.with_timezone(&chrono_tz::America::New_York);
    let expected = there.format("%a %-d %b %Y, %H:%M").to_string();
    assert!(when.starts_with(&expected) && !when.contains("UTC"), "{when}, expected {expected} and a zone");
    sign_in(&b, &event.owner.email, "/console").await;
    for (path, ready) in [
        ("/console".to_owned(), "document.getElementById('console-events')"),
        ("/console/venues/new".to_owned(), "document.querySelector('#venue-preview svg')"),
        ("/console/events/new".to_owned(), "document.getElementById('event-form')"),
        (format!("/console/events/{}/sales", event.id), "document.querySelector('#heatmap svg')"),
        (format!("/console/events/{}/orders", event.id), "document.getElementById('orders-table')"),
        (
            format!("/console/events/{}/orders/{}", event.id, order["id"].as_str().unwrap()),
            "document.getElementById('refund-amount')",
        ),
        (format!("/console/events/{}/ticket-types/new", event.id), "document.getElementById('ticket-type-form')"),
        (format!("/console/events/{}/cancel", event.id), "document.getElementById('confirm')"),
        (format!("/console/events/{}/edit", event.id), "document.getElementById('details-form')"),
        (format!("/gate/{}", event.id), "document.documentElement.dataset.scannerReady === '1'"),
    ] {
        b.goto(&path).await;
        b.wait_for(ready, &path).await;
        check(&path, axe_violations(&b, &axe).await);
    }
    b.quit().await;
    assert!(failures.is_empty(), "axe-core found serious or critical violations:\n{}", failures.join("\n"));
}

/// Longest wait for the service worker to take control of a page.
const SERVICE_WORKER_WAIT_SECS: u64 = 30;

/// The PWA basics: a manifest with icons, a service worker that controls the
/// page, and pages that lay out at 360 px without horizontal scrolling.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_is_installable_and_fits_a_small_phone() {
    let _one = one_at_a_time().await;
    let app = spawn_app().await;
    let event = app.small_event("Small Screens").await;
    let manifest = app.http.get(format!("{}/manifest.webmanifest", app.root)).send().await.unwrap();
    let manifest: Value = manifest.json().await.unwrap();
    assert_eq!(manifest["display"], "standalone");
    assert!(manifest["icons"].as_array().unwrap().iter().any(|i| i["sizes"] == "512x512"));
    let shots = screenshot_dir();
    for width in [360, 1280] {
        let b = Browser::start(&app.root, width).await;
        for (name, path, ready) in [
            ("home", "/".to_owned(), "document.getElementById('events')"),
            ("event", format!("/events/{}", event.id), "document.documentElement.dataset.seatmapReady === '1'"),
            ("signin", "/signin".to_owned(), "document.getElementById('email')"),
        ] {
            b.goto(&path).await;
            b.wait_for(ready, &path).await;
            let overflow =
                b.js("return document.documentElement.scrollWidth - window.innerWidth", vec![]).await.as_i64().unwrap();
            assert!(overflow <= 0, "{path} scrolls sideways by {overflow}px at {width}px");
            if let Some(d) = &shots {
                b.screenshot(&d.join(format!("{name}-{width}.png")).display().to_string()).await;
            }
        }
        // The worker precaches every asset before it takes control; on a
        // busy two-core machine that has taken longer than the usual wait.
        b.wait_for_within(
            "navigator.serviceWorker.controller !== null",
            "the service worker controls the page",
            std::time::Duration::from_secs(SERVICE_WORKER_WAIT_SECS),
        )
        .await;
        if width == 360 {
            sign_in(&b, &event.owner.email, "/console").await;
            if let Some(d) = &shots {
                b.screenshot(&d.join("console-360.png").display().to_string()).await;
            }
            b.goto(&format!("/gate/{}", event.id)).await;
            b.wait_for("document.documentElement.dataset.scannerReady === '1'", "scanner").await;
            if let Some(d) = &shots {
                b.screenshot(&d.join("scanner-360.png").display().to_string()).await;
            }
        }
        b.quit().await;
    }
}

/// Without JavaScript the home page lists events and an event page offers
/// "best available" and the seat list; buying by list works with plain forms.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browsing_and_buying_by_list_works_without_javascript() {
    let _one = one_at_a_time().await;
    let app = spawn_app().await;
    let event = app.small_event("Plain HTML Night").await;
    let buyer = app.account("buyer").await;
    // A cookie-keeping HTTP client is a browser without JavaScript.
    let client =
        reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::limited(5)).build().unwrap();
    let home = client.get(format!("{}/", app.root)).send().await.unwrap().text().await.unwrap();
    assert!(home.contains("Plain HTML Night"));
    let csrf = |html: &str| {
        let i = html.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
        html[i..i + 64].to_owned()
    };
    let signin = client.get(format!("{}/signin", app.root)).send().await.unwrap().text().await.unwrap();
    let r = client
        .post(format!("{}/signin", app.root))
        .form(&[
            ("csrf", csrf(&signin).as_str()),
            ("email", buyer.email.as_str()),
            ("password", crate::helpers::PASSWORD),
            ("next", "/"),
        ])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    // A POST without the CSRF token is refused.
    let forged =
        client.post(format!("{}/events/{}/hold", app.root, event.id)).form(&[("best_qty", "2")]).send().await.unwrap();
    assert_eq!(forged.status().as_u16(), 403);
    let list =
        client.get(format!("{}/events/{}/seats", app.root, event.id)).send().await.unwrap().text().await.unwrap();
    let token = csrf(&list);
    let r = client
        .post(format!("{}/events/{}/hold", app.root, event.id))
        .form(&[("csrf", token.as_str()), ("seat", event.seats[2].as_str()), ("seat", event.seats[3].as_str())])
        .send()
        .await
        .unwrap();
    assert!(r.url().path().starts_with("/checkout/"), "{}", r.url());
    let checkout = r.text().await.unwrap();
    assert!(checkout.contains("EUR 90.00"));
    let key_at = checkout.find("name=\"idempotency_key\" value=\"").unwrap() + 30;
    let key = &checkout[key_at..key_at + 36];
    let pay_at = checkout.find("action=\"/checkout/").unwrap() + 8;
    let pay_path = &checkout[pay_at..checkout[pay_at..].find('"').unwrap() + pay_at];
    let r = client
        .post(format!("{}{pay_path}", app.root))
        .form(&[("csrf", token.as_str()), ("idempotency_key", key), ("token", "tok_ok")])
        .send()
        .await
        .unwrap();
    assert!(r.url().path().starts_with("/orders/"), "{}", r.url());
    let confirmation = r.text().await.unwrap();
    assert_eq!(confirmation.matches("class=\"ticket\"").count(), 2);
    let ics = client.get(format!("{}/events/{}/calendar.ics", app.root, event.id)).send().await.unwrap();
    assert_eq!(ics.headers()["content-type"], "text/calendar; charset=utf-8");
    let ics = ics.text().await.unwrap();
    assert!(ics.starts_with("BEGIN:VCALENDAR\r\n") && ics.contains("SUMMARY:Plain HTML Night\r\n"));
}
