//! The producer: idempotent, `acks=all`, one delivery report awaited per message.

use std::time::Duration;

use rdkafka::{
    ClientContext,
    admin::{AdminClient, AdminOptions, NewTopic, TopicReplication},
    config::RDKafkaLogLevel,
    error::{KafkaError, RDKafkaErrorCode},
    producer::{FutureProducer, FutureRecord, Producer as _},
    util::Timeout,
};

use super::{CloudEvent, KafkaSettings};

pub use rdkafka::producer::future_producer::Delivery;

/// Routes librdkafka's own log lines into `tracing`.
#[derive(Clone, Default)]
pub struct TracingContext;

impl ClientContext for TracingContext {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        match level {
            RDKafkaLogLevel::Emerg
            | RDKafkaLogLevel::Alert
            | RDKafkaLogLevel::Critical
            | RDKafkaLogLevel::Error => {
                tracing::error!(target: "librdkafka", facility, "{message}")
            }
            RDKafkaLogLevel::Warning => tracing::warn!(target: "librdkafka", facility, "{message}"),
            _ => tracing::debug!(target: "librdkafka", facility, "{message}"),
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        tracing::warn!(target: "librdkafka", %error, "{reason}");
    }
}

impl rdkafka::consumer::ConsumerContext for TracingContext {}

/// The consumer's context: logs like [`TracingContext`], and turns librdkafka's periodic
/// statistics into the `consumer.lag` gauge (messages behind the partition's end).
#[derive(Clone)]
pub struct ConsumerContext {
    group: String,
    lag: opentelemetry::metrics::Gauge<i64>,
}

impl ConsumerContext {
    pub fn new(group: &str) -> Self {
        let lag = opentelemetry::global::meter("platform.inbox")
            .i64_gauge("consumer.lag")
            .with_description(
                "messages between the committed position and the end of the partition",
            )
            .build();
        Self {
            group: group.to_string(),
            lag,
        }
    }
}

impl ClientContext for ConsumerContext {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        TracingContext.log(level, facility, message)
    }

    fn error(&self, error: KafkaError, reason: &str) {
        TracingContext.error(error, reason)
    }

    fn stats(&self, statistics: rdkafka::Statistics) {
        for (topic, detail) in statistics.topics {
            for (partition, p) in detail.partitions {
                // librdkafka reports -1 for partitions this member does not consume.
                if partition >= 0 && p.consumer_lag >= 0 {
                    let attrs = [
                        crate::telemetry::attr("consumer.group", self.group.clone()),
                        crate::telemetry::attr("topic", topic.clone()),
                        crate::telemetry::attr("partition", i64::from(partition)),
                    ];
                    self.lag.record(p.consumer_lag, &attrs);
                }
            }
        }
    }
}

impl rdkafka::consumer::ConsumerContext for ConsumerContext {}

/// The platform's Kafka producer.
#[derive(Clone)]
pub struct Producer {
    inner: FutureProducer<TracingContext>,
    kafka: KafkaSettings,
}

impl Producer {
    /// A producer to `kafka` (a bootstrap address alone means plaintext); `message_timeout`
    /// bounds how long one message is retried before its delivery fails.
    pub fn new(kafka: impl Into<KafkaSettings>, message_timeout: Duration) -> anyhow::Result<Self> {
        let kafka = kafka.into();
        let inner = kafka
            .client_config()
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set(
                "message.timeout.ms",
                message_timeout.as_millis().to_string(),
            )
            .set("linger.ms", "5")
            .create_with_context(TracingContext)?;
        Ok(Self { inner, kafka })
    }

    /// Sends one event and waits for the broker's acknowledgement.
    pub async fn send(
        &self,
        topic: &str,
        key: &str,
        payload: &[u8],
        event: &CloudEvent,
    ) -> Result<Delivery, KafkaError> {
        self.send_with_headers(topic, key, payload, event.to_headers())
            .await
    }

