//! The broker is faithful where the platform's delivery depends on it: a member that resumes
//! inside a record batch gets exactly the rest, and the lag gauge counts what is left.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use opentelemetry_sdk::metrics::{
    InMemoryMetricExporter, PeriodicReader, SdkMeterProvider,
    data::{AggregatedMetrics, MetricData},
};
use platform::bus::{ConsumerContext, Producer};
use rdkafka::{
    ClientConfig, ClientContext, Message, Offset, Statistics, TopicPartitionList,
    consumer::{CommitMode, Consumer, DefaultConsumerContext, StreamConsumer},
    producer::{FutureProducer, FutureRecord},
    util::Timeout,
};
use testkit::{stack, unique_name, wait_until};

/// Remembers the largest number of messages librdkafka put in one record batch.
#[derive(Clone, Default)]
struct BatchSizes(Arc<Mutex<i64>>);

impl ClientContext for BatchSizes {
    fn stats(&self, statistics: Statistics) {
        let largest = statistics
            .topics
            .values()
            .map(|topic| topic.batchcnt.max)
            .max()
            .unwrap_or(0);
        let mut seen = self.0.lock().unwrap();
        *seen = (*seen).max(largest);
    }
}

/// A one-partition topic of this test's own.
async fn topic() -> String {
    let topic = unique_name("broker.faithful");
    Producer::new(&stack().kafka_bootstrap, Duration::from_secs(5))
        .unwrap()
        .ensure_topics(&[&topic], 1)
        .await
        .unwrap();
    topic
}

/// Produces `count` messages (payload = their number) as the default producer batches them:
/// all in flight at once, so librdkafka packs many into each record batch. The producer is
/// returned so that its statistics keep coming.
async fn produce(topic: &str, count: usize, context: BatchSizes) -> FutureProducer<BatchSizes> {
    let producer: FutureProducer<BatchSizes> = ClientConfig::new()
        .set("bootstrap.servers", &stack().kafka_bootstrap)
        .set("broker.address.family", "v4")
        .set("enable.idempotence", "true")
        .set("linger.ms", "50")
        .set("statistics.interval.ms", "100")
        .create_with_context(context)
        .unwrap();
    let payloads: Vec<String> = (0..count).map(|i| i.to_string()).collect();
    let deliveries = payloads.iter().map(|payload| {
        producer.send(
            FutureRecord::<str, str>::to(topic)
                .key("k")
                .payload(payload),
            Timeout::After(Duration::from_secs(10)),
        )
    });
    for delivery in futures::future::join_all(deliveries).await {
        delivery.expect("delivered");
    }
    producer
}

fn consumer<C: rdkafka::consumer::ConsumerContext + 'static>(
    group: &str,
    context: C,
) -> StreamConsumer<C> {
    ClientConfig::new()
        .set("bootstrap.servers", &stack().kafka_bootstrap)
        .set("broker.address.family", "v4")
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("statistics.interval.ms", "200")
        .create_with_context(context)
        .unwrap()
}

async fn receive<C: rdkafka::consumer::ConsumerContext + 'static>(
    consumer: &StreamConsumer<C>,
) -> (i64, String) {
    let message = tokio::time::timeout(Duration::from_secs(30), consumer.recv())
        .await
        .expect("a message within 30 s")
        .expect("no consumer error");
    let payload = String::from_utf8_lossy(message.payload().unwrap_or_default()).into_owned();
    (message.offset(), payload)
}

#[tokio::test]
async fn a_member_resuming_inside_a_record_batch_receives_exactly_the_rest() {
    let topic = topic().await;
    let batches = BatchSizes::default();
    let _producer = produce(&topic, 1_000, batches.clone()).await;
    let multi_record = wait_until(Duration::from_secs(10), || {
        let batches = batches.clone();
        async move { *batches.0.lock().unwrap() > 1 }
    })
    .await;
    assert!(multi_record, "the producer made multi-record batches");

    // The first member commits position 150, which lies inside a record batch, and leaves.
    let group = unique_name("resume");
    let first = consumer(&group, DefaultConsumerContext);
    first.subscribe(&[&topic]).unwrap();
    assert_eq!(receive(&first).await.0, 0);
    let mut position = TopicPartitionList::new();
    position
        .add_partition_offset(&topic, 0, Offset::Offset(150))
        .unwrap();
    first.commit(&position, CommitMode::Sync).unwrap();
    drop(first);

    let second = consumer(&group, DefaultConsumerContext);
    second.subscribe(&[&topic]).unwrap();
    let mut rest = Vec::new();
    while rest.len() < 850 {
        rest.push(receive(&second).await);
    }
    let expected: Vec<(i64, String)> = (150..1_000).map(|i| (i, i.to_string())).collect();
    assert_eq!(rest, expected, "offsets 150..999, in order, none skipped");
    // And nothing after the last one.
    assert!(
        tokio::time::timeout(Duration::from_millis(500), second.recv())
            .await
            .is_err(),
        "no message beyond offset 999"
    );
}

/// The `consumer.lag` gauge's value for `topic` partition 0, as last exported.
fn exported_lag(exporter: &InMemoryMetricExporter, topic: &str) -> Option<i64> {
    let metrics = exporter.get_finished_metrics().ok()?;
    let mut lag = None;
    for resource in &metrics {
        for scope in resource.scope_metrics() {
            for metric in scope.metrics().filter(|m| m.name() == "consumer.lag") {
                if let AggregatedMetrics::I64(MetricData::Gauge(gauge)) = metric.data() {
                    for point in gauge.data_points() {
                        let of_topic = point
                            .attributes()
                            .any(|kv| kv.key.as_str() == "topic" && kv.value.as_str() == topic);
                        if of_topic {
                            lag = Some(point.value());
                        }
                    }
                }
            }
        }
    }
    lag
}

#[tokio::test]
async fn consumer_lag_counts_the_messages_after_the_committed_position() {
    let exporter = InMemoryMetricExporter::default();
    let provider = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(exporter.clone()).build())
        .build();
    opentelemetry::global::set_meter_provider(provider.clone());

    let topic = topic().await;
    let _producer = produce(&topic, 100, BatchSizes::default()).await;
    let group = unique_name("lag");
    let consumer = consumer(&group, ConsumerContext::new(&group));
    consumer.subscribe(&[&topic]).unwrap();
    let mut last = None;
    for _ in 0..40 {
        last = Some(receive(&consumer).await.0);
    }
    assert_eq!(last, Some(39));
    consumer
        .commit_consumer_state(CommitMode::Sync)
        .expect("committing position 40");
    // Statistics are emitted while the consumer is polled: keep polling (what arrives is not
    // committed, so the committed position stays at 40) until the gauge is exported.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut lag = None;
    while tokio::time::Instant::now() < deadline {
        let _ = tokio::time::timeout(Duration::from_millis(100), consumer.recv()).await;
        provider.force_flush().unwrap();
        lag = exported_lag(&exporter, &topic);
        if lag == Some(60) {
            break;
        }
    }
    assert_eq!(lag, Some(60), "100 produced, 40 committed");
}
