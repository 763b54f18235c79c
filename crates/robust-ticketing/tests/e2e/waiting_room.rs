//! The waiting room in the browser: a buyer joins the line (the page solves
//! the proof-of-work), watches the place update, is let in, and holds seats
//! with the admission the page handed over.

use serde_json::json;

use crate::buyer::sign_in;
use crate::helpers::{one_at_a_time, screenshot_dir, spawn_app};
use crate::quality::{axe_source, axe_violations};
use crate::webdriver::Browser;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_buyer_queues_is_let_in_and_holds_seats() {
    let _one = one_at_a_time().await;
    let app = spawn_app().await;
    let event = app.small_event("Sold Out Soon").await;
    let (status, body) = app
        .call(
            reqwest::Method::PUT,
            &format!("/events/{}/sale-controls", event.id),
            Some(&event.owner.token),
            Some(json!({"waiting_room": "on", "pow_difficulty": 10})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let buyer = app.account("queuer").await;
    let b = Browser::start(&app.root, 1280).await;
    let shots = screenshot_dir();

    // The event page points to the line; holding without a turn is refused.
    sign_in(&b, &buyer.email, &format!("/events/{}", event.id)).await;
    b.wait_for("document.querySelector('.waiting-room-note a')", "the waiting-room note").await;
    b.click(".waiting-room-note a").await;
    b.wait_for("document.getElementById('join')", "the join button").await;
    let axe = axe_source().expect("axe-core is not installed: run scripts/install-browser.sh");
    let mut violations = axe_violations(&b, &axe).await;
    if let Some(d) = &shots {
        b.screenshot(&d.join("queue-join.png").display().to_string()).await;
    }
    b.click("#join").await;
    // Every node lets buyers in once a second; the page follows live and
    // reloads when the turn comes.
    b.wait_for("document.getElementById('turn-h')", "the buyer's turn").await;
    violations.extend(axe_violations(&b, &axe).await);
    if let Some(d) = &shots {
        b.screenshot(&d.join("queue-turn.png").display().to_string()).await;
    }
    assert!(b.text("#turn-h").await.contains("your turn"));

    b.click("#turn-h ~ a.button").await;
    b.wait_for("document.documentElement.dataset.seatmapReady === '1'", "the seat map").await;
    b.click("#seatmap circle[data-i='3']").await;
    b.wait_for("document.querySelectorAll('#pick-inputs input[name=seat]').length === 1", "a picked seat").await;
    b.click("#pick-submit").await;
    b.wait_for("location.pathname.startsWith('/checkout/') && document.getElementById('pay-button')", "the checkout")
        .await;

    // The turn is spent: the line says so.
    b.goto(&format!("/events/{}/queue", event.id)).await;
    b.wait_for("document.getElementById('used-h')", "the spent turn").await;
    b.quit().await;
    assert!(violations.is_empty(), "axe-core: {}", serde_json::to_string_pretty(&violations).unwrap());
}
