//! Idle land (闲置土地处置办法, 2012): a grant is idle when construction has not started
//! `not_started_months` (12) after the agreed start date, or when it started, built under
//! a third of the planned floor area or invested under 25 % of the committed investment,
//! and then made no progress for `stopped_months` (12). The pass runs on the database's date.

use chrono::NaiveDate;

use super::{
    add_months, evaluation::floor_area_for, grant::GrantRecord, lateness::Progress, scale_fen,
};

/// The configurable thresholds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdleRules {
    /// Months after the agreed start without a start (12).
    pub not_started_months: u32,
    /// Months without progress after an early stop (12).
    pub stopped_months: u32,
    /// Share of the committed investment under which a stop counts, percent (25).
    pub investment_percent: u32,
    /// Idle fee, percent of the price (20).
    pub fee_percent: u32,
    /// Months without a start after the agreed date, or of standstill after an early stop,
    /// that put an idle grant under take-back review (24: two years idle, art. 14).
    pub take_back_months: u32,
}

impl Default for IdleRules {
    fn default() -> Self {
        Self {
            not_started_months: 12,
            stopped_months: 12,
            investment_percent: 25,
            fee_percent: 20,
            take_back_months: 24,
        }
    }
}

/// Why a grant is idle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdleReason {
    NotStarted,
    StoppedEarly,
}

impl IdleReason {
    pub fn as_str(self) -> &'static str {
        match self {
            IdleReason::NotStarted => "not_started",
            IdleReason::StoppedEarly => "stopped_early",
        }
    }
}

/// What the rule looks at.
#[derive(Debug, Clone)]
pub struct IdleFacts<'a> {
    pub start_by: NaiveDate,
    pub progress: &'a Progress,
    /// Floor area the committed plot ratio calls for, hundredths of a m².
    pub planned_floor_centi_m2: i64,
    /// Committed investment intensity × granted land, fen.
    pub committed_investment_fen: i64,
}

/// The reason the grant is idle on `today`, if it is.
pub fn idle_reason(
    facts: &IdleFacts<'_>,
    today: NaiveDate,
    rules: &IdleRules,
) -> Option<IdleReason> {
    idle_after(
        facts,
        today,
        rules,
        (rules.not_started_months, rules.stopped_months),
    )
}

/// The reason the grant is idle on `today` counting `(not started, stopped)` months.
fn idle_after(
    facts: &IdleFacts<'_>,
    today: NaiveDate,
    rules: &IdleRules,
    (not_started_months, stopped_months): (u32, u32),
) -> Option<IdleReason> {
    let p = facts.progress;
    let Some(started_on) = p.started_on else {
        return (today >= add_months(facts.start_by, not_started_months))
            .then_some(IdleReason::NotStarted);
    };
    if p.completed_on.is_some() {
        return None;
    }
    let last = p.last_progress_on.unwrap_or(started_on);
    let stopped = today >= add_months(last, stopped_months);
    let little_built =
        i128::from(p.built_floor_area_centi_m2) * 3 < i128::from(facts.planned_floor_centi_m2);
    let little_invested = i128::from(p.investment_to_date_fen) * 100
        < i128::from(facts.committed_investment_fen) * i128::from(rules.investment_percent);
    (stopped && (little_built || little_invested)).then_some(IdleReason::StoppedEarly)
}

/// Decides whether `grant` (not flagged yet) is idle on `on`: the reason it is flagged with.
pub fn decide(grant: &GrantRecord, on: NaiveDate, rules: &IdleRules) -> Option<IdleReason> {
    if grant.idle_reason.is_some() {
        return None;
    }
    idle_reason(&facts_of(grant), on, rules)
}

/// Whether `grant` is idle on `on` counting `months` from the agreed start (not started) or
/// from the last progress (stopped early): the take-back review counts two years.
pub fn idle_for(
    grant: &GrantRecord,
    on: NaiveDate,
    rules: &IdleRules,
    months: u32,
) -> Option<IdleReason> {
    idle_after(&facts_of(grant), on, rules, (months, months))
}

fn facts_of(grant: &GrantRecord) -> IdleFacts<'_> {
    let c = &grant.commitments;
    IdleFacts {
        start_by: grant.contract.start_by,
        progress: &grant.progress,
        planned_floor_centi_m2: floor_area_for(c.plot_ratio_milli, grant.land_centi_mu),
        committed_investment_fen: scale_fen(c.investment_fen_per_mu, grant.land_centi_mu, 100),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn facts(progress: &Progress) -> IdleFacts<'_> {
        IdleFacts {
            start_by: day(2024, 3, 1),
            progress,
            planned_floor_centi_m2: 3_000_000,
            committed_investment_fen: 1_000_000,
        }
    }

    #[test]
    fn not_started_a_year_after_the_agreed_date_is_idle_and_not_a_day_before() {
        let none = Progress::default();
        let rules = IdleRules::default();
        assert_eq!(idle_reason(&facts(&none), day(2025, 2, 28), &rules), None);
        assert_eq!(
            idle_reason(&facts(&none), day(2025, 3, 1), &rules),
            Some(IdleReason::NotStarted)
        );
    }

    #[test]
    fn a_stop_counts_only_with_little_built_or_invested() {
        let rules = IdleRules::default();
        let stopped = Progress {
            started_on: Some(day(2024, 3, 1)),
            last_progress_on: Some(day(2024, 6, 1)),
            built_floor_area_centi_m2: 999_999,
            investment_to_date_fen: 900_000,
            ..Default::default()
        };
        assert_eq!(
            idle_reason(&facts(&stopped), day(2025, 5, 31), &rules),
            None
        );
        assert_eq!(
            idle_reason(&facts(&stopped), day(2025, 6, 1), &rules),
            Some(IdleReason::StoppedEarly)
        );
        let built = Progress {
            built_floor_area_centi_m2: 1_000_000,
            ..stopped.clone()
        };
        assert_eq!(
            idle_reason(&facts(&built), day(2026, 1, 1), &rules),
            None,
            "a third built, 90 % invested"
        );
        let poor = Progress {
            investment_to_date_fen: 249_999,
            ..built.clone()
        };
        assert_eq!(
            idle_reason(&facts(&poor), day(2026, 1, 1), &rules),
            Some(IdleReason::StoppedEarly)
        );
        let done = Progress {
            completed_on: Some(day(2024, 12, 1)),
            ..poor
        };
        assert_eq!(idle_reason(&facts(&done), day(2026, 1, 1), &rules), None);
    }
}
