//! The gate scanner: pick an event, then scan. Without JavaScript the code
//! field posts to the server; with it, scans go over `fetch` (or the camera
//! where the browser has BarcodeDetector), and with no network they are
//! verified on the device against the event's public key and queued.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use domain::checkin::CheckinOutcome;
use domain::event::EventStatus;
use domain::ids::EventId;
use maud::{Markup, html};
use serde_json::json;
use uuid::Uuid;

use super::layout::{self, Page, Section, csrf_field, json_island, local_time, problem_detail};
use super::session::{Fields, Viewer, csrf_ok};
use crate::AppState;

fn page(viewer: &Viewer, status: StatusCode, title: &str, scripts: &[&str], body: Markup) -> Response {
    layout::respond(status, Page { title, viewer, section: Section::Gate, scripts, body })
}

pub async fn choose_event(State(state): State<AppState>, viewer: Viewer) -> Response {
    let Some(user) = viewer.user else { return Redirect::to("/signin?next=/gate").into_response() };
    let me = match state.ticketing.me(user).await {
        Ok(Some(me)) => me,
        Ok(None) => return Redirect::to("/signin?next=/gate").into_response(),
        Err(e) => {
            let (status, detail, _) = problem_detail(e.into()).await;
            return layout::error_page(&viewer, status, "Something went wrong", &detail);
        }
    };
    let mut events = Vec::new();
    for (org, role) in &me.memberships {
        if role.can_check_in()
            && let Ok(list) = state.ticketing.events_of(user, *org).await
        {
            events.extend(list.into_iter().filter(|e| e.status == EventStatus::Published));
        }
    }
    events.sort_by_key(|e| e.starts_at);
    let body = html! {
        h1 { "Scanner" }
        @if events.is_empty() {
            div.empty {
                h2 { "No events to scan" }
                @if me.memberships.is_empty() {
                    p { "The scanner is for gate staff. Ask the organizer to add your account as gate staff." }
                } @else {
                    p { "None of your organization's events is on sale right now." }
                }
            }
        } @else {
            p { "Choose the event at this gate." }
            ul.gate-events {
                @for e in &events {
                    li { a.button.big.block href={ "/gate/" (e.id) } { strong { (e.title) } br; span.small { (local_time(e.starts_at, &e.timezone)) " · " (e.venue_name) } } }
                }
            }
        }
    };
    page(&viewer, StatusCode::OK, "Scanner", &[], body)
}

/// The outcome of a scan as the gate shows it.
pub struct ScanResult {
    pub admitted: bool,
    pub heading: &'static str,
    pub reason: String,
}

fn result_markup(r: Option<&ScanResult>) -> Markup {
    html! {
        div #scan-result.scan-result.idle[r.is_none()].admitted[r.is_some_and(|r| r.admitted)].rejected[r.is_some_and(|r| !r.admitted)]
            role="status" aria-live="assertive" aria-atomic="true" {
            @match r {
                Some(r) => {
                    span.scan-icon aria-hidden="true" { @if r.admitted { "✓" } @else { "✕" } }
                    strong.scan-heading { (r.heading) }
                    span.scan-reason { (r.reason) }
                }
                None => {
                    span.scan-icon aria-hidden="true" { "⌁" }
                    strong.scan-heading { "Ready to scan" }
                    span.scan-reason { "Scan a ticket or type its code." }
                }
            }
        }
    }
}

