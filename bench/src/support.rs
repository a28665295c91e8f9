//! The eligibility row (免申即享): the support service deciding which of 100,000 firms meet
//! each of 20 policies (the store's read of every firm's facts, then the domain's clauses per
//! firm and policy, as a round does), beside the same decision as one SQL query per policy
//! over the same tables. The two must agree on every policy's count, or the row fails.

use std::time::Instant;

use platform::{Class, Outbox, Park, Segment, period::Period};
use sqlx::{PgPool, Postgres, QueryBuilder};
use support::{
    domain::{
        eligibility::{ClassView, Clause, check_all},
        facts::Indicator,
    },
    store::Store,
};

use crate::table::{Row, Side, Target};

const PERIOD: &str = "2025";

/// Puts `firms` firms into the support read model: a spread of classes, parks, segments,
/// figures, registration dates and vetoes.
async fn seed(pool: &PgPool, firms: usize) -> anyhow::Result<()> {
    let usccs = crate::fixtures::usccs(firms);
    let n = |i: usize| i64::try_from(i).unwrap_or(i64::MAX);
    let classes: Vec<Option<&str>> = (0..firms)
        .map(|i| [Some("A"), Some("B"), Some("B"), Some("C"), Some("C"), None][i % 6])
        .collect();
    let parks: Vec<&str> = (0..firms).map(|i| Park::ALL[i % 4].as_str()).collect();
    let segments: Vec<&str> = (0..firms)
        .map(|i| Segment::ALL[(i / 4) % 4].as_str())
        .collect();
    let years: Vec<i32> = (0..firms)
        .map(|i| 2005 + i32::try_from(i % 20).unwrap_or(0))
        .collect();
    let vetoes: Vec<bool> = (0..firms).map(|i| i % 17 == 0).collect();
    let rd: Vec<i64> = (0..firms).map(|i| n(i % 1000) * 1_000).collect();
    let revenue: Vec<i64> = (0..firms)
        .map(|i| 1_000_000 + n(i % 997) * 10_000)
        .collect();
    let tax: Vec<i64> = (0..firms).map(|i| n(i % 991) * 5_000).collect();
    let land: Vec<i64> = (0..firms).map(|i| 100 + n(i % 89) * 10).collect();
    let scores: Vec<f64> = (0..firms).map(|i| (i % 1000) as f64 / 10.0).collect();
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO firms (uscc, name, park, segment, registered_on, veto, deregistered, version)
         SELECT u, 'Firm ' || u, p, s, make_date(y, 3, 1), v, false, 1
         FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::bool[]) AS t(u, p, s, y, v)",
    )
    .bind(&usccs)
    .bind(&parks)
    .bind(&segments)
    .bind(&years)
    .bind(&vetoes)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO returns (uscc, period, revision, employees_total, rd_spend_fen, revenue_fen,
             industrial_output_fen, tax_paid_fen, export_sales_fen, equipment_value_fen,
             invention_patents, land_used_centi_mu)
         SELECT u, $2, 1, 50, rd, rev, rev, tax, 0, 0, 0, land
         FROM unnest($1::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[])
              AS t(u, rd, rev, tax, land)",
    )
    .bind(&usccs)
    .bind(PERIOD)
    .bind(&rd)
    .bind(&revenue)
    .bind(&tax)
    .bind(&land)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO classes (uscc, period, class, score, classified_at)
         SELECT u, $2, c, s, now() FROM unnest($1::text[], $3::text[], $4::float8[]) AS t(u, c, s)",
    )
    .bind(&usccs)
    .bind(PERIOD)
    .bind(&classes)
    .bind(&scores)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Twenty policies' conditions: classes, parks, segments, thresholds on derived indicators,
/// vetoes and years registered, in combinations.
fn policies() -> Vec<Vec<Clause>> {
    let period = Period::parse(PERIOD).expect("a period");
    let classes = [
        vec![Class::A],
        vec![Class::A, Class::B],
        vec![Class::B, Class::C],
    ];
    (0..20)
        .map(|i| {
            let mut clauses = vec![Clause::Class {
                classes: classes[i % 3].clone(),
                view: ClassView::InForce,
            }];
            if i % 2 == 0 {
                clauses.push(Clause::Indicator {
                    indicator: Indicator::RdShareBp,
                    at_least: 100 + 50 * i64::try_from(i).unwrap_or(0),
                });
            }
            if i % 3 == 0 {
                clauses.push(Clause::Indicator {
                    indicator: Indicator::TaxPerMuFen,
                    at_least: 200_000 * i64::try_from(i % 5).unwrap_or(0),
                });
            }
            if i % 4 == 0 {
                clauses.push(Clause::Park(vec![Park::ALL[i % 4], Park::ALL[(i + 1) % 4]]));
            }
            if i % 5 == 0 {
                clauses.push(Clause::Segment(vec![Segment::ALL[i % 4]]));
            }
            clauses.push(Clause::NoVeto);
            clauses.push(Clause::YearsRegistered {
                years: 3 + i32::try_from(i % 7).unwrap_or(0),
                on: period.end(),
            });
            clauses
        })
        .collect()
}

