//! The organizer console: events with sold / held / capacity and revenue,
//! the venue builder, the event form, publishing, and live sales.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use domain::event::{Admits, Category, EventSpec, EventStatus, TicketTypeSpec};
use domain::ids::{EventId, OrganizationId, UserId, VenueId};
use domain::money::{Currency, Money};
use domain::seatmap::{COORDINATE_ABS_MAX, GaAreaSpec, RowSeats, RowSpec, SeatMapSpec, SectionSpec};
use maud::{Markup, html};
use serde::Deserialize;
use store::{EventRecord, SeatStatus};
use ticketing::checkout::IdempotencyKey;
use ticketing::events::CreateEventError;
use ticketing::venues::{NewVenue, VenueEdit};

use super::layout::{self, Page, Section, alert, csrf_field, local_time, money, notice, problem_detail};
use super::session::{Fields, PageQuery, Viewer, csrf_ok};
use crate::AppState;
use crate::problem::Problem;
use uuid::Uuid;

/// Sections and GA areas the builder form shows without JavaScript; scripts add more.
const BUILDER_SECTIONS_DEFAULT: usize = 2;
const BUILDER_GA_AREAS_DEFAULT: usize = 1;
/// Radius of a curved section's first row, in seat widths, when the form does not say.
const CURVE_RADIUS_DEFAULT: f64 = 40.0;
/// Currencies the event form offers; any ISO 4217 code works through the API.
pub(super) const CURRENCIES: [&str; 8] = ["EUR", "USD", "GBP", "CHF", "SEK", "DKK", "PLN", "JPY"];
/// Time zones the venue form suggests; any IANA zone is accepted.
const TIMEZONES: [&str; 12] = [
    "Europe/Berlin",
    "Europe/London",
    "Europe/Paris",
    "Europe/Madrid",
    "Europe/Amsterdam",
    "Europe/Stockholm",
    "Europe/Warsaw",
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "Asia/Tokyo",
    "Australia/Sydney",
];

pub(super) fn page(viewer: &Viewer, status: StatusCode, title: &str, scripts: &[&str], body: Markup) -> Response {
    layout::respond(status, Page { title, viewer, section: Section::Console, scripts, body })
}

pub(super) fn signin(next: &str) -> Response {
    Redirect::to(&format!("/signin?next={next}")).into_response()
}

pub(super) async fn failure(viewer: &Viewer, problem: Problem) -> Response {
    let (status, detail, _) = problem_detail(problem).await;
    layout::error_page_in(
        viewer,
        status,
        "That did not work",
        &detail,
        Section::Console,
        ("/console", "Back to the console"),
    )
}

/// The organizations `user` manages (owner or admin), by when they joined.
pub(super) async fn managed_orgs(state: &AppState, user: UserId) -> Result<Vec<(OrganizationId, String)>, Problem> {
    let me = state.ticketing.me(user).await?.ok_or_else(|| Problem::unauthorized("the account no longer exists"))?;
    let mut orgs = Vec::new();
    for (org, role) in me.memberships {
        if role.can_manage_events() {
            let name =
                state.ticketing.store().organization_name(org).await?.unwrap_or_else(|| "Your organization".into());
            orgs.push((org, name));
        }
    }
    Ok(orgs)
}

/// The organization the console works on: the one the viewer chose, if
/// they still manage it, else the first one they manage.
pub(super) async fn managed_org(
    state: &AppState,
    viewer: &Viewer,
) -> Result<Option<(OrganizationId, String)>, Problem> {
    let Some(user) = viewer.user else { return Ok(None) };
    let mut orgs = managed_orgs(state, user).await?;
    let chosen = orgs.iter().position(|(org, _)| Some(*org) == viewer.org).unwrap_or(0);
    Ok((!orgs.is_empty()).then(|| orgs.swap_remove(chosen)))
}

/// Shows another of the viewer's organizations in the console.
pub async fn switch_organization(
    State(state): State<AppState>,
    headers: HeaderMap,
    viewer: Viewer,
    form: Fields,
) -> Response {
    let Some(user) = viewer.user else { return signin("/console") };
    if !csrf_ok(&headers, form.csrf()) {
        return Redirect::to("/console").into_response();
    }
    let orgs = match managed_orgs(&state, user).await {
        Ok(o) => o,
        Err(p) => return failure(&viewer, p).await,
    };
    match form.text("organization").parse::<OrganizationId>() {
        Ok(org) if orgs.iter().any(|(o, _)| *o == org) => {
            let mut r = Redirect::to("/console").into_response();
            r.headers_mut().append(axum::http::header::SET_COOKIE, super::session::org_cookie(org, viewer.secure));
            r
        }
        _ => failure(&viewer, Problem::not_found("you do not manage that organization")).await,
    }
}

/// Sold, held and total places of an event, seats and standing together.
pub struct Counts {
    pub sold: u64,
    pub held: u64,
    pub capacity: u64,
}

pub async fn counts(state: &AppState, user: UserId, event: EventId) -> Result<Counts, Problem> {
    let a = state.ticketing.availability(Some(user), event).await?;
    let mut c = Counts { sold: 0, held: 0, capacity: 0 };
    for (_, s) in &a.seats {
        c.capacity += 1;
        match s {
            SeatStatus::Sold => c.sold += 1,
            SeatStatus::Held => c.held += 1,
            SeatStatus::Available => {}
        }
    }
    for (_, capacity, remaining) in &a.ga {
        c.capacity += u64::from(*capacity);
        // Standing places taken are sold or held; the availability read does
        // not tell which, so the live stats refine this in the browser.
        c.sold += u64::from(capacity - remaining);
    }
    Ok(c)
}

#[derive(Deserialize, Default)]
pub struct ConsoleQuery {
    created: Option<String>,
    published: Option<String>,
    member_added: Option<String>,
    member_removed: Option<String>,
    role_changed: Option<String>,
    deleted: Option<String>,
    venue_deleted: Option<String>,
    joined: Option<String>,
    invitation_withdrawn: Option<String>,
    /// A delete sent twice (a double click, a resent form) found the thing
    /// gone: `venue` or `event`.
    gone: Option<String>,
    /// An invitation withdrawn twice, or accepted meanwhile.
    invitation_gone: Option<String>,
    fees_saved: Option<String>,
}

pub async fn home(State(state): State<AppState>, viewer: Viewer, PageQuery(q): PageQuery<ConsoleQuery>) -> Response {
    home_page(&state, &viewer, &q, None, StatusCode::OK).await
}

