//! The `notices` table: the consumer's insert (with its wake-up) and the API's reads and
//! acknowledgement.
//!
//! Inserts are serialised by a transaction advisory lock taken before the sequence number is
//! drawn, so notices commit in `seq` order. Without it two consumers (two replicas, or two
//! partitions) could commit seq 7 after a watcher has already read seq 8, and a watch resumed
//! "after 8" would never see 7. Notices are few; one insert at a time costs nothing.
//!
//! A notice's state is computed when it is read, never stored: acknowledged if it was,
//! otherwise overdue once its deadline passed. The deadline is the producer's `due_at`, or
//! `issued_at` plus the configured `overdue_after`, so changing the setting applies at once.

use std::time::Duration;

use chrono::{DateTime, Utc};
use haicheng_proto::policy::v1::{NoticeEntry, NoticeState, SupportPolicyNotice};
use platform::{auth::Department, time::to_timestamp};
use prost::Message;
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

use crate::{
    filter::Filter,
    model::{self, Cursor},
};

/// The channel a committed insert notifies, with the department as payload.
pub const WAKE_CHANNEL: &str = "haicheng_notices";
/// Key of the advisory lock that orders inserts (ASCII "notice"); the outbox uses "outbox".
const INSERT_LOCK: i64 = 0x6e6f_7469_6365;

/// A notice as consumed, checked and ready to store.
#[derive(Debug, Clone)]
pub struct NewNotice {
    pub notice: SupportPolicyNotice,
    pub department: Department,
    pub issued_at: DateTime<Utc>,
    pub due_at: Option<DateTime<Utc>>,
    /// The `ce_id` of the delivery, kept for tracing a notice back to its event.
    pub event_id: Uuid,
}

