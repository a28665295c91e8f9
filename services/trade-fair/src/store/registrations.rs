//! Applications, allocation, the waitlist and its offers, cancellation.
//!
//! Every function that hands out or frees booths locks the fair's row first and keeps
//! `booth_inventory.taken` equal to the booths held by confirmed and offered registrations,
//! in the same transaction as the registrations and their events.

use chrono::{DateTime, Utc};
use platform::Outbox;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::{Result, StoreError, corrupt, events, fairs, invitations, lock_fair, read_model};
use crate::{
    config::Rules,
    domain::{
        Class,
        allocation::{self, Applicant},
        eligibility,
        fair::{AllocationMode, BoothType},
        fees,
        pools::{Access, Draw, Pools},
        waitlist::{self, Waiting},
    },
};

/// Where a registration stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Applied to a scored fair, waiting for the allocation.
    Applied,
    Confirmed,
    Waitlisted,
    /// Holding booths until the offer lapses.
    Offered,
    Cancelled,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Applied => "applied",
            Status::Confirmed => "confirmed",
            Status::Waitlisted => "waitlisted",
            Status::Offered => "offered",
            Status::Cancelled => "cancelled",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        [
            Status::Applied,
            Status::Confirmed,
            Status::Waitlisted,
            Status::Offered,
            Status::Cancelled,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
    }

    /// True while the registration holds booths.
    pub fn holds_booths(self) -> bool {
        matches!(self, Status::Confirmed | Status::Offered)
    }
}

/// A stored registration.
#[derive(Debug, Clone, PartialEq)]
pub struct Registration {
    pub id: Uuid,
    pub fair_id: Uuid,
    pub uscc: String,
    pub booth_type: BoothType,
    pub booths_requested: u32,
    pub status: Status,
    /// Booths held, by pool (zero unless confirmed or offered).
    pub draw: Draw,
    pub class: Option<Class>,
    pub small_firm: bool,
    pub invited_a: bool,
    pub applied_at: DateTime<Utc>,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub offer_expires_at: Option<DateTime<Utc>>,
    pub cancellation_reason: String,
    pub cancellation_fee_fen: i64,
    pub explanation: String,
    /// 1 = next in line; 0 unless waitlisted.
    pub waitlist_position: u32,
}

impl Registration {
    pub fn access(&self) -> Access {
        Access {
            small: self.small_firm,
            invited_a: self.invited_a,
        }
    }

    pub fn booths_held(&self) -> u32 {
        if self.status.holds_booths() {
            self.draw.total()
        } else {
            0
        }
    }
}

#[derive(sqlx::FromRow)]
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
    enterprise_class: Option<String>,
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
            class: read_model::parse_class(r.enterprise_class.as_deref())?,
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

/// The registrations of one fair with their waitlist positions (class, then time).
const RANKED: &str = "SELECT r.*, row_number() OVER (
        PARTITION BY r.booth_type, r.status
        ORDER BY CASE r.enterprise_class WHEN 'A' THEN 0 WHEN 'B' THEN 1 WHEN 'C' THEN 2 ELSE 3 END,
                 r.applied_at, r.id) AS position
    FROM registrations r WHERE r.fair_id = $1";

/// Every registration of a fair: by application time, the waitlisted in waitlist order.
pub async fn of_fair(conn: &mut PgConnection, fair_id: Uuid) -> Result<Vec<Registration>> {
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT * FROM ({RANKED}) x ORDER BY status = 'waitlisted', CASE WHEN status = 'waitlisted' THEN position ELSE 0 END, applied_at, id"
    )))
    .bind(fair_id)
    .fetch_all(conn)
    .await?;
    rows.into_iter().map(Registration::try_from).collect()
}

/// One registration, or NOT_FOUND.
pub async fn get(conn: &mut PgConnection, id: Uuid) -> Result<Registration> {
    let fair_id: Option<Uuid> =
        sqlx::query_scalar("SELECT fair_id FROM registrations WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    let fair_id = fair_id.ok_or_else(|| StoreError::NotFound(format!("registration {id}")))?;
    let row: Row = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT * FROM ({RANKED}) x WHERE id = $2"
    )))
    .bind(fair_id)
    .bind(id)
    .fetch_one(conn)
    .await?;
    row.try_into()
}