/// The console's home; `team_note` is what the team panel reports after an
/// invitation: the link it made, or the form as entered with why it failed.
pub(super) async fn home_page(
    state: &AppState,
    viewer: &Viewer,
    q: &ConsoleQuery,
    team_note: Option<super::team::TeamNote>,
    status: StatusCode,
) -> Response {
    let Some(user) = viewer.user else { return signin("/console") };
    let org = match managed_org(state, viewer).await {
        Ok(o) => o,
        Err(p) => return failure(viewer, p).await,
    };
    let Some((org, org_name)) = org else {
        // Gate staff of someone else's organization come here too: their
        // work is the scanner; starting an organization of their own is
        // what this page offers everyone else.
        let gate_staff = viewer.staff;
        let body = html! {
            @if gate_staff {
                (notice("You are gate staff: the events you scan are under Scanner. Below, you can start an organization of your own."))
                p { a.button.primary href="/gate" { "Open the scanner" } }
            }
            (create_org_markup(viewer, "", None))
        };
        return page(viewer, StatusCode::OK, "Console", &[], body);
    };
    let events = match state.ticketing.events_of(user, org).await {
        Ok(e) => e,
        Err(e) => return failure(viewer, e.into()).await,
    };
    let venues = state.ticketing.venues_of(user, org).await.unwrap_or_default();
    let all_orgs = managed_orgs(state, user).await.unwrap_or_default();
    let members = match state.ticketing.members(user, org).await {
        Ok(m) => m,
        Err(e) => return failure(viewer, e.into()).await,
    };
    let invitations = match state.ticketing.invitations(user, org).await {
        Ok(i) => i,
        Err(e) => return failure(viewer, e.into()).await,
    };
    let mut rows = Vec::new();
    for e in &events {
        let c = counts(state, user, e.id).await.ok();
        rows.push((e, c));
    }
    // Owners and admins see the fee; only the owner changes it.
    let fees = state.ticketing.organization_fees(user, org).await.ok();
    let owner = members.iter().any(|m| m.user == user && m.role == domain::auth::Role::Owner);
    let body = html! {
        div.page-head {
            div {
                h1 { "Console" }
                @if all_orgs.len() > 1 {
                    form.inline #org-switch method="post" action="/console/organization/switch" {
                        (csrf_field(viewer))
                        label.visually-hidden for="org-choice" { "Organization" }
                        select #org-choice name="organization" {
                            @for (id, name) in &all_orgs {
                                option value=(id) selected[*id == org] { (name) }
                            }
                        }
                        " "
                        button.button.small type="submit" { "Show" }
                    }
                } @else {
                    p.muted { (org_name) }
                }
            }
            div.actions {
                a.button href="/console/venues/new" { "New venue" }
                @if !venues.is_empty() { a.button.primary href="/console/events/new" { "New event" } }
            }
        }
        @if q.created.is_some() { (notice("Event created as a draft. Publish it to put it on sale.")) }
        @if q.published.is_some() { (notice("Published: the event is on sale and listed on the home page.")) }
        @if q.deleted.is_some() { (notice("Draft deleted.")) }
        @if q.venue_deleted.is_some() { (notice("Venue deleted, with its seat map.")) }
        @match q.gone.as_deref() {
            Some("venue") => { (notice("That venue is deleted already.")) }
            Some("event") => { (notice("That draft is deleted already.")) }
            _ => {}
        }
        @if q.joined.is_some() { (notice(&format!("Welcome to {org_name}: you are on the team."))) }
        @if venues.is_empty() {
            div.empty {
                h2 { "Start with a venue" }
                p { "Build the seat map of the place where your events happen: sections of rows and seats, and standing areas." }
                p { a.button.primary href="/console/venues/new" { "Build a venue" } }
            }
        } @else if events.is_empty() {
            div.empty {
                h2 { "No events yet" }
                p { "Create an event at one of your venues, set its prices, and publish it." }
                p { a.button.primary href="/console/events/new" { "Create an event" } }
            }
        } @else {
            div.table-wrap {
                table.console-events #console-events {
                    caption.visually-hidden { "Your events" }
                    thead { tr {
                        th scope="col" { "Event" } th scope="col" { "Status" } th.num scope="col" { "Sold" }
                        th.num scope="col" { "Held" } th.num scope="col" { "Capacity" } th.num scope="col" { "Revenue" } th scope="col" { span.visually-hidden { "Actions" } }
                    } }
                    tbody {
                        @for (e, c) in &rows { (event_row(e, c.as_ref())) }
                    }
                }
            }
        }
        @if !venues.is_empty() {
            section.panel {
                h2 { "Venues" }
                ul.plain {
                    @for v in &venues {
                        li {
                            strong { (v.name) } " · " (v.timezone) @if !v.address.is_empty() { " · " (v.address) }
                            " " a href={ "/console/venues/" (v.id) } aria-label={ "Change " (v.name) } { "Change" }
                        }
                    }
                }
            }
        }
        @if let Some(fees) = fees { (fees_panel(viewer, fees, owner, q.fees_saved.is_some())) }
        @let said = if q.member_added.is_some() {
            Some("Added to the team. They see the scanner or the console when they next open a page.")
        } else if q.member_removed.is_some() {
            Some("Removed from the team.")
        } else if q.role_changed.is_some() {
            Some("Role changed. It applies to their next page or scan.")
        } else if q.invitation_withdrawn.is_some() {
            Some("Invitation withdrawn: its link no longer works.")
        } else if q.invitation_gone.is_some() {
            Some("That invitation is no longer open: it was withdrawn or accepted already.")
        } else {
            None
        };
        (super::team::panel(viewer, user, &members, &invitations, team_note.as_ref(), said))
    };
    page(viewer, status, "Console", &["sales.js"], body)
}

pub(super) fn status_label(s: EventStatus) -> &'static str {
    match s {
        EventStatus::Draft => "Draft",
        EventStatus::Published => "On sale",
        EventStatus::Ended => "Ended",
        EventStatus::Cancelled => "Cancelled",
        #[allow(unreachable_patterns)]
        _ => "—",
    }
}

fn event_row(e: &EventRecord, c: Option<&Counts>) -> Markup {
    html! {
        tr data-event=(e.id) {
            th scope="row" {
                a href={ "/events/" (e.id) } { (e.title) }
                br; span.muted.small { (local_time(e.starts_at, &e.timezone)) " · " (e.venue_name) }
            }
            td { span class={ "status status-" (e.status.as_str()) } { (status_label(e.status)) } }
            @match c {
                Some(c) => {
                    td.num data-stat="sold" { (c.sold) }
                    td.num data-stat="held" { (c.held) }
                    td.num data-stat="capacity" { (c.capacity) }
                }
                None => { td.num { "–" } td.num { "–" } td.num { "–" } }
            }
            td.num data-stat="revenue" { span.muted { "–" } }
            td.actions {
                @if e.status == EventStatus::Draft {
                    a.button.small.primary href={ "/console/events/" (e.id) "/publish" } aria-label={ "Review and publish " (e.title) } { "Publish…" }
                    a.button.small href={ "/console/events/" (e.id) "/sales" } aria-label={ "Manage " (e.title) } { "Manage" }
                } @else {
                    a.button.small href={ "/console/events/" (e.id) "/sales" } aria-label={ "Live sales of " (e.title) } { "Live sales" }
                    // Nobody is let in to a cancelled event.
                    @if e.status != EventStatus::Cancelled {
                        a.button.small href={ "/gate/" (e.id) } aria-label={ "Scanner for " (e.title) } { "Scanner" }
                    }
                }
            }
        }
    }
}

fn create_org_markup(viewer: &Viewer, name: &str, error: Option<&str>) -> Markup {
    html! {
        section.panel.narrow {
            h1 { "Sell your own events" }
            p { "Create an organization to build venues, create events and sell tickets. You become its owner and can add admins and gate staff." }
            @if let Some(e) = error { (alert(e)) }
            form.stack method="post" action="/console/organization" {
                (csrf_field(viewer))
                label for="org_name" { "Organization name" }
                input #org_name name="name" type="text" required maxlength="200" value=(name) autocomplete="organization";
                button.button.primary type="submit" { "Create organization" }
            }
        }
    }
}

