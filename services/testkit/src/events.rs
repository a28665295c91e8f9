//! Events as a producer would send them: a CloudEvent with a fresh id, and a [`Publisher`]
//! that sends a message onto a service's topics on the shared broker.

use std::time::Duration;

use chrono::Utc;
use platform::bus::{CloudEvent, Producer};
use prost::{Message, Name};
use uuid::Uuid;

use crate::stack;

/// A CloudEvent of type `M` about `subject` from `source`: a fresh UUIDv7, the time now, no
/// trace.
pub fn cloud_event<M: Name>(source: &str, subject: &str) -> CloudEvent {
    CloudEvent {
        id: Uuid::now_v7(),
        ty: M::full_name(),
        source: source.into(),
        subject: subject.into(),
        time: Utc::now(),
        trace: Default::default(),
    }
}

/// Publishes events onto the topics of one service under test (its `KAFKA_TOPIC_PREFIX`),
/// keyed by their subject, as the producing service would.
pub struct Publisher {
    pub producer: Producer,
    /// The CloudEvents `source` of every event.
    source: String,
    /// Put before every topic name.
    prefix: String,
}

impl Publisher {
    /// A producer on the shared broker sending as `source` onto topics under `prefix`.
    pub fn new(source: &str, prefix: &str) -> Self {
        Self {
            producer: Producer::new(&stack().kafka_bootstrap, Duration::from_secs(10))
                .expect("a producer"),
            source: source.into(),
            prefix: prefix.into(),
        }
    }

    /// The broker's name of `topic`.
    pub fn topic(&self, topic: &str) -> String {
        format!("{}{topic}", self.prefix)
    }

    /// Publishes `message` about `subject` on `topic` as a new event; returns the event and
    /// payload for replays ([`Self::publish_again`]).
    pub async fn publish<M: Message + Name>(
        &self,
        topic: &str,
        subject: &str,
        message: &M,
    ) -> (CloudEvent, Vec<u8>) {
        let event = cloud_event::<M>(&self.source, subject);
        let payload = message.encode_to_vec();
        self.publish_again(topic, &event, &payload).await;
        (event, payload)
    }

    /// Publishes an event again, as a redelivery or a replay would.
    pub async fn publish_again(&self, topic: &str, event: &CloudEvent, payload: &[u8]) {
        self.producer
            .send(&self.topic(topic), &event.subject, payload, event)
            .await
            .expect("publishing an event");
    }
}

#[cfg(test)]
mod tests {
    use haicheng_proto::census::v1::CensusReturnSubmitted;

    #[test]
    fn an_event_is_typed_by_its_payload_and_new_each_time() {
        let first = super::cloud_event::<CensusReturnSubmitted>("tests", "u1");
        let second = super::cloud_event::<CensusReturnSubmitted>("tests", "u1");
        assert_eq!(first.ty, "haicheng.census.v1.CensusReturnSubmitted");
        assert_eq!(
            (first.source.as_str(), first.subject.as_str()),
            ("tests", "u1")
        );
        assert_ne!(first.id, second.id);
    }
}
