//! The organization's team in the console: who may sell and who may scan.
//! Gate staff are invited here before a show and removed after the season.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use domain::auth::Role;
use domain::ids::{OrganizationId, UserId};
use maud::{Markup, html};
use store::{InvitationRecord, MemberRecord};
use ticketing::organizations::{INVITATION_TTL_DAYS, InvitationError, plausible_secret};
use uuid::Uuid;

use super::console::{ConsoleQuery, failure, home_page, managed_org, signin};
use super::layout::{self, alert, csrf_field, local_time};
use super::session::{Fields, Viewer, csrf_ok};
use crate::AppState;
use crate::problem::Problem;

/// The invite form as entered, and why inviting failed.
pub struct AddForm {
    email: String,
    role: String,
    error: String,
}

/// What the team panel reports after a change.
pub enum TeamNote {
    /// Inviting failed: the form as entered, with why.
    Failed(AddForm),
    /// An invitation went out; its link is shown this once.
    Invited { email: String, link: String, mailed: bool },
}

fn role_label(role: Role) -> &'static str {
    match role {
        Role::Owner => "Owner",
        Role::Admin => "Admin: events, sales and the team",
        Role::Gate => "Gate staff: the scanner only",
    }
}

/// The role as a sentence ends with it: "… as gate staff (the scanner only)."
fn role_phrase(role: Role) -> &'static str {
    match role {
        Role::Owner => "its owner",
        Role::Admin => "an admin (events, sales and the team)",
        Role::Gate => "gate staff (the scanner only)",
    }
}

fn role_short(role: Role) -> &'static str {
    match role {
        Role::Owner => "Owner",
        Role::Admin => "Admin",
        Role::Gate => "Gate staff",
    }
}

