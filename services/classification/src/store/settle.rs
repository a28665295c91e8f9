//! Settling a period (通知结算): its notices, computed against what the departments were last
//! notified of, once its classes have stopped moving.
//!
//! A re-rank publishes every change of class in force as an `EnterpriseClassified` and marks
//! the period unsettled; it sends no notice. Once the period has had no change of class for
//! the settle time (`CLASSIFICATION_NOTICE_SETTLE`) and no re-rank is pending, one
//! transaction under the period's lock compares each firm's class in force with its row in
//! `notified_classes`, enqueues the notices of every difference and records the class as
//! notified. So a firm that went A→B→A meanwhile gets nothing, and one that really moved gets
//! the notices of its net transition, numbered by its sequence of settled transitions.

use std::{collections::HashMap, time::Duration};

use chrono::Utc;
use platform::Outbox;
use sqlx::{PgConnection, PgPool, types::Json};

use super::{Store, outgoing, try_lock_period};
use crate::domain::{
    Class,
    policy::{Cause, NoticeRule, Transition},
};

/// What one settle did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SettleOutcome {
    /// Firms whose class in force differed from the one notified.
    pub transitions: usize,
    pub notices: usize,
}

/// Records that `period`'s classes changed now (the database's clock): its settle waits. Called
/// by the re-rank while the period is still marked dirty, whose trace the settle continues.
pub async fn mark_changed(conn: &mut PgConnection, period: &str) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO unsettled_periods (period, last_change_at, trace_headers)
         VALUES ($1, clock_timestamp(),
                 COALESCE((SELECT trace_headers FROM dirty_periods WHERE period = $1), '{}'))
         ON CONFLICT (period) DO UPDATE SET
             last_change_at = EXCLUDED.last_change_at, trace_headers = EXCLUDED.trace_headers",
        period,
    )
    .execute(conn)
    .await
    .map(|_| ())
}

/// Trace context headers, as stored.
type Trace = Json<HashMap<String, String>>;

/// A period due to settle, with the trace context of its last change.
pub type DuePeriod = (String, Trace);

impl Store {
    /// The unsettled periods with no re-rank pending: those quiet for `settle` now, and how long
    /// until the next of the others is (`None`: no other). A settle time of zero asks for notices
    /// as the ranking moves: every unsettled period is due after each re-rank, pending or not
    /// (under a steady stream of returns a re-rank is nearly always pending, and notices would
    /// otherwise wait for the stream to stop).
    pub async fn due_periods(
        &self,
        settle: Duration,
    ) -> sqlx::Result<(Vec<DuePeriod>, Option<Duration>)> {
        let pool = &self.pool;
        let rows = sqlx::query!(
            r#"SELECT u.period,
                    GREATEST(0, EXTRACT(EPOCH FROM (u.last_change_at - clock_timestamp())) * 1000 + $1::float8)::float8
                        AS "wait_ms!",
                    u.trace_headers AS "trace_headers: Trace"
             FROM unsettled_periods u
             WHERE $1::float8 = 0 OR NOT EXISTS (SELECT 1 FROM dirty_periods d WHERE d.period = u.period)
             ORDER BY u.last_change_at"#,
            settle.as_secs_f64() * 1000.0,
        )
        .map(|r| (r.period, r.wait_ms, r.trace_headers))
        .fetch_all(pool)
        .await?;
        let mut due = Vec::new();
        let mut next: Option<Duration> = None;
        for (period, wait_ms, trace) in rows {
            if wait_ms > 0.0 {
                let wait = Duration::from_secs_f64(wait_ms / 1000.0);
                next = Some(next.map_or(wait, |n| n.min(wait)));
            } else {
                due.push((period, trace));
            }
        }
        Ok((due, next))
    }
}

impl Store {
    /// Settles `period` now, whatever its quiet time (tests call this directly): `None` if
    /// another transaction holds the period's lock.
    pub async fn settle_period(&self, period: &str) -> anyhow::Result<Option<SettleOutcome>> {
        let pool = &self.pool;
        let outbox = &self.outbox;
        let rules: &[NoticeRule] = &self.rules;
        settle(pool, outbox, rules, period, None).await
    }
}

impl Store {
    /// As [`settle_period`] if the period is still due under its lock (quiet for `quiet`, no
    /// re-rank pending): another replica may have settled it, and a change left it unsettled
    /// again, since [`due_periods`] was read. Not due: nothing is done.
    pub async fn settle_if_due(
        &self,
        period: &str,
        quiet: Duration,
    ) -> anyhow::Result<Option<SettleOutcome>> {
        let pool = &self.pool;
        let outbox = &self.outbox;
        let rules: &[NoticeRule] = &self.rules;
        settle(pool, outbox, rules, period, Some(quiet)).await
    }
}