/// Stores `new` in the caller's transaction unless a notice with its id is already there;
/// true when it was new. Watchers of its department are notified when the transaction commits.
pub async fn insert(conn: &mut PgConnection, new: &NewNotice) -> sqlx::Result<bool> {
    sqlx::query!("SELECT pg_advisory_xact_lock($1)", INSERT_LOCK)
        .execute(&mut *conn)
        .await?;
    let inserted = sqlx::query!(
        "INSERT INTO notices (notice_id, department, uscc, kind, source, issued_at, due_at, payload, event_id, period, rule_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         ON CONFLICT (notice_id) DO NOTHING",
        new.notice.notice_id,
        new.department.as_str(),
        new.notice.uscc,
        new.notice.kind,
        new.notice.source,
        new.issued_at,
        new.due_at,
        new.notice.encode_to_vec(),
        new.event_id,
        period_of(&new.notice),
        new.notice.rule_id,
    )
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1;
    if inserted {
        sqlx::query!(
            "SELECT pg_notify($1, $2)",
            WAKE_CHANNEL,
            new.department.as_str(),
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(inserted)
}

/// The period code a notice is filed under; empty when it names none.
fn period_of(notice: &SupportPolicyNotice) -> &str {
    notice.period.as_ref().map_or("", |p| p.code.as_str())
}

/// How many notices stored before the filter columns existed one backfill step fills.
const BACKFILL_BATCH: i64 = 500;

/// Fills `period` and `rule_id` of notices stored before migration 0101 (they are NULL
/// there), from each notice's payload, in batches; returns how many it filled. Idempotent:
/// two replicas doing it at once write the same values.
pub async fn backfill_filter_columns(pool: &PgPool) -> anyhow::Result<u64> {
    let mut filled = 0;
    loop {
        let rows = sqlx::query!(
            "SELECT seq, payload FROM notices WHERE period IS NULL ORDER BY seq LIMIT $1",
            BACKFILL_BATCH,
        )
        .fetch_all(pool)
        .await?;
        if rows.is_empty() {
            return Ok(filled);
        }
        let mut tx = pool.begin().await?;
        for row in rows {
            let (seq, payload) = (row.seq, row.payload);
            // A payload that does not decode was never stored by the consumer (it decodes
            // first); file it under no period and no rule rather than retrying it forever.
            let notice = SupportPolicyNotice::decode(payload.as_slice()).unwrap_or_default();
            sqlx::query!(
                "UPDATE notices SET period = $2, rule_id = $3 WHERE seq = $1",
                seq,
                period_of(&notice),
                notice.rule_id,
            )
            .execute(&mut *tx)
            .await?;
            filled += 1;
        }
        tx.commit().await?;
    }
}

/// A stored notice with its state now.
#[derive(Debug, Clone)]
pub struct Entry {
    pub cursor: Cursor,
    /// As received, except `due_at`: the deadline the store applies.
    pub notice: SupportPolicyNotice,
    pub state: NoticeState,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub acknowledged_by: Option<String>,
}

impl Entry {
    pub fn into_proto(self) -> NoticeEntry {
        NoticeEntry {
            notice: Some(self.notice),
            state: self.state as i32,
            acknowledged_at: self.acknowledged_at.map(to_timestamp),
            acknowledged_by: self.acknowledged_by.unwrap_or_default(),
        }
    }
}

#[derive(sqlx::FromRow)]
struct Row {
    seq: i64,
    payload: Vec<u8>,
    deadline: DateTime<Utc>,
    state: String,
    acknowledged_at: Option<DateTime<Utc>>,
    acknowledged_by: Option<String>,
}

/// What a read of the notice store can answer besides its rows, in the store's own words;
/// the API maps it to a status once (`api`).
/// (Written out rather than derived: the crate does without `thiserror`.)
#[derive(Debug)]
pub enum StoreError {
    /// A stored notice the service cannot read: the database was changed behind its back.
    Corrupt { seq: i64, what: &'static str },
    /// The database failed or could not be reached.
    Database(sqlx::Error),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Corrupt { seq, what } => write!(f, "notice seq {seq}: {what}"),
            StoreError::Database(err) => err.fmt(f),
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StoreError::Corrupt { .. } => None,
            StoreError::Database(err) => err.source(),
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        StoreError::Database(err)
    }
}

impl TryFrom<Row> for Entry {
    type Error = StoreError;

    fn try_from(row: Row) -> Result<Self, StoreError> {
        let seq = row.seq;
        let corrupt = |what: &'static str| StoreError::Corrupt { seq, what };
        let mut notice = SupportPolicyNotice::decode(row.payload.as_slice())
            .map_err(|_| corrupt("payload does not decode"))?;
        notice.due_at = Some(to_timestamp(row.deadline));
        let state = model::state_from_name(&row.state).ok_or_else(|| corrupt("unknown state"))?;
        Ok(Entry {
            cursor: Cursor(row.seq),
            notice,
            state,
            acknowledged_at: row.acknowledged_at,
            acknowledged_by: row.acknowledged_by,
        })
    }
}

/// The list query: `department`'s notices matching `filter`, below `before` when given, the
/// newest `limit` first, with their deadline (the producer's `due_at`, else `issued_at` +
/// `overdue_after_ms`) and their state now, as every read of entries computes them; `prefix`
/// goes before it (`EXPLAIN …` in a test).
///
/// Only the filters given become conditions, so each combination is a statement of its own
/// whose plan can use the matching index (an `$n IS NULL OR …` form cannot, once PostgreSQL
/// switches a prepared statement to its generic plan).
fn list_query(
    prefix: &str,
    overdue_after_ms: i64,
    department: Department,
    filter: &Filter,
    before: Option<Cursor>,
    limit: i64,
) -> QueryBuilder<Postgres> {
    let mut query = QueryBuilder::new(prefix);
    query
        .push(
            "SELECT n.seq, n.payload, d.deadline, s.state, n.acknowledged_at, n.acknowledged_by
             FROM notices n
             CROSS JOIN LATERAL (SELECT coalesce(n.due_at, n.issued_at + ",
        )
        .push_bind(overdue_after_ms)
        .push(
            "::bigint * interval '1 millisecond') AS deadline) d
             CROSS JOIN LATERAL (SELECT CASE WHEN n.acknowledged_at IS NOT NULL THEN 'acknowledged'
                                             WHEN d.deadline <= now() THEN 'overdue'
                                             ELSE 'open' END AS state) s
             WHERE n.department = ",
        )
        .push_bind(department.as_str());
    for (column, value) in [
        ("s.state", &filter.state),
        ("n.period", &filter.period),
        ("n.uscc", &filter.uscc),
        ("n.rule_id", &filter.rule_id),
        ("n.kind", &filter.kind),
    ] {
        if let Some(value) = value {
            query
                .push(" AND ")
                .push(column)
                .push(" = ")
                .push_bind(value.as_str());
        }
    }
    if let Some(before) = before {
        query.push(" AND n.seq < ").push_bind(before.0);
    }
    query.push(" ORDER BY n.seq DESC LIMIT ").push_bind(limit);
    query
}

/// Reads and acknowledges notices for the API.
#[derive(Clone)]
pub struct NoticeStore {
    pool: PgPool,
    /// `overdue_after` in milliseconds, as bound into the queries.
    overdue_after_ms: i64,
}

impl NoticeStore {
    pub fn new(pool: PgPool, overdue_after: Duration) -> Self {
        Self {
            pool,
            overdue_after_ms: i64::try_from(overdue_after.as_millis()).unwrap_or(i64::MAX),
        }
    }

    /// Up to `limit` of `department`'s notices, newest (highest sequence) first, below
    /// `before` when given, matching every filter given. The period, USCC and rule filters
    /// each have an index with the department and the sequence (migration 0101), so a
    /// selective filter reads its own rows, not the department's whole history.
    pub async fn list(
        &self,
        department: Department,
        filter: &Filter,
        before: Option<Cursor>,
        limit: i64,
    ) -> Result<Vec<Entry>, StoreError> {
        let mut query = list_query("", self.overdue_after_ms, department, filter, before, limit);
        let rows: Vec<Row> = query.build_query_as().fetch_all(&self.pool).await?;
        rows.into_iter().map(Entry::try_from).collect()
    }

    /// Up to `limit` of `department`'s notices after `cursor`, oldest first.
    pub async fn after(
        &self,
        department: Department,
        cursor: Cursor,
        limit: i64,
    ) -> Result<Vec<Entry>, StoreError> {
        // The deadline and the state as `list_query` computes them (the macros take one
        // literal, so the text is repeated).
        let rows = sqlx::query_as!(
            Row,
            r#"SELECT n.seq, n.payload, d.deadline AS "deadline!", s.state AS "state!",
                    n.acknowledged_at, n.acknowledged_by
             FROM notices n
             CROSS JOIN LATERAL (SELECT coalesce(n.due_at, n.issued_at + $1::bigint * interval '1 millisecond') AS deadline) d
             CROSS JOIN LATERAL (SELECT CASE WHEN n.acknowledged_at IS NOT NULL THEN 'acknowledged'
                                             WHEN d.deadline <= now() THEN 'overdue'
                                             ELSE 'open' END AS state) s
             WHERE n.department = $2 AND n.seq > $3 ORDER BY n.seq LIMIT $4"#,
            self.overdue_after_ms,
            department.as_str(),
            cursor.0,
            limit,
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(Entry::try_from).collect()
    }

    /// Marks `department`'s notice `notice_id` acknowledged by `by`, unless it already is: the
    /// first acknowledgement's time and principal stay. `None` when the department has no such
    /// notice (another department's notice is not revealed to exist).
    pub async fn acknowledge(
        &self,
        department: Department,
        notice_id: &str,
        by: &str,
    ) -> Result<Option<Entry>, StoreError> {
        let row = sqlx::query_as!(
            Row,
            r#"WITH acked AS (
                 UPDATE notices
                    SET acknowledged_at = coalesce(acknowledged_at, now()),
                        acknowledged_by = coalesce(acknowledged_by, $4)
                  WHERE notice_id = $2 AND department = $3
              RETURNING *)
             SELECT n.seq AS "seq!", n.payload AS "payload!", d.deadline AS "deadline!",
                    s.state AS "state!", n.acknowledged_at, n.acknowledged_by
             FROM acked n
             CROSS JOIN LATERAL (SELECT coalesce(n.due_at, n.issued_at + $1::bigint * interval '1 millisecond') AS deadline) d
             CROSS JOIN LATERAL (SELECT CASE WHEN n.acknowledged_at IS NOT NULL THEN 'acknowledged'
                                             WHEN d.deadline <= now() THEN 'overdue'
                                             ELSE 'open' END AS state) s"#,
            self.overdue_after_ms,
            notice_id,
            department.as_str(),
            by,
        )
        .fetch_optional(&self.pool)
        .await?;
        row.map(Entry::try_from).transpose()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use haicheng_proto::common::v1 as common;
    use testkit::TestDatabase;

    use super::*;

    fn new_notice(id: &str) -> NewNotice {
        NewNotice {
            notice: SupportPolicyNotice {
                notice_id: id.into(),
                department: common::Department::Finance as i32,
                ..Default::default()
            },
            department: Department::Finance,
            issued_at: Utc::now(),
            due_at: None,
            event_id: Uuid::now_v7(),
        }
    }

    /// A narrow filter reads through its own index, not the department's whole history.
    #[tokio::test(flavor = "multi_thread")]
    async fn a_period_uscc_or_rule_filter_uses_its_index() {
        let db = TestDatabase::create().await;
        let pool = db.pool().await;
        platform::db::migrate(&pool, &crate::MIGRATIONS)
            .await
            .unwrap();
        // 3,000 notices of one period, firm and rule; 10 of another of each.
        sqlx::query(
            "INSERT INTO notices (notice_id, department, uscc, kind, source, issued_at, payload,
                                  event_id, period, rule_id)
             SELECT 'n' || i, 'finance', CASE WHEN i <= 10 THEN 'rare' ELSE 'common' END, 'k',
                    'tests', now(), '\\x'::bytea, gen_random_uuid(),
                    CASE WHEN i <= 10 THEN '2025' ELSE '2024' END,
                    CASE WHEN i <= 10 THEN 'rare-rule' ELSE 'common-rule' END
               FROM generate_series(1, 3000) i",
        )
        .execute(&pool)
        .await
        .unwrap();
        sqlx::query("ANALYZE notices").execute(&pool).await.unwrap();
        for (filter, index) in [
            (
                Filter {
                    period: Some("2025".into()),
                    ..Filter::default()
                },
                "notices_department_period_seq",
            ),
            (
                Filter {
                    uscc: Some("rare".into()),
                    ..Filter::default()
                },
                "notices_department_uscc_seq",
            ),
            (
                Filter {
                    rule_id: Some("rare-rule".into()),
                    ..Filter::default()
                },
                "notices_department_rule_seq",
            ),
        ] {
            let mut query = list_query(
                "EXPLAIN (FORMAT JSON) ",
                60_000,
                Department::Finance,
                &filter,
                None,
                51,
            );
            let query = query.build_query_scalar::<serde_json::Value>();
            let plan = query.fetch_one(&pool).await.unwrap();
            assert!(
                plan.to_string().contains(index),
                "{filter:?} uses {index}: {plan}"
            );
        }
    }

    /// Notices stored before migration 0101 get their period and rule from the payload.
    #[tokio::test(flavor = "multi_thread")]
    async fn the_backfill_files_older_notices_under_their_period_and_rule() {
        let db = TestDatabase::create().await;
        let pool = db.pool().await;
        platform::db::migrate(&pool, &crate::MIGRATIONS)
            .await
            .unwrap();
        let mut tx = pool.begin().await.unwrap();
        for (id, period) in [("old-1", Some("2025Q3")), ("old-2", None)] {
            let mut new = new_notice(id);
            new.notice.period = period.map(|code| common::Period { code: code.into() });
            new.notice.rule_id = format!("rule-{id}");
            assert!(insert(&mut tx, &new).await.unwrap());
        }
        tx.commit().await.unwrap();
        // As a row written before the columns existed.
        sqlx::query("UPDATE notices SET period = NULL, rule_id = NULL")
            .execute(&pool)
            .await
            .unwrap();

        assert_eq!(backfill_filter_columns(&pool).await.unwrap(), 2);
        let rows: Vec<(String, Option<String>, Option<String>)> =
            sqlx::query_as("SELECT notice_id, period, rule_id FROM notices ORDER BY notice_id")
                .fetch_all(&pool)
                .await
                .unwrap();
        assert_eq!(
            rows,
            [
                (
                    "old-1".into(),
                    Some("2025Q3".into()),
                    Some("rule-old-1".into())
                ),
                (
                    "old-2".into(),
                    Some(String::new()),
                    Some("rule-old-2".into())
                ),
            ]
        );
        assert_eq!(
            backfill_filter_columns(&pool).await.unwrap(),
            0,
            "done once"
        );
    }

    /// Without the insert lock, B (drawn later, committed first) would be read, the reader's
    /// cursor would pass A's sequence number, and A would never be streamed.
    #[tokio::test(flavor = "multi_thread")]
    async fn a_later_insert_waits_so_notices_commit_in_sequence_order() {
        let db = TestDatabase::create().await;
        let pool = db.pool().await;
        platform::db::migrate(&pool, &crate::MIGRATIONS)
            .await
            .unwrap();
        let store = NoticeStore::new(pool.clone(), Duration::from_secs(60));

        let mut first = pool.begin().await.unwrap();
        assert!(insert(&mut first, &new_notice("a")).await.unwrap());
        let second = tokio::spawn({
            let pool = pool.clone();
            async move {
                let mut tx = pool.begin().await.unwrap();
                assert!(insert(&mut tx, &new_notice("b")).await.unwrap());
                tx.commit().await.unwrap();
            }
        });
        // B is seen waiting for the insert lock that A's open transaction holds.
        let waiting = testkit::wait_until(Duration::from_secs(10), || async {
            sqlx::query_scalar::<_, i64>(
                "SELECT count(*) FROM pg_locks
                 WHERE locktype = 'advisory' AND NOT granted
                   AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            )
            .fetch_one(&pool)
            .await
            .is_ok_and(|n| n == 1)
        })
        .await;
        assert!(waiting, "b waits for a's transaction");
        assert!(!second.is_finished(), "b has not stored anything yet");
        let visible = store
            .after(Department::Finance, Cursor::START, 10)
            .await
            .unwrap();
        assert!(visible.is_empty(), "nothing is visible before a commits");

        first.commit().await.unwrap();
        second.await.unwrap();
        let visible = store
            .after(Department::Finance, Cursor::START, 10)
            .await
            .unwrap();
        let ids: Vec<&str> = visible
            .iter()
            .map(|e| e.notice.notice_id.as_str())
            .collect();
        assert_eq!(ids, ["a", "b"]);
        assert!(visible[0].cursor < visible[1].cursor);

        let mut again = pool.begin().await.unwrap();
        assert!(
            !insert(&mut again, &new_notice("a")).await.unwrap(),
            "the same notice id is stored once"
        );
        again.commit().await.unwrap();
    }
}
