//! Split property rights (分割转让): a building on a granted parcel is split by whole floor
//! (自然层) or by a defined part of a floor (部位). Only production space is split off:
//! common parts and utility rooms, offices, dormitories and canteens never are. Units never
//! overlap, never exceed their floor, and are at least the configured minimum area (unless a
//! whole floor is smaller). A unit's holder is apportioned the parcel's land by floor area.

use std::collections::{BTreeMap, HashMap};

use platform::Violations;

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
    // Per floor: the whole-floor unit, the parts by name and the area used, for overlap and size.
    let mut by_floor: BTreeMap<i32, Vec<usize>> = BTreeMap::new();
    for (i, unit) in units.iter().enumerate() {
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
            continue;
        };
        if unit.area_centi_m2 <= 0 {
            violations.add(field("floor_area_centi_m2"), "must be positive");
        } else if unit.area_centi_m2 > floor {
            violations.add(
                field("floor_area_centi_m2"),
                format!("exceeds floor {} ({floor})", unit.floor),
            );
        } else if unit.part.is_empty() && unit.area_centi_m2 != floor {
            violations.add(
                field("floor_area_centi_m2"),
                format!("a whole-floor unit has the floor's area, {floor}"),
            );
        } else if unit.area_centi_m2 < min_unit_centi_m2.min(floor) {
            violations.add(
                field("floor_area_centi_m2"),
                format!("under the minimum unit area of {min_unit_centi_m2}"),
            );
        }
        by_floor.entry(unit.floor).or_default().push(i);
    }
    for (floor, indices) in &by_floor {
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
        let used: i64 = indices.iter().map(|&i| units[i].area_centi_m2.max(0)).sum();
        let area = floor_area.get(floor).copied().unwrap_or(0);
        // Overlaps are reported already; their sum says nothing more.
        let each_fits = indices.iter().all(|&i| units[i].area_centi_m2 <= area);
        if used > area
            && !overlapped
            && each_fits
            && let Some(&last) = indices.last()
        {
            violations.add(
                format!("units[{last}].floor_area_centi_m2"),
                format!("the units of floor {floor} add up to {used}, more than its {area}"),
            );
        }
    }
    violations.as_slice().len() == before
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
}
