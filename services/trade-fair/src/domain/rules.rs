//! The bureau's numbers the rules read; each is one variable of [`crate::config::vars`].

use super::{eligibility::Thresholds, subsidy::SubsidyPolicy};

/// The bureau's rules (from the configuration, [`crate::config`]): every number a decision
/// of this module reads.
#[derive(Debug, Clone, PartialEq)]
pub struct Rules {
    /// Export sales an external fair needs, by kind of firm.
    pub export_thresholds: Thresholds,
    /// Sessions of a fair's kind a firm that broke the rules at one may not apply to.
    pub breach_barred_sessions: u32,
    /// Used when a new fair does not say (a fair stores its own).
    pub default_small_firm_reserve_percent: u32,
    pub default_a_class_reserve_percent: u32,
    pub default_per_firm_cap: u32,
    pub offer_hold: chrono::Duration,
    pub late_cancellation_fee_percent: u32,
    pub subsidy: SubsidyPolicy,
    pub default_yearly_budget_fen: i64,
}

impl Default for Rules {
    fn default() -> Self {
        Self {
            export_thresholds: Thresholds {
                trade_fen: 1_050_000_000,
                producer_fen: 525_000_000,
            },
            breach_barred_sessions: 4,
            default_small_firm_reserve_percent: 20,
            default_a_class_reserve_percent: 10,
            default_per_firm_cap: 10,
            offer_hold: chrono::Duration::hours(48),
            late_cancellation_fee_percent: 30,
            subsidy: SubsidyPolicy {
                domestic_percent: 0,
                traditional_percent: 50,
                emerging_percent: 70,
                per_booth_cap_fen: 3_000_000,
                per_firm_year_cap_fen: 20_000_000,
            },
            default_yearly_budget_fen: 500_000_000,
        }
    }
}
