//! Venue seat maps: sections of rows of seats, and general-admission (GA) areas.
//!
//! [`plan_seat_map`] turns what an organizer describes (sections with rows and
//! seat counts, optional curvature, GA areas with capacities) into concrete
//! seats with stable ids and x/y coordinates a client can draw directly.

use std::collections::HashSet;

use crate::ids::{GaAreaId, SeatId, SectionId};

/// Sections per venue: more than any real arena has (the largest have ~150).
pub const SECTIONS_PER_VENUE_MAX: usize = 500;
/// Rows per section.
pub const ROWS_PER_SECTION_MAX: usize = 500;
/// Seats in one row.
pub const SEATS_PER_ROW_MAX: usize = 1_000;
/// Seats per venue: the largest stadiums hold ~150,000.
pub const SEATS_PER_VENUE_MAX: usize = 200_000;
/// GA areas per venue.
pub const GA_AREAS_PER_VENUE_MAX: usize = 100;
/// Capacity of one GA area (a festival field).
pub const GA_CAPACITY_MAX: u32 = 500_000;
/// Longest section, area or venue name, in characters.
pub const NAME_LEN_MAX: usize = 200;
/// Longest row or seat label ("AA", "101"), in characters.
pub const LABEL_LEN_MAX: usize = 16;
/// Longest price-zone name, in characters.
pub const PRICE_ZONE_LEN_MAX: usize = 64;

/// Distance between neighbouring seat centres, in map units.
pub const SEAT_PITCH: f64 = 1.0;
/// Distance between rows, in map units.
pub const ROW_PITCH: f64 = 1.2;
/// Largest coordinate or curve radius accepted, in map units: a map is at
/// most a few thousand seats across, and bounded inputs keep every computed
/// coordinate finite.
pub const COORDINATE_ABS_MAX: f64 = 100_000.0;
/// Vertical gap between sections stacked automatically, in map units.
const SECTION_GAP: f64 = 3.0;

