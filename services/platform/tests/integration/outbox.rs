//! The outbox: committed rows are published exactly once, rolled-back rows never, and
//! nothing is lost across a relay crash or a broker outage.

use std::{collections::HashSet, time::Duration};

use testkit::{Broker, read_topic, wait_until};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::{ce_id, setup, setup_with_broker};

fn ids_of(messages: &[rdkafka::message::OwnedMessage]) -> Vec<Uuid> {
    messages
        .iter()
        .map(|m| ce_id(m).expect("every message carries ce_id"))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn committed_rows_are_published_exactly_once() {
    let s = setup().await;
    let mut expected = s.enqueue(40, true).await;
    expected.extend(s.enqueue(25, true).await);
    let relay = s.relay(16);
    while relay.publish_pass().await.unwrap().published > 0 {}
    // Further passes find nothing to publish again.
    assert_eq!(relay.publish_pass().await.unwrap().published, 0);
    assert_eq!(s.unsent().await, 0);

    let messages = read_topic(
        &testkit::stack().kafka_bootstrap,
        &s.topic,
        65,
        Duration::from_secs(20),
        Duration::from_secs(2),
    )
    .await;
    let mut published = ids_of(&messages);
    assert_eq!(published.len(), 65, "each committed row exactly once");
    published.sort();
    expected.sort();
    assert_eq!(published, expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn rolled_back_rows_are_never_published() {
    let s = setup().await;
    let rolled_back = s.enqueue(10, false).await;
    let committed = s.enqueue(3, true).await;
    assert_eq!(
        s.unsent().await,
        3,
        "rolled-back rows never reach the table"
    );
    let relay = s.relay(100);
    assert_eq!(relay.publish_pass().await.unwrap().published, 3);

    let messages = read_topic(
        &testkit::stack().kafka_bootstrap,
        &s.topic,
        3,
        Duration::from_secs(20),
        Duration::from_secs(2),
    )
    .await;
    let published: HashSet<Uuid> = ids_of(&messages).into_iter().collect();
    assert_eq!(published, committed.into_iter().collect());
    assert!(rolled_back.iter().all(|id| !published.contains(id)));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_relay_killed_mid_run_publishes_the_rest_after_restart() {
    let s = setup().await;
    // Enough rows that the first relay is still publishing when it is killed.
    let events: Vec<_> = (0..5_000)
        .map(|i| s.event(&format!("subject-{}", i % 7)))
        .collect();
    let mut tx = s.pool.begin().await.unwrap();
    let expected: HashSet<Uuid> = s
        .outbox
        .enqueue_many(&mut tx, events)
        .await
        .unwrap()
        .into_iter()
        .collect();
    tx.commit().await.unwrap();

    // The first relay is aborted (as a crash would) once it has published part of the rows.
    let first_relay = s.relay(10);
    let unmarked_limit = first_relay.unmarked_limit();
    let first = tokio::spawn(first_relay.run(CancellationToken::new()));
    assert!(
        wait_until(Duration::from_secs(30), || async {
            s.unsent().await <= 4_000
        })
        .await
    );
    first.abort();
    let _ = first.await;
    let left = s.unsent().await;
    assert!(left > 0, "the crash left rows unpublished (left {left})");

    let shutdown = CancellationToken::new();
    let second = tokio::spawn(s.relay(10).run(shutdown.clone()));
    assert!(wait_until(Duration::from_secs(60), || async { s.unsent().await == 0 }).await);
    shutdown.cancel();
    second.await.unwrap();

    let messages = read_topic(
        &testkit::stack().kafka_bootstrap,
        &s.topic,
        5_000,
        Duration::from_secs(30),
        Duration::from_secs(2),
    )
    .await;
    let published = ids_of(&messages);
    let distinct: HashSet<Uuid> = published.iter().copied().collect();
    assert_eq!(distinct, expected, "no row lost");
    // At most the rows published and not yet marked at the crash (the pipeline's window) are
    // published twice; consumers drop the copies.
    let duplicates = published.len() - distinct.len();
    assert!(
        duplicates <= unmarked_limit,
        "{duplicates} duplicates, more than the {unmarked_limit} the window allows"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn nothing_is_lost_while_the_broker_is_away() {
    let mut broker = Broker::reserve();
    let s = setup_with_broker(&broker.bootstrap(), false).await;
    let expected: HashSet<Uuid> = s.enqueue(20, true).await.into_iter().collect();

    let shutdown = CancellationToken::new();
    let relay = tokio::spawn(s.relay(50).run(shutdown.clone()));
    // With no broker, deliveries time out (3 s) and the relay keeps the rows and backs off.
    let attempted = wait_until(Duration::from_secs(20), || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM outbox WHERE attempts > 0 AND last_error IS NOT NULL",
        )
        .fetch_one(&s.pool)
        .await
        .unwrap()
            == 20
    })
    .await;
    assert!(attempted, "the relay tried and recorded the failure");
    assert_eq!(
        s.unsent().await,
        20,
        "nothing is marked sent while the broker is away"
    );

    broker.start();
    s.producer.ensure_topics(&[&s.topic], 1).await.unwrap();
    assert!(
        wait_until(Duration::from_secs(60), || async { s.unsent().await == 0 }).await,
        "all published once the broker is back"
    );
    shutdown.cancel();
    relay.await.unwrap();

    let messages = read_topic(
        &broker.bootstrap(),
        &s.topic,
        20,
        Duration::from_secs(20),
        Duration::from_secs(2),
    )
    .await;
    let published = ids_of(&messages);
    assert_eq!(published.len(), 20, "each row once");
    assert_eq!(published.into_iter().collect::<HashSet<_>>(), expected);
}

/// An outbox id is taken at insert, not at commit: a transaction that took a lower id and
/// commits after a higher id was published is still published, once (the watermark is a
/// snapshot of committed transactions, not "sent up to id").
#[tokio::test(flavor = "multi_thread")]
async fn a_row_committed_after_a_higher_id_was_published_is_published_too() {
    let s = setup().await;
    let mut late = s.pool.begin().await.unwrap();
    let late_id = s.outbox.enqueue(&mut late, s.event("late")).await.unwrap();
    let early = s.enqueue(3, true).await;
    let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM outbox ORDER BY id")
        .fetch_all(&s.pool)
        .await
        .unwrap();
    assert_eq!(
        ids.len(),
        3,
        "the open transaction's row is not visible yet"
    );

    let relay = s.relay(16);
    assert_eq!(relay.publish_pass().await.unwrap().published, 3);
    late.commit().await.unwrap();
    let late_row: i64 = sqlx::query_scalar("SELECT id FROM outbox WHERE event_id = $1")
        .bind(late_id)
        .fetch_one(&s.pool)
        .await
        .unwrap();
    assert!(late_row < ids[0], "the late row has the lowest id");
    assert_eq!(s.unsent().await, 1, "the late row is unsent");
    assert_eq!(relay.publish_pass().await.unwrap().published, 1);
    assert_eq!(relay.publish_pass().await.unwrap().published, 0);
    assert_eq!(s.unsent().await, 0);

    let messages = read_topic(
        &testkit::stack().kafka_bootstrap,
        &s.topic,
        4,
        Duration::from_secs(20),
        Duration::from_secs(2),
    )
    .await;
    let mut published = ids_of(&messages);
    published.sort();
    let mut expected = [early, vec![late_id]].concat();
    expected.sort();
    assert_eq!(published, expected, "each row exactly once");
}

/// Publishing does not rewrite a row: the relay records a watermark, so a sent row keeps the
/// tuple it was committed with.
#[tokio::test(flavor = "multi_thread")]
async fn publishing_leaves_the_rows_as_they_were_written() {
    let s = setup().await;
    s.enqueue(40, true).await;
    let tuples = || async {
        sqlx::query_scalar::<_, String>(
            "SELECT ctid::text || '/' || xmin::text FROM outbox ORDER BY id",
        )
        .fetch_all(&s.pool)
        .await
        .unwrap()
    };
    let before = tuples().await;
    let relay = s.relay(16);
    assert_eq!(relay.publish_pass().await.unwrap().published, 40);
    assert_eq!(s.unsent().await, 0);
    assert_eq!(tuples().await, before, "no row was rewritten");
}
