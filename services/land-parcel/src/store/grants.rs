//! Grants: granting a parcel (one grant in force per parcel: the parcel row is locked and a
//! partial unique index backs it up), milestones, lease-to-transfer conversion, reads.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{Result, Store, StoreError, events, is_unique_violation, parcels, read_model, today};
use crate::domain::{
    conversion::{self, Conversion, LeaseFacts},
    grant::{
        self, Commitments, Contract, GrantPlan, GrantRefused, GrantRequest, GrantStatus,
        ParcelFacts,
    },
    lateness::{self, Lateness, Milestone, MilestoneRefused, Progress},
    parcel::ParcelStatus,
    supply::{SupplyMode, Terms},
};

/// A grant as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct GrantRecord {
    pub id: Uuid,
    pub parcel_id: String,
    pub uscc: String,
    pub terms: Terms,
    pub contract: Contract,
    pub commitments: Commitments,
    pub land_centi_mu: i64,
    pub status: GrantStatus,
    pub progress: Progress,
    pub idle_reason: Option<String>,
    pub rent_credited_fen: i64,
    pub granted_at: DateTime<Utc>,
    pub version: i64,
}

/// A grant with its lateness as of the day it was read.
#[derive(Debug, Clone, PartialEq)]
pub struct GrantView {
    pub grant: GrantRecord,
    pub lateness: Lateness,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    parcel_id: String,
    uscc: String,
    supply_mode: String,
    lease_years: i32,
    transfer_years: i32,
    price_fen: i64,
    yearly_rent_fen: i64,
    deposit_fen: i64,
    signed_on: NaiveDate,
    start_by: NaiveDate,
    complete_by: NaiveDate,
    production_check_on: NaiveDate,
    investment_fen_per_mu: i64,
    output_fen_per_mu: i64,
    tax_fen_per_mu: i64,
    plot_ratio_milli: i64,
    energy_tce_per_wan_yuan: Option<f64>,
    land_centi_mu: i64,
    status: String,
    started_on: Option<NaiveDate>,
    completed_on: Option<NaiveDate>,
    investment_to_date_fen: i64,
    built_floor_area_centi_m2: i64,
    last_progress_on: Option<NaiveDate>,
    idle_reason: Option<String>,
    rent_credited_fen: i64,
    granted_at: DateTime<Utc>,
    version: i64,
}

impl TryFrom<Row> for GrantRecord {
    type Error = sqlx::Error;
    fn try_from(r: Row) -> sqlx::Result<Self> {
        let mode = SupplyMode::parse(&r.supply_mode)
            .ok_or_else(|| parcels::corrupt("supply mode", &r.supply_mode))?;
        let status = GrantStatus::parse(&r.status)
            .ok_or_else(|| parcels::corrupt("grant status", &r.status))?;
        Ok(Self {
            id: r.id,
            parcel_id: r.parcel_id,
            uscc: r.uscc,
            terms: Terms {
                mode,
                lease_years: r.lease_years.max(0) as u32,
                transfer_years: r.transfer_years.max(0) as u32,
                price_fen: r.price_fen,
                yearly_rent_fen: r.yearly_rent_fen,
            },
            contract: Contract {
                deposit_fen: r.deposit_fen,
                signed_on: r.signed_on,
                start_by: r.start_by,
                complete_by: r.complete_by,
                production_check_on: r.production_check_on,
            },
            commitments: Commitments {
                investment_fen_per_mu: r.investment_fen_per_mu,
                output_fen_per_mu: r.output_fen_per_mu,
                tax_fen_per_mu: r.tax_fen_per_mu,
                plot_ratio_milli: r.plot_ratio_milli,
                energy_tce_per_wan_yuan: r.energy_tce_per_wan_yuan,
            },
            land_centi_mu: r.land_centi_mu,
            status,
            progress: Progress {
                started_on: r.started_on,
                completed_on: r.completed_on,
                investment_to_date_fen: r.investment_to_date_fen,
                built_floor_area_centi_m2: r.built_floor_area_centi_m2,
                last_progress_on: r.last_progress_on,
            },
            idle_reason: r.idle_reason,
            rent_credited_fen: r.rent_credited_fen,
            granted_at: r.granted_at,
            version: r.version,
        })
    }
}

/// One grant, locked when `lock`.
pub async fn load(conn: &mut PgConnection, id: Uuid, lock: bool) -> Result<GrantRecord> {
    let sql = if lock {
        "SELECT * FROM grants WHERE id = $1 FOR UPDATE"
    } else {
        "SELECT * FROM grants WHERE id = $1"
    };
    let row: Option<Row> = sqlx::query_as(sql)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    row.ok_or_else(|| StoreError::NotFound(format!("grant {id}")))?
        .try_into()
        .map_err(StoreError::Database)
}

