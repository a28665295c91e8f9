//! Split property rights (分割转让): a building on a granted parcel is split by whole floor
//! (自然层) or by a defined part of a floor (部位). Only production space is split off:
//! common parts and utility rooms, offices, dormitories and canteens never are. Units never
//! overlap, never exceed their floor, and are at least the configured minimum area (unless a
//! whole floor is smaller). A unit's holder is apportioned the parcel's land by floor area.

use std::collections::{BTreeMap, HashMap};

use platform::Violations;
use uuid::Uuid;

use super::{
    Enterprise, HolderRefused, LandRules, check_holder,
    evaluation::{Figures, Outcome, per_mu},
    grant::GrantRecord,
    parcel::ParcelRecord,
};

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

    pub fn parse(name: &str) -> Option<Self> {
        [UnitStatus::Available, UnitStatus::Leased, UnitStatus::Sold]
            .into_iter()
            .find(|s| s.as_str() == name)
    }
}

impl std::fmt::Display for UnitStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A unit of a split building, with the land apportioned to it.
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

/// A building with its floors and units.
#[derive(Debug, Clone, PartialEq)]
pub struct BuildingRecord {
    pub id: Uuid,
    pub parcel_id: String,
    pub name: String,
    pub floors: Vec<FloorSpec>,
    pub units: Vec<UnitRecord>,
}

/// A lease or a sale of a unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transfer {
    Lease {
        term_months: i32,
        yearly_rent_fen: i64,
    },
    Sale {
        price_fen: i64,
    },
}

impl Transfer {
    /// The unit's status after it.
    pub fn status(self) -> UnitStatus {
        match self {
            Transfer::Lease { .. } => UnitStatus::Leased,
            Transfer::Sale { .. } => UnitStatus::Sold,
        }
    }

    /// Its kind in the unit's history.
    pub fn kind(self) -> &'static str {
        match self {
            Transfer::Lease { .. } => "lease",
            Transfer::Sale { .. } => "sale",
        }
    }
}

/// Why a building or a unit transfer is refused.
#[derive(Debug, thiserror::Error)]
pub enum UnitRefused {
    /// The building's floors and units break a rule: field violations.
    #[error("invalid request")]
    Invalid(Violations),
    #[error("parcel {parcel_id} is {status}: buildings are split only on granted land")]
    NotGranted {
        parcel_id: String,
        status: super::parcel::ParcelStatus,
    },
    #[error("unit {id} is {status}")]
    NotAvailable { id: Uuid, status: UnitStatus },
    #[error(transparent)]
    Holder(#[from] HolderRefused),
    #[error("parcel {0} has no grant in force")]
    NoGrant(String),
    /// The parcel's performance agreement is not complied with.
    #[error(
        "the performance agreement of grant {0} is not complied with (latest evaluation short)"
    )]
    AgreementBreached(Uuid),
}

/// Checks a building's floors and units (before anything is loaded).
pub fn check_new_building(
    name: &str,
    floors: &[FloorSpec],
    specs: &[UnitSpec],
    rules: &LandRules,
) -> Result<(), UnitRefused> {
    let mut violations = Violations::new();
    check_building(
        name,
        floors,
        specs,
        rules.min_unit_centi_m2,
        &mut violations,
    );
    if violations.is_empty() {
        Ok(())
    } else {
        Err(UnitRefused::Invalid(violations))
    }
}

/// Decides a building on `parcel` (checked by [`check_new_building`]): only on granted land.
pub fn decide_building(
    parcel: &ParcelRecord,
    grant: Option<&GrantRecord>,
) -> Result<(), UnitRefused> {
    match grant {
        Some(_) => Ok(()),
        None => Err(UnitRefused::NotGranted {
            parcel_id: parcel.id.clone(),
            status: parcel.status,
        }),
    }
}

/// What a unit transfer looks at: the unit (locked), the would-be holder from census, the
/// grant in force on its parcel and the outcome of that grant's latest evaluation.
#[derive(Debug, Clone, Copy)]
pub struct TransferState<'a> {
    pub unit: &'a UnitRecord,
    pub holder: Option<&'a Enterprise>,
    pub grant: Option<&'a GrantRecord>,
    pub latest_outcome: Option<Outcome>,
}

