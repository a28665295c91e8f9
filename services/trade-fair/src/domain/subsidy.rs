//! Booth-fee subsidies for going abroad (出国参展补贴): for an external fair, a share of the
//! booth fee by market (50 % traditional, 70 % emerging by default), capped per booth and
//! per firm per year, paid out of a yearly budget that is never exceeded. Claimed once per
//! registration, after its outcome is recorded.

use chrono::{DateTime, Datelike, Utc};
use uuid::Uuid;

use super::{
    Refused, Rules,
    fair::{Fair, Market},
    registration::{Registration, Status},
};

/// The bureau's subsidy rules (from the configuration).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubsidyPolicy {
    pub domestic_percent: u32,
    pub traditional_percent: u32,
    pub emerging_percent: u32,
    /// Most paid per booth, fen.
    pub per_booth_cap_fen: i64,
    /// Most paid to one firm in one year, fen.
    pub per_firm_year_cap_fen: i64,
}

impl SubsidyPolicy {
    pub fn percent(&self, market: Market) -> u32 {
        match market {
            Market::Domestic => self.domestic_percent,
            Market::TraditionalExport => self.traditional_percent,
            Market::Emerging => self.emerging_percent,
        }
    }
}

/// What stands between a claim and its full amount.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    PerBooth,
    PerFirmYear,
    Budget,
}

/// The subsidy of one claim.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Award {
    pub amount_fen: i64,
    /// The share of the fee applied, percent.
    pub percent: u32,
    /// The limits that cut the amount, in the order applied.
    pub limited_by: Vec<Limit>,
}

/// Why a claim pays nothing.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("fairs of this market are not subsidised")]
    NotSubsidised,
    #[error("the enterprise has reached its yearly subsidy cap")]
    FirmCapReached,
    #[error("the year's subsidy budget is spent")]
    BudgetSpent,
}

/// The claim's amount: the share of the fee, then the per-booth cap, the firm's yearly
/// remainder and the budget's remainder.
pub fn award(
    policy: &SubsidyPolicy,
    market: Market,
    fee_per_booth_fen: i64,
    booths: u32,
    firm_granted_this_year_fen: i64,
    budget_left_fen: i64,
) -> Result<Award, Refusal> {
    let percent = policy.percent(market);
    let per_booth = i128::from(fee_per_booth_fen) * i128::from(percent) / 100;
    if per_booth <= 0 || booths == 0 {
        return Err(Refusal::NotSubsidised);
    }
    let mut limited_by = Vec::new();
    let per_booth = if per_booth > i128::from(policy.per_booth_cap_fen) {
        limited_by.push(Limit::PerBooth);
        i128::from(policy.per_booth_cap_fen)
    } else {
        per_booth
    };
    let mut amount = (per_booth * i128::from(booths)).min(i128::from(i64::MAX)) as i64;
    let firm_left = (policy.per_firm_year_cap_fen - firm_granted_this_year_fen).max(0);
    if firm_left == 0 {
        return Err(Refusal::FirmCapReached);
    }
    if amount > firm_left {
        amount = firm_left;
        limited_by.push(Limit::PerFirmYear);
    }
    if budget_left_fen <= 0 {
        return Err(Refusal::BudgetSpent);
    }
    if amount > budget_left_fen {
        amount = budget_left_fen;
        limited_by.push(Limit::Budget);
    }
    Ok(Award {
        amount_fen: amount,
        percent,
        limited_by,
    })
}

/// A granted subsidy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subsidy {
    pub registration_id: Uuid,
    pub fair_id: Uuid,
    pub uscc: String,
    pub year: i32,
    pub amount_fen: i64,
    pub percent: i32,
    /// The stored names of the [`Limit`]s that cut the amount.
    pub limited_by: Vec<String>,
    pub granted_at: DateTime<Utc>,
}

/// A year's budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub year: i32,
    pub budget_fen: i64,
    pub granted_fen: i64,
}

impl Limit {
    /// The stored (and published) name.
    pub fn as_str(self) -> &'static str {
        match self {
            Limit::PerBooth => "per_booth",
            Limit::PerFirmYear => "per_firm_year",
            Limit::Budget => "budget",
        }
    }
}

/// The year whose budget pays the subsidies of `fair`: the year it starts.
pub fn year_of(fair: &Fair) -> i32 {
    fair.spec.starts_at.year()
}

