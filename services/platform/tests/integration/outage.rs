//! A consumer whose database goes away: the events that arrive meanwhile wait for it (none is
//! dead-lettered, however many attempts the handler is allowed) and are applied once it is back.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use platform::{
    bus::{Producer, dlq_topic},
    inbox::{ConsumerSettings, InboxConsumer},
};
use rdkafka::{
    ClientConfig,
    consumer::{BaseConsumer, Consumer},
};
use sqlx::postgres::PgPoolOptions;
use testkit::{Postgres, replace_database, stack, unique_name, wait_until};
use tokio_util::sync::CancellationToken;
use tracing_subscriber::{Layer, layer::SubscriberExt};

use uuid::Uuid;

use crate::{RecordingHandler, TEST_MIGRATIONS, inbox::event_about};

/// Counts the log events whose message contains `needle`.
#[derive(Clone)]
struct Occurrences {
    needle: &'static str,
    count: Arc<AtomicUsize>,
}

impl<S: tracing::Subscriber> Layer<S> for Occurrences {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        struct Message(String);
        impl tracing::field::Visit for Message {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                if field.name() == "message" {
                    self.0 = format!("{value:?}");
                }
            }
        }
        let mut message = Message(String::new());
        event.record(&mut message);
        if message.0.contains(self.needle) {
            self.count.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// Messages ever written to `topic` (its high watermark on the one partition).
fn messages_in(topic: &str) -> i64 {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &stack().kafka_bootstrap)
        .set("broker.address.family", "v4")
        .create()
        .unwrap();
    let (low, high) = consumer
        .fetch_watermarks(topic, 0, Duration::from_secs(10))
        .unwrap();
    high - low
}

// One thread, so the log counter (a thread-local subscriber) sees the consumer's warnings.
#[tokio::test(flavor = "current_thread")]
async fn events_arriving_while_the_database_is_away_wait_for_it_and_none_is_dead_lettered() {
    let retries = Occurrences {
        needle: "database unavailable",
        count: Arc::default(),
    };
    let _logs =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(retries.clone()));

    let postgres = Postgres::start();
    let name = unique_name("outage").replace('.', "_");
    let admin = sqlx::PgPool::connect(&postgres.admin_url()).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(Duration::from_secs(1))
        .connect(&replace_database(&postgres.admin_url(), &name))
        .await
        .unwrap();
    platform::db::migrate(&pool, &TEST_MIGRATIONS)
        .await
        .unwrap();
    let producer = Producer::new(&stack().kafka_bootstrap, Duration::from_secs(5)).unwrap();
    let topic = unique_name("outage.events");
    producer
        .ensure_topics(&[&topic, &dlq_topic(&topic)], 1)
        .await
        .unwrap();
    let publish = |subject: String| {
        let (producer, topic) = (producer.clone(), topic.clone());
        async move {
            let (event, payload) = event_about(&subject);
            producer
                .send(&topic, &subject, &payload, &event)
                .await
                .expect("produced");
            event.id
        }
    };
    let effects = |ids: Vec<Uuid>| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM effects WHERE event_id = ANY($1)")
                .bind(ids)
                .fetch_one(&pool)
                .await
                .unwrap_or(-1)
        }
    };

    // One attempt allowed: before the fix, the first failure sent the event to the DLQ.
    let settings = ConsumerSettings {
        name: unique_name("outage-consumer"),
        kafka: stack().kafka_bootstrap.as_str().into(),
        topics: vec![topic.clone()],
        max_attempts: 1,
        commit_interval: Duration::from_millis(200),
        group_instance_id: None,
    };
    let consumer = InboxConsumer::new(settings, pool.clone(), producer.clone(), RecordingHandler);
    let stop = CancellationToken::new();
    let consuming = tokio::spawn(consumer.run(stop.clone()));

    let first = publish("before".into()).await;
    let applied = wait_until(Duration::from_secs(30), || async {
        effects(vec![first]).await == 1
    })
    .await;
    assert!(applied, "the consumer runs");

    postgres.stop();
    let mut during = Vec::new();
    for i in 0..3 {
        during.push(publish(format!("during-{i}")).await);
    }
    let waited = wait_until(Duration::from_secs(30), || async {
        retries.count.load(Ordering::SeqCst) >= 3
    })
    .await;
    assert!(waited, "the consumer met the outage and retried");
    assert_eq!(
        messages_in(&dlq_topic(&topic)),
        0,
        "nothing dead-lettered meanwhile"
    );

    postgres.restart();
    let caught_up = wait_until(Duration::from_secs(60), || async {
        effects(during.clone()).await == 3
    })
    .await;
    assert!(
        caught_up,
        "every event of the outage applied once the database is back"
    );
    assert_eq!(messages_in(&dlq_topic(&topic)), 0, "and none dead-lettered");
    stop.cancel();
    consuming.await.unwrap().unwrap();
}
