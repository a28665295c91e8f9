//! Protobuf ↔ domain, both ways, for the API, the events and the stored policy specs. It
//! imports neither the store nor the API: both import it.

use chrono::{Datelike, NaiveDate};
use haicheng_proto::{common::v1 as common, support::v1 as pb};
use platform::{
    Class, Park, Segment, Violations, auth::Department, period::Period, time::to_timestamp,
};

use crate::domain::{
    application::{Application, ApplicationState},
    benefit::{Amount, Benefit},
    eligibility::{ClassView, Clause, ClauseResult},
    facts::Indicator,
    objection::{Objection, ObjectionState},
    payment::{PaymentOrder, PaymentState},
    policy::{Mode, Policy, PolicySpec, Remainder},
    round::{Entry, Round, RoundState},
};

/// Longest title, document number, reason or voucher accepted, in characters.
pub const MAX_TEXT_CHARS: usize = 500;
/// Most conditions a policy may have.
pub const MAX_CONDITIONS: usize = 32;

fn indicator_from_proto(number: i32) -> Option<Indicator> {
    use pb::Indicator as P;
    Some(match P::try_from(number).ok()? {
        P::Unspecified => return None,
        P::EmployeesTotal => Indicator::EmployeesTotal,
        P::RdSpendFen => Indicator::RdSpendFen,
        P::RevenueFen => Indicator::RevenueFen,
        P::IndustrialOutputFen => Indicator::IndustrialOutputFen,
        P::TaxPaidFen => Indicator::TaxPaidFen,
        P::ExportSalesFen => Indicator::ExportSalesFen,
        P::EquipmentValueFen => Indicator::EquipmentValueFen,
        P::InventionPatents => Indicator::InventionPatents,
        P::LandUsedCentiMu => Indicator::LandUsedCentiMu,
        P::RdShareBp => Indicator::RdShareBp,
        P::TaxPerMuFen => Indicator::TaxPerMuFen,
        P::OutputPerMuFen => Indicator::OutputPerMuFen,
    })
}

fn indicator_to_proto(indicator: Indicator) -> i32 {
    use pb::Indicator as P;
    (match indicator {
        Indicator::EmployeesTotal => P::EmployeesTotal,
        Indicator::RdSpendFen => P::RdSpendFen,
        Indicator::RevenueFen => P::RevenueFen,
        Indicator::IndustrialOutputFen => P::IndustrialOutputFen,
        Indicator::TaxPaidFen => P::TaxPaidFen,
        Indicator::ExportSalesFen => P::ExportSalesFen,
        Indicator::EquipmentValueFen => P::EquipmentValueFen,
        Indicator::InventionPatents => P::InventionPatents,
        Indicator::LandUsedCentiMu => P::LandUsedCentiMu,
        Indicator::RdShareBp => P::RdShareBp,
        Indicator::TaxPerMuFen => P::TaxPerMuFen,
        Indicator::OutputPerMuFen => P::OutputPerMuFen,
    }) as i32
}

fn date(v: &mut Violations, field: &str, text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| v.add(field, format!("{text:?} is not a date YYYY-MM-DD")))
        .ok()
}

fn words<W: platform::fields::Word>(v: &mut Violations, field: &str, numbers: &[i32]) -> Vec<W> {
    if numbers.is_empty() {
        v.add(field, "name at least one");
    }
    numbers
        .iter()
        .enumerate()
        .filter_map(|(i, &n)| v.word(&format!("{field}[{i}]"), n))
        .collect()
}

