//! The queue between the calls and the table: [`AuditLog`] hands records over without
//! waiting; one [`Writer`] task inserts them in batches; [`prune`] applies the retention.

use std::time::Duration;

use chrono::{DateTime, Utc};
use opentelemetry::metrics::Counter;
use serde_json::Value;
use sqlx::PgPool;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Records queued at most; beyond this an audited read is refused (UNAVAILABLE).
pub const QUEUE_CAPACITY: usize = 10_000;
/// Records per INSERT.
const BATCH: usize = 500;
/// Rows `audit_prune` deletes per call.
const PRUNE_BATCH: i32 = 1_000;
/// How often the retention runs.
const PRUNE_INTERVAL: Duration = Duration::from_secs(60 * 60);

/// One audited call.
#[derive(Clone, Debug)]
pub struct Record {
    pub at: DateTime<Utc>,
    /// The gRPC path.
    pub method: String,
    /// `department:finance`, …, or `anonymous`.
    pub principal: String,
    pub peer: Option<String>,
    /// The status code's name (`OK`, `PERMISSION_DENIED`).
    pub code: String,
    pub uscc: Option<String>,
    pub detail: Value,
}

/// The queue is full: the writer is not keeping up (or the database is away).
#[derive(Debug)]
pub struct Full;

/// Where calls hand their records; cheap to clone.
#[derive(Clone)]
pub struct AuditLog {
    queue: mpsc::Sender<Record>,
    dropped: Counter<u64>,
}

impl AuditLog {
    /// A log for `service` and the writer that empties it into `pool`'s `audit_log`.
    pub fn new(service: &'static str, pool: PgPool) -> (Self, Writer) {
        Self::with_capacity(service, pool, QUEUE_CAPACITY)
    }

    pub fn with_capacity(service: &'static str, pool: PgPool, capacity: usize) -> (Self, Writer) {
        let (queue, records) = mpsc::channel(capacity.max(1));
        let dropped = opentelemetry::global::meter("platform.audit")
            .u64_counter("audit.dropped")
            .with_description("audit records of refusals dropped because the queue was full")
            .build();
        let log = Self { queue, dropped };
        let writer = Writer {
            service,
            pool,
            records,
        };
        (log, writer)
    }

    /// Queues `record`; [`Full`] when the writer is behind by the whole queue.
    pub fn try_record(&self, record: Record) -> Result<(), Full> {
        self.queue.try_send(record).map_err(|_| Full)
    }

    /// Counts a record that could not be queued.
    pub(crate) fn count_dropped(&self) {
        self.dropped.add(1, &[]);
    }
}

/// Inserts the queued records, in batches, until stopped; then writes what is left.
pub struct Writer {
    service: &'static str,
    pool: PgPool,
    records: mpsc::Receiver<Record>,
}

impl Writer {
    /// Runs until `stop`, then drains the queue. A failed insert (the database away) is kept
    /// and tried again after a pause, so records wait in the queue rather than vanish.
    pub async fn run(mut self, stop: CancellationToken) {
        let mut batch = Vec::with_capacity(BATCH);
        loop {
            if batch.is_empty() {
                tokio::select! {
                    received = self.records.recv() => match received {
                        Some(record) => batch.push(record),
                        None => return,
                    },
                    _ = stop.cancelled() => break,
                }
            }
            while batch.len() < BATCH {
                match self.records.try_recv() {
                    Ok(record) => batch.push(record),
                    Err(_) => break,
                }
            }
            match self.insert(&batch).await {
                Ok(()) => batch.clear(),
                Err(err) => {
                    tracing::warn!(error = %err, rows = batch.len(), "audit: insert failed; retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                        _ = stop.cancelled() => break,
                    }
                }
            }
        }
        // Stopping: what is queued is written once more; the server has drained by now.
        self.records.close();
        while let Ok(record) = self.records.try_recv() {
            batch.push(record);
        }
        for chunk in batch.chunks(BATCH) {
            if let Err(err) = self.insert(chunk).await {
                tracing::error!(error = %err, rows = chunk.len(), "audit: records lost at shutdown");
            }
        }
    }

    async fn insert(&self, batch: &[Record]) -> sqlx::Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let column = |f: fn(&Record) -> Option<String>| batch.iter().map(f).collect::<Vec<_>>();
        sqlx::query!(
            "INSERT INTO audit_log (at, service, method, principal, peer, code, uscc, detail)
             SELECT at, $2, method, principal, peer, code, uscc, detail::jsonb
             FROM UNNEST($1::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[],
                         $7::text[], $8::text[])
                  AS r(at, method, principal, peer, code, uscc, detail)",
            &batch.iter().map(|r| r.at).collect::<Vec<_>>(),
            self.service,
            &column(|r| Some(r.method.clone())) as _,
            &column(|r| Some(r.principal.clone())) as _,
            &column(|r| r.peer.clone()) as _,
            &column(|r| Some(r.code.clone())) as _,
            &column(|r| r.uscc.clone()) as _,
            &column(|r| Some(r.detail.to_string())) as _,
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

/// Deletes audit records older than `retention` (never younger than 183 days: the function
/// refuses), one batch per call, until none is left. Runs as the runtime role through the
/// owner's `audit_prune`.
pub async fn prune(pool: &PgPool, retention: Duration) -> sqlx::Result<u64> {
    let millis = i64::try_from(retention.as_millis()).unwrap_or(i64::MAX);
    let mut total = 0;
    loop {
        let deleted: i64 = sqlx::query_scalar!(
            r#"SELECT audit_prune($1::bigint * interval '1 millisecond', $2) AS "deleted!""#,
            millis,
            PRUNE_BATCH
        )
        .fetch_one(pool)
        .await?;
        total += deleted.max(0) as u64;
        if deleted < i64::from(PRUNE_BATCH) {
            return Ok(total);
        }
    }
}

/// [`prune`] at once and then hourly until `stop`; a failure is logged and retried later.
pub async fn run_retention(pool: PgPool, retention: Duration, stop: CancellationToken) {
    while !stop.is_cancelled() {
        match prune(&pool, retention).await {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(deleted, "audit: expired records pruned"),
            Err(err) => tracing::warn!(error = %err, "audit: pruning failed; trying again later"),
        }
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(PRUNE_INTERVAL) => {}
        }
    }
}
