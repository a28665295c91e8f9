//! Re-ranking a period in the database: `firms` firms with a return each put into
//! classification's read model, the period marked dirty, and the re-ranker's own run time
//! (`rerank_runs`: read model → classes, class-change events, notices) beside a raw read of the
//! same rows plus a raw write of as many class rows as the re-rank wrote (`rows_written`: a
//! re-rank writes only the rows whose class, rank, score or record changed), by sqlx.

use std::time::{Duration, Instant};

use sqlx::{PgPool, Row as _, postgres::PgPoolOptions};

use crate::{
    cpu::Watched,
    fixtures,
    table::{Row, Side, Target},
};

/// The period of this row; no other row uses it.
const PERIOD: &str = "2019";
const CATCH_UP: Duration = Duration::from_secs(300);

pub async fn run(classification_db: &str, firms: usize, cpu: Watched) -> anyhow::Result<Row> {
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .connect(classification_db)
        .await?;
    // Earlier rows' periods first, so the re-ranker is free.
    wait_for(&pool, "SELECT count(*) = 0 FROM dirty_periods").await?;
    let usccs = fixtures::usccs(firms);
    load_read_model(&pool, &usccs).await?;

    let before = cpu.sample();
    // Due at once: its first change is older than any debounce or maximum delay.
    sqlx::query(
        "INSERT INTO dirty_periods (period, generation, first_dirty_at, last_dirty_at)
         VALUES ($1, 1, now() - interval '1 hour', now() - interval '1 hour')",
    )
    .bind(PERIOD)
    .execute(&pool)
    .await?;
    wait_for(
        &pool,
        "SELECT count(*) > 0 FROM rerank_runs WHERE period = '2019'",
    )
    .await?;
    let (seconds, changed, written): (f64, i32, i32) = sqlx::query_as(
        "SELECT EXTRACT(EPOCH FROM finished_at - started_at)::float8, changed_classes, rows_written
         FROM rerank_runs WHERE period = $1 ORDER BY id LIMIT 1",
    )
    .bind(PERIOD)
    .fetch_one(&pool)
    .await?;
    let platform_cpu = before.per_unit(&cpu.sample(), firms as u64, "firm");
    let platform_time = Duration::from_secs_f64(seconds);

    sqlx::query("CREATE TABLE IF NOT EXISTS bench_classes (LIKE classifications)")
        .execute(&pool)
        .await?;
    let before = cpu.sample();
    let started = Instant::now();
    let rows = sqlx::query(
        "SELECT r.uscc, e.name, e.park, e.segment, e.industry_class, e.registration_date,
                e.active, e.safety_violation, r.employees_total, r.rd_spend_fen, r.revenue_fen,
                r.industrial_output_fen, r.tax_paid_fen, r.export_sales_fen,
                r.automation_share_percent, r.patents, r.land_used_centi_mu, r.energy_use_tce
         FROM census_returns r JOIN enterprises e ON e.uscc = r.uscc
         WHERE r.period = $1 AND ($2::text[] IS NULL OR e.segment = ANY($2))",
    )
    .bind(PERIOD)
    .bind(None::<Vec<String>>)
    .fetch_all(&pool)
    .await?;
    let changed_rows = &rows[..(written.max(0) as usize).min(rows.len())];
    let uscc: Vec<String> = changed_rows.iter().map(|r| r.get("uscc")).collect();
    let name: Vec<String> = changed_rows.iter().map(|r| r.get("name")).collect();
    let tax: Vec<f64> = changed_rows
        .iter()
        .map(|r| r.get::<i64, _>("tax_paid_fen") as f64)
        .collect();
    let rank: Vec<i32> = (1..=uscc.len() as i32).collect();
    sqlx::query(
        "INSERT INTO bench_classes (period, uscc, period_key, name, park, segment, grading,
            computed_class, class, score, rank, cohort_size, model_version, reduced_model,
            vetoed, classified_at)
         SELECT $1, u, 20190, n, 'GANWANG', 'TEXTILE', 1, 'B', 'B', s, k, $5, 1, false, false, now()
         FROM unnest($2::text[], $3::text[], $4::float8[], $6::int[]) AS x(u, n, s, k)",
    )
    .bind(PERIOD)
    .bind(&uscc)
    .bind(&name)
    .bind(&tax)
    .bind(uscc.len() as i32)
    .bind(&rank)
    .execute(&pool)
    .await?;
    let limit_time = started.elapsed();
    let limit_cpu = before.per_unit(&cpu.sample(), firms as u64, "firm");
    let same_tables = write_into_copies(&pool, &uscc, &name, &tax, &rank).await?;
    let n = firms as u64;
    Ok(Row {
        path: format!(
            "re-rank a period of {firms} firms in the database, {written} rows written, {changed} classes changed (limit: raw read of the rows + raw write of as many rows)"
        ),
        unit: "firms",
        platform: Side::once(n, platform_time),
        limit: Some(Side::once(n, limit_time)),
        target: Target::SlowerAtMost(2.0),
        note: format!(
            "the same writes into copies of the real tables, indexes included, class rows {:.0} ms + their {} events {:.0} ms: the re-rank takes {:.2}× the read plus those",
            same_tables.classes.as_secs_f64() * 1e3,
            same_tables.events,
            same_tables.outbox.as_secs_f64() * 1e3,
            platform_time.as_secs_f64()
                / (limit_time.saturating_sub(same_tables.plain)
                    + same_tables.classes
                    + same_tables.outbox)
                    .as_secs_f64()
        ),
        cpu: Some((platform_cpu, limit_cpu)),
    })
}