pub async fn create_organization(
    State(state): State<AppState>,
    headers: HeaderMap,
    viewer: Viewer,
    form: Fields,
) -> Response {
    let Some(user) = viewer.user else { return signin("/console") };
    let name = form.text("name");
    if !csrf_ok(&headers, form.csrf()) {
        let m = create_org_markup(&viewer, &name, Some("This form was open too long. Please submit it again."));
        return page(&viewer, StatusCode::FORBIDDEN, "Console", &[], m);
    }
    match state.ticketing.create_organization(user, &name).await {
        Ok(_) => Redirect::to("/console").into_response(),
        Err(e) => {
            let (status, detail, _) = problem_detail(e.into()).await;
            page(&viewer, status, "Console", &[], create_org_markup(&viewer, &name, Some(&detail)))
        }
    }
}

// ---------------------------------------------------------------- venue builder

/// One section as typed into the builder form.
#[derive(Clone, Default)]
struct SectionInput {
    name: String,
    zone: String,
    rows: String,
    seats: String,
    shape: String,
    radius: String,
    /// Wheelchair spaces as typed: row and seat, `A1 A2 D14`.
    accessible: String,
}

#[derive(Clone, Default)]
struct GaInput {
    name: String,
    capacity: String,
}

#[derive(Clone, Default)]
struct VenueInput {
    name: String,
    address: String,
    timezone: String,
    sections: Vec<SectionInput>,
    areas: Vec<GaInput>,
    /// Made when the form page is drawn (a UUID): the same form sent again
    /// answers the venue it made.
    form_key: String,
}

impl VenueInput {
    fn from_form(f: &Fields) -> Self {
        let col = |n: &str| f.all(n).map(|v| v.trim().to_owned()).collect::<Vec<_>>();
        let (names, zones, rows, seats, shapes, radii, accessible) = (
            col("section_name"),
            col("section_zone"),
            col("section_rows"),
            col("section_seats"),
            col("section_shape"),
            col("section_radius"),
            col("section_accessible"),
        );
        let at = |v: &Vec<String>, i: usize| v.get(i).cloned().unwrap_or_default();
        let sections = (0..names.len())
            .map(|i| SectionInput {
                name: at(&names, i),
                zone: at(&zones, i),
                rows: at(&rows, i),
                seats: at(&seats, i),
                shape: at(&shapes, i),
                radius: at(&radii, i),
                accessible: at(&accessible, i),
            })
            .collect();
        let (ga_names, ga_caps) = (col("ga_name"), col("ga_capacity"));
        let areas =
            (0..ga_names.len()).map(|i| GaInput { name: at(&ga_names, i), capacity: at(&ga_caps, i) }).collect();
        Self {
            name: f.text("name"),
            address: f.text("address"),
            timezone: f.text("timezone"),
            sections,
            areas,
            form_key: f.text("form_key"),
        }
    }

    fn blank() -> Self {
        let mut sections = vec![SectionInput {
            name: "Stalls".into(),
            zone: "stalls".into(),
            rows: "10".into(),
            seats: "20".into(),
            shape: "curved".into(),
            radius: String::new(),
            accessible: String::new(),
        }];
        sections.resize(BUILDER_SECTIONS_DEFAULT, SectionInput { shape: "straight".into(), ..Default::default() });
        Self {
            timezone: "Europe/Berlin".into(),
            sections,
            areas: vec![GaInput::default(); BUILDER_GA_AREAS_DEFAULT],
            form_key: uuid::Uuid::new_v4().to_string(),
            ..Default::default()
        }
    }
}

/// Row labels A, B, …, Z, AA, AB, …
pub fn row_label(mut i: usize) -> String {
    let mut out = Vec::new();
    loop {
        out.push(b'A' + (i % 26) as u8);
        if i < 26 {
            break;
        }
        i = i / 26 - 1;
    }
    out.reverse();
    String::from_utf8(out).expect("ASCII letters")
}

/// Wheelchair spaces typed as row and seat (`A1 a2, D14`), checked against
/// a section of `rows` rows of `seats` seats: the seat labels of each row
/// (by its index) that are such spaces.
fn wheelchair_spaces(typed: &str, rows: usize, seats: u32) -> Result<HashMap<usize, Vec<String>>, String> {
    let mut spaces: HashMap<usize, Vec<String>> = HashMap::new();
    for token in typed.split(|c: char| c.is_whitespace() || c == ',' || c == ';').filter(|t| !t.is_empty()) {
        let token = token.to_ascii_uppercase();
        let split = token.find(|c: char| c.is_ascii_digit()).unwrap_or(token.len());
        let (row, seat) = token.split_at(split);
        let index = (0..rows).find(|&r| row_label(r) == row);
        let number = seat.parse::<u32>().ok().filter(|n| (1..=seats).contains(n));
        let (Some(index), Some(number)) = (index, number) else {
            return Err(format!(
                "wheelchair space '{token}' is not a seat here: give the row and the seat, rows {} to {}, seats 1 to {seats} (e.g. A1).",
                row_label(0),
                row_label(rows.saturating_sub(1))
            ));
        };
        let labels = spaces.entry(index).or_default();
        if !labels.contains(&number.to_string()) {
            labels.push(number.to_string());
        }
    }
    Ok(spaces)
}

fn parse_venue(input: &VenueInput) -> Result<NewVenue, String> {
    let mut sections = Vec::new();
    for (i, s) in input.sections.iter().enumerate() {
        if s.name.is_empty() && s.rows.is_empty() && s.seats.is_empty() {
            continue;
        }
        let label = if s.name.is_empty() { format!("Section {}", i + 1) } else { s.name.clone() };
        let rows: usize =
            s.rows.parse().map_err(|_| format!("{label}: enter the number of rows as a whole number."))?;
        let seats: u32 = s.seats.parse().map_err(|_| format!("{label}: enter the seats per row as a whole number."))?;
        if rows == 0 || rows > domain::seatmap::ROWS_PER_SECTION_MAX {
            return Err(format!("{label}: a section has 1 to {} rows.", domain::seatmap::ROWS_PER_SECTION_MAX));
        }
        let curve_radius = match s.shape.as_str() {
            "curved" => match s.radius.as_str() {
                "" => Some(CURVE_RADIUS_DEFAULT),
                r => {
                    let radius = r.parse::<f64>().ok().filter(|r| (1.0..=COORDINATE_ABS_MAX).contains(r));
                    Some(radius.ok_or_else(|| {
                        format!("{label}: the curve radius is a number of seat widths from 1 to {COORDINATE_ABS_MAX}.")
                    })?)
                }
            },
            "" | "straight" => None,
            _ => return Err(format!("{label}: rows are straight or curved.")),
        };
        let mut accessible = wheelchair_spaces(&s.accessible, rows, seats).map_err(|e| format!("{label}: {e}"))?;
        sections.push(SectionSpec {
            name: s.name.clone(),
            price_zone: if s.zone.is_empty() { s.name.to_lowercase() } else { s.zone.clone() },
            rows: (0..rows)
                .map(|r| RowSpec {
                    label: row_label(r),
                    seats: RowSeats::Count(seats),
                    accessible: accessible.remove(&r).unwrap_or_default(),
                })
                .collect(),
            origin: None,
            curve_radius,
        });
    }
    let mut ga_areas = Vec::new();
    for a in &input.areas {
        if a.name.is_empty() && a.capacity.is_empty() {
            continue;
        }
        let capacity: u32 = a.capacity.parse().map_err(|_| {
            format!(
                "{}: enter the capacity as a whole number.",
                if a.name.is_empty() { "Standing area" } else { &a.name }
            )
        })?;
        ga_areas.push(GaAreaSpec { name: a.name.clone(), capacity });
    }
    if sections.is_empty() && ga_areas.is_empty() {
        return Err("Add at least one section of seats or one standing area.".into());
    }
    Ok(NewVenue {
        name: input.name.clone(),
        address: input.address.clone(),
        timezone: input.timezone.clone(),
        seat_map: SeatMapSpec { sections, ga_areas },
        // Only a key the form page made (a UUID) guards; a form without one
        // still creates its venue, only unguarded.
        creation_key: Uuid::parse_str(input.form_key.trim()).ok().map(|k| format!("console-venue-form:{k}")),
    })
}

