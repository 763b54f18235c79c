//! An event's ticket types in the console: the list on the sales page, and
//! the form that adds one (a late release, an early-bird tier) or changes
//! one's name, price, limit per order or sales window.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use domain::event::{Admits, EventStatus, TicketType, TicketTypeChange, TicketTypeSpec};
use domain::ids::{GaAreaId, TicketTypeId};
use domain::money::{Currency, Money};
use maud::{Markup, html};
use ticketing::events::EventDetails;
use uuid::Uuid;

use super::console::{local_to_utc, page, parse_price, price_zones};
use super::layout::{alert, csrf_field, local_time, money, problem_detail};
use super::manage::{local_input, managed, sales_path, stale};
use super::session::{Fields, Viewer, csrf_ok};
use crate::AppState;

type Instant = chrono::DateTime<chrono::Utc>;

/// The limit per order a new type gets unless the organizer says otherwise.
const MAX_PER_ORDER_DEFAULT: u32 = 10;

/// What a ticket type is for, as the organizer reads it.
fn admits_label(admits: &Admits, map: Option<&store::SeatMapRecord>) -> String {
    match admits {
        Admits::PriceZone(z) => format!("Seats in zone “{z}”"),
        Admits::GaArea(a) => {
            let name = map.and_then(|m| m.ga_areas.iter().find(|g| g.id == *a)).map(|g| g.name.as_str());
            format!("Standing: {}", name.unwrap_or("an area"))
        }
    }
}

fn window(t: &TicketType, tz: &str) -> String {
    match (t.sales_start, t.sales_end) {
        (None, None) => "Until the event ends".into(),
        (Some(s), None) => format!("From {}", local_time(s, tz)),
        (None, Some(e)) => format!("Until {}", local_time(e, tz)),
        (Some(s), Some(e)) => format!("{} to {}", local_time(s, tz), local_time(e, tz)),
    }
}

