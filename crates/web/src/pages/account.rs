//! Sign up, sign in, sign out; the account page; confirming an address
//! and setting a new password by mailed links.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;

use super::layout::{self, Page, Section, alert, csrf_field, notice, problem_detail, urlencode};
use super::session::{self, Fields, PageQuery, Viewer, csrf_ok, local_path};
use crate::AppState;
use crate::problem::Problem;

#[derive(Deserialize, Default)]
pub struct NextQuery {
    next: Option<String>,
    /// An address to start the sign-up form with (an invitation's).
    email: Option<String>,
}

const CSRF_MESSAGE: &str = "This form was open too long or came from another site. Please submit it again.";

fn signup_markup(viewer: &Viewer, next: &str, email: &str, name: &str, error: Option<&str>) -> Markup {
    html! {
        section.panel.narrow {
            h1 { "Create your account" }
            p.muted { "Buy tickets, keep them on your phone, and sell your own events." }
            @if let Some(e) = error { (alert(e)) }
            form.stack method="post" action="/signup" {
                (csrf_field(viewer))
                input type="hidden" name="next" value=(next);
                label for="name" { "Your name" }
                input #name name="name" type="text" autocomplete="name" required value=(name) maxlength="200";
                label for="email" { "E-mail" }
                input #email name="email" type="email" autocomplete="email" required value=(email);
                label for="password" { "Password" }
                input #password name="password" type="password" autocomplete="new-password" required minlength="8"
                    aria-describedby="password-hint";
                p #password-hint.hint { "At least 8 characters." }
                button.button.primary type="submit" { "Create account" }
            }
            p { "Already have an account? " a href={ "/signin?next=" (urlencode(next)) } { "Sign in" } }
        }
    }
}

fn signin_markup(viewer: &Viewer, next: &str, email: &str, error: Option<&str>) -> Markup {
    html! {
        section.panel.narrow {
            h1 { "Sign in" }
            @if let Some(e) = error { (alert(e)) }
            form.stack method="post" action="/signin" {
                (csrf_field(viewer))
                input type="hidden" name="next" value=(next);
                label for="email" { "E-mail" }
                input #email name="email" type="email" autocomplete="username" required value=(email);
                label for="password" { "Password" }
                input #password name="password" type="password" autocomplete="current-password" required;
                button.button.primary type="submit" { "Sign in" }
            }
            p { a href="/forgot-password" { "Forgot your password?" } }
            p { "New here? " a href={ "/signup?next=" (urlencode(next)) } { "Create an account" } }
        }
    }
}

fn page(viewer: &Viewer, status: StatusCode, title: &str, body: Markup) -> Response {
    layout::respond(status, Page { title, viewer, section: Section::Account, scripts: &[], body })
}

/// The sign-up form, which the navigation marks as its own.
fn signup_page(viewer: &Viewer, status: StatusCode, body: Markup) -> Response {
    layout::respond(status, Page { title: "Sign up", viewer, section: Section::SignUp, scripts: &[], body })
}

pub async fn signup_form(viewer: Viewer, PageQuery(q): PageQuery<NextQuery>) -> Response {
    let next = local_path(q.next.as_deref());
    // Only a plausible address is put back into the form.
    let email = q.email.as_deref().and_then(|e| domain::email::Email::parse(e).ok());
    let email = email.as_ref().map_or("", |e| e.as_str());
    signup_page(&viewer, StatusCode::OK, signup_markup(&viewer, &next, email, "", None))
}

pub async fn signin_form(viewer: Viewer, PageQuery(q): PageQuery<NextQuery>) -> Response {
    let next = local_path(q.next.as_deref());
    page(&viewer, StatusCode::OK, "Sign in", signin_markup(&viewer, &next, "", None))
}

/// Where someone signing in with nowhere particular to go starts: an
/// organizer at the console, gate staff at the scanner, a buyer at the
/// events.
async fn landing(state: &AppState, token: &str) -> String {
    let Ok(Some(user)) = state.ticketing.authenticate(token).await else { return "/".into() };
    let Ok(Some(me)) = state.ticketing.me(user).await else { return "/".into() };
    if me.memberships.iter().any(|(_, role)| role.can_manage_events()) {
        "/console".into()
    } else if me.memberships.iter().any(|(_, role)| role.can_check_in()) {
        "/gate".into()
    } else {
        "/".into()
    }
}

