//! One event, for its organizer: live sales and the payout, the on-sale
//! protection (waiting room, ticket limit per account, flagged accounts),
//! and the two steps that cannot be taken back, publishing and cancelling,
//! each behind a page that says what it will do.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use domain::admission::{POW_DIFFICULTY_DEFAULT, POW_DIFFICULTY_MAX};
use domain::event::{Admits, EventStatus};
use domain::ids::{EventId, UserId};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::json;
use store::{AccountFlag, SaleControls, WaitingRoomMode};
use ticketing::events::EventDetails;
use ticketing::waiting_room::{
    ADMISSION_WINDOW_DEFAULT, ADMISSION_WINDOW_MAX, AUTO_THRESHOLD_DEFAULT, AUTO_THRESHOLD_MAX, SaleControlsInput,
    TICKETS_PER_ACCOUNT_LIMIT_MAX,
};
use uuid::Uuid;

use super::console::{capitalise, counts, failure, page, signin, status_label};
use super::layout::{self, alert, csrf_field, json_island, local_time, money, notice, problem_detail};
use super::session::{Fields, PageQuery, Viewer, csrf_ok};
use crate::AppState;

/// What the organizer sees after being sent back to the sales page.
#[derive(Deserialize, Default)]
pub struct SalesQuery {
    saved: Option<String>,
    saved_details: Option<String>,
    rescheduled: Option<String>,
    cleared: Option<String>,
    cancelled: Option<String>,
    /// The new-event form was sent again (Back, then Create): this is the
    /// event it made the first time.
    created_before: Option<String>,
}

/// The event, if `viewer` may manage it; otherwise the page to show instead.
pub(super) async fn managed(
    state: &AppState,
    viewer: &Viewer,
    event: &str,
    back: &str,
) -> Result<(UserId, EventDetails), Response> {
    let Some(user) = viewer.user else { return Err(signin(back)) };
    let Ok(id) = event.parse::<Uuid>() else { return Err(super::not_found_page_for(viewer)) };
    let details = match state.ticketing.event_details(Some(user), EventId::from_uuid(id)).await {
        Ok(d) => d,
        Err(e) => return Err(failure(viewer, e.into()).await),
    };
    match state.ticketing.store().role_in(user, details.event.organization).await {
        Ok(Some(role)) if role.can_manage_events() => Ok((user, details)),
        Ok(_) => Err(layout::error_page(
            viewer,
            StatusCode::FORBIDDEN,
            "Not allowed",
            "Only the organizer's owners and admins manage this event.",
        )),
        Err(e) => Err(failure(viewer, e.into()).await),
    }
}

/// [`managed`], for a form that changes the event: its CSRF token checked
/// too. `back` is the page to return to after signing in; `what` says what
/// to do again when the page was open too long.
async fn managed_form(
    state: &AppState,
    viewer: &Viewer,
    event: &str,
    back: &str,
    headers: &HeaderMap,
    form: &Fields,
    what: &str,
) -> Result<(UserId, EventDetails), Response> {
    let managed = managed(state, viewer, event, back).await?;
    if !csrf_ok(headers, form.csrf()) {
        return Err(stale(viewer, what));
    }
    Ok(managed)
}

pub(super) fn sales_path(event: EventId) -> String {
    format!("/console/events/{event}/sales")
}

/// A form left open so long that its CSRF token went stale.
pub(super) fn stale(viewer: &Viewer, what: &str) -> Response {
    layout::error_page(
        viewer,
        StatusCode::FORBIDDEN,
        "Please try again",
        &format!("The page was open too long. Reload it and {what} again."),
    )
}

// ---------------------------------------------------------------- live sales

pub async fn sales(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(event): Path<String>,
    PageQuery(q): PageQuery<SalesQuery>,
) -> Response {
    let top = if q.saved_details.is_some() {
        Some(notice("Saved: buyers see the new details at once."))
    } else if q.rescheduled.is_some() {
        Some(notice("Moved. Every ticket holder is being told, with your message; their tickets stay valid."))
    } else if q.created_before.is_some() {
        Some(notice(
            "That form was sent again: this is the event it created the first time, and no second one was made.",
        ))
    } else {
        None
    };
    let message = if q.saved.is_some() {
        Some(notice("Saved. Buyers are held to the new settings from their next request."))
    } else if q.cleared.is_some() {
        Some(notice("Flag cleared: the account may hold and buy again."))
    } else if q.cancelled.is_some() {
        Some(notice("The event is cancelled. Every order is being refunded and every buyer told by e-mail."))
    } else {
        None
    };
    sales_page(&state, &viewer, &event, None, top, message, StatusCode::OK).await
}

