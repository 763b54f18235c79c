//! Buyer pages: browse and search events, an event with its prices and seat
//! map, choosing seats (on the map, from a list, or "best available"), the
//! cart with the hold's countdown, checkout, confirmation, and My tickets
//! with QR codes and calendar files.

use std::collections::{HashMap, HashSet};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use domain::event::{Admits, Category, EventStatus, TicketType};
use domain::hold::{GaRequest, HoldLine, HoldRequest, SeatRequest};
use domain::ids::{EventId, GaAreaId, HoldId, OrderId, SeatId, TicketId, TicketTypeId};
use domain::money::Money;
use maud::{Markup, PreEscaped, html};
use serde::Deserialize;
use serde_json::json;
use store::{EventFilter, HoldRecord, HoldStatus, SeatMapRecord, SeatStatus, TicketRecord, VenueRecord};
use ticketing::checkout::{IdempotencyKey, PlaceOrder};
use uuid::Uuid;

use super::layout::{
    self, Page, Section, alert, csrf_field, json_island, local_date, local_time, money, notice, price, problem_detail,
    problem_detail_of, urlencode,
};
use super::session::{Fields, PageQuery, Viewer, csrf_ok};
use crate::problem::Problem;
use crate::{AppState, qr};
use ticketing::seating::BEST_AVAILABLE_SEATS_MAX;

/// Events per page of the home listing.
const EVENTS_PER_PAGE: u32 = 24;
/// Most places of one GA area a buyer can ask for in one go from the form.
const GA_QUANTITY_FORM_MAX: u32 = 20;
/// Zone colours come from a palette of this many (see app.css `.z0`…).
pub const ZONE_COLOURS: usize = 8;
/// The id of the wheelchair symbol the legend defines and event.js draws
/// on every accessible seat of the map.
const ACCESSIBLE_MARK_ID: &str = "seat-wc";

/// The legend's sample of a wheelchair space. It also defines the symbol the
/// map uses, so the legend and the seats show one and the same mark.
fn accessible_legend_mark() -> Markup {
    PreEscaped(format!(
        r##"<svg class="legend-mark" viewBox="0 0 24 24" aria-hidden="true" focusable="false"><symbol id="{ACCESSIBLE_MARK_ID}" viewBox="0 0 24 24"><circle cx="11" cy="3.6" r="2.4" fill="currentColor"/><path d="M10.5 7.6V14H16l2.6 6" fill="none" stroke="currentColor" stroke-width="2.6" stroke-linecap="round" stroke-linejoin="round"/><path d="M7.2 11.3A6 6 0 1 0 16.4 18.3" fill="none" stroke="currentColor" stroke-width="2.4" stroke-linecap="round"/></symbol><circle cx="12" cy="12" r="12"/><use href="#{ACCESSIBLE_MARK_ID}" x="2.4" y="2.4" width="19.2" height="19.2"/></svg>"##
    ))
}

fn page(
    viewer: &Viewer,
    status: StatusCode,
    title: &str,
    section: Section,
    scripts: &[&str],
    body: Markup,
) -> Response {
    layout::respond(status, Page { title, viewer, section, scripts, body })
}

async fn failure(viewer: &Viewer, problem: Problem) -> Response {
    let (status, detail, _) = problem_detail(problem).await;
    let heading = match status {
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::FORBIDDEN => "Not allowed",
        s if s.is_server_error() => "Something went wrong",
        _ => "That did not work",
    };
    layout::error_page(viewer, status, heading, &detail)
}

fn signin_redirect(next: &str) -> Response {
    Redirect::to(&format!("/signin?next={}", urlencode(next))).into_response()
}

fn category_label(c: &str) -> String {
    let mut s = c.to_owned();
    if let Some(f) = s.get_mut(0..1) {
        f.make_ascii_uppercase();
    }
    s
}

// ---------------------------------------------------------------- home

#[derive(Deserialize, Default)]
pub struct HomeQuery {
    q: Option<String>,
    category: Option<String>,
    /// `<millis>_<event id>` of the last event on the previous page.
    after: Option<String>,
}

fn parse_after(raw: &str) -> Option<(DateTime<Utc>, EventId)> {
    let (ms, id) = raw.split_once('_')?;
    let at = DateTime::from_timestamp_millis(ms.parse().ok()?)?;
    Some((at, EventId::from_uuid(id.parse().ok()?)))
}

fn more_url(last: &store::EventSummary, query: Option<&str>, category: &str) -> String {
    let mut next = format!("/?after={}_{}", last.event.starts_at.timestamp_millis(), last.event.id);
    if let Some(q) = query {
        next.push_str(&format!("&q={}", urlencode(q)));
    }
    if !category.is_empty() {
        next.push_str(&format!("&category={category}"));
    }
    next
}

pub async fn home(State(state): State<AppState>, viewer: Viewer, PageQuery(q): PageQuery<HomeQuery>) -> Response {
    let query = q.q.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
    let category = q.category.as_deref().and_then(|c| c.parse::<Category>().ok());
    let after = q.after.as_deref().and_then(parse_after);
    let filter = EventFilter { query: query.clone(), category, from: None, to: None, after, limit: EVENTS_PER_PAGE };
    let (events, error) = match state.ticketing.list_events(filter).await {
        Ok((items, more)) => (Some((items, more)), None),
        Err(e) => {
            let (status, detail, _) = problem_detail(e.into()).await;
            (None, Some((status, detail)))
        }
    };
    let selected = category.map(|c| c.as_str()).unwrap_or("");
    let body = html! {
        section.hero {
            h1 { "Find your next night out" }
            form.search role="search" method="get" action="/" {
                label.visually-hidden for="q" { "Search events" }
                input #q type="search" name="q" placeholder="Artist, show, venue…" value=[query.as_deref()] maxlength="200";
                label.visually-hidden for="category" { "Category" }
                select #category name="category" {
                    option value="" selected[selected.is_empty()] { "All categories" }
                    @for c in Category::ALL {
                        option value=(c.as_str()) selected[selected == c.as_str()] { (category_label(c.as_str())) }
                    }
                }
                button.button.primary type="submit" { "Search" }
            }
        }
        @if let Some((_, detail)) = &error { (alert(detail)) }
        @if let Some((items, more)) = &events {
            @if items.is_empty() {
                div.empty {
                    h2 { "No events found" }
                    @if query.is_some() || category.is_some() {
                        p { "Nothing matches your search. Try fewer words or another category." }
                        p { a.button href="/" { "Show all events" } }
                    } @else {
                        p { "No upcoming events are on sale right now. Check back soon." }
                    }
                }
            } @else {
                h2.visually-hidden { "Upcoming events" }
                ul.event-grid #events {
                    @for s in items {
                        @let e = &s.event;
                        @let (month, day, when) = local_date(e.starts_at, &e.timezone);
                        li.event-card {
                            a href={ "/events/" (e.id) } {
                                div.date-badge aria-hidden="true" { span.month { (month) } span.day { (day) } }
                                div.event-card-body {
                                    span.tag { (category_label(e.category.as_str())) }
                                    h3 { (e.title) }
                                    p.muted { time datetime=(e.starts_at.to_rfc3339()) { (local_time(e.starts_at, &e.timezone)) } }
                                    p.muted { (e.venue_name) }
                                    @match (&s.min_price, &s.min_paid_price) {
                                        (Some(p), _) if p.amount_minor() > 0 => { p.price { "from " strong { (money(p)) } } }
                                        (Some(_), Some(paid)) => { p.price { strong { "Free" } " or from " strong { (money(paid)) } } }
                                        (Some(_), None) => { p.price { strong { "Free" } " tickets" } }
                                        (None, _) => {}
                                    }
                                    span.visually-hidden { (when) }
                                }
                            }
                        }
                    }
                }
                @if *more && let Some(last) = items.last() {
                    p.center { a.button href=(more_url(last, query.as_deref(), selected)) { "More events" } }
                }
            }
        }
    };
    page(
        &viewer,
        // A search the server refuses is the asker's to fix (400); one it
        // could not run is the server's (503).
        error.as_ref().map_or(StatusCode::OK, |(status, _)| *status),
        "Events",
        Section::Events,
        &[],
        body,
    )
}

// ---------------------------------------------------------------- event

/// Price zones in the order they are shown, cheapest first, each with the
/// type a buyer gets for its seats at `now` (see
/// `domain::hold::default_type`), or its first type while none is on sale.
fn zones(types: &[TicketType], now: DateTime<Utc>) -> Vec<(String, &TicketType)> {
    let mut seen = HashSet::new();
    let mut zones: Vec<(String, &TicketType)> = types
        .iter()
        .filter_map(|t| match &t.admits {
            Admits::PriceZone(z) if seen.insert(z.clone()) => {
                let here = |a: &Admits| matches!(a, Admits::PriceZone(x) if x == z);
                Some((z.clone(), domain::hold::default_type(types, &here, now).unwrap_or(t)))
            }
            _ => None,
        })
        .collect();
    zones.sort_by_key(|(_, t)| std::cmp::Reverse(t.price.amount_minor()));
    zones.reverse();
    zones
}

/// Why a zone's seats do not go at this type's price now.
fn sale_window_note(t: &TicketType, now: DateTime<Utc>, tz: &str) -> String {
    match (t.sales_start, t.sales_end) {
        (Some(s), _) if s > now => format!("from {}", local_time(s, tz)),
        (_, Some(e)) if e <= now => "sales ended".to_owned(),
        _ => "while a lower price is on sale, that one applies".to_owned(),
    }
}

/// The ticket types a seat of `zone` may be sold as at `now`, the one it
/// gets by default first, then by price: offered to the buyer when there is
/// more than one (an adult and a reduced price, say).
fn zone_choices<'a>(types: &'a [TicketType], zone: &str, now: DateTime<Utc>) -> Vec<&'a TicketType> {
    let mut choices: Vec<&TicketType> =
        types.iter().filter(|t| matches!(&t.admits, Admits::PriceZone(z) if z == zone) && t.on_sale_at(now)).collect();
    // Stable: on a tie the first added comes first, as `default_type` picks it.
    choices.sort_by_key(|t| t.price.amount_minor());
    choices
}

fn zone_class(zones: &[(String, &TicketType)], zone: &str) -> String {
    let i = zones.iter().position(|(z, _)| z == zone).unwrap_or(0);
    format!("z{}", i % ZONE_COLOURS)
}

struct EventView {
    details: ticketing::events::EventDetails,
    venue: VenueRecord,
    map: SeatMapRecord,
    availability: store::Availability,
}