/// Signs in and answers with the session cookie and a redirect to `next`
/// (or to [`landing`] when that is the home page).
async fn start_session(
    state: &AppState,
    viewer: &Viewer,
    email: &str,
    password: &str,
    next: &str,
) -> Result<Response, Problem> {
    let session = state.ticketing.login(email, password).await?;
    let next = if next == "/" { landing(state, &session.access_token).await } else { next.to_owned() };
    let mut response = Redirect::to(&next).into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        session::session_cookie(&session.access_token, session.expires_in_secs, viewer.secure),
    );
    Ok(response)
}

pub async fn signup(State(state): State<AppState>, headers: HeaderMap, viewer: Viewer, form: Fields) -> Response {
    let next = local_path(form.get("next"));
    let (email, name, password) = (form.text("email"), form.text("name"), form.get("password").unwrap_or_default());
    let again =
        |status, error: &str| signup_page(&viewer, status, signup_markup(&viewer, &next, &email, &name, Some(error)));
    if !csrf_ok(&headers, form.csrf()) {
        return again(StatusCode::FORBIDDEN, CSRF_MESSAGE);
    }
    if let Err(e) = state.ticketing.register(&email, password, &name).await {
        let (status, detail, _) = problem_detail(e.into()).await;
        return again(status, &detail);
    }
    match start_session(&state, &viewer, &email, password, &next).await {
        Ok(r) => r,
        Err(p) => {
            let (status, detail, _) = problem_detail(p).await;
            again(status, &detail)
        }
    }
}

pub async fn signin(State(state): State<AppState>, headers: HeaderMap, viewer: Viewer, form: Fields) -> Response {
    let next = local_path(form.get("next"));
    let email = form.text("email");
    let again =
        |status, error: &str| page(&viewer, status, "Sign in", signin_markup(&viewer, &next, &email, Some(error)));
    if !csrf_ok(&headers, form.csrf()) {
        return again(StatusCode::FORBIDDEN, CSRF_MESSAGE);
    }
    match start_session(&state, &viewer, &email, form.get("password").unwrap_or_default(), &next).await {
        Ok(r) => r,
        Err(p) => {
            let (status, detail, _) = problem_detail(p).await;
            again(status, &detail)
        }
    }
}

pub async fn signout_form(viewer: Viewer) -> Response {
    let body = html! {
        section.panel.narrow {
            h1 { "Sign out" }
            @if viewer.signed_in() {
                p { "Sign out of RobustTicketing on this device? Saved tickets are removed from it." }
                form method="post" action="/signout" {
                    (csrf_field(&viewer))
                    button.button.primary type="submit" { "Sign out" }
                }
            } @else {
                p { "You are signed out." }
                p { a.button href="/" { "Back to events" } }
            }
        }
    };
    page(&viewer, StatusCode::OK, "Sign out", body)
}

pub async fn signout(State(state): State<AppState>, headers: HeaderMap, viewer: Viewer, form: Fields) -> Response {
    if !csrf_ok(&headers, form.csrf()) {
        return page(&viewer, StatusCode::FORBIDDEN, "Sign out", alert(CSRF_MESSAGE));
    }
    if let Some(token) = &viewer.token
        && let Err(e) = state.ticketing.logout(token).await
    {
        tracing::warn!(error = %e, "sign-out could not revoke the session");
    }
    let signed_out = Viewer { user: None, name: None, token: None, staff: false, ..viewer.clone() };
    let body = html! {
        section.panel.narrow #signed-out data-signed-out="1" {
            h1 { "You are signed out" }
            p { "Tickets saved for offline use have been removed from this device." }
            p { a.button href="/" { "Back to events" } " " a href="/signin" { "Sign in again" } }
        }
    };
    let mut response = page(&signed_out, StatusCode::OK, "Signed out", body);
    response.headers_mut().append(header::SET_COOKIE, session::clear_session_cookie(viewer.secure));
    response
}

/// The secret of a mailed link (address confirmation, password reset).
#[derive(Deserialize)]
pub struct LinkQuery {
    token: Option<String>,
}

/// The page the confirmation e-mail links to. Opening it changes nothing
/// (mail scanners open links too); its button confirms. It names the
/// account, so that whoever owns the address can tell whether they made it.
pub async fn verify_email_page(
    State(state): State<AppState>,
    viewer: Viewer,
    PageQuery(q): PageQuery<LinkQuery>,
) -> Response {
    let token = q.token.unwrap_or_default();
    let account = match state.ticketing.email_verification(&token).await {
        Ok(account) => account,
        Err(e) => {
            let (status, detail, _) = problem_detail(Problem::from(e)).await;
            return page(&viewer, status, "Confirm your e-mail address", resend_markup(&viewer, &detail));
        }
    };
    let body = html! {
        section.panel.narrow {
            h1 { "Confirm your e-mail address" }
            p { "The account " strong { (account.name) } " was created with the address " strong { (account.email) } ". If that was you, confirm the address: tickets passed on to it can then be accepted right in the app." }
            form method="post" action="/verify-email" {
                (csrf_field(&viewer))
                input type="hidden" name="token" value=(token);
                button.button.primary type="submit" { "Confirm my address" }
            }
            p.hint { "If you did not create this account, do not confirm it: someone typed your address, by mistake or on purpose." }
        }
    };
    page(&viewer, StatusCode::OK, "Confirm your e-mail address", body)
}

