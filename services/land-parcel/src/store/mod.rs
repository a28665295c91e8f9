//! The land store (sqlx): it loads what a rule needs and commits what the domain decided,
//! every change with the events announcing it (outbox rows) in one transaction. No business
//! rule is decided here: each write is load → `domain::…::decide` → commit. Methods return
//! [`StoreError`]; the API maps it to `ApiError` once.
//!
//! - [`read_model`]: enterprises, yearly returns and classes kept from events;
//! - [`parcels`]: register, read, list, split, merge;
//! - [`grants`]: grant (one in force per parcel), milestones, conversion, reads;
//! - [`evaluations`]: evaluation of a holder's grants on a census return, and their history;
//! - [`idle`]: the idle land pass (idle fee orders, take-back review);
//! - [`disposal`]: idle fees settled, take-back, low-efficiency list, lease renewal;
//! - [`units`]: buildings, units, leases and sales;
//! - [`queue`]: land applications and allocation.

mod disposal;
mod evaluations;
mod grants;
mod idle;
mod parcels;
mod queue;
mod read_model;
mod units;

use std::sync::Arc;

use chrono::NaiveDate;
use platform::{Outbox, OutgoingEvent};
use sqlx::{PgConnection, PgPool};

pub use idle::PassOutcome;
pub use parcels::ParcelFilter;
pub use read_model::EnterpriseRecord;

use crate::domain::{LandRules, Refused};

/// Why a store call did not change anything.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0} already exists")]
    AlreadyExists(String),
    /// The caller's expected version is not the current one.
    #[error("{0}")]
    VersionConflict(String),
    /// A land rule refuses the change.
    #[error(transparent)]
    Refused(#[from] Refused),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// A refusal of the domain, as a store error.
fn refused(why: impl Into<Refused>) -> StoreError {
    StoreError::Refused(why.into())
}

/// True when `err` is PostgreSQL's unique violation.
fn is_unique_violation(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .and_then(|e| e.code())
        .is_some_and(|code| code == "23505")
}

/// A stored value this code did not write.
fn corrupt(what: &str, value: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("stored {what} {value:?} is not one this service writes").into())
}

/// `VersionConflict` unless `expected` is 0 (no check) or the current version.
fn check_version(what: &str, current: i64, expected: i64) -> Result<()> {
    if expected != 0 && current != expected {
        return Err(StoreError::VersionConflict(format!(
            "{what} is at version {current}, not {expected}"
        )));
    }
    Ok(())
}

/// The database's date in China (UTC+8 all year): contracts and milestones are dated there.
async fn today(conn: &mut PgConnection) -> sqlx::Result<NaiveDate> {
    sqlx::query_scalar!(
        r#"SELECT (now() AT TIME ZONE 'UTC' + interval '8 hours')::date AS "today!""#
    )
    .fetch_one(conn)
    .await
}

/// The store: the pool, the outbox the events go through, and the rules' numbers.
#[derive(Clone)]
pub struct Store {
    pool: PgPool,
    outbox: Outbox,
    rules: Arc<LandRules>,
}

impl Store {
    pub fn new(pool: PgPool, outbox: Outbox, rules: Arc<LandRules>) -> Self {
        Self {
            pool,
            outbox,
            rules,
        }
    }

    /// Adds the events to the transaction behind `conn`.
    async fn publish(&self, conn: &mut PgConnection, events: Vec<OutgoingEvent>) -> Result<()> {
        self.outbox.enqueue_many(conn, events).await?;
        Ok(())
    }
}
