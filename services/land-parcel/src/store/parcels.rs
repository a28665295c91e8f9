//! Parcels: register, read with lineage, list with filters and keyset paging, split, merge.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::{Result, Store, StoreError, is_unique_violation};
use crate::domain::{
    LandUse, Park,
    parcel::{self, MergeInput, NewParcel, ParcelStatus, Part},
};

/// A parcel as stored, with its lineage.
#[derive(Debug, Clone, PartialEq)]
pub struct ParcelRecord {
    pub id: String,
    pub park: Park,
    pub land_use: LandUse,
    pub area_centi_mu: i64,
    pub plot_ratio_min_milli: i64,
    pub plot_ratio_max_milli: i64,
    pub status: ParcelStatus,
    pub location: String,
    pub parent_ids: Vec<String>,
    pub child_ids: Vec<String>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    park: String,
    land_use: String,
    area_centi_mu: i64,
    plot_ratio_min_milli: i64,
    plot_ratio_max_milli: i64,
    status: String,
    location: String,
    version: i64,
    created_at: DateTime<Utc>,
    parent_ids: Vec<String>,
    child_ids: Vec<String>,
}

/// A stored value this code did not write.
pub fn corrupt(what: &str, value: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("stored {what} {value:?} is not one this service writes").into())
}

impl TryFrom<Row> for ParcelRecord {
    type Error = sqlx::Error;
    fn try_from(r: Row) -> sqlx::Result<Self> {
        Ok(Self {
            park: Park::parse(&r.park).ok_or_else(|| corrupt("park", &r.park))?,
            land_use: LandUse::parse(&r.land_use)
                .ok_or_else(|| corrupt("land use", &r.land_use))?,
            status: ParcelStatus::parse(&r.status).ok_or_else(|| corrupt("status", &r.status))?,
            id: r.id,
            area_centi_mu: r.area_centi_mu,
            plot_ratio_min_milli: r.plot_ratio_min_milli,
            plot_ratio_max_milli: r.plot_ratio_max_milli,
            location: r.location,
            parent_ids: r.parent_ids,
            child_ids: r.child_ids,
            version: r.version,
            created_at: r.created_at,
        })
    }
}

/// One parcel by id ($1), with its lineage.
const BY_ID: &str = "SELECT p.id, p.park, p.land_use, p.area_centi_mu, p.plot_ratio_min_milli,
        p.plot_ratio_max_milli, p.status, p.location, p.version, p.created_at,
        ARRAY(SELECT parent_id FROM parcel_lineage WHERE child_id = p.id ORDER BY parent_id) AS parent_ids,
        ARRAY(SELECT child_id FROM parcel_lineage WHERE parent_id = p.id ORDER BY child_id) AS child_ids
    FROM parcels p WHERE p.id = $1";

/// The same, locking the parcel's row.
const BY_ID_LOCKED: &str = "SELECT p.id, p.park, p.land_use, p.area_centi_mu, p.plot_ratio_min_milli,
        p.plot_ratio_max_milli, p.status, p.location, p.version, p.created_at,
        ARRAY(SELECT parent_id FROM parcel_lineage WHERE child_id = p.id ORDER BY parent_id) AS parent_ids,
        ARRAY(SELECT child_id FROM parcel_lineage WHERE parent_id = p.id ORDER BY child_id) AS child_ids
    FROM parcels p WHERE p.id = $1 FOR UPDATE OF p";

/// One parcel, locked for update when `lock`.
pub async fn load(conn: &mut PgConnection, id: &str, lock: bool) -> Result<ParcelRecord> {
    let sql = if lock { BY_ID_LOCKED } else { BY_ID };
    let row: Option<Row> = sqlx::query_as(sql)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    row.ok_or_else(|| StoreError::NotFound(format!("parcel {id}")))?
        .try_into()
        .map_err(StoreError::Database)
}

/// Sets a parcel's status and bumps its version.
pub async fn set_status(
    conn: &mut PgConnection,
    id: &str,
    status: ParcelStatus,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE parcels SET status = $2, version = version + 1 WHERE id = $1")
        .bind(id)
        .bind(status.as_str())
        .execute(conn)
        .await?;
    Ok(())
}

async fn insert(conn: &mut PgConnection, p: &NewParcel) -> Result<()> {
    let inserted = sqlx::query(
        "INSERT INTO parcels (id, park, land_use, area_centi_mu, plot_ratio_min_milli, plot_ratio_max_milli, status, location)
         VALUES ($1, $2, $3, $4, $5, $6, 'available', $7)",
    )
    .bind(&p.id)
    .bind(p.park.as_str())
    .bind(p.land_use.as_str())
    .bind(p.area_centi_mu)
    .bind(p.plot_ratio_min_milli)
    .bind(p.plot_ratio_max_milli)
    .bind(&p.location)
    .execute(conn)
    .await;
    match inserted {
        Ok(_) => Ok(()),
        Err(err) if is_unique_violation(&err) => {
            Err(StoreError::AlreadyExists(format!("parcel {}", p.id)))
        }
        Err(err) => Err(err.into()),
    }
}

/// Filters of a parcel list; `None` matches everything.
#[derive(Debug, Clone, Default)]
pub struct ParcelFilter {
    pub parks: Option<Vec<Park>>,
    pub land_use: Option<LandUse>,
    pub status: Option<ParcelStatus>,
}

async fn end(conn: &mut PgConnection, id: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE parcels SET status = 'ended', ended_at = now(), version = version + 1 WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

async fn link(conn: &mut PgConnection, parent: &str, child: &str) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO parcel_lineage (parent_id, child_id) VALUES ($1, $2)")
        .bind(parent)
        .bind(child)
        .execute(conn)
        .await?;
    Ok(())
}

