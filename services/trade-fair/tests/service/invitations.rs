//! Consumers through the real broker: an enterprise entering class A is invited once to
//! every external fair whose window is open, however often the event arrives; leaving A
//! withdraws the invitations it has not used; census events feed eligibility.

use std::time::Duration;

use chrono::Utc;
use haicheng_proto::{
    census::v1::{
        CensusIndicators, CensusReturnSubmitted, Enterprise, EnterpriseRegistered, EnterpriseSize,
    },
    classification::v1::EnterpriseClassified,
    common::v1::EnterpriseClass,
    fair::v1 as pb,
    topics,
};
use platform::time::to_timestamp;
use testkit::wait_until;

use crate::{App, FirmSpec, as_dept, collect, fair_plan, hours, spawn_app};

fn classified(
    uscc: &str,
    old: EnterpriseClass,
    new: EnterpriseClass,
    period: &str,
) -> EnterpriseClassified {
    EnterpriseClassified {
        uscc: uscc.into(),
        old_class: old as i32,
        new_class: new as i32,
        period: testkit::period(period),
        classified_at: Some(to_timestamp(Utc::now())),
        ..Default::default()
    }
}

async fn consumed(app: &App, events: i64) {
    let done = wait_until(Duration::from_secs(60), || async {
        app.inbox_rows().await >= events
    })
    .await;
    assert!(done, "{events} events reached the inbox");
}

async fn invitations(app: &App, uscc: &str) -> Vec<pb::Invitation> {
    app.client
        .clone()
        .list_invitations(as_dept(
            "commerce",
            pb::ListInvitationsRequest {
                uscc: uscc.into(),
                ..Default::default()
            },
        ))
        .await
        .expect("ListInvitations")
        .into_inner()
        .invitations
}

