//! A service whose PostgreSQL goes away: calls answer UNAVAILABLE (retry), not INTERNAL, the
//! CLI exits 3, and once PostgreSQL is back the same process serves again, unrestarted.
//!
//! The census process gets a PostgreSQL of its own (`testkit::Postgres`, its own stack folder,
//! stopped and started again by the test) and the shared broker.

use std::{process::Command, time::Duration};

use haicheng_proto::census::v1::{
    ListEnterprisesRequest, census_service_client::CensusServiceClient,
};
use sqlx::{Connection, PgConnection};
use system_tests::binary;
use testkit::with_token;
use testkit::{Postgres, replace_database, stack, unique_name, wait_until};
use tonic::Code;

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
        .envs(system_tests::cli_env())
        .output()
        .expect("running haicheng");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn without_postgres_calls_are_unavailable_and_serve_again_once_it_is_back() {
    let private = Postgres::start();
    let admin_url = private.admin_url();
    let mut admin = PgConnection::connect(&admin_url).await.unwrap();
    sqlx::query("CREATE DATABASE census_unavailable")
        .execute(&mut admin)
        .await
        .unwrap();
    admin.close().await.unwrap();

    let prefix = format!("{}.", unique_name("t"));
    let database_url = replace_database(&admin_url, "census_unavailable");
    let mut census = system_tests::start(
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
            .list_enterprises(with_token(
                "dev-commerce",
                ListEnterprisesRequest::default(),
            ))
            .await
            .map(|_| ())
    };
    list().await.expect("served while PostgreSQL runs");

    private.stop();
    let err = list().await.expect_err("no answer without PostgreSQL");
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
    let (code, stderr) = cli_list(&census.address);
    assert_eq!(code, Some(3), "the CLI says: retry later; {stderr}");
    assert!(stderr.contains("UNAVAILABLE"), "{stderr}");

    private.restart();
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
