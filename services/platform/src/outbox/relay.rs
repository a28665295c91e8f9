//! The relay: publishes committed outbox rows in id order and records how far it got.
//!
//! A *pass* holds the relay's advisory lock ([`RELAY_LOCK`], a session lock on one pooled
//! connection), so with several replicas one relay publishes at a time, and a replay waits for
//! the pass to end. Within a pass the relay is a pipeline: it claims a batch of unsent rows
//! (`OUTBOX_BATCH_SIZE`) and hands them to the producer, and keeps doing so while the broker
//! acknowledges earlier ones, up to [`WINDOW_BATCHES`] batches published and not yet recorded.
//! No row lock is taken: only the lock holder claims rows or records progress.
//!
//! The watermark (platform migration 0005). Sent rows are not rewritten: the relay records a
//! *watermark*, a snapshot of which transactions had committed (`outbox_relay.base`), and every
//! row of a transaction visible in it has been dealt with. An outbox id is taken at insert, not
//! at commit, so a row can commit after rows with higher ids went out; a snapshot, unlike "sent
//! up to id N", never skips it. A pass takes a new snapshot (`pass`) and publishes the rows
//! visible in it and not in `base`, in id order; a batch's progress is one small statement
//! (`through`: those rows up to this id are dealt with), and at the end of the pass `pass`
//! becomes `base`. Rows the watermark passes that are not yet delivered go into
//! `outbox_retry`, which the next passes claim together with the new rows, by id. The view
//! `outbox_unsent` lists both.
//!
//! Order per key. Rows are handed to the producer one at a time in id order, and the
//! idempotent producer (`acks=all`) writes one partition in the order it was given. The rows of
//! one key take their ids in commit order (a service writes a key's events under that key's
//! lock), so of two rows of a key the later one is never published in an earlier pass. A row
//! the producer refuses when it is handed over (larger than `message.max.bytes`) or whose
//! delivery fails goes to `outbox_retry`, and from that moment no later row of its key (topic
//! and message key) is handed over in the pass: they go to `outbox_retry` too, untried, and the
//! next pass hands the failed row over first. A refusal is known before the next row is handed
//! over, so nothing of its key overtakes it. A delivery failure is reported after the fact:
//! rows of the key handed over before the report were already with the producer, and if one of
//! those is delivered it is logged as having overtaken the failed row. A refusal holds back
//! only its key and the pass goes on; a failed delivery (the broker away, most likely) ends the
//! claiming, the pass finishes what is in flight, and the relay backs off.
//!
//! Delivery is at least once: rows published but not yet recorded when the relay dies (at
//! most [`Relay::unmarked_limit`]) are published again by the next pass, and consumers drop
//! the copies by `ce_id`.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
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

/// Batches published ahead of the recording: the pipeline's depth.
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
    /// Listed in `outbox_retry` (else a row new to this pass's snapshot).
    retry: bool,
}

/// Publishes committed outbox rows.
pub struct Relay {
    pool: PgPool,
    producer: Producer,
    /// Rows claimed per statement, and recorded per statement.
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

/// The snapshots a pass publishes between, in their text form (`xmin:xmax:xip,…`).
struct Watermark {
    /// Every row of a transaction visible in it has been dealt with.
    base: String,
    /// This pass's snapshot: the rows visible in it and not in `base` are the pass's new rows.
    pass: String,
    /// The new rows up to this id were dealt with by an earlier pass cut short at its bound.
    through: i64,
}

impl Watermark {
    /// Starts a pass: the snapshot of a pass cut short is kept (its new rows are not all dealt
    /// with yet), else a new one is taken.
    async fn start(conn: &mut PgConnection) -> sqlx::Result<Self> {
        let state = sqlx::query!(
            r#"UPDATE outbox_relay
               SET pass = coalesce(pass, pg_current_snapshot()),
                   through = CASE WHEN pass IS NULL THEN 0 ELSE through END
               RETURNING base::text AS "base!", pass::text AS "pass!", through"#
        )
        .fetch_one(conn)
        .await?;
        Ok(Self {
            base: state.base,
            pass: state.pass,
            through: state.through,
        })
    }