/// Decides a lease or sale of a unit to `uscc`: the unit available, the holder a known active
/// manufacturer, the parcel under a grant whose agreement is complied with (the latest
/// evaluation not short). The decision is the unit's new status.
pub fn decide_transfer(
    state: TransferState<'_>,
    uscc: &str,
    transfer: Transfer,
) -> Result<UnitStatus, UnitRefused> {
    let unit = state.unit;
    if unit.status != UnitStatus::Available {
        return Err(UnitRefused::NotAvailable {
            id: unit.id,
            status: unit.status,
        });
    }
    check_holder(uscc, state.holder, true)?;
    let grant = state
        .grant
        .ok_or_else(|| UnitRefused::NoGrant(unit.parcel_id.clone()))?;
    if state.latest_outcome == Some(Outcome::Short) {
        return Err(UnitRefused::AgreementBreached(grant.id));
    }
    Ok(transfer.status())
}

/// A unit holder's figures of `year` per mu of the unit's apportioned land, and whether they
/// reach the output and tax per mu committed by the parcel's grant in force.
pub fn holder_figures(
    unit: &UnitRecord,
    year: i32,
    figures: &Figures,
    grant: Option<&GrantRecord>,
) -> HolderFigures {
    let output = per_mu(figures.output_fen, unit.apportioned_centi_mu);
    let tax = per_mu(figures.tax_fen, unit.apportioned_centi_mu);
    let meets = grant.is_some_and(|g| {
        output >= g.commitments.output_fen_per_mu && tax >= g.commitments.tax_fen_per_mu
    });
    HolderFigures {
        year,
        output_fen_per_mu: output,
        tax_fen_per_mu: tax,
        meets_commitments: meets,
    }
}

/// What a unit is used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnitUse {
    Production,
    Common,
    Office,
    Dormitory,
    Canteen,
}

/// A floor of a building.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FloorSpec {
    pub number: i32,
    pub area_centi_m2: i64,
}

/// A unit asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitSpec {
    pub floor: i32,
    /// Empty for the whole floor.
    pub part: String,
    pub area_centi_m2: i64,
    pub unit_use: Option<UnitUse>,
}

/// Longest building name and part name.
pub const MAX_NAME_CHARS: usize = 64;
/// Most floors of a building and most units defined at once.
pub const MAX_FLOORS: usize = 200;
pub const MAX_UNITS: usize = 2_000;
/// Largest floor area accepted, hundredths of a m² (1 km²).
const MAX_FLOOR_CENTI_M2: i64 = 100_000_000_000;

/// Checks a building's floors and units; violations on `floors[i].…` and `units[i].…`.
pub fn check_building(
    name: &str,
    floors: &[FloorSpec],
    units: &[UnitSpec],
    min_unit_centi_m2: i64,
    violations: &mut Violations,
) -> bool {
    let before = violations.as_slice().len();
    check_counts(name, floors, units, violations);
    let floor_area = check_floors(floors, violations);
    // Per floor, the units on it, for overlap and size.
    let mut by_floor: BTreeMap<i32, Vec<usize>> = BTreeMap::new();
    for (i, unit) in units.iter().enumerate() {
        if check_unit(i, unit, &floor_area, min_unit_centi_m2, violations) {
            by_floor.entry(unit.floor).or_default().push(i);
        }
    }
    for (&floor, indices) in &by_floor {
        let area = floor_area.get(&floor).copied().unwrap_or(0);
        check_floor_units(floor, area, indices, units, violations);
    }
    violations.as_slice().len() == before
}

/// The name, and how many floors and units.
fn check_counts(name: &str, floors: &[FloorSpec], units: &[UnitSpec], violations: &mut Violations) {
    let name_chars = name.trim().chars().count();
    violations.check(
        (1..=MAX_NAME_CHARS).contains(&name_chars) && !name.chars().any(char::is_control),
        "name",
        format!("1 to {MAX_NAME_CHARS} characters"),
    );
    violations.check(
        (1..=MAX_FLOORS).contains(&floors.len()),
        "floors",
        format!("1 to {MAX_FLOORS} floors"),
    );
    violations.check(
        (1..=MAX_UNITS).contains(&units.len()),
        "units",
        format!("1 to {MAX_UNITS} units"),
    );
}

/// Floors numbered (never 0, each once) with a positive area; their areas by number.
fn check_floors(floors: &[FloorSpec], violations: &mut Violations) -> HashMap<i32, i64> {
    let mut floor_area: HashMap<i32, i64> = HashMap::new();
    for (i, floor) in floors.iter().enumerate() {
        if floor.number == 0 {
            violations.add(
                format!("floors[{i}].number"),
                "never 0: 1 is the ground floor, -1 the first basement",
            );
        } else if floor_area
            .insert(floor.number, floor.area_centi_m2)
            .is_some()
        {
            violations.add(
                format!("floors[{i}].number"),
                format!("floor {} is listed twice", floor.number),
            );
        }
        if !(1..=MAX_FLOOR_CENTI_M2).contains(&floor.area_centi_m2) {
            violations.add(format!("floors[{i}].area_centi_m2"), "must be positive");
        }
    }
    floor_area
}