/// The grant in force on a parcel, if any.
pub async fn in_force_on(conn: &mut PgConnection, parcel_id: &str) -> Result<Option<GrantRecord>> {
    let row: Option<Row> = sqlx::query_as(
        "SELECT * FROM grants WHERE parcel_id = $1 AND status IN ('leasing', 'transferred')",
    )
    .bind(parcel_id)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(GrantRecord::try_from)
        .transpose()
        .map_err(StoreError::Database)
}

/// The grants in force of a holder, locked (an evaluation writes after reading them).
pub async fn in_force_of(conn: &mut PgConnection, uscc: &str) -> Result<Vec<GrantRecord>> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT * FROM grants WHERE uscc = $1 AND status IN ('leasing', 'transferred') ORDER BY id FOR UPDATE",
    )
    .bind(uscc)
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter()
        .map(|r| r.try_into().map_err(StoreError::Database))
        .collect()
}

/// Lateness of a grant on `today`, with the configured rates.
pub fn view(store: &Store, grant: GrantRecord, today: NaiveDate) -> GrantView {
    let lateness = lateness::lateness(
        grant.terms.price_fen,
        grant.contract.start_by,
        grant.contract.complete_by,
        &grant.progress,
        today,
        &store.rules.lateness,
    );
    GrantView { grant, lateness }
}

/// Grants `parcel_id` to `uscc` inside `conn`'s transaction: the checks of a grant, the
/// grant row, the parcel's new status and the `ParcelGranted` event.
pub async fn grant_in(
    conn: &mut PgConnection,
    store: &Store,
    parcel_id: &str,
    expected_version: i64,
    uscc: &str,
    request: &GrantRequest,
) -> Result<GrantRecord> {
    let parcel = parcels::load(conn, parcel_id, true).await?;
    if expected_version != 0 && parcel.version != expected_version {
        return Err(StoreError::Stale(format!(
            "parcel {parcel_id} is at version {}, not {expected_version}",
            parcel.version
        )));
    }
    if parcel.status != ParcelStatus::Available {
        return Err(StoreError::Precondition(format!(
            "parcel {parcel_id} is {}, not available",
            parcel.status.as_str()
        )));
    }
    let holder = read_model::enterprise(conn, uscc).await?;
    let facts = ParcelFacts {
        land_use: parcel.land_use,
        plan_min_milli: parcel.plot_ratio_min_milli,
        plan_max_milli: parcel.plot_ratio_max_milli,
    };
    let GrantPlan {
        terms,
        contract,
        commitments,
    } = grant::plan(
        request,
        facts,
        uscc,
        holder.as_ref(),
        &store.rules.terms,
        &store.rules.plot_ratio_minimums,
    )
    .map_err(|refused| match refused {
        GrantRefused::Invalid(violations) => StoreError::Invalid(violations),
        GrantRefused::Holder(why) => StoreError::Precondition(why.to_string()),
    })?;
    let status = match terms.mode {
        SupplyMode::LeaseThenTransfer => GrantStatus::Leasing,
        _ => GrantStatus::Transferred,
    };
    let id = Uuid::now_v7();
    let inserted = sqlx::query(
        "INSERT INTO grants (id, parcel_id, uscc, supply_mode, lease_years, transfer_years, price_fen,
             yearly_rent_fen, deposit_fen, signed_on, start_by, complete_by, production_check_on,
             investment_fen_per_mu, output_fen_per_mu, tax_fen_per_mu, plot_ratio_milli,
             energy_tce_per_wan_yuan, land_centi_mu, status)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)",
    )
    .bind(id)
    .bind(parcel_id)
    .bind(uscc)
    .bind(terms.mode.as_str())
    .bind(terms.lease_years as i32)
    .bind(terms.transfer_years as i32)
    .bind(terms.price_fen)
    .bind(terms.yearly_rent_fen)
    .bind(contract.deposit_fen)
    .bind(contract.signed_on)
    .bind(contract.start_by)
    .bind(contract.complete_by)
    .bind(contract.production_check_on)
    .bind(commitments.investment_fen_per_mu)
    .bind(commitments.output_fen_per_mu)
    .bind(commitments.tax_fen_per_mu)
    .bind(commitments.plot_ratio_milli)
    .bind(commitments.energy_tce_per_wan_yuan)
    .bind(parcel.area_centi_mu)
    .bind(status.as_str())
    .execute(&mut *conn)
    .await;
    match inserted {
        Ok(_) => {}
        Err(err) if is_unique_violation(&err) => {
            return Err(StoreError::Precondition(format!(
                "parcel {parcel_id} already has a grant in force"
            )));
        }
        Err(err) => return Err(err.into()),
    }
    let parcel_status = if status == GrantStatus::Leasing {
        ParcelStatus::Leased
    } else {
        ParcelStatus::Granted
    };
    parcels::set_status(conn, parcel_id, parcel_status).await?;
    let grant = load(conn, id, false).await?;
    let parcel = parcels::load(conn, parcel_id, false).await?;
    let day = today(conn).await?;
    events::parcel_granted(conn, store, &parcel, &view(store, grant.clone(), day)).await?;
    Ok(grant)
}

