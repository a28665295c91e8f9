//! Topic helpers: unique names per test, reading a topic back, waiting for a condition.

use std::{future::Future, time::Duration};

use rdkafka::{
    ClientConfig,
    consumer::{Consumer, StreamConsumer},
    message::{Message, OwnedMessage},
};

/// A name no other test uses: `prefix.<random>`.
pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}.{}", uuid::Uuid::new_v4().simple())
}

/// Reads `topic` from the beginning until `expected` messages arrived or `timeout` passed,
/// then keeps reading for `settle` to catch any extra (duplicate) messages.
pub async fn read_topic(
    bootstrap: &str,
    topic: &str,
    expected: usize,
    timeout: Duration,
    settle: Duration,
) -> Vec<OwnedMessage> {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("broker.address.family", "v4")
        .set("group.id", unique_name("test-reader"))
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .create()
        .expect("creating a test reader");
    consumer
        .subscribe(&[topic])
        .expect("subscribing the test reader");
    let mut messages = Vec::new();
    let deadline = tokio::time::Instant::now() + timeout;
    let mut settle_until = None;
    loop {
        let until = settle_until.unwrap_or(deadline);
        match tokio::time::timeout_at(until, consumer.recv()).await {
            Ok(Ok(message)) => messages.push(message.detach()),
            Ok(Err(err)) => eprintln!("test reader: {err}"),
            Err(_) => break,
        }
        if messages.len() >= expected && settle_until.is_none() {
            settle_until = Some(tokio::time::Instant::now() + settle);
        }
    }
    messages.sort_by_key(|m| (m.partition(), m.offset()));
    messages
}

/// Polls `condition` every 100 ms until it holds or `timeout` passes; returns whether it held.
pub async fn wait_until<F, Fut>(timeout: Duration, mut condition: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if condition().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
