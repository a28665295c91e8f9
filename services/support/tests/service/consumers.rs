//! The read model from other services' events, and the calculator over it.

use haicheng_proto::{
    census::v1::{CensusIndicators, CensusReturnSubmitted, Enterprise, EnterpriseRegistered},
    classification::v1::{EnterpriseClassified, Grading, PeriodPublished, Publication},
    topics,
};
use tonic::Code;

use super::*;

async fn check(
    app: &App,
    who: &str,
    policy: &str,
    uscc: &str,
) -> Result<pb::CheckEligibilityResponse, tonic::Status> {
    app.client
        .clone()
        .check_eligibility(as_dev(
            who,
            pb::CheckEligibilityRequest {
                policy_id: policy.into(),
                uscc: uscc.into(),
            },
        ))
        .await
        .map(|r| r.into_inner())
}

#[tokio::test]
async fn facts_from_events_feed_the_calculator_once_however_often_they_arrive() {
    let app = spawn_app().await;
    let uscc = app.uscc(0);
    let enterprise = Enterprise {
        uscc: uscc.clone(),
        name: "Xiliu Knit".into(),
        park: common::Park::Xiliu as i32,
        segment: common::Segment::Textile as i32,
        registration_date: "2018-05-01".into(),
        status: 1,
        version: 1,
        ..Default::default()
    };
    app.publish(
        haicheng_proto::topics::CENSUS_EVENTS,
        &uscc,
        &EnterpriseRegistered {
            enterprise: Some(enterprise),
        },
    )
    .await;
    let submitted = CensusReturnSubmitted {
        uscc: uscc.clone(),
        period: Some(common::Period {
            code: PERIOD.into(),
        }),
        revision: 1,
        indicators: Some(CensusIndicators {
            rd_spend_fen: 250,
            revenue_fen: 10_000,
            ..Default::default()
        }),
        ..Default::default()
    };
    let (event, payload) = app.publish(topics::CENSUS_EVENTS, &uscc, &submitted).await;
    app.publish_again(topics::CENSUS_EVENTS, &event, &payload)
        .await;
    app.publish(
        topics::CLASSIFICATION_EVENTS,
        &uscc,
        &EnterpriseClassified {
            uscc: uscc.clone(),
            new_class: common::EnterpriseClass::A as i32,
            score: 88.0,
            period: Some(common::Period {
                code: PERIOD.into(),
            }),
            grading: Grading::Graded as i32,
            classified_at: Some(platform::time::to_timestamp(chrono::Utc::now())),
            ..Default::default()
        },
    )
    .await;

    let id = policy_id("calc");
    let mut s = spec(&id, fixed(5_000), 100_000);
    s.conditions = vec![
        pb::Condition {
            clause: Some(pb::condition::Clause::Class(pb::ClassCondition {
                classes: vec![common::EnterpriseClass::A as i32],
                view: pb::ClassView::InForce as i32,
            })),
        },
        pb::Condition {
            clause: Some(pb::condition::Clause::Indicator(pb::IndicatorCondition {
                indicator: pb::Indicator::RdShareBp as i32,
                at_least: 300,
            })),
        },
    ];
    app.put("commerce", s, 0).await.unwrap();
    let arrived = testkit::wait_until(Duration::from_secs(30), || async {
        check(&app, "commerce", &id, &uscc)
            .await
            .is_ok_and(|r| r.conditions[0].met && r.conditions[1].value == "250 bp")
    })
    .await;
    assert!(arrived, "the class and the return reach the read model");
    let own = check(&app, &format!("enterprise-{uscc}"), &id, &uscc)
        .await
        .unwrap();
    assert!(!own.eligible);
    assert_eq!(own.conditions[1].value, "250 bp");
    assert_eq!(own.conditions[1].gap, "50 bp short");
    let revisions: i64 = sqlx::query_scalar("SELECT revision FROM returns WHERE uscc = $1")
        .bind(&uscc)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(revisions, 1);
    let other = app.uscc(1);
    let not_own = check(&app, &format!("enterprise-{uscc}"), &id, &other)
        .await
        .unwrap_err();
    assert_eq!(not_own.code(), Code::PermissionDenied);
    app.stop().await;
}

#[tokio::test]
async fn the_class_as_published_is_the_last_before_publication_whatever_order_events_arrive() {
    let app = spawn_app().await;
    let uscc = app.uscc(0);
    app.seed(&uscc, Firm::default()).await;
    // Only the events below classify the firm.
    sqlx::query("DELETE FROM class_history WHERE uscc = $1")
        .bind(&uscc)
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query("DELETE FROM classes WHERE uscc = $1")
        .bind(&uscc)
        .execute(&app.pool)
        .await
        .unwrap();
    let now = chrono::Utc::now();
    let stamp = |at| Some(platform::time::to_timestamp(at));
    let classified = |class: common::EnterpriseClass, at| EnterpriseClassified {
        uscc: uscc.clone(),
        new_class: class as i32,
        period: Some(common::Period {
            code: PERIOD.into(),
        }),
        grading: Grading::Graded as i32,
        classified_at: stamp(at),
        ..Default::default()
    };
    // The publication arrives first, then the class it published, then an override after it.
    let published = PeriodPublished {
        publication: Some(Publication {
            period: Some(common::Period {
                code: PERIOD.into(),
            }),
            published_at: stamp(now),
            ..Default::default()
        }),
    };
    app.publish(topics::CLASSIFICATION_EVENTS, PERIOD, &published)
        .await;
    let later = now + chrono::Duration::seconds(60);
    app.publish(
        topics::CLASSIFICATION_EVENTS,
        &uscc,
        &classified(common::EnterpriseClass::C, later),
    )
    .await;
    let earlier = now - chrono::Duration::seconds(60);
    app.publish(
        topics::CLASSIFICATION_EVENTS,
        &uscc,
        &classified(common::EnterpriseClass::A, earlier),
    )
    .await;
    let period = Period::parse(PERIOD).unwrap();
    let settled = testkit::wait_until(Duration::from_secs(30), || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM class_history WHERE uscc = $1")
            .bind(&uscc)
            .fetch_one(&app.pool)
            .await
            .is_ok_and(|n| n == 2)
    })
    .await;
    assert!(settled, "both classifications arrived");
    let facts = app.store.facts_of(&uscc, period).await.unwrap().unwrap();
    assert_eq!(
        facts.class_published,
        Some(Class::A),
        "the last class before publication"
    );
    assert_eq!(
        facts.class_in_force,
        Some(Class::C),
        "the latest class, arrived before the older one"
    );
    app.stop().await;
}
