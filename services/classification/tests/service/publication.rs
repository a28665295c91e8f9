//! Publication (公示): a period's ranking published as a snapshot that later returns,
//! re-ranks and overrides leave as it was; its notices sent at once; once per period; commerce
//! only; reads "as published" refused for a period not published.

use std::time::Duration;

use chrono::Utc;
use classification::{config::vars, domain::calendar::ObjectionWindow};
use haicheng_proto::{
    classification::v1::{
        ClassView, Classification, ExplainRequest, ExplainResponse, GetClassRequest,
        GetDistributionRequest, GetDistributionResponse, ListClassesRequest, OverrideClassRequest,
        PeriodPublished, Publication, PublishPeriodRequest,
    },
    common::v1::EnterpriseClass,
    policy::v1::SupportPolicyNotice,
    topics,
};
use testkit::{fields, wait_until};
use tonic::{Code, Status};

use crate::{App, as_dept, collect, period, set, spawn_app, spawn_app_with};

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

async fn publish(app: &App, who: &str, code: &str, note: &str) -> Result<Publication, Status> {
    app.client
        .clone()
        .publish_period(as_dept(
            who,
            PublishPeriodRequest {
                period: testkit::period(code),
                note: note.into(),
                ..Default::default()
            },
        ))
        .await
        .map(|r| r.into_inner().publication.expect("a publication"))
}

fn view(published: bool) -> i32 {
    if published {
        ClassView::Published as i32
    } else {
        ClassView::Current as i32
    }
}

async fn get_class(app: &App, uscc: &str, published: bool) -> Result<Classification, Status> {
    app.client
        .clone()
        .get_class(as_dept(
            "finance",
            GetClassRequest {
                uscc: uscc.into(),
                period: period(PERIOD),
                view: view(published),
            },
        ))
        .await
        .map(|r| r.into_inner().classification.expect("a classification"))
}

async fn explain(app: &App, uscc: &str, published: bool) -> ExplainResponse {
    app.client
        .clone()
        .explain(as_dept(
            "finance",
            ExplainRequest {
                uscc: uscc.into(),
                period: period(PERIOD),
                view: view(published),
            },
        ))
        .await
        .expect("Explain")
        .into_inner()
}

/// Every classification of the period in one view, three to a page (paging included).
async fn list(app: &App, published: bool) -> Vec<Classification> {
    let mut all = Vec::new();
    let mut token = String::new();
    loop {
        let page = app
            .client
            .clone()
            .list_classes(as_dept(
                "finance",
                ListClassesRequest {
                    page_size: 3,
                    page_token: token,
                    period: period(PERIOD),
                    view: view(published),
                    ..Default::default()
                },
            ))
            .await
            .expect("ListClasses")
            .into_inner();
        all.extend(page.classifications);
        if page.next_page_token.is_empty() {
            return all;
        }
        token = page.next_page_token;
    }
}

