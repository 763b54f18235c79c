//! The organization's team in the console: who may sell and who may scan.
//! Gate staff are added here before a show and removed after the season.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use domain::auth::Role;
use domain::ids::UserId;
use maud::{Markup, html};
use store::MemberRecord;
use uuid::Uuid;

use super::console::{ConsoleQuery, failure, home_page, managed_org, signin};
use super::layout::{self, alert, csrf_field};
use super::session::{Fields, Viewer, csrf_ok};
use crate::AppState;
use crate::problem::Problem;

/// The add-member form as entered, and why adding failed.
pub struct AddForm {
    email: String,
    role: String,
    error: String,
}

fn role_label(role: Role) -> &'static str {
    match role {
        Role::Owner => "Owner",
        Role::Admin => "Admin: events, sales and the team",
        Role::Gate => "Gate staff: the scanner only",
    }
}

/// The team table with a Remove button where the viewer may remove, and the
/// form to add someone.
pub fn panel(
    viewer: &Viewer,
    me: UserId,
    members: &[MemberRecord],
    form: Option<&AddForm>,
    said: Option<&str>,
) -> Markup {
    let my_role = members.iter().find(|m| m.user == me).map_or(Role::Gate, |m| m.role);
    let grantable: Vec<Role> = [Role::Gate, Role::Admin].into_iter().filter(|r| my_role.can_grant(*r)).collect();
    let chosen = form.map_or("gate", |f| f.role.as_str());
    html! {
        section.panel #team aria-labelledby="team-h" {
            h2 #team-h { "Team" }
            @if let Some(f) = form { (alert(&f.error)) }
            @if let Some(text) = said { (super::layout::notice(text)) }
            div.table-wrap {
                table #team-table {
                    thead { tr {
                        th scope="col" { "Name" } th scope="col" { "E-mail" } th scope="col" { "Role" }
                        th scope="col" { "Since" } th scope="col" { span.visually-hidden { "Actions" } }
                    } }
                    tbody {
                        @for m in members {
                            tr {
                                th scope="row" { (m.name) @if m.user == me { span.muted { " (you)" } } }
                                td { (m.email) }
                                td { (role_label(m.role)) }
                                td { (m.since.format("%-d %b %Y")) }
                                td.actions {
                                    @if m.user != me && my_role.can_grant(m.role) {
                                        form.inline method="post" action={ "/console/team/" (m.user) "/remove" } {
                                            (csrf_field(viewer))
                                            button.button.small type="submit" aria-label={ "Remove " (m.name) " from the team" } { "Remove" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if !grantable.is_empty() {
                h3 { "Add someone" }
                p.hint { "They need an account first: ask them to sign up with this address." }
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
                    button.button.primary type="submit" { "Add to the team" }
                }
            }
        }
    }
}

pub async fn add(State(state): State<AppState>, headers: HeaderMap, viewer: Viewer, form: Fields) -> Response {
    let Some(user) = viewer.user else { return signin("/console") };
    let org = match managed_org(&state, user).await {
        Ok(Some((org, _))) => org,
        Ok(None) => return Redirect::to("/console").into_response(),
        Err(p) => return failure(&viewer, p).await,
    };
    let entered = |error: String| AddForm { email: form.text("email"), role: form.text("role"), error };
    if !csrf_ok(&headers, form.csrf()) {
        let f = entered("The page was open too long. Please add them again.".into());
        return home_page(&state, &viewer, &ConsoleQuery::default(), Some(f), StatusCode::FORBIDDEN).await;
    }
    let role = match form.text("role").parse::<Role>() {
        Ok(r @ (Role::Admin | Role::Gate)) => r,
        _ => {
            let f = entered("Choose a role: admin or gate staff.".into());
            return home_page(&state, &viewer, &ConsoleQuery::default(), Some(f), StatusCode::UNPROCESSABLE_ENTITY)
                .await;
        }
    };
    match state.ticketing.add_member(user, org, &form.text("email"), role).await {
        Ok(_) => Redirect::to("/console?member_added=1#team").into_response(),
        Err(e) => {
            let (status, detail, _) = layout::problem_detail(Problem::from(e)).await;
            home_page(&state, &viewer, &ConsoleQuery::default(), Some(entered(detail)), status).await
        }
    }
}

pub async fn remove(
    State(state): State<AppState>,
    headers: HeaderMap,
    viewer: Viewer,
    Path(member): Path<String>,
    form: Fields,
) -> Response {
    let Some(user) = viewer.user else { return signin("/console") };
    let Ok(member) = member.parse::<Uuid>() else { return super::not_found_page_for(&viewer) };
    let org = match managed_org(&state, user).await {
        Ok(Some((org, _))) => org,
        Ok(None) => return Redirect::to("/console").into_response(),
        Err(p) => return failure(&viewer, p).await,
    };
    if !csrf_ok(&headers, form.csrf()) {
        return layout::error_page(
            &viewer,
            StatusCode::FORBIDDEN,
            "Please try again",
            "The console page was open too long. Reload it and press Remove again.",
        );
    }
    match state.ticketing.remove_member(user, org, UserId::from_uuid(member)).await {
        Ok(()) => Redirect::to("/console?member_removed=1#team").into_response(),
        Err(e) => failure(&viewer, e.into()).await,
    }
}
