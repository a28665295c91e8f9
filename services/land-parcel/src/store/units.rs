//! Buildings on granted parcels, their separable units, and unit leases and sales with their
//! history.

use std::collections::HashMap;

use chrono::Utc;
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, types::Json};
use uuid::Uuid;

use super::{
    Result, Store, StoreError, corrupt, evaluations, grants, is_unique_violation, parcels,
    read_model, refused,
};
use crate::{
    domain::{
        evaluation::Figures,
        units::{
            self, BuildingRecord, FloorSpec, HolderFigures, Transfer, TransferState, UnitRecord,
            UnitSpec, UnitStatus, apportioned_centi_mu,
        },
    },
    events,
};

/// A floor as stored in a building's JSON.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct FloorJson {
    number: i32,
    area_centi_m2: i64,
}

struct UnitRow {
    id: Uuid,
    building_id: Uuid,
    parcel_id: String,
    floor: i32,
    part: String,
    floor_area_centi_m2: i64,
    status: String,
    holder_uscc: Option<String>,
    version: i64,
    parcel_centi_mu: i64,
    parcel_floor_centi_m2: i64,
    holder_year: Option<i32>,
    holder_output_fen_per_mu: Option<i64>,
    holder_tax_fen_per_mu: Option<i64>,
    holder_meets_commitments: Option<bool>,
}

impl UnitRow {
    fn holder_figures(&self) -> Option<HolderFigures> {
        Some(HolderFigures {
            year: self.holder_year?,
            output_fen_per_mu: self.holder_output_fen_per_mu?,
            tax_fen_per_mu: self.holder_tax_fen_per_mu?,
            meets_commitments: self.holder_meets_commitments?,
        })
    }
}

impl TryFrom<UnitRow> for UnitRecord {
    type Error = sqlx::Error;
    fn try_from(r: UnitRow) -> sqlx::Result<Self> {
        Ok(Self {
            status: UnitStatus::parse(&r.status)
                .ok_or_else(|| corrupt("unit status", &r.status))?,
            apportioned_centi_mu: apportioned_centi_mu(
                r.floor_area_centi_m2,
                r.parcel_floor_centi_m2,
                r.parcel_centi_mu,
            ),
            holder_figures: r.holder_figures(),
            id: r.id,
            building_id: r.building_id,
            parcel_id: r.parcel_id,
            floor: r.floor,
            part: r.part,
            floor_area_centi_m2: r.floor_area_centi_m2,
            holder_uscc: r.holder_uscc,
            version: r.version,
        })
    }
}

/// One unit, with the land apportioned by floor area among all buildings of its parcel.
async fn unit(conn: &mut PgConnection, id: Uuid) -> Result<UnitRecord> {
    let row = sqlx::query_as!(
        UnitRow,
        r#"SELECT u.id, u.building_id, u.parcel_id, u.floor, u.part, u.floor_area_centi_m2,
            u.status, u.holder_uscc, u.version, p.area_centi_mu AS parcel_centi_mu,
            u.holder_year, u.holder_output_fen_per_mu, u.holder_tax_fen_per_mu, u.holder_meets_commitments,
            (SELECT COALESCE(sum(total_floor_centi_m2), 0)::bigint FROM buildings b WHERE b.parcel_id = u.parcel_id) AS "parcel_floor_centi_m2!"
        FROM units u JOIN parcels p ON p.id = u.parcel_id
        WHERE u.id = $1"#,
        id
    )
    .fetch_optional(&mut *conn)
    .await?;
    row.ok_or_else(|| StoreError::NotFound(format!("unit {id}")))?
        .try_into()
        .map_err(StoreError::Database)
}

