//! Storage (sqlx): the read model kept from census events, model versions, classes per
//! period, overrides, the re-rank that writes changed classes together with their events in
//! one transaction, the settle that sends a quiet period's net notices, publications and the
//! objections filed against them.

pub mod classes;
pub mod finalization;
pub mod models;
pub mod objections;
mod outgoing;
pub mod publication;
pub mod read_model;
pub mod rerank;
pub mod settle;

use std::sync::Arc;

use platform::Outbox;
use sqlx::{PgConnection, PgPool};

use crate::{
    clock::Clock,
    domain::{Model, Refused, policy::NoticeRule},
};

/// The service's database and outbox: every load and every commit (a change with its
/// outbox rows, in one transaction) goes through it. Helpers that take a connection are the
/// steps of its transactions.
#[derive(Clone)]
pub struct Store {
    pool: PgPool,
    outbox: Outbox,
    /// The notice rules the override, objection, publication and settle paths send by.
    rules: Arc<Vec<NoticeRule>>,
    /// Model versions by number, for breakdowns of classes computed with older versions.
    models: models::ModelCache,
    /// The time objections are filed and decided at.
    clock: Clock,
}

impl Store {
    pub fn new(pool: PgPool, outbox: Outbox, rules: Arc<Vec<NoticeRule>>) -> Self {
        Self {
            pool,
            outbox,
            rules,
            models: models::ModelCache::default(),
            clock: Clock::System,
        }
    }

    /// The store reading the time from `clock` (a test fixes "now").
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The model of `version`, cached (versions never change).
    pub async fn model(&self, version: i64) -> Result<Arc<Model>, StoreError> {
        self.models.get(&self.pool, version).await
    }

    /// A stored model version; 0 for the current one.
    pub async fn model_version(&self, version: i64) -> Result<models::StoredModel, StoreError> {
        let mut conn = self.pool.acquire().await?;
        if version == 0 {
            models::current(&mut conn).await
        } else {
            models::get(&mut conn, version)
                .await?
                .ok_or_else(|| StoreError::NotFound(format!("model version {version}")))
        }
    }
}

/// Why a store operation did not happen.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} not found")]
    NotFound(String),
    /// A stale expected version (optimistic concurrency), or a write another writer got to
    /// first.
    #[error("{0}")]
    VersionConflict(String),
    /// The request is valid but the state does not allow it.
    #[error("{0}")]
    Precondition(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// A rule's refusal: FAILED_PRECONDITION, but for a missing classification (NOT_FOUND).
impl From<Refused> for StoreError {
    fn from(refused: Refused) -> Self {
        match refused {
            Refused::NoClassification { uscc, period } => {
                StoreError::NotFound(format!("classification of {uscc} for {period}"))
            }
            refused => StoreError::Precondition(refused.to_string()),
        }
    }
}

/// A stored value that no longer parses: the database was changed behind the service's back.
fn corrupt(what: impl std::fmt::Display) -> sqlx::Error {
    sqlx::Error::Decode(format!("stored data is not valid: {what}").into())
}

/// Serialises everything that writes one period's classes (the re-rank, overrides) within
/// a transaction: waits for the lock.
pub async fn lock_period(conn: &mut PgConnection, period: &str) -> sqlx::Result<()> {
    sqlx::query!(
        "SELECT pg_advisory_xact_lock(hashtextextended('classification.period:' || $1, 0))",
        period,
    )
    .execute(conn)
    .await
    .map(|_| ())
}

/// As [`lock_period`] without waiting: false if another transaction holds it.
pub async fn try_lock_period(conn: &mut PgConnection, period: &str) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"SELECT pg_try_advisory_xact_lock(hashtextextended('classification.period:' || $1, 0))
           AS "locked!""#,
        period,
    )
    .fetch_one(conn)
    .await
}
