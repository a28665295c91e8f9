//! Disposal of idle land (闲置土地处置办法, 2012) and take-back (无偿收回).
//!
//! - An idle grant is ordered an idle fee (闲置费) of `fee_percent` (20) % of its price, rounded
//!   half up to the fen; natural resources records it paid, or waived with a reason.
//! - Idle for two years (art. 14: not started `take_back_months` (24) after the agreed start, or
//!   stopped that long) puts the grant under take-back review, as does a start more than six
//!   months late (the contract's clause, [`super::lateness`]).
//! - Take-back: only a grant under review, decided with a reason and a document number; the
//!   grant ends (`taken_back`), its parcel returns to supply (available), and the decision
//!   names the units on the parcel and their holders.

use chrono::{DateTime, NaiveDate, Utc};
use platform::Violations;
use uuid::Uuid;

use super::{
    grant::{GrantRecord, GrantStatus, GrantView},
    idle::{self, IdleReason, IdleRules},
    scale_fen,
};

/// Where an idle fee stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeeStatus {
    Ordered,
    Paid,
    Waived,
}

impl FeeStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FeeStatus::Ordered => "ordered",
            FeeStatus::Paid => "paid",
            FeeStatus::Waived => "waived",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        [FeeStatus::Ordered, FeeStatus::Paid, FeeStatus::Waived]
            .into_iter()
            .find(|s| s.as_str() == name)
    }
}

/// An idle fee ordered on a grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdleFee {
    pub fee_fen: i64,
    pub status: FeeStatus,
    pub ordered_on: NaiveDate,
    pub settled_on: Option<NaiveDate>,
    pub waiver_reason: Option<String>,
}

/// Why a grant is under take-back review.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewReason {
    /// The start more than the configured months late (the contract's clause).
    LateStart,
    /// Idle for two years (art. 14).
    IdleTwoYears,
}

impl ReviewReason {
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewReason::LateStart => "late_start",
            ReviewReason::IdleTwoYears => "idle_two_years",
        }
    }
}

/// A unit on a taken-back parcel and its holder.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TakenBackUnit {
    pub unit_id: String,
    pub building_id: String,
    pub holder_uscc: Option<String>,
    /// The unit's status at the decision (`available`, `leased`, `sold`).
    pub status: String,
}

/// A take-back decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TakeBack {
    pub review_reason: String,
    pub reason: String,
    pub document_number: String,
    pub decided_on: NaiveDate,
    pub decided_by: String,
    pub units: Vec<TakenBackUnit>,
}

/// What a grant carries of its disposal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Disposal {
    pub idle_fee: Option<IdleFee>,
    /// Set by the idle pass: idle for two years.
    pub idle_take_back_on: Option<NaiveDate>,
    /// Flagged by its latest evaluation (低效用地).
    pub low_efficiency: bool,
    pub take_back: Option<TakeBack>,
    pub ended_at: Option<DateTime<Utc>>,
    /// The status before the grant ended (what it reads as before `ended_at`).
    pub status_before_end: Option<GrantStatus>,
}

/// Why a disposal is refused; each names what fails.
#[derive(Debug, thiserror::Error)]
pub enum DisposalRefused {
    #[error("invalid request")]
    Invalid(Violations),
    #[error("grant {0} has no idle fee ordered")]
    NoIdleFee(Uuid),
    #[error("the idle fee of grant {grant} is already {status} (on {on})")]
    FeeSettled {
        grant: Uuid,
        status: &'static str,
        on: NaiveDate,
    },
    #[error("grant {0} is {1}, not in force")]
    NotInForce(Uuid, GrantStatus),
    #[error(
        "grant {0} is not under take-back review: its start is not more than the contract's \
         months late and it has not been idle for two years"
    )]
    NotUnderReview(Uuid),
    #[error("grant {0} is not a long-term lease")]
    NotLongTermLease(Uuid),
}

/// The idle fee of a grant of `price_fen`: `percent` % of it, half up to the fen.
pub fn idle_fee_fen(price_fen: i64, percent: u32) -> i64 {
    scale_fen(price_fen, i64::from(percent), 100)
}

/// What the idle pass decides for one grant on one day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdleDecision {
    /// Flagged idle now, with the fee ordered.
    pub flagged: Option<(IdleReason, IdleFee)>,
    /// Put under take-back review now (idle for two years).
    pub take_back_review: bool,
}

