//! The event rows: the census's outbox relay beside a raw idempotent `acks=all` produce of
//! the same messages, and classification's census consumer (inbox + read model) beside a
//! raw consume with one insert per message.

use std::time::{Duration, Instant};

use futures::FutureExt;
use haicheng_proto::{census::v1::CensusReturnSubmitted, topics};
use platform::bus::{CloudEvent, Producer};
use prost::{Message, Name};
use rdkafka::{
    ClientConfig, Message as _,
    consumer::{Consumer, StreamConsumer},
    message::OwnedMessage,
};
use sqlx::PgPool;

use crate::{
    cpu::Watched,
    fixtures,
    table::{Row, Side, Target},
};

/// How long a row may wait for the service to catch up before it fails.
const CATCH_UP: Duration = Duration::from_secs(300);

/// A census return event of firm `uscc`, as the census publishes it.
pub(crate) fn return_event(uscc: &str, period: &str, i: u64) -> CensusReturnSubmitted {
    CensusReturnSubmitted {
        uscc: uscc.to_string(),
        period: testkit::period(period),
        revision: 1,
        indicators: Some(fixtures::indicators(i)),
        sources: None,
        segment: 1,
        park: 3,
        registration_date: "2010-05-01".into(),
        submitted_at: Some(platform::time::to_timestamp(chrono::Utc::now())),
        industry_class: "1711".into(),
        name: format!("海城基准纺织{uscc}有限公司"),
        enterprise_version: 1,
    }
}

/// An event as census sends it.
fn cloud_event(uscc: &str) -> CloudEvent {
    testkit::cloud_event::<CensusReturnSubmitted>("census", uscc)
}

