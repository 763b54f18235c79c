//! Placing many seat holds in one transaction.
//!
//! [`Store::place_hold`] sends plain holds here: seats only, no waiting
//! room admission to spend and no per-account limit to count. A batch
//! inserts the holds, then claims every seat they ask for with one
//! conditional upsert that returns the claims it got. A hold that got all
//! its seats is placed; one that did not is taken out again within the
//! same transaction (its holds row and any claim it got) and answered with
//! the seats it missed, exactly as the single path would. A hold asking for
//! a seat an earlier hold of the batch asks for waits and runs on its own
//! after the batch, as it would have one transaction later. If a statement
//! fails, the batch is rolled back and each hold runs on its own; if the
//! commit fails, every hold of the batch gets that error, as it would alone.

use std::collections::HashSet;

use domain::Timestamp;
use domain::hold::HoldLine;
use domain::ids::{EventId, HoldId, SeatId, UserId};
use domain::money::Money;

use crate::batch::{
    ROWS_PER_INSERT_MAX, Together, Turn, batch_query, batch_query_as, commit_failed, insert_rows, placeholders,
};
use crate::{HoldConflict, NewHold, PlaceHoldError, Store, StoreError, ms};

/// Most holds placed in one transaction.
pub(crate) const HOLD_BATCH_MAX: usize = 64;

/// A hold to place, owned so that it can wait in a batch.
#[derive(Clone, Debug)]
pub(crate) struct HoldToPlace {
    id: HoldId,
    event: EventId,
    user: UserId,
    total: Money,
    fee: Money,
    lines: Vec<HoldLine>,
    now: Timestamp,
    expires_at: Timestamp,
}

impl HoldToPlace {
    /// `new` as a batch member, or `None` when it has guards to check or
    /// lines other than seats, which only the single path handles.
    pub(crate) fn of(new: &NewHold<'_>) -> Option<Self> {
        let plain = new.guards.admission.is_none()
            && new.guards.per_account_max.is_none()
            && !new.priced.lines.is_empty()
            && new.priced.lines.iter().all(|l| matches!(l, HoldLine::Seat { .. }))
            // Each seat once (pricing already refuses repeats; the batch's
            // upsert relies on it).
            && {
                let mut seen = HashSet::new();
                new.priced.lines.iter().all(|l| matches!(l, HoldLine::Seat { seat, .. } if seen.insert(*seat)))
            };
        plain.then(|| Self {
            id: new.id,
            event: new.event,
            user: new.user,
            total: new.priced.total,
            fee: new.priced.fee,
            lines: new.priced.lines.clone(),
            now: new.now,
            expires_at: new.expires_at,
        })
    }

    fn seats(&self) -> impl Iterator<Item = SeatId> + '_ {
        self.lines.iter().filter_map(|l| match l {
            HoldLine::Seat { seat, .. } => Some(*seat),
            _ => None,
        })
    }
}

/// What the batch's transaction decided for one hold.
enum Decided {
    Placed,
    Conflict(Vec<SeatId>),
    /// It asks for a seat an earlier hold of the batch asks for: it runs on
    /// its own once the batch is committed.
    Later,
}

impl Store {
    /// Places `holds`, one result each, in order.
    pub(crate) async fn place_holds(&self, holds: Vec<HoldToPlace>, turn: Turn) -> Vec<Result<(), PlaceHoldError>> {
        if holds.len() > 1 {
            match self.place_holds_together(&holds, turn).await {
                Ok(decided) => {
                    let mut results = Vec::with_capacity(holds.len());
                    for (h, d) in holds.iter().zip(decided) {
                        results.push(match d {
                            Decided::Placed => Ok(()),
                            Decided::Conflict(seats) => {
                                Err(PlaceHoldError::Conflict(HoldConflict { seats, ga_areas: Vec::new() }))
                            }
                            Decided::Later => self.place_one(h).await,
                        });
                    }
                    return results;
                }
                Err(Together::CommitFailed(e)) => {
                    // Whatever the batch wrote may or may not be saved, as
                    // for a single hold whose commit failed.
                    return holds.iter().map(|_| Err(commit_failed(&e).into())).collect();
                }
                Err(Together::Failed(e)) => tracing::debug!(error = %e, "a hold batch failed; placing one by one"),
            }
        }
        let mut results = Vec::with_capacity(holds.len());
        for h in &holds {
            results.push(self.place_one(h).await);
        }
        results
    }

    async fn place_one(&self, h: &HoldToPlace) -> Result<(), PlaceHoldError> {
        let priced = domain::hold::PricedHold { lines: h.lines.clone(), fee: h.fee, total: h.total };
        let new = NewHold {
            id: h.id,
            event: h.event,
            user: h.user,
            priced: &priced,
            guards: Default::default(),
            now: h.now,
            expires_at: h.expires_at,
        };
        self.place_hold_alone(&new).await
    }

    async fn place_holds_together(&self, holds: &[HoldToPlace], turn: Turn) -> Result<Vec<Decided>, Together> {
        let mut tx = self.write().await.map_err(Together::Failed)?;
        match claim_seats(&mut tx, holds).await {
            Ok(decided) => {
                tx.commit_and(|| turn.end()).await.map_err(|e| Together::CommitFailed(e.into()))?;
                Ok(decided)
            }
            Err(e) => {
                tx.rollback().await.map_err(|e| Together::Failed(e.into()))?;
                Err(Together::Failed(e))
            }
        }
    }
}

