//! The chain the platform exists for: a census return re-ranks the cohort, and every
//! enterprise whose class changed, not only the reporter, gets an event and its notices.

use std::{collections::BTreeSet, time::Duration};

use chrono::{DateTime, Utc};

use classification::{
    domain::{
        Class,
        policy::{self, Cause, Transition},
    },
    store::{Store, settle},
};
use haicheng_proto::{
    classification::v1::EnterpriseClassified, common::v1::EnterpriseClass,
    policy::v1::SupportPolicyNotice, topics,
};

use crate::{App, collect, once_locked, set, spawn_app};

const PERIOD: &str = "2025";

/// Ten firms in one cohort (A 1, B 3, C 6): firm 0 leads with 1090 yuan tax per mu, firm 1
/// follows with 1080, the rest 1070 … 1000. Returns the codes and the time the cohort
/// settled: events before it include the load's intermediate rankings (partitions are
/// consumed interleaved, so a partial cohort may be ranked first).
async fn cohort_of_ten(app: &App) -> (Vec<String>, DateTime<Utc>) {
    let codes: Vec<String> = (0..10).map(|i| app.uscc(i)).collect();
    for (i, code) in codes.iter().enumerate() {
        app.submit(code, PERIOD, 1, 1_090 - 10 * i as i64).await;
    }
    app.settled(PERIOD, 10, 10).await;
    assert_eq!(
        app.class_of(&codes[0]).await.enterprise_class(),
        EnterpriseClass::A
    );
    assert_eq!(
        app.class_of(&codes[1]).await.enterprise_class(),
        EnterpriseClass::B
    );
    (codes, Utc::now())
}

fn since(at: &Option<prost_types::Timestamp>, mark: DateTime<Utc>) -> bool {
    at.as_ref()
        .and_then(platform::time::from_timestamp)
        .is_some_and(|t| t >= mark)
}

/// The notice ids the default rules give for a firm's transition, the last one it was
/// notified of (its sequence number is read back: the load's intermediate rankings may
/// already have notified the firm more than once).
async fn expected_notice_ids(app: &App, uscc: &str, from: Class, to: Class) -> BTreeSet<String> {
    let sequence: i64 =
        sqlx::query_scalar("SELECT sequence FROM notified_classes WHERE period = $1 AND uscc = $2")
            .bind(PERIOD)
            .bind(uscc)
            .fetch_one(&app.pool)
            .await
            .expect("the firm was notified");
    let transition = Transition {
        from: Some(from),
        to: Some(to),
    };
    let cause = Cause {
        uscc,
        name: "",
        period: PERIOD,
        model_version: 1,
        transition,
        sequence,
    };
    policy::firing(&policy::default_rules(), transition)
        .map(|rule| policy::notice_id(&cause, &rule.id).to_string())
        .collect()
}

fn is_change(notice: &SupportPolicyNotice) -> bool {
    notice
        .transition
        .as_ref()
        .is_some_and(|t| t.from_class != EnterpriseClass::Unspecified as i32)
}

/// This cohort's class events issued since `mark`.
async fn changed_events(
    app: &App,
    codes: &[String],
    mark: DateTime<Utc>,
    expected: usize,
) -> Vec<(String, EnterpriseClassified)> {
    let ours = set(&codes.iter().map(String::as_str).collect::<Vec<_>>());
    collect::<EnterpriseClassified>(
        &app.topic(topics::CLASSIFICATION_EVENTS),
        |e| ours.contains(&e.uscc) && since(&e.classified_at, mark),
        expected,
        Duration::from_secs(60),
    )
    .await
}