/// One condition of a request; `period` gives the dates of the time-bound clauses.
fn clause(v: &mut Violations, field: &str, c: &pb::Condition, period: Period) -> Option<Clause> {
    use pb::condition::Clause as C;
    match c.clause.as_ref() {
        None => {
            v.add(field, "a condition is required");
            None
        }
        Some(C::Class(class)) => {
            let classes = words::<Class>(v, &format!("{field}.class.classes"), &class.classes);
            let view = match pb::ClassView::try_from(class.view) {
                Ok(pb::ClassView::Published) => ClassView::Published,
                Ok(pb::ClassView::InForce) => ClassView::InForce,
                _ => {
                    v.add(
                        format!("{field}.class.view"),
                        "IN_FORCE or PUBLISHED is required",
                    );
                    return None;
                }
            };
            Some(Clause::Class { classes, view })
        }
        Some(C::Segment(s)) => Some(Clause::Segment(words::<Segment>(
            v,
            &format!("{field}.segment.segments"),
            &s.segments,
        ))),
        Some(C::Park(p)) => Some(Clause::Park(words::<Park>(
            v,
            &format!("{field}.park.parks"),
            &p.parks,
        ))),
        Some(C::Indicator(i)) => {
            let indicator = indicator_from_proto(i.indicator);
            if indicator.is_none() {
                v.add(
                    format!("{field}.indicator.indicator"),
                    "an indicator is required",
                );
            }
            Some(Clause::Indicator {
                indicator: indicator?,
                at_least: i.at_least,
            })
        }
        Some(C::NoVeto(_)) => Some(Clause::NoVeto),
        Some(C::NoLandShortfall(_)) => Some(Clause::NoLandShortfall),
        Some(C::ExternalFair(_)) => Some(Clause::ExternalFair {
            year: period.end().year(),
        }),
        Some(C::MinYearsRegistered(years)) => {
            v.check(
                (1..=100).contains(years),
                format!("{field}.min_years_registered"),
                "must be 1 to 100",
            );
            Some(Clause::YearsRegistered {
                years: *years,
                on: period.end(),
            })
        }
    }
}

fn benefit(v: &mut Violations, b: Option<&pb::Benefit>) -> Option<Benefit> {
    let Some(b) = b else {
        v.add("spec.benefit", "is required");
        return None;
    };
    v.check(
        b.cap_fen >= 0,
        "spec.benefit.cap_fen",
        "must not be negative",
    );
    let amount = match b.amount.as_ref() {
        Some(pb::benefit::Amount::FixedFen(fen)) => {
            v.check(*fen > 0, "spec.benefit.fixed_fen", "must be positive");
            Amount::Fixed { fen: *fen }
        }
        Some(pb::benefit::Amount::Rate(rate)) => {
            v.check(
                (1..=10_000).contains(&rate.rate_bp),
                "spec.benefit.rate.rate_bp",
                "must be 1 to 10000 basis points",
            );
            let indicator = indicator_from_proto(rate.indicator);
            if indicator.is_none() {
                v.add("spec.benefit.rate.indicator", "an indicator is required");
            }
            Amount::Rate {
                indicator: indicator?,
                rate_bp: rate.rate_bp,
            }
        }
        Some(pb::benefit::Amount::Expense(share)) => {
            v.check(
                (1..=10_000).contains(&share.rate_bp),
                "spec.benefit.expense.rate_bp",
                "must be 1 to 10000 basis points",
            );
            Amount::ShareOfExpense {
                kind: expense_kind(v, "spec.benefit.expense.kind", &share.kind)?,
                rate_bp: share.rate_bp,
            }
        }
        None => {
            v.add(
                "spec.benefit.amount",
                "fixed_fen, rate or expense is required",
            );
            return None;
        }
    };
    Some(Benefit {
        amount,
        cap_fen: (b.cap_fen > 0).then_some(b.cap_fen),
    })
}

