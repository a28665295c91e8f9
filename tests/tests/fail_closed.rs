//! A service fails closed: without credentials, and without development mode asked for
//! explicitly, every binary refuses to start (exit 2) and names `AUTH_TOKENS`; asked for, it
//! says so in its first log line and in the health entry `haicheng.development-mode`.

use std::time::Duration;

use system_tests::{SERVICES, binary};
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

fn start_without_credentials(name: &str, tokens: Option<&str>) -> std::process::Output {
    let mut command = std::process::Command::new(binary(name));
    command
        .env_clear()
        // Nothing to connect to is needed: the configuration is refused first.
        .env("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")
        .env("KAFKA_BOOTSTRAP", "127.0.0.1:1");
    if let Some(tokens) = tokens {
        command.env("AUTH_TOKENS", tokens);
    }
    command.output().expect("running the service")
}

#[test]
fn every_service_without_credentials_exits_2_naming_auth_tokens() {
    for name in SERVICES {
        for tokens in [None, Some(""), Some("   ")] {
            let output = start_without_credentials(name, tokens);
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert_eq!(output.status.code(), Some(2), "{name} {tokens:?}: {stderr}");
            assert!(
                stderr.contains("AUTH_TOKENS"),
                "{name} {tokens:?}: {stderr}"
            );
            assert!(stderr.contains("AUTH_DEVELOPMENT"), "{name}: {stderr}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn development_mode_is_announced_in_the_first_log_line_and_in_health() {
    let mut census = system_tests::start("census", &[]).await;
    census
        .wait_serving(Duration::from_secs(60))
        .await
        .expect("census serves");
    let mut health = HealthClient::new(census.channel().await);
    let entry = health
        .check(HealthCheckRequest {
            service: platform::server::DEVELOPMENT_MODE_HEALTH.into(),
        })
        .await
        .expect("the development-mode entry")
        .into_inner();
    assert_eq!(entry.status(), ServingStatus::Serving);
    let log = std::fs::read_to_string(&census.log).expect("the log");
    let first = log.lines().next().expect("a first log line");
    assert!(first.contains("DEVELOPMENT MODE"), "{first}");
}

/// The migration Job holds no tokens: `migrate` serves nobody, so it runs without
/// credentials (only serving fails closed).
#[tokio::test(flavor = "multi_thread")]
async fn migrate_runs_without_credentials() {
    for name in SERVICES {
        let db = testkit::TestDatabase::create().await;
        let output = std::process::Command::new(binary(name))
            .arg("migrate")
            .env_clear()
            .env("DATABASE_URL", &db.runtime_url)
            .env("DATABASE_OWNER_URL", &db.url)
            .output()
            .expect("running migrate");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{name} migrate: {stderr}");
        assert!(!stderr.contains("AUTH_TOKENS"), "{name}: {stderr}");
    }
}
