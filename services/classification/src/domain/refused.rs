//! Why the rules refuse a write (FAILED_PRECONDITION at the API, but for a missing
//! classification: NOT_FOUND), each variant naming the rule
//! it broke; the `decide` functions of [`super::overrides`] and [`super::objection`] return it.

use chrono::{DateTime, Utc};

use super::objection::{ObjectionState, format_cst};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// A lift needs an override to lift.
    #[error("{uscc} has no override for {period}")]
    NoOverride { uscc: String, period: String },
    /// Objections are filed against a published ranking.
    #[error("period {0} is not published: objections are filed against a published ranking")]
    NotPublished(String),
    /// The objection window has closed (named in China Standard Time).
    #[error(
        "the objection window of {period} closed at {} ({})",
        format_cst(*deadline),
        deadline.to_rfc3339()
    )]
    WindowClosed {
        period: String,
        deadline: DateTime<Utc>,
    },
    /// An objection is filed against the firm's class in the period: it needs one (NOT_FOUND
    /// at the API, as a missing classification).
    #[error("classification of {uscc} for {period} not found")]
    NoClassification { uscc: String, period: String },
    /// One objection per firm and period awaits decision at a time.
    #[error("{uscc} already has an objection for {period} awaiting decision (objection {id})")]
    AlreadyOpen {
        uscc: String,
        period: String,
        id: i64,
    },
    /// Only a filed objection is decided.
    #[error("objection {id} is already {state}")]
    AlreadyDecided { id: i64, state: ObjectionState },
    /// The final list amends a published one.
    #[error("period {0} is not published: only a published period is finalized")]
    NotPublishedToFinalize(String),
    /// A period is finalized once.
    #[error("period {period} was finalized at {} by {by}; a period is finalized once", .at.to_rfc3339())]
    AlreadyFinalized {
        period: String,
        at: DateTime<Utc>,
        by: String,
    },
    /// The final list waits for the objection window to close.
    #[error(
        "the objection window of {period} is open until {} ({}): finalize it once it has closed",
        format_cst(*deadline),
        deadline.to_rfc3339()
    )]
    WindowOpen {
        period: String,
        deadline: DateTime<Utc>,
    },
    /// The final list waits for every objection's decision.
    #[error("objections of {period} await decision: {}; decide them first", join(.ids))]
    ObjectionsUndecided { period: String, ids: Vec<i64> },
}

fn join(ids: &[i64]) -> String {
    ids.iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