/// Decides the idle pass for `grant` on `on`: flag it idle with its fee (if not flagged yet),
/// and put it under take-back review once idle `take_back_months` (if not under review yet).
/// `None` when nothing changes.
pub fn decide_idle(grant: &GrantRecord, on: NaiveDate, rules: &IdleRules) -> Option<IdleDecision> {
    if !grant.in_force() {
        return None;
    }
    let flagged = idle::decide(grant, on, rules).map(|reason| {
        let fee = IdleFee {
            fee_fen: idle_fee_fen(grant.terms.price_fen, rules.fee_percent),
            status: FeeStatus::Ordered,
            ordered_on: on,
            settled_on: None,
            waiver_reason: None,
        };
        (reason, fee)
    });
    let idle_now = grant.idle_reason.is_some() || flagged.is_some();
    let take_back_review = idle_now
        && grant.disposal.idle_take_back_on.is_none()
        && idle::idle_for(grant, on, rules, rules.take_back_months).is_some();
    (flagged.is_some() || take_back_review).then_some(IdleDecision {
        flagged,
        take_back_review,
    })
}

/// How an ordered fee is settled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settlement {
    Paid,
    Waived { reason: String },
}

/// Decides the settlement of `grant`'s ordered fee on `today`.
pub fn decide_fee(
    grant: &GrantRecord,
    settlement: Settlement,
    today: NaiveDate,
) -> Result<IdleFee, DisposalRefused> {
    let fee = grant
        .disposal
        .idle_fee
        .as_ref()
        .ok_or(DisposalRefused::NoIdleFee(grant.id))?;
    if let (Some(on), FeeStatus::Paid | FeeStatus::Waived) = (fee.settled_on, fee.status) {
        return Err(DisposalRefused::FeeSettled {
            grant: grant.id,
            status: fee.status.as_str(),
            on,
        });
    }
    let (status, waiver_reason) = match settlement {
        Settlement::Paid => (FeeStatus::Paid, None),
        Settlement::Waived { reason } => (FeeStatus::Waived, Some(reason)),
    };
    Ok(IdleFee {
        status,
        settled_on: Some(today),
        waiver_reason,
        ..fee.clone()
    })
}

/// Why `view`'s grant is under take-back review on the day it was read, if it is.
pub fn review_reason(view: &GrantView) -> Option<ReviewReason> {
    if !view.grant.in_force() {
        return None;
    }
    if view.grant.disposal.idle_take_back_on.is_some() {
        Some(ReviewReason::IdleTwoYears)
    } else if view.lateness.take_back_review {
        Some(ReviewReason::LateStart)
    } else {
        None
    }
}

/// A take-back as asked for (its fields already checked for shape).
#[derive(Debug, Clone)]
pub struct TakeBackCommand<'a> {
    pub reason: &'a str,
    pub document_number: &'a str,
    pub decided_by: &'a str,
}

/// Decides a take-back of `view`'s grant (read on `today`), naming `units` (those on its
/// parcel with their holders): refused unless the grant is in force and under review.
pub fn decide_take_back(
    view: &GrantView,
    units: Vec<TakenBackUnit>,
    command: &TakeBackCommand<'_>,
    today: NaiveDate,
) -> Result<TakeBack, DisposalRefused> {
    let grant = &view.grant;
    if !grant.in_force() {
        return Err(DisposalRefused::NotInForce(grant.id, grant.status));
    }
    let why = review_reason(view).ok_or(DisposalRefused::NotUnderReview(grant.id))?;
    Ok(TakeBack {
        review_reason: why.as_str().to_string(),
        reason: command.reason.to_string(),
        document_number: command.document_number.to_string(),
        decided_on: today,
        decided_by: command.decided_by.to_string(),
        units,
    })
}

/// The text of the notice of an idle fee order.
pub fn fee_notice_text(grant: &GrantRecord, reason: IdleReason, fee: &IdleFee) -> String {
    format!(
        "Grant {} on parcel {}: idle land ({}) as of {}; idle fee of {} fen ordered (闲置费); \
         two years idle goes to take-back review",
        grant.id,
        grant.parcel_id,
        reason.as_str(),
        fee.ordered_on,
        fee.fee_fen
    )
}

/// The text of the notice of a grant gone to take-back review for two years idle.
pub fn review_notice_text(grant: &GrantRecord, on: NaiveDate) -> String {
    format!(
        "Grant {} on parcel {}: idle for two years as of {on}; under take-back review (无偿收回)",
        grant.id, grant.parcel_id
    )
}

