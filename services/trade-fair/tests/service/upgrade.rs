//! A database that holds rows at the previous migration upgrades without losing one: the
//! read model's segment moves from the protobuf number to the platform's one spelling.

use sqlx::PgPool;
use testkit::TestDatabase;
use trade_fair::domain::Segment;

/// Rows per table, in a fixed order.
async fn counts(pool: &PgPool) -> Vec<(String, i64)> {
    let mut counts = Vec::new();
    for table in [
        "fairs",
        "booth_inventory",
        "invitations",
        "registrations",
        "outcomes",
        "subsidy_budgets",
        "subsidies",
        "enterprises",
        "census_exports",
        "enterprise_classes",
    ] {
        let n: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
                .fetch_one(pool)
                .await
                .unwrap();
        counts.push((table.to_string(), n));
    }
    counts
}

/// One row in every table, as the first migration's schema has them; five firms, one per
/// segment number (0 is none).
const ROWS_AT_VERSION_1: &str = "
INSERT INTO fairs (id, name, kind, city, venue, market, starts_at, ends_at, opens_at, closes_at, mode,
                   small_firm_reserve_percent, a_class_reserve_percent, per_firm_cap)
VALUES ('00000000-0000-0000-0000-000000000001', 'Canton', 'canton_fair', 'Guangzhou', 'Pazhou',
        'traditional_export', '2026-04-15', '2026-04-19', '2026-01-01', '2026-02-01', 'scored', 20, 10, 10);
INSERT INTO booth_inventory (fair_id, booth_type, capacity, fee_fen, taken)
VALUES ('00000000-0000-0000-0000-000000000001', 'standard', 10, 2000000, 1);
INSERT INTO invitations (fair_id, uscc, enterprise_class, reason, status, issued_at)
VALUES ('00000000-0000-0000-0000-000000000001', 'U1', 'A', 'entered class A', 'applied', '2026-01-02');
INSERT INTO registrations (id, fair_id, uscc, booth_type, booths_requested, status, from_general,
                           enterprise_class, small_firm, invited_a, applied_at, confirmed_at)
VALUES ('00000000-0000-0000-0000-000000000002', '00000000-0000-0000-0000-000000000001', 'U1',
        'standard', 1, 'confirmed', 1, 'A', false, true, '2026-01-03', '2026-02-01');
INSERT INTO outcomes (registration_id, fair_id, uscc, leads, intended_orders_fen, signed_export_orders_fen, recorded_at)
VALUES ('00000000-0000-0000-0000-000000000002', '00000000-0000-0000-0000-000000000001', 'U1', 3, 100, 50, '2026-04-20');
INSERT INTO subsidy_budgets (year, budget_fen, granted_fen) VALUES (2026, 500000000, 1000000);
INSERT INTO subsidies (registration_id, fair_id, uscc, year, amount_fen, percent, limited_by, granted_at)
VALUES ('00000000-0000-0000-0000-000000000002', '00000000-0000-0000-0000-000000000001', 'U1', 2026,
        1000000, 50, '{}', '2026-04-21');
INSERT INTO enterprises (uscc, name, small_firm, tax_credit_violation, segment, record_version)
VALUES ('U0', 'none', false, false, 0, 1), ('U1', 'textile', false, false, 1, 1),
       ('U2', 'apparel', true, false, 2, 1), ('U3', 'luggage', false, true, 3, 1),
       ('U4', 'trade', false, false, 4, 0);
INSERT INTO census_exports (uscc, period, revision, export_sales_fen) VALUES ('U1', '2025', 1, 2000000000);
INSERT INTO enterprise_classes (uscc, enterprise_class, period, period_key, classified_at)
VALUES ('U1', 'A', '2025', 20254, '2026-01-01'), ('U2', NULL, '2025', 20254, '2026-01-01');
";

#[tokio::test(flavor = "multi_thread")]
async fn a_database_with_rows_at_the_previous_migration_upgrades_without_losing_a_row() {
    let database = TestDatabase::create().await;
    let pool = database.pool().await;
    let migrations = trade_fair::SPEC.migrations;
    migrations
        .run_to(1, &pool)
        .await
        .expect("the first migration");
    sqlx::raw_sql(sqlx::AssertSqlSafe(ROWS_AT_VERSION_1))
        .execute(&pool)
        .await
        .expect("rows as the first migration stores them");
    let before = counts(&pool).await;
    assert!(before.iter().all(|(_, n)| *n > 0), "{before:?}");

    migrations.run(&pool).await.expect("the later migrations");

    assert_eq!(counts(&pool).await, before, "no row lost, none added");
    let segments: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT uscc, segment FROM enterprises ORDER BY uscc")
            .fetch_all(&pool)
            .await
            .unwrap();
    let spelt = |s: Segment| Some(s.as_str().to_string());
    assert_eq!(
        segments,
        vec![
            ("U0".to_string(), None),
            ("U1".to_string(), spelt(Segment::Textile)),
            ("U2".to_string(), spelt(Segment::Apparel)),
            ("U3".to_string(), spelt(Segment::LuggageLeather)),
            ("U4".to_string(), spelt(Segment::Trade)),
        ]
    );
    let classes: Vec<Option<String>> =
        sqlx::query_scalar("SELECT enterprise_class FROM enterprise_classes ORDER BY uscc")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        classes,
        vec![Some("A".to_string()), None],
        "classes keep their spelling"
    );
    pool.close().await;
}