async fn settle(
    pool: &PgPool,
    outbox: &Outbox,
    rules: &[NoticeRule],
    period: &str,
    quiet: Option<Duration>,
) -> anyhow::Result<Option<SettleOutcome>> {
    let mut tx = pool.begin().await?;
    if !try_lock_period(&mut tx, period).await? {
        return Ok(None);
    }
    if let Some(quiet) = quiet {
        let due = sqlx::query_scalar!(
            r#"SELECT EXISTS (
                 SELECT 1 FROM unsettled_periods u
                 WHERE u.period = $1
                   AND u.last_change_at <= clock_timestamp() - make_interval(secs => $2)
                   AND ($2 = 0
                        OR NOT EXISTS (SELECT 1 FROM dirty_periods d WHERE d.period = u.period)))
               AS "due!""#,
            period,
            quiet.as_secs_f64(),
        )
        .fetch_one(&mut *tx)
        .await?;
        if !due {
            return Ok(Some(SettleOutcome::default()));
        }
    }
    let outcome = settle_locked(&mut tx, outbox, rules, period).await?;
    tx.commit().await?;
    Ok(Some(outcome))
}

/// The settle itself, in the caller's transaction holding the period's lock: the notices of
/// every firm of `period` against the class last notified, and the period no longer
/// unsettled. Publishing a period calls it too.
pub async fn settle_locked(
    tx: &mut PgConnection,
    outbox: &Outbox,
    rules: &[NoticeRule],
    period: &str,
) -> sqlx::Result<SettleOutcome> {
    let outcome = notify(&mut *tx, outbox, rules, period, None).await?;
    sqlx::query!("DELETE FROM unsettled_periods WHERE period = $1", period,)
        .execute(&mut *tx)
        .await?;
    Ok(outcome)
}

struct Pending {
    uscc: String,
    name: String,
    class: Option<Class>,
    model_version: i64,
    notified_class: Option<Class>,
    sequence: i64,
}

/// In the caller's transaction holding the period's lock: the notices of every firm of
/// `period` (only `uscc` when given) whose class in force is not the one notified, and the
/// class recorded as notified.
pub async fn notify(
    tx: &mut PgConnection,
    outbox: &Outbox,
    rules: &[NoticeRule],
    period: &str,
    uscc: Option<&str>,
) -> sqlx::Result<SettleOutcome> {
    let pending = sqlx::query_as!(
        Pending,
        r#"SELECT c.uscc, c.name, c.class AS "class: Class", c.model_version,
                n.class AS "notified_class?: Class", COALESCE(n.sequence, 0) AS "sequence!"
         FROM classifications c
         LEFT JOIN notified_classes n ON n.period = c.period AND n.uscc = c.uscc
         WHERE c.period = $1 AND ($2::text IS NULL OR c.uscc = $2)
           AND c.class IS DISTINCT FROM n.class
         ORDER BY c.uscc"#,
        period,
        uscc,
    )
    .fetch_all(&mut *tx)
    .await?;
    if pending.is_empty() {
        return Ok(SettleOutcome::default());
    }
    let at = Utc::now();
    let mut outcome = SettleOutcome {
        transitions: pending.len(),
        notices: 0,
    };
    // A chunk of firms at a time: a period of 100,000 firms has some 230,000 notices, which
    // held at once (with their texts and encoded events) took 500 MiB.
    for firms in pending.chunks(NOTIFY_CHUNK) {
        let mut notices = Vec::new();
        for firm in firms {
            let cause = Cause {
                uscc: &firm.uscc,
                name: &firm.name,
                period,
                model_version: firm.model_version,
                transition: Transition {
                    from: firm.notified_class,
                    to: firm.class,
                },
                sequence: firm.sequence + 1,
            };
            notices.extend(crate::events::notices(&cause, at, rules));
        }
        outgoing::enqueue_notices(&mut *tx, outbox, &notices).await?;
        record_notified(&mut *tx, period, firms, at).await?;
        outcome.notices += notices.len();
    }
    Ok(outcome)
}

/// Firms notified per statement pair (their notices, their notified classes).
const NOTIFY_CHUNK: usize = 1_000;

/// The firms' classes in force as notified, each with its next sequence number.
async fn record_notified(
    tx: &mut PgConnection,
    period: &str,
    firms: &[Pending],
    at: chrono::DateTime<Utc>,
) -> sqlx::Result<()> {
    let usccs: Vec<&str> = firms.iter().map(|f| f.uscc.as_str()).collect();
    let classes: Vec<Option<&str>> = firms.iter().map(|f| f.class.map(Class::as_str)).collect();
    let versions: Vec<i64> = firms.iter().map(|f| f.model_version).collect();
    let sequences: Vec<i64> = firms.iter().map(|f| f.sequence + 1).collect();
    sqlx::query!(
        "INSERT INTO notified_classes (period, uscc, class, model_version, sequence, notified_at)
         SELECT $1, t.uscc, t.class, t.model_version, t.sequence, $2
         FROM unnest($3::text[], $4::text[], $5::int8[], $6::int8[])
              AS t(uscc, class, model_version, sequence)
         ON CONFLICT (period, uscc) DO UPDATE SET
             class = EXCLUDED.class, model_version = EXCLUDED.model_version,
             sequence = EXCLUDED.sequence, notified_at = EXCLUDED.notified_at",
        period,
        at,
        &usccs as _,
        &classes as _,
        &versions,
        &sequences,
    )
    .execute(tx)
    .await
    .map(|_| ())
}