/// What a claim's decision needs, loaded under the fair's lock and the budget row's.
#[derive(Debug, Clone)]
pub struct ClaimState {
    pub fair: Fair,
    pub registration: Registration,
    /// Its outcome is recorded.
    pub has_outcome: bool,
    /// A subsidy was granted for it already.
    pub claimed: bool,
    /// What the firm was granted in the fair's year so far, fen.
    pub firm_granted_fen: i64,
    /// The fair's year's budget.
    pub budget: Budget,
}

/// Decides a claim: the subsidy of a confirmed registration at an external fair with an
/// outcome, once, by [`award`].
pub fn decide(state: &ClaimState, rules: &Rules, now: DateTime<Utc>) -> Result<Subsidy, Refused> {
    let (fair, r) = (&state.fair, &state.registration);
    if !fair.spec.kind.is_external() {
        return Err(Refused::NotExternal);
    }
    if r.status != Status::Confirmed {
        return Err(Refused::NotConfirmed(r.status));
    }
    if !state.has_outcome {
        return Err(Refused::NoOutcomeYet);
    }
    if state.claimed {
        return Err(Refused::AlreadyClaimed(r.id));
    }
    let fee = fair
        .spec
        .inventory_of(r.booth_type)
        .map_or(0, |i| i.fee_fen);
    let granted = award(
        &rules.subsidy,
        fair.spec.market,
        fee,
        r.draw.total(),
        state.firm_granted_fen,
        state.budget.budget_fen - state.budget.granted_fen,
    )
    .map_err(Refused::NoAward)?;
    Ok(Subsidy {
        registration_id: r.id,
        fair_id: r.fair_id,
        uscc: r.uscc.clone(),
        year: state.budget.year,
        amount_fen: granted.amount_fen,
        percent: granted.percent as i32,
        limited_by: granted
            .limited_by
            .iter()
            .map(|l| l.as_str().to_string())
            .collect(),
        granted_at: now,
    })
}