/// The buildings of a parcel with their units.
async fn buildings_of(conn: &mut PgConnection, parcel_id: &str) -> Result<Vec<BuildingRecord>> {
    let rows = sqlx::query!(
        r#"SELECT id, parcel_id, name, floors AS "floors: Json<Vec<FloorJson>>"
        FROM buildings WHERE parcel_id = $1 ORDER BY name"#,
        parcel_id
    )
    .fetch_all(&mut *conn)
    .await?;
    let unit_rows = sqlx::query_as!(
        UnitRow,
        r#"SELECT u.id, u.building_id, u.parcel_id, u.floor, u.part, u.floor_area_centi_m2,
            u.status, u.holder_uscc, u.version, p.area_centi_mu AS parcel_centi_mu,
            u.holder_year, u.holder_output_fen_per_mu, u.holder_tax_fen_per_mu, u.holder_meets_commitments,
            (SELECT COALESCE(sum(total_floor_centi_m2), 0)::bigint FROM buildings b WHERE b.parcel_id = u.parcel_id) AS "parcel_floor_centi_m2!"
        FROM units u JOIN parcels p ON p.id = u.parcel_id
        WHERE u.parcel_id = $1 ORDER BY u.building_id, u.floor, u.part"#,
        parcel_id
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut by_building: HashMap<Uuid, Vec<UnitRecord>> = HashMap::new();
    for row in unit_rows {
        let unit = UnitRecord::try_from(row)?;
        by_building.entry(unit.building_id).or_default().push(unit);
    }
    Ok(rows
        .into_iter()
        .map(|b| BuildingRecord {
            units: by_building.remove(&b.id).unwrap_or_default(),
            id: b.id,
            parcel_id: b.parcel_id,
            name: b.name,
            floors: b
                .floors
                .0
                .into_iter()
                .map(|f| FloorSpec {
                    number: f.number,
                    area_centi_m2: f.area_centi_m2,
                })
                .collect(),
        })
        .collect())
}

/// Writes the building and its units (production space: the only use split off).
async fn insert_building(
    conn: &mut PgConnection,
    id: Uuid,
    parcel_id: &str,
    name: &str,
    floors: &[FloorSpec],
    specs: &[UnitSpec],
) -> Result<()> {
    let floor_json: Vec<FloorJson> = floors
        .iter()
        .map(|f| FloorJson {
            number: f.number,
            area_centi_m2: f.area_centi_m2,
        })
        .collect();
    let total: i64 = floors.iter().map(|f| f.area_centi_m2).sum();
    let inserted = sqlx::query!(
        "INSERT INTO buildings (id, parcel_id, name, floors, total_floor_centi_m2) VALUES ($1, $2, $3, $4, $5)",
        id,
        parcel_id,
        name.trim(),
        Json(&floor_json) as _,
        total,
    )
    .execute(&mut *conn)
    .await;
    if let Err(err) = inserted {
        return Err(if is_unique_violation(&err) {
            StoreError::AlreadyExists(format!("building {name:?} on parcel {parcel_id}"))
        } else {
            err.into()
        });
    }
    for spec in specs {
        sqlx::query!(
            "INSERT INTO units (id, building_id, parcel_id, floor, part, floor_area_centi_m2, unit_use, status)
             VALUES ($1, $2, $3, $4, $5, $6, 'production', 'available')",
            Uuid::now_v7(),
            id,
            parcel_id,
            spec.floor,
            spec.part,
            spec.area_centi_m2,
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Writes a decided transfer: the unit's status and holder, and a line of its history.
async fn record_transfer(
    conn: &mut PgConnection,
    id: Uuid,
    uscc: &str,
    transfer: Transfer,
    status: UnitStatus,
    by: &str,
) -> Result<()> {
    sqlx::query!(
        "UPDATE units SET status = $2, holder_uscc = $3, version = version + 1 WHERE id = $1",
        id,
        status.as_str(),
        uscc
    )
    .execute(&mut *conn)
    .await?;
    let (term, rent, price) = match transfer {
        Transfer::Lease {
            term_months,
            yearly_rent_fen,
        } => (Some(term_months), Some(yearly_rent_fen), None),
        Transfer::Sale { price_fen } => (None, None, Some(price_fen)),
    };
    sqlx::query!(
        "INSERT INTO unit_transactions (unit_id, kind, uscc, term_months, yearly_rent_fen, price_fen, recorded_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        id,
        transfer.kind(),
        uscc,
        term,
        rent,
        price,
        by,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Evaluates the units `uscc` holds per mu of their apportioned land on its yearly return
/// of `year`, against the output and tax per mu of each parcel's grant in force; returns how
/// many units were updated. An older year than the one recorded changes nothing.
pub(super) async fn evaluate_holder(
    conn: &mut PgConnection,
    uscc: &str,
    year: i32,
    figures: &Figures,
) -> Result<usize> {
    let ids = sqlx::query_scalar!(
        "SELECT id FROM units WHERE holder_uscc = $1 AND status IN ('leased', 'sold')
           AND (holder_year IS NULL OR holder_year <= $2) ORDER BY id FOR UPDATE",
        uscc,
        year
    )
    .fetch_all(&mut *conn)
    .await?;
    for &id in &ids {
        let held = unit(conn, id).await?;
        let grant = grants::in_force_on(conn, &held.parcel_id).await?;
        let h = units::holder_figures(&held, year, figures, grant.as_ref());
        sqlx::query!(
            "UPDATE units SET holder_year = $2, holder_output_fen_per_mu = $3, holder_tax_fen_per_mu = $4,
                 holder_meets_commitments = $5
             WHERE id = $1",
            id,
            h.year,
            h.output_fen_per_mu,
            h.tax_fen_per_mu,
            h.meets_commitments,
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(ids.len())
}

impl Store {
    /// Defines a building on a parcel under a grant in force.
    pub async fn define_building(
        &self,
        parcel_id: &str,
        name: &str,
        floors: &[FloorSpec],
        specs: &[UnitSpec],
    ) -> Result<BuildingRecord> {
        units::check_new_building(name, floors, specs, &self.rules).map_err(refused)?;
        let mut tx = self.pool.begin().await?;
        let parcel = parcels::load_locked(&mut tx, parcel_id).await?;
        let grant = grants::in_force_on(&mut tx, parcel_id).await?;
        units::decide_building(&parcel, grant.as_ref()).map_err(refused)?;
        let id = Uuid::now_v7();
        insert_building(&mut tx, id, parcel_id, name, floors, specs).await?;
        let building = buildings_of(&mut tx, parcel_id)
            .await?
            .into_iter()
            .find(|b| b.id == id)
            .ok_or_else(|| StoreError::NotFound(format!("building {id}")))?;
        tx.commit().await?;
        Ok(building)
    }

    /// Leases or sells a unit.
    pub async fn transfer_unit(
        &self,
        id: Uuid,
        expected_version: i64,
        uscc: &str,
        transfer: Transfer,
        by: &str,
    ) -> Result<UnitRecord> {
        let mut tx = self.pool.begin().await?;
        sqlx::query_scalar!("SELECT id FROM units WHERE id = $1 FOR UPDATE", id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("unit {id}")))?;
        let current = unit(&mut tx, id).await?;
        super::check_version(&format!("unit {id}"), current.version, expected_version)?;
        let holder = read_model::enterprise(&mut tx, uscc).await?;
        let grant = grants::in_force_on(&mut tx, &current.parcel_id).await?;
        let latest_outcome = match &grant {
            Some(g) => evaluations::latest(&mut tx, g.id)
                .await?
                .map(|e| e.evaluation.outcome),
            None => None,
        };
        let state = TransferState {
            unit: &current,
            holder: holder.as_ref(),
            grant: grant.as_ref(),
            latest_outcome,
        };
        let status = units::decide_transfer(state, uscc, transfer).map_err(refused)?;
        record_transfer(&mut tx, id, uscc, transfer, status, by).await?;
        let updated = unit(&mut tx, id).await?;
        let event = events::unit_transferred(&updated, transfer, Utc::now());
        self.publish(&mut tx, vec![event]).await?;
        tx.commit().await?;
        Ok(updated)
    }

    pub async fn buildings(&self, parcel_id: &str) -> Result<Vec<BuildingRecord>> {
        let mut conn = self.pool.acquire().await?;
        buildings_of(&mut conn, parcel_id).await
    }
}
