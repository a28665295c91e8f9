//! A service whose PostgreSQL goes away: calls answer UNAVAILABLE (retry), not INTERNAL, the
//! CLI exits 3, and once PostgreSQL is back the same process serves again, unrestarted.
//!
//! The census process gets a PostgreSQL of its own (a private stack, `scripts/stack up DIR`,
//! stopped and started again by the test) and the shared broker.

use std::{path::PathBuf, process::Command, time::Duration};

use haicheng_proto::census::v1::{
    ListEnterprisesRequest, census_service_client::CensusServiceClient,
};
use sqlx::{Connection, PgConnection};
use system_tests::{ServiceProcess, authorized, binary};
use testkit::{scripts_dir, stack, unique_name, wait_until};
use tonic::Code;

/// A private stack under a temporary folder, stopped and removed on drop.
struct PrivateStack {
    dir: PathBuf,
}

impl PrivateStack {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(unique_name("haicheng-unavailable"));
        let stack = Self { dir };
        stack.run("up");
        stack
    }

    /// `scripts/stack up|down DIR`.
    fn run(&self, command: &str) {
        let output = Command::new(scripts_dir().join("stack"))
            .arg(command)
            .arg(&self.dir)
            .env("HAICHENG_PG_FAST", "1")
            .env_remove("PG_PORT")
            .env_remove("KAFKA_PORT")
            .output()
            .expect("running scripts/stack");
        assert!(
            output.status.success(),
            "scripts/stack {command} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    fn database_url(&self) -> String {
        let env = std::fs::read_to_string(self.dir.join("env")).expect("the stack's env file");
        env.lines()
            .find_map(|line| line.strip_prefix("export DATABASE_URL="))
            .map(|v| v.trim_matches(['"', '\'']).to_string())
            .expect("DATABASE_URL in the stack's env file")
    }
}

impl Drop for PrivateStack {
    fn drop(&mut self) {
        let _ = Command::new(scripts_dir().join("stack"))
            .arg("down")
            .arg(&self.dir)
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn with_database(url: &str, database: &str) -> String {
    let (base, _) = url.rsplit_once('/').expect("a database URL");
    format!("{base}/{database}")
}

/// `haicheng enterprise list` against `census`; its exit code and stderr.
fn cli_list(census: &str) -> (Option<i32>, String) {
    let output = Command::new(binary("haicheng"))
        .args([
            "enterprise",
            "list",
            "--token",
            "dev-commerce",
            "--census",
            census,
        ])
        .output()
        .expect("running haicheng");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn without_postgres_calls_are_unavailable_and_serve_again_once_it_is_back() {
    let private = PrivateStack::new();
    let admin_url = private.database_url();
    let mut admin = PgConnection::connect(&admin_url).await.unwrap();
    sqlx::query("CREATE DATABASE census_unavailable")
        .execute(&mut admin)
        .await
        .unwrap();
    admin.close().await.unwrap();

    let prefix = format!("{}.", unique_name("t"));
    let database_url = with_database(&admin_url, "census_unavailable");
    let mut census = ServiceProcess::start(
        "census",
        &[
            ("DATABASE_URL", database_url.as_str()),
            ("KAFKA_BOOTSTRAP", stack().kafka_bootstrap.as_str()),
            ("KAFKA_TOPIC_PREFIX", prefix.as_str()),
            ("DATABASE_MAX_CONNECTIONS", "2"),
        ],
    )
    .await;
    census.wait_serving(Duration::from_secs(60)).await.unwrap();
    let pid = census.child.id();
    let channel = census.channel().await;
    let list = || async {
        let mut client = CensusServiceClient::new(channel.clone());
        client
            .list_enterprises(authorized(
                "dev-commerce",
                ListEnterprisesRequest::default(),
            ))
            .await
            .map(|_| ())
    };
    list().await.expect("served while PostgreSQL runs");

    private.run("down");
    let err = list().await.expect_err("no answer without PostgreSQL");
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
    let (code, stderr) = cli_list(&census.address);
    assert_eq!(code, Some(3), "the CLI says: retry later; {stderr}");
    assert!(stderr.contains("UNAVAILABLE"), "{stderr}");

    private.run("up");
    let back = wait_until(Duration::from_secs(60), || async { list().await.is_ok() }).await;
    assert!(back, "served again within 60 s of PostgreSQL's return");
    assert_eq!(
        census.child.try_wait().unwrap(),
        None,
        "the same process, not a restart"
    );
    assert_eq!(census.child.id(), pid);
    let (code, stderr) = cli_list(&census.address);
    assert_eq!(code, Some(0), "{stderr}");

    let status = census.terminate().await;
    assert!(status.success(), "census exited with {status}");
}
