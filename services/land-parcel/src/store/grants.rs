//! Grants: granting a parcel (one grant in force per parcel: the parcel row is locked and a
//! partial unique index backs it up), milestones, lease-to-transfer conversion, reads.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{
    Result, Store, StoreError, check_version, corrupt, is_unique_violation, parcels, read_model,
    refused, today,
};
use crate::{
    domain::{
        conversion::{self, Conversion},
        disposal::{Disposal, FeeStatus, IdleFee},
        grant::{
            self, Commitments, Contract, GrantCommand, GrantDecision, GrantRecord, GrantRefused,
            GrantRequest, GrantState, GrantStatus, GrantView,
        },
        lateness::{Milestone, Progress},
        supply::{SupplyMode, Terms},
    },
    events,
};

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
    idle_on: Option<NaiveDate>,
    idle_fee_fen: Option<i64>,
    idle_fee_status: Option<String>,
    idle_fee_settled_on: Option<NaiveDate>,
    idle_fee_waiver_reason: Option<String>,
    take_back_review_on: Option<NaiveDate>,
    low_efficiency: bool,
    ended_at: Option<DateTime<Utc>>,
    status_before_end: Option<String>,
}

/// The disposal columns of a row (the take-back decision is read on its own).
fn disposal(r: &Row) -> sqlx::Result<Disposal> {
    let idle_fee = match (r.idle_fee_fen, &r.idle_fee_status, r.idle_on) {
        (Some(fee_fen), Some(status), Some(ordered_on)) => Some(IdleFee {
            fee_fen,
            status: FeeStatus::parse(status).ok_or_else(|| corrupt("idle fee status", status))?,
            ordered_on,
            settled_on: r.idle_fee_settled_on,
            waiver_reason: r.idle_fee_waiver_reason.clone(),
        }),
        _ => None,
    };
    let status_before_end = match &r.status_before_end {
        Some(s) => Some(GrantStatus::parse(s).ok_or_else(|| corrupt("grant status", s))?),
        None => None,
    };
    Ok(Disposal {
        idle_fee,
        idle_take_back_on: r.take_back_review_on,
        low_efficiency: r.low_efficiency,
        take_back: None,
        ended_at: r.ended_at,
        status_before_end,
    })
}

