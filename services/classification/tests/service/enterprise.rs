//! Enterprise principals (`dev-enterprise-<USCC>`): an enterprise reads its own class and
//! explanation, every indicator with its unit, and is PERMISSION_DENIED for another
//! enterprise's and for every list, the model, the distribution and every change.

use haicheng_proto::classification::v1::{
    ExplainRequest, GetClassRequest, GetDistributionRequest, GetModelRequest, ListClassesRequest,
    OverrideClassRequest, PublishPeriodRequest,
};
use platform::auth::TokenTable;
use tonic::{Code, Request};

use crate::{period, spawn_app};

const PERIOD: &str = "2024";

fn as_firm<T>(uscc: &str, message: T) -> Request<T> {
    testkit::with_token(&TokenTable::development_enterprise_token(uscc), message)
}

#[tokio::test(flavor = "multi_thread")]
async fn an_enterprise_reads_its_own_class_and_explanation_and_nothing_else() {
    let app = spawn_app().await;
    let codes: Vec<String> = (0..10).map(|i| app.uscc(i)).collect();
    for (i, code) in codes.iter().enumerate() {
        app.submit(code, PERIOD, 1, 2_000 - 50 * i as i64).await;
    }
    app.settled(PERIOD, 10, 10).await;
    // The second firm is a B with a gap to A: its explanation has every part.
    let (own, other) = (&codes[1], &codes[0]);
    let mut client = app.client.clone();

    let class = client
        .get_class(as_firm(
            own,
            GetClassRequest {
                uscc: own.clone(),
                ..Default::default()
            },
        ))
        .await
        .expect("an enterprise reads its own class")
        .into_inner()
        .classification
        .unwrap();
    assert_eq!(&class.uscc, own);
    assert_eq!(
        class,
        app.class_of(own).await,
        "the same answer a department gets"
    );

    let explained = client
        .explain(as_firm(
            own,
            ExplainRequest {
                uscc: own.clone(),
                period: period(PERIOD),
                ..Default::default()
            },
        ))
        .await
        .expect("an enterprise reads its own explanation")
        .into_inner();
    let breakdown = &explained.classification.as_ref().unwrap().breakdown;
    assert!(!breakdown.is_empty());
    for score in breakdown {
        assert!(!score.unit.is_empty(), "{score:?} carries its unit");
    }
    let tax = breakdown
        .iter()
        .find(|s| s.indicator() == haicheng_proto::classification::v1::Indicator::TaxPerMu)
        .unwrap();
    assert_eq!(tax.unit, "yuan per mu");
    let gap = explained.next_class_gap.expect("a B firm has a gap to A");
    for indicator in &gap.indicators {
        assert!(!indicator.unit.is_empty(), "{indicator:?} carries its unit");
    }

    let denied = [
        client
            .get_class(as_firm(
                own,
                GetClassRequest {
                    uscc: other.clone(),
                    ..Default::default()
                },
            ))
            .await
            .unwrap_err(),
        client
            .explain(as_firm(
                own,
                ExplainRequest {
                    uscc: other.clone(),
                    ..Default::default()
                },
            ))
            .await
            .unwrap_err(),
        client
            .list_classes(as_firm(own, ListClassesRequest::default()))
            .await
            .unwrap_err(),
        client
            .get_distribution(as_firm(own, GetDistributionRequest::default()))
            .await
            .unwrap_err(),
        client
            .get_model(as_firm(own, GetModelRequest::default()))
            .await
            .unwrap_err(),
        client
            .override_class(as_firm(
                own,
                OverrideClassRequest {
                    uscc: own.clone(),
                    enterprise_class: haicheng_proto::common::v1::EnterpriseClass::A as i32,
                    reason: "we would like A".into(),
                    period: period(PERIOD),
                },
            ))
            .await
            .unwrap_err(),
        client
            .publish_period(as_firm(
                own,
                PublishPeriodRequest {
                    period: period(PERIOD),
                    ..Default::default()
                },
            ))
            .await
            .unwrap_err(),
    ];
    for status in denied {
        assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    }
    // The refused override changed nothing.
    assert_eq!(
        app.class_of(own).await.enterprise_class,
        class.enterprise_class
    );
    app.stop().await;
}