fn venue_form_markup(viewer: &Viewer, v: &VenueInput, error: Option<&str>) -> Markup {
    html! {
        p { a href="/console" { "← Console" } }
        h1 { "New venue" }
        @if let Some(e) = error { (alert(e)) }
        div.builder {
            form.stack #venue-form method="post" action="/console/venues/new" {
                (csrf_field(viewer))
                input type="hidden" name="form_key" value=(v.form_key);
                label for="venue_name" { "Venue name" }
                input #venue_name name="name" type="text" required maxlength="200" value=(v.name);
                label for="venue_address" { "Address" }
                input #venue_address name="address" type="text" maxlength="500" value=(v.address) autocomplete="street-address";
                label for="venue_tz" { "Time zone" }
                input #venue_tz name="timezone" type="text" required list="timezones" value=(v.timezone) aria-describedby="tz-hint";
                datalist #timezones { @for tz in TIMEZONES { option value=(tz) {} } }
                p #tz-hint.hint { "Event times are shown in this zone, for example Europe/Berlin." }
                h2 { "Seated sections" }
                p.hint { "Each section is rows × seats; rows are lettered A, B, C… from the front. Leave a section empty to skip it." }
                div #sections {
                    @for (i, s) in v.sections.iter().enumerate() { (section_fieldset(i, s)) }
                }
                button.button.small #add-section type="button" hidden { "Add a section" }
                h2 { "Standing areas" }
                div #ga-areas {
                    @for (i, a) in v.areas.iter().enumerate() {
                        fieldset.ga-fields {
                            legend { "Standing area " (i + 1) }
                            div.row-fields {
                                div { label for={ "ga_name_" (i) } { "Name" } input id={ "ga_name_" (i) } name="ga_name" type="text" maxlength="200" value=(a.name) placeholder="Standing floor"; }
                                div { label for={ "ga_capacity_" (i) } { "Capacity" } input id={ "ga_capacity_" (i) } name="ga_capacity" type="number" min="1" inputmode="numeric" value=(a.capacity); }
                            }
                        }
                    }
                }
                button.button.small #add-ga type="button" hidden { "Add a standing area" }
                p #builder-total.builder-total aria-live="polite" {}
                button.button.primary.big type="submit" { "Create venue" }
            }
            section.panel.preview-panel aria-labelledby="preview-h" hidden #preview-panel {
                h2 #preview-h { "Preview" }
                div #venue-preview.seatmap.preview role="img" aria-label="Preview of the seat map" {}
            }
        }
    }
}

fn section_fieldset(i: usize, s: &SectionInput) -> Markup {
    html! {
        fieldset.section-fields {
            legend { "Section " (i + 1) }
            div.row-fields {
                div { label for={ "section_name_" (i) } { "Name" } input id={ "section_name_" (i) } name="section_name" type="text" maxlength="200" value=(s.name) placeholder="Balcony"; }
                div { label for={ "section_zone_" (i) } { "Price zone" } input id={ "section_zone_" (i) } name="section_zone" type="text" maxlength="64" value=(s.zone) placeholder="balcony"; }
            }
            div.row-fields {
                div { label for={ "section_rows_" (i) } { "Rows" } input id={ "section_rows_" (i) } name="section_rows" type="number" min="1" max="500" inputmode="numeric" value=(s.rows); }
                div { label for={ "section_seats_" (i) } { "Seats per row" } input id={ "section_seats_" (i) } name="section_seats" type="number" min="1" max="1000" inputmode="numeric" value=(s.seats); }
                div {
                    label for={ "section_shape_" (i) } { "Rows" }
                    select id={ "section_shape_" (i) } name="section_shape" {
                        option value="straight" selected[s.shape != "curved"] { "Straight" }
                        option value="curved" selected[s.shape == "curved"] { "Curved" }
                    }
                }
                div { label for={ "section_radius_" (i) } { "Curve radius" } input id={ "section_radius_" (i) } name="section_radius" type="number" min="1" step="any" inputmode="decimal" value=(s.radius) placeholder="40"; }
            }
            // The hint is in the label: the builder copies a section's
            // fields to add one, and an id it points at would repeat.
            label for={ "section_accessible_" (i) } { "Wheelchair spaces (optional): row and seat of each, e.g. A1 A2" }
            input id={ "section_accessible_" (i) } name="section_accessible" type="text" maxlength="2000" value=(s.accessible)
                placeholder="A1 A2 D14";
        }
    }
}

pub async fn venue_form(State(state): State<AppState>, viewer: Viewer) -> Response {
    if viewer.user.is_none() {
        return signin("/console/venues/new");
    }
    match managed_org(&state, &viewer).await {
        Ok(Some(_)) => page(
            &viewer,
            StatusCode::OK,
            "New venue",
            &["builder.js"],
            venue_form_markup(&viewer, &VenueInput::blank(), None),
        ),
        Ok(None) => Redirect::to("/console").into_response(),
        Err(p) => failure(&viewer, p).await,
    }
}

pub async fn create_venue(State(state): State<AppState>, headers: HeaderMap, viewer: Viewer, form: Fields) -> Response {
    let Some(user) = viewer.user else { return signin("/console/venues/new") };
    let input = VenueInput::from_form(&form);
    let again = |status, msg: &str| {
        page(&viewer, status, "New venue", &["builder.js"], venue_form_markup(&viewer, &input, Some(msg)))
    };
    if !csrf_ok(&headers, form.csrf()) {
        return again(StatusCode::FORBIDDEN, "This form was open too long. Please submit it again.");
    }
    let org = match managed_org(&state, &viewer).await {
        Ok(Some((org, _))) => org,
        Ok(None) => return Redirect::to("/console").into_response(),
        Err(p) => return failure(&viewer, p).await,
    };
    let venue = match parse_venue(&input) {
        Ok(v) => v,
        Err(msg) => return again(StatusCode::UNPROCESSABLE_ENTITY, &msg),
    };
    match state.ticketing.create_venue(user, org, venue).await {
        Ok(created) => Redirect::to(&format!("/console/events/new?venue={}", created.id)).into_response(),
        Err(e) => {
            let (status, detail, _) = problem_detail(e.into()).await;
            again(status, &detail)
        }
    }
}

