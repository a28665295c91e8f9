//! What a produced message carries: the CloudEvents attributes and the trace context, and
//! the consumer's span continues the producer's trace.

use std::time::Duration;

use haicheng_proto::census::v1::CensusReturnSubmitted;
use platform::{
    bus::cloudevents::header_map,
    inbox::{ConsumerSettings, InboxConsumer},
    telemetry,
};
use prost::Name;
use rdkafka::Message;
use testkit::{read_topic, stack, unique_name, wait_until};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::{RecordingHandler, setup};

#[tokio::test(flavor = "multi_thread")]
async fn messages_carry_cloudevents_headers_and_the_consumer_continues_the_trace() {
    let s = setup().await;
    let request = tracing::info_span!("census.submit_return");
    let producer_trace = request
        .in_scope(telemetry::current_trace_id)
        .expect("the test span has a trace id");
    let event_id = async {
        let mut tx = s.pool.begin().await.unwrap();
        let id = s
            .outbox
            .enqueue(&mut tx, s.event("91210381MA0Q12343L"))
            .await
            .unwrap();
        tx.commit().await.unwrap();
        id
    }
    .instrument(request)
    .await;
    assert_eq!(s.relay(10).publish_pass().await.unwrap().published, 1);

    let messages = read_topic(
        &stack().kafka_bootstrap,
        &s.topic,
        1,
        Duration::from_secs(20),
        Duration::from_millis(500),
    )
    .await;
    assert_eq!(messages.len(), 1);
    let message = &messages[0];
    let headers = header_map(message.headers().map(|h| h.as_borrowed()));
    assert_eq!(headers["ce_id"], event_id.to_string());
    assert_eq!(headers["ce_type"], CensusReturnSubmitted::full_name());
    assert_eq!(headers["ce_source"], "platform-tests");
    assert_eq!(headers["ce_subject"], "91210381MA0Q12343L");
    assert_eq!(headers["ce_specversion"], "1.0");
    assert_eq!(headers["content-type"], "application/protobuf");
    assert!(headers.contains_key("ce_time"));
    assert_eq!(message.key(), Some(&b"91210381MA0Q12343L"[..]));
    let traceparent = &headers["traceparent"];
    assert_eq!(
        traceparent.split('-').nth(1),
        Some(producer_trace.as_str()),
        "traceparent {traceparent}"
    );

    let settings = ConsumerSettings {
        name: unique_name("trace"),
        kafka: stack().kafka_bootstrap.as_str().into(),
        topics: vec![s.topic.clone()],
        max_attempts: 3,
        commit_interval: Duration::from_secs(1),
        group_instance_id: None,
    };
    let stop = CancellationToken::new();
    let consumer = tokio::spawn(
        InboxConsumer::new(
            settings,
            s.pool.clone(),
            s.producer.clone(),
            RecordingHandler,
        )
        .run(stop.clone()),
    );
    assert!(
        wait_until(Duration::from_secs(30), || async {
            s.effect_count(event_id).await == 1
        })
        .await
    );
    stop.cancel();
    consumer.await.unwrap().unwrap();

    let consumer_trace: Option<String> =
        sqlx::query_scalar("SELECT trace_id FROM effects WHERE event_id = $1")
            .bind(event_id)
            .fetch_one(&s.pool)
            .await
            .unwrap();
    assert_eq!(
        consumer_trace,
        Some(producer_trace),
        "the consumer's span is in the producer's trace"
    );
}
