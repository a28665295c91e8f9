//! Objections (异议): the window counted in working days from the publication, upholding as
//! an override (audited, with its notices, kept across re-ranks and a new model), rejecting,
//! one undecided objection at a time, the events, and who may file, list and decide.

use std::time::Duration;

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use classification::{
    clock::Clock,
    config::vars,
    domain::{
        calendar::{self, Calendar, china_date, china_standard_time},
        objection::format_cst,
    },
};
use haicheng_proto::{
    classification::v1::{
        DecideObjectionRequest, EnterpriseClassified, FileObjectionRequest, GetModelRequest,
        ListObjectionsRequest, Objection, ObjectionDecided, ObjectionDecision, ObjectionFiled,
        ObjectionState, Publication, PublishPeriodRequest, SetModelRequest,
    },
    common::v1::EnterpriseClass,
    policy::v1::SupportPolicyNotice,
    topics,
};
use tonic::Code;

use testkit::{fields, with_token};

use crate::{App, as_dept, collect, period, spawn_app, spawn_app_at};

const PERIOD: &str = "2025";
const WINDOW: u32 = 5;

fn enterprise_token(uscc: &str) -> String {
    format!("dev-enterprise-{uscc}")
}

/// `n` firms of one cohort, the first the best; classes ranked and notices settled.
async fn cohort(app: &App, n: usize) -> Vec<String> {
    let codes: Vec<String> = (0..n).map(|i| app.uscc(i)).collect();
    for (i, code) in codes.iter().enumerate() {
        app.submit(code, PERIOD, 1, 2_000 - 50 * i as i64).await;
    }
    app.settled(PERIOD, n as i64, n as i64).await;
    codes
}

/// Publishes the period; the publication answered.
async fn publish(app: &App) -> Publication {
    app.client
        .clone()
        .publish_period(as_dept(
            "commerce",
            PublishPeriodRequest {
                period: period(PERIOD),
                note: "bulletin 2025-01".into(),
                ..Default::default()
            },
        ))
        .await
        .expect("PublishPeriod")
        .into_inner()
        .publication
        .expect("a publication")
}

fn filing(uscc: &str, reason: &str) -> FileObjectionRequest {
    FileObjectionRequest {
        period: period(PERIOD),
        uscc: uscc.into(),
        reason: reason.into(),
        evidence: vec!["tax-certificate-2025-0042".into()],
        requested_class: EnterpriseClass::A as i32,
    }
}

async fn file(
    app: &App,
    token: &str,
    request: FileObjectionRequest,
) -> Result<Objection, tonic::Status> {
    app.client
        .clone()
        .file_objection(with_token(token, request))
        .await
        .map(|r| r.into_inner().objection.expect("an objection"))
}

async fn decide(
    app: &App,
    id: i64,
    decision: ObjectionDecision,
    class: EnterpriseClass,
    reason: &str,
) -> Result<Objection, tonic::Status> {
    app.client
        .clone()
        .decide_objection(as_dept(
            "commerce",
            DecideObjectionRequest {
                objection_id: id,
                decision: decision as i32,
                enterprise_class: class as i32,
                reason: reason.into(),
            },
        ))
        .await
        .map(|r| r.into_inner().objection.expect("an objection"))
}

/// Makes time pass: moves the period's publication to 12:00 CST on `day`. The one place a
/// test writes the service's tables; waiting days for a deadline is not an option.
async fn published_on(app: &App, day: NaiveDate) -> DateTime<Utc> {
    let at = china_standard_time()
        .from_local_datetime(&day.and_time(NaiveTime::from_hms_opt(12, 0, 0).unwrap()))
        .unwrap()
        .with_timezone(&Utc);
    let moved = sqlx::query("UPDATE publications SET published_at = $2 WHERE period = $1")
        .bind(PERIOD)
        .bind(at)
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(moved.rows_affected(), 1);
    at
}

/// The working day whose window of `n` working days ends with `last`.
fn publication_day_for(calendar: &Calendar, last: NaiveDate, n: u32) -> NaiveDate {
    let mut day = last;
    loop {
        day = day.pred_opt().unwrap();
        if calendar.is_working_day(day) && calendar.nth_working_day_after(day, n) == last {
            return day;
        }
    }
}

