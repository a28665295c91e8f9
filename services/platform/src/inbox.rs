//! Inbox: consume events with exactly-once effect.
//!
//! For each message, in one transaction: record its `ce_id` in the inbox table
//! (`ON CONFLICT DO NOTHING`), run the handler only if the id was new, commit; then store
//! the offset. A crash anywhere before the offset commit redelivers the message, and the
//! inbox row makes the second delivery a no-op. A message that cannot be decoded goes to
//! `<topic>.dlq` at once; one whose handler keeps failing goes there after the configured
//! number of attempts; either way the partition moves on.
//!
//! Messages already received when one arrives (up to [`BATCH_MAX`], never waited for) are
//! applied together: their ids in one statement and their handlers in order (or, for a
//! handler with a batch path, [`Handler::handle_batch`] once for all of them), in one
//! transaction, and their offsets stored after it commits, so a crash still redelivers only
//! what the inbox then recognises. If any handler of the batch fails, the transaction is rolled
//! back and the batch is applied again message by message as above, so retries, attempt
//! counting, dead-lettering and waiting out a database outage are those of the one message.
//!
//! A handler that panics is a permanent failure of its message: the panic is caught, the
//! message goes to the DLQ with the panic's message in its error header, and the partition
//! and the service go on (a panic that ended the consumer would restart the service into the
//! same message for ever).
//!
//! Stored offsets are committed every `commit_interval` while messages arrive, once more when
//! the consumer has been idle that long (so a caught-up group's committed lag is 0, not the
//! last batch), and at shutdown.

use std::{collections::HashSet, future::Future, panic::AssertUnwindSafe, time::Duration};

use futures::FutureExt;

use opentelemetry::metrics::Counter;
use prost::{Message, Name};
use rdkafka::{
    consumer::{CommitMode, Consumer, StreamConsumer},
    message::{Header, Headers, Message as _, OwnedHeaders, OwnedMessage},
};
use sqlx::{PgConnection, PgPool};
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, Span};
use uuid::Uuid;

use crate::{
    backoff::Backoff,
    bus::{
        CloudEvent, KafkaSettings, Producer,
        cloudevents::{self, TraceCarrier},
        dlq_topic,
        producer::ConsumerContext,
    },
    telemetry::{self, attr},
};

/// One received event: where it came from, its CloudEvents attributes and its payload.
#[derive(Debug, Clone)]
pub struct Envelope {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<String>,
    pub event: CloudEvent,
    pub payload: Vec<u8>,
}

impl Envelope {
    /// Decodes the payload as `M`; a payload that is not an `M` is a permanent failure.
    pub fn decode<M: Message + Name + Default>(&self) -> Result<M, HandlerError> {
        M::decode(self.payload.as_slice()).map_err(|err| {
            HandlerError::Permanent(format!("payload is not a {}: {err}", M::full_name()))
        })
    }

    /// True when the event's `ce_type` names `M`.
    pub fn is<M: Name>(&self) -> bool {
        self.event.ty == M::full_name()
    }
}

/// Why a handler did not apply an event.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The event can never be applied (undecodable, impossible content): to the DLQ at once.
    #[error("{0}")]
    Permanent(String),
    /// It may work later (a database hiccup): retried with backoff, then sent to the DLQ.
    #[error(transparent)]
    Transient(#[from] anyhow::Error),
}

impl From<sqlx::Error> for HandlerError {
    fn from(err: sqlx::Error) -> Self {
        Self::Transient(err.into())
    }
}

