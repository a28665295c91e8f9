//! The final list (最终结果): finalizing a period in one transaction under its lock (the one
//! publication, re-ranks and overrides take), as [`finalization::decide`] decides: the
//! amendments stored (`final_amendments`, migration 0011) with the finalization and its
//! `PeriodFinalized`. Finalizing twice is refused (FAILED_PRECONDITION naming when and by
//! whom), and the period's lock with the table's key leaves one of concurrent attempts.

use chrono::{DateTime, Utc};
use haicheng_proto::classification::v1 as pb;
use sqlx::PgConnection;

use super::{Store, StoreError, lock_period, publication};
use crate::{
    domain::{
        Class,
        calendar::ObjectionWindow,
        finalization::{self, FinalizeState, Upheld},
    },
    events::{self, Finalized},
};

/// FAILED_PRECONDITION naming `period` unless it is finalized.
pub async fn require_finalized(conn: &mut PgConnection, period: &str) -> Result<(), StoreError> {
    let finalized = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM finalizations WHERE period = $1) AS "finalized!""#,
        period,
    )
    .fetch_one(conn)
    .await?;
    if finalized {
        Ok(())
    } else {
        Err(StoreError::Precondition(format!(
            "period {period} is not finalized: no final list to read"
        )))
    }
}

/// What [`finalization::decide`] needs, read under the period's lock.
/// What finalizing decides on, and the objection window the publication announced (`None`:
/// the configured one).
async fn load<'a>(
    conn: &mut PgConnection,
    period: &'a str,
) -> Result<(FinalizeState<'a>, Option<u32>), StoreError> {
    let publication = publication::find(conn, period).await?;
    let published_at = publication.as_ref().map(|p| p.published_at);
    let announced_days = publication.and_then(|p| p.objection_working_days);
    let finalized = sqlx::query!(
        "SELECT finalized_at, finalized_by FROM finalizations WHERE period = $1",
        period
    )
    .fetch_optional(&mut *conn)
    .await?
    .map(|r| (r.finalized_at, r.finalized_by));
    let undecided = sqlx::query_scalar!(
        "SELECT id FROM objections WHERE period = $1 AND state = 'filed' ORDER BY id",
        period
    )
    .fetch_all(&mut *conn)
    .await?;
    let upheld = sqlx::query_as!(
        Upheld,
        r#"SELECT id AS objection_id, uscc, decided_class AS "class!: Class",
                  decision_reason AS "reason!", decided_by AS "decided_by!",
                  decided_at AS "decided_at!"
           FROM objections WHERE period = $1 AND state = 'upheld' ORDER BY id"#,
        period
    )
    .fetch_all(&mut *conn)
    .await?;
    let state = FinalizeState {
        period,
        published_at,
        finalized,
        undecided,
        upheld,
    };
    Ok((state, announced_days))
}

/// Stores the finalization and its amendments.
async fn store_amendments(
    conn: &mut PgConnection,
    period: &str,
    at: DateTime<Utc>,
    by: &str,
    amendments: &[Upheld],
) -> Result<(), StoreError> {
    sqlx::query!(
        "INSERT INTO finalizations (period, finalized_at, finalized_by, amended) VALUES ($1, $2, $3, $4)",
        period,
        at,
        by,
        amendments.len() as i32
    )
    .execute(&mut *conn)
    .await?;
    for a in amendments {
        sqlx::query!(
            "INSERT INTO final_amendments (period, uscc, class, objection_id, reason, decided_by, decided_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            period,
            a.uscc,
            a.class as Class,
            a.objection_id,
            a.reason,
            a.decided_by,
            a.decided_at
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

impl Store {
    /// Finalizes `period` by `principal` (see the module): the finalization's message.
    pub async fn finalize(
        &self,
        window: &ObjectionWindow,
        period: &str,
        principal: &str,
    ) -> Result<pb::Finalization, StoreError> {
        let mut tx = self.pool.begin().await?;
        lock_period(&mut tx, period).await?;
        let (state, announced_days) = load(&mut tx, period).await?;
        let now = self.clock.now();
        let amendments = finalization::decide(&state, &window.announced(announced_days), now)?;
        store_amendments(&mut tx, period, now, principal, &amendments).await?;
        let classes: Vec<(String, Option<Class>)> = sqlx::query!(
            r#"SELECT uscc AS "uscc!", class AS "class?: Class"
               FROM final_classifications WHERE period = $1 ORDER BY uscc"#,
            period
        )
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .map(|r| (r.uscc, r.class))
        .collect();
        let amended = self.amended(&mut tx, period, &amendments).await?;
        let finalized = Finalized {
            period,
            finalized_at: now,
            finalized_by: principal,
            published_at: state.published_at.unwrap_or(now),
            classes: &classes,
            amendments: &amended,
        };
        self.outbox
            .enqueue(&mut tx, events::finalized_event(&finalized))
            .await?;
        tx.commit().await?;
        Ok(events::finalization(&finalized))
    }

    /// Each amendment with the firm's class as published.
    async fn amended(
        &self,
        conn: &mut PgConnection,
        period: &str,
        amendments: &[Upheld],
    ) -> Result<Vec<(String, Option<Class>, Class, i64)>, StoreError> {
        let mut amended = Vec::with_capacity(amendments.len());
        for a in amendments {
            let published = sqlx::query_scalar!(
                r#"SELECT class AS "class?: Class" FROM published_classifications
                   WHERE period = $1 AND uscc = $2"#,
                period,
                a.uscc
            )
            .fetch_optional(&mut *conn)
            .await?
            .flatten();
            amended.push((a.uscc.clone(), published, a.class, a.objection_id));
        }
        Ok(amended)
    }
}
