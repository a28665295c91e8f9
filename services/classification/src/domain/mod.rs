//! The rules of the classification (分类管理), pure: no I/O, no clock, no database.
//!
//! Data flows through it in one direction: census [`Figures`] become indicator values,
//! values are scored against their segment's benchmark with a versioned [`Model`],
//! scored firms are ranked and placed by [`Quotas`] into [`Class`]es ([`classify`]),
//! and each settled change of class (against the one last notified) becomes support-policy
//! notices ([`policy`]).
//! The write paths' rules are pure too: [`overrides::decide`] and [`objection::decide_filing`]
//! / [`objection::decide`] say what a write does, or why it is [`Refused`];
//! [`finalization::decide`] when a period's final list may be made, and its amendments.
//! [`explain`] answers "why this class, and what would it take to move up", and [`notes`]
//! says it in sentences.

pub mod calendar;
pub mod coalescing;
pub mod evaluation;
pub mod explain;
pub mod finalization;
pub mod indicators;
pub mod model;
pub mod notes;
pub mod objection;
pub mod overrides;
pub mod policy;
pub mod quotas;
pub mod ranking;
mod refused;

pub use evaluation::{Benchmarks, Evaluation, Firm, PeriodResult, classify};
pub use indicators::{Figures, Indicator, Values};
pub use model::{Model, ReducedModel, Weighted};
pub use platform::Class;
pub use platform::Segment;
pub use platform::period::Period;
pub use platform::uscc::{self, Uscc};
pub use quotas::{ClassCounts, Quotas};
pub use refused::Refused;

/// Whether an enterprise with a return is graded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Grading {
    /// Not evaluated: deregistered (its return is kept, it is not ranked).
    NotEvaluated,
    /// Scored, ranked and placed in a class.
    Graded,
    /// Evaluated but not graded: registered less than the deferral period before the period ended.
    Deferred,
    /// Evaluated but not graded: exempt by industry class or by decision.
    Exempt,
}
