//! "Best available N": which seats to offer a buyer who does not pick them.
//!
//! [`best_available`] is a pure function over the seat map and the current
//! availability. It only proposes; the hold decides atomically, and a
//! proposal that lost a race is retried with fresh availability
//! ([`Ticketing::place_best_available_hold`]).

use std::collections::HashSet;

use domain::event::Admits;
use domain::hold::{HoldRequest, SeatRequest};
use domain::ids::{EventId, SeatId, UserId};
use store::{HoldRecord, SeatMapRecord, SeatStatus};

use crate::Ticketing;
use crate::holds::HoldFailure;

/// How often a best-available hold is retried when others took the proposed
/// seats first.
const BEST_AVAILABLE_ATTEMPTS: usize = 3;

/// The most seats "best available" picks at once; larger groups choose on the map.
pub const BEST_AVAILABLE_SEATS_MAX: usize = 20;

/// Picks `count` available seats in `zone` (any zone when `None`): `count`
/// adjacent seats in one row if any row has them, front rows and the centre
/// of a row first; otherwise the frontmost available seats.
pub fn best_available(
    map: &SeatMapRecord,
    available: &HashSet<SeatId>,
    zone: Option<&str>,
    count: usize,
) -> Option<Vec<SeatId>> {
    if count == 0 || count > BEST_AVAILABLE_SEATS_MAX {
        return None;
    }
    let sections = map.sections.iter().filter(|s| zone.is_none_or(|z| s.price_zone == z));
    // (row index from the front, distance of the run's centre from the row's centre, seats)
    let mut best: Option<(usize, f64, Vec<SeatId>)> = None;
    let mut fallback: Vec<(usize, SeatId)> = Vec::new();
    for section in sections {
        for (row_index, row) in section.rows.iter().enumerate() {
            let mut seats: Vec<_> = row.seats.iter().collect();
            seats.sort_by(|a, b| a.x.total_cmp(&b.x));
            let row_centre = if seats.is_empty() { 0.0 } else { (seats[0].x + seats[seats.len() - 1].x) / 2.0 };
            for seat in &seats {
                if available.contains(&seat.id) {
                    fallback.push((row_index, seat.id));
                }
            }
            if seats.len() < count {
                continue;
            }
            for start in 0..=(seats.len() - count) {
                let run = &seats[start..start + count];
                if !run.iter().all(|s| available.contains(&s.id)) {
                    continue;
                }
                let centre = (run[0].x + run[count - 1].x) / 2.0;
                let off = (centre - row_centre).abs();
                let better = match &best {
                    None => true,
                    Some((r, o, _)) => row_index < *r || (row_index == *r && off < *o),
                };
                if better {
                    best = Some((row_index, off, run.iter().map(|s| s.id).collect()));
                }
            }
        }
    }
    if let Some((_, _, seats)) = best {
        return Some(seats);
    }
    if fallback.len() < count {
        return None;
    }
    fallback.sort_by_key(|(row, _)| *row);
    Some(fallback.into_iter().take(count).map(|(_, id)| id).collect())
}

