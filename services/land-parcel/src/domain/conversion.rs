//! Lease to transfer (先租后让): allowed once the lease period is over and the latest
//! evaluation found every commitment met; the rent paid during the lease is credited
//! against the transfer price (transfer price due = price − rent paid, never below 0).

use chrono::NaiveDate;

use super::{
    add_months,
    grant::{GrantRecord, GrantStatus},
    parcel::ParcelStatus,
};

/// Why a conversion is refused; each names the condition that fails.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConversionRefused {
    #[error("the grant is not in a lease phase")]
    NotLeasing,
    #[error("the lease runs until {0}")]
    LeaseNotOver(NaiveDate),
    #[error("the grant has no evaluation yet")]
    NotEvaluated,
    #[error("the latest evaluation found a commitment short")]
    EvaluationShort,
}

/// What a lease-then-transfer grant looks like for the check.
#[derive(Debug, Clone, Copy)]
pub struct LeaseFacts {
    pub leasing: bool,
    pub signed_on: NaiveDate,
    pub lease_years: u32,
    pub yearly_rent_fen: i64,
    pub price_fen: i64,
    /// `Some(all met)` of the latest evaluation; `None` if there is none.
    pub latest_all_met: Option<bool>,
}

/// The money side of a conversion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conversion {
    pub rent_credited_fen: i64,
    pub transfer_price_due_fen: i64,
}

pub fn lease_ends_on(signed_on: NaiveDate, lease_years: u32) -> NaiveDate {
    add_months(signed_on, lease_years.saturating_mul(12))
}

/// Checks a conversion on `today` and computes the credit.
pub fn convert(facts: &LeaseFacts, today: NaiveDate) -> Result<Conversion, ConversionRefused> {
    if !facts.leasing {
        return Err(ConversionRefused::NotLeasing);
    }
    let ends = lease_ends_on(facts.signed_on, facts.lease_years);
    if today < ends {
        return Err(ConversionRefused::LeaseNotOver(ends));
    }
    match facts.latest_all_met {
        None => return Err(ConversionRefused::NotEvaluated),
        Some(false) => return Err(ConversionRefused::EvaluationShort),
        Some(true) => {}
    }
    let rent = facts
        .yearly_rent_fen
        .saturating_mul(i64::from(facts.lease_years));
    Ok(Conversion {
        rent_credited_fen: rent,
        transfer_price_due_fen: (facts.price_fen - rent).max(0),
    })
}

/// Decides the conversion of `grant` on `today`, given whether its latest evaluation found
/// every commitment met (`None`: not evaluated yet).
pub fn decide(
    grant: &GrantRecord,
    latest_all_met: Option<bool>,
    today: NaiveDate,
) -> Result<Conversion, ConversionRefused> {
    let facts = LeaseFacts {
        leasing: grant.status == GrantStatus::Leasing
            && grant.terms.mode == super::supply::SupplyMode::LeaseThenTransfer,
        signed_on: grant.contract.signed_on,
        lease_years: grant.terms.lease_years,
        yearly_rent_fen: grant.terms.yearly_rent_fen,
        price_fen: grant.terms.price_fen,
        latest_all_met,
    };
    convert(&facts, today)
}

/// The parcel's status after its grant is converted: a leased parcel becomes granted (any
/// other keeps its status: `None`).
pub fn parcel_after(status: ParcelStatus) -> Option<ParcelStatus> {
    (status == ParcelStatus::Leased).then_some(ParcelStatus::Granted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn facts(met: Option<bool>) -> LeaseFacts {
        LeaseFacts {
            leasing: true,
            signed_on: day(2020, 4, 1),
            lease_years: 5,
            yearly_rent_fen: 600_000,
            price_fen: 10_000_000,
            latest_all_met: met,
        }
    }

    #[test]
    fn refused_before_the_lease_ends_and_with_a_short_evaluation() {
        assert_eq!(
            convert(&facts(Some(true)), day(2025, 3, 31)),
            Err(ConversionRefused::LeaseNotOver(day(2025, 4, 1)))
        );
        assert_eq!(
            convert(&facts(Some(false)), day(2025, 4, 1)),
            Err(ConversionRefused::EvaluationShort)
        );
        assert_eq!(
            convert(&facts(None), day(2025, 4, 1)),
            Err(ConversionRefused::NotEvaluated)
        );
        let transferred = LeaseFacts {
            leasing: false,
            ..facts(Some(true))
        };
        assert_eq!(
            convert(&transferred, day(2030, 1, 1)),
            Err(ConversionRefused::NotLeasing)
        );
    }

    #[test]
    fn allowed_after_with_the_rent_credited() {
        let c = convert(&facts(Some(true)), day(2025, 4, 1)).unwrap();
        assert_eq!(c.rent_credited_fen, 3_000_000);
        assert_eq!(c.transfer_price_due_fen, 7_000_000);
        let dear = LeaseFacts {
            yearly_rent_fen: 3_000_000,
            ..facts(Some(true))
        };
        assert_eq!(
            convert(&dear, day(2026, 1, 1))
                .unwrap()
                .transfer_price_due_fen,
            0
        );
    }
}
