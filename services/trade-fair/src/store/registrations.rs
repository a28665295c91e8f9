//! Registrations: applications, the waitlist and its offers, cancellation (the scored
//! allocation is [`super::allocation`]). Each write loads under the fair's lock what its
//! `decide` needs ([`crate::domain::registration`], [`crate::domain::offers`]) and commits
//! the rows it decided with their events, keeping
//! `booth_inventory.taken` equal to the booths held by confirmed and offered registrations.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{
    Result, Store, StoreError, breaches, corrupt, fairs, invitations, lock_fair, read_model,
};
use crate::{
    domain::{
        Class,
        fair::{BoothType, Fair},
        offers::{self, Freed, Offer, Release, TypeState},
        pools::Draw,
        registration::{self, Application, ApplyState, Happened, Registration, Status},
    },
    events,
};

struct Row {
    id: Uuid,
    fair_id: Uuid,
    uscc: String,
    booth_type: String,
    booths_requested: i32,
    status: String,
    from_general: i32,
    from_small: i32,
    from_a_class: i32,
    class: Option<Class>,
    small_firm: bool,
    invited_a: bool,
    applied_at: DateTime<Utc>,
    confirmed_at: Option<DateTime<Utc>>,
    offer_expires_at: Option<DateTime<Utc>>,
    cancellation_reason: String,
    cancellation_fee_fen: i64,
    explanation: String,
    position: i64,
}

impl TryFrom<Row> for Registration {
    type Error = StoreError;
    fn try_from(r: Row) -> Result<Self> {
        let status = Status::parse(&r.status).ok_or_else(|| corrupt("status", &r.status))?;
        Ok(Registration {
            id: r.id,
            fair_id: r.fair_id,
            booth_type: BoothType::parse(&r.booth_type)
                .ok_or_else(|| corrupt("booth type", &r.booth_type))?,
            booths_requested: r.booths_requested as u32,
            draw: Draw {
                general: r.from_general as u32,
                small: r.from_small as u32,
                a_class: r.from_a_class as u32,
            },
            class: r.class,
            waitlist_position: if status == Status::Waitlisted {
                r.position as u32
            } else {
                0
            },
            status,
            uscc: r.uscc,
            small_firm: r.small_firm,
            invited_a: r.invited_a,
            applied_at: r.applied_at,
            confirmed_at: r.confirmed_at,
            offer_expires_at: r.offer_expires_at,
            cancellation_reason: r.cancellation_reason,
            cancellation_fee_fen: r.cancellation_fee_fen,
            explanation: r.explanation,
        })
    }
}

/// Every registration of a fair: by application time, the waitlisted last in waitlist order
/// (class, then time: the position counts within a booth type and status).
pub(super) async fn of_fair(conn: &mut PgConnection, fair_id: Uuid) -> Result<Vec<Registration>> {
    let rows = sqlx::query_as!(
        Row,
        r#"SELECT id, fair_id, uscc, booth_type, booths_requested, status, from_general, from_small,
                  from_a_class, enterprise_class AS "class?: Class", small_firm, invited_a, applied_at,
                  confirmed_at, offer_expires_at, cancellation_reason, cancellation_fee_fen, explanation,
                  row_number() OVER (
                      PARTITION BY booth_type, status
                      ORDER BY CASE enterprise_class WHEN 'A' THEN 0 WHEN 'B' THEN 1 WHEN 'C' THEN 2 ELSE 3 END,
                               applied_at, id) AS "position!"
           FROM registrations WHERE fair_id = $1"#,
        fair_id
    )
    .fetch_all(conn)
    .await?;
    let mut all = rows
        .into_iter()
        .map(Registration::try_from)
        .collect::<Result<Vec<_>>>()?;
    sort_as_read(&mut all);
    Ok(all)
}

/// The order [`of_fair`] reads a fair's registrations in.
pub(super) fn sort_as_read(all: &mut [Registration]) {
    all.sort_by_key(|r| {
        let waiting = r.status == Status::Waitlisted;
        (
            waiting,
            if waiting { r.waitlist_position } else { 0 },
            r.applied_at,
            r.id,
        )
    });
}

