//! The database: a `PgPool` from `DATABASE_URL`, and migrations run at start.
//!
//! The platform's own tables (outbox, inbox) are migrated by their own migrator with its
//! own history table, so a service's migrations and the platform's never collide.

use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use sqlx::{Connection, PgPool, migrate::Migrator, postgres::PgPoolOptions};

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
            .connect(url.expose_secret())
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

/// Applies the platform's migrations, then the service's.
pub async fn migrate(pool: &PgPool, service: &Migrator) -> anyhow::Result<()> {
    let mut platform = Migrator {
        migrations: PLATFORM_MIGRATIONS.migrations.clone(),
        ..Migrator::DEFAULT
    };
    platform.dangerous_set_table_name("_platform_migrations");
    platform
        .run(pool)
        .await
        .map_err(|e| anyhow::Error::new(e).context("platform migrations"))?;
    service
        .run(pool)
        .await
        .map_err(|e| anyhow::Error::new(e).context("service migrations"))?;
    Ok(())
}
