//! The team: invitations by e-mail link, role changes, and who may do what.

use chrono::Duration;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Account, Org, TestApp, assert_problem, spawn_app};

/// The secret at the end of an invitation link.
fn secret(sent: &Value) -> String {
    let link = sent["link"].as_str().expect("an invitation link");
    let (_, secret) = link.rsplit_once("/invitations/").expect("a link to the invitation page");
    assert!(secret.len() >= 40, "a long random secret: {link}");
    secret.to_owned()
}

async fn invite(app: &TestApp, org: &Org, token: &str, email: &str, role: &str) -> reqwest::Response {
    app.post(
        &format!("/api/v1/organizations/{}/invitations", org.id),
        Some(token),
        &json!({"email": email, "role": role}),
    )
    .await
}

async fn invited(app: &TestApp, org: &Org, email: &str, role: &str) -> Value {
    let r = invite(app, org, &org.owner.token, email, role).await;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
    r.json().await.unwrap()
}

async fn accept(app: &TestApp, secret: &str, who: &Account) -> reqwest::Response {
    app.post(&format!("/api/v1/invitations/{secret}/accept"), Some(&who.token), &json!({})).await
}

async fn team(app: &TestApp, org: &Org) -> Vec<(String, String)> {
    let r = app.get(&format!("/api/v1/organizations/{}/members", org.id), Some(&org.owner.token)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let members: Value = r.json().await.unwrap();
    members
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["email"].as_str().unwrap().to_owned(), m["role"].as_str().unwrap().to_owned()))
        .collect()
}

async fn open_invitations(app: &TestApp, org: &Org) -> Vec<Value> {
    let r = app.get(&format!("/api/v1/organizations/{}/invitations", org.id), Some(&org.owner.token)).await;
    assert_eq!(r.status(), StatusCode::OK);
    r.json::<Value>().await.unwrap().as_array().unwrap().clone()
}