/// Every registration of an enterprise, by application time.
pub async fn of_enterprise(conn: &mut PgConnection, uscc: &str) -> Result<Vec<Registration>> {
    let fair_ids: Vec<Uuid> =
        sqlx::query_scalar("SELECT DISTINCT fair_id FROM registrations WHERE uscc = $1")
            .bind(uscc)
            .fetch_all(&mut *conn)
            .await?;
    let mut out = Vec::new();
    for fair_id in fair_ids {
        out.extend(
            of_fair(conn, fair_id)
                .await?
                .into_iter()
                .filter(|r| r.uscc == uscc),
        );
    }
    out.sort_by_key(|r| (r.applied_at, r.id));
    Ok(out)
}

/// What the pools of one booth type still hold. The reserves count until the window closes
/// (or the sweeper released them); after that everything left is general.
async fn available(
    conn: &mut PgConnection,
    fair: &fairs::Fair,
    booth_type: BoothType,
    now: DateTime<Utc>,
) -> Result<Pools> {
    let capacity = fair.spec.inventory_of(booth_type).map_or(0, |i| i.capacity);
    let pools = Pools::split(
        capacity,
        fair.spec.small_firm_reserve_percent,
        fair.spec.a_class_reserve_percent,
    );
    let (general, small, a_class): (i64, i64, i64) = sqlx::query_as(
        "SELECT COALESCE(sum(from_general), 0)::bigint, COALESCE(sum(from_small), 0)::bigint,
                COALESCE(sum(from_a_class), 0)::bigint
         FROM registrations WHERE fair_id = $1 AND booth_type = $2 AND status IN ('confirmed', 'offered')",
    )
    .bind(fair.id)
    .bind(booth_type.as_str())
    .fetch_one(conn)
    .await?;
    let used = Draw {
        general: general as u32,
        small: small as u32,
        a_class: a_class as u32,
    };
    if fair.spec.window.has_closed(now) || fair.reserves_released_at.is_some() {
        let total = pools.total().saturating_sub(used.total());
        return Ok(Pools {
            general: total,
            small: 0,
            a_class: 0,
        });
    }
    // A reserve overdrawn (only possible after a capacity change) takes from the general pool.
    let left = pools.minus(used);
    let overdraw =
        (used.small.saturating_sub(pools.small)) + (used.a_class.saturating_sub(pools.a_class));
    Ok(Pools {
        general: left.general.saturating_sub(overdraw),
        ..left
    })
}

/// Adds `delta` booths to the type's `taken` (the check constraint refuses over-allocation).
async fn take(
    conn: &mut PgConnection,
    fair_id: Uuid,
    booth_type: BoothType,
    delta: i64,
) -> Result<()> {
    sqlx::query(
        "UPDATE booth_inventory SET taken = taken + $3 WHERE fair_id = $1 AND booth_type = $2",
    )
    .bind(fair_id)
    .bind(booth_type.as_str())
    .bind(delta as i32)
    .execute(conn)
    .await?;
    Ok(())
}