/// The sales page's list of ticket types, with their edit links.
pub fn panel(details: &EventDetails, map: Option<&store::SeatMapRecord>, open: bool) -> Markup {
    let e = &details.event;
    html! {
        section.panel #ticket-types aria-labelledby="types-h" {
            h2 #types-h { "Ticket types" }
            div.table-wrap {
                table #ticket-types-table {
                    thead { tr {
                        th scope="col" { "Name" } th scope="col" { "For" } th.num scope="col" { "Price" }
                        th.num scope="col" { "Per order" } th scope="col" { "On sale" }
                        @if open { th scope="col" { span.visually-hidden { "Actions" } } }
                    } }
                    tbody {
                        @for t in &details.ticket_types {
                            tr {
                                th scope="row" { (t.name) }
                                td { (admits_label(&t.admits, map)) }
                                td.num { (money(&t.price)) }
                                td.num { (t.max_per_order) }
                                td { (window(t, &e.timezone)) }
                                @if open {
                                    td.actions {
                                        a.button.small href={ "/console/events/" (e.id) "/ticket-types/" (t.id) }
                                            aria-label={ "Change " (t.name) } { "Change" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if open {
                p.hint { "A new price applies to holds placed from then on; a buyer already holding seats pays what they saw." }
                p { a.button href={ "/console/events/" (e.id) "/ticket-types/new" } { "Add a ticket type" } }
            }
        }
    }
}

/// The form as entered: everything stays text, so that a typo comes back
/// as typed.
#[derive(Clone, Debug, Default)]
struct Form {
    /// Asked only while the event has no ticket types: later ones share
    /// the first one's currency.
    currency: String,
    name: String,
    admits: String,
    price: String,
    max_per_order: String,
    sales_start: String,
    sales_end: String,
}

impl Form {
    fn of(t: &TicketType, tz: &str) -> Self {
        let admits = match &t.admits {
            Admits::PriceZone(z) => format!("zone:{z}"),
            Admits::GaArea(a) => format!("area:{a}"),
        };
        Self {
            currency: t.price.currency().as_str().to_owned(),
            name: t.name.clone(),
            admits,
            price: crate::routes::fees::decimal(t.price.amount_minor(), t.price.currency().exponent()),
            max_per_order: t.max_per_order.to_string(),
            sales_start: t.sales_start.map(|s| local_input(s, tz)).unwrap_or_default(),
            sales_end: t.sales_end.map(|s| local_input(s, tz)).unwrap_or_default(),
        }
    }

    fn from_fields(f: &Fields) -> Self {
        Self {
            currency: f.text("currency"),
            name: f.text("name"),
            admits: f.text("admits"),
            price: f.text("price"),
            max_per_order: f.text("max_per_order"),
            sales_start: f.text("sales_start"),
            sales_end: f.text("sales_end"),
        }
    }

    fn price(&self, currency: Currency) -> Result<Money, String> {
        parse_price(&self.price, currency.exponent()).and_then(|minor| Money::new(minor, currency).ok()).ok_or_else(
            || format!("Enter the price as a number, like {}.", money(&Money::new(4500, currency).expect("in range"))),
        )
    }

    fn max_per_order(&self) -> Result<u32, String> {
        let max = domain::event::MAX_PER_ORDER_LIMIT;
        match self.max_per_order.as_str() {
            "" => Ok(MAX_PER_ORDER_DEFAULT),
            raw => raw
                .parse()
                .ok()
                .filter(|n| (1..=max).contains(n))
                .ok_or_else(|| format!("Enter the most tickets in one order as a whole number from 1 to {max}.")),
        }
    }

    fn date(raw: &str, tz: &str, what: &str) -> Result<Option<Instant>, String> {
        match raw {
            "" => Ok(None),
            raw => local_to_utc(raw, tz)
                .map(Some)
                .ok_or_else(|| format!("Enter when sales {what} as a date and time, or leave it empty.")),
        }
    }

    fn admits(&self) -> Result<Admits, String> {
        let bad = || "Choose what the tickets are for.".to_owned();
        match self.admits.split_once(':') {
            Some(("zone", z)) if !z.is_empty() => Ok(Admits::PriceZone(z.to_owned())),
            Some(("area", a)) => a.parse::<Uuid>().map(|u| Admits::GaArea(GaAreaId::from_uuid(u))).map_err(|_| bad()),
            _ => Err(bad()),
        }
    }

    /// When sales open and close, if the window makes sense.
    fn window(&self, tz: &str) -> Result<(Option<Instant>, Option<Instant>), String> {
        let (start, end) = (Self::date(&self.sales_start, tz, "open")?, Self::date(&self.sales_end, tz, "close")?);
        if let (Some(s), Some(e)) = (start, end)
            && e <= s
        {
            return Err("Sales must close after they open.".into());
        }
        Ok((start, end))
    }

    fn spec(&self, currency: Currency, tz: &str) -> Result<TicketTypeSpec, String> {
        let (sales_start, sales_end) = self.window(tz)?;
        Ok(TicketTypeSpec {
            name: self.name.clone(),
            price: self.price(currency)?,
            admits: self.admits()?,
            max_per_order: self.max_per_order()?,
            sales_start,
            sales_end,
        })
    }

    fn change(&self, currency: Currency, tz: &str) -> Result<TicketTypeChange, String> {
        let (sales_start, sales_end) = self.window(tz)?;
        Ok(TicketTypeChange {
            name: Some(self.name.clone()),
            price: Some(self.price(currency)?),
            max_per_order: Some(self.max_per_order()?),
            sales_start: Some(sales_start),
            sales_end: Some(sales_end),
        })
    }
}

/// The event's currency: every ticket type has the first one's; the first
/// one's is what the form says.
fn currency_of(details: &EventDetails, form: &Form) -> Result<Currency, String> {
    match details.ticket_types.first() {
        Some(t) => Ok(t.price.currency()),
        None => form.currency.parse().map_err(|_| "Choose a currency.".to_owned()),
    }
}

fn form_page(
    viewer: &Viewer,
    details: &EventDetails,
    map: &store::SeatMapRecord,
    editing: Option<&TicketType>,
    form: &Form,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let e = &details.event;
    let tz = &e.timezone;
    let first = details.ticket_types.is_empty();
    let currency = currency_of(details, form).map(|c| c.as_str().to_owned()).unwrap_or_default();
    let action = match editing {
        Some(t) => format!("/console/events/{}/ticket-types/{}", e.id, t.id),
        None => format!("/console/events/{}/ticket-types/new", e.id),
    };
    let body = html! {
        p { a href=(sales_path(e.id)) { "← " (e.title) } }
        h1 { @if let Some(t) = editing { "Change “" (t.name) "”" } @else { "Add a ticket type" } }
        @if let Some(msg) = error { (alert(msg)) }
        form.stack #ticket-type-form method="post" action=(action) {
            (csrf_field(viewer))
            label for="tt_name" { "Name" }
            input #tt_name name="name" type="text" required maxlength="100" value=(form.name) placeholder="Early bird";
            @match editing {
                Some(t) => {
                    p.muted { "For: " (admits_label(&t.admits, Some(map))) ". This cannot change: tickets sold stay tickets for it." }
                }
                None => {
                    label for="tt_admits" { "For" }
                    select #tt_admits name="admits" required {
                        @for z in price_zones(map) {
                            @let value = format!("zone:{z}");
                            option value=(value) selected[form.admits == value] { "Seats in zone “" (z) "”" }
                        }
                        @for a in &map.ga_areas {
                            @let value = format!("area:{}", a.id);
                            option value=(value) selected[form.admits == value] { "Standing: " (a.name) }
                        }
                    }
                }
            }
            @if first {
                label for="tt_currency" { "Currency" }
                select #tt_currency name="currency" {
                    @for c in super::console::CURRENCIES { option value=(c) selected[form.currency == c] { (c) } }
                }
            }
            div.row-fields {
                div {
                    label for="tt_price" { @if first { "Price" } @else { "Price (" (currency) ")" } }
                    input #tt_price name="price" type="text" inputmode="decimal" required value=(form.price) placeholder="45.00";
                }
                div {
                    label for="tt_max" { "Most in one order" }
                    input #tt_max name="max_per_order" type="number" min="1" max=(domain::event::MAX_PER_ORDER_LIMIT)
                        inputmode="numeric" value=(form.max_per_order);
                }
            }
            div.row-fields {
                div {
                    label for="tt_start" { "Sales open (" (tz) ")" }
                    input #tt_start name="sales_start" type="datetime-local" value=(form.sales_start);
                }
                div {
                    label for="tt_end" { "Sales close (" (tz) ")" }
                    input #tt_end name="sales_end" type="datetime-local" value=(form.sales_end);
                }
            }
            p.hint { "Empty: on sale from publication until the event ends. Where two types are on sale for the same seats or area, a buyer gets the lower price: an early-bird tier needs a closing time." }
            div.actions {
                button.button.primary type="submit" { @if editing.is_some() { "Save changes" } @else { "Add ticket type" } }
                a.button href=(sales_path(e.id)) { "Cancel" }
            }
        }
        @if let Some(t) = editing {
            section.panel.danger-zone #delete-type aria-labelledby="delete-type-h" {
                h2 #delete-type-h { "Delete this ticket type" }
                p.hint { "Only a type nobody has held or bought can be deleted. To stop selling one, end its sales window above." }
                details.confirm-remove {
                    summary.button.small { "Delete…" }
                    form.inline method="post" action={ "/console/events/" (e.id) "/ticket-types/" (t.id) "/delete" } {
                        (csrf_field(viewer))
                        button.button.small.danger type="submit" { "Delete “" (t.name) "” now" }
                    }
                }
            }
        }
    };
    page(viewer, status, &format!("Ticket types · {}", e.title), &[], body)
}

/// The event if the viewer manages it and its sale is not over, with its
/// venue's map; otherwise the page to show instead.
async fn editable(
    state: &AppState,
    viewer: &Viewer,
    event: &str,
    back: &str,
) -> Result<(domain::ids::UserId, EventDetails, store::SeatMapRecord), Response> {
    let (user, details) = managed(state, viewer, event, back).await?;
    if matches!(details.event.status, EventStatus::Cancelled | EventStatus::Ended) {
        let status = if details.event.status == EventStatus::Cancelled { "cancelled" } else { "over" };
        return Err(super::layout::error_page(
            viewer,
            StatusCode::CONFLICT,
            "The sale is over",
            &format!("The event is {status}: its ticket types can no longer change."),
        ));
    }
    match state.ticketing.seat_map(details.event.venue).await {
        Ok((_, map)) => Ok((user, details, map)),
        Err(e) => Err(super::console::failure(viewer, e.into()).await),
    }
}

/// What a form posted about one ticket type works on: the manager, the
/// event, its seat map and the type; or the page to answer instead.
async fn posted_type(
    state: &AppState,
    viewer: &Viewer,
    headers: &HeaderMap,
    fields: &Fields,
    (event, ticket_type): (&str, &str),
    what: &str,
) -> Result<(domain::ids::UserId, EventDetails, store::SeatMapRecord, TicketType), Box<Response>> {
    let back = format!("/console/events/{event}/ticket-types/{ticket_type}");
    let (user, details, map) = editable(state, viewer, event, &back).await.map_err(Box::new)?;
    let Some(t) = find(&details, ticket_type) else { return Err(Box::new(super::not_found_page_for(viewer))) };
    if !csrf_ok(headers, fields.csrf()) {
        return Err(Box::new(stale(viewer, what)));
    }
    Ok((user, details, map, t))
}

fn find(details: &EventDetails, id: &str) -> Option<TicketType> {
    let id = TicketTypeId::from_uuid(id.parse::<Uuid>().ok()?);
    details.ticket_types.iter().find(|t| t.id == id).cloned()
}

pub async fn new_form(State(state): State<AppState>, viewer: Viewer, Path(event): Path<String>) -> Response {
    let back = format!("/console/events/{event}/ticket-types/new");
    let (_, details, map) = match editable(&state, &viewer, &event, &back).await {
        Ok(x) => x,
        Err(page) => return page,
    };
    let form = Form { max_per_order: MAX_PER_ORDER_DEFAULT.to_string(), currency: "EUR".into(), ..Form::default() };
    form_page(&viewer, &details, &map, None, &form, None, StatusCode::OK)
}

pub async fn add(
    State(state): State<AppState>,
    headers: HeaderMap,
    viewer: Viewer,
    Path(event): Path<String>,
    fields: Fields,
) -> Response {
    let back = format!("/console/events/{event}/ticket-types/new");
    let (user, details, map) = match editable(&state, &viewer, &event, &back).await {
        Ok(x) => x,
        Err(page) => return page,
    };
    if !csrf_ok(&headers, fields.csrf()) {
        return stale(&viewer, "add the ticket type");
    }
    let form = Form::from_fields(&fields);
    let again = |msg: &str, status| form_page(&viewer, &details, &map, None, &form, Some(msg), status);
    let spec = match currency_of(&details, &form).and_then(|c| form.spec(c, &details.event.timezone)) {
        Ok(s) => s,
        Err(msg) => return again(&msg, StatusCode::UNPROCESSABLE_ENTITY),
    };
    match state.ticketing.add_ticket_type(user, details.event.id, spec).await {
        Ok(_) => Redirect::to(&format!("{}#ticket-types", sales_path(details.event.id))).into_response(),
        Err(e) => {
            let (status, detail, _) = problem_detail(e.into()).await;
            again(&detail, status)
        }
    }
}

pub async fn edit_form(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((event, ticket_type)): Path<(String, String)>,
) -> Response {
    let back = format!("/console/events/{event}/ticket-types/{ticket_type}");
    let (_, details, map) = match editable(&state, &viewer, &event, &back).await {
        Ok(x) => x,
        Err(page) => return page,
    };
    let Some(t) = find(&details, &ticket_type) else { return super::not_found_page_for(&viewer) };
    let form = Form::of(&t, &details.event.timezone);
    form_page(&viewer, &details, &map, Some(&t), &form, None, StatusCode::OK)
}

pub async fn save(
    State(state): State<AppState>,
    headers: HeaderMap,
    viewer: Viewer,
    Path((event, ticket_type)): Path<(String, String)>,
    fields: Fields,
) -> Response {
    let (user, details, map, t) =
        match posted_type(&state, &viewer, &headers, &fields, (&event, &ticket_type), "save the ticket type").await {
            Ok(x) => x,
            Err(page) => return *page,
        };
    let form = Form::from_fields(&fields);
    let again = |msg: &str, status| form_page(&viewer, &details, &map, Some(&t), &form, Some(msg), status);
    let change = match currency_of(&details, &form).and_then(|c| form.change(c, &details.event.timezone)) {
        Ok(c) => c,
        Err(msg) => return again(&msg, StatusCode::UNPROCESSABLE_ENTITY),
    };
    match state.ticketing.change_ticket_type(user, details.event.id, t.id, &change).await {
        Ok(_) => Redirect::to(&format!("{}#ticket-types", sales_path(details.event.id))).into_response(),
        Err(e) => {
            let (status, detail, _) = problem_detail(e.into()).await;
            again(&detail, status)
        }
    }
}

pub async fn delete(
    State(state): State<AppState>,
    headers: HeaderMap,
    viewer: Viewer,
    Path((event, ticket_type)): Path<(String, String)>,
    fields: Fields,
) -> Response {
    let (user, details, map, t) =
        match posted_type(&state, &viewer, &headers, &fields, (&event, &ticket_type), "delete the ticket type").await {
            Ok(x) => x,
            // Deleted by the same form sent a moment ago (a double click):
            // back to the list, which no longer has it.
            Err(page) if page.status() == StatusCode::NOT_FOUND => {
                return Redirect::to(&format!("/console/events/{event}/sales#ticket-types")).into_response();
            }
            Err(page) => return *page,
        };
    match state.ticketing.delete_ticket_type(user, details.event.id, t.id).await {
        Ok(()) => Redirect::to(&format!("{}#ticket-types", sales_path(details.event.id))).into_response(),
        Err(e) => {
            let (status, detail, _) = problem_detail(e.into()).await;
            let form = Form::of(&t, &details.event.timezone);
            form_page(&viewer, &details, &map, Some(&t), &form, Some(&detail), status)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_reads_what_an_organizer_types() {
        let eur: Currency = "EUR".parse().unwrap();
        let form = Form {
            currency: "EUR".into(),
            name: "Early bird".into(),
            admits: "zone:stalls".into(),
            price: "39,5".into(),
            max_per_order: "".into(),
            sales_start: "".into(),
            sales_end: "2027-03-01T10:00".into(),
        };
        let spec = form.spec(eur, "Europe/Berlin").unwrap();
        assert_eq!(spec.price.amount_minor(), 3950);
        assert_eq!(spec.admits, Admits::PriceZone("stalls".into()));
        assert_eq!(spec.max_per_order, MAX_PER_ORDER_DEFAULT);
        assert_eq!(spec.sales_start, None);
        assert_eq!(spec.sales_end.unwrap().to_rfc3339(), "2027-03-01T09:00:00+00:00");
        let change = form.change(eur, "Europe/Berlin").unwrap();
        assert_eq!(change.sales_start, Some(None), "an empty date clears it");

        for (bad, says) in [
            (Form { price: "free".into(), ..form.clone() }, "price"),
            (Form { admits: "row:1".into(), ..form.clone() }, "what the tickets are for"),
            (Form { max_per_order: "lots".into(), ..form.clone() }, "whole number"),
            (Form { max_per_order: "51".into(), ..form.clone() }, "from 1 to 50"),
            (Form { sales_start: "tomorrow".into(), ..form.clone() }, "sales open"),
            (Form { sales_start: "2027-03-02T10:00".into(), ..form.clone() }, "close after they open"),
        ] {
            let err = bad.spec(eur, "Europe/Berlin").unwrap_err();
            assert!(err.contains(says), "{err}");
        }
    }
}
