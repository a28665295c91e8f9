//! The event rows: the census's outbox relay beside a raw idempotent `acks=all` produce of
//! the same messages, and classification's census consumer (inbox + read model) beside a
//! raw consume that writes the same rows set-based, one statement per batch.

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
    // The limit starts from the read model as the service finds it.
    create_limit_tables(&pool).await?;
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
        apply_limit_batch(&pool, &topic, &batch).await?;
        received += batch.len();
    }
    // The first message's wait includes the group join; the rest is the consume rate.
    let limit_time = first.map_or(Duration::ZERO, |f| f.elapsed());
    let limit_cpu = before.per_unit(&cpu.sample(), messages as u64, "message");
    let n = messages as u64;
    Ok(Row {
        path: format!(
            "classification consuming {messages} census events, inbox + read model (limit: raw consume, then the same inbox, return, enterprise and dirty-period rows in indexed copies, one set-based statement and commit per batch of up to 64)"
        ),
        unit: "messages",
        platform: Side::once(n, platform_time),
        limit: Some(Side::once(n.saturating_sub(1).max(1), limit_time)),
        target: Target::AtLeast(0.5),
        note: format!("produced in {:.0} ms", produced.as_secs_f64() * 1e3),
        cpu: Some((platform_cpu, limit_cpu)),
    })
}

/// The limit's copies of the tables classification's census consumer writes, with the same
/// columns, defaults, constraints and indexes, and the same rows as now (the inbox's copy
/// empty: its consumer name is the limit's own).
async fn create_limit_tables(pool: &PgPool) -> sqlx::Result<()> {
    for (copy, table, rows) in [
        ("bench_inbox", "inbox", false),
        ("bench_census_returns", "census_returns", true),
        ("bench_enterprises", "enterprises", true),
        ("bench_dirty_periods", "dirty_periods", true),
    ] {
        let copied = if rows {
            format!("; INSERT INTO {copy} SELECT * FROM {table}; ANALYZE {copy}")
        } else {
            String::new()
        };
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP TABLE IF EXISTS {copy}; CREATE TABLE {copy} (LIKE {table} INCLUDING ALL){copied}"
        )))
        .execute(pool)
        .await?;
    }
    Ok(())
}

