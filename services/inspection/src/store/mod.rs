//! The store: loads what a rule needs (in the transaction, locking what it will change), hands
//! it to the domain, and commits the decision's rows with its events' outbox rows in that one
//! transaction. It holds no business rule.
//!
//! - [`facts`]: the read model (census, classes, land) and each firm's tier;
//! - [`items`]: item lists and rosters;
//! - [`placement`]: placing tasks into visits under the caps (plans, ad hoc, follow-ups);
//! - [`plans`]: the yearly draw, filed with its seed;
//! - [`visits`]: approval and codes, the year's views;
//! - [`results`]: results, publication, ratings;
//! - [`rows`]: rows to domain values and back.

pub mod facts;
mod items;
mod placement;
mod plans;
mod results;
mod rows;
mod visits;

use platform::Outbox;
use sqlx::PgPool;

use crate::domain::{
    code::CodeRefused, item::ItemRefused, plan::PlanRefused, rating::RatingRefused,
    visit::CapRefused,
};

pub use placement::NewTask;
pub use plans::PlanRequest;

pub use visits::{TaskFilter, VisitFilter};

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
    Item(#[from] ItemRefused),
    #[error(transparent)]
    Plan(#[from] PlanRefused),
    #[error(transparent)]
    Cap(#[from] CapRefused),
    #[error(transparent)]
    Code(#[from] CodeRefused),
    #[error(transparent)]
    Rating(#[from] RatingRefused),
    /// A task beyond a cap (the cap, in words); nothing was stored.
    #[error("{0}")]
    Refused(String),
    /// A task names an item its department does not list.
    #[error("item {0} is not on the list of {1}")]
    UnknownItem(String, &'static str),
    /// No such thing (its kind and id, in words).
    #[error("{0} not found")]
    NotFound(String),
    /// Two writers raced for the same row; the caller may read again and retry.
    #[error("{0}")]
    VersionConflict(String),
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

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}
