//! The census consumer's batch path: a batch of returns applied set-based leaves exactly the
//! read model and the dirty marks that applying its events one by one leaves, and a batch
//! holding a poison message goes through the inbox's replay, the poison to the DLQ.

use std::time::Duration;

use classification::consumers::CensusConsumer;
use haicheng_proto::{
    census::v1::CensusReturnSubmitted,
    common::v1::{Park, Segment},
};
use platform::{
    Envelope, Handler, HandlerError,
    bus::{Producer, dlq_topic},
    inbox::{ConsumerSettings, InboxConsumer},
};
use prost::{Message, Name};
use rdkafka::message::Message as _;
use sqlx::PgPool;
use testkit::{TestDatabase, read_topic, stack, unique_name, wait_until};
use tokio_util::sync::CancellationToken;

use crate::{figures, period};

/// A return of `uscc` for `period_code` with its registry fields at `version` in `segment`;
/// the tax figure tells revisions apart.
fn census_return(
    uscc: &str,
    period_code: &str,
    revision: i64,
    version: i64,
    segment: Segment,
) -> CensusReturnSubmitted {
    CensusReturnSubmitted {
        uscc: uscc.into(),
        period: period(period_code),
        revision,
        indicators: Some(figures(1_000 * revision)),
        segment: segment as i32,
        park: Park::Nantai as i32,
        registration_date: "2011-03-04".into(),
        industry_class: "1810".into(),
        name: format!("Firm {uscc} v{version}"),
        enterprise_version: version,
        ..Default::default()
    }
}

fn envelope(offset: i64, uscc: &str, payload: Vec<u8>) -> Envelope {
    Envelope {
        topic: "census-events".into(),
        partition: 0,
        offset,
        key: Some(uscc.into()),
        event: testkit::cloud_event::<CensusReturnSubmitted>("census-tests", uscc),
        payload,
    }
}

/// Before the batch: F0 (textile) in 2024, F2 (textile) in 2023, F4 (apparel) in 2021 and
/// 2022, so 2022 is dirty for the apparel cohort alone.
fn seed() -> Vec<Envelope> {
    [
        census_return("F0", "2024", 1, 1, Segment::Textile),
        census_return("F2", "2023", 1, 1, Segment::Textile),
        census_return("F4", "2021", 1, 1, Segment::Apparel),
        census_return("F4", "2022", 1, 1, Segment::Apparel),
    ]
    .iter()
    .enumerate()
    .map(|(i, r)| envelope(i as i64, &r.uscc, r.encode_to_vec()))
    .collect()
}

/// The batch, in order; the poison (a payload that is not a return) at index 4.
fn batch() -> Vec<Envelope> {
    let returns = [
        // A new return of a known firm: its cohort of 2025.
        census_return("F0", "2025", 1, 1, Segment::Textile),
        // A new firm: all of 2025; then two later revisions of it out of order: 3 wins.
        census_return("F1", "2025", 1, 1, Segment::Apparel),
        census_return("F1", "2025", 3, 1, Segment::Apparel),
        census_return("F1", "2025", 2, 1, Segment::Apparel),
        // F2's registry fields change (version 2, another segment): all its periods.
        census_return("F2", "2025", 1, 2, Segment::LuggageLeather),
        // A new firm in 2024, then a revision of F0's 2024 return (a cohort mark after a
        // whole-period one).
        census_return("F3", "2024", 1, 1, Segment::Trade),
        census_return("F0", "2024", 2, 1, Segment::Textile),
        // 2022 gains the textile cohort beside apparel; F4's own revision adds nothing new.
        census_return("F0", "2022", 1, 1, Segment::Textile),
        census_return("F4", "2022", 2, 1, Segment::Apparel),
        // An older registry version than stored: the return applies, the fields do not.
        census_return("F2", "2023", 2, 1, Segment::Textile),
    ];
    let mut events: Vec<Envelope> = returns
        .iter()
        .enumerate()
        .map(|(i, r)| envelope(100 + i as i64, &r.uscc, r.encode_to_vec()))
        .collect();
    events.insert(4, envelope(99, "F9", vec![0xff, 0xff, 0xff]));
    events
}

async fn migrated() -> PgPool {
    let pool = TestDatabase::create().await.pool().await;
    platform::db::migrate(&pool, &sqlx::migrate!("./migrations"))
        .await
        .expect("migrations");
    pool
}

async fn one_by_one(pool: &PgPool, events: &[Envelope]) -> Vec<Result<(), String>> {
    let mut results = Vec::new();
    for event in events {
        let mut tx = pool.begin().await.unwrap();
        let result = CensusConsumer.handle(&mut tx, event).await;
        if result.is_ok() {
            tx.commit().await.unwrap();
        }
        results.push(result.map_err(|err| err.to_string()));
    }
    results
}

