//! The booth allocation row (展位分配): trade-fair's `AllocateBooths` for a scored fair whose
//! application window has closed (`store::allocation`: the registrations read once, the
//! allotments written in a few statements whatever their number, in one transaction), beside
//! the same allocation as set-based SQL on a second fair with the same registrations.

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
/// timed, then the same allocation as set-based SQL on a second such fair.
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
        .into_inner();
    let platform_time = started.elapsed();
    let platform_cpu = before.per_unit(&cpu.sample(), m, "registration");
    let platform_allotted =
        allocated.confirmed + allocated.waitlisted + allocated.cancelled_ineligible;
    anyhow::ensure!(
        platform_allotted as usize == firms.len(),
        "AllocateBooths allotted {platform_allotted} of {} registrations",
        firms.len()
    );

    // The limit's events are as large as the service's.
    let payload_bytes: f64 = sqlx::query_scalar(
        "SELECT COALESCE(avg(length(payload)), 0)::float8 FROM outbox WHERE message_key = $1",
    )
    .bind(measured.to_string())
    .fetch_one(&pool)
    .await?;

    let mut conn = pool.acquire().await?;
    let before = cpu.sample();
    let started = Instant::now();
    let limited = limit_allocate(&mut conn, direct, payload_bytes.round() as usize).await?;
    let limit_time = started.elapsed();
    let limit_cpu = before.per_unit(&cpu.sample(), m, "registration");
    let platform_confirmed = allocated.confirmed as usize;
    let limit_confirmed = limited.iter().filter(|(_, s)| s == "confirmed").count();
    anyhow::ensure!(
        limited.len() == firms.len() && platform_confirmed == limit_confirmed,
        "the limit allotted {} registrations, {limit_confirmed} confirmed; the service {platform_allotted}, {platform_confirmed}",
        limited.len(),
    );
    Ok(Row {
        path: format!(
            "AllocateBooths of a scored fair with {m} registrations for {booths} booths (limit: the same allocation as set-based SQL, one transaction)"
        ),
        unit: "registrations",
        platform: Side::once(m, platform_time),
        limit: Some(Side::once(m, limit_time)),
        target: Target::AtLeast(0.5),
        note: String::new(),
        cpu: Some((platform_cpu, limit_cpu)),
    })
}

/// trade-fair's default export thresholds (`Rules::default`, fen a year): trading firms and
/// firms without a segment, producers.
const TRADE_FEN: i64 = 1_050_000_000;
const PRODUCER_FEN: i64 = 525_000_000;

