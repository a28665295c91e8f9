//! Model versions: version 1 from configuration, each `SetModel` adds the next one and marks
//! every period dirty in the same transaction, so the re-ranker re-runs them all.

use std::{collections::HashMap, sync::Arc};

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool, types::Json};
use tokio::sync::RwLock;

use super::{Store, StoreError, read_model};
use crate::domain::Model;

/// A stored version.
#[derive(Debug, Clone)]
pub struct StoredModel {
    pub version: i64,
    pub model: Model,
    pub note: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

struct Row {
    version: i64,
    definition: Json<Model>,
    note: String,
    created_by: String,
    created_at: DateTime<Utc>,
}

impl From<Row> for StoredModel {
    fn from(row: Row) -> Self {
        Self {
            version: row.version,
            model: row.definition.0,
            note: row.note,
            created_by: row.created_by,
            created_at: row.created_at,
        }
    }
}

impl Store {
    /// Stores `model` as version 1 unless a version exists (the first start of the service).
    pub async fn ensure_initial_model(&self, model: &Model) -> sqlx::Result<()> {
        let pool = &self.pool;
        sqlx::query!(
            "INSERT INTO models (version, definition, note, created_by)
             SELECT 1, $1, 'initial model from configuration', 'service:classification'
             WHERE NOT EXISTS (SELECT 1 FROM models)
             ON CONFLICT (version) DO NOTHING",
            Json(model) as _,
        )
        .execute(pool)
        .await
        .map(|_| ())
    }
}

/// The version in force (the highest).
pub async fn current(conn: &mut PgConnection) -> Result<StoredModel, StoreError> {
    sqlx::query_as!(
        Row,
        r#"SELECT version, definition AS "definition: Json<Model>", note, created_by, created_at
           FROM models ORDER BY version DESC LIMIT 1"#,
    )
    .fetch_optional(conn)
    .await?
    .map(StoredModel::from)
    .ok_or_else(|| StoreError::NotFound("classification model".into()))
}

/// One version; `None` if it was never stored.
pub async fn get(conn: &mut PgConnection, version: i64) -> Result<Option<StoredModel>, StoreError> {
    Ok(sqlx::query_as!(
        Row,
        r#"SELECT version, definition AS "definition: Json<Model>", note, created_by, created_at
           FROM models WHERE version = $1"#,
        version,
    )
    .fetch_optional(conn)
    .await?
    .map(StoredModel::from))
}

impl Store {
    /// Stores the next version if `expected_version` is still the current one (else
    /// [`StoreError::VersionConflict`]), and marks every period dirty for the full re-run.
    pub async fn store_model(
        &self,
        model: &Model,
        expected_version: i64,
        note: &str,
        created_by: &str,
    ) -> Result<StoredModel, StoreError> {
        let pool = &self.pool;
        let mut tx = pool.begin().await?;
        // One writer at a time, so two concurrent SetModel calls cannot both pass the check.
        sqlx::query!("LOCK TABLE models IN SHARE ROW EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await?;
        let current = current(&mut tx).await?;
        if current.version != expected_version {
            return Err(StoreError::VersionConflict(format!(
                "expected model version {expected_version}, but version {} is current",
                current.version
            )));
        }
        let row = sqlx::query_as!(
            Row,
            r#"INSERT INTO models (version, definition, note, created_by) VALUES ($1, $2, $3, $4)
               RETURNING version, definition AS "definition: Json<Model>", note, created_by,
                         created_at"#,
            current.version + 1,
            Json(model) as _,
            note,
            created_by,
        )
        .fetch_one(&mut *tx)
        .await?;
        read_model::mark_all_dirty(&mut tx).await?;
        tx.commit().await?;
        Ok(row.into())
    }
}

/// Versions are immutable, so they are cached once read (explanations need the version a
/// class was computed with, not necessarily the current one).
#[derive(Clone, Default)]
pub struct ModelCache(Arc<RwLock<HashMap<i64, Arc<Model>>>>);

impl ModelCache {
    pub async fn get(&self, pool: &PgPool, version: i64) -> Result<Arc<Model>, StoreError> {
        if let Some(model) = self.0.read().await.get(&version) {
            return Ok(model.clone());
        }
        let mut conn = pool.acquire().await?;
        let stored = get(&mut conn, version)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("model version {version}")))?;
        let model = Arc::new(stored.model);
        self.0.write().await.insert(version, model.clone());
        Ok(model)
    }
}
