//! Organizers: build a venue and an event in the console, publish, and the
//! event is on the home page.

use crate::buyer::sign_up;
use crate::helpers::{one_at_a_time, screenshot_dir, spawn_app};
use crate::webdriver::Browser;

/// Must hold 4: an organizer builds a venue and an event in the console,
/// publishes it, and it appears on the home page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn organizer_builds_a_venue_and_an_event_publishes_and_it_is_on_the_home_page() {
    let _one = one_at_a_time().await;
    let app = spawn_app().await;
    let b = Browser::start(&app.root, 1280).await;
    let shots = screenshot_dir();
    sign_up(&b, "Olivia", "/console").await;

    // No organization yet: the console offers to create one.
    b.fill("#org_name", "Harbour Events").await;
    b.click("form[action='/console/organization'] button[type=submit]").await;
    b.wait_for("document.body.innerText.includes('Start with a venue')", "the empty console").await;
    b.click("a[href='/console/venues/new']").await;

    // The builder: a curved stalls section (pre-filled), a straight balcony, a standing floor.
    b.wait_for("document.querySelector('#venue-preview svg')", "the live preview").await;
    b.fill("#venue_name", "Harbour Hall").await;
    b.fill("#venue_address", "1 Quay Street").await;
    b.fill("#venue_tz", "Europe/Berlin").await;
    b.fill("#section_name_1", "Balcony").await;
    b.fill("#section_zone_1", "balcony").await;
    b.fill("#section_rows_1", "5").await;
    b.fill("#section_seats_1", "24").await;
    b.fill("#ga_name_0", "Standing floor").await;
    b.fill("#ga_capacity_0", "150").await;
    b.wait_for("document.querySelectorAll('#venue-preview circle').length === 320", "the preview with 200 + 120 seats")
        .await;
    assert!(b.text("#builder-total").await.contains("320 seats and 150 standing places"));
    if let Some(d) = &shots {
        b.screenshot(&d.join("builder-1280.png").display().to_string()).await;
    }
    b.click("#venue-form button[type=submit]").await;

    // The event form for the new venue.
    b.wait_for(
        "location.pathname === '/console/events/new' && document.getElementById('event-form')",
        "the event form",
    )
    .await;
    b.fill("#title", "Sea Shanty Festival").await;
    b.js("document.getElementById('category').value = 'festival'", vec![]).await;
    let starts = (chrono::Utc::now() + chrono::Duration::days(30)).format("%Y-%m-%dT19:30").to_string();
    let ends = (chrono::Utc::now() + chrono::Duration::days(30)).format("%Y-%m-%dT23:00").to_string();
    b.js(
        "document.getElementById('starts').value = arguments[0]; document.getElementById('ends').value = arguments[1];",
        vec![starts.into(), ends.into()],
    )
    .await;
    b.fill("#description", "Three bands, one harbour.").await;
    b.fill("#price_stalls", "45.00").await;
    b.fill("#price_balcony", "30").await;
    b.js("document.querySelector('input[id^=price_]:not(#price_stalls):not(#price_balcony)').value = '19.50'", vec![])
        .await;
    b.click("input[name=publish]").await;
    b.click("#event-form button[type=submit]").await;

    b.wait_for(
        "location.pathname === '/console' && document.getElementById('console-events')",
        "the console with the event",
    )
    .await;
    let row = b.text("#console-events tbody tr").await;
    assert!(row.contains("Sea Shanty Festival") && row.contains("On sale"), "{row}");
    assert!(row.contains("470"), "capacity 320 seats + 150 standing: {row}");
    if let Some(d) = &shots {
        b.screenshot(&d.join("console-1280.png").display().to_string()).await;
    }

    b.goto("/").await;
    b.wait_for("document.body.innerText.includes('Sea Shanty Festival')", "the event on the home page").await;
    let card = b.text("#events").await;
    assert!(card.contains("Harbour Hall") && card.contains("from EUR 19.50"), "{card}");
    b.quit().await;
}
