//! Land applications and the queue: ordered at read time by the applicant's class and score
//! from classification events (so a class change re-orders it at once), then by time.
//! Allocation takes the head of the queue of the parcel's park and land use and grants to it
//! with every check of a grant, in one transaction.

use chrono::{DateTime, Utc};
use platform::{Class, Park};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{Result, Store, StoreError, corrupt, parcels, read_model, refused};
use crate::domain::{
    LandUse,
    grant::{GrantCommand, GrantRequest, GrantView},
    queue::{self, ApplicationRecord, NewApplication},
    supply::SupplyMode,
};

struct Row {
    id: Uuid,
    uscc: String,
    class: Option<Class>,
    score: Option<f64>,
    park: Park,
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
            park: r.park,
            land_use: LandUse::parse(&r.land_use)
                .ok_or_else(|| corrupt("land use", &r.land_use))?,
            supply_mode: SupplyMode::parse(&r.supply_mode)
                .ok_or_else(|| corrupt("supply mode", &r.supply_mode))?,
            class: r.class,
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

/// A park's applications in one status; queued ones in queue order with their places.
async fn in_park(
    conn: &mut PgConnection,
    park: Park,
    land_use: Option<LandUse>,
    queued: bool,
) -> Result<Vec<ApplicationRecord>> {
    let rows = sqlx::query_as!(
        Row,
        r#"SELECT a.id, a.uscc, c.class AS "class?: Class", c.score AS "score?", a.park AS "park: Park",
            a.land_use, a.area_centi_mu, a.supply_mode, a.purpose, a.status, a.submitted_at, a.grant_id
        FROM applications a LEFT JOIN classes c ON c.uscc = a.uscc
        WHERE a.park = $1 AND ($2::text IS NULL OR a.land_use = $2) AND a.status = $3"#,
        park.as_str(),
        land_use.map(LandUse::as_str),
        if queued { "queued" } else { "granted" },
    )
    .fetch_all(&mut *conn)
    .await?;
    let records = rows
        .into_iter()
        .map(ApplicationRecord::try_from)
        .collect::<sqlx::Result<Vec<_>>>()?;
    let mut ordered = queue::in_queue_order(records);
    if !queued {
        ordered.iter_mut().for_each(|a| a.position = 0);
    }
    Ok(ordered)
}

impl Store {
    /// Queues an application of an enterprise known from census events.
    pub async fn submit_application(
        &self,
        application: &NewApplication,
    ) -> Result<ApplicationRecord> {
        let mut tx = self.pool.begin().await?;
        let applicant = read_model::enterprise(&mut tx, &application.uscc).await?;
        queue::decide_submission(application, applicant.as_ref()).map_err(refused)?;
        let id = Uuid::now_v7();
        sqlx::query!(
            "INSERT INTO applications (id, uscc, park, land_use, area_centi_mu, supply_mode, purpose, status)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'queued')",
            id,
            application.uscc,
            application.park.as_str(),
            application.land_use.as_str(),
            application.area_centi_mu,
            application.supply_mode.as_str(),
            application.purpose,
        )
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
    ) -> Result<(ApplicationRecord, GrantView)> {
        let mut tx = self.pool.begin().await?;
        let parcel = parcels::load_locked(&mut tx, parcel_id).await?;
        // Serialises allocations of one park and use: the head is taken once.
        sqlx::query!(
            "SELECT pg_advisory_xact_lock(hashtext('land-queue|' || $1 || '|' || $2))",
            parcel.park.as_str(),
            parcel.land_use.as_str()
        )
        .execute(&mut *tx)
        .await?;
        let waiting = in_park(&mut tx, parcel.park, Some(parcel.land_use), true).await?;
        let mut head =
            queue::decide_allocation(waiting, parcel.park, parcel.land_use).map_err(refused)?;
        let command = GrantCommand {
            uscc: &head.uscc,
            request,
        };
        let granted = self
            .grant_in(&mut tx, parcel_id, expected_version, command)
            .await?;
        sqlx::query!(
            "UPDATE applications SET status = 'granted', grant_id = $2 WHERE id = $1",
            head.id,
            granted.grant.id
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        head.queued = false;
        head.position = 0;
        head.grant_id = Some(granted.grant.id);
        Ok((head, granted))
    }
}