/// The venue's name and address, for its organization's managers.
async fn managed_venue(state: &AppState, user: UserId, venue: &str) -> Option<store::VenueRecord> {
    let id = VenueId::from_uuid(venue.parse::<Uuid>().ok()?);
    let record = state.ticketing.store().venue(id).await.ok()??;
    let mine = state.ticketing.venues_of(user, record.organization).await.ok()?;
    mine.into_iter().find(|v| v.id == id)
}

/// The signed-in manager, the venue of a venue page and whether it has
/// events; otherwise the page to show instead (sign in, or not found).
async fn venue_page(
    state: &AppState,
    viewer: &Viewer,
    venue: &str,
) -> Result<(UserId, store::VenueRecord, bool), Response> {
    let Some(user) = viewer.user else { return Err(signin(&format!("/console/venues/{venue}"))) };
    let Some(v) = managed_venue(state, user, venue).await else { return Err(super::not_found_page_for(viewer)) };
    match venue_has_events(state, user, &v).await {
        Ok(has_events) => Ok((user, v, has_events)),
        Err(p) => Err(failure(viewer, p).await),
    }
}

/// Whether an event was created at the venue (deleted drafts aside): then
/// it stays, as the record of where those tickets' seats are.
async fn venue_has_events(state: &AppState, user: UserId, v: &store::VenueRecord) -> Result<bool, Problem> {
    let events = state.ticketing.events_of(user, v.organization).await?;
    Ok(events.iter().any(|e| e.venue == v.id))
}

/// A venue's fields as the edit form shows them: as stored, or as typed.
struct VenueTyped {
    name: String,
    address: String,
    timezone: String,
}

impl VenueTyped {
    fn of(v: &store::VenueRecord) -> Self {
        Self { name: v.name.clone(), address: v.address.clone(), timezone: v.timezone.clone() }
    }
}

fn venue_edit_markup(
    viewer: &Viewer,
    v: &store::VenueRecord,
    has_events: bool,
    typed: &VenueTyped,
    error: Option<&str>,
) -> Markup {
    html! {
        section.panel.narrow {
            p { a href="/console" { "← Console" } }
            h1 { "Change “" (v.name) "”" }
            @if let Some(e) = error { (alert(e)) }
            form.stack #venue-edit method="post" action={ "/console/venues/" (v.id) } {
                (csrf_field(viewer))
                label for="venue_name" { "Name" }
                input #venue_name name="name" type="text" required value=(typed.name);
                label for="venue_address" { "Address" }
                textarea #venue_address name="address" rows="2" { (typed.address) }
                @if has_events {
                    p.hint { "Every event here shows the new name and address. The seat map and the time zone (" (v.timezone)
                        ") stay as they are: events are sold and dated on them." }
                } @else {
                    label for="venue_tz" { "Time zone" }
                    input #venue_tz name="timezone" type="text" required list="timezones" value=(typed.timezone) aria-describedby="tz-hint";
                    datalist #timezones { @for tz in TIMEZONES { option value=(tz) {} } }
                    p #tz-hint.hint { "Event times are typed and shown in this zone. It can change until the first event is created here; the seat map stays as built." }
                }
                div.actions {
                    button.button.primary type="submit" { "Save" }
                    a.button href="/console" { "Cancel" }
                }
            }
        }
        section.panel.narrow.danger-zone #delete-venue aria-labelledby="delete-venue-h" {
            h2 #delete-venue-h { "Delete this venue" }
            @if has_events {
                p.hint { "Events were created here, so the venue stays with its seat map: it is where their tickets' seats are." }
            } @else {
                p.hint { "No event was created here yet: the venue and its seat map can go." }
                details.confirm-remove {
                    summary.button.small { "Delete…" }
                    form.inline method="post" action={ "/console/venues/" (v.id) "/delete" } {
                        (csrf_field(viewer))
                        button.button.small.danger type="submit" { "Delete “" (v.name) "” now" }
                    }
                }
            }
        }
    }
}

pub async fn venue_edit_form(State(state): State<AppState>, viewer: Viewer, Path(venue): Path<String>) -> Response {
    let (_, v, has_events) = match venue_page(&state, &viewer, &venue).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    page(&viewer, StatusCode::OK, "Venue", &[], venue_edit_markup(&viewer, &v, has_events, &VenueTyped::of(&v), None))
}

pub async fn delete_venue(
    State(state): State<AppState>,
    headers: HeaderMap,
    viewer: Viewer,
    Path(venue): Path<String>,
    form: Fields,
) -> Response {
    let (user, v, has_events) = match venue_page(&state, &viewer, &venue).await {
        Ok(found) => found,
        // Deleted by the same form sent a moment ago (a double click).
        Err(page) if page.status() == StatusCode::NOT_FOUND => {
            return Redirect::to("/console?gone=venue").into_response();
        }
        Err(page) => return page,
    };
    let again = |status, has_events, msg: &str| {
        let typed = VenueTyped::of(&v);
        page(&viewer, status, "Venue", &[], venue_edit_markup(&viewer, &v, has_events, &typed, Some(msg)))
    };
    if !csrf_ok(&headers, form.csrf()) {
        return again(StatusCode::FORBIDDEN, has_events, "This page was open too long. Please delete it again.");
    }
    match state.ticketing.delete_venue(user, v.id).await {
        Ok(()) => Redirect::to("/console?venue_deleted=1").into_response(),
        Err(e) => {
            // An event may have been created since the page was read.
            let has_events = has_events || matches!(e, ticketing::venues::DeleteVenueError::InUse);
            let (status, detail, _) = problem_detail(e.into()).await;
            again(status, has_events, &detail)
        }
    }
}

pub async fn save_venue(
    State(state): State<AppState>,
    headers: HeaderMap,
    viewer: Viewer,
    Path(venue): Path<String>,
    form: Fields,
) -> Response {
    let (user, v, has_events) = match venue_page(&state, &viewer, &venue).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let typed = VenueTyped {
        name: form.text("name"),
        address: form.get("address").unwrap_or_default().to_owned(),
        timezone: form.get("timezone").map_or_else(|| v.timezone.clone(), |t| t.trim().to_owned()),
    };
    let again = |status, msg: &str| {
        page(&viewer, status, "Venue", &[], venue_edit_markup(&viewer, &v, has_events, &typed, Some(msg)))
    };
    if !csrf_ok(&headers, form.csrf()) {
        return again(StatusCode::FORBIDDEN, "This form was open too long. Please submit it again.");
    }
    let edit = VenueEdit { name: Some(&typed.name), address: Some(&typed.address), timezone: Some(&typed.timezone) };
    match state.ticketing.edit_venue(user, v.id, edit).await {
        Ok(_) => Redirect::to("/console").into_response(),
        Err(e) => {
            let (status, detail, _) = problem_detail(e.into()).await;
            again(status, &detail)
        }
    }
}

