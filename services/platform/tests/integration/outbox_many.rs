//! `Outbox::enqueue_many`: a bulk writer's events are stored in the order given, with the
//! same columns `enqueue` writes, published once each and in that order.

use std::time::Duration;

use testkit::read_topic;

use crate::{ce_id, setup};

#[tokio::test(flavor = "multi_thread")]
async fn many_events_are_stored_and_published_in_the_order_given() {
    let s = setup().await;
    // One key, so the topic's order is the outbox's order.
    let events: Vec<_> = (0..120).map(|_| s.event("one-firm")).collect();
    let payloads: Vec<Vec<u8>> = events.iter().map(|e| e.payload.clone()).collect();
    let mut tx = s.pool.begin().await.unwrap();
    let ids = s.outbox.enqueue_many(&mut tx, events).await.unwrap();
    assert!(
        s.outbox
            .enqueue_many(&mut tx, Vec::new())
            .await
            .unwrap()
            .is_empty()
    );
    tx.commit().await.unwrap();
    assert_eq!(ids.len(), 120);

    let stored: Vec<(uuid::Uuid, String, String, Vec<u8>)> =
        sqlx::query_as("SELECT event_id, ce_source, ce_subject, payload FROM outbox ORDER BY id")
            .fetch_all(&s.pool)
            .await
            .unwrap();
    let stored_ids: Vec<_> = stored.iter().map(|r| r.0).collect();
    assert_eq!(stored_ids, ids, "rows take their ids in the order given");
    assert!(
        stored
            .iter()
            .all(|r| r.1 == "platform-tests" && r.2 == "one-firm")
    );
    let stored_payloads: Vec<_> = stored.iter().map(|r| r.3.clone()).collect();
    assert_eq!(stored_payloads, payloads);

    let relay = s.relay(50);
    while relay.publish_pass().await.unwrap().published > 0 {}
    assert_eq!(s.unsent().await, 0);
    let messages = read_topic(
        &testkit::stack().kafka_bootstrap,
        &s.topic,
        120,
        Duration::from_secs(20),
        Duration::from_secs(2),
    )
    .await;
    let published: Vec<_> = messages.iter().map(|m| ce_id(m).unwrap()).collect();
    assert_eq!(published, ids, "published once each, in order");
}