/// One policy's eligible count as a single SQL query.
fn query(clauses: &[Clause]) -> QueryBuilder<Postgres> {
    let mut q = QueryBuilder::new(
        "SELECT count(*) FROM firms f
         JOIN returns r ON r.uscc = f.uscc AND r.period = ",
    );
    q.push_bind(PERIOD);
    q.push(" LEFT JOIN classes c ON c.uscc = f.uscc AND c.period = ");
    q.push_bind(PERIOD);
    q.push(" WHERE NOT f.deregistered");
    for clause in clauses {
        match clause {
            Clause::Class { classes, .. } => {
                let names: Vec<String> = classes.iter().map(|c| c.as_str().to_string()).collect();
                q.push(" AND c.class = ANY(").push_bind(names).push(")");
            }
            Clause::Park(parks) => {
                let names: Vec<String> = parks.iter().map(|p| p.as_str().to_string()).collect();
                q.push(" AND f.park = ANY(").push_bind(names).push(")");
            }
            Clause::Segment(segments) => {
                let names: Vec<String> = segments.iter().map(|s| s.as_str().to_string()).collect();
                q.push(" AND f.segment = ANY(").push_bind(names).push(")");
            }
            Clause::Indicator {
                indicator: Indicator::RdShareBp,
                at_least,
            } => {
                q.push(" AND r.revenue_fen > 0 AND r.rd_spend_fen * 10000 / r.revenue_fen >= ")
                    .push_bind(*at_least);
            }
            Clause::Indicator {
                indicator: Indicator::TaxPerMuFen,
                at_least,
            } => {
                q.push(" AND r.land_used_centi_mu > 0 AND r.tax_paid_fen * 100 / r.land_used_centi_mu >= ")
                    .push_bind(*at_least);
            }
            Clause::NoVeto => {
                q.push(" AND NOT f.veto");
            }
            Clause::YearsRegistered { years, on } => {
                q.push(" AND f.registered_on <= ")
                    .push_bind(*on)
                    .push(" - make_interval(years => ")
                    .push_bind(*years)
                    .push(")");
            }
            other => unreachable!("the bench's policies use no {other:?}"),
        }
    }
    q
}

/// The row: every policy's eligible firms, by the service's path and by SQL.
pub async fn run(firms: usize) -> anyhow::Result<Row> {
    let db = testkit::TestDatabase::create().await;
    let pool = db.pool().await;
    platform::db::migrate(&pool, &support::MIGRATIONS).await?;
    seed(&pool, firms).await?;
    let policies = policies();
    let store = Store::new(pool.clone(), Outbox::new("support"));
    let period = Period::parse(PERIOD).expect("a period");

    let started = Instant::now();
    let facts = store.facts_for_period(period).await?;
    let ours: Vec<i64> = policies
        .iter()
        .map(|clauses| {
            let eligible = facts.iter().filter(|f| check_all(clauses, f).0).count();
            i64::try_from(eligible).unwrap_or(i64::MAX)
        })
        .collect();
    let platform_time = started.elapsed();

    let started = Instant::now();
    let mut sql = Vec::with_capacity(policies.len());
    for clauses in &policies {
        let count: i64 = query(clauses).build_query_scalar().fetch_one(&pool).await?;
        sql.push(count);
    }
    let limit_time = started.elapsed();
    anyhow::ensure!(
        ours == sql,
        "the service and SQL disagree: {ours:?} against {sql:?}"
    );

    let units = u64::try_from(firms * policies.len()).unwrap_or(u64::MAX);
    Ok(Row {
        path: format!(
            "support eligibility: {firms} firms × {} policies (read model + domain clauses)",
            policies.len()
        ),
        unit: "firm-policies",
        platform: Side::once(units, platform_time),
        limit: Some(Side::once(units, limit_time)),
        target: Target::AtLeast(0.5),
        note: format!(
            "limit: one SQL count per policy; eligible per policy {}..{}",
            ours.iter().min().unwrap_or(&0),
            ours.iter().max().unwrap_or(&0)
        ),
        cpu: None,
    })
}
