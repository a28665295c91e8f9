//! The chain the platform exists for, across real processes: a census return reaches
//! classification, classes change, and the departments get exactly the notices for it.

use std::{collections::BTreeMap, time::Duration};

use haicheng_proto::{
    common::v1::EnterpriseClass,
    policy::v1::{ListNoticesRequest, WatchNoticesRequest},
};
use system_tests::{
    cluster::{Cluster, usccs},
    otlp::SpanCollector,
};
use testkit::with_token;
use tokio_stream::StreamExt;

const PERIOD: &str = "2025";

/// (USCC, from, to) of the class changes a department hears about.
type Change = (String, EnterpriseClass, EnterpriseClass);

/// Reads a department's watch stream from `cursor` until it has been quiet for `quiet`;
/// returns the notices' changes and the last cursor.
async fn watch_until_quiet(
    cluster: &Cluster,
    token: &str,
    cursor: &str,
    quiet: Duration,
) -> (Vec<Change>, String) {
    let request = with_token(
        token,
        WatchNoticesRequest {
            cursor: cursor.into(),
        },
    );
    let mut stream = cluster
        .notices()
        .await
        .watch_notices(request)
        .await
        .expect("watching")
        .into_inner();
    let mut changes = Vec::new();
    let mut last = cursor.to_string();
    while let Ok(Some(item)) = tokio::time::timeout(quiet, stream.next()).await {
        let item = item.expect("a watch item");
        let notice = item.notice.expect("a notice");
        let transition = notice.transition.expect("a transition");
        changes.push((notice.uscc, transition.from_class(), transition.to_class()));
        last = item.cursor;
    }
    (changes, last)
}

/// The notices finance gets under the default rules, one per firing rule (entering A,
/// entering B, leaving A), as sorted changes.
fn finance_notices(
    before: &BTreeMap<String, EnterpriseClass>,
    after: &BTreeMap<String, EnterpriseClass>,
) -> Vec<Change> {
    let mut expected = Vec::new();
    for (uscc, &to) in after {
        let from = before
            .get(uscc)
            .copied()
            .unwrap_or(EnterpriseClass::Unspecified);
        if from == to {
            continue;
        }
        // One notice per firing rule: entering A, entering B, leaving A.
        let rules = usize::from(to == EnterpriseClass::A)
            + usize::from(to == EnterpriseClass::B)
            + usize::from(from == EnterpriseClass::A);
        expected.extend(std::iter::repeat_n((uscc.clone(), from, to), rules));
    }
    expected.sort();
    expected
}

