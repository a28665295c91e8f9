//! The store: loads what a rule needs (in the transaction, locking what it will change), hands
//! it to the domain's `decide`, and commits the decision's rows with its events' outbox rows
//! in that one transaction. It holds no business rule.
//!
//! - [`read_model`]: the facts, kept from other services' events;
//! - [`policies`]: policy versions and their budgets;
//! - [`rounds`]: rounds, their lists and objections, finalization;
//! - [`payments`]: payment orders and finance's record of them;
//! - [`applications`]: applications to APPLICATION policies and their review;
//! - [`reports`]: a policy's report and an enterprise's benefits.

mod applications;
mod payments;
mod policies;
pub mod read_model;
mod reports;
mod rounds;

use platform::Outbox;
use sqlx::PgPool;

use crate::domain::{
    application::ApplicationRefused, payment::PaymentRefused, policy::PolicyRefused,
    round::RoundRefused,
};

pub use applications::ApplicationFilter;
pub use payments::PaymentFilter;
pub use reports::{PolicyReport, ReportRow};
pub use rounds::RoundView;

/// The service's one store.
#[derive(Clone)]
pub struct Store {
    pool: PgPool,
    outbox: Outbox,
}

/// What a store call can answer besides success; the API maps each to a status once.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Policy(#[from] PolicyRefused),
    #[error(transparent)]
    Round(#[from] RoundRefused),
    #[error(transparent)]
    Payment(#[from] PaymentRefused),
    #[error(transparent)]
    Application(ApplicationRefused),
    /// A second application of a firm to a policy.
    #[error("{0} has already applied to this policy")]
    AlreadyApplied(String),
    /// No such thing (its kind and id, in words).
    #[error("{0} not found")]
    NotFound(String),
    /// Two writers raced for the same row; the caller may read again and retry.
    #[error("{0}")]
    VersionConflict(String),
    /// The orders would exceed the policy's budget (the database refused them).
    #[error("the orders would exceed the budget of policy {0}")]
    BudgetExceeded(String),
    /// A stored value the service cannot read back (a bug or a hand-edited row).
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl Store {
    pub fn new(pool: PgPool, outbox: Outbox) -> Self {
        Self { pool, outbox }
    }
}

/// The constraint a database error violated, if it is a constraint violation.
fn violated_constraint(err: &sqlx::Error) -> Option<&str> {
    match err {
        sqlx::Error::Database(db) => db.constraint(),
        _ => None,
    }
}

/// Whether the database refused a duplicate key.
fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.code().as_deref() == Some("23505"))
}
