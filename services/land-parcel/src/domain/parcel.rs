//! Parcels (宗地) of the parks: their checks, and split and merge. A split or merge ends the
//! old parcels and creates new ones, recording which came from which, so the lineage of any
//! parcel can be followed (as cadastres and ISO 19152 LADM do). Only an available parcel is
//! split or merged: a granted one keeps its boundaries while the grant runs.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use platform::{Park, Violations};

use super::LandUse;

/// A parcel as kept, with its lineage.
#[derive(Debug, Clone, PartialEq)]
pub struct ParcelRecord {
    pub id: String,
    pub park: Park,
    pub land_use: LandUse,
    pub area_centi_mu: i64,
    pub plot_ratio_min_milli: i64,
    pub plot_ratio_max_milli: i64,
    pub status: ParcelStatus,
    pub location: String,
    pub parent_ids: Vec<String>,
    pub child_ids: Vec<String>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
}

/// Where a parcel stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParcelStatus {
    Available,
    Granted,
    Leased,
    Idle,
    TakenBack,
    Ended,
}

impl ParcelStatus {
    pub const ALL: [ParcelStatus; 6] = [
        ParcelStatus::Available,
        ParcelStatus::Granted,
        ParcelStatus::Leased,
        ParcelStatus::Idle,
        ParcelStatus::TakenBack,
        ParcelStatus::Ended,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ParcelStatus::Available => "available",
            ParcelStatus::Granted => "granted",
            ParcelStatus::Leased => "leased",
            ParcelStatus::Idle => "idle",
            ParcelStatus::TakenBack => "taken_back",
            ParcelStatus::Ended => "ended",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Under a grant in force (the land has a holder).
    pub fn is_held(self) -> bool {
        matches!(
            self,
            ParcelStatus::Granted | ParcelStatus::Leased | ParcelStatus::Idle
        )
    }
}

/// A new parcel as asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewParcel {
    pub id: String,
    pub park: Park,
    pub land_use: LandUse,
    pub area_centi_mu: i64,
    pub plot_ratio_min_milli: i64,
    pub plot_ratio_max_milli: i64,
    pub location: String,
}

/// Longest parcel id and location.
pub const MAX_ID_CHARS: usize = 40;
pub const MAX_LOCATION_CHARS: usize = 200;
/// Largest parcel: 10^8 hundredths of a mu (a million mu).
pub const MAX_AREA_CENTI_MU: i64 = 100_000_000;
/// Highest plot ratio a plan may allow, thousandths (20.0).
pub const MAX_PLOT_RATIO_MILLI: i64 = 20_000;

/// Why `id` is not a parcel id: 1 to 40 of `A-Z`, `0-9` and `-`.
pub fn id_problem(id: &str) -> Option<String> {
    let ok = (1..=MAX_ID_CHARS).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-');
    (!ok).then(|| format!("1 to {MAX_ID_CHARS} capital letters, digits and '-'"))
}

pub fn check_id(id: &str, field: &str, violations: &mut Violations) {
    if let Some(problem) = id_problem(id) {
        violations.add(field, problem);
    }
}

pub fn check_area(area: i64, field: &str, violations: &mut Violations) {
    violations.check(
        (1..=MAX_AREA_CENTI_MU).contains(&area),
        field,
        format!("1 to {MAX_AREA_CENTI_MU} hundredths of a mu"),
    );
}

pub fn check_location(location: &str, field: &str, violations: &mut Violations) {
    violations.check(
        location.chars().count() <= MAX_LOCATION_CHARS && !location.chars().any(char::is_control),
        field,
        format!("at most {MAX_LOCATION_CHARS} characters, no control characters"),
    );
}

/// Checks what only the parcel itself decides (park and use are checked at the edge).
pub fn check_new(parcel: &NewParcel, violations: &mut Violations) {
    check_fields(
        &parcel.id,
        parcel.area_centi_mu,
        (parcel.plot_ratio_min_milli, parcel.plot_ratio_max_milli),
        &parcel.location,
        violations,
    );
}

/// The same on the bare fields, so they are checked even when park or use is bad.
pub fn check_fields(
    id: &str,
    area_centi_mu: i64,
    (min, max): (i64, i64),
    location: &str,
    violations: &mut Violations,
) {
    check_id(id, "id", violations);
    check_area(area_centi_mu, "area_centi_mu", violations);
    violations.check(
        (1..=MAX_PLOT_RATIO_MILLI).contains(&min),
        "plot_ratio_min_milli",
        format!("1 to {MAX_PLOT_RATIO_MILLI}"),
    );
    violations.check(
        max >= min && max <= MAX_PLOT_RATIO_MILLI,
        "plot_ratio_max_milli",
        format!("from plot_ratio_min_milli to {MAX_PLOT_RATIO_MILLI}"),
    );
    check_location(location, "location", violations);
}

/// A part of a split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub id: String,
    pub area_centi_mu: i64,
    pub location: String,
}