/// Polls `query` (a count) until it reaches `want`, every 5 ms.
async fn wait_count(pool: &PgPool, query: &str, want: i64) -> anyhow::Result<()> {
    let deadline = Instant::now() + CATCH_UP;
    loop {
        let count: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(query.to_string()))
            .fetch_one(pool)
            .await?;
        if count >= want {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "{query}: {count} of {want} after {CATCH_UP:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// `messages` outbox rows committed at once into the census's outbox; the time until its
/// relay has marked them all sent, beside the same messages produced by the platform's
/// producer (idempotent, acks=all) with all of them in flight.
pub async fn relay(
    census_db: &str,
    census_prefix: &str,
    firms: &[String],
    messages: usize,
    cpu: Watched,
) -> anyhow::Result<Row> {
    let pool = PgPool::connect(census_db).await?;
    let unsent = "SELECT -count(*) FROM outbox_unsent";
    // Whatever the earlier rows left for the relay goes first.
    wait_count(&pool, unsent, 0).await?;
    let events: Vec<(String, Vec<u8>)> = (0..messages)
        .map(|i| {
            let uscc = &firms[i % firms.len()];
            (
                uscc.clone(),
                return_event(uscc, "2020", i as u64).encode_to_vec(),
            )
        })
        .collect();

    let mut tx = pool.begin().await?;
    let (keys, payloads): (Vec<String>, Vec<Vec<u8>>) = events.iter().cloned().unzip();
    sqlx::query(
        "INSERT INTO outbox (event_id, topic, message_key, ce_type, ce_source, ce_subject,
            ce_time, payload)
         SELECT gen_random_uuid(), $1, k, $2, 'census', k, now(), p
         FROM unnest($3::text[], $4::bytea[]) AS r(k, p)",
    )
    .bind(topics::CENSUS_EVENTS)
    .bind(CensusReturnSubmitted::full_name())
    .bind(&keys)
    .bind(&payloads)
    .execute(&mut *tx)
    .await?;
    sqlx::query("SELECT pg_notify('haicheng_outbox', '')")
        .execute(&mut *tx)
        .await?;
    // Done when the relay's watermark covers this transaction and nothing waits for a retry:
    // a check of one row, where counting the unsent rows every 5 ms would scan them all.
    let xid: String = sqlx::query_scalar("SELECT pg_current_xact_id()::text")
        .fetch_one(&mut *tx)
        .await?;
    let sent = format!(
        "SELECT CASE WHEN pg_visible_in_snapshot('{xid}'::xid8, base)
                      AND NOT EXISTS (SELECT 1 FROM outbox_retry) THEN 1::int8 ELSE 0 END
         FROM outbox_relay"
    );
    let before = cpu.sample();
    let started = Instant::now();
    tx.commit().await?;
    wait_count(&pool, &sent, 1).await?;
    let platform_time = started.elapsed();
    let platform_cpu = before.per_unit(&cpu.sample(), messages as u64, "message");

    let producer = Producer::new(&testkit::stack().kafka_bootstrap, Duration::from_secs(30))?;
    let topic = format!("{census_prefix}{}", topics::CENSUS_EVENTS);
    // One message first, so the producer's connection and idempotence handshake are done.
    producer
        .send(&topic, &keys[0], &payloads[0], &cloud_event(&keys[0]))
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let before = cpu.sample();
    let started = Instant::now();
    let sends = events.iter().map(|(key, payload)| {
        let event = cloud_event(key);
        let (producer, topic) = (&producer, &topic);
        async move { producer.send(topic, key, payload, &event).await }
    });
    for result in futures::future::join_all(sends).await {
        result?;
    }
    let limit_time = started.elapsed();
    let limit_cpu = before.per_unit(&cpu.sample(), messages as u64, "message");
    let n = messages as u64;
    Ok(Row {
        path: format!(
            "outbox relay, {messages} rows committed at once (limit: raw idempotent acks=all produce)"
        ),
        unit: "messages",
        platform: Side::once(n, platform_time),
        limit: Some(Side::once(n, limit_time)),
        target: Target::AtLeast(0.5),
        note: String::new(),
        cpu: Some((platform_cpu, limit_cpu)),
    })
}

/// `messages` census return events produced onto classification's census topic; the time
/// until its read model holds them all, beside a raw consumer of the same topic inserting
/// one row per message into a table of classification's database, batched as the inbox
/// batches: the messages already received (up to [`platform::inbox::BATCH_MAX`]) in one
/// statement and one commit.
pub async fn consumer(
    classification_db: &str,
    classification_prefix: &str,
    firms: &[String],
    messages: usize,
    cpu: Watched,
) -> anyhow::Result<Row> {
    let pool = PgPool::connect(classification_db).await?;
    let bootstrap = &testkit::stack().kafka_bootstrap;
    let producer = Producer::new(bootstrap, Duration::from_secs(30))?;
    let topic = format!("{classification_prefix}{}", topics::CENSUS_EVENTS);
    let events: Vec<(String, Vec<u8>)> = (0..messages)
        .map(|i| {
            let uscc = &firms[i % firms.len()];
            let period = format!("{}", 2000 + i / firms.len());
            (
                uscc.clone(),
                return_event(uscc, &period, i as u64).encode_to_vec(),
            )
        })
        .collect();
    let before = cpu.sample();
    let started = Instant::now();
    let sends = events.iter().map(|(key, payload)| {
        let event = cloud_event(key);
        let producer = &producer;
        let topic = &topic;
        async move { producer.send(topic, key, payload, &event).await }
    });
    for result in futures::future::join_all(sends).await {
        result?;
    }
    let produced = started.elapsed();
    wait_count(
        &pool,
        "SELECT count(*) FROM census_returns WHERE period < '2020'",
        messages as i64,
    )
    .await?;
    let platform_time = started.elapsed();
    let platform_cpu = before.per_unit(&cpu.sample(), messages as u64, "message");

    sqlx::query(
        "CREATE TABLE IF NOT EXISTS bench_consumed (
            partition integer NOT NULL, message_offset bigint NOT NULL, message_key text NOT NULL,
            payload bytea NOT NULL, PRIMARY KEY (partition, message_offset))",
    )
    .execute(&pool)
    .await?;
    let raw: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("broker.address.family", "v4")
        .set("group.id", format!("{topic}.bench-raw"))
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .create()?;
    raw.subscribe(&[&topic])?;
    let mut received = 0;
    let mut first = None;
    let before = cpu.sample();
    while received < messages {
        let message = tokio::time::timeout(CATCH_UP, raw.recv()).await??;
        first.get_or_insert_with(Instant::now);
        // As the inbox batches: what is already received, up to its batch, never waited for.
        let mut batch = vec![message.detach()];
        while batch.len() < platform::inbox::BATCH_MAX {
            match raw.recv().now_or_never() {
                Some(message) => batch.push(message?.detach()),
                None => break,
            }
        }
        insert_consumed(&pool, &batch).await?;
        received += batch.len();
    }
    // The first message's wait includes the group join; the rest is the consume rate.
    let limit_time = first.map_or(Duration::ZERO, |f| f.elapsed());
    let limit_cpu = before.per_unit(&cpu.sample(), messages as u64, "message");
    let n = messages as u64;
    Ok(Row {
        path: format!(
            "classification consuming {messages} census events, inbox + read model (limit: raw consume + one insert and commit per batch of up to 64)"
        ),
        unit: "messages",
        platform: Side::once(n, platform_time),
        limit: Some(Side::once(n.saturating_sub(1).max(1), limit_time)),
        target: Target::AtLeast(0.5),
        note: format!("produced in {:.0} ms", produced.as_secs_f64() * 1e3),
        cpu: Some((platform_cpu, limit_cpu)),
    })
}

/// The limit's effect of one batch: a row per message, one statement, one commit.
async fn insert_consumed(pool: &PgPool, batch: &[OwnedMessage]) -> sqlx::Result<()> {
    let partitions: Vec<i32> = batch.iter().map(|m| m.partition()).collect();
    let offsets: Vec<i64> = batch.iter().map(|m| m.offset()).collect();
    let keys: Vec<String> = batch
        .iter()
        .map(|m| String::from_utf8_lossy(m.key().unwrap_or_default()).into_owned())
        .collect();
    let payloads: Vec<&[u8]> = batch
        .iter()
        .map(|m| m.payload().unwrap_or_default())
        .collect();
    sqlx::query(
        "INSERT INTO bench_consumed (partition, message_offset, message_key, payload)
         SELECT * FROM unnest($1::int[], $2::bigint[], $3::text[], $4::bytea[])",
    )
    .bind(&partitions)
    .bind(&offsets)
    .bind(&keys)
    .bind(&payloads)
    .execute(pool)
    .await?;
    Ok(())
}