async fn distribution(app: &App, published: bool) -> GetDistributionResponse {
    app.client
        .clone()
        .get_distribution(as_dept(
            "finance",
            GetDistributionRequest {
                period: None,
                view: view(published),
            },
        ))
        .await
        .expect("GetDistribution")
        .into_inner()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_published_snapshot_does_not_change_when_a_later_return_moves_the_current_class() {
    let app = spawn_app().await;
    let codes = cohort_of_ten(&app).await;
    let (leader, reporter) = (&codes[0], &codes[1]);

    // Nothing is published yet: reading as published is refused, naming the period.
    let refused = get_class(&app, leader, true).await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    assert!(
        refused.message().contains("period 2025 is not published"),
        "{refused:?}"
    );

    let published = publish(&app, "commerce", PERIOD, "Haicheng commerce notice 2026-7").await;
    let published = published.expect("publishing");
    assert_eq!(published.period, period(PERIOD));
    assert_eq!(published.enterprises, 10);
    assert_eq!(published.model_version, 1);
    assert_eq!(published.published_by, "department:commerce");
    assert_eq!(published.note, "Haicheng commerce notice 2026-7");
    let at = published
        .published_at
        .as_ref()
        .and_then(platform::time::from_timestamp)
        .expect("a publication time");
    assert!(
        (Utc::now() - at).num_seconds().abs() < 60,
        "published at {at}"
    );
    // The default window: five working days after the day of publication, in CST.
    let deadline = published
        .objection_deadline
        .as_ref()
        .and_then(platform::time::from_timestamp);
    assert_eq!(deadline, Some(ObjectionWindow::default().deadline(at)));
    assert!(deadline.is_some_and(|d| d - at >= chrono::Duration::days(5)));

    // As published and current agree right after publishing.
    let leader_then = get_class(&app, leader, true).await.expect("as published");
    assert_eq!(leader_then, get_class(&app, leader, false).await.unwrap());
    assert_eq!(leader_then.enterprise_class(), EnterpriseClass::A);
    let listed_then = list(&app, true).await;
    assert_eq!(listed_then.len(), 10);
    assert_eq!(listed_then, list(&app, false).await);
    let explained_then = explain(&app, reporter, true).await;
    assert_eq!(explained_then, explain(&app, reporter, false).await);
    let counted_then = distribution(&app, true).await;
    assert_eq!(
        counted_then
            .total
            .as_ref()
            .map(|t| t.class_a + t.class_b + t.class_c),
        Some(10)
    );

    // Later: the reporter's correction overtakes the leader, a new firm files its return,
    // and commerce overrides a third firm. The current ranking moves; the published one not.
    app.submit(reporter, PERIOD, 2, 1_200).await;
    let newcomer = app.uscc(10);
    app.submit(&newcomer, PERIOD, 1, 500).await;
    app.settled(PERIOD, 11, 12).await;
    app.client
        .clone()
        .override_class(as_dept(
            "commerce",
            OverrideClassRequest {
                uscc: codes[5].clone(),
                enterprise_class: EnterpriseClass::A as i32,
                reason: "objection upheld: audited figures".into(),
                period: period(PERIOD),
            },
        ))
        .await
        .expect("the override");

    let leader_now = get_class(&app, leader, false).await.unwrap();
    assert_eq!(
        leader_now.enterprise_class(),
        EnterpriseClass::B,
        "moved now"
    );
    assert_eq!(get_class(&app, leader, true).await.unwrap(), leader_then);
    let listed_now = list(&app, false).await;
    assert_eq!(listed_now.len(), 11);
    assert_ne!(listed_now, listed_then);
    assert_eq!(
        list(&app, true).await,
        listed_then,
        "the published listing as it was"
    );
    let explained_now = explain(&app, reporter, false).await;
    assert_ne!(
        explained_now.classification.as_ref().map(|c| &c.breakdown),
        explained_then.classification.as_ref().map(|c| &c.breakdown),
        "the current benchmarks moved with the new figures"
    );
    assert_eq!(
        explain(&app, reporter, true).await,
        explained_then,
        "the published explanation, breakdown, gap and notes as they were"
    );
    let counted_now = distribution(&app, false).await;
    assert_ne!(counted_now, counted_then, "11 firms and an override now");
    assert_eq!(distribution(&app, true).await, counted_then);
    // A firm that was not in the published ranking has no published class.
    let absent = get_class(&app, &newcomer, true).await.unwrap_err();
    assert_eq!(absent.code(), Code::NotFound, "{absent:?}");

    // A period is published once: the second call names when it was.
    let again = publish(&app, "commerce", PERIOD, "").await.unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition, "{again:?}");
    assert!(
        again.message().contains("was published at")
            && again.message().contains("department:commerce"),
        "{again:?}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn publishing_re_ranks_a_pending_period_and_sends_its_notices_at_once() {
    // The re-ranker never re-ranks nor settles on its own here: only publishing does.
    let app = spawn_app_with(&[
        (vars::NOTICE_SETTLE, "60m"),
        (vars::RERANK_DEBOUNCE_MS, "3600000"),
        (vars::RERANK_MAX_DELAY_MS, "3600000"),
    ])
    .await;
    let codes: Vec<String> = (0..10).map(|i| app.uscc(i)).collect();
    for (i, code) in codes.iter().enumerate() {
        app.submit(code, PERIOD, 1, 1_090 - 10 * i as i64).await;
    }
    let consumed = wait_until(Duration::from_secs(60), || async {
        let returns: i64 =
            sqlx::query_scalar("SELECT count(*) FROM census_returns WHERE period = $1")
                .bind(PERIOD)
                .fetch_one(&app.pool)
                .await
                .unwrap();
        returns == 10
    })
    .await;
    assert!(consumed, "the ten returns reached the read model");
    let pool = &app.pool;
    let count = |sql: &'static str| async move {
        let n: i64 = sqlx::query_scalar(sql).fetch_one(pool).await.unwrap();
        n
    };
    assert_eq!(
        count("SELECT count(*) FROM dirty_periods").await,
        1,
        "a re-rank pending"
    );
    assert_eq!(count("SELECT count(*) FROM classifications").await, 0);

    let mark = Utc::now();
    let published = publish(&app, "commerce", PERIOD, "")
        .await
        .expect("publishing");
    assert_eq!(published.enterprises, 10, "re-ranked first, then published");
    // In the publishing transaction: every firm notified, nothing left to settle or re-rank.
    assert_eq!(count("SELECT count(*) FROM notified_classes").await, 10);
    assert_eq!(count("SELECT count(*) FROM unsettled_periods").await, 0);
    assert_eq!(count("SELECT count(*) FROM dirty_periods").await, 0);

    let ours = set(&codes.iter().map(String::as_str).collect::<Vec<_>>());
    let notices = collect::<SupportPolicyNotice>(
        &app.topic(topics::POLICY_NOTICES),
        |n| ours.contains(&n.uscc),
        FIRST_NOTICES,
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(
        notices.len(),
        FIRST_NOTICES,
        "every firm's first class, once"
    );
    assert!(notices.iter().all(|(_, n)| {
        n.issued_at
            .as_ref()
            .and_then(platform::time::from_timestamp)
            .is_some_and(|t| t >= mark - chrono::Duration::seconds(1))
    }));
    let events = collect::<PeriodPublished>(
        &app.topic(topics::CLASSIFICATION_EVENTS),
        |e| {
            e.publication
                .as_ref()
                .is_some_and(|p| p.period == period(PERIOD))
        },
        1,
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].0, PERIOD, "keyed by period");
    assert_eq!(events[0].1.publication.as_ref(), Some(&published));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn only_commerce_publishes_and_bad_input_names_its_field() {
    let app = spawn_app().await;
    let codes = cohort_of_ten(&app).await;

    let denied = publish(&app, "finance", PERIOD, "").await.unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied, "{denied:?}");
    // An enterprise, even about its own period's ranking, does not publish.
    let own = format!("enterprise-{}", codes[0]);
    let denied = publish(&app, &own, PERIOD, "").await.unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied, "{denied:?}");

    let bad = publish(&app, "commerce", "2025Q5", "").await.unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument, "{bad:?}");
    assert_eq!(fields(&bad), ["period.code"]);
    let missing = app
        .client
        .clone()
        .publish_period(as_dept("commerce", PublishPeriodRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::InvalidArgument);
    assert_eq!(fields(&missing), ["period"]);
    let long = publish(&app, "commerce", PERIOD, &"x".repeat(2_001))
        .await
        .unwrap_err();
    assert_eq!(fields(&long), ["note"]);

    // A period without classes has nothing to publish.
    let empty = publish(&app, "commerce", "2019", "").await.unwrap_err();
    assert_eq!(empty.code(), Code::FailedPrecondition, "{empty:?}");
    assert!(empty.message().contains("2019"), "{empty:?}");

    // Reads as published: an unknown view is bad input; a period not published is refused.
    let unknown = app
        .client
        .clone()
        .get_class(as_dept(
            "finance",
            GetClassRequest {
                uscc: codes[0].clone(),
                period: None,
                view: 9,
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(fields(&unknown), ["view"]);
    let listing = app
        .client
        .clone()
        .list_classes(as_dept(
            "finance",
            ListClassesRequest {
                period: period("2024"),
                view: ClassView::Published as i32,
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(listing.code(), Code::FailedPrecondition);
    assert!(
        listing.message().contains("period 2024 is not published"),
        "{listing:?}"
    );
    let counts = app
        .client
        .clone()
        .get_distribution(as_dept(
            "finance",
            GetDistributionRequest {
                period: None,
                view: ClassView::Published as i32,
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(
        counts.code(),
        Code::FailedPrecondition,
        "no period published yet"
    );

    // Refused attempts left nothing behind: the period publishes normally.
    let published = publish(&app, "commerce", PERIOD, "")
        .await
        .expect("publishing");
    assert_eq!(published.enterprises, 10);
    let counted = distribution(&app, true).await;
    assert_eq!(
        counted.period,
        period(PERIOD),
        "the latest published period"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_return_committed_while_publishing_rolls_the_attempt_back_with_its_notices() {
    let app = spawn_app_with(&[(vars::NOTICE_SETTLE, "60m")]).await;
    cohort_of_ten(&app).await;
    // Stands in for a return committed between the re-rank and the copy of the snapshot: each
    // copy marks the period dirty, as a return's own transaction does.
    sqlx::query(
        "CREATE FUNCTION test_return_meanwhile() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
             INSERT INTO dirty_periods (period, generation, first_dirty_at, last_dirty_at)
             VALUES ('2025', 1, now(), now())
             ON CONFLICT (period) DO UPDATE SET generation = dirty_periods.generation + 1;
             RETURN NULL;
         END $$",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    sqlx::query(
        "CREATE TRIGGER test_return_meanwhile AFTER INSERT ON published_classifications
         FOR EACH STATEMENT EXECUTE FUNCTION test_return_meanwhile()",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let refused = publish(&app, "commerce", PERIOD, "").await.unwrap_err();
    assert_eq!(refused.code(), Code::Aborted, "{refused:?}");
    assert!(
        refused.message().contains("nothing was published"),
        "{refused:?}"
    );
    let pool = &app.pool;
    let count = |sql: &'static str| async move {
        let n: i64 = sqlx::query_scalar(sql).fetch_one(pool).await.unwrap();
        n
    };
    // Every attempt rolled back: no publication, no snapshot, no notice, still unsettled.
    assert_eq!(count("SELECT count(*) FROM publications").await, 0);
    assert_eq!(
        count("SELECT count(*) FROM published_classifications").await,
        0
    );
    assert_eq!(count("SELECT count(*) FROM notified_classes").await, 0);
    assert_eq!(count("SELECT count(*) FROM unsettled_periods").await, 1);
    assert_eq!(count("SELECT count(*) FROM dirty_periods").await, 0);

    sqlx::query("DROP TRIGGER test_return_meanwhile ON published_classifications")
        .execute(&app.pool)
        .await
        .unwrap();
    let published = publish(&app, "commerce", PERIOD, "")
        .await
        .expect("publishing");
    assert_eq!(published.enterprises, 10);
    assert_eq!(count("SELECT count(*) FROM notified_classes").await, 10);
    app.stop().await;
}
