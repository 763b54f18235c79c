//! The signed-in person's notifications: orders, transfer offers, refunds,
//! reminders and cancellations, newest first, each marked read on request.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;

use super::layout::{self, Page, Section, csrf_field, local_time, problem_detail};
use super::session::{Fields, Viewer, csrf_ok};
use crate::AppState;

pub async fn list(State(state): State<AppState>, viewer: Viewer) -> Response {
    let Some(user) = viewer.user else {
        return Redirect::to("/signin?next=/notifications").into_response();
    };
    let items = match state.ticketing.notifications(user).await {
        Ok(items) => items,
        Err(e) => {
            let (status, detail, _) = problem_detail(e.into()).await;
            return layout::error_page(&viewer, status, "Something went wrong", &detail);
        }
    };
    let unread = items.iter().filter(|n| n.read_at.is_none()).count();
    let body = html! {
        h1 { "Notifications" }
        p.hint aria-live="polite" {
            @if unread == 0 { "Nothing unread." } @else { (unread) " unread." }
        }
        @if items.is_empty() {
            div.empty {
                h2 { "Nothing yet" }
                p { "Order confirmations, tickets passed to you, refunds and event news appear here, and are e-mailed to you." }
            }
        } @else {
            ul.notification-list aria-label="Notifications" {
                @for n in &items {
                    li.panel data-unread=[n.read_at.is_none().then_some("1")] {
                        h2 {
                            @if let Some(link) = &n.link {
                                a href=(link) { (n.title) }
                            } @else {
                                (n.title)
                            }
                            @if n.read_at.is_none() { " " span.badge { "New" } }
                        }
                        @if let Some(d) = detail(n) { (d) }
                        p.muted {
                            time datetime=(n.created_at.to_rfc3339()) data-local { (local_time(n.created_at, "UTC")) }
                            @match n.email_status.as_str() {
                                "sent" => { " · e-mailed" }
                                "queued" => { " · e-mail on its way" }
                                _ => {}
                            }
                        }
                        @if n.read_at.is_none() {
                            form method="post" action={ "/notifications/" (n.id) "/read" } {
                                (csrf_field(&viewer))
                                button.link-button type="submit" { "Mark as read" span.visually-hidden { ": " (n.title) } }
                            }
                        }
                    }
                }
            }
        }
    };
    layout::respond(
        StatusCode::OK,
        Page { title: "Notifications", viewer: &viewer, section: Section::Notifications, scripts: &[], body },
    )
}

pub async fn mark_read(
    State(state): State<AppState>,
    headers: HeaderMap,
    viewer: Viewer,
    Path(notification): Path<String>,
    form: Fields,
) -> Response {
    let Some(user) = viewer.user else {
        return Redirect::to("/signin?next=/notifications").into_response();
    };
    if !csrf_ok(&headers, form.csrf()) {
        return layout::error_page(
            &viewer,
            StatusCode::FORBIDDEN,
            "That did not work",
            "This page was open too long. Please try again.",
        );
    }
    match state.ticketing.mark_notification_read(user, &notification).await {
        Ok(()) => Redirect::to("/notifications").into_response(),
        Err(e) => {
            let (status, detail, _) = problem_detail(e.into()).await;
            layout::error_page(&viewer, status, "That did not work", &detail)
        }
    }
}

/// What a notice says beyond its title, where the title cannot say it all:
/// a moved event's old date and the organizer's message.
fn detail(n: &store::NotificationRecord) -> Option<maud::Markup> {
    if n.kind != "event_rescheduled" {
        return None;
    }
    let data: serde_json::Value = serde_json::from_str(&n.data).ok()?;
    let was = data["old_starts_at_text"].as_str()?;
    let now = data["event"]["starts_at_text"].as_str()?;
    let note = data["note"].as_str().unwrap_or_default();
    // Offered only to holders the message links to their order.
    let refunds_until = data["refunds_until_text"].as_str().zip(n.link.as_deref());
    Some(maud::html! {
        p.moved { "Was " s { (was) } ", now " strong { (now) } ". Your tickets stay valid." }
        @if let Some((until, order)) = refunds_until {
            p.moved { "Cannot come? Take your money back until " strong { (until) } " on "
                a href=(order) { "your order's page" } "." }
        }
        @if !note.is_empty() { blockquote.note { (note) } }
    })
}
