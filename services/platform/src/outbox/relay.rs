//! The relay: publishes committed outbox rows in id order and marks them sent.
//!
//! A *pass* holds the relay's advisory lock ([`RELAY_LOCK`], a session lock on one pooled
//! connection), so with several replicas one relay publishes at a time, and a replay waits for
//! the pass to end. Within a pass the relay is a pipeline: it claims a batch of unsent rows
//! (`OUTBOX_BATCH_SIZE`) and hands them to the producer, and keeps doing so while the broker
//! acknowledges earlier ones, up to [`WINDOW_BATCHES`] batches published and not yet marked.
//! Acknowledged rows are marked sent a batch at a time, one `UPDATE … WHERE id = ANY(…)` on a
//! second connection while the next batch is claimed on the first. No row lock is taken: only
//! the lock holder claims or marks rows.
//!
//! Order per key. Rows are handed to the producer one at a time in id order, and the
//! idempotent producer (`acks=all`) writes one partition in the order it was given. A row the
//! producer refuses when it is handed over (larger than `message.max.bytes`) or whose delivery
//! fails is never marked sent, and from that moment no later row of its key (topic and
//! message key) is handed over in the pass: they stay unsent, untried, and the next pass starts
//! again from the lowest unsent id, the failed row first. A refusal is known before the next
//! row is handed over, so nothing of its key overtakes it. A delivery failure is reported after
//! the fact: rows of the key handed over before the report were already with the producer (as
//! the rest of a batch was before the pipeline), and if one of those is delivered it is logged
//! as having overtaken the failed row. A refusal holds back only its key and the pass goes on;
//! a failed delivery (the broker away, most likely) ends the claiming, the pass finishes what
//! is in flight, and the relay backs off.
//!
//! Delivery is at least once: rows published but not yet marked when the relay dies (at most
//! [`Relay::unmarked_limit`]) are published again by the next pass, and consumers drop the
//! copies by `ce_id`.

use std::{
    collections::{HashMap, HashSet},
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};
use futures::{FutureExt, StreamExt, future::BoxFuture, stream::FuturesUnordered};
use opentelemetry::metrics::{Counter, Gauge};
use sqlx::{PgConnection, PgPool, Postgres, pool::PoolConnection, types::Json};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use uuid::Uuid;

use super::{RELAY_LOCK, WAKE_CHANNEL};
use crate::{
    backoff::Backoff,
    bus::{CloudEvent, Producer, cloudevents::TraceCarrier},
    notify, telemetry,
};

/// Batches published ahead of the marking: the pipeline's depth.
pub const WINDOW_BATCHES: usize = 8;
/// A pass claims at most this many batches, then ends (and the next starts at once), so a
/// replay waiting for the lock waits for a bounded pass, not for a backlog to drain.
const PASS_BATCHES: usize = 64;
/// The backlog gauge is read at most this often (a `count(*)` per pass would cost more than
/// a small pass itself).
const BACKLOG_EVERY: Duration = Duration::from_secs(5);

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
    /// Rows claimed per statement, and marked per statement.
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
pub struct PassOutcome {
    pub published: usize,
    pub failed: usize,
    /// Rows left unsent, untried, because an earlier row of their key failed in the pass.
    pub held_back: usize,
    /// Another relay holds the publishing lock; nothing was claimed.
    pub busy: bool,
    /// The pass ended at its bound with rows left: the next should start at once.
    pub more: bool,
}

/// The relay's lock for one pass: a session advisory lock on a pooled connection, released
/// at the end of the pass. A pass dropped half-way (its task aborted) closes the connection
/// rather than return it to the pool with the lock still held.
struct PassLock(Option<PoolConnection<Postgres>>);

impl PassLock {
    /// The lock, or `None` when another relay (or a replay) holds it.
    async fn try_take(pool: &PgPool) -> sqlx::Result<Option<Self>> {
        // Held as the lock from before the query: a task aborted while the query runs, or a
        // query that fails, closes the connection, whose session may hold the lock by then.
        let mut lock = Self(Some(pool.acquire().await?));
        let locked = sqlx::query_scalar!(
            r#"SELECT pg_try_advisory_lock($1) AS "locked!""#,
            RELAY_LOCK
        )
        .fetch_one(lock.conn())
        .await?;
        if locked {
            Ok(Some(lock))
        } else {
            drop(lock.0.take()); // not locked: back to the pool as it is
            Ok(None)
        }
    }

