//! The producer: idempotent, `acks=all`, one delivery report awaited per message.

use std::time::Duration;

use rdkafka::{
    ClientConfig, ClientContext,
    admin::{AdminClient, AdminOptions, NewTopic, TopicReplication},
    config::RDKafkaLogLevel,
    error::{KafkaError, RDKafkaErrorCode},
    producer::{FutureProducer, FutureRecord, Producer as _},
    util::Timeout,
};

use super::CloudEvent;

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

/// Base client settings shared by producer, consumer and admin client.
pub(crate) fn client_config(bootstrap: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", bootstrap)
        // The local broker and most clusters are reached over IPv4 loopback or pod IPs.
        .set("broker.address.family", "v4")
        .set_log_level(RDKafkaLogLevel::Warning);
    config
}

/// The platform's Kafka producer.
#[derive(Clone)]
pub struct Producer {
    inner: FutureProducer<TracingContext>,
    bootstrap: String,
}

impl Producer {
    /// `message_timeout` bounds how long one message is retried before its delivery fails.
    pub fn new(bootstrap: &str, message_timeout: Duration) -> anyhow::Result<Self> {
        let inner = client_config(bootstrap)
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set(
                "message.timeout.ms",
                message_timeout.as_millis().to_string(),
            )
            .set("linger.ms", "5")
            .create_with_context(TracingContext)?;
        Ok(Self {
            inner,
            bootstrap: bootstrap.to_string(),
        })
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

    /// Creates the topics that do not exist yet (the local stack; a cluster declares them as
    /// KafkaTopic resources). A topic that already exists is fine.
    pub async fn ensure_topics(&self, topics: &[&str], partitions: i32) -> anyhow::Result<()> {
        if topics.is_empty() {
            return Ok(());
        }
        let admin: AdminClient<TracingContext> =
            client_config(&self.bootstrap).create_with_context(TracingContext)?;
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