fn count(classes: &BTreeMap<String, EnterpriseClass>, class: EnterpriseClass) -> usize {
    classes.values().filter(|c| **c == class).count()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_return_moves_firms_across_classes_and_finance_watches_exactly_their_notices() {
    let cluster = Cluster::start(&[]).await;
    let firms = usccs(10);
    cluster.register(&firms).await;
    // Tax per mu from 1,000 to 1,900 yuan: all below the cap of 1.5 × the average, so no ties.
    for (i, uscc) in firms.iter().enumerate() {
        cluster
            .submit(uscc, PERIOD, 1_000 + 100 * i as i64, &format!("first-{i}"))
            .await;
    }
    let before = cluster
        .wait_classes(PERIOD, Duration::from_secs(60), |c| {
            c.len() == 10 && count(c, EnterpriseClass::A) == 1
        })
        .await;
    assert_eq!(
        (
            count(&before, EnterpriseClass::A),
            count(&before, EnterpriseClass::B),
            count(&before, EnterpriseClass::C)
        ),
        (1, 3, 6)
    );
    assert_eq!(
        before[&firms[9]],
        EnterpriseClass::A,
        "the highest tax per mu leads"
    );

    // Finance has heard of the first classes; from here on it must hear exactly the changes.
    // (How many first notices there were depends on how the returns were coalesced.)
    let (first, cursor) =
        watch_until_quiet(&cluster, "dev-finance", "", Duration::from_secs(3)).await;
    assert!(
        first.len() >= 4,
        "at least one A and three B reached finance: {first:?}"
    );

    // The weakest firm reports a correction that makes it the strongest: it enters A, the
    // old leader drops to B and the weakest of the old B firms drops to C.
    cluster
        .submit(&firms[0], PERIOD, 100_000, "correction-0")
        .await;
    let after = cluster
        .wait_classes(PERIOD, Duration::from_secs(60), |c| {
            c.get(&firms[0]) == Some(&EnterpriseClass::A)
        })
        .await;
    assert_eq!(after[&firms[0]], EnterpriseClass::A);
    assert_eq!(
        after[&firms[9]],
        EnterpriseClass::B,
        "the old leader now in B"
    );
    assert_eq!(
        after[&firms[6]],
        EnterpriseClass::C,
        "the weakest old B firm now in C"
    );

    let expected = finance_notices(&before, &after);
    // The newcomer entering A: one notice; the old leader leaving A and entering B: two.
    assert_eq!(expected.len(), 3, "{expected:?}");
    let (mut watched, _) =
        watch_until_quiet(&cluster, "dev-finance", &cursor, Duration::from_secs(4)).await;
    watched.sort();
    assert_eq!(
        watched, expected,
        "finance hears of exactly the firms whose class changed, once each"
    );

    // Finance lists only finance notices.
    let listed = cluster
        .notices()
        .await
        .list_notices(with_token(
            "dev-finance",
            ListNoticesRequest {
                page_size: 100,
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(
        listed
            .notices
            .iter()
            .all(|n| n.notice.as_ref().unwrap().department
                == haicheng_proto::common::v1::Department::Finance as i32)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn one_trace_runs_from_the_census_call_to_the_notice() {
    let collector = SpanCollector::start().await;
    let mut cluster = Cluster::start(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint.as_str()),
        ("RUST_LOG", "info"),
    ])
    .await;
    let firm = usccs(1);
    cluster.register(&firm).await;
    // The registration's event is consumed first, so the return is the period's last change.
    let db = cluster.classification_db().await;
    let registered = testkit::wait_until(Duration::from_secs(60), || {
        let db = db.clone();
        let uscc = firm[0].clone();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM enterprises WHERE uscc = $1")
                .bind(uscc)
                .fetch_one(&db)
                .await
                .is_ok_and(|n| n == 1)
        }
    })
    .await;
    assert!(registered, "classification applied the registration");

    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let mut request = with_token(
        "dev-commerce",
        haicheng_proto::census::v1::SubmitReturnRequest {
            client_request_id: "traced".into(),
            uscc: firm[0].clone(),
            period: testkit::period(PERIOD),
            indicators: Some(system_tests::cluster::indicators(2_000)),
            sources: None,
        },
    );
    request.metadata_mut().insert(
        "traceparent",
        format!("00-{trace_id}-00f067aa0ba902b7-01")
            .parse()
            .unwrap(),
    );
    cluster
        .census()
        .await
        .submit_return(request)
        .await
        .expect("the traced call");

    // A cohort of one is class C: commerce gets its upgrade-guidance notice.
    let notices = cluster.notices().await;
    let arrived = testkit::wait_until(Duration::from_secs(60), || {
        let mut notices = notices.clone();
        async move {
            let list = notices
                .list_notices(with_token("dev-commerce", ListNoticesRequest::default()))
                .await;
            list.is_ok_and(|l| !l.into_inner().notices.is_empty())
        }
    })
    .await;
    assert!(arrived, "the notice arrived");

    // A graceful stop flushes the exporters.
    assert!(cluster.classification.terminate().await.success());
    assert!(cluster.census.terminate().await.success());
    let spans = collector.trace(trace_id);
    let has =
        |service: &str, name: &str| spans.iter().any(|s| s.service == service && s.name == name);
    assert!(has("census", "grpc"), "the census call: {spans:#?}");
    assert!(
        has("census", "outbox.publish"),
        "the census relay: {spans:#?}"
    );
    assert!(
        has("classification", "inbox.consume"),
        "the consumers: {spans:#?}"
    );
    assert!(
        has("classification", "classification.rerank"),
        "the re-rank: {spans:#?}"
    );
    assert!(
        has("classification", "outbox.publish"),
        "the notice's publication: {spans:#?}"
    );
    let consumes = spans
        .iter()
        .filter(|s| s.service == "classification" && s.name == "inbox.consume")
        .count();
    assert!(
        consumes >= 2,
        "the census event and the notice were both consumed in the trace: {spans:#?}"
    );
}