async fn render(
    state: &AppState,
    viewer: &Viewer,
    event: &str,
    result: Option<&ScanResult>,
    status: StatusCode,
) -> Response {
    let Some(user) = viewer.user else { return Redirect::to(&format!("/signin?next=/gate/{event}")).into_response() };
    let Ok(id) = event.parse::<Uuid>() else { return super::not_found_page_for(viewer) };
    let details = match state.ticketing.event_details(Some(user), EventId::from_uuid(id)).await {
        Ok(d) => d,
        Err(e) => {
            let (status, detail, _) = problem_detail(e.into()).await;
            return layout::error_page(viewer, status, "Cannot open the scanner", &detail);
        }
    };
    if let Err(e) = state.ticketing.gate_access(user, EventId::from_uuid(id)).await {
        let (status, detail, _) = problem_detail(e.into()).await;
        let message = if status == StatusCode::FORBIDDEN {
            "Only the organizer's gate staff can scan tickets for this event. Ask the organizer to add you as gate staff."
        } else {
            detail.as_str()
        };
        return layout::error_page(viewer, status, "Cannot open the scanner", message);
    }
    let e = &details.event;
    let body = html! {
        div.scanner #scanner data-event=(e.id) {
            div.scanner-head {
                div { h1 { (e.title) } p.muted { (local_time(e.starts_at, &e.timezone)) " · " (e.venue_name) } }
                p #gate-status.gate-status aria-live="polite" { "Online" }
            }
            (result_markup(result))
            form.scan-form #scan-form method="post" action={ "/gate/" (e.id) "/scan" } autocomplete="off" {
                (csrf_field(viewer))
                label for="barcode" { "Ticket code" }
                div.row-fields {
                    input #barcode name="barcode" type="text" required autofocus spellcheck="false" autocapitalize="off" inputmode="text"
                        aria-describedby="barcode-hint";
                    button.button.primary.big type="submit" { "Check" }
                }
                p #barcode-hint.hint { "A USB or hand scanner types into this field. When a QR code will not scan, type the twelve-character entry code shown under it." }
            }
            div.camera #camera hidden {
                button.button.big #camera-toggle type="button" { "Scan with camera" }
                video #camera-video playsinline muted hidden {}
            }
            section.panel.gate-offline aria-labelledby="offline-h" {
                h2 #offline-h { "Offline gate" }
                p #offline-summary.hint { "Keep this page open: it downloads what it needs to check tickets without a network." }
                p #queue-summary.hint {}
                ul #conflicts.conflicts {}
                button.button.small #sync-now type="button" hidden { "Sync now" }
            }
        }
        (json_island("gate-data", &json!({ "event_id": e.id.to_string() })))
    };
    page(viewer, status, &format!("Scanner · {}", e.title), &["scanner.js"], body)
}

pub async fn scanner(State(state): State<AppState>, viewer: Viewer, Path(event): Path<String>) -> Response {
    render(&state, &viewer, &event, None, StatusCode::OK).await
}

pub async fn scan(
    State(state): State<AppState>,
    headers: HeaderMap,
    viewer: Viewer,
    Path(event): Path<String>,
    form: Fields,
) -> Response {
    let Some(user) = viewer.user else { return Redirect::to(&format!("/signin?next=/gate/{event}")).into_response() };
    let Ok(id) = event.parse::<Uuid>() else { return super::not_found_page_for(&viewer) };
    if !csrf_ok(&headers, form.csrf()) {
        let r = ScanResult {
            admitted: false,
            heading: "Not checked",
            reason: "The page was open too long; scan again.".into(),
        };
        return render(&state, &viewer, &event, Some(&r), StatusCode::FORBIDDEN).await;
    }
    let code = form.text("barcode");
    let tz = match state.ticketing.event_details(Some(user), EventId::from_uuid(id)).await {
        Ok(d) => d.event.timezone,
        Err(_) => "UTC".to_owned(),
    };
    let result = match state.ticketing.check_in(user, EventId::from_uuid(id), &code).await {
        Ok(ticketing::checkin::CheckinResult { record, refusal }) => match record.outcome {
            CheckinOutcome::Admitted => {
                // Where to send the holder.
                let ticket = match record.ticket {
                    Some(t) => state.ticketing.store().ticket(t).await.ok().flatten(),
                    None => None,
                };
                let reason = match ticket {
                    Some(t) => format!("{} · {}. Let them in.", super::buyer::ticket_place(&t), t.ticket_type_name),
                    None => "Valid ticket. Let them in.".into(),
                };
                ScanResult { admitted: true, heading: "Admitted", reason }
            }
            CheckinOutcome::AlreadyCheckedIn => ScanResult {
                admitted: false,
                heading: "Already checked in",
                reason: match record.checked_in_at {
                    Some(at) => format!("First admitted at {}. Do not let it in again.", local_time(at, &tz)),
                    None => "This ticket was admitted before. Do not let it in again.".into(),
                },
            },
            CheckinOutcome::Invalid => ScanResult {
                admitted: false,
                heading: "Invalid ticket",
                reason: match refusal {
                    None | Some(ticketing::checkin::CodeRefusal::Unreadable) => {
                        "The code is unreadable, forged or altered.".into()
                    }
                    Some(r) => {
                        let (_, detail) = crate::routes::checkins::refusal_text(r);
                        let mut detail = detail.to_owned();
                        detail[..1].make_ascii_uppercase();
                        detail + "."
                    }
                },
            },
            CheckinOutcome::WrongEvent => ScanResult {
                admitted: false,
                heading: "Wrong event",
                reason: "This ticket is for a different event.".into(),
            },
            CheckinOutcome::Revoked => ScanResult {
                admitted: false,
                heading: "Revoked",
                reason: "This ticket was refunded, cancelled or re-issued. It does not admit.".into(),
            },
        },
        Err(e) => {
            let (_, detail, _) = problem_detail(e.into()).await;
            ScanResult { admitted: false, heading: "Not checked", reason: detail }
        }
    };
    render(&state, &viewer, &event, Some(&result), StatusCode::OK).await
}