/// One unit on its own: production space, a clean part name, on a floor of the building,
/// within the floor and at least the minimum. False when its floor does not exist.
fn check_unit(
    i: usize,
    unit: &UnitSpec,
    floor_area: &HashMap<i32, i64>,
    min_unit_centi_m2: i64,
    violations: &mut Violations,
) -> bool {
    let field = |name: &str| format!("units[{i}].{name}");
    match unit.unit_use {
        None => violations.add(field("unit_use"), "required"),
        Some(UnitUse::Production) => {}
        Some(_) => violations.add(
            field("unit_use"),
            "common parts, offices, dormitories and canteens are never split off",
        ),
    }
    let part_chars = unit.part.chars().count();
    if part_chars > MAX_NAME_CHARS
        || unit.part.chars().any(char::is_control)
        || unit.part.trim() != unit.part
    {
        violations.add(
            field("part"),
            format!("at most {MAX_NAME_CHARS} characters, no surrounding spaces"),
        );
    }
    let Some(&floor) = floor_area.get(&unit.floor) else {
        violations.add(
            field("floor"),
            format!("the building has no floor {}", unit.floor),
        );
        return false;
    };
    let area_field = field("floor_area_centi_m2");
    if unit.area_centi_m2 <= 0 {
        violations.add(area_field, "must be positive");
    } else if unit.area_centi_m2 > floor {
        violations.add(
            area_field,
            format!("exceeds floor {} ({floor})", unit.floor),
        );
    } else if unit.part.is_empty() && unit.area_centi_m2 != floor {
        violations.add(
            area_field,
            format!("a whole-floor unit has the floor's area, {floor}"),
        );
    } else if unit.area_centi_m2 < min_unit_centi_m2.min(floor) {
        violations.add(
            area_field,
            format!("under the minimum unit area of {min_unit_centi_m2}"),
        );
    }
    true
}

/// The units of one floor together: no overlap (a whole-floor unit and any other, or one
/// part twice), and their areas within the floor's.
fn check_floor_units(
    floor: i32,
    area: i64,
    indices: &[usize],
    units: &[UnitSpec],
    violations: &mut Violations,
) {
    let whole = indices.iter().find(|&&i| units[i].part.is_empty());
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut overlapped = false;
    for &i in indices {
        let unit = &units[i];
        if let Some(&w) = whole
            && w != i
        {
            overlapped = true;
            violations.add(
                format!("units[{i}].part"),
                format!("overlaps units[{w}], the whole of floor {floor}"),
            );
        } else if let Some(first) = seen.insert(unit.part.as_str(), i) {
            overlapped = true;
            violations.add(
                format!("units[{i}].part"),
                format!("overlaps units[{first}]: same part of floor {floor}"),
            );
        }
    }
    // Checked: the areas come from the request, and a floor's own area may be out of range
    // (reported on the floor), so the sum may pass i64; that is more than any floor.
    let used = indices.iter().try_fold(0_i64, |sum, &i| {
        sum.checked_add(units[i].area_centi_m2.max(0))
    });
    // Overlaps are reported already; their sum says nothing more.
    let each_fits = indices.iter().all(|&i| units[i].area_centi_m2 <= area);
    if overlapped || !each_fits {
        return;
    }
    let Some(&last) = indices.last() else {
        return;
    };
    let field = format!("units[{last}].floor_area_centi_m2");
    match used {
        Some(used) if used <= area => {}
        Some(used) => violations.add(
            field,
            format!("the units of floor {floor} add up to {used}, more than its {area}"),
        ),
        None => violations.add(
            field,
            format!(
                "the units of floor {floor} add up to more than {}",
                i64::MAX
            ),
        ),
    }
}

/// The holder's share of `parcel_centi_mu` for a unit of `unit_centi_m2` among
/// `total_floor_centi_m2` of floor area on the parcel (rounded down).
pub fn apportioned_centi_mu(
    unit_centi_m2: i64,
    total_floor_centi_m2: i64,
    parcel_centi_mu: i64,
) -> i64 {
    if total_floor_centi_m2 <= 0 {
        return 0;
    }
    let value =
        i128::from(parcel_centi_mu) * i128::from(unit_centi_m2) / i128::from(total_floor_centi_m2);
    i64::try_from(value).unwrap_or(0)
}

