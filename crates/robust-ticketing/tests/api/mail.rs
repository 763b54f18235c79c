//! E-mail against a real SMTP server: aiosmtpd, started on a free loopback
//! port and writing what it accepts into a maildir the test reads back.
//! `scripts/install-test-tools.sh` installs it under `TEST_TOOLS_DIR`
//! (default `/var/tmp/robust-ticketing-tools`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chrono::Duration as Span;
use mail_parser::{MessageParser, MimeHeaders};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app_with};

pub const TOOLS_DIR_DEFAULT: &str = "/var/tmp/robust-ticketing-tools";
/// The subject of the message that confirms an account's address.
pub const ADDRESS_CONFIRMATION_SUBJECT: &str = "Confirm your e-mail address for RobustTicketing";

/// A real SMTP server process; killed when dropped.
pub struct SmtpServer {
    pub port: u16,
    maildir: tempfile::TempDir,
    child: Option<Child>,
}

fn aiosmtpd() -> PathBuf {
    let dir = std::env::var("TEST_TOOLS_DIR").unwrap_or_else(|_| TOOLS_DIR_DEFAULT.to_owned());
    let bin = Path::new(&dir).join("venv/bin/aiosmtpd");
    assert!(bin.exists(), "{} is missing: run scripts/install-test-tools.sh", bin.display());
    bin
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// One delivered message, parsed.
#[derive(Debug)]
pub struct Delivered {
    pub message_id: String,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// (content type, content id, bytes) of every non-text part.
    pub parts: Vec<(String, Option<String>, Vec<u8>)>,
}

impl SmtpServer {
    pub async fn start() -> Self {
        let mut server = Self { port: free_port(), maildir: tempfile::tempdir().unwrap(), child: None };
        server.run().await;
        server
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Starts the process (again) on the same port and maildir, and waits
    /// until it accepts connections.
    pub async fn run(&mut self) {
        assert!(self.child.is_none(), "already running");
        let child = Command::new(aiosmtpd())
            .args(["-n", "-l", &format!("127.0.0.1:{}", self.port), "-c", "aiosmtpd.handlers.Mailbox"])
            .arg(self.maildir.path().join("mail"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("aiosmtpd starts");
        self.child = Some(child);
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("aiosmtpd did not listen on port {}", self.port);
    }

    /// Kills the process: the port refuses connections until [`run`].
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Every message in the maildir but the address confirmations each
    /// sign-up mails (most tests are about the others), parsed.
    pub fn messages(&self) -> Vec<Delivered> {
        self.every_message().into_iter().filter(|m| m.subject != ADDRESS_CONFIRMATION_SUBJECT).collect()
    }

    /// Every message in the maildir, parsed.
    pub fn every_message(&self) -> Vec<Delivered> {
        let mut out = Vec::new();
        for sub in ["new", "cur"] {
            let Ok(entries) = std::fs::read_dir(self.maildir.path().join("mail").join(sub)) else { continue };
            for entry in entries.flatten() {
                let raw = std::fs::read(entry.path()).unwrap();
                let m = MessageParser::default().parse(&raw[..]).expect("a parseable message");
                let parts = m
                    .parts
                    .iter()
                    .filter_map(|p| {
                        let ct = p.content_type()?;
                        let full = format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or_default());
                        (ct.ctype() != "multipart" && ct.ctype() != "text" || full == "text/calendar")
                            .then(|| (full, p.content_id().map(str::to_owned), p.contents().to_vec()))
                    })
                    .collect();
                out.push(Delivered {
                    message_id: m.message_id().unwrap_or_default().to_owned(),
                    to: m.to().and_then(|a| a.first()).and_then(|a| a.address()).unwrap_or_default().to_owned(),
                    subject: m.subject().unwrap_or_default().to_owned(),
                    text: m.body_text(0).map(|t| t.into_owned()).unwrap_or_default(),
                    html: m.body_html(0).map(|t| t.into_owned()).unwrap_or_default(),
                    parts,
                });
            }
        }
        out
    }

    /// Waits (moving the app's clock past any back-off) until `n` messages
    /// have arrived; returns them.
    pub async fn wait_for(&self, app: &TestApp, n: usize) -> Vec<Delivered> {
        for _ in 0..300 {
            let got = self.messages();
            if got.len() >= n {
                return got;
            }
            app.clock.advance(Span::minutes(5));
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("expected {n} messages, got {:?}", self.messages().iter().map(|m| &m.subject).collect::<Vec<_>>());
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The user's notifications once every e-mail among them is marked sent (the
/// mark follows the server's acceptance by a moment).
pub async fn notifications_sent(app: &TestApp, token: &str) -> Value {
    for _ in 0..100 {
        let list = notifications(app, token).await;
        if list["items"].as_array().unwrap().iter().all(|n| n["email_status"] == "sent") {
            return list;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("not all sent: {}", notifications(app, token).await);
}

pub async fn notifications(app: &TestApp, token: &str) -> Value {
    let r = app.get("/api/v1/me/notifications", Some(token)).await;
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

/// Checks a confirmation: one QR PNG per ticket that decodes to its barcode
/// and is referenced from the HTML by its Content-ID, and an .ics of the event.
fn assert_confirmation(m: &Delivered, order: &Value) {
    assert!(m.subject.starts_with("Your tickets for Test Gig"), "{}", m.subject);
    assert!(m.text.contains(order["id"].as_str().unwrap()), "{}", m.text);
    let tickets = order["tickets"].as_array().unwrap();
    let pngs: Vec<_> = m.parts.iter().filter(|p| p.0 == "image/png").collect();
    assert_eq!(pngs.len(), tickets.len(), "one QR code per ticket");
    let mut decoded = Vec::new();
    for (_, cid, bytes) in &pngs {
        let cid = cid.as_deref().expect("inline parts carry a Content-ID").trim_matches(['<', '>']);
        assert!(m.html.contains(&format!("cid:{cid}")), "the HTML shows {cid}");
        let img = image::load_from_memory(bytes).expect("a PNG").to_luma8();
        let mut prepared = rqrr::PreparedImage::prepare(img);
        let grids = prepared.detect_grids();
        assert_eq!(grids.len(), 1);
        decoded.push(grids[0].decode().expect("a readable QR code").1);
    }
    for t in tickets {
        assert!(decoded.contains(&t["barcode"].as_str().unwrap().to_owned()), "QR code of ticket {}", t["id"]);
    }
    let ics = m.parts.iter().find(|p| p.0 == "text/calendar").expect("an .ics attachment");
    let ics = String::from_utf8(ics.2.clone()).unwrap();
    assert!(ics.contains("BEGIN:VEVENT") && ics.contains("SUMMARY:Test Gig") && ics.contains("DTSTART:"), "{ics}");
}

#[tokio::test]
async fn a_confirmation_arrives_with_qr_codes_and_a_calendar_file() {
    let smtp = SmtpServer::start().await;
    let url = smtp.url();
    let app = spawn_app_with(|c| c.mail.smtp_url = Some(url)).await;
    let f = app.fixture(2, 5, 10).await;
    let buyer = app.signup("ada@example.org").await;
    let order = app.buy(&buyer.token, &f.event_id, &[&f.seats[0], &f.seats[1]], &[(&f.ga_area, 1)]).await;

    let got = smtp.wait_for(&app, 1).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].to, "ada@example.org");
    assert_confirmation(&got[0], &order);

    let list = notifications_sent(&app, &buyer.token).await;
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["kind"], "order_confirmation");
    assert_eq!(items[0]["email_status"], "sent");
    assert_eq!(list["unread"], 1);
    // Mark read: once it is gone from the unread count; someone else's is 404.
    let id = items[0]["id"].as_str().unwrap();
    let stranger = app.signup("eve@example.org").await;
    let r = app.post(&format!("/api/v1/me/notifications/{id}/read"), Some(&stranger.token), &Value::Null).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = app.post(&format!("/api/v1/me/notifications/{id}/read"), Some(&buyer.token), &Value::Null).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(notifications(&app, &buyer.token).await["unread"], 0);
}

#[tokio::test]
async fn confirmations_wait_for_a_mail_server_that_is_down_and_arrive_once() {
    let mut smtp = SmtpServer::start().await;
    smtp.stop();
    let url = smtp.url();
    let app = spawn_app_with(|c| c.mail.smtp_url = Some(url)).await;
    let f = app.fixture(2, 5, 10).await;
    let ada = app.signup("ada@example.org").await;
    let bob = app.signup("bob@example.org").await;
    let first = app.buy(&ada.token, &f.event_id, &[&f.seats[0]], &[]).await;
    let second = app.buy(&bob.token, &f.event_id, &[&f.seats[1]], &[(&f.ga_area, 2)]).await;

    // An hour and a half with the server down: attempts fail and back off;
    // the messages stay queued (and are visible as such).
    for _ in 0..18 {
        app.clock.advance(Span::minutes(5));
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    assert!(smtp.messages().is_empty());
    for token in [&ada.token, &bob.token] {
        assert_eq!(notifications(&app, token).await["items"][0]["email_status"], "queued");
    }

    // The process restarts while the server is still down; then it returns.
    let app = app.restart(|_| {}).await;
    smtp.run().await;
    let got = smtp.wait_for(&app, 2).await;

    // Let any stray retry happen (longer than the largest back-off step,
    // shorter than a session): nothing is sent twice.
    for _ in 0..4 {
        app.clock.advance(Span::hours(1));
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    let got_later = smtp.messages();
    assert_eq!(got_later.len(), 2, "{:?}", got_later.iter().map(|m| &m.subject).collect::<Vec<_>>());
    let mut ids: Vec<_> = got.iter().map(|m| m.message_id.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 2, "distinct Message-IDs");
    for (order, email) in [(&first, "ada@example.org"), (&second, "bob@example.org")] {
        let m = got_later.iter().find(|m| m.to == email).expect("a message for each buyer");
        assert_confirmation(m, order);
    }
    for token in [&ada.token, &bob.token] {
        notifications_sent(&app, token).await;
    }

    // And across another restart, with the server up all along: still two.
    let app = app.restart(|_| {}).await;
    for _ in 0..5 {
        app.clock.advance(Span::hours(1));
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    assert_eq!(smtp.messages().len(), 2);
}

#[tokio::test]
async fn messages_queue_without_a_mail_server_configured() {
    let app = spawn_app_with(|_| {}).await;
    let f = app.fixture(1, 2, 1).await;
    let ada = app.signup("ada@example.org").await;
    app.buy(&ada.token, &f.event_id, &[&f.seats[0]], &[]).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let list = notifications(&app, &ada.token).await;
    assert_eq!(list["items"][0]["email_status"], "queued");
    assert!(list["items"][0]["title"].as_str().unwrap().contains("Test Gig"));
    // The message is left for a node with a mail server: never claimed
    // here, so it spends no attempts and no writes on retrying in vain.
    let jobs = app.ticketing().store().jobs(None, 100).await.unwrap();
    let mail: Vec<_> = jobs.iter().filter(|j| j.kind == "mail.send").collect();
    assert_eq!(mail.len(), 3, "the owner's and Ada's address confirmations, and Ada's order");
    assert!(mail.iter().all(|m| (m.status.as_str(), m.attempts) == ("pending", 0)), "{mail:?}");
}

#[tokio::test]
async fn transfer_offers_and_day_before_reminders_are_mailed_once() {
    let smtp = SmtpServer::start().await;
    let url = smtp.url();
    let app = spawn_app_with(|c| c.mail.smtp_url = Some(url)).await;
    let f = app.fixture(1, 4, 5).await;
    let ada = app.signup("ada@example.org").await;
    let order = app.buy(&ada.token, &f.event_id, &[&f.seats[0], &f.seats[1]], &[]).await;
    let ticket = order["tickets"][0]["id"].as_str().unwrap();
    let r = app
        .post(
            &format!("/api/v1/tickets/{ticket}/transfers"),
            Some(&ada.token),
            &serde_json::json!({"to_email": "zoe@example.org"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let got = smtp.wait_for(&app, 2).await;
    let offer = got.iter().find(|m| m.to == "zoe@example.org").expect("the recipient is told");
    assert!(offer.subject.contains("is passing you a ticket for Test Gig"), "{}", offer.subject);
    // The deadline in the venue's time (the fixture's venue is in Berlin), as on the pages.
    let transfer: serde_json::Value = r.json().await.unwrap();
    let expires: chrono::DateTime<chrono::Utc> = transfer["expires_at"].as_str().unwrap().parse().unwrap();
    let winter = (expires + chrono::Duration::hours(1)).format("%Y-%m-%d %H:%M CET").to_string();
    let summer = (expires + chrono::Duration::hours(2)).format("%Y-%m-%d %H:%M CEST").to_string();
    let berlin = if offer.text.contains(&winter) { winter } else { summer };
    assert!(offer.text.contains(&berlin) && offer.html.contains(&berlin), "{berlin} in {}", offer.text);
    assert!(!offer.text.contains(" UTC"), "{}", offer.text);

    // The event starts in 30 days: the reminder goes out within its last day,
    // once, however long housekeeping keeps running.
    app.clock.advance(Span::days(29) + Span::hours(1));
    let got = smtp.wait_for(&app, 3).await;
    let reminders: Vec<_> = got.iter().filter(|m| m.subject == "Tomorrow: Test Gig").collect();
    assert_eq!(reminders.len(), 1);
    assert_eq!(reminders[0].to, "ada@example.org");
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_eq!(smtp.messages().len(), 3);
}

#[tokio::test]
async fn a_buyer_who_chose_german_gets_german_mail() {
    let smtp = SmtpServer::start().await;
    let url = smtp.url();
    let app = spawn_app_with(|c| c.mail.smtp_url = Some(url)).await;
    let f = app.fixture(1, 2, 1).await;
    let ada = app.signup("ada@example.org").await;
    let put = |locale: &str| {
        app.client
            .put(app.url("/api/v1/me/locale"))
            .bearer_auth(&ada.token)
            .json(&serde_json::json!({"locale": locale}))
            .send()
    };
    let r = put("xx").await.unwrap();
    crate::helpers::assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(put("de").await.unwrap().status(), StatusCode::NO_CONTENT);
    app.buy(&ada.token, &f.event_id, &[&f.seats[0]], &[]).await;
    let got = smtp.wait_for(&app, 1).await;
    assert_eq!(got[0].subject, "Ihre Tickets für Test Gig");
    assert!(got[0].text.contains("vielen Dank"));
}

#[tokio::test]
async fn a_team_invitation_reaches_someone_without_an_account() {
    let smtp = SmtpServer::start().await;
    let url = smtp.url();
    let app = spawn_app_with(|c| c.mail.smtp_url = Some(url)).await;
    let org = app.org("owner@example.org").await;
    let r = app
        .post(
            &format!("/api/v1/organizations/{}/invitations", org.id),
            Some(&org.owner.token),
            &serde_json::json!({"email": "door@example.org", "role": "gate"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let sent: Value = r.json().await.unwrap();
    let link = sent["link"].as_str().unwrap();
    let got = smtp.wait_for(&app, 1).await;
    assert_eq!(got[0].to, "door@example.org");
    assert_eq!(got[0].subject, "Test Person invites you to Test Org on RobustTicketing");
    assert!(got[0].text.contains(link), "{}", got[0].text);
    assert!(got[0].html.contains(&format!("href=\"{}\"", link.replace('/', "&#x2f;"))), "{}", got[0].html);
    assert!(got[0].text.contains("as gate staff") && got[0].text.contains("for 7 days"), "{}", got[0].text);
}

#[tokio::test]
async fn a_moved_event_mails_its_holders_the_old_and_the_new_date() {
    let smtp = SmtpServer::start().await;
    let url = smtp.url();
    let app = spawn_app_with(|c| c.mail.smtp_url = Some(url)).await;
    let f = app.fixture(1, 4, 5).await;
    let ada = app.signup("ada@example.org").await;
    app.buy(&ada.token, &f.event_id, &[&f.seats[0]], &[]).await;
    smtp.wait_for(&app, 1).await;
    let event: Value = app.get(&format!("/api/v1/events/{}", f.event_id), None).await.json().await.unwrap();
    let old: chrono::DateTime<chrono::Utc> = event["starts_at"].as_str().unwrap().parse().unwrap();
    let new = old + Span::days(7);
    let r = app
        .post(
            &format!("/api/v1/events/{}/reschedule", f.event_id),
            Some(&f.org.owner.token),
            &serde_json::json!({"starts_at": new, "ends_at": new + Span::hours(3), "note": "The stage <flooded>."}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let got = smtp.wait_for(&app, 2).await;
    let moved = got.iter().find(|m| m.subject.starts_with("New date: Test Gig")).expect("the holder is told");
    assert_eq!(moved.to, "ada@example.org");
    // Both dates in the venue's time (Berlin: an hour ahead of UTC in winter, two in summer).
    let berlin = |t: chrono::DateTime<chrono::Utc>| {
        [(1, "CET"), (2, "CEST")]
            .map(|(h, zone)| (t + Span::hours(h)).format(&format!("%Y-%m-%d %H:%M {zone}")).to_string())
    };
    for t in [old, new] {
        assert!(berlin(t).iter().any(|s| moved.text.contains(s)), "{:?} in {}", berlin(t), moved.text);
    }
    assert!(moved.text.contains("The stage <flooded>."), "{}", moved.text);
    assert!(moved.html.contains("The stage &lt;flooded&gt;."), "{}", moved.html);
    // A calendar file with the same UID as the confirmation's and the new times.
    let ics = |m: &Delivered| {
        let (_, _, bytes) = m.parts.iter().find(|(t, _, _)| t.starts_with("text/calendar")).expect("an .ics file");
        String::from_utf8(bytes.clone()).unwrap()
    };
    let confirmation = got.iter().find(|m| m.subject.starts_with("Your tickets")).expect("the confirmation");
    let uid = |ics: &str| ics.lines().find(|l| l.starts_with("UID:")).unwrap().to_owned();
    assert_eq!(uid(&ics(moved)), uid(&ics(confirmation)));
    assert!(ics(moved).contains(&format!("DTSTART:{}", new.format("%Y%m%dT%H%M%SZ"))), "{}", ics(moved));
}

/// A new account's address is confirmed by the link mailed to it. Opening
/// the link's page confirms nothing (mail scanners open links too); its
/// button does. A link works for a week; more links can be asked for, a few
/// a day; a bad link is a 422 problem.
#[tokio::test]
async fn a_new_account_confirms_its_address_with_the_mailed_link() {
    let smtp = SmtpServer::start().await;
    let url = smtp.url();
    let app = spawn_app_with(|c| c.mail.smtp_url = Some(url)).await;
    let ada = app.signup_unconfirmed("ada@example.org").await;
    let me = async |token: &str| -> Value { app.get("/api/v1/me", Some(token)).await.json().await.unwrap() };
    assert_eq!(me(&ada.token).await["email_verified"], false);

    let mail = loop {
        if let Some(m) = smtp.every_message().into_iter().find(|m| m.to == "ada@example.org") {
            break m;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(mail.subject, ADDRESS_CONFIRMATION_SUBJECT);
    let link = mail.text.lines().find(|l| l.contains("/verify-email?token=")).expect("the link").trim().to_owned();
    let token = link.split_once("token=").unwrap().1.to_owned();
    assert!(mail.html.contains(&token), "the HTML part links the same page");
    // Nothing about the address reaches the account's own inbox.
    let inbox = notifications(&app, &ada.token).await;
    assert!(!inbox.to_string().contains(&token), "{inbox}");

    // The mail and the page name the account, so that whoever owns the
    // address can tell whether they made it; the page only offers the button.
    assert!(mail.text.contains("\"Test Person\""), "{}", mail.text);
    let page = app.client.get(app.url(&format!("/verify-email?token={token}"))).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("Confirm my address") && html.contains("Test Person") && html.contains("ada@example.org"));
    for bad in ["/verify-email", "/verify-email?token=", "/verify-email?token=guess"] {
        let page = app.client.get(app.url(bad)).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert!(!page.text().await.unwrap().contains("Confirm my address"), "{bad} offers to confirm");
    }
    assert_eq!(me(&ada.token).await["email_verified"], false, "opening the link confirms nothing");

    // Bad links are 422 problems; the right one confirms, also again.
    for bad in [json!({"token": "guess"}), json!({"token": ""}), json!({"token": "x".repeat(10_000)})] {
        let r = app.post("/api/v1/auth/verify-email", None, &bad).await;
        let p = crate::helpers::assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert!(p["type"].as_str().unwrap().ends_with("verification-link-unknown"), "{p}");
    }
    let csrf = "c".repeat(64);
    let confirm = async |token: &str| {
        let r = app
            .client
            .post(app.url("/verify-email"))
            .header("cookie", format!("rt_csrf={csrf}"))
            .form(&[("csrf", csrf.as_str()), ("token", token)])
            .send()
            .await
            .unwrap();
        (r.status(), r.text().await.unwrap())
    };
    let (status, html) = confirm(&token).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Your address is confirmed") && html.contains("ada@example.org"), "{html}");
    assert_eq!(me(&ada.token).await["email_verified"], true);
    let r = app.post("/api/v1/auth/verify-email", None, &json!({"token": token})).await;
    assert_eq!(r.status(), StatusCode::OK, "the same link again");
    // A confirmed address needs no more links.
    let r = app.post("/api/v1/me/email-verification", Some(&ada.token), &json!({})).await;
    crate::helpers::assert_problem(r, StatusCode::CONFLICT).await;

    // Another account asks for links again: a few a day, then 429.
    let bob = app.signup_unconfirmed("bob@example.org").await;
    for _ in 1..ticketing::accounts::EMAIL_VERIFICATIONS_PER_DAY_MAX {
        let r = app.post("/api/v1/me/email-verification", Some(&bob.token), &json!({})).await;
        assert_eq!(r.status(), StatusCode::ACCEPTED);
        assert_eq!(r.json::<Value>().await.unwrap()["sent_to"], "bob@example.org");
    }
    let r = app.post("/api/v1/me/email-verification", Some(&bob.token), &json!({})).await;
    let r = crate::helpers::assert_problem(r, StatusCode::TOO_MANY_REQUESTS).await;
    assert!(r["detail"].as_str().unwrap().contains("tomorrow"), "{r}");
    let tokens = app.verification_tokens("bob@example.org").await;
    assert_eq!(tokens.len() as i64, ticketing::accounts::EMAIL_VERIFICATIONS_PER_DAY_MAX);
    // A link older than a week is refused, and the page offers a new one.
    app.clock.advance(Span::days(ticketing::accounts::EMAIL_VERIFICATION_DAYS) + Span::minutes(1));
    let (status, html) = confirm(&tokens[0]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("expired"), "{html}");
    let bob = crate::helpers::Account { token: app.login("bob@example.org").await, ..bob };
    assert_eq!(me(&bob.token).await["email_verified"], false);
    // A day later more links may be sent, and a new one works.
    let r = app.post("/api/v1/me/email-verification", Some(&bob.token), &json!({})).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let fresh = app.verification_tokens("bob@example.org").await.into_iter().find(|t| !tokens.contains(t)).unwrap();
    let r = app.post("/api/v1/auth/verify-email", None, &json!({"token": fresh})).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(me(&bob.token).await["email_verified"], true);
}

/// The subject of the message with a link to set a new password.
const PASSWORD_LINK_SUBJECT: &str = "Set a new password for RobustTicketing";

/// The secret of the newest password link mailed to `to`, waiting for it.
async fn password_link(smtp: &SmtpServer, to: &str, already: usize) -> String {
    for _ in 0..100 {
        let mails: Vec<Delivered> =
            smtp.every_message().into_iter().filter(|m| m.to == to && m.subject == PASSWORD_LINK_SUBJECT).collect();
        if mails.len() > already {
            let mut links: Vec<(String, String)> = mails
                .iter()
                .map(|m| {
                    let line = m.text.lines().find(|l| l.contains("/reset-password?token=")).expect("the link");
                    (m.message_id.clone(), line.split_once("token=").unwrap().1.trim().to_owned())
                })
                .collect();
            // Message-IDs are time-ordered.
            links.sort();
            return links.pop().unwrap().1;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no password link reached {to}");
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

#[tokio::test]
async fn a_forgotten_password_is_set_again_with_the_mailed_link() {
    let smtp = SmtpServer::start().await;
    let url = smtp.url();
    let app = spawn_app_with(|c| c.mail.smtp_url = Some(url)).await;
    let ada = app.signup_unconfirmed("ada@example.org").await;
    let other_device = app.login("ada@example.org").await;
    let ask = async |body: Value| app.post("/api/v1/auth/password-reset", None, &body).await;
    let confirm = async |token: &str, password: &str| {
        app.post("/api/v1/auth/password-reset/confirm", None, &json!({"token": token, "password": password})).await
    };

    // Asking tells nothing about whether the address has an account.
    assert_eq!(ask(json!({"email": "nobody@example.org"})).await.status(), StatusCode::ACCEPTED);
    assert_eq!(ask(json!({"email": "ADA@example.org"})).await.status(), StatusCode::ACCEPTED);
    for bad in [json!({"email": "not an address"}), json!({}), json!({"email": "ada@example.org", "admin": true})] {
        crate::helpers::assert_problem(ask(bad).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let first = password_link(&smtp, "ada@example.org", 0).await;
    assert_eq!(ask(json!({"email": "ada@example.org"})).await.status(), StatusCode::ACCEPTED);
    let second = password_link(&smtp, "ada@example.org", 1).await;
    assert_ne!(first, second);
    let mail = smtp.every_message().into_iter().find(|m| m.subject == PASSWORD_LINK_SUBJECT).unwrap();
    assert!(mail.text.contains("\"Test Person\""), "{}", mail.text);
    assert!(mail.html.contains(&first) || mail.html.contains(&second), "the HTML part links the same page");
    // Nothing went to an address without an account, and nothing about the
    // link reaches the app, where whoever is signed in could read it.
    assert!(smtp.every_message().iter().all(|m| m.to != "nobody@example.org"));
    assert!(!notifications(&app, &ada.token).await.to_string().contains(&first));

    // The page names the account and only offers the form; bad links get
    // a 422 page that offers a new one.
    let page = app.client.get(app.url(&format!("/reset-password?token={second}"))).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("Test Person") && html.contains("Set my new password"), "{html}");
    for bad in ["/reset-password", "/reset-password?token=", "/reset-password?token=guess"] {
        let page = app.client.get(app.url(bad)).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        let html = page.text().await.unwrap();
        assert!(!html.contains("Set my new password") && html.contains("/forgot-password"), "{bad}");
    }

    // A weak password or a wrong link changes nothing.
    let p = crate::helpers::assert_problem(confirm(&second, "short").await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(p["type"].as_str().unwrap().ends_with("weak-password"), "{p}");
    for bad in ["guess", "", &"x".repeat(10_000)] {
        let p =
            crate::helpers::assert_problem(confirm(bad, "a brand new secret").await, StatusCode::UNPROCESSABLE_ENTITY)
                .await;
        assert!(p["type"].as_str().unwrap().ends_with("password-link-unknown"), "{p}");
    }
    assert_eq!(app.get("/api/v1/me", Some(&other_device)).await.status(), StatusCode::OK);

    // The link sets the password once, ends every session and every other
    // link, and confirms the address it was mailed to.
    let r = confirm(&second, "a brand new secret").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["user_id"], ada.id.as_str());
    for token in [&ada.token, &other_device] {
        assert_eq!(app.get("/api/v1/me", Some(token)).await.status(), StatusCode::UNAUTHORIZED);
    }
    for used in [&second, &first] {
        let r = confirm(used, "another new secret").await;
        crate::helpers::assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let login = async |password: &str| {
        app.post("/api/v1/auth/login", None, &json!({"email": "ada@example.org", "password": password})).await
    };
    assert_eq!(login(crate::helpers::PASSWORD).await.status(), StatusCode::UNAUTHORIZED);
    let r = login("a brand new secret").await;
    assert_eq!(r.status(), StatusCode::OK);
    let token = r.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned();
    let me: Value = app.get("/api/v1/me", Some(&token)).await.json().await.unwrap();
    assert_eq!(me["email_verified"], true, "the link was mailed to the address");
    // The account is told, in the app and by mail.
    let inbox = notifications(&app, &token).await;
    assert_eq!(inbox["items"][0]["kind"], "password_changed", "{inbox}");
    let told = loop {
        if let Some(m) = smtp.every_message().into_iter().find(|m| m.subject.contains("password was changed")) {
            break m;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(told.to, "ada@example.org");
    assert!(told.text.contains("/forgot-password"), "{}", told.text);

    // The web form: sets the password and signs in on this device.
    assert_eq!(ask(json!({"email": "ada@example.org"})).await.status(), StatusCode::ACCEPTED);
    let third = password_link(&smtp, "ada@example.org", 2).await;
    let csrf = "c".repeat(64);
    let form = async |password: &str| {
        no_redirects()
            .post(app.url("/reset-password"))
            .header("cookie", format!("rt_csrf={csrf}"))
            .form(&[("csrf", csrf.as_str()), ("token", third.as_str()), ("password", password)])
            .send()
            .await
            .unwrap()
    };
    let r = form("short").await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("Set my new password"), "a weak password keeps the form");
    let r = form("the third secret").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/account?password=reset");
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    let session = cookie.split(';').next().unwrap().split_once('=').unwrap().1;
    let account = app.page("/account?password=reset", session).await;
    assert!(account.contains("Your new password is set") && account.contains("ada@example.org"), "{account}");
    assert_eq!(app.get("/api/v1/me", Some(&token)).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(form("the fourth secret").await.status(), StatusCode::UNPROCESSABLE_ENTITY, "used once");

    // A link works for an hour.
    assert_eq!(ask(json!({"email": "ada@example.org"})).await.status(), StatusCode::ACCEPTED);
    let late = password_link(&smtp, "ada@example.org", 3).await;
    app.clock.advance(Span::minutes(ticketing::accounts::PASSWORD_RESET_MINUTES) + Span::seconds(1));
    let p = crate::helpers::assert_problem(confirm(&late, "a late new secret").await, StatusCode::UNPROCESSABLE_ENTITY)
        .await;
    assert!(p["detail"].as_str().unwrap().contains("expired"), "{p}");

    // Anyone may ask for someone else's address: a few links a day go out.
    let bob = app.signup("bob@example.org").await;
    for _ in 0..ticketing::accounts::PASSWORD_RESETS_PER_DAY_MAX + 2 {
        assert_eq!(ask(json!({"email": "bob@example.org"})).await.status(), StatusCode::ACCEPTED);
    }
    let links: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM password_resets WHERE user_id = $1")
        .bind(&bob.id)
        .fetch_one(app.database().await)
        .await
        .unwrap();
    assert_eq!(links, ticketing::accounts::PASSWORD_RESETS_PER_DAY_MAX);
    // Using one of them does not start the day's count again.
    let used: String =
        sqlx::query_scalar("SELECT link FROM notifications WHERE kind = 'password_reset' AND email = $1 LIMIT 1")
            .bind("bob@example.org")
            .fetch_one(app.database().await)
            .await
            .unwrap();
    let used = used.split_once("token=").unwrap().1.to_owned();
    assert_eq!(confirm(&used, "bob's new secret").await.status(), StatusCode::OK);
    assert_eq!(ask(json!({"email": "bob@example.org"})).await.status(), StatusCode::ACCEPTED);
    let sent: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM notifications WHERE kind = 'password_reset' AND email = $1")
            .bind("bob@example.org")
            .fetch_one(app.database().await)
            .await
            .unwrap();
    assert_eq!(sent, ticketing::accounts::PASSWORD_RESETS_PER_DAY_MAX, "no sixth link that day");
}

#[tokio::test]
async fn a_signed_in_account_changes_its_password_with_the_current_one() {
    let app = spawn_app_with(|_| {}).await;
    let ada = app.signup("ada@example.org").await;
    let other_device = app.login("ada@example.org").await;
    let change = async |token: &str, body: Value| {
        app.client.put(app.url("/api/v1/me/password")).bearer_auth(token).json(&body).send().await.unwrap()
    };
    let r =
        change(&ada.token, json!({"current_password": "not it at all", "new_password": "a brand new secret"})).await;
    let p = crate::helpers::assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(p["type"].as_str().unwrap().ends_with("wrong-password"), "{p}");
    let r = change(&ada.token, json!({"current_password": crate::helpers::PASSWORD, "new_password": "short"})).await;
    let p = crate::helpers::assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(p["type"].as_str().unwrap().ends_with("weak-password"), "{p}");
    let r = app
        .client
        .put(app.url("/api/v1/me/password"))
        .json(&json!({"current_password": crate::helpers::PASSWORD, "new_password": "a brand new secret"}))
        .send()
        .await
        .unwrap();
    crate::helpers::assert_problem(r, StatusCode::UNAUTHORIZED).await;
    assert_eq!(app.get("/api/v1/me", Some(&other_device)).await.status(), StatusCode::OK, "nothing changed yet");

    let r =
        change(&ada.token, json!({"current_password": crate::helpers::PASSWORD, "new_password": "a brand new secret"}))
            .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.get("/api/v1/me", Some(&ada.token)).await.status(), StatusCode::OK, "this session stays");
    assert_eq!(app.get("/api/v1/me", Some(&other_device)).await.status(), StatusCode::UNAUTHORIZED);
    let login = async |password: &str| {
        app.post("/api/v1/auth/login", None, &json!({"email": "ada@example.org", "password": password})).await.status()
    };
    assert_eq!(login(crate::helpers::PASSWORD).await, StatusCode::UNAUTHORIZED);
    assert_eq!(login("a brand new secret").await, StatusCode::OK);
    assert_eq!(notifications(&app, &ada.token).await["items"][0]["kind"], "password_changed");

    // The account page: its form changes the password the same way.
    let html = app.page("/account", &ada.token).await;
    assert!(html.contains("Change your password") && html.contains("ada@example.org"), "{html}");
    let csrf = "c".repeat(64);
    let form = async |current: &str| {
        no_redirects()
            .post(app.url("/account/password"))
            .header("cookie", format!("rt_csrf={csrf}; rt_session={}", ada.token))
            .form(&[("csrf", csrf.as_str()), ("current_password", current), ("new_password", "the third secret")])
            .send()
            .await
            .unwrap()
    };
    let r = form("wrong again").await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().to_lowercase().contains("the current password is wrong"));
    let r = form("a brand new secret").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/account?password=changed");
    assert_eq!(login("the third secret").await, StatusCode::OK);
    // Signed out, the page sends to sign-in.
    let r = no_redirects().get(app.url("/account")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
}

/// Wrong passwords are counted per address, from wherever they come: after
/// ten in a quarter of an hour that address's sign-ins are refused with a
/// 429 until the quarter is over, whether or not an account has it and even
/// with the right password. The owner gets in at once with a mailed link,
/// which clears the count; other addresses are untouched.
#[tokio::test]
async fn wrong_passwords_spread_over_many_addresses_still_stop_at_the_account() {
    use domain::auth::{SIGN_IN_FAILURE_WINDOW_MINUTES, SIGN_IN_FAILURES_MAX};
    let smtp = SmtpServer::start().await;
    let url = smtp.url();
    let app = spawn_app_with(|c| c.mail.smtp_url = Some(url)).await;
    let ada = app.signup_unconfirmed("ada@example.org").await;
    app.signup_unconfirmed("bob@example.org").await;
    let login = async |email: &str, password: &str| {
        app.post("/api/v1/auth/login", None, &json!({"email": email, "password": password})).await
    };
    let refused = async |r: reqwest::Response| {
        let retry: i64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        let p = crate::helpers::assert_problem(r, StatusCode::TOO_MANY_REQUESTS).await;
        assert!(p["type"].as_str().unwrap().ends_with("too-many-failed-sign-ins"), "{p}");
        assert!(p["detail"].as_str().unwrap().contains("set a new password"), "{p}");
        retry
    };

    // The test's one client stands for many addresses: the per-address
    // request limit is off here.
    for address in ["ADA@example.org", "nobody@example.org"] {
        for _ in 0..SIGN_IN_FAILURES_MAX {
            assert_eq!(login(address, "a guess").await.status(), StatusCode::UNAUTHORIZED);
        }
    }
    // Only a hash of each address is kept.
    let counted = async || -> Vec<Vec<u8>> {
        sqlx::query_scalar("SELECT email_hash FROM sign_in_failures").fetch_all(app.database().await).await.unwrap()
    };
    let kept = counted().await;
    assert_eq!(kept.len(), 2);
    assert!(kept.iter().all(|k| k.len() == 32 && !String::from_utf8_lossy(k).contains("example")));
    let retry = refused(login("ada@example.org", crate::helpers::PASSWORD).await).await;
    assert!((1..=SIGN_IN_FAILURE_WINDOW_MINUTES * 60).contains(&retry), "Retry-After {retry}");
    // An address without an account answers alike: no way to tell them apart.
    refused(login("nobody@example.org", "a guess").await).await;
    assert_eq!(login("bob@example.org", crate::helpers::PASSWORD).await.status(), StatusCode::OK);
    // Guessing through a session's password change counts too, and is refused.
    let r = app
        .client
        .put(app.url("/api/v1/me/password"))
        .bearer_auth(&ada.token)
        .json(&json!({"current_password": crate::helpers::PASSWORD, "new_password": "a brand new secret"}))
        .send()
        .await
        .unwrap();
    refused(r).await;
    // The sign-in form says so on its page.
    let csrf = "c".repeat(64);
    let r = no_redirects()
        .post(app.url("/signin"))
        .header("cookie", format!("rt_csrf={csrf}"))
        .form(&[("csrf", csrf.as_str()), ("email", "ada@example.org"), ("password", crate::helpers::PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.text().await.unwrap().to_lowercase().contains("too many wrong passwords"));

    // The quarter over, the right password works and the count starts again.
    app.clock.advance(Span::minutes(SIGN_IN_FAILURE_WINDOW_MINUTES));
    assert_eq!(login("ada@example.org", crate::helpers::PASSWORD).await.status(), StatusCode::OK);
    for _ in 0..SIGN_IN_FAILURES_MAX - 1 {
        assert_eq!(login("ada@example.org", "a guess").await.status(), StatusCode::UNAUTHORIZED);
    }
    assert_eq!(login("ada@example.org", crate::helpers::PASSWORD).await.status(), StatusCode::OK, "a success clears");
    for _ in 0..SIGN_IN_FAILURES_MAX {
        assert_eq!(login("ada@example.org", "a guess").await.status(), StatusCode::UNAUTHORIZED);
    }
    refused(login("ada@example.org", crate::helpers::PASSWORD).await).await;

    // Locked out, the owner sets a new password by mail and is in at once.
    let r = app.post("/api/v1/auth/password-reset", None, &json!({"email": "ada@example.org"})).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let link = password_link(&smtp, "ada@example.org", 0).await;
    let r = app
        .post("/api/v1/auth/password-reset/confirm", None, &json!({"token": link, "password": "a brand new secret"}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(login("ada@example.org", "a brand new secret").await.status(), StatusCode::OK);
    // Ada's count was cleared, nobody@'s tidied once its quarter was over.
    assert!(counted().await.is_empty());
}

/// Guesses sent all at once are counted each before any password is looked
/// at: however many arrive together, at most the limit are checked.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn wrong_passwords_sent_at_once_are_checked_no_more_than_the_limit() {
    use domain::auth::SIGN_IN_FAILURES_MAX;
    let app = spawn_app_with(|_| {}).await;
    app.signup("ada@example.org").await;
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..40 {
        let req = app
            .client
            .post(app.url("/api/v1/auth/login"))
            .json(&json!({"email": "ada@example.org", "password": "a guess"}));
        set.spawn(async move { req.send().await.unwrap().status() });
    }
    let statuses = set.join_all().await;
    let checked = statuses.iter().filter(|s| **s != StatusCode::TOO_MANY_REQUESTS).count();
    assert!(checked as i64 <= SIGN_IN_FAILURES_MAX, "{checked} passwords checked: {statuses:?}");
    assert!(
        statuses.iter().all(|s| [StatusCode::UNAUTHORIZED, StatusCode::TOO_MANY_REQUESTS].contains(s)),
        "{statuses:?}"
    );
    // Then even the right password waits for the window to end.
    let r = app
        .post("/api/v1/auth/login", None, &json!({"email": "ada@example.org", "password": crate::helpers::PASSWORD}))
        .await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
}
