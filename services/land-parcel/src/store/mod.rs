//! The land store (sqlx): every change and the events announcing it (outbox rows) commit in
//! one transaction. Functions return [`StoreError`]; the API maps it to `ApiError` once.
//!
//! - [`read_model`]: enterprises, yearly returns and classes kept from events;
//! - [`parcels`]: register, read, list, split, merge;
//! - [`grants`]: grant (one in force per parcel), milestones, conversion, reads;
//! - [`evaluations`]: evaluation of a holder's grants on a census return, and their history;
//! - [`idle`]: the idle land pass;
//! - [`units`]: buildings, units, leases and sales;
//! - [`queue`]: land applications and allocation;
//! - [`events`]: the events and notices written to the outbox.

pub mod evaluations;
pub mod events;
pub mod grants;
pub mod idle;
pub mod parcels;
pub mod queue;
pub mod read_model;
pub mod units;

use std::sync::Arc;

use chrono::NaiveDate;
use platform::{Outbox, Violations};
use sqlx::{PgConnection, PgPool};

use crate::config::LandRules;

/// Why a store call did not change anything.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0} already exists")]
    AlreadyExists(String),
    /// The caller's expected version is not the current one.
    #[error("{0}")]
    Stale(String),
    /// The state of things forbids it (FAILED_PRECONDITION), with the condition that fails.
    #[error("{0}")]
    Precondition(String),
    /// The request breaks a rule that needed stored facts to check: field violations.
    #[error("invalid request")]
    Invalid(Violations),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl From<StoreError> for platform::ApiError {
    fn from(err: StoreError) -> Self {
        use platform::ApiError;
        match err {
            StoreError::NotFound(what) => ApiError::NotFound(what),
            StoreError::AlreadyExists(what) => ApiError::AlreadyExists(what),
            StoreError::Stale(why) => ApiError::Aborted(why),
            StoreError::Precondition(why) => ApiError::FailedPrecondition(why),
            StoreError::Invalid(violations) => match violations.finish() {
                Err(err) => err,
                Ok(()) => {
                    ApiError::Internal(anyhow::anyhow!("an invalid request without violations"))
                }
            },
            StoreError::Database(err) => err.into(),
        }
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// True when `err` is PostgreSQL's unique violation.
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .and_then(|e| e.code())
        .is_some_and(|code| code == "23505")
}

/// The database's date in China (UTC+8 all year): contracts and milestones are dated there.
pub async fn today(conn: &mut PgConnection) -> sqlx::Result<NaiveDate> {
    sqlx::query_scalar("SELECT (now() AT TIME ZONE 'UTC' + interval '8 hours')::date")
        .fetch_one(conn)
        .await
}

/// The store: a pool, the outbox and the rules.
#[derive(Clone)]
pub struct Store {
    pub pool: PgPool,
    pub outbox: Outbox,
    pub rules: Arc<LandRules>,
}

impl Store {
    pub fn new(pool: PgPool, outbox: Outbox, rules: Arc<LandRules>) -> Self {
        Self {
            pool,
            outbox,
            rules,
        }
    }
}
