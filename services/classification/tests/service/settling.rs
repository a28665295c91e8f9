//! Net notices: a period's notices go out once it has settled, computed against the class
//! each firm was last notified of, not against the previous re-rank.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Arc,
    time::Duration,
};

use chrono::{DateTime, Utc};
use classification::{
    config::vars,
    domain::{
        Class,
        policy::{self, Cause, Transition},
    },
    store::{Store, settle::SettleOutcome},
};
use haicheng_proto::{
    classification::v1::{EnterpriseClassified, OverrideClassRequest},
    common::v1::EnterpriseClass,
    policy::v1::SupportPolicyNotice,
    topics,
};
use testkit::wait_until;

use crate::{App, collect, once_locked, set, spawn_app_with};

const PERIOD: &str = "2025";

/// Notices of a first class: 1 A (3 rules), 3 B (2 each), 6 C (2 each).
const FIRST_NOTICES: usize = 3 + 3 * 2 + 6 * 2;

/// Ten firms in one cohort: firm 0 leads (1090 yuan tax per mu), firm 1 follows (1080).
async fn cohort_of_ten(app: &App) -> Vec<String> {
    let codes: Vec<String> = (0..10).map(|i| app.uscc(i)).collect();
    for (i, code) in codes.iter().enumerate() {
        app.submit(code, PERIOD, 1, 1_090 - 10 * i as i64).await;
    }
    app.settled(PERIOD, 10, 10).await;
    codes
}

/// The service's store on the test's database, with the default notice rules.
fn store(app: &App) -> Store {
    let outbox = platform::Outbox::new("classification");
    Store::new(app.pool.clone(), outbox, Arc::new(policy::default_rules()))
}

/// The settle step, called directly (the service's own settle time is never reached).
async fn settle_now(app: &App) -> SettleOutcome {
    let store = store(app);
    once_locked(|| store.settle_period(PERIOD)).await
}

async fn class(app: &App, uscc: &str) -> EnterpriseClass {
    app.class_of(uscc).await.enterprise_class()
}

fn since(at: &Option<prost_types::Timestamp>, mark: DateTime<Utc>) -> bool {
    at.as_ref()
        .and_then(platform::time::from_timestamp)
        .is_some_and(|t| t >= mark)
}