/// The read model and the dirty marks, without the times each write stamps.
async fn snapshot(pool: &PgPool) -> Vec<String> {
    let mut rows = Vec::new();
    for sql in [
        "SELECT (to_jsonb(c) - 'received_at')::text FROM census_returns c ORDER BY period, uscc",
        "SELECT (to_jsonb(e) - 'updated_at')::text FROM enterprises e ORDER BY uscc",
        "SELECT (to_jsonb(d) - 'first_dirty_at' - 'last_dirty_at' - 'trace_headers')::text
         FROM dirty_periods d ORDER BY period",
    ] {
        let read: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_all(pool)
            .await
            .unwrap();
        rows.extend(read);
    }
    rows
}

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_of_returns_leaves_what_applying_them_one_by_one_leaves() {
    let (by_one, by_batch) = (migrated().await, migrated().await);
    one_by_one(&by_one, &seed()).await;
    one_by_one(&by_batch, &seed()).await;
    let events = batch();

    let results = one_by_one(&by_one, &events).await;
    assert!(
        results[4]
            .as_ref()
            .is_err_and(|e| e.contains("payload is not a")),
        "{results:?}"
    );
    assert_eq!(results.iter().filter(|r| r.is_err()).count(), 1);

    // With the poison the batch fails as a whole (the inbox then replays it one by one) and
    // leaves nothing.
    let all: Vec<&Envelope> = events.iter().collect();
    let before = snapshot(&by_batch).await;
    let mut tx = by_batch.begin().await.unwrap();
    let failed = CensusConsumer.handle_batch(&mut tx, &all).await;
    assert!(
        matches!(failed, Err(HandlerError::Permanent(_))),
        "{failed:?}"
    );
    drop(tx);
    assert_eq!(snapshot(&by_batch).await, before);

    let good: Vec<&Envelope> = all
        .iter()
        .copied()
        .filter(|e| e.key.as_deref() != Some("F9"))
        .collect();
    let mut tx = by_batch.begin().await.unwrap();
    CensusConsumer.handle_batch(&mut tx, &good).await.unwrap();
    tx.commit().await.unwrap();

    let expected = snapshot(&by_one).await;
    assert_eq!(snapshot(&by_batch).await, expected);
    // What the comparison covers: the winning revision, the registry fields kept, each
    // period's generation and cohorts.
    let dirty: Vec<(String, i64, Option<Vec<String>>)> =
        sqlx::query_as("SELECT period, generation, segments FROM dirty_periods ORDER BY period")
            .fetch_all(&by_batch)
            .await
            .unwrap();
    assert_eq!(
        dirty,
        vec![
            ("2021".into(), 1, None),
            (
                "2022".into(),
                3,
                Some(vec!["APPAREL".into(), "TEXTILE".into()])
            ),
            ("2023".into(), 3, None),
            ("2024".into(), 3, None),
            ("2025".into(), 4, None),
        ]
    );
    let f1: (i64, i64) = sqlx::query_as(
        "SELECT revision, tax_paid_fen FROM census_returns WHERE uscc = 'F1' AND period = '2025'",
    )
    .fetch_one(&by_batch)
    .await
    .unwrap();
    assert_eq!(f1, (3, figures(3_000).tax_paid_fen));
    let f2: (i64, String) =
        sqlx::query_as("SELECT record_version, segment FROM enterprises WHERE uscc = 'F2'")
            .fetch_one(&by_batch)
            .await
            .unwrap();
    assert_eq!(f2, (2, "LUGGAGE_LEATHER".into()));
}

#[tokio::test(flavor = "multi_thread")]
async fn through_the_inbox_a_batch_with_a_poison_message_leaves_what_one_by_one_leaves() {
    platform::telemetry::init_for_tests();
    let by_one = migrated().await;
    one_by_one(&by_one, &seed()).await;
    one_by_one(&by_one, &batch()).await;

    let pool = migrated().await;
    let bootstrap = stack().kafka_bootstrap.as_str();
    let producer = Producer::new(bootstrap, Duration::from_secs(30)).unwrap();
    let topic = unique_name("census-batch");
    producer
        .ensure_topics(&[&topic, &dlq_topic(&topic)], 1)
        .await
        .unwrap();
    let events: Vec<Envelope> = seed().into_iter().chain(batch()).collect();
    // All produced before the consumer starts, so they arrive together.
    for e in &events {
        producer
            .send(&topic, e.key.as_deref().unwrap(), &e.payload, &e.event)
            .await
            .unwrap();
    }
    let settings = ConsumerSettings {
        name: unique_name("classification-batch"),
        kafka: bootstrap.into(),
        topics: vec![topic.clone()],
        max_attempts: 3,
        commit_interval: Duration::from_secs(1),
        group_instance_id: None,
    };
    let consumer = InboxConsumer::new(settings, pool.clone(), producer.clone(), CensusConsumer);
    let stop = CancellationToken::new();
    let task = tokio::spawn(consumer.run(stop.clone()));

    let applied = events.len() as i64 - 1;
    let caught_up = wait_until(Duration::from_secs(60), || async {
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM inbox")
            .fetch_one(&pool)
            .await
            .unwrap();
        count == applied
    })
    .await;
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM inbox")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(
        caught_up,
        "every message but the poison is in the inbox: {count} of {applied}"
    );
    let dead = read_topic(
        bootstrap,
        &dlq_topic(&topic),
        1,
        Duration::from_secs(20),
        Duration::from_secs(1),
    )
    .await;
    stop.cancel();
    task.await.unwrap().unwrap();

    assert_eq!(dead.len(), 1);
    let reason = platform::bus::cloudevents::header_map(dead[0].headers().map(|h| h.as_borrowed()))
        ["dlq_error"]
        .clone();
    assert!(
        reason.contains(&format!(
            "payload is not a {}",
            CensusReturnSubmitted::full_name()
        )),
        "{reason}"
    );
    assert_eq!(snapshot(&pool).await, snapshot(&by_one).await);
}
