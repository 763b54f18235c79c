//! An event's orders in the console: find a buyer's order by e-mail
//! address, see its tickets and refunds, and refund it in full, by ticket
//! or by amount.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use domain::checkin::TicketStatus;
use domain::ids::{OrderId, TicketId};
use domain::money::Money;
use maud::html;
use serde::Deserialize;
use store::{OrderRecord, TicketRecord};
use ticketing::events::EventDetails;
use ticketing::refunds::{RefundError, RefundRequest};
use uuid::Uuid;

use super::buyer::ticket_place;
use super::console::{failure, page, parse_price};
use super::layout::{alert, csrf_field, local_time, money, notice, price, problem_detail, urlencode};
use super::manage::{managed, sales_path, stale};
use super::session::{Fields, PageQuery, Viewer, csrf_ok};
use crate::AppState;

#[derive(Deserialize, Default)]
pub struct ListQuery {
    q: Option<String>,
    before: Option<String>,
}

fn orders_path(details: &EventDetails) -> String {
    format!("/console/events/{}/orders", details.event.id)
}

pub async fn list(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(event): Path<String>,
    PageQuery(q): PageQuery<ListQuery>,
) -> Response {
    let back = format!("/console/events/{event}/orders");
    let (user, details) = match managed(&state, &viewer, &event, &back).await {
        Ok(m) => m,
        Err(page) => return page,
    };
    let e = &details.event;
    let search = q.q.as_deref().map(str::trim).unwrap_or("");
    let before = q.before.as_deref().and_then(|b| b.parse::<Uuid>().ok()).map(OrderId::from_uuid);
    let orders = match state.ticketing.event_orders(user, e.id, Some(search), before).await {
        Ok(o) => o,
        Err(err) => return failure(&viewer, err.into()).await,
    };
    let next = (orders.len() as u32 == ticketing::refunds::EVENT_ORDERS_PAGE).then(|| orders.last()).flatten();
    let body = html! {
        p { a href=(sales_path(e.id)) { "← " (e.title) } }
        h1 { "Orders" }
        form.stack.inline-form #order-search method="get" action=(orders_path(&details)) role="search" {
            label for="order_q" { "Buyer's e-mail address, name or order reference" }
            div.row-fields {
                input #order_q name="q" type="search" value=(search) maxlength=(ticketing::refunds::ORDER_SEARCH_LEN_MAX)
                    placeholder="ada@example.org";
                button.button type="submit" { "Search" }
            }
        }
        @if orders.is_empty() {
            p.muted #no-orders { @if search.is_empty() { "No orders yet." } @else { "No order matches “" (search) "”." } }
        } @else {
            div.table-wrap {
                table #orders-table {
                    thead { tr {
                        th scope="col" { "Order" } th scope="col" { "Placed" } th scope="col" { "Buyer" } th.num scope="col" { "Tickets" }
                        th.num scope="col" { "Total" } th.num scope="col" { "Refunded" } th scope="col" { "Status" }
                        th scope="col" { span.visually-hidden { "Actions" } }
                    } }
                    tbody {
                        @for o in &orders {
                            tr {
                                td.nowrap { (o.id.reference()) }
                                td { (local_time(o.created_at, &e.timezone)) }
                                th scope="row" { (o.buyer_name) br; span.muted.small { (o.buyer_email) } }
                                td.num { (o.tickets) }
                                td.num { (money(&o.total)) }
                                td.num { @if o.refunded.amount_minor() > 0 { (money(&o.refunded)) } @else { "–" } }
                                td {
                                    @match (o.status == "refunded", o.total.amount_minor() == 0) {
                                        (true, true) => "Cancelled",
                                        (true, false) => "Refunded",
                                        (false, true) => "Free",
                                        (false, false) => "Paid",
                                    }
                                }
                                td.actions {
                                    a.button.small href={ (orders_path(&details)) "/" (o.id) }
                                        aria-label={ "Open the order of " (o.buyer_email) } { "Open" }
                                }
                            }
                        }
                    }
                }
            }
            @if let Some(last) = next {
                p { a.button href={ (orders_path(&details)) "?q=" (urlencode(search)) "&before=" (last.id) } { "Older orders" } }
            }
        }
    };
    page(&viewer, StatusCode::OK, &format!("Orders · {}", e.title), &[], body)
}

fn refunded_so_far(o: &OrderRecord) -> i64 {
    o.refunds.iter().filter(|r| r.status != store::RefundStatus::Failed).map(|r| r.amount.amount_minor()).sum()
}

