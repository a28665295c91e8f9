//! Produce -> consume round trip on a real broker, with the platform's producer (idempotent,
//! acks=all, linger 5 ms) and a consumer configured as the platform's inbox consumer is.
//! Prints p50/p99/max over N sequential messages (each sent once the previous one arrived).
//!
//! `scripts/with-stack cargo run --release -p platform --example kafka_round_trip -- 2000`

use std::time::{Duration, Instant};

use platform::bus::Producer;
use rdkafka::{
    ClientConfig,
    consumer::{Consumer, StreamConsumer},
};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let count: usize = std::env::args().nth(1).map_or(Ok(1000), |n| n.parse())?;
    let bootstrap = std::env::var("KAFKA_BOOTSTRAP").unwrap_or_else(|_| "127.0.0.1:9092".into());
    let topic = format!("round-trip-{}", uuid::Uuid::new_v4().simple());
    let producer = Producer::new(&bootstrap, Duration::from_secs(10))?;
    producer.ensure_topics(&[&topic], 1).await?;
    // The inbox consumer's settings (services/platform/src/inbox.rs) that bear on latency:
    // librdkafka's fetch defaults (fetch.wait.max.ms 500, fetch.min.bytes 1).
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("broker.address.family", "v4")
        .set("group.id", format!("{topic}.reader"))
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", "45000")
        .set("heartbeat.interval.ms", "3000")
        .set("max.poll.interval.ms", "300000")
        .create()?;
    consumer.subscribe(&[&topic])?;
    // Warm-up: the first message also waits for the group join.
    let mut samples = Vec::with_capacity(count);
    for i in 0..=count {
        let started = Instant::now();
        let headers = rdkafka::message::OwnedHeaders::new();
        producer
            .send_with_headers(&topic, "key", format!("{i}").as_bytes(), headers)
            .await?;
        tokio::time::timeout(Duration::from_secs(30), consumer.recv()).await??;
        if i > 0 {
            samples.push(started.elapsed());
        }
    }
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    println!(
        "{count} round trips: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        at(0.50).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        samples[samples.len() - 1].as_secs_f64() * 1e3
    );
    Ok(())
}
