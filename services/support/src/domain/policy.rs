//! A support policy (扶持政策) as versioned data: who issued it under which document, when it
//! is valid, the period whose facts it reads, its conditions, its benefit and its budget.

use chrono::NaiveDate;
use platform::{auth::Department, period::Period};

use super::{benefit::Benefit, eligibility::Clause};

/// How a policy reaches firms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "SCREAMING_SNAKE_CASE")]
pub enum Mode {
    /// Benefits without application (免申即享).
    Automatic,
    /// Quick application (快申快享): the firm applies, the department reviews.
    Application,
}

/// When the budget cannot pay the next firm in full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "SCREAMING_SNAKE_CASE")]
pub enum Remainder {
    /// That firm gets what is left.
    Partial,
    /// That firm gets nothing.
    None,
}

/// What a department writes.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicySpec {
    pub id: String,
    pub title: String,
    pub document_number: String,
    pub issuer: Department,
    pub valid_from: NaiveDate,
    pub valid_until: NaiveDate,
    pub period: Period,
    pub mode: Mode,
    pub review_working_days: u32,
    pub conditions: Vec<Clause>,
    pub benefit: Benefit,
    pub budget_fen: i64,
    pub remainder: Remainder,
    pub exclusive_group: Option<String>,
}

/// A stored version of a policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub spec: PolicySpec,
    pub version: i64,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub created_by: String,
    /// Ordered so far, fen.
    pub ordered_fen: i64,
}

/// Why a policy write is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyRefused {
    #[error("only {issuer} may write this policy (it names {issuer} as its issuer)")]
    NotTheIssuer { issuer: &'static str },
    #[error("policy {id} is at version {current}, not the expected {expected}")]
    VersionConflict {
        id: String,
        current: i64,
        expected: i64,
    },
    #[error("policy {0} already exists; send expected_version to change it")]
    Exists(String),
    #[error("no policy {0}")]
    Unknown(String),
    #[error("the budget {budget_fen} fen is below the {ordered_fen} fen already ordered")]
    BudgetBelowOrdered { budget_fen: i64, ordered_fen: i64 },
}

/// Decides a write of `spec` by `department` over the current version, if any: the new
/// version number.
pub fn decide_put(
    current: Option<&Policy>,
    spec: &PolicySpec,
    expected_version: i64,
    department: Option<Department>,
) -> Result<i64, PolicyRefused> {
    if department != Some(spec.issuer) {
        return Err(PolicyRefused::NotTheIssuer {
            issuer: spec.issuer.as_str(),
        });
    }
    match (current, expected_version) {
        (None, 0) => Ok(1),
        (None, _) => Err(PolicyRefused::Unknown(spec.id.clone())),
        (Some(_), 0) => Err(PolicyRefused::Exists(spec.id.clone())),
        (Some(policy), expected) if policy.version != expected => {
            Err(PolicyRefused::VersionConflict {
                id: spec.id.clone(),
                current: policy.version,
                expected,
            })
        }
        (Some(policy), _) if spec.budget_fen < policy.ordered_fen => {
            Err(PolicyRefused::BudgetBelowOrdered {
                budget_fen: spec.budget_fen,
                ordered_fen: policy.ordered_fen,
            })
        }
        (Some(policy), _) if policy.spec.issuer != spec.issuer => {
            Err(PolicyRefused::NotTheIssuer {
                issuer: policy.spec.issuer.as_str(),
            })
        }
        (Some(policy), _) => Ok(policy.version + 1),
    }
}
