//! The final list (最终结果): finalizing is refused while the objection window is open
//! (naming the deadline) and while an objection awaits decision (naming it); then the final
//! view is the published view with the upheld classes replaced, sent as `PeriodFinalized`;
//! a period is finalized once, however many try at once; only commerce finalizes.

use std::time::Duration;

use chrono::{DateTime, NaiveTime, TimeZone, Utc};
use classification::domain::{calendar::china_standard_time, objection::format_cst};
use haicheng_proto::{
    classification::v1::{
        ClassView, Classification, DecideObjectionRequest, FileObjectionRequest,
        FinalizePeriodRequest, GetClassRequest, GetDistributionRequest, ListClassesRequest,
        ObjectionDecision, PeriodFinalized, PublishPeriodRequest,
    },
    common::v1::EnterpriseClass,
    topics,
};
use testkit::with_token;
use tonic::Code;

use crate::{App, as_dept, collect, period, spawn_app};

const PERIOD: &str = "2025";

async fn finalize(app: &App, token: &str) -> Result<(), tonic::Status> {
    app.client
        .clone()
        .finalize_period(with_token(
            token,
            FinalizePeriodRequest {
                period: period(PERIOD),
            },
        ))
        .await
        .map(|_| ())
}

async fn file(app: &App, uscc: &str) -> i64 {
    app.client
        .clone()
        .file_objection(as_dept(
            "commerce",
            FileObjectionRequest {
                period: period(PERIOD),
                uscc: uscc.into(),
                reason: "export sales omitted".into(),
                evidence: vec!["customs-2025-77".into()],
                requested_class: EnterpriseClass::A as i32,
            },
        ))
        .await
        .expect("FileObjection")
        .into_inner()
        .objection
        .expect("an objection")
        .id
}

async fn decide(app: &App, id: i64, decision: ObjectionDecision, class: EnterpriseClass) {
    app.client
        .clone()
        .decide_objection(as_dept(
            "commerce",
            DecideObjectionRequest {
                objection_id: id,
                decision: decision as i32,
                enterprise_class: class as i32,
                reason: "customs declarations checked".into(),
            },
        ))
        .await
        .expect("DecideObjection");
}

async fn list(app: &App, view: ClassView) -> Vec<Classification> {
    app.client
        .clone()
        .list_classes(as_dept(
            "finance",
            ListClassesRequest {
                period: period(PERIOD),
                page_size: 100,
                view: view as i32,
                ..Default::default()
            },
        ))
        .await
        .expect("ListClasses")
        .into_inner()
        .classifications
}

/// Makes the window pass: moves the publication to noon CST thirty days ago.
async fn window_passed(app: &App) -> DateTime<Utc> {
    let day = china_standard_time()
        .from_utc_datetime(&Utc::now().naive_utc())
        .date_naive()
        - chrono::Duration::days(30);
    let at = china_standard_time()
        .from_local_datetime(&day.and_time(NaiveTime::from_hms_opt(12, 0, 0).unwrap()))
        .unwrap()
        .with_timezone(&Utc);
    sqlx::query("UPDATE publications SET published_at = $2 WHERE period = $1")
        .bind(PERIOD)
        .bind(at)
        .execute(&app.pool)
        .await
        .unwrap();
    at
}