    /// Sends with headers already built (the DLQ keeps a message's own headers).
    pub async fn send_with_headers(
        &self,
        topic: &str,
        key: &str,
        payload: &[u8],
        headers: rdkafka::message::OwnedHeaders,
    ) -> Result<Delivery, KafkaError> {
        let record = FutureRecord::to(topic)
            .key(key)
            .payload(payload)
            .headers(headers);
        self.inner
            .send(record, Timeout::Never)
            .await
            .map_err(|(err, _)| err)
    }

    /// Hands one event to the producer without waiting for the broker, and returns the wait
    /// for its acknowledgement. Calls keep their order in the partition's queue. A message the
    /// producer refuses outright (larger than `message.max.bytes`, say) is an error here,
    /// before the caller hands over anything after it; a full local queue is waited out.
    pub async fn enqueue(
        &self,
        topic: &str,
        key: &str,
        payload: &[u8],
        event: &CloudEvent,
    ) -> Result<impl Future<Output = Result<Delivery, KafkaError>> + Send + 'static, KafkaError>
    {
        let mut record = FutureRecord::to(topic)
            .key(key)
            .payload(payload)
            .headers(event.to_headers());
        loop {
            match self.inner.send_result(record) {
                Ok(delivery) => {
                    return Ok(async move {
                        match delivery.await {
                            Ok(report) => report.map_err(|(err, _)| err),
                            Err(_dropped) => Err(KafkaError::Canceled),
                        }
                    });
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                Err((err, _)) => return Err(err),
            }
        }
    }

    /// Waits until every queued message is delivered or `timeout` passes (on shutdown).
    pub fn flush(&self, timeout: Duration) -> Result<(), KafkaError> {
        self.inner.flush(timeout)
    }

    /// Checks that every topic of `topics` exists and that this client may see it: a metadata
    /// request per topic. A topic the client is not authorized for (no ACL of its Kafka user
    /// names it) or that does not exist (no `KafkaTopic`) is an error naming the topic, so a
    /// service with a missing ACL stops at start instead of failing each send or consuming
    /// nothing. A topic just created may take a moment to appear, so "unknown" is asked again
    /// for up to `wait`.
    pub async fn check_topics(&self, topics: &[String], wait: Duration) -> anyhow::Result<()> {
        let producer = self.inner.clone();
        let topics = topics.to_vec();
        tokio::task::spawn_blocking(move || {
            let deadline = std::time::Instant::now() + wait;
            for topic in &topics {
                loop {
                    let metadata = producer
                        .client()
                        .fetch_metadata(Some(topic), Duration::from_secs(10))
                        .map_err(|err| {
                            anyhow::anyhow!("reading the metadata of topic {topic}: {err}")
                        })?;
                    let error = metadata
                        .topics()
                        .iter()
                        .find(|t| t.name() == topic)
                        .and_then(|t| t.error())
                        .map(RDKafkaErrorCode::from);
                    match error {
                        None => break,
                        Some(RDKafkaErrorCode::TopicAuthorizationFailed) => anyhow::bail!(
                            "this service's Kafka user is not authorized for topic {topic}: \
                             its KafkaUser lacks an ACL on it"
                        ),
                        Some(RDKafkaErrorCode::UnknownTopicOrPartition)
                            if std::time::Instant::now() < deadline =>
                        {
                            std::thread::sleep(Duration::from_millis(200));
                        }
                        Some(code) => anyhow::bail!("topic {topic} cannot be used: {code}"),
                    }
                }
            }
            Ok(())
        })
        .await?
    }

    /// Creates the topics that do not exist yet (the local stack; a cluster declares them as
    /// KafkaTopic resources). A topic that already exists is fine.
    pub async fn ensure_topics(&self, topics: &[&str], partitions: i32) -> anyhow::Result<()> {
        if topics.is_empty() {
            return Ok(());
        }
        let admin: AdminClient<TracingContext> = self
            .kafka
            .client_config()
            .create_with_context(TracingContext)?;
        let new_topics: Vec<NewTopic> = topics
            .iter()
            .map(|name| NewTopic::new(name, partitions, TopicReplication::Fixed(1)))
            .collect();
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
        for result in admin.create_topics(&new_topics, &options).await? {
            match result {
                Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((topic, code)) => anyhow::bail!("creating topic {topic}: {code}"),
            }
        }
        Ok(())
    }
}
