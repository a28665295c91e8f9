//! A database at the migration before the shared vocabulary (parks and segments stored in
//! lower case) upgrades to the one spelling without losing a row, and the service reads it.

use std::{borrow::Cow, sync::Arc};

use land_parcel::{config::LandRules, store::Store};
use platform::{Class, Outbox, Park, Segment};
use sqlx::{PgPool, migrate::Migrator};
use testkit::TestDatabase;

/// The last migration before the shared vocabulary.
const BEFORE_VOCABULARY: i64 = 5;

const TABLES: [&str; 4] = ["enterprises", "parcels", "applications", "classes"];

async fn counts(pool: &PgPool) -> Vec<i64> {
    let mut counts = Vec::new();
    for table in TABLES {
        let sql = format!("SELECT count(*) FROM {table}");
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_one(pool)
            .await
            .expect("counting rows");
        counts.push(n);
    }
    counts
}

/// Rows as the service wrote them before: every park and segment in lower case.
async fn old_rows(pool: &PgPool) {
    let parks = ["xiliu", "nantai", "ganwang", "zhongxiao"];
    let segments = ["textile", "apparel", "luggage_leather", "trade"];
    for (i, (park, segment)) in parks.iter().zip(segments).enumerate() {
        let uscc = format!("OLD{i}");
        sqlx::query(
            "INSERT INTO enterprises (uscc, name, active, segment, park, version)
             VALUES ($1, 'Firm', true, $2, $3, 1)",
        )
        .bind(&uscc)
        .bind(segment)
        .bind(park)
        .execute(pool)
        .await
        .expect("an old enterprise");
        sqlx::query(
            "INSERT INTO parcels (id, park, land_use, area_centi_mu, plot_ratio_min_milli,
                 plot_ratio_max_milli, status, location)
             VALUES ($1, $2, 'industrial', 1000, 800, 3000, 'available', 'old')",
        )
        .bind(format!("OLD-{i}"))
        .bind(park)
        .execute(pool)
        .await
        .expect("an old parcel");
        sqlx::query(
            "INSERT INTO applications (id, uscc, park, land_use, area_centi_mu, supply_mode,
                 purpose, status)
             VALUES ($1, $2, $3, 'industrial', 500, 'standard_transfer', '', 'queued')",
        )
        .bind(uuid::Uuid::now_v7())
        .bind(&uscc)
        .bind(park)
        .execute(pool)
        .await
        .expect("an old application");
        sqlx::query(
            "INSERT INTO classes (uscc, class, score, classified_at, period)
             VALUES ($1, 'A', 90, now(), '2025')",
        )
        .bind(&uscc)
        .execute(pool)
        .await
        .expect("an old class");
    }
    // An enterprise outside the cluster: no segment, no park.
    sqlx::query(
        "INSERT INTO enterprises (uscc, name, active, segment, park, version)
         VALUES ('OUTSIDE', 'Other', true, NULL, NULL, 1)",
    )
    .execute(pool)
    .await
    .expect("an enterprise without segment and park");
}

#[tokio::test]
async fn a_database_with_lower_case_parks_and_segments_upgrades_without_losing_a_row() {
    let database = TestDatabase::create().await;
    let pool = database.pool().await;
    let all = land_parcel::SPEC.migrations;
    let before = Migrator {
        migrations: Cow::Owned(
            all.migrations
                .iter()
                .filter(|m| m.version <= BEFORE_VOCABULARY)
                .cloned()
                .collect(),
        ),
        ..Migrator::DEFAULT
    };
    before.run(&pool).await.expect("migrations up to 0005");
    old_rows(&pool).await;
    let rows_before = counts(&pool).await;
    assert_eq!(rows_before, [5, 4, 4, 4]);

    platform::db::migrate(&pool, all)
        .await
        .expect("the full migrations");
    assert_eq!(counts(&pool).await, rows_before, "no row is lost");

    let stored: Vec<(Option<Segment>, Option<Park>)> =
        sqlx::query_as("SELECT segment, park FROM enterprises ORDER BY uscc")
            .fetch_all(&pool)
            .await
            .expect("every enterprise decodes in the one spelling");
    assert_eq!(
        stored,
        [
            (Some(Segment::Textile), Some(Park::Xiliu)),
            (Some(Segment::Apparel), Some(Park::Nantai)),
            (Some(Segment::LuggageLeather), Some(Park::Ganwang)),
            (Some(Segment::Trade), Some(Park::Zhongxiao)),
            (None, None),
        ]
    );
    let store = Store::new(
        pool.clone(),
        Outbox::new(land_parcel::SPEC.name),
        Arc::new(LandRules::default()),
    );
    for (i, park) in Park::ALL.into_iter().enumerate() {
        let parcel = store
            .parcel(&format!("OLD-{i}"))
            .await
            .expect("an upgraded parcel");
        assert_eq!(parcel.park, park);
        let queue = store
            .applications(park, true)
            .await
            .expect("an upgraded queue");
        assert_eq!(queue.len(), 1);
        assert_eq!(queue[0].class, Some(Class::A));
        assert_eq!(queue[0].uscc, format!("OLD{i}"));
    }
}
