//! Storage (sqlx): one [`Store`] that loads what a rule needs and commits what it decided,
//! with the events' outbox rows in the same transaction. Fairs and their booth inventory,
//! invitations, registrations with the waitlist and offers, outcomes, subsidies, and the read
//! model kept from census and classification events; breaches and the bars they set. Every write that hands out or frees
//! booths locks the fair's row first, so concurrent applications are decided one after
//! another, and `booth_inventory`'s check (`taken <= capacity`) refuses anything that would
//! still over-allocate. No business rule here: those are `domain`'s `decide` functions.

mod allocation;
pub mod breaches;
pub mod fairs;
pub mod invitations;
pub mod outcomes;
pub mod read_model;
pub mod registrations;
pub mod subsidies;

use std::sync::Arc;

use platform::{Outbox, OutgoingEvent};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::domain::{Refused, Rules};

/// Why a store operation did not happen.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// What was not found.
    #[error("{0} not found")]
    NotFound(String),
    /// A stale expected version (optimistic concurrency).
    #[error("{0}")]
    VersionConflict(String),
    /// The rules refused the change (nothing was written).
    #[error(transparent)]
    Refused(#[from] Refused),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// Stored data this code cannot read (a value no migration allows).
    #[error("{0}")]
    Corrupt(String),
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// The service's storage: its database, its outbox and the rules the decisions read.
#[derive(Clone, Debug)]
pub struct Store {
    pool: PgPool,
    outbox: Outbox,
    rules: Arc<Rules>,
}

impl Store {
    pub fn new(pool: PgPool, outbox: Outbox, rules: Arc<Rules>) -> Self {
        Self {
            pool,
            outbox,
            rules,
        }
    }

    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// Enqueues `event` in the caller's transaction.
    async fn publish(&self, conn: &mut PgConnection, event: OutgoingEvent) -> Result<()> {
        self.outbox.enqueue(conn, event).await?;
        Ok(())
    }
}

/// Locks the fair's row until the transaction ends; NOT_FOUND if there is none.
async fn lock_fair(conn: &mut PgConnection, fair_id: Uuid) -> Result<()> {
    sqlx::query_scalar!("SELECT id FROM fairs WHERE id = $1 FOR UPDATE", fair_id)
        .fetch_optional(conn)
        .await?
        .map(|_| ())
        .ok_or_else(|| StoreError::NotFound(format!("fair {fair_id}")))
}

/// A stored enum name this code does not know.
fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("stored {what} {value:?} is not known"))
}