/// `detail` with the order's ticket ids it names replaced by their places:
/// an organizer knows "Main, row A, seat 2", not a ticket's id.
fn with_places(detail: String, o: &OrderRecord) -> String {
    o.tickets.iter().fold(detail, |d, t| {
        let place = ticket_place(t);
        d.replace(&format!("Ticket {}", t.id), &format!("The ticket for {place}"))
            .replace(&format!("ticket {}", t.id), &format!("the ticket for {place}"))
    })
}

/// What the organizer just did to the order, told at the top of its page.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Done {
    Nothing,
    Refunded,
    Cancelled,
}

/// An order of an event the viewer manages, with who holds its tickets.
struct Managed {
    user: domain::ids::UserId,
    details: EventDetails,
    order: OrderRecord,
    buyer: Option<store::UserRecord>,
    /// The addresses of holders other than the buyer (tickets passed on).
    holders: std::collections::HashMap<domain::ids::UserId, String>,
}

/// The order page; `error` says why the last refund or cancellation was refused.
fn order_page(viewer: &Viewer, m: &Managed, error: Option<&str>, done: Done, status: StatusCode) -> Response {
    let (details, o, buyer) = (&m.details, &m.order, m.buyer.as_ref());
    let e = &details.event;
    let tz = &e.timezone;
    let left = o.total.amount_minor() - refunded_so_far(o);
    let currency = o.total.currency();
    // A ticket that admitted someone is not refunded by its price: the
    // refund would be refused (an amount still can be given back).
    let unused: Vec<&TicketRecord> =
        o.tickets.iter().filter(|t| t.status == TicketStatus::Valid && t.checked_in_at.is_none()).collect();
    // Free tickets have no money to give back: they are cancelled instead.
    let (free, refundable): (Vec<&TicketRecord>, Vec<&TicketRecord>) =
        unused.into_iter().partition(|t| t.price.amount_minor() == 0);
    let body = html! {
        p { a href=(orders_path(details)) { "← Orders of " (e.title) } }
        h1 { "Order " (o.id.reference()) }
        @if done == Done::Refunded { (notice("Refund recorded. The buyer is told by e-mail, and the money goes back the way they paid. Tickets it covers no longer admit.")) }
        @if done == Done::Cancelled { (notice("Tickets cancelled. They no longer admit, their places are on sale again, and each holder is told by e-mail.")) }
        @if let Some(msg) = error { (alert(msg)) }
        section.panel {
            dl.facts {
                @if let Some(b) = buyer { dt { "Buyer" } dd { (b.name) " · " (b.email) } }
                dt { "Placed" } dd { (local_time(o.created_at, tz)) }
                @if o.total.amount_minor() == 0 {
                    dt { "Paid" } dd { "Nothing: the tickets are free" }
                } @else {
                    dt { "Paid" } dd { (money(&o.total)) " (fee " (money(&o.fee)) ") by " (o.gateway) }
                    dt { "Left to refund" } dd #left-to-refund { (money(&Money::new(left.max(0), currency).unwrap_or(o.total))) }
                }
            }
        }
        section.panel aria-labelledby="tickets-h" {
            h2 #tickets-h { "Tickets" }
            div.table-wrap {
                table #order-tickets {
                    thead { tr { th scope="col" { "Place" } th scope="col" { "Type" } th.num scope="col" { "Price" } th scope="col" { "State" } } }
                    tbody {
                        @for t in &o.tickets {
                            tr {
                                th scope="row" {
                                    (ticket_place(t))
                                    @if let Some(to) = m.holders.get(&t.holder) { br; small.muted { "passed on to " (to) } }
                                }
                                td { (t.ticket_type_name) }
                                td.num { (price(&t.price)) }
                                td {
                                    @if t.status == TicketStatus::Revoked && t.price.amount_minor() == 0 { "Cancelled" }
                                    @else if t.status == TicketStatus::Revoked { "Revoked" }
                                    @else if let Some(at) = t.checked_in_at { "Checked in " (local_time(at, tz)) }
                                    @else { "Valid" }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if !o.refunds.is_empty() {
            section.panel aria-labelledby="refunds-h" {
                h2 #refunds-h { "Refunds" }
                ul.plain #order-refunds {
                    @for r in &o.refunds {
                        li {
                            strong { (money(&r.amount)) } " · " (local_time(r.created_at, tz)) " · "
                            @match r.status {
                                store::RefundStatus::Pending => "on its way",
                                store::RefundStatus::Refunded => "paid back",
                                store::RefundStatus::Failed => "refused by the payment provider",
                            }
                            @if r.reason == "event_cancelled" { " · the event was cancelled" }
                        }
                    }
                }
            }
        }
        @if left > 0 {
            @let action = format!("{}/{}/refund", orders_path(details), o.id);
            // A key per form drawn: a second press, or a resent form, replays
            // the first refund instead of paying twice.
            section.panel.danger-zone #refund aria-labelledby="refund-h" {
                h2 #refund-h { "Refund" }
                p.hint { "The buyer is told by e-mail. A refund cannot be taken back." }
                @if !refundable.is_empty() {
                    form.stack #refund-tickets method="post" action=(action) {
                        (csrf_field(viewer))
                        input type="hidden" name="refund_key" value=(Uuid::new_v4());
                        input type="hidden" name="mode" value="tickets";
                        fieldset {
                            legend { "Tickets, at their price; they stop admitting" }
                            @for t in &refundable {
                                label.checkbox { input type="checkbox" name="ticket" value=(t.id); " " (ticket_place(t)) " · " (money(&t.price)) }
                            }
                        }
                        button.button.danger type="submit" { "Refund the ticked tickets" }
                    }
                }
                form.stack #refund-amount method="post" action=(action) {
                    (csrf_field(viewer))
                    input type="hidden" name="refund_key" value=(Uuid::new_v4());
                    input type="hidden" name="mode" value="amount";
                    label for="refund_amount" { "An amount (" (currency.as_str()) "), tickets kept: a goodwill refund" }
                    div.row-fields {
                        input #refund_amount name="amount" type="text" inputmode="decimal" required placeholder="10.00";
                        button.button.danger type="submit" { "Refund this amount" }
                    }
                }
                form.stack #refund-all method="post" action=(action) {
                    (csrf_field(viewer))
                    input type="hidden" name="refund_key" value=(Uuid::new_v4());
                    input type="hidden" name="mode" value="all";
                    @let everything = money(&Money::new(left, currency).unwrap_or(o.total));
                    label.checkbox {
                        input #refund_all_confirm type="checkbox" name="confirm" value="yes" required;
                        " Give back everything left (" (everything) ") and stop every ticket"
                    }
                    button.button.danger type="submit" { "Refund everything left (" (everything) "); every ticket stops admitting" }
                }
            }
        }
        @if !free.is_empty() {
            section.panel.danger-zone #cancel aria-labelledby="cancel-h" {
                h2 #cancel-h { "Cancel free tickets" }
                p.hint { "Nothing was paid for these, so nothing is refunded. Each holder is told by e-mail; a cancellation cannot be taken back." }
                form.stack #cancel-tickets method="post" action=(format!("{}/{}/cancel", orders_path(details), o.id)) {
                    (csrf_field(viewer))
                    fieldset {
                        legend { "Tickets to cancel; they stop admitting and their places go back on sale" }
                        @for t in &free {
                            label.checkbox { input type="checkbox" name="ticket" value=(t.id); " " (ticket_place(t)) " · " (t.ticket_type_name) }
                        }
                    }
                    button.button.danger type="submit" { "Cancel the ticked tickets" }
                }
            }
        }
    };
    page(viewer, status, &format!("Order · {}", e.title), &[], body)
}

