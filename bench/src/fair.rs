//! The booth allocation row (展位分配): trade-fair's `AllocateBooths` for a scored fair whose
//! application window has closed (`store::registrations::allocate`, about ten statements per
//! registration in one transaction), beside the same statements issued directly by sqlx on a
//! second fair with the same registrations.

use std::time::Instant;

use futures::{StreamExt, TryStreamExt};
use haicheng_proto::{
    fair::v1::{self as pb, fair_service_client::FairServiceClient},
    topics,
};
use sqlx::{PgConnection, PgPool};
use tonic::transport::Channel;
use uuid::Uuid;

use crate::{
    cpu::Watched,
    table::{Row, Side, Target},
};
use testkit::with_token;

const COMMERCE: &str = "dev-commerce";

type Client = FairServiceClient<Channel>;

/// Puts the firms into trade-fair's read model directly, as its tests do: an enterprise
/// record, export sales of 20 M yuan in 2025, class B.
async fn seed(pool: &PgPool, firms: &[String]) -> anyhow::Result<()> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO enterprises (uscc, name, small_firm, tax_credit_violation, segment, record_version)
         SELECT u, 'Firm ' || u, false, false, 'TEXTILE', 1 FROM unnest($1::text[]) AS u",
    )
    .bind(firms)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO census_exports (uscc, period, revision, export_sales_fen)
         SELECT u, '2025', 1, 2000000000 FROM unnest($1::text[]) AS u",
    )
    .bind(firms)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO enterprise_classes (uscc, enterprise_class, period, period_key, classified_at)
         SELECT u, 'B', '2025', 20250, now() FROM unnest($1::text[]) AS u",
    )
    .bind(firms)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A scored Canton fair with `booths` standard booths, every firm applied for one, then its
/// application window moved into the past (the service checks it against the clock).
async fn applied_fair(
    client: &Client,
    pool: &PgPool,
    firms: &[String],
    booths: i32,
) -> anyhow::Result<Uuid> {
    let now = chrono::Utc::now();
    let at = |hours: i64| {
        Some(platform::time::to_timestamp(
            now + chrono::Duration::hours(hours),
        ))
    };
    let plan = pb::Fair {
        name: format!("Bench fair {}", testkit::unique_name("f")),
        kind: pb::FairKind::CantonFair as i32,
        city: "Guangzhou".into(),
        venue: "Pazhou".into(),
        market: pb::Market::TraditionalExport as i32,
        starts_at: at(24 * 30),
        ends_at: at(24 * 35),
        registration_opens_at: at(-1),
        registration_closes_at: at(24),
        allocation_mode: pb::AllocationMode::Scored as i32,
        inventory: vec![pb::BoothInventory {
            booth_type: pb::BoothType::Standard as i32,
            capacity: booths,
            fee_fen: 2_000_000,
            taken: 0,
        }],
        ..Default::default()
    };
    let fair = client
        .clone()
        .create_fair(with_token(
            COMMERCE,
            pb::CreateFairRequest { fair: Some(plan) },
        ))
        .await?
        .into_inner()
        .fair
        .ok_or_else(|| anyhow::anyhow!("CreateFair returned no fair"))?;
    futures::stream::iter(firms)
        .map(|uscc| {
            let mut client = client.clone();
            let fair_id = fair.id.clone();
            async move {
                client
                    .apply(with_token(
                        COMMERCE,
                        pb::ApplyRequest {
                            fair_id,
                            uscc: uscc.clone(),
                            booth_type: pb::BoothType::Standard as i32,
                            booths: 1,
                        },
                    ))
                    .await?;
                anyhow::Ok(())
            }
        })
        .buffer_unordered(crate::CALLERS)
        .try_collect::<Vec<_>>()
        .await?;
    let id = Uuid::parse_str(&fair.id)?;
    sqlx::query(
        "UPDATE fairs SET opens_at = now() - interval '2 hours', closes_at = now() - interval '1 second'
         WHERE id = $1",
    )
    .bind(id)
    .execute(pool)
    .await?;
    Ok(id)
}

/// `registrations` firms applied to a scored fair of half as many booths; AllocateBooths
/// timed, then the same statements by sqlx on a second such fair.
pub async fn run(
    channel: &Channel,
    fair_db: &str,
    firms: &[String],
    cpu: Watched,
) -> anyhow::Result<Row> {
    let pool = PgPool::connect(fair_db).await?;
    let client = FairServiceClient::new(channel.clone());
    seed(&pool, firms).await?;
    let booths = (firms.len() / 2).max(1) as i32;
    let measured = applied_fair(&client, &pool, firms, booths).await?;
    let direct = applied_fair(&client, &pool, firms, booths).await?;
    let m = firms.len() as u64;

    let before = cpu.sample();
    let started = Instant::now();
    let allocated = client
        .clone()
        .allocate_booths(with_token(
            COMMERCE,
            pb::AllocateBoothsRequest {
                fair_id: measured.to_string(),
            },
        ))
        .await?
        .into_inner()
        .registrations;
    let platform_time = started.elapsed();
    let platform_cpu = before.per_unit(&cpu.sample(), m, "registration");
    anyhow::ensure!(
        allocated.len() == firms.len(),
        "AllocateBooths returned {} of {} registrations",
        allocated.len(),
        firms.len()
    );

    let mut conn = pool.acquire().await?;
    let before = cpu.sample();
    let started = Instant::now();
    limit_allocate(&mut conn, direct, booths as usize).await?;
    let limit_time = started.elapsed();
    let limit_cpu = before.per_unit(&cpu.sample(), m, "registration");
    Ok(Row {
        path: format!(
            "AllocateBooths of a scored fair with {m} registrations for {booths} booths (limit: the same statements by sqlx in one transaction)"
        ),
        unit: "registrations",
        platform: Side::once(m, platform_time),
        limit: Some(Side::once(m, limit_time)),
        target: Target::AtLeast(0.5),
        note: String::new(),
        cpu: Some((platform_cpu, limit_cpu)),
    })
}

