//! The pipelined relay keeps each key's order when a produce fails: a row larger than the
//! producer's `message.max.bytes` (a real refusal, no mock) stays unsent, no later row
//! of its key is published before it, the other keys go on, and once the row can be
//! delivered its key continues in the original order.

use std::{collections::HashMap, time::Duration};

use rdkafka::Message as _;
use testkit::read_topic;
use uuid::Uuid;

use crate::{ce_id, setup};

/// The event ids on the topic per key, in topic order.
fn by_key(messages: &[rdkafka::message::OwnedMessage]) -> HashMap<String, Vec<Uuid>> {
    let mut keys: HashMap<String, Vec<Uuid>> = HashMap::new();
    for message in messages {
        let key = String::from_utf8_lossy(message.key().unwrap_or_default()).into_owned();
        keys.entry(key).or_default().push(ce_id(message).unwrap());
    }
    keys
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_row_holds_back_the_rest_of_its_key_and_nothing_overtakes_it() {
    let s = setup().await;
    // Keys a and b alternate, 20 rows each; a's sixth row is too large for the producer.
    let mut events = Vec::new();
    for i in 0..20 {
        let mut a = s.event("a");
        if i == 5 {
            a.payload = vec![7; 1_200_000];
        }
        events.push(a);
        events.push(s.event("b"));
    }
    let mut tx = s.pool.begin().await.unwrap();
    let ids = s.outbox.enqueue_many(&mut tx, events).await.unwrap();
    tx.commit().await.unwrap();
    let a: Vec<Uuid> = ids.iter().copied().step_by(2).collect();
    let b: Vec<Uuid> = ids.iter().copied().skip(1).step_by(2).collect();

    // Batches of 4, so several are in flight when the large row is handed over.
    let relay = s.relay(4);
    let pass = relay.publish_pass().await.unwrap();
    assert_eq!(pass.failed, 1, "{pass:?}");
    assert_eq!(
        pass.held_back, 14,
        "a's rows after the refused one: {pass:?}"
    );
    assert_eq!(pass.published, 25, "a's first five and all of b: {pass:?}");

    let (attempts, error, sent): (i32, Option<String>, bool) = sqlx::query_as(
        "SELECT attempts, last_error, event_id NOT IN (SELECT event_id FROM outbox_unsent)
         FROM outbox WHERE event_id = $1",
    )
    .bind(a[5])
    .fetch_one(&s.pool)
    .await
    .unwrap();
    assert_eq!(attempts, 1);
    assert!(!sent, "a refused row stays unsent");
    assert!(
        error.as_deref().is_some_and(|e| e.contains("size")),
        "{error:?}"
    );
    let untried: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM outbox_unsent WHERE event_id = ANY($1) AND attempts = 0",
    )
    .bind(&a[6..])
    .fetch_one(&s.pool)
    .await
    .unwrap();
    assert_eq!(untried, 14, "the rest of a stays unsent and untried");

    let bootstrap = &testkit::stack().kafka_bootstrap;
    let first = read_topic(
        bootstrap,
        &s.topic,
        25,
        Duration::from_secs(20),
        Duration::from_secs(2),
    )
    .await;
    let keys = by_key(&first);
    assert_eq!(keys["a"], a[..5], "a stops before its refused row");
    assert_eq!(keys["b"], b, "b is not held up by a");

    // The row is made deliverable (as a fixed producer setting would); the next pass starts
    // claims the rows listed for a retry from the lowest id: a's sixth row, then the rest of a,
    // in order.
    sqlx::query("UPDATE outbox SET payload = '\\x0a0161'::bytea WHERE event_id = $1")
        .bind(a[5])
        .execute(&s.pool)
        .await
        .unwrap();
    let pass = relay.publish_pass().await.unwrap();
    assert_eq!((pass.published, pass.failed, pass.held_back), (15, 0, 0));
    assert_eq!(s.unsent().await, 0);
    let all = read_topic(
        bootstrap,
        &s.topic,
        40,
        Duration::from_secs(20),
        Duration::from_secs(2),
    )
    .await;
    assert_eq!(all.len(), 40, "each row once");
    let keys = by_key(&all);
    assert_eq!(keys["a"], a, "a in its original order");
    assert_eq!(keys["b"], b);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pass_publishes_many_batches_in_order_per_key() {
    let s = setup().await;
    // 7 keys over 2,000 rows: every batch of 16 holds several rows of each key.
    let events: Vec<_> = (0..2_000)
        .map(|i| s.event(&format!("key-{}", i % 7)))
        .collect();
    let mut tx = s.pool.begin().await.unwrap();
    let ids = s.outbox.enqueue_many(&mut tx, events).await.unwrap();
    tx.commit().await.unwrap();

    let relay = s.relay(16);
    let mut published = 0;
    loop {
        let pass = relay.publish_pass().await.unwrap();
        assert_eq!(pass.failed, 0);
        published += pass.published;
        if !pass.more {
            break;
        }
    }
    assert_eq!(published, 2_000);
    assert_eq!(s.unsent().await, 0);

    let messages = read_topic(
        &testkit::stack().kafka_bootstrap,
        &s.topic,
        2_000,
        Duration::from_secs(30),
        Duration::from_secs(2),
    )
    .await;
    assert_eq!(messages.len(), 2_000, "each row once");
    let keys = by_key(&messages);
    for k in 0..7 {
        let expected: Vec<Uuid> = ids.iter().copied().skip(k).step_by(7).collect();
        assert_eq!(
            keys[&format!("key-{k}")],
            expected,
            "key-{k} in outbox order"
        );
    }
}
