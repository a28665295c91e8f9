//! The land evaluation row (土地履约评估): land-parcel's census consumer evaluating the yearly
//! returns of firms holding granted parcels (`store::evaluations::apply_return` inside the
//! inbox transaction), beside the same statements issued directly by sqlx on one connection,
//! batched as `platform::inbox` batches: up to 64 returns in one transaction, their inbox ids
//! in one statement.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use futures::{StreamExt, TryStreamExt};
use haicheng_proto::{
    census::v1::{
        CensusIndicators, CensusReturnSubmitted, Enterprise, EnterpriseRegistered, EnterpriseStatus,
    },
    common::v1::{Park, Segment},
    land::v1::{self as pb, land_service_client::LandServiceClient},
    topics,
};
use platform::bus::{CloudEvent, Producer};
use prost::{Message, Name};
use sqlx::PgPool;
use tonic::transport::Channel;
use uuid::Uuid;

use crate::{
    cpu::Watched,
    table::{Row, Side, Target},
};
use testkit::with_token;

/// How long the fixture or the service may take to catch up before the row fails.
const CATCH_UP: Duration = Duration::from_secs(300);
/// The token of the department that registers and grants parcels.
const NATURAL_RESOURCES: &str = "dev-natural-resources";
/// Land of every parcel: 10 mu.
const LAND_CENTI_MU: i64 = 1_000;

/// An event as census sends it.
fn cloud_event<M: Name>(uscc: &str) -> CloudEvent {
    testkit::cloud_event::<M>("census", uscc)
}

