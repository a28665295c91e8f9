//! Buildings on granted parcels, their separable units, and unit leases and sales with their
//! history. A unit goes only to a manufacturer known from census events, and only while the
//! parcel's performance agreement is complied with (its latest evaluation is not short).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, types::Json};
use uuid::Uuid;

use super::{Result, Store, StoreError, evaluations, events, grants, parcels, read_model};
use crate::domain::{
    check_holder,
    evaluation::{Figures, Outcome, per_mu},
    units::{self, FloorSpec, UnitSpec, apportioned_centi_mu},
};

/// A floor as stored in a building's JSON.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct FloorJson {
    number: i32,
    area_centi_m2: i64,
}

/// Where a unit stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnitStatus {
    Available,
    Leased,
    Sold,
}

impl UnitStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            UnitStatus::Available => "available",
            UnitStatus::Leased => "leased",
            UnitStatus::Sold => "sold",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        [UnitStatus::Available, UnitStatus::Leased, UnitStatus::Sold]
            .into_iter()
            .find(|s| s.as_str() == name)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct UnitRecord {
    pub id: Uuid,
    pub building_id: Uuid,
    pub parcel_id: String,
    pub floor: i32,
    pub part: String,
    pub floor_area_centi_m2: i64,
    pub status: UnitStatus,
    pub holder_uscc: Option<String>,
    pub apportioned_centi_mu: i64,
    pub version: i64,
    pub holder_figures: Option<HolderFigures>,
}

/// A unit holder's latest yearly figures per mu of its apportioned land.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HolderFigures {
    pub year: i32,
    pub output_fen_per_mu: i64,
    pub tax_fen_per_mu: i64,
    pub meets_commitments: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BuildingRecord {
    pub id: Uuid,
    pub parcel_id: String,
    pub name: String,
    pub floors: Vec<FloorSpec>,
    pub units: Vec<UnitRecord>,
}

#[derive(sqlx::FromRow)]
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

impl TryFrom<UnitRow> for UnitRecord {
    type Error = sqlx::Error;
    fn try_from(r: UnitRow) -> sqlx::Result<Self> {
        Ok(Self {
            status: UnitStatus::parse(&r.status)
                .ok_or_else(|| parcels::corrupt("unit status", &r.status))?,
            apportioned_centi_mu: apportioned_centi_mu(
                r.floor_area_centi_m2,
                r.parcel_floor_centi_m2,
                r.parcel_centi_mu,
            ),
            id: r.id,
            building_id: r.building_id,
            parcel_id: r.parcel_id,
            floor: r.floor,
            part: r.part,
            floor_area_centi_m2: r.floor_area_centi_m2,
            holder_uscc: r.holder_uscc,
            version: r.version,
            holder_figures: match (
                r.holder_year,
                r.holder_output_fen_per_mu,
                r.holder_tax_fen_per_mu,
                r.holder_meets_commitments,
            ) {
                (
                    Some(year),
                    Some(output_fen_per_mu),
                    Some(tax_fen_per_mu),
                    Some(meets_commitments),
                ) => Some(HolderFigures {
                    year,
                    output_fen_per_mu,
                    tax_fen_per_mu,
                    meets_commitments,
                }),
                _ => None,
            },
        })
    }
}

/// Units with the land apportioned by floor area among all buildings of their parcel.
const UNITS: &str = "SELECT u.id, u.building_id, u.parcel_id, u.floor, u.part, u.floor_area_centi_m2,
        u.status, u.holder_uscc, u.version, p.area_centi_mu AS parcel_centi_mu,
        u.holder_year, u.holder_output_fen_per_mu, u.holder_tax_fen_per_mu, u.holder_meets_commitments,
        (SELECT COALESCE(sum(total_floor_centi_m2), 0)::bigint FROM buildings b WHERE b.parcel_id = u.parcel_id) AS parcel_floor_centi_m2
    FROM units u JOIN parcels p ON p.id = u.parcel_id
    WHERE u.parcel_id = $1 ORDER BY u.building_id, u.floor, u.part";

