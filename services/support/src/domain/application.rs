//! Applications to APPLICATION policies (快申快享): the firm applies, its conditions are
//! checked at once (a refusal names each that fails), the issuer decides before the review
//! deadline; an approval orders the payment, within the budget.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{
    eligibility::{ClauseResult, check_all},
    facts::Facts,
    payment::{PaymentOrder, PaymentState},
    policy::{Mode, Policy},
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "SCREAMING_SNAKE_CASE")]
pub enum ApplicationState {
    Submitted,
    Approved,
    Rejected,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Application {
    pub id: Uuid,
    pub policy_id: String,
    pub policy_version: i64,
    pub uscc: String,
    pub name: String,
    pub entitled_fen: i64,
    pub state: ApplicationState,
    pub applied_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decision_reason: String,
}

impl Application {
    /// Undecided past its review deadline.
    pub fn is_overdue(&self, now: DateTime<Utc>) -> bool {
        self.state == ApplicationState::Submitted && now >= self.due_at
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApplicationRefused {
    #[error("policy {0} is AUTOMATIC (免申即享): firms receive it without applying")]
    NotApplicationMode(String),
    #[error("policy {id} is valid from {from} to {until}")]
    OutsideValidity {
        id: String,
        from: chrono::NaiveDate,
        until: chrono::NaiveDate,
    },
    #[error("not eligible: {}", describe(.0))]
    Ineligible(Vec<ClauseResult>),
    #[error("the application is already {0}")]
    AlreadyDecided(&'static str),
    #[error("the benefit gives this firm nothing")]
    NothingEntitled,
}

fn describe(failed: &[ClauseResult]) -> String {
    failed
        .iter()
        .map(|r| format!("{} (has {}: {})", r.condition, r.value, r.gap))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Decides an application of the firm of `facts` to `policy` at `now`, due at `due_at`.
pub fn decide_apply(
    policy: &Policy,
    facts: &Facts,
    now: DateTime<Utc>,
    due_at: DateTime<Utc>,
) -> Result<(Application, Vec<ClauseResult>), ApplicationRefused> {
    let spec = &policy.spec;
    if spec.mode != Mode::Application {
        return Err(ApplicationRefused::NotApplicationMode(spec.id.clone()));
    }
    let today = platform::calendar::china_date(now);
    if today < spec.valid_from || today > spec.valid_until {
        return Err(ApplicationRefused::OutsideValidity {
            id: spec.id.clone(),
            from: spec.valid_from,
            until: spec.valid_until,
        });
    }
    let (eligible, results) = check_all(&spec.conditions, facts);
    if !eligible {
        let failed = results.into_iter().filter(|r| !r.met).collect();
        return Err(ApplicationRefused::Ineligible(failed));
    }
    let entitled_fen = spec.benefit.entitled(facts);
    if entitled_fen == 0 {
        return Err(ApplicationRefused::NothingEntitled);
    }
    let application = Application {
        id: Uuid::now_v7(),
        policy_id: spec.id.clone(),
        policy_version: policy.version,
        uscc: facts.uscc.clone(),
        name: facts.name.clone(),
        entitled_fen,
        state: ApplicationState::Submitted,
        applied_at: now,
        due_at,
        decided_at: None,
        decision_reason: String::new(),
    };
    Ok((application, results))
}

/// Decides the issuer's review: approved, the order of the entitled amount.
pub fn decide_review(
    application: &Application,
    approved: bool,
    reason: String,
    now: DateTime<Utc>,
) -> Result<(Application, Option<PaymentOrder>), ApplicationRefused> {
    if application.state != ApplicationState::Submitted {
        return Err(ApplicationRefused::AlreadyDecided(application.state.into()));
    }
    let mut decided = application.clone();
    decided.state = if approved {
        ApplicationState::Approved
    } else {
        ApplicationState::Rejected
    };
    decided.decision_reason = reason;
    decided.decided_at = Some(now);
    let order = approved.then(|| PaymentOrder {
        id: Uuid::now_v7(),
        round_id: None,
        application_id: Some(application.id),
        policy_id: application.policy_id.clone(),
        policy_version: application.policy_version,
        uscc: application.uscc.clone(),
        name: application.name.clone(),
        amount_fen: application.entitled_fen,
        state: PaymentState::Ordered,
        voucher: String::new(),
        refusal_reason: String::new(),
        ordered_at: now,
        settled_at: None,
    });
    Ok((decided, order))
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, TimeZone};
    use platform::{auth::Department, period::Period};

    use super::*;
    use crate::domain::{
        benefit::{Amount, Benefit},
        eligibility::Clause,
        facts::{Figures, Indicator},
        policy::{PolicySpec, Remainder},
    };

    fn policy(mode: Mode) -> Policy {
        Policy {
            spec: PolicySpec {
                id: "training".into(),
                title: "Training".into(),
                document_number: "d".into(),
                issuer: Department::Commerce,
                valid_from: NaiveDate::from_ymd_opt(2025, 1, 1).unwrap(),
                valid_until: NaiveDate::from_ymd_opt(2025, 12, 31).unwrap(),
                period: Period::year(2024),
                mode,
                review_working_days: 10,
                conditions: vec![Clause::Indicator {
                    indicator: Indicator::EmployeesTotal,
                    at_least: 20,
                }],
                benefit: Benefit {
                    amount: Amount::Fixed { fen: 500 },
                    cap_fen: None,
                },
                budget_fen: 10_000,
                remainder: Remainder::None,
                exclusive_group: None,
            },
            version: 1,
            created_at: Utc::now(),
            created_by: "department:commerce".into(),
            ordered_fen: 0,
        }
    }

    fn firm(employees_total: i64) -> Facts {
        Facts {
            uscc: "U".into(),
            figures: Some(Figures {
                employees_total,
                ..Figures::default()
            }),
            ..Facts::default()
        }
    }

    fn june() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 6, 2, 2, 0, 0).unwrap()
    }

    #[test]
    fn a_refusal_names_each_failing_condition_with_value_and_gap() {
        let refused =
            decide_apply(&policy(Mode::Application), &firm(19), june(), june()).unwrap_err();
        assert_eq!(
            refused.to_string(),
            "not eligible: employees at least 20 employees (has 19 employees: 1 employees short)"
        );
        assert!(decide_apply(&policy(Mode::Application), &firm(20), june(), june()).is_ok());
    }

    #[test]
    fn an_automatic_policy_takes_no_applications() {
        let refused =
            decide_apply(&policy(Mode::Automatic), &firm(50), june(), june()).unwrap_err();
        assert!(matches!(refused, ApplicationRefused::NotApplicationMode(_)));
    }

    #[test]
    fn an_approval_orders_the_entitled_amount_once() {
        let (application, _) =
            decide_apply(&policy(Mode::Application), &firm(50), june(), june()).unwrap();
        let (approved, order) = decide_review(&application, true, "ok".into(), june()).unwrap();
        assert_eq!(approved.state, ApplicationState::Approved);
        assert_eq!(order.map(|o| o.amount_fen), Some(500));
        assert!(decide_review(&approved, false, "no".into(), june()).is_err());
    }

    #[test]
    fn an_undecided_application_is_overdue_from_its_deadline() {
        let due = june() + chrono::Duration::days(14);
        let (application, _) =
            decide_apply(&policy(Mode::Application), &firm(50), june(), due).unwrap();
        assert!(!application.is_overdue(due - chrono::Duration::seconds(1)));
        assert!(application.is_overdue(due));
    }
}