const RANKED: &str = "SELECT r.*, row_number() OVER (
        PARTITION BY r.booth_type, r.status
        ORDER BY CASE r.enterprise_class WHEN 'A' THEN 0 WHEN 'B' THEN 1 WHEN 'C' THEN 2 ELSE 3 END,
                 r.applied_at, r.id) AS position
    FROM registrations r WHERE r.fair_id = $1";

/// The statements of `allocate` for `fair_id`: the fair locked and read, its registrations,
/// and for each the firm's read model, its new state and explanation, the booths taken (if
/// confirmed), the registration read back and its event in the outbox; the fair marked
/// allocated and its registrations read again. The first `booths` are confirmed.
async fn limit_allocate(
    conn: &mut PgConnection,
    fair_id: Uuid,
    booths: usize,
) -> anyhow::Result<()> {
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    sqlx::query("SELECT id FROM fairs WHERE id = $1 FOR UPDATE")
        .bind(fair_id)
        .fetch_optional(&mut *tx)
        .await?;
    sqlx::query(
        "SELECT id, name, kind, city, venue, market, starts_at, ends_at, opens_at, closes_at, mode,
             small_firm_reserve_percent, a_class_reserve_percent, per_firm_cap, version, created_at,
             allocated_at, reserves_released_at FROM fairs WHERE id = $1",
    )
    .bind(fair_id)
    .fetch_optional(&mut *tx)
    .await?;
    sqlx::query("SELECT * FROM booth_inventory WHERE fair_id = $1")
        .bind(fair_id)
        .fetch_all(&mut *tx)
        .await?;
    let of_fair = format!(
        "SELECT * FROM ({RANKED}) x ORDER BY status = 'waitlisted', CASE WHEN status = 'waitlisted' THEN position ELSE 0 END, applied_at, id"
    );
    let registrations: Vec<(Uuid, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT id, uscc FROM ({of_fair}) y"
    )))
    .bind(fair_id)
    .fetch_all(&mut *tx)
    .await?;
    for (_, uscc) in &registrations {
        sqlx::query(
            "SELECT small_firm, tax_credit_violation, record_version FROM enterprises WHERE uscc = $1",
        )
        .bind(uscc)
        .fetch_optional(&mut *tx)
        .await?;
        sqlx::query("SELECT enterprise_class FROM enterprise_classes WHERE uscc = $1")
            .bind(uscc)
            .fetch_optional(&mut *tx)
            .await?;
        sqlx::query("SELECT period, export_sales_fen FROM census_exports WHERE uscc = $1")
            .bind(uscc)
            .fetch_all(&mut *tx)
            .await?;
    }
    let payload = vec![0u8; 400];
    for (i, (id, uscc)) in registrations.iter().enumerate() {
        let confirmed = i < booths;
        let status = if confirmed { "confirmed" } else { "waitlisted" };
        sqlx::query(
            "UPDATE registrations SET status = $2, from_general = $3, from_small = $4, from_a_class = $5,
                    confirmed_at = COALESCE($6, confirmed_at), offer_expires_at = $7
             WHERE id = $1",
        )
        .bind(id)
        .bind(status)
        .bind(i32::from(confirmed))
        .bind(0i32)
        .bind(0i32)
        .bind(confirmed.then(chrono::Utc::now))
        .bind(None::<chrono::DateTime<chrono::Utc>>)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE registrations SET explanation = $2 WHERE id = $1")
            .bind(id)
            .bind("Scored: one booth from the general pool, class B, applied first.")
            .execute(&mut *tx)
            .await?;
        if confirmed {
            sqlx::query(
                "UPDATE booth_inventory SET taken = taken + $3 WHERE fair_id = $1 AND booth_type = $2",
            )
            .bind(fair_id)
            .bind("standard")
            .bind(1i32)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query_scalar::<_, Uuid>("SELECT fair_id FROM registrations WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT * FROM ({RANKED}) x WHERE id = $2"
        )))
        .bind(fair_id)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO outbox (event_id, topic, message_key, ce_type, ce_source, ce_subject, ce_time, payload, trace_headers)
             VALUES ($1, $2, $3, $4, $5, $6, now(), $7, $8)",
        )
        .bind(Uuid::now_v7())
        .bind(topics::FAIR_EVENTS)
        .bind(fair_id.to_string())
        .bind("haicheng.fair.v1.RegistrationConfirmed")
        .bind("trade-fair")
        .bind(uscc)
        .bind(&payload)
        .bind(sqlx::types::Json(std::collections::HashMap::<String, String>::new()))
        .execute(&mut *tx)
        .await?;
        sqlx::query("SELECT pg_notify($1, '')")
            .bind("haicheng_outbox")
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query("UPDATE fairs SET allocated_at = $2, version = version + 1 WHERE id = $1")
        .bind(fair_id)
        .bind(chrono::Utc::now())
        .execute(&mut *tx)
        .await?;
    sqlx::query(sqlx::AssertSqlSafe(of_fair))
        .bind(fair_id)
        .fetch_all(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}
