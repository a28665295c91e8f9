//! Classification killed with SIGKILL in the middle of a 2,000-row import and restarted:
//! afterwards every class and notice is as if nothing had happened: none lost, none twice
//! (notices are net: each firm's notified transitions chain up to its class in force).

use std::{collections::BTreeMap, time::Duration};

use haicheng_proto::{census::v1::ImportReturnsRow, policy::v1::SupportPolicyNotice, topics};
use prost::Message;
use sqlx::PgPool;
use system_tests::{
    chain::scattered_returns,
    checker::{class_change_problems, notice_problems},
    cluster::{Cluster, usccs},
};
use testkit::wait_until;

const FIRMS: usize = 250;
const YEARS: std::ops::Range<i32> = 2018..2026;

/// 250 firms × 8 years = 2,000 returns with scattered tax per mu.
fn rows(firms: &[String]) -> Vec<ImportReturnsRow> {
    scattered_returns(firms, YEARS, "crash")
}

async fn scalar(pool: &PgPool, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.expect(sql)
}

/// The notices classification published (its outbox) and those its store holds, by id.
async fn notices(
    pool: &PgPool,
) -> (
    BTreeMap<String, SupportPolicyNotice>,
    BTreeMap<String, SupportPolicyNotice>,
) {
    let published: Vec<Vec<u8>> = sqlx::query_scalar("SELECT payload FROM outbox WHERE topic = $1")
        .bind(topics::POLICY_NOTICES)
        .fetch_all(pool)
        .await
        .unwrap();
    let stored: Vec<Vec<u8>> = sqlx::query_scalar("SELECT payload FROM notices")
        .fetch_all(pool)
        .await
        .unwrap();
    let by_id = |payloads: Vec<Vec<u8>>| {
        payloads
            .into_iter()
            .map(|p| SupportPolicyNotice::decode(p.as_slice()).expect("a notice"))
            .map(|n| (n.notice_id.clone(), n))
            .collect()
    };
    (by_id(published), by_id(stored))
}

/// What the service still has to do: census events to consume, periods to re-rank, rows
/// to publish, published notices not yet stored. Empty when it has settled.
async fn pending(pool: &PgPool) -> Vec<String> {
    let mut pending = Vec::new();
    let consumed = scalar(
        pool,
        "SELECT count(*) FROM inbox WHERE consumer LIKE '%classification.census'",
    )
    .await;
    if consumed != (FIRMS + FIRMS * YEARS.len()) as i64 {
        pending.push(format!("{consumed} census events consumed"));
    }
    let dirty = scalar(pool, "SELECT count(*) FROM dirty_periods").await;
    if dirty != 0 {
        pending.push(format!("{dirty} periods to re-rank"));
    }
    // The cluster runs classification with a settle time of 0: notices follow each re-rank.
    let unsettled = scalar(pool, "SELECT count(*) FROM unsettled_periods").await;
    if unsettled != 0 {
        pending.push(format!("{unsettled} periods whose notices are pending"));
    }
    let unsent = scalar(pool, "SELECT count(*) FROM outbox_unsent").await;
    if unsent != 0 {
        pending.push(format!("{unsent} outbox rows unsent"));
    }
    let (published, stored) = notices(pool).await;
    if !published.keys().eq(stored.keys()) {
        pending.push(format!(
            "{} notices published, {} stored",
            published.len(),
            stored.len()
        ));
    }
    pending
}

/// Waits until the service consumed every census event, re-ranked every dirty period,
/// published everything and stored every notice it published.
async fn settle(cluster: &Cluster, what: &str) {
    let pool = cluster.classification_db().await;
    let settled = wait_until(Duration::from_secs(240), || async {
        pending(&pool).await.is_empty()
    })
    .await;
    let log = cluster.classification.log_text();
    let tail: Vec<&str> = log.lines().rev().take(30).collect();
    assert!(
        settled,
        "{what} did not settle: {:?}; its log ends:\n{}",
        pending(&pool).await,
        tail.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn classification_killed_mid_import_recovers_every_class_and_notice_once() {
    let firms = usccs(FIRMS);
    let rows = rows(&firms);

    // The reference: the same data without a fault.
    let calm = Cluster::start(&[]).await;
    calm.register(&firms).await;
    assert_eq!(calm.import(rows.clone()).await.accepted_count, 2_000);

    // Static membership, as the pods of a Deployment have: the restarted process takes its
    // partitions back at once instead of waiting out the dead member's session.
    let mut struck = Cluster::start(&[("KAFKA_GROUP_INSTANCE_ID", "crash-test")]).await;
    struck.register(&firms).await;
    let census = struck.census().await;
    let import = tokio::spawn({
        let rows = rows.clone();
        async move {
            let request = testkit::with_token("dev-census-import", tokio_stream::iter(rows));
            census
                .clone()
                .import_returns(request)
                .await
                .expect("importing")
                .into_inner()
        }
    });
    let pool = struck.classification_db().await;
    let midway = wait_until(Duration::from_secs(60), || async {
        scalar(
            &pool,
            "SELECT count(*) FROM inbox WHERE consumer LIKE '%classification.census'",
        )
        .await
            >= (FIRMS + 300) as i64
    })
    .await;
    assert!(midway, "classification started on the import");
    struck.classification.kill().await;
    let consumed_at_kill = scalar(&pool, "SELECT count(*) FROM inbox").await;
    assert!(
        consumed_at_kill < (FIRMS + 2_000) as i64,
        "killed before it consumed everything ({consumed_at_kill})"
    );
    struck.classification.restart();
    struck
        .classification
        .wait_serving(Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(import.await.unwrap().accepted_count, 2_000);

    settle(&calm, "the reference").await;
    settle(&struck, "the restarted service").await;

    // Every class as in the run without a fault.
    for year in YEARS {
        let period = year.to_string();
        let (expected, actual) = (
            calm.classes_of(&period).await,
            struck.classes_of(&period).await,
        );
        assert_eq!(expected.len(), FIRMS);
        assert_eq!(actual, expected, "classes of {period}");
    }

    // Every class change published once, in a gap-free chain per firm and period that ends
    // in the class in force; every notice published stored once, the notified changes a
    // gap-free chain each with its rules' notices (the fault checker's rules).
    let mut in_force = BTreeMap::new();
    for year in YEARS {
        let period = year.to_string();
        let classes = struck.classes_of(&period).await;
        in_force.insert(period, classes);
    }
    let problems = [
        class_change_problems(&pool, &in_force).await,
        notice_problems(&pool, &in_force).await,
    ]
    .concat();
    assert!(problems.is_empty(), "{problems:?}");
    let (_, stored) = notices(&pool).await;
    assert_eq!(
        scalar(&pool, "SELECT count(*) FROM notices").await as usize,
        stored.len()
    );
}
