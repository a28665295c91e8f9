//! Transactional outbox: [`Outbox::enqueue`] writes an event in the caller's transaction;
//! the [`Relay`] publishes committed rows and marks them sent.
//!
//! Delivery is at least once: a relay that dies between the broker's acknowledgement and
//! its own commit publishes that batch again, and consumers drop the copy by `ce_id`.
//! Rows are claimed with `FOR UPDATE SKIP LOCKED`, and each batch also takes a transaction
//! advisory lock, so that with several replicas only one relay publishes at a time: two
//! relays publishing interleaved batches could reorder the events of one key.
//! [`replay`] re-queues retained sent rows; [`crate::retention`] deletes expired ones.

pub mod replay;

use std::{collections::HashMap, time::Duration};

use chrono::{DateTime, Utc};
use futures::future::join_all;
use opentelemetry::metrics::{Counter, Gauge};
use prost::{Message, Name};
use sqlx::{PgConnection, PgPool, types::Json};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use uuid::Uuid;

use crate::{
    backoff::Backoff,
    bus::{CloudEvent, Producer, cloudevents::TraceCarrier},
    notify, telemetry,
};

/// The channel a commit with new outbox rows notifies, so the relay need not wait for its poll.
const WAKE_CHANNEL: &str = "haicheng_outbox";
/// Key of the advisory lock that makes one relay per database publish at a time.
pub const RELAY_LOCK: i64 = 0x6f75_7462_6f78; // "outbox"

/// An event to publish, built from its protobuf message.
#[derive(Debug, Clone)]
pub struct OutgoingEvent {
    pub topic: String,
    /// The Kafka message key: the aggregate id, so one aggregate's events stay in order.
    pub key: String,
    /// `ce_subject`; the key unless set otherwise.
    pub subject: String,
    /// `ce_type`: the message's protobuf full name.
    pub ce_type: String,
    pub payload: Vec<u8>,
}

impl OutgoingEvent {
    pub fn new<M: Message + Name>(topic: &str, key: impl Into<String>, message: &M) -> Self {
        let key = key.into();
        Self {
            topic: topic.to_string(),
            subject: key.clone(),
            key,
            ce_type: M::full_name(),
            payload: message.encode_to_vec(),
        }
    }

    pub fn with_subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = subject.into();
        self
    }
}

/// Writes events into the outbox of the service named `source`.
#[derive(Debug, Clone)]
pub struct Outbox {
    source: String,
}

impl Outbox {
    pub fn new(source: impl Into<String>) -> Self {
        Self {
            source: source.into(),
        }
    }