async fn set_state(
    conn: &mut PgConnection,
    id: Uuid,
    status: Status,
    draw: Draw,
    confirmed_at: Option<DateTime<Utc>>,
    offer_expires_at: Option<DateTime<Utc>>,
) -> Result<()> {
    sqlx::query(
        "UPDATE registrations SET status = $2, from_general = $3, from_small = $4, from_a_class = $5,
                confirmed_at = COALESCE($6, confirmed_at), offer_expires_at = $7
         WHERE id = $1",
    )
    .bind(id)
    .bind(status.as_str())
    .bind(draw.general as i32)
    .bind(draw.small as i32)
    .bind(draw.a_class as i32)
    .bind(confirmed_at)
    .bind(offer_expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

async fn set_explanation(conn: &mut PgConnection, id: Uuid, text: &str) -> Result<()> {
    sqlx::query("UPDATE registrations SET explanation = $2 WHERE id = $1")
        .bind(id)
        .bind(text)
        .execute(conn)
        .await?;
    Ok(())
}

/// What an application asks for.
#[derive(Debug, Clone)]
pub struct Application {
    pub fair_id: Uuid,
    pub uscc: String,
    pub booth_type: BoothType,
    pub booths: u32,
}

/// Registers an application at `now`: refused outside the window, above the cap, for a type
/// the fair does not offer, a second time, or (external fairs) for an ineligible firm.
pub async fn apply(
    pool: &PgPool,
    outbox: &Outbox,
    rules: &Rules,
    a: &Application,
    now: DateTime<Utc>,
) -> Result<Registration> {
    let mut tx = pool.begin().await?;
    lock_fair(&mut tx, a.fair_id).await?;
    let fair = fairs::get(&mut tx, a.fair_id).await?;
    let window = fair.spec.window;
    if now < window.opens_at {
        return Err(StoreError::Precondition(format!(
            "registration opens at {}",
            window.opens_at.to_rfc3339()
        )));
    }
    if window.has_closed(now) {
        return Err(StoreError::Precondition(format!(
            "registration closed at {}",
            window.closes_at.to_rfc3339()
        )));
    }
    if fair.spec.inventory_of(a.booth_type).is_none() {
        return Err(StoreError::Precondition(format!(
            "the fair offers no {} booths",
            a.booth_type.as_str()
        )));
    }
    if a.booths > fair.spec.per_firm_cap {
        return Err(StoreError::Precondition(format!(
            "{} booths asked for; the fair allows at most {} per firm",
            a.booths, fair.spec.per_firm_cap
        )));
    }
    let exists: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM registrations WHERE fair_id = $1 AND uscc = $2)",
    )
    .bind(a.fair_id)
    .bind(&a.uscc)
    .fetch_one(&mut *tx)
    .await?;
    if exists {
        return Err(StoreError::AlreadyExists(format!(
            "a registration of {} for this fair",
            a.uscc
        )));
    }
    let firm = read_model::firm(&mut tx, &a.uscc).await?;
    if fair.spec.kind.is_external() {
        eligibility::check(&firm.facts, rules.min_export_sales_fen)
            .map_err(|why| StoreError::Precondition(format!("not eligible: {why}")))?;
    }
    let invited = invitations::mark_applied(&mut tx, a.fair_id, &a.uscc).await?;
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO registrations (id, fair_id, uscc, booth_type, booths_requested, status, enterprise_class,
                                    small_firm, invited_a, applied_at)
         VALUES ($1, $2, $3, $4, $5, 'applied', $6, $7, $8, $9)",
    )
    .bind(id)
    .bind(a.fair_id)
    .bind(&a.uscc)
    .bind(a.booth_type.as_str())
    .bind(a.booths as i32)
    .bind(firm.class.map(Class::letter))
    .bind(firm.small_firm)
    .bind(invited && firm.class == Some(Class::A))
    .bind(now)
    .execute(&mut *tx)
    .await?;
    if fair.spec.mode == AllocationMode::FirstCome {
        let registration = get(&mut tx, id).await?;
        let pools = available(&mut tx, &fair, a.booth_type, now).await?;
        match pools.draw(registration.access(), a.booths) {
            Some(draw) => {
                set_state(&mut tx, id, Status::Confirmed, draw, Some(now), None).await?;
                set_explanation(
                    &mut tx,
                    id,
                    &format!(
                        "Confirmed on application, first come first served: {} of the {} {} booths open to it.",
                        a.booths,
                        pools.open_to(registration.access()),
                        a.booth_type.as_str()
                    ),
                )
                .await?;
                take(&mut tx, a.fair_id, a.booth_type, i64::from(a.booths)).await?;
                let r = get(&mut tx, id).await?;
                events::confirmed(&mut tx, outbox, &r, false).await?;
            }
            None => {
                set_state(&mut tx, id, Status::Waitlisted, Draw::default(), None, None).await?;
                set_explanation(&mut tx, id, &format!(
                    "Only {} {} booths were open to it when it applied; waitlisted by class, then time.",
                    pools.open_to(registration.access()), a.booth_type.as_str()
                )).await?;
                let r = get(&mut tx, id).await?;
                events::waitlisted(&mut tx, outbox, &r).await?;
            }
        }
    }
    let registration = get(&mut tx, id).await?;
    tx.commit().await?;
    Ok(registration)
}