fn check_version(parcel: &ParcelRecord, expected: i64) -> Result<()> {
    if expected != 0 && parcel.version != expected {
        return Err(StoreError::Stale(format!(
            "parcel {} is at version {}, not {expected}",
            parcel.id, parcel.version
        )));
    }
    Ok(())
}

impl Store {
    pub async fn register_parcel(&self, parcel: &NewParcel) -> Result<ParcelRecord> {
        let mut tx = self.pool.begin().await?;
        insert(&mut tx, parcel).await?;
        let record = load(&mut tx, &parcel.id, false).await?;
        tx.commit().await?;
        Ok(record)
    }

    pub async fn parcel(&self, id: &str) -> Result<ParcelRecord> {
        let mut conn = self.pool.acquire().await?;
        load(&mut conn, id, false).await
    }

    /// One page of parcels after `after` (by id), at most `limit`.
    pub async fn list_parcels(
        &self,
        filter: &ParcelFilter,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<ParcelRecord>> {
        let parks: Option<Vec<&str>> = filter
            .parks
            .as_ref()
            .map(|parks| parks.iter().map(|p| p.as_str()).collect());
        const Q: &str = "SELECT * FROM (SELECT p.id, p.park, p.land_use, p.area_centi_mu, p.plot_ratio_min_milli,
                p.plot_ratio_max_milli, p.status, p.location, p.version, p.created_at,
                ARRAY(SELECT parent_id FROM parcel_lineage WHERE child_id = p.id ORDER BY parent_id) AS parent_ids,
                ARRAY(SELECT child_id FROM parcel_lineage WHERE parent_id = p.id ORDER BY child_id) AS child_ids
            FROM parcels p
            WHERE ($1::text[] IS NULL OR p.park = ANY($1))
              AND ($2::text IS NULL OR p.land_use = $2)
              AND ($3::text IS NULL OR p.status = $3)
              AND ($4::text IS NULL OR p.id > $4)
            ORDER BY p.id LIMIT $5) page";
        let rows: Vec<Row> = sqlx::query_as(Q)
            .bind(parks)
            .bind(filter.land_use.map(LandUse::as_str))
            .bind(filter.status.map(ParcelStatus::as_str))
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter()
            .map(|r| r.try_into().map_err(StoreError::Database))
            .collect()
    }

    /// Ends an available parcel and creates its parts (checked by the caller for shape).
    pub async fn split_parcel(
        &self,
        id: &str,
        expected_version: i64,
        parts: &[Part],
    ) -> Result<Vec<ParcelRecord>> {
        let mut tx = self.pool.begin().await?;
        let parent = load(&mut tx, id, true).await?;
        check_version(&parent, expected_version)?;
        if parent.status != ParcelStatus::Available {
            return Err(StoreError::Precondition(format!(
                "parcel {id} is {}: only an available parcel is split",
                parent.status.as_str()
            )));
        }
        let mut violations = platform::Violations::new();
        parcel::check_split(id, parent.area_centi_mu, parts, &mut violations);
        if !violations.is_empty() {
            return Err(StoreError::Invalid(violations));
        }
        end(&mut tx, id).await?;
        let mut children = Vec::new();
        for part in parts {
            let child = NewParcel {
                id: part.id.clone(),
                park: parent.park,
                land_use: parent.land_use,
                area_centi_mu: part.area_centi_mu,
                plot_ratio_min_milli: parent.plot_ratio_min_milli,
                plot_ratio_max_milli: parent.plot_ratio_max_milli,
                location: part.location.clone(),
            };
            insert(&mut tx, &child).await?;
            link(&mut tx, id, &part.id).await?;
        }
        for part in parts {
            children.push(load(&mut tx, &part.id, false).await?);
        }
        tx.commit().await?;
        Ok(children)
    }

    /// Ends two or more available parcels of one park and use and creates their union.
    pub async fn merge_parcels(
        &self,
        ids: &[String],
        new_id: &str,
        location: &str,
    ) -> Result<ParcelRecord> {
        let mut tx = self.pool.begin().await?;
        let mut sorted: Vec<&String> = ids.iter().collect();
        // Locks in id order, so two merges never wait on each other in a circle.
        sorted.sort();
        let mut inputs = Vec::new();
        for id in sorted {
            let p = load(&mut tx, id, true).await?;
            inputs.push(MergeInput {
                id: p.id,
                park: p.park,
                land_use: p.land_use,
                status: p.status,
                area_centi_mu: p.area_centi_mu,
                plot_ratio_min_milli: p.plot_ratio_min_milli,
                plot_ratio_max_milli: p.plot_ratio_max_milli,
            });
        }
        let (area, min, max) =
            parcel::merge(&inputs).map_err(|e| StoreError::Precondition(e.to_string()))?;
        let first = &inputs[0];
        let merged = NewParcel {
            id: new_id.to_string(),
            park: first.park,
            land_use: first.land_use,
            area_centi_mu: area,
            plot_ratio_min_milli: min,
            plot_ratio_max_milli: max,
            location: location.to_string(),
        };
        for input in &inputs {
            end(&mut tx, &input.id).await?;
        }
        insert(&mut tx, &merged).await?;
        for input in &inputs {
            link(&mut tx, &input.id, new_id).await?;
        }
        let record = load(&mut tx, new_id, false).await?;
        tx.commit().await?;
        Ok(record)
    }
}
