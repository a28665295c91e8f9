//! The relay's pass lock: a pass is skipped while a replay holds the lock, and a pass dropped
//! half-way (its task aborted while deliveries are pending) does not keep the lock.

use std::time::Duration;

use platform::outbox::{
    RELAY_LOCK,
    replay::{ReplayFrom, replay},
};
use testkit::Broker;

use crate::{setup, setup_with_broker};

#[tokio::test(flavor = "multi_thread")]
async fn a_pass_is_skipped_while_a_replay_holds_the_lock() {
    let s = setup().await;
    s.enqueue(3, true).await;
    let mut replaying = s.pool.begin().await.unwrap();
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(RELAY_LOCK)
        .execute(&mut *replaying)
        .await
        .unwrap();
    let relay = s.relay(10);
    let pass = relay.publish_pass().await.unwrap();
    assert!(pass.busy, "{pass:?}");
    assert_eq!(
        s.unsent().await,
        3,
        "nothing claimed while the lock is taken"
    );
    replaying.commit().await.unwrap();
    let pass = relay.publish_pass().await.unwrap();
    assert_eq!((pass.busy, pass.published), (false, 3));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pass_dropped_half_way_releases_the_lock() {
    // No broker: the pass waits for deliveries that time out only after 3 s.
    let broker = Broker::reserve();
    let s = setup_with_broker(&broker.bootstrap(), false).await;
    s.enqueue(5, true).await;
    let relay = s.relay(10);
    let pass = tokio::spawn(async move { relay.publish_pass().await });
    let holding = testkit::wait_until(Duration::from_secs(10), || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted
             AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        )
        .fetch_one(&s.pool)
        .await
        .unwrap()
            == 1
    })
    .await;
    assert!(holding, "the pass took the lock");
    pass.abort();
    assert!(pass.await.unwrap_err().is_cancelled());

    // A replay needs the lock: it gets it long before the deliveries would have timed out.
    let replayed = tokio::time::timeout(
        Duration::from_secs(2),
        replay(&s.pool, ReplayFrom::Id(1), None),
    )
    .await
    .expect("the lock was released with the dropped pass")
    .unwrap();
    assert_eq!(replayed.rows, 0, "nothing was marked sent");
    assert_eq!(s.unsent().await, 5);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pass_with_one_free_connection_marks_on_the_lock_connection() {
    // A service's LISTEN connections and busy handlers can leave the relay one connection:
    // it must not wait for a second one while holding the lock's.
    let s = setup().await;
    s.enqueue(300, true).await;
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(s.pool.acquire().await.unwrap());
    }
    let relay = s.relay(10);
    let pass = tokio::time::timeout(Duration::from_secs(20), relay.publish_pass())
        .await
        .expect("the pass never waits for a connection it cannot have")
        .unwrap();
    assert_eq!((pass.busy, pass.published), (false, 300), "{pass:?}");
    drop(held);
    assert_eq!(s.unsent().await, 0);
}
