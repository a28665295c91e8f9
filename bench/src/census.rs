//! The census's rows: the gRPC overhead (a health check), SubmitReturn, GetEnterpriseFile and
//! ImportReturns, each beside the same SQL issued directly by sqlx (COPY for the import).

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use haicheng_proto::census::v1::CensusReturnSubmitted;
use haicheng_proto::census::v1::{
    GetEnterpriseFileRequest, ImportReturnsRow, SubmitReturnRequest,
    census_service_client::CensusServiceClient,
};
use platform::bus::{CloudEvent, Producer};
use prost::Message as _;
use sqlx::{PgPool, postgres::PgPoolOptions};
use tonic::transport::Channel;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

use crate::{
    cpu::Watched,
    events, fixtures,
    load::{self, Bounds},
    table::{Row, Side, Target},
};

/// A pool of exactly `size` connections, opened before the clock starts.
pub async fn pool(url: &str, size: u32) -> anyhow::Result<PgPool> {
    let pool = PgPoolOptions::new()
        .min_connections(size)
        .max_connections(size)
        .connect(url)
        .await?;
    // Open every connection now, not during the measurement.
    let held: Vec<_> = futures::future::try_join_all((0..size).map(|_| pool.acquire())).await?;
    drop(held);
    Ok(pool)
}

