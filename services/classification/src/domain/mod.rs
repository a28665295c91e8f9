//! The rules of the classification (分类管理), pure: no I/O, no clock, no database.
//!
//! Data flows through it in one direction: census [`Figures`] become indicator values,
//! values are scored against their segment's benchmark with a versioned [`Model`],
//! scored firms are ranked and placed by [`Quotas`] into [`Class`]es ([`classify`]),
//! and each settled change of class (against the one last notified) becomes support-policy
//! notices ([`policy`]).
//! [`explain`] answers "why this class, and what would it take to move up", and [`notes`]
//! says it in sentences.

pub mod calendar;
pub mod evaluation;
pub mod explain;
pub mod indicators;
pub mod model;
pub mod notes;
pub mod objection;
pub mod policy;
pub mod quotas;
pub mod ranking;

use std::fmt;

pub use evaluation::{Benchmarks, Evaluation, Firm, PeriodResult, classify};
pub use indicators::{Figures, Indicator, Values};
pub use model::{Model, ReducedModel, Weighted};
pub use platform::period::Period;
pub use platform::segment::Segment;
pub use platform::uscc::{self, Uscc};
pub use quotas::{ClassCounts, Quotas};

/// The class an enterprise is placed in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Class {
    /// Leader (领军型): the top share of the cohort; key support, resource priority.
    A,
    /// Growth (成长型): the next share; targeted policy support.
    B,
    /// Rectification (整改型): the rest; supervision and a push to upgrade.
    C,
}

impl Class {
    pub const ALL: [Class; 3] = [Class::A, Class::B, Class::C];

    pub fn letter(self) -> &'static str {
        match self {
            Class::A => "A",
            Class::B => "B",
            Class::C => "C",
        }
    }

    /// The class one step up (A for B, B for C), if any.
    pub fn next_up(self) -> Option<Class> {
        match self {
            Class::A => None,
            Class::B => Some(Class::A),
            Class::C => Some(Class::B),
        }
    }
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.letter())
    }
}

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
