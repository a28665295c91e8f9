//! Migration 0009 stores the class in the vocabulary's spelling (`A`, `B`, `C`; NULL for
//! none) instead of the protobuf number: a database at the migration before it, with rows in
//! every table that holds a class, upgrades without losing a row or changing a class.

use std::collections::BTreeMap;

use classification::domain::Class;
use sqlx::{PgPool, migrate::Migrator};
use testkit::TestDatabase;

/// The migration that stores the spelling.
const SPELLING: i64 = 9;

/// The rows of the old schema: classes as numbers (0 none, 1 A, 2 B, 3 C).
const OLD_ROWS: &str = "
    INSERT INTO classifications (period, uscc, period_key, name, park, segment, grading,
        computed_class, class, score, rank, cohort_size, model_version, reduced_model, vetoed,
        override_class, override_reason, override_by, override_at, classified_at)
    VALUES
        ('2024', 'F1', 20240, 'one', 1, 1, 1, 1, 1, 0.9, 1, 4, 1, false, false, NULL, NULL, NULL, NULL, now()),
        ('2024', 'F2', 20240, 'two', 1, 1, 1, 2, 2, 0.5, 2, 4, 1, false, false, NULL, NULL, NULL, NULL, now()),
        ('2024', 'F3', 20240, 'three', 1, 1, 1, 3, 1, 0.1, 3, 4, 1, false, false, 1, 'upheld', 'department:commerce', now(), now()),
        ('2024', 'F4', 20240, 'four', 1, 1, 2, 0, 0, 0.0, 0, 4, 1, false, false, NULL, NULL, NULL, NULL, now());
    INSERT INTO notified_classes (period, uscc, class, model_version, sequence, notified_at)
    VALUES ('2024', 'F1', 1, 1, 1, now()), ('2024', 'F2', 0, 1, 2, now()), ('2024', 'F3', 3, 1, 1, now());
    INSERT INTO override_audit (period, uscc, action, override_class, class_before, reason, principal)
    VALUES ('2024', 'F3', 'set', 1, 3, 'upheld', 'department:commerce'),
           ('2024', 'F4', 'lift', NULL, 0, 'lifted', 'department:commerce');
    INSERT INTO publications (period, published_at, published_by, model_version)
    VALUES ('2024', now(), 'department:commerce', 1);
    INSERT INTO objections (period, uscc, reason, requested_class, class_at_filing, state,
        filed_by, filed_at, deadline, decided_class, decision_reason, decided_by, decided_at)
    VALUES ('2024', 'F3', 'exports', 1, 3, 'upheld', 'F3', now(), now(), 1, 'yes', 'department:commerce', now()),
           ('2024', 'F4', 'why', NULL, 0, 'filed', 'F4', now(), now(), NULL, NULL, NULL, NULL);
";

async fn classes(pool: &PgPool, sql: &str) -> BTreeMap<String, Vec<Option<Class>>> {
    let rows: Vec<(String, Vec<Option<String>>)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .fetch_all(pool)
        .await
        .unwrap();
    rows.into_iter()
        .map(|(key, spellings)| {
            let classes = spellings
                .into_iter()
                .map(|s| s.map(|s| Class::parse(&s).expect("a stored spelling")))
                .collect();
            (key, classes)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_database_with_numbered_classes_upgrades_without_losing_a_row() {
    let database = TestDatabase::create().await;
    let pool = database.pool().await;
    // The database as it was: every migration but 0009 (and those after it, up to the notice
    // store's), the notice store's (0100, 0101) included, so 0009 is applied after
    // later-numbered ones, as on a deployed database.
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

    let (a, b, c) = (Some(Class::A), Some(Class::B), Some(Class::C));
    let classified = classes(
        &pool,
        "SELECT uscc, ARRAY[computed_class, class, override_class] FROM classifications",
    )
    .await;
    assert_eq!(
        classified,
        BTreeMap::from([
            ("F1".into(), vec![a, a, None]),
            ("F2".into(), vec![b, b, None]),
            ("F3".into(), vec![c, a, a]),
            ("F4".into(), vec![None, None, None]),
        ])
    );
    let notified = classes(&pool, "SELECT uscc, ARRAY[class] FROM notified_classes").await;
    assert_eq!(
        notified,
        BTreeMap::from([
            ("F1".into(), vec![a]),
            ("F2".into(), vec![None]),
            ("F3".into(), vec![c]),
        ])
    );
    let audited = classes(
        &pool,
        "SELECT uscc, ARRAY[override_class, class_before] FROM override_audit",
    )
    .await;
    assert_eq!(
        audited,
        BTreeMap::from([("F3".into(), vec![a, c]), ("F4".into(), vec![None, None])])
    );
    let objections = classes(
        &pool,
        "SELECT uscc, ARRAY[requested_class, class_at_filing, decided_class] FROM objections",
    )
    .await;
    assert_eq!(
        objections,
        BTreeMap::from([
            ("F3".into(), vec![a, c, a]),
            ("F4".into(), vec![None, None, None]),
        ])
    );
    // The views that read the columns are back.
    let views: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.views
         WHERE table_name IN ('current_class_rows', 'published_class_rows')",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(views, 2);
}