impl Store {
    pub async fn grant(
        &self,
        parcel_id: &str,
        expected_version: i64,
        uscc: &str,
        request: &GrantRequest,
    ) -> Result<GrantView> {
        let mut tx = self.pool.begin().await?;
        let grant = grant_in(&mut tx, self, parcel_id, expected_version, uscc, request).await?;
        let day = today(&mut tx).await?;
        tx.commit().await?;
        Ok(view(self, grant, day))
    }

    pub async fn grant_view(&self, id: Uuid) -> Result<GrantView> {
        let mut conn = self.pool.acquire().await?;
        let grant = load(&mut conn, id, false).await?;
        let day = today(&mut conn).await?;
        Ok(view(self, grant, day))
    }

    /// The grant in force on a parcel, with its lateness.
    pub async fn grant_on(&self, parcel_id: &str) -> Result<Option<GrantView>> {
        let mut conn = self.pool.acquire().await?;
        let Some(grant) = in_force_on(&mut conn, parcel_id).await? else {
            return Ok(None);
        };
        let day = today(&mut conn).await?;
        Ok(Some(view(self, grant, day)))
    }

    /// Records a milestone; the grant's progress moves with it.
    pub async fn record_milestone(
        &self,
        id: Uuid,
        milestone: &Milestone,
        by: &str,
    ) -> Result<GrantView> {
        let mut tx = self.pool.begin().await?;
        let grant = load(&mut tx, id, true).await?;
        if grant.status == GrantStatus::Ended {
            return Err(StoreError::Precondition(format!("grant {id} has ended")));
        }
        let day = today(&mut tx).await?;
        let progress =
            lateness::apply_milestone(&grant.progress, grant.contract.signed_on, milestone, day)
                .map_err(|refused| match refused {
                    MilestoneRefused::Invalid(v) => StoreError::Invalid(v),
                    MilestoneRefused::Precondition(why) => StoreError::Precondition(why),
                })?;
        sqlx::query(
            "INSERT INTO milestones (grant_id, kind, on_date, investment_to_date_fen, built_floor_area_centi_m2, recorded_by)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(milestone.kind.as_str())
        .bind(milestone.on)
        .bind(milestone.investment_to_date_fen)
        .bind(milestone.built_floor_area_centi_m2)
        .bind(by)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE grants SET started_on = $2, completed_on = $3, investment_to_date_fen = $4,
                 built_floor_area_centi_m2 = $5, last_progress_on = $6, version = version + 1
             WHERE id = $1",
        )
        .bind(id)
        .bind(progress.started_on)
        .bind(progress.completed_on)
        .bind(progress.investment_to_date_fen)
        .bind(progress.built_floor_area_centi_m2)
        .bind(progress.last_progress_on)
        .execute(&mut *tx)
        .await?;
        let grant = load(&mut tx, id, false).await?;
        tx.commit().await?;
        Ok(view(self, grant, day))
    }

    /// Converts a lease-then-transfer grant whose lease is over and whose latest evaluation
    /// found every commitment met; the rent paid is credited against the price.
    pub async fn convert_lease(
        &self,
        id: Uuid,
        expected_version: i64,
    ) -> Result<(GrantView, Conversion)> {
        let mut tx = self.pool.begin().await?;
        let grant = load(&mut tx, id, true).await?;
        if expected_version != 0 && grant.version != expected_version {
            return Err(StoreError::Stale(format!(
                "grant {id} is at version {}, not {expected_version}",
                grant.version
            )));
        }
        let latest_all_met: Option<bool> = sqlx::query_scalar(
            "SELECT all_met FROM evaluations WHERE grant_id = $1 ORDER BY seq DESC LIMIT 1",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let day = today(&mut tx).await?;
        let facts = LeaseFacts {
            leasing: grant.status == GrantStatus::Leasing,
            signed_on: grant.contract.signed_on,
            lease_years: grant.terms.lease_years,
            yearly_rent_fen: grant.terms.yearly_rent_fen,
            price_fen: grant.terms.price_fen,
            latest_all_met,
        };
        let conversion = conversion::convert(&facts, day)
            .map_err(|why| StoreError::Precondition(why.to_string()))?;
        sqlx::query(
            "UPDATE grants SET status = 'transferred', rent_credited_fen = $2, version = version + 1 WHERE id = $1",
        )
        .bind(id)
        .bind(conversion.rent_credited_fen)
        .execute(&mut *tx)
        .await?;
        let parcel = parcels::load(&mut tx, &grant.parcel_id, true).await?;
        if parcel.status == ParcelStatus::Leased {
            parcels::set_status(&mut tx, &grant.parcel_id, ParcelStatus::Granted).await?;
        }
        let grant = view(self, load(&mut tx, id, false).await?, day);
        events::lease_converted(&mut tx, self, &grant, &conversion).await?;
        tx.commit().await?;
        Ok((grant, conversion))
    }
}
