//! `haicheng replay` end to end: the real binary re-queues the events of a census service
//! running in this process (real PostgreSQL and broker), whose relay publishes them a second
//! time; and its exit codes for bad arguments (2) and an unreachable database (3).

mod support;

use std::{collections::BTreeSet, process::Output, time::Duration};

use haicheng_proto::census::v1::{self as pb, census_service_client::CensusServiceClient};
use serde_json::Value;
use sqlx::PgPool;
use testkit::wait_until;

const ENTERPRISES: [&str; 3] = [
    "91210381MA0Q12343L",
    "91210381MA10ABCD69",
    "91210381MA1HC8R2XL",
];

async fn haicheng(args: &[&str]) -> Output {
    let mut command = support::command(args);
    command.env_remove("HAICHENG_REPLAY_DATABASE_URL");
    support::run(command, args).await
}

/// How many times each of the census's events is on its topic, once `wanted` are all there.
async fn copies_on_topic(census: &testkit::Service, wanted: &BTreeSet<String>) -> Vec<usize> {
    let topic = format!("{}haicheng.census.events.v1", census.prefix);
    testkit::ce_ids_on(
        &testkit::stack().kafka_bootstrap,
        &topic,
        wanted,
        Duration::from_secs(30),
    )
    .await
    .into_values()
    .collect()
}

/// The ids of the census's events in its outbox.
async fn event_ids(pool: &PgPool) -> BTreeSet<String> {
    sqlx::query_scalar::<_, String>("SELECT event_id::text FROM outbox")
        .fetch_all(pool)
        .await
        .unwrap()
        .into_iter()
        .collect()
}

/// Outbox rows not yet published (`outbox_unsent`: the relay's watermark has not passed them,
/// or they are listed for a retry, as a replay lists them).
async fn unsent(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM outbox_unsent")
        .fetch_one(pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replay_makes_the_running_service_publish_its_events_again() {
    platform::telemetry::init_for_tests();
    let census = testkit::spawn(census::Config::from_lookup, census::run, &[]).await;
    let mut client = CensusServiceClient::new(census.channel.clone());
    for uscc in ENTERPRISES {
        let request = pb::RegisterEnterpriseRequest {
            uscc: uscc.into(),
            name: "海城纺织有限公司".into(),
            legal_representative: "张伟".into(),
            park: haicheng_proto::common::v1::Park::Xiliu as i32,
            industry_class: "1711".into(),
            size: pb::EnterpriseSize::Small as i32,
            registration_date: "2016-05-20".into(),
            ..Default::default()
        };
        client
            .register_enterprise(testkit::with_token("dev-commerce", request))
            .await
            .expect("registered");
    }
    assert!(
        wait_until(Duration::from_secs(30), || async {
            unsent(&census.pool).await == 0
        })
        .await,
        "the three registrations were published"
    );
    let events = event_ids(&census.pool).await;
    assert_eq!(events.len(), 3);
    assert_eq!(copies_on_topic(&census, &events).await, [1, 1, 1]);

    let output = haicheng(&[
        "replay",
        "census",
        "--since",
        "2000-01-01T00:00:00Z",
        "--database-url",
        &census.db.url,
        "-o",
        "json",
    ])
    .await;
    assert_eq!(output.status.code(), Some(0));
    let report: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(report["service"], "census");
    assert_eq!(report["requeued"], 3);
    assert!(
        wait_until(Duration::from_secs(30), || async {
            unsent(&census.pool).await == 0
        })
        .await,
        "the running service's relay published the three again"
    );
    assert_eq!(
        copies_on_topic(&census, &events).await,
        [2, 2, 2],
        "each event twice on the topic, with its original id"
    );
    census.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_arguments_exit_2_and_an_unreachable_database_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let no_stack = dir.path().to_str().unwrap();
    for args in [
        &["replay", "census"][..],
        &["replay", "census", "--since", "last tuesday"][..],
        &["replay", "billing", "--from-id", "1"][..],
        &["replay", "census", "--from-id", "1", "--dir", no_stack][..],
    ] {
        assert_eq!(haicheng(args).await.status.code(), Some(2), "{args:?}");
    }
    let output = haicheng(&[
        "replay",
        "census",
        "--from-id",
        "1",
        "--database-url",
        "postgres://haicheng:secret@127.0.0.1:1/census",
    ])
    .await;
    assert_eq!(output.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot reach the census database"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("secret"),
        "the password is not printed: {stderr}"
    );
}
