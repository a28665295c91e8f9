//! Registrations: applications, the waitlist and its offers, cancellation (the scored
//! allocation is [`super::allocation`]). Each write loads under the fair's lock what its
//! `decide` needs ([`crate::domain::registration`], [`crate::domain::offers`]) and commits
//! the rows it decided with their events, keeping
//! `booth_inventory.taken` equal to the booths held by confirmed and offered registrations.
//! ListRegistrations reads a fair's registrations a page at a time
//! ([`Store::registrations_page`], keyset paging).

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
fn sort_as_read(all: &mut [Registration]) {
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

/// Where a page of a fair's registrations starts: right after this registration, in the
/// order of the list (by application time and id; the waitlist's order also by booth type
/// and class before them).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct After {
    pub booth_type: BoothType,
    /// [`Class::priority`] of the class it applied with.
    pub class_rank: u8,
    pub applied_at: DateTime<Utc>,
    pub id: Uuid,
}

impl After {
    /// The position right after `r`.
    pub fn of(r: &Registration) -> Self {
        Self {
            booth_type: r.booth_type,
            class_rank: Class::priority(r.class),
            applied_at: r.applied_at,
            id: r.id,
        }
    }
}

/// A booth type's place in the waitlist listing's order: the order of [`BoothType::ALL`],
/// as the SQL's `CASE booth_type WHEN 'standard' THEN 0 WHEN 'brand' THEN 1 ELSE 2 END`
/// (and the index `registrations_waitlist`) spells it.
fn booth_rank(booth_type: BoothType) -> i32 {
    match booth_type {
        BoothType::Standard => 0,
        BoothType::Brand => 1,
        BoothType::CustomSpace => 2,
    }
}

/// A page of a fair's registrations, `status` or any but waitlisted, by application time,
/// then id, each waitlisted one with its position (numbered as [`of_fair`] numbers them, in
/// the same statement, over the waitlist of the booth types the page's waitlisted are of:
/// about 0.1 s for a page of 1,000 of a fair with 50,000 waitlisted, most of it the sort).
async fn page_by_time(
    conn: &mut PgConnection,
    fair_id: Uuid,
    status: Option<Status>,
    after: Option<After>,
    limit: u32,
) -> Result<Vec<Row>> {
    Ok(sqlx::query_as!(
        Row,
        r#"WITH page AS (
               SELECT * FROM registrations
               WHERE fair_id = $1 AND ($2::text IS NULL OR status = $2)
                 AND (applied_at, id) > (COALESCE($3, '-infinity'::timestamptz),
                                         COALESCE($4, '00000000-0000-0000-0000-000000000000'::uuid))
               ORDER BY applied_at, id
               LIMIT $5),
           waiting AS (
               SELECT id, row_number() OVER (
                          PARTITION BY CASE booth_type WHEN 'standard' THEN 0 WHEN 'brand' THEN 1 ELSE 2 END
                          ORDER BY CASE enterprise_class WHEN 'A' THEN 0 WHEN 'B' THEN 1 WHEN 'C' THEN 2 ELSE 3 END,
                                   applied_at, id) AS position
               FROM registrations
               WHERE fair_id = $1 AND status = 'waitlisted'
                 AND CASE booth_type WHEN 'standard' THEN 0 WHEN 'brand' THEN 1 ELSE 2 END = ANY (ARRAY(
                         SELECT DISTINCT CASE booth_type WHEN 'standard' THEN 0 WHEN 'brand' THEN 1 ELSE 2 END
                         FROM page WHERE status = 'waitlisted')))
           SELECT p.id AS "id!", p.fair_id AS "fair_id!", p.uscc AS "uscc!", p.booth_type AS "booth_type!",
                  p.booths_requested AS "booths_requested!", p.status AS "status!",
                  p.from_general AS "from_general!", p.from_small AS "from_small!",
                  p.from_a_class AS "from_a_class!", p.enterprise_class AS "class?: Class",
                  p.small_firm AS "small_firm!", p.invited_a AS "invited_a!", p.applied_at AS "applied_at!",
                  p.confirmed_at AS "confirmed_at?", p.offer_expires_at AS "offer_expires_at?",
                  p.cancellation_reason AS "cancellation_reason!",
                  p.cancellation_fee_fen AS "cancellation_fee_fen!", p.explanation AS "explanation!",
                  COALESCE(w.position, 0) AS "position!"
           FROM page p LEFT JOIN waiting w ON w.id = p.id
           ORDER BY p.applied_at, p.id"#,
        fair_id,
        status.map(Status::as_str),
        after.map(|a| a.applied_at),
        after.map(|a| a.id),
        i64::from(limit)
    )
    .fetch_all(conn)
    .await?)
}

