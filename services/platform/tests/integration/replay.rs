//! Replay: a consumer whose broker lost events catches up from a replay of the producer's
//! outbox, applying every effect once; replayed events keep their ids and go out before
//! newer ones; a replay is limited by time, id and topic, and waits for a relay batch in
//! flight.

use std::time::Duration;

use chrono::{DateTime, Utc};
use platform::{
    config::{PlatformConfig, lookup_in, vars},
    inbox::{ConsumerSettings, InboxConsumer},
    outbox::replay::{ReplayFrom, replay},
};
use rdkafka::Message as _;
use testkit::{read_topic, stack, unique_name, wait_until};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::{RecordingHandler, Setup, ce_id, setup};

impl Setup {
    /// The real inbox consumer `name` on the test topic.
    fn start_consumer(&self, name: &str) -> (CancellationToken, JoinHandle<anyhow::Result<()>>) {
        let settings = ConsumerSettings {
            name: name.to_string(),
            kafka: stack().kafka_bootstrap.as_str().into(),
            topics: vec![self.topic.clone()],
            max_attempts: 3,
            commit_interval: Duration::from_millis(200),
            group_instance_id: None,
        };
        let consumer = InboxConsumer::new(
            settings,
            self.pool.clone(),
            self.producer.clone(),
            RecordingHandler,
        );
        let stop = CancellationToken::new();
        (stop.clone(), tokio::spawn(consumer.run(stop)))
    }