/// The effect of an event, applied inside the inbox transaction.
pub trait Handler: Send + Sync + 'static {
    fn handle(
        &self,
        tx: &mut PgConnection,
        event: &Envelope,
    ) -> impl Future<Output = Result<(), HandlerError>> + Send;

    /// True when [`handle_batch`](Self::handle_batch) applies several events at once faster
    /// than [`handle`](Self::handle) does one by one: the inbox then hands it the fresh events
    /// of a batch together. False (the default): the inbox calls `handle` for each, each in
    /// its own span, a child of its producer's trace.
    const BATCHES: bool = false;

    /// The effect of `events`, in order, exactly as `handle` on each in turn would leave it,
    /// inside the inbox transaction. An error rolls the whole batch back, and the inbox then
    /// applies its messages one by one through `handle` (so a poison message is dead-lettered
    /// by itself). Runs in one span whose parent is the trace of the batch's last event.
    fn handle_batch(
        &self,
        tx: &mut PgConnection,
        events: &[&Envelope],
    ) -> impl Future<Output = Result<(), HandlerError>> + Send {
        async move {
            for event in events {
                self.handle(tx, event).await?;
            }
            Ok(())
        }
    }
}

/// At most this many messages, of those already received, are applied in one transaction.
pub const BATCH_MAX: usize = 64;

/// How a consumer is set up.
#[derive(Debug, Clone)]
pub struct ConsumerSettings {
    /// The consumer's name in the inbox table and its Kafka group id.
    pub name: String,
    /// The brokers and how to reach them.
    pub kafka: KafkaSettings,
    pub topics: Vec<String>,
    /// Attempts of a failing handler before the message goes to the DLQ.
    pub max_attempts: u32,
    /// How often stored offsets are committed while running; shutdown always commits.
    pub commit_interval: Duration,
    /// `group.instance.id` for static membership (see `PlatformConfig`).
    pub group_instance_id: Option<String>,
}

/// What happened to one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Applied,
    Duplicate,
    DeadLettered,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Applied => "applied",
            Outcome::Duplicate => "duplicate",
            Outcome::DeadLettered => "dead_lettered",
        }
    }
}

/// A consumer that applies each event once through the inbox.
pub struct InboxConsumer<H> {
    settings: ConsumerSettings,
    pool: PgPool,
    /// For the DLQ.
    producer: Producer,
    handler: H,
    processed: Counter<u64>,
}

/// A Kafka consumer created and subscribed, for [`InboxConsumer::run_subscribed`].
pub struct Subscription(StreamConsumer<ConsumerContext>);

/// Stopped while a message was still being retried; its offset is not stored.
struct Interrupted;

/// What became of a batch: the outcomes of its first messages, in order; `interrupted` when
/// the consumer was stopped before the rest were done (their offsets are not stored).
struct BatchOutcomes {
    done: Vec<Outcome>,
    interrupted: bool,
}

impl<H: Handler> InboxConsumer<H> {
    pub fn new(settings: ConsumerSettings, pool: PgPool, producer: Producer, handler: H) -> Self {
        let processed = opentelemetry::global::meter("platform.inbox")
            .u64_counter("inbox.messages")
            .build();
        Self {
            settings,
            pool,
            producer,
            handler,
            processed,
        }
    }

