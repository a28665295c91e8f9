//! The land queue: class first, then score, then time; a classification event moves an
//! application up; allocation grants the head.

use std::time::Duration;

use haicheng_proto::{
    classification::v1::EnterpriseClassified,
    common::v1::{EnterpriseClass, Park, Segment},
    land::v1 as pb,
    topics,
};
use platform::time::to_timestamp;

use super::*;

async fn apply(app: &App, uscc: &str) -> pb::LandApplication {
    app.client
        .clone()
        .submit_land_application(with_token(
            NATURAL_RESOURCES,
            pb::SubmitLandApplicationRequest {
                uscc: uscc.into(),
                park: Park::Nantai as i32,
                land_use: pb::LandUse::Industrial as i32,
                area_centi_mu: 1_000,
                supply_mode: pb::SupplyMode::FlexibleTerm as i32,
                purpose: "luggage workshop".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .application
        .unwrap()
}

async fn queue(app: &App) -> Vec<String> {
    app.client
        .clone()
        .list_land_applications(with_token(
            COMMERCE,
            pb::ListLandApplicationsRequest {
                park: Park::Nantai as i32,
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .applications
        .into_iter()
        .map(|a| a.uscc)
        .collect()
}

async fn classify(app: &App, uscc: &str, class: EnterpriseClass, score: f64) {
    let event = EnterpriseClassified {
        uscc: uscc.into(),
        new_class: class as i32,
        score,
        period: testkit::period("2025"),
        classified_at: Some(to_timestamp(chrono::Utc::now())),
        ..Default::default()
    };
    app.events
        .publish(topics::CLASSIFICATION_EVENTS, uscc, &event)
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_classification_event_moves_an_application_up_the_queue() {
    let app = spawn_app().await;
    let [first, second, third] = [app.uscc(1), app.uscc(2), app.uscc(3)];
    for uscc in [&first, &second, &third] {
        app.enterprise(uscc, Segment::LuggageLeather, Park::Nantai)
            .await;
        apply(&app, uscc).await;
    }
    assert_eq!(
        queue(&app).await,
        [first.clone(), second.clone(), third.clone()],
        "by time while unclassified"
    );

    classify(&app, &second, EnterpriseClass::B, 60.0).await;
    classify(&app, &third, EnterpriseClass::B, 75.0).await;
    let expected = [third.clone(), second.clone(), first.clone()];
    assert!(
        wait_until(Duration::from_secs(30), || async {
            queue(&app).await == expected
        })
        .await,
        "B before unclassified, the higher score first: {:?}",
        queue(&app).await
    );
    classify(&app, &first, EnterpriseClass::A, 10.0).await;
    let expected = [first.clone(), third.clone(), second.clone()];
    assert!(
        wait_until(Duration::from_secs(30), || async {
            queue(&app).await == expected
        })
        .await,
        "the A-class firm moves to the head: {:?}",
        queue(&app).await
    );

    // A re-rank of an older period, classified later, does not replace the latest period's
    // class: the event is applied (the inbox has it) and the firm stays at the head.
    let stale = EnterpriseClassified {
        uscc: first.clone(),
        new_class: EnterpriseClass::C as i32,
        score: 5.0,
        period: testkit::period("2024"),
        classified_at: Some(to_timestamp(
            chrono::Utc::now() + chrono::Duration::hours(1),
        )),
        ..Default::default()
    };
    let (event, _) = app
        .events
        .publish(topics::CLASSIFICATION_EVENTS, &first, &stale)
        .await;
    let pool = &app.service.pool;
    assert!(
        wait_until(Duration::from_secs(30), || async {
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM inbox WHERE event_id = $1")
                .bind(event.id)
                .fetch_one(pool)
                .await
                .is_ok_and(|n| n == 1)
        })
        .await,
        "the stale event was handled"
    );
    assert_eq!(queue(&app).await, expected, "still at the head");

    // Allocation grants the head with every check of a grant, and it leaves the queue.
    let parcel = app
        .register_parcel(&parcel_id("Q"), Park::Nantai, 1_000)
        .await;
    let request = grant_request(&parcel, &first);
    let allocated = app
        .client
        .clone()
        .allocate_land(with_token(
            NATURAL_RESOURCES,
            pb::AllocateLandRequest {
                parcel_id: parcel.id.clone(),
                expected_version: parcel.version,
                supply: request.supply,
                contract: request.contract,
                commitments: request.commitments,
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(allocated.grant.unwrap().uscc, first);
    assert_eq!(
        allocated.application.unwrap().status(),
        pb::ApplicationStatus::Granted
    );
    assert_eq!(queue(&app).await, [third, second]);
}