const UNIT_BY_ID: &str = "SELECT u.id, u.building_id, u.parcel_id, u.floor, u.part, u.floor_area_centi_m2,
        u.status, u.holder_uscc, u.version, p.area_centi_mu AS parcel_centi_mu,
        u.holder_year, u.holder_output_fen_per_mu, u.holder_tax_fen_per_mu, u.holder_meets_commitments,
        (SELECT COALESCE(sum(total_floor_centi_m2), 0)::bigint FROM buildings b WHERE b.parcel_id = u.parcel_id) AS parcel_floor_centi_m2
    FROM units u JOIN parcels p ON p.id = u.parcel_id
    WHERE u.id = $1";

async fn unit(conn: &mut PgConnection, id: Uuid) -> Result<UnitRecord> {
    let row: Option<UnitRow> = sqlx::query_as(UNIT_BY_ID)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    row.ok_or_else(|| StoreError::NotFound(format!("unit {id}")))?
        .try_into()
        .map_err(StoreError::Database)
}

/// The buildings of a parcel with their units.
pub async fn buildings_of(conn: &mut PgConnection, parcel_id: &str) -> Result<Vec<BuildingRecord>> {
    let rows: Vec<(Uuid, String, String, Json<Vec<FloorJson>>)> = sqlx::query_as(
        "SELECT id, parcel_id, name, floors FROM buildings WHERE parcel_id = $1 ORDER BY name",
    )
    .bind(parcel_id)
    .fetch_all(&mut *conn)
    .await?;
    let unit_rows: Vec<UnitRow> = sqlx::query_as(UNITS)
        .bind(parcel_id)
        .fetch_all(&mut *conn)
        .await?;
    let mut by_building: HashMap<Uuid, Vec<UnitRecord>> = HashMap::new();
    for row in unit_rows {
        let unit = UnitRecord::try_from(row)?;
        by_building.entry(unit.building_id).or_default().push(unit);
    }
    Ok(rows
        .into_iter()
        .map(|(id, parcel_id, name, floors)| BuildingRecord {
            units: by_building.remove(&id).unwrap_or_default(),
            id,
            parcel_id,
            name,
            floors: floors
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

/// Evaluates the units `uscc` holds per mu of their apportioned land on its yearly return
/// of `year`, against the output and tax per mu of each parcel's grant in force; returns how
/// many units were updated. An older year than the one recorded changes nothing.
pub async fn evaluate_holder(
    conn: &mut PgConnection,
    uscc: &str,
    year: i32,
    figures: &Figures,
) -> Result<usize> {
    let ids: Vec<Uuid> = sqlx::query_scalar(
        "SELECT id FROM units WHERE holder_uscc = $1 AND status IN ('leased', 'sold')
           AND (holder_year IS NULL OR holder_year <= $2) ORDER BY id FOR UPDATE",
    )
    .bind(uscc)
    .bind(year)
    .fetch_all(&mut *conn)
    .await?;
    for &id in &ids {
        let held = unit(conn, id).await?;
        let grant = grants::in_force_on(conn, &held.parcel_id).await?;
        let output = per_mu(figures.output_fen, held.apportioned_centi_mu);
        let tax = per_mu(figures.tax_fen, held.apportioned_centi_mu);
        let meets = grant.is_some_and(|g| {
            output >= g.commitments.output_fen_per_mu && tax >= g.commitments.tax_fen_per_mu
        });
        sqlx::query(
            "UPDATE units SET holder_year = $2, holder_output_fen_per_mu = $3, holder_tax_fen_per_mu = $4,
                 holder_meets_commitments = $5
             WHERE id = $1",
        )
        .bind(id)
        .bind(year)
        .bind(output)
        .bind(tax)
        .bind(meets)
        .execute(&mut *conn)
        .await?;
    }
    Ok(ids.len())
}

/// A lease or a sale.
#[derive(Debug, Clone, Copy)]
pub enum Transfer {
    Lease {
        term_months: i32,
        yearly_rent_fen: i64,
    },
    Sale {
        price_fen: i64,
    },
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
        let mut violations = platform::Violations::new();
        units::check_building(
            name,
            floors,
            specs,
            self.rules.min_unit_centi_m2,
            &mut violations,
        );
        if !violations.is_empty() {
            return Err(StoreError::Invalid(violations));
        }
        let mut tx = self.pool.begin().await?;
        let parcel = parcels::load(&mut tx, parcel_id, true).await?;
        if grants::in_force_on(&mut tx, parcel_id).await?.is_none() {
            return Err(StoreError::Precondition(format!(
                "parcel {parcel_id} is {}: buildings are split only on granted land",
                parcel.status.as_str()
            )));
        }
        let id = Uuid::now_v7();
        let floor_json: Vec<FloorJson> = floors
            .iter()
            .map(|f| FloorJson {
                number: f.number,
                area_centi_m2: f.area_centi_m2,
            })
            .collect();
        let total: i64 = floors.iter().map(|f| f.area_centi_m2).sum();
        let inserted = sqlx::query(
            "INSERT INTO buildings (id, parcel_id, name, floors, total_floor_centi_m2) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(parcel_id)
        .bind(name.trim())
        .bind(Json(&floor_json))
        .bind(total)
        .execute(&mut *tx)
        .await;
        if let Err(err) = inserted {
            return Err(if super::is_unique_violation(&err) {
                StoreError::AlreadyExists(format!("building {name:?} on parcel {parcel_id}"))
            } else {
                err.into()
            });
        }
        for spec in specs {
            sqlx::query(
                "INSERT INTO units (id, building_id, parcel_id, floor, part, floor_area_centi_m2, unit_use, status)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 'available')",
            )
            .bind(Uuid::now_v7())
            .bind(id)
            .bind(parcel_id)
            .bind(spec.floor)
            .bind(&spec.part)
            .bind(spec.area_centi_m2)
            // check_building let only production space through.
            .bind("production")
            .execute(&mut *tx)
            .await?;
        }
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
        sqlx::query("SELECT id FROM units WHERE id = $1 FOR UPDATE")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("unit {id}")))?;
        let current = unit(&mut tx, id).await?;
        if expected_version != 0 && current.version != expected_version {
            return Err(StoreError::Stale(format!(
                "unit {id} is at version {}, not {expected_version}",
                current.version
            )));
        }
        if current.status != UnitStatus::Available {
            return Err(StoreError::Precondition(format!(
                "unit {id} is {}",
                current.status.as_str()
            )));
        }
        let holder = read_model::enterprise(&mut tx, uscc).await?;
        check_holder(uscc, holder.as_ref(), true)
            .map_err(|why| StoreError::Precondition(why.to_string()))?;
        let grant = grants::in_force_on(&mut tx, &current.parcel_id)
            .await?
            .ok_or_else(|| {
                StoreError::Precondition(format!(
                    "parcel {} has no grant in force",
                    current.parcel_id
                ))
            })?;
        if let Some(latest) = evaluations::latest(&mut tx, grant.id).await?
            && latest.evaluation.outcome == Outcome::Short
        {
            return Err(StoreError::Precondition(format!(
                "the performance agreement of grant {} is not complied with (latest evaluation short)",
                grant.id
            )));
        }
        let (status, kind, term, rent, price) = match transfer {
            Transfer::Lease {
                term_months,
                yearly_rent_fen,
            } => (
                UnitStatus::Leased,
                "lease",
                Some(term_months),
                Some(yearly_rent_fen),
                None,
            ),
            Transfer::Sale { price_fen } => (UnitStatus::Sold, "sale", None, None, Some(price_fen)),
        };
        sqlx::query(
            "UPDATE units SET status = $2, holder_uscc = $3, version = version + 1 WHERE id = $1",
        )
        .bind(id)
        .bind(status.as_str())
        .bind(uscc)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO unit_transactions (unit_id, kind, uscc, term_months, yearly_rent_fen, price_fen, recorded_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id)
        .bind(kind)
        .bind(uscc)
        .bind(term)
        .bind(rent)
        .bind(price)
        .bind(by)
        .execute(&mut *tx)
        .await?;
        let updated = unit(&mut tx, id).await?;
        match transfer {
            Transfer::Lease {
                term_months,
                yearly_rent_fen,
            } => events::unit_leased(&mut tx, self, &updated, term_months, yearly_rent_fen).await?,
            Transfer::Sale { price_fen } => {
                events::unit_sold(&mut tx, self, &updated, price_fen).await?
            }
        }
        tx.commit().await?;
        Ok(updated)
    }

    pub async fn buildings(&self, parcel_id: &str) -> Result<Vec<BuildingRecord>> {
        let mut conn = self.pool.acquire().await?;
        buildings_of(&mut conn, parcel_id).await
    }
}
