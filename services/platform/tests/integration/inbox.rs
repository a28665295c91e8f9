//! The inbox: exactly-once effect under duplicate delivery and a crash before the offset
//! commit; poison messages go to the DLQ and the partition moves on.

use std::time::Duration;

use haicheng_proto::census::v1::CensusReturnSubmitted;
use platform::{
    bus::{CloudEvent, dlq_topic},
    inbox::{ConsumerSettings, InboxConsumer},
};
use prost::Message;
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
    let event = testkit::cloud_event::<CensusReturnSubmitted>("platform-tests", subject);
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
        self.consumer_with(group, commit_interval, RecordingHandler)
    }

    fn consumer_with(
        &self,
        group: &str,
        commit_interval: Duration,
        handler: impl platform::Handler,
    ) -> (CancellationToken, JoinHandle<anyhow::Result<()>>) {
        let settings = ConsumerSettings {
            name: group.to_string(),
            kafka: stack().kafka_bootstrap.as_str().into(),
            topics: vec![self.topic.clone()],
            max_attempts: 3,
            commit_interval,
            group_instance_id: None,
        };
        let consumer =
            InboxConsumer::new(settings, self.pool.clone(), self.producer.clone(), handler);
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

/// [`RecordingHandler`], and the transaction each effect was applied in.
#[derive(Clone)]
struct TransactionRecordingHandler;

impl platform::Handler for TransactionRecordingHandler {
    async fn handle(
        &self,
        tx: &mut sqlx::PgConnection,
        event: &platform::Envelope,
    ) -> Result<(), platform::HandlerError> {
        RecordingHandler.handle(tx, event).await?;
        sqlx::query(
            "INSERT INTO effect_transactions (event_id, xid) VALUES ($1, pg_current_xact_id()::text::bigint)",
        )
        .bind(event.event.id)
        .execute(&mut *tx)
        .await?;
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_with_a_failing_message_is_applied_message_by_message() {
    let s = setup().await;
    sqlx::query("CREATE TABLE effect_transactions (event_id uuid NOT NULL, xid bigint NOT NULL)")
        .execute(&s.pool)
        .await
        .unwrap();
    // All produced before the consumer starts, so they arrive together: one batch, or a few.
    let mut good = Vec::new();
    for i in 0..10 {
        let (event, payload) = event_about(&format!("91210381MA0Q1234{i:02}"));
        s.produce(&event, &payload).await;
        good.push(event.id);
    }
    let (flaky, flaky_payload) = event_about("flaky");
    s.produce(&flaky, &flaky_payload).await;
    for i in 10..20 {
        let (event, payload) = event_about(&format!("91210381MA0Q1234{i:02}"));
        s.produce(&event, &payload).await;
        good.push(event.id);
    }
    // Ten more once those are applied: they arrive together and share transactions.
    let mut later = Vec::new();
    for i in 20..30 {
        let (event, payload) = event_about(&format!("91210381MA0Q1234{i:02}"));
        later.push((event, payload));
    }

    let group = unique_name("batch");
    let (stop, task) = s.consumer_with(&group, Duration::from_secs(1), TransactionRecordingHandler);
    let all_applied = wait_until(Duration::from_secs(60), || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT count(DISTINCT event_id) FROM effects WHERE event_id = ANY($1)",
        )
        .bind(&good)
        .fetch_one(&s.pool)
        .await
        .unwrap()
            == 20
    })
    .await;
    assert!(all_applied, "every good message of the batch applied");
    // Produced at once, so the producer sends them in one record batch.
    futures::future::join_all(
        later
            .iter()
            .map(|(event, payload)| s.produce(event, payload)),
    )
    .await;
    let later_ids: Vec<Uuid> = later.iter().map(|(e, _)| e.id).collect();
    let later_applied = wait_until(Duration::from_secs(60), || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM effects WHERE event_id = ANY($1)")
            .bind(&later_ids)
            .fetch_one(&s.pool)
            .await
            .unwrap()
            == 10
    })
    .await;
    assert!(later_applied);
    stop.cancel();
    task.await.unwrap().unwrap();

    for id in good.iter().chain(&later_ids) {
        assert_eq!(s.effect_count(*id).await, 1, "{id} applied exactly once");
    }
    assert_eq!(s.effect_count(flaky.id).await, 0);
    let dead = read_topic(
        &stack().kafka_bootstrap,
        &dlq_topic(&s.topic),
        1,
        Duration::from_secs(20),
        Duration::from_secs(1),
    )
    .await;
    assert_eq!(dead.len(), 1, "only the failing message is dead-lettered");
    let reason = platform::bus::cloudevents::header_map(dead[0].headers().map(|h| h.as_borrowed()))
        ["dlq_error"]
        .clone();
    assert!(reason.contains("failed 3 times"), "{reason}");
    assert_eq!(
        committed_offset(&group, &s.topic),
        Some(31),
        "every offset committed, the dead-lettered one included"
    );
    // The failing message's batch was rolled back and applied one transaction per message;
    // the messages after it arrived together again and shared transactions.
    let transactions: i64 = sqlx::query_scalar(
        "SELECT count(DISTINCT xid) FROM effect_transactions WHERE event_id = ANY($1)",
    )
    .bind(&later_ids)
    .fetch_one(&s.pool)
    .await
    .unwrap();
    assert!(
        transactions < 10,
        "10 messages that arrived together took {transactions} transactions"
    );
}