/// A transferred grant of parcel XL-1 for other modules' tests.
#[cfg(test)]
pub(crate) fn tests_grant() -> GrantRecord {
    tests::grant()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn floors() -> Vec<FloorSpec> {
        vec![
            FloorSpec {
                number: 1,
                area_centi_m2: 200_000,
            },
            FloorSpec {
                number: 2,
                area_centi_m2: 200_000,
            },
        ]
    }

    fn unit(floor: i32, part: &str, area: i64) -> UnitSpec {
        UnitSpec {
            floor,
            part: part.into(),
            area_centi_m2: area,
            unit_use: Some(UnitUse::Production),
        }
    }

    fn check(units: &[UnitSpec]) -> Vec<String> {
        let mut v = Violations::new();
        check_building("B1", &floors(), units, 50_000, &mut v);
        v.as_slice().iter().map(|v| v.field.clone()).collect()
    }

    #[test]
    fn whole_floors_and_parts_within_their_floor_pass() {
        assert!(
            check(&[
                unit(1, "", 200_000),
                unit(2, "east", 100_000),
                unit(2, "west", 100_000)
            ])
            .is_empty()
        );
    }

    #[test]
    fn units_whose_areas_add_past_i64_are_refused_on_the_last_one() {
        let huge = [FloorSpec {
            number: 1,
            area_centi_m2: i64::MAX,
        }];
        let units = [unit(1, "east", i64::MAX), unit(1, "west", i64::MAX)];
        let mut v = Violations::new();
        check_building("B1", &huge, &units, 50_000, &mut v);
        let fields: Vec<&str> = v.as_slice().iter().map(|v| v.field.as_str()).collect();
        assert_eq!(
            fields,
            ["floors[0].area_centi_m2", "units[1].floor_area_centi_m2"]
        );
    }

    #[test]
    fn overlapping_units_are_refused_on_their_part() {
        assert_eq!(
            check(&[unit(1, "", 200_000), unit(1, "east", 60_000)]),
            ["units[1].part"]
        );
        assert_eq!(
            check(&[unit(2, "east", 60_000), unit(2, "east", 60_000)]),
            ["units[1].part"]
        );
    }

    #[test]
    fn oversized_and_undersized_units_are_refused_on_their_area() {
        assert_eq!(
            check(&[unit(2, "east", 200_001)]),
            ["units[0].floor_area_centi_m2"]
        );
        assert_eq!(
            check(&[unit(2, "east", 150_000), unit(2, "west", 60_000)]),
            ["units[1].floor_area_centi_m2"]
        );
        assert_eq!(
            check(&[unit(2, "east", 49_999)]),
            ["units[0].floor_area_centi_m2"]
        );
        assert_eq!(
            check(&[unit(1, "", 199_999)]),
            ["units[0].floor_area_centi_m2"]
        );
        assert_eq!(check(&[unit(3, "", 1)]), ["units[0].floor"]);
    }

    #[test]
    fn common_parts_offices_dormitories_and_canteens_are_never_split_off() {
        for use_ in [
            UnitUse::Common,
            UnitUse::Office,
            UnitUse::Dormitory,
            UnitUse::Canteen,
        ] {
            let spec = UnitSpec {
                unit_use: Some(use_),
                ..unit(1, "north", 60_000)
            };
            assert_eq!(check(&[spec]), ["units[0].unit_use"]);
        }
    }

    #[test]
    fn land_is_apportioned_by_floor_area() {
        // A quarter of the floor area of a 20-mu parcel: 5 mu.
        assert_eq!(apportioned_centi_mu(100_000, 400_000, 2_000), 500);
        assert_eq!(apportioned_centi_mu(1, 0, 2_000), 0);
    }

    fn held_unit(status: UnitStatus) -> UnitRecord {
        UnitRecord {
            id: Uuid::from_u128(7),
            building_id: Uuid::from_u128(8),
            parcel_id: "XL-1".into(),
            floor: 1,
            part: String::new(),
            floor_area_centi_m2: 200_000,
            status,
            holder_uscc: None,
            apportioned_centi_mu: 500,
            version: 1,
            holder_figures: None,
        }
    }

    fn firm(segment: platform::Segment) -> Enterprise {
        Enterprise {
            uscc: "X".into(),
            name: "Firm".into(),
            active: true,
            segment: Some(segment),
            park: None,
        }
    }

    pub(crate) fn grant() -> GrantRecord {
        use chrono::{NaiveDate, Utc};

        use crate::domain::{
            grant::{Commitments, Contract, GrantStatus},
            lateness::Progress,
            supply::{SupplyMode, Terms},
        };
        let day = NaiveDate::from_ymd_opt(2020, 1, 1).unwrap();
        GrantRecord {
            id: Uuid::from_u128(9),
            parcel_id: "XL-1".into(),
            uscc: "H".into(),
            terms: Terms {
                mode: SupplyMode::StandardTransfer,
                lease_years: 0,
                transfer_years: 50,
                price_fen: 1,
                yearly_rent_fen: 0,
            },
            contract: Contract {
                deposit_fen: 0,
                signed_on: day,
                start_by: day,
                complete_by: day,
                production_check_on: day,
            },
            commitments: Commitments {
                investment_fen_per_mu: 1,
                output_fen_per_mu: 600_000_000,
                tax_fen_per_mu: 30_000_000,
                plot_ratio_milli: 1_000,
                energy_tce_per_wan_yuan: None,
            },
            land_centi_mu: 1_000,
            status: GrantStatus::Transferred,
            progress: Progress::default(),
            idle_reason: None,
            disposal: Default::default(),
            rent_credited_fen: 0,
            granted_at: Utc::now(),
            version: 1,
        }
    }

    const SALE: Transfer = Transfer::Sale { price_fen: 100 };

    #[test]
    fn a_unit_goes_to_a_manufacturer_while_the_agreement_holds() {
        let unit = held_unit(UnitStatus::Available);
        let (apparel, trader, grant) = (
            firm(platform::Segment::Apparel),
            firm(platform::Segment::Trade),
            grant(),
        );
        let state = TransferState {
            unit: &unit,
            holder: Some(&apparel),
            grant: Some(&grant),
            latest_outcome: Some(Outcome::EarlyWarning),
        };
        assert_eq!(
            decide_transfer(state, "X", SALE).ok(),
            Some(UnitStatus::Sold)
        );
        let lease = Transfer::Lease {
            term_months: 12,
            yearly_rent_fen: 1,
        };
        assert_eq!(
            decide_transfer(state, "X", lease).ok(),
            Some(UnitStatus::Leased)
        );
        let refusals = [
            TransferState {
                holder: Some(&trader),
                ..state
            },
            TransferState {
                grant: None,
                ..state
            },
            TransferState {
                latest_outcome: Some(Outcome::Short),
                ..state
            },
        ];
        let messages: Vec<String> = refusals
            .into_iter()
            .map(|s| decide_transfer(s, "X", SALE).unwrap_err().to_string())
            .collect();
        assert!(
            messages[0].contains("not a manufacturer"),
            "{}",
            messages[0]
        );
        assert_eq!(messages[1], "parcel XL-1 has no grant in force");
        assert!(messages[2].contains("not complied with"), "{}", messages[2]);
    }

    proptest::proptest! {
        /// Whatever else holds, a unit already leased or sold is never transferred again.
        #[test]
        fn only_an_available_unit_is_transferred(sold in proptest::bool::ANY, short in proptest::bool::ANY) {
            let status = if sold { UnitStatus::Sold } else { UnitStatus::Leased };
            let unit = held_unit(status);
            let (apparel, grant) = (firm(platform::Segment::Apparel), grant());
            let state = TransferState {
                unit: &unit,
                holder: Some(&apparel),
                grant: Some(&grant),
                latest_outcome: short.then_some(Outcome::Short),
            };
            let refused = matches!(
                decide_transfer(state, "X", SALE),
                Err(UnitRefused::NotAvailable { .. })
            );
            proptest::prop_assert!(refused);
        }

        /// A holder meets the commitments exactly when both its output and its tax per mu of
        /// apportioned land reach the grant's.
        #[test]
        fn holder_figures_meet_exactly_from_the_commitments(
            output in 0_i64..2_000_000_000, tax in 0_i64..100_000_000
        ) {
            let unit = held_unit(UnitStatus::Sold);
            let grant = grant();
            // 5 mu apportioned: per mu is a fifth of the total.
            let figures = Figures { output_fen: output * 5, tax_fen: tax * 5, energy_tce: None };
            let held = holder_figures(&unit, 2025, &figures, Some(&grant));
            proptest::prop_assert_eq!(
                held.meets_commitments,
                output >= 600_000_000 && tax >= 30_000_000
            );
            proptest::prop_assert!(!holder_figures(&unit, 2025, &figures, None).meets_commitments);
        }
    }
}