/// Decides setting a year's budget to `budget_fen`: never below what is granted.
pub fn decide_budget(current: Budget, budget_fen: i64) -> Result<Budget, Refused> {
    if budget_fen < current.granted_fen {
        return Err(Refused::BudgetBelowGranted {
            year: current.year,
            granted_fen: current.granted_fen,
        });
    }
    Ok(Budget {
        budget_fen,
        ..current
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn policy() -> SubsidyPolicy {
        SubsidyPolicy {
            domestic_percent: 0,
            traditional_percent: 50,
            emerging_percent: 70,
            per_booth_cap_fen: 2_000_000,
            per_firm_year_cap_fen: 5_000_000,
        }
    }

    #[test]
    fn the_share_follows_the_market_and_the_caps_cut_in_order() {
        let traditional = award(
            &policy(),
            Market::TraditionalExport,
            3_000_000,
            1,
            0,
            i64::MAX,
        )
        .unwrap();
        assert_eq!(
            (traditional.amount_fen, traditional.percent),
            (1_500_000, 50)
        );
        let emerging = award(&policy(), Market::Emerging, 3_000_000, 1, 0, i64::MAX).unwrap();
        assert_eq!(
            (emerging.amount_fen, emerging.limited_by.clone()),
            (2_000_000, vec![Limit::PerBooth])
        );
        let firm = award(
            &policy(),
            Market::Emerging,
            3_000_000,
            4,
            1_000_000,
            i64::MAX,
        )
        .unwrap();
        assert_eq!(firm.amount_fen, 4_000_000);
        assert_eq!(firm.limited_by, vec![Limit::PerBooth, Limit::PerFirmYear]);
        let budget = award(&policy(), Market::TraditionalExport, 1_000_000, 1, 0, 100).unwrap();
        assert_eq!(
            (budget.amount_fen, budget.limited_by),
            (100, vec![Limit::Budget])
        );
    }

    #[test]
    fn nothing_is_paid_past_a_cap_or_for_a_domestic_fair() {
        assert_eq!(
            award(&policy(), Market::Domestic, 1_000, 1, 0, 10),
            Err(Refusal::NotSubsidised)
        );
        assert_eq!(
            award(&policy(), Market::Emerging, 1_000, 1, 5_000_000, 10),
            Err(Refusal::FirmCapReached)
        );
        assert_eq!(
            award(&policy(), Market::Emerging, 1_000, 1, 0, 0),
            Err(Refusal::BudgetSpent)
        );
    }

    proptest! {
        #[test]
        fn an_award_never_passes_a_limit(fee in 0i64..10_000_000, booths in 0u32..20,
                                         granted in 0i64..6_000_000, budget in -10i64..20_000_000) {
            if let Ok(a) = award(&policy(), Market::Emerging, fee, booths, granted, budget) {
                prop_assert!(a.amount_fen > 0);
                prop_assert!(a.amount_fen <= budget);
                prop_assert!(a.amount_fen + granted <= policy().per_firm_year_cap_fen);
                prop_assert!(a.amount_fen <= policy().per_booth_cap_fen * i64::from(booths));
                prop_assert!(a.amount_fen <= fee * i64::from(booths) * 70 / 100 + 1);
            }
        }
    }
}

#[cfg(test)]
mod decide_tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::domain::{
        fair::tests::{at, spec},
        pools::Draw,
    };

    fn state() -> ClaimState {
        let fair = Fair {
            id: Uuid::from_u128(1),
            spec: spec(),
            taken: BTreeMap::new(),
            version: 1,
            created_at: at(1),
            allocated_at: None,
            reserves_released_at: None,
        };
        ClaimState {
            registration: Registration {
                id: Uuid::from_u128(2),
                fair_id: fair.id,
                uscc: "U".into(),
                booth_type: fair.spec.inventory[0].booth_type,
                booths_requested: 2,
                status: Status::Confirmed,
                draw: Draw {
                    general: 2,
                    ..Draw::default()
                },
                class: None,
                small_firm: false,
                invited_a: false,
                applied_at: at(2),
                confirmed_at: Some(at(3)),
                offer_expires_at: None,
                cancellation_reason: String::new(),
                cancellation_fee_fen: 0,
                explanation: String::new(),
                waitlist_position: 0,
            },
            budget: Budget {
                year: year_of(&fair),
                budget_fen: 500_000_000,
                granted_fen: 0,
            },
            fair,
            has_outcome: true,
            claimed: false,
            firm_granted_fen: 0,
        }
    }

    #[test]
    fn a_claim_pays_the_market_share_of_the_fee_for_the_booths_held() {
        let s = state();
        let granted = decide(&s, &Rules::default(), at(30)).unwrap();
        // Two booths at 15,000 yuan, 50 % for a traditional export market.
        assert_eq!((granted.amount_fen, granted.percent), (1_500_000, 50));
        assert_eq!(granted.year, year_of(&s.fair));
        assert!(granted.limited_by.is_empty());
    }

    #[test]
    fn each_condition_of_a_claim_is_refused_by_name() {
        let rules = Rules::default();
        let mut local = state();
        local.fair.spec.kind = crate::domain::fair::FairKind::LocalCraft;
        assert_eq!(
            decide(&local, &rules, at(30)).unwrap_err(),
            Refused::NotExternal
        );
        let mut waiting = state();
        waiting.registration.status = Status::Waitlisted;
        assert_eq!(
            decide(&waiting, &rules, at(30)).unwrap_err(),
            Refused::NotConfirmed(Status::Waitlisted)
        );
        let mut early = state();
        early.has_outcome = false;
        assert_eq!(
            decide(&early, &rules, at(30)).unwrap_err(),
            Refused::NoOutcomeYet
        );
        let mut twice = state();
        twice.claimed = true;
        let refused = decide(&twice, &rules, at(30)).unwrap_err();
        assert!(refused.already_exists().is_some(), "{refused}");
        let mut spent = state();
        spent.budget.granted_fen = spent.budget.budget_fen;
        assert_eq!(
            decide(&spent, &rules, at(30)).unwrap_err(),
            Refused::NoAward(Refusal::BudgetSpent)
        );
    }

    #[test]
    fn a_budget_never_drops_below_what_is_granted() {
        let current = Budget {
            year: 2027,
            budget_fen: 100,
            granted_fen: 60,
        };
        assert_eq!(decide_budget(current, 60).unwrap().budget_fen, 60);
        assert_eq!(
            decide_budget(current, 59).unwrap_err(),
            Refused::BudgetBelowGranted {
                year: 2027,
                granted_fen: 60
            }
        );
    }
}