/// The event and the order, if the viewer manages the event and the order
/// is one of its orders; otherwise the page to show instead.
async fn managed_order(state: &AppState, viewer: &Viewer, event: &str, order: &str) -> Result<Managed, Response> {
    let back = format!("/console/events/{event}/orders/{order}");
    let (user, details) = managed(state, viewer, event, &back).await?;
    let Ok(order) = order.parse::<Uuid>() else { return Err(super::not_found_page_for(viewer)) };
    let o = match state.ticketing.event_order(user, details.event.id, OrderId::from_uuid(order)).await {
        Ok(o) => o,
        Err(e) => return Err(failure(viewer, e.into()).await),
    };
    let store = state.ticketing.store();
    let buyer = store.user_by_id(o.user).await.ok().flatten();
    let mut holders = std::collections::HashMap::new();
    for t in o.tickets.iter().filter(|t| t.holder != o.user) {
        if !holders.contains_key(&t.holder)
            && let Ok(Some(u)) = store.user_by_id(t.holder).await
        {
            holders.insert(t.holder, u.email);
        }
    }
    Ok(Managed { user, details, order: o, buyer, holders })
}

#[derive(Deserialize, Default)]
pub struct OrderQuery {
    refunded: Option<String>,
    cancelled: Option<String>,
}

pub async fn show(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((event, order)): Path<(String, String)>,
    PageQuery(q): PageQuery<OrderQuery>,
) -> Response {
    match managed_order(&state, &viewer, &event, &order).await {
        Ok(m) => {
            let done = match (q.refunded.is_some(), q.cancelled.is_some()) {
                (true, _) => Done::Refunded,
                (false, true) => Done::Cancelled,
                (false, false) => Done::Nothing,
            };
            order_page(&viewer, &m, None, done, StatusCode::OK)
        }
        Err(page) => page,
    }
}

