//! Platform tests against a real PostgreSQL and a real Apache Kafka broker.

mod audit;
mod broker;
mod edge;
mod events;
mod grpc;
mod inbox;
mod limits;
mod outage;
mod outbox;
mod outbox_lock;
mod outbox_many;
mod outbox_order;
mod postgres_tls;
mod replay;
mod retention;
mod served;
mod supervision;
mod tls;

use std::time::Duration;

use haicheng_proto::census::v1::CensusReturnSubmitted;
use platform::{
    Envelope, Handler, HandlerError, Outbox, OutgoingEvent,
    bus::{Producer, dlq_topic},
    outbox::Relay,
    telemetry,
};
use sqlx::{PgConnection, PgPool};
use testkit::{TestDatabase, stack, unique_name};
use uuid::Uuid;

static TEST_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./tests/migrations");

/// A fresh database with the platform's tables, a producer, and a topic (and its DLQ) of its own.
pub struct Setup {
    pub db: TestDatabase,
    pub pool: PgPool,
    pub producer: Producer,
    pub topic: String,
    pub outbox: Outbox,
}

pub async fn setup() -> Setup {
    setup_with_broker(&stack().kafka_bootstrap, true).await
}

pub async fn setup_with_broker(bootstrap: &str, create_topics: bool) -> Setup {
    telemetry::init_for_tests();
    let db = TestDatabase::create().await;
    let pool = db.pool().await;
    platform::db::migrate(&pool, &TEST_MIGRATIONS)
        .await
        .expect("migrations");
    let producer = Producer::new(bootstrap, Duration::from_secs(3)).expect("producer");
    let topic = unique_name("test.events");
    if create_topics {
        producer
            .ensure_topics(&[&topic, &dlq_topic(&topic)], 1)
            .await
            .expect("topics");
    }
    Setup {
        db,
        pool,
        producer,
        topic,
        outbox: Outbox::new("platform-tests"),
    }
}

impl Setup {
    pub fn relay(&self, batch_size: i64) -> Relay {
        Relay::new(
            self.pool.clone(),
            self.producer.clone(),
            batch_size,
            Duration::from_millis(100),
        )
    }

    /// A test event about `subject` (a USCC-like key).
    pub fn event(&self, subject: &str) -> OutgoingEvent {
        let message = CensusReturnSubmitted {
            uscc: subject.to_string(),
            revision: 1,
            ..Default::default()
        };
        OutgoingEvent::new(&self.topic, subject, &message)
    }

    /// Enqueues `count` events in one transaction, committed or rolled back.
    pub async fn enqueue(&self, count: usize, commit: bool) -> Vec<Uuid> {
        let mut tx = self.pool.begin().await.unwrap();
        let mut ids = Vec::new();
        for i in 0..count {
            ids.push(
                self.outbox
                    .enqueue(&mut tx, self.event(&format!("subject-{}", i % 7)))
                    .await
                    .unwrap(),
            );
        }
        if commit {
            tx.commit().await.unwrap()
        } else {
            tx.rollback().await.unwrap()
        }
        ids
    }

    pub async fn unsent(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM outbox_unsent")
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    /// How many times each event's effect was applied.
    pub async fn effect_count(&self, event_id: Uuid) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM effects WHERE event_id = $1")
            .bind(event_id)
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }
}

/// The ce_id header of a message read back.
pub fn ce_id(message: &rdkafka::message::OwnedMessage) -> Option<Uuid> {
    use rdkafka::Message;
    platform::bus::cloudevents::header_map(message.headers().map(|h| h.as_borrowed()))
        .get("ce_id")
        .and_then(|id| Uuid::parse_str(id).ok())
}

/// Records each applied event in `effects`, with the trace id active while handling it.
/// Events whose subject is `poison` fail as undecodable; `flaky` fails every time.
#[derive(Clone)]
pub struct RecordingHandler;

impl Handler for RecordingHandler {
    async fn handle(&self, tx: &mut PgConnection, event: &Envelope) -> Result<(), HandlerError> {
        let message: CensusReturnSubmitted = event.decode()?;
        if message.uscc == "flaky" {
            return Err(HandlerError::Transient(anyhow::anyhow!(
                "the flaky subject always fails"
            )));
        }
        sqlx::query("INSERT INTO effects (event_id, subject, trace_id) VALUES ($1, $2, $3)")
            .bind(event.event.id)
            .bind(&message.uscc)
            .bind(telemetry::current_trace_id())
            .execute(&mut *tx)
            .await?;
        Ok(())
    }
}
