//! The rules of support policies, pure: no I/O, no protobuf, no clock (time is an argument).
//!
//! - [`facts`]: what the read model holds about a firm, and the indicators;
//! - [`eligibility`]: conditions as typed clauses, each with the firm's value and gap;
//! - [`benefit`]: the amount, capped, rounded half up to the fen;
//! - [`policy`]: a policy as versioned data and who may write it;
//! - [`round`]: the beneficiary list under the budget, exclusive groups;
//! - [`objection`]: objections to a published list;
//! - [`payment`]: payment orders and finance's record of them;
//! - [`application`]: applications to APPLICATION policies and their review.

pub mod application;
pub mod benefit;
pub mod eligibility;
pub mod facts;
pub mod objection;
pub mod payment;
pub mod policy;
pub mod round;