pub async fn verify_email(State(state): State<AppState>, headers: HeaderMap, viewer: Viewer, form: Fields) -> Response {
    if !csrf_ok(&headers, form.csrf()) {
        return page(&viewer, StatusCode::FORBIDDEN, "Confirm your e-mail address", alert(CSRF_MESSAGE));
    }
    let token = form.get("token").unwrap_or_default();
    // The account the link is for, named on the answer: the one confirming
    // may be signed in as someone else.
    let account = state.ticketing.email_verification(token).await;
    match state.ticketing.verify_email(token).await {
        Ok(_) => {
            let address = account.map(|a| a.email).unwrap_or_default();
            let body = html! {
                section.panel.narrow #email-verified {
                    h1 { "Your address is confirmed" }
                    p { strong { (address) } " is confirmed. Tickets passed on to it can now be accepted right in the app." }
                    p { a.button.primary href="/tickets" { "My tickets" } " " a.button href="/" { "Events" } }
                }
            };
            page(&viewer, StatusCode::OK, "Address confirmed", body)
        }
        Err(e) => {
            let (status, detail, _) = problem_detail(Problem::from(e)).await;
            page(&viewer, status, "Confirm your e-mail address", resend_markup(&viewer, &detail))
        }
    }
}

/// Says what went wrong, and offers a signed-in user a new link.
fn resend_markup(viewer: &Viewer, detail: &str) -> Markup {
    html! {
        section.panel.narrow {
            h1 { "Confirm your e-mail address" }
            (alert(detail))
            @if viewer.signed_in() {
                (resend_form(viewer))
            } @else {
                p { a.button href={ "/signin?next=" (urlencode("/verify-email/send")) } { "Sign in to get a new link" } }
            }
        }
    }
}

fn resend_form(viewer: &Viewer) -> Markup {
    html! {
        form method="post" action="/verify-email/send" {
            (csrf_field(viewer))
            button.button.primary type="submit" { "Send me a new link" }
        }
    }
}

/// Where "Sign in to get a new link" leads after signing in.
pub async fn send_verification_form(viewer: Viewer) -> Response {
    if !viewer.signed_in() {
        return Redirect::to(&format!("/signin?next={}", urlencode("/verify-email/send"))).into_response();
    }
    let body = html! {
        section.panel.narrow {
            h1 { "Confirm your e-mail address" }
            p { "We mail a link to your account's address; open it to confirm the address is yours." }
            (resend_form(&viewer))
        }
    };
    page(&viewer, StatusCode::OK, "Confirm your e-mail address", body)
}

pub async fn send_verification(
    State(state): State<AppState>,
    headers: HeaderMap,
    viewer: Viewer,
    form: Fields,
) -> Response {
    if !csrf_ok(&headers, form.csrf()) {
        return page(&viewer, StatusCode::FORBIDDEN, "Confirm your e-mail address", alert(CSRF_MESSAGE));
    }
    let Some(user) = viewer.user else {
        return Redirect::to(&format!("/signin?next={}", urlencode("/verify-email/send"))).into_response();
    };
    match state.ticketing.send_email_verification(user).await {
        Ok(sent_to) => {
            let body = html! {
                section.panel.narrow #verification-sent {
                    h1 { "Check your mail" }
                    p { "We sent a link to " strong { (sent_to) } ". Open it to confirm the address is yours." }
                    p { a.button href="/tickets" { "My tickets" } }
                }
            };
            page(&viewer, StatusCode::OK, "Check your mail", body)
        }
        Err(e) => {
            let (status, detail, _) = problem_detail(Problem::from(e)).await;
            page(
                &viewer,
                status,
                "Confirm your e-mail address",
                html! { section.panel.narrow { h1 { "Confirm your e-mail address" } (alert(&detail)) p { a.button href="/tickets" { "My tickets" } } } },
            )
        }
    }
}

