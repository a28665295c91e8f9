//! Topic helpers: unique names per test, reading a topic back, waiting for a condition.

use std::{
    collections::{BTreeMap, BTreeSet},
    future::Future,
    time::Duration,
};

use rdkafka::{
    ClientConfig,
    consumer::{Consumer, StreamConsumer},
    message::{BorrowedMessage, Headers, Message, OwnedMessage},
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
    let mut messages = Vec::new();
    read(bootstrap, topic, timeout, settle, |message| {
        messages.push(message.detach());
        messages.len() >= expected
    })
    .await;
    messages.sort_by_key(|m| (m.partition(), m.offset()));
    messages
}

/// Reads `topic` from the beginning and keeps, with its key, each event of type `M` (by its
/// `ce_type` header) that `keep` accepts, until `expected` were kept or `timeout` passed;
/// then reads 3 s more to catch extras (duplicates).
pub async fn read_events<M: prost::Message + prost::Name + Default>(
    bootstrap: &str,
    topic: &str,
    keep: impl Fn(&M) -> bool,
    expected: usize,
    timeout: Duration,
) -> Vec<(String, M)> {
    let mut found = Vec::new();
    let ty = M::full_name();
    read(
        bootstrap,
        topic,
        timeout,
        Duration::from_secs(3),
        |message| {
            let headers = platform::bus::cloudevents::header_map(message.headers());
            if headers.get("ce_type") == Some(&ty)
                && let Ok(decoded) = M::decode(message.payload().unwrap_or_default())
                && keep(&decoded)
            {
                let key = String::from_utf8_lossy(message.key().unwrap_or_default()).into_owned();
                found.push((key, decoded));
            }
            found.len() >= expected
        },
    )
    .await;
    found
}

/// [`read_events`] on the shared broker: the `M` events of `topic` that `keep` accepts, with
/// their keys.
pub async fn collect<M: prost::Message + prost::Name + Default>(
    topic: &str,
    keep: impl Fn(&M) -> bool,
    expected: usize,
    timeout: Duration,
) -> Vec<(String, M)> {
    read_events(
        &crate::stack().kafka_bootstrap,
        topic,
        keep,
        expected,
        timeout,
    )
    .await
}

/// The event ids (`ce_id`) on `topic`, each with how many times it is there: read from the
/// beginning until every id of `wanted` was seen (then 1 s more, for late duplicates) or
/// `timeout` passed.
pub async fn ce_ids_on(
    bootstrap: &str,
    topic: &str,
    wanted: &BTreeSet<String>,
    timeout: Duration,
) -> BTreeMap<String, usize> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut missing = wanted.clone();
    read(
        bootstrap,
        topic,
        timeout,
        Duration::from_secs(1),
        |message| {
            let id = message.headers().and_then(|headers| {
                headers
                    .iter()
                    .find(|h| h.key == platform::bus::cloudevents::ID)
                    .and_then(|h| h.value)
                    .map(|v| String::from_utf8_lossy(v).into_owned())
            });
            if let Some(id) = id {
                missing.remove(&id);
                *seen.entry(id).or_default() += 1;
            }
            missing.is_empty()
        },
    )
    .await;
    seen
}

/// Hands every message of `topic`, from the beginning, to `enough` until it says so (then
/// for `settle` more) or `timeout` passed.
async fn read(
    bootstrap: &str,
    topic: &str,
    timeout: Duration,
    settle: Duration,
    mut enough: impl FnMut(&BorrowedMessage<'_>) -> bool,
) {
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
    let deadline = tokio::time::Instant::now() + timeout;
    let mut settle_until = None;
    loop {
        let until = settle_until.unwrap_or(deadline);
        match tokio::time::timeout_at(until, consumer.recv()).await {
            Ok(Ok(message)) => {
                if enough(&message) && settle_until.is_none() {
                    settle_until = Some(tokio::time::Instant::now() + settle);
                }
            }
            Ok(Err(err)) => eprintln!("test reader: {err}"),
            Err(_) => break,
        }
    }
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