/// Offers freed booths of one type to the waitlist in order, while some request fits.
async fn make_offers(
    conn: &mut PgConnection,
    outbox: &Outbox,
    rules: &Rules,
    fair: &fairs::Fair,
    booth_type: BoothType,
    now: DateTime<Utc>,
) -> Result<Vec<Registration>> {
    let mut offered = Vec::new();
    loop {
        let pools = available(conn, fair, booth_type, now).await?;
        let waiting: Vec<Registration> = of_fair(conn, fair.id)
            .await?
            .into_iter()
            .filter(|r| r.status == Status::Waitlisted && r.booth_type == booth_type)
            .collect();
        let list: Vec<Waiting> = waiting
            .iter()
            .map(|r| Waiting {
                id: r.id.to_string(),
                class: r.class,
                applied_at: r.applied_at,
                booths: r.booths_requested,
            })
            .collect();
        let access_of = |w: &Waiting| {
            waiting
                .iter()
                .find(|r| r.id.to_string() == w.id)
                .map(Registration::access)
        };
        let Some(next) =
            waitlist::next_offer(&list, |w| access_of(w).map_or(0, |a| pools.open_to(a)))
        else {
            break;
        };
        let Some(r) = waiting.iter().find(|r| r.id.to_string() == next.id) else {
            break;
        };
        let Some(draw) = pools.draw(r.access(), r.booths_requested) else {
            break;
        };
        let expires = waitlist::offer_expires_at(now, rules.offer_hold);
        set_state(conn, r.id, Status::Offered, draw, None, Some(expires)).await?;
        set_explanation(conn, r.id, &format!(
            "Offered {} booths from the waitlist (first in line by class, then time, whose request fits); the offer holds until {}.",
            r.booths_requested, expires.to_rfc3339()
        )).await?;
        take(conn, fair.id, booth_type, i64::from(r.booths_requested)).await?;
        let r = get(conn, r.id).await?;
        events::offered(conn, outbox, &r).await?;
        offered.push(r);
    }
    Ok(offered)
}

/// Frees a registration's booths and cancels it; the caller has locked the fair.
async fn release(
    conn: &mut PgConnection,
    r: &Registration,
    reason: &str,
    fee_fen: i64,
    now: DateTime<Utc>,
) -> Result<()> {
    let held = r.booths_held();
    if held > 0 {
        take(conn, r.fair_id, r.booth_type, -i64::from(held)).await?;
    }
    sqlx::query(
        "UPDATE registrations SET status = 'cancelled', cancelled_at = $2, cancellation_reason = $3,
                cancellation_fee_fen = $4, offer_expires_at = NULL
         WHERE id = $1",
    )
    .bind(r.id)
    .bind(now)
    .bind(reason)
    .bind(fee_fen)
    .execute(conn)
    .await?;
    Ok(())
}