/// The ids the default rules give for `uscc`'s `sequence`-th settled transition.
fn ids_of(uscc: &str, from: Class, to: Class, sequence: i64) -> BTreeSet<String> {
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

#[tokio::test(flavor = "multi_thread")]
async fn a_b_a_inside_the_settle_time_sends_nothing_and_each_genuine_move_gets_notices_of_its_own()
{
    // The service's settle time is an hour: only the direct calls below settle the period.
    let app = spawn_app_with(&[(vars::NOTICE_SETTLE, "60m")]).await;
    let codes = cohort_of_ten(&app).await;
    let (leader, reporter) = (&codes[0], &codes[1]);
    // Not quiet for an hour yet: the re-ranker's settle step leaves the period as it is.
    let store_now = store(&app);
    let early = once_locked(|| store_now.settle_if_due(PERIOD, Duration::from_secs(3_600))).await;
    assert_eq!(early, SettleOutcome::default());
    let notified: i64 = sqlx::query_scalar("SELECT count(*) FROM notified_classes")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(notified, 0, "nothing notified before the settle time");
    let first = settle_now(&app).await;
    assert_eq!(
        first,
        SettleOutcome {
            transitions: 10,
            notices: FIRST_NOTICES
        },
        "every firm's first class"
    );
    let mark = Utc::now();

    // The reporter overtakes the leader and falls back before the period settles.
    app.submit(reporter, PERIOD, 2, 1_100).await;
    app.settled(PERIOD, 10, 11).await;
    assert_eq!(class(&app, leader).await, EnterpriseClass::B);
    app.submit(reporter, PERIOD, 3, 1_080).await;
    app.settled(PERIOD, 10, 12).await;
    assert_eq!(class(&app, leader).await, EnterpriseClass::A);
    assert_eq!(
        settle_now(&app).await,
        SettleOutcome::default(),
        "A->B->A inside the settle time: no notice"
    );
    // The ranking's events flowed at every change all the same: two moves of two firms.
    let pair = set(&[leader.as_str(), reporter.as_str()]);
    let moves = collect::<EnterpriseClassified>(
        &app.topic(topics::CLASSIFICATION_EVENTS),
        |e| pair.contains(&e.uscc) && since(&e.classified_at, mark),
        4,
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(moves.len(), 4, "{moves:?}");

    // Three genuine moves, each settled: A->B, later B->A, later A->B for the leader, and
    // the reverse for the reporter.
    let mut last = None;
    for (revision, tax) in [(4, 1_100), (5, 1_080), (6, 1_100)] {
        last = Some(app.submit(reporter, PERIOD, revision, tax).await);
        app.settled(PERIOD, 10, 9 + revision).await;
        assert_eq!(
            settle_now(&app).await,
            SettleOutcome {
                transitions: 2,
                notices: 6
            },
            "revision {revision}: the leader's and the reporter's move, three notices each"
        );
    }
    assert_eq!(class(&app, leader).await, EnterpriseClass::B);

    // Replaying the last census event, and the same revision under a new event id, changes
    // nothing: a marker behind them on the same key shows they were consumed.
    let (event, payload) = last.expect("three moves");
    app.publish_again(&event, &payload).await;
    app.submit(reporter, PERIOD, 6, 1_100).await;
    app.submit(reporter, "2026", 1, 1_100).await;
    app.settled("2026", 1, 1).await;
    assert_eq!(settle_now(&app).await, SettleOutcome::default());

    // On the notice topic: exactly the three moves' notices, none for the eight firms whose
    // class never left the notified one, and every id distinct.
    let ours = set(&codes.iter().map(String::as_str).collect::<Vec<_>>());
    let notices = collect::<SupportPolicyNotice>(
        &app.topic(topics::POLICY_NOTICES),
        |n| ours.contains(&n.uscc) && since(&n.issued_at, mark),
        18,
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(notices.len(), 18, "{notices:?}");
    let mut by_firm: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for (_, n) in &notices {
        by_firm
            .entry(n.uscc.as_str())
            .or_default()
            .insert(n.notice_id.clone());
    }
    assert_eq!(
        by_firm.keys().copied().collect::<Vec<_>>(),
        {
            let mut pair = vec![leader.as_str(), reporter.as_str()];
            pair.sort();
            pair
        },
        "only the two firms that moved"
    );
    let mut want = ids_of(leader, Class::A, Class::B, 2);
    want.extend(ids_of(leader, Class::B, Class::A, 3));
    want.extend(ids_of(leader, Class::A, Class::B, 4));
    assert_eq!(want.len(), 9, "the second A->B has ids of its own");
    assert_eq!(by_firm[leader.as_str()], want);
    let mut want = ids_of(reporter, Class::B, Class::A, 2);
    want.extend(ids_of(reporter, Class::A, Class::B, 3));
    want.extend(ids_of(reporter, Class::B, Class::A, 4));
    assert_eq!(by_firm[reporter.as_str()], want);

    let notified: (i16, i64) = sqlx::query_as(concat!(
        "SELECT ",
        class_number!("class"),
        ", sequence FROM notified_classes WHERE period = $1 AND uscc = $2"
    ))
    .bind(PERIOD)
    .bind(leader)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(notified, (EnterpriseClass::B as i16, 4));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_re_ranker_sends_a_periods_notices_once_it_has_been_quiet_for_the_settle_time() {
    // Long enough that the load's re-ranks (a few, 200 ms apart) all fall inside it.
    let settle = Duration::from_secs(3);
    let app = spawn_app_with(&[(vars::NOTICE_SETTLE, "3s")]).await;
    let codes = cohort_of_ten(&app).await;
    let notified = wait_until(Duration::from_secs(60), || async {
        let count: i64 =
            sqlx::query_scalar("SELECT count(*) FROM notified_classes WHERE period = $1")
                .bind(PERIOD)
                .fetch_one(&app.pool)
                .await
                .unwrap();
        count == 10
    })
    .await;
    assert!(notified, "the period settled by itself");

    // The last change of class came no earlier than the start of the last re-rank that made
    // one: nothing was notified before the settle time had passed since.
    let (first_notice, last_change): (DateTime<Utc>, DateTime<Utc>) = sqlx::query_as(
        "SELECT (SELECT min(notified_at) FROM notified_classes WHERE period = $1),
                (SELECT max(started_at) FROM rerank_runs WHERE period = $1 AND changed_classes > 0)",
    )
    .bind(PERIOD)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(
        first_notice - last_change >= chrono::Duration::from_std(settle).unwrap(),
        "notified at {first_notice}, last change at {last_change} or later"
    );

    let ours = set(&codes.iter().map(String::as_str).collect::<Vec<_>>());
    let notices = collect::<SupportPolicyNotice>(
        &app.topic(topics::POLICY_NOTICES),
        |n| ours.contains(&n.uscc),
        FIRST_NOTICES,
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(notices.len(), FIRST_NOTICES, "one first class each, once");
    assert!(
        notices.iter().all(|(_, n)| n
            .transition
            .as_ref()
            .is_some_and(|t| t.from_class == EnterpriseClass::Unspecified as i32)),
        "the load's intermediate rankings were not notified"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_override_notifies_at_once_against_the_class_last_notified() {
    let app = spawn_app_with(&[(vars::NOTICE_SETTLE, "60m")]).await;
    let codes = cohort_of_ten(&app).await;
    let leader = &codes[0];
    assert_eq!(settle_now(&app).await.notices, FIRST_NOTICES);
    let mark = Utc::now();

    // Commerce moves the leader to C: its notices go out without waiting for a settle.
    app.client
        .clone()
        .override_class(crate::as_dept(
            "commerce",
            OverrideClassRequest {
                uscc: leader.clone(),
                enterprise_class: EnterpriseClass::C as i32,
                reason: "safety inspection 2025-31: falsified records".into(),
                period: None,
            },
        ))
        .await
        .expect("the override");
    let mine = |n: &SupportPolicyNotice| &n.uscc == leader && since(&n.issued_at, mark);
    let notices = collect::<SupportPolicyNotice>(
        &app.topic(topics::POLICY_NOTICES),
        mine,
        3,
        Duration::from_secs(60),
    )
    .await;
    let ids: BTreeSet<String> = notices.iter().map(|(_, n)| n.notice_id.clone()).collect();
    assert_eq!(
        ids,
        ids_of(leader, Class::A, Class::C, 2),
        "leaving A and entering C"
    );
    // The override is what the departments now know: settling finds nothing to send.
    assert_eq!(settle_now(&app).await, SettleOutcome::default());
    app.stop().await;
}

/// Every firm's class in force in `period`, through ListClasses.
async fn classes(app: &App, period: &str) -> BTreeMap<String, Option<Class>> {
    app.list_all(period, 500)
        .await
        .into_iter()
        .map(|c| {
            let class = Class::from_proto(c.enterprise_class);
            (c.uscc, class)
        })
        .collect()
}

/// The notices the default rules give for every firm whose class moved from `before` to `after`.
fn expected(
    before: &BTreeMap<String, Option<Class>>,
    after: &BTreeMap<String, Option<Class>>,
) -> SettleOutcome {
    let mut outcome = SettleOutcome::default();
    for (uscc, to) in after {
        let from = before.get(uscc).copied().flatten();
        let transition = Transition { from, to: *to };
        if transition.is_change() {
            outcome.transitions += 1;
            outcome.notices += policy::firing(&policy::default_rules(), transition).count();
        }
    }
    outcome
}

#[tokio::test(flavor = "multi_thread")]
async fn bursts_half_undone_settle_into_the_notices_of_the_net_moves_only() {
    let app = spawn_app_with(&[(vars::NOTICE_SETTLE, "60m")]).await;
    const FIRMS: usize = 300;
    let codes: Vec<String> = (0..FIRMS).map(|i| app.uscc(i)).collect();
    let tax = |i: usize, round: usize| 500 + ((i * 7_919 + round * 104_729) % 3_000) as i64;
    // Published concurrently, as an import would: partial cohorts are ranked meanwhile.
    futures::future::join_all(
        codes
            .iter()
            .enumerate()
            .map(|(i, code)| app.submit(code, PERIOD, 1, tax(i, 0))),
    )
    .await;
    app.settled(PERIOD, FIRMS as i64, FIRMS as i64).await;
    let first = classes(&app, PERIOD).await;
    assert_eq!(settle_now(&app).await, expected(&BTreeMap::new(), &first));

    // A second burst reshuffles the ranking, and a third takes half of it back, each
    // re-ranked before the next; the settle sends only the net moves.
    futures::future::join_all(
        codes
            .iter()
            .enumerate()
            .map(|(i, code)| app.submit(code, PERIOD, 2, tax(i, 1))),
    )
    .await;
    app.settled(PERIOD, FIRMS as i64, 2 * FIRMS as i64).await;
    let between = classes(&app, PERIOD).await;
    futures::future::join_all(
        codes
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 2 == 0)
            .map(|(i, code)| app.submit(code, PERIOD, 3, tax(i, 0))),
    )
    .await;
    app.settled(PERIOD, FIRMS as i64, 2 * FIRMS as i64 + FIRMS as i64 / 2)
        .await;
    let last = classes(&app, PERIOD).await;
    let churn = expected(&first, &between).transitions + expected(&between, &last).transitions;
    let net = expected(&first, &last);
    assert!(
        net.transitions > 0 && net.transitions < FIRMS,
        "some firms moved, not all: {net:?}"
    );
    assert!(
        churn > net.transitions,
        "some moves were undone before the settle: {churn} moves, {net:?}"
    );
    assert_eq!(settle_now(&app).await, net);
    println!(
        "{churn} class changes after the first settle, {} net transitions notified",
        net.transitions
    );

    let notified: Vec<(String, i16)> = sqlx::query_as(concat!(
        "SELECT uscc, ",
        class_number!("class"),
        " FROM notified_classes WHERE period = $1 ORDER BY uscc"
    ))
    .bind(PERIOD)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let in_force: Vec<(String, i16)> = last
        .iter()
        .filter(|(_, class)| class.is_some())
        .map(|(uscc, class)| {
            (
                uscc.clone(),
                classification::proto::class_to_proto(*class) as i16,
            )
        })
        .collect();
    assert_eq!(
        notified, in_force,
        "every firm is notified of its class in force"
    );
    app.stop().await;
}

/// A settle time of zero settles after every re-rank, a pending one included; any other
/// settle time waits for the pending re-rank.
#[tokio::test(flavor = "multi_thread")]
async fn a_zero_settle_time_does_not_wait_for_a_pending_re_rank() {
    // The service's own re-ranker and settle are held off (an hour each), so the rows below
    // stay as written while `due_periods` is asked with other settle times.
    let app = spawn_app_with(&[
        (vars::NOTICE_SETTLE, "60m"),
        (vars::RERANK_DEBOUNCE_MS, "3600000"),
        (vars::RERANK_MAX_DELAY_MS, "3600000"),
    ])
    .await;
    sqlx::query(
        "INSERT INTO unsettled_periods (period, last_change_at)
         VALUES ($1, now() - interval '1 minute')",
    )
    .bind(PERIOD)
    .execute(&app.pool)
    .await
    .unwrap();
    let due = |settle: Duration| {
        let store = store(&app);
        async move {
            let (due, _) = store.due_periods(settle).await.unwrap();
            due.into_iter()
                .map(|(period, _)| period)
                .collect::<Vec<_>>()
        }
    };
    let quiet_enough = Duration::from_secs(1);
    assert_eq!(due(quiet_enough).await, [PERIOD]);
    sqlx::query(
        "INSERT INTO dirty_periods (period, generation, first_dirty_at, last_dirty_at)
         VALUES ($1, 1, now(), now())",
    )
    .bind(PERIOD)
    .execute(&app.pool)
    .await
    .unwrap();
    assert!(
        due(quiet_enough).await.is_empty(),
        "a settle time waits for the pending re-rank"
    );
    assert_eq!(due(Duration::ZERO).await, [PERIOD]);
    app.stop().await;
}
