//! The churn case of issue 12: 5,000 returns of one period imported in one stream, through
//! census events as the real chain delivers them, with a short settle time. Once the period
//! has settled by itself, the notices on the topic are exactly one per (firm, rule) of each
//! firm's net transition from the class last notified to its final class, computed here from
//! the final classes; a firm whose final class is the one notified gets none, however the
//! partial rankings of the import moved it meanwhile.

use std::{
    collections::{BTreeMap, BTreeSet},
    time::Duration,
};

use chrono::{DateTime, Utc};
use classification::{
    config::vars,
    domain::{
        Class,
        policy::{self, Cause, Transition},
    },
};
use haicheng_proto::{policy::v1::SupportPolicyNotice, topics};
use testkit::wait_until;

use crate::{App, collect, spawn_app_with};

const PERIOD: &str = "2025";
const FIRMS: usize = 5_000;

/// Tax per mu (yuan) of firm `i` in import `round`: spread over 500..3,500, reshuffled by round.
fn tax(i: usize, round: usize) -> i64 {
    500 + ((i * 7_919 + round * 104_729) % 3_000) as i64
}

/// Publishes one revision of every firm's return at once, as an import streams them.
async fn import(app: &App, codes: &[String], revision: i64, tax_of: impl Fn(usize) -> i64) {
    futures::future::join_all(
        codes
            .iter()
            .enumerate()
            .map(|(i, code)| app.submit(code, PERIOD, revision, tax_of(i))),
    )
    .await;
}

/// Waits until every return (revisions summing to `revisions`) is in, re-ranked, and the
/// period has settled by itself (the re-ranker's settle step, after the quiet time).
async fn settled_by_itself(app: &App, revisions: i64) {
    let done = wait_until(Duration::from_secs(600), || async {
        let (returns, sum, pending): (i64, Option<i64>, i64) = sqlx::query_as(
            "SELECT count(*), sum(revision)::int8,
                    (SELECT count(*) FROM dirty_periods) + (SELECT count(*) FROM unsettled_periods)
             FROM census_returns WHERE period = $1",
        )
        .bind(PERIOD)
        .fetch_one(&app.pool)
        .await
        .unwrap();
        returns == FIRMS as i64 && sum == Some(revisions) && pending == 0
    })
    .await;
    assert!(done, "the import of revision sum {revisions} settled");
}

/// Every firm's class in force, as stored (read from the database rather than page by page
/// through ListClasses: under a full test run the service's pool may be briefly exhausted by
/// the notice traffic, and the API is not what this test is about).
async fn final_classes(app: &App) -> BTreeMap<String, Option<Class>> {
    let rows: Vec<(String, i16)> = sqlx::query_as(concat!(
        "SELECT uscc, ",
        class_number!("class"),
        " FROM classifications WHERE period = $1"
    ))
    .bind(PERIOD)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let classes: BTreeMap<String, Option<Class>> = rows
        .into_iter()
        .map(|(uscc, class)| (uscc, Class::from_proto(i32::from(class))))
        .collect();
    assert_eq!(classes.len(), FIRMS);
    classes
}

/// The ids of the notices of every firm's move from `notified` to `last`, the firm's
/// `sequence`-th notified transition.
fn expected_ids(
    notified: &BTreeMap<String, Option<Class>>,
    last: &BTreeMap<String, Option<Class>>,
    sequence: i64,
) -> BTreeSet<String> {
    let rules = policy::default_rules();
    let mut ids = BTreeSet::new();
    for (uscc, to) in last {
        let transition = Transition {
            from: notified.get(uscc).copied().flatten(),
            to: *to,
        };
        if !transition.is_change() {
            continue;
        }
        let cause = Cause {
            uscc,
            name: "",
            period: PERIOD,
            model_version: 1,
            transition,
            sequence,
        };
        ids.extend(
            policy::firing(&rules, transition)
                .map(|rule| policy::notice_id(&cause, &rule.id).to_string()),
        );
    }
    ids
}

/// This test's notices issued since `mark`.
async fn notices_since(
    app: &App,
    ours: &BTreeSet<String>,
    mark: DateTime<Utc>,
    expected: usize,
) -> Vec<SupportPolicyNotice> {
    collect::<SupportPolicyNotice>(
        &app.topic(topics::POLICY_NOTICES),
        |n| {
            ours.contains(&n.uscc)
                && n.issued_at
                    .as_ref()
                    .and_then(platform::time::from_timestamp)
                    .is_some_and(|t| t >= mark)
        },
        expected,
        Duration::from_secs(180),
    )
    .await
    .into_iter()
    .map(|(_, n)| n)
    .collect()
}