/// Locks the fair of registration `id` and reads the registration under that lock.
async fn lock_registration(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<(fairs::Fair, Registration)> {
    let fair_id = get(conn, id).await?.fair_id;
    lock_fair(conn, fair_id).await?;
    let fair = fairs::get(conn, fair_id).await?;
    Ok((fair, get(conn, id).await?))
}

/// Cancels a registration; freed booths are offered on. Confirmed booths given back after
/// the window closed cost the configured share of their fee.
pub async fn cancel(
    pool: &PgPool,
    outbox: &Outbox,
    rules: &Rules,
    id: Uuid,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(Registration, Vec<Registration>)> {
    let mut tx = pool.begin().await?;
    let (fair, r) = lock_registration(&mut tx, id).await?;
    if r.status == Status::Cancelled {
        return Err(StoreError::Precondition(
            "the registration is already cancelled".into(),
        ));
    }
    let fee = match (r.status, fair.spec.inventory_of(r.booth_type)) {
        (Status::Confirmed, Some(item)) => fees::cancellation_fee(
            item.fee_fen,
            r.booths_held(),
            rules.late_cancellation_fee_percent,
            fair.spec.window.has_closed(now),
        ),
        _ => 0,
    };
    let freed = r.booths_held();
    release(&mut tx, &r, reason, fee, now).await?;
    let cancelled = get(&mut tx, id).await?;
    events::cancelled(&mut tx, outbox, &cancelled).await?;
    let offered = if freed > 0 {
        make_offers(&mut tx, outbox, rules, &fair, r.booth_type, now).await?
    } else {
        Vec::new()
    };
    tx.commit().await?;
    Ok((cancelled, offered))
}

/// Accepts an open offer at `now`.
pub async fn accept_offer(
    pool: &PgPool,
    outbox: &Outbox,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<Registration> {
    let mut tx = pool.begin().await?;
    let (_, r) = lock_registration(&mut tx, id).await?;
    let expires = match (r.status, r.offer_expires_at) {
        (Status::Offered, Some(expires)) => expires,
        _ => {
            return Err(StoreError::Precondition(
                "the registration holds no open offer".into(),
            ));
        }
    };
    if !waitlist::offer_is_open(expires, now) {
        return Err(StoreError::Precondition(format!(
            "the offer lapsed at {}",
            expires.to_rfc3339()
        )));
    }
    set_state(&mut tx, id, Status::Confirmed, r.draw, Some(now), None).await?;
    set_explanation(&mut tx, id, &format!("{} Accepted.", r.explanation)).await?;
    let confirmed = get(&mut tx, id).await?;
    events::confirmed(&mut tx, outbox, &confirmed, true).await?;
    tx.commit().await?;
    Ok(confirmed)
}

/// Declines an open offer: the registration is cancelled and the booths offered on.
pub async fn decline_offer(
    pool: &PgPool,
    outbox: &Outbox,
    rules: &Rules,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<(Registration, Vec<Registration>)> {
    let mut tx = pool.begin().await?;
    let (fair, r) = lock_registration(&mut tx, id).await?;
    if r.status != Status::Offered {
        return Err(StoreError::Precondition(
            "the registration holds no open offer".into(),
        ));
    }
    release(&mut tx, &r, "the offer was declined", 0, now).await?;
    let declined = get(&mut tx, id).await?;
    events::cancelled(&mut tx, outbox, &declined).await?;
    let offered = make_offers(&mut tx, outbox, rules, &fair, r.booth_type, now).await?;
    tx.commit().await?;
    Ok((declined, offered))
}

/// Lapses every offer whose time is up at `now` and passes its booths to the next in line;
/// returns the lapsed registrations.
pub async fn expire_offers(
    pool: &PgPool,
    outbox: &Outbox,
    rules: &Rules,
    now: DateTime<Utc>,
) -> Result<Vec<Registration>> {
    let due: Vec<Uuid> = sqlx::query_scalar(
        "SELECT id FROM registrations WHERE status = 'offered' AND offer_expires_at <= $1 ORDER BY offer_expires_at, id",
    )
    .bind(now)
    .fetch_all(pool)
    .await?;
    let mut lapsed = Vec::new();
    for id in due {
        let mut tx = pool.begin().await?;
        let (fair, r) = lock_registration(&mut tx, id).await?;
        // Accepted or declined meanwhile.
        let still_due = r.status == Status::Offered
            && r.offer_expires_at
                .is_some_and(|e| !waitlist::offer_is_open(e, now));
        if !still_due {
            continue;
        }
        release(&mut tx, &r, "the offer lapsed", 0, now).await?;
        let expired = get(&mut tx, id).await?;
        events::offer_expired(&mut tx, outbox, &expired).await?;
        make_offers(&mut tx, outbox, rules, &fair, r.booth_type, now).await?;
        tx.commit().await?;
        lapsed.push(expired);
    }
    Ok(lapsed)
}

/// Releases the reserves of first-come fairs whose window has closed by `now`, offering
/// what they held to the waitlist; returns the number of fairs released.
pub async fn release_reserves(
    pool: &PgPool,
    outbox: &Outbox,
    rules: &Rules,
    now: DateTime<Utc>,
) -> Result<usize> {
    let due: Vec<Uuid> = sqlx::query_scalar(
        "SELECT id FROM fairs WHERE mode = 'first_come' AND closes_at <= $1 AND reserves_released_at IS NULL",
    )
    .bind(now)
    .fetch_all(pool)
    .await?;
    for id in &due {
        let mut tx = pool.begin().await?;
        lock_fair(&mut tx, *id).await?;
        sqlx::query("UPDATE fairs SET reserves_released_at = $2 WHERE id = $1")
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let fair = fairs::get(&mut tx, *id).await?;
        for item in &fair.spec.inventory {
            make_offers(&mut tx, outbox, rules, &fair, item.booth_type, now).await?;
        }
        tx.commit().await?;
    }
    Ok(due.len())
}

/// Runs the scored allocation of a fair whose window has closed (once): each booth type
/// by [`allocation::allocate`], eligibility checked again against the read model; firms
/// that got nothing are waitlisted, ineligible ones cancelled with the reason.
pub async fn allocate(
    pool: &PgPool,
    outbox: &Outbox,
    rules: &Rules,
    fair_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Vec<Registration>> {
    let mut tx = pool.begin().await?;
    lock_fair(&mut tx, fair_id).await?;
    let fair = fairs::get(&mut tx, fair_id).await?;
    if fair.spec.mode != AllocationMode::Scored {
        return Err(StoreError::Precondition(
            "the fair allocates first come, first served".into(),
        ));
    }
    if !fair.spec.window.has_closed(now) {
        return Err(StoreError::Precondition(format!(
            "applications are collected until {}",
            fair.spec.window.closes_at.to_rfc3339()
        )));
    }
    if let Some(at) = fair.allocated_at {
        return Err(StoreError::Precondition(format!(
            "the booths were allocated at {}",
            at.to_rfc3339()
        )));
    }
    let applied: Vec<Registration> = of_fair(&mut tx, fair_id)
        .await?
        .into_iter()
        .filter(|r| r.status == Status::Applied)
        .collect();
    for item in &fair.spec.inventory {
        let of_type: Vec<&Registration> = applied
            .iter()
            .filter(|r| r.booth_type == item.booth_type)
            .collect();
        let mut applicants = Vec::new();
        for r in &of_type {
            let firm = read_model::firm(&mut tx, &r.uscc).await?;
            let ineligible = if fair.spec.kind.is_external() {
                eligibility::check(&firm.facts, rules.min_export_sales_fen)
                    .err()
                    .map(|e| e.to_string())
            } else {
                None
            };
            applicants.push(Applicant {
                id: r.id.to_string(),
                requested: r.booths_requested,
                class: firm.class,
                export_sales_fen: firm.facts.export_sales_fen.unwrap_or(0),
                applied_at: r.applied_at,
                access: Access {
                    small: firm.small_firm,
                    invited_a: r.invited_a && firm.class == Some(Class::A),
                },
                ineligible,
            });
        }
        let pools = Pools::split(
            item.capacity,
            fair.spec.small_firm_reserve_percent,
            fair.spec.a_class_reserve_percent,
        );
        let grants = allocation::allocate(pools, fair.spec.per_firm_cap, &applicants);
        for ((r, grant), applicant) in of_type.iter().zip(&grants).zip(&applicants) {
            let booths = grant.booths();
            if booths > 0 {
                let draw = Draw {
                    general: grant.draw.general + grant.released,
                    ..grant.draw
                };
                set_state(&mut tx, r.id, Status::Confirmed, draw, Some(now), None).await?;
                set_explanation(&mut tx, r.id, &grant.explanation).await?;
                take(&mut tx, fair_id, item.booth_type, i64::from(booths)).await?;
                let confirmed = get(&mut tx, r.id).await?;
                events::confirmed(&mut tx, outbox, &confirmed, false).await?;
            } else if let Some(reason) = &applicant.ineligible {
                set_explanation(&mut tx, r.id, &grant.explanation).await?;
                release(&mut tx, r, &format!("not eligible: {reason}"), 0, now).await?;
                let cancelled = get(&mut tx, r.id).await?;
                events::cancelled(&mut tx, outbox, &cancelled).await?;
            } else {
                set_state(
                    &mut tx,
                    r.id,
                    Status::Waitlisted,
                    Draw::default(),
                    None,
                    None,
                )
                .await?;
                set_explanation(
                    &mut tx,
                    r.id,
                    &format!(
                        "{} On the waitlist for a booth that frees up.",
                        grant.explanation
                    ),
                )
                .await?;
                let waiting = get(&mut tx, r.id).await?;
                events::waitlisted(&mut tx, outbox, &waiting).await?;
            }
        }
    }
    sqlx::query("UPDATE fairs SET allocated_at = $2, version = version + 1 WHERE id = $1")
        .bind(fair_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    let all = of_fair(&mut tx, fair_id).await?;
    tx.commit().await?;
    Ok(all)
}
