//! Requests of the unit RPCs (define a building, lease or sell a unit), checked for shape.

use haicheng_proto::land::v1 as pb;
use platform::{ApiError, Violations};
use uuid::Uuid;

use super::done;
use crate::domain::{
    parcel,
    supply::MAX_PRICE_FEN,
    units::{FloorSpec, Transfer, UnitSpec, UnitUse},
};

/// The floors and units of a `DefineBuilding` (their rules are the domain's).
pub fn building(
    r: &pb::DefineBuildingRequest,
) -> Result<(Vec<FloorSpec>, Vec<UnitSpec>), ApiError> {
    let mut v = Violations::new();
    parcel::check_id(&r.parcel_id, "parcel_id", &mut v);
    v.finish()?;
    let floors = r
        .floors
        .iter()
        .map(|f| FloorSpec {
            number: f.number,
            area_centi_m2: f.area_centi_m2,
        })
        .collect();
    let units = r
        .units
        .iter()
        .map(|u| UnitSpec {
            floor: u.floor,
            part: u.part.clone(),
            area_centi_m2: u.floor_area_centi_m2,
            unit_use: unit_use(u.unit_use),
        })
        .collect();
    Ok((floors, units))
}

fn unit_use(number: i32) -> Option<UnitUse> {
    match pb::UnitUse::try_from(number) {
        Ok(pb::UnitUse::Production) => Some(UnitUse::Production),
        Ok(pb::UnitUse::Common) => Some(UnitUse::Common),
        Ok(pb::UnitUse::Office) => Some(UnitUse::Office),
        Ok(pb::UnitUse::Dormitory) => Some(UnitUse::Dormitory),
        Ok(pb::UnitUse::Canteen) => Some(UnitUse::Canteen),
        _ => None,
    }
}

/// A lease or sale of a unit, as asked for.
pub struct UnitTransfer<'a> {
    pub unit_id: Uuid,
    pub expected_version: i64,
    pub uscc: &'a str,
    pub transfer: Transfer,
}

pub fn lease(r: &pb::LeaseUnitRequest) -> Result<UnitTransfer<'_>, ApiError> {
    let transfer = Transfer::Lease {
        term_months: r.term_months,
        yearly_rent_fen: r.yearly_rent_fen,
    };
    transfer_of(&r.unit_id, r.expected_version, &r.uscc, transfer)
}

pub fn sale(r: &pb::SellUnitRequest) -> Result<UnitTransfer<'_>, ApiError> {
    let transfer = Transfer::Sale {
        price_fen: r.price_fen,
    };
    transfer_of(&r.unit_id, r.expected_version, &r.uscc, transfer)
}

fn transfer_of<'a>(
    unit_id: &str,
    expected_version: i64,
    uscc: &'a str,
    transfer: Transfer,
) -> Result<UnitTransfer<'a>, ApiError> {
    let mut v = Violations::new();
    let id = v.uuid("unit_id", unit_id);
    v.check(
        expected_version >= 1,
        "expected_version",
        "the version last read is required",
    );
    v.uscc("uscc", uscc);
    match transfer {
        Transfer::Lease {
            term_months,
            yearly_rent_fen,
        } => {
            v.check(
                (1..=240).contains(&term_months),
                "term_months",
                "1 to 240 months",
            );
            v.check(
                (1..=MAX_PRICE_FEN).contains(&yearly_rent_fen),
                "yearly_rent_fen",
                "must be positive",
            );
        }
        Transfer::Sale { price_fen } => {
            v.check(
                (1..=MAX_PRICE_FEN).contains(&price_fen),
                "price_fen",
                "must be positive",
            );
        }
    }
    Ok(UnitTransfer {
        unit_id: done(id, v)?,
        expected_version,
        uscc,
        transfer,
    })
}