    /// Adds `event` to the transaction behind `conn`; it is published only if that commits.
    /// Returns the event id (`ce_id`). The active trace context is stored with it.
    pub async fn enqueue(
        &self,
        conn: &mut PgConnection,
        event: OutgoingEvent,
    ) -> sqlx::Result<Uuid> {
        let id = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO outbox (event_id, topic, message_key, ce_type, ce_source, ce_subject, ce_time, payload, trace_headers)
             VALUES ($1, $2, $3, $4, $5, $6, now(), $7, $8)",
        )
        .bind(id)
        .bind(&event.topic)
        .bind(&event.key)
        .bind(&event.ce_type)
        .bind(&self.source)
        .bind(&event.subject)
        .bind(&event.payload)
        .bind(Json(telemetry::inject_current()))
        .execute(&mut *conn)
        .await?;
        sqlx::query("SELECT pg_notify($1, '')")
            .bind(WAKE_CHANNEL)
            .execute(&mut *conn)
            .await?;
        Ok(id)
    }

    /// [`enqueue`](Self::enqueue) for a bulk writer: every event and the relay's wake-up in
    /// one statement, one round trip whatever their number (an import batch of 500 rows
    /// otherwise pays 1,000). The rows take their ids in the order given, so the relay
    /// publishes them in that order. Returns the event ids in the same order.
    pub async fn enqueue_many(
        &self,
        conn: &mut PgConnection,
        events: Vec<OutgoingEvent>,
    ) -> sqlx::Result<Vec<Uuid>> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<Uuid> = events.iter().map(|_| Uuid::now_v7()).collect();
        let mut topics = Vec::with_capacity(events.len());
        let mut keys = Vec::with_capacity(events.len());
        let mut types = Vec::with_capacity(events.len());
        let mut subjects = Vec::with_capacity(events.len());
        let mut payloads = Vec::with_capacity(events.len());
        for event in events {
            topics.push(event.topic);
            keys.push(event.key);
            types.push(event.ce_type);
            subjects.push(event.subject);
            payloads.push(event.payload);
        }
        // A data-modifying CTE always runs; the notification follows it in the same statement.
        sqlx::query(
            "WITH inserted AS (
                INSERT INTO outbox (event_id, topic, message_key, ce_type, ce_source, ce_subject, ce_time, payload, trace_headers)
                SELECT e.event_id, e.topic, e.message_key, e.ce_type, $6, e.ce_subject, now(), e.payload, $8
                FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $7::bytea[])
                     WITH ORDINALITY AS e(event_id, topic, message_key, ce_type, ce_subject, payload, n)
                ORDER BY e.n
                RETURNING 1
             )
             SELECT pg_notify($9, '') FROM (SELECT 1 FROM inserted LIMIT 1) AS any_row",
        )
        .bind(&ids)
        .bind(&topics)
        .bind(&keys)
        .bind(&types)
        .bind(&subjects)
        .bind(&self.source)
        .bind(&payloads)
        .bind(Json(telemetry::inject_current()))
        .bind(WAKE_CHANNEL)
        .execute(&mut *conn)
        .await?;
        Ok(ids)
    }
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    event_id: Uuid,
    topic: String,
    message_key: String,
    ce_type: String,
    ce_source: String,
    ce_subject: String,
    ce_time: DateTime<Utc>,
    payload: Vec<u8>,
    trace_headers: Json<HashMap<String, String>>,
}

/// Publishes committed outbox rows.
pub struct Relay {
    pool: PgPool,
    producer: Producer,
    /// Rows claimed per transaction.
    batch_size: i64,
    /// How often to look for rows when no notification arrived.
    poll: Duration,
    /// Put before each row's topic when publishing (`KAFKA_TOPIC_PREFIX`).
    topic_prefix: String,
    metrics: RelayMetrics,
}

struct RelayMetrics {
    published: Counter<u64>,
    failed: Counter<u64>,
    backlog: Gauge<u64>,
}

/// What one pass of the relay did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    pub published: usize,
    pub failed: usize,
    /// Another relay holds the publishing lock; nothing was claimed.
    pub busy: bool,
}

impl Relay {
    pub fn new(pool: PgPool, producer: Producer, batch_size: i64, poll: Duration) -> Self {
        let meter = opentelemetry::global::meter("platform.outbox");
        let metrics = RelayMetrics {
            published: meter.u64_counter("outbox.published").build(),
            failed: meter.u64_counter("outbox.failed").build(),
            backlog: meter
                .u64_gauge("outbox.backlog")
                .with_description("unsent outbox rows")
                .build(),
        };
        Self {
            pool,
            producer,
            batch_size: batch_size.max(1),
            poll,
            topic_prefix: String::new(),
            metrics,
        }
    }

    /// Publishes every row to `prefix` + its topic.
    pub fn with_topic_prefix(mut self, prefix: &str) -> Self {
        self.topic_prefix = prefix.to_string();
        self
    }