/// Produces one event per firm onto `topic`, all in flight.
async fn produce_all(
    producer: &Producer,
    topic: &str,
    events: &[(String, CloudEvent, Vec<u8>)],
) -> anyhow::Result<()> {
    let sends = events
        .iter()
        .map(|(key, event, payload)| producer.send(topic, key, payload, event));
    for result in futures::future::join_all(sends).await {
        result?;
    }
    Ok(())
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

/// A yearly return of `uscc` meeting the grant's output and tax commitments.
fn return_event(uscc: &str, year: i32) -> CensusReturnSubmitted {
    CensusReturnSubmitted {
        uscc: uscc.into(),
        period: testkit::period(&year.to_string()),
        revision: 1,
        indicators: Some(CensusIndicators {
            employees_total: 100,
            industrial_output_fen: 6_000_000 * LAND_CENTI_MU,
            tax_paid_fen: 300_000 * LAND_CENTI_MU,
            land_used_centi_mu: LAND_CENTI_MU,
            ..Default::default()
        }),
        segment: Segment::Apparel as i32,
        park: Park::Xiliu as i32,
        name: format!("海城基准纺织{uscc}有限公司"),
        enterprise_version: 1,
        submitted_at: Some(platform::time::to_timestamp(chrono::Utc::now())),
        ..Default::default()
    }
}

/// Each firm known to land-parcel (an `EnterpriseRegistered` on its census topic) and holding
/// one granted 10-mu parcel (RegisterParcel and GrantParcel through its API).
async fn fixture(
    channel: &Channel,
    pool: &PgPool,
    producer: &Producer,
    topic: &str,
    firms: &[String],
) -> anyhow::Result<()> {
    let registered: Vec<_> = firms
        .iter()
        .map(|uscc| {
            let message = EnterpriseRegistered {
                enterprise: Some(Enterprise {
                    uscc: uscc.clone(),
                    name: format!("海城基准纺织{uscc}有限公司"),
                    park: Park::Xiliu as i32,
                    segment: Segment::Apparel as i32,
                    status: EnterpriseStatus::Active as i32,
                    version: 1,
                    ..Default::default()
                }),
            };
            (
                uscc.clone(),
                cloud_event::<EnterpriseRegistered>(uscc),
                message.encode_to_vec(),
            )
        })
        .collect();
    produce_all(producer, topic, &registered).await?;
    wait_count(pool, "SELECT count(*) FROM enterprises", firms.len() as i64).await?;
    let client = LandServiceClient::new(channel.clone());
    futures::stream::iter(firms.iter().enumerate())
        .map(|(i, uscc)| {
            let mut client = client.clone();
            async move {
                let parcel = client
                    .register_parcel(with_token(
                        NATURAL_RESOURCES,
                        pb::RegisterParcelRequest {
                            id: format!("BL-{i:08}"),
                            park: Park::Xiliu as i32,
                            land_use: pb::LandUse::Industrial as i32,
                            area_centi_mu: LAND_CENTI_MU,
                            plot_ratio_min_milli: 800,
                            plot_ratio_max_milli: 3000,
                            location: "bench".into(),
                        },
                    ))
                    .await?
                    .into_inner()
                    .parcel
                    .ok_or_else(|| anyhow::anyhow!("RegisterParcel returned no parcel"))?;
                client
                    .grant_parcel(with_token(NATURAL_RESOURCES, grant_request(&parcel, uscc)))
                    .await?;
                anyhow::Ok(())
            }
        })
        .buffer_unordered(crate::CALLERS)
        .try_collect::<Vec<_>>()
        .await?;
    Ok(())
}

/// A standard 50-year grant with a production check long past, as land-parcel's tests grant.
fn grant_request(parcel: &pb::Parcel, uscc: &str) -> pb::GrantParcelRequest {
    pb::GrantParcelRequest {
        parcel_id: parcel.id.clone(),
        expected_version: parcel.version,
        uscc: uscc.into(),
        supply: Some(pb::SupplyTerms {
            mode: pb::SupplyMode::StandardTransfer as i32,
            term_years: 50,
            price_fen: 5_000_000_000,
            ..Default::default()
        }),
        contract: Some(pb::Contract {
            deposit_fen: 1_000_000,
            signed_on: "2020-01-01".into(),
            start_by: "2020-06-01".into(),
            complete_by: "2021-06-01".into(),
            production_check_on: "2023-06-01".into(),
        }),
        commitments: Some(pb::Commitments {
            investment_fen_per_mu: 300_000_000,
            output_fen_per_mu: 600_000_000,
            tax_fen_per_mu: 30_000_000,
            plot_ratio_milli: 1_200,
            energy_tce_per_wan_yuan: None,
        }),
    }
}

/// `firms` firms granted a parcel each; one yearly return of each produced onto
/// land-parcel's census topic, timed until every grant's evaluation is stored; then the same
/// statements by sqlx, batched as the inbox batches.
pub async fn run(
    channel: &Channel,
    land_db: &str,
    land_prefix: &str,
    firms: &[String],
    cpu: Watched,
) -> anyhow::Result<Row> {
    let pool = PgPool::connect(land_db).await?;
    let producer = Producer::new(&testkit::stack().kafka_bootstrap, Duration::from_secs(30))?;
    let topic = format!("{land_prefix}{}", topics::CENSUS_EVENTS);
    fixture(channel, &pool, &producer, &topic, firms).await?;
    let outbox_before: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox")
        .fetch_one(&pool)
        .await?;

    let returns: Vec<_> = firms
        .iter()
        .map(|uscc| {
            (
                uscc.clone(),
                cloud_event::<CensusReturnSubmitted>(uscc),
                return_event(uscc, 2024).encode_to_vec(),
            )
        })
        .collect();
    let n = firms.len();
    let before = cpu.sample();
    let started = Instant::now();
    produce_all(&producer, &topic, &returns).await?;
    let produced = started.elapsed();
    wait_count(&pool, "SELECT count(*) FROM evaluations", n as i64).await?;
    let platform_time = started.elapsed();
    let platform_cpu = before.per_unit(&cpu.sample(), n as u64, "return");
    // The outbox rows each return wrote (its CommitmentEvaluated and any notices), so the
    // limit writes as many.
    let outbox_after: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox")
        .fetch_one(&pool)
        .await?;
    let outbox_per_return = ((outbox_after - outbox_before) as f64 / n as f64).round() as usize;

    let mut conn = pool.acquire().await?;
    let payload = vec![0u8; 600];
    let before = cpu.sample();
    let started = Instant::now();
    for (batch, usccs) in firms.chunks(platform::inbox::BATCH_MAX).enumerate() {
        let first_offset = batch * platform::inbox::BATCH_MAX;
        limit_batch(&mut conn, usccs, first_offset, outbox_per_return, &payload).await?;
    }
    let limit_time = started.elapsed();
    let limit_cpu = before.per_unit(&cpu.sample(), n as u64, "return");
    Ok(Row {
        path: format!(
            "land-parcel evaluating {n} census returns of firms holding a granted parcel (limit: the same statements by sqlx, one transaction per batch of up to 64 as the inbox commits)"
        ),
        unit: "returns",
        platform: Side::once(n as u64, platform_time),
        limit: Some(Side::once(n as u64, limit_time)),
        target: Target::AtLeast(0.5),
        note: format!(
            "produced in {:.0} ms; {outbox_per_return} outbox row(s) per return",
            produced.as_secs_f64() * 1e3
        ),
        cpu: Some((platform_cpu, limit_cpu)),
    })
}

/// The statements of one inbox transaction in land-parcel applying the returns of `usccs`
/// (their inbox rows in one statement, as `platform::inbox` records a batch; then for each
/// return the firm's read model, the return, its units, the previous return, its grants
/// locked, each grant's latest evaluation, the new evaluation and its outbox rows), for the
/// year 2025; one commit.
async fn limit_batch(
    conn: &mut sqlx::PgConnection,
    usccs: &[String],
    first_offset: usize,
    outbox_rows: usize,
    payload: &[u8],
) -> anyhow::Result<()> {
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    let ids: Vec<Uuid> = usccs.iter().map(|_| Uuid::now_v7()).collect();
    let offsets: Vec<i64> = (0..usccs.len())
        .map(|i| (first_offset + i) as i64)
        .collect();
    sqlx::query(
        "INSERT INTO inbox (consumer, event_id, topic, kafka_partition, kafka_offset)
         SELECT $1, e.event_id, $2, 0, e.kafka_offset
         FROM unnest($3::uuid[], $4::bigint[]) WITH ORDINALITY AS e(event_id, kafka_offset, n)
         ORDER BY e.n
         ON CONFLICT DO NOTHING
         RETURNING event_id",
    )
    .bind("bench-limit")
    .bind(topics::CENSUS_EVENTS)
    .bind(&ids)
    .bind(&offsets)
    .fetch_all(&mut *tx)
    .await?;
    for uscc in usccs {
        apply_return(&mut tx, uscc, outbox_rows, payload).await?;
    }
    Ok(())
}

/// One return's statements inside the batch's transaction.
async fn apply_return(
    tx: &mut sqlx::PgConnection,
    uscc: &str,
    outbox_rows: usize,
    payload: &[u8],
) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO enterprises (uscc, name, active, segment, park, version)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (uscc) DO UPDATE SET
             name = excluded.name, active = excluded.active, segment = excluded.segment,
             park = excluded.park, version = excluded.version, updated_at = now()
         WHERE enterprises.version <= excluded.version",
    )
    .bind(uscc)
    .bind(format!("海城基准纺织{uscc}有限公司"))
    .bind(true)
    .bind("APPAREL")
    .bind("XILIU")
    .bind(1i64)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO census_returns (uscc, year, revision, output_fen, tax_fen, energy_tce, submitted_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (uscc, year) DO UPDATE SET
             revision = excluded.revision, output_fen = excluded.output_fen,
             tax_fen = excluded.tax_fen, energy_tce = excluded.energy_tce,
             submitted_at = excluded.submitted_at
         WHERE census_returns.revision < excluded.revision",
    )
    .bind(uscc)
    .bind(2025i32)
    .bind(1i64)
    .bind(6_000_000 * LAND_CENTI_MU)
    .bind(300_000 * LAND_CENTI_MU)
    .bind(None::<f64>)
    .bind(chrono::Utc::now())
    .execute(&mut *tx)
    .await?;
    let _units: Vec<Uuid> = sqlx::query_scalar(
        "SELECT id FROM units WHERE holder_uscc = $1 AND status IN ('leased', 'sold')",
    )
    .bind(uscc)
    .fetch_all(&mut *tx)
    .await?;
    let _previous: Option<(i32, i64, i64, Option<f64>)> = sqlx::query_as(
        "SELECT year, output_fen, tax_fen, energy_tce FROM census_returns
         WHERE uscc = $1 AND year < $2 ORDER BY year DESC LIMIT 1",
    )
    .bind(uscc)
    .bind(2025i32)
    .fetch_optional(&mut *tx)
    .await?;
    let grants: Vec<(Uuid,)> = sqlx::query_as(
        "SELECT id FROM (SELECT * FROM grants WHERE uscc = $1 AND status IN ('leasing', 'transferred')
         ORDER BY id FOR UPDATE) AS g",
    )
    .bind(uscc)
    .fetch_all(&mut *tx)
    .await?;
    for (grant_id,) in grants {
        let _latest: Option<(Uuid, String)> = sqlx::query_as(
            "SELECT e.id, e.outcome FROM evaluations e JOIN grants g ON g.id = e.grant_id
             WHERE e.grant_id = $1 ORDER BY e.seq DESC LIMIT 1",
        )
        .bind(grant_id)
        .fetch_optional(&mut *tx)
        .await?;
        let _recorded_at: chrono::DateTime<chrono::Utc> = sqlx::query_scalar(
            "INSERT INTO evaluations (id, grant_id, uscc, year, revision, outcome, all_met, damages_fen,
                 rectification_due_on, evaluated_on, items)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING recorded_at",
        )
        .bind(Uuid::now_v7())
        .bind(grant_id)
        .bind(uscc)
        .bind(2025i32)
        .bind(1i64)
        .bind("met")
        .bind(true)
        .bind(0i64)
        .bind(None::<chrono::NaiveDate>)
        .bind(chrono::Utc::now().date_naive())
        .bind(sqlx::types::Json(Vec::<u8>::new()))
        .fetch_one(&mut *tx)
        .await?;
        for _ in 0..outbox_rows {
            sqlx::query(
                "INSERT INTO outbox (event_id, topic, message_key, ce_type, ce_source, ce_subject, ce_time, payload, trace_headers)
                 VALUES ($1, $2, $3, $4, $5, $6, now(), $7, $8)",
            )
            .bind(Uuid::now_v7())
            .bind(topics::LAND_EVENTS)
            .bind(uscc)
            .bind("haicheng.land.v1.CommitmentEvaluated")
            .bind("land-parcel")
            .bind(uscc)
            .bind(payload)
            .bind(sqlx::types::Json(HashMap::<String, String>::new()))
            .execute(&mut *tx)
            .await?;
            sqlx::query("SELECT pg_notify($1, '')")
                .bind("haicheng_outbox")
                .execute(&mut *tx)
                .await?;
        }
    }
    Ok(())
}