fn forgot_markup(viewer: &Viewer, email: &str, error: Option<&str>) -> Markup {
    html! {
        section.panel.narrow {
            h1 { "Forgot your password?" }
            p { "Give your account's e-mail address. We mail it a link to choose a new password." }
            @if let Some(e) = error { (alert(e)) }
            form.stack method="post" action="/forgot-password" {
                (csrf_field(viewer))
                label for="email" { "E-mail" }
                input #email name="email" type="email" autocomplete="email" required value=(email);
                button.button.primary type="submit" { "Mail me a link" }
            }
            p { a href="/signin" { "Back to sign in" } }
        }
    }
}

pub async fn forgot_password_form(viewer: Viewer) -> Response {
    page(&viewer, StatusCode::OK, "Forgot your password?", forgot_markup(&viewer, "", None))
}

pub async fn forgot_password(
    State(state): State<AppState>,
    headers: HeaderMap,
    viewer: Viewer,
    form: Fields,
) -> Response {
    let email = form.text("email");
    let again = |status, error: &str| {
        page(&viewer, status, "Forgot your password?", forgot_markup(&viewer, &email, Some(error)))
    };
    if !csrf_ok(&headers, form.csrf()) {
        return again(StatusCode::FORBIDDEN, CSRF_MESSAGE);
    }
    if let Err(e) = state.ticketing.request_password_reset(&email).await {
        let (status, detail, _) = problem_detail(Problem::from(e)).await;
        return again(status, &detail);
    }
    // The same answer whether or not an account has the address.
    let body = html! {
        section.panel.narrow #password-link-sent {
            h1 { "Check your mail" }
            p { "If an account has the address " strong { (email) } ", a link to choose a new password is on its way there. It works once, for "
                (ticketing::accounts::PASSWORD_RESET_MINUTES) " minutes." }
            p.hint { "Nothing arrived? Look in the spam folder, and check the address: it must be the one you signed up with." }
            p { a.button href="/signin" { "Back to sign in" } }
        }
    };
    page(&viewer, StatusCode::OK, "Check your mail", body)
}

fn reset_markup(viewer: &Viewer, token: &str, account: &store::UserRecord, error: Option<&str>) -> Markup {
    html! {
        section.panel.narrow {
            h1 { "Choose a new password" }
            p { "For the account " strong { (account.name) } " (" (account.email) "). Every device it is signed in on will be signed out." }
            @if let Some(e) = error { (alert(e)) }
            form.stack method="post" action="/reset-password" {
                (csrf_field(viewer))
                input type="hidden" name="token" value=(token);
                // Lets a password manager file the new password under the account.
                input type="hidden" name="username" autocomplete="username" value=(account.email);
                label for="password" { "New password" }
                input #password name="password" type="password" autocomplete="new-password" required minlength="8"
                    aria-describedby="password-hint";
                p #password-hint.hint { "At least 8 characters." }
                button.button.primary type="submit" { "Set my new password" }
            }
        }
    }
}

/// A link that does not work: say why, and offer a new one.
fn link_failed(viewer: &Viewer, status: StatusCode, detail: &str) -> Response {
    let body = html! {
        section.panel.narrow {
            h1 { "Choose a new password" }
            (alert(detail))
            p { a.button.primary href="/forgot-password" { "Mail me a new link" } }
        }
    };
    page(viewer, status, "Choose a new password", body)
}

/// The page the password e-mail links to. Opening it changes nothing; its
/// form sets the new password.
pub async fn reset_password_page(
    State(state): State<AppState>,
    viewer: Viewer,
    PageQuery(q): PageQuery<LinkQuery>,
) -> Response {
    let token = q.token.unwrap_or_default();
    match state.ticketing.password_reset(&token).await {
        Ok(account) => {
            page(&viewer, StatusCode::OK, "Choose a new password", reset_markup(&viewer, &token, &account, None))
        }
        Err(e) => {
            let (status, detail, _) = problem_detail(Problem::from(e)).await;
            link_failed(&viewer, status, &detail)
        }
    }
}

