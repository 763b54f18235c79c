//! Transfers: the recipient gets a new barcode, the old one stops working,
//! the organizer's policy is enforced, and the log records each step.

use chrono::Duration;
use domain::Clock;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

async fn offer(app: &TestApp, token: &str, ticket: &str, to: &str) -> reqwest::Response {
    app.post(&format!("/api/v1/tickets/{ticket}/transfers"), Some(token), &json!({"to_email": to})).await
}

async fn accept(app: &TestApp, token: &str, transfer: &str) -> reqwest::Response {
    app.post(&format!("/api/v1/transfers/{transfer}/accept"), Some(token), &json!({})).await
}

#[tokio::test]
async fn after_a_transfer_the_old_barcode_is_refused_and_the_new_one_admitted() {
    let app = spawn_app().await;
    let f = app.fixture(1, 4, 10).await;
    let alice = app.signup("alice@example.org").await;
    let order = app.buy(&alice.token, &f.event_id, &[&f.seats[0]], &[]).await;
    let ticket = order["tickets"][0]["id"].as_str().unwrap().to_owned();
    let old_barcode = order["tickets"][0]["barcode"].as_str().unwrap().to_owned();

    let r = offer(&app, &alice.token, &ticket, "Bob@Example.org").await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let transfer: Value = r.json().await.unwrap();
    assert_eq!(transfer["status"], "pending");
    let id = transfer["id"].as_str().unwrap().to_owned();
    // One open offer at a time; a stranger cannot accept it.
    assert_problem(offer(&app, &alice.token, &ticket, "carol@example.org").await, StatusCode::CONFLICT).await;
    let carol = app.signup("carol@example.org").await;
    assert_problem(accept(&app, &carol.token, &id).await, StatusCode::NOT_FOUND).await;

    let bob = app.signup("bob@example.org").await;
    let incoming: Value = app.get("/api/v1/me/transfers", Some(&bob.token)).await.json().await.unwrap();
    assert_eq!(incoming["items"][0]["id"], id.as_str());
    let r = accept(&app, &bob.token, &id).await;
    assert_eq!(r.status(), StatusCode::OK);
    let accepted: Value = r.json().await.unwrap();
    let new_barcode = accepted["ticket"]["barcode"].as_str().unwrap().to_owned();
    assert_ne!(new_barcode, old_barcode);
    assert_eq!(accepted["ticket"]["id"], ticket.as_str());
    assert_problem(accept(&app, &bob.token, &id).await, StatusCode::CONFLICT).await;

    // The ticket moved: Alice no longer sees or controls it, Bob does.
    let mine: Value = app.get("/api/v1/me/tickets", Some(&alice.token)).await.json().await.unwrap();
    assert!(mine["items"].as_array().unwrap().is_empty());
    let mine: Value = app.get("/api/v1/me/tickets", Some(&bob.token)).await.json().await.unwrap();
    assert_eq!(mine["items"][0]["barcode"], new_barcode.as_str());
    assert_problem(offer(&app, &alice.token, &ticket, "eve@example.org").await, StatusCode::NOT_FOUND).await;
    // Her order still lists what she bought, but not the new holder's
    // codes: with them she could go in on Bob's ticket.
    let order_path = format!("/api/v1/orders/{}", order["id"].as_str().unwrap());
    let hers: Value = app.get(&order_path, Some(&alice.token)).await.json().await.unwrap();
    let listed = &hers["tickets"][0];
    assert_eq!(listed["id"], ticket.as_str());
    assert_eq!(listed["passed_on"], true, "{hers}");
    assert_eq!(listed["barcode"], "", "{hers}");
    assert_eq!(listed["entry_code"], "", "{hers}");
    assert!(!hers.to_string().contains(&new_barcode), "{hers}");
    let listed: Value = app.get("/api/v1/me/orders", Some(&alice.token)).await.json().await.unwrap();
    assert!(!listed.to_string().contains(&new_barcode), "{listed}");
    let page = app.client.get(app.url(&format!("/orders/{}", order["id"].as_str().unwrap())));
    let page = page.header("cookie", format!("rt_session={}", alice.token)).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Passed on to someone else"), "{page}");
    assert!(!page.contains(&new_barcode), "the order page shows the new holder's code");
    assert!(!page.contains(&old_barcode), "the order page shows a card for the passed-on ticket");
    // The QR code's address stays the same while its code changed: no
    // browser may show a kept copy without asking again.
    let qr = app.client.get(app.url(&format!("/tickets/{ticket}/qr.png")));
    let qr = qr.header("cookie", format!("rt_session={}", bob.token)).send().await.unwrap();
    assert_eq!(qr.status(), StatusCode::OK);
    assert_eq!(qr.headers()["cache-control"], "private, no-cache");
    let qr = app.get(&format!("/api/v1/tickets/{ticket}/qr.png"), Some(&bob.token)).await;
    assert_eq!(qr.headers()["cache-control"], "private, no-cache");

    let p = assert_problem(
        app.checkin(&f.org.owner.token, &f.event_id, &old_barcode).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(p["result"], "revoked");
    let r = app.checkin(&f.org.owner.token, &f.event_id, &new_barcode).await;
    assert_eq!(r.status(), StatusCode::OK);

    // Every step is in the ticket's history, in order.
    let history: Value = app.get(&format!("/api/v1/tickets/{ticket}/history"), None).await.json().await.unwrap();
    let kinds: Vec<&str> = history["entries"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["issue", "transfer", "check_in"]);
    // A used ticket cannot be passed on.
    assert_problem(offer(&app, &bob.token, &ticket, "dave@example.org").await, StatusCode::UNPROCESSABLE_ENTITY).await;
}

#[tokio::test]
async fn offers_lapse_and_the_ticket_stays_with_its_holder() {
    let app = spawn_app().await;
    let f = app.fixture(1, 4, 10).await;
    let alice = app.signup("alice@example.org").await;
    let order = app.buy(&alice.token, &f.event_id, &[&f.seats[0]], &[]).await;
    let ticket = order["tickets"][0]["id"].as_str().unwrap();
    let transfer: Value = offer(&app, &alice.token, ticket, "bob@example.org").await.json().await.unwrap();
    app.signup("bob@example.org").await;
    app.clock.advance(Duration::hours(49));
    // Sessions last 12 hours: sign in again two days later.
    let bob = app.login("bob@example.org").await;
    let owner = app.login(&f.org.owner.email).await;
    assert_problem(accept(&app, &bob, transfer["id"].as_str().unwrap()).await, StatusCode::CONFLICT).await;
    let r = app.checkin(&owner, &f.event_id, order["tickets"][0]["barcode"].as_str().unwrap()).await;
    assert_eq!(r.status(), StatusCode::OK, "the original barcode still works");
}

#[tokio::test]
async fn the_organizers_transfer_policy_is_enforced() {
    let app = spawn_app().await;
    let org = app.org("owner@example.org").await;
    let (venue, seats, area) = app.venue(&org, 1, 6, 10).await;
    let create = async |policy: Value, starts_in_hours: i64| {
        let starts = app.clock.now() + Duration::hours(starts_in_hours);
        let r = app
            .post(
                &format!("/api/v1/organizations/{}/events", org.id),
                Some(&org.owner.token),
                &json!({"venue_id": venue, "title": "Policy Night", "category": "concert",
                        "starts_at": starts, "ends_at": starts + Duration::hours(3), "transfer_policy": policy,
                        "ticket_types": [{"name": "Seat", "price": {"amount": 1000, "currency": "EUR"}, "price_zone": "main"},
                                         {"name": "Floor", "price": {"amount": 500, "currency": "EUR"}, "ga_area_id": area}]}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
        let event: Value = r.json().await.unwrap();
        let id = event["id"].as_str().unwrap().to_owned();
        app.post(&format!("/api/v1/events/{id}/publish"), Some(&org.owner.token), &json!({})).await;
        id
    };
    let alice = app.signup("alice@example.org").await;
    let bob = app.signup("bob@example.org").await;
    let carol = app.signup("carol@example.org").await;

    let locked = create(json!({"transferable": false}), 72).await;
    let order = app.buy(&alice.token, &locked, &[&seats[0]], &[]).await;
    let p = assert_problem(
        offer(&app, &alice.token, order["tickets"][0]["id"].as_str().unwrap(), "bob@example.org").await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains("does not allow"));

    let closing = create(json!({"transferable": true, "closes_hours_before_start": 24}), 10).await;
    let order = app.buy(&alice.token, &closing, &[&seats[1]], &[]).await;
    let p = assert_problem(
        offer(&app, &alice.token, order["tickets"][0]["id"].as_str().unwrap(), "bob@example.org").await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains("closed"));

    let once = create(json!({"transferable": true, "max_transfers": 1}), 72).await;
    let order = app.buy(&alice.token, &once, &[&seats[2]], &[]).await;
    let ticket = order["tickets"][0]["id"].as_str().unwrap();
    let t: Value = offer(&app, &alice.token, ticket, "bob@example.org").await.json().await.unwrap();
    assert_eq!(accept(&app, &bob.token, t["id"].as_str().unwrap()).await.status(), StatusCode::OK);
    let p =
        assert_problem(offer(&app, &bob.token, ticket, "carol@example.org").await, StatusCode::UNPROCESSABLE_ENTITY)
            .await;
    assert!(p["detail"].as_str().unwrap().contains("most times"));
    let _ = carol;

    // The policy is part of the event, and nonsense policies are refused.
    let e: Value = app.get(&format!("/api/v1/events/{once}"), None).await.json().await.unwrap();
    assert_eq!(e["transfer_policy"], json!({"transferable": true, "closes_hours_before_start": 0, "max_transfers": 1}));
    let starts = app.clock.now() + Duration::days(3);
    let r = app
        .post(
            &format!("/api/v1/organizations/{}/events", org.id),
            Some(&org.owner.token),
            &json!({"venue_id": venue, "title": "Bad", "category": "concert", "starts_at": starts,
                    "ends_at": starts + Duration::hours(1), "transfer_policy": {"transferable": true, "max_transfers": 5000},
                    "ticket_types": [{"name": "Seat", "price": {"amount": 1000, "currency": "EUR"}, "price_zone": "main"}]}),
        )
        .await;
    assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    // Bad e-mail addresses are refused.
    let order = app.buy(&alice.token, &once, &[&seats[3]], &[]).await;
    assert_problem(
        offer(&app, &alice.token, order["tickets"][0]["id"].as_str().unwrap(), "not-an-address").await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
}

/// A ticket is offered to someone or listed for sale, never both at once:
/// otherwise whoever completed second would take it from whoever paid for
/// it or accepted it first. The second is refused, and a race between the
/// two has one winner.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_ticket_is_offered_or_listed_for_resale_never_both() {
    let app = spawn_app().await;
    let f = app.fixture(1, 8, 10).await;
    let alice = app.signup("alice@example.org").await;
    let seats: Vec<&str> = f.seats[..5].iter().map(String::as_str).collect();
    let order = app.buy(&alice.token, &f.event_id, &seats, &[]).await;
    let tickets: Vec<String> =
        order["tickets"].as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap().to_owned()).collect();
    let list = |ticket: String| {
        let (app, token) = (&app, alice.token.clone());
        async move {
            app.post(
                &format!("/api/v1/tickets/{ticket}/listings"),
                Some(&token),
                &json!({"price": {"amount": 4500, "currency": "EUR"}}),
            )
            .await
        }
    };

    // Listed: it cannot be offered until the listing is withdrawn.
    let r = list(tickets[0].clone()).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let listing: Value = r.json().await.unwrap();
    let p = assert_problem(offer(&app, &alice.token, &tickets[0], "bob@example.org").await, StatusCode::CONFLICT).await;
    assert!(p["detail"].as_str().unwrap().contains("listed"), "{p}");
    let r = app.delete(&format!("/api/v1/listings/{}", listing["id"].as_str().unwrap()), Some(&alice.token)).await;
    assert!(r.status().is_success(), "{}", r.status());
    // Offered: it cannot be listed while the offer is open.
    let r = offer(&app, &alice.token, &tickets[0], "bob@example.org").await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let transfer: Value = r.json().await.unwrap();
    let p = assert_problem(list(tickets[0].clone()).await, StatusCode::CONFLICT).await;
    assert!(p["detail"].as_str().unwrap().contains("transfer"), "{p}");
    // Accepted, it is Bob's: Alice can neither list nor offer it again.
    let bob = app.signup("bob@example.org").await;
    assert_eq!(accept(&app, &bob.token, transfer["id"].as_str().unwrap()).await.status(), StatusCode::OK);
    assert_problem(list(tickets[0].clone()).await, StatusCode::NOT_FOUND).await;

    // Listing and offering at the same moment: exactly one of the two.
    for ticket in &tickets[1..] {
        let (listed, offered) =
            tokio::join!(list(ticket.clone()), offer(&app, &alice.token, ticket, "carol@example.org"));
        let won = [listed.status(), offered.status()].iter().filter(|s| **s == StatusCode::CREATED).count();
        assert_eq!(won, 1, "listing {} and offer {} of {ticket}", listed.status(), offered.status());
    }
}

/// An offer to a mistyped address is not a dead end: the holder withdraws
/// it and offers the ticket again at once. Only the holder can withdraw it,
/// and only while nobody has accepted it.
#[tokio::test]
async fn the_holder_withdraws_an_open_offer_and_can_offer_again() {
    let app = spawn_app().await;
    let f = app.fixture(1, 4, 10).await;
    let alice = app.signup("alice@example.org").await;
    let order = app.buy(&alice.token, &f.event_id, &[&f.seats[0]], &[]).await;
    let ticket = order["tickets"][0]["id"].as_str().unwrap().to_owned();

    let typo: Value = offer(&app, &alice.token, &ticket, "bbo@example.org").await.json().await.unwrap();
    let typo_id = typo["id"].as_str().unwrap();
    let mine: Value = app.get("/api/v1/me/transfers/outgoing", Some(&alice.token)).await.json().await.unwrap();
    assert_eq!(mine["items"][0]["id"], typo_id);
    // Her tickets page offers no second way to pass it on meanwhile.
    let page = app.client.get(app.url("/tickets")).header("cookie", format!("rt_session={}", alice.token));
    let page = page.send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Offered to someone"), "{page}");
    assert!(!page.contains("Give this ticket to someone") && !page.contains("Sell this ticket"), "{page}");
    // Nobody else may withdraw it, not even its recipient.
    let bbo = app.signup("bbo@example.org").await;
    assert_problem(app.delete(&format!("/api/v1/transfers/{typo_id}"), Some(&bbo.token)).await, StatusCode::NOT_FOUND)
        .await;
    let r = app.delete(&format!("/api/v1/transfers/{typo_id}"), Some(&alice.token)).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_problem(app.delete(&format!("/api/v1/transfers/{typo_id}"), Some(&alice.token)).await, StatusCode::CONFLICT)
        .await;
    // Withdrawn: it cannot be accepted, and the ticket can go to the right person.
    assert_problem(accept(&app, &bbo.token, typo_id).await, StatusCode::CONFLICT).await;
    let right: Value = offer(&app, &alice.token, &ticket, "bob@example.org").await.json().await.unwrap();
    let bob = app.signup("bob@example.org").await;
    assert_eq!(accept(&app, &bob.token, right["id"].as_str().unwrap()).await.status(), StatusCode::OK);
    // Accepted offers are not withdrawn.
    assert_problem(
        app.delete(&format!("/api/v1/transfers/{}", right["id"].as_str().unwrap()), Some(&alice.token)).await,
        StatusCode::CONFLICT,
    )
    .await;
}

/// A ticket offered to a friend and then used at the gate: the offer closes
/// with the admission, for the giver and the recipient alike.
#[tokio::test]
async fn an_offer_closes_when_its_ticket_is_let_in() {
    let app = spawn_app().await;
    let f = app.fixture(1, 4, 10).await;
    let alice = app.signup("alice@example.org").await;
    let order = app.buy(&alice.token, &f.event_id, &[&f.seats[0]], &[]).await;
    let (ticket, barcode) =
        (order["tickets"][0]["id"].as_str().unwrap(), order["tickets"][0]["barcode"].as_str().unwrap());
    let bob = app.signup("bob@example.org").await;
    let sent: Value = offer(&app, &alice.token, ticket, "bob@example.org").await.json().await.unwrap();
    let incoming: Value = app.get("/api/v1/me/transfers", Some(&bob.token)).await.json().await.unwrap();
    assert_eq!(incoming["items"][0]["id"], sent["id"]);

    assert_eq!(app.checkin(&f.org.owner.token, &f.event_id, barcode).await.status(), StatusCode::OK);
    let incoming: Value = app.get("/api/v1/me/transfers", Some(&bob.token)).await.json().await.unwrap();
    assert!(incoming["items"].as_array().unwrap().is_empty(), "{incoming}");
    let outgoing: Value = app.get("/api/v1/me/transfers/outgoing", Some(&alice.token)).await.json().await.unwrap();
    assert!(outgoing["items"].as_array().unwrap().is_empty(), "{outgoing}");
    assert_problem(accept(&app, &bob.token, sent["id"].as_str().unwrap()).await, StatusCode::CONFLICT).await;
}

/// My tickets, for the giver and for the recipient, and the page that
/// confirms an offer give its deadline in the venue's time zone, as every
/// other time of the event, not in UTC.
#[tokio::test]
async fn offer_deadlines_are_shown_in_the_venue_time_zone() {
    let app = spawn_app().await;
    let f = app.fixture(1, 4, 10).await;
    let alice = app.signup("alice@example.org").await;
    let order = app.buy(&alice.token, &f.event_id, &[&f.seats[0], &f.seats[1]], &[]).await;
    let ticket = order["tickets"][0]["id"].as_str().unwrap().to_owned();
    let transfer: Value = offer(&app, &alice.token, &ticket, "bob@example.org").await.json().await.unwrap();
    let expires: chrono::DateTime<chrono::Utc> = transfer["expires_at"].as_str().unwrap().parse().unwrap();
    // The fixture's venue is in Berlin.
    let local = web::pages::layout::local_time(expires, "Europe/Berlin");
    let utc = web::pages::layout::local_time(expires, "UTC");
    assert_ne!(local, utc);
    let bob = app.signup("bob@example.org").await;
    // A double-submit CSRF token of the right length, as the browser's cookie would be.
    let csrf = "c".repeat(64);
    let page = |token: &str| {
        app.client.get(app.url("/tickets")).header("cookie", format!("rt_session={token}; rt_csrf={csrf}")).send()
    };
    for (who, token) in [("giver", &alice.token), ("recipient", &bob.token)] {
        let html = page(token).await.unwrap().text().await.unwrap();
        assert!(html.contains(&local), "the {who} sees the deadline as {local}");
        assert!(!html.contains(&utc), "the {who} does not see it in UTC");
    }
    let html = page(&bob.token).await.unwrap().text().await.unwrap();
    // The recipient learns the event, which ticket it is and who sends it;
    // the giver sees which ticket is on offer.
    assert!(
        html.contains("A ticket for <strong>Test Gig</strong> (Main, row R0, seat 1) from Test Person is waiting"),
        "{html}"
    );
    let html = page(&alice.token).await.unwrap().text().await.unwrap();
    assert!(html.contains("Main, row R0, seat 1 for Test Gig: offered to <strong>bob@example.org</strong>"), "{html}");

    // Offered from the page: the confirmation says the same. The clock stands
    // still, so this offer lapses when the first one does.
    let other = order["tickets"][1]["id"].as_str().unwrap();
    let r = app
        .client
        .post(app.url(&format!("/tickets/{other}/transfer")))
        .header("cookie", format!("rt_session={}; rt_csrf={csrf}", alice.token))
        .form(&[("csrf", csrf.as_str()), ("to_email", "carol@example.org")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(html.contains(&format!("(by {local})")), "the confirmation gives the deadline as {local}");
}

/// Anyone may sign up with any address, so an account made after an offer
/// that has not confirmed its address proves nothing about whose mail that
/// is: it accepts only with the claim from the link in the offer's e-mail.
/// Without it the API answers 403 and the tickets page shows no Accept
/// button; the link's page accepts, and the claim confirms the address.
#[tokio::test]
async fn an_account_made_after_an_offer_accepts_it_only_with_the_mailed_claim() {
    let smtp = crate::mail::SmtpServer::start().await;
    let url = smtp.url();
    let app = spawn_app_with(|c| c.mail.smtp_url = Some(url)).await;
    let f = app.fixture(1, 4, 10).await;
    let alice = app.signup("alice@example.org").await;
    let order = app.buy(&alice.token, &f.event_id, &[&f.seats[0]], &[]).await;
    let ticket = order["tickets"][0]["id"].as_str().unwrap().to_owned();
    let r = offer(&app, &alice.token, &ticket, "newcomer@example.org").await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let transfer: Value = r.json().await.unwrap();
    let id = transfer["id"].as_str().unwrap().to_owned();
    assert!(!transfer.to_string().contains("claim"), "the sender is not given the claim: {transfer}");
    let mails = smtp.wait_for(&app, 2).await;
    let mail = mails.iter().find(|m| m.to == "newcomer@example.org").expect("the offer's e-mail");
    let claim = mail.text.split("claim=").nth(1).expect("a claim in the link").split(['#', '\n', '\r']).next().unwrap();
    let claim = claim.trim().to_owned();

    // Someone who guessed the address signs up first.
    app.clock.advance(Duration::minutes(1));
    let squatter = app.signup_unconfirmed("newcomer@example.org").await;
    let incoming: Value = app.get("/api/v1/me/transfers", Some(&squatter.token)).await.json().await.unwrap();
    assert_eq!(incoming["items"][0]["id"], id.as_str(), "the offer is listed");
    let p = assert_problem(accept(&app, &squatter.token, &id).await, StatusCode::FORBIDDEN).await;
    assert_eq!(p["type"], "urn:robust-ticketing:problem:transfer-claim-required", "{p}");
    let wrong =
        app.post(&format!("/api/v1/transfers/{id}/accept"), Some(&squatter.token), &json!({"claim": "guess"})).await;
    assert_problem(wrong, StatusCode::FORBIDDEN).await;
    let page = |path: String| {
        let r = app.client.get(app.url(&path)).header("cookie", format!("rt_session={}", squatter.token)).send();
        async move { r.await.unwrap().text().await.unwrap() }
    };
    let without = page("/tickets".to_owned()).await;
    assert!(without.contains("open the link in the e-mail"), "{without}");
    assert!(!without.contains("Accept ticket"), "{without}");
    let mine: Value = app.get("/api/v1/me/tickets", Some(&alice.token)).await.json().await.unwrap();
    assert_eq!(mine["items"][0]["id"], ticket.as_str(), "still Alice's");

    // Withdrawn and sent again: the account is older than this offer but
    // not than the first one to its address, so it still needs the claim,
    // and the new claim goes to the mailbox, not to the account's inbox.
    assert_eq!(
        app.delete(&format!("/api/v1/transfers/{id}"), Some(&alice.token)).await.status(),
        StatusCode::NO_CONTENT
    );
    app.clock.advance(Duration::minutes(1));
    let again: Value = offer(&app, &alice.token, &ticket, "newcomer@example.org").await.json().await.unwrap();
    let id = again["id"].as_str().unwrap().to_owned();
    let p = assert_problem(accept(&app, &squatter.token, &id).await, StatusCode::FORBIDDEN).await;
    assert_eq!(p["type"], "urn:robust-ticketing:problem:transfer-claim-required", "{p}");
    let inbox = crate::mail::notifications(&app, &squatter.token).await;
    assert!(!inbox.to_string().contains("claim="), "the claim reached the account's inbox: {inbox}");
    let first_claim = claim;
    let mails = smtp.wait_for(&app, 3).await;
    let claim = mails
        .iter()
        .filter(|m| m.to == "newcomer@example.org")
        .filter_map(|m| m.text.split("claim=").nth(1))
        .map(|c| c.split(['#', '\n', '\r']).next().unwrap().trim().to_owned())
        .find(|c| *c != first_claim)
        .expect("the second offer's e-mail, with its own claim");

    // Whoever reads that mailbox opens the link: the page can accept.
    let with = page(format!("/tickets?claim={claim}")).await;
    assert!(with.contains("Accept ticket") && with.contains(&format!("name=\"claim\" value=\"{claim}\"")), "{with}");
    let r = app.post(&format!("/api/v1/transfers/{id}/accept"), Some(&squatter.token), &json!({"claim": claim})).await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let me: Value = app.get("/api/v1/me", Some(&squatter.token)).await.json().await.unwrap();
    assert_eq!(me["email_verified"], true, "the claim came from the mailbox: {me}");

    // An account made after an offer that confirmed its address accepts in
    // the app.
    let order = app.buy(&alice.token, &f.event_id, &[&f.seats[2]], &[]).await;
    let r = offer(&app, &alice.token, order["tickets"][0]["id"].as_str().unwrap(), "dan@example.org").await;
    let transfer: Value = r.json().await.unwrap();
    app.clock.advance(Duration::minutes(1));
    let dan = app.signup("dan@example.org").await;
    let r = accept(&app, &dan.token, transfer["id"].as_str().unwrap()).await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());

    // An account that existed before the offer accepts as before, with no
    // body at all, confirmed or not.
    let carol = app.signup_unconfirmed("carol@example.org").await;
    let order = app.buy(&alice.token, &f.event_id, &[&f.seats[1]], &[]).await;
    let r = offer(&app, &alice.token, order["tickets"][0]["id"].as_str().unwrap(), "carol@example.org").await;
    let transfer: Value = r.json().await.unwrap();
    let r = app
        .client
        .post(app.url(&format!("/api/v1/transfers/{}/accept", transfer["id"].as_str().unwrap())))
        .bearer_auth(&carol.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
}

/// An operator may require confirmed addresses: then even an account that
/// signed up with someone's address before anything was sent there accepts
/// only with the claim mailed to it, and the claim goes to the mailbox, not
/// to the account's inbox. A confirmed account accepts in the app.
#[tokio::test]
async fn with_confirmed_addresses_required_an_early_squatter_needs_the_mailed_claim() {
    let app = spawn_app_with(|c| c.transfers_need_confirmed_address = true).await;
    let f = app.fixture(1, 4, 10).await;
    let alice = app.signup("alice@example.org").await;
    let squatter = app.signup_unconfirmed("newcomer@example.org").await;
    let bob = app.signup("bob@example.org").await;
    app.clock.advance(Duration::minutes(1));
    let order = app.buy(&alice.token, &f.event_id, &[&f.seats[0], &f.seats[1]], &[]).await;
    let ticket = |i: usize| order["tickets"][i]["id"].as_str().unwrap().to_owned();

    let r = offer(&app, &alice.token, &ticket(0), "newcomer@example.org").await;
    let transfer: Value = r.json().await.unwrap();
    let p =
        assert_problem(accept(&app, &squatter.token, transfer["id"].as_str().unwrap()).await, StatusCode::FORBIDDEN)
            .await;
    assert_eq!(p["type"], "urn:robust-ticketing:problem:transfer-claim-required", "{p}");
    let inbox = crate::mail::notifications(&app, &squatter.token).await;
    assert!(!inbox.to_string().contains("claim="), "the claim reached the account's inbox: {inbox}");
    let mine: Value = app.get("/api/v1/me/tickets", Some(&alice.token)).await.json().await.unwrap();
    assert_eq!(mine["items"].as_array().unwrap().len(), 2, "still Alice's");

    let r = offer(&app, &alice.token, &ticket(1), "bob@example.org").await;
    let transfer: Value = r.json().await.unwrap();
    // A body of `null` is no body, as the API description says.
    let path = format!("/api/v1/transfers/{}/accept", transfer["id"].as_str().unwrap());
    let r = app.post(&path, Some(&bob.token), &Value::Null).await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
}
