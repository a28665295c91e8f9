//! Fairs and their booth inventory: create, change with an expected version, get, list.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, Postgres, QueryBuilder};
use uuid::Uuid;

use super::{Result, Store, StoreError, corrupt, lock_fair};
use crate::domain::fair::{
    self, AllocationMode, BoothType, Fair, FairKind, FairSpec, Inventory, Market, Window,
};

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

struct InventoryRow {
    fair_id: Uuid,
    booth_type: String,
    capacity: i32,
    fee_fen: i64,
    taken: i32,
}

/// The columns of [`FairRow`], for the dynamic list.
const FAIR_COLUMNS: &str =
    "id, name, kind, city, venue, market, starts_at, ends_at, opens_at, closes_at, mode,
     small_firm_reserve_percent, a_class_reserve_percent, per_firm_cap, version, created_at,
     allocated_at, reserves_released_at";

/// Where a page of fairs starts: after this start time and id.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct After {
    pub starts_at: DateTime<Utc>,
    pub id: Uuid,
}

/// Filters of [`Store::list_fairs`].
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
    let inventory = sqlx::query_as!(
        InventoryRow,
        "SELECT fair_id, booth_type, capacity, fee_fen, taken FROM booth_inventory WHERE fair_id = ANY($1)",
        &ids
    )
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter()
        .map(|row| assemble(row, &inventory))
        .collect()
}

/// The fair, or NOT_FOUND.
pub(super) async fn get(conn: &mut PgConnection, id: Uuid) -> Result<Fair> {
    let row = sqlx::query_as!(
        FairRow,
        "SELECT id, name, kind, city, venue, market, starts_at, ends_at, opens_at, closes_at, mode,
                small_firm_reserve_percent, a_class_reserve_percent, per_firm_cap, version, created_at,
                allocated_at, reserves_released_at
         FROM fairs WHERE id = $1",
        id
    )
    .fetch_optional(&mut *conn)
    .await?;
    let row = row.ok_or_else(|| StoreError::NotFound(format!("fair {id}")))?;
    Ok(load_many(conn, vec![row]).await?.remove(0))
}

async fn write_inventory(conn: &mut PgConnection, id: Uuid, spec: &FairSpec) -> Result<()> {
    for item in &spec.inventory {
        sqlx::query!(
            "INSERT INTO booth_inventory (fair_id, booth_type, capacity, fee_fen) VALUES ($1, $2, $3, $4)
             ON CONFLICT (fair_id, booth_type) DO UPDATE SET capacity = EXCLUDED.capacity, fee_fen = EXCLUDED.fee_fen",
            id,
            item.booth_type.as_str(),
            item.capacity as i32,
            item.fee_fen
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

async fn write_plan(conn: &mut PgConnection, id: Uuid, spec: &FairSpec) -> Result<()> {
    sqlx::query!(
        "UPDATE fairs SET name = $2, kind = $3, city = $4, venue = $5, market = $6, starts_at = $7, ends_at = $8,
                opens_at = $9, closes_at = $10, mode = $11, small_firm_reserve_percent = $12,
                a_class_reserve_percent = $13, per_firm_cap = $14, version = version + 1, updated_at = now()
         WHERE id = $1",
        id,
        spec.name,
        spec.kind.as_str(),
        spec.city,
        spec.venue,
        spec.market.as_str(),
        spec.starts_at,
        spec.ends_at,
        spec.window.opens_at,
        spec.window.closes_at,
        spec.mode.as_str(),
        spec.small_firm_reserve_percent as i32,
        spec.a_class_reserve_percent as i32,
        spec.per_firm_cap as i32
    )
    .execute(conn)
    .await?;
    Ok(())
}

impl Store {
    /// The fair, or NOT_FOUND.
    pub async fn fair(&self, id: Uuid) -> Result<Fair> {
        get(&mut *self.pool.acquire().await?, id).await
    }

    /// Stores a new fair (the spec is validated by the caller).
    pub async fn create_fair(&self, spec: &FairSpec) -> Result<Fair> {
        let id = Uuid::now_v7();
        let mut tx = self.pool.begin().await?;
        sqlx::query!(
            "INSERT INTO fairs (id, name, kind, city, venue, market, starts_at, ends_at, opens_at, closes_at, mode,
                                small_firm_reserve_percent, a_class_reserve_percent, per_firm_cap)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
            id,
            spec.name,
            spec.kind.as_str(),
            spec.city,
            spec.venue,
            spec.market.as_str(),
            spec.starts_at,
            spec.ends_at,
            spec.window.opens_at,
            spec.window.closes_at,
            spec.mode.as_str(),
            spec.small_firm_reserve_percent as i32,
            spec.a_class_reserve_percent as i32,
            spec.per_firm_cap as i32
        )
        .execute(&mut *tx)
        .await?;
        write_inventory(&mut tx, id, spec).await?;
        let fair = get(&mut tx, id).await?;
        tx.commit().await?;
        Ok(fair)
    }

    /// Replaces a fair's plan if `expected_version` is current and
    /// [`fair::decide_update`] allows it.
    pub async fn update_fair(
        &self,
        id: Uuid,
        spec: &FairSpec,
        expected_version: i64,
    ) -> Result<Fair> {
        let mut tx = self.pool.begin().await?;
        lock_fair(&mut tx, id).await?;
        let current = get(&mut tx, id).await?;
        if current.version != expected_version {
            return Err(StoreError::VersionConflict(format!(
                "fair {id} is at version {}, not {expected_version}",
                current.version
            )));
        }
        let registered = sqlx::query_scalar!(
            "SELECT DISTINCT booth_type FROM registrations WHERE fair_id = $1",
            id
        )
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|name| BoothType::parse(name).ok_or_else(|| corrupt("booth type", name)))
        .collect::<Result<Vec<_>>>()?;
        fair::decide_update(&current, &registered, spec)?;
        let kept: Vec<String> = spec
            .inventory
            .iter()
            .map(|i| i.booth_type.as_str().to_string())
            .collect();
        sqlx::query!(
            "DELETE FROM booth_inventory WHERE fair_id = $1 AND booth_type <> ALL($2)",
            id,
            &kept
        )
        .execute(&mut *tx)
        .await?;
        write_inventory(&mut tx, id, spec).await?;
        write_plan(&mut tx, id, spec).await?;
        let fair = get(&mut tx, id).await?;
        tx.commit().await?;
        Ok(fair)
    }

    /// Up to `limit` fairs by start time after `after`.
    pub async fn list_fairs(
        &self,
        filter: &Filter,
        now: DateTime<Utc>,
        after: Option<After>,
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
            query
                .push(" AND kind = ANY(")
                .push_bind(external_kinds())
                .push(")");
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
        if let Some(After { starts_at, id }) = after {
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
        let mut conn = self.pool.acquire().await?;
        let rows: Vec<FairRow> = query.build_query_as().fetch_all(&mut *conn).await?;
        load_many(&mut conn, rows).await
    }

    /// Waitlisted registrations of a fair.
    pub async fn waitlisted(&self, id: Uuid) -> Result<i64> {
        Ok(sqlx::query_scalar!(
            r#"SELECT count(*) AS "count!" FROM registrations WHERE fair_id = $1 AND status = 'waitlisted'"#,
            id
        )
        .fetch_one(&self.pool)
        .await?)
    }
}

/// The stored names of the external fair kinds.
pub(super) fn external_kinds() -> Vec<String> {
    FairKind::ALL
        .iter()
        .filter(|k| k.is_external())
        .map(|k| k.as_str().to_string())
        .collect()
}