    /// The id before the pass's first new row still to deal with, or `None` when there is
    /// none. Found through the transaction-id index, so the claims start there rather than
    /// walk the ids of rows sent long ago. Planned per call: the bounds are the call's own.
    async fn first_new(&self, conn: &mut PgConnection) -> sqlx::Result<Option<i64>> {
        let first = sqlx::query_scalar!(
            "SELECT min(id) FROM outbox
             WHERE xid >= pg_snapshot_xmin($1::text::pg_snapshot)
               AND NOT pg_visible_in_snapshot(xid, $1::text::pg_snapshot)
               AND pg_visible_in_snapshot(xid, $2::text::pg_snapshot)
               AND id > $3",
            self.base,
            self.pass,
            self.through,
        )
        .persistent(false)
        .fetch_one(conn)
        .await?;
        Ok(first.map(|id| id - 1))
    }
}

/// A row handed to the producer, as its acknowledgement comes back.
struct Acknowledged {
    id: i64,
    retry: bool,
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
    /// Acknowledged, not yet recorded: (id, listed in `outbox_retry`).
    acked: Vec<(i64, bool)>,
    /// The new rows claimed and not yet behind the recorded progress, and whether each is
    /// dealt with (delivered and recorded, or listed for a retry).
    new_rows: BTreeMap<i64, bool>,
    /// Rows of `outbox_retry` handed over and not yet recorded.
    retry_unrecorded: usize,
    /// New rows to list in `outbox_retry` (failed, or held back behind a failed row of their
    /// key): written in the statement that moves the progress past them.
    to_retry: Vec<i64>,
    /// The new rows up to this id are dealt with, not yet recorded.
    through: Option<i64>,
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
struct Cursor {
    /// The id of the last row claimed: the next claim starts after it.
    after: i64,
    /// New rows are claimed after this id (the first still to deal with, less one).
    new_after: i64,
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

/// One statement's worth of progress.
#[derive(Default)]
struct Progress {
    /// Rows of `outbox_retry` delivered: they leave it.
    delivered_retries: Vec<i64>,
    /// New rows to list in `outbox_retry`.
    to_retry: Vec<i64>,
    /// The new rows up to this id are dealt with.
    through: Option<i64>,
}

impl Pass {
    /// Rows claimed and not yet dealt with in order: the pipeline's fill.
    fn outstanding(&mut self) -> usize {
        self.advance();
        self.new_rows.len() + self.retry_unrecorded
    }

    /// Moves the progress over the new rows dealt with at the front.
    fn advance(&mut self) {
        while let Some(entry) = self.new_rows.first_entry() {
            if !*entry.get() {
                break;
            }
            self.through = Some(*entry.key());
            entry.remove();
        }
    }

    /// A row that will not be delivered in this pass: it is (or stays) listed for a retry.
    fn set_aside(&mut self, id: i64, retry: bool) {
        if retry {
            self.retry_unrecorded -= 1;
        } else {
            self.new_rows.insert(id, true);
            self.to_retry.push(id);
        }
    }

    fn fail(&mut self, id: i64, retry: bool, key: StreamKey, err: &rdkafka::error::KafkaError) {
        self.failures.push((id, err.to_string()));
        self.blocked.insert(key);
        self.set_aside(id, retry);
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
                self.acked.push((ack.id, ack.retry));
            }
            Err(err) => {
                self.delivery_failed = true;
                self.fail(ack.id, ack.retry, ack.key, &err);
            }
        }
    }

