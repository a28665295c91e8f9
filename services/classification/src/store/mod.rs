//! Storage (sqlx): the read model kept from census events, model versions, classes per
//! period, overrides, the re-rank that writes changed classes together with their events in
//! one transaction, the settle that sends a quiet period's net notices, publications and the
//! objections filed against them.

pub mod classes;
pub mod events;
pub mod models;
pub mod objections;
pub mod publication;
pub mod read_model;
pub mod rerank;
pub mod settle;

use sqlx::PgConnection;

/// Why a store operation did not happen.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} not found")]
    NotFound(String),
    /// A stale expected version (optimistic concurrency).
    #[error("{0}")]
    Conflict(String),
    /// The request is valid but the state does not allow it.
    #[error("{0}")]
    Precondition(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// A stored value that no longer parses: the database was changed behind the service's back.
fn corrupt(what: impl std::fmt::Display) -> sqlx::Error {
    sqlx::Error::Decode(format!("stored data is not valid: {what}").into())
}

/// Serialises everything that writes one period's classes (the re-rank, overrides) within
/// a transaction: waits for the lock.
pub async fn lock_period(conn: &mut PgConnection, period: &str) -> sqlx::Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('classification.period:' || $1, 0))")
        .bind(period)
        .execute(conn)
        .await
        .map(|_| ())
}

/// As [`lock_period`] without waiting: false if another transaction holds it.
pub async fn try_lock_period(conn: &mut PgConnection, period: &str) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "SELECT pg_try_advisory_xact_lock(hashtextextended('classification.period:' || $1, 0))",
    )
    .bind(period)
    .fetch_one(conn)
    .await
}
