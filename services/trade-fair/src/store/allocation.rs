//! The scored allocation's store: the fair's registrations and their firms read once, the
//! allotments [`allocation::decide`] returns written in one statement, the booths taken in
//! one per booth type, their events in one. An allocation's statements do not grow with its
//! registrations (it was about eleven per registration, each read-back ranking the whole
//! fair's waitlist: quadratic).
//!
//! Each event still shows its registration as a read-back right after its own write showed
//! it when the allocation wrote one registration at a time: a waitlisted registration's
//! position among those of its booth type waitlisted so far, and a confirmation's fair with
//! the booths taken so far. [`Ledger`] keeps that view in memory.
//!
//! The call answers with the allotments counted ([`Counts`]), not with the registrations: at
//! 100,000 of them that answer was 33.9 MB, above the service's message cap, after the
//! allocation had committed. They are read page by page (`registrations::page`).

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, SubsecRound, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{Result, Store, StoreError, fairs, lock_fair, read_model, registrations};
use crate::{
    domain::{
        Class,
        allocation::{self, AllocationState, Allotment, Allotted, Candidate, Counts},
        fair::BoothType,
        pools::Draw,
        registration::{Happened, Registration, Status},
    },
    events,
};

impl Store {
    /// Runs the scored allocation of a fair ([`allocation::decide`]); returns what it
    /// decided, counted from the allotments (the registrations are read page by page).
    pub async fn allocate(&self, fair_id: Uuid, now: DateTime<Utc>) -> Result<Counts> {
        let mut tx = self.pool.begin().await?;
        lock_fair(&mut tx, fair_id).await?;
        let fair = fairs::get(&mut tx, fair_id).await?;
        let all = registrations::of_fair(&mut tx, fair_id).await?;
        let applied: Vec<Registration> = all
            .iter()
            .filter(|r| r.status == Status::Applied)
            .cloned()
            .collect();
        let usccs: Vec<String> = applied.iter().map(|r| r.uscc.clone()).collect();
        let firms = read_model::firms(&mut tx, &usccs).await?;
        let applied = applied
            .into_iter()
            .zip(firms)
            .map(|(registration, firm)| Candidate { registration, firm })
            .collect();
        let state = AllocationState { fair, applied };
        let allotments = allocation::decide(&state, &self.rules, now)?;

        // What each write stores, as a read-back returns it (timestamps to the microsecond).
        let stored_now = now.trunc_subsecs(6);
        let mut fair = state.fair;
        let mut ledger = Ledger::new(all);
        let mut written = Vec::with_capacity(allotments.len());
        let mut announced = Vec::with_capacity(allotments.len());
        let mut taken: BTreeMap<BoothType, u32> = BTreeMap::new();
        for allotment in &allotments {
            let before = ledger.get(allotment.id)?.clone();
            let (after, happened) = allotted(before, allotment, stored_now);
            let held = after.booths_held();
            if held > 0 {
                *taken.entry(allotment.booth_type).or_default() += held;
                if let Some(t) = fair.taken.get_mut(&allotment.booth_type) {
                    *t += held;
                }
            }
            let read = ledger.write(after.clone());
            announced.push(events::registration(happened, &read, &fair));
            written.push(after);
        }
        write_allotted(&mut tx, &written, now).await?;
        for (booth_type, booths) in taken {
            registrations::take(&mut tx, fair_id, booth_type, i64::from(booths)).await?;
        }
        self.outbox.enqueue_many(&mut tx, announced).await?;
        sqlx::query!(
            "UPDATE fairs SET allocated_at = $2, version = version + 1 WHERE id = $1",
            fair_id,
            now
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Counts::of(&allotments))
    }
}

/// The registration as its allotment leaves it (`now` as stored), and what happened to it.
fn allotted(
    r: Registration,
    allotment: &Allotment,
    now: DateTime<Utc>,
) -> (Registration, Happened) {
    let explanation = allotment.explanation.clone();
    match &allotment.allotted {
        Allotted::Confirmed { draw } => (
            Registration {
                status: Status::Confirmed,
                draw: *draw,
                confirmed_at: Some(now),
                offer_expires_at: None,
                explanation,
                ..r
            },
            Happened::Confirmed { promoted: false },
        ),
        // Cancelled as a release of nothing: no fee, no booths freed.
        Allotted::Ineligible { reason } => (
            Registration {
                status: Status::Cancelled,
                offer_expires_at: None,
                cancellation_reason: reason.clone(),
                cancellation_fee_fen: 0,
                explanation,
                ..r
            },
            Happened::Cancelled,
        ),
        Allotted::Waitlisted => (
            Registration {
                status: Status::Waitlisted,
                draw: Draw::default(),
                offer_expires_at: None,
                explanation,
                ..r
            },
            Happened::Waitlisted,
        ),
    }
}

