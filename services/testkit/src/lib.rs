//! The test harness: one real stack (PostgreSQL and an Apache Kafka broker) per test run, a fresh
//! database per test, unique topic names, and helpers to read topics back.
//!
//! What the tests of every service share lives here once: the in-process launcher
//! ([`spawn`]), the launcher of a real binary ([`process`], for the system tests and the
//! bench), publishing events onto a service's topics ([`Publisher`]), requests
//! ([`with_token`], [`as_dept`], [`period`]) and readers of replies ([`fields`],
//! [`invalid_fields`], [`assert_exhausted_with_retry`]).
//!
//! When `HAICHENG_TEST_DATABASE_URL` and `HAICHENG_TEST_KAFKA_BOOTSTRAP` are set
//! (`scripts/with-stack`, as `make test` does) the stack they name is shared; otherwise the
//! first test of a process starts its own with `scripts/stack` on free ports, and the process
//! stops it when it exits.

mod events;
mod health;
pub mod jwt;
mod private_stack;
pub mod process;
pub mod proxy;
mod replies;
mod requests;
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

pub use events::{Publisher, cloud_event};
pub use health::poll_health;
pub use private_stack::{Broker, Postgres, SecureBroker};
pub use proxy::{Fault, FaultProxy};
pub use replies::{assert_exhausted_with_retry, fields, invalid_fields};
pub use requests::{as_dept, period, with_optional_token, with_token};
pub use service::{Lookup, Service, spawn};
pub use topics::{ce_ids_on, collect, read_events, read_topic, unique_name, wait_until};
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

/// The runtime role every service under test logs in as: a plain role, granted its rights
/// by the migrations (`platform::db::grant_runtime`), so a test sees what the service's role
/// may not do. Created once per cluster.
pub const RUNTIME_ROLE: &str = "haicheng_runtime";

/// A database created for one test, with its own name.
#[derive(Debug, Clone)]
pub struct TestDatabase {
    pub name: String,
    /// As the owner (the cluster's administrator): migrations, and the tests' own checks.
    pub url: String,
    /// As [`RUNTIME_ROLE`]: what a service is given as `DATABASE_URL`.
    pub runtime_url: String,
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
        // Tests in other processes may create it at the same moment: either error means
        // it exists.
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DO $$ BEGIN CREATE ROLE {RUNTIME_ROLE} LOGIN;
             EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
        )))
        .execute(&mut admin)
        .await
        .expect("creating the runtime role");
        let url = replace_database(&stack.admin_url, &name);
        let runtime_url = replace_user(&url, RUNTIME_ROLE);
        Self {
            name,
            url,
            runtime_url,
        }
    }

    /// The variables that have a service migrate this database as the owner and serve as
    /// the runtime role.
    pub fn service_vars(&self) -> [(&'static str, String); 2] {
        [
            ("DATABASE_URL", self.runtime_url.clone()),
            ("DATABASE_OWNER_URL", self.url.clone()),
        ]
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

/// The same connection string logging in as `user` (no password: the test cluster trusts
/// local connections).
pub fn replace_user(url: &str, user: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
    let host_start = rest
        .find('/')
        .map_or(rest, |slash| &rest[..slash])
        .rfind('@')
        .map_or(0, |at| at + 1);
    format!("{scheme}://{user}@{}", &rest[host_start..])
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

    #[test]
    fn replace_user_keeps_the_rest() {
        assert_eq!(
            super::replace_user("postgres://u:pw@h:1/x?a=b", "r"),
            "postgres://r@h:1/x?a=b"
        );
        assert_eq!(
            super::replace_user("postgres://h:1/x", "r"),
            "postgres://r@h:1/x"
        );
    }
}
