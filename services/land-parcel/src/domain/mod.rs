//! The land rules, pure: no I/O, no protobuf types. Each module is one concern:
//!
//! - [`parcel`]: parcels, their checks, split and merge (lineage);
//! - [`supply`]: supply modes and their term rules (出让, 弹性年期, 先租后让, 长期租赁);
//! - [`grant`]: the contract and the performance agreement (履约监管协议) of a grant;
//! - [`lateness`]: damages per day for a late start or completion, the take-back review flag;
//! - [`evaluation`]: actual figures per mu against the commitments, damages, early warnings;
//! - [`idle`]: the idle land rule (闲置土地);
//! - [`disposal`]: idle fees, take-back review and take-back (无偿收回);
//! - [`low_efficiency`]: low-efficiency land (低效用地) two years after completion;
//! - [`conversion`]: lease to transfer;
//! - [`units`]: buildings split into units (分割转让) and the land apportioned to a unit;
//! - [`queue`]: the order of the land application queue.
//!
//! Every change is decided here, without I/O: a `decide…(state, command, rules, today)`
//! returns what to write (and so what to announce), or a typed refusal ([`Refused`]) whose
//! variant names the rule. The store loads the state and commits the decision.

pub mod conversion;
pub mod disposal;
pub mod evaluation;
pub mod grant;
pub mod idle;
pub mod lateness;
pub mod low_efficiency;
pub mod parcel;
pub mod queue;
pub mod supply;
pub mod units;

mod refused;
mod rules;

use chrono::{Months, NaiveDate};
use platform::{Park, Segment};

pub use refused::Refused;
pub use rules::LandRules;

/// What a parcel may be used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LandUse {
    Industrial,
    Commercial,
    PublicService,
}

impl std::fmt::Display for LandUse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl LandUse {
    pub const ALL: [LandUse; 3] = [
        LandUse::Industrial,
        LandUse::Commercial,
        LandUse::PublicService,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            LandUse::Industrial => "industrial",
            LandUse::Commercial => "commercial",
            LandUse::PublicService => "public_service",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|u| u.as_str() == name)
    }
}

/// An enterprise as the service knows it from census events.
#[derive(Debug, Clone, PartialEq)]
pub struct Enterprise {
    pub uscc: String,
    pub name: String,
    pub active: bool,
    pub segment: Option<Segment>,
    pub park: Option<Park>,
}

/// Why an enterprise may not hold land or a unit of a split building.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HolderRefused {
    #[error("enterprise {0} is not known from census events")]
    Unknown(String),
    #[error("enterprise {0} is deregistered")]
    Inactive(String),
    #[error("enterprise {0} is not a manufacturer (segment trade or unknown)")]
    NotManufacturer(String),
}

/// Checks a would-be holder: known, active and, where `manufacturing_only`, a manufacturer.
pub fn check_holder(
    uscc: &str,
    enterprise: Option<&Enterprise>,
    manufacturing_only: bool,
) -> Result<(), HolderRefused> {
    let enterprise = enterprise.ok_or_else(|| HolderRefused::Unknown(uscc.to_string()))?;
    if !enterprise.active {
        return Err(HolderRefused::Inactive(uscc.to_string()));
    }
    if manufacturing_only && !enterprise.segment.is_some_and(Segment::is_manufacturing) {
        return Err(HolderRefused::NotManufacturer(uscc.to_string()));
    }
    Ok(())
}

/// `date` plus `months` calendar months (the end of the month when the day does not exist).
pub fn add_months(date: NaiveDate, months: u32) -> NaiveDate {
    date.checked_add_months(Months::new(months))
        .unwrap_or(NaiveDate::MAX)
}

/// `amount × numerator / denominator`, rounded half up, without overflow on the way.
pub fn scale_fen(amount: i64, numerator: i64, denominator: i64) -> i64 {
    if denominator == 0 {
        return 0;
    }
    let product = i128::from(amount) * i128::from(numerator);
    let d = i128::from(denominator);
    let rounded = (2 * product + d) / (2 * d);
    i64::try_from(rounded).unwrap_or(i64::MAX)
}

/// A calendar date as the contract writes it, `YYYY-MM-DD`.
pub fn parse_date(text: &str) -> Option<NaiveDate> {
    if text.len() != 10 {
        return None;
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaling_rounds_half_up_to_the_fen() {
        assert_eq!(scale_fen(1_000, 1, 3), 333);
        assert_eq!(scale_fen(1_000, 2, 3), 667);
        assert_eq!(scale_fen(5, 1, 2), 3);
        assert_eq!(scale_fen(i64::MAX, 2, 1), i64::MAX);
        assert_eq!(scale_fen(7, 1, 0), 0);
    }

    #[test]
    fn months_are_calendar_months() {
        let d = NaiveDate::from_ymd_opt(2024, 8, 31).unwrap();
        assert_eq!(
            add_months(d, 6),
            NaiveDate::from_ymd_opt(2025, 2, 28).unwrap()
        );
        assert_eq!(
            add_months(d, 12),
            NaiveDate::from_ymd_opt(2025, 8, 31).unwrap()
        );
    }

    #[test]
    fn holders_must_be_known_active_manufacturers() {
        let firm = Enterprise {
            uscc: "X".into(),
            name: "x".into(),
            active: true,
            segment: Some(Segment::Apparel),
            park: Some(Park::Xiliu),
        };
        assert_eq!(check_holder("X", Some(&firm), true), Ok(()));
        assert!(matches!(
            check_holder("X", None, false),
            Err(HolderRefused::Unknown(_))
        ));
        let trader = Enterprise {
            segment: Some(Segment::Trade),
            ..firm.clone()
        };
        assert!(matches!(
            check_holder("X", Some(&trader), true),
            Err(HolderRefused::NotManufacturer(_))
        ));
        assert_eq!(check_holder("X", Some(&trader), false), Ok(()));
        let gone = Enterprise {
            active: false,
            ..firm
        };
        assert!(matches!(
            check_holder("X", Some(&gone), false),
            Err(HolderRefused::Inactive(_))
        ));
    }

    #[test]
    fn dates_are_strict_iso() {
        assert_eq!(
            parse_date("2025-02-28"),
            NaiveDate::from_ymd_opt(2025, 2, 28)
        );
        for bad in ["2025-2-28", "2025-02-30", "", "20250228", "2025-02-28T00"] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }
}