/// What the refund form asks for, or why it cannot be done as filled in.
fn refund_request(form: &Fields, o: &OrderRecord) -> Result<RefundRequest, String> {
    let idempotency_key = Some(form.text("refund_key")).filter(|k| !k.is_empty());
    match form.get("mode") {
        // Everything, and every ticket stops admitting: one press is not enough.
        Some("all") if form.get("confirm") != Some("yes") => {
            Err("Tick the box to refund everything left: a refund cannot be taken back.".into())
        }
        Some("all") => Ok(RefundRequest { tickets: vec![], amount: None, idempotency_key }),
        Some("tickets") => {
            let tickets: Vec<TicketId> =
                form.all("ticket").filter_map(|t| t.parse::<Uuid>().ok()).map(TicketId::from_uuid).collect();
            if tickets.is_empty() {
                return Err("Tick the tickets to refund.".into());
            }
            Ok(RefundRequest { tickets, amount: None, idempotency_key })
        }
        Some("amount") => {
            let currency = o.total.currency();
            let minor = parse_price(&form.text("amount"), currency.exponent())
                .filter(|m| *m > 0)
                .ok_or("Enter the amount to refund as a number, like 10.00.")?;
            let amount = Money::new(minor, currency).map_err(|e| e.to_string())?;
            Ok(RefundRequest { tickets: vec![], amount: Some(amount), idempotency_key })
        }
        _ => Err("Choose what to refund.".into()),
    }
}

/// The order a console form is about, once its CSRF token checks out;
/// otherwise the page to show instead (`pressed` says what to do again).
async fn order_form(
    state: &AppState,
    viewer: &Viewer,
    headers: &HeaderMap,
    form: &Fields,
    (event, order): (&str, &str),
    pressed: &str,
) -> Result<Managed, Response> {
    let m = managed_order(state, viewer, event, order).await?;
    if !csrf_ok(headers, form.csrf()) {
        return Err(stale(viewer, pressed));
    }
    Ok(m)
}

/// The order page again, saying why the organizer's request was refused.
async fn refused(viewer: &Viewer, m: &Managed, problem: crate::problem::Problem) -> Response {
    let (status, detail, _) = problem_detail(problem).await;
    order_page(viewer, m, Some(&with_places(detail, &m.order)), Done::Nothing, status)
}

pub async fn refund(
    State(state): State<AppState>,
    headers: HeaderMap,
    viewer: Viewer,
    Path((event, order)): Path<(String, String)>,
    form: Fields,
) -> Response {
    let m = match order_form(&state, &viewer, &headers, &form, (&event, &order), "press Refund").await {
        Ok(m) => m,
        Err(page) => return page,
    };
    let (user, details, o) = (m.user, &m.details, &m.order);
    let again = |msg: &str, status| order_page(&viewer, &m, Some(msg), Done::Nothing, status);
    let request = match refund_request(&form, o) {
        Ok(r) => r,
        Err(msg) => return again(&msg, StatusCode::UNPROCESSABLE_ENTITY),
    };
    match state.ticketing.refund_order(user, o.id, request).await {
        Ok(_) => Redirect::to(&format!("{}/{}?refunded=1", orders_path(details), o.id)).into_response(),
        Err(RefundError::ExceedsRemaining { remaining }) => {
            let left = Money::new(remaining, o.total.currency()).map(|m| money(&m)).unwrap_or_default();
            again(&format!("Only {left} is left to refund on this order."), StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(e) => refused(&viewer, &m, e.into()).await,
    }
}

/// The organizer cancels ticked free tickets of the order.
pub async fn cancel(
    State(state): State<AppState>,
    headers: HeaderMap,
    viewer: Viewer,
    Path((event, order)): Path<(String, String)>,
    form: Fields,
) -> Response {
    let m = match order_form(&state, &viewer, &headers, &form, (&event, &order), "press Cancel").await {
        Ok(m) => m,
        Err(page) => return page,
    };
    let (user, details, o) = (m.user, &m.details, &m.order);
    let again = |msg: &str, status| order_page(&viewer, &m, Some(msg), Done::Nothing, status);
    let tickets: Vec<TicketId> =
        form.all("ticket").filter_map(|t| t.parse::<Uuid>().ok()).map(TicketId::from_uuid).collect();
    // Named here: an empty list would mean every free ticket.
    if tickets.is_empty() {
        return again("Tick the tickets to cancel.", StatusCode::UNPROCESSABLE_ENTITY);
    }
    match state.ticketing.cancel_free_tickets(user, o.id, Some(tickets)).await {
        Ok(_) => Redirect::to(&format!("{}/{}?cancelled=1", orders_path(details), o.id)).into_response(),
        Err(e) => refused(&viewer, &m, e.into()).await,
    }
}