#[tokio::test]
async fn someone_without_an_account_joins_by_the_link_once() {
    let app = spawn_app().await;
    let org = app.org("owner@example.org").await;
    let sent = invited(&app, &org, "New.Person@Example.org", "gate").await;
    assert_eq!((sent["email"].as_str(), sent["role"].as_str()), (Some("new.person@example.org"), Some("gate")));
    let secret = secret(&sent);
    let expires: chrono::DateTime<chrono::Utc> = sent["expires_at"].as_str().unwrap().parse().unwrap();
    let created: chrono::DateTime<chrono::Utc> = sent["created_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(expires - created, Duration::days(7));

    // Listed as open, without the link.
    let open = open_invitations(&app, &org).await;
    assert_eq!(open.len(), 1);
    assert_eq!(open[0]["email"], "new.person@example.org");
    assert!(open[0].get("link").is_none(), "the link is shown once: {}", open[0]);

    // The link shows what it offers, to anyone who has it.
    let r = app.get(&format!("/api/v1/invitations/{secret}"), None).await;
    assert_eq!(r.status(), StatusCode::OK);
    let view: Value = r.json().await.unwrap();
    assert_eq!((view["organization_name"].as_str(), view["role"].as_str()), (Some("Test Org"), Some("gate")));
    assert_eq!(view["organization_id"], org.id.as_str());

    // Accepting needs an account.
    let r = app.post(&format!("/api/v1/invitations/{secret}/accept"), None, &json!({})).await;
    assert_problem(r, StatusCode::UNAUTHORIZED).await;

    let person = app.signup("new.person@example.org").await;
    let r = accept(&app, &secret, &person).await;
    assert_eq!(r.status(), StatusCode::OK);
    let joined: Value = r.json().await.unwrap();
    assert_eq!((joined["role"].as_str(), joined["user_id"].as_str()), (Some("gate"), Some(person.id.as_str())));
    assert!(team(&app, &org).await.contains(&("new.person@example.org".to_owned(), "gate".to_owned())));
    assert!(open_invitations(&app, &org).await.is_empty());

    // The link works once: not again, and not for someone else.
    let other = app.signup("other@example.org").await;
    let p = assert_problem(accept(&app, &secret, &other).await, StatusCode::GONE).await;
    assert_eq!(p["type"].as_str().unwrap().rsplit(':').next(), Some("invitation-closed"));
    assert_problem(app.get(&format!("/api/v1/invitations/{secret}"), None).await, StatusCode::GONE).await;
    assert!(!team(&app, &org).await.iter().any(|(e, _)| e == "other@example.org"));
}

#[tokio::test]
async fn an_invitation_does_not_tell_whether_an_address_has_an_account() {
    let app = spawn_app().await;
    let org = app.org("owner@example.org").await;
    let known = app.signup("known@example.org").await;
    let a = invited(&app, &org, "known@example.org", "admin").await;
    let b = invited(&app, &org, "unknown@example.org", "admin").await;
    let keys = |v: &Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(keys(&a), keys(&b));

    // Someone with an account also finds it among their notifications,
    // leading to the same page the e-mail does.
    let r = app.get("/api/v1/me/notifications", Some(&known.token)).await;
    let list: Value = r.json().await.unwrap();
    let note = &list["items"][0];
    assert_eq!(note["kind"], "team_invitation", "{list}");
    assert!(note["title"].as_str().unwrap().contains("Test Org"), "{note}");
    assert_eq!(note["link"].as_str().unwrap(), format!("/invitations/{}", secret(&a)));

    let r = accept(&app, &secret(&a), &known).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(team(&app, &org).await.contains(&("known@example.org".to_owned(), "admin".to_owned())));
}

#[tokio::test]
async fn an_open_invitation_is_withdrawn_before_another_goes_to_the_same_address() {
    let app = spawn_app().await;
    let org = app.org("owner@example.org").await;
    let admin = app.member(&org, "admin@example.org", "admin").await;
    let first = invited(&app, &org, "new@example.org", "admin").await;
    // Sending again (a reloaded page, a second manager) does not kill the
    // link already passed on, and an admin cannot swap the owner's admin
    // invitation for one of their own.
    let again = invite(&app, &org, &org.owner.token, "new@example.org", "admin").await;
    let p = assert_problem(again, StatusCode::CONFLICT).await;
    assert!(p["detail"].as_str().unwrap().contains("withdraw it first"), "{p}");
    assert_problem(invite(&app, &org, &admin.token, "New@Example.org", "gate").await, StatusCode::CONFLICT).await;
    let open = open_invitations(&app, &org).await;
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!((open[0]["id"].as_str(), open[0]["role"].as_str()), (first["id"].as_str(), Some("admin")));

    // Withdrawn, the link stops working and a new one can go out.
    let path = format!("/api/v1/organizations/{}/invitations/{}", org.id, first["id"].as_str().unwrap());
    assert_problem(app.delete(&path, Some(&admin.token)).await, StatusCode::FORBIDDEN).await;
    assert_eq!(app.delete(&path, Some(&org.owner.token)).await.status(), StatusCode::NO_CONTENT);
    assert_problem(app.delete(&path, Some(&org.owner.token)).await, StatusCode::NOT_FOUND).await;
    let person = app.signup("new@example.org").await;
    assert_problem(accept(&app, &secret(&first), &person).await, StatusCode::GONE).await;
    let second = invited(&app, &org, "new@example.org", "gate").await;
    assert_eq!(accept(&app, &secret(&second), &person).await.status(), StatusCode::OK);
    // Used again by the same person (a double click): they joined.
    let r = accept(&app, &secret(&second), &person).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["role"], "gate");
    assert!(team(&app, &org).await.contains(&("new@example.org".to_owned(), "gate".to_owned())));
}

