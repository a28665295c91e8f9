//! Land applications and the queue: ordered at read time by the applicant's class and score
//! from classification events (so a class change re-orders it at once), then by time.
//! Allocation takes the head of the queue of the parcel's park and land use and grants to it
//! with every check of a grant, in one transaction.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{Result, Store, StoreError, grants, parcels, read_model};
use crate::domain::{
    LandUse, Park, check_holder,
    grant::GrantRequest,
    queue::{Class, QueueKey, queue_order},
    supply::SupplyMode,
};

/// A new application.
#[derive(Debug, Clone)]
pub struct NewApplication {
    pub uscc: String,
    pub park: Park,
    pub land_use: LandUse,
    pub area_centi_mu: i64,
    pub supply_mode: SupplyMode,
    pub purpose: String,
}

/// An application with its place.
#[derive(Debug, Clone, PartialEq)]
pub struct ApplicationRecord {
    pub id: Uuid,
    pub uscc: String,
    pub class: Option<Class>,
    pub score: f64,
    pub park: Park,
    pub land_use: LandUse,
    pub area_centi_mu: i64,
    pub supply_mode: SupplyMode,
    pub purpose: String,
    pub queued: bool,
    pub submitted_at: DateTime<Utc>,
    /// 1-based place in its park's queue; 0 when no longer queued.
    pub position: usize,
    pub grant_id: Option<Uuid>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    uscc: String,
    class: Option<String>,
    score: Option<f64>,
    park: String,
    land_use: String,
    area_centi_mu: i64,
    supply_mode: String,
    purpose: String,
    status: String,
    submitted_at: DateTime<Utc>,
    grant_id: Option<Uuid>,
}

impl TryFrom<Row> for ApplicationRecord {
    type Error = sqlx::Error;
    fn try_from(r: Row) -> sqlx::Result<Self> {
        Ok(Self {
            park: Park::parse(&r.park).ok_or_else(|| parcels::corrupt("park", &r.park))?,
            land_use: LandUse::parse(&r.land_use)
                .ok_or_else(|| parcels::corrupt("land use", &r.land_use))?,
            supply_mode: SupplyMode::parse(&r.supply_mode)
                .ok_or_else(|| parcels::corrupt("supply mode", &r.supply_mode))?,
            class: r.class.as_deref().and_then(Class::parse),
            score: r.score.unwrap_or(0.0),
            queued: r.status == "queued",
            id: r.id,
            uscc: r.uscc,
            area_centi_mu: r.area_centi_mu,
            purpose: r.purpose,
            submitted_at: r.submitted_at,
            position: 0,
            grant_id: r.grant_id,
        })
    }
}

const SELECT: &str = "SELECT a.id, a.uscc, c.class, c.score, a.park, a.land_use, a.area_centi_mu,
        a.supply_mode, a.purpose, a.status, a.submitted_at, a.grant_id
    FROM applications a LEFT JOIN classes c ON c.uscc = a.uscc
    WHERE a.park = $1 AND ($2::text IS NULL OR a.land_use = $2) AND a.status = $3";

/// A park's applications in one status; queued ones in queue order with their places.
async fn in_park(
    conn: &mut PgConnection,
    park: Park,
    land_use: Option<LandUse>,
    queued: bool,
) -> Result<Vec<ApplicationRecord>> {
    let rows: Vec<Row> = sqlx::query_as(SELECT)
        .bind(park.as_str())
        .bind(land_use.map(LandUse::as_str))
        .bind(if queued { "queued" } else { "granted" })
        .fetch_all(&mut *conn)
        .await?;
    let mut records = rows
        .into_iter()
        .map(ApplicationRecord::try_from)
        .collect::<sqlx::Result<Vec<_>>>()?;
    let key = |a: &ApplicationRecord| QueueKey {
        class: a.class,
        score: a.score,
        submitted_at: a.submitted_at,
        id: a.id.to_string(),
    };
    records.sort_by(|a, b| queue_order(&key(a), &key(b)));
    if queued {
        for (i, record) in records.iter_mut().enumerate() {
            record.position = i + 1;
        }
    }
    Ok(records)
}

impl Store {
    /// Queues an application of an enterprise known from census events.
    pub async fn submit_application(
        &self,
        application: &NewApplication,
    ) -> Result<ApplicationRecord> {
        let mut tx = self.pool.begin().await?;
        let holder = read_model::enterprise(&mut tx, &application.uscc).await?;
        check_holder(
            &application.uscc,
            holder.as_ref(),
            application.land_use == LandUse::Industrial,
        )
        .map_err(|why| StoreError::Precondition(why.to_string()))?;
        let id = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO applications (id, uscc, park, land_use, area_centi_mu, supply_mode, purpose, status)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'queued')",
        )
        .bind(id)
        .bind(&application.uscc)
        .bind(application.park.as_str())
        .bind(application.land_use.as_str())
        .bind(application.area_centi_mu)
        .bind(application.supply_mode.as_str())
        .bind(&application.purpose)
        .execute(&mut *tx)
        .await?;
        let queue = in_park(&mut tx, application.park, None, true).await?;
        tx.commit().await?;
        queue
            .into_iter()
            .find(|a| a.id == id)
            .ok_or_else(|| StoreError::NotFound(format!("application {id}")))
    }

    /// A park's queue (or its granted applications), in order.
    pub async fn applications(&self, park: Park, queued: bool) -> Result<Vec<ApplicationRecord>> {
        let mut conn = self.pool.acquire().await?;
        in_park(&mut conn, park, None, queued).await
    }

    /// Grants `parcel_id` to the head of its park's queue for its land use.
    pub async fn allocate(
        &self,
        parcel_id: &str,
        expected_version: i64,
        request: &GrantRequest,
    ) -> Result<(ApplicationRecord, grants::GrantView)> {
        let mut tx = self.pool.begin().await?;
        let parcel = parcels::load(&mut tx, parcel_id, true).await?;
        // Serialises allocations of one park and use: the head is taken once.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext('land-queue|' || $1 || '|' || $2))")
            .bind(parcel.park.as_str())
            .bind(parcel.land_use.as_str())
            .execute(&mut *tx)
            .await?;
        let queue = in_park(&mut tx, parcel.park, Some(parcel.land_use), true).await?;
        let mut head = queue.into_iter().next().ok_or_else(|| {
            StoreError::Precondition(format!(
                "no queued application for {} land in {}",
                parcel.land_use.as_str(),
                parcel.park.as_str()
            ))
        })?;
        let grant = grants::grant_in(
            &mut tx,
            self,
            parcel_id,
            expected_version,
            &head.uscc,
            request,
        )
        .await?;
        sqlx::query("UPDATE applications SET status = 'granted', grant_id = $2 WHERE id = $1")
            .bind(head.id)
            .bind(grant.id)
            .execute(&mut *tx)
            .await?;
        let day = super::today(&mut tx).await?;
        tx.commit().await?;
        head.queued = false;
        head.position = 0;
        head.grant_id = Some(grant.id);
        Ok((head, grants::view(self, grant, day)))
    }
}
