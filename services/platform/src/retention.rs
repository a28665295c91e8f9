//! Retention: sent outbox rows and inbox ids are deleted once they are older than their
//! windows (`OUTBOX_RETENTION`, `INBOX_RETENTION`), so both tables stay bounded.
//!
//! Each statement deletes at most one batch (1,000 rows by default) and the sweep pauses
//! between batches, so it never holds many row locks or runs a long statement next to the
//! service's own traffic. Unsent outbox rows are never deleted, however old. An outbox row's
//! age counts from its creation, not from when it was (last) sent: a replay
//! ([`crate::outbox::replay`]) can then never re-publish an event older than
//! `OUTBOX_RETENTION`, and consumers, which keep ids for `INBOX_RETENTION` (longer than
//! `OUTBOX_RETENTION` plus the topics' retention: see `PlatformConfig::inbox_retention`),
//! still recognise every replayed event, even one re-read from the topic later. Several
//! replicas may sweep at once: a batch skips rows another has locked.

use std::time::Duration;

use opentelemetry::metrics::Counter;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::telemetry::attr;

/// Rows deleted per statement.
const BATCH_SIZE: i64 = 1_000;
/// The pause between two batches of one sweep.
const PAUSE: Duration = Duration::from_millis(100);
/// How often a sweep starts; the first starts at once.
const INTERVAL: Duration = Duration::from_secs(5 * 60);

/// What one step or one sweep deleted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    pub outbox: u64,
    pub inbox: u64,
}

/// Deletes expired outbox and inbox rows of one database.
pub struct Sweeper {
    pool: PgPool,
    outbox_retention: Duration,
    inbox_retention: Duration,
    batch_size: i64,
    deleted: Counter<u64>,
}

impl Sweeper {
    pub fn new(pool: PgPool, outbox_retention: Duration, inbox_retention: Duration) -> Self {
        let deleted = opentelemetry::global::meter("platform.retention")
            .u64_counter("retention.deleted")
            .with_description("expired outbox and inbox rows deleted")
            .build();
        Self {
            pool,
            outbox_retention,
            inbox_retention,
            batch_size: BATCH_SIZE,
            deleted,
        }
    }

    /// Deletes at most `size` rows of each table per step (tests use small batches).
    pub fn with_batch_size(mut self, size: i64) -> Self {
        self.batch_size = size.max(1);
        self
    }

    /// One batch from each table: sent outbox rows created before `now - OUTBOX_RETENTION`,
    /// inbox ids processed before `now - INBOX_RETENTION` (the database's clock).
    pub async fn step(&self) -> sqlx::Result<Swept> {
        let outbox = sqlx::query!(
            "DELETE FROM outbox WHERE id IN (
                 SELECT o.id FROM outbox o CROSS JOIN outbox_relay r
                 WHERE o.created_at < now() - $1::bigint * interval '1 millisecond'
                   AND pg_visible_in_snapshot(o.xid, r.base)
                   AND NOT EXISTS (SELECT 1 FROM outbox_retry t WHERE t.id = o.id)
                 LIMIT $2 FOR UPDATE OF o SKIP LOCKED)",
            millis(self.outbox_retention),
            self.batch_size,
        )
        .execute(&self.pool)
        .await?
        .rows_affected();
        let inbox = sqlx::query!(
            "DELETE FROM inbox WHERE (consumer, event_id) IN (
                 SELECT consumer, event_id FROM inbox
                 WHERE processed_at < now() - $1::bigint * interval '1 millisecond'
                 LIMIT $2 FOR UPDATE SKIP LOCKED)",
            millis(self.inbox_retention),
            self.batch_size,
        )
        .execute(&self.pool)
        .await?
        .rows_affected();
        self.deleted.add(outbox, &[attr("table", "outbox")]);
        self.deleted.add(inbox, &[attr("table", "inbox")]);
        Ok(Swept { outbox, inbox })
    }

    /// Steps until a step finds nothing more to delete, pausing between batches; returns
    /// early (with what it deleted so far) on `shutdown`.
    pub async fn sweep(&self, shutdown: &CancellationToken) -> sqlx::Result<Swept> {
        let mut total = Swept::default();
        loop {
            let step = self.step().await?;
            total.outbox += step.outbox;
            total.inbox += step.inbox;
            let full = self.batch_size as u64;
            if step.outbox < full && step.inbox < full {
                return Ok(total);
            }
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(total),
                _ = tokio::time::sleep(PAUSE) => {}
            }
        }
    }

    /// Sweeps at once and then every five minutes until `shutdown`. A failed sweep (the
    /// database away) is logged and tried again at the next interval.
    pub async fn run(self, shutdown: CancellationToken) {
        while !shutdown.is_cancelled() {
            match self.sweep(&shutdown).await {
                Ok(swept) if swept != Swept::default() => tracing::info!(
                    outbox = swept.outbox,
                    inbox = swept.inbox,
                    "retention: expired rows deleted"
                ),
                Ok(_) => {}
                Err(err) => tracing::warn!(
                    error = format!("{err:#}"),
                    "retention: sweep failed; trying again later"
                ),
            }
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(INTERVAL) => {}
            }
        }
    }
}

fn millis(span: Duration) -> i64 {
    i64::try_from(span.as_millis()).unwrap_or(i64::MAX)
}
