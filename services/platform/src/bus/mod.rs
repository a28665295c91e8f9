//! The Kafka bus: an idempotent producer and a consumer with manually stored offsets, both
//! speaking CloudEvents binary-mode headers with the W3C trace context.

pub mod cloudevents;
pub(crate) mod producer;
pub mod security;

pub use cloudevents::CloudEvent;
pub use producer::{ConsumerContext, Delivery, Producer};
pub use security::{KafkaSecurity, KafkaSettings};

/// The dead-letter topic of `topic`.
pub fn dlq_topic(topic: &str) -> String {
    format!("{topic}.dlq")
}
