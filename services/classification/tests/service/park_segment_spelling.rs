//! Migration 0010 stores the park and the segment in the vocabulary's spelling (`GANWANG`,
//! `TEXTILE`; NULL for none) instead of the protobuf number: a database at the migration
//! before it, with rows in every table that holds either, upgrades without losing a row or
//! changing a park or a segment, and its views read them again.

use std::collections::BTreeMap;

use classification::domain::Segment;
use platform::Park;
use sqlx::{PgPool, migrate::Migrator};
use testkit::TestDatabase;

/// The migration that stores the spelling.
const SPELLING: i64 = 10;

/// The rows of the old schema: parks and segments as numbers (0 none; park 1 Xiliu, 3
/// Ganwang; segment 1 Textile, 2 Apparel, 3 Luggage and leather, 4 Trade).
const OLD_ROWS: &str = "
    INSERT INTO enterprises (uscc, name, park, segment, industry_class, active, record_version)
    VALUES ('F1', 'one', 3, 1, '1711', true, 1), ('F2', 'two', 1, 2, '1811', true, 1),
           ('F3', 'three', 0, 3, '1921', true, 1), ('F4', 'four', 4, 4, '5131', true, 1);
    INSERT INTO census_returns (period, uscc, revision, employees_total, rd_spend_fen,
        revenue_fen, industrial_output_fen, tax_paid_fen, export_sales_fen,
        automation_share_percent, patents, land_used_centi_mu)
    SELECT '2024', u, 1, 10, 0, 100, 100, 10, 0, 0.0, 0, 100
    FROM unnest(ARRAY['F1', 'F2', 'F3', 'F4']) AS u;
    INSERT INTO classifications (period, uscc, period_key, name, park, segment, grading,
        computed_class, class, score, rank, cohort_size, model_version, reduced_model, vetoed,
        classified_at)
    VALUES
        ('2024', 'F1', 20240, 'one', 3, 1, 1, 'A', 'A', 0.9, 1, 1, 1, false, false, now()),
        ('2024', 'F2', 20240, 'two', 1, 2, 1, 'B', 'B', 0.5, 1, 1, 1, false, false, now()),
        ('2024', 'F3', 20240, 'three', 0, 3, 1, 'C', 'C', 0.1, 1, 1, 1, false, false, now()),
        ('2024', 'F4', 20240, 'four', 4, 4, 2, NULL, NULL, 0.0, 0, 1, 1, false, false, now());
    INSERT INTO cohorts (period, segment, model_version, cohort_size, benchmarks, ranked_at)
    VALUES ('2024', 1, 1, 1, ARRAY[1.0], now()), ('2024', 2, 1, 1, ARRAY[2.0], now()),
           ('2024', 3, 1, 1, ARRAY[3.0], now());
    INSERT INTO publications (period, published_at, published_by, model_version)
    VALUES ('2024', now(), 'department:commerce', 1);
    INSERT INTO published_classifications (period, uscc, period_key, name, park, segment,
        grading, computed_class, class, score, rank, cohort_size, model_version, reduced_model,
        vetoed, classified_at, employees_total, rd_spend_fen, revenue_fen,
        industrial_output_fen, tax_paid_fen, export_sales_fen, automation_share_percent,
        patents, land_used_centi_mu)
    SELECT period, uscc, period_key, name, park, segment, grading, computed_class, class,
           score, rank, cohort_size, model_version, reduced_model, vetoed, classified_at,
           10, 0, 100, 100, 10, 0, 0.0, 0, 100
    FROM classifications;
    INSERT INTO published_cohorts (period, segment, model_version, cohort_size, benchmarks, ranked_at)
    SELECT period, segment, model_version, cohort_size, benchmarks, ranked_at FROM cohorts;
";

type Words = BTreeMap<String, (Option<Park>, Option<Segment>)>;

/// USCC (or the cohort's period and segment) → park and segment, decoded as the store does.
async fn words(pool: &PgPool, sql: &str) -> Words {
    let rows: Vec<(String, Option<Park>, Option<Segment>)> =
        sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .fetch_all(pool)
            .await
            .unwrap();
    rows.into_iter()
        .map(|(key, park, segment)| (key, (park, segment)))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_database_with_numbered_parks_and_segments_upgrades_without_losing_a_row() {
    let database = TestDatabase::create().await;
    let pool = database.pool().await;
    // The database as it was: every migration before 0010, the notice store's included, so
    // 0010 is applied after later-numbered ones, as on a deployed database (the service's
    // own later ones, 0011 on, did not exist yet: they come after it, as in class_spelling).
    let all = sqlx::migrate!("./migrations");
    let before = Migrator::with_migrations(
        all.iter()
            .filter(|m| !(SPELLING..100).contains(&m.version))
            .cloned()
            .collect(),
    );
    before.run(&pool).await.unwrap();
    sqlx::raw_sql(OLD_ROWS).execute(&pool).await.unwrap();

    all.run(&pool).await.unwrap();

    let firms = BTreeMap::from([
        ("F1".into(), (Some(Park::Ganwang), Some(Segment::Textile))),
        ("F2".into(), (Some(Park::Xiliu), Some(Segment::Apparel))),
        ("F3".into(), (None, Some(Segment::LuggageLeather))),
        ("F4".into(), (Some(Park::Zhongxiao), Some(Segment::Trade))),
    ]);
    for table in [
        "enterprises",
        "classifications",
        "published_classifications",
        "current_class_rows",
        "published_class_rows",
    ] {
        let read = words(&pool, &format!("SELECT uscc, park, segment FROM {table}")).await;
        assert_eq!(read, firms, "{table}");
    }
    let cohorts = BTreeMap::from([
        ("2024".into(), (None, Some(Segment::Textile))),
        ("2024 2".into(), (None, Some(Segment::Apparel))),
        ("2024 3".into(), (None, Some(Segment::LuggageLeather))),
    ]);
    for table in ["cohorts", "published_cohorts"] {
        let read = words(
            &pool,
            &format!(
                "SELECT period || CASE segment_number(segment) WHEN 1 THEN '' ELSE ' ' || segment_number(segment) END,
                        NULL::text, segment FROM {table}"
            ),
        )
        .await;
        assert_eq!(read, cohorts, "{table}");
    }
    // The views join the cohorts by the converted segment: every firm of a cohort has its
    // benchmarks again.
    let benchmarked: Vec<String> = sqlx::query_scalar(
        "SELECT uscc FROM current_class_rows WHERE benchmarks IS NOT NULL ORDER BY uscc",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(benchmarked, ["F1", "F2", "F3"]);
    // Only the vocabulary's spellings are stored.
    let refused = sqlx::query("UPDATE enterprises SET park = 'xiliu' WHERE uscc = 'F1'")
        .execute(&pool)
        .await;
    assert!(refused.is_err(), "a park outside the vocabulary is refused");
}
