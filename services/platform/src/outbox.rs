//! Transactional outbox: [`Outbox::enqueue`] writes an event in the caller's transaction;
//! the [`Relay`] publishes committed rows in id order and records how far it got (a watermark).
//!
//! Delivery is at least once: a relay that dies between the broker's acknowledgement and
//! its recording publishes those rows again, and consumers drop the copy by `ce_id`. One relay
//! per database publishes at a time (an advisory lock): two relays publishing interleaved
//! could reorder the events of one key. [`replay`] re-queues retained sent rows;
//! [`crate::retention`] deletes expired ones.

mod relay;
pub mod replay;

use prost::{Message, Name};
use sqlx::{PgConnection, Postgres, QueryBuilder, types::Json};
use uuid::Uuid;

pub use relay::{PassOutcome, Relay, WINDOW_BATCHES};

use crate::telemetry;

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
        sqlx::query!(
            "INSERT INTO outbox (event_id, topic, message_key, ce_type, ce_source, ce_subject, ce_time, payload, trace_headers)
             VALUES ($1, $2, $3, $4, $5, $6, now(), $7, $8)",
            id,
            event.topic,
            event.key,
            event.ce_type,
            self.source,
            event.subject,
            event.payload,
            Json(telemetry::inject_current()) as _,
        )
        .execute(&mut *conn)
        .await?;
        sqlx::query!("SELECT pg_notify($1, '')", WAKE_CHANNEL)
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
        let mut statement = QueryBuilder::new("WITH ");
        let ids = self.push_enqueue_many(&mut statement, events);
        statement.build().execute(&mut *conn).await?;
        Ok(ids)
    }

    /// Completes `statement`, which holds `WITH ` and any data-modifying CTEs of the caller
    /// (each followed by `, `), with the insert of `events` and the relay's wake-up: the
    /// caller's rows and their events in one statement and one round trip (a submission's
    /// return and its event). A data-modifying CTE always runs, referenced or not, and the
    /// statement is atomic. Returns the event ids in the order given.
    pub fn push_enqueue_many(
        &self,
        statement: &mut QueryBuilder<Postgres>,
        events: Vec<OutgoingEvent>,
    ) -> Vec<Uuid> {
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
        statement.push(
            "outbox_inserted AS (
                INSERT INTO outbox (event_id, topic, message_key, ce_type, ce_source, ce_subject, ce_time, payload, trace_headers)
                SELECT e.event_id, e.topic, e.message_key, e.ce_type, ",
        );
        statement.push_bind(self.source.clone());
        statement.push(", e.ce_subject, now(), e.payload, ");
        statement.push_bind(Json(telemetry::inject_current()));
        statement.push(" FROM unnest(");
        statement.push_bind(ids.clone());
        statement.push("::uuid[], ");
        statement.push_bind(topics);
        statement.push("::text[], ");
        statement.push_bind(keys);
        statement.push("::text[], ");
        statement.push_bind(types);
        statement.push("::text[], ");
        statement.push_bind(subjects);
        statement.push("::text[], ");
        statement.push_bind(payloads);
        statement.push(
            "::bytea[]) WITH ORDINALITY AS e(event_id, topic, message_key, ce_type, ce_subject, payload, n)
                ORDER BY e.n
                RETURNING 1)
             SELECT pg_notify(",
        );
        statement.push_bind(WAKE_CHANNEL);
        statement.push(", '') FROM (SELECT 1 FROM outbox_inserted LIMIT 1) AS any_row");
        ids
    }
}