impl Ticketing {
    /// Holds the `count` best available seats (of `zone`, or anywhere), plus
    /// whatever `extra` asks for (GA places). Retries with fresh availability
    /// when other buyers take the proposed seats first.
    pub async fn place_best_available_hold(
        &self,
        user: UserId,
        event: EventId,
        zone: Option<&str>,
        count: usize,
        extra: HoldRequest,
        admission: Option<&str>,
    ) -> Result<HoldRecord, HoldFailure> {
        if count == 0 || count > BEST_AVAILABLE_SEATS_MAX {
            return Err(HoldFailure::BadBestAvailable(format!(
                "best available finds 1 to {BEST_AVAILABLE_SEATS_MAX} seats at a time"
            )));
        }
        let record = self.visible_event(Some(user), event).await?;
        let map = self.store.seat_map(record.venue).await?;
        if let Some(z) = zone
            && !map.sections.iter().any(|s| s.price_zone == z)
        {
            return Err(HoldFailure::BadBestAvailable(format!(
                "this venue has no price zone '{}'",
                domain::text::excerpt(z, 64)
            )));
        }
        // Only seats of zones with a ticket type on sale now can be held.
        let now = self.now();
        let types = self.store.ticket_types(event).await?;
        let selling: HashSet<&str> = types
            .iter()
            .filter(|t| t.on_sale_at(now))
            .filter_map(|t| match &t.admits {
                Admits::PriceZone(z) => Some(z.as_str()),
                Admits::GaArea(_) => None,
            })
            .collect();
        if let Some(z) = zone
            && !selling.contains(z)
        {
            return Err(HoldFailure::BadBestAvailable(format!(
                "the seats in '{}' are not on sale now",
                domain::text::excerpt(z, 64)
            )));
        }
        // No zone on sale at all is not "sold out": say when it is.
        if !map.sections.iter().any(|s| selling.contains(s.price_zone.as_str())) {
            return Err(HoldFailure::BadBestAvailable("this event's seats are not on sale now".to_owned()));
        }
        let for_sale: HashSet<SeatId> = map
            .sections
            .iter()
            .filter(|s| selling.contains(s.price_zone.as_str()))
            .flat_map(|s| s.rows.iter().flat_map(|r| r.seats.iter().map(|seat| seat.id)))
            .collect();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let availability = self.store.availability(event, record.venue, self.now()).await?;
            let free: HashSet<SeatId> = availability
                .seats
                .iter()
                .filter(|(id, s)| *s == SeatStatus::Available && for_sale.contains(id))
                .map(|(id, _)| *id)
                .collect();
            let Some(seats) = best_available(&map, &free, zone, count) else {
                return Err(HoldFailure::NotEnoughSeats(format!(
                    "there are not {count} seats left{}; try fewer seats or another area",
                    zone.map(|z| format!(" in {z}")).unwrap_or_default()
                )));
            };
            let mut request = extra.clone();
            request.seats.extend(seats.into_iter().map(|seat| SeatRequest { seat, ticket_type: None }));
            match self.place_hold(user, event, request, admission).await {
                Err(HoldFailure::Unavailable(_)) if attempt < BEST_AVAILABLE_ATTEMPTS => continue,
                other => return other,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::ids::SectionId;
    use store::{RowRecord, SeatRecord, SectionRecord};

    fn map(rows: &[usize]) -> SeatMapRecord {
        SeatMapRecord {
            sections: vec![SectionRecord {
                id: SectionId::new(),
                name: "Stalls".into(),
                price_zone: "stalls".into(),
                rows: rows
                    .iter()
                    .enumerate()
                    .map(|(r, n)| RowRecord {
                        label: r.to_string(),
                        seats: (0..*n)
                            .map(|i| SeatRecord {
                                id: SeatId::new(),
                                label: i.to_string(),
                                x: i as f64,
                                y: r as f64,
                                accessible: false,
                            })
                            .collect(),
                    })
                    .collect(),
            }],
            ga_areas: vec![],
        }
    }

    fn ids(m: &SeatMapRecord, row: usize) -> Vec<SeatId> {
        m.sections[0].rows[row].seats.iter().map(|s| s.id).collect()
    }

    #[test]
    fn prefers_adjacent_centre_seats_in_the_front_row() {
        let m = map(&[5, 5]);
        let all: HashSet<SeatId> = m.sections[0].rows.iter().flat_map(|r| r.seats.iter().map(|s| s.id)).collect();
        let got = best_available(&m, &all, Some("stalls"), 3).unwrap();
        assert_eq!(got, ids(&m, 0)[1..4].to_vec());
    }

    #[test]
    fn moves_back_when_the_front_row_has_no_gap_big_enough() {
        let m = map(&[5, 5]);
        let front = ids(&m, 0);
        let mut avail: HashSet<SeatId> = m.sections[0].rows.iter().flat_map(|r| r.seats.iter().map(|s| s.id)).collect();
        avail.remove(&front[2]);
        let got = best_available(&m, &avail, None, 3).unwrap();
        assert_eq!(got, ids(&m, 1)[1..4].to_vec());
    }

    #[test]
    fn falls_back_to_scattered_seats_and_refuses_the_impossible() {
        let m = map(&[3]);
        let r = ids(&m, 0);
        let avail: HashSet<SeatId> = [r[0], r[2]].into_iter().collect();
        assert_eq!(best_available(&m, &avail, None, 2).unwrap().len(), 2);
        assert!(best_available(&m, &avail, None, 3).is_none());
        assert!(best_available(&m, &avail, Some("balcony"), 1).is_none());
        assert!(best_available(&m, &avail, None, 0).is_none());
    }
}
