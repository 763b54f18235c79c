//! Organizers: build a venue and an event in the console, publish, and the
//! event is on the home page.

use serde_json::{Value, json};

use crate::buyer::{sign_in, sign_up};
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
    b.click("#create-event").await;

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

    // Back to the filled-in form and Create again: the form finds the event
    // it made and says so, instead of making a second one.
    b.js("history.back()", vec![]).await;
    b.wait_for(
        "location.pathname === '/console/events/new' && document.getElementById('title').value === 'Sea Shanty Festival'",
        "the filled-in form again",
    )
    .await;
    b.click("#create-event").await;
    b.wait_for(
        "location.pathname.endsWith('/sales') && document.body.innerText.includes('no second one was made')",
        "the event the form made",
    )
    .await;
    b.goto("/console").await;
    b.wait_for("document.getElementById('console-events')", "the console").await;
    let rows = b.js("return document.querySelectorAll('#console-events tbody tr').length", vec![]).await;
    assert_eq!(rows, json!(1), "one event, not two");

    b.goto("/").await;
    b.wait_for("document.body.innerText.includes('Sea Shanty Festival')", "the event on the home page").await;
    let card = b.text("#events").await;
    assert!(card.contains("Harbour Hall") && card.contains("from EUR 19.50"), "{card}");
    b.quit().await;
}