/// Sets the new password and signs in with it on this device.
pub async fn reset_password(
    State(state): State<AppState>,
    headers: HeaderMap,
    viewer: Viewer,
    form: Fields,
) -> Response {
    let token = form.get("token").unwrap_or_default();
    let password = form.get("password").unwrap_or_default();
    let account = match state.ticketing.password_reset(token).await {
        Ok(account) => account,
        Err(e) => {
            let (status, detail, _) = problem_detail(Problem::from(e)).await;
            return link_failed(&viewer, status, &detail);
        }
    };
    let again = |status, error: &str| {
        page(&viewer, status, "Choose a new password", reset_markup(&viewer, token, &account, Some(error)))
    };
    if !csrf_ok(&headers, form.csrf()) {
        return again(StatusCode::FORBIDDEN, CSRF_MESSAGE);
    }
    if let Err(e) = state.ticketing.reset_password(token, password).await {
        let weak = matches!(e, ticketing::accounts::ResetPasswordError::WeakPassword(_));
        let (status, detail, _) = problem_detail(Problem::from(e)).await;
        return if weak { again(status, &detail) } else { link_failed(&viewer, status, &detail) };
    }
    match start_session(&state, &viewer, &account.email, password, "/account?password=reset").await {
        Ok(r) => r,
        // Set, but the sign-in failed (the database went away meanwhile).
        Err(_) => Redirect::to("/signin").into_response(),
    }
}

#[derive(Deserialize, Default)]
pub struct AccountQuery {
    /// What just happened, for a line at the top: `reset` or `changed`.
    password: Option<String>,
}

fn account_markup(viewer: &Viewer, me: &ticketing::accounts::Me, note: Option<&str>, error: Option<&str>) -> Markup {
    html! {
        section.panel.narrow #account {
            h1 { "Your account" }
            @if let Some(n) = note { (notice(n)) }
            dl.facts {
                dt { "Name" } dd { (me.user.name) }
                dt { "E-mail" }
                dd {
                    (me.user.email) " "
                    @if me.user.email_verified_at.is_some() { span.badge.good { "confirmed" } }
                    @else { span.badge { "not confirmed" } }
                }
            }
            @if me.user.email_verified_at.is_none() {
                p { "Confirm the address so that tickets passed on to it can be accepted right in the app." }
                (resend_form(viewer))
            }
        }
        section.panel.narrow #change-password {
            h2 { "Change your password" }
            @if let Some(e) = error { (alert(e)) }
            form.stack method="post" action="/account/password" {
                (csrf_field(viewer))
                input type="hidden" name="username" autocomplete="username" value=(me.user.email);
                label for="current_password" { "Current password" }
                input #current_password name="current_password" type="password" autocomplete="current-password" required;
                label for="new_password" { "New password" }
                input #new_password name="new_password" type="password" autocomplete="new-password" required minlength="8"
                    aria-describedby="new-password-hint";
                p #new-password-hint.hint { "At least 8 characters. Every other device signed in to this account will be signed out." }
                button.button.primary type="submit" { "Change password" }
            }
            p { a href="/forgot-password" { "Forgot your current password?" } }
        }
    }
}

async fn account_page(
    state: &AppState,
    viewer: &Viewer,
    status: StatusCode,
    note: Option<&str>,
    error: Option<&str>,
) -> Response {
    let Some(user) = viewer.user else {
        return Redirect::to(&format!("/signin?next={}", urlencode("/account"))).into_response();
    };
    match state.ticketing.me(user).await {
        Ok(Some(me)) => page(viewer, status, "Your account", account_markup(viewer, &me, note, error)),
        Ok(None) => Redirect::to("/signin").into_response(),
        Err(e) => {
            let (status, detail, _) = problem_detail(Problem::from(e)).await;
            page(viewer, status, "Your account", alert(&detail))
        }
    }
}

pub async fn account(State(state): State<AppState>, viewer: Viewer, PageQuery(q): PageQuery<AccountQuery>) -> Response {
    let note = match q.password.as_deref() {
        Some("reset") => Some("Your new password is set, and every other device was signed out."),
        Some("changed") => Some("Your password is changed, and every other device was signed out."),
        _ => None,
    };
    account_page(&state, &viewer, StatusCode::OK, note, None).await
}

pub async fn change_password(
    State(state): State<AppState>,
    headers: HeaderMap,
    viewer: Viewer,
    form: Fields,
) -> Response {
    if !csrf_ok(&headers, form.csrf()) {
        return account_page(&state, &viewer, StatusCode::FORBIDDEN, None, Some(CSRF_MESSAGE)).await;
    }
    let (Some(user), Some(token)) = (viewer.user, viewer.token.as_deref()) else {
        return Redirect::to(&format!("/signin?next={}", urlencode("/account"))).into_response();
    };
    let current = form.get("current_password").unwrap_or_default();
    let new = form.get("new_password").unwrap_or_default();
    match state.ticketing.change_password(user, token, current, new).await {
        Ok(()) => Redirect::to("/account?password=changed").into_response(),
        Err(e) => {
            let (status, detail, _) = problem_detail(Problem::from(e)).await;
            account_page(&state, &viewer, status, None, Some(&detail)).await
        }
    }
}