    /// Consumes until `shutdown`, then commits the stored offsets.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let subscription = self.subscribe()?;
        self.run_subscribed(subscription, shutdown).await
    }

    /// Creates the Kafka consumer and subscribes it: a consumer that cannot start fails here,
    /// at start-up, rather than in a background task.
    pub fn subscribe(&self) -> anyhow::Result<Subscription> {
        let mut config = self.settings.kafka.client_config();
        if let Some(instance) = &self.settings.group_instance_id {
            config.set("group.instance.id", instance);
        }
        let consumer: StreamConsumer<ConsumerContext> = config
            .set("group.id", &self.settings.name)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            // Kafka's own defaults, stated so they are chosen, not inherited. A member that
            // died without leaving (SIGKILL, a lost node) keeps its partitions for 45 s; a pod
            // restarted within that time under its static `group.instance.id` takes them back
            // with no rebalance at all, so the session only bounds how long a pod that never
            // returns holds its partitions. 5 min between polls covers one message's handler
            // retries (INBOX_MAX_ATTEMPTS with a backoff capped in seconds) many times over;
            // a consumer that exceeds it is presumed stuck and leaves the group.
            .set("session.timeout.ms", "45000")
            .set("heartbeat.interval.ms", "3000")
            .set("max.poll.interval.ms", "300000")
            .set("statistics.interval.ms", "15000")
            // librdkafka prefetches up to 64 MiB by default: behind a backlog (a settle's
            // 230,000 notices) that alone made the service's resident memory 150 MiB. 8 MiB
            // still holds tens of thousands of events ahead of the handler.
            .set("queued.max.messages.kbytes", "8192")
            .create_with_context(ConsumerContext::new(&self.settings.name))?;
        let topics: Vec<&str> = self.settings.topics.iter().map(String::as_str).collect();
        consumer.subscribe(&topics)?;
        tracing::info!(consumer = %self.settings.name, ?topics, "consuming");
        Ok(Subscription(consumer))
    }

    /// [`run`](Self::run) with a consumer already subscribed by [`subscribe`](Self::subscribe).
    pub async fn run_subscribed(
        self,
        subscription: Subscription,
        shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        let consumer = subscription.0;

        let mut last_commit = tokio::time::Instant::now();
        // Offsets stored since the last commit.
        let mut uncommitted = false;
        loop {
            let idle_commit = last_commit + self.settings.commit_interval;
            let received = tokio::select! {
                _ = shutdown.cancelled() => break,
                received = consumer.recv() => received.map(|m| m.detach()),
                // Caught up: what the last batches stored is committed now, not when (if ever)
                // another message arrives.
                _ = tokio::time::sleep_until(idle_commit), if uncommitted => {
                    commit_stored(&consumer);
                    uncommitted = false;
                    last_commit = tokio::time::Instant::now();
                    continue;
                }
            };
            let mut batch = match received {
                Ok(message) => vec![message],
                Err(err) => {
                    self.receive_failed(err).await?;
                    continue;
                }
            };
            // What is already here joins the batch; nothing is waited for.
            let mut failed_receive = None;
            while batch.len() < BATCH_MAX {
                match consumer.recv().now_or_never() {
                    Some(Ok(message)) => batch.push(message.detach()),
                    Some(Err(err)) => {
                        failed_receive = Some(err);
                        break;
                    }
                    None => break,
                }
            }
            let outcomes = self.process_batch(&batch, &shutdown).await;
            for (message, outcome) in batch.iter().zip(&outcomes.done) {
                self.processed.add(
                    1,
                    &[
                        attr("consumer", self.settings.name.clone()),
                        attr("outcome", outcome.as_str()),
                    ],
                );
                // Fails only when the partition was revoked meanwhile: its new owner
                // redelivers the message and the inbox recognises it.
                if let Err(err) =
                    consumer.store_offset(message.topic(), message.partition(), message.offset())
                {
                    tracing::warn!(error = %err, "storing the offset failed");
                }
                uncommitted = true;
            }
            if outcomes.interrupted {
                break;
            }
            if last_commit.elapsed() >= self.settings.commit_interval {
                commit_stored(&consumer);
                uncommitted = false;
                last_commit = tokio::time::Instant::now();
            }
            if let Some(err) = failed_receive {
                self.receive_failed(err).await?;
            }
        }
        // Always commit at the end: an earlier asynchronous commit may have failed.
        if let Err(err) = consumer.commit_consumer_state(CommitMode::Sync) {
            tracing::debug!(error = %err, "final offset commit (nothing stored is fine)");
        }
        tracing::info!(consumer = %self.settings.name, "consumer stopped");
        Ok(())
    }

    /// A receive error: a fatal one ends the consumer (the supervisor stops the service and
    /// the orchestrator restarts it, rather than serve while consuming nothing); any other is
    /// waited out.
    async fn receive_failed(&self, err: rdkafka::error::KafkaError) -> anyhow::Result<()> {
        if is_fatal(&err) {
            anyhow::bail!("consumer {}: fatal Kafka error: {err}", self.settings.name)
        }
        tracing::warn!(error = %err, "receiving failed; retrying");
        tokio::time::sleep(Duration::from_millis(500)).await;
        Ok(())
    }

    /// Applies `batch` in one transaction, or, when that fails, message by message.
    async fn process_batch(
        &self,
        batch: &[OwnedMessage],
        shutdown: &CancellationToken,
    ) -> BatchOutcomes {
        if batch.len() > 1 {
            let envelopes: Vec<Result<Envelope, String>> = batch.iter().map(envelope_of).collect();
            match self.apply_batch(&envelopes).await {
                Ok(applied) => {
                    return self
                        .dead_letter_undecodable(batch, &envelopes, applied, shutdown)
                        .await;
                }
                Err(err) => tracing::debug!(
                    consumer = %self.settings.name,
                    messages = batch.len(),
                    error = %err,
                    "a message of the batch failed; applying them one by one"
                ),
            }
        }
        let mut done = Vec::with_capacity(batch.len());
        for message in batch {
            match self.process(message, shutdown).await {
                Ok(outcome) => done.push(outcome),
                Err(Interrupted) => {
                    return BatchOutcomes {
                        done,
                        interrupted: true,
                    };
                }
            }
        }
        BatchOutcomes {
            done,
            interrupted: false,
        }
    }

    /// After a batch committed: the outcomes in message order, the messages without a
    /// CloudEvent (left out of the transaction) sent to the DLQ in their place.
    async fn dead_letter_undecodable(
        &self,
        batch: &[OwnedMessage],
        envelopes: &[Result<Envelope, String>],
        applied: Vec<Outcome>,
        shutdown: &CancellationToken,
    ) -> BatchOutcomes {
        let mut applied = applied.into_iter();
        let mut done = Vec::with_capacity(batch.len());
        for (message, envelope) in batch.iter().zip(envelopes) {
            let outcome = match envelope {
                Ok(_) => applied.next().expect("an outcome per envelope"),
                Err(reason) => match self.dead_letter(message, reason, shutdown).await {
                    Ok(outcome) => outcome,
                    Err(Interrupted) => {
                        return BatchOutcomes {
                            done,
                            interrupted: true,
                        };
                    }
                },
            };
            done.push(outcome);
        }
        BatchOutcomes {
            done,
            interrupted: false,
        }
    }

    /// The ids of the events among `envelopes` and their effects in one transaction; the
    /// outcome of each envelope that is one, in order. Any error rolls the whole back.
    async fn apply_batch(
        &self,
        envelopes: &[Result<Envelope, String>],
    ) -> Result<Vec<Outcome>, HandlerError> {
        let events: Vec<&Envelope> = envelopes.iter().filter_map(|e| e.as_ref().ok()).collect();
        let mut tx = self.pool.begin().await?;
        // An id twice in the batch is inserted once; its first occurrence is the fresh one.
        let mut fresh: HashSet<Uuid> = sqlx::query_scalar(
            "INSERT INTO inbox (consumer, event_id, topic, kafka_partition, kafka_offset)
             SELECT $1, e.event_id, e.topic, e.kafka_partition, e.kafka_offset
             FROM unnest($2::uuid[], $3::text[], $4::int[], $5::bigint[])
                  WITH ORDINALITY AS e(event_id, topic, kafka_partition, kafka_offset, n)
             ORDER BY e.n
             ON CONFLICT DO NOTHING
             RETURNING event_id",
        )
        .bind(&self.settings.name)
        .bind(events.iter().map(|e| e.event.id).collect::<Vec<_>>())
        .bind(events.iter().map(|e| e.topic.as_str()).collect::<Vec<_>>())
        .bind(events.iter().map(|e| e.partition).collect::<Vec<_>>())
        .bind(events.iter().map(|e| e.offset).collect::<Vec<_>>())
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .collect();
        let mut outcomes = Vec::with_capacity(events.len());
        let mut to_apply = Vec::with_capacity(events.len());
        for envelope in events {
            if fresh.remove(&envelope.event.id) {
                to_apply.push(envelope);
                outcomes.push(Outcome::Applied);
            } else {
                outcomes.push(Outcome::Duplicate);
            }
        }
        if H::BATCHES {
            if let Some(last) = to_apply.last() {
                let span = tracing::info_span!(
                    "inbox.consume_batch",
                    consumer = %self.settings.name,
                    messages = to_apply.len(),
                );
                telemetry::set_remote_parent(&span, &TraceCarrier(&last.event.trace));
                caught(self.handler.handle_batch(&mut tx, &to_apply))
                    .instrument(span)
                    .await?;
            }
        } else {
            for envelope in to_apply {
                let span = self.span_of(envelope);
                self.handle(&mut tx, envelope).instrument(span).await?;
            }
        }
        tx.commit().await?;
        Ok(outcomes)
    }

    /// Runs the handler; a panic becomes a permanent failure naming the panic's message.
    async fn handle(&self, tx: &mut PgConnection, envelope: &Envelope) -> Result<(), HandlerError> {
        caught(self.handler.handle(tx, envelope)).await
    }

    /// The span an event is handled in, a child of the producer's trace.
    fn span_of(&self, envelope: &Envelope) -> Span {
        let span = tracing::info_span!(
            "inbox.consume",
            consumer = %self.settings.name,
            topic = %envelope.topic,
            event_id = %envelope.event.id,
            ce_type = %envelope.event.ty,
        );
        telemetry::set_remote_parent(&span, &TraceCarrier(&envelope.event.trace));
        span
    }

    async fn process(
        &self,
        message: &OwnedMessage,
        shutdown: &CancellationToken,
    ) -> Result<Outcome, Interrupted> {
        let envelope = match envelope_of(message) {
            Ok(envelope) => envelope,
            Err(reason) => return self.dead_letter(message, &reason, shutdown).await,
        };
        let span = self.span_of(&envelope);
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.apply_once(&envelope).instrument(span.clone()).await {
                Ok(true) => return Ok(Outcome::Applied),
                Ok(false) => return Ok(Outcome::Duplicate),
                Err(HandlerError::Permanent(reason)) => {
                    return self.dead_letter(message, &reason, shutdown).await;
                }
                // The database being away is no fault of the event: retry until it returns
                // (the partition waits, as it should) instead of dead-lettering every event
                // that arrives during the outage.
                Err(HandlerError::Transient(err)) if crate::error::database_unavailable(&err) => {
                    attempt -= 1;
                    span.in_scope(|| {
                        tracing::warn!(
                            error = format!("{err:#}"),
                            "database unavailable; retrying the event"
                        )
                    });
                    tokio::select! {
                        _ = shutdown.cancelled() => return Err(Interrupted),
                        _ = tokio::time::sleep(backoff.next_delay()) => {}
                    }
                }
                Err(HandlerError::Transient(err)) if attempt >= self.settings.max_attempts => {
                    let reason = format!("failed {attempt} times: {err:#}");
                    return self.dead_letter(message, &reason, shutdown).await;
                }
                Err(HandlerError::Transient(err)) => {
                    span.in_scope(|| {
                        tracing::warn!(
                            attempt,
                            error = format!("{err:#}"),
                            "handler failed; retrying"
                        )
                    });
                    tokio::select! {
                        _ = shutdown.cancelled() => return Err(Interrupted),
                        _ = tokio::time::sleep(backoff.next_delay()) => {}
                    }
                }
            }
        }
    }

    /// Records the event id and applies the effect in one transaction; false for a duplicate.
    async fn apply_once(&self, envelope: &Envelope) -> Result<bool, HandlerError> {
        let mut tx = self.pool.begin().await?;
        let fresh = sqlx::query!(
            "INSERT INTO inbox (consumer, event_id, topic, kafka_partition, kafka_offset)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            self.settings.name,
            envelope.event.id,
            envelope.topic,
            envelope.partition,
            envelope.offset,
        )
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if fresh {
            self.handle(&mut tx, envelope).await?;
        }
        tx.commit().await?;
        Ok(fresh)
    }

    /// Copies the message to `<topic>.dlq` with the reason; retries until the broker takes it.
    async fn dead_letter(
        &self,
        message: &OwnedMessage,
        reason: &str,
        shutdown: &CancellationToken,
    ) -> Result<Outcome, Interrupted> {
        tracing::warn!(
            topic = message.topic(),
            offset = message.offset(),
            reason,
            "sending message to the DLQ"
        );
        let mut headers = OwnedHeaders::new();
        if let Some(original) = message.headers() {
            for header in original.iter() {
                headers = headers.insert(Header {
                    key: header.key,
                    value: header.value,
                });
            }
        }
        let position = format!(
            "{}/{}/{}",
            message.topic(),
            message.partition(),
            message.offset()
        );
        headers = headers
            .insert(Header {
                key: cloudevents::DLQ_ERROR,
                value: Some(reason),
            })
            .insert(Header {
                key: "dlq_source",
                value: Some(position.as_str()),
            })
            .insert(Header {
                key: "dlq_consumer",
                value: Some(self.settings.name.as_str()),
            });
        let key = message
            .key()
            .map(|k| String::from_utf8_lossy(k).into_owned())
            .unwrap_or_default();
        let payload = message.payload().unwrap_or_default();
        let topic = dlq_topic(message.topic());
        let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(10));
        loop {
            match self
                .producer
                .send_with_headers(&topic, &key, payload, headers.clone())
                .await
            {
                Ok(_) => return Ok(Outcome::DeadLettered),
                Err(err) => {
                    tracing::warn!(error = %err, topic, "DLQ produce failed; retrying");
                    tokio::select! {
                        _ = shutdown.cancelled() => return Err(Interrupted),
                        _ = tokio::time::sleep(backoff.next_delay()) => {}
                    }
                }
            }
        }
    }
}

