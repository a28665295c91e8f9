//! Fairs and their booth inventory: create, update with an expected version, get, list.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

use super::{Result, StoreError, corrupt, lock_fair};
use crate::domain::fair::{
    AllocationMode, BoothType, FairKind, FairSpec, Inventory, Market, Window,
};

/// A stored fair.
#[derive(Debug, Clone, PartialEq)]
pub struct Fair {
    pub id: Uuid,
    pub spec: FairSpec,
    /// Booths confirmed or held by an offer, per type.
    pub taken: BTreeMap<BoothType, u32>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub allocated_at: Option<DateTime<Utc>>,
    pub reserves_released_at: Option<DateTime<Utc>>,
}

impl Fair {
    pub fn taken_of(&self, booth_type: BoothType) -> u32 {
        self.taken.get(&booth_type).copied().unwrap_or(0)
    }
}

#[derive(sqlx::FromRow)]
struct FairRow {
    id: Uuid,
    name: String,
    kind: String,
    city: String,
    venue: String,
    market: String,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    opens_at: DateTime<Utc>,
    closes_at: DateTime<Utc>,
    mode: String,
    small_firm_reserve_percent: i32,
    a_class_reserve_percent: i32,
    per_firm_cap: i32,
    version: i64,
    created_at: DateTime<Utc>,
    allocated_at: Option<DateTime<Utc>>,
    reserves_released_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct InventoryRow {
    fair_id: Uuid,
    booth_type: String,
    capacity: i32,
    fee_fen: i64,
    taken: i32,
}

const FAIR_COLUMNS: &str =
    "id, name, kind, city, venue, market, starts_at, ends_at, opens_at, closes_at, mode,
     small_firm_reserve_percent, a_class_reserve_percent, per_firm_cap, version, created_at,
     allocated_at, reserves_released_at";

fn assemble(row: FairRow, inventory: &[InventoryRow]) -> Result<Fair> {
    let mut items = Vec::new();
    let mut taken = BTreeMap::new();
    for i in inventory.iter().filter(|i| i.fair_id == row.id) {
        let booth_type =
            BoothType::parse(&i.booth_type).ok_or_else(|| corrupt("booth type", &i.booth_type))?;
        items.push(Inventory {
            booth_type,
            capacity: i.capacity as u32,
            fee_fen: i.fee_fen,
        });
        taken.insert(booth_type, i.taken as u32);
    }
    items.sort_by_key(|i| i.booth_type);
    Ok(Fair {
        id: row.id,
        spec: FairSpec {
            kind: FairKind::parse(&row.kind).ok_or_else(|| corrupt("fair kind", &row.kind))?,
            market: Market::parse(&row.market).ok_or_else(|| corrupt("market", &row.market))?,
            mode: AllocationMode::parse(&row.mode)
                .ok_or_else(|| corrupt("allocation mode", &row.mode))?,
            name: row.name,
            city: row.city,
            venue: row.venue,
            starts_at: row.starts_at,
            ends_at: row.ends_at,
            window: Window {
                opens_at: row.opens_at,
                closes_at: row.closes_at,
            },
            inventory: items,
            small_firm_reserve_percent: row.small_firm_reserve_percent as u32,
            a_class_reserve_percent: row.a_class_reserve_percent as u32,
            per_firm_cap: row.per_firm_cap as u32,
        },
        taken,
        version: row.version,
        created_at: row.created_at,
        allocated_at: row.allocated_at,
        reserves_released_at: row.reserves_released_at,
    })
}

async fn load_many(conn: &mut PgConnection, rows: Vec<FairRow>) -> Result<Vec<Fair>> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let inventory: Vec<InventoryRow> = sqlx::query_as(
        "SELECT fair_id, booth_type, capacity, fee_fen, taken FROM booth_inventory WHERE fair_id = ANY($1)",
    )
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter()
        .map(|row| assemble(row, &inventory))
        .collect()
}

