//! Policy versions (a change makes a new version; a round keeps the version it ran on) and
//! their budgets, one row per policy whose CHECK keeps orders within the budget.

use chrono::{DateTime, Utc};
use haicheng_proto::support::v1 as pb;
use platform::{Violations, auth::Department};
use prost::Message;
use sqlx::PgConnection;

use super::{Store, StoreError, is_unique_violation, violated_constraint};
use crate::{
    convert,
    domain::policy::{Policy, PolicySpec, decide_put},
    events,
};

struct PolicyRow {
    version: i64,
    spec: Vec<u8>,
    created_at: DateTime<Utc>,
    created_by: String,
    ordered_fen: i64,
}

impl PolicyRow {
    fn into_policy(self, id: &str) -> Result<Policy, StoreError> {
        let corrupt =
            |why: String| StoreError::Corrupt(format!("policy {id} v{}: {why}", self.version));
        let proto =
            pb::PolicySpec::decode(self.spec.as_slice()).map_err(|e| corrupt(e.to_string()))?;
        let mut violations = Violations::new();
        let spec = convert::spec_from_proto(&mut violations, &proto)
            .ok_or_else(|| corrupt(format!("{:?}", violations.as_slice())))?;
        Ok(Policy {
            spec,
            version: self.version,
            created_at: self.created_at,
            created_by: self.created_by,
            ordered_fen: self.ordered_fen,
        })
    }
}

/// Policy `id` at `version` (0: the latest), with what is ordered of its budget.
pub(super) async fn load_policy(
    conn: &mut PgConnection,
    id: &str,
    version: i64,
) -> Result<Option<Policy>, StoreError> {
    let row = sqlx::query_as!(
        PolicyRow,
        "SELECT p.version, p.spec, p.created_at, p.created_by, b.ordered_fen
         FROM policies p JOIN budgets b ON b.policy_id = p.id
         WHERE p.id = $1
           AND p.version = CASE WHEN $2::bigint = 0 THEN b.latest_version ELSE $2 END",
        id,
        version,
    )
    .fetch_optional(conn)
    .await?;
    row.map(|r| r.into_policy(id)).transpose()
}

/// The latest versions of the other policies of `group` for the same period.
pub(super) async fn load_rivals(
    conn: &mut PgConnection,
    policy: &Policy,
) -> Result<Vec<Policy>, StoreError> {
    let Some(group) = policy.spec.exclusive_group.as_deref() else {
        return Ok(Vec::new());
    };
    let ids = sqlx::query_scalar!(
        "SELECT b.policy_id FROM budgets b
         JOIN policies p ON p.id = b.policy_id AND p.version = b.latest_version
         WHERE p.exclusive_group = $1 AND p.period = $2 AND p.id <> $3",
        group,
        policy.spec.period.code(),
        policy.spec.id,
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut rivals = Vec::with_capacity(ids.len());
    for id in ids {
        rivals.extend(load_policy(&mut *conn, &id, 0).await?);
    }
    Ok(rivals)
}

impl Store {
    pub async fn policy(&self, id: &str, version: i64) -> Result<Policy, StoreError> {
        let mut conn = self.pool.acquire().await?;
        load_policy(&mut conn, id, version)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("policy {id}")))
    }

    /// Policies at their latest versions, by id, after `after`.
    pub async fn policies(&self, after: &str, limit: i64) -> Result<Vec<Policy>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let ids = sqlx::query_scalar!(
            "SELECT policy_id FROM budgets WHERE policy_id > $1 ORDER BY policy_id LIMIT $2",
            after,
            limit,
        )
        .fetch_all(&mut *conn)
        .await?;
        let mut policies = Vec::with_capacity(ids.len());
        for id in ids {
            policies.extend(load_policy(&mut conn, &id, 0).await?);
        }
        Ok(policies)
    }

    /// Writes `spec` as a new version (load → decide → commit with PolicyChanged).
    pub async fn put_policy(
        &self,
        spec: PolicySpec,
        expected_version: i64,
        department: Option<Department>,
        by: &str,
    ) -> Result<Policy, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query!(
            "SELECT policy_id FROM budgets WHERE policy_id = $1 FOR UPDATE",
            spec.id
        )
        .fetch_optional(&mut *tx)
        .await?;
        let current = load_policy(&mut tx, &spec.id, 0).await?;
        let version = decide_put(current.as_ref(), &spec, expected_version, department)?;
        let stored = sqlx::query_scalar!(
            "INSERT INTO policies (id, version, issuer, period, exclusive_group, spec, created_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING created_at",
            spec.id,
            version,
            spec.issuer.as_str(),
            spec.period.code(),
            spec.exclusive_group,
            convert::spec_to_proto(&spec).encode_to_vec(),
            by,
        )
        .fetch_one(&mut *tx)
        .await;
        let created_at = match stored {
            Err(err) if is_unique_violation(&err) => {
                return Err(StoreError::VersionConflict(format!(
                    "policy {} was written by another caller at the same time; read it again",
                    spec.id
                )));
            }
            other => other?,
        };
        let budget = sqlx::query_scalar!(
            "INSERT INTO budgets (policy_id, latest_version, budget_fen) VALUES ($1, $2, $3)
             ON CONFLICT (policy_id) DO UPDATE SET latest_version = EXCLUDED.latest_version,
                 budget_fen = EXCLUDED.budget_fen
             RETURNING ordered_fen",
            spec.id,
            version,
            spec.budget_fen,
        )
        .fetch_one(&mut *tx)
        .await;
        let ordered_fen = match budget {
            Err(err) if violated_constraint(&err) == Some("budget_never_exceeded") => {
                return Err(StoreError::BudgetExceeded(spec.id.clone()));
            }
            other => other?,
        };
        let policy = Policy {
            spec,
            version,
            created_at,
            created_by: by.to_string(),
            ordered_fen,
        };
        self.outbox
            .enqueue(&mut tx, events::policy_changed(&policy))
            .await?;
        tx.commit().await?;
        Ok(policy)
    }
}
