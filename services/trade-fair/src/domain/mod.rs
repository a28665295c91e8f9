//! The rules of the trade-fair service (会展经济), pure: no I/O, no clock, no database.
//!
//! Entities: a [`fair::Fair`] (its [`fair::FairSpec`] and booth inventory), a
//! [`registration::Registration`], an [`invitation::Invitation`], an [`outcome::Outcome`], a
//! [`subsidy::Subsidy`]. Rules: [`pools`] splits each booth type into the general pool and the
//! reserves (small firms, invited A-class firms) and decides first-come draws;
//! [`registration`] decides an application; [`offers`] the waitlist's offers, cancellations
//! and lapses; [`allocation`] the scored allocation run when the window of a scored fair
//! closes; [`eligibility`] says who may go to an external fair; [`waitlist`] orders the
//! waiting list and times offers; [`subsidy`] decides a claim and computes the booth-fee
//! subsidy, [`fees`] the late-cancellation fee; [`breach`] records a firm's rule breach at a
//! fair and bars it from the next sessions of that fair's kind. Every write's `decide` returns the rows to
//! write (and what happened, for the events) or a [`Refused`] naming the rule.

pub mod allocation;
pub mod breach;
pub mod eligibility;
pub mod fair;
pub mod fees;
pub mod invitation;
pub mod offers;
pub mod outcome;
pub mod pools;
pub mod refused;
pub mod registration;
pub mod rules;
pub mod subsidy;
pub mod waitlist;

pub use platform::{Class, Segment, period::Period};
pub use refused::Refused;
pub use rules::Rules;