/// How a row names its seats.
#[derive(Clone, Debug, PartialEq)]
pub enum RowSeats {
    /// `n` seats labelled "1" to "n".
    Count(u32),
    /// Explicit labels, left to right as seen from the stage.
    Labels(Vec<String>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct RowSpec {
    pub label: String,
    pub seats: RowSeats,
    /// Labels of wheelchair / accessible seats in this row.
    pub accessible: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SectionSpec {
    pub name: String,
    pub price_zone: String,
    pub rows: Vec<RowSpec>,
    /// Where the front-centre of the section sits. Sections without one are
    /// stacked below the previous one, centred on x = 0.
    pub origin: Option<(f64, f64)>,
    /// Rows are bent on circles of this radius (in seat pitches) around a
    /// point in front of the section: a curved, stage-facing layout.
    /// `None` is a straight section.
    pub curve_radius: Option<f64>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct GaAreaSpec {
    pub name: String,
    pub capacity: u32,
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct SeatMapSpec {
    pub sections: Vec<SectionSpec>,
    pub ga_areas: Vec<GaAreaSpec>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct PlannedSeat {
    pub id: SeatId,
    pub row_label: String,
    pub label: String,
    pub x: f64,
    pub y: f64,
    pub accessible: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct PlannedSection {
    pub id: SectionId,
    pub name: String,
    pub price_zone: String,
    /// Seats in row order, then left to right.
    pub seats: Vec<PlannedSeat>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct PlannedGaArea {
    pub id: GaAreaId,
    pub name: String,
    pub capacity: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SeatMapPlan {
    pub sections: Vec<PlannedSection>,
    pub ga_areas: Vec<PlannedGaArea>,
}

impl SeatMapPlan {
    pub fn seat_count(&self) -> usize {
        self.sections.iter().map(|s| s.seats.len()).sum()
    }

    pub fn ga_capacity(&self) -> u64 {
        self.ga_areas.iter().map(|a| u64::from(a.capacity)).sum()
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SeatMapError {
    #[error("a venue needs at least one section with seats or one GA area")]
    Empty,
    #[error("too many sections: at most {SECTIONS_PER_VENUE_MAX}")]
    TooManySections,
    #[error("too many GA areas: at most {GA_AREAS_PER_VENUE_MAX}")]
    TooManyGaAreas,
    #[error("section '{0}' has too many rows: at most {ROWS_PER_SECTION_MAX}")]
    TooManyRows(String),
    #[error("row '{row}' of section '{section}' has {count} seats: between 1 and {SEATS_PER_ROW_MAX} allowed")]
    BadSeatCount { section: String, row: String, count: usize },
    #[error("the venue has more than {SEATS_PER_VENUE_MAX} seats")]
    TooManySeats,
    #[error("section '{0}' has no rows")]
    NoRows(String),
    #[error("{what} must be 1 to {max} characters on one line, without control characters, got '{value}'")]
    BadText { what: &'static str, max: usize, value: String },
    #[error("section name '{0}' is used twice")]
    DuplicateSection(String),
    #[error("GA area name '{0}' is used twice")]
    DuplicateGaArea(String),
    #[error("row '{row}' appears twice in section '{section}'")]
    DuplicateRow { section: String, row: String },
    #[error("seat '{seat}' appears twice in row '{row}' of section '{section}'")]
    DuplicateSeat { section: String, row: String, seat: String },
    #[error("row '{row}' of section '{section}' marks seat '{seat}' accessible, but has no such seat")]
    UnknownAccessibleSeat { section: String, row: String, seat: String },
    #[error("GA area '{0}' needs a capacity between 1 and {GA_CAPACITY_MAX}")]
    BadGaCapacity(String),
    #[error(
        "section '{0}': its position (origin) must be within ±{COORDINATE_ABS_MAX} and its curve radius (curve_radius) between 1 and {COORDINATE_ABS_MAX}"
    )]
    BadGeometry(String),
    /// A curved row bending past a half circle turns its ends away from the
    /// stage, and past a full one piles seats on top of each other.
    #[error(
        "row '{row}' of section '{section}' bends more than half a circle: give the section a curve radius of at least {min_radius}, or fewer seats per row"
    )]
    TooCurved { section: String, row: String, min_radius: u64 },
}

fn check_text(what: &'static str, value: &str, max: usize) -> Result<(), SeatMapError> {
    if !crate::text::is_name(value, max) {
        return Err(SeatMapError::BadText { what, max, value: crate::text::excerpt(value, max + 8) });
    }
    Ok(())
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// Validates a seat-map description and lays it out: every seat gets a fresh
/// id and coordinates. All-or-nothing: any problem rejects the whole map.
pub fn plan_seat_map(spec: &SeatMapSpec) -> Result<SeatMapPlan, SeatMapError> {
    if spec.sections.len() > SECTIONS_PER_VENUE_MAX {
        return Err(SeatMapError::TooManySections);
    }
    if spec.ga_areas.len() > GA_AREAS_PER_VENUE_MAX {
        return Err(SeatMapError::TooManyGaAreas);
    }
    let mut total_seats = 0usize;
    let mut section_names = HashSet::new();
    let mut sections = Vec::with_capacity(spec.sections.len());
    // Automatic stacking: the next section starts below the previous one.
    let mut next_top = 0.0_f64;

    for section in &spec.sections {
        check_text("section name", &section.name, NAME_LEN_MAX)?;
        check_text("price zone", &section.price_zone, PRICE_ZONE_LEN_MAX)?;
        if !section_names.insert(section.name.trim().to_lowercase()) {
            return Err(SeatMapError::DuplicateSection(section.name.clone()));
        }
        if section.rows.is_empty() {
            return Err(SeatMapError::NoRows(section.name.clone()));
        }
        if section.rows.len() > ROWS_PER_SECTION_MAX {
            return Err(SeatMapError::TooManyRows(section.name.clone()));
        }
        let (ox, oy) = section.origin.unwrap_or((0.0, next_top));
        let radius = section.curve_radius;
        let in_range = |v: f64| v.is_finite() && v.abs() <= COORDINATE_ABS_MAX;
        if !in_range(ox) || !in_range(oy) || radius.is_some_and(|r| !in_range(r) || r < 1.0) {
            return Err(SeatMapError::BadGeometry(section.name.clone()));
        }

        let mut row_labels = HashSet::new();
        let mut seats = Vec::new();
        let mut max_y = oy;
        for (row_index, row) in section.rows.iter().enumerate() {
            check_text("row label", &row.label, LABEL_LEN_MAX)?;
            if !row_labels.insert(row.label.trim().to_owned()) {
                return Err(SeatMapError::DuplicateRow { section: section.name.clone(), row: row.label.clone() });
            }
            // The count is checked before any label is made: a row of four
            // billion seats must cost a comparison, not the server's memory.
            let count = match &row.seats {
                RowSeats::Count(n) => usize::try_from(*n).unwrap_or(usize::MAX),
                RowSeats::Labels(labels) => labels.len(),
            };
            if count == 0 || count > SEATS_PER_ROW_MAX {
                return Err(SeatMapError::BadSeatCount {
                    section: section.name.clone(),
                    row: row.label.clone(),
                    count,
                });
            }
            let labels: Vec<String> = match &row.seats {
                RowSeats::Count(n) => (1..=*n).map(|i| i.to_string()).collect(),
                RowSeats::Labels(labels) => labels.iter().map(|l| l.trim().to_owned()).collect(),
            };
            total_seats += labels.len();
            if total_seats > SEATS_PER_VENUE_MAX {
                return Err(SeatMapError::TooManySeats);
            }
            let mut seen = HashSet::new();
            for label in &labels {
                check_text("seat label", label, LABEL_LEN_MAX)?;
                if !seen.insert(label.as_str()) {
                    return Err(SeatMapError::DuplicateSeat {
                        section: section.name.clone(),
                        row: row.label.clone(),
                        seat: label.clone(),
                    });
                }
            }
            for acc in &row.accessible {
                if !seen.contains(acc.trim()) {
                    return Err(SeatMapError::UnknownAccessibleSeat {
                        section: section.name.clone(),
                        row: row.label.clone(),
                        seat: acc.clone(),
                    });
                }
            }
            let accessible: HashSet<&str> = row.accessible.iter().map(|s| s.trim()).collect();
            let centre = (labels.len() as f64 - 1.0) / 2.0;
            let row_offset = row_index as f64 * ROW_PITCH;
            if let Some(r0) = radius {
                let arc = (labels.len() as f64 - 1.0) * SEAT_PITCH;
                if arc / (r0 + row_offset) > std::f64::consts::PI {
                    let needed = (arc / std::f64::consts::PI - row_offset).ceil().max(1.0);
                    return Err(SeatMapError::TooCurved {
                        section: section.name.clone(),
                        row: row.label.clone(),
                        // A finite number of at most 200,000 seats over π.
                        min_radius: needed as u64,
                    });
                }
            }
            for (i, label) in labels.iter().enumerate() {
                let along = (i as f64 - centre) * SEAT_PITCH;
                let (x, y) = match radius {
                    None => (ox + along, oy + row_offset),
                    Some(r0) => {
                        // Circles centred r0 in front of the first row: seats
                        // at a row's ends bend towards the stage.
                        let r = r0 + row_offset;
                        let theta = along / r;
                        (ox + r * theta.sin(), oy - r0 + r * theta.cos())
                    }
                };
                max_y = max_y.max(y);
                seats.push(PlannedSeat {
                    id: SeatId::new(),
                    row_label: row.label.trim().to_owned(),
                    label: label.clone(),
                    x: round2(x),
                    y: round2(y),
                    accessible: accessible.contains(label.as_str()),
                });
            }
        }
        // A curved section's row ends bend towards the stage, above its
        // origin: stacked under the one before, it moves down until its top
        // clears that one's bottom by the gap. One placed by the organizer
        // (an origin) stays where it was put.
        if section.origin.is_none() {
            let top = seats.iter().map(|s| s.y).fold(f64::INFINITY, f64::min);
            if top < next_top {
                let down = next_top - top;
                for seat in &mut seats {
                    seat.y = round2(seat.y + down);
                }
                max_y += down;
            }
        }
        next_top = next_top.max(max_y + SECTION_GAP);
        sections.push(PlannedSection {
            id: SectionId::new(),
            name: section.name.trim().to_owned(),
            price_zone: section.price_zone.trim().to_owned(),
            seats,
        });
    }

    let mut area_names = HashSet::new();
    let mut ga_areas = Vec::with_capacity(spec.ga_areas.len());
    for area in &spec.ga_areas {
        check_text("GA area name", &area.name, NAME_LEN_MAX)?;
        if !area_names.insert(area.name.trim().to_lowercase()) {
            return Err(SeatMapError::DuplicateGaArea(area.name.clone()));
        }
        if area.capacity == 0 || area.capacity > GA_CAPACITY_MAX {
            return Err(SeatMapError::BadGaCapacity(area.name.clone()));
        }
        ga_areas.push(PlannedGaArea {
            id: GaAreaId::new(),
            name: area.name.trim().to_owned(),
            capacity: area.capacity,
        });
    }

    if total_seats == 0 && ga_areas.is_empty() {
        return Err(SeatMapError::Empty);
    }
    Ok(SeatMapPlan { sections, ga_areas })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(label: &str, n: u32) -> RowSpec {
        RowSpec { label: label.into(), seats: RowSeats::Count(n), accessible: vec![] }
    }

    fn section(name: &str, rows: Vec<RowSpec>) -> SectionSpec {
        SectionSpec { name: name.into(), price_zone: "A".into(), rows, origin: None, curve_radius: None }
    }

    #[test]
    fn a_curved_row_bending_past_a_half_circle_is_refused() {
        let mut s = section("Stalls", vec![row("A", 100)]);
        s.curve_radius = Some(5.0);
        let spec = SeatMapSpec { sections: vec![s.clone()], ga_areas: vec![] };
        match plan_seat_map(&spec) {
            Err(SeatMapError::TooCurved { min_radius, .. }) => assert_eq!(min_radius, 32, "99 seat widths over pi"),
            other => panic!("{other:?}"),
        }
        s.curve_radius = Some(32.0);
        let plan = plan_seat_map(&SeatMapSpec { sections: vec![s], ga_areas: vec![] }).unwrap();
        // No two seats share a place.
        let seats = &plan.sections[0].seats;
        for (i, a) in seats.iter().enumerate() {
            for b in &seats[i + 1..] {
                assert!((a.x - b.x).hypot(a.y - b.y) > 0.5, "{a:?} and {b:?} overlap");
            }
        }
    }

    #[test]
    fn lays_out_rows_and_stacks_sections() {
        let spec = SeatMapSpec {
            sections: vec![section("Stalls", vec![row("A", 3), row("B", 4)]), section("Balcony", vec![row("A", 2)])],
            ga_areas: vec![GaAreaSpec { name: "Floor".into(), capacity: 100 }],
        };
        let plan = plan_seat_map(&spec).unwrap();
        assert_eq!(plan.seat_count(), 9);
        assert_eq!(plan.ga_capacity(), 100);
        let stalls = &plan.sections[0].seats;
        assert_eq!((stalls[0].x, stalls[0].y), (-1.0, 0.0));
        assert_eq!((stalls[2].x, stalls[2].y), (1.0, 0.0));
        assert_eq!(stalls[3].y, ROW_PITCH);
        // The balcony starts below the stalls, never overlapping them.
        assert!(plan.sections[1].seats[0].y > stalls.last().unwrap().y);
        let ids: HashSet<_> = plan.sections.iter().flat_map(|s| &s.seats).map(|s| s.id).collect();
        assert_eq!(ids.len(), 9);
    }

    #[test]
    fn curved_rows_bend_towards_the_stage() {
        let mut s = section("Arc", vec![row("A", 11)]);
        s.curve_radius = Some(10.0);
        let plan = plan_seat_map(&SeatMapSpec { sections: vec![s], ga_areas: vec![] }).unwrap();
        let seats = &plan.sections[0].seats;
        assert!(seats[0].y < seats[5].y, "ends sit closer to the stage");
        assert_eq!(seats[0].x, -seats[10].x);
    }

    #[test]
    fn stacked_curved_sections_never_overlap() {
        // Tightly curved long rows: their ends rise well above the row's
        // middle, where a section stacked by its middle would reach up into
        // the one before.
        let curved = |name: &str| {
            let mut s = section(name, (0..6).map(|r| row(&format!("R{r}"), 60)).collect());
            s.curve_radius = Some(20.0);
            s
        };
        let spec =
            SeatMapSpec { sections: vec![curved("Stalls"), curved("Circle"), curved("Gallery")], ga_areas: vec![] };
        let plan = plan_seat_map(&spec).unwrap();
        for pair in plan.sections.windows(2) {
            let bottom = pair[0].seats.iter().map(|s| s.y).fold(f64::NEG_INFINITY, f64::max);
            let top = pair[1].seats.iter().map(|s| s.y).fold(f64::INFINITY, f64::min);
            assert!(
                top >= bottom + SECTION_GAP - 0.01,
                "{} reaches up into {}: {top} < {bottom}",
                pair[1].name,
                pair[0].name
            );
        }
        // A section placed by the organizer stays where it was put.
        let mut placed = curved("Box");
        placed.origin = Some((0.0, 1.0));
        let plan = plan_seat_map(&SeatMapSpec { sections: vec![curved("Stalls"), placed], ga_areas: vec![] }).unwrap();
        let middle = &plan.sections[1].seats[29..31];
        assert!(middle.iter().any(|s| (s.y - 1.0).abs() < 0.1), "{middle:?}");
    }

    #[test]
    fn rejects_bad_maps_whole() {
        let empty = SeatMapSpec::default();
        assert_eq!(plan_seat_map(&empty), Err(SeatMapError::Empty));

        let dup = SeatMapSpec { sections: vec![section("S", vec![row("A", 2), row("A", 2)])], ga_areas: vec![] };
        assert!(matches!(plan_seat_map(&dup), Err(SeatMapError::DuplicateRow { .. })));

        let zero = SeatMapSpec { sections: vec![section("S", vec![row("A", 0)])], ga_areas: vec![] };
        assert!(matches!(plan_seat_map(&zero), Err(SeatMapError::BadSeatCount { .. })));

        // Refused by its count, before four billion labels are made.
        let huge = SeatMapSpec { sections: vec![section("S", vec![row("A", u32::MAX)])], ga_areas: vec![] };
        assert!(
            matches!(plan_seat_map(&huge), Err(SeatMapError::BadSeatCount { count, .. }) if count == u32::MAX as usize)
        );

        let mut acc = row("A", 2);
        acc.accessible = vec!["9".into()];
        let bad_acc = SeatMapSpec { sections: vec![section("S", vec![acc])], ga_areas: vec![] };
        assert!(matches!(plan_seat_map(&bad_acc), Err(SeatMapError::UnknownAccessibleSeat { .. })));

        let ga = SeatMapSpec { sections: vec![], ga_areas: vec![GaAreaSpec { name: "F".into(), capacity: 0 }] };
        assert!(matches!(plan_seat_map(&ga), Err(SeatMapError::BadGaCapacity(_))));
    }

    #[test]
    fn refuses_geometry_that_would_not_draw() {
        for (origin, radius) in
            [(Some((1e307, 0.0)), None), (None, Some(1e307)), (None, Some(0.0)), (Some((f64::NAN, 0.0)), None)]
        {
            let mut s = section("S", vec![row("A", 3)]);
            s.origin = origin;
            s.curve_radius = radius;
            let spec = SeatMapSpec { sections: vec![s], ga_areas: vec![] };
            assert!(matches!(plan_seat_map(&spec), Err(SeatMapError::BadGeometry(_))), "{origin:?} {radius:?}");
        }
    }

    #[test]
    fn refuses_more_seats_than_the_venue_limit() {
        let rows: Vec<RowSpec> = (0..ROWS_PER_SECTION_MAX).map(|i| row(&i.to_string(), 1000)).collect();
        let spec = SeatMapSpec { sections: vec![section("Huge", rows)], ga_areas: vec![] };
        assert_eq!(plan_seat_map(&spec), Err(SeatMapError::TooManySeats));
    }
}