/// A page of a fair's waitlisted registrations in waitlist order: by booth type
/// ([`booth_rank`]), then class (A first), application time and id, which is the order of
/// their positions. A page's positions continue from the count of the waitlisted of its
/// first booth type up to `after`, in the same statement.
async fn waitlist_page(
    conn: &mut PgConnection,
    fair_id: Uuid,
    after: Option<After>,
    limit: u32,
) -> Result<Vec<Row>> {
    Ok(sqlx::query_as!(
        Row,
        r#"WITH page AS (
               SELECT *,
                      CASE booth_type WHEN 'standard' THEN 0 WHEN 'brand' THEN 1 ELSE 2 END AS booth_rank,
                      CASE enterprise_class WHEN 'A' THEN 0 WHEN 'B' THEN 1 WHEN 'C' THEN 2 ELSE 3 END AS class_rank
               FROM registrations
               WHERE fair_id = $1 AND status = 'waitlisted'
                 AND (CASE booth_type WHEN 'standard' THEN 0 WHEN 'brand' THEN 1 ELSE 2 END,
                      CASE enterprise_class WHEN 'A' THEN 0 WHEN 'B' THEN 1 WHEN 'C' THEN 2 ELSE 3 END,
                      applied_at, id)
                     > (COALESCE($2, -1), COALESCE($3, -1), COALESCE($4, '-infinity'::timestamptz),
                        COALESCE($5, '00000000-0000-0000-0000-000000000000'::uuid))
               ORDER BY booth_rank, class_rank, applied_at, id
               LIMIT $6),
           ahead AS (
               SELECT count(*) AS n FROM registrations
               WHERE fair_id = $1 AND status = 'waitlisted'
                 AND CASE booth_type WHEN 'standard' THEN 0 WHEN 'brand' THEN 1 ELSE 2 END = $2
                 AND (CASE enterprise_class WHEN 'A' THEN 0 WHEN 'B' THEN 1 WHEN 'C' THEN 2 ELSE 3 END,
                      applied_at, id) <= ($3, $4, $5))
           SELECT p.id AS "id!", p.fair_id AS "fair_id!", p.uscc AS "uscc!", p.booth_type AS "booth_type!",
                  p.booths_requested AS "booths_requested!", p.status AS "status!",
                  p.from_general AS "from_general!", p.from_small AS "from_small!",
                  p.from_a_class AS "from_a_class!", p.enterprise_class AS "class?: Class",
                  p.small_firm AS "small_firm!", p.invited_a AS "invited_a!", p.applied_at AS "applied_at!",
                  p.confirmed_at AS "confirmed_at?", p.offer_expires_at AS "offer_expires_at?",
                  p.cancellation_reason AS "cancellation_reason!",
                  p.cancellation_fee_fen AS "cancellation_fee_fen!", p.explanation AS "explanation!",
                  row_number() OVER (PARTITION BY p.booth_rank ORDER BY p.class_rank, p.applied_at, p.id)
                  + CASE WHEN p.booth_rank = $2 THEN (SELECT n FROM ahead) ELSE 0 END AS "position!"
           FROM page p
           ORDER BY p.booth_rank, p.class_rank, p.applied_at, p.id"#,
        fair_id,
        after.map(|a| booth_rank(a.booth_type)),
        after.map(|a| i32::from(a.class_rank)),
        after.map(|a| a.applied_at),
        after.map(|a| a.id),
        i64::from(limit)
    )
    .fetch_all(conn)
    .await?)
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

    /// A page of a fair's registrations (NOT_FOUND without the fair): at most `limit` of
    /// them after `after`, of `status` if given. Waitlisted ones in waitlist order
    /// ([`waitlist_page`]); otherwise by application time, then id ([`page_by_time`]), an
    /// order no status change moves, so following the pages reads each registration once.
    pub async fn registrations_page(
        &self,
        fair_id: Uuid,
        status: Option<Status>,
        after: Option<After>,
        limit: u32,
    ) -> Result<Vec<Registration>> {
        let mut conn = self.pool.acquire().await?;
        fairs::get(&mut conn, fair_id).await?;
        let rows = if status == Some(Status::Waitlisted) {
            waitlist_page(&mut conn, fair_id, after, limit).await?
        } else {
            page_by_time(&mut conn, fair_id, status, after, limit).await?
        };
        rows.into_iter().map(Registration::try_from).collect()
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