/// The fair, or NOT_FOUND.
pub async fn get(conn: &mut PgConnection, id: Uuid) -> Result<Fair> {
    let row: Option<FairRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {FAIR_COLUMNS} FROM fairs WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    let row = row.ok_or_else(|| StoreError::NotFound(format!("fair {id}")))?;
    Ok(load_many(conn, vec![row]).await?.remove(0))
}

async fn write_inventory(conn: &mut PgConnection, id: Uuid, spec: &FairSpec) -> Result<()> {
    for item in &spec.inventory {
        sqlx::query(
            "INSERT INTO booth_inventory (fair_id, booth_type, capacity, fee_fen) VALUES ($1, $2, $3, $4)
             ON CONFLICT (fair_id, booth_type) DO UPDATE SET capacity = EXCLUDED.capacity, fee_fen = EXCLUDED.fee_fen",
        )
        .bind(id)
        .bind(item.booth_type.as_str())
        .bind(item.capacity as i32)
        .bind(item.fee_fen)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Stores a new fair (the spec is validated by the caller).
pub async fn create(pool: &PgPool, spec: &FairSpec) -> Result<Fair> {
    let id = Uuid::now_v7();
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO fairs (id, name, kind, city, venue, market, starts_at, ends_at, opens_at, closes_at, mode,
                            small_firm_reserve_percent, a_class_reserve_percent, per_firm_cap)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(id)
    .bind(&spec.name)
    .bind(spec.kind.as_str())
    .bind(&spec.city)
    .bind(&spec.venue)
    .bind(spec.market.as_str())
    .bind(spec.starts_at)
    .bind(spec.ends_at)
    .bind(spec.window.opens_at)
    .bind(spec.window.closes_at)
    .bind(spec.mode.as_str())
    .bind(spec.small_firm_reserve_percent as i32)
    .bind(spec.a_class_reserve_percent as i32)
    .bind(spec.per_firm_cap as i32)
    .execute(&mut *tx)
    .await?;
    write_inventory(&mut tx, id, spec).await?;
    let fair = get(&mut tx, id).await?;
    tx.commit().await?;
    Ok(fair)
}

/// Replaces a fair's plan if `expected_version` is current. The allocation mode may only
/// change before anyone applied; a booth type with registrations stays, and no capacity
/// drops below the booths taken.
pub async fn update(
    pool: &PgPool,
    id: Uuid,
    spec: &FairSpec,
    expected_version: i64,
) -> Result<Fair> {
    let mut tx = pool.begin().await?;
    lock_fair(&mut tx, id).await?;
    let current = get(&mut tx, id).await?;
    if current.version != expected_version {
        return Err(StoreError::Conflict(format!(
            "fair {id} is at version {}, not {expected_version}",
            current.version
        )));
    }
    let registered: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT booth_type FROM registrations WHERE fair_id = $1")
            .bind(id)
            .fetch_all(&mut *tx)
            .await?;
    if !registered.is_empty() && (spec.mode != current.spec.mode || spec.kind != current.spec.kind)
    {
        return Err(StoreError::Precondition(
            "the kind and allocation mode cannot change once firms have applied".into(),
        ));
    }
    if current.allocated_at.is_some() && spec.window != current.spec.window {
        return Err(StoreError::Precondition(
            "the booths are allocated: the window cannot change".into(),
        ));
    }
    for name in &registered {
        if !spec.inventory.iter().any(|i| i.booth_type.as_str() == name) {
            return Err(StoreError::Precondition(format!(
                "{name} booths have registrations and cannot be removed"
            )));
        }
    }
    for item in &spec.inventory {
        let taken = current.taken_of(item.booth_type);
        if item.capacity < taken {
            return Err(StoreError::Precondition(format!(
                "{} booths: {taken} are taken, the capacity cannot drop to {}",
                item.booth_type.as_str(),
                item.capacity
            )));
        }
    }
    let kept: Vec<&str> = spec
        .inventory
        .iter()
        .map(|i| i.booth_type.as_str())
        .collect();
    sqlx::query("DELETE FROM booth_inventory WHERE fair_id = $1 AND booth_type <> ALL($2)")
        .bind(id)
        .bind(&kept)
        .execute(&mut *tx)
        .await?;
    write_inventory(&mut tx, id, spec).await?;
    sqlx::query(
        "UPDATE fairs SET name = $2, kind = $3, city = $4, venue = $5, market = $6, starts_at = $7, ends_at = $8,
                opens_at = $9, closes_at = $10, mode = $11, small_firm_reserve_percent = $12,
                a_class_reserve_percent = $13, per_firm_cap = $14, version = version + 1, updated_at = now()
         WHERE id = $1",
    )
    .bind(id)
    .bind(&spec.name)
    .bind(spec.kind.as_str())
    .bind(&spec.city)
    .bind(&spec.venue)
    .bind(spec.market.as_str())
    .bind(spec.starts_at)
    .bind(spec.ends_at)
    .bind(spec.window.opens_at)
    .bind(spec.window.closes_at)
    .bind(spec.mode.as_str())
    .bind(spec.small_firm_reserve_percent as i32)
    .bind(spec.a_class_reserve_percent as i32)
    .bind(spec.per_firm_cap as i32)
    .execute(&mut *tx)
    .await?;
    let fair = get(&mut tx, id).await?;
    tx.commit().await?;
    Ok(fair)
}

/// Filters of [`list`].
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub kind: Option<FairKind>,
    pub market: Option<Market>,
    pub external_only: bool,
    /// Only fairs whose window is open at `now`.
    pub open_only: bool,
    /// Also fairs that ended before `now`.
    pub include_past: bool,
}

/// Where a page starts: after this (starts_at in microseconds, id).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Cursor(pub i64, pub String);

impl Cursor {
    pub fn after(fair: &Fair) -> Self {
        Self(fair.spec.starts_at.timestamp_micros(), fair.id.to_string())
    }
}

/// Up to `limit` fairs by start time after `cursor`.
pub async fn list(
    pool: &PgPool,
    filter: &Filter,
    now: DateTime<Utc>,
    cursor: Option<&Cursor>,
    limit: u32,
) -> Result<Vec<Fair>> {
    let mut query: QueryBuilder<Postgres> =
        QueryBuilder::new(format!("SELECT {FAIR_COLUMNS} FROM fairs WHERE true"));
    if let Some(kind) = filter.kind {
        query.push(" AND kind = ").push_bind(kind.as_str());
    }
    if let Some(market) = filter.market {
        query.push(" AND market = ").push_bind(market.as_str());
    }
    if filter.external_only {
        let external: Vec<&str> = FairKind::ALL
            .iter()
            .filter(|k| k.is_external())
            .map(|k| k.as_str())
            .collect();
        query.push(" AND kind = ANY(").push_bind(external).push(")");
    }
    if filter.open_only {
        query
            .push(" AND opens_at <= ")
            .push_bind(now)
            .push(" AND closes_at > ")
            .push_bind(now);
    }
    if !filter.include_past {
        query.push(" AND ends_at > ").push_bind(now);
    }
    if let Some(Cursor(micros, id)) = cursor {
        let starts_at = DateTime::<Utc>::from_timestamp_micros(*micros);
        let id = Uuid::parse_str(id).ok();
        let (Some(starts_at), Some(id)) = (starts_at, id) else {
            return Err(StoreError::Precondition(
                "the page token does not name a fair".into(),
            ));
        };
        query
            .push(" AND (starts_at, id) > (")
            .push_bind(starts_at)
            .push(", ")
            .push_bind(id)
            .push(")");
    }
    query
        .push(" ORDER BY starts_at, id LIMIT ")
        .push_bind(i64::from(limit));
    let rows: Vec<FairRow> = query.build_query_as().fetch_all(pool).await?;
    let mut conn = pool.acquire().await?;
    load_many(&mut conn, rows).await
}

/// Waitlisted registrations of a fair.
pub async fn waitlisted(pool: &PgPool, id: Uuid) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT count(*) FROM registrations WHERE fair_id = $1 AND status = 'waitlisted'",
    )
    .bind(id)
    .fetch_one(pool)
    .await?)
}