fn note(failed: &[&load::Measured]) -> String {
    failed
        .iter()
        .filter(|m| m.failed > 0)
        .map(|m| {
            format!(
                "{} failed: {}",
                m.failed,
                m.first_error.as_deref().unwrap_or("?")
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// `grpc.health.v1` checks on the census's server, through the same layers as every call.
pub async fn health(channels: &[Channel], cpu: Watched, bounds: Bounds) -> Row {
    let channels = Arc::new(channels.to_vec());
    let before = cpu.sample();
    let measured = load::run(bounds, move |caller, _| {
        let mut client = HealthClient::new(channels[caller % channels.len()].clone());
        async move {
            client
                .check(HealthCheckRequest::default())
                .await
                .map(|_| ())
        }
    })
    .await;
    let used = before.per_unit(&cpu.sample(), measured.done, "call");
    Row {
        path: "gRPC overhead: grpc.health.v1 check, 16 callers".into(),
        unit: "calls",
        platform: Side::of(&measured),
        limit: None,
        target: Target::Report,
        note: note(&[&measured]),
        cpu: Some((used, "—".into())),
    }
}

/// SubmitReturn of distinct returns of `firms` (period 2025), beside the same return row and
/// an outbox row inserted in one transaction by sqlx (period 2024, so the keys never meet).
pub async fn submit(
    channels: &[Channel],
    database_url: &str,
    census_topic: &str,
    firms: &[String],
    cpu: Watched,
    bounds: Bounds,
) -> anyhow::Result<Row> {
    let firms = Arc::new(firms.to_vec());
    let channels = Arc::new(channels.to_vec());
    let run = uuid::Uuid::new_v4().simple().to_string();
    let before = cpu.sample();
    let platform = {
        let firms = firms.clone();
        load::run(bounds, move |caller, sequence| {
            let mut client = CensusServiceClient::new(channels[caller % channels.len()].clone());
            let request = SubmitReturnRequest {
                client_request_id: format!("bench-submit-{run}-{sequence}"),
                uscc: firms[sequence as usize % firms.len()].clone(),
                period: period("2025"),
                indicators: Some(fixtures::indicators(sequence)),
                sources: None,
            };
            async move {
                client
                    .submit_return(with_token("dev-commerce", request))
                    .await
                    .map(|_| ())
            }
        })
        .await
    };

    let platform_cpu = before.per_unit(&cpu.sample(), platform.done, "call");
    let pool = pool(database_url, bounds.callers as u32).await?;
    // The limit's outbox: a copy of the census's (its indexes and defaults), which the census's
    // relay never reads.
    sqlx::query("CREATE TABLE IF NOT EXISTS bench_outbox (LIKE outbox INCLUDING ALL)")
        .execute(&pool)
        .await?;
    let producer = Arc::new(Producer::new(
        &testkit::stack().kafka_bootstrap,
        Duration::from_secs(30),
    )?);
    let topic = Arc::new(census_topic.to_string());
    // One message first, so the producer's connection and idempotence handshake are done.
    let warm = events::return_event(&firms[0], "2024", 0).encode_to_vec();
    producer
        .send(&topic, &firms[0], &warm, &limit_event(&firms[0]))
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let before = cpu.sample();
    let limit = load::run(bounds, move |_, sequence| {
        let (pool, firms) = (pool.clone(), firms.clone());
        let (producer, topic) = (producer.clone(), topic.clone());
        async move { submit_limit(&pool, &producer, &topic, &firms, sequence).await }
    })
    .await;
    let limit_cpu = before.per_unit(&cpu.sample(), limit.done, "call");
    Ok(Row {
        path: "SubmitReturn, 16 callers (limit: return + outbox row in one transaction by sqlx, then a raw acks=all produce of the event)".into(),
        unit: "calls",
        platform: Side::of(&platform),
        limit: Some(Side::of(&limit)),
        target: Target::AtLeast(0.7),
        note: note(&[&platform, &limit]),
        cpu: Some((platform_cpu, limit_cpu)),
    })
}

/// The limit of one submission: what the platform must do at the least. The return row and
/// its outbox row (into `bench_outbox`) in one transaction, then the event produced to the
/// broker (idempotent, acks=all) and its acknowledgement awaited, as the relay does.
async fn submit_limit(
    pool: &PgPool,
    producer: &Producer,
    topic: &str,
    firms: &[String],
    sequence: u64,
) -> anyhow::Result<()> {
    let uscc = &firms[sequence as usize % firms.len()];
    let revision = (sequence as usize / firms.len()) as i64 + 1;
    let i = fixtures::indicators(sequence);
    let payload = events::return_event(uscc, "2024", sequence).encode_to_vec();
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO census_returns (uscc, period, revision, client_request_id,
            employees_total, production_staff, rd_technical_staff, management_sales_staff,
            college_educated_staff, rd_spend_fen, revenue_fen, industrial_output_fen,
            tax_paid_fen, export_sales_fen, equipment_value_fen, automation_share_percent,
            equipment_level, invention_patents, utility_model_patents, design_patents,
            land_used_centi_mu, energy_use_tce, rd_exceeds_revenue_flag, sources,
            enterprise_version, submitted_at, submitted_by)
         VALUES ($1, '2024', $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15,
            'NOT_REPORTED', $16, 0, 0, $17, $18, false, '{}', 1, clock_timestamp(), 'bench')",
    )
    .bind(uscc)
    .bind(revision)
    .bind(format!("bench-limit-{}", uuid::Uuid::now_v7()))
    .bind(i.employees_total)
    .bind(i.production_staff)
    .bind(i.rd_technical_staff)
    .bind(i.management_sales_staff)
    .bind(i.college_educated_staff)
    .bind(i.rd_spend_fen)
    .bind(i.revenue_fen)
    .bind(i.industrial_output_fen)
    .bind(i.tax_paid_fen)
    .bind(i.export_sales_fen)
    .bind(i.equipment_value_fen)
    .bind(i.automation_share_percent)
    .bind(i.invention_patents)
    .bind(i.land_used_centi_mu)
    .bind(i.energy_use_tce)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO bench_outbox (event_id, topic, message_key, ce_type, ce_source, ce_subject,
            ce_time, payload, trace_headers)
         VALUES ($1, 'haicheng.census.events.v1', $2, 'haicheng.census.v1.CensusReturnSubmitted',
            'census', $2, now(), $3, '{}')",
    )
    .bind(uuid::Uuid::now_v7())
    .bind(uscc)
    .bind(&payload)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    producer
        .send(topic, uscc, &payload, &limit_event(uscc))
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(())
}

/// The CloudEvents attributes of the limit's event, as census sends them.
fn limit_event(uscc: &str) -> CloudEvent {
    testkit::cloud_event::<CensusReturnSubmitted>("census", uscc)
}

/// GetEnterpriseFile of `firms`, beside its durable effect done the fastest way (the record,
/// its audit row and the latest returns in one statement) issued by sqlx.
pub async fn file(
    channels: &[Channel],
    database_url: &str,
    firms: &[String],
    cpu: Watched,
    bounds: Bounds,
) -> anyhow::Result<Row> {
    let firms = Arc::new(firms.to_vec());
    let channels = Arc::new(channels.to_vec());
    let before = cpu.sample();
    let platform = {
        let firms = firms.clone();
        load::run(bounds, move |caller, sequence| {
            let mut client = CensusServiceClient::new(channels[caller % channels.len()].clone());
            let request = GetEnterpriseFileRequest {
                uscc: firms[sequence as usize % firms.len()].clone(),
                as_of: None,
                all_revisions: false,
            };
            async move {
                client
                    .get_enterprise_file(with_token("dev-commerce", request))
                    .await
                    .map(|_| ())
            }
        })
        .await
    };
    let platform_cpu = before.per_unit(&cpu.sample(), platform.done, "call");
    let pool = pool(database_url, bounds.callers as u32).await?;
    let before = cpu.sample();
    let limit = load::run(bounds, move |_, sequence| {
        let pool = pool.clone();
        let uscc = firms[sequence as usize % firms.len()].clone();
        async move { read_file(&pool, &uscc).await }
    })
    .await;
    let limit_cpu = before.per_unit(&cpu.sample(), limit.done, "call");
    Ok(Row {
        path: "GetEnterpriseFile, 16 callers (limit: record + audit row + returns in one statement, sqlx)"
            .into(),
        unit: "calls",
        platform: Side::of(&platform),
        limit: Some(Side::of(&limit)),
        target: Target::AtLeast(0.7),
        note: note(&[&platform, &limit]),
        cpu: Some((platform_cpu, limit_cpu)),
    })
}

/// The census's file read (services/census/src/store/reads.rs) done the fastest way: its
/// durable effect, the audit row inserted exactly when the record is found, with the record
/// and each period's latest return, in one statement and one round trip, outside a
/// transaction as the service reads (it issues the record with its audit insert, then the
/// returns).
async fn read_file(pool: &PgPool, uscc: &str) -> sqlx::Result<()> {
    let none: Option<chrono::DateTime<chrono::Utc>> = None;
    sqlx::query(
        "WITH found AS (
            SELECT v.uscc, v.version, v.name, v.legal_representative, v.park, v.industry_class,
                v.size, v.registration_date, v.status, v.deregistration_reason,
                v.safety_violation, v.environmental_violation, v.tax_credit_violation,
                v.recorded_at, e.created_at
            FROM enterprise_versions v JOIN enterprises e ON e.uscc = v.uscc
            WHERE v.uscc = $1 AND ($2::timestamptz IS NULL OR v.recorded_at <= $2)
            ORDER BY v.version DESC
            LIMIT 1
         ), audit AS (
            INSERT INTO file_reads (reader, uscc, as_of, all_revisions)
            SELECT $3, $1, $2, $4 FROM found
         )
         SELECT f.*, r.*
         FROM found f LEFT JOIN LATERAL (
            SELECT DISTINCT ON (period) period, revision, client_request_id, employees_total,
                production_staff, rd_technical_staff, management_sales_staff,
                college_educated_staff, rd_spend_fen, revenue_fen, industrial_output_fen,
                tax_paid_fen, export_sales_fen, equipment_value_fen, automation_share_percent,
                equipment_level, invention_patents, utility_model_patents, design_patents,
                land_used_centi_mu, energy_use_tce, rd_exceeds_revenue_flag, sources,
                enterprise_version, submitted_at, submitted_by
            FROM census_returns
            WHERE uscc = f.uscc AND ($2::timestamptz IS NULL OR submitted_at <= $2)
            ORDER BY period, revision DESC
         ) r ON true",
    )
    .bind(uscc)
    .bind(none)
    .bind("department:commerce")
    .bind(false)
    .fetch_all(pool)
    .await?;
    Ok(())
}

/// ImportReturns of one return per firm (period 2023) in one client stream, as the CLI
/// sends it, beside a COPY of the same rows (period 2022) into the same table.
pub async fn import(
    channel: Channel,
    database_url: &str,
    firms: &[String],
    cpu: Watched,
) -> anyhow::Result<Row> {
    let run = uuid::Uuid::new_v4().simple().to_string();
    let rows: Vec<ImportReturnsRow> = firms
        .iter()
        .enumerate()
        .map(|(i, uscc)| ImportReturnsRow {
            row_number: i as i64 + 1,
            client_request_id: format!("bench-import-{run}-{i}"),
            uscc: uscc.clone(),
            period: period("2023"),
            indicators: Some(fixtures::indicators(i as u64)),
            sources: None,
        })
        .collect();
    let mut client = CensusServiceClient::new(channel)
        .max_decoding_message_size(64 << 20)
        .max_encoding_message_size(64 << 20);
    let before = cpu.sample();
    let started = Instant::now();
    let report = client
        .import_returns(with_token("dev-census-import", futures::stream::iter(rows)))
        .await?
        .into_inner();
    let platform_time = started.elapsed();
    let platform_cpu = before.per_unit(&cpu.sample(), firms.len() as u64, "row");
    anyhow::ensure!(
        report.accepted_count as usize == firms.len(),
        "the import accepted {} of {} rows; first rejection: {:?}",
        report.accepted_count,
        firms.len(),
        report.rejected_rows.first()
    );

    let csv = copy_rows(firms, &run);
    let mut conn = sqlx::PgConnection::connect(database_url).await?;
    let before = cpu.sample();
    let started = Instant::now();
    let mut copy = conn
        .copy_in_raw(
            "COPY census_returns (uscc, period, revision, client_request_id,
            employees_total, production_staff, rd_technical_staff, management_sales_staff,
            college_educated_staff, rd_spend_fen, revenue_fen, industrial_output_fen,
            tax_paid_fen, export_sales_fen, equipment_value_fen, automation_share_percent,
            equipment_level, invention_patents, utility_model_patents, design_patents,
            land_used_centi_mu, energy_use_tce, rd_exceeds_revenue_flag, sources,
            enterprise_version, submitted_at, submitted_by) FROM STDIN (FORMAT csv)",
        )
        .await?;
    copy.send(csv.as_bytes()).await?;
    let copied = copy.finish().await?;
    let limit_time = started.elapsed();
    let limit_cpu = before.per_unit(&cpu.sample(), firms.len() as u64, "row");
    anyhow::ensure!(copied as usize == firms.len(), "COPY wrote {copied} rows");
    let n = firms.len() as u64;
    Ok(Row {
        path: format!(
            "ImportReturns of {} rows, one stream (limit: COPY of the same rows)",
            firms.len()
        ),
        unit: "rows",
        platform: Side::once(n, platform_time),
        limit: Some(Side::once(n, limit_time)),
        target: Target::AtLeast(0.5),
        note: String::new(),
        cpu: Some((platform_cpu, limit_cpu)),
    })
}

use sqlx::Connection as _;
use testkit::{period, with_token};

/// The import's rows as COPY CSV, with the values the census would store.
fn copy_rows(firms: &[String], run: &str) -> String {
    let now = chrono::Utc::now().to_rfc3339();
    let mut csv = String::with_capacity(firms.len() * 200);
    for (n, uscc) in firms.iter().enumerate() {
        let i = fixtures::indicators(n as u64);
        csv.push_str(&format!(
            "{uscc},2022,1,bench-copy-{run}-{n},{},{},{},{},{},{},{},{},{},{},{},{},NOT_REPORTED,{},0,0,{},{},false,{{}},1,{now},census-import\n",
            i.employees_total,
            i.production_staff,
            i.rd_technical_staff,
            i.management_sales_staff,
            i.college_educated_staff,
            i.rd_spend_fen,
            i.revenue_fen,
            i.industrial_output_fen,
            i.tax_paid_fen,
            i.export_sales_fen,
            i.equipment_value_fen,
            i.automation_share_percent,
            i.invention_patents,
            i.land_used_centi_mu,
            i.energy_use_tce.unwrap_or(0.0),
        ));
    }
    csv
}