impl TryFrom<Row> for GrantRecord {
    type Error = sqlx::Error;
    fn try_from(r: Row) -> sqlx::Result<Self> {
        let mode = SupplyMode::parse(&r.supply_mode)
            .ok_or_else(|| corrupt("supply mode", &r.supply_mode))?;
        let status =
            GrantStatus::parse(&r.status).ok_or_else(|| corrupt("grant status", &r.status))?;
        let disposal = disposal(&r)?;
        Ok(Self {
            disposal,
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

fn records(rows: Vec<Row>) -> Result<Vec<GrantRecord>> {
    rows.into_iter()
        .map(|r| r.try_into().map_err(StoreError::Database))
        .collect()
}

/// One grant.
pub(super) async fn load(conn: &mut PgConnection, id: Uuid) -> Result<GrantRecord> {
    let row = sqlx::query_as!(
        Row,
        "SELECT id, parcel_id, uscc, supply_mode, lease_years, transfer_years, price_fen,
            yearly_rent_fen, deposit_fen, signed_on, start_by, complete_by, production_check_on,
            investment_fen_per_mu, output_fen_per_mu, tax_fen_per_mu, plot_ratio_milli,
            energy_tce_per_wan_yuan, land_centi_mu, status, started_on, completed_on,
            investment_to_date_fen, built_floor_area_centi_m2, last_progress_on, idle_reason,
            rent_credited_fen, granted_at, version, idle_on, idle_fee_fen, idle_fee_status,
            idle_fee_settled_on, idle_fee_waiver_reason, take_back_review_on, low_efficiency,
            ended_at, status_before_end
        FROM grants WHERE id = $1",
        id
    )
    .fetch_optional(&mut *conn)
    .await?;
    let mut grant: GrantRecord = row
        .ok_or_else(|| StoreError::NotFound(format!("grant {id}")))?
        .try_into()
        .map_err(StoreError::Database)?;
    if grant.status == GrantStatus::TakenBack {
        grant.disposal.take_back = super::disposal::take_back_of(conn, id).await?;
    }
    Ok(grant)
}

/// One grant, locked for the rest of the transaction.
pub(super) async fn load_locked(conn: &mut PgConnection, id: Uuid) -> Result<GrantRecord> {
    sqlx::query_scalar!("SELECT id FROM grants WHERE id = $1 FOR UPDATE", id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("grant {id}")))?;
    load(conn, id).await
}

/// Grants in force flagged low-efficiency, by id, after `after`, at most `limit`.
pub(super) async fn low_efficiency(
    conn: &mut PgConnection,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<GrantRecord>> {
    let rows = sqlx::query_as!(
        Row,
        "SELECT id, parcel_id, uscc, supply_mode, lease_years, transfer_years, price_fen,
            yearly_rent_fen, deposit_fen, signed_on, start_by, complete_by, production_check_on,
            investment_fen_per_mu, output_fen_per_mu, tax_fen_per_mu, plot_ratio_milli,
            energy_tce_per_wan_yuan, land_centi_mu, status, started_on, completed_on,
            investment_to_date_fen, built_floor_area_centi_m2, last_progress_on, idle_reason,
            rent_credited_fen, granted_at, version, idle_on, idle_fee_fen, idle_fee_status,
            idle_fee_settled_on, idle_fee_waiver_reason, take_back_review_on, low_efficiency,
            ended_at, status_before_end
        FROM grants WHERE low_efficiency AND status IN ('leasing', 'transferred')
            AND ($1::uuid IS NULL OR id > $1)
        ORDER BY id LIMIT $2",
        after,
        limit
    )
    .fetch_all(&mut *conn)
    .await?;
    records(rows)
}

/// The grant in force on a parcel at `at`: granted by then and not ended
/// by then, with the status it had then.
pub(super) async fn in_force_at(
    conn: &mut PgConnection,
    parcel_id: &str,
    at: DateTime<Utc>,
) -> Result<Option<GrantRecord>> {
    let id = sqlx::query_scalar!(
        "SELECT id FROM grants WHERE parcel_id = $1 AND granted_at <= $2
            AND (ended_at IS NULL OR ended_at > $2)
         ORDER BY granted_at DESC LIMIT 1",
        parcel_id,
        at
    )
    .fetch_optional(&mut *conn)
    .await?;
    let Some(id) = id else { return Ok(None) };
    let mut grant = load(conn, id).await?;
    if grant.disposal.ended_at.is_some_and(|ended| ended > at) {
        grant.status = grant.disposal.status_before_end.unwrap_or(grant.status);
        grant.disposal.take_back = None;
        grant.disposal.ended_at = None;
    }
    Ok(Some(grant))
}

/// The grant in force on a parcel, if any.
pub(super) async fn in_force_on(
    conn: &mut PgConnection,
    parcel_id: &str,
) -> Result<Option<GrantRecord>> {
    let rows = sqlx::query_as!(
        Row,
        "SELECT id, parcel_id, uscc, supply_mode, lease_years, transfer_years, price_fen,
            yearly_rent_fen, deposit_fen, signed_on, start_by, complete_by, production_check_on,
            investment_fen_per_mu, output_fen_per_mu, tax_fen_per_mu, plot_ratio_milli,
            energy_tce_per_wan_yuan, land_centi_mu, status, started_on, completed_on,
            investment_to_date_fen, built_floor_area_centi_m2, last_progress_on, idle_reason,
            rent_credited_fen, granted_at, version, idle_on, idle_fee_fen, idle_fee_status,
            idle_fee_settled_on, idle_fee_waiver_reason, take_back_review_on, low_efficiency,
            ended_at, status_before_end
        FROM grants WHERE parcel_id = $1 AND status IN ('leasing', 'transferred')",
        parcel_id
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(records(rows)?.into_iter().next())
}

/// The grants in force of a holder, locked (an evaluation writes after reading them).
pub(super) async fn in_force_of(conn: &mut PgConnection, uscc: &str) -> Result<Vec<GrantRecord>> {
    let rows = sqlx::query_as!(
        Row,
        "SELECT id, parcel_id, uscc, supply_mode, lease_years, transfer_years, price_fen,
            yearly_rent_fen, deposit_fen, signed_on, start_by, complete_by, production_check_on,
            investment_fen_per_mu, output_fen_per_mu, tax_fen_per_mu, plot_ratio_milli,
            energy_tce_per_wan_yuan, land_centi_mu, status, started_on, completed_on,
            investment_to_date_fen, built_floor_area_centi_m2, last_progress_on, idle_reason,
            rent_credited_fen, granted_at, version, idle_on, idle_fee_fen, idle_fee_status,
            idle_fee_settled_on, idle_fee_waiver_reason, take_back_review_on, low_efficiency,
            ended_at, status_before_end
        FROM grants WHERE uscc = $1 AND status IN ('leasing', 'transferred')
        ORDER BY id FOR UPDATE",
        uscc
    )
    .fetch_all(&mut *conn)
    .await?;
    records(rows)
}

/// Writes a decided grant; a second grant in force on the parcel (a race the lock did not
/// see) is refused by the unique index.
async fn insert(
    conn: &mut PgConnection,
    id: Uuid,
    parcel_id: &str,
    uscc: &str,
    d: &GrantDecision,
) -> Result<()> {
    let (terms, contract, commitments) = (&d.plan.terms, &d.plan.contract, &d.plan.commitments);
    let inserted = sqlx::query!(
        "INSERT INTO grants (id, parcel_id, uscc, supply_mode, lease_years, transfer_years, price_fen,
             yearly_rent_fen, deposit_fen, signed_on, start_by, complete_by, production_check_on,
             investment_fen_per_mu, output_fen_per_mu, tax_fen_per_mu, plot_ratio_milli,
             energy_tce_per_wan_yuan, land_centi_mu, status)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)",
        id,
        parcel_id,
        uscc,
        terms.mode.as_str(),
        terms.lease_years as i32,
        terms.transfer_years as i32,
        terms.price_fen,
        terms.yearly_rent_fen,
        contract.deposit_fen,
        contract.signed_on,
        contract.start_by,
        contract.complete_by,
        contract.production_check_on,
        commitments.investment_fen_per_mu,
        commitments.output_fen_per_mu,
        commitments.tax_fen_per_mu,
        commitments.plot_ratio_milli,
        commitments.energy_tce_per_wan_yuan,
        d.land_centi_mu,
        d.status.as_str(),
    )
    .execute(&mut *conn)
    .await;
    match inserted {
        Ok(_) => Ok(()),
        Err(err) if is_unique_violation(&err) => {
            Err(refused(GrantRefused::AlreadyGranted(parcel_id.to_string())))
        }
        Err(err) => Err(err.into()),
    }
}

impl Store {
    /// The grant's lateness on `day`, with the configured rates.
    pub(super) fn view(&self, grant: GrantRecord, day: NaiveDate) -> GrantView {
        grant::view(grant, day, &self.rules)
    }

    /// Grants `parcel_id` to `uscc` inside `conn`'s transaction: load the parcel (locked) and
    /// the holder, decide, write the grant and the parcel's status, announce `ParcelGranted`.
    pub(super) async fn grant_in(
        &self,
        conn: &mut PgConnection,
        parcel_id: &str,
        expected_version: i64,
        command: GrantCommand<'_>,
    ) -> Result<GrantView> {
        let parcel = parcels::load_locked(conn, parcel_id).await?;
        check_version(
            &format!("parcel {parcel_id}"),
            parcel.version,
            expected_version,
        )?;
        let holder = read_model::enterprise(conn, command.uscc).await?;
        let state = GrantState {
            parcel: &parcel,
            holder: holder.as_ref(),
        };
        let decision = grant::decide(state, command, &self.rules).map_err(refused)?;
        let id = Uuid::now_v7();
        insert(conn, id, parcel_id, command.uscc, &decision).await?;
        parcels::set_status(conn, parcel_id, decision.parcel_status).await?;
        let granted = self.view(load(conn, id).await?, today(conn).await?);
        let parcel = parcels::load(conn, parcel_id).await?;
        self.publish(conn, vec![events::parcel_granted(&parcel, &granted)])
            .await?;
        Ok(granted)
    }

    pub async fn grant(
        &self,
        parcel_id: &str,
        expected_version: i64,
        uscc: &str,
        request: &GrantRequest,
    ) -> Result<GrantView> {
        let mut tx = self.pool.begin().await?;
        let command = GrantCommand { uscc, request };
        let granted = self
            .grant_in(&mut tx, parcel_id, expected_version, command)
            .await?;
        tx.commit().await?;
        Ok(granted)
    }

    pub async fn grant_view(&self, id: Uuid) -> Result<GrantView> {
        let mut conn = self.pool.acquire().await?;
        let grant = load(&mut conn, id).await?;
        let day = today(&mut conn).await?;
        Ok(self.view(grant, day))
    }

    /// The grant in force on a parcel, with its lateness.
    pub async fn grant_on(&self, parcel_id: &str) -> Result<Option<GrantView>> {
        let mut conn = self.pool.acquire().await?;
        let Some(grant) = in_force_on(&mut conn, parcel_id).await? else {
            return Ok(None);
        };
        let day = today(&mut conn).await?;
        Ok(Some(self.view(grant, day)))
    }

    /// Records a milestone; the grant's progress moves with it.
    pub async fn record_milestone(
        &self,
        id: Uuid,
        milestone: &Milestone,
        by: &str,
    ) -> Result<GrantView> {
        let mut tx = self.pool.begin().await?;
        let grant = load_locked(&mut tx, id).await?;
        let day = today(&mut tx).await?;
        let progress = grant::decide_milestone(&grant, milestone, day).map_err(refused)?;
        sqlx::query!(
            "INSERT INTO milestones (grant_id, kind, on_date, investment_to_date_fen, built_floor_area_centi_m2, recorded_by)
             VALUES ($1, $2, $3, $4, $5, $6)",
            id,
            milestone.kind.as_str(),
            milestone.on,
            milestone.investment_to_date_fen,
            milestone.built_floor_area_centi_m2,
            by,
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query!(
            "UPDATE grants SET started_on = $2, completed_on = $3, investment_to_date_fen = $4,
                 built_floor_area_centi_m2 = $5, last_progress_on = $6, version = version + 1
             WHERE id = $1",
            id,
            progress.started_on,
            progress.completed_on,
            progress.investment_to_date_fen,
            progress.built_floor_area_centi_m2,
            progress.last_progress_on,
        )
        .execute(&mut *tx)
        .await?;
        let grant = load(&mut tx, id).await?;
        tx.commit().await?;
        Ok(self.view(grant, day))
    }

    /// Converts a lease-then-transfer grant whose lease is over and whose latest evaluation
    /// found every commitment met; the rent paid is credited against the price.
    pub async fn convert_lease(
        &self,
        id: Uuid,
        expected_version: i64,
    ) -> Result<(GrantView, Conversion)> {
        let mut tx = self.pool.begin().await?;
        let grant = load_locked(&mut tx, id).await?;
        check_version(&format!("grant {id}"), grant.version, expected_version)?;
        let latest_all_met = sqlx::query_scalar!(
            "SELECT all_met FROM evaluations WHERE grant_id = $1 ORDER BY seq DESC LIMIT 1",
            id
        )
        .fetch_optional(&mut *tx)
        .await?;
        let day = today(&mut tx).await?;
        let conversion = conversion::decide(&grant, latest_all_met, day).map_err(refused)?;
        sqlx::query!(
            "UPDATE grants SET status = 'transferred', rent_credited_fen = $2, version = version + 1 WHERE id = $1",
            id,
            conversion.rent_credited_fen
        )
        .execute(&mut *tx)
        .await?;
        let parcel = parcels::load_locked(&mut tx, &grant.parcel_id).await?;
        if let Some(status) = conversion::parcel_after(parcel.status) {
            parcels::set_status(&mut tx, &grant.parcel_id, status).await?;
        }
        let grant = self.view(load(&mut tx, id).await?, day);
        let event = events::lease_converted(&grant, &conversion, Utc::now());
        self.publish(&mut tx, vec![event]).await?;
        tx.commit().await?;
        Ok((grant, conversion))
    }
}
