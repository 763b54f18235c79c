//! "Best available N": which seats to offer a buyer who does not pick them.
//!
//! A pure function over the seat map and the current availability. It only
//! proposes; the hold (`Ticketing::place_hold`) decides atomically, and a
//! proposal that lost a race is retried with fresh availability.

use std::collections::HashSet;

use domain::ids::SeatId;
use store::SeatMapRecord;

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