    fn conn(&mut self) -> &mut PgConnection {
        self.0.as_mut().expect("held until released")
    }

    async fn release(mut self) -> sqlx::Result<()> {
        let mut conn = self.0.take().expect("held until released");
        let unlocked = sqlx::query_scalar!("SELECT pg_advisory_unlock($1)", RELAY_LOCK)
            .fetch_one(&mut *conn)
            .await;
        if unlocked.is_err() {
            conn.close_on_drop();
        }
        unlocked.map(|_| ())
    }
}

impl Drop for PassLock {
    fn drop(&mut self) {
        if let Some(conn) = self.0.as_mut() {
            conn.close_on_drop();
        }
    }
}

/// A row handed to the producer, as its acknowledgement comes back.
struct Acknowledged {
    id: i64,
    key: StreamKey,
    result: Result<(), rdkafka::error::KafkaError>,
}

/// The stream a row's order matters in: its topic and message key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct StreamKey {
    topic: String,
    key: String,
}

/// The state of one pass.
#[derive(Default)]
struct Pass {
    /// Acknowledged, not yet marked sent.
    acked: Vec<i64>,
    /// Failed rows and why; recorded at the end of the pass.
    failures: Vec<(i64, String)>,
    /// Keys with a failed row in this pass: nothing more of theirs is handed over.
    blocked: HashSet<StreamKey>,
    /// A delivery failed (the broker away, most likely): nothing more is claimed.
    delivery_failed: bool,
    published: usize,
    held_back: usize,
}

/// Where the claiming of a pass stands.
#[derive(Default)]
struct Cursor {
    /// The id of the last row claimed: the next claim starts after it.
    after: i64,
    batches: usize,
    /// The last claim found fewer rows than a batch: nothing more to claim now.
    exhausted: bool,
}

impl Cursor {
    /// Whether the pass claims more: rows may be left, the pass is within its bound, and no
    /// delivery failed (a refused row holds back only its key; a failed delivery means the
    /// broker is likely away, so the pass finishes what is in flight and ends).
    fn open(&self, pass: &Pass) -> bool {
        !self.exhausted && self.batches < PASS_BATCHES && !pass.delivery_failed
    }
}

impl Pass {
    fn fail(&mut self, id: i64, key: StreamKey, err: &rdkafka::error::KafkaError) {
        self.failures.push((id, err.to_string()));
        self.blocked.insert(key);
    }

    fn acknowledged(&mut self, ack: Acknowledged) {
        match ack.result {
            Ok(()) => {
                if self.blocked.contains(&ack.key) {
                    tracing::warn!(
                        outbox_id = ack.id,
                        topic = %ack.key.topic,
                        "outbox: an event was delivered after an earlier event of its key failed"
                    );
                }
                self.acked.push(ack.id);
            }
            Err(err) => {
                self.delivery_failed = true;
                self.fail(ack.id, ack.key, &err);
            }
        }
    }
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

    /// At most this many rows are published and not yet marked sent at any time (the window,
    /// and a batch being marked): what a relay that dies may publish a second time.
    pub fn unmarked_limit(&self) -> usize {
        self.batch_size as usize * (WINDOW_BATCHES + 1)
    }