/// [`RecordingHandler`], except that it panics on the subject `panics`.
#[derive(Clone)]
struct PanickingHandler;

impl platform::Handler for PanickingHandler {
    async fn handle(
        &self,
        tx: &mut sqlx::PgConnection,
        event: &platform::Envelope,
    ) -> Result<(), platform::HandlerError> {
        let message: CensusReturnSubmitted = event.decode()?;
        // Written before the panic: it must be rolled back with the rest.
        RecordingHandler.handle(tx, event).await?;
        assert_ne!(
            message.uscc, "panics",
            "the test handler panics on this subject"
        );
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_handler_that_panics_dead_letters_its_message_and_the_consumer_goes_on() {
    let s = setup().await;
    let (before, before_payload) = event_about("91210381MA0Q12343L");
    s.produce(&before, &before_payload).await;
    let (poison, poison_payload) = event_about("panics");
    s.produce(&poison, &poison_payload).await;
    let (after, after_payload) = event_about("91210381MA10ABCD69");
    s.produce(&after, &after_payload).await;

    let (stop, task) = s.consumer_with(
        &unique_name("panic"),
        Duration::from_secs(1),
        PanickingHandler,
    );
    assert!(
        wait_until(Duration::from_secs(60), || s.applied(&after)).await,
        "the message after the panicking one is applied"
    );
    assert!(!task.is_finished(), "the consumer is still running");
    stop.cancel();
    task.await
        .expect("the consumer task did not panic")
        .expect("the consumer stopped cleanly");

    assert_eq!(s.effect_count(before.id).await, 1);
    assert_eq!(s.effect_count(poison.id).await, 0, "rolled back");
    assert_eq!(s.effect_count(after.id).await, 1);
    let dead = read_topic(
        &stack().kafka_bootstrap,
        &dlq_topic(&s.topic),
        1,
        Duration::from_secs(20),
        Duration::from_secs(1),
    )
    .await;
    assert_eq!(dead.len(), 1);
    let headers =
        platform::bus::cloudevents::header_map(dead[0].headers().map(|h| h.as_borrowed()));
    assert!(
        headers["dlq_error"].contains("the handler panicked")
            && headers["dlq_error"].contains("the test handler panics on this subject"),
        "{headers:?}"
    );
    assert_eq!(dead[0].payload(), Some(&poison_payload[..]));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_idle_consumer_commits_its_last_batch_so_its_lag_reaches_zero() {
    let s = setup().await;
    let group = unique_name("idle");
    let (stop, task) = s.consumer(&group, Duration::from_secs(1));
    // One message, then four more right after it is applied: the last batch comes well
    // within the commit interval of the one before, and then nothing more arrives. Before
    // the idle commit, that batch stayed uncommitted until another message came.
    let (first, payload) = event_about("idle-0");
    s.produce(&first, &payload).await;
    assert!(wait_until(Duration::from_secs(30), || s.applied(&first)).await);
    let mut last = first;
    for i in 1..5 {
        let (event, payload) = event_about(&format!("idle-{i}"));
        s.produce(&event, &payload).await;
        last = event;
    }
    assert!(wait_until(Duration::from_secs(30), || s.applied(&last)).await);
    let committed = wait_until(Duration::from_secs(30), || {
        let (group, topic) = (group.clone(), s.topic.clone());
        async move {
            tokio::task::spawn_blocking(move || committed_offset(&group, &topic))
                .await
                .unwrap()
                == Some(5)
        }
    })
    .await;
    assert!(
        committed,
        "the committed offset reaches the end while the consumer runs, with no new message"
    );
    assert!(!task.is_finished());
    stop.cancel();
    task.await.unwrap().unwrap();
}