// ---------------------------------------------------------------- event form

#[derive(Deserialize, Default)]
pub struct EventFormQuery {
    venue: Option<String>,
}

#[derive(Default)]
struct EventInput {
    venue: String,
    title: String,
    description: String,
    category: String,
    starts: String,
    ends: String,
    currency: String,
    /// Price typed for each price zone / GA area id.
    prices: HashMap<String, String>,
    publish: bool,
    /// This form's own key: sent again (Back, then Create) it finds the
    /// event it made rather than making a second one.
    form_key: String,
}

fn event_form_markup(
    viewer: &Viewer,
    venues: &[store::VenueRecord],
    venue: Option<(&store::VenueRecord, &store::SeatMapRecord)>,
    input: &EventInput,
    error: Option<&str>,
) -> Markup {
    html! {
        p { a href="/console" { "← Console" } }
        h1 { "New event" }
        @if let Some(e) = error { (alert(e)) }
        @if let Some((v, map)) = venue {
            @let zones = price_zones(map);
            // One form: a venue picked but not applied cannot slip through
            // with the previous venue's prices (see `create_event`).
            form.stack #event-form method="post" action="/console/events/new" {
                (csrf_field(viewer))
                input type="hidden" name="shown_venue" value=(v.id);
                input type="hidden" name="form_key" value=(input.form_key);
                label for="venue_pick" { "Venue" }
                div.row-fields {
                    select #venue_pick name="venue" {
                        @for o in venues { option value=(o.id) selected[o.id == v.id] { (o.name) } }
                    }
                    button.button type="submit" name="action" value="switch-venue" formnovalidate { "Use this venue" }
                }
                p.muted { "At " strong { (v.name) } "; times are in " (v.timezone) "." }
                label for="title" { "Title" }
                input #title name="title" type="text" required maxlength="200" value=(input.title);
                label for="category" { "Category" }
                select #category name="category" {
                    @for c in Category::ALL { option value=(c.as_str()) selected[input.category == c.as_str()] { (c.as_str()) } }
                }
                label for="description" { "Description" }
                textarea #description name="description" rows="4" maxlength="20000" { (input.description) }
                div.row-fields {
                    div { label for="starts" { "Starts (" (v.timezone) ")" } input #starts name="starts" type="datetime-local" required value=(input.starts); }
                    div { label for="ends" { "Ends (" (v.timezone) ")" } input #ends name="ends" type="datetime-local" required value=(input.ends); }
                }
                fieldset {
                    legend { "Prices" }
                    label for="currency" { "Currency" }
                    select #currency name="currency" {
                        @for c in CURRENCIES { option value=(c) selected[input.currency == c] { (c) } }
                    }
                    @for z in &zones {
                        label for={ "price_" (z) } { "Seats in zone “" (z) "”" }
                        input id={ "price_" (z) } name={ "price_" (z) } type="text" inputmode="decimal" required
                            value=(input.prices.get(*z).map(String::as_str).unwrap_or("")) placeholder="45.00";
                    }
                    @for a in &map.ga_areas {
                        label for={ "price_" (a.id) } { "Standing: " (a.name) " (" (a.capacity) " places)" }
                        input id={ "price_" (a.id) } name={ "price_" (a.id) } type="text" inputmode="decimal" required
                            value=(input.prices.get(&a.id.to_string()).map(String::as_str).unwrap_or("")) placeholder="25.00";
                    }
                }
                label.checkbox { input type="checkbox" name="publish" value="1" checked[input.publish]; " Publish now (put on sale and list it)" }
                button.button.primary.big #create-event type="submit" { "Create event" }
            }
        }
    }
}

/// The venue's price zones, each once, in map order.
pub(super) fn price_zones(map: &store::SeatMapRecord) -> Vec<&str> {
    let mut zones: Vec<&str> = Vec::new();
    for s in &map.sections {
        if !zones.contains(&s.price_zone.as_str()) {
            zones.push(&s.price_zone);
        }
    }
    zones
}

/// "45", "45.5", "45.50" in a currency with `exponent` decimals → minor units.
pub fn parse_price(raw: &str, exponent: u8) -> Option<i64> {
    let raw = raw.trim().replace(',', ".");
    let (whole, frac) = raw.split_once('.').unwrap_or((&raw, ""));
    if whole.is_empty() && frac.is_empty()
        || !whole.chars().all(|c| c.is_ascii_digit())
        || !frac.chars().all(|c| c.is_ascii_digit())
    {
        return None;
    }
    if frac.len() > usize::from(exponent) || whole.len() > 12 {
        return None;
    }
    let whole: i64 = if whole.is_empty() { 0 } else { whole.parse().ok()? };
    let scale = 10_i64.pow(u32::from(exponent));
    let frac_minor: i64 =
        if frac.is_empty() { 0 } else { format!("{frac:0<width$}", width = usize::from(exponent)).parse().ok()? };
    whole.checked_mul(scale)?.checked_add(frac_minor)
}