/// Runs a handler's future; a panic becomes a permanent failure naming its message.
async fn caught(
    handling: impl Future<Output = Result<(), HandlerError>>,
) -> Result<(), HandlerError> {
    // Unwind safety: after a panic the caller drops the transaction (a rollback), so no
    // half-applied effect survives; the handler's shared state is what a process restart
    // would otherwise have discarded, and handlers keep none that a panic could tear.
    match AssertUnwindSafe(handling).catch_unwind().await {
        Ok(result) => result,
        Err(panic) => Err(HandlerError::Permanent(format!(
            "the handler panicked: {}",
            panic_message(panic.as_ref())
        ))),
    }
}

/// Commits the stored offsets without waiting; a failure is retried by the next commit.
fn commit_stored(consumer: &StreamConsumer<ConsumerContext>) {
    if let Err(err) = consumer.commit_consumer_state(CommitMode::Async) {
        tracing::warn!(error = %err, "committing offsets failed; the next commit retries");
    }
}

/// The text of a panic's payload (`panic!("…")` gives a `&str` or a `String`).
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        text.to_string()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic without a message".to_string()
    }
}

/// Reads a message's CloudEvents headers; the reason is kept for the DLQ.
fn envelope_of(message: &OwnedMessage) -> Result<Envelope, String> {
    let event = CloudEvent::from_headers(message.headers().map(|h| h.as_borrowed()))
        .map_err(|err| format!("not a CloudEvent: {err}"))?;
    Ok(Envelope {
        topic: message.topic().to_string(),
        partition: message.partition(),
        offset: message.offset(),
        key: message
            .key()
            .map(|k| String::from_utf8_lossy(k).into_owned()),
        event,
        payload: message.payload().unwrap_or_default().to_vec(),
    })
}

/// A consumer error that retrying cannot clear: librdkafka's fatal state, or this static
/// member fenced by another process using the same `group.instance.id`.
fn is_fatal(err: &rdkafka::error::KafkaError) -> bool {
    use rdkafka::{error::KafkaError, types::RDKafkaErrorCode};
    matches!(err, KafkaError::MessageConsumptionFatal(_))
        || matches!(
            err.rdkafka_error_code(),
            Some(RDKafkaErrorCode::Fatal | RDKafkaErrorCode::FencedInstanceId)
        )
}