/// An organizer reviews a draft before publishing it, puts an on-sale behind
/// a waiting room with a ticket limit per account, and cancels an event,
/// which refunds its buyers, all from the console.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_reviews_before_publishing_sets_the_waiting_room_and_cancels_with_refunds() {
    let _one = one_at_a_time().await;
    let app = spawn_app().await;
    let ev = app.small_event("Harbour Nights").await;
    let buyer = app.account("buyer").await;
    let order = app.buy(&buyer, &ev.id, &[&ev.seats[0]]).await;
    let owner = Some(ev.owner.token.as_str());
    // A draft at the same venue, made through the API.
    let me = app.get("/me", owner).await;
    let org = me["memberships"][0]["organization_id"].as_str().unwrap().to_owned();
    let published = app.get(&format!("/events/{}", ev.id), None).await;
    let starts = chrono::Utc::now() + chrono::Duration::days(40);
    let draft = app
        .post(
            &format!("/organizations/{org}/events"),
            owner,
            json!({"venue_id": published["venue_id"], "title": "Winter Draft", "category": "concert",
                   "starts_at": starts, "ends_at": starts + chrono::Duration::hours(2),
                   "ticket_types": [{"name": "Stalls seat", "price": {"amount": 3900, "currency": "EUR"}, "price_zone": "stalls"}]}),
        )
        .await;
    let draft_id = draft["id"].as_str().unwrap().to_owned();
    let shots = screenshot_dir();
    let b = Browser::start(&app.root, 1280).await;
    sign_in(&b, &ev.owner.email, "/console").await;

    // The team: gate staff are invited by e-mail, join by the link, change
    // role, and are removed after the season.
    let door = app.account("door").await;
    // The door person runs a small organization of their own too.
    app.post("/organizations", Some(&door.token), json!({"name": "Door's Own Club"})).await;
    b.fill("#member_email", &door.email).await;
    b.click("#team-form input[name=role][value=admin]").await;
    b.click("#team-form button[type=submit]").await;
    b.wait_for("document.getElementById('invite-link')", "the invitation made").await;
    let notice = b.text("#invited").await;
    assert!(notice.contains(&door.email) && notice.contains("send them this link yourself"), "{notice}");
    let link = b.js("return document.getElementById('invite-link').value", vec![]).await;
    let link = link.as_str().unwrap().to_owned();
    let invitations = b.text("#invitations-table").await;
    assert!(invitations.contains(&door.email) && invitations.contains("Admin"), "{invitations}");
    if let Some(d) = &shots {
        b.screenshot(&d.join("team-invited-1280.png").display().to_string()).await;
    }
    // A second invitation is withdrawn before anyone uses it.
    b.fill("#member_email", "nobody-here@e2e.test").await;
    b.click("#team-form button[type=submit]").await;
    b.wait_for("document.getElementById('invite-link')", "the second invitation made").await;
    b.click("button[aria-label='Withdraw the invitation for nobody-here@e2e.test']").await;
    b.wait_for("document.body.innerText.includes('Invitation withdrawn')", "withdrawn").await;
    assert!(!b.text("#team").await.contains("nobody-here@e2e.test"));

    // The door person opens the link signed out, signs in from there and joins.
    let path = link.split_once("/invitations/").map(|(_, s)| format!("/invitations/{s}")).unwrap();
    let d = Browser::start(&app.root, 390).await;
    d.goto(&path).await;
    d.wait_for("document.body.innerText.includes('Sign in to join')", "the invitation page").await;
    assert!(d.text("main").await.contains("as an admin"), "{}", d.text("main").await);
    d.click("a.button.primary").await;
    d.wait_for("document.getElementById('email')", "the sign-in form").await;
    d.fill("#email", &door.email).await;
    d.fill("#password", crate::helpers::PASSWORD).await;
    d.click("form[action='/signin'] button[type=submit]").await;
    d.wait_for(
        &format!("location.pathname === '{path}' && document.readyState === 'complete'"),
        "back on the invitation",
    )
    .await;
    if let Some(dir) = &shots {
        d.screenshot(&dir.join("invitation-390.png").display().to_string()).await;
    }
    d.click("main form button[type=submit]").await;
    // The console opens on the team just joined, and offers the other one.
    d.wait_for(
        "location.pathname === '/console' && document.body.innerText.includes('Welcome to E2E Productions')",
        "joined",
    )
    .await;
    let options =
        d.js("return [...document.querySelectorAll('#org-choice option')].map(o => o.textContent)", vec![]).await;
    assert_eq!(options, json!(["Door's Own Club", "E2E Productions"]), "{options}");
    d.js("document.getElementById('org-choice').selectedIndex = 0", vec![]).await;
    d.click("#org-switch button[type=submit]").await;
    d.wait_for("document.querySelector('#org-choice option:checked')?.textContent === \"Door's Own Club\"", "switched")
        .await;
    d.quit().await;

    b.goto("/console").await;
    let team = b.text("#team-table").await;
    assert!(team.contains(&door.email), "{team}");
    // The owner makes the admin gate staff.
    b.js("document.querySelector(\"select[id^='role-']\").value = 'gate'", vec![]).await;
    b.click("form[action$='/role'] button[type=submit]").await;
    b.wait_for("document.body.innerText.includes('Role changed')", "role changed").await;
    let roles: Value = app.get(&format!("/organizations/{org}/members"), owner).await;
    assert!(
        roles.as_array().unwrap().iter().any(|m| m["email"] == door.email.as_str() && m["role"] == "gate"),
        "{roles}"
    );
    // Removing takes two presses.
    b.click("#team-table details.confirm-remove summary").await;
    b.click("button[aria-label='Remove door from the team']").await;
    b.wait_for("document.body.innerText.includes('Removed from the team')", "removed").await;
    assert!(!b.text("#team-table").await.contains(&door.email));
    let (status, _) =
        app.call(reqwest::Method::GET, &format!("/events/{}/gate-manifest", ev.id), Some(&door.token), None).await;
    assert_eq!(status, 403, "a removed member has no ticket list");

    // Publishing goes through a review of what buyers will see.
    b.click("a[aria-label='Review and publish Winter Draft']").await;
    b.wait_for("document.getElementById('publish-ticket-types')", "the publish review").await;
    let review = b.text("main").await;
    assert!(review.contains("Stalls seat") && review.contains("EUR 39.00"), "{review}");
    assert_eq!(app.get(&format!("/events/{draft_id}"), owner).await["status"], "draft", "nothing published yet");
    if let Some(d) = &shots {
        b.screenshot(&d.join("publish-review-1280.png").display().to_string()).await;
    }
    b.click(&format!("form[action='/console/events/{draft_id}/publish'] button[type=submit]")).await;
    b.wait_for("location.pathname === '/console' && document.body.innerText.includes('Published')", "published").await;
    assert_eq!(app.get(&format!("/events/{draft_id}"), owner).await["status"], "published");

    // A draft that will not happen is deleted from its page, after a tick.
    let scrapped = app
        .post(
            &format!("/organizations/{org}/events"),
            owner,
            json!({"venue_id": published["venue_id"], "title": "Scrapped Idea", "category": "concert",
                   "starts_at": starts, "ends_at": starts + chrono::Duration::hours(2),
                   "ticket_types": [{"name": "Stalls seat", "price": {"amount": 3900, "currency": "EUR"}, "price_zone": "stalls"}]}),
        )
        .await;
    let scrapped = scrapped["id"].as_str().unwrap().to_owned();
    b.goto(&format!("/console/events/{scrapped}/sales")).await;
    b.wait_for("document.getElementById('delete-form')", "the delete form").await;
    b.click("#delete_confirm").await;
    b.click("#delete-form button[type=submit]").await;
    b.wait_for("location.pathname === '/console' && document.body.innerText.includes('Draft deleted')", "deleted")
        .await;
    assert!(!b.text("#console-events").await.contains("Scrapped Idea"));
    let (status, _) = app.call(reqwest::Method::GET, &format!("/events/{scrapped}"), owner, None).await;
    assert_eq!(status, 404);

    // The event form: picking another venue without applying it does not
    // create the event with the first venue's prices.
    let club = app
        .post(
            &format!("/organizations/{org}/venues"),
            owner,
            json!({"name": "Quay Club", "timezone": "Europe/Berlin",
                   "seat_map": {"sections": [{"name": "Club", "price_zone": "club", "rows": [{"label": "A", "seats": 8}]}], "ga_areas": []}}),
        )
        .await;
    b.goto(&format!("/console/events/new?venue={}", published["venue_id"].as_str().unwrap())).await;
    b.wait_for("document.getElementById('price_stalls')", "the event form for Harbour Hall").await;
    b.fill("#title", "Late Set").await;
    b.js(
        "document.getElementById('starts').value = arguments[0]; document.getElementById('ends').value = arguments[1];
         for (const i of document.querySelectorAll('input[id^=price_]')) i.value = '10';
         document.getElementById('venue_pick').value = arguments[2];",
        vec![
            starts.format("%Y-%m-%dT19:30").to_string().into(),
            starts.format("%Y-%m-%dT22:00").to_string().into(),
            club["id"].clone(),
        ],
    )
    .await;
    b.click("#create-event").await;
    b.wait_for("document.getElementById('price_club') && document.querySelector('.alert-error')", "the club's prices")
        .await;
    assert!(b.text(".alert-error").await.contains("You picked another venue"));
    assert_eq!(b.js("return document.getElementById('title').value", vec![]).await, json!("Late Set"));
    let events = app.get(&format!("/organizations/{org}/events"), owner).await;
    assert_eq!(events.as_array().map(Vec::len), Some(2), "no event was created: {events}");

    // On-sale protection: no waiting room yet.
    b.goto(&format!("/console/events/{}/sales", ev.id)).await;
    b.wait_for("document.getElementById('controls-form')", "the protection form").await;
    assert!(b.text("#room-state").await.contains("No waiting room"));
    // A typo comes back as typed, with what is wrong (the browser's own
    // check is switched off, as in browsers without it).
    b.click("input[name=waiting_room][value=on]").await;
    b.js(
        "document.getElementById('controls-form').noValidate = true;
         document.getElementById('admission_window').value = '0';",
        vec![],
    )
    .await;
    b.click("#controls-form button[type=submit]").await;
    b.wait_for("document.querySelector('#protection .alert-error')", "the refusal").await;
    assert!(b.text("#protection .alert-error").await.contains("1 to 100000"));
    assert_eq!(b.js("return document.getElementById('admission_window').value", vec![]).await, json!("0"));
    let room = app.get(&format!("/events/{}/waiting-room", ev.id), None).await;
    assert_eq!(room["active"], false, "a refused form changes nothing: {room}");
    // Saved: the room is on for buyers, with the limit.
    b.js(
        "document.getElementById('admission_window').value = '50';
         document.getElementById('pow_difficulty').value = '8';
         document.getElementById('tickets_per_account_max').value = '2';",
        vec![],
    )
    .await;
    b.click("#controls-form button[type=submit]").await;
    b.wait_for("document.body.innerText.includes('Saved.')", "saved").await;
    let state = b.text("#room-state").await;
    assert!(state.contains("The waiting room is on") && state.contains("at most 2 tickets"), "{state}");
    let room = app.get(&format!("/events/{}/waiting-room", ev.id), None).await;
    assert_eq!(room["active"], true, "{room}");
    let controls = app.get(&format!("/events/{}/sale-controls", ev.id), owner).await;
    assert_eq!((controls["admission_window"].as_u64(), controls["pow_difficulty"].as_u64()), (Some(50), Some(8)));
    assert_eq!(controls["tickets_per_account_max"], 2);
    // A hold without a place in line is now refused.
    let (status, _) = app
        .call(
            reqwest::Method::POST,
            &format!("/events/{}/holds", ev.id),
            Some(&buyer.token),
            Some(json!({"seats": [ev.seats[5]]})),
        )
        .await;
    assert!((400..500).contains(&status), "a hold past the waiting room answered {status}");
    if let Some(d) = &shots {
        b.screenshot(&d.join("protection-1280.png").display().to_string()).await;
    }

    // Orders: the buyer's order found by part of the address, and a goodwill
    // refund of EUR 5.00 that keeps the ticket.
    b.click(&format!("a[href='/console/events/{}/orders']", ev.id)).await;
    b.wait_for("document.getElementById('order-search')", "the orders page").await;
    b.fill("#order_q", &buyer.email[..10]).await;
    b.click("#order-search button[type=submit]").await;
    // The search's own page, not the list it replaces.
    b.wait_for(
        &format!(
            "location.search.includes('q=') && document.readyState === 'complete' \
             && document.getElementById('orders-table')?.innerText.includes('{}')",
            buyer.email
        ),
        "found",
    )
    .await;
    b.click(&format!("a[aria-label='Open the order of {}']", buyer.email)).await;
    b.wait_for("document.getElementById('refund-amount')", "the order").await;
    b.fill("#refund_amount", "5").await;
    b.click("#refund-amount button[type=submit]").await;
    b.wait_for("document.body.innerText.includes('Refund recorded')", "refunded").await;
    assert!(b.text("#order-refunds").await.contains("EUR 5.00"));
    assert!(b.text("#order-tickets").await.contains("Valid"), "a goodwill refund keeps the ticket");
    if let Some(d) = &shots {
        b.screenshot(&d.join("order-refunded-1280.png").display().to_string()).await;
    }
    let seen = app.get(&format!("/events/{}/orders/{}", ev.id, order["id"].as_str().unwrap()), owner).await;
    assert_eq!(seen["refunded_total"]["amount"], 500, "{seen}");
    b.goto(&format!("/console/events/{}/sales", ev.id)).await;
    b.wait_for("document.getElementById('controls-form')", "back to the sales page").await;

    // Ticket types: a late release added, then its price changed, from the sales page.
    b.click(&format!("a[href='/console/events/{}/ticket-types/new']", ev.id)).await;
    b.wait_for("document.getElementById('ticket-type-form')", "the ticket type form").await;
    b.fill("#tt_name", "Late release").await;
    b.fill("#tt_price", "55").await;
    b.click("#ticket-type-form button[type=submit]").await;
    b.wait_for("document.getElementById('ticket-types-table')?.innerText.includes('Late release')", "added").await;
    b.click("a[aria-label='Change Late release']").await;
    b.wait_for("document.getElementById('tt_price')?.value === '55.00'", "the change form, filled in").await;
    b.fill("#tt_price", "sixty").await;
    b.click("#ticket-type-form button[type=submit]").await;
    b.wait_for("document.querySelector('.alert-error')?.innerText.includes('price')", "a typo refused").await;
    b.fill("#tt_price", "60").await;
    b.click("#ticket-type-form button[type=submit]").await;
    b.wait_for("document.getElementById('ticket-types-table')?.innerText.includes('EUR 60.00')", "changed").await;
    let event = app.get(&format!("/events/{}", ev.id), None).await;
    let late = event["ticket_types"].as_array().unwrap().iter().find(|t| t["name"] == "Late release").unwrap().clone();
    assert_eq!(late["price"]["amount"], 6000, "{late}");

    // The details: a title fixed after the sale began.
    b.click(&format!("a[href='/console/events/{}/edit']", ev.id)).await;
    b.wait_for("document.getElementById('details-form')", "the details form").await;
    assert!(
        b.js("return document.getElementById('ev_starts').disabled", vec![]).await.as_bool().unwrap(),
        "sold: the date stays"
    );
    b.fill("#ev_title", "Harbour Nights: Late Show").await;
    b.click("#details-form button[type=submit]").await;
    b.wait_for("document.querySelector('h1')?.innerText === 'Harbour Nights: Late Show'", "renamed").await;
    assert_eq!(app.get(&format!("/events/{}", ev.id), None).await["title"], "Harbour Nights: Late Show");

    // Postponing a sold event: new dates, a message, and a tick.
    let before = app.get(&format!("/events/{}", ev.id), None).await["starts_at"].as_str().unwrap().to_owned();
    let before: chrono::DateTime<chrono::Utc> = before.parse().unwrap();
    b.click(&format!("a[href='/console/events/{}/reschedule']", ev.id)).await;
    b.wait_for("document.getElementById('move-form')", "the move form").await;
    assert_eq!(b.text("#move-sold").await, "1");
    // A week later on the venue's clock, as the form shows it.
    let week_later = |input: &str| {
        let local = chrono::NaiveDateTime::parse_from_str(input, "%Y-%m-%dT%H:%M").unwrap();
        (local + chrono::Duration::days(7)).format("%Y-%m-%dT%H:%M").to_string()
    };
    // A start or refund deadline already past is stopped in the browser.
    for id in ["mv_starts", "mv_ends", "mv_refunds"] {
        let past = b
            .js(
                "const i = document.getElementById(arguments[0]); const v = i.value; \
                 i.value = '2000-01-01T10:00'; const past = i.validity.rangeUnderflow; i.value = v; return past",
                vec![json!(id)],
            )
            .await;
        assert_eq!(past, json!(true), "{id} takes no time before now");
    }
    let starts = b.js("return document.getElementById('mv_starts').value", vec![]).await;
    let ends = b.js("return document.getElementById('mv_ends').value", vec![]).await;
    b.js(
        "document.getElementById('mv_starts').value = arguments[0]; document.getElementById('mv_ends').value = arguments[1]",
        vec![json!(week_later(starts.as_str().unwrap())), json!(week_later(ends.as_str().unwrap()))],
    )
    .await;
    b.fill("#mv_note", "The harbour is flooded: same seats, a week later.").await;
    // Buyers may take their money back until the old date.
    b.js("document.getElementById('mv_refunds').value = arguments[0]", vec![starts.clone()]).await;
    if let Some(d) = &shots {
        b.screenshot(&d.join("move-event-1280.png").display().to_string()).await;
    }
    b.click("#mv_confirm").await;
    b.click("#move-form button[type=submit]").await;
    b.wait_for("document.body.innerText.includes('Every ticket holder is being told')", "moved").await;
    let moved = app.get(&format!("/events/{}", ev.id), None).await;
    let moved: chrono::DateTime<chrono::Utc> = moved["starts_at"].as_str().unwrap().parse().unwrap();
    // A week on the venue's clock: a clock change between may make it an hour more or less.
    let shift = moved - before;
    assert!((shift - chrono::Duration::days(7)).num_minutes().abs() <= 60, "moved by {shift}");
    // The buyer's order page offers the refund, until the old date.
    let buyer_browser = Browser::start(&app.root, 390).await;
    sign_in(&buyer_browser, &buyer.email, "/tickets").await;
    let order_page = format!("/orders/{}", order["id"].as_str().unwrap());
    buyer_browser.goto(&order_page).await;
    buyer_browser.wait_for("document.getElementById('refund-offer-form')", "the refund offer").await;
    let offer = buyer_browser.text("#refund-offer").await;
    assert!(offer.contains("The event moved") && offer.contains("money back"), "{offer}");
    if let Some(d) = &shots {
        buyer_browser.screenshot(&d.join("refund-offer-390.png").display().to_string()).await;
    }
    buyer_browser.quit().await;

    // Cancelling says what it does and needs a deliberate tick.
    b.click(&format!("a[href='/console/events/{}/cancel']", ev.id)).await;
    b.wait_for("document.getElementById('confirm')", "the cancel review").await;
    assert_eq!(b.text("#cancel-sold").await, "1");
    b.js("document.getElementById('confirm').removeAttribute('required')", vec![]).await;
    b.click(&format!("form[action='/console/events/{}/cancel'] button[type=submit]", ev.id)).await;
    b.wait_for("document.querySelector('.alert-error')", "the refusal without the tick").await;
    assert_eq!(app.get(&format!("/events/{}", ev.id), None).await["status"], "published");
    b.click("#confirm").await;
    b.click(&format!("form[action='/console/events/{}/cancel'] button[type=submit]", ev.id)).await;
    b.wait_for("document.body.innerText.includes('The event is cancelled')", "cancelled").await;
    assert!(b.js("return document.getElementById('controls-form') === null", vec![]).await.as_bool().unwrap());
    assert_eq!(app.get(&format!("/events/{}", ev.id), None).await["status"], "cancelled");
    // The buyer's order is refunded in the background.
    let order_path = format!("/orders/{}", order["id"].as_str().unwrap());
    let mut refunded = Value::Null;
    for _ in 0..100 {
        refunded = app.get(&order_path, Some(&buyer.token)).await;
        if refunded["status"] == "refunded" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(refunded["status"], "refunded", "{refunded}");
    b.quit().await;
}
