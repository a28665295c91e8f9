//! The rules of the trade-fair service (会展经济), pure: no I/O, no clock, no database.
//!
//! A [`fair::FairSpec`] describes a fair and its booth inventory; [`pools`] splits each booth
//! type into the general pool and the reserves (small firms, invited A-class firms) and
//! decides first-come draws; [`allocation`] is the scored allocation run when the window of a
//! scored fair closes; [`eligibility`] says who may go to an external fair; [`waitlist`]
//! orders the waiting list and times offers; [`subsidy`] computes the booth-fee subsidy and
//! [`fees`] the late-cancellation fee.

pub mod allocation;
pub mod eligibility;
pub mod fair;
pub mod fees;
pub mod pools;
pub mod subsidy;
pub mod waitlist;

pub use platform::period::Period;

/// An enterprise's class as classification publishes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Class {
    /// Leader (领军型).
    A,
    /// Growth (成长型).
    B,
    /// Rectification (整改型).
    C,
}

impl Class {
    pub fn letter(self) -> &'static str {
        match self {
            Class::A => "A",
            Class::B => "B",
            Class::C => "C",
        }
    }

    pub fn parse(letter: &str) -> Option<Self> {
        match letter {
            "A" => Some(Class::A),
            "B" => Some(Class::B),
            "C" => Some(Class::C),
            _ => None,
        }
    }
}

/// Priority of an optional class: A first, then B, C, and firms without a class last.
pub fn class_priority(class: Option<Class>) -> u8 {
    match class {
        Some(Class::A) => 0,
        Some(Class::B) => 1,
        Some(Class::C) => 2,
        None => 3,
    }
}