    async fn applied_count(&self) -> i64 {
        sqlx::query_scalar("SELECT count(DISTINCT event_id) FROM effects")
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    async fn database_now(&self) -> DateTime<Utc> {
        sqlx::query_scalar("SELECT now()")
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    async fn outbox_id(&self, event: Uuid) -> i64 {
        sqlx::query_scalar("SELECT id FROM outbox WHERE event_id = $1")
            .bind(event)
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    async fn requeued(&self) -> Vec<Uuid> {
        sqlx::query_scalar("SELECT event_id FROM outbox_unsent ORDER BY id")
            .fetch_all(&self.pool)
            .await
            .unwrap()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_consumer_whose_broker_lost_events_catches_up_from_a_replay_applying_each_once() {
    let s = setup().await;
    let consumer = unique_name("replay");

    // Before the replay point: published and applied; not replayed.
    let before = s.enqueue(5, true).await;
    s.publish_all().await;
    let (stop, task) = s.start_consumer(&consumer);
    assert!(
        wait_until(Duration::from_secs(60), || async {
            s.applied_count().await == 5
        })
        .await
    );
    let since = s.database_now().await;

    // Published and applied: the replay re-publishes them and the inbox drops them.
    let applied = s.enqueue(20, true).await;
    s.publish_all().await;
    assert!(
        wait_until(Duration::from_secs(60), || async {
            s.applied_count().await == 25
        })
        .await
    );
    stop.cancel();
    task.await.unwrap().unwrap();

    // Acknowledged by the broker, marked sent, then lost: they went to a topic nobody reads.
    let lost_prefix = format!("{}.", unique_name("lost"));
    let lost_topic = format!("{lost_prefix}{}", s.topic);
    s.producer.ensure_topics(&[&lost_topic], 1).await.unwrap();
    let lost = s.enqueue(15, true).await;
    s.publish_all_to(&lost_prefix).await;
    // Written after the lost ones and not yet published when the replay runs.
    let newer = s.enqueue(3, true).await;

    let replayed = replay(&s.pool, ReplayFrom::Time(since), None)
        .await
        .unwrap();
    assert_eq!(
        replayed.rows, 35,
        "the 20 applied and the 15 lost, not the 5 before"
    );
    assert_eq!(replayed.first_id, Some(s.outbox_id(applied[0]).await));
    assert_eq!(replayed.last_id, Some(s.outbox_id(lost[14]).await));

    s.publish_all().await;
    let (stop, task) = s.start_consumer(&consumer);
    assert!(
        wait_until(Duration::from_secs(60), || async {
            s.applied_count().await == 43
        })
        .await,
        "every event applied, the lost ones included (applied {})",
        s.applied_count().await
    );
    stop.cancel();
    task.await.unwrap().unwrap();

    let effects: i64 = sqlx::query_scalar("SELECT count(*) FROM effects")
        .fetch_one(&s.pool)
        .await
        .unwrap();
    assert_eq!(effects, 43, "no effect applied twice");
    for event in before.iter().chain(&applied).chain(&lost).chain(&newer) {
        assert_eq!(s.effect_count(*event).await, 1, "{event}");
    }

    // On the one partition: the first 25, then the replay with the same ids in the original
    // order, then what was written after it.
    let messages = read_topic(
        &stack().kafka_bootstrap,
        &s.topic,
        63,
        Duration::from_secs(30),
        Duration::from_secs(2),
    )
    .await;
    assert_eq!(messages.len(), 63);
    let published: Vec<Uuid> = messages.iter().map(|m| ce_id(m).unwrap()).collect();
    let expected = [before.clone(), applied.clone(), applied, lost, newer].concat();
    assert_eq!(published, expected);
    assert!(messages.windows(2).all(|w| w[0].offset() < w[1].offset()));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replay_from_an_id_takes_the_sent_rows_of_one_topic_from_there() {
    let s = setup().await;
    let other_topic = unique_name("test.other");
    s.producer.ensure_topics(&[&other_topic], 1).await.unwrap();
    let first = s.enqueue(4, true).await;
    let later = s.enqueue(6, true).await;
    let mut tx = s.pool.begin().await.unwrap();
    let mut event = s.event("other");
    event.topic = other_topic.clone();
    let elsewhere = s.outbox.enqueue(&mut tx, event).await.unwrap();
    tx.commit().await.unwrap();
    s.publish_all().await;
    let unsent = s.enqueue(2, true).await;

    let from = ReplayFrom::Id(s.outbox_id(later[0]).await);
    let replayed = replay(&s.pool, from, Some(&s.topic)).await.unwrap();
    assert_eq!(replayed.rows, 6);
    let mut expected = [later.clone(), unsent.clone()].concat();
    expected.sort_by_key(|id| *id); // UUIDv7: the order they were written in
    assert_eq!(
        s.requeued().await,
        expected,
        "the 6 from there and the 2 never sent"
    );
    assert!(!s.requeued().await.contains(&elsewhere));
    assert!(!s.requeued().await.iter().any(|id| first.contains(id)));

    // The service binary's `replay` command does the same against DATABASE_URL.
    s.publish_all().await;
    let config = PlatformConfig::from_lookup(
        "platform-tests",
        0,
        lookup_in(&[(vars::DATABASE_URL, &s.db.url)]),
    )
    .unwrap();
    let args = [
        "--from-id".to_string(),
        s.outbox_id(first[2]).await.to_string(),
    ];
    platform::outbox::replay::command(&config, &args)
        .await
        .unwrap();
    let mut expected = [first[2..].to_vec(), later, vec![elsewhere], unsent].concat();
    expected.sort_by_key(|id| *id);
    assert_eq!(s.requeued().await, expected, "every topic without --topic");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replay_waits_for_the_relay_batch_in_flight() {
    let s = setup().await;
    s.enqueue(3, true).await;
    s.publish_all().await;

    // A relay in the middle of a batch holds the lock in its transaction.
    let mut relay_batch = s.pool.begin().await.unwrap();
    let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
        .bind(platform::outbox::RELAY_LOCK)
        .fetch_one(&mut *relay_batch)
        .await
        .unwrap();
    assert!(locked);
    let pool = s.pool.clone();
    let since: DateTime<Utc> = "2000-01-01T00:00:00Z".parse().unwrap();
    let replay_task =
        tokio::spawn(async move { replay(&pool, ReplayFrom::Time(since), None).await });
    assert!(
        wait_until(Duration::from_secs(10), || async {
            sqlx::query_scalar::<_, i64>(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
                 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            )
            .fetch_one(&s.pool)
            .await
            .unwrap()
                == 1
        })
        .await,
        "the replay waits for the lock"
    );
    assert_eq!(
        s.unsent().await,
        0,
        "nothing re-queued while the batch is in flight"
    );
    relay_batch.commit().await.unwrap();
    assert_eq!(replay_task.await.unwrap().unwrap().rows, 3);
}