/// Checks the parts of a split of a parcel of `area_centi_mu`: two or more, ids new and
/// distinct (and not the parcel's own), areas adding up exactly.
pub fn check_split(
    parcel_id: &str,
    area_centi_mu: i64,
    parts: &[Part],
    violations: &mut Violations,
) {
    if parts.len() < 2 {
        violations.add("parts", "a split makes two or more parcels");
        return;
    }
    let mut ids = HashSet::new();
    for (i, part) in parts.iter().enumerate() {
        check_id(&part.id, &format!("parts[{i}].id"), violations);
        if part.id == parcel_id || !ids.insert(part.id.as_str()) {
            violations.add(format!("parts[{i}].id"), "each part needs an id of its own");
        }
        check_area(
            part.area_centi_mu,
            &format!("parts[{i}].area_centi_mu"),
            violations,
        );
        check_location(&part.location, &format!("parts[{i}].location"), violations);
    }
    let sum: i64 = parts
        .iter()
        .map(|p| p.area_centi_mu.clamp(0, MAX_AREA_CENTI_MU))
        .sum();
    if sum != area_centi_mu {
        violations.add(
            "parts",
            format!("the parts add up to {sum}, the parcel has {area_centi_mu}"),
        );
    }
}

/// The facts of a parcel a merge looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeInput {
    pub id: String,
    pub park: Park,
    pub land_use: LandUse,
    pub status: ParcelStatus,
    pub area_centi_mu: i64,
    pub plot_ratio_min_milli: i64,
    pub plot_ratio_max_milli: i64,
}

/// Why a merge cannot be made (the parcels exist, but do not fit together).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MergeRefused {
    #[error("parcel {0} is not available")]
    NotAvailable(String),
    #[error("parcels of different parks or land uses cannot be merged")]
    Mixed,
}

/// The merged parcel's area and plan range (the strictest of the parts').
pub fn merge(parcels: &[MergeInput]) -> Result<(i64, i64, i64), MergeRefused> {
    let first = parcels.first().ok_or(MergeRefused::Mixed)?;
    let mut area = 0;
    let (mut min, mut max) = (first.plot_ratio_min_milli, first.plot_ratio_max_milli);
    for p in parcels {
        if p.status != ParcelStatus::Available {
            return Err(MergeRefused::NotAvailable(p.id.clone()));
        }
        if p.park != first.park || p.land_use != first.land_use {
            return Err(MergeRefused::Mixed);
        }
        area += p.area_centi_mu;
        min = min.max(p.plot_ratio_min_milli);
        max = max.min(p.plot_ratio_max_milli);
    }
    Ok((area, min, max.max(min)))
}