#[tokio::test]
async fn invitations_of_a_member_who_leaves_or_stops_managing_stop_working() {
    let app = spawn_app().await;
    let org = app.org("owner@example.org").await;
    let leaving = app.member(&org, "leaving@example.org", "admin").await;
    let demoted = app.member(&org, "demoted@example.org", "admin").await;
    let planted = invite(&app, &org, &leaving.token, "spare@example.org", "gate").await;
    let planted: Value = planted.json().await.unwrap();
    let kept = invite(&app, &org, &demoted.token, "other@example.org", "gate").await;
    let kept: Value = kept.json().await.unwrap();
    let r =
        app.delete(&format!("/api/v1/organizations/{}/members/{}", org.id, leaving.id), Some(&org.owner.token)).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = app
        .client
        .patch(app.url(&format!("/api/v1/organizations/{}/members/{}", org.id, demoted.id)))
        .bearer_auth(&org.owner.token)
        .json(&json!({"role": "gate"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let spare = app.signup("spare@example.org").await;
    let other = app.signup("other@example.org").await;
    assert_problem(accept(&app, &secret(&planted), &spare).await, StatusCode::GONE).await;
    assert_problem(accept(&app, &secret(&kept), &other).await, StatusCode::GONE).await;
    assert!(open_invitations(&app, &org).await.is_empty());
}

#[tokio::test]
async fn an_organization_sends_a_limited_number_of_invitations_a_day() {
    let app = spawn_app().await;
    let org = app.org("owner@example.org").await;
    for i in 0..50 {
        let r = invite(&app, &org, &org.owner.token, &format!("p{i}@example.org"), "gate").await;
        assert_eq!(r.status(), StatusCode::CREATED, "invitation {i}");
    }
    let r = invite(&app, &org, &org.owner.token, "p50@example.org", "gate").await;
    assert_eq!(r.headers().get("retry-after").and_then(|v| v.to_str().ok()), Some("3600"));
    assert_problem(r, StatusCode::TOO_MANY_REQUESTS).await;
    app.clock.advance(Duration::days(1) + Duration::seconds(1));
    let token = app.login("owner@example.org").await;
    assert_eq!(invite(&app, &org, &token, "p50@example.org", "gate").await.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn an_invitation_lapses_after_a_week() {
    let app = spawn_app().await;
    let org = app.org("owner@example.org").await;
    let sent = invited(&app, &org, "late@example.org", "gate").await;
    let person = app.signup("late@example.org").await;
    app.clock.advance(Duration::days(7) + Duration::seconds(1));
    // Sessions last less than a week: both sign in again.
    let org = Org { owner: Account { token: app.login("owner@example.org").await, ..org.owner }, ..org };
    let person = Account { token: app.login("late@example.org").await, ..person };
    assert!(open_invitations(&app, &org).await.is_empty());
    let p = assert_problem(accept(&app, &secret(&sent), &person).await, StatusCode::GONE).await;
    assert!(p["detail"].as_str().unwrap().contains("expired"), "{p}");
    assert_eq!(team(&app, &org).await.len(), 1);
}

#[tokio::test]
async fn a_member_cannot_use_an_invitation_and_it_stays_open_for_its_person() {
    let app = spawn_app().await;
    let org = app.org("owner@example.org").await;
    let gate = app.member(&org, "gate@example.org", "gate").await;
    let sent = invited(&app, &org, "admin@example.org", "admin").await;
    // A gate worker who got hold of an admin's link does not become admin.
    assert_problem(accept(&app, &secret(&sent), &gate).await, StatusCode::CONFLICT).await;
    assert!(team(&app, &org).await.contains(&("gate@example.org".to_owned(), "gate".to_owned())));
    let admin = app.signup("admin@example.org").await;
    assert_eq!(accept(&app, &secret(&sent), &admin).await.status(), StatusCode::OK);
    // Inviting a member is refused.
    assert_problem(invite(&app, &org, &org.owner.token, "gate@example.org", "admin").await, StatusCode::CONFLICT).await;
}

#[tokio::test]
async fn who_may_invite_and_what_an_invitation_needs() {
    let app = spawn_app().await;
    let org = app.org("owner@example.org").await;
    let admin = app.member(&org, "admin@example.org", "admin").await;
    let gate = app.member(&org, "gate@example.org", "gate").await;
    let outsider = app.signup("outsider@example.org").await;

    // Admins invite gate staff, not admins; gate staff and outsiders nobody.
    assert_eq!(invite(&app, &org, &admin.token, "g2@example.org", "gate").await.status(), StatusCode::CREATED);
    assert_problem(invite(&app, &org, &admin.token, "a2@example.org", "admin").await, StatusCode::FORBIDDEN).await;
    assert_problem(invite(&app, &org, &gate.token, "g3@example.org", "gate").await, StatusCode::FORBIDDEN).await;
    assert_problem(invite(&app, &org, &outsider.token, "g4@example.org", "gate").await, StatusCode::FORBIDDEN).await;
    let r = app.get(&format!("/api/v1/organizations/{}/invitations", org.id), Some(&gate.token)).await;
    assert_problem(r, StatusCode::FORBIDDEN).await;

    // What is wrong with the request is said plainly.
    for (email, role) in [("not-an-address", "gate"), ("x@example.org", "owner"), ("x@example.org", "cashier")] {
        assert_problem(invite(&app, &org, &org.owner.token, email, role).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let r = app
        .post(
            &format!("/api/v1/organizations/{}/invitations", org.id),
            Some(&org.owner.token),
            &json!({"email": "x@example.org", "role": "gate", "rights": "all"}),
        )
        .await;
    assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;

    // An admin withdraws gate invitations, not the owner's admin ones.
    let for_admin = invited(&app, &org, "a3@example.org", "admin").await;
    let path = format!("/api/v1/organizations/{}/invitations/{}", org.id, for_admin["id"].as_str().unwrap());
    assert_problem(app.delete(&path, Some(&admin.token)).await, StatusCode::FORBIDDEN).await;

    // Links that are not ours find nothing.
    for secret in ["nope", &"x".repeat(65), "%00"] {
        assert_problem(app.get(&format!("/api/v1/invitations/{secret}"), None).await, StatusCode::NOT_FOUND).await;
        assert_problem(accept(&app, secret, &outsider).await, StatusCode::NOT_FOUND).await;
    }
    assert_eq!(team(&app, &org).await.len(), 3, "nobody joined");
}

#[tokio::test]
async fn a_link_raced_by_many_makes_one_member_its_person() {
    let app = spawn_app().await;
    let org = app.org("owner@example.org").await;
    let sent = invited(&app, &org, "shared@example.org", "gate").await;
    let secret = secret(&sent);
    // The link was passed around: five others try it as its person does.
    let mut people = Vec::new();
    for i in 0..5 {
        people.push(app.signup(&format!("p{i}@example.org")).await);
    }
    people.insert(2, app.signup("shared@example.org").await);
    let mut set = tokio::task::JoinSet::new();
    for p in &people {
        let req = app
            .client
            .post(app.url(&format!("/api/v1/invitations/{secret}/accept")))
            .bearer_auth(&p.token)
            .json(&json!({}));
        set.spawn(async move { req.send().await.unwrap().status() });
    }
    let statuses: Vec<StatusCode> = set.join_all().await;
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::OK).count(), 1, "{statuses:?}");
    assert!(
        statuses.iter().all(|s| [StatusCode::OK, StatusCode::GONE, StatusCode::FORBIDDEN].contains(s)),
        "{statuses:?}"
    );
    let members = team(&app, &org).await;
    assert_eq!(members.len(), 2, "{members:?}");
    assert!(members.contains(&("shared@example.org".to_owned(), "gate".to_owned())), "{members:?}");
}

#[tokio::test]
async fn the_owner_moves_members_between_admin_and_gate_staff() {
    let app = spawn_app().await;
    let org = app.org("owner@example.org").await;
    let admin = app.member(&org, "admin@example.org", "admin").await;
    let gate = app.member(&org, "gate@example.org", "gate").await;
    let outsider = app.signup("outsider@example.org").await;
    let change = |token: String, user: String, body: Value| {
        let url = app.url(&format!("/api/v1/organizations/{}/members/{user}", org.id));
        let req = app.client.patch(url).bearer_auth(token).json(&body);
        async move { req.send().await.unwrap() }
    };
    let owner = org.owner.token.clone();

    let r = change(owner.clone(), gate.id.clone(), json!({"role": "admin"})).await;
    assert_eq!(r.status(), StatusCode::OK);
    let member: Value = r.json().await.unwrap();
    assert_eq!((member["role"].as_str(), member["email"].as_str()), (Some("admin"), Some("gate@example.org")));
    // The new admin can now do an admin's work at once.
    assert_eq!(invite(&app, &org, &gate.token, "g9@example.org", "gate").await.status(), StatusCode::CREATED);
    let r = change(owner.clone(), gate.id.clone(), json!({"role": "gate"})).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_problem(invite(&app, &org, &gate.token, "g8@example.org", "gate").await, StatusCode::FORBIDDEN).await;

    // Admins change no roles: not of an admin, and not of gate staff to admin.
    assert_problem(change(admin.token.clone(), gate.id.clone(), json!({"role": "admin"})).await, StatusCode::FORBIDDEN)
        .await;
    assert_problem(change(admin.token.clone(), admin.id.clone(), json!({"role": "gate"})).await, StatusCode::FORBIDDEN)
        .await;
    assert_problem(
        change(admin.token.clone(), org.owner.id.clone(), json!({"role": "gate"})).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    // The owner stays owner, and nobody becomes one.
    assert_problem(change(owner.clone(), org.owner.id.clone(), json!({"role": "admin"})).await, StatusCode::CONFLICT)
        .await;
    assert_problem(
        change(owner.clone(), admin.id.clone(), json!({"role": "owner"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_problem(change(owner.clone(), outsider.id.clone(), json!({"role": "gate"})).await, StatusCode::NOT_FOUND)
        .await;
    assert_problem(
        change(owner.clone(), admin.id.clone(), json!({"role": "gate", "extra": 1})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_problem(change(owner.clone(), "not-a-uuid".into(), json!({"role": "gate"})).await, StatusCode::NOT_FOUND)
        .await;

    let mut roles = team(&app, &org).await;
    roles.sort();
    assert_eq!(
        roles,
        vec![
            ("admin@example.org".to_owned(), "admin".to_owned()),
            ("gate@example.org".to_owned(), "gate".to_owned()),
            ("owner@example.org".to_owned(), "owner".to_owned()),
        ]
    );
}

#[tokio::test]
async fn the_invitation_page_answers_odd_links_with_a_page_not_an_error() {
    let app = spawn_app().await;
    for secret in ["%0D%0ASet-Cookie:%20x=1", "%7F", "a%20b", &"x".repeat(65), "..%2F..%2Fconsole"] {
        let r = app.client.get(app.url(&format!("/invitations/{secret}"))).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "GET {secret}");
        assert!(r.headers().get("set-cookie").is_none_or(|c| !c.to_str().unwrap().starts_with("x=")), "{secret}");
        let r =
            app.client.post(app.url(&format!("/invitations/{secret}"))).form(&[("csrf", "x")]).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "POST {secret}");
    }
}

#[tokio::test]
async fn a_withdrawn_invitation_not_yet_mailed_is_not_mailed() {
    // No mail server: messages wait in the queue, as they do while one is down.
    let app = spawn_app().await;
    let org = app.org("owner@example.org").await;
    let admin = app.member(&org, "admin@example.org", "admin").await;
    let withdrawn = invited(&app, &org, "first@example.org", "gate").await;
    let kept = invited(&app, &org, "second@example.org", "gate").await;
    let r = invite(&app, &org, &admin.token, "third@example.org", "gate").await;
    let by_admin: Value = r.json().await.unwrap();
    let path = format!("/api/v1/organizations/{}/invitations/{}", org.id, withdrawn["id"].as_str().unwrap());
    assert_eq!(app.delete(&path, Some(&org.owner.token)).await.status(), StatusCode::NO_CONTENT);
    let r = app.delete(&format!("/api/v1/organizations/{}/members/{}", org.id, admin.id), Some(&org.owner.token)).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);

    sqlx::any::install_default_drivers();
    let db = sqlx::any::AnyPoolOptions::new().max_connections(1).connect(app.db_url()).await.unwrap();
    let mut status = Vec::new();
    for sent in [&withdrawn, &kept, &by_admin] {
        let key = format!("invitation:{}", sent["id"].as_str().unwrap());
        let (s,): (String,) = sqlx::query_as("SELECT email_status FROM notifications WHERE dedupe_key = $1")
            .bind(key)
            .fetch_one(&db)
            .await
            .unwrap();
        status.push(s);
    }
    db.close().await;
    assert_eq!(status, ["none", "queued", "none"]);
}

/// An invitation link that was forwarded or leaked makes nobody else a
/// member: only the account with the address it was sent to joins by it,
/// and the link stays open for that account. Whoever else tries learns
/// which address to sign in with, as the invitation's page shows it.
#[tokio::test]
async fn only_the_invited_address_joins_by_the_link() {
    let app = spawn_app().await;
    let org = app.org("owner@example.org").await;
    let sent = invited(&app, &org, "new.admin@example.org", "admin").await;
    let stranger = app.signup("stranger@example.org").await;
    let p = assert_problem(accept(&app, &secret(&sent), &stranger).await, StatusCode::FORBIDDEN).await;
    assert!(p["type"].as_str().unwrap().ends_with("invitation-for-another-address"), "{p}");
    let detail = p["detail"].as_str().unwrap();
    assert!(detail.contains("new.admin@example.org"), "{p}");
    assert!(!team(&app, &org).await.iter().any(|(e, _)| e == "stranger@example.org"));
    assert_eq!(open_invitations(&app, &org).await.len(), 1, "still open for its person");

    // The page offers no button to them, and says why.
    let page = app.page(&format!("/invitations/{}", secret(&sent)), &stranger.token).await;
    assert!(
        page.contains("only an account with that address can join") && !page.contains(">Join Test Org</button>"),
        "{page}"
    );
    // A form sent anyway is refused the same way.
    let csrf = "c".repeat(64);
    let r = app
        .client
        .post(app.url(&format!("/invitations/{}", secret(&sent))))
        .header("cookie", format!("rt_session={}; rt_csrf={csrf}", stranger.token))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.unwrap().contains("sign in with that address"));

    // Its person, on an account made after the invitation, confirms the
    // address first: whoever got hold of the link could have registered it.
    let person = app.signup_unconfirmed("New.Admin@example.org").await;
    let p = assert_problem(accept(&app, &secret(&sent), &person).await, StatusCode::FORBIDDEN).await;
    assert!(p["type"].as_str().unwrap().ends_with("email-unconfirmed"), "{p}");
    let token = app.verification_tokens("new.admin@example.org").await.pop().expect("a confirmation link");
    let r = app.post("/api/v1/auth/verify-email", None, &json!({"token": token})).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(accept(&app, &secret(&sent), &person).await.status(), StatusCode::OK);
    assert!(team(&app, &org).await.contains(&("new.admin@example.org".to_owned(), "admin".to_owned())));
}