/// The sales page; `form` is the protection form as the organizer entered
/// it when saving it failed, with `message` saying why.
async fn sales_page(
    state: &AppState,
    viewer: &Viewer,
    event: &str,
    form: Option<ControlsForm>,
    top: Option<Markup>,
    message: Option<Markup>,
    status: StatusCode,
) -> Response {
    let back = format!("/console/events/{event}/sales");
    let (user, details) = match managed(state, viewer, event, &back).await {
        Ok(m) => m,
        Err(page) => return page,
    };
    let e = &details.event;
    let payouts = match state.ticketing.payout_report(user, e.id).await {
        Ok(r) => r,
        Err(e) => return failure(viewer, e.into()).await,
    };
    // The figures the live stats bring, shown without waiting for them
    // (and without JavaScript).
    let (stats, revenue_currency) = match state.ticketing.event_stats(user, e.id).await {
        Ok(s) => s,
        Err(e) => return failure(viewer, e.into()).await,
    };
    let revenue = domain::money::Money::new(stats.revenue_minor, revenue_currency).ok();
    let controls = match state.ticketing.sale_controls(user, e.id).await {
        Ok(c) => c,
        Err(e) => return failure(viewer, e.into()).await,
    };
    let line = match &controls {
        Some(_) => match state.ticketing.queue_counts(user, e.id).await {
            Ok(n) => n,
            Err(e) => return failure(viewer, e.into()).await,
        },
        None => store::QueueCounts::default(),
    };
    // Only to name standing areas in the ticket types' list.
    let map = state.ticketing.seat_map(e.venue).await.ok().map(|(_, m)| m);
    let flags = match state.ticketing.account_flags(user, e.id).await {
        Ok(f) => f,
        Err(e) => return failure(viewer, e.into()).await,
    };
    let gate_problems = match state.ticketing.gate_problems(user, e.id).await {
        Ok(p) => p,
        Err(e) => return failure(viewer, e.into()).await,
    };
    let currency = details
        .ticket_types
        .first()
        .map(|t| t.price.currency())
        .unwrap_or_else(|| "EUR".parse().expect("EUR is known"));
    let island = json!({
        "event_id": e.id.to_string(), "venue_id": e.venue.to_string(), "timezone": e.timezone,
        "currency": currency.as_str(), "exponent": currency.exponent(),
    });
    let open = !matches!(e.status, EventStatus::Cancelled | EventStatus::Ended);
    // Said where the organizer looks: in the protection panel they saved,
    // or at the top once the sale is over (after cancelling).
    let (top_message, protection_message) = if open { (top, message) } else { (top.or(message), None) };
    let form = form.unwrap_or_else(|| ControlsForm::from_controls(controls.as_ref(), &e.timezone));
    let body = html! {
        p { a href="/console" { "← Console" } }
        h1 { (e.title) }
        p.muted {
            (local_time(e.starts_at, &e.timezone)) " · " (e.venue_name) " · "
            span class={ "status status-" (e.status.as_str()) } { (status_label(e.status)) }
            @if e.status == EventStatus::Published { " · " span #live-state aria-live="polite" { "Live" } }
        }
        @if let Some(m) = top_message { (m) }
        p.actions {
            @if e.status == EventStatus::Draft {
                a.button.primary href={ "/console/events/" (e.id) "/publish" } { "Review and publish" }
            }
            a.button href={ "/console/events/" (e.id) "/orders" } { "Orders and refunds" }
            @if open { a.button href={ "/console/events/" (e.id) "/edit" } { "Edit details" } }
            @if open && e.status == EventStatus::Published {
                a.button href={ "/console/events/" (e.id) "/reschedule" } { "Move to a new date…" }
            }
        }
        div.stat-grid #sales-stats {
            div.stat { span.stat-label { "Sold" } span.stat-value #stat-sold { (stats.sold) } }
            div.stat { span.stat-label { "Held now" } span.stat-value #stat-held { (stats.held) } }
            div.stat { span.stat-label { "Capacity" } span.stat-value #stat-capacity { (stats.capacity) } }
            div.stat { span.stat-label { "Revenue" } span.stat-value #stat-revenue {
                @if let Some(r) = &revenue { (money(r)) } @else { "–" }
            } }
        }
        section.panel aria-labelledby="chart-h" {
            h2 #chart-h { "Tickets sold per minute" }
            div #sales-chart.chart role="img" aria-label="Tickets sold over time" { p.muted { "No sales yet." } }
        }
        section.panel aria-labelledby="heat-h" {
            h2 #heat-h { "Sold seats" }
            p.hint { "Sold seats are dark, held seats are amber, free seats are light." }
            div #heatmap.seatmap.heatmap {}
        }
        @if open {
            (protection_panel(viewer, e.id, &e.timezone, controls.as_ref(), line, &form, protection_message))
        }
        (super::ticket_types::panel(&details, map.as_ref(), open))
        (flags_panel(viewer, e.id, &e.timezone, &flags))
        @if !gate_problems.is_empty() { (gate_problems_panel(&gate_problems, &e.timezone)) }
        (payout_panel(&payouts))
        @if e.status == EventStatus::Draft {
            section.panel.danger-zone aria-labelledby="delete-h" {
                h2 #delete-h { "Delete the draft" }
                p { "It was never on sale: nothing was sold and nobody is told. This cannot be undone." }
                form.stack #delete-form method="post" action={ "/console/events/" (e.id) "/delete" } {
                    (csrf_field(viewer))
                    label.checkbox { input #delete_confirm type="checkbox" name="confirm" value="yes" required; " Delete “" (e.title) "” for good" }
                    div.actions { button.button.danger type="submit" { "Delete the draft" } }
                }
            }
        } @else if open {
            section.panel.danger-zone aria-labelledby="cancel-h" {
                h2 #cancel-h { "Cancel the event" }
                p { "Every order is refunded in full, every ticket stops admitting and every buyer is told. This cannot be undone." }
                p { a.button.danger href={ "/console/events/" (e.id) "/cancel" } { "Cancel this event…" } }
            }
        }
        (json_island("sales-data", &island))
    };
    page(viewer, status, &format!("Sales · {}", e.title), &["sales.js"], body)
}

// ---------------------------------------------------------------- on-sale protection

/// The protection form as entered: numbers stay text, so that a typo comes
/// back to the organizer as typed.
#[derive(Clone, Debug, Default, PartialEq)]
struct ControlsForm {
    mode: String,
    opens_at: String,
    admission_window: String,
    auto_threshold: String,
    pow_difficulty: String,
    tickets_per_account_max: String,
}

impl ControlsForm {
    fn from_controls(c: Option<&SaleControls>, tz: &str) -> Self {
        match c {
            Some(c) => Self {
                mode: c.waiting_room.as_str().to_owned(),
                opens_at: local_input(c.opens_at, tz),
                admission_window: c.admission_window.to_string(),
                auto_threshold: c.auto_threshold.to_string(),
                pow_difficulty: c.pow_difficulty.to_string(),
                tickets_per_account_max: c.tickets_per_account_max.map(|m| m.to_string()).unwrap_or_default(),
            },
            None => Self {
                mode: WaitingRoomMode::Off.as_str().to_owned(),
                opens_at: String::new(),
                admission_window: ADMISSION_WINDOW_DEFAULT.to_string(),
                auto_threshold: AUTO_THRESHOLD_DEFAULT.to_string(),
                pow_difficulty: POW_DIFFICULTY_DEFAULT.to_string(),
                tickets_per_account_max: String::new(),
            },
        }
    }

    fn from_fields(f: &Fields) -> Self {
        Self {
            mode: f.text("waiting_room"),
            opens_at: f.text("opens_at"),
            admission_window: f.text("admission_window"),
            auto_threshold: f.text("auto_threshold"),
            pow_difficulty: f.text("pow_difficulty"),
            tickets_per_account_max: f.text("tickets_per_account_max"),
        }
    }

    /// What the use case takes; an empty number keeps what is set (its
    /// default, for new controls), an empty limit means none, an empty
    /// opening time keeps the one set.
    fn parse(&self, tz: &str) -> Result<SaleControlsInput, String> {
        let waiting_room = match self.mode.as_str() {
            "off" => WaitingRoomMode::Off,
            "on" => WaitingRoomMode::On,
            "auto" => WaitingRoomMode::Auto,
            _ => return Err("Choose whether the waiting room is off, on or automatic.".into()),
        };
        let opens_at = match self.opens_at.as_str() {
            "" => None,
            raw => Some(
                super::console::local_to_utc(raw, tz)
                    .ok_or("Enter when the lottery ends as a date and time, or leave it empty.")?,
            ),
        };
        let number = |raw: &str, what: &str, max: u32| -> Result<Option<u32>, String> {
            if raw.is_empty() {
                return Ok(None);
            }
            match raw.replace(['_', ' '], "").parse::<u32>() {
                Ok(n) if (1..=max).contains(&n) => Ok(Some(n)),
                _ => Err(format!("Enter {what} as a whole number from 1 to {max}.")),
            }
        };
        let pow_difficulty = match self.pow_difficulty.as_str() {
            "" => None,
            raw => match raw.parse::<u8>() {
                Ok(n) if n <= POW_DIFFICULTY_MAX => Some(n),
                _ => return Err(format!("Enter the join challenge as a whole number from 0 to {POW_DIFFICULTY_MAX}.")),
            },
        };
        Ok(SaleControlsInput {
            waiting_room,
            opens_at,
            admission_window: number(&self.admission_window, "the buyers let in at once", ADMISSION_WINDOW_MAX)?,
            auto_threshold: number(&self.auto_threshold, "the holds per minute", AUTO_THRESHOLD_MAX)?,
            pow_difficulty,
            // Empty here means no limit, not "as before".
            tickets_per_account_max: Some(number(
                &self.tickets_per_account_max,
                "the tickets per account",
                TICKETS_PER_ACCOUNT_LIMIT_MAX,
            )?),
        })
    }
}

/// `at` as a `datetime-local` input's value in the venue's zone.
pub(super) fn local_input(at: DateTime<Utc>, tz: &str) -> String {
    match tz.parse::<chrono_tz::Tz>() {
        Ok(tz) => at.with_timezone(&tz).format("%Y-%m-%dT%H:%M").to_string(),
        Err(_) => at.format("%Y-%m-%dT%H:%M").to_string(),
    }
}

fn room_state(c: Option<&SaleControls>, line: store::QueueCounts, tz: &str) -> String {
    let Some(c) = c else {
        return "No waiting room: buyers hold seats directly, with no limit per account beyond each ticket type's \
                limit per order."
            .into();
    };
    let room = match (c.waiting_room, c.room_active) {
        (WaitingRoomMode::Off, _) => "No waiting room: buyers hold seats directly.".to_owned(),
        (_, true) => {
            let early = match line.in_lottery {
                0 => String::new(),
                n => format!(" ({n} of them joined early and are placed by the lottery)"),
            };
            format!(
                "The waiting room is on: buyers join the line and hold seats when let in. {} waiting now{early}; \
                 let in so far: {}, {} in the last minute.",
                line.waiting, c.admitted_through, c.admitted_last_minute
            )
        }
        (WaitingRoomMode::Auto, false) => {
            format!("The waiting room switches itself on when holds reach {} a minute.", c.auto_threshold)
        }
        (WaitingRoomMode::On, false) => "The waiting room is on.".to_owned(),
    };
    let lottery = if c.waiting_room != WaitingRoomMode::Off && c.opens_at > Utc::now() {
        format!(
            " Buyers who join before {} are placed by lottery then, and nobody is let in before it: until then \
             the sale is paused for everyone.",
            local_time(c.opens_at, tz)
        )
    } else {
        String::new()
    };
    let limit = match c.tickets_per_account_max {
        Some(m) => format!(" Each account may have at most {m} tickets."),
        None => " There is no limit per account.".to_owned(),
    };
    format!("{room}{lottery}{limit}")
}

fn protection_panel(
    viewer: &Viewer,
    event: EventId,
    tz: &str,
    controls: Option<&SaleControls>,
    line: store::QueueCounts,
    form: &ControlsForm,
    message: Option<Markup>,
) -> Markup {
    let modes = [
        ("off", "Off", "Buyers hold seats directly."),
        ("on", "On", "Buyers join a line and are let in a few at a time."),
        ("auto", "Automatic", "Switches itself on when holds per minute reach the number below."),
    ];
    html! {
        section.panel #protection aria-labelledby="protection-h" {
            h2 #protection-h { "On-sale protection" }
            @if let Some(m) = message { (m) }
            p #room-state { (room_state(controls, line, tz)) }
            form.stack #controls-form method="post" action={ "/console/events/" (event) "/controls" } {
                (csrf_field(viewer))
                fieldset {
                    legend { "Waiting room" }
                    @for (value, label, hint) in modes {
                        label.checkbox {
                            input type="radio" name="waiting_room" value=(value) checked[form.mode == value];
                            " " strong { (label) } " · " span.muted { (hint) }
                        }
                    }
                }
                label for="opens_at" { "Lottery until (" (tz) ")" }
                input #opens_at name="opens_at" type="datetime-local" value=(form.opens_at);
                p.hint {
                    "Buyers who join the line before this time get a random place, so arriving early gains nothing; \
                     later buyers queue in arrival order. Nobody is let in before this time: on an event already \
                     on sale, a time ahead pauses the sale until then. Empty keeps the time set before."
                }
                label.checkbox { input #no_lottery type="checkbox" name="no_lottery" value="1"; " No lottery: from now on, everyone queues in arrival order" }
                div.row-fields {
                    div {
                        label for="admission_window" { "Buyers let in at once" }
                        input #admission_window name="admission_window" type="number" min="1" max=(ADMISSION_WINDOW_MAX)
                            inputmode="numeric" value=(form.admission_window);
                    }
                    div {
                        label for="auto_threshold" { "Holds per minute that switch it on" }
                        input #auto_threshold name="auto_threshold" type="number" min="1" max=(AUTO_THRESHOLD_MAX)
                            inputmode="numeric" value=(form.auto_threshold);
                    }
                }
                label for="pow_difficulty" { "Anti-bot check when joining (0 to " (POW_DIFFICULTY_MAX) ")" }
                input #pow_difficulty name="pow_difficulty" type="number" min="0" max=(POW_DIFFICULTY_MAX)
                    inputmode="numeric" value=(form.pow_difficulty);
                p.hint { "Work each buyer's browser does, unseen, before it may join: cheap for one buyer, costly for someone joining with many accounts. "
                    (POW_DIFFICULTY_DEFAULT) " is the default; each step up doubles the work, 0 switches it off." }
                label for="tickets_per_account_max" { "Tickets per account" }
                input #tickets_per_account_max name="tickets_per_account_max" type="number" min="1"
                    max=(TICKETS_PER_ACCOUNT_LIMIT_MAX) inputmode="numeric" value=(form.tickets_per_account_max);
                p.hint { "Across all of an account's orders, transfers and resale purchases for this event. Empty for no limit." }
                button.button.primary type="submit" { "Save protection" }
            }
        }
    }
}

pub async fn save_controls(
    State(state): State<AppState>,
    headers: HeaderMap,
    viewer: Viewer,
    Path(event): Path<String>,
    form: Fields,
) -> Response {
    let back = format!("/console/events/{event}/sales");
    let (user, details) =
        match managed_form(&state, &viewer, &event, &back, &headers, &form, "save the protection").await {
            Ok(m) => m,
            Err(page) => return page,
        };
    let entered = ControlsForm::from_fields(&form);
    let input = match entered.parse(&details.event.timezone) {
        // Ending the lottery is setting its end to now.
        Ok(i) if form.get("no_lottery").is_some() => SaleControlsInput { opens_at: Some(state.ticketing.now()), ..i },
        Ok(i) => i,
        Err(msg) => {
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            return sales_page(&state, &viewer, &event, Some(entered), None, Some(alert(&msg)), status).await;
        }
    };
    match state.ticketing.set_sale_controls(user, details.event.id, input).await {
        Ok(_) => Redirect::to(&format!("{}?saved=1#protection", sales_path(details.event.id))).into_response(),
        Err(e) => {
            let (status, detail, _) = problem_detail(e.into()).await;
            sales_page(&state, &viewer, &event, Some(entered), None, Some(alert(&detail)), status).await
        }
    }
}

// ---------------------------------------------------------------- flagged accounts

fn rule_label(rule: &str) -> &str {
    match rule {
        "hold-burst" => "Many holds in a minute",
        "hold-hoarding" => "Holds left to lapse",
        "card-testing" => "Declined payments",
        other => other,
    }
}

/// Offline scans whose sync needs a person: said in words, with what to do.
fn gate_problems_panel(problems: &[ticketing::gate::GateProblemReport], tz: &str) -> Markup {
    let what = |result: &str| match result {
        "used_before_reissue" => {
            "Let in offline before it was passed on or resold: the new holder's ticket no longer admits. \
             Check them in by hand if they come."
        }
        "used_before_revocation" => {
            "Let in offline before it was refunded: the money went back for a ticket that was used, and its \
             place may have been sold again."
        }
        _ => "Let in twice: at this gate and at another (or online) before.",
    };
    html! {
        section.panel #gate-problems aria-labelledby="gate-problems-h" {
            h2 #gate-problems-h { "Offline scans to look at" }
            p.hint { "Gates without a network admitted these tickets; when they synced, the server found they should not all have been." }
            div.table-wrap {
                table #gate-problems-table {
                    thead { tr { th scope="col" { "Ticket" } th scope="col" { "What happened" } th scope="col" { "Gate" } th scope="col" { "Scanned" } } }
                    tbody {
                        @for r in problems {
                            tr {
                                th scope="row" title={ "Ticket " (r.problem.ticket) } { (r.place) }
                                td { (what(&r.problem.result)) }
                                td { (r.problem.device.as_deref().unwrap_or("online")) }
                                td { (local_time(r.problem.scanned_at, tz)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn flags_panel(viewer: &Viewer, event: EventId, tz: &str, flags: &[AccountFlag]) -> Markup {
    let open: Vec<&AccountFlag> = flags.iter().filter(|f| f.cleared_at.is_none()).collect();
    html! {
        section.panel #flags aria-labelledby="flags-h" {
            h2 #flags-h { "Flagged accounts" }
            p.hint {
                "Accounts whose holds or payments look automated. While the event has on-sale protection set, a \
                 flagged account may not hold or buy until you clear it."
            }
            @if open.is_empty() {
                p.muted { "No account is flagged." }
            } @else {
                div.table-wrap {
                    table #flags-table {
                        thead { tr {
                            th scope="col" { "Account" } th scope="col" { "Why" } th scope="col" { "Since" }
                            th scope="col" { "Blocked" } th scope="col" { span.visually-hidden { "Actions" } }
                        } }
                        tbody {
                            @for f in &open {
                                tr {
                                    th scope="row" { (f.user_email) }
                                    td { (rule_label(&f.rule)) br; span.muted.small { (f.detail) } }
                                    td { (local_time(f.created_at, tz)) }
                                    td { @if f.blocking { "Yes" } @else { "No" } }
                                    td.actions {
                                        form.inline method="post" action={ "/console/events/" (event) "/flags/" (f.id) "/clear" } {
                                            (csrf_field(viewer))
                                            button.button.small type="submit" aria-label={ "Clear the flag on " (f.user_email) } { "Clear" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

pub async fn clear_flag(
    State(state): State<AppState>,
    headers: HeaderMap,
    viewer: Viewer,
    Path((event, flag)): Path<(String, String)>,
    form: Fields,
) -> Response {
    let back = format!("/console/events/{event}/sales");
    let (user, details) = match managed_form(&state, &viewer, &event, &back, &headers, &form, "clear the flag").await {
        Ok(m) => m,
        Err(page) => return page,
    };
    match state.ticketing.clear_account_flag(user, details.event.id, &flag).await {
        Ok(()) => Redirect::to(&format!("{}?cleared=1#flags", sales_path(details.event.id))).into_response(),
        Err(e) => failure(&viewer, e.into()).await,
    }
}

// ---------------------------------------------------------------- details

/// The details form as entered.
struct DetailsForm {
    title: String,
    category: String,
    description: String,
    starts: String,
    ends: String,
}

fn details_page(
    viewer: &Viewer,
    details: &EventDetails,
    form: &DetailsForm,
    sold: bool,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let e = &details.event;
    let body = html! {
        p { a href=(sales_path(e.id)) { "← " (e.title) } }
        h1 { "Event details" }
        @if let Some(msg) = error { (alert(msg)) }
        form.stack #details-form method="post" action={ "/console/events/" (e.id) "/edit" } {
            (csrf_field(viewer))
            label for="ev_title" { "Title" }
            input #ev_title name="title" type="text" required maxlength="200" value=(form.title);
            label for="ev_category" { "Category" }
            select #ev_category name="category" {
                @for c in domain::event::Category::ALL {
                    option value=(c.as_str()) selected[form.category == c.as_str()] { (capitalise(c.as_str())) }
                }
            }
            label for="ev_description" { "Description" }
            textarea #ev_description name="description" rows="6" maxlength="20000" { (form.description) }
            div.row-fields {
                div {
                    label for="ev_starts" { "Starts (" (e.timezone) ")" }
                    input #ev_starts name="starts" type="datetime-local" required value=(form.starts) disabled[sold];
                }
                div {
                    label for="ev_ends" { "Ends (" (e.timezone) ")" }
                    input #ev_ends name="ends" type="datetime-local" required value=(form.ends) disabled[sold];
                }
            }
            @if sold {
                p.hint #dates-sold {
                    "Tickets are sold, so the dates are moved apart from the other details, and every ticket holder is told: "
                    a href={ "/console/events/" (e.id) "/reschedule" } { "move the event" } "."
                }
            }
            div.actions {
                button.button.primary type="submit" { "Save details" }
                a.button href=(sales_path(e.id)) { "Cancel" }
            }
        }
    };
    page(viewer, status, &format!("Details · {}", e.title), &[], body)
}

async fn is_sold(state: &AppState, user: UserId, event: EventId) -> bool {
    counts(state, user, event).await.is_ok_and(|c| c.sold > 0)
}

pub async fn details_form(State(state): State<AppState>, viewer: Viewer, Path(event): Path<String>) -> Response {
    let back = format!("/console/events/{event}/edit");
    let (user, details) = match managed(&state, &viewer, &event, &back).await {
        Ok(m) => m,
        Err(page) => return page,
    };
    let e = &details.event;
    let form = DetailsForm {
        title: e.title.clone(),
        category: e.category.as_str().to_owned(),
        description: e.description.clone(),
        starts: local_input(e.starts_at, &e.timezone),
        ends: local_input(e.ends_at, &e.timezone),
    };
    let sold = is_sold(&state, user, e.id).await;
    details_page(&viewer, &details, &form, sold, None, StatusCode::OK)
}

pub async fn save_details(
    State(state): State<AppState>,
    headers: HeaderMap,
    viewer: Viewer,
    Path(event): Path<String>,
    fields: Fields,
) -> Response {
    let back = format!("/console/events/{event}/edit");
    let (user, details) =
        match managed_form(&state, &viewer, &event, &back, &headers, &fields, "save the details").await {
            Ok(m) => m,
            Err(page) => return page,
        };
    let e = &details.event;
    let sold = is_sold(&state, user, e.id).await;
    let form = DetailsForm {
        title: fields.text("title"),
        category: fields.text("category"),
        description: fields.get("description").unwrap_or_default().trim().to_owned(),
        // Disabled inputs are not sent: the times stay as they are.
        starts: fields.get("starts").map_or_else(|| local_input(e.starts_at, &e.timezone), |v| v.trim().to_owned()),
        ends: fields.get("ends").map_or_else(|| local_input(e.ends_at, &e.timezone), |v| v.trim().to_owned()),
    };
    let again = |msg: &str, status| details_page(&viewer, &details, &form, sold, Some(msg), status);
    let Ok(category) = form.category.parse::<domain::event::Category>() else {
        return again("Choose a category.", StatusCode::UNPROCESSABLE_ENTITY);
    };
    let (Some(starts_at), Some(ends_at)) = (
        super::console::local_to_utc(&form.starts, &e.timezone),
        super::console::local_to_utc(&form.ends, &e.timezone),
    ) else {
        return again("Enter when the event starts and ends.", StatusCode::UNPROCESSABLE_ENTITY);
    };
    // The form shows times to the minute: a time left as shown is no move.
    let unchanged =
        form.starts == local_input(e.starts_at, &e.timezone) && form.ends == local_input(e.ends_at, &e.timezone);
    let change = domain::event::EventChange {
        title: Some(form.title.clone()),
        description: Some(form.description.clone()),
        category: Some(category),
        starts_at: (!unchanged).then_some(starts_at),
        ends_at: (!unchanged).then_some(ends_at),
    };
    match state.ticketing.edit_event(user, e.id, &change).await {
        Ok(_) => Redirect::to(&format!("{}?saved_details=1", sales_path(e.id))).into_response(),
        Err(err) => {
            let (status, detail, _) = problem_detail(err.into()).await;
            again(&detail, status)
        }
    }
}

// ---------------------------------------------------------------- moving a sold event

/// The move form as entered.
struct MoveForm {
    starts: String,
    ends: String,
    note: String,
    /// Until when buyers may refund themselves; empty for no window.
    refunds: String,
    /// Move the ticket types' sales times still ahead along.
    move_sales: bool,
}

/// A postponement: new dates, a message for the holders, and a tick that
/// says everyone will hear of it.
pub async fn review_reschedule(State(state): State<AppState>, viewer: Viewer, Path(event): Path<String>) -> Response {
    let back = format!("/console/events/{event}/reschedule");
    let (user, details) = match managed(&state, &viewer, &event, &back).await {
        Ok(m) => m,
        Err(page) => return page,
    };
    let e = &details.event;
    let form = MoveForm {
        starts: local_input(e.starts_at, &e.timezone),
        ends: local_input(e.ends_at, &e.timezone),
        note: String::new(),
        refunds: String::new(),
        // A sale set to end at the start should end at the new start.
        move_sales: true,
    };
    let sold = counts(&state, user, e.id).await.map_or(0, |c| c.sold);
    move_page(&viewer, &details, &form, sold, state.ticketing.now(), None, StatusCode::OK)
}

fn move_page(
    viewer: &Viewer,
    details: &EventDetails,
    form: &MoveForm,
    sold: u64,
    now: DateTime<Utc>,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let e = &details.event;
    let on_sale = e.status == EventStatus::Published;
    // The browser stops a start or refund deadline already past before the
    // server has to; the server refuses it all the same.
    let earliest = local_input(now, &e.timezone);
    let body = html! {
        p { a href=(sales_path(e.id)) { "← " (e.title) } }
        h1 { "Move “" (e.title) "”" }
        @if let Some(msg) = error { (alert(msg)) }
        @if !on_sale {
            p { "Only an event on sale is moved here. "
                @if e.status == EventStatus::Draft { a href={ "/console/events/" (e.id) "/edit" } { "Edit the draft's dates" } " instead." } }
        } @else {
            section.panel {
                p { "Now: " strong { (local_time(e.starts_at, &e.timezone)) } " to " (local_time(e.ends_at, &e.timezone)) " · " (e.venue_name) }
                ul {
                    li { "Tickets stay valid for the new dates: nobody needs to do anything." }
                    li { "Every ticket holder is told in the app and by e-mail (where this server sends e-mail): the old and the new date, and your message. Tickets and places sold: " strong #move-sold { (sold) } "." }
                    li { "The day-before reminder goes out again before the new date." }
                    li { "Holders who cannot come can pass their tickets on, or take their money back if you offer it below." }
                }
                form.stack #move-form method="post" action={ "/console/events/" (e.id) "/reschedule" } {
                    (csrf_field(viewer))
                    div.row-fields {
                        div {
                            label for="mv_starts" { "New start (" (e.timezone) ")" }
                            input #mv_starts name="starts" type="datetime-local" required min=(earliest) value=(form.starts);
                        }
                        div {
                            label for="mv_ends" { "New end (" (e.timezone) ")" }
                            input #mv_ends name="ends" type="datetime-local" required min=(earliest) value=(form.ends);
                        }
                    }
                    label for="mv_refunds" { "Buyers may refund themselves until (" (e.timezone) ", optional)" }
                    input #mv_refunds name="refunds_until" type="datetime-local" min=(earliest) value=(form.refunds);
                    p.hint { "Left empty, refunds stay yours to give from the orders page. Set, every buyer from before the move gets a button for their money back until then." }
                    @if details.ticket_types.iter().any(|t| t.sales_start.is_some_and(|s| s > now) || t.sales_end.is_some_and(|s| s > now)) {
                        label.checkbox {
                            input #mv_sales type="checkbox" name="move_sales" value="yes" checked[form.move_sales];
                            " Move ticket sales times still ahead by as much as the start"
                        }
                        p.hint { "A sale set to end at the old start then ends at the new one. Sales that opened or closed already stay as they are." }
                    }
                    label for="mv_note" { "Message to ticket holders (optional)" }
                    textarea #mv_note name="note" rows="4" maxlength=(ticketing::reschedule::RESCHEDULE_NOTE_LEN_MAX) { (form.note) }
                    label.checkbox { input #mv_confirm type="checkbox" name="confirm" value="yes" required; " Move the event and tell every ticket holder" }
                    div.actions {
                        button.button.primary type="submit" { "Move the event" }
                        a.button href=(sales_path(e.id)) { "Keep the date" }
                    }
                }
            }
        }
    };
    page(viewer, status, &format!("Move · {}", e.title), &[], body)
}

pub async fn reschedule(
    State(state): State<AppState>,
    headers: HeaderMap,
    viewer: Viewer,
    Path(event): Path<String>,
    fields: Fields,
) -> Response {
    let back = format!("/console/events/{event}/reschedule");
    let (user, details) = match managed_form(&state, &viewer, &event, &back, &headers, &fields, "move the event").await
    {
        Ok(m) => m,
        Err(page) => return page,
    };
    let e = &details.event;
    let form = MoveForm {
        starts: fields.text("starts"),
        ends: fields.text("ends"),
        note: fields.get("note").unwrap_or_default().trim().to_owned(),
        refunds: fields.text("refunds_until"),
        move_sales: fields.get("move_sales") == Some("yes"),
    };
    let sold = counts(&state, user, e.id).await.map_or(0, |c| c.sold);
    let again = |msg: &str, status| move_page(&viewer, &details, &form, sold, state.ticketing.now(), Some(msg), status);
    if fields.get("confirm") != Some("yes") {
        return again("Tick the box: every ticket holder will be told.", StatusCode::UNPROCESSABLE_ENTITY);
    }
    let (Some(starts_at), Some(ends_at)) = (
        super::console::local_to_utc(&form.starts, &e.timezone),
        super::console::local_to_utc(&form.ends, &e.timezone),
    ) else {
        return again("Enter when the event now starts and ends.", StatusCode::UNPROCESSABLE_ENTITY);
    };
    let refunds_until = if form.refunds.is_empty() {
        None
    } else {
        match super::console::local_to_utc(&form.refunds, &e.timezone) {
            Some(t) => Some(t),
            None => {
                return again(
                    "Enter until when buyers may refund, or leave it empty.",
                    StatusCode::UNPROCESSABLE_ENTITY,
                );
            }
        }
    };
    let to = ticketing::reschedule::Move {
        starts_at,
        ends_at,
        note: &form.note,
        refunds_until,
        move_sales_windows: form.move_sales,
    };
    match state.ticketing.reschedule_event(user, e.id, to).await {
        Ok(_) => Redirect::to(&format!("{}?rescheduled=1", sales_path(e.id))).into_response(),
        Err(err) => {
            let (status, detail, _) = problem_detail(err.into()).await;
            again(&detail, status)
        }
    }
}

// ---------------------------------------------------------------- publishing

/// What going on sale will put in front of buyers, checked before it does.
pub async fn review_publish(State(state): State<AppState>, viewer: Viewer, Path(event): Path<String>) -> Response {
    let back = format!("/console/events/{event}/publish");
    let (_, details) = match managed(&state, &viewer, &event, &back).await {
        Ok(m) => m,
        Err(page) => return page,
    };
    let e = &details.event;
    if e.status != EventStatus::Draft {
        return Redirect::to(&sales_path(e.id)).into_response();
    }
    let body = html! {
        p { a href="/console" { "← Console" } }
        h1 { "Publish “" (e.title) "”?" }
        p { "Publishing puts the event on sale and lists it on the home page. Check what buyers will see:" }
        section.panel {
            dl.facts {
                dt { "When" } dd { (local_time(e.starts_at, &e.timezone)) " to " (local_time(e.ends_at, &e.timezone)) }
                dt { "Where" } dd { (e.venue_name) }
                dt { "Category" } dd { (e.category.as_str()) }
            }
            div.table-wrap {
                table #publish-ticket-types {
                    thead { tr { th scope="col" { "Ticket type" } th scope="col" { "For" } th.num scope="col" { "Price" } th scope="col" { "On sale" } } }
                    tbody {
                        @for t in &details.ticket_types {
                            tr {
                                th scope="row" { (t.name) }
                                td { @match &t.admits { Admits::PriceZone(z) => { "Seats in zone “" (z) "”" } Admits::GaArea(_) => { "Standing" } } }
                                td.num { (money(&t.price)) }
                                td {
                                    @match (t.sales_start, t.sales_end) {
                                        (None, None) => { "Now until the event ends" }
                                        (Some(s), None) => { "From " (local_time(s, &e.timezone)) }
                                        (None, Some(x)) => { "Now until " (local_time(x, &e.timezone)) }
                                        (Some(s), Some(x)) => { (local_time(s, &e.timezone)) " to " (local_time(x, &e.timezone)) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        p.hint { "To hold a big on-sale in a waiting room, set its protection before publishing: "
            a href=(sales_path(e.id)) { "on-sale protection" } "." }
        @if details.ticket_types.is_empty() {
            (alert("This event has no ticket types yet: buyers could not buy anything. Add one first."))
            p { a.button.primary href={ "/console/events/" (e.id) "/ticket-types/new" } { "Add a ticket type" } }
        } @else {
            form.actions method="post" action={ "/console/events/" (e.id) "/publish" } {
                (csrf_field(&viewer))
                button.button.primary.big type="submit" { "Publish now" }
                a.button href="/console" { "Not yet" }
            }
        }
    };
    page(&viewer, StatusCode::OK, &format!("Publish · {}", e.title), &[], body)
}

pub async fn publish(
    State(state): State<AppState>,
    headers: HeaderMap,
    viewer: Viewer,
    Path(event): Path<String>,
    form: Fields,
) -> Response {
    let Some(user) = viewer.user else { return signin("/console") };
    let Ok(id) = event.parse::<Uuid>() else { return super::not_found_page_for(&viewer) };
    if !csrf_ok(&headers, form.csrf()) {
        return stale(&viewer, "press Publish");
    }
    match state.ticketing.publish_event(user, EventId::from_uuid(id)).await {
        Ok(_) => Redirect::to("/console?published=1").into_response(),
        // Pressed twice, or from a second tab: what was asked is done.
        Err(ticketing::events::ChangeEventError::Transition(domain::event::TransitionError::NotAllowed {
            from: domain::event::EventStatus::Published,
            ..
        })) => Redirect::to("/console?published=1").into_response(),
        Err(e) => failure(&viewer, e.into()).await,
    }
}

// ---------------------------------------------------------------- cancelling

pub async fn review_cancel(State(state): State<AppState>, viewer: Viewer, Path(event): Path<String>) -> Response {
    let back = format!("/console/events/{event}/cancel");
    let (user, details) = match managed(&state, &viewer, &event, &back).await {
        Ok(m) => m,
        Err(page) => return page,
    };
    let e = &details.event;
    if matches!(e.status, EventStatus::Cancelled | EventStatus::Ended) {
        return Redirect::to(&sales_path(e.id)).into_response();
    }
    let sold = match counts(&state, user, e.id).await {
        Ok(c) => c.sold,
        Err(p) => return failure(&viewer, p).await,
    };
    cancel_page(&viewer, &details, sold, None, StatusCode::OK)
}

fn cancel_page(
    viewer: &Viewer,
    details: &EventDetails,
    sold: u64,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let e = &details.event;
    let body = html! {
        p { a href=(sales_path(e.id)) { "← " (e.title) } }
        h1 { "Cancel “" (e.title) "”?" }
        @if let Some(msg) = error { (alert(msg)) }
        section.panel.danger-zone {
            p { strong { (local_time(e.starts_at, &e.timezone)) " · " (e.venue_name) } }
            ul {
                li { "Sales stop at once and the event is marked cancelled on its page." }
                @if sold > 0 {
                    li { "Every order is refunded in full, including fees. Tickets and places sold so far: " strong #cancel-sold { (sold) } "." }
                    li { "Every ticket stops admitting, and every buyer gets an e-mail." }
                    li { "Tickets bought on resale are refunded to their buyers; their sellers are not paid." }
                } @else {
                    li { "Nothing has been sold, so nobody needs a refund." }
                }
                li { "This cannot be undone." }
            }
            form.stack method="post" action={ "/console/events/" (e.id) "/cancel" } {
                (csrf_field(viewer))
                label.checkbox { input #confirm type="checkbox" name="confirm" value="yes" required; " I want to cancel this event and refund every buyer" }
                div.actions {
                    button.button.danger type="submit" { "Cancel the event" }
                    a.button href=(sales_path(e.id)) { "Keep it" }
                }
            }
        }
    };
    page(viewer, status, &format!("Cancel · {}", e.title), &[], body)
}

pub async fn delete_draft(
    State(state): State<AppState>,
    headers: HeaderMap,
    viewer: Viewer,
    Path(event): Path<String>,
    form: Fields,
) -> Response {
    let back = format!("/console/events/{event}/sales");
    let (user, details) = match managed_form(&state, &viewer, &event, &back, &headers, &form, "delete the draft").await
    {
        Ok(m) => m,
        // Deleted by the same form sent a moment ago (a double click).
        Err(page) if page.status() == StatusCode::NOT_FOUND => {
            return Redirect::to("/console?gone=event").into_response();
        }
        Err(page) => return page,
    };
    if form.get("confirm") != Some("yes") {
        return Redirect::to(&back).into_response();
    }
    match state.ticketing.delete_draft(user, details.event.id).await {
        Ok(()) => Redirect::to("/console?deleted=1").into_response(),
        Err(e) => failure(&viewer, e.into()).await,
    }
}

pub async fn cancel(
    State(state): State<AppState>,
    headers: HeaderMap,
    viewer: Viewer,
    Path(event): Path<String>,
    form: Fields,
) -> Response {
    let back = format!("/console/events/{event}/cancel");
    let (user, details) = match managed_form(&state, &viewer, &event, &back, &headers, &form, "cancel the event").await
    {
        Ok(m) => m,
        Err(page) => return page,
    };
    let sold = || async { counts(&state, user, details.event.id).await.map(|c| c.sold).unwrap_or(0) };
    if form.get("confirm") != Some("yes") {
        let msg = "Tick the box to confirm: cancelling refunds every buyer and cannot be undone.";
        return cancel_page(&viewer, &details, sold().await, Some(msg), StatusCode::UNPROCESSABLE_ENTITY);
    }
    match state.ticketing.cancel_event(user, details.event.id).await {
        Ok(_) => Redirect::to(&format!("{}?cancelled=1", sales_path(details.event.id))).into_response(),
        Err(e) => {
            let (status, detail, _) = problem_detail(e.into()).await;
            cancel_page(&viewer, &details, sold().await, Some(&detail), status)
        }
    }
}

// ---------------------------------------------------------------- payout

/// What the organizer is owed, per currency, with the CSV export.
fn payout_panel(r: &ticketing::fees::PayoutReport) -> Markup {
    let amount = |minor: i64, c: domain::money::Currency| crate::routes::fees::decimal(minor, c.exponent());
    html! {
        section.panel aria-labelledby="payout-h" {
            h2 #payout-h { "Payout" }
            p.hint { "Platform fees are paid by buyers on top of the ticket price; they are not deducted from your payout." }
            @if r.lines.is_empty() {
                p.muted { "No sales yet." }
            } @else {
                div.table-wrap {
                    table #payout-table {
                        thead { tr {
                            th scope="col" { "Currency" } th.num scope="col" { "Orders" } th.num scope="col" { "Gross sales" }
                            th.num scope="col" { "Platform fees" } th.num scope="col" { "Refunds" } th.num scope="col" { "of which fees" }
                            th.num scope="col" { "Resale sellers" } th.num scope="col" { "Net payout" }
                        } }
                        tbody {
                            @for l in &r.lines {
                                tr {
                                    th scope="row" { (l.currency) }
                                    td.num { (l.orders) }
                                    td.num { (amount(l.gross_sales, l.currency)) }
                                    td.num { (amount(l.platform_fees, l.currency)) }
                                    td.num { (amount(l.refunds, l.currency)) }
                                    td.num { (amount(l.refunded_fees, l.currency)) }
                                    td.num { (amount(l.resale_seller_shares, l.currency)) }
                                    td.num { strong { (amount(l.net_payout, l.currency)) } }
                                }
                            }
                        }
                    }
                }
            }
            p { a.button.small href={ "/app/api/v1/events/" (r.event) "/payouts.csv" } download { "Download CSV" } }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(mode: &str) -> ControlsForm {
        ControlsForm {
            mode: mode.into(),
            opens_at: String::new(),
            admission_window: "200".into(),
            auto_threshold: "".into(),
            pow_difficulty: "0".into(),
            tickets_per_account_max: "4".into(),
        }
    }

    #[test]
    fn the_protection_form_parses_what_an_organizer_types() {
        let input = form("on").parse("Europe/Berlin").unwrap();
        assert_eq!(input.waiting_room, WaitingRoomMode::On);
        assert_eq!(input.opens_at, None, "an empty opening time keeps the one set");
        assert_eq!(input.admission_window, Some(200));
        assert_eq!(input.auto_threshold, None, "empty keeps what is set");
        assert_eq!(input.pow_difficulty, Some(0));
        assert_eq!(input.tickets_per_account_max, Some(Some(4)));

        let mut f = form("auto");
        f.opens_at = "2027-03-01T10:00".into();
        let at = f.parse("Europe/Berlin").unwrap().opens_at.unwrap();
        assert_eq!(at.to_rfc3339(), "2027-03-01T09:00:00+00:00", "the venue's zone, CET in March");
        assert_eq!(local_input(at, "Europe/Berlin"), "2027-03-01T10:00");

        for (field, value, says) in [
            ("mode", "sometimes", "off, on or automatic"),
            ("opens_at", "soon", "date and time"),
            ("admission_window", "0", "1 to 100000"),
            ("admission_window", "many", "buyers let in at once"),
            ("pow_difficulty", "25", "0 to 24"),
            ("tickets_per_account_max", "-1", "tickets per account"),
        ] {
            let mut f = form("on");
            match field {
                "mode" => f.mode = value.into(),
                "opens_at" => f.opens_at = value.into(),
                "admission_window" => f.admission_window = value.into(),
                "pow_difficulty" => f.pow_difficulty = value.into(),
                _ => f.tickets_per_account_max = value.into(),
            }
            let err = f.parse("Europe/Berlin").unwrap_err();
            assert!(err.contains(says), "{field}={value}: {err}");
        }
    }

    #[test]
    fn saved_controls_fill_the_form_back_in_the_venue_zone() {
        let at: DateTime<Utc> = "2027-07-01T16:30:00Z".parse().unwrap();
        let controls = SaleControls {
            event: EventId::new(),
            waiting_room: WaitingRoomMode::Auto,
            room_active: false,
            opens_at: at,
            admission_window: 300,
            auto_threshold: 50,
            pow_difficulty: 18,
            tickets_per_account_max: None,
            secret: vec![],
            drawn: false,
            next_no: 1,
            admitted_through: 0,
            admitted_last_minute: 0,
        };
        let f = ControlsForm::from_controls(Some(&controls), "Europe/London");
        assert_eq!(f.mode, "auto");
        assert_eq!(f.opens_at, "2027-07-01T17:30", "BST in July");
        assert_eq!(f.tickets_per_account_max, "", "no limit");
        let back = f.parse("Europe/London").unwrap();
        assert_eq!(back.opens_at, Some(at));
        assert_eq!((back.admission_window, back.auto_threshold, back.pow_difficulty), (Some(300), Some(50), Some(18)));
        let nobody = store::QueueCounts::default();
        assert!(room_state(Some(&controls), nobody, "Europe/London").contains("when holds reach 50 a minute"));
        // Early joiners wait for the lottery without a place yet: they count.
        let on = SaleControls { waiting_room: WaitingRoomMode::On, room_active: true, ..controls };
        let line = store::QueueCounts { waiting: 7, in_lottery: 5 };
        let said = room_state(Some(&on), line, "Europe/London");
        assert!(said.contains("7 waiting now (5 of them joined early and are placed by the lottery)"), "{said}");
        assert_eq!(ControlsForm::from_controls(None, "Europe/London").mode, "off");
    }
}