/// The limit's writes again, into copies of the tables the re-rank writes with their indexes
/// (`classifications`, and the outbox with the re-rank's own event rows): what the same rows
/// cost where they really go.
struct SameTables {
    /// The class rows into the plain copy (the limit's write), for comparison.
    plain: Duration,
    classes: Duration,
    outbox: Duration,
    events: i64,
}

async fn write_into_copies(
    pool: &PgPool,
    uscc: &[String],
    name: &[String],
    tax: &[f64],
    rank: &[i32],
) -> anyhow::Result<SameTables> {
    for create in [
        "CREATE TABLE IF NOT EXISTS bench_classes_plain (LIKE classifications)",
        "CREATE TABLE IF NOT EXISTS bench_classes_indexed (LIKE classifications INCLUDING ALL)",
        "CREATE TABLE IF NOT EXISTS bench_outbox (LIKE outbox INCLUDING ALL)",
    ] {
        sqlx::query(create).execute(pool).await?;
    }
    let insert = |table: &str| {
        format!(
            "INSERT INTO {table} (period, uscc, period_key, name, park, segment, grading,
                computed_class, class, score, rank, cohort_size, model_version, reduced_model,
                vetoed, classified_at)
             SELECT $1, u, 20190, n, 'GANWANG', 'TEXTILE', 1, 'B', 'B', s, k, $5, 1, false, false, now()
             FROM unnest($2::text[], $3::text[], $4::float8[], $6::int[]) AS x(u, n, s, k)"
        )
    };
    let mut timed = Vec::new();
    for table in ["bench_classes_plain", "bench_classes_indexed"] {
        let started = Instant::now();
        sqlx::query(sqlx::AssertSqlSafe(insert(table)))
            .bind(PERIOD)
            .bind(uscc)
            .bind(name)
            .bind(tax)
            .bind(uscc.len() as i32)
            .bind(rank)
            .execute(pool)
            .await?;
        timed.push(started.elapsed());
    }
    let (keys, payloads): (Vec<String>, Vec<Vec<u8>>) = sqlx::query_as::<_, (String, Vec<u8>)>(
        "SELECT message_key, payload FROM outbox WHERE topic = $1 AND message_key = ANY($2)",
    )
    .bind(haicheng_proto::topics::CLASSIFICATION_EVENTS)
    .bind(uscc)
    .fetch_all(pool)
    .await?
    .into_iter()
    .unzip();
    let started = Instant::now();
    let events = sqlx::query(
        "INSERT INTO bench_outbox (event_id, topic, message_key, ce_type, ce_source, ce_subject,
            ce_time, payload)
         SELECT gen_random_uuid(), $1, k, 'haicheng.classification.v1.EnterpriseClassified',
                'classification', k, now(), p
         FROM unnest($2::text[], $3::bytea[]) AS e(k, p)",
    )
    .bind(haicheng_proto::topics::CLASSIFICATION_EVENTS)
    .bind(&keys)
    .bind(&payloads)
    .execute(pool)
    .await?
    .rows_affected() as i64;
    Ok(SameTables {
        plain: timed[0],
        classes: timed[1],
        outbox: started.elapsed(),
        events,
    })
}

/// One active textile firm (Ganwang park) per USCC and a return each for [`PERIOD`], as the
/// census consumer would have stored them.
async fn load_read_model(pool: &PgPool, usccs: &[String]) -> anyhow::Result<()> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO enterprises (uscc, name, park, segment, industry_class, registration_date,
            active, record_version)
         SELECT u, '海城基准纺织' || u || '有限公司', 'GANWANG', 'TEXTILE', '1711', DATE '2010-05-01', true, 1
         FROM unnest($1::text[]) AS u",
    )
    .bind(usccs)
    .execute(&mut *tx)
    .await?;
    // Figures as fixtures::indicators: all plausible, the tax per mu varying with the firm.
    sqlx::query(
        "INSERT INTO census_returns (period, uscc, revision, employees_total, rd_spend_fen,
            revenue_fen, industrial_output_fen, tax_paid_fen, export_sales_fen,
            automation_share_percent, patents, land_used_centi_mu, energy_use_tce, submitted_at)
         SELECT $2, u, 1, 100, 100000000, 5000000000, 4000000000,
                (1000 + (i % 997) * 7) * 5000, 500000000, 50.0, 3, 5000, 100.0, now()
         FROM unnest($1::text[]) WITH ORDINALITY AS x(u, i)",
    )
    .bind(usccs)
    .bind(PERIOD)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Polls a boolean query every 20 ms until it holds.
async fn wait_for(pool: &PgPool, query: &'static str) -> anyhow::Result<()> {
    let deadline = Instant::now() + CATCH_UP;
    loop {
        let done: bool = sqlx::query_scalar(query).fetch_one(pool).await?;
        if done {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "{query}: not within {CATCH_UP:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