async fn claim_seats(tx: &mut crate::WriteTx, holds: &[HoldToPlace]) -> Result<Vec<Decided>, StoreError> {
    // Seats are per event: two shows at one venue share seat ids.
    let mut asked = HashSet::new();
    let later: Vec<bool> = holds
        .iter()
        .map(|h| {
            let clash = h.seats().any(|s| asked.contains(&(h.event, s)));
            if !clash {
                asked.extend(h.seats().map(|s| (h.event, s)));
            }
            clash
        })
        .collect();
    let batched: Vec<&HoldToPlace> = holds.iter().zip(&later).filter(|(_, l)| !**l).map(|(h, _)| h).collect();
    insert_rows(
        tx,
        "INSERT INTO holds (id, event_id, user_id, status, total_amount, currency, created_at, expires_at, fee_amount)",
        9,
        &batched,
        |q, h| {
            q.bind(h.id.to_string())
                .bind(h.event.to_string())
                .bind(h.user.to_string())
                .bind("active")
                .bind(h.total.amount_minor())
                .bind(h.total.currency().as_str())
                .bind(ms(h.now))
                .bind(ms(h.expires_at))
                .bind(h.fee.amount_minor())
        },
    )
    .await?;

    // A claim is taken where there is none, or where the one there is an
    // expired hold's. Every `now` of the batch has passed when it runs, so
    // the latest decides what has expired.
    let expired_by = holds.iter().map(|h| ms(h.now)).max().unwrap_or_default();
    // Sorted, so that rows are locked in the order the single path locks
    // them in (it matters on PostgreSQL).
    let mut claims: Vec<(&HoldToPlace, SeatId)> =
        batched.iter().flat_map(|h| h.seats().map(move |s| (*h, s))).collect();
    claims.sort_by_key(|(h, s)| (*h.event.as_uuid(), *s.as_uuid()));
    let mut got: HashSet<(String, String)> = HashSet::new();
    for chunk in claims.chunks(ROWS_PER_INSERT_MAX) {
        // The cut-off is the last parameter, so that they all run in order.
        let sql = format!(
            "INSERT INTO seat_claims (event_id, seat_id, hold_id, state, expires_at) VALUES {} \
             ON CONFLICT (event_id, seat_id) DO UPDATE \
               SET hold_id = excluded.hold_id, state = 'held', expires_at = excluded.expires_at \
               WHERE seat_claims.state = 'held' AND seat_claims.expires_at <= ${} \
             RETURNING hold_id, seat_id",
            placeholders(chunk.len(), 5, 1),
            chunk.len() * 5 + 1
        );
        let mut q = batch_query_as::<(String, String)>(tx, sql);
        for (h, seat) in chunk {
            q = q
                .bind(h.event.to_string())
                .bind(seat.to_string())
                .bind(h.id.to_string())
                .bind("held")
                .bind(ms(h.expires_at));
        }
        got.extend(q.bind(expired_by).fetch_all(&mut **tx).await?);
    }

    let mut decided = Vec::with_capacity(holds.len());
    let mut losers = Vec::new();
    for (h, later) in holds.iter().zip(later) {
        if later {
            decided.push(Decided::Later);
            continue;
        }
        let hold = h.id.to_string();
        let missed: Vec<SeatId> = h.seats().filter(|s| !got.contains(&(hold.clone(), s.to_string()))).collect();
        if missed.is_empty() {
            decided.push(Decided::Placed);
        } else {
            losers.push(hold);
            decided.push(Decided::Conflict(missed));
        }
    }
    if !losers.is_empty() {
        // What a losing hold got is given back; a claim it took over from an
        // expired hold was free anyway.
        let marks = (1..=losers.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ");
        for sql in [
            format!("DELETE FROM seat_claims WHERE hold_id IN ({marks})"),
            format!("DELETE FROM holds WHERE id IN ({marks})"),
        ] {
            let mut q = batch_query(tx, sql);
            for l in &losers {
                q = q.bind(l.as_str());
            }
            q.execute(&mut **tx).await?;
        }
    }

    let lines: Vec<(&HoldToPlace, usize, &HoldLine)> = holds
        .iter()
        .zip(&decided)
        .filter(|(_, d)| matches!(d, Decided::Placed))
        .flat_map(|(h, _)| h.lines.iter().enumerate().map(move |(no, l)| (h, no, l)))
        .collect();
    insert_rows(
        tx,
        "INSERT INTO hold_lines (hold_id, line_no, seat_id, ga_area_id, quantity, ticket_type_id, unit_price)",
        7,
        &lines,
        |q, (h, no, line)| {
            let seat = match line {
                HoldLine::Seat { seat, .. } => Some(seat.to_string()),
                _ => None,
            };
            q.bind(h.id.to_string())
                .bind(*no as i64)
                .bind(seat)
                .bind(None::<String>)
                .bind(1i64)
                .bind(line.ticket_type().to_string())
                .bind(line.unit_price().amount_minor())
        },
    )
    .await?;
    Ok(decided)
}
