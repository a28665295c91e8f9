//! Low-efficiency land (低效用地): from `after_completion_months` (24) after completion, an
//! evaluation whose investment intensity or output per mu is under `threshold_percent` (50) %
//! of the committed value flags the grant (a list for redevelopment, notices to natural
//! resources and commerce); a later evaluation with both back at or above it clears the flag.

use chrono::NaiveDate;

use super::{
    add_months,
    evaluation::{EvaluationRecord, Item},
    grant::GrantRecord,
};

/// The configurable numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LowEfficiencyRules {
    /// Months after completion from which the rule applies (24).
    pub after_completion_months: u32,
    /// Share of the committed value under which an item is low, percent (50).
    pub threshold_percent: u32,
}

impl Default for LowEfficiencyRules {
    fn default() -> Self {
        Self {
            after_completion_months: 24,
            threshold_percent: 50,
        }
    }
}

/// Whether `actual` is under `percent` % of `committed` (exactly: no rounding).
pub fn under(actual: i64, committed: i64, percent: u32) -> bool {
    i128::from(actual) * 100 < i128::from(committed) * i128::from(percent)
}

/// The flag `evaluation` calls for on `grant`, when it differs from the grant's: `Some(true)`
/// flags it, `Some(false)` clears it; `None` when nothing changes (also before the rule
/// applies, or before completion).
pub fn decide(
    grant: &GrantRecord,
    evaluation: &EvaluationRecord,
    rules: &LowEfficiencyRules,
) -> Option<bool> {
    let completed: NaiveDate = grant.progress.completed_on?;
    if evaluation.evaluated_on < add_months(completed, rules.after_completion_months) {
        return None;
    }
    let low = evaluation.evaluation.items.iter().any(|i| {
        matches!(i.item, Item::InvestmentIntensity | Item::OutputPerMu)
            && under(i.actual, i.committed, rules.threshold_percent)
    });
    (low != grant.disposal.low_efficiency).then_some(low)
}

/// The text of the notice of a flag or its clearing.
pub fn notice_text(grant: &GrantRecord, low: bool, evaluated_on: NaiveDate) -> String {
    if low {
        format!(
            "Grant {} on parcel {}: low-efficiency land (低效用地) as of {evaluated_on}: \
             investment intensity or output per mu under half the commitment two years after \
             completion; listed for redevelopment",
            grant.id, grant.parcel_id
        )
    } else {
        format!(
            "Grant {} on parcel {}: no longer low-efficiency land as of {evaluated_on}",
            grant.id, grant.parcel_id
        )
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use uuid::Uuid;

    use super::*;
    use crate::domain::{
        evaluation::{Evaluation, ItemResult, Outcome},
        units,
    };

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn item(item: Item, committed: i64, actual: i64) -> ItemResult {
        ItemResult {
            item,
            committed,
            actual,
            shortfall_bp: 0,
            projected_shortfall_bp: 0,
            damages_fen: 0,
        }
    }

    fn evaluation(on: NaiveDate, investment: i64, output: i64) -> EvaluationRecord {
        EvaluationRecord {
            id: Uuid::nil(),
            grant_id: Uuid::nil(),
            parcel_id: "XL-1".into(),
            uscc: "H".into(),
            year: 2025,
            revision: 1,
            evaluation: Evaluation {
                items: vec![
                    item(Item::InvestmentIntensity, 10_000, investment),
                    item(Item::OutputPerMu, 10_000, output),
                    item(Item::TaxPerMu, 10_000, 0),
                ],
                outcome: Outcome::Short,
                all_met: false,
                damages_fen: 0,
                rectification_due_on: None,
            },
            evaluated_on: on,
            recorded_at: Utc::now(),
        }
    }

    fn completed(on: NaiveDate) -> GrantRecord {
        let mut g = units::tests_grant();
        g.progress.completed_on = Some(on);
        g
    }

    #[test]
    fn under_half_two_years_after_completion_flags_and_half_does_not() {
        let rules = LowEfficiencyRules::default();
        let g = completed(day(2023, 6, 1));
        let at = day(2025, 6, 1);
        assert_eq!(
            decide(&g, &evaluation(at, 4_999, 10_000), &rules),
            Some(true),
            "49.99 %"
        );
        assert_eq!(
            decide(&g, &evaluation(at, 10_000, 4_999), &rules),
            Some(true)
        );
        assert_eq!(
            decide(&g, &evaluation(at, 5_000, 5_000), &rules),
            None,
            "50 %"
        );
        assert_eq!(
            decide(&g, &evaluation(day(2025, 5, 31), 0, 0), &rules),
            None,
            "a day before two years"
        );
        assert_eq!(
            decide(&units::tests_grant(), &evaluation(at, 0, 0), &rules),
            None,
            "not completed"
        );
    }

    #[test]
    fn a_flag_clears_at_the_threshold_and_not_below() {
        let rules = LowEfficiencyRules::default();
        let mut g = completed(day(2023, 6, 1));
        g.disposal.low_efficiency = true;
        let at = day(2026, 6, 1);
        assert_eq!(decide(&g, &evaluation(at, 5_000, 4_999), &rules), None);
        assert_eq!(
            decide(&g, &evaluation(at, 5_000, 5_000), &rules),
            Some(false)
        );
    }
}
