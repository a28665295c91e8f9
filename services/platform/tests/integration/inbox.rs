//! The inbox: exactly-once effect under duplicate delivery and a crash before the offset
//! commit; poison messages go to the DLQ and the partition moves on.

use std::time::Duration;

use chrono::Utc;
use haicheng_proto::census::v1::CensusReturnSubmitted;
use platform::{
    bus::{CloudEvent, dlq_topic},
    inbox::{ConsumerSettings, InboxConsumer},
};
use prost::{Message, Name};
use rdkafka::{
    ClientConfig, Offset, TopicPartitionList,
    consumer::{BaseConsumer, Consumer},
    message::Message as _,
};
use testkit::{read_topic, stack, unique_name, wait_until};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::{RecordingHandler, Setup, setup};

pub(crate) fn event_about(subject: &str) -> (CloudEvent, Vec<u8>) {
    let event = CloudEvent {
        id: Uuid::now_v7(),
        ty: CensusReturnSubmitted::full_name(),
        source: "platform-tests".into(),
        subject: subject.into(),
        time: Utc::now(),
        trace: Default::default(),
    };
    let payload = CensusReturnSubmitted {
        uscc: subject.into(),
        ..Default::default()
    }
    .encode_to_vec();
    (event, payload)
}

impl Setup {
    async fn produce(&self, event: &CloudEvent, payload: &[u8]) {
        self.producer
            .send(&self.topic, &event.subject, payload, event)
            .await
            .expect("produce");
    }

    fn consumer(
        &self,
        group: &str,
        commit_interval: Duration,
    ) -> (CancellationToken, JoinHandle<anyhow::Result<()>>) {
        let settings = ConsumerSettings {
            name: group.to_string(),
            bootstrap: stack().kafka_bootstrap.clone(),
            topics: vec![self.topic.clone()],
            max_attempts: 3,
            commit_interval,
            group_instance_id: None,
        };
        let consumer = InboxConsumer::new(
            settings,
            self.pool.clone(),
            self.producer.clone(),
            RecordingHandler,
        );
        let token = CancellationToken::new();
        (token.clone(), tokio::spawn(consumer.run(token)))
    }

    async fn applied(&self, event: &CloudEvent) -> bool {
        self.effect_count(event.id).await > 0
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_event_delivered_twice_is_applied_once() {
    let s = setup().await;
    let (twice, payload) = event_about("91210381MA0Q12343L");
    s.produce(&twice, &payload).await;
    s.produce(&twice, &payload).await;
    let (marker, marker_payload) = event_about("marker");
    s.produce(&marker, &marker_payload).await;

    let (stop, task) = s.consumer(&unique_name("dup"), Duration::from_secs(1));
    assert!(
        wait_until(Duration::from_secs(30), || s.applied(&marker)).await,
        "the consumer reached the marker"
    );
    stop.cancel();
    task.await.unwrap().unwrap();
    assert_eq!(s.effect_count(twice.id).await, 1);
}

/// The group's committed offset of partition 0, or `None` when nothing was committed.
fn committed_offset(group: &str, topic: &str) -> Option<i64> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &stack().kafka_bootstrap)
        .set("broker.address.family", "v4")
        .set("group.id", group)
        .create()
        .unwrap();
    let mut partitions = TopicPartitionList::new();
    partitions.add_partition(topic, 0);
    let committed = consumer
        .committed_offsets(partitions, Duration::from_secs(10))
        .unwrap();
    match committed.elements()[0].offset() {
        Offset::Offset(offset) => Some(offset),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_consumer_killed_after_its_effect_but_before_its_offset_commit_applies_it_once() {
    let s = setup().await;
    let group = unique_name("crash");
    let (event, payload) = event_about("91210381MA10ABCD69");
    s.produce(&event, &payload).await;

    // Offsets are committed only every hour, so the effect commits and the offset does not.
    let (_never, first) = s.consumer(&group, Duration::from_secs(3600));
    assert!(wait_until(Duration::from_secs(30), || s.applied(&event)).await);
    first.abort(); // a crash: no graceful offset commit
    let _ = first.await;
    assert_eq!(
        committed_offset(&group, &s.topic),
        None,
        "the crash left the offset uncommitted"
    );

    let (marker, marker_payload) = event_about("marker");
    s.produce(&marker, &marker_payload).await;
    let (stop, second) = s.consumer(&group, Duration::from_secs(1));
    assert!(
        wait_until(Duration::from_secs(60), || s.applied(&marker)).await,
        "the restarted consumer caught up"
    );
    stop.cancel();
    second.await.unwrap().unwrap();

    assert_eq!(
        s.effect_count(event.id).await,
        1,
        "redelivered, applied once"
    );
    assert_eq!(
        committed_offset(&group, &s.topic),
        Some(2),
        "a graceful stop commits the offsets"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn poison_messages_go_to_the_dlq_and_the_partition_moves_on() {
    let s = setup().await;
    // No CloudEvents headers at all.
    s.producer
        .send_with_headers(
            &s.topic,
            "k",
            b"not protobuf",
            rdkafka::message::OwnedHeaders::new(),
        )
        .await
        .unwrap();
    // Proper headers, a payload that is not the message it claims to be.
    let (undecodable, _) = event_about("garbled");
    s.produce(&undecodable, &[0xff, 0xff, 0xff]).await;
    // A handler that keeps failing: retried, then dead-lettered.
    let (flaky, flaky_payload) = event_about("flaky");
    s.produce(&flaky, &flaky_payload).await;
    let (good, good_payload) = event_about("91210381MA0Q12343L");
    s.produce(&good, &good_payload).await;

    let (stop, task) = s.consumer(&unique_name("poison"), Duration::from_secs(1));
    assert!(
        wait_until(Duration::from_secs(60), || s.applied(&good)).await,
        "the good message after the poison is applied"
    );
    stop.cancel();
    task.await.unwrap().unwrap();

    let dead = read_topic(
        &stack().kafka_bootstrap,
        &dlq_topic(&s.topic),
        3,
        Duration::from_secs(20),
        Duration::from_secs(1),
    )
    .await;
    assert_eq!(dead.len(), 3);
    let reasons: Vec<String> = dead
        .iter()
        .map(|m| platform::bus::cloudevents::header_map(m.headers().map(|h| h.as_borrowed()))["dlq_error"].clone())
        .collect();
    assert!(reasons[0].contains("not a CloudEvent"), "{reasons:?}");
    assert!(
        reasons[1].contains("payload is not a haicheng.census.v1.CensusReturnSubmitted"),
        "{reasons:?}"
    );
    assert!(reasons[2].contains("failed 3 times"), "{reasons:?}");
    assert_eq!(
        dead[0].payload(),
        Some(&b"not protobuf"[..]),
        "the DLQ keeps the original payload"
    );
    assert_eq!(s.effect_count(flaky.id).await, 0);
}