/// Stores the allotted registrations in one statement; a cancelled one is cancelled at `now`.
async fn write_allotted(
    conn: &mut PgConnection,
    written: &[Registration],
    now: DateTime<Utc>,
) -> Result<()> {
    let ids: Vec<Uuid> = written.iter().map(|r| r.id).collect();
    let statuses: Vec<&str> = written.iter().map(|r| r.status.as_str()).collect();
    let general: Vec<i32> = written.iter().map(|r| r.draw.general as i32).collect();
    let small: Vec<i32> = written.iter().map(|r| r.draw.small as i32).collect();
    let a_class: Vec<i32> = written.iter().map(|r| r.draw.a_class as i32).collect();
    let confirmed_at: Vec<Option<DateTime<Utc>>> = written.iter().map(|r| r.confirmed_at).collect();
    let offer_expires_at: Vec<Option<DateTime<Utc>>> =
        written.iter().map(|r| r.offer_expires_at).collect();
    let explanations: Vec<&str> = written.iter().map(|r| r.explanation.as_str()).collect();
    let reasons: Vec<&str> = written
        .iter()
        .map(|r| r.cancellation_reason.as_str())
        .collect();
    let fees: Vec<i64> = written.iter().map(|r| r.cancellation_fee_fen).collect();
    sqlx::query!(
        "UPDATE registrations r
         SET status = u.status, from_general = u.general, from_small = u.small,
             from_a_class = u.a_class, confirmed_at = COALESCE(u.confirmed_at, r.confirmed_at),
             offer_expires_at = u.offer_expires_at, explanation = u.explanation,
             cancellation_reason = u.reason, cancellation_fee_fen = u.fee,
             cancelled_at = CASE WHEN u.status = 'cancelled' THEN $11 ELSE r.cancelled_at END
         FROM unnest($1::uuid[], $2::text[], $3::int[], $4::int[], $5::int[], $6::timestamptz[],
                     $7::timestamptz[], $8::text[], $9::text[], $10::bigint[])
              AS u(id, status, general, small, a_class, confirmed_at, offer_expires_at,
                   explanation, reason, fee)
         WHERE r.id = u.id",
        &ids,
        &statuses as &[&str],
        &general,
        &small,
        &a_class,
        &confirmed_at as &[Option<DateTime<Utc>>],
        &offer_expires_at as &[Option<DateTime<Utc>>],
        &explanations as &[&str],
        &reasons as &[&str],
        &fees,
        now
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A fair's registrations in memory, each with the waitlist position a read of it would give
/// now: `registrations::of_fair` numbers the waitlisted of each booth type by class, then
/// application time, then id (a `row_number()` window); here a count of the waitlisted
/// before it in that order, kept in a Fenwick tree so a write and a read-back cost log n.
struct Ledger {
    registrations: Vec<Registration>,
    /// Where each registration is in `registrations`.
    index: HashMap<Uuid, usize>,
    /// Each registration's place in the window's order: booth type, class, time, id.
    place: Vec<usize>,
    /// The first place of each booth type: positions count from there.
    first_place: HashMap<BoothType, usize>,
    /// Waitlisted registrations by place.
    waiting: Fenwick,
}

impl Ledger {
    fn new(registrations: Vec<Registration>) -> Self {
        let key = |r: &Registration| (r.booth_type, Class::priority(r.class), r.applied_at, r.id);
        let mut by_place: Vec<usize> = (0..registrations.len()).collect();
        by_place.sort_by_key(|&i| key(&registrations[i]));
        let mut place = vec![0; registrations.len()];
        let mut first_place = HashMap::new();
        for (p, &i) in by_place.iter().enumerate() {
            place[i] = p;
            first_place.entry(registrations[i].booth_type).or_insert(p);
        }
        let mut waiting = Fenwick::new(registrations.len());
        for (i, r) in registrations.iter().enumerate() {
            if r.status == Status::Waitlisted {
                waiting.add(place[i], 1);
            }
        }
        let index = registrations
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id, i))
            .collect();
        Self {
            registrations,
            index,
            place,
            first_place,
            waiting,
        }
    }

    fn get(&self, id: Uuid) -> Result<&Registration> {
        self.index
            .get(&id)
            .map(|&i| &self.registrations[i])
            .ok_or_else(|| StoreError::NotFound(format!("registration {id}")))
    }

    /// Replaces a registration by its new state; returns it as a read-back would.
    fn write(&mut self, r: Registration) -> Registration {
        let i = self.index[&r.id];
        let was = self.registrations[i].status == Status::Waitlisted;
        let is = r.status == Status::Waitlisted;
        if was != is {
            self.waiting.add(self.place[i], if is { 1 } else { -1 });
        }
        self.registrations[i] = r;
        self.read(i)
    }

    /// Registration `i` with the position a read would give it now.
    fn read(&self, i: usize) -> Registration {
        let r = &self.registrations[i];
        let waitlist_position = if r.status == Status::Waitlisted {
            let from = self.first_place[&r.booth_type];
            (self.waiting.before(self.place[i]) - self.waiting.before(from) + 1) as u32
        } else {
            0
        };
        Registration {
            waitlist_position,
            ..r.clone()
        }
    }
}

/// Counts by place, with the count before a place in log n.
struct Fenwick(Vec<i64>);

impl Fenwick {
    fn new(n: usize) -> Self {
        Self(vec![0; n + 1])
    }

    fn add(&mut self, place: usize, delta: i64) {
        let mut i = place + 1;
        while i < self.0.len() {
            self.0[i] += delta;
            i += i & i.wrapping_neg();
        }
    }

    /// The sum over the places before `place`.
    fn before(&self, place: usize) -> i64 {
        let (mut i, mut sum) = (place, 0);
        while i > 0 {
            sum += self.0[i];
            i -= i & i.wrapping_neg();
        }
        sum
    }
}