/// The limit's effect of one batch: what the inbox and classification's census consumer
/// write for it (the ids, the latest revision of each return, the newest registry fields of
/// each firm, the dirty mark of each period touched: the firm's cohort, or the whole period
/// when its registry fields changed; one notify) in one statement, so one commit.
async fn apply_limit_batch(
    pool: &PgPool,
    topic: &str,
    batch: &[OwnedMessage],
) -> anyhow::Result<()> {
    let mut ids = Vec::with_capacity(batch.len());
    let mut partitions = Vec::with_capacity(batch.len());
    let mut offsets = Vec::with_capacity(batch.len());
    let mut records = Vec::with_capacity(batch.len());
    for message in batch {
        let event = CloudEvent::from_headers(message.headers().map(|h| h.as_borrowed()))?;
        let payload = CensusReturnSubmitted::decode(message.payload().unwrap_or_default())?;
        let record = classification::consumers::return_record(payload)
            .map_err(|err| anyhow::anyhow!("{err}"))?;
        ids.push(event.id);
        partitions.push(message.partition());
        offsets.push(message.offset());
        records.push(record);
    }
    let column = |f: fn(&classification::store::read_model::ReturnRecord) -> i64| {
        records.iter().map(f).collect::<Vec<i64>>()
    };
    sqlx::query(
        "WITH input AS (
             SELECT * FROM unnest($1::uuid[], $2::int[], $3::bigint[], $4::text[], $5::text[],
                                  $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[],
                                  $10::bigint[], $11::bigint[], $12::bigint[],
                                  $13::float8[], $14::bigint[], $15::bigint[], $16::float8[],
                                  $17::timestamptz[], $18::text[], $19::text[], $20::text[],
                                  $21::text[], $22::date[], $23::bigint[])
                 WITH ORDINALITY AS i(event_id, kafka_partition, kafka_offset, period, uscc,
                                      revision, employees_total, rd_spend_fen, revenue_fen,
                                      industrial_output_fen, tax_paid_fen, export_sales_fen,
                                      automation_share_percent, patents, land_used_centi_mu,
                                      energy_use_tce, submitted_at, name, park, segment,
                                      industry_class, registration_date, record_version, n)
         ),
         ids AS (
             INSERT INTO bench_inbox (consumer, event_id, topic, kafka_partition, kafka_offset)
             SELECT 'bench-limit', event_id, $24, kafka_partition, kafka_offset FROM input
             ON CONFLICT DO NOTHING RETURNING event_id
         ),
         fresh AS (SELECT input.* FROM input JOIN ids USING (event_id)),
         returns AS (
             INSERT INTO bench_census_returns (period, uscc, revision, employees_total,
                 rd_spend_fen, revenue_fen, industrial_output_fen, tax_paid_fen,
                 export_sales_fen, automation_share_percent, patents, land_used_centi_mu,
                 energy_use_tce, submitted_at)
             SELECT DISTINCT ON (period, uscc) period, uscc, revision, employees_total,
                    rd_spend_fen, revenue_fen, industrial_output_fen, tax_paid_fen,
                    export_sales_fen, automation_share_percent, patents, land_used_centi_mu,
                    energy_use_tce, submitted_at
             FROM fresh ORDER BY period, uscc, revision DESC, n
             ON CONFLICT (period, uscc) DO UPDATE SET
                 revision = EXCLUDED.revision, employees_total = EXCLUDED.employees_total,
                 rd_spend_fen = EXCLUDED.rd_spend_fen, revenue_fen = EXCLUDED.revenue_fen,
                 industrial_output_fen = EXCLUDED.industrial_output_fen,
                 tax_paid_fen = EXCLUDED.tax_paid_fen,
                 export_sales_fen = EXCLUDED.export_sales_fen,
                 automation_share_percent = EXCLUDED.automation_share_percent,
                 patents = EXCLUDED.patents, land_used_centi_mu = EXCLUDED.land_used_centi_mu,
                 energy_use_tce = EXCLUDED.energy_use_tce,
                 submitted_at = EXCLUDED.submitted_at, received_at = now()
             WHERE bench_census_returns.revision < EXCLUDED.revision
             RETURNING period, uscc
         ),
         firms AS (
             INSERT INTO bench_enterprises (uscc, name, park, segment, industry_class,
                                            registration_date, active, record_version)
             SELECT DISTINCT ON (uscc) uscc, name, park, segment, industry_class,
                    registration_date, true, record_version
             FROM fresh ORDER BY uscc, record_version DESC, n
             ON CONFLICT (uscc) DO UPDATE SET
                 name = EXCLUDED.name, park = EXCLUDED.park, segment = EXCLUDED.segment,
                 industry_class = EXCLUDED.industry_class,
                 registration_date = EXCLUDED.registration_date,
                 record_version = EXCLUDED.record_version, updated_at = now()
             WHERE bench_enterprises.record_version < EXCLUDED.record_version
             RETURNING uscc
         ),
         touched AS (
             SELECT period, uscc FROM returns
             UNION SELECT c.period, c.uscc FROM bench_census_returns c JOIN firms USING (uscc)
             UNION SELECT f.period, f.uscc FROM fresh f JOIN firms USING (uscc)
         ),
         marks AS (
             SELECT t.period,
                    CASE WHEN bool_or(firms.uscc IS NOT NULL OR e.segment IS NULL) THEN NULL
                         ELSE array_agg(DISTINCT e.segment) END AS segments
             FROM touched t LEFT JOIN firms USING (uscc)
                  LEFT JOIN bench_enterprises e ON e.uscc = t.uscc
             GROUP BY t.period
         ),
         dirty AS (
             INSERT INTO bench_dirty_periods (period, generation, first_dirty_at,
                                              last_dirty_at, trace_headers, segments)
             SELECT period, 1, clock_timestamp(), clock_timestamp(), '{}'::jsonb, segments
             FROM marks
             ON CONFLICT (period) DO UPDATE SET
                 generation = bench_dirty_periods.generation + 1,
                 last_dirty_at = clock_timestamp(), trace_headers = EXCLUDED.trace_headers,
                 segments = CASE
                     WHEN bench_dirty_periods.segments IS NULL OR EXCLUDED.segments IS NULL
                         THEN NULL
                     ELSE ARRAY(SELECT DISTINCT unnest(bench_dirty_periods.segments
                                                       || EXCLUDED.segments))
                 END
             RETURNING period
         )
         SELECT pg_notify('bench_limit_dirty', '') FROM (SELECT count(*) FROM dirty) d",
    )
    .bind(&ids)
    .bind(&partitions)
    .bind(&offsets)
    .bind(
        records
            .iter()
            .map(|r| r.period.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(records.iter().map(|r| r.uscc.as_str()).collect::<Vec<_>>())
    .bind(column(|r| r.revision))
    .bind(column(|r| r.figures.employees_total))
    .bind(column(|r| r.figures.rd_spend_fen))
    .bind(column(|r| r.figures.revenue_fen))
    .bind(column(|r| r.figures.industrial_output_fen))
    .bind(column(|r| r.figures.tax_paid_fen))
    .bind(column(|r| r.figures.export_sales_fen))
    .bind(
        records
            .iter()
            .map(|r| r.figures.automation_share_percent)
            .collect::<Vec<_>>(),
    )
    .bind(column(|r| r.figures.patents))
    .bind(column(|r| r.figures.land_used_centi_mu))
    .bind(
        records
            .iter()
            .map(|r| r.figures.energy_use_tce)
            .collect::<Vec<_>>(),
    )
    .bind(records.iter().map(|r| r.submitted_at).collect::<Vec<_>>())
    .bind(
        records
            .iter()
            .map(|r| r.enterprise.name.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(
        records
            .iter()
            .map(|r| r.enterprise.park.map(<&'static str>::from))
            .collect::<Vec<_>>(),
    )
    .bind(
        records
            .iter()
            .map(|r| <&'static str>::from(r.enterprise.segment))
            .collect::<Vec<_>>(),
    )
    .bind(
        records
            .iter()
            .map(|r| r.enterprise.industry_class.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(
        records
            .iter()
            .map(|r| r.enterprise.registration_date)
            .collect::<Vec<_>>(),
    )
    .bind(column(|r| r.enterprise.version))
    .bind(topic)
    .execute(pool)
    .await?;
    Ok(())
}