#[tokio::test(flavor = "multi_thread")]
async fn the_final_list_waits_for_the_window_and_every_decision_then_amends_the_published_one() {
    let app = spawn_app().await;
    let codes: Vec<String> = (0..5).map(|i| app.uscc(i)).collect();
    for (i, code) in codes.iter().enumerate() {
        app.submit(code, PERIOD, 1, 2_000 - 50 * i as i64).await;
    }
    app.settled(PERIOD, 5, 5).await;
    let publication = app
        .client
        .clone()
        .publish_period(as_dept(
            "commerce",
            PublishPeriodRequest {
                period: period(PERIOD),
                note: String::new(),
                ..Default::default()
            },
        ))
        .await
        .expect("PublishPeriod")
        .into_inner()
        .publication
        .unwrap();
    let deadline =
        platform::time::from_timestamp(&publication.objection_deadline.unwrap()).unwrap();
    let (upheld_firm, open_firm) = (&codes[4], &codes[3]);
    let upheld = file(&app, upheld_firm).await;
    decide(&app, upheld, ObjectionDecision::Uphold, EnterpriseClass::A).await;
    let open = file(&app, open_firm).await;

    let early = finalize(&app, "dev-commerce").await.unwrap_err();
    assert_eq!(early.code(), Code::FailedPrecondition);
    assert!(
        early.message().contains(&format_cst(deadline)),
        "{}",
        early.message()
    );
    for token in ["dev-finance", &format!("dev-enterprise-{upheld_firm}")] {
        let denied = finalize(&app, token).await.unwrap_err();
        assert_eq!(denied.code(), Code::PermissionDenied, "{token}");
    }

    window_passed(&app).await;
    let waiting = finalize(&app, "dev-commerce").await.unwrap_err();
    assert_eq!(waiting.code(), Code::FailedPrecondition);
    assert!(
        waiting
            .message()
            .contains(&format!("await decision: {open}")),
        "{}",
        waiting.message()
    );
    let not_yet = app
        .client
        .clone()
        .list_classes(as_dept(
            "finance",
            ListClassesRequest {
                period: period(PERIOD),
                view: ClassView::Final as i32,
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(not_yet.code(), Code::FailedPrecondition);
    decide(
        &app,
        open,
        ObjectionDecision::Reject,
        EnterpriseClass::Unspecified,
    )
    .await;

    // Four at once: one finalizes, the others are told when and by whom.
    let attempts = (0..4).map(|_| finalize(&app, "dev-commerce"));
    let results = futures::future::join_all(attempts).await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    for refused in results.iter().filter_map(|r| r.as_ref().err()) {
        assert_eq!(refused.code(), Code::FailedPrecondition);
        assert!(
            refused.message().contains("was finalized at"),
            "{}",
            refused.message()
        );
    }
    let again = finalize(&app, "dev-commerce").await.unwrap_err();
    assert!(
        again.message().contains("department:commerce"),
        "{}",
        again.message()
    );

    let published = list(&app, ClassView::Published).await;
    let last = list(&app, ClassView::Final).await;
    assert_eq!(published.len(), 5);
    assert_eq!(published[4].uscc, *upheld_firm);
    assert_ne!(published[4].enterprise_class(), EnterpriseClass::A);
    let mut expected = published.clone();
    let amended = &mut expected[4];
    amended.enterprise_class = EnterpriseClass::A as i32;
    assert_eq!(
        last.iter()
            .map(|c| (c.uscc.clone(), c.enterprise_class))
            .collect::<Vec<_>>(),
        expected
            .iter()
            .map(|c| (c.uscc.clone(), c.enterprise_class))
            .collect::<Vec<_>>(),
        "the published list with the upheld class replaced"
    );
    assert!(last[4].overridden);
    assert!(
        last[4]
            .override_reason
            .contains(&format!("objection {upheld} upheld"))
    );
    let one = app
        .client
        .clone()
        .get_class(with_token(
            &format!("dev-enterprise-{upheld_firm}"),
            GetClassRequest {
                uscc: upheld_firm.clone(),
                period: period(PERIOD),
                view: ClassView::Final as i32,
            },
        ))
        .await
        .expect("a firm reads its own final class")
        .into_inner();
    assert_eq!(
        one.classification.unwrap().enterprise_class(),
        EnterpriseClass::A
    );

    let counts = |view: ClassView| {
        let mut client = app.client.clone();
        async move {
            let total = client
                .get_distribution(as_dept(
                    "finance",
                    GetDistributionRequest {
                        period: period(PERIOD),
                        view: view as i32,
                    },
                ))
                .await
                .expect("GetDistribution")
                .into_inner()
                .total
                .expect("a total");
            (total.class_a, total.class_b, total.class_c)
        }
    };
    let (a, b, c) = counts(ClassView::Published).await;
    assert_eq!(counts(ClassView::Final).await, (a + 1, b, c - 1));

    let events = collect::<PeriodFinalized>(
        &app.topic(topics::CLASSIFICATION_EVENTS),
        |e| {
            e.finalization
                .as_ref()
                .is_some_and(|f| f.period.as_ref().is_some_and(|p| p.code == PERIOD))
        },
        1,
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(events.len(), 1, "one finalization, one event");
    let (_, event) = &events[0];
    assert_eq!(event.classes.len(), 5);
    let amendments = &event.finalization.as_ref().unwrap().amendments;
    assert_eq!(amendments.len(), 1);
    assert_eq!(amendments[0].uscc, *upheld_firm);
    assert_eq!(amendments[0].final_class(), EnterpriseClass::A);
    assert_eq!(amendments[0].objection_id, upheld);
    app.stop().await;
}

/// A publication that announces no window (development mode's rehearsal, as the demo does) is
/// finalized at once, and objections to it are refused as out of time; one that announces a
/// longer window than configured keeps objections open past the configured deadline.
#[tokio::test(flavor = "multi_thread")]
async fn a_publication_announces_its_own_window() {
    let app = spawn_app().await;
    let code = app.uscc(0);
    app.submit(&code, PERIOD, 1, 2_000).await;
    app.settled(PERIOD, 1, 1).await;
    let publish = |days: u32, period_code: &'static str| {
        let mut client = app.client.clone();
        async move {
            client
                .publish_period(as_dept(
                    "commerce",
                    PublishPeriodRequest {
                        period: period(period_code),
                        objection_working_days: Some(days),
                        ..Default::default()
                    },
                ))
                .await
        }
    };
    let refused = publish(31, PERIOD).await.unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(
        refused.message().contains("objection_working_days"),
        "{refused:?}"
    );

    let publication = publish(0, PERIOD)
        .await
        .expect("PublishPeriod")
        .into_inner();
    let publication = publication.publication.unwrap();
    assert_eq!(publication.objection_working_days, Some(0));
    assert_eq!(publication.objection_deadline, publication.published_at);
    let late = app
        .client
        .clone()
        .file_objection(as_dept(
            "commerce",
            FileObjectionRequest {
                period: period(PERIOD),
                uscc: code.clone(),
                reason: "export sales omitted".into(),
                evidence: vec!["customs-2025-77".into()],
                requested_class: EnterpriseClass::A as i32,
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(late.code(), Code::FailedPrecondition, "{late:?}");
    finalize(&app, "dev-commerce")
        .await
        .expect("finalized at once");
    assert_eq!(list(&app, ClassView::Final).await.len(), 1);

    app.submit(&code, "2024", 1, 2_000).await;
    app.settled("2024", 1, 1).await;
    let longer = publish(7, "2024")
        .await
        .expect("PublishPeriod")
        .into_inner();
    let longer = longer.publication.unwrap();
    let configured = classification::domain::calendar::ObjectionWindow::default();
    let published_at = platform::time::from_timestamp(&longer.published_at.unwrap()).unwrap();
    let deadline = platform::time::from_timestamp(&longer.objection_deadline.unwrap()).unwrap();
    assert!(
        deadline > configured.deadline(published_at),
        "{deadline} is later than 5 days"
    );
    app.stop().await;
}