/// One registration, or NOT_FOUND. Only a waitlisted registration has a position, counted
/// among the waitlisted of its booth type that rank before it (the order [`of_fair`] numbers
/// them in): ranking the whole fair for every registration read made each application cost
/// time in the fair's size (BENCHMARKS.md, how cost grows).
pub(super) async fn get(conn: &mut PgConnection, id: Uuid) -> Result<Registration> {
    let row = sqlx::query_as!(
        Row,
        r#"SELECT r.id, r.fair_id, r.uscc, r.booth_type, r.booths_requested, r.status,
                  r.from_general, r.from_small, r.from_a_class, r.enterprise_class AS "class?: Class",
                  r.small_firm, r.invited_a, r.applied_at, r.confirmed_at, r.offer_expires_at,
                  r.cancellation_reason, r.cancellation_fee_fen, r.explanation,
                  CASE WHEN r.status = 'waitlisted' THEN (
                      SELECT count(*) + 1 FROM registrations w
                      WHERE w.fair_id = r.fair_id AND w.booth_type = r.booth_type
                        AND w.status = 'waitlisted'
                        AND (CASE w.enterprise_class WHEN 'A' THEN 0 WHEN 'B' THEN 1 WHEN 'C' THEN 2 ELSE 3 END,
                             w.applied_at, w.id)
                          < (CASE r.enterprise_class WHEN 'A' THEN 0 WHEN 'B' THEN 1 WHEN 'C' THEN 2 ELSE 3 END,
                             r.applied_at, r.id))
                  ELSE 0 END AS "position!"
           FROM registrations r WHERE r.id = $1"#,
        id
    )
    .fetch_optional(conn)
    .await?
    .ok_or_else(|| StoreError::NotFound(format!("registration {id}")))?;
    row.try_into()
}

/// Locks the fair of registration `id` and reads both under that lock.
async fn lock_registration(conn: &mut PgConnection, id: Uuid) -> Result<(Fair, Registration)> {
    let fair_id = get(conn, id).await?.fair_id;
    lock_fair(conn, fair_id).await?;
    let fair = fairs::get(conn, fair_id).await?;
    Ok((fair, get(conn, id).await?))
}

/// Booths of one type held by confirmed and offered registrations, by pool.
async fn used(conn: &mut PgConnection, fair_id: Uuid, booth_type: BoothType) -> Result<Draw> {
    let sums = sqlx::query!(
        r#"SELECT COALESCE(sum(from_general), 0)::bigint AS "general!",
                  COALESCE(sum(from_small), 0)::bigint AS "small!",
                  COALESCE(sum(from_a_class), 0)::bigint AS "a_class!"
           FROM registrations
           WHERE fair_id = $1 AND booth_type = $2 AND status IN ('confirmed', 'offered')"#,
        fair_id,
        booth_type.as_str()
    )
    .fetch_one(conn)
    .await?;
    Ok(Draw {
        general: sums.general as u32,
        small: sums.small as u32,
        a_class: sums.a_class as u32,
    })
}

/// What the booths of one type hold and who waits for them.
async fn type_state(
    conn: &mut PgConnection,
    fair_id: Uuid,
    booth_type: BoothType,
) -> Result<TypeState> {
    let waiting = of_fair(conn, fair_id)
        .await?
        .into_iter()
        .filter(|r| r.status == Status::Waitlisted && r.booth_type == booth_type)
        .collect();
    Ok(TypeState {
        booth_type,
        used: used(conn, fair_id, booth_type).await?,
        waiting,
    })
}