    /// Publishes until `shutdown`; a pass under way is finished first. While the broker is
    /// away it backs off (up to 30 s) and loses nothing: rows stay until acknowledged.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut wakeups = notify::Listener::new(self.pool.clone(), &[WAKE_CHANNEL]);
        let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(30));
        let mut backlog_read: Option<Instant> = None;
        while !shutdown.is_cancelled() {
            let wait = match self.publish_pass().await {
                Ok(outcome) if outcome.busy => self.poll,
                Ok(outcome) if outcome.failed == 0 => {
                    backoff.reset();
                    if outcome.more {
                        continue;
                    }
                    if backlog_read.is_none_or(|at| at.elapsed() >= BACKLOG_EVERY) {
                        self.record_backlog().await;
                        backlog_read = Some(Instant::now());
                    }
                    self.poll
                }
                Ok(outcome) => {
                    tracing::warn!(
                        failed = outcome.failed,
                        held_back = outcome.held_back,
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
            // Every commit notifies; those that arrived meanwhile are all served by the one
            // pass about to start (its first claim comes after them), so they are dropped.
            for _ in 0..10_000 {
                if wakeups.next().now_or_never().is_none() {
                    break;
                }
            }
        }
    }

    async fn record_backlog(&self) {
        if let Ok(count) =
            sqlx::query_scalar!(r#"SELECT count(*) AS "unsent!" FROM outbox WHERE sent_at IS NULL"#)
                .fetch_one(&self.pool)
                .await
        {
            self.metrics.backlog.record(count.max(0) as u64, &[]);
        }
    }

    /// One pass: takes the relay's lock, publishes the unsent rows in id order (up to
    /// [`PASS_BATCHES`] batches, pipelined), marks the acknowledged ones sent and records
    /// the failures, and releases the lock.
    pub async fn publish_pass(&self) -> anyhow::Result<PassOutcome> {
        let Some(mut lock) = PassLock::try_take(&self.pool).await? else {
            return Ok(PassOutcome {
                busy: true,
                ..Default::default()
            });
        };
        let mut pass = Pass::default();
        let mut in_flight = FuturesUnordered::new();
        let mut cursor = Cursor::default();
        // Marking runs on a second connection beside the next claim when the pool has one
        // free. The relay never waits for it while holding the lock's connection: with a
        // small pool, waiting would deadlock against whoever holds the other connections and
        // waits for the relay's lock (or starve the service's calls until the pool's timeout).
        let mut marker = None;
        let window = self.batch_size as usize * WINDOW_BATCHES;
        let batch = self.batch_size as usize;
        let room = |in_flight: usize, acked: usize| in_flight + acked + batch <= window;
        loop {
            // Claim while a whole batch fits in the window.
            while cursor.open(&pass) && room(in_flight.len(), pass.acked.len()) {
                let rows = self.claim(lock.conn(), cursor.after).await?;
                self.hand_over_all(rows, &mut cursor, &mut pass, &mut in_flight)
                    .await;
            }
            if pass.acked.len() >= batch || (in_flight.is_empty() && !pass.acked.is_empty()) {
                // One batch marked sent while the next is claimed, so the producer is handed
                // new rows while the marking goes on, and the two statements use two backends.
                let marked: Vec<i64> = pass.acked.drain(..pass.acked.len().min(batch)).collect();
                if marker.is_none() {
                    marker = self.pool.try_acquire();
                }
                let claim_beside = cursor.open(&pass) && room(in_flight.len(), pass.acked.len());
                match marker.as_mut() {
                    Some(marker) if claim_beside => {
                        let (sent, rows) = tokio::join!(
                            self.mark_sent(marker, &marked),
                            self.claim(lock.conn(), cursor.after)
                        );
                        sent?;
                        self.hand_over_all(rows?, &mut cursor, &mut pass, &mut in_flight)
                            .await;
                    }
                    _ => self.mark_sent(lock.conn(), &marked).await?,
                }
                pass.published += marked.len();
                continue;
            }
            if in_flight.is_empty() {
                break;
            }
            // The next acknowledgement, then every one already in.
            if let Some(ack) = in_flight.next().await {
                pass.acknowledged(ack);
            }
            while let Some(Some(ack)) = in_flight.next().now_or_never() {
                pass.acknowledged(ack);
            }
        }
        drop(marker);
        self.record_failures(lock.conn(), &pass.failures).await?;
        lock.release().await?;
        self.metrics.published.add(pass.published as u64, &[]);
        self.metrics.failed.add(pass.failures.len() as u64, &[]);
        Ok(PassOutcome {
            published: pass.published,
            failed: pass.failures.len(),
            held_back: pass.held_back,
            busy: false,
            more: !cursor.exhausted && !pass.delivery_failed,
        })
    }

    /// Hands a claimed batch over, row by row in id order, and moves the cursor past it.
    async fn hand_over_all(
        &self,
        rows: Vec<Row>,
        cursor: &mut Cursor,
        pass: &mut Pass,
        in_flight: &mut FuturesUnordered<BoxFuture<'static, Acknowledged>>,
    ) {
        cursor.batches += 1;
        cursor.exhausted = rows.len() < self.batch_size as usize;
        for row in rows {
            cursor.after = row.id;
            self.hand_over(row, pass, in_flight).await;
        }
    }

    /// The next batch of unsent rows after `after`, in id order. Rows claimed earlier in the
    /// pass are still unsent, so the pass moves past them by id.
    async fn claim(&self, conn: &mut PgConnection, after: i64) -> sqlx::Result<Vec<Row>> {
        sqlx::query_as!(
            Row,
            r#"SELECT id, event_id, topic, message_key, ce_type, ce_source, ce_subject, ce_time, payload,
                      trace_headers AS "trace_headers: Json<HashMap<String, String>>"
             FROM outbox WHERE sent_at IS NULL AND id > $1 ORDER BY id LIMIT $2"#,
            after,
            self.batch_size,
        )
        .fetch_all(conn)
        .await
    }

    /// Hands `row` to the producer, unless an earlier row of its key failed in this pass.
    async fn hand_over(
        &self,
        row: Row,
        pass: &mut Pass,
        in_flight: &mut FuturesUnordered<BoxFuture<'static, Acknowledged>>,
    ) {
        let key = StreamKey {
            topic: row.topic,
            key: row.message_key,
        };
        if pass.blocked.contains(&key) {
            pass.held_back += 1;
            return;
        }
        let span = tracing::info_span!("outbox.publish", topic = %key.topic, event_id = %row.event_id, ce_type = %row.ce_type);
        telemetry::set_remote_parent(&span, &TraceCarrier(&row.trace_headers.0));
        let event = CloudEvent {
            id: row.event_id,
            ty: row.ce_type,
            source: row.ce_source,
            subject: row.ce_subject,
            time: row.ce_time,
            trace: span.in_scope(telemetry::inject_current),
        };
        let topic = format!("{}{}", self.topic_prefix, key.topic);
        match self
            .producer
            .enqueue(&topic, &key.key, &row.payload, &event)
            .await
        {
            Ok(delivery) => {
                let id = row.id;
                in_flight.push(
                    async move {
                        let result = delivery.await.map(|_| ());
                        Acknowledged { id, key, result }
                    }
                    .instrument(span)
                    .boxed(),
                );
            }
            Err(err) => {
                span.in_scope(
                    || tracing::warn!(error = %err, "outbox: the producer refused an event"),
                );
                pass.fail(row.id, key, &err);
            }
        }
    }

    /// Marks acknowledged rows sent: one statement, whatever their number.
    async fn mark_sent(&self, conn: &mut PgConnection, ids: &[i64]) -> sqlx::Result<()> {
        sqlx::query!(
            "UPDATE outbox SET sent_at = now(), attempts = attempts + 1 WHERE id = ANY($1)",
            ids,
        )
        .execute(conn)
        .await?;
        Ok(())
    }

    /// Counts the attempt of each failed row and keeps its error; the rows stay unsent.
    async fn record_failures(
        &self,
        conn: &mut PgConnection,
        failures: &[(i64, String)],
    ) -> sqlx::Result<()> {
        if failures.is_empty() {
            return Ok(());
        }
        let (ids, errors): (Vec<i64>, Vec<&str>) = failures
            .iter()
            .map(|(id, error)| (*id, error.as_str()))
            .unzip();
        sqlx::query!(
            "UPDATE outbox SET attempts = attempts + 1, last_error = e.error
             FROM unnest($1::bigint[], $2::text[]) AS e(id, error) WHERE outbox.id = e.id",
            &ids,
            &errors as _,
        )
        .execute(conn)
        .await?;
        Ok(())
    }
}