/// The team table with a Remove button (and, for the owner, a role switch)
/// where the viewer may, the open invitations, and the invite form.
pub fn panel(
    viewer: &Viewer,
    me: UserId,
    members: &[MemberRecord],
    invitations: &[InvitationRecord],
    note: Option<&TeamNote>,
    said: Option<&str>,
) -> Markup {
    let my_role = members.iter().find(|m| m.user == me).map_or(Role::Gate, |m| m.role);
    let grantable: Vec<Role> = [Role::Gate, Role::Admin].into_iter().filter(|r| my_role.can_grant(*r)).collect();
    let form = match note {
        Some(TeamNote::Failed(f)) => Some(f),
        _ => None,
    };
    let chosen = form.map_or("gate", |f| f.role.as_str());
    html! {
        section.panel #team aria-labelledby="team-h" {
            h2 #team-h { "Team" }
            @if let Some(f) = form { (alert(&f.error)) }
            @if let Some(text) = said { (super::layout::notice(text)) }
            @if let Some(TeamNote::Invited { email, link, mailed }) = note {
                div.alert.alert-ok role="status" #invited {
                    p {
                        "Invitation for " strong { (email) } " made. "
                        @if *mailed { "It is on its way by e-mail. If it does not arrive, send them this link yourself:" }
                        @else { "This server sends no e-mail yet: send them this link yourself." }
                    }
                    label.visually-hidden for="invite-link" { "Invitation link" }
                    input #invite-link type="text" readonly value=(link);
                    p.hint { "The link works once, for " (INVITATION_TTL_DAYS) " days, and is not shown again. To send a new link, withdraw this invitation below and invite the address again." }
                }
            }
            div.table-wrap {
                table #team-table {
                    thead { tr {
                        th scope="col" { "Name" } th scope="col" { "E-mail" } th scope="col" { "Role" }
                        th scope="col" { "Since" } th scope="col" { span.visually-hidden { "Actions" } }
                    } }
                    tbody {
                        @for m in members {
                            @let may_change = m.user != me && my_role.can_grant(m.role);
                            tr {
                                th scope="row" { (m.name) @if m.user == me { span.muted { " (you)" } } }
                                td { (m.email) }
                                td {
                                    @if may_change && grantable.len() > 1 {
                                        form.inline method="post" action={ "/console/team/" (m.user) "/role" } {
                                            (csrf_field(viewer))
                                            label.visually-hidden for={ "role-" (m.user) } { "Role of " (m.name) }
                                            select id={ "role-" (m.user) } name="role" {
                                                @for r in &grantable {
                                                    option value=(r.as_str()) selected[*r == m.role] { (role_short(*r)) }
                                                }
                                            }
                                            " "
                                            button.button.small type="submit" { "Change" }
                                        }
                                    } @else {
                                        (role_label(m.role))
                                    }
                                }
                                td { (m.since.format("%-d %b %Y")) }
                                td.actions {
                                    @if may_change {
                                        // Two steps: a stray tap does not lock a colleague out mid-event.
                                        details.confirm-remove {
                                            summary.button.small { "Remove…" }
                                            form.inline method="post" action={ "/console/team/" (m.user) "/remove" } {
                                                (csrf_field(viewer))
                                                button.button.small.danger type="submit" aria-label={ "Remove " (m.name) " from the team" } { "Remove " (m.name) " now" }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if !invitations.is_empty() {
                h3 { "Invited, not joined yet" }
                div.table-wrap {
                    table #invitations-table {
                        thead { tr {
                            th scope="col" { "E-mail" } th scope="col" { "Role" } th scope="col" { "Invited by" }
                            th scope="col" { "Link works until" } th scope="col" { span.visually-hidden { "Actions" } }
                        } }
                        tbody {
                            @for i in invitations {
                                tr {
                                    th scope="row" { (i.email) }
                                    td { (role_short(i.role)) }
                                    td { (i.invited_by_name) }
                                    td { time datetime=(i.expires_at.to_rfc3339()) data-local { (local_time(i.expires_at, "UTC")) } }
                                    td.actions {
                                        @if my_role.can_grant(i.role) {
                                            form.inline method="post" action={ "/console/team/invitations/" (i.id) "/withdraw" } {
                                                (csrf_field(viewer))
                                                button.button.small type="submit" aria-label={ "Withdraw the invitation for " (i.email) } { "Withdraw" }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if !grantable.is_empty() {
                h3 { "Invite someone" }
                p.hint { "They get an e-mail with a link to join, and sign in or create an account with it." }
                form.stack #team-form method="post" action="/console/team" {
                    (csrf_field(viewer))
                    label for="member_email" { "E-mail address" }
                    input #member_email name="email" type="email" required autocomplete="off" maxlength="254"
                        value=(form.map_or("", |f| f.email.as_str()));
                    fieldset {
                        legend { "Role" }
                        @for r in &grantable {
                            label.checkbox {
                                input type="radio" name="role" value=(r.as_str()) checked[chosen == r.as_str()];
                                " " (role_label(*r))
                            }
                        }
                    }
                    button.button.primary type="submit" { "Send the invitation" }
                }
            }
        }
    }
}

pub async fn add(State(state): State<AppState>, headers: HeaderMap, viewer: Viewer, form: Fields) -> Response {
    let Some(user) = viewer.user else { return signin("/console") };
    let org = match managed_org(&state, &viewer).await {
        Ok(Some((org, _))) => org,
        Ok(None) => return Redirect::to("/console").into_response(),
        Err(p) => return failure(&viewer, p).await,
    };
    let entered =
        |error: String| Some(TeamNote::Failed(AddForm { email: form.text("email"), role: form.text("role"), error }));
    if !csrf_ok(&headers, form.csrf()) {
        let f = entered("The page was open too long. Please send the invitation again.".into());
        return home_page(&state, &viewer, &ConsoleQuery::default(), f, StatusCode::FORBIDDEN).await;
    }
    let role = match form.text("role").parse::<Role>() {
        Ok(r @ (Role::Admin | Role::Gate)) => r,
        _ => {
            let f = entered("Choose a role: admin or gate staff.".into());
            return home_page(&state, &viewer, &ConsoleQuery::default(), f, StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    };
    match state.ticketing.invite_member(user, org, &form.text("email"), role).await {
        // The page is drawn here rather than after a redirect: the link is
        // shown this once and must not land in an address bar or history.
        Ok(sent) => {
            let note = TeamNote::Invited {
                email: sent.email,
                link: sent.link,
                mailed: state.ticketing.mailer().is_configured(),
            };
            home_page(&state, &viewer, &ConsoleQuery::default(), Some(note), StatusCode::OK).await
        }
        Err(e) => {
            let (status, detail, _) = layout::problem_detail(Problem::from(e)).await;
            home_page(&state, &viewer, &ConsoleQuery::default(), entered(detail), status).await
        }
    }
}

/// The organization a team form changes, once the form's token is checked;
/// otherwise the page to show instead.
async fn team_form_org(
    state: &AppState,
    headers: &HeaderMap,
    viewer: &Viewer,
    form: &Fields,
    action: &str,
) -> Result<(UserId, OrganizationId), Response> {
    let Some(user) = viewer.user else { return Err(signin("/console")) };
    let org = match managed_org(state, viewer).await {
        Ok(Some((org, _))) => org,
        Ok(None) => return Err(Redirect::to("/console").into_response()),
        Err(p) => return Err(failure(viewer, p).await),
    };
    if !csrf_ok(headers, form.csrf()) {
        return Err(layout::error_page(
            viewer,
            StatusCode::FORBIDDEN,
            "Please try again",
            &format!("The console page was open too long. Reload it and press {action} again."),
        ));
    }
    Ok((user, org))
}

pub async fn remove(
    State(state): State<AppState>,
    headers: HeaderMap,
    viewer: Viewer,
    Path(member): Path<String>,
    form: Fields,
) -> Response {
    let Ok(member) = member.parse::<Uuid>() else { return super::not_found_page_for(&viewer) };
    let (user, org) = match team_form_org(&state, &headers, &viewer, &form, "Remove").await {
        Ok(found) => found,
        Err(page) => return page,
    };
    match state.ticketing.remove_member(user, org, UserId::from_uuid(member)).await {
        // Not a member (any more): removed by the same form a moment ago.
        Ok(()) | Err(ticketing::organizations::RemoveMemberError::NotMember) => {
            Redirect::to("/console?member_removed=1#team").into_response()
        }
        Err(e) => failure(&viewer, e.into()).await,
    }
}

pub async fn change_role(
    State(state): State<AppState>,
    headers: HeaderMap,
    viewer: Viewer,
    Path(member): Path<String>,
    form: Fields,
) -> Response {
    let Ok(member) = member.parse::<Uuid>() else { return super::not_found_page_for(&viewer) };
    let (user, org) = match team_form_org(&state, &headers, &viewer, &form, "Change").await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let Ok(role @ (Role::Admin | Role::Gate)) = form.text("role").parse::<Role>() else {
        return failure(&viewer, Problem::unprocessable("invalid-member", "choose admin or gate staff")).await;
    };
    match state.ticketing.change_member_role(user, org, UserId::from_uuid(member), role).await {
        Ok(_) => Redirect::to("/console?role_changed=1#team").into_response(),
        Err(e) => failure(&viewer, e.into()).await,
    }
}

pub async fn withdraw(
    State(state): State<AppState>,
    headers: HeaderMap,
    viewer: Viewer,
    Path(invitation): Path<String>,
    form: Fields,
) -> Response {
    let (user, org) = match team_form_org(&state, &headers, &viewer, &form, "Withdraw").await {
        Ok(found) => found,
        Err(page) => return page,
    };
    match state.ticketing.revoke_invitation(user, org, &invitation).await {
        Ok(()) => Redirect::to("/console?invitation_withdrawn=1#team").into_response(),
        Err(ticketing::organizations::InvitationError::Denied(ticketing::Denied::NotFound(_))) => {
            Redirect::to("/console?invitation_gone=1#team").into_response()
        }
        Err(e) => failure(&viewer, e.into()).await,
    }
}

/// The page an invitation's link opens: whose team, in what role, and a
/// button that joins with the signed-in account.
pub async fn invitation_page(State(state): State<AppState>, viewer: Viewer, Path(secret): Path<String>) -> Response {
    if !plausible_secret(&secret) {
        return closed_invitation(&viewer, InvitationError::Unknown.into()).await;
    }
    let invitation = match state.ticketing.invitation(&secret).await {
        Ok(i) => i,
        Err(e) => return closed_invitation(&viewer, e.into()).await,
    };
    let here = format!("/invitations/{secret}");
    let my_email = match viewer.user {
        Some(user) => state.ticketing.me(user).await.ok().flatten().map(|me| me.user.email),
        None => None,
    };
    let body = html! {
        div.narrow {
            h1 { "Join " (invitation.organization_name) }
            p {
                (invitation.invited_by_name) " invites " strong { (invitation.email) } " to the team of "
                strong { (invitation.organization_name) } " as " (role_phrase(invitation.role)) "."
            }
            p.hint { "The link works until " time datetime=(invitation.expires_at.to_rfc3339()) data-local { (local_time(invitation.expires_at, "UTC")) } "." }
            @if let Some(name) = &viewer.name {
                @if my_email.as_deref().is_some_and(|e| e != invitation.email) {
                    // Only the account with the invited address may join.
                    div.alert.alert-warn role="note" #other-address {
                        p {
                            "You are signed in as " strong { (name) } @if let Some(email) = &my_email { " (" (email) ")" } ". "
                            "The invitation went to " strong { (invitation.email) } ": only an account with that address can join by it."
                        }
                    }
                    p.actions {
                        a.button.primary href="/signout" { "Sign out" }
                        " then open the link again and sign in, or create an account, with " (invitation.email) "."
                    }
                } @else {
                    form.stack method="post" action=(here) {
                        (csrf_field(&viewer))
                        p { "You are signed in as " strong { (name) } @if let Some(email) = &my_email { " (" (email) ")" } ". Joining adds this account to the team." }
                        button.button.primary type="submit" { "Join " (invitation.organization_name) }
                    }
                    p.hint { "Not you? " a href="/signout" { "Sign out" } " first, then open the link again." }
                }
            } @else {
                p { "Sign in, or create an account, to join." }
                p.actions {
                    a.button.primary href={ "/signin?next=" (layout::urlencode(&here)) } { "Sign in to join" }
                    " "
                    a.button href={ "/signup?next=" (layout::urlencode(&here)) "&email=" (layout::urlencode(&invitation.email)) } { "Create an account" }
                }
            }
        }
    };
    layout::respond(
        StatusCode::OK,
        layout::Page { title: "Join the team", viewer: &viewer, section: layout::Section::Account, scripts: &[], body },
    )
}

/// What a used, withdrawn, expired or unknown link says.
async fn closed_invitation(viewer: &Viewer, problem: Problem) -> Response {
    let (status, detail, _) = layout::problem_detail(problem).await;
    let mut detail = detail;
    if let Some(first) = detail.get(..1) {
        detail = first.to_uppercase() + &detail[1..];
    }
    layout::error_page(viewer, status, "This invitation cannot be used", &detail)
}

pub async fn accept(
    State(state): State<AppState>,
    headers: HeaderMap,
    viewer: Viewer,
    Path(secret): Path<String>,
    form: Fields,
) -> Response {
    if !plausible_secret(&secret) {
        return closed_invitation(&viewer, InvitationError::Unknown.into()).await;
    }
    let here = format!("/invitations/{secret}");
    let Some(user) = viewer.user else { return signin(&layout::urlencode(&here)) };
    if !csrf_ok(&headers, form.csrf()) {
        return Redirect::to(&here).into_response();
    }
    match state.ticketing.accept_invitation(user, &secret).await {
        Ok((_, Role::Gate)) => Redirect::to("/gate").into_response(),
        // The console opens on the team just joined.
        Ok((org, _)) => {
            let mut r = Redirect::to("/console?joined=1").into_response();
            r.headers_mut().append(axum::http::header::SET_COOKIE, super::session::org_cookie(org, viewer.secure));
            r
        }
        Err(e) => closed_invitation(&viewer, e.into()).await,
    }
}