/// Explain for `uscc` in `period` as `request` wraps it (a department's or the firm's token).
async fn gap_of(
    app: &crate::App,
    request: Request<ExplainRequest>,
) -> haicheng_proto::classification::v1::NextClassGap {
    app.client
        .clone()
        .explain(request)
        .await
        .expect("Explain")
        .into_inner()
        .next_class_gap
        .expect("a B firm has a gap to A")
}

#[tokio::test(flavor = "multi_thread")]
async fn an_enterprise_sees_the_boundary_in_a_band_and_a_published_period_only_as_published() {
    use haicheng_proto::classification::v1::ClassView;
    let app = spawn_app().await;
    let codes: Vec<String> = (0..10).map(|i| app.uscc(i)).collect();
    for (i, code) in codes.iter().enumerate() {
        app.submit(code, PERIOD, 1, 2_000 - 53 * i as i64).await;
    }
    app.settled(PERIOD, 10, 10).await;
    let own = &codes[1];
    let explain = || ExplainRequest {
        uscc: own.clone(),
        period: period(PERIOD),
        ..Default::default()
    };

    // The boundary is the lowest A's score: a department sees it exactly, the firm the upper
    // edge of its 5-point band, and its gaps against that edge.
    let exact = gap_of(&app, crate::as_dept("commerce", explain())).await;
    let banded = gap_of(&app, as_firm(own, explain())).await;
    assert_eq!(
        banded.boundary_score,
        (exact.boundary_score / 5.0).ceil() * 5.0
    );
    assert!(banded.banded && !exact.banded);
    assert!(banded.boundary_score >= exact.boundary_score);
    let score = exact.boundary_score - exact.score_gap;
    assert!((banded.score_gap - (banded.boundary_score - score)).abs() < 1e-9);
    for (firm, department) in banded.indicators.iter().zip(&exact.indicators) {
        assert_eq!(firm.indicator, department.indicator);
        assert!(
            firm.required_value >= department.required_value,
            "{firm:?} {department:?}"
        );
    }

    // Not published yet: the firm reads the current ranking, as a department does.
    let class_as = |view: ClassView| {
        as_firm(
            own,
            GetClassRequest {
                uscc: own.clone(),
                period: period(PERIOD),
                view: view as i32,
            },
        )
    };
    let before = app
        .client
        .clone()
        .get_class(class_as(ClassView::Current))
        .await
        .expect("the current class before publication")
        .into_inner()
        .classification
        .unwrap();
    app.client
        .clone()
        .publish_period(crate::as_dept(
            "commerce",
            PublishPeriodRequest {
                period: period(PERIOD),
                note: String::new(),
                ..Default::default()
            },
        ))
        .await
        .expect("publishing");

    // A later return lifts the firm to A in the current ranking only.
    app.submit(own, PERIOD, 2, 9_000).await;
    app.settled(PERIOD, 10, 11).await;
    let current = app.class_of(own).await;
    assert_ne!(
        current.enterprise_class, before.enterprise_class,
        "{current:?}"
    );

    // The firm reads the ranking as published, with the view unset or PUBLISHED, and is
    // refused the current one.
    for view in [ClassView::Unspecified, ClassView::Published] {
        let seen = app
            .client
            .clone()
            .get_class(class_as(view))
            .await
            .expect("the published class")
            .into_inner()
            .classification
            .unwrap();
        assert_eq!(seen.enterprise_class, before.enterprise_class, "{view:?}");
    }
    let refused = app
        .client
        .clone()
        .get_class(class_as(ClassView::Current))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    assert!(refused.message().contains("PUBLISHED"), "{refused:?}");
    let refused = app
        .client
        .clone()
        .explain(as_firm(
            own,
            ExplainRequest {
                view: ClassView::Current as i32,
                ..explain()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    let explained = app
        .client
        .clone()
        .explain(as_firm(own, explain()))
        .await
        .expect("the published explanation")
        .into_inner();
    assert_eq!(
        explained.classification.unwrap().enterprise_class,
        before.enterprise_class
    );
}
