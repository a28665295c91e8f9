//! The database: a `PgPool` from `DATABASE_URL`, migrations by the owner role, and the
//! runtime role's grants.
//!
//! The platform's own tables (outbox, inbox, audit log) are migrated by their own migrator
//! with its own history table, so a service's migrations and the platform's never collide.
//!
//! Two roles: the owner (`DATABASE_OWNER_URL`) owns the schema and runs the migrations (the
//! `migrate` command, the Kubernetes Job); the runtime role (`DATABASE_URL`) serves. After
//! the migrations, [`grant_runtime`] gives the runtime role the data rights it needs on every
//! table and sequence, but only INSERT and SELECT on tables whose comment begins with
//! `insert-only` (the audit tables), so a compromised service cannot erase its traces. A
//! serving process checks ([`check_migrated`]) that the owner has migrated the database to
//! its version, and refuses to start otherwise.

use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use sqlx::{
    Connection, PgPool,
    migrate::Migrator,
    postgres::{PgConnectOptions, PgPoolOptions},
};

/// The platform's migrations, applied to every service database before the service's own.
static PLATFORM_MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

/// How long a pooled connection may sit idle before it is pinged when handed out.
const PING_WHEN_IDLE_FOR: Duration = Duration::from_secs(1);

/// Connects, retrying while the server is starting (for up to `wait`).
pub async fn connect(
    url: &SecretString,
    max_connections: u32,
    wait: Duration,
) -> anyhow::Result<PgPool> {
    let deadline = Instant::now() + wait;
    let options: PgConnectOptions = url
        .expose_secret()
        .parse()
        .map_err(|_| anyhow::anyhow!("DATABASE_URL does not parse as a connection string"))?;
    // No JIT: the services' statements are short, and compiling one that the planner thinks
    // large (a count over a table it has no statistics for yet) took 1.3 s for a 0.5 s query.
    let options = options.options([("jit", "off")]);
    loop {
        let attempt = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(10))
            // sqlx pings every connection it hands out by default: one more round trip per
            // transaction. Only a connection idle for a while is pinged (a database restart
            // breaks those); one in steady use is handed out as it is.
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for >= PING_WHEN_IDLE_FOR {
                        conn.ping().await?;
                    }
                    Ok(true)
                })
            })
            .connect_with(options.clone())
            .await;
        match attempt {
            Ok(pool) => return Ok(pool),
            Err(err) if Instant::now() < deadline => {
                tracing::warn!(error = %err, "database not reachable yet; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(err) => return Err(anyhow::Error::new(err).context("connecting to DATABASE_URL")),
        }
    }
}

/// The history table of the platform's migrations.
const PLATFORM_HISTORY: &str = "_platform_migrations";
/// The history table of the service's migrations (sqlx's default).
const SERVICE_HISTORY: &str = "_sqlx_migrations";

fn platform_migrator() -> Migrator {
    let mut platform = Migrator {
        migrations: PLATFORM_MIGRATIONS.migrations.clone(),
        ..Migrator::DEFAULT
    };
    platform.dangerous_set_table_name(PLATFORM_HISTORY);
    platform
}

/// Applies the platform's migrations, then the service's.
pub async fn migrate(pool: &PgPool, service: &Migrator) -> anyhow::Result<()> {
    platform_migrator()
        .run(pool)
        .await
        .map_err(|e| anyhow::Error::new(e).context("platform migrations"))?;
    service
        .run(pool)
        .await
        .map_err(|e| anyhow::Error::new(e).context("service migrations"))?;
    Ok(())
}

/// The role a connection string logs in as (its user, or libpq's default when it names none).
pub fn role_of(url: &SecretString) -> anyhow::Result<String> {
    let options: PgConnectOptions = url
        .expose_secret()
        .parse()
        .map_err(|_| anyhow::anyhow!("the connection string does not parse"))?;
    Ok(options.get_username().to_string())
}