/// Noon in China today: the instant the service's clock is fixed at, so "today" is one date
/// for the whole test, however long it takes and whenever it starts.
fn noon_today() -> DateTime<Utc> {
    let today = china_date(Utc::now());
    china_standard_time()
        .from_local_datetime(&today.and_time(NaiveTime::from_hms_opt(12, 0, 0).unwrap()))
        .unwrap()
        .with_timezone(&Utc)
}

#[tokio::test(flavor = "multi_thread")]
async fn an_objection_on_the_last_working_day_is_accepted_and_one_a_day_later_refused() {
    // Today (in China) is made a working day whatever it is: an adjusted working day if it is
    // a weekend. A holiday two days before stands in the window, so the service's calendar is
    // the configured one.
    let now = noon_today();
    let today = china_date(now);
    let holiday = today - chrono::Duration::days(2);
    let extra = if matches!(today.weekday(), Weekday::Sat | Weekday::Sun) {
        today.to_string()
    } else {
        String::new()
    };
    let app = spawn_app_at(
        Clock::Fixed(now),
        &[
            (vars::OBJECTION_WORKING_DAYS, "5"),
            (vars::NON_WORKING_DAYS, &holiday.to_string()),
            (vars::EXTRA_WORKING_DAYS, &extra),
        ],
    )
    .await;
    let calendar = Calendar::new([holiday], (!extra.is_empty()).then_some(today)).unwrap();
    assert!(calendar.is_working_day(today) && !calendar.is_working_day(holiday));
    let codes = cohort(&app, 4).await;
    publish(&app).await;

    // Published so that today is the window's last working day: accepted.
    let published_at = published_on(&app, publication_day_for(&calendar, today, WINDOW)).await;
    let expected = calendar::objection_deadline(published_at, &calendar, WINDOW);
    assert_eq!(china_date(expected - chrono::Duration::seconds(1)), today);
    let accepted = file(&app, "dev-commerce", filing(&codes[3], "misread land area"))
        .await
        .expect("an objection on the last working day");
    assert_eq!(accepted.state(), ObjectionState::Filed);
    assert_eq!(
        accepted
            .deadline
            .and_then(|t| platform::time::from_timestamp(&t)),
        Some(expected)
    );

    // Published one working day earlier: today is the day after the last one. Refused, with
    // the deadline in the message.
    let previous = publication_day_for(&calendar, today, WINDOW + 1);
    let published_at = published_on(&app, previous).await;
    let deadline = calendar::objection_deadline(published_at, &calendar, WINDOW);
    assert!(deadline <= Utc::now());
    let late = file(&app, "dev-commerce", filing(&codes[2], "misread land area"))
        .await
        .unwrap_err();
    assert_eq!(late.code(), Code::FailedPrecondition, "{late:?}");
    assert!(
        late.message().contains(&format_cst(deadline)),
        "{}",
        late.message()
    );
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM objections WHERE uscc = $1")
        .bind(&codes[2])
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(stored, 0, "nothing is written for a late objection");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upheld_objection_is_an_audited_override_with_notices_that_survives_re_ranks() {
    let app = spawn_app().await;
    let codes = cohort(&app, 10).await;
    let firm = codes[9].clone();
    assert_eq!(
        app.class_of(&firm).await.enterprise_class(),
        EnterpriseClass::C
    );
    publish(&app).await;

    let filed = file(
        &app,
        &enterprise_token(&firm),
        filing(&firm, "export sales omitted"),
    )
    .await
    .unwrap();
    assert_eq!(filed.class_at_filing(), EnterpriseClass::C);
    assert_eq!(filed.requested_class(), EnterpriseClass::A);
    let upheld = decide(
        &app,
        filed.id,
        ObjectionDecision::Uphold,
        EnterpriseClass::A,
        "customs declarations confirm the exports",
    )
    .await
    .unwrap();
    assert_eq!(upheld.state(), ObjectionState::Upheld);
    assert_eq!(upheld.decided_class(), EnterpriseClass::A);
    assert_eq!(upheld.decided_by, "department:commerce");
    assert!(upheld.decided_at.is_some());

    let class = app.class_of(&firm).await;
    assert_eq!(class.enterprise_class(), EnterpriseClass::A);
    assert_eq!(class.computed_class(), EnterpriseClass::C);
    assert!(class.overridden);
    let expected_reason = format!(
        "objection {} upheld: customs declarations confirm the exports",
        filed.id
    );
    assert_eq!(class.override_reason, expected_reason);

    // Audited through the override path.
    let audit: Vec<(String, Option<i16>, i16, String, String)> = sqlx::query_as(concat!(
        "SELECT action, ",
        optional_class_number!("override_class"),
        ", ",
        class_number!("class_before"),
        ", reason, principal FROM override_audit WHERE uscc = $1 AND period = $2"
    ))
    .bind(&firm)
    .bind(PERIOD)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        audit,
        vec![(
            "set".to_string(),
            Some(EnterpriseClass::A as i16),
            EnterpriseClass::C as i16,
            expected_reason.clone(),
            "department:commerce".to_string()
        )]
    );

    // Its notices at once: the three rules entering A fire on C -> A.
    let notices = collect::<SupportPolicyNotice>(
        &app.topic(topics::POLICY_NOTICES),
        |n| {
            n.uscc == firm
                && n.transition.as_ref().is_some_and(|t| {
                    t.from_class == EnterpriseClass::C as i32
                        && t.to_class == EnterpriseClass::A as i32
                })
        },
        3,
        Duration::from_secs(30),
    )
    .await;
    let mut kinds: Vec<&str> = notices.iter().map(|(_, n)| n.kind.as_str()).collect();
    kinds.sort_unstable();
    assert_eq!(
        kinds,
        [
            "fair_invitation",
            "key_support_fund_review",
            "land_priority"
        ]
    );
    let classified = collect::<EnterpriseClassified>(
        &app.topic(topics::CLASSIFICATION_EVENTS),
        |e| e.uscc == firm && e.overridden && e.new_class == EnterpriseClass::A as i32,
        1,
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(classified.len(), 1);
    assert_eq!(classified[0].1.override_reason, expected_reason);

    // A re-rank of the period keeps it.
    let before = app.reranks(PERIOD).await;
    app.submit(&codes[2], PERIOD, 2, 1_990).await;
    app.settled(PERIOD, 10, 11).await;
    assert!(app.reranks(PERIOD).await > before);
    let kept = app.class_of(&firm).await;
    assert_eq!(kept.enterprise_class(), EnterpriseClass::A);
    assert!(kept.overridden);

    // So does a new model version, which re-ranks every period.
    let mut model = app
        .client
        .clone()
        .get_model(as_dept("commerce", GetModelRequest { version: 0 }))
        .await
        .unwrap()
        .into_inner()
        .model
        .unwrap();
    model.quota_a_percent = 20.0;
    model.note = "two leaders per ten".into();
    app.client
        .clone()
        .set_model(as_dept(
            "commerce",
            SetModelRequest {
                model: Some(model),
                expected_version: 1,
            },
        ))
        .await
        .unwrap();
    assert!(
        testkit::wait_until(Duration::from_secs(30), || async {
            app.class_of(&firm).await.model_version == 2
        })
        .await,
        "the new version re-ranked the period"
    );
    app.settled(PERIOD, 10, 11).await;
    let kept = app.class_of(&firm).await;
    assert_eq!(kept.enterprise_class(), EnterpriseClass::A);
    assert_eq!(kept.computed_class(), EnterpriseClass::C);
    assert!(kept.overridden);
    assert_eq!(kept.override_reason, expected_reason);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rejected_objection_changes_nothing_and_one_waits_for_decision_at_a_time() {
    let app = spawn_app().await;
    let codes = cohort(&app, 5).await;
    let firm = codes[4].clone();

    let unpublished = file(&app, "dev-commerce", filing(&firm, "too early"))
        .await
        .unwrap_err();
    assert_eq!(unpublished.code(), Code::FailedPrecondition);
    assert!(
        unpublished.message().contains("not published"),
        "{}",
        unpublished.message()
    );
    let publication = publish(&app).await;

    let first = file(&app, "dev-commerce", filing(&firm, "patents not counted"))
        .await
        .unwrap();
    assert_eq!(first.filed_by, "department:commerce");
    assert_eq!(first.evidence, ["tax-certificate-2025-0042"]);
    // The window the publication announced is the one the objection is held to.
    assert!(publication.objection_deadline.is_some());
    assert_eq!(first.deadline, publication.objection_deadline);
    let second = file(&app, "dev-commerce", filing(&firm, "and the land"))
        .await
        .unwrap_err();
    assert_eq!(second.code(), Code::FailedPrecondition);
    assert!(
        second.message().contains("awaiting decision"),
        "{}",
        second.message()
    );

    let before = app.class_of(&firm).await;
    let rejected = decide(
        &app,
        first.id,
        ObjectionDecision::Reject,
        EnterpriseClass::Unspecified,
        "the patents were granted after the period",
    )
    .await
    .unwrap();
    assert_eq!(rejected.state(), ObjectionState::Rejected);
    assert_eq!(rejected.decided_class(), EnterpriseClass::Unspecified);
    assert_eq!(
        rejected.decision_reason,
        "the patents were granted after the period"
    );
    let after = app.class_of(&firm).await;
    assert_eq!(after.enterprise_class(), before.enterprise_class());
    assert!(!after.overridden);
    let audited: i64 = sqlx::query_scalar("SELECT count(*) FROM override_audit WHERE uscc = $1")
        .bind(&firm)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(audited, 0);
    let again = decide(
        &app,
        first.id,
        ObjectionDecision::Uphold,
        EnterpriseClass::A,
        "on second thought",
    )
    .await
    .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition);
    assert!(
        again.message().contains("already rejected"),
        "{}",
        again.message()
    );
    let unknown = decide(
        &app,
        999_999,
        ObjectionDecision::Reject,
        EnterpriseClass::Unspecified,
        "no",
    )
    .await
    .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);

    // Decided, the firm may object again.
    let third = file(&app, "dev-commerce", filing(&firm, "new evidence"))
        .await
        .unwrap();

    // The events, keyed by USCC.
    let filed = collect::<ObjectionFiled>(
        &app.topic(topics::CLASSIFICATION_EVENTS),
        |e| e.objection.as_ref().is_some_and(|o| o.uscc == firm),
        2,
        Duration::from_secs(30),
    )
    .await;
    let mut ids: Vec<i64> = filed
        .iter()
        .map(|(_, e)| e.objection.as_ref().unwrap().id)
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, [first.id, third.id]);
    assert!(filed.iter().all(|(key, _)| *key == firm));
    let decided = collect::<ObjectionDecided>(
        &app.topic(topics::CLASSIFICATION_EVENTS),
        |e| e.objection.as_ref().is_some_and(|o| o.uscc == firm),
        1,
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(decided.len(), 1);
    assert_eq!(decided[0].0, firm);
    assert_eq!(decided[0].1.objection.as_ref().unwrap(), &rejected);

    // Listing, filtered by state, newest first.
    let list = |state: ObjectionState| {
        let client = app.client.clone();
        async move {
            client
                .clone()
                .list_objections(as_dept(
                    "commerce",
                    ListObjectionsRequest {
                        period: period(PERIOD),
                        state: state as i32,
                        ..Default::default()
                    },
                ))
                .await
                .unwrap()
                .into_inner()
                .objections
        }
    };
    let all: Vec<i64> = list(ObjectionState::Unspecified)
        .await
        .iter()
        .map(|o| o.id)
        .collect();
    assert_eq!(all, [third.id, first.id]);
    let open: Vec<i64> = list(ObjectionState::Filed)
        .await
        .iter()
        .map(|o| o.id)
        .collect();
    assert_eq!(open, [third.id]);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_requests_name_their_fields() {
    let app = spawn_app().await;
    let codes = cohort(&app, 2).await;
    publish(&app).await;
    let bad = file(
        &app,
        "dev-commerce",
        FileObjectionRequest {
            period: None,
            uscc: "not-a-uscc".into(),
            reason: "  ".into(),
            evidence: vec!["ok".into(), " ".into(), "x".repeat(501)],
            requested_class: 9,
        },
    )
    .await
    .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    let mut named = fields(&bad);
    named.sort();
    assert_eq!(
        named,
        [
            "evidence[1]",
            "evidence[2]",
            "period",
            "reason",
            "requested_class",
            "uscc"
        ]
    );
    let too_many = FileObjectionRequest {
        evidence: vec!["doc".into(); 21],
        ..filing(&codes[0], "many papers")
    };
    let err = file(&app, "dev-commerce", too_many).await.unwrap_err();
    assert_eq!(fields(&err), ["evidence"]);

    let decided = app
        .client
        .clone()
        .decide_objection(as_dept(
            "commerce",
            DecideObjectionRequest {
                objection_id: 0,
                decision: ObjectionDecision::Uphold as i32,
                enterprise_class: 0,
                reason: String::new(),
            },
        ))
        .await
        .unwrap_err();
    let mut named = fields(&decided);
    named.sort();
    assert_eq!(named, ["enterprise_class", "objection_id", "reason"]);
    let reject_with_class = decide(&app, 1, ObjectionDecision::Reject, EnterpriseClass::B, "no")
        .await
        .unwrap_err();
    assert_eq!(fields(&reject_with_class), ["enterprise_class"]);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_enterprise_files_and_lists_only_its_own_and_only_commerce_decides() {
    let app = spawn_app().await;
    let codes = cohort(&app, 3).await;
    publish(&app).await;
    let (own, other) = (&codes[2], &codes[1]);
    let token = enterprise_token(own);

    let filed = file(&app, &token, filing(own, "our figures"))
        .await
        .unwrap();
    assert_eq!(filed.filed_by, format!("enterprise:{own}"));
    let foreign = file(&app, &token, filing(other, "theirs"))
        .await
        .unwrap_err();
    assert_eq!(foreign.code(), Code::PermissionDenied);
    file(&app, "dev-commerce", filing(other, "on its behalf"))
        .await
        .unwrap();

    // Listing: its own only, whatever it asks; another's USCC is denied.
    let listed = app
        .client
        .clone()
        .list_objections(with_token(&token, ListObjectionsRequest::default()))
        .await
        .unwrap()
        .into_inner()
        .objections;
    assert_eq!(listed.iter().map(|o| o.id).collect::<Vec<_>>(), [filed.id]);
    let denied = app
        .client
        .clone()
        .list_objections(with_token(
            &token,
            ListObjectionsRequest {
                uscc: other.clone(),
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);

    // Deciding is commerce's; a department without the admin scope may not file either.
    let decided = app
        .client
        .clone()
        .decide_objection(with_token(
            &token,
            DecideObjectionRequest {
                objection_id: filed.id,
                decision: ObjectionDecision::Uphold as i32,
                enterprise_class: EnterpriseClass::A as i32,
                reason: "we decide".into(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(decided.code(), Code::PermissionDenied);
    let finance = file(&app, "dev-finance", filing(own, "finance files"))
        .await
        .unwrap_err();
    assert_eq!(finance.code(), Code::PermissionDenied);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn filings_and_decisions_at_once_leave_one_of_each() {
    let app = spawn_app().await;
    let codes = cohort(&app, 3).await;
    publish(&app).await;
    let firm = codes[2].clone();

    // Eight filings for one firm at once: the partial unique index lets one through.
    let filings = (0..8).map(|i| {
        let app = &app;
        let request = filing(&firm, &format!("filing {i}"));
        async move { file(app, "dev-commerce", request).await }
    });
    let results = futures::future::join_all(filings).await;
    let filed: Vec<&Objection> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(filed.len(), 1, "{results:?}");
    for refused in results.iter().filter_map(|r| r.as_ref().err()) {
        assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    }
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM objections WHERE uscc = $1")
        .bind(&firm)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(stored, 1);

    // Two decisions at once: the objection's row lock lets one decide.
    let id = filed[0].id;
    let (upheld, rejected) = tokio::join!(
        decide(
            &app,
            id,
            ObjectionDecision::Uphold,
            EnterpriseClass::A,
            "yes"
        ),
        decide(
            &app,
            id,
            ObjectionDecision::Reject,
            EnterpriseClass::Unspecified,
            "no"
        ),
    );
    assert!(
        upheld.is_ok() != rejected.is_ok(),
        "{upheld:?} {rejected:?}"
    );
    let loser = upheld.as_ref().err().or(rejected.as_ref().err()).unwrap();
    assert_eq!(loser.code(), Code::FailedPrecondition);
    let audited: i64 = sqlx::query_scalar("SELECT count(*) FROM override_audit WHERE uscc = $1")
        .bind(&firm)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        audited,
        i64::from(upheld.is_ok()),
        "an override only if upheld"
    );
    app.stop().await;
}