fn policy_id(v: &mut Violations, field: &str, id: &str) -> Option<String> {
    let ok = (3..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !ok {
        v.add(field, "3 to 64 lower-case letters, digits and dashes");
    }
    ok.then(|| id.to_string())
}

/// The kind of a recorded expense: 2 to 40 lower-case letters, digits and dashes.
pub fn expense_kind(v: &mut Violations, field: &str, kind: &str) -> Option<String> {
    let ok = (2..=40).contains(&kind.len())
        && kind
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !ok {
        v.add(field, "2 to 40 lower-case letters, digits and dashes");
    }
    ok.then(|| kind.to_string())
}

/// A policy id of a request.
pub fn parse_policy_id(v: &mut Violations, field: &str, id: &str) -> Option<String> {
    policy_id(v, field, id)
}

/// The spec of a PutPolicy request, every field checked (fields named `spec.…`).
pub fn spec_from_proto(v: &mut Violations, spec: &pb::PolicySpec) -> Option<PolicySpec> {
    let id = policy_id(v, "spec.id", &spec.id);
    let title = v.text("spec.title", &spec.title, MAX_TEXT_CHARS);
    let document_number = v.text(
        "spec.document_number",
        &spec.document_number,
        MAX_TEXT_CHARS,
    );
    let issuer = Department::from_proto(spec.issuer);
    if !matches!(issuer, Some(Department::Commerce | Department::Finance)) {
        v.add("spec.issuer", "COMMERCE or FINANCE is required");
    }
    let valid_from = date(v, "spec.valid_from", &spec.valid_from);
    let valid_until = date(v, "spec.valid_until", &spec.valid_until);
    if let (Some(from), Some(until)) = (valid_from, valid_until) {
        v.check(
            from <= until,
            "spec.valid_until",
            "must not be before valid_from",
        );
    }
    let period = v.period("spec.period", spec.period.as_ref().map_or("", |p| &p.code));
    let mode = match pb::PolicyMode::try_from(spec.mode) {
        Ok(pb::PolicyMode::Automatic) => Some(Mode::Automatic),
        Ok(pb::PolicyMode::Application) => Some(Mode::Application),
        _ => {
            v.add("spec.mode", "AUTOMATIC or APPLICATION is required");
            None
        }
    };
    if mode == Some(Mode::Application) {
        v.check(
            (1..=60).contains(&spec.review_working_days),
            "spec.review_working_days",
            "must be 1 to 60 working days for an APPLICATION policy",
        );
    }
    v.check(
        spec.conditions.len() <= MAX_CONDITIONS,
        "spec.conditions",
        format!("at most {MAX_CONDITIONS}"),
    );
    let conditions: Vec<Option<Clause>> = match period {
        Some(period) => spec
            .conditions
            .iter()
            .enumerate()
            .map(|(i, c)| clause(v, &format!("spec.conditions[{i}]"), c, period))
            .collect(),
        None => Vec::new(),
    };
    let benefit = benefit(v, spec.benefit.as_ref());
    v.check(spec.budget_fen > 0, "spec.budget_fen", "must be positive");
    let remainder = match pb::Remainder::try_from(spec.remainder) {
        Ok(pb::Remainder::Partial) => Some(Remainder::Partial),
        Ok(pb::Remainder::None) => Some(Remainder::None),
        _ => {
            v.add("spec.remainder", "PARTIAL or NONE is required");
            None
        }
    };
    let exclusive_group = match spec.exclusive_group.as_str() {
        "" => None,
        group => policy_id(v, "spec.exclusive_group", group),
    };
    Some(PolicySpec {
        id: id?,
        title: title?,
        document_number: document_number?,
        issuer: issuer?,
        valid_from: valid_from?,
        valid_until: valid_until?,
        period: period?,
        mode: mode?,
        review_working_days: u32::try_from(spec.review_working_days).unwrap_or(0),
        conditions: conditions.into_iter().collect::<Option<Vec<_>>>()?,
        benefit: benefit?,
        budget_fen: spec.budget_fen,
        remainder: remainder?,
        exclusive_group,
    })
}

fn clause_to_proto(clause: &Clause) -> pb::Condition {
    use pb::condition::Clause as C;
    let numbers = |items: Vec<i32>| items;
    let inner = match clause {
        Clause::Class { classes, view } => C::Class(pb::ClassCondition {
            classes: numbers(classes.iter().map(|c| c.to_proto() as i32).collect()),
            view: match view {
                ClassView::InForce => pb::ClassView::InForce,
                ClassView::Published => pb::ClassView::Published,
            } as i32,
        }),
        Clause::Segment(segments) => C::Segment(pb::SegmentCondition {
            segments: segments.iter().map(|s| s.to_proto() as i32).collect(),
        }),
        Clause::Park(parks) => C::Park(pb::ParkCondition {
            parks: parks.iter().map(|p| p.to_proto() as i32).collect(),
        }),
        Clause::Indicator {
            indicator,
            at_least,
        } => C::Indicator(pb::IndicatorCondition {
            indicator: indicator_to_proto(*indicator),
            at_least: *at_least,
        }),
        Clause::NoVeto => C::NoVeto(true),
        Clause::NoLandShortfall => C::NoLandShortfall(true),
        Clause::ExternalFair { .. } => C::ExternalFair(true),
        Clause::YearsRegistered { years, .. } => C::MinYearsRegistered(*years),
    };
    pb::Condition {
        clause: Some(inner),
    }
}

/// The spec as the contract writes it (and as it is stored).
pub fn spec_to_proto(spec: &PolicySpec) -> pb::PolicySpec {
    pb::PolicySpec {
        id: spec.id.clone(),
        title: spec.title.clone(),
        document_number: spec.document_number.clone(),
        issuer: spec.issuer.to_proto() as i32,
        valid_from: spec.valid_from.to_string(),
        valid_until: spec.valid_until.to_string(),
        period: Some(common::Period {
            code: spec.period.code(),
        }),
        mode: match spec.mode {
            Mode::Automatic => pb::PolicyMode::Automatic,
            Mode::Application => pb::PolicyMode::Application,
        } as i32,
        review_working_days: i32::try_from(spec.review_working_days).unwrap_or(i32::MAX),
        conditions: spec.conditions.iter().map(clause_to_proto).collect(),
        benefit: Some(pb::Benefit {
            amount: Some(match &spec.benefit.amount {
                Amount::Fixed { fen } => pb::benefit::Amount::FixedFen(*fen),
                Amount::Rate { indicator, rate_bp } => {
                    pb::benefit::Amount::Rate(pb::RateOfIndicator {
                        indicator: indicator_to_proto(*indicator),
                        rate_bp: *rate_bp,
                    })
                }
                Amount::ShareOfExpense { kind, rate_bp } => {
                    pb::benefit::Amount::Expense(pb::ShareOfExpense {
                        kind: kind.clone(),
                        rate_bp: *rate_bp,
                    })
                }
            }),
            cap_fen: spec.benefit.cap_fen.unwrap_or(0),
        }),
        budget_fen: spec.budget_fen,
        remainder: match spec.remainder {
            Remainder::Partial => pb::Remainder::Partial,
            Remainder::None => pb::Remainder::None,
        } as i32,
        exclusive_group: spec.exclusive_group.clone().unwrap_or_default(),
    }
}

pub fn policy_to_proto(policy: &Policy) -> pb::Policy {
    pb::Policy {
        spec: Some(spec_to_proto(&policy.spec)),
        version: policy.version,
        created_at: Some(to_timestamp(policy.created_at)),
        created_by: policy.created_by.clone(),
        ordered_fen: policy.ordered_fen,
    }
}

fn class_number(class: Option<Class>) -> i32 {
    class.map_or(0, |c| c.to_proto() as i32)
}

pub fn entry_to_proto(entry: &Entry) -> pb::Entry {
    pb::Entry {
        uscc: entry.uscc.clone(),
        enterprise_name: entry.name.clone(),
        entitled_fen: entry.entitled_fen,
        amount_fen: entry.amount_fen,
        position: entry.position,
        enterprise_class: class_number(entry.class),
        score: entry.score,
        explanation: entry.explanation.clone(),
        by_objection: entry.by_objection,
    }
}

pub fn objection_to_proto(objection: &Objection) -> pb::Objection {
    pb::Objection {
        id: objection.id.to_string(),
        round_id: objection.round_id.to_string(),
        uscc: objection.uscc.clone(),
        reason: objection.reason.clone(),
        state: match objection.state {
            ObjectionState::Filed => pb::ObjectionState::Filed,
            ObjectionState::Upheld => pb::ObjectionState::Upheld,
            ObjectionState::Rejected => pb::ObjectionState::Rejected,
        } as i32,
        decision_reason: objection.decision_reason.clone(),
        filed_by: objection.filed_by.clone(),
        filed_at: Some(to_timestamp(objection.filed_at)),
        decided_at: objection.decided_at.map(to_timestamp),
    }
}

pub fn round_to_proto(round: &Round, period: Period, objections: &[Objection]) -> pb::Round {
    pb::Round {
        id: round.id.to_string(),
        policy_id: round.policy_id.clone(),
        policy_version: round.policy_version,
        period: Some(common::Period {
            code: period.code(),
        }),
        state: match round.state {
            RoundState::Published => pb::RoundState::Published,
            RoundState::Final => pb::RoundState::Final,
        } as i32,
        entries: round.entries.iter().map(entry_to_proto).collect(),
        eligible: i32::try_from(round.entries.len()).unwrap_or(i32::MAX),
        total_fen: round.total_fen(),
        published_at: Some(to_timestamp(round.published_at)),
        objection_deadline: Some(to_timestamp(round.objection_deadline)),
        finalized_at: round.finalized_at.map(to_timestamp),
        objections: objections.iter().map(objection_to_proto).collect(),
    }
}

pub fn payment_state_to_proto(state: PaymentState) -> i32 {
    (match state {
        PaymentState::Ordered => pb::PaymentState::Ordered,
        PaymentState::Paid => pb::PaymentState::Paid,
        PaymentState::Refused => pb::PaymentState::Refused,
    }) as i32
}

pub fn payment_state_from_proto(number: i32) -> Option<PaymentState> {
    match pb::PaymentState::try_from(number).ok()? {
        pb::PaymentState::Ordered => Some(PaymentState::Ordered),
        pb::PaymentState::Paid => Some(PaymentState::Paid),
        pb::PaymentState::Refused => Some(PaymentState::Refused),
        pb::PaymentState::Unspecified => None,
    }
}

pub fn order_to_proto(order: &PaymentOrder, period: Period) -> pb::PaymentOrder {
    pb::PaymentOrder {
        id: order.id.to_string(),
        round_id: order.round_id.map(|id| id.to_string()).unwrap_or_default(),
        application_id: order
            .application_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
        policy_id: order.policy_id.clone(),
        policy_version: order.policy_version,
        period: Some(common::Period {
            code: period.code(),
        }),
        uscc: order.uscc.clone(),
        enterprise_name: order.name.clone(),
        amount_fen: order.amount_fen,
        state: payment_state_to_proto(order.state),
        voucher: order.voucher.clone(),
        refusal_reason: order.refusal_reason.clone(),
        ordered_at: Some(to_timestamp(order.ordered_at)),
        settled_at: order.settled_at.map(to_timestamp),
    }
}

pub fn clause_result_to_proto(result: &ClauseResult) -> pb::ConditionResult {
    pb::ConditionResult {
        condition: result.condition.clone(),
        met: result.met,
        value: result.value.clone(),
        gap: result.gap.clone(),
    }
}

pub fn application_to_proto(
    application: &Application,
    conditions: &[ClauseResult],
    now: chrono::DateTime<chrono::Utc>,
) -> pb::Application {
    pb::Application {
        id: application.id.to_string(),
        policy_id: application.policy_id.clone(),
        policy_version: application.policy_version,
        uscc: application.uscc.clone(),
        enterprise_name: application.name.clone(),
        entitled_fen: application.entitled_fen,
        state: match application.state {
            ApplicationState::Submitted => pb::ApplicationState::Submitted,
            ApplicationState::Approved => pb::ApplicationState::Approved,
            ApplicationState::Rejected => pb::ApplicationState::Rejected,
        } as i32,
        applied_at: Some(to_timestamp(application.applied_at)),
        due_at: Some(to_timestamp(application.due_at)),
        decided_at: application.decided_at.map(to_timestamp),
        decision_reason: application.decision_reason.clone(),
        overdue: application.is_overdue(now),
        conditions: conditions.iter().map(clause_result_to_proto).collect(),
    }
}