    /// Takes up to `limit` acknowledged rows as delivered, and the progress that makes: the
    /// new rows dealt with from the front, and what must be listed or unlisted for a retry.
    fn take_progress(&mut self, limit: usize) -> (Progress, usize) {
        let delivered: Vec<(i64, bool)> = self.acked.drain(..self.acked.len().min(limit)).collect();
        let mut progress = Progress::default();
        for &(id, retry) in &delivered {
            if retry {
                progress.delivered_retries.push(id);
                self.retry_unrecorded -= 1;
            } else {
                self.new_rows.insert(id, true);
            }
        }
        self.advance();
        progress.through = self.through.take();
        progress.to_retry = std::mem::take(&mut self.to_retry);
        (progress, delivered.len())
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

    /// At most this many rows are published and not yet recorded at any time (the window,
    /// and a batch being recorded): what a relay that dies may publish a second time.
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
            // pass about to start (its snapshot is taken after them), so they are dropped.
            for _ in 0..10_000 {
                if wakeups.next().now_or_never().is_none() {
                    break;
                }
            }
        }
    }

    async fn record_backlog(&self) {
        if let Ok(count) = sqlx::query_scalar!(r#"SELECT count(*) AS "unsent!" FROM outbox_unsent"#)
            .fetch_one(&self.pool)
            .await
        {
            self.metrics.backlog.record(count.max(0) as u64, &[]);
        }
    }

    /// One pass: takes the relay's lock, publishes the unsent rows in id order (up to
    /// [`PASS_BATCHES`] batches, pipelined), records its progress and the failures, moves the
    /// watermark when every new row of its snapshot is dealt with, and releases the lock.
    pub async fn publish_pass(&self) -> anyhow::Result<PassOutcome> {
        let Some(mut lock) = PassLock::try_take(&self.pool).await? else {
            return Ok(PassOutcome {
                busy: true,
                ..Default::default()
            });
        };
        let watermark = Watermark::start(lock.conn()).await?;
        let mut cursor = Cursor {
            after: 0,
            new_after: watermark.first_new(lock.conn()).await?.unwrap_or(i64::MAX),
            batches: 0,
            exhausted: false,
        };
        let mut pass = Pass::default();
        let mut in_flight = FuturesUnordered::new();
        // Recording runs on a second connection beside the next claim when the pool has one
        // free. The relay never waits for it while holding the lock's connection: with a
        // small pool, waiting would deadlock against whoever holds the other connections and
        // waits for the relay's lock (or starve the service's calls until the pool's timeout).
        let mut recorder = None;
        let window = self.batch_size as usize * WINDOW_BATCHES;
        let batch = self.batch_size as usize;
        let room = |pass: &mut Pass| pass.outstanding() + batch <= window;
        loop {
            // Claim while a whole batch fits in the window.
            while cursor.open(&pass) && room(&mut pass) {
                let rows = self.claim(lock.conn(), &watermark, &cursor).await?;
                self.hand_over_all(rows, &mut cursor, &mut pass, &mut in_flight)
                    .await;
            }
            if pass.acked.len() >= batch || (in_flight.is_empty() && !pass.acked.is_empty()) {
                // One batch recorded while the next is claimed, so the producer is handed new
                // rows while the recording goes on, and the two statements use two backends.
                let (progress, delivered) = pass.take_progress(batch);
                if recorder.is_none() {
                    recorder = self.pool.try_acquire();
                }
                let claim_beside = cursor.open(&pass) && room(&mut pass);
                match recorder.as_mut() {
                    Some(recorder) if claim_beside => {
                        let (recorded, rows) = tokio::join!(
                            record(recorder, &progress, false),
                            self.claim(lock.conn(), &watermark, &cursor)
                        );
                        recorded?;
                        self.hand_over_all(rows?, &mut cursor, &mut pass, &mut in_flight)
                            .await;
                    }
                    _ => record(lock.conn(), &progress, false).await?,
                }
                pass.published += delivered;
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
        drop(recorder);
        // Every claimed row is dealt with now; when nothing is left to claim, this pass's
        // snapshot becomes the watermark.
        let (progress, _) = pass.take_progress(0);
        record(lock.conn(), &progress, cursor.exhausted).await?;
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
            if row.retry {
                pass.retry_unrecorded += 1;
            } else {
                pass.new_rows.insert(row.id, false);
            }
            self.hand_over(row, pass, in_flight).await;
        }
    }

    /// The next batch after the cursor, in id order: the rows listed for a retry and the new
    /// rows of the pass's snapshot (visible in it and not in the watermark), merged.
    async fn claim(
        &self,
        conn: &mut PgConnection,
        watermark: &Watermark,
        cursor: &Cursor,
    ) -> sqlx::Result<Vec<Row>> {
        sqlx::query_as!(
            Row,
            r#"SELECT id AS "id!", event_id AS "event_id!", topic AS "topic!",
                      message_key AS "message_key!", ce_type AS "ce_type!",
                      ce_source AS "ce_source!", ce_subject AS "ce_subject!",
                      ce_time AS "ce_time!", payload AS "payload!",
                      trace_headers AS "trace_headers!: Json<HashMap<String, String>>",
                      retry AS "retry!"
               FROM ((SELECT o.id, o.event_id, o.topic, o.message_key, o.ce_type, o.ce_source,
                             o.ce_subject, o.ce_time, o.payload, o.trace_headers, false AS retry
                      FROM outbox o
                      WHERE o.id > greatest($1::bigint, $2::bigint)
                        AND pg_visible_in_snapshot(o.xid, $4::text::pg_snapshot)
                        AND NOT pg_visible_in_snapshot(o.xid, $3::text::pg_snapshot)
                      ORDER BY o.id LIMIT $5)
                     UNION ALL
                     (SELECT o.id, o.event_id, o.topic, o.message_key, o.ce_type, o.ce_source,
                             o.ce_subject, o.ce_time, o.payload, o.trace_headers, true
                      FROM outbox_retry r JOIN outbox o ON o.id = r.id
                      WHERE r.id > $1
                      ORDER BY r.id LIMIT $5)) AS claimed
               ORDER BY id LIMIT $5"#,
            cursor.after,
            cursor.new_after,
            watermark.base,
            watermark.pass,
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
            pass.set_aside(row.id, row.retry);
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
                let (id, retry) = (row.id, row.retry);
                in_flight.push(
                    async move {
                        let result = delivery.await.map(|_| ());
                        Acknowledged {
                            id,
                            retry,
                            key,
                            result,
                        }
                    }
                    .instrument(span)
                    .boxed(),
                );
            }
            Err(err) => {
                span.in_scope(
                    || tracing::warn!(error = %err, "outbox: the producer refused an event"),
                );
                pass.fail(row.id, row.retry, key, &err);
            }
        }
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

/// Records `progress` in one statement, so a row set aside is listed for a retry no later than
/// the progress passes it; with `done`, the pass's snapshot becomes the watermark.
async fn record(conn: &mut PgConnection, progress: &Progress, done: bool) -> sqlx::Result<()> {
    if progress.delivered_retries.is_empty()
        && progress.to_retry.is_empty()
        && progress.through.is_none()
        && !done
    {
        return Ok(());
    }
    // Data-modifying CTEs always run to completion, referenced or not.
    sqlx::query!(
        "WITH delivered AS (DELETE FROM outbox_retry WHERE id = ANY($1)),
              set_aside AS (INSERT INTO outbox_retry (id) SELECT unnest($2::bigint[])
                            ON CONFLICT DO NOTHING)
         UPDATE outbox_relay
         SET through = CASE WHEN $4 THEN 0 ELSE greatest(through, coalesce($3, through)) END,
             base = CASE WHEN $4 THEN pass ELSE base END,
             pass = CASE WHEN $4 THEN NULL ELSE pass END",
        &progress.delivered_retries,
        &progress.to_retry,
        progress.through,
        done,
    )
    .execute(conn)
    .await?;
    Ok(())
}