/// This cohort's notices of class changes (not first classes) issued since `mark`.
async fn change_notices(
    app: &App,
    codes: &[String],
    mark: DateTime<Utc>,
    expected: usize,
) -> Vec<(String, SupportPolicyNotice)> {
    let ours = set(&codes.iter().map(String::as_str).collect::<Vec<_>>());
    collect::<SupportPolicyNotice>(
        &app.topic(topics::POLICY_NOTICES),
        |n| ours.contains(&n.uscc) && is_change(n) && since(&n.issued_at, mark),
        expected,
        Duration::from_secs(60),
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_return_that_moves_another_enterprise_across_the_a_b_boundary_yields_events_and_notices_for_both()
 {
    let app = spawn_app().await;
    let (codes, mark) = cohort_of_ten(&app).await;
    let (leader, reporter) = (&codes[0], &codes[1]);

    // The reporter's corrected return (revision 2) overtakes the leader; the leader files nothing.
    app.submit(reporter, PERIOD, 2, 1_100).await;
    app.settled(PERIOD, 10, 11).await;
    assert_eq!(
        app.class_of(reporter).await.enterprise_class(),
        EnterpriseClass::A
    );
    assert_eq!(
        app.class_of(leader).await.enterprise_class(),
        EnterpriseClass::B
    );

    let events = changed_events(&app, &codes, mark, 2).await;
    let mut moves: Vec<(String, i32, i32)> = events
        .iter()
        .map(|(key, e)| {
            assert_eq!(key, &e.uscc, "events are keyed by USCC");
            assert_eq!(e.period.as_ref().map(|p| p.code.as_str()), Some(PERIOD));
            assert_eq!((e.cohort_size, e.model_version), (10, 1));
            (e.uscc.clone(), e.old_class, e.new_class)
        })
        .collect();
    moves.sort();
    let mut expected = vec![
        (
            leader.clone(),
            EnterpriseClass::A as i32,
            EnterpriseClass::B as i32,
        ),
        (
            reporter.clone(),
            EnterpriseClass::B as i32,
            EnterpriseClass::A as i32,
        ),
    ];
    expected.sort();
    assert_eq!(
        moves, expected,
        "one event each for the reporter and the enterprise it displaced"
    );
    let reporter_event = &events.iter().find(|(_, e)| &e.uscc == reporter).unwrap().1;
    assert_eq!(reporter_event.rank, 1);

    let notices = change_notices(&app, &codes, mark, 6).await;
    let ids: BTreeSet<String> = notices.iter().map(|(_, n)| n.notice_id.clone()).collect();
    assert_eq!(ids.len(), notices.len(), "no notice twice: {notices:?}");
    let mut want = expected_notice_ids(&app, leader, Class::A, Class::B).await;
    want.extend(expected_notice_ids(&app, reporter, Class::B, Class::A).await);
    assert_eq!(
        ids, want,
        "leaving A and entering B for one, entering A for the other"
    );
    let mut routed: Vec<(String, String, String)> = notices
        .iter()
        .map(|(key, n)| (n.uscc.clone(), key.clone(), n.kind.clone()))
        .collect();
    routed.sort();
    let mut expected_routes = vec![
        (
            leader.clone(),
            "finance".to_string(),
            "key_support_ended".to_string(),
        ),
        (
            leader.clone(),
            "finance".into(),
            "targeted_support_package".into(),
        ),
        (
            leader.clone(),
            "human_resources".into(),
            "skills_training".into(),
        ),
        (
            reporter.clone(),
            "commerce".into(),
            "fair_invitation".into(),
        ),
        (
            reporter.clone(),
            "finance".into(),
            "key_support_fund_review".into(),
        ),
        (
            reporter.clone(),
            "natural_resources".into(),
            "land_priority".into(),
        ),
    ];
    expected_routes.sort();
    assert_eq!(routed, expected_routes, "keyed by department");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn replaying_the_same_census_event_yields_no_new_notice() {
    let app = spawn_app().await;
    let (codes, mark) = cohort_of_ten(&app).await;
    let (event, payload) = app.submit(&codes[1], PERIOD, 2, 1_100).await;
    app.settled(PERIOD, 10, 11).await;
    assert_eq!(change_notices(&app, &codes, mark, 6).await.len(), 6);
    let reranks = app.reranks(PERIOD).await;

    // The same delivery twice more, and the same revision under a new event id.
    app.publish_again(&event, &payload).await;
    app.publish_again(&event, &payload).await;
    app.submit(&codes[1], PERIOD, 2, 1_100).await;
    // A marker behind them on the same key (same partition): once it is applied, so were they.
    app.submit(&codes[1], "2026", 1, 1_100).await;
    app.settled("2026", 1, 1).await;

    assert_eq!(
        app.reranks(PERIOD).await,
        reranks,
        "nothing to re-rank: nothing changed"
    );
    let notices = change_notices(&app, &codes, mark, 6).await;
    assert_eq!(notices.len(), 6, "no new notice: {notices:?}");

    // Re-ranking the period again (as after a crash before the dirty mark was cleared)
    // reproduces no transition, so no notice either.
    sqlx::query("INSERT INTO dirty_periods VALUES ($1, 1, now(), now())")
        .bind(PERIOD)
        .execute(&app.pool)
        .await
        .unwrap();
    let outbox = platform::Outbox::new("classification");
    let rules = std::sync::Arc::new(policy::default_rules());
    let store = Store::new(app.pool.clone(), outbox, rules);
    let outcome = once_locked(|| store.rerank_period(PERIOD)).await;
    assert_eq!(outcome.changed_classes, 0);
    // And settling it again finds every class in force already notified.
    let settled = once_locked(|| store.settle_period(PERIOD)).await;
    assert_eq!(settled, settle::SettleOutcome::default());
    assert_eq!(
        change_notices(&app, &codes, mark, 6).await.len(),
        6,
        "still no new notice"
    );
    app.stop().await;
}