pub(super) fn local_to_utc(raw: &str, tz: &str) -> Option<DateTime<Utc>> {
    let naive = NaiveDateTime::parse_from_str(raw.trim(), "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(raw.trim(), "%Y-%m-%dT%H:%M:%S"))
        .ok()?;
    let tz: chrono_tz::Tz = tz.parse().ok()?;
    // A time the clocks skip when they go forward (02:30 on the last Sunday
    // of March in Berlin) means the same moment an hour later, as calendars
    // take it; a time they pass twice means the first.
    tz.from_local_datetime(&naive)
        .earliest()
        .or_else(|| tz.from_local_datetime(&(naive + chrono::Duration::hours(1))).earliest())
        .map(|t| t.with_timezone(&Utc))
}

async fn venue_choice(
    state: &AppState,
    user: UserId,
    org: OrganizationId,
    wanted: Option<&str>,
) -> Result<(Vec<store::VenueRecord>, Option<(store::VenueRecord, store::SeatMapRecord)>), Problem> {
    let venues = state.ticketing.venues_of(user, org).await?;
    let pick = wanted.and_then(|w| venues.iter().find(|v| v.id.to_string() == w)).or(venues.first());
    let chosen = match pick {
        Some(v) => Some(state.ticketing.seat_map(v.id).await?),
        None => None,
    };
    Ok((venues, chosen))
}

pub async fn event_form(
    State(state): State<AppState>,
    viewer: Viewer,
    PageQuery(q): PageQuery<EventFormQuery>,
) -> Response {
    let Some(user) = viewer.user else { return signin("/console/events/new") };
    let org = match managed_org(&state, &viewer).await {
        Ok(Some((org, _))) => org,
        Ok(None) => return Redirect::to("/console").into_response(),
        Err(p) => return failure(&viewer, p).await,
    };
    let (venues, chosen) = match venue_choice(&state, user, org, q.venue.as_deref()).await {
        Ok(v) => v,
        Err(p) => return failure(&viewer, p).await,
    };
    if venues.is_empty() {
        return Redirect::to("/console/venues/new").into_response();
    }
    let input = EventInput {
        currency: "EUR".into(),
        category: "concert".into(),
        form_key: uuid::Uuid::new_v4().to_string(),
        ..Default::default()
    };
    let body = event_form_markup(&viewer, &venues, chosen.as_ref().map(|(v, m)| (v, m)), &input, None);
    page(&viewer, StatusCode::OK, "New event", &[], body)
}

pub async fn create_event(State(state): State<AppState>, headers: HeaderMap, viewer: Viewer, form: Fields) -> Response {
    let Some(user) = viewer.user else { return signin("/console/events/new") };
    let org = match managed_org(&state, &viewer).await {
        Ok(Some((org, _))) => org,
        Ok(None) => return Redirect::to("/console").into_response(),
        Err(p) => return failure(&viewer, p).await,
    };
    let input = EventInput {
        venue: form.text("venue"),
        title: form.text("title"),
        description: form.get("description").unwrap_or_default().trim().to_owned(),
        category: form.text("category"),
        starts: form.text("starts"),
        ends: form.text("ends"),
        currency: form.text("currency"),
        prices: form
            .0
            .iter()
            .filter_map(|(k, v)| k.strip_prefix("price_").map(|z| (z.to_owned(), v.trim().to_owned())))
            .collect(),
        publish: form.get("publish").is_some(),
        form_key: form.text("form_key"),
    };
    let (venues, chosen) = match venue_choice(&state, user, org, Some(&input.venue)).await {
        Ok(v) => v,
        Err(p) => return failure(&viewer, p).await,
    };
    let again = |status, msg: &str| {
        let body = event_form_markup(&viewer, &venues, chosen.as_ref().map(|(v, m)| (v, m)), &input, Some(msg));
        page(&viewer, status, "New event", &[], body)
    };
    if form.get("action") == Some("switch-venue") {
        let body = event_form_markup(&viewer, &venues, chosen.as_ref().map(|(v, m)| (v, m)), &input, None);
        return page(&viewer, StatusCode::OK, "New event", &[], body);
    }
    if !csrf_ok(&headers, form.csrf()) {
        return again(StatusCode::FORBIDDEN, "This form was open too long. Please submit it again.");
    }
    // A venue that is not one of the organization's (a stale or edited
    // form): the list offers those that are.
    if !input.venue.is_empty() && chosen.as_ref().is_none_or(|(v, _)| v.id.to_string() != input.venue) {
        return again(
            StatusCode::UNPROCESSABLE_ENTITY,
            "That venue is not one of your organization's (it may have been deleted). Choose one from the list.",
        );
    }
    // The prices on the page were for the venue shown; another one picked
    // without "Use this venue" gets its own zones to price first.
    if form.text("shown_venue") != input.venue {
        return again(
            StatusCode::UNPROCESSABLE_ENTITY,
            "You picked another venue. Check the prices for its zones, then create the event.",
        );
    }
    let Some((venue, map)) = &chosen else {
        return again(StatusCode::UNPROCESSABLE_ENTITY, "Choose a venue first.");
    };
    let spec = match event_spec(&input, venue, map) {
        Ok(s) => s,
        Err(msg) => return again(StatusCode::UNPROCESSABLE_ENTITY, &msg),
    };
    // Only a key the form page made (a UUID) guards: a form without one, or
    // with one tampered with, still creates its event, only unguarded.
    let key = Uuid::parse_str(input.form_key.trim())
        .ok()
        .and_then(|k| IdempotencyKey::parse(&format!("console-event-form:{k}")).ok());
    let venue = VenueId::from_uuid(*venue.id.as_uuid());
    let made_before = |event: EventId| {
        Redirect::to(&format!("{}?created_before=1", super::manage::sales_path(event))).into_response()
    };
    let created = match state.ticketing.create_event(user, org, venue, spec, key.as_ref()).await {
        Ok(c) => c,
        // Back, a change, and Create again: the form made its event already;
        // the change is made there.
        Err(CreateEventError::KeyReused(event)) => return made_before(event),
        Err(e) => {
            let (status, detail, _) = problem_detail(e.into()).await;
            return again(status, &detail);
        }
    };
    if created.replayed {
        return made_before(created.details.event.id);
    }
    let details = created.details;
    if input.publish {
        return match state.ticketing.publish_event(user, details.event.id).await {
            Ok(_) => Redirect::to("/console?published=1").into_response(),
            Err(e) => {
                let (_, detail, _) = problem_detail(e.into()).await;
                let body = html! { (alert(&format!("The event was created but not published: {detail}"))) p { a.button href="/console" { "Back to the console" } } };
                page(&viewer, StatusCode::CONFLICT, "New event", &[], body)
            }
        };
    }
    Redirect::to("/console?created=1").into_response()
}

fn event_spec(input: &EventInput, venue: &store::VenueRecord, map: &store::SeatMapRecord) -> Result<EventSpec, String> {
    let category: Category = input.category.parse().map_err(|_| "Choose a category.".to_owned())?;
    let starts_at = local_to_utc(&input.starts, &venue.timezone).ok_or("Enter when the event starts.")?;
    let ends_at = local_to_utc(&input.ends, &venue.timezone).ok_or("Enter when the event ends.")?;
    let currency: Currency = input.currency.parse().map_err(|_| "Choose a currency.".to_owned())?;
    let price = |key: &str, what: &str| -> Result<Money, String> {
        let raw = input.prices.get(key).map(String::as_str).unwrap_or("");
        let minor = parse_price(raw, currency.exponent()).ok_or_else(|| {
            format!(
                "Enter the price for {what} as a number, like {}.",
                money(&Money::new(4500, currency).expect("in range"))
            )
        })?;
        Money::new(minor, currency).map_err(|_| {
            format!(
                "The price for {what} is more than a ticket may cost (at most {}).",
                money(&Money::new(domain::money::AMOUNT_MINOR_MAX, currency).expect("the largest amount"))
            )
        })
    };
    let mut ticket_types = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for s in &map.sections {
        if !seen.insert(s.price_zone.clone()) {
            continue;
        }
        ticket_types.push(TicketTypeSpec {
            name: format!("{} seat", capitalise(&s.price_zone)),
            price: price(&s.price_zone, &format!("zone “{}”", s.price_zone))?,
            admits: Admits::PriceZone(s.price_zone.clone()),
            max_per_order: 10,
            sales_start: None,
            sales_end: None,
        });
    }
    for a in &map.ga_areas {
        ticket_types.push(TicketTypeSpec {
            name: a.name.clone(),
            price: price(&a.id.to_string(), &a.name)?,
            admits: Admits::GaArea(a.id),
            max_per_order: 10,
            sales_start: None,
            sales_end: None,
        });
    }
    Ok(EventSpec {
        transfer_policy: domain::transfer::TransferPolicy::default(),
        resale_policy: domain::resale::ResalePolicy::default(),
        rotating_barcodes: false,
        title: input.title.clone(),
        description: input.description.clone(),
        category,
        starts_at,
        ends_at,
        ticket_types,
    })
}

pub(super) fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
}

