//! Demo data for a fresh installation: an organization with an owner, gate
//! staff and a buyer, a 1,080-seat hall with a standing area, and three
//! published events. Loaded through the use cases, like any organizer would.

use chrono::Duration;
use domain::auth::Role;
use domain::event::{Admits, Category, EventSpec, TicketTypeSpec};
use domain::ids::{EventId, OrganizationId, VenueId};
use domain::money::Money;
use domain::seatmap::{GaAreaSpec, RowSeats, RowSpec, SeatMapSpec, SectionSpec};
use ticketing::Ticketing;
use ticketing::venues::NewVenue;

pub const OWNER_EMAIL: &str = "owner@demo.test";
pub const OWNER_PASSWORD: &str = "demo-owner-pass";
pub const GATE_EMAIL: &str = "gate@demo.test";
pub const GATE_PASSWORD: &str = "demo-gate-pass";
pub const BUYER_EMAIL: &str = "buyer@demo.test";
pub const BUYER_PASSWORD: &str = "demo-buyer-pass";

#[derive(Clone, Debug)]
pub struct DemoData {
    pub organization: OrganizationId,
    pub venue: VenueId,
    pub seat_count: usize,
    pub events: Vec<EventId>,
}

impl DemoData {
    pub fn credentials(&self) -> String {
        format!(
            "Demo data loaded ({} seats, {} events). Sign in with:\n  \
             organizer (owner): {OWNER_EMAIL} / {OWNER_PASSWORD}\n  \
             gate staff:        {GATE_EMAIL} / {GATE_PASSWORD}\n  \
             buyer:             {BUYER_EMAIL} / {BUYER_PASSWORD}\n  \
             organization id:   {}",
            self.seat_count,
            self.events.len(),
            self.organization
        )
    }
}

fn row_labels(n: usize) -> impl Iterator<Item = String> {
    (0..n).map(|i| char::from(b'A' + i as u8).to_string())
}

fn seat_map() -> SeatMapSpec {
    let stalls = SectionSpec {
        name: "Stalls".into(),
        price_zone: "stalls".into(),
        rows: row_labels(20)
            .enumerate()
            .map(|(i, label)| RowSpec {
                label,
                seats: RowSeats::Count(30),
                // Row A's aisle seats are wheelchair places.
                accessible: if i == 0 { vec!["1".into(), "2".into(), "29".into(), "30".into()] } else { vec![] },
            })
            .collect(),
        origin: Some((0.0, 0.0)),
        curve_radius: Some(40.0),
    };
    let balcony = SectionSpec {
        name: "Balcony".into(),
        price_zone: "balcony".into(),
        rows: row_labels(12).map(|label| RowSpec { label, seats: RowSeats::Count(40), accessible: vec![] }).collect(),
        origin: Some((0.0, 30.0)),
        curve_radius: Some(60.0),
    };
    SeatMapSpec {
        sections: vec![stalls, balcony],
        ga_areas: vec![GaAreaSpec { name: "Standing floor".into(), capacity: 300 }],
    }
}

pub async fn load(app: &Ticketing) -> anyhow::Result<DemoData> {
    let owner = app.register(OWNER_EMAIL, OWNER_PASSWORD, "Olivia Organizer").await?;
    let gate = app.register(GATE_EMAIL, GATE_PASSWORD, "Gary Gate").await?;
    let buyer = app.register(BUYER_EMAIL, BUYER_PASSWORD, "Bea Buyer").await?;
    // The demo's made-up addresses take no mail: they count as confirmed.
    for account in [&owner, &gate, &buyer] {
        app.store().mark_email_verified(account.id, &account.email, app.now()).await?;
    }
    let (org, _) = app.create_organization(owner.id, "Riverside Live").await?;
    app.add_member(owner.id, org, GATE_EMAIL, Role::Gate).await?;

    let venue = app
        .create_venue(
            owner.id,
            org,
            NewVenue {
                name: "Riverside Hall".into(),
                address: "1 Quay Street, Hamburg".into(),
                timezone: "Europe/Berlin".into(),
                seat_map: seat_map(),
                creation_key: None,
            },
        )
        .await?;
    let map = app.store().seat_map(venue.id).await?;
    let standing = map.ga_areas[0].id;

    let eur = |cents| Money::new(cents, "EUR".parse().expect("EUR is a currency")).expect("demo prices are in range");
    // Evening shows, 19:30 local time in the hall's time zone.
    let berlin = domain::venue::Timezone::parse("Europe/Berlin").expect("a real zone").tz();
    let evening = |days: i64| {
        let date = (app.now() + Duration::days(days)).with_timezone(&berlin).date_naive();
        let local = date.and_hms_opt(19, 30, 0).expect("19:30 is a time");
        local.and_local_timezone(berlin).earliest().expect("19:30 exists every day in Berlin").to_utc()
    };
    let shows = [
        (
            "Nordic Lights Orchestra",
            Category::Concert,
            14,
            "Sibelius and Grieg under the hall's new lighting rig.",
            (5900, 3900, 2900),
        ),
        (
            "The Comedy Cellar Live",
            Category::Comedy,
            21,
            "Five stand-ups, one evening, no heckling (much).",
            (3500, 2500, 2000),
        ),
        (
            "Harbour Jazz Night",
            Category::Concert,
            35,
            "A big band, a quartet and a late jam session.",
            (4500, 3200, 2500),
        ),
    ];
    let mut events = Vec::new();
    for (title, category, days, description, (stalls, balcony, floor)) in shows {
        let starts_at = evening(days);
        let spec = EventSpec {
            transfer_policy: domain::transfer::TransferPolicy::default(),
            resale_policy: domain::resale::ResalePolicy::default(),
            rotating_barcodes: false,
            title: title.into(),
            description: description.into(),
            category,
            starts_at,
            ends_at: starts_at + Duration::hours(3),
            ticket_types: vec![
                TicketTypeSpec {
                    name: "Stalls".into(),
                    price: eur(stalls),
                    admits: Admits::PriceZone("stalls".into()),
                    max_per_order: 10,
                    sales_start: None,
                    sales_end: None,
                },
                TicketTypeSpec {
                    name: "Balcony".into(),
                    price: eur(balcony),
                    admits: Admits::PriceZone("balcony".into()),
                    max_per_order: 10,
                    sales_start: None,
                    sales_end: None,
                },
                TicketTypeSpec {
                    name: "Standing".into(),
                    price: eur(floor),
                    admits: Admits::GaArea(standing),
                    max_per_order: 10,
                    sales_start: None,
                    sales_end: None,
                },
            ],
        };
        let details = app.create_event(owner.id, org, venue.id, spec, None).await?.details;
        app.publish_event(owner.id, details.event.id).await?;
        events.push(details.event.id);
    }
    Ok(DemoData { organization: org, venue: venue.id, seat_count: venue.seat_count, events })
}