/// The same allocation as set-based SQL, one transaction of two statements: the fair locked
/// with its plan read; then one statement that ranks the applications (class, export sales
/// of the latest year, application time, id; eligibility by the threshold of the firm's kind
/// and the tax-credit veto), confirms the first `capacity` eligible ones with a booth from the
/// general pool, waitlists the other eligible ones and cancels the rest, each with its
/// explanation, adds the booths to `taken`, writes one event per registration to the outbox
/// with its wake-up, marks the fair allocated and returns the registrations. It is the
/// allocation of the fair the bench builds, which it checks first: one booth type, every
/// application for one booth and no firm with a reserve's access, so the rounds and the
/// reserves (released to all in the second pass) come to the ranking alone.
async fn limit_allocate(
    conn: &mut PgConnection,
    fair_id: Uuid,
    payload_bytes: usize,
) -> anyhow::Result<Vec<(Uuid, String)>> {
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    let (types, capacity, others): (i64, i64, i64) = sqlx::query_as(
        "WITH fair AS (SELECT id FROM fairs WHERE id = $1 AND allocated_at IS NULL FOR UPDATE)
         SELECT (SELECT count(*) FROM booth_inventory i JOIN fair ON i.fair_id = fair.id),
                (SELECT COALESCE(sum(capacity), 0) FROM booth_inventory i JOIN fair ON i.fair_id = fair.id),
                (SELECT count(*) FROM registrations r JOIN fair ON r.fair_id = fair.id
                 WHERE r.status = 'applied' AND (r.booths_requested <> 1 OR r.small_firm OR r.invited_a))",
    )
    .bind(fair_id)
    .fetch_one(&mut *tx)
    .await?;
    anyhow::ensure!(
        types == 1 && others == 0,
        "the limit allocates one booth type of one-booth applications without reserve access"
    );
    let allotted: Vec<(Uuid, String)> = sqlx::query_as(
        "WITH applicants AS (
            SELECT r.id, r.uscc, r.applied_at, c.enterprise_class AS class,
                   COALESCE(x.sales, 0) AS sales,
                   e.uscc IS NOT NULL AND NOT e.tax_credit_violation AND x.sales IS NOT NULL
                     AND x.sales >= CASE WHEN e.segment IS NULL OR e.segment = 'TRADE'
                                         THEN $3 ELSE $4 END AS eligible
            FROM registrations r
            LEFT JOIN enterprises e ON e.uscc = r.uscc
            LEFT JOIN enterprise_classes c ON c.uscc = r.uscc
            LEFT JOIN LATERAL (
                SELECT COALESCE(max(export_sales_fen) FILTER (WHERE length(period) = 4),
                                sum(export_sales_fen)) AS sales
                FROM census_exports WHERE uscc = r.uscc
                GROUP BY left(period, 4) ORDER BY left(period, 4) DESC LIMIT 1
            ) x ON true
            WHERE r.fair_id = $1 AND r.status = 'applied'
         ), ranked AS (
            SELECT a.*, row_number() OVER (
                       PARTITION BY a.eligible
                       ORDER BY CASE a.class WHEN 'A' THEN 0 WHEN 'B' THEN 1 WHEN 'C' THEN 2 ELSE 3 END,
                                a.sales DESC, a.applied_at, a.id::text) AS rank,
                   count(*) FILTER (WHERE a.eligible) OVER () AS of_eligible
            FROM applicants a
         ), allotted AS (
            UPDATE registrations r
            SET status = CASE WHEN NOT k.eligible THEN 'cancelled'
                              WHEN k.rank <= $2 THEN 'confirmed' ELSE 'waitlisted' END,
                from_general = CASE WHEN k.eligible AND k.rank <= $2 THEN 1 ELSE 0 END,
                confirmed_at = CASE WHEN k.eligible AND k.rank <= $2 THEN $5 ELSE r.confirmed_at END,
                cancelled_at = CASE WHEN k.eligible THEN r.cancelled_at ELSE $5 END,
                cancellation_reason = CASE WHEN k.eligible THEN r.cancellation_reason
                                           ELSE 'not eligible' END,
                offer_expires_at = NULL,
                explanation = CASE WHEN NOT k.eligible THEN 'Not eligible; no booths.'
                    ELSE format('Ranked %s of %s eligible firms (%s, export sales %s yuan, applied %s). %s',
                        k.rank, k.of_eligible, COALESCE('class ' || k.class, 'no class'),
                        k.sales / 100, to_char(k.applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS \"UTC\"'),
                        CASE WHEN k.rank <= $2
                             THEN 'Granted 1 of 1 (1 from the general pool).'
                             ELSE 'Granted 0 of 1. The booths ran out in round 1: each round gives every firm one more booth, in rank order. On the waitlist for a booth that frees up.'
                        END) END
            FROM ranked k
            WHERE r.id = k.id
            RETURNING r.id, r.uscc, r.status, k.rank, k.eligible
         ), taken AS (
            UPDATE booth_inventory SET taken = taken + (SELECT count(*) FROM allotted WHERE status = 'confirmed')
            WHERE fair_id = $1
         ), announced AS (
            INSERT INTO outbox (event_id, topic, message_key, ce_type, ce_source, ce_subject, ce_time,
                                payload, trace_headers)
            SELECT gen_random_uuid(), $6, $1::text,
                   CASE a.status WHEN 'confirmed' THEN 'haicheng.fair.v1.RegistrationConfirmed'
                                 WHEN 'waitlisted' THEN 'haicheng.fair.v1.RegistrationWaitlisted'
                                 ELSE 'haicheng.fair.v1.RegistrationCancelled' END,
                   'trade-fair', a.uscc, now(), $7, '{}'
            FROM allotted a ORDER BY a.eligible DESC, a.rank
         ), fair AS (
            UPDATE fairs SET allocated_at = $5, version = version + 1 WHERE id = $1
            RETURNING pg_notify('haicheng_outbox', '')
         )
         SELECT a.id, a.status FROM allotted a",
    )
    .bind(fair_id)
    .bind(capacity)
    .bind(TRADE_FEN)
    .bind(PRODUCER_FEN)
    .bind(chrono::Utc::now())
    .bind(topics::FAIR_EVENTS)
    .bind(vec![0u8; payload_bytes])
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(allotted)
}