async fn load_event(state: &AppState, viewer: &Viewer, event: Uuid) -> Result<EventView, Problem> {
    let id = EventId::from_uuid(event);
    let details = state.ticketing.event_details(viewer.user, id).await?;
    let (venue, map) = state.ticketing.seat_map(details.event.venue).await?;
    let availability = state.ticketing.availability(viewer.user, id).await?;
    Ok(EventView { details, venue, map, availability })
}

pub async fn event_page(State(state): State<AppState>, viewer: Viewer, Path(event): Path<String>) -> Response {
    render_event(&state, &viewer, &event, None, StatusCode::OK).await
}

async fn render_event(
    state: &AppState,
    viewer: &Viewer,
    event: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let Ok(event) = event.parse::<Uuid>() else {
        return super::not_found_page_for(viewer);
    };
    let view = match load_event(state, viewer, event).await {
        Ok(v) => v,
        Err(p) => return failure(viewer, p).await,
    };
    let e = &view.details.event;
    let types = &view.details.ticket_types;
    let now = state.ticketing.now();
    let effective = e.status.effective(e.ends_at, now);
    let on_sale = effective == EventStatus::Published && types.iter().any(|t| t.on_sale_at(now));
    let zones = zones(types, now);
    let status_of: HashMap<SeatId, SeatStatus> = view.availability.seats.iter().copied().collect();
    let mut free_by_zone: HashMap<&str, usize> = HashMap::new();
    for s in &view.map.sections {
        let free = s
            .rows
            .iter()
            .flat_map(|r| &r.seats)
            .filter(|seat| status_of.get(&seat.id) == Some(&SeatStatus::Available))
            .count();
        *free_by_zone.entry(s.price_zone.as_str()).or_default() += free;
    }
    let ga_remaining: HashMap<GaAreaId, u32> = view.availability.ga.iter().map(|(a, _, r)| (*a, *r)).collect();
    let ga_name: HashMap<GaAreaId, &str> = view.map.ga_areas.iter().map(|a| (a.id, a.name.as_str())).collect();
    let seat_count: usize = view.map.sections.iter().flat_map(|s| &s.rows).map(|r| r.seats.len()).sum();
    let has_accessible = view.map.sections.iter().flat_map(|s| &s.rows).flat_map(|r| &r.seats).any(|s| s.accessible);
    let listings = state.ticketing.event_listings(viewer.user, e.id).await.unwrap_or_default();
    let waiting_room = state.ticketing.room_info(viewer.user, e.id).await.is_ok_and(|r| r.active);
    // Places this buyer holds already (say, back from the checkout page):
    // offered to continue, and not mistaken on the map for someone else's.
    let my_holds = match viewer.user {
        Some(user) => state.ticketing.live_holds(user, e.id).await.unwrap_or_default(),
        None => Vec::new(),
    };
    let my_held: Vec<String> = my_holds
        .iter()
        .flat_map(|h| &h.lines)
        .filter_map(|l| match l {
            HoldLine::Seat { seat, .. } => Some(seat.to_string()),
            _ => None,
        })
        .collect();
    let (seat_labels, area_labels) = line_labels(&view.map);
    let island = json!({
        "event_id": e.id.to_string(),
        "venue_id": e.venue.to_string(),
        "timezone": e.timezone,
        "on_sale": on_sale,
        "signed_in": viewer.signed_in(),
        "my_held": my_held,
        "zones": zones.iter().enumerate().map(|(i, (z, t))| json!({
            "zone": z, "class": format!("z{}", i % ZONE_COLOURS), "price": price(&t.price),
            "max_per_order": t.max_per_order, "on_sale": t.on_sale_at(now),
            "types": match zone_choices(types, z, now).as_slice() {
                [] | [_] => Vec::new(),
                several => several.iter().map(|t| json!({"id": t.id.to_string(), "name": t.name, "price": price(&t.price)})).collect(),
            },
        })).collect::<Vec<_>>(),
    });
    let max_pick = zones.iter().map(|(_, t)| t.max_per_order as usize).max().unwrap_or(1).min(BEST_AVAILABLE_SEATS_MAX);
    let body = html! {
        article.event {
            header.event-head {
                span.tag { (category_label(e.category.as_str())) }
                h1 { (e.title) }
                p.event-meta {
                    time datetime=(e.starts_at.to_rfc3339()) { (local_time(e.starts_at, &e.timezone)) }
                    " · " (view.venue.name)
                    @if !view.venue.address.is_empty() { ", " (view.venue.address) }
                }
                @if !matches!(effective, EventStatus::Cancelled | EventStatus::Ended) {
                    p { a href={ "/events/" (e.id) "/calendar.ics" } download { "Add to calendar" } }
                }
                @match effective {
                    EventStatus::Cancelled => { (alert("This event has been cancelled. Every ticket bought for it is refunded in full.")) }
                    EventStatus::Ended => { (alert("This event has ended.")) }
                    EventStatus::Draft => { div.alert role="status" { p { "Draft: only your organization can see this event until it is published." } } }
                    _ => {}
                }
            }
            @if !my_holds.is_empty() {
                section.panel.my-holds #my-holds aria-labelledby="my-holds-h" {
                    h2 #my-holds-h { "On hold for you" }
                    @for h in &my_holds {
                        div.my-hold {
                            p { (hold_places(h, &seat_labels, &area_labels)) ", until " (local_time(h.expires_at, &e.timezone)) "." }
                            div.actions {
                                a.button.primary href={ "/checkout/" (h.id) } { "Continue to checkout" }
                                form method="post" action={ "/checkout/" (h.id) "/release" } {
                                    (csrf_field(viewer))
                                    button.button type="submit" { "Release" }
                                }
                            }
                        }
                    }
                }
            }
            @if !e.description.is_empty() {
                div.description { @for para in e.description.split("\n\n").map(str::trim).filter(|p| !p.is_empty()) { p { (para) } } }
            }
            // A cancelled or ended event sells nothing: no prices or places left to show.
            @if !matches!(effective, EventStatus::Cancelled | EventStatus::Ended) {
                section.panel aria-labelledby="prices-h" {
                    h2 #prices-h { "Prices" }
                    table.prices {
                        thead { tr { th scope="col" { "Ticket" } th scope="col" { "Where" } th scope="col" { "Price" } th scope="col" { "Left" } } }
                        tbody {
                            @for t in types {
                                tr {
                                    td { (t.name) }
                                    @match &t.admits {
                                        Admits::PriceZone(z) => {
                                            // Seats go at one price at a time: the
                                            // other types of the zone say when.
                                            @let current = zones.iter().any(|(_, c)| c.id == t.id) && t.on_sale_at(now);
                                            td { span class={ "swatch " (zone_class(&zones, z)) } aria-hidden="true" {} (category_label(z)) " seats" }
                                            td {
                                                (price(&t.price))
                                                @if !current {
                                                    br; span.muted.small { (sale_window_note(t, now, &e.timezone)) }
                                                }
                                            }
                                            td { @if current { (free_by_zone.get(z.as_str()).copied().unwrap_or(0)) } @else { "–" } }
                                        }
                                        Admits::GaArea(a) => {
                                            @let current = t.on_sale_at(now);
                                            td { (ga_name.get(a).copied().unwrap_or("Standing")) " (standing)" }
                                            td {
                                                (price(&t.price))
                                                @if !current { br; span.muted.small { (sale_window_note(t, now, &e.timezone)) } }
                                            }
                                            td { @if current { (ga_remaining.get(a).copied().unwrap_or(0)) } @else { "–" } }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if waiting_room && on_sale {
                div.alert.waiting-room-note role="status" {
                    p {
                        "A waiting room is on for this sale, so that everyone gets a fair turn. "
                        a href={ "/events/" (e.id) "/queue" } { "Go to the line" }
                        "; when your turn comes you choose your seats here."
                    }
                }
            }
            // Focused on load, so the browser scrolls to it: on a phone the
            // form that failed is far below the top of the page.
            @if let Some(err) = error { div #hold-error tabindex="-1" autofocus { (alert(err)) } }
            @if on_sale {
                section.panel #buy aria-labelledby="buy-h" {
                    h2 #buy-h { "Choose your seats" }
                    @if !viewer.signed_in() {
                        // Back to this section afterwards: event.js restores the
                        // seats picked before signing in, next to the hold button.
                        p.hint { a href={ "/signin?next=/events/" (e.id) "%23buy" } { "Sign in" } " or " a href={ "/signup?next=/events/" (e.id) "%23buy" } { "create an account" } " to buy." }
                    }
                    @if seat_count > 0 {
                        div #seatmap-app.seatmap-app hidden data-event=(e.id) {
                            div.map-toolbar {
                                div.legend aria-label="Legend" {
                                    @for (i, (z, t)) in zones.iter().enumerate() {
                                        span.legend-item {
                                            span class={ "swatch z" (i % ZONE_COLOURS) } aria-hidden="true" {} (category_label(z)) " "
                                            @if t.on_sale_at(now) {
                                                @if zone_choices(types, z, now).len() > 1 { "from " }
                                                (price(&t.price))
                                            } @else { "not on sale now" }
                                        }
                                    }
                                    span.legend-item { span.swatch.taken aria-hidden="true" {} "Taken" }
                                    span.legend-item { span.swatch.mine aria-hidden="true" {} "Your pick" }
                                    @if has_accessible {
                                        span.legend-item #legend-accessible { (accessible_legend_mark()) "Wheelchair space" }
                                    }
                                }
                                div.map-view-switch role="group" aria-label="View" {
                                    button.button.small type="button" #view-map aria-pressed="true" { "Map" }
                                    button.button.small type="button" #view-list aria-pressed="false" { "List" }
                                }
                            }
                            div #seatmap-status.map-status role="status" aria-live="polite" { "Loading the seat map…" }
                            div #seatmap.seatmap {}
                            div #seatlist.seatlist hidden {}
                            form #pick-form.pick-bar method="post" action={ "/events/" (e.id) "/hold" } {
                                (csrf_field(viewer))
                                div #pick-summary aria-live="polite" { "No seats chosen yet: tap seats on the map." }
                                div #pick-inputs {}
                                button.button.primary #pick-submit type="submit" disabled { "Continue" }
                            }
                        }
                        form.stack.inline-form #best-form method="post" action={ "/events/" (e.id) "/hold" } {
                            (csrf_field(viewer))
                            h3 { "Best available" }
                            p.hint { "We pick adjacent seats where possible, front rows and centre first." }
                            div.row-fields {
                                div {
                                    label for="best_qty" { "Seats" }
                                    select #best_qty name="best_qty" {
                                        @for n in 1..=max_pick { option value=(n) selected[n == 2] { (n) } }
                                    }
                                }
                                div {
                                    label for="best_zone" { "Area" }
                                    select #best_zone name="best_zone" {
                                        option value="" { "Any area" }
                                        @for (z, t) in zones.iter().filter(|(_, t)| t.on_sale_at(now)) { option value=(z) { (category_label(z)) " – " (price(&t.price)) } }
                                    }
                                }
                                button.button.primary type="submit" { "Find seats" }
                            }
                            p { a href={ "/events/" (e.id) "/seats" } { "Choose seats from a list instead" } }
                        }
                    }
                    @let ga_types: Vec<_> = types.iter().filter(|t| t.on_sale_at(now)).filter_map(|t| match &t.admits { Admits::GaArea(a) => Some((a, t)), _ => None }).collect();
                    @if !ga_types.is_empty() {
                        form.stack.inline-form #ga-form method="post" action={ "/events/" (e.id) "/hold" } {
                            (csrf_field(viewer))
                            h3 { "Standing" }
                            @for (a, t) in &ga_types {
                                @let left = ga_remaining.get(a).copied().unwrap_or(0);
                                div.row-fields {
                                    label for={ "ga_" (a) } { (ga_name.get(a).copied().unwrap_or("Standing")) " – " (price(&t.price)) " (" (left) " left)" }
                                    input.qty id={ "ga_" (a) } name={ "ga_" (a) } type="number" min="0"
                                        max=(left.min(t.max_per_order).min(GA_QUANTITY_FORM_MAX)) value="0" inputmode="numeric" disabled[left == 0];
                                }
                            }
                            button.button.primary type="submit" { "Hold places" }
                        }
                    }
                }
            } @else if effective == EventStatus::Published {
                p.panel { "Tickets are not on sale right now." }
            }
            @if !listings.is_empty() && effective == EventStatus::Published {
                section.panel aria-labelledby="resale-h" {
                    h2 #resale-h { "From other fans" }
                    p.hint { "Resold at most at the organizer's price cap. The old ticket stops working and you get a new one." }
                    ul.resale {
                        @for l in &listings {
                            li {
                                form method="post" action={ "/listings/" (l.id) "/hold" } {
                                    (csrf_field(viewer))
                                    @match (&l.seat, &l.ga_area_name) {
                                        (Some((section, row, seat)), _) => { (section) ", row " (row) ", seat " (seat) }
                                        (None, Some(area)) => { (area) }
                                        _ => { (l.ticket_type_name) }
                                    }
                                    " – " strong { (money(&l.price)) } " "
                                    @if viewer.user == Some(l.seller) {
                                        span.hint { "Your listing (withdraw it under My tickets)" }
                                    } @else {
                                        button.button.small type="submit" { "Buy" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            (json_island("event-data", &island))
        }
    };
    let mut response = page(viewer, status, &e.title, Section::Events, &["event.js"], body);
    if viewer.signed_in() {
        // Never restored from the back-forward cache: coming back from the
        // checkout page shows the hold just made, not the page before it.
        response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    }
    response
}

#[derive(Deserialize, Default)]
pub struct SeatListQuery {
    section: Option<String>,
}

/// Every seat of one section as a checkbox list: buying by list, without
/// JavaScript and with any screen reader.
pub async fn seat_list(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(event): Path<String>,
    PageQuery(q): PageQuery<SeatListQuery>,
) -> Response {
    let Ok(event) = event.parse::<Uuid>() else {
        return super::not_found_page_for(&viewer);
    };
    let nothing = Picked { seats: &HashSet::new(), zone_type: None };
    render_seat_list(&state, &viewer, event, q.section.as_deref(), nothing, None, StatusCode::OK).await
}

/// The seat list of one section (the first when `section` names none), with
/// `picked` ticked where still free and `error` said above it.
/// What a buyer had chosen on the seat list, kept when a hold is refused.
struct Picked<'a> {
    seats: &'a HashSet<String>,
    zone_type: Option<&'a str>,
}

async fn render_seat_list(
    state: &AppState,
    viewer: &Viewer,
    event: Uuid,
    section: Option<&str>,
    picked: Picked<'_>,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let view = match load_event(state, viewer, event).await {
        Ok(v) => v,
        Err(p) => return failure(viewer, p).await,
    };
    let e = &view.details.event;
    let now = state.ticketing.now();
    let zones = zones(&view.details.ticket_types, now);
    let zone_price: HashMap<&str, String> = zones.iter().map(|(z, t)| (z.as_str(), price(&t.price))).collect();
    // Zones whose ticket types are all outside their sales window.
    let closed: HashSet<&str> = zones.iter().filter(|(_, t)| !t.on_sale_at(now)).map(|(z, _)| z.as_str()).collect();
    let status_of: HashMap<SeatId, SeatStatus> = view.availability.seats.iter().copied().collect();
    let section =
        section.and_then(|s| view.map.sections.iter().find(|x| x.id.to_string() == s)).or(view.map.sections.first());
    let body = html! {
        p { a href={ "/events/" (e.id) } { "← " (e.title) } }
        h1 { "Choose seats" }
        p.muted { (local_time(e.starts_at, &e.timezone)) " · " (view.venue.name) }
        nav.section-tabs aria-label="Sections" {
            @for s in &view.map.sections {
                a href={ "/events/" (e.id) "/seats?section=" (s.id) } aria-current=[section.is_some_and(|x| x.id == s.id).then_some("page")] {
                    (s.name)
                    @if closed.contains(s.price_zone.as_str()) { " · not on sale now" }
                    @else if let Some(p) = zone_price.get(s.price_zone.as_str()) { " · " (p) }
                }
            }
        }
        @if let Some(msg) = error { div #hold-error tabindex="-1" autofocus { (alert(msg)) } }
        @if let Some(s) = section {
            form.stack method="post" action={ "/events/" (e.id) "/hold" } {
                (csrf_field(viewer))
                // A refusal comes back to this list, with the picks kept.
                input type="hidden" name="from" value="list";
                input type="hidden" name="section" value=(s.id);
                @let choices = zone_choices(&view.details.ticket_types, &s.price_zone, now);
                @if choices.len() > 1 {
                    label for="zone_type" { "Ticket type for the seats you tick" }
                    select #zone_type name="zone_type" {
                        @for t in &choices {
                            option value=(t.id) selected[picked.zone_type == Some(t.id.to_string().as_str())] { (price(&t.price)) " · " (t.name) }
                        }
                    }
                }
                @for row in &s.rows {
                    fieldset.seat-row {
                        legend { (s.name) ", row " (row.label) }
                        div.seat-checks {
                            @for seat in &row.seats {
                                @let on_sale = !closed.contains(s.price_zone.as_str());
                                @let free = on_sale && status_of.get(&seat.id) == Some(&SeatStatus::Available);
                                label.seat-check.taken[!free] {
                                    input type="checkbox" name="seat" value=(seat.id) disabled[!free]
                                        checked[free && picked.seats.contains(&seat.id.to_string())];
                                    span { (seat.label) @if seat.accessible { " ♿" } }
                                    span.visually-hidden {
                                        ", row " (row.label)
                                        @if !on_sale { ", not on sale now" } @else if !free { ", taken" }
                                        @if seat.accessible { ", wheelchair space" }
                                    }
                                }
                            }
                        }
                    }
                }
                div.sticky-actions { button.button.primary type="submit" { "Hold chosen seats" } }
            }
        } @else {
            p { "This venue has no numbered seats." }
        }
    };
    page(viewer, status, &format!("Seats · {}", e.title), Section::Events, &[], body)
}

/// "Best available": how many seats, in which price zone (any when `None`).
type BestRequest = Option<(Option<String>, usize)>;

fn parse_hold_form(form: &Fields) -> Result<(HoldRequest, BestRequest), String> {
    let ticket_type = |raw: &str| {
        raw.trim()
            .parse::<Uuid>()
            .map(TicketTypeId::from_uuid)
            .map_err(|_| "One of the chosen ticket types is not one of this event's.".to_owned())
    };
    // The type for every seat without one of its own (the seat list's).
    let zone_type = form.get("zone_type").filter(|t| !t.trim().is_empty()).map(ticket_type).transpose()?;
    let mut seats = Vec::new();
    for raw in form.all("seat") {
        let id: Uuid =
            raw.trim().parse().map_err(|_| "One of the chosen seats is not a seat of this event.".to_owned())?;
        // Chosen per seat on the map when its zone has several types.
        // The field is named after the seat as sent (a client may write it
        // in capitals) or as parsed.
        let own = form
            .get(&format!("type_{}", raw.trim()))
            .or_else(|| form.get(&format!("type_{id}")))
            .filter(|t| !t.trim().is_empty())
            .map(ticket_type)
            .transpose()?;
        seats.push(SeatRequest { seat: SeatId::from_uuid(id), ticket_type: own.or(zone_type) });
    }
    let mut ga = Vec::new();
    for (k, v) in &form.0 {
        if let Some(area) = k.strip_prefix("ga_") {
            let v = v.trim();
            if v.is_empty() {
                continue;
            }
            let quantity: u32 =
                v.parse().map_err(|_| "Enter the number of standing places as a whole number.".to_owned())?;
            if quantity == 0 {
                continue;
            }
            let area: Uuid = area.parse().map_err(|_| "That standing area is not part of this event.".to_owned())?;
            ga.push(GaRequest { area: GaAreaId::from_uuid(area), quantity, ticket_type: None });
        }
    }
    let best = match form.get("best_qty").map(str::trim).filter(|s| !s.is_empty()) {
        Some(q) => {
            let n: usize = q.parse().map_err(|_| "Choose how many seats you want.".to_owned())?;
            if n == 0 || n > BEST_AVAILABLE_SEATS_MAX {
                return Err(format!("Best available finds 1 to {BEST_AVAILABLE_SEATS_MAX} seats at a time."));
            }
            Some((form.get("best_zone").map(str::trim).filter(|z| !z.is_empty()).map(str::to_owned), n))
        }
        None => None,
    };
    if seats.is_empty() && ga.is_empty() && best.is_none() {
        return Err("Choose at least one seat or standing place.".to_owned());
    }
    Ok((HoldRequest { seats, ga }, best))
}

pub async fn create_hold(
    State(state): State<AppState>,
    headers: HeaderMap,
    viewer: Viewer,
    Path(event): Path<String>,
    form: Fields,
) -> Response {
    let Ok(event_id) = event.parse::<Uuid>() else {
        return super::not_found_page_for(&viewer);
    };
    if !csrf_ok(&headers, form.csrf()) {
        return render_event(
            &state,
            &viewer,
            &event,
            Some("This page was open too long. Please choose again."),
            StatusCode::FORBIDDEN,
        )
        .await;
    }
    let Some(user) = viewer.user else {
        // The picks come back with the page (event.js keeps them), so the
        // visitor lands where they left off: at the seat map.
        return signin_redirect(&format!("/events/{event_id}#buy"));
    };
    let (request, best) = match parse_hold_form(&form) {
        Ok(r) => r,
        Err(msg) => return hold_refused(&state, &viewer, &event, &form, &msg, StatusCode::UNPROCESSABLE_ENTITY).await,
    };
    if let Err(limited) = state.limits.check_account(user) {
        // The event page again, saying when to retry: a browser shows the
        // problem document as raw text.
        let limited = limited.into_response();
        let retry_after = limited.headers().get(header::RETRY_AFTER).cloned();
        let (status, detail, _) = problem_detail_of(limited).await;
        let mut page = hold_refused(&state, &viewer, &event, &form, &detail, status).await;
        if let Some(v) = retry_after {
            page.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return page;
    }
    let id = EventId::from_uuid(event_id);
    let admission = super::session::cookie(&headers, super::session::ADMISSION_COOKIE);
    let result = match &best {
        Some((zone, n)) => {
            state.ticketing.place_best_available_hold(user, id, zone.as_deref(), *n, request, admission).await
        }
        None => state.ticketing.place_hold(user, id, request, admission).await,
    };
    match result {
        Ok(hold) => {
            // One cart per event: the places chosen now replace any held before.
            let replaced = match state.ticketing.release_earlier_holds(user, id, hold.id).await {
                Ok(released) => released.len(),
                Err(e) => {
                    tracing::warn!(error = %e, "earlier holds were not released; they expire by themselves");
                    0
                }
            };
            let query = if replaced > 0 { format!("?replaced={replaced}") } else { String::new() };
            Redirect::to(&format!("/checkout/{}{query}", hold.id)).into_response()
        }
        Err(ticketing::holds::HoldFailure::Refused(
            ticketing::waiting_room::AdmissionRefused::TokenRequired
            | ticketing::waiting_room::AdmissionRefused::Spent
            | ticketing::waiting_room::AdmissionRefused::Invalid(_),
        )) => {
            // The API's words are for programs; a person needs to know to queue.
            let msg = "A waiting room is on for this sale: go to the line (the link above) first. \
                       When your turn comes, you choose your seats here.";
            render_event(&state, &viewer, &event, Some(msg), StatusCode::FORBIDDEN).await
        }
        Err(e) => {
            let (status, detail, _) = problem_detail(e.into()).await;
            let msg = if status == StatusCode::CONFLICT {
                format!("{detail} The seats now show what is still free; please choose again.")
            } else {
                detail
            };
            hold_refused(&state, &viewer, &event, &form, &msg, status).await
        }
    }
}

/// A hold refused: said on the page it was asked from, the seat list (with
/// the picks kept) or the event page.
async fn hold_refused(
    state: &AppState,
    viewer: &Viewer,
    event: &str,
    form: &Fields,
    msg: &str,
    status: StatusCode,
) -> Response {
    match (form.get("from"), event.parse::<Uuid>()) {
        (Some("list"), Ok(id)) => {
            let picked: HashSet<String> = form.all("seat").map(str::to_owned).collect();
            let picked = Picked { seats: &picked, zone_type: form.get("zone_type") };
            render_seat_list(state, viewer, id, form.get("section"), picked, Some(msg), status).await
        }
        _ => render_event(state, viewer, event, Some(msg), status).await,
    }
}

// ---------------------------------------------------------------- checkout

/// What a hold keeps, in a line: "Stalls, row C, seat 12; 2 × Floor".
fn hold_places(hold: &HoldRecord, seats: &HashMap<SeatId, String>, areas: &HashMap<GaAreaId, String>) -> String {
    let place = |seat: Option<SeatId>, area: Option<GaAreaId>| {
        seat.and_then(|s| seats.get(&s)).or_else(|| area.and_then(|a| areas.get(&a))).cloned()
    };
    hold.lines
        .iter()
        .map(|line| match line {
            HoldLine::Seat { seat, .. } => place(Some(*seat), None).unwrap_or_else(|| "A seat".into()),
            HoldLine::Ga { area, quantity, .. } => {
                format!("{quantity} × {}", place(None, Some(*area)).unwrap_or_else(|| "Standing".into()))
            }
            HoldLine::Resale { seat, area, .. } => {
                format!("{} (resale)", place(*seat, *area).unwrap_or_else(|| "A ticket".into()))
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Human labels for a hold's lines: "Stalls, row C, seat 12".
fn line_labels(map: &SeatMapRecord) -> (HashMap<SeatId, String>, HashMap<GaAreaId, String>) {
    let mut seats = HashMap::new();
    for s in &map.sections {
        for r in &s.rows {
            for seat in &r.seats {
                seats.insert(seat.id, format!("{}, row {}, seat {}", s.name, r.label, seat.label));
            }
        }
    }
    let areas = map.ga_areas.iter().map(|a| (a.id, a.name.clone())).collect();
    (seats, areas)
}

#[derive(Deserialize, Default)]
pub struct CheckoutQuery {
    /// Earlier holds on the event let go for this one (see `create_hold`).
    replaced: Option<u32>,
}

pub async fn checkout(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(hold): Path<String>,
    PageQuery(q): PageQuery<CheckoutQuery>,
) -> Response {
    let note = match q.replaced {
        Some(1) => Some("The places you had on hold before for this event were released: these replace them."),
        Some(n) if n > 1 => {
            Some("The places you had in your other holds for this event were released: these replace them.")
        }
        _ => None,
    };
    let mut response = render_checkout(&state, &viewer, &hold, None, note, StatusCode::OK).await;
    // Back after paying asks again, and lands on the order, rather than
    // showing a checkout that looks unpaid.
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    response
}

async fn render_checkout(
    state: &AppState,
    viewer: &Viewer,
    hold: &str,
    error: Option<&str>,
    note: Option<&str>,
    status: StatusCode,
) -> Response {
    let Ok(hold_id) = hold.parse::<Uuid>() else {
        return super::not_found_page_for(viewer);
    };
    let Some(user) = viewer.user else {
        return signin_redirect(&format!("/checkout/{hold_id}"));
    };
    let hold = match state.ticketing.hold(user, HoldId::from_uuid(hold_id)).await {
        Ok(h) => h,
        Err(e) => return failure(viewer, e.into()).await,
    };
    let now = state.ticketing.now();
    if hold.status == HoldStatus::Ordered {
        if let Ok(orders) = state.ticketing.store().orders_of(user).await
            && let Some(o) = orders.iter().find(|o| o.hold == hold.id)
        {
            return Redirect::to(&format!("/orders/{}", o.id)).into_response();
        }
        return Redirect::to("/tickets").into_response();
    }
    let details = match state.ticketing.event_details(Some(user), hold.event).await {
        Ok(d) => d,
        Err(e) => return failure(viewer, e.into()).await,
    };
    let e = &details.event;
    let live = hold.status == HoldStatus::Active && hold.is_live(now);
    if !live {
        let body = html! {
            section.panel.narrow {
                h1 { "Your hold has ended" }
                p { @if hold.status == HoldStatus::Released { "You released these seats." } @else { "The time to pay ran out and the seats went back on sale." } }
                p { a.button.primary href={ "/events/" (e.id) } { "Choose seats again" } }
            }
        };
        return page(viewer, StatusCode::GONE, "Hold ended", Section::Events, &[], body);
    }
    let (seat_labels, area_labels) = match state.ticketing.seat_map(e.venue).await {
        Ok((_, map)) => line_labels(&map),
        Err(_) => (HashMap::new(), HashMap::new()),
    };
    let type_name: HashMap<_, _> = details.ticket_types.iter().map(|t| (t.id, t.name.as_str())).collect();
    let remaining = (hold.expires_at - now).num_seconds().max(0);
    let key = Uuid::new_v4();
    let free = hold.total.amount_minor() == 0;
    let body = html! {
        h1 { "Checkout" }
        (hold_summary(&hold, &e.title, &local_time(e.starts_at, &e.timezone), &seat_labels, &area_labels, &type_name))
        div.countdown #countdown data-expires-at=(hold.expires_at.to_rfc3339()) data-remaining=(remaining) data-event=(e.id) role="timer" aria-live="off" {
            "Your tickets are held until " strong { (local_time(hold.expires_at, &e.timezone)) } "."
        }
        @if let Some(err) = error { (alert(err)) }
        @if let Some(n) = note { (notice(n)) }
        section.panel aria-labelledby="pay-h" {
            @if free {
                h2 #pay-h { "Free tickets" }
                form.stack #pay-form method="post" action={ "/checkout/" (hold.id) "/pay" } {
                    (csrf_field(viewer))
                    input type="hidden" name="idempotency_key" value=(key);
                    p.hint { "These tickets cost nothing: no payment is taken." }
                    button.button.primary.big #pay-button type="submit" { "Get my tickets" }
                }
            } @else {
                h2 #pay-h { "Payment" }
                form.stack #pay-form method="post" action={ "/checkout/" (hold.id) "/pay" } {
                    (csrf_field(viewer))
                    input type="hidden" name="idempotency_key" value=(key);
                    fieldset {
                        legend { "Card (test gateway)" }
                        p.hint { "This installation takes payments through the built-in test gateway. No card data is stored." }
                        label.radio { input type="radio" name="token" value="tok_ok" checked; " Test card – payment approved" }
                        label.radio { input type="radio" name="token" value="tok_declined"; " Test card – payment declined" }
                    }
                    button.button.primary.big #pay-button type="submit" { "Pay " (money(&hold.total)) }
                }
            }
            form method="post" action={ "/checkout/" (hold.id) "/release" } {
                (csrf_field(viewer))
                button.link-button type="submit" { "Cancel and release these places" }
            }
        }
    };
    page(viewer, status, "Checkout", Section::Events, &["checkout.js"], body)
}

fn hold_summary(
    hold: &HoldRecord,
    title: &str,
    when: &str,
    seats: &HashMap<SeatId, String>,
    areas: &HashMap<GaAreaId, String>,
    types: &HashMap<domain::ids::TicketTypeId, &str>,
) -> Markup {
    html! {
        section.panel.cart aria-labelledby="cart-h" {
            h2 #cart-h { (title) }
            p.muted { (when) }
            table.cart-lines {
                thead { tr { th scope="col" { "Item" } th scope="col" { "Ticket" } th.num scope="col" { "Price" } } }
                tbody {
                    @for line in &hold.lines {
                        tr {
                            @match line {
                                HoldLine::Seat { seat, .. } => { td { (seats.get(seat).map(String::as_str).unwrap_or("Seat")) } }
                                HoldLine::Ga { area, quantity, .. } => { td { (quantity) " × " (areas.get(area).map(String::as_str).unwrap_or("Standing")) } }
                                HoldLine::Resale { seat, area, .. } => {
                                    td {
                                        (seat.and_then(|s| seats.get(&s)).or_else(|| area.and_then(|a| areas.get(&a))).map(String::as_str).unwrap_or("Ticket"))
                                        " (resale)"
                                    }
                                }
                            }
                            td { (types.get(&line.ticket_type()).copied().unwrap_or("Ticket")) }
                            td.num { (price(&line.unit_price())) @if line.units() > 1 && line.unit_price().amount_minor() > 0 { " each" } }
                        }
                    }
                }
                tfoot {
                    @if hold.fee.amount_minor() > 0 {
                        tr { th scope="row" colspan="2" { "Tickets" } td.num #cart-subtotal { (money(&hold.subtotal())) } }
                        tr { th scope="row" colspan="2" { "Service fee" } td.num #cart-fee { (money(&hold.fee)) } }
                    }
                    tr { th scope="row" colspan="2" { "Total" } td.num { strong #cart-total { (money(&hold.total)) } } }
                }
            }
        }
    }
}

pub async fn pay(
    State(state): State<AppState>,
    headers: HeaderMap,
    viewer: Viewer,
    Path(hold): Path<String>,
    form: Fields,
) -> Response {
    let Ok(hold_id) = hold.parse::<Uuid>() else {
        return super::not_found_page_for(&viewer);
    };
    let Some(user) = viewer.user else {
        return signin_redirect(&format!("/checkout/{hold_id}"));
    };
    if !csrf_ok(&headers, form.csrf()) {
        return render_checkout(
            &state,
            &viewer,
            &hold,
            Some("This page was open too long. Please press Pay again."),
            None,
            StatusCode::FORBIDDEN,
        )
        .await;
    }
    let Ok(key) = IdempotencyKey::parse(&form.text("idempotency_key")) else {
        return render_checkout(
            &state,
            &viewer,
            &hold,
            Some("Please press Pay again."),
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let token = match form.text("token").as_str() {
        "" => "tok_ok".to_owned(),
        t => t.to_owned(),
    };
    let cmd = PlaceOrder { hold: HoldId::from_uuid(hold_id), gateway: "test".to_owned(), token, idempotency_key: key };
    match state.ticketing.place_order(user, cmd).await {
        Ok(placed) => Redirect::to(&format!("/orders/{}", placed.order.id)).into_response(),
        Err(ticketing::checkout::OrderError::AlreadyOrdered(order)) => {
            Redirect::to(&format!("/orders/{order}")).into_response()
        }
        Err(e) => {
            let (status, detail, _) = problem_detail(e.into()).await;
            render_checkout(&state, &viewer, &hold, Some(&detail), None, status).await
        }
    }
}

pub async fn release(
    State(state): State<AppState>,
    headers: HeaderMap,
    viewer: Viewer,
    Path(hold): Path<String>,
    form: Fields,
) -> Response {
    let Ok(hold_id) = hold.parse::<Uuid>() else {
        return super::not_found_page_for(&viewer);
    };
    let Some(user) = viewer.user else {
        return signin_redirect(&format!("/checkout/{hold_id}"));
    };
    if !csrf_ok(&headers, form.csrf()) {
        return render_checkout(&state, &viewer, &hold, Some(STALE_FORM), None, StatusCode::FORBIDDEN).await;
    }
    let record = match state.ticketing.hold(user, HoldId::from_uuid(hold_id)).await {
        Ok(h) => h,
        Err(e) => return failure(&viewer, e.into()).await,
    };
    match state.ticketing.release_hold(user, record.id).await {
        Ok(()) => Redirect::to(&format!("/events/{}", record.event)).into_response(),
        Err(e) => {
            let (status, detail, _) = problem_detail(e.into()).await;
            render_checkout(&state, &viewer, &hold, Some(&detail), None, status).await
        }
    }
}

// ---------------------------------------------------------------- tickets

/// Event facts a ticket card needs that the ticket record does not carry.
struct EventFacts {
    timezone: String,
    ends_at: DateTime<Utc>,
    cancelled: bool,
    /// While its tickets may be resold: the organizer's rules, and the most
    /// each ticket type may be resold for.
    resale: Option<(domain::resale::ResalePolicy, HashMap<domain::ids::TicketTypeId, Money>)>,
}

async fn event_facts(
    state: &AppState,
    user: domain::ids::UserId,
    tickets: &[TicketRecord],
) -> HashMap<EventId, EventFacts> {
    let mut facts = HashMap::new();
    for t in tickets {
        if facts.contains_key(&t.event) {
            continue;
        }
        if let Ok(d) = state.ticketing.event_details(Some(user), t.event).await {
            facts.insert(
                t.event,
                EventFacts {
                    timezone: d.event.timezone.clone(),
                    ends_at: d.event.ends_at,
                    cancelled: d.event.status == EventStatus::Cancelled,
                    resale: resale_terms(&d, state.ticketing.now()),
                },
            );
        }
    }
    facts
}

/// What a holder may resell the event's tickets for, while they may.
fn resale_terms(
    d: &ticketing::events::EventDetails,
    now: DateTime<Utc>,
) -> Option<(domain::resale::ResalePolicy, HashMap<domain::ids::TicketTypeId, Money>)> {
    let policy = d.event.resale_policy;
    let open = policy.allowed && d.event.status.effective(d.event.ends_at, now) == EventStatus::Published;
    open.then(|| {
        let caps = d.ticket_types.iter().filter_map(|t| Some((t.id, policy.cap(t.price).ok()?))).collect();
        (policy, caps)
    })
}

/// `45.00` for EUR 45.00: what a price field takes.
fn amount_only(m: &Money) -> String {
    let shown = money(m);
    shown.split_once(' ').map_or(shown.clone(), |(_, amount)| amount.to_owned())
}

/// `5 %` for 500 basis points, `2.5 %` for 250.
fn percent_of_bps(bps: u32) -> String {
    if bps.is_multiple_of(100) { format!("{} %", bps / 100) } else { format!("{} %", f64::from(bps) / 100.0) }
}

/// The user's tickets on the resale market, by ticket.
/// What the holder has put on the market: open listings, and tickets offered
/// to someone (neither can be sold or given another way meanwhile).
struct OnMarket {
    listings: HashMap<TicketId, store::ListingRecord>,
    offered: HashSet<TicketId>,
}

async fn on_market(state: &AppState, user: domain::ids::UserId) -> OnMarket {
    let listed = state.ticketing.my_listings(user).await.unwrap_or_default();
    let offered = state.ticketing.outgoing_transfers(user).await.unwrap_or_default();
    OnMarket {
        listings: listed.into_iter().map(|l| (l.ticket, l)).collect(),
        offered: offered.into_iter().map(|o| o.ticket).collect(),
    }
}

/// The rotating secrets of those of `tickets` whose events rotate barcodes:
/// the page draws their live code itself, also offline. Only the holder
/// ever sees these pages.
async fn rotating_secrets(state: &AppState, tickets: &[TicketRecord]) -> HashMap<TicketId, [u8; 32]> {
    let mut secrets = HashMap::new();
    for t in tickets {
        if let Ok(Some(secret)) = state.ticketing.ticket_rotating_secret(t).await {
            secrets.insert(t.id, secret);
        }
    }
    secrets
}

/// What a transfer offer's line says about the event its ticket is for.
struct OfferEvent {
    title: String,
    /// Which ticket: its seat or area.
    place: String,
    /// Who offers it, by the name on their account.
    from: Option<String>,
    /// The venue's zone: the offer's deadline is shown in it, like every
    /// other time of the event.
    timezone: String,
}

impl OfferEvent {
    fn deadline(event: Option<&Self>, at: DateTime<Utc>) -> String {
        // Without its event the time is still right, and says it is UTC.
        local_time(at, event.map_or("UTC", |e| e.timezone.as_str()))
    }
}

/// The event of a ticket on offer, whoever holds it now: the recipient of an
/// offer sees the event of a ticket that is not theirs yet.
async fn offer_event(state: &AppState, user: domain::ids::UserId, offer: &store::TransferRecord) -> Option<OfferEvent> {
    let record = state.ticketing.store().ticket(offer.ticket).await.ok()??;
    let details = state.ticketing.event_details(Some(user), record.event).await.ok()?;
    let from = state.ticketing.store().user_by_id(offer.from_user).await.ok().flatten().map(|u| u.name);
    Some(OfferEvent { place: ticket_place(&record), title: record.event_title, timezone: details.event.timezone, from })
}

/// [`offer_event`] of each offer, by offer id.
async fn offer_events(
    state: &AppState,
    user: domain::ids::UserId,
    offers: &[&store::TransferRecord],
) -> HashMap<String, OfferEvent> {
    let mut events = HashMap::new();
    for offer in offers {
        if let Some(event) = offer_event(state, user, offer).await {
            events.insert(offer.id.clone(), event);
        }
    }
    events
}

/// Where a ticket gets its holder: a seat, or a standing area.
pub(crate) fn ticket_place(t: &TicketRecord) -> String {
    match (&t.seat_labels, &t.ga_area_name) {
        (Some((section, row, seat)), _) => format!("{section}, row {row}, seat {seat}"),
        (None, Some(area)) => area.clone(),
        _ => "General admission".to_owned(),
    }
}

/// How a ticket may go to someone else: its open listing, or the organizer's
/// resale rules and the most it may be sold for.
struct Market<'a> {
    listing: Option<&'a store::ListingRecord>,
    /// Offered to someone and not yet accepted.
    offered: bool,
    resale: Option<(&'a domain::resale::ResalePolicy, Money)>,
}

fn ticket_card(
    viewer: &Viewer,
    t: &TicketRecord,
    timezone: &str,
    rotating_secret: Option<&[u8; 32]>,
    market: Market<'_>,
) -> Markup {
    let place = ticket_place(t);
    let revoked = t.status == domain::checkin::TicketStatus::Revoked;
    html! {
        li.ticket.revoked[revoked] data-ticket=(t.id) {
            @if revoked {
                // Nothing that looks as if it could still be shown at a gate.
                div.ticket-qr.void { span { "No longer valid" } }
            } @else if let Some(secret) = rotating_secret {
                // tickets.js draws the live code (it changes every
                // ROTATION_STEP_SECS); a printout or screenshot stops working.
                div.ticket-qr.rotating
                    data-rotating-secret=(URL_SAFE_NO_PAD.encode(secret))
                    data-barcode=(t.barcode)
                    data-step-secs=(domain::rotating::ROTATION_STEP_SECS) {
                    canvas.qr-live width="240" height="240" role="img"
                        aria-label={ "Live QR code of the ticket for " (place) ", renewed every "
                            (domain::rotating::ROTATION_STEP_SECS) " seconds" } {}
                    p.qr-countdown.muted aria-live="off" {
                        noscript { "This event needs the live code: turn on JavaScript to show it." }
                    }
                }
            } @else {
                div.ticket-qr {
                    img.qr src={ "/tickets/" (t.id) "/qr.png" } width="240" height="240" alt={ "QR code of the ticket for " (place) };
                }
            }
            div.ticket-info {
                p.ticket-place { strong { (place) } }
                p { (t.ticket_type_name) " · " (price(&t.price)) }
                p.muted { (local_time(t.event_starts_at, timezone)) }
                @if revoked {
                    @if t.price.amount_minor() == 0 { p.badge.bad { "Cancelled – this ticket no longer admits" } }
                @else { p.badge.bad { "Revoked – this ticket no longer admits" } }
                } @else if let Some(at) = t.checked_in_at {
                    p.badge { "Checked in " (local_time(at, timezone)) }
                } @else {
                    p.badge.good { "Valid" }
                }
                @if revoked {
                } @else if rotating_secret.is_some() {
                    details.barcode {
                        summary { "Code for manual entry" }
                        code.live-code { "" }
                    }
                } @else {
                    // Twelve characters staff can type when the QR code will
                    // not scan; events with live codes refuse typed ones.
                    p.entry-code {
                        span.muted { "Entry code " }
                        code { (domain::barcode::display_entry_code(&domain::barcode::entry_code(&t.barcode))) }
                    }
                }
                @if let (false, None, Some(listing)) = (revoked, t.checked_in_at, market.listing) {
                    // Listed: it cannot be given away meanwhile (a buyer may be paying for it).
                    form.listed method="post" action={ "/listings/" (listing.id) "/withdraw" } {
                        (csrf_field(viewer))
                        p.badge { "Listed for resale at " (money(&listing.price)) }
                        p.muted { "If it sells, this code stops working and you are paid " (money(&listing.escrow))
                            " after the event. Until then it is yours to use." }
                        button.button type="submit" { "Withdraw listing" }
                    }
                } @else if market.offered && !revoked && t.checked_in_at.is_none() {
                    p.muted.offered { "Offered to someone. Withdraw the offer (under \"Tickets you are giving away\") to sell it or send it elsewhere." }
                } @else if !revoked && t.checked_in_at.is_none() {
                    // A free ticket has nothing to sell it for: it can be given away.
                    @if let Some((policy, cap)) = market.resale.filter(|(_, cap)| cap.amount_minor() > 0) {
                        details.sell {
                            summary { "Sell this ticket" }
                            form method="post" action={ "/tickets/" (t.id) "/sell" } {
                                (csrf_field(viewer))
                                label for={ "price-" (t.id) } { "Your price (" (cap.currency().as_str()) ")" }
                                input id={ "price-" (t.id) } name="price" inputmode="decimal" required
                                    autocomplete="off" placeholder=(amount_only(&cap));
                                p.muted { "At most " (money(&cap)) ", the organizer's limit. Buyers see it under the event; the organizer keeps "
                                    (percent_of_bps(policy.royalty_bps)) " and you are paid the rest after the event." }
                                button.button type="submit" { "List for sale" }
                            }
                        }
                    }
                    details.transfer {
                        summary { "Give this ticket to someone" }
                        form method="post" action={ "/tickets/" (t.id) "/transfer" } {
                            (csrf_field(viewer))
                            label for={ "to-" (t.id) } { "Their e-mail address" }
                            input id={ "to-" (t.id) } type="email" name="to_email" required autocomplete="email";
                            p.muted { "They accept under My tickets and get a new code; this one stops working then." }
                            button.button type="submit" { "Send ticket" }
                        }
                    }
                }
            }
        }
    }
}

fn tickets_by_event(
    viewer: &Viewer,
    tickets: &[TicketRecord],
    facts: &HashMap<EventId, EventFacts>,
    secrets: &HashMap<TicketId, [u8; 32]>,
    on_market: &OnMarket,
    orders: &HashMap<EventId, Vec<OrderId>>,
) -> Markup {
    let mut order: Vec<EventId> = Vec::new();
    let mut groups: HashMap<EventId, Vec<&TicketRecord>> = HashMap::new();
    for t in tickets {
        if !groups.contains_key(&t.event) {
            order.push(t.event);
        }
        groups.entry(t.event).or_default().push(t);
    }
    html! {
        @for event in &order {
            @let group = &groups[event];
            @let first = group[0];
            @let tz = facts.get(event).map(|f| f.timezone.as_str()).unwrap_or("UTC");
            section.panel.ticket-group aria-labelledby={ "ev-" (event) } {
                h2 id={ "ev-" (event) } { (first.event_title) }
                p.muted {
                    time datetime=(first.event_starts_at.to_rfc3339()) { (local_time(first.event_starts_at, tz)) }
                    " · " (first.venue_name)
                }
                @if facts.get(event).is_some_and(|f| f.cancelled) {
                    p.badge.bad { "Cancelled – every order is refunded" }
                } @else {
                    p { a href={ "/events/" (event) "/calendar.ics" } download { "Add to calendar" } }
                }
                @if let Some(mine) = orders.get(event) {
                    p.muted.order-links {
                        @if mine.len() == 1 { "Your order " } @else { "Your orders " }
                        @for (i, o) in mine.iter().enumerate() {
                            @if i > 0 { ", " }
                            a href={ "/orders/" (o) } { (o.reference()) }
                        }
                        " (receipt, refunds)"
                    }
                }
                @let resale = facts.get(event).and_then(|f| f.resale.as_ref());
                ul.tickets {
                    @for t in group {
                        @let market = Market {
                            listing: on_market.listings.get(&t.id),
                            offered: on_market.offered.contains(&t.id),
                            resale: resale.and_then(|(policy, caps)| Some((policy, *caps.get(&t.ticket_type)?))),
                        };
                        (ticket_card(viewer, t, tz, secrets.get(&t.id), market))
                    }
                }
            }
        }
    }
}

pub async fn order_page(State(state): State<AppState>, viewer: Viewer, Path(order): Path<String>) -> Response {
    let Ok(order_id) = order.parse::<Uuid>() else {
        return super::not_found_page_for(&viewer);
    };
    let Some(user) = viewer.user else {
        return signin_redirect(&format!("/orders/{order_id}"));
    };
    let order = match state.ticketing.order(user, OrderId::from_uuid(order_id)).await {
        Ok(o) => o,
        Err(e) => return failure(&viewer, e.into()).await,
    };
    // A ticket passed on to someone else is theirs: the buyer's page shows
    // where it was, never its code, which would admit whoever shows it.
    let (held, passed_on): (Vec<TicketRecord>, Vec<TicketRecord>) =
        order.tickets.iter().cloned().partition(|t| t.holder == user);
    let facts = event_facts(&state, user, &order.tickets).await;
    let secrets = rotating_secrets(&state, &held).await;
    let on_market = on_market(&state, user).await;
    let refunded: i64 =
        order.refunds.iter().filter(|r| r.status != store::RefundStatus::Failed).map(|r| r.amount.amount_minor()).sum();
    let back = domain::money::Money::new(refunded, order.total.currency()).unwrap_or(order.total);
    // Refunded in full, or of all that was left (a ticket resold on the
    // market paid its seller back another way). An order of free tickets
    // had nothing to give back.
    let free = order.total.amount_minor() == 0;
    let whole = (!free && refunded >= order.total.amount_minor()) || order.status == "refunded";
    let valid = |t: &&TicketRecord| t.status == domain::checkin::TicketStatus::Valid;
    // Tickets that still let someone in; one used at the gate stays as it
    // was, whatever came back.
    let admitting = held.iter().filter(valid).filter(|t| t.checked_in_at.is_none()).count();
    let used_kept = held.iter().filter(valid).any(|t| t.checked_in_at.is_some());
    let event_cancelled = order.tickets.first().and_then(|t| facts.get(&t.event)).is_some_and(|f| f.cancelled);
    // Passed on and still valid: the new holder's to show.
    let passed_on: Vec<&TicketRecord> = passed_on.iter().filter(valid).collect();
    let tz = order.tickets.first().and_then(|t| facts.get(&t.event)).map_or("UTC", |f| f.timezone.as_str());
    let offer = if whole { None } else { state.ticketing.refund_offer(user, &order).await.ok().flatten() };
    let body = html! {
        @if let Some(moved) = &offer {
            section.panel #refund-offer aria-labelledby="refund-offer-h" {
                h2 #refund-offer-h { "The event moved" }
                p { "It was " s { (local_time(moved.old_starts_at, tz)) } "; it is now " strong { (local_time(moved.new_starts_at, tz)) } "." }
                p { "Your tickets stay valid. If you cannot come, you can take your money back for the tickets of this order you still hold, until "
                    strong { (local_time(moved.refunds_until.unwrap_or(moved.new_starts_at), tz)) } "." }
                form.stack #refund-offer-form method="post" action={ "/orders/" (order.id) "/refund" } {
                    (csrf_field(&viewer))
                    label.checkbox { input #refund_confirm type="checkbox" name="confirm" value="yes" required; " I cannot come: refund my tickets; they stop admitting" }
                    div.actions { button.button.danger type="submit" { "Refund my tickets" } }
                }
            }
        }
        section.panel.confirmation {
            // The order's reference, as in the confirmation e-mail and the
            // organizer's console, which finds the order by it.
            @let still = html! {
                @if admitting > 0 {
                    (admitting) @if admitting == 1 { " of its tickets still admits: the one marked Valid below." }
                    @else { " of its tickets still admit: those marked Valid below." }
                } @else if used_kept { "Its unused tickets no longer admit; those already used at the gate stay as they were." }
                @else { "Its tickets no longer admit." }
            };
            @if event_cancelled && admitting == 0 {
                h1 { "Event cancelled" }
                p { "The event of order " strong { (order.id.reference()) } " was cancelled. "
                    @if free { "Its tickets were free, so there is nothing to pay back. " }
                    @else if refunded > 0 { strong { (money(&back)) } " was paid back. " }
                    @else { "The money is being paid back. " }
                    (still) }
            } @else if whole && free {
                h1 { "Cancelled" }
                p { "Order " strong { (order.id.reference()) } " was cancelled by the organizer. Its tickets were free, so there was nothing to pay back. " (still) }
            } @else if whole {
                h1 { "Refunded" }
                p { "Order " strong { (order.id.reference()) } " was refunded: " strong { (money(&back)) } " paid back. " (still) }
            } @else if admitting == 0 && !held.is_empty() && !used_kept {
                h1 { "Cancelled" }
                p { "The tickets of order " strong { (order.id.reference()) } " you held were cancelled by the organizer: they no longer admit." }
                @if refunded > 0 { p { strong { (money(&back)) } " of it was refunded." } }
            } @else {
                h1 { "You're going!" }
                p { "Order " strong { (order.id.reference()) }
                @if free { " is confirmed: the tickets are free. " } @else { " is paid: " strong { (money(&order.total)) } ". " }
                @if admitting > 0 {
                    "Your " (admitting) @if admitting == 1 { " ticket is" } @else { " tickets are" } " below and under My tickets, also offline." }
                }
                @if refunded > 0 { p { strong { (money(&back)) } " of it was refunded." } }
            }
            @if !passed_on.is_empty() {
                p #passed-on { "Passed on to someone else, and now theirs to show: "
                    @for (i, t) in passed_on.iter().enumerate() {
                        @if i > 0 { "; " }
                        (ticket_place(t))
                    }
                    "." }
            }
            @if !order.refunds.is_empty() {
                ul.plain #refunds {
                    @for r in &order.refunds {
                        li {
                            (money(&r.amount)) " · " (local_time(r.created_at, tz)) " · "
                            @match r.status {
                                store::RefundStatus::Pending => "on its way back to you",
                                store::RefundStatus::Refunded => "paid back",
                                store::RefundStatus::Failed => "the payment provider refused it; the organizer has been told",
                            }
                        }
                    }
                }
            }
            p { a.button.primary href="/tickets" { "My tickets" } }
        }
        div data-offline-tickets="1" { (tickets_by_event(&viewer, &held, &facts, &secrets, &on_market, &HashMap::new())) }
    };
    let title = if whole { "Order refunded" } else { "Order confirmed" };
    page(&viewer, StatusCode::OK, title, Section::Tickets, &["tickets.js"], body)
}

/// The buyer takes the refund a moved event's organizer offered.
pub async fn refund_after_move(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    viewer: Viewer,
    Path(order): Path<String>,
    form: Fields,
) -> Response {
    let Ok(order_id) = order.parse::<Uuid>() else {
        return super::not_found_page_for(&viewer);
    };
    let back = format!("/orders/{order_id}");
    let Some(user) = viewer.user else {
        return signin_redirect(&back);
    };
    if !csrf_ok(&headers, form.csrf()) || form.get("confirm") != Some("yes") {
        return Redirect::to(&back).into_response();
    }
    match state.ticketing.refund_after_move(user, OrderId::from_uuid(order_id)).await {
        Ok(_) => Redirect::to(&back).into_response(),
        Err(e) => failure(&viewer, e.into()).await,
    }
}

#[derive(Deserialize)]
pub struct TicketsQuery {
    /// The secret from a transfer offer's e-mail.
    claim: Option<String>,
}

pub async fn tickets_page(
    State(state): State<AppState>,
    viewer: Viewer,
    PageQuery(q): PageQuery<TicketsQuery>,
) -> Response {
    let claim = q.claim.filter(|c| !c.is_empty());
    let Some(user) = viewer.user else {
        // The offer's link signs in (or up) and comes back with its claim.
        return match &claim {
            Some(c) => signin_redirect(&format!("/tickets?claim={}#incoming", urlencode(c))),
            None => signin_redirect("/tickets"),
        };
    };
    let (me, first_offer) = match state.ticketing.store().user_by_id(user).await {
        Ok(Some(me)) => match state.ticketing.store().first_transfer_to(&me.email).await {
            Ok(first) => (me, first),
            Err(e) => return failure(&viewer, e.into()).await,
        },
        Ok(None) => return signin_redirect("/tickets"),
        Err(e) => return failure(&viewer, e.into()).await,
    };
    let strict = state.ticketing.settings().transfers_need_confirmed_address;
    let tickets = match state.ticketing.store().tickets_of(user).await {
        Ok(t) => t,
        Err(e) => return failure(&viewer, e.into()).await,
    };
    let facts = event_facts(&state, user, &tickets).await;
    let secrets = rotating_secrets(&state, &tickets).await;
    let on_market = on_market(&state, user).await;
    // The user's own orders, by event: receipts and refunds are on their pages.
    let mut orders: HashMap<EventId, Vec<OrderId>> = HashMap::new();
    for o in state.ticketing.store().orders_of(user).await.unwrap_or_default() {
        orders.entry(o.event).or_default().push(o.id);
    }
    let incoming = state.ticketing.incoming_transfers(user).await.unwrap_or_default();
    let outgoing = state.ticketing.outgoing_transfers(user).await.unwrap_or_default();
    let offered: Vec<_> = incoming.iter().chain(&outgoing).collect();
    let offer_events = offer_events(&state, user, &offered).await;
    let now = state.ticketing.now();
    let (upcoming, past): (Vec<TicketRecord>, Vec<TicketRecord>) =
        tickets.into_iter().partition(|t| facts.get(&t.event).is_none_or(|f| f.ends_at > now));
    let body = html! {
        h1 { "My tickets" }
        p #offline-state.hint aria-live="polite" { "Show the QR code at the gate. Tickets you open here stay available without a network." }
        @if me.email_verified_at.is_none() {
            form.hint #confirm-address method="post" action="/verify-email/send" {
                (csrf_field(&viewer))
                "Your address " strong { (me.email) } " is not confirmed yet: open the link we mailed there, so that tickets passed on to you can be accepted here. "
                button.button type="submit" { "Send a new link" }
            }
        }
        @if !incoming.is_empty() {
            section.panel aria-labelledby="incoming" {
                h2 #incoming { "Tickets offered to you" }
                ul {
                    @for offer in &incoming {
                        @let event = offer_events.get(&offer.id);
                        // An account that has not confirmed its address may
                        // have to accept with the secret from the offer's
                        // e-mail, carried here by its link.
                        @let needed = ticketing::transfers::claim_needed(&me, first_offer.unwrap_or(offer.created_at), offer, strict);
                        @let claimed = claim.as_deref().filter(|c| ticketing::transfers::claim_matches(offer, c));
                        li {
                            form method="post" action={ "/transfers/" (offer.id) "/accept" } {
                                (csrf_field(&viewer))
                                @if let Some(c) = claimed { input type="hidden" name="claim" value=(c); }
                                "A ticket "
                                @if let Some(e) = event {
                                    "for " strong { (e.title) } " (" (e.place) ") "
                                    @if let Some(from) = &e.from { "from " (from) " " }
                                }
                                "is waiting for you (until " (OfferEvent::deadline(event, offer.expires_at)) "). "
                                @if needed && claimed.is_none() {
                                    span.hint { "To accept it, open the link in the e-mail sent to " strong { (offer.to_email) } "." }
                                } @else {
                                    button.button.primary type="submit" { "Accept ticket" }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if !outgoing.is_empty() {
            section.panel aria-labelledby="outgoing" {
                h2 #outgoing { "Tickets you are giving away" }
                p.hint { "Each stays yours until it is accepted. Withdraw an offer to keep the ticket or to send it to another address." }
                ul {
                    @for offer in &outgoing {
                        li {
                            form method="post" action={ "/transfers/" (offer.id) "/cancel" } {
                                (csrf_field(&viewer))
                                @if let Some(e) = offer_events.get(&offer.id) { (e.place) " for " (e.title) ": offered to " } @else { "Offered to " }
                                strong { (offer.to_email) } " until "
                                (OfferEvent::deadline(offer_events.get(&offer.id), offer.expires_at)) ". "
                                button.button type="submit" { "Withdraw offer" }
                            }
                        }
                    }
                }
            }
        }
        @if upcoming.is_empty() && past.is_empty() {
            div.empty {
                h2 { "No tickets yet" }
                p { "When you buy tickets they appear here, with the QR code to show at the gate." }
                p { a.button.primary href="/" { "Find events" } }
            }
        }
        // Shown by push.js where the browser can receive push messages.
        section.panel #reminders hidden aria-labelledby="reminders-h" {
            h2 #reminders-h { "Reminders" }
            p.hint { "Get a notification on this device the day before each of your events." }
            label.toggle {
                input #reminders-toggle type="checkbox";
                " Allow reminders on this device"
            }
            p #reminders-state.hint aria-live="polite" {}
        }
        div #tickets data-offline-tickets="1" {
            (tickets_by_event(&viewer, &upcoming, &facts, &secrets, &on_market, &orders))
            @if !past.is_empty() {
                h2 { "Past events" }
                (tickets_by_event(&viewer, &past, &facts, &secrets, &on_market, &orders))
            }
        }
    };
    let mut response = page(&viewer, StatusCode::OK, "My tickets", Section::Tickets, &["tickets.js", "push.js"], body);
    // Personal: never in a shared cache. The service worker keeps its own copy.
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-cache"));
    response
}

pub async fn ticket_qr(State(state): State<AppState>, viewer: Viewer, Path(ticket): Path<String>) -> Response {
    let Some(user) = viewer.user else {
        return (StatusCode::UNAUTHORIZED, "sign in to see your tickets").into_response();
    };
    let Ok(id) = ticket.parse::<Uuid>() else {
        return (StatusCode::NOT_FOUND, "no such ticket").into_response();
    };
    match state.ticketing.store().ticket(TicketId::from_uuid(id)).await {
        Ok(Some(t)) if t.holder == user => match qr::png(&t.barcode) {
            Ok(png) => ([(header::CONTENT_TYPE, "image/png"), (header::CACHE_CONTROL, qr::QR_CACHE_CONTROL)], png)
                .into_response(),
            Err(e) => Problem::internal(&e).into_response(),
        },
        Ok(_) => (StatusCode::NOT_FOUND, "no such ticket").into_response(),
        Err(e) => Problem::from(e).into_response(),
    }
}

// ---------------------------------------------------------------- calendar

pub async fn calendar(
    State(state): State<AppState>,
    headers: HeaderMap,
    viewer: Viewer,
    Path(event): Path<String>,
) -> Response {
    let Ok(id) = event.parse::<Uuid>() else {
        return super::not_found_page_for(&viewer);
    };
    let details = match state.ticketing.event_details(viewer.user, EventId::from_uuid(id)).await {
        Ok(d) => d,
        Err(e) => return failure(&viewer, e.into()).await,
    };
    let e = &details.event;
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
    let scheme = if viewer.secure { "https" } else { "http" };
    let url = format!("{scheme}://{host}/events/{}", e.id);
    let body = domain::calendar::event_ics(&domain::calendar::CalendarEvent {
        uid: &format!("{}@robust-ticketing", e.id),
        title: &e.title,
        location: &e.venue_name,
        description: "",
        starts_at: e.starts_at,
        ends_at: e.ends_at,
        stamp: state.ticketing.now(),
        url: Some(&url),
        // A cancelled event's file takes it out of the calendars it is in.
        cancelled: e.status == EventStatus::Cancelled,
    });
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/calendar; charset=utf-8")),
            (header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment; filename=\"event.ics\"")),
        ],
        body,
    )
        .into_response()
}

// ---------------------------------------------------------------- transfers

pub async fn offer_transfer(
    State(state): State<AppState>,
    headers: HeaderMap,
    viewer: Viewer,
    Path(ticket): Path<String>,
    form: Fields,
) -> Response {
    let (user, ticket_id) = match tickets_form_on(&viewer, &headers, &form, &ticket) {
        Ok(x) => x,
        Err(page) => return *page,
    };
    let to = form.text("to_email");
    match state.ticketing.offer_transfer(user, domain::ids::TicketId::from_uuid(ticket_id), &to).await {
        Ok(offer) => {
            let event = offer_event(&state, user, &offer).await;
            transfer_message(
                &viewer,
                StatusCode::OK,
                &format!(
                    "The ticket is offered to {}. It stays yours until they accept (by {}).",
                    offer.to_email,
                    OfferEvent::deadline(event.as_ref(), offer.expires_at)
                ),
            )
        }
        Err(e) => transfer_refused(&viewer, e.into()).await,
    }
}

pub async fn accept_transfer(
    State(state): State<AppState>,
    headers: HeaderMap,
    viewer: Viewer,
    Path(transfer): Path<String>,
    form: Fields,
) -> Response {
    let user = match tickets_form_user(&viewer, &headers, &form) {
        Ok(user) => user,
        Err(page) => return *page,
    };
    match state.ticketing.accept_transfer(user, &transfer, form.get("claim")).await {
        Ok(_) => Redirect::to("/tickets").into_response(),
        Err(e) => transfer_refused(&viewer, e.into()).await,
    }
}

pub async fn cancel_transfer(
    State(state): State<AppState>,
    headers: HeaderMap,
    viewer: Viewer,
    Path(transfer): Path<String>,
    form: Fields,
) -> Response {
    let user = match tickets_form_user(&viewer, &headers, &form) {
        Ok(user) => user,
        Err(page) => return *page,
    };
    match state.ticketing.cancel_transfer(user, &transfer).await {
        Ok(()) => transfer_message(
            &viewer,
            StatusCode::OK,
            "The offer is withdrawn; the ticket is yours to keep or to give to someone else.",
        ),
        Err(e) => transfer_refused(&viewer, e.into()).await,
    }
}

/// Lists one of the holder's tickets for resale at the price typed.
pub async fn sell_ticket(
    State(state): State<AppState>,
    headers: HeaderMap,
    viewer: Viewer,
    Path(ticket): Path<String>,
    form: Fields,
) -> Response {
    let (user, ticket_id) = match tickets_form_on(&viewer, &headers, &form, &ticket) {
        Ok(x) => x,
        Err(page) => return *page,
    };
    let ticket_id = TicketId::from_uuid(ticket_id);
    // The price is in the ticket's own currency.
    let currency = match state.ticketing.store().ticket(ticket_id).await {
        Ok(Some(t)) if t.holder == user => t.price.currency(),
        Ok(_) => return super::not_found_page_for(&viewer),
        Err(e) => return failure(&viewer, e.into()).await,
    };
    let price = super::console::parse_price(&form.text("price"), currency.exponent())
        .and_then(|minor| Money::new(minor, currency).ok());
    let Some(price) = price else {
        return transfer_message(&viewer, StatusCode::UNPROCESSABLE_ENTITY, "Enter a price such as 45.00.");
    };
    match state.ticketing.list_ticket(user, ticket_id, price).await {
        Ok(listing) => transfer_message(
            &viewer,
            StatusCode::OK,
            &format!(
                "Your ticket is for sale at {}. If it sells you are paid {} after the event; until then it is yours, \
                 and you can withdraw it from My tickets.",
                money(&listing.price),
                money(&listing.escrow)
            ),
        ),
        Err(e) => transfer_refused(&viewer, e.into()).await,
    }
}

/// Takes one of the seller's tickets off the resale market.
pub async fn withdraw_listing(
    State(state): State<AppState>,
    headers: HeaderMap,
    viewer: Viewer,
    Path(listing): Path<String>,
    form: Fields,
) -> Response {
    let (user, listing_id) = match tickets_form_on(&viewer, &headers, &form, &listing) {
        Ok(x) => x,
        Err(page) => return *page,
    };
    match state.ticketing.withdraw_listing(user, domain::ids::ListingId::from_uuid(listing_id)).await {
        Ok(()) => transfer_message(
            &viewer,
            StatusCode::OK,
            "Your ticket is off the market: it is yours to use or to give to someone.",
        ),
        Err(e) => transfer_refused(&viewer, e.into()).await,
    }
}

/// [`tickets_form_user`] for a form about one thing (a ticket, a listing)
/// named in its address: the user and the thing's id.
fn tickets_form_on(
    viewer: &Viewer,
    headers: &HeaderMap,
    form: &Fields,
    raw_id: &str,
) -> Result<(domain::ids::UserId, Uuid), Box<Response>> {
    let Ok(id) = raw_id.parse::<Uuid>() else {
        return Err(Box::new(super::not_found_page_for(viewer)));
    };
    Ok((tickets_form_user(viewer, headers, form)?, id))
}

/// The signed-in user who posted a form of My tickets with a fresh token,
/// or the page to answer instead.
fn tickets_form_user(
    viewer: &Viewer,
    headers: &HeaderMap,
    form: &Fields,
) -> Result<domain::ids::UserId, Box<Response>> {
    let Some(user) = viewer.user else {
        return Err(Box::new(signin_redirect("/tickets")));
    };
    if !csrf_ok(headers, form.csrf()) {
        return Err(Box::new(transfer_message(viewer, StatusCode::FORBIDDEN, STALE_FORM)));
    }
    Ok(user)
}

/// A form posted from a page open longer than its CSRF token lives.
const STALE_FORM: &str = "This page was open too long. Please try again.";

/// A refused transfer, offer or resale hold, told on the tickets page.
async fn transfer_refused(viewer: &Viewer, problem: crate::problem::Problem) -> Response {
    let (status, detail, _) = problem_detail(problem).await;
    transfer_message(viewer, status, &detail)
}

fn transfer_message(viewer: &Viewer, status: StatusCode, message: &str) -> Response {
    let body = html! {
        section.panel {
            h1 { "Your tickets" }
            @if status.is_success() { (super::layout::notice(message)) } @else { (alert(message)) }
            p { a.button.primary href="/tickets" { "Back to my tickets" } }
        }
    };
    page(viewer, status, "Your tickets", Section::Tickets, &[], body)
}

pub async fn hold_listing(
    State(state): State<AppState>,
    headers: HeaderMap,
    viewer: Viewer,
    Path(listing): Path<String>,
    form: Fields,
) -> Response {
    let Ok(listing_id) = listing.parse::<Uuid>() else {
        return super::not_found_page_for(&viewer);
    };
    let Some(user) = viewer.user else {
        // Back to the event's resale offers after signing in, not the home page.
        let listing = state.ticketing.store().listing(domain::ids::ListingId::from_uuid(listing_id)).await;
        return match listing {
            Ok(Some(l)) => signin_redirect(&format!("/events/{}#resale-h", l.event)),
            _ => signin_redirect("/"),
        };
    };
    if !csrf_ok(&headers, form.csrf()) {
        return transfer_message(&viewer, StatusCode::FORBIDDEN, STALE_FORM);
    }
    let admission = super::session::cookie(&headers, super::session::ADMISSION_COOKIE);
    match state.ticketing.hold_listing(user, domain::ids::ListingId::from_uuid(listing_id), admission).await {
        Ok(hold) => Redirect::to(&format!("/checkout/{}", hold.id)).into_response(),
        Err(e) => transfer_refused(&viewer, e.into()).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_files_follow_rfc_5545() {
        let t: DateTime<Utc> = "2025-06-14T17:30:00Z".parse().unwrap();
        let long = "A very long title, with commas; and semicolons, that goes on and on past the limit of a line";
        let s = domain::calendar::event_ics(&domain::calendar::CalendarEvent {
            uid: "u1",
            title: long,
            location: "Hall",
            description: "",
            starts_at: t,
            ends_at: t + chrono::Duration::hours(2),
            stamp: t,
            url: Some("http://x/events/1"),
            cancelled: false,
        });
        assert!(s.starts_with("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"));
        assert!(s.contains("DTSTART:20250614T173000Z\r\n") && s.contains("DTEND:20250614T193000Z\r\n"));
        assert!(s.contains("\\,") && s.contains("\\;"));
        assert!(s.split("\r\n").all(|l| l.len() <= 75), "lines are folded");
        assert!(s.ends_with("END:VCALENDAR\r\n"));
    }

    #[test]
    fn offer_deadlines_are_in_the_venue_zone() {
        let at: DateTime<Utc> = "2025-06-14T17:30:00Z".parse().unwrap();
        let event =
            OfferEvent { title: "Gig".into(), place: "A1".into(), from: None, timezone: "Europe/Berlin".into() };
        assert_eq!(OfferEvent::deadline(Some(&event), at), "Sat 14 Jun 2025, 19:30 CEST");
        assert_eq!(OfferEvent::deadline(None, at), "Sat 14 Jun 2025, 17:30 UTC");
    }

    #[test]
    fn hold_forms_parse_or_explain() {
        let f = Fields(vec![("seat".into(), Uuid::nil().to_string()), ("ga_x".into(), "0".into())]);
        assert_eq!(parse_hold_form(&f).unwrap().0.seats.len(), 1);
        assert!(parse_hold_form(&Fields(vec![])).is_err());
        assert!(parse_hold_form(&Fields(vec![("seat".into(), "nope".into())])).is_err());
        assert!(parse_hold_form(&Fields(vec![("best_qty".into(), "99".into())])).is_err());
    }
}