    /// Publishes until `shutdown`; a batch under way is finished first. While the broker is
    /// away it backs off (up to 30 s) and loses nothing: rows stay until acknowledged.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut wakeups = notify::Listener::new(self.pool.clone(), &[WAKE_CHANNEL]);
        let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(30));
        while !shutdown.is_cancelled() {
            let wait = match self.publish_batch().await {
                Ok(outcome) if outcome.failed == 0 && !outcome.busy => {
                    backoff.reset();
                    if outcome.published as i64 == self.batch_size {
                        continue; // more rows are likely waiting
                    }
                    self.record_backlog().await;
                    self.poll
                }
                Ok(outcome) if outcome.busy => self.poll,
                Ok(outcome) => {
                    tracing::warn!(
                        failed = outcome.failed,
                        "outbox: events not delivered; backing off"
                    );
                    backoff.next_delay()
                }
                Err(err) => {
                    tracing::warn!(
                        error = format!("{err:#}"),
                        "outbox: relay pass failed; backing off"
                    );
                    backoff.next_delay()
                }
            };
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(wait) => {}
                // Any wake-up, a missed one included, just means "look again".
                _ = wakeups.next() => {}
            }
        }
    }

    async fn record_backlog(&self) {
        if let Ok(count) =
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM outbox WHERE sent_at IS NULL")
                .fetch_one(&self.pool)
                .await
        {
            self.metrics.backlog.record(count.max(0) as u64, &[]);
        }
    }

    /// Claims up to one batch of unsent rows, publishes them, awaits every delivery report,
    /// and marks the delivered rows sent, all in one transaction.
    pub async fn publish_batch(&self) -> anyhow::Result<BatchOutcome> {
        let mut tx = self.pool.begin().await?;
        let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
            .bind(RELAY_LOCK)
            .fetch_one(&mut *tx)
            .await?;
        if !locked {
            return Ok(BatchOutcome {
                busy: true,
                ..Default::default()
            });
        }
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, event_id, topic, message_key, ce_type, ce_source, ce_subject, ce_time, payload, trace_headers
             FROM outbox WHERE sent_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
        )
        .bind(self.batch_size)
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            return Ok(BatchOutcome::default());
        }

        // Everything is handed to the producer at once; it keeps per-partition order.
        let results = join_all(rows.iter().map(|row| self.publish(row))).await;
        let mut sent = Vec::new();
        let mut failed = Vec::new();
        let mut errors = Vec::new();
        for (row, result) in rows.iter().zip(results) {
            match result {
                Ok(()) => sent.push(row.id),
                Err(err) => {
                    failed.push(row.id);
                    errors.push(err.to_string());
                }
            }
        }
        sqlx::query(
            "UPDATE outbox SET sent_at = now(), attempts = attempts + 1 WHERE id = ANY($1)",
        )
        .bind(&sent)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE outbox SET attempts = attempts + 1, last_error = e.error
             FROM unnest($1::bigint[], $2::text[]) AS e(id, error) WHERE outbox.id = e.id",
        )
        .bind(&failed)
        .bind(&errors)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.metrics.published.add(sent.len() as u64, &[]);
        self.metrics.failed.add(failed.len() as u64, &[]);
        Ok(BatchOutcome {
            published: sent.len(),
            failed: failed.len(),
            busy: false,
        })
    }

    async fn publish(&self, row: &Row) -> Result<(), rdkafka::error::KafkaError> {
        let span = tracing::info_span!("outbox.publish", topic = %row.topic, event_id = %row.event_id, ce_type = %row.ce_type);
        telemetry::set_remote_parent(&span, &TraceCarrier(&row.trace_headers.0));
        let event = CloudEvent {
            id: row.event_id,
            ty: row.ce_type.clone(),
            source: row.ce_source.clone(),
            subject: row.ce_subject.clone(),
            time: row.ce_time,
            trace: span.in_scope(telemetry::inject_current),
        };
        let topic = format!("{}{}", self.topic_prefix, row.topic);
        self.producer
            .send(&topic, &row.message_key, &row.payload, &event)
            .instrument(span)
            .await
            .map(|_| ())
    }
}