/// The text of the notice of a take-back decision.
pub fn take_back_notice_text(grant: &GrantRecord, decision: &TakeBack) -> String {
    let holders: Vec<String> = decision
        .units
        .iter()
        .map(|u| {
            format!(
                "unit {} ({}{})",
                u.unit_id,
                u.status,
                u.holder_uscc
                    .as_deref()
                    .map_or_else(String::new, |h| format!(", holder {h}"))
            )
        })
        .collect();
    format!(
        "Grant {} on parcel {} taken back ({}, document {}, {}): {}; units: {}",
        grant.id,
        grant.parcel_id,
        decision.review_reason,
        decision.document_number,
        decision.decided_on,
        decision.reason,
        if holders.is_empty() {
            "none".to_string()
        } else {
            holders.join("; ")
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{LandRules, grant, units};

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    /// A grant whose start was due 1 March 2024 and never came, priced at `price` fen.
    fn idle_grant(price: i64) -> GrantRecord {
        let mut g = units::tests_grant();
        g.terms.price_fen = price;
        g.contract.start_by = day(2024, 3, 1);
        g
    }

    #[test]
    fn the_idle_fee_is_a_fifth_of_the_price_half_up_to_the_fen() {
        assert_eq!(idle_fee_fen(1_234_567_891, 20), 246_913_578);
        assert_eq!(idle_fee_fen(12, 20), 2, "2.4 → 2");
        assert_eq!(idle_fee_fen(13, 20), 3, "2.6 → 3");
        assert_eq!(idle_fee_fen(5, 10), 1, "0.5 → 1");
        let decided = decide_idle(
            &idle_grant(1_234_567_891),
            day(2025, 3, 1),
            &IdleRules::default(),
        )
        .expect("idle a year after the agreed start");
        let (reason, fee) = decided.flagged.expect("flagged");
        assert_eq!(reason, IdleReason::NotStarted);
        assert_eq!((fee.fee_fen, fee.status), (246_913_578, FeeStatus::Ordered));
        assert!(!decided.take_back_review);
    }

    #[test]
    fn two_years_idle_goes_to_take_back_review_and_not_a_day_before() {
        let rules = IdleRules::default();
        let mut g = idle_grant(1_000);
        g.idle_reason = Some("not_started".into());
        assert_eq!(decide_idle(&g, day(2026, 2, 28), &rules), None);
        let at_two = decide_idle(&g, day(2026, 3, 1), &rules).expect("two years");
        assert!(at_two.take_back_review && at_two.flagged.is_none());
        g.disposal.idle_take_back_on = Some(day(2026, 3, 1));
        assert_eq!(decide_idle(&g, day(2026, 3, 2), &rules), None, "once");
    }

    #[test]
    fn a_fee_is_settled_once_and_a_waiver_keeps_its_reason() {
        let mut g = idle_grant(1_000);
        assert!(matches!(
            decide_fee(&g, Settlement::Paid, day(2025, 4, 1)),
            Err(DisposalRefused::NoIdleFee(_))
        ));
        let (_, fee) = decide_idle(&g, day(2025, 3, 1), &IdleRules::default())
            .unwrap()
            .flagged
            .unwrap();
        g.disposal.idle_fee = Some(fee);
        let waived = decide_fee(
            &g,
            Settlement::Waived {
                reason: "government delay".into(),
            },
            day(2025, 4, 1),
        )
        .unwrap();
        assert_eq!(waived.status, FeeStatus::Waived);
        assert_eq!(waived.waiver_reason.as_deref(), Some("government delay"));
        g.disposal.idle_fee = Some(waived);
        let again = decide_fee(&g, Settlement::Paid, day(2025, 4, 2)).unwrap_err();
        assert_eq!(
            again.to_string(),
            format!(
                "the idle fee of grant {} is already waived (on 2025-04-01)",
                g.id
            )
        );
    }

    #[test]
    fn only_a_grant_under_review_is_taken_back() {
        let rules = LandRules::default();
        let command = TakeBackCommand {
            reason: "idle two years",
            document_number: "海自然资〔2026〕1号",
            decided_by: "nr",
        };
        let mut g = idle_grant(1_000);
        g.contract.start_by = day(2025, 1, 15);
        let on = |g: &GrantRecord, today| grant::view(g.clone(), today, &rules);
        let refused = decide_take_back(
            &on(&g, day(2025, 7, 15)),
            vec![],
            &command,
            day(2025, 7, 15),
        );
        assert!(matches!(refused, Err(DisposalRefused::NotUnderReview(_))));
        let decided = decide_take_back(
            &on(&g, day(2025, 7, 16)),
            vec![],
            &command,
            day(2025, 7, 16),
        )
        .expect("a start more than six months late");
        assert_eq!(decided.review_reason, "late_start");
        g.status = GrantStatus::TakenBack;
        assert!(matches!(
            decide_take_back(
                &on(&g, day(2025, 7, 16)),
                vec![],
                &command,
                day(2025, 7, 16)
            ),
            Err(DisposalRefused::NotInForce(..))
        ));
    }
}
