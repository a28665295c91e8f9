//! Storage (sqlx): fairs and their booth inventory, invitations, registrations with the
//! waitlist and offers, outcomes, subsidies, and the read model kept from census and
//! classification events. Every change and its events go through the outbox in one
//! transaction; every write that hands out or frees booths locks the fair's row first, so
//! concurrent applications are decided one after another, and `booth_inventory`'s check
//! (`taken <= capacity`) refuses anything that would still over-allocate.

pub mod events;
pub mod fairs;
pub mod invitations;
pub mod outcomes;
pub mod read_model;
pub mod registrations;
pub mod subsidies;

use platform::ApiError;
use sqlx::PgConnection;
use uuid::Uuid;

/// Why a store operation did not happen.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// What was not found (the API adds "not found").
    #[error("{0} not found")]
    NotFound(String),
    /// What exists already (the API adds "already exists").
    #[error("{0} already exists")]
    AlreadyExists(String),
    /// A stale expected version (optimistic concurrency).
    #[error("{0}")]
    Conflict(String),
    /// The request is valid but the state does not allow it.
    #[error("{0}")]
    Precondition(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// Stored data this code cannot read (a value no migration allows).
    #[error("{0}")]
    Corrupt(String),
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound(what) => ApiError::NotFound(what),
            StoreError::AlreadyExists(what) => ApiError::AlreadyExists(what),
            StoreError::Conflict(why) => ApiError::Aborted(why),
            StoreError::Precondition(why) => ApiError::FailedPrecondition(why),
            StoreError::Database(err) => err.into(),
            StoreError::Corrupt(why) => ApiError::Internal(anyhow::anyhow!(why)),
        }
    }
}

impl From<StoreError> for platform::HandlerError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Database(err) => err.into(),
            other => platform::HandlerError::Permanent(other.to_string()),
        }
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// Locks the fair's row until the transaction ends; NOT_FOUND if there is none.
pub async fn lock_fair(conn: &mut PgConnection, fair_id: Uuid) -> Result<()> {
    sqlx::query_scalar::<_, Uuid>("SELECT id FROM fairs WHERE id = $1 FOR UPDATE")
        .bind(fair_id)
        .fetch_optional(conn)
        .await?
        .map(|_| ())
        .ok_or_else(|| StoreError::NotFound(format!("fair {fair_id}")))
}

/// A stored enum name this code does not know.
pub(crate) fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("stored {what} {value:?} is not known"))
}
