//! Placing many seat holds in one transaction.
//!
//! [`Store::place_hold`] sends plain holds here: seats only, no waiting
//! room admission to spend and no per-account limit to count. A batch
//! inserts the holds, then claims every seat they ask for with one
//! conditional upsert that returns the claims it got. A hold that got all
//! its seats is placed; one that did not is taken out again within the
//! same transaction (its holds row and any claim it got) and answered with
//! the seats it missed, exactly as the single path would. If a statement
//! fails, the batch is rolled back and each hold runs on its own.

use std::collections::HashSet;

use domain::Timestamp;
use domain::hold::HoldLine;
use domain::ids::{EventId, HoldId, SeatId, UserId};
use domain::money::Money;

use crate::order_batch::{insert_rows, placeholders};
use crate::{HoldConflict, NewHold, PlaceHoldError, Store, StoreError, ms};

/// Most holds placed in one transaction. A hold asks for a few seats at
/// most, so the one upsert of a batch stays far below both engines' limits
/// on bound parameters.
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
            && new.priced.lines.iter().all(|l| matches!(l, HoldLine::Seat { .. }));
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

impl Store {
    /// Places `holds`, one result each, in order.
    pub(crate) async fn place_holds(&self, holds: Vec<HoldToPlace>) -> Vec<Result<(), PlaceHoldError>> {
        if holds.len() > 1 {
            match self.place_holds_together(&holds).await {
                Ok(results) => return results,
                Err(e) => tracing::debug!(error = %e, "a hold batch failed; placing one by one"),
            }
        }
        let mut results = Vec::with_capacity(holds.len());
        for h in &holds {
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
            results.push(self.place_hold_alone(&new).await);
        }
        results
    }

    async fn place_holds_together(&self, holds: &[HoldToPlace]) -> Result<Vec<Result<(), PlaceHoldError>>, StoreError> {
        let mut tx = self.write().await?;
        match claim_seats(&mut tx, holds).await {
            Ok(results) => {
                tx.commit().await?;
                Ok(results)
            }
            Err(e) => {
                tx.rollback().await?;
                Err(e)
            }
        }
    }
}

async fn claim_seats(
    tx: &mut crate::WriteTx,
    holds: &[HoldToPlace],
) -> Result<Vec<Result<(), PlaceHoldError>>, StoreError> {
    insert_rows(
        tx,
        "INSERT INTO holds (id, event_id, user_id, status, total_amount, currency, created_at, expires_at, fee_amount)",
        9,
        holds,
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
    // expired hold's. The earliest `now` of the batch decides what has
    // expired.
    let now = holds.iter().map(|h| ms(h.now)).min().unwrap_or_default();
    // A hold asking for a seat an earlier hold of the batch asks for loses
    // it here (PostgreSQL refuses an upsert that meets one key twice).
    let mut asked = HashSet::new();
    let mut beaten: Vec<Vec<SeatId>> = Vec::with_capacity(holds.len());
    for h in holds {
        let twice: Vec<SeatId> = h.seats().filter(|s| asked.contains(s)).collect();
        if twice.is_empty() {
            asked.extend(h.seats());
        }
        beaten.push(twice);
    }
    let claims: Vec<(&HoldToPlace, SeatId)> = holds
        .iter()
        .zip(&beaten)
        .filter(|(_, twice)| twice.is_empty())
        .flat_map(|(h, _)| h.seats().map(move |s| (h, s)))
        .collect();
    let sql = format!(
        "INSERT INTO seat_claims (event_id, seat_id, hold_id, state, expires_at) VALUES {} \
         ON CONFLICT (event_id, seat_id) DO UPDATE \
           SET hold_id = excluded.hold_id, state = 'held', expires_at = excluded.expires_at \
           WHERE seat_claims.state = 'held' AND seat_claims.expires_at <= $1 \
         RETURNING hold_id, seat_id",
        placeholders(claims.len(), 5, 2)
    );
    let mut q = sqlx::query_as::<_, (String, String)>(sqlx::AssertSqlSafe(sql)).bind(now);
    for (h, seat) in &claims {
        q = q
            .bind(h.event.to_string())
            .bind(seat.to_string())
            .bind(h.id.to_string())
            .bind("held")
            .bind(ms(h.expires_at));
    }
    let got: HashSet<(String, String)> =
        if claims.is_empty() { HashSet::new() } else { q.fetch_all(&mut **tx).await?.into_iter().collect() };

    let mut results = Vec::with_capacity(holds.len());
    let mut losers = Vec::new();
    for (h, twice) in holds.iter().zip(beaten) {
        let hold = h.id.to_string();
        let missed: Vec<SeatId> = if twice.is_empty() {
            h.seats().filter(|s| !got.contains(&(hold.clone(), s.to_string()))).collect()
        } else {
            twice
        };
        if missed.is_empty() {
            results.push(Ok(()));
        } else {
            losers.push(hold);
            results.push(Err(PlaceHoldError::Conflict(HoldConflict { seats: missed, ga_areas: Vec::new() })));
        }
    }
    if !losers.is_empty() {
        // What a losing hold got is given back; a claim it took over from an
        // expired hold was free anyway.
        let marks = placeholders(losers.len(), 1, 1);
        for table_sql in [
            format!("DELETE FROM seat_claims WHERE hold_id IN {}", marks.replace("), (", ", ")),
            format!("DELETE FROM holds WHERE id IN {}", marks.replace("), (", ", ")),
        ] {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(table_sql));
            for l in &losers {
                q = q.bind(l.as_str());
            }
            q.execute(&mut **tx).await?;
        }
    }

    let lines: Vec<(&HoldToPlace, usize, &HoldLine)> = holds
        .iter()
        .zip(&results)
        .filter(|(_, r)| r.is_ok())
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
    Ok(results)
}