/// Adds `delta` booths to the type's `taken` (the check constraint refuses over-allocation).
pub(super) async fn take(
    conn: &mut PgConnection,
    fair_id: Uuid,
    booth_type: BoothType,
    delta: i64,
) -> Result<()> {
    sqlx::query!(
        "UPDATE booth_inventory SET taken = taken + $3 WHERE fair_id = $1 AND booth_type = $2",
        fair_id,
        booth_type.as_str(),
        delta as i32
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Sets a registration's status, booths, times and explanation (a `None` confirmation time
/// keeps the stored one).
async fn set_state(conn: &mut PgConnection, r: &Registration) -> Result<()> {
    sqlx::query!(
        "UPDATE registrations SET status = $2, from_general = $3, from_small = $4, from_a_class = $5,
                confirmed_at = COALESCE($6, confirmed_at), offer_expires_at = $7, explanation = $8
         WHERE id = $1",
        r.id,
        r.status.as_str(),
        r.draw.general as i32,
        r.draw.small as i32,
        r.draw.a_class as i32,
        r.confirmed_at,
        r.offer_expires_at,
        r.explanation
    )
    .execute(conn)
    .await?;
    Ok(())
}

async fn insert(conn: &mut PgConnection, r: &Registration) -> Result<()> {
    sqlx::query!(
        "INSERT INTO registrations (id, fair_id, uscc, booth_type, booths_requested, status, from_general,
                                    from_small, from_a_class, enterprise_class, small_firm, invited_a,
                                    applied_at, confirmed_at, explanation)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        r.id,
        r.fair_id,
        r.uscc,
        r.booth_type.as_str(),
        r.booths_requested as i32,
        r.status.as_str(),
        r.draw.general as i32,
        r.draw.small as i32,
        r.draw.a_class as i32,
        r.class as Option<Class>,
        r.small_firm,
        r.invited_a,
        r.applied_at,
        r.confirmed_at,
        r.explanation
    )
    .execute(&mut *conn)
    .await?;
    take(conn, r.fair_id, r.booth_type, i64::from(r.booths_held())).await
}

/// Cancels a registration as released, giving back the booths it held.
async fn release(
    conn: &mut PgConnection,
    fair_id: Uuid,
    release: &Release,
    now: DateTime<Utc>,
) -> Result<()> {
    if release.freed > 0 {
        take(conn, fair_id, release.booth_type, -i64::from(release.freed)).await?;
    }
    sqlx::query!(
        "UPDATE registrations SET status = 'cancelled', cancelled_at = $2, cancellation_reason = $3,
                cancellation_fee_fen = $4, offer_expires_at = NULL
         WHERE id = $1",
        release.id,
        now,
        release.reason,
        release.fee_fen
    )
    .execute(conn)
    .await?;
    Ok(())
}

impl Store {
    /// Reads `id` back and publishes what `happened` to it.
    async fn announce(
        &self,
        conn: &mut PgConnection,
        id: Uuid,
        happened: Happened,
    ) -> Result<Registration> {
        let r = get(conn, id).await?;
        let fair = super::fairs::get(conn, r.fair_id).await?;
        self.publish(conn, events::registration(happened, &r, &fair))
            .await?;
        Ok(r)
    }

    /// Makes an offer: the booths held until it lapses.
    async fn commit_offer(
        &self,
        conn: &mut PgConnection,
        fair_id: Uuid,
        offer: &Offer,
    ) -> Result<Registration> {
        let r = get(conn, offer.id).await?;
        let offered = Registration {
            status: Status::Offered,
            draw: offer.draw,
            confirmed_at: None,
            offer_expires_at: Some(offer.expires_at),
            explanation: offer.explanation.clone(),
            ..r
        };
        set_state(conn, &offered).await?;
        take(
            conn,
            fair_id,
            offer.booth_type,
            i64::from(offer.draw.total()),
        )
        .await?;
        self.announce(conn, offer.id, Happened::Offered).await
    }

    /// Commits a release and the offers it made possible; returns the released registration
    /// and the offered ones.
    async fn commit_freed(
        &self,
        conn: &mut PgConnection,
        fair_id: Uuid,
        freed: &Freed,
        now: DateTime<Utc>,
    ) -> Result<(Registration, Vec<Registration>)> {
        release(conn, fair_id, &freed.release, now).await?;
        let released = self
            .announce(conn, freed.release.id, freed.release.happened)
            .await?;
        let mut offered = Vec::new();
        for offer in &freed.offers {
            offered.push(self.commit_offer(conn, fair_id, offer).await?);
        }
        Ok((released, offered))
    }

    /// One registration, or NOT_FOUND.
    pub async fn registration(&self, id: Uuid) -> Result<Registration> {
        get(&mut *self.pool.acquire().await?, id).await
    }

    /// Every registration of a fair (NOT_FOUND without the fair).
    pub async fn registrations_of_fair(&self, fair_id: Uuid) -> Result<Vec<Registration>> {
        let mut conn = self.pool.acquire().await?;
        fairs::get(&mut conn, fair_id).await?;
        of_fair(&mut conn, fair_id).await
    }

    /// Registers an application at `now` as [`registration::decide`] decides.
    pub async fn apply(&self, a: &Application, now: DateTime<Utc>) -> Result<Registration> {
        let mut tx = self.pool.begin().await?;
        lock_fair(&mut tx, a.fair_id).await?;
        let state = ApplyState {
            id: Uuid::now_v7(),
            fair: fairs::get(&mut tx, a.fair_id).await?,
            registered: invitations::has_registered(&mut tx, a.fair_id, &a.uscc).await?,
            breaches: breaches::of_firm(&mut tx, Some(&a.uscc), None).await?,
            firm: read_model::firm(&mut tx, &a.uscc).await?,
            invited: invitations::holds_issued(&mut tx, a.fair_id, &a.uscc).await?,
            used: used(&mut tx, a.fair_id, a.booth_type).await?,
        };
        let applied = registration::decide(&state, a, &self.rules, now)?;
        if applied.invitation_used {
            invitations::mark_applied(&mut tx, a.fair_id, &a.uscc).await?;
        }
        insert(&mut tx, &applied.registration).await?;
        let registration = match applied.happened {
            Some(happened) => self.announce(&mut tx, state.id, happened).await?,
            None => get(&mut tx, state.id).await?,
        };
        tx.commit().await?;
        Ok(registration)
    }

    /// Cancels a registration ([`offers::cancel`]); returns it and the offers made.
    pub async fn cancel(
        &self,
        id: Uuid,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(Registration, Vec<Registration>)> {
        let mut tx = self.pool.begin().await?;
        let (fair, r) = lock_registration(&mut tx, id).await?;
        let state = type_state(&mut tx, fair.id, r.booth_type).await?;
        let freed = offers::cancel(&fair, &r, &state, reason, &self.rules, now)?;
        let done = self.commit_freed(&mut tx, fair.id, &freed, now).await?;
        tx.commit().await?;
        Ok(done)
    }

    /// Accepts an open offer at `now` ([`offers::accept`]).
    pub async fn accept_offer(&self, id: Uuid, now: DateTime<Utc>) -> Result<Registration> {
        let mut tx = self.pool.begin().await?;
        let (_, r) = lock_registration(&mut tx, id).await?;
        let confirmed = offers::accept(&r, now)?;
        set_state(&mut tx, &confirmed).await?;
        let confirmed = self
            .announce(&mut tx, id, Happened::Confirmed { promoted: true })
            .await?;
        tx.commit().await?;
        Ok(confirmed)
    }

    /// Declines an open offer ([`offers::decline`]); returns it and the offers made.
    pub async fn decline_offer(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<(Registration, Vec<Registration>)> {
        let mut tx = self.pool.begin().await?;
        let (fair, r) = lock_registration(&mut tx, id).await?;
        let state = type_state(&mut tx, fair.id, r.booth_type).await?;
        let freed = offers::decline(&fair, &r, &state, &self.rules, now)?;
        let done = self.commit_freed(&mut tx, fair.id, &freed, now).await?;
        tx.commit().await?;
        Ok(done)
    }

    /// Lapses every offer whose time is up at `now` and passes its booths to the next in
    /// line ([`offers::lapse`]); returns the lapsed registrations.
    pub async fn expire_offers(&self, now: DateTime<Utc>) -> Result<Vec<Registration>> {
        let due = sqlx::query_scalar!(
            "SELECT id FROM registrations WHERE status = 'offered' AND offer_expires_at <= $1
             ORDER BY offer_expires_at, id",
            now
        )
        .fetch_all(&self.pool)
        .await?;
        let mut lapsed = Vec::new();
        for id in due {
            let mut tx = self.pool.begin().await?;
            let (fair, r) = lock_registration(&mut tx, id).await?;
            let state = type_state(&mut tx, fair.id, r.booth_type).await?;
            // Accepted or declined meanwhile: nothing to do.
            let Some(freed) = offers::lapse(&fair, &r, &state, &self.rules, now) else {
                continue;
            };
            let (expired, _) = self.commit_freed(&mut tx, fair.id, &freed, now).await?;
            tx.commit().await?;
            lapsed.push(expired);
        }
        Ok(lapsed)
    }

    /// Releases the reserves of first-come fairs whose window has closed by `now`, offering
    /// what they held to the waitlist; returns the number of fairs released.
    pub async fn release_reserves(&self, now: DateTime<Utc>) -> Result<usize> {
        let due = sqlx::query_scalar!(
            "SELECT id FROM fairs WHERE mode = 'first_come' AND closes_at <= $1 AND reserves_released_at IS NULL",
            now
        )
        .fetch_all(&self.pool)
        .await?;
        for id in &due {
            let mut tx = self.pool.begin().await?;
            lock_fair(&mut tx, *id).await?;
            sqlx::query!(
                "UPDATE fairs SET reserves_released_at = $2 WHERE id = $1",
                id,
                now
            )
            .execute(&mut *tx)
            .await?;
            let fair = fairs::get(&mut tx, *id).await?;
            let mut types = Vec::new();
            for item in &fair.spec.inventory {
                types.push(type_state(&mut tx, fair.id, item.booth_type).await?);
            }
            for offer in offers::release_reserves(&fair, &types, &self.rules, now) {
                self.commit_offer(&mut tx, fair.id, &offer).await?;
            }
            tx.commit().await?;
        }
        Ok(due.len())
    }

    /// Scored fairs whose window has closed by `now` and that are not allocated.
    pub async fn scored_fairs_due(&self, now: DateTime<Utc>) -> Result<Vec<Uuid>> {
        Ok(sqlx::query_scalar!(
            "SELECT id FROM fairs WHERE mode = 'scored' AND closes_at <= $1 AND allocated_at IS NULL
             ORDER BY closes_at, id",
            now
        )
        .fetch_all(&self.pool)
        .await?)
    }
}
