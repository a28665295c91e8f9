//! The audit log's database side: the runtime role may insert and read audit rows but never
//! change or delete them, pruning through `audit_prune` keeps six months whatever it is
//! asked, and a service on a database nobody migrated refuses to start, naming `migrate`.

use std::time::Duration;

use platform::{
    Platform, PlatformConfig, ServiceSpec,
    audit::writer::prune,
    config::{lookup_in, vars},
    db,
};
use secrecy::SecretString;
use sqlx::{Connection, PgConnection};
use testkit::{TestDatabase, stack};
use tokio_util::sync::CancellationToken;

static SPEC: ServiceSpec = ServiceSpec {
    name: "platform-tests",
    grpc_services: &[],
    descriptor_set: haicheng_proto::FILE_DESCRIPTOR_SET,
    migrations: &crate::TEST_MIGRATIONS,
    consumes: &[],
    produces: &[],
    vars: &[],
};

/// A fresh database migrated by its owner, with the runtime role granted.
async fn migrated() -> TestDatabase {
    platform::telemetry::init_for_tests();
    let db = TestDatabase::create().await;
    db::migrate_as_owner(
        &SecretString::from(db.url.clone()),
        &SecretString::from(db.runtime_url.clone()),
        &crate::TEST_MIGRATIONS,
        Duration::from_secs(10),
    )
    .await
    .expect("migrations as the owner");
    db
}

/// The SQLSTATE of a statement's failure.
async fn refusal(conn: &mut PgConnection, statement: &'static str) -> String {
    let err = sqlx::query(statement)
        .execute(&mut *conn)
        .await
        .expect_err(statement);
    err.as_database_error()
        .and_then(|e| e.code())
        .map(|c| c.to_string())
        .unwrap_or_else(|| panic!("{statement}: not a database error: {err}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_runtime_role_inserts_and_reads_audit_rows_but_cannot_change_or_delete_them() {
    let db = migrated().await;
    let mut runtime = PgConnection::connect(&db.runtime_url).await.unwrap();
    sqlx::query(
        "INSERT INTO audit_log (service, method, principal, code) VALUES ('t', '/m', 'anonymous', 'OK')",
    )
    .execute(&mut runtime)
    .await
    .expect("the runtime role inserts");
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_log")
        .fetch_one(&mut runtime)
        .await
        .expect("the runtime role reads");
    assert_eq!(count, 1);
    for statement in [
        "DELETE FROM audit_log",
        "UPDATE audit_log SET principal = 'someone else'",
        "TRUNCATE audit_log",
        "DELETE FROM _platform_migrations",
        "DROP TABLE audit_log",
    ] {
        let code = refusal(&mut runtime, statement).await;
        // 42501 insufficient_privilege; DROP by a non-owner is 42501 too.
        assert_eq!(code, "42501", "{statement}");
    }
    // The other tables stay the service's to change.
    sqlx::query("DELETE FROM outbox")
        .execute(&mut runtime)
        .await
        .expect("the runtime role deletes outbox rows");
    let kept: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_log")
        .fetch_one(&mut runtime)
        .await
        .unwrap();
    assert_eq!(kept, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn pruning_deletes_only_records_older_than_the_retention_and_never_younger_than_six_months() {
    let db = migrated().await;
    let owner = db.pool().await;
    for days in [400, 200, 190, 150, 100, 1] {
        sqlx::query(
            "INSERT INTO audit_log (at, service, method, principal, code)
             VALUES (now() - $1 * interval '1 day', 't', '/m', 'anonymous', 'OK')",
        )
        .bind(days)
        .execute(&owner)
        .await
        .unwrap();
    }
    let runtime = sqlx::PgPool::connect(&db.runtime_url).await.unwrap();
    let ages = || async {
        sqlx::query_scalar::<_, i32>(
            "SELECT round(extract(epoch FROM now() - at) / 86400)::int FROM audit_log ORDER BY at",
        )
        .fetch_all(&owner)
        .await
        .unwrap()
    };
    // As the runtime role, through the owner's function: 195 days kept.
    let deleted = prune(&runtime, Duration::from_secs(195 * 86_400))
        .await
        .unwrap();
    assert_eq!(deleted, 2);
    assert_eq!(ages().await, [190, 150, 100, 1]);
    // Asked to keep a day, it keeps six months all the same.
    let deleted: i64 = sqlx::query_scalar("SELECT audit_prune(interval '1 day', 1000)")
        .fetch_one(&runtime)
        .await
        .unwrap();
    assert_eq!(deleted, 1);
    assert_eq!(ages().await, [150, 100, 1]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_service_on_an_unmigrated_database_refuses_to_start_naming_migrate() {
    platform::telemetry::init_for_tests();
    let db = TestDatabase::create().await;
    let config = PlatformConfig::from_lookup(
        "platform-tests",
        0,
        lookup_in(&[
            (vars::DATABASE_URL, &db.runtime_url),
            (vars::KAFKA_BOOTSTRAP, &stack().kafka_bootstrap),
        ]),
    )
    .unwrap();
    let err = match Platform::start(&SPEC, config, CancellationToken::new()).await {
        Ok(_) => panic!("started on an unmigrated database"),
        Err(err) => format!("{err:#}"),
    };
    assert!(err.contains("platform-tests migrate"), "{err}");
    assert!(err.contains("DATABASE_OWNER_URL"), "{err}");

    // Once the owner has migrated it, the same configuration starts.
    db::migrate_as_owner(
        &SecretString::from(db.url.clone()),
        &SecretString::from(db.runtime_url.clone()),
        &crate::TEST_MIGRATIONS,
        Duration::from_secs(10),
    )
    .await
    .unwrap();
    let config = PlatformConfig::from_lookup(
        "platform-tests",
        0,
        lookup_in(&[
            (vars::DATABASE_URL, &db.runtime_url),
            (vars::KAFKA_BOOTSTRAP, &stack().kafka_bootstrap),
        ]),
    )
    .unwrap();
    let platform = Platform::start(&SPEC, config, CancellationToken::new())
        .await
        .expect("starts once migrated");
    drop(platform);
}
