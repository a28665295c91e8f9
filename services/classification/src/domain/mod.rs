//! The rules of the classification (分类管理), pure: no I/O, no clock, no database.
//!
//! Data flows through it in one direction: census [`Figures`] become indicator values,
//! values are scored against their segment's benchmark with a versioned [`Model`],
//! scored firms are ranked and placed by [`Quotas`] into [`Class`]es ([`classify`]),
//! and each class change becomes support-policy notices ([`policy`]).
//! [`explain`] answers "why this class, and what would it take to move up".

pub mod evaluation;
pub mod explain;
pub mod indicators;
pub mod model;
pub mod policy;
pub mod quotas;
pub mod ranking;

use std::fmt;

use haicheng_proto::{classification::v1 as pb, common::v1 as common};

pub use evaluation::{Benchmarks, Evaluation, Firm, PeriodResult, classify};
pub use indicators::{Figures, Indicator, Values};
pub use model::{Model, ReducedModel, Weighted};
pub use platform::period::Period;
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

    /// The protobuf value (`haicheng.common.v1.EnterpriseClass`).
    pub fn to_proto(self) -> i32 {
        match self {
            Class::A => common::EnterpriseClass::A as i32,
            Class::B => common::EnterpriseClass::B as i32,
            Class::C => common::EnterpriseClass::C as i32,
        }
    }

    /// `None` for unspecified or an unknown number.
    pub fn from_proto(value: i32) -> Option<Class> {
        match common::EnterpriseClass::try_from(value).ok()? {
            common::EnterpriseClass::A => Some(Class::A),
            common::EnterpriseClass::B => Some(Class::B),
            common::EnterpriseClass::C => Some(Class::C),
            common::EnterpriseClass::Unspecified => None,
        }
    }
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.letter())
    }
}

/// The protobuf value of an optional class (none = unspecified).
pub fn class_to_proto(class: Option<Class>) -> i32 {
    class.map_or(common::EnterpriseClass::Unspecified as i32, Class::to_proto)
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

impl Grading {
    pub fn to_proto(self) -> i32 {
        match self {
            Grading::NotEvaluated => pb::Grading::Unspecified as i32,
            Grading::Graded => pb::Grading::Graded as i32,
            Grading::Deferred => pb::Grading::Deferred as i32,
            Grading::Exempt => pb::Grading::Exempt as i32,
        }
    }

    pub fn from_proto(value: i32) -> Grading {
        match pb::Grading::try_from(value) {
            Ok(pb::Grading::Graded) => Grading::Graded,
            Ok(pb::Grading::Deferred) => Grading::Deferred,
            Ok(pb::Grading::Exempt) => Grading::Exempt,
            _ => Grading::NotEvaluated,
        }
    }
}