/// Why a split or a merge is refused.
#[derive(Debug, thiserror::Error)]
pub enum ParcelRefused {
    /// The parts do not fit the parcel: field violations.
    #[error("invalid request")]
    Invalid(Violations),
    #[error("parcel {id} is {status}: only an available parcel is split")]
    NotSplittable { id: String, status: ParcelStatus },
    #[error(transparent)]
    Merge(#[from] MergeRefused),
}

impl std::fmt::Display for ParcelStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A split of `parent` into `parts`: the new parcels (same park, use and plan range), or the
/// rule it breaks. The parent ends.
pub fn decide_split(
    parent: &ParcelRecord,
    parts: &[Part],
) -> Result<Vec<NewParcel>, ParcelRefused> {
    if parent.status != ParcelStatus::Available {
        return Err(ParcelRefused::NotSplittable {
            id: parent.id.clone(),
            status: parent.status,
        });
    }
    let mut violations = Violations::new();
    check_split(&parent.id, parent.area_centi_mu, parts, &mut violations);
    if !violations.is_empty() {
        return Err(ParcelRefused::Invalid(violations));
    }
    Ok(parts
        .iter()
        .map(|part| NewParcel {
            id: part.id.clone(),
            park: parent.park,
            land_use: parent.land_use,
            area_centi_mu: part.area_centi_mu,
            plot_ratio_min_milli: parent.plot_ratio_min_milli,
            plot_ratio_max_milli: parent.plot_ratio_max_milli,
            location: part.location.clone(),
        })
        .collect())
}

/// A merge of `parcels` into `new_id`: the merged parcel, or the rule it breaks. The
/// parcels end.
pub fn decide_merge(
    parcels: &[ParcelRecord],
    new_id: &str,
    location: &str,
) -> Result<NewParcel, ParcelRefused> {
    let inputs: Vec<MergeInput> = parcels
        .iter()
        .map(|p| MergeInput {
            id: p.id.clone(),
            park: p.park,
            land_use: p.land_use,
            status: p.status,
            area_centi_mu: p.area_centi_mu,
            plot_ratio_min_milli: p.plot_ratio_min_milli,
            plot_ratio_max_milli: p.plot_ratio_max_milli,
        })
        .collect();
    let (area, min, max) = merge(&inputs)?;
    let first = &inputs[0];
    Ok(NewParcel {
        id: new_id.to_string(),
        park: first.park,
        land_use: first.land_use,
        area_centi_mu: area,
        plot_ratio_min_milli: min,
        plot_ratio_max_milli: max,
        location: location.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, status: ParcelStatus) -> ParcelRecord {
        ParcelRecord {
            id: id.into(),
            park: Park::Ganwang,
            land_use: LandUse::Industrial,
            area_centi_mu: 1_000,
            plot_ratio_min_milli: 800,
            plot_ratio_max_milli: 2_500,
            status,
            location: "east".into(),
            parent_ids: vec![],
            child_ids: vec![],
            version: 1,
            created_at: Utc::now(),
        }
    }

    #[test]
    fn a_split_keeps_the_parents_park_use_and_plan_and_needs_it_available() {
        let parent = record("P1", ParcelStatus::Available);
        let parts = [part("P1-A", 400), part("P1-B", 600)];
        let children = decide_split(&parent, &parts).expect("a valid split");
        assert_eq!(children.len(), 2);
        assert!(
            children
                .iter()
                .all(|c| c.park == Park::Ganwang && c.plot_ratio_min_milli == 800)
        );
        let granted = record("P1", ParcelStatus::Granted);
        let refused = decide_split(&granted, &parts).unwrap_err();
        assert_eq!(
            refused.to_string(),
            "parcel P1 is granted: only an available parcel is split"
        );
        assert!(matches!(
            decide_split(&parent, &[part("P1-A", 1)]),
            Err(ParcelRefused::Invalid(_))
        ));
    }

    #[test]
    fn a_merge_adds_the_areas_and_takes_the_strictest_plan() {
        let a = record("A", ParcelStatus::Available);
        let b = ParcelRecord {
            plot_ratio_min_milli: 1_000,
            ..record("B", ParcelStatus::Available)
        };
        let merged = decide_merge(&[a.clone(), b], "AB", "here").expect("a valid merge");
        assert_eq!(
            (merged.area_centi_mu, merged.plot_ratio_min_milli),
            (2_000, 1_000)
        );
        let idle = record("C", ParcelStatus::Idle);
        assert!(matches!(
            decide_merge(&[a, idle], "AC", "here"),
            Err(ParcelRefused::Merge(MergeRefused::NotAvailable(_)))
        ));
    }

    fn fields(v: &Violations) -> Vec<String> {
        v.as_slice().iter().map(|v| v.field.clone()).collect()
    }

    #[test]
    fn a_new_parcel_is_checked_field_by_field() {
        let mut v = Violations::new();
        check_new(
            &NewParcel {
                id: "xl-1".into(),
                park: Park::Xiliu,
                land_use: LandUse::Industrial,
                area_centi_mu: 0,
                plot_ratio_min_milli: 1200,
                plot_ratio_max_milli: 1000,
                location: "a\u{7}".into(),
            },
            &mut v,
        );
        assert_eq!(
            fields(&v),
            ["id", "area_centi_mu", "plot_ratio_max_milli", "location"]
        );
    }

    fn part(id: &str, area: i64) -> Part {
        Part {
            id: id.into(),
            area_centi_mu: area,
            location: String::new(),
        }
    }

    #[test]
    fn split_parts_must_add_up_exactly() {
        let mut v = Violations::new();
        check_split("P1", 1_000, &[part("P1-A", 400), part("P1-B", 600)], &mut v);
        assert!(v.is_empty());
        check_split("P1", 1_000, &[part("P1-A", 400), part("P1-B", 599)], &mut v);
        check_split("P1", 1_000, &[part("P1", 1_000)], &mut v);
        check_split("P1", 1_000, &[part("P1-A", 500), part("P1-A", 500)], &mut v);
        assert_eq!(fields(&v), ["parts", "parts", "parts[1].id"]);
    }

    fn input(id: &str, park: Park, status: ParcelStatus) -> MergeInput {
        MergeInput {
            id: id.into(),
            park,
            land_use: LandUse::Industrial,
            status,
            area_centi_mu: 300,
            plot_ratio_min_milli: 800,
            plot_ratio_max_milli: 2500,
        }
    }

    #[test]
    fn merges_need_available_parcels_of_one_park_and_use() {
        let a = input("A", Park::Nantai, ParcelStatus::Available);
        let b = MergeInput {
            plot_ratio_min_milli: 1000,
            plot_ratio_max_milli: 2000,
            ..input("B", Park::Nantai, ParcelStatus::Available)
        };
        assert_eq!(merge(&[a.clone(), b]), Ok((600, 1000, 2000)));
        assert_eq!(
            merge(&[a.clone(), input("C", Park::Nantai, ParcelStatus::Granted)]),
            Err(MergeRefused::NotAvailable("C".into()))
        );
        assert_eq!(
            merge(&[a, input("D", Park::Xiliu, ParcelStatus::Available)]),
            Err(MergeRefused::Mixed)
        );
    }
}