#[tokio::test(flavor = "multi_thread")]
async fn an_a_class_event_delivered_twice_invites_once_to_each_open_external_fair() {
    let app = spawn_app().await;
    let open = app
        .create_fair(fair_plan(
            pb::FairKind::CantonFair,
            pb::AllocationMode::Scored,
            10,
        ))
        .await;
    app.create_fair(fair_plan(
        pb::FairKind::LocalCraft,
        pb::AllocationMode::FirstCome,
        10,
    ))
    .await;
    let mut later = fair_plan(pb::FairKind::CpmMoscow, pb::AllocationMode::Scored, 10);
    later.registration_opens_at = Some(to_timestamp(Utc::now() + hours(2)));
    app.create_fair(later).await;

    let uscc = app.uscc(0);
    let event = classified(&uscc, EnterpriseClass::B, EnterpriseClass::A, "2025");
    let (ce, payload) = app
        .events
        .publish(topics::CLASSIFICATION_EVENTS, &uscc, &event)
        .await;
    app.events
        .publish_again(topics::CLASSIFICATION_EVENTS, &ce, &payload)
        .await;
    // The same news under a new event id (a re-publication) is no new entry into A either.
    app.events
        .publish(topics::CLASSIFICATION_EVENTS, &uscc, &event)
        .await;
    // Two ids, three messages: the redelivered id left no second inbox row. All three sit on
    // one partition (keyed by USCC), so the second id's row means all were consumed.
    consumed(&app, 2).await;
    let found = invitations(&app, &uscc).await;
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].fair_id, open.id);
    assert_eq!(found[0].status(), pb::InvitationStatus::Issued);
    assert_eq!(found[0].enterprise_class(), EnterpriseClass::A);

    let topic = app.topic(topics::FAIR_EVENTS);
    let issued = collect::<pb::InvitationIssued>(
        &topic,
        |e| e.invitation.as_ref().is_some_and(|i| i.uscc == uscc),
        1,
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(issued.len(), 1, "one InvitationIssued");
    assert_eq!(issued[0].fair.as_ref().unwrap().id, open.id);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn leaving_class_a_withdraws_an_unused_invitation_but_not_a_used_one() {
    let app = spawn_app().await;
    let fair = app
        .create_fair(fair_plan(
            pb::FairKind::ChinaBrandFairBudapest,
            pb::AllocationMode::Scored,
            10,
        ))
        .await;
    let (idle, applicant) = (app.uscc(0), app.uscc(1));
    for uscc in [&idle, &applicant] {
        app.seed(
            uscc,
            FirmSpec {
                class: None,
                ..FirmSpec::default()
            },
        )
        .await;
        app.events
            .publish(
                topics::CLASSIFICATION_EVENTS,
                uscc,
                &classified(uscc, EnterpriseClass::B, EnterpriseClass::A, "2025"),
            )
            .await;
    }
    consumed(&app, 2).await;
    app.apply(&fair.id, &applicant, 1)
        .await
        .expect("the invited firm applies");
    for uscc in [&idle, &applicant] {
        app.events
            .publish(
                topics::CLASSIFICATION_EVENTS,
                uscc,
                &classified(uscc, EnterpriseClass::A, EnterpriseClass::B, "2025"),
            )
            .await;
    }
    consumed(&app, 4).await;
    let idle_invitation = &invitations(&app, &idle).await[0];
    assert_eq!(idle_invitation.status(), pb::InvitationStatus::Withdrawn);
    assert!(idle_invitation.withdrawn_at.is_some());
    assert_eq!(
        invitations(&app, &applicant).await[0].status(),
        pb::InvitationStatus::Applied
    );

    let withdrawn = collect::<pb::InvitationWithdrawn>(
        &app.topic(topics::FAIR_EVENTS),
        |e| e.invitation.as_ref().is_some_and(|i| i.fair_id == fair.id),
        1,
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(withdrawn.len(), 1);
    assert_eq!(withdrawn[0].invitation.as_ref().unwrap().uscc, idle);

    // An older period's class never replaces the newer one.
    app.events
        .publish(
            topics::CLASSIFICATION_EVENTS,
            &idle,
            &classified(&idle, EnterpriseClass::B, EnterpriseClass::A, "2024"),
        )
        .await;
    consumed(&app, 5).await;
    assert_eq!(
        invitations(&app, &idle).await[0].status(),
        pb::InvitationStatus::Withdrawn
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn census_events_make_a_firm_eligible_and_a_sweep_invites_leaders_to_a_new_fair() {
    let app = spawn_app().await;
    let uscc = app.uscc(0);
    let registered = EnterpriseRegistered {
        enterprise: Some(Enterprise {
            uscc: uscc.clone(),
            name: "Haicheng Knitwear".into(),
            size: EnterpriseSize::Small as i32,
            version: 1,
            ..Default::default()
        }),
    };
    app.events
        .publish(topics::CENSUS_EVENTS, &uscc, &registered)
        .await;
    let submitted = CensusReturnSubmitted {
        uscc: uscc.clone(),
        period: testkit::period("2025"),
        revision: 1,
        indicators: Some(CensusIndicators {
            export_sales_fen: 3_000_000_000,
            ..Default::default()
        }),
        ..Default::default()
    };
    app.events
        .publish(topics::CENSUS_EVENTS, &uscc, &submitted)
        .await;
    app.events
        .publish(
            topics::CLASSIFICATION_EVENTS,
            &uscc,
            &classified(&uscc, EnterpriseClass::B, EnterpriseClass::A, "2025"),
        )
        .await;
    consumed(&app, 3).await;
    assert!(
        invitations(&app, &uscc).await.is_empty(),
        "no external fair was open"
    );

    // A fair created afterwards: the sweep invites the leader it has not invited yet, once.
    let fair = app
        .create_fair(fair_plan(
            pb::FairKind::CantonFair,
            pb::AllocationMode::Scored,
            10,
        ))
        .await;
    let swept = trade_fair::sweeper::sweep_once(&app.store, Utc::now())
        .await
        .unwrap();
    assert_eq!(swept.invitations, 1);
    let again = trade_fair::sweeper::sweep_once(&app.store, Utc::now())
        .await
        .unwrap();
    assert_eq!(again.invitations, 0);

    let registration = app
        .apply(&fair.id, &uscc, 1)
        .await
        .expect("eligible from the census events");
    assert_eq!(registration.enterprise_class(), EnterpriseClass::A);
    app.stop().await;
}

/// An enterprise principal lists its own invitations only: an empty filter or a fair's
/// filter is narrowed to its USCC, another firm's USCC is PERMISSION_DENIED, and every other
/// method refuses it.
#[tokio::test(flavor = "multi_thread")]
async fn an_enterprise_lists_only_its_own_invitations() {
    let app = spawn_app().await;
    let fair = app
        .create_fair(fair_plan(
            pb::FairKind::CantonFair,
            pb::AllocationMode::Scored,
            10,
        ))
        .await;
    let (own, other) = (app.uscc(0), app.uscc(1));
    for uscc in [&own, &other] {
        app.events
            .publish(
                topics::CLASSIFICATION_EVENTS,
                uscc,
                &classified(uscc, EnterpriseClass::B, EnterpriseClass::A, "2025"),
            )
            .await;
    }
    consumed(&app, 2).await;
    assert_eq!(invitations(&app, &other).await.len(), 1, "both are invited");

    let token = platform::auth::TokenTable::development_enterprise_token(&own);
    let as_firm = |request| testkit::with_token(&token, request);
    let mut client = app.client.clone();
    for request in [
        pb::ListInvitationsRequest::default(),
        pb::ListInvitationsRequest {
            fair_id: fair.id.clone(),
            ..Default::default()
        },
        pb::ListInvitationsRequest {
            uscc: own.clone(),
            ..Default::default()
        },
    ] {
        let found = client
            .list_invitations(as_firm(request.clone()))
            .await
            .unwrap_or_else(|s| panic!("{request:?}: {s:?}"))
            .into_inner()
            .invitations;
        assert_eq!(found.len(), 1, "{request:?}: {found:?}");
        assert_eq!(found[0].uscc, own);
        assert_eq!(found[0].fair_id, fair.id);
    }
    let status = client
        .list_invitations(as_firm(pb::ListInvitationsRequest {
            uscc: other.clone(),
            ..Default::default()
        }))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::PermissionDenied, "{status:?}");

    let denied = [
        client
            .list_fairs(testkit::with_token(&token, pb::ListFairsRequest::default()))
            .await
            .unwrap_err(),
        client
            .list_registrations(testkit::with_token(
                &token,
                pb::ListRegistrationsRequest {
                    fair_id: fair.id.clone(),
                    ..Default::default()
                },
            ))
            .await
            .unwrap_err(),
        client
            .apply(testkit::with_token(
                &token,
                pb::ApplyRequest {
                    fair_id: fair.id.clone(),
                    uscc: own.clone(),
                    ..Default::default()
                },
            ))
            .await
            .unwrap_err(),
        client
            .list_subsidies(testkit::with_token(
                &token,
                pb::ListSubsidiesRequest {
                    year: 2027,
                    uscc: own.clone(),
                },
            ))
            .await
            .unwrap_err(),
    ];
    for status in denied {
        assert_eq!(status.code(), tonic::Code::PermissionDenied, "{status:?}");
    }
    app.stop().await;
}
