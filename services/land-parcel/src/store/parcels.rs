//! Parcels: register, read with lineage, list with filters and keyset paging, split, merge.

use chrono::{DateTime, Utc};
use platform::Park;
use sqlx::{PgConnection, Postgres, QueryBuilder};

use super::{Result, Store, StoreError, check_version, corrupt, is_unique_violation, refused};
use crate::{
    domain::{
        LandUse,
        parcel::{self, NewParcel, ParcelRecord, ParcelStatus, Part},
    },
    events,
};

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    park: Park,
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

impl TryFrom<Row> for ParcelRecord {
    type Error = sqlx::Error;
    fn try_from(r: Row) -> sqlx::Result<Self> {
        Ok(Self {
            park: r.park,
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

/// Locks a parcel's row for the rest of the transaction.
pub(super) async fn lock(conn: &mut PgConnection, id: &str) -> Result<()> {
    sqlx::query_scalar!("SELECT id FROM parcels WHERE id = $1 FOR UPDATE", id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("parcel {id}")))?;
    Ok(())
}

/// One parcel with its lineage.
pub(super) async fn load(conn: &mut PgConnection, id: &str) -> Result<ParcelRecord> {
    let row = sqlx::query_as!(
        Row,
        r#"SELECT p.id, p.park AS "park: Park", p.land_use, p.area_centi_mu,
            p.plot_ratio_min_milli, p.plot_ratio_max_milli, p.status, p.location, p.version,
            p.created_at,
            ARRAY(SELECT parent_id FROM parcel_lineage WHERE child_id = p.id ORDER BY parent_id) AS "parent_ids!",
            ARRAY(SELECT child_id FROM parcel_lineage WHERE parent_id = p.id ORDER BY child_id) AS "child_ids!"
        FROM parcels p WHERE p.id = $1"#,
        id
    )
    .fetch_optional(&mut *conn)
    .await?;
    row.ok_or_else(|| StoreError::NotFound(format!("parcel {id}")))?
        .try_into()
        .map_err(StoreError::Database)
}

/// One parcel, locked.
pub(super) async fn load_locked(conn: &mut PgConnection, id: &str) -> Result<ParcelRecord> {
    lock(conn, id).await?;
    load(conn, id).await
}

/// Sets a parcel's status and bumps its version.
pub(super) async fn set_status(
    conn: &mut PgConnection,
    id: &str,
    status: ParcelStatus,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE parcels SET status = $2, version = version + 1 WHERE id = $1",
        id,
        status.as_str()
    )
    .execute(&mut *conn)
    .await?;
    record_status(conn, id, status.as_str()).await
}

/// Keeps a parcel's new status in its history (read as of any time).
async fn record_status(conn: &mut PgConnection, id: &str, status: &str) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO parcel_status_history (parcel_id, status) VALUES ($1, $2)",
        id,
        status
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A parcel's status at `at`; `None` before it was recorded.
pub(super) async fn status_at(
    conn: &mut PgConnection,
    id: &str,
    at: DateTime<Utc>,
) -> Result<Option<ParcelStatus>> {
    let status = sqlx::query_scalar!(
        "SELECT status FROM parcel_status_history WHERE parcel_id = $1 AND since <= $2
         ORDER BY since DESC, id DESC LIMIT 1",
        id,
        at
    )
    .fetch_optional(conn)
    .await?;
    status
        .map(|s| ParcelStatus::parse(&s).ok_or_else(|| corrupt("status", &s).into()))
        .transpose()
}

async fn insert(conn: &mut PgConnection, p: &NewParcel) -> Result<()> {
    let inserted = sqlx::query!(
        "INSERT INTO parcels (id, park, land_use, area_centi_mu, plot_ratio_min_milli, plot_ratio_max_milli, status, location)
         VALUES ($1, $2, $3, $4, $5, $6, 'available', $7)",
        p.id,
        p.park.as_str(),
        p.land_use.as_str(),
        p.area_centi_mu,
        p.plot_ratio_min_milli,
        p.plot_ratio_max_milli,
        p.location,
    )
    .execute(&mut *conn)
    .await;
    match inserted {
        Ok(_) => Ok(record_status(conn, &p.id, "available").await?),
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
    sqlx::query!(
        "UPDATE parcels SET status = 'ended', ended_at = now(), version = version + 1 WHERE id = $1",
        id
    )
    .execute(&mut *conn)
    .await?;
    record_status(conn, id, "ended").await
}

async fn link(conn: &mut PgConnection, parent: &str, child: &str) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO parcel_lineage (parent_id, child_id) VALUES ($1, $2)",
        parent,
        child
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The list's statement: the filters that are set, after `after`, by id.
fn list_query(filter: &ParcelFilter, after: Option<&str>, limit: u32) -> QueryBuilder<Postgres> {
    let mut q = QueryBuilder::new(
        "SELECT p.id, p.park, p.land_use, p.area_centi_mu, p.plot_ratio_min_milli,
            p.plot_ratio_max_milli, p.status, p.location, p.version, p.created_at,
            ARRAY(SELECT parent_id FROM parcel_lineage WHERE child_id = p.id ORDER BY parent_id) AS parent_ids,
            ARRAY(SELECT child_id FROM parcel_lineage WHERE parent_id = p.id ORDER BY child_id) AS child_ids
        FROM parcels p WHERE true",
    );
    if let Some(parks) = &filter.parks {
        let names: Vec<String> = parks.iter().map(|p| p.as_str().to_string()).collect();
        q.push(" AND p.park = ANY(").push_bind(names).push(")");
    }
    if let Some(land_use) = filter.land_use {
        q.push(" AND p.land_use = ").push_bind(land_use.as_str());
    }
    if let Some(status) = filter.status {
        q.push(" AND p.status = ").push_bind(status.as_str());
    }
    if let Some(after) = after {
        q.push(" AND p.id > ").push_bind(after.to_string());
    }
    q.push(" ORDER BY p.id LIMIT ").push_bind(i64::from(limit));
    q
}

impl Store {
    pub async fn register_parcel(&self, parcel: &NewParcel) -> Result<ParcelRecord> {
        let mut tx = self.pool.begin().await?;
        insert(&mut tx, parcel).await?;
        let record = load(&mut tx, &parcel.id).await?;
        tx.commit().await?;
        Ok(record)
    }

    pub async fn parcel(&self, id: &str) -> Result<ParcelRecord> {
        let mut conn = self.pool.acquire().await?;
        load(&mut conn, id).await
    }

    /// A parcel as it was at `at`: its status then (NOT_FOUND before it was recorded) and the
    /// grant in force then, with its lateness as of that day.
    pub async fn parcel_at(
        &self,
        id: &str,
        at: DateTime<Utc>,
    ) -> Result<(ParcelRecord, Option<crate::domain::grant::GrantView>)> {
        let mut conn = self.pool.acquire().await?;
        let mut parcel = load(&mut conn, id).await?;
        parcel.status = status_at(&mut conn, id, at)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("parcel {id} at {at}")))?;
        let grant = super::grants::in_force_at(&mut conn, id, at).await?;
        let day = (at + chrono::Duration::hours(8)).date_naive();
        Ok((parcel, grant.map(|g| self.view(g, day))))
    }

    /// One page of parcels after `after` (by id), at most `limit`.
    pub async fn list_parcels(
        &self,
        filter: &ParcelFilter,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<ParcelRecord>> {
        let rows: Vec<Row> = list_query(filter, after, limit)
            .build_query_as()
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
        let parent = load_locked(&mut tx, id).await?;
        check_version(&format!("parcel {id}"), parent.version, expected_version)?;
        let children = parcel::decide_split(&parent, parts).map_err(refused)?;
        end(&mut tx, id).await?;
        for child in &children {
            insert(&mut tx, child).await?;
            link(&mut tx, id, &child.id).await?;
        }
        let mut records = Vec::new();
        for child in &children {
            records.push(load(&mut tx, &child.id).await?);
        }
        let event = events::parcel_split(id, &records, Utc::now());
        self.publish(&mut tx, vec![event]).await?;
        tx.commit().await?;
        Ok(records)
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
        let mut parcels = Vec::new();
        for id in sorted {
            parcels.push(load_locked(&mut tx, id).await?);
        }
        let merged = parcel::decide_merge(&parcels, new_id, location).map_err(refused)?;
        for parcel in &parcels {
            end(&mut tx, &parcel.id).await?;
        }
        insert(&mut tx, &merged).await?;
        for parcel in &parcels {
            link(&mut tx, &parcel.id, new_id).await?;
        }
        let record = load(&mut tx, new_id).await?;
        let old: Vec<String> = parcels.iter().map(|p| p.id.clone()).collect();
        let event = events::parcel_merged(&old, &record, Utc::now());
        self.publish(&mut tx, vec![event]).await?;
        tx.commit().await?;
        Ok(record)
    }
}