/// As the owner: migrates, then grants `runtime` its rights ([`grant_runtime`]) unless it is
/// the owner itself. What the `migrate` command and the development launchers run.
pub async fn migrate_as_owner(
    owner_url: &SecretString,
    runtime_url: &SecretString,
    service: &Migrator,
    wait: Duration,
) -> anyhow::Result<()> {
    let pool = connect(owner_url, 1, wait)
        .await
        .map_err(|e| e.context("connecting as the owner (DATABASE_OWNER_URL)"))?;
    let result = async {
        migrate(&pool, service).await?;
        let runtime = role_of(runtime_url).map_err(|e| e.context("DATABASE_URL"))?;
        let owner = sqlx::query_scalar!(r#"SELECT current_user::text AS "owner!""#)
            .fetch_one(&pool)
            .await?;
        if runtime == owner {
            tracing::warn!(
                role = %owner,
                "DATABASE_URL logs in as the owner role: the audit tables are not protected \
                 from the service"
            );
            return Ok(());
        }
        grant_runtime(&pool, &runtime).await
    }
    .await;
    pool.close().await;
    result
}

/// Gives the runtime role `role` what serving needs and no more: USAGE on the schema, SELECT,
/// INSERT, UPDATE and DELETE on every table, USAGE on every sequence, EXECUTE on
/// `audit_prune`; then takes UPDATE, DELETE and TRUNCATE back on every table whose comment
/// begins with `insert-only`, and every write on the migration history tables. Run after
/// every migration, so a new table is covered; idempotent.
pub async fn grant_runtime(pool: &PgPool, role: &str) -> anyhow::Result<()> {
    let role = quote_ident(role);
    let mut statements = vec![
        format!("GRANT USAGE ON SCHEMA public TO {role}"),
        format!("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}"),
        format!("GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {role}"),
        format!("GRANT EXECUTE ON FUNCTION audit_prune(interval, integer) TO {role}"),
        format!(
            "REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON {PLATFORM_HISTORY}, {SERVICE_HISTORY} \
             FROM {role}"
        ),
    ];
    let insert_only = sqlx::query_scalar!(
        r#"SELECT c.relname::text AS "table!" FROM pg_class c
         JOIN pg_namespace n ON n.oid = c.relnamespace
         JOIN pg_description d ON d.objoid = c.oid AND d.objsubid = 0
             AND d.classoid = 'pg_class'::regclass
         WHERE n.nspname = 'public' AND c.relkind = 'r' AND d.description LIKE 'insert-only%'"#
    )
    .fetch_all(pool)
    .await?;
    statements.extend(insert_only.iter().map(|table| {
        format!(
            "REVOKE UPDATE, DELETE, TRUNCATE ON {} FROM {role}",
            quote_ident(table)
        )
    }));
    let mut tx = pool.begin().await?;
    for statement in statements {
        // Identifiers are quoted; the role comes from our own configuration.
        sqlx::query(sqlx::AssertSqlSafe(statement))
            .execute(&mut *tx)
            .await
            .map_err(|e| anyhow::Error::new(e).context("granting the runtime role its rights"))?;
    }
    tx.commit().await?;
    tracing::info!(role = %role, insert_only = ?insert_only, "runtime role granted");
    Ok(())
}

/// `name` as a quoted SQL identifier.
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Checks that every migration this binary carries (the platform's and the service's) has
/// been applied; the error names what is missing and the `migrate` command that applies it.
/// A database migrated further than the binary (a rolling update) passes.
pub async fn check_migrated(pool: &PgPool, service: &Migrator, name: &str) -> anyhow::Result<()> {
    let platform = platform_migrator();
    let mut missing = Vec::new();
    for (history, migrator) in [(PLATFORM_HISTORY, &platform), (SERVICE_HISTORY, service)] {
        let exists = sqlx::query_scalar!(
            r#"SELECT to_regclass($1) IS NOT NULL AS "exists!""#,
            history
        )
        .fetch_one(pool)
        .await?;
        let applied: Vec<i64> = if exists {
            // The table name is one of the two constants above.
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT version FROM {history} WHERE success"
            )))
            .fetch_all(pool)
            .await?
        } else {
            Vec::new()
        };
        missing.extend(
            migrator
                .iter()
                .filter(|m| m.migration_type.is_up_migration() && !applied.contains(&m.version))
                .map(|m| format!("{history} {} ({})", m.version, m.description)),
        );
    }
    anyhow::ensure!(
        missing.is_empty(),
        "the database is not migrated to this binary's version (missing: {}); run `{name} \
         migrate` with DATABASE_OWNER_URL (the migration Job) first",
        missing.join(", ")
    );
    Ok(())
}