/// The service fee buyers pay on top of ticket prices: shown to owners and
/// admins, set by the owner.
fn fees_panel(viewer: &Viewer, fees: domain::fees::FeePolicy, owner: bool, saved: bool) -> Markup {
    let percent = format!("{}.{:02}", fees.percent_bp() / 100, fees.percent_bp() % 100);
    let percent = percent.trim_end_matches('0').trim_end_matches('.').to_owned();
    html! {
        section.panel #fees {
            h2 { "Service fee" }
            @if saved { (notice("Service fee saved. Holds placed from now on carry it; holds already placed keep the fee they showed.")) }
            p { "Buyers pay it on top of the ticket prices, shown at checkout: "
                strong #fees-now { (percent) " % of the tickets' prices, plus " (fees.fixed_minor_per_ticket()) " cents per paid ticket" } "." }
            @if owner {
                form.stack #fees-form method="post" action="/console/fees" {
                    (csrf_field(viewer))
                    div.row-fields {
                        div {
                            label for="fee_percent" { "Percentage" }
                            input #fee_percent name="percent" type="text" inputmode="decimal" required value=(percent) aria-describedby="fee-percent-hint";
                            p #fee-percent-hint.hint { "Of the tickets' prices: 0 to 25, e.g. 2.5" }
                        }
                        div {
                            label for="fee_fixed" { "Cents per ticket" }
                            input #fee_fixed name="fixed" type="number" min="0" max=(domain::fees::FEE_FIXED_MINOR_PER_TICKET_MAX) step="1" required
                                value=(fees.fixed_minor_per_ticket()) aria-describedby="fee-fixed-hint";
                            p #fee-fixed-hint.hint { "Per paid ticket, in the smallest unit of the event's currency: 50 is 0.50 EUR." }
                        }
                    }
                    button.button.primary type="submit" { "Save the service fee" }
                }
            } @else {
                p.hint { "Only the organization's owner changes it." }
            }
        }
    }
}

/// "2.5" or "2,5" per cent as basis points (250); at most two decimals.
fn percent_bp(text: &str) -> Option<i64> {
    let text = text.trim().replace(',', ".");
    let (whole, frac) = text.split_once('.').unwrap_or((&text, ""));
    if whole.is_empty() && frac.is_empty()
        || frac.len() > 2
        || !(whole.chars().chain(frac.chars())).all(|c| c.is_ascii_digit())
    {
        return None;
    }
    let whole: i64 = if whole.is_empty() { 0 } else { whole.parse().ok()? };
    let frac: i64 = format!("{frac:0<2}").parse().ok()?;
    whole.checked_mul(100)?.checked_add(frac)
}

pub async fn save_fees(State(state): State<AppState>, headers: HeaderMap, viewer: Viewer, form: Fields) -> Response {
    let Some(user) = viewer.user else { return signin("/console") };
    let back = |status, msg: &str| {
        layout::error_page_in(
            &viewer,
            status,
            "Service fee not saved",
            msg,
            Section::Console,
            ("/console#fees", "Back to the console"),
        )
    };
    if !csrf_ok(&headers, form.csrf()) {
        return back(StatusCode::FORBIDDEN, "This page was open too long. Please save the fee again.");
    }
    let org = match managed_org(&state, &viewer).await {
        Ok(Some((org, _))) => org,
        Ok(None) => return Redirect::to("/console").into_response(),
        Err(p) => return failure(&viewer, p).await,
    };
    let Some(percent) = percent_bp(&form.text("percent")) else {
        return back(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Enter the percentage as a number with at most two decimals, e.g. 2.5.",
        );
    };
    if percent > i64::from(domain::fees::FEE_PERCENT_BP_MAX) {
        return back(StatusCode::UNPROCESSABLE_ENTITY, "The percentage is at most 25.");
    }
    let max = domain::fees::FEE_FIXED_MINOR_PER_TICKET_MAX;
    let Some(fixed) = form.text("fixed").trim().parse::<i64>().ok().filter(|f| (0..=max).contains(f)) else {
        let msg = format!("Enter the cents per ticket as a whole number from 0 to {max}, e.g. 50.");
        return back(StatusCode::UNPROCESSABLE_ENTITY, &msg);
    };
    match state.ticketing.set_organization_fees(user, org, percent, fixed).await {
        Ok(_) => Redirect::to("/console?fees_saved=1#fees").into_response(),
        Err(e) => {
            let (status, detail, _) = problem_detail(e.into()).await;
            back(status, &detail)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fee_percentage_reads_as_basis_points() {
        for (typed, bp) in
            [("2.5", Some(250)), ("2,50", Some(250)), (" 0 ", Some(0)), ("25", Some(2500)), (".5", Some(50))]
        {
            assert_eq!(percent_bp(typed), bp, "{typed}");
        }
        for bad in ["", ".", "2.555", "-1", "1e2", "two"] {
            assert_eq!(percent_bp(bad), None, "{bad}");
        }
    }

    #[test]
    fn prices_parse_by_currency_exponent() {
        assert_eq!(parse_price("45", 2), Some(4500));
        assert_eq!(parse_price("45.5", 2), Some(4550));
        assert_eq!(parse_price("45,50", 2), Some(4550));
        assert_eq!(parse_price("45.505", 2), None);
        assert_eq!(parse_price("4500", 0), Some(4500));
        assert_eq!(parse_price("1.5", 0), None);
        assert_eq!(parse_price("-1", 2), None);
        assert_eq!(parse_price("", 2), None);
        assert_eq!(parse_price("abc", 2), None);
    }

    #[test]
    fn rows_are_lettered() {
        assert_eq!(row_label(0), "A");
        assert_eq!(row_label(25), "Z");
        assert_eq!(row_label(26), "AA");
        assert_eq!(row_label(27), "AB");
    }

    #[test]
    fn a_local_time_the_clocks_skip_is_taken_an_hour_later() {
        let t = local_to_utc("2027-03-28T02:30", "Europe/Berlin").unwrap();
        assert_eq!(t.to_rfc3339(), "2027-03-28T01:30:00+00:00");
    }

    #[test]
    fn local_times_become_utc_in_the_venue_zone() {
        assert_eq!(
            local_to_utc("2025-06-14T19:30", "Europe/Berlin").unwrap().to_rfc3339(),
            "2025-06-14T17:30:00+00:00"
        );
        assert!(local_to_utc("not a time", "Europe/Berlin").is_none());
    }

    #[test]
    fn the_builder_skips_empty_sections_and_explains_bad_ones() {
        let mut v = VenueInput::blank();
        v.name = "Hall".into();
        let venue = parse_venue(&v).unwrap();
        assert_eq!(venue.seat_map.sections.len(), 1);
        assert!(venue.seat_map.sections[0].curve_radius.is_some());
        v.sections[0].rows = "ten".into();
        assert!(parse_venue(&v).unwrap_err().contains("rows"));
    }

    #[test]
    fn wheelchair_spaces_are_typed_as_row_and_seat() {
        let spaces = wheelchair_spaces("a1 A2, d14;A2", 4, 20).unwrap();
        assert_eq!(spaces[&0], ["1", "2"]);
        assert_eq!(spaces[&3], ["14"]);
        assert_eq!(spaces.len(), 2);
        assert!(wheelchair_spaces("", 4, 20).unwrap().is_empty());
        for bad in ["E1", "A0", "A21", "A", "12", "A1B"] {
            let e = wheelchair_spaces(bad, 4, 20).unwrap_err();
            assert!(e.contains("rows A to D, seats 1 to 20"), "{bad}: {e}");
        }
    }
}