/// The notices match `want` exactly: one each, none missing, none besides.
fn assert_exactly(notices: &[SupportPolicyNotice], want: &BTreeSet<String>) {
    let got: BTreeSet<String> = notices.iter().map(|n| n.notice_id.clone()).collect();
    assert_eq!(got.len(), notices.len(), "no notice twice");
    assert_eq!(
        got.len(),
        want.len(),
        "as many notices as net (firm, rule) transitions"
    );
    assert!(got == *want, "the notices are those of the net transitions");
}

/// Changes of class the re-ranks made since `mark` (each an EnterpriseClassified).
async fn class_changes_since(app: &App, mark: DateTime<Utc>) -> i64 {
    sqlx::query_scalar(
        "SELECT COALESCE(sum(changed_classes), 0)::int8 FROM rerank_runs
         WHERE period = $1 AND started_at >= $2",
    )
    .bind(PERIOD)
    .bind(mark)
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_5000_row_import_notifies_each_firms_net_transition_once_settled() {
    // Longer than any pause between the import's re-ranks (at most the 2 s maximum delay
    // while events flow), short enough for a test.
    let app = spawn_app_with(&[(vars::NOTICE_SETTLE, "10s")]).await;
    let codes: Vec<String> = (0..FIRMS).map(|i| app.uscc(i)).collect();
    let ours: BTreeSet<String> = codes.iter().cloned().collect();

    // The first import: every firm's first class, from nothing notified.
    let mark = Utc::now() - chrono::Duration::seconds(1);
    import(&app, &codes, 1, |i| tax(i, 0)).await;
    settled_by_itself(&app, FIRMS as i64).await;
    let first = final_classes(&app).await;
    let want = expected_ids(&BTreeMap::new(), &first, 1);
    assert_eq!(
        want.len(),
        500 * 3 + 1_500 * 2 + 3_000 * 2,
        "10/30/60 quotas"
    );
    let notices = notices_since(&app, &ours, mark, want.len()).await;
    assert_exactly(&notices, &want);
    println!(
        "first import: {} class changes in the re-ranks, {} notices",
        class_changes_since(&app, mark).await,
        notices.len()
    );

    // The second: odd firms report new figures, even firms the same again. Partial rankings
    // move firms of both kinds; only the net moves from the notified class are notified.
    let mark = Utc::now();
    import(&app, &codes, 2, |i| tax(i, i % 2)).await;
    settled_by_itself(&app, 2 * FIRMS as i64).await;
    let last = final_classes(&app).await;
    let unmoved: BTreeSet<&String> = last.keys().filter(|u| last[*u] == first[*u]).collect();
    assert!(
        !unmoved.is_empty() && unmoved.len() < FIRMS,
        "some firms end where they were notified, some not: {} of {FIRMS}",
        unmoved.len()
    );
    let want = expected_ids(&first, &last, 2);
    let notices = notices_since(&app, &ours, mark, want.len()).await;
    assert_exactly(&notices, &want);
    assert!(
        notices.iter().all(|n| !unmoved.contains(&n.uscc)),
        "no notice for a firm whose final class is the notified one"
    );
    let churn = class_changes_since(&app, mark).await;
    assert!(churn >= (FIRMS - unmoved.len()) as i64);
    println!(
        "second import: {churn} class changes in the re-ranks, {} net transitions, {} notices",
        FIRMS - unmoved.len(),
        notices.len()
    );

    // What the departments know is the class in force, each firm's count of notified
    // transitions 1 or 2.
    let notified: Vec<(String, i16, i64)> = sqlx::query_as(concat!(
        "SELECT uscc, ",
        class_number!("class"),
        ", sequence FROM notified_classes WHERE period = $1 ORDER BY uscc"
    ))
    .bind(PERIOD)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let in_force: Vec<(String, i16, i64)> = last
        .iter()
        .map(|(uscc, class)| {
            let sequence = if unmoved.contains(uscc) { 1 } else { 2 };
            (
                uscc.clone(),
                classification::proto::class_to_proto(*class) as i16,
                sequence,
            )
        })
        .collect();
    assert!(
        notified == in_force,
        "notified_classes holds the classes in force"
    );
    app.stop().await;
}
