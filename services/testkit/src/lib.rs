//! The test harness: one real stack (PostgreSQL and an Apache Kafka broker) per test run, a fresh
//! database per test, unique topic names, and helpers to read topics back.
//!
//! When `HAICHENG_TEST_DATABASE_URL` and `HAICHENG_TEST_KAFKA_BOOTSTRAP` are set
//! (`scripts/with-stack`, as `make test` does) the stack they name is shared; otherwise the
//! first test of a process starts its own with `scripts/stack` on free ports, and the process
//! stops it when it exits.

mod private_stack;
mod service;
pub mod tls;
mod topics;
mod uscc;

use std::{
    path::PathBuf,
    process::Command,
    sync::{Mutex, OnceLock},
};

use sqlx::{Connection, PgConnection, PgPool, postgres::PgPoolOptions};

pub use private_stack::{Broker, Postgres};
pub use service::{Lookup, Service, spawn, with_token};
pub use topics::{read_events, read_topic, unique_name, wait_until};
pub use uscc::{Usccs, new_uscc};

/// The addresses of the stack the tests run against.
#[derive(Debug, Clone)]
pub struct Stack {
    /// Connection string to the cluster's `postgres` database (for creating test databases).
    pub admin_url: String,
    pub kafka_bootstrap: String,
}

/// The repository's `scripts/` folder.
pub fn scripts_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts")
}

/// The shared stack, started on first use when the environment names none.
pub fn stack() -> &'static Stack {
    static STACK: OnceLock<Stack> = OnceLock::new();
    STACK.get_or_init(|| {
        let from_env = (
            std::env::var("HAICHENG_TEST_DATABASE_URL"),
            std::env::var("HAICHENG_TEST_KAFKA_BOOTSTRAP"),
        );
        if let (Ok(admin_url), Ok(kafka_bootstrap)) = from_env {
            return Stack {
                admin_url,
                kafka_bootstrap,
            };
        }
        start_private_stack().unwrap_or_else(|err| panic!("starting the test stack: {err:#}"))
    })
}

/// Where this process's private stack lives, so the exit hook can stop it.
static PRIVATE_STACK_DIR: Mutex<Option<PathBuf>> = Mutex::new(None);

extern "C" fn stop_private_stack() {
    if let Some(dir) = PRIVATE_STACK_DIR.lock().ok().and_then(|mut d| d.take()) {
        let _ = Command::new(scripts_dir().join("stack"))
            .arg("down")
            .arg(&dir)
            .output();
        let _ = std::fs::remove_dir_all(&dir);
    }
}

fn start_private_stack() -> anyhow::Result<Stack> {
    let dir = std::env::temp_dir().join(format!("haicheng-test-{}", std::process::id()));
    let output = Command::new(scripts_dir().join("stack"))
        .arg("up")
        .arg(&dir)
        .env("HAICHENG_PG_FAST", "1")
        .env_remove("PG_PORT")
        .env_remove("KAFKA_PORT")
        .output()?;
    *PRIVATE_STACK_DIR.lock().expect("stack dir lock") = Some(dir.clone());
    // SAFETY: registering a plain `extern "C"` function with no captured state; it runs at
    // exit, touches only its own static, and never unwinds (every error is ignored).
    #[allow(unsafe_code)]
    unsafe {
        libc::atexit(stop_private_stack)
    };
    anyhow::ensure!(
        output.status.success(),
        "scripts/stack up failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let env = std::fs::read_to_string(dir.join("env"))?;
    let value = |name: &str| {
        env.lines()
            .find_map(|line| line.strip_prefix(&format!("export {name}=")))
            .map(|v| v.trim_matches(['"', '\'']).to_string())
            .ok_or_else(|| anyhow::anyhow!("{name} missing from the stack's env file"))
    };
    Ok(Stack {
        admin_url: value("DATABASE_URL")?,
        kafka_bootstrap: value("KAFKA_BOOTSTRAP")?,
    })
}

/// A database created for one test, with its own name.
#[derive(Debug, Clone)]
pub struct TestDatabase {
    pub name: String,
    pub url: String,
}

impl TestDatabase {
    /// Creates an empty database on the shared stack.
    pub async fn create() -> Self {
        let stack = stack();
        let name = format!("test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(&stack.admin_url)
            .await
            .expect("connecting to the test cluster");
        // The name is generated here, never taken from input.
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .expect("creating a test database");
        let url = replace_database(&stack.admin_url, &name);
        Self { name, url }
    }

    pub async fn pool(&self) -> PgPool {
        PgPoolOptions::new()
            .max_connections(5)
            .connect(&self.url)
            .await
            .expect("connecting to the test database")
    }
}

/// The same connection string pointing at another database.
pub fn replace_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let slash = base
        .rfind('/')
        .filter(|i| base[..*i].ends_with(|c: char| c != '/'))
        .unwrap_or(base.len());
    let mut out = format!("{}/{database}", &base[..slash]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn replace_database_keeps_host_and_query() {
        assert_eq!(
            super::replace_database("postgres://u@h:1/postgres", "x"),
            "postgres://u@h:1/x"
        );
        assert_eq!(
            super::replace_database("postgres://u@h:1/postgres?sslmode=disable", "x"),
            "postgres://u@h:1/x?sslmode=disable"
        );
    }
}
