//! The waitlist: a cancellation offers the freed booth to the head of the list (class, then
//! time); the offer's lapse passes it on; acceptance confirms; a late cancellation costs a
//! share of the fee.

use std::time::Duration;

use chrono::Utc;
use haicheng_proto::fair::v1 as pb;
use tonic::Code;
use trade_fair::{domain::Class, sweeper};
use uuid::Uuid;

use crate::{FirmSpec, as_dept, collect, fair_plan, hours, spawn_app};

#[tokio::test(flavor = "multi_thread")]
async fn a_freed_booth_is_offered_in_order_passed_on_when_the_offer_lapses_and_confirmed_on_acceptance()
 {
    let app = spawn_app().await;
    let mut plan = fair_plan(
        pb::FairKind::LocalFashionShow,
        pb::AllocationMode::FirstCome,
        2,
    );
    plan.small_firm_reserve_percent = Some(0);
    plan.a_class_reserve_percent = Some(0);
    let fair = app.create_fair(plan).await;
    let [x, y, b_early, a_late, c] = [0, 1, 2, 3, 4].map(|i| app.uscc(i));
    for (uscc, class) in [
        (&x, Class::B),
        (&y, Class::B),
        (&b_early, Class::B),
        (&a_late, Class::A),
        (&c, Class::C),
    ] {
        app.seed(
            uscc,
            FirmSpec {
                class: Some(class),
                ..FirmSpec::default()
            },
        )
        .await;
    }
    let holder = app.apply(&fair.id, &x, 1).await.unwrap();
    app.apply(&fair.id, &y, 1).await.unwrap();
    let mut waiting = Vec::new();
    for uscc in [&b_early, &a_late, &c] {
        waiting.push(app.apply(&fair.id, uscc, 1).await.unwrap());
        assert_eq!(
            waiting.last().unwrap().status(),
            pb::RegistrationStatus::Waitlisted
        );
    }
    let order: Vec<String> = app
        .waitlist(&fair.id)
        .await
        .into_iter()
        .map(|r| r.uscc)
        .collect();
    assert_eq!(
        order,
        [a_late.clone(), b_early.clone(), c.clone()],
        "class first, then time"
    );

    let cancelled = app
        .client
        .clone()
        .cancel_registration(as_dept(
            "commerce",
            pb::CancelRegistrationRequest {
                registration_id: holder.id.clone(),
                reason: "plans changed".into(),
            },
        ))
        .await
        .expect("CancelRegistration")
        .into_inner();
    assert_eq!(
        cancelled.registration.unwrap().cancellation_fee_fen,
        0,
        "free while the window is open"
    );
    assert_eq!(cancelled.offered.len(), 1);
    let offer = &cancelled.offered[0];
    assert_eq!(
        (offer.uscc.as_str(), offer.status()),
        (a_late.as_str(), pb::RegistrationStatus::Offered)
    );
    let expires = crate::at(&offer.offer_expires_at);
    assert!(
        expires > Utc::now() + hours(47) && expires <= Utc::now() + hours(48),
        "held for 48 hours"
    );
    assert_eq!(
        app.get_fair(&fair.id).await.fair.unwrap().inventory[0].taken,
        2,
        "the offer holds the booth"
    );

    // Nothing lapses before its time; at it, the offer moves on to the next in line.
    let before = sweeper::sweep_once(&app.store, expires - chrono::Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!(before.offers_lapsed, 0);
    let swept = sweeper::sweep_once(&app.store, expires).await.unwrap();
    assert_eq!(swept.offers_lapsed, 1);
    let after: Vec<pb::Registration> = app.registrations(&fair.id).await;
    let of = |uscc: &str| after.iter().find(|r| r.uscc == uscc).unwrap().clone();
    assert_eq!(of(&a_late).status(), pb::RegistrationStatus::Cancelled);
    assert_eq!(of(&a_late).cancellation_reason, "the offer lapsed");
    let next = of(&b_early);
    assert_eq!(next.status(), pb::RegistrationStatus::Offered);

    // Too late to accept the lapsed one; the new one accepts.
    let lapsed_id = Uuid::parse_str(&of(&a_late).id).unwrap();
    assert!(app.store.accept_offer(lapsed_id, Utc::now()).await.is_err());
    let accepted = app
        .client
        .clone()
        .accept_offer(as_dept(
            "commerce",
            pb::AcceptOfferRequest {
                registration_id: next.id.clone(),
            },
        ))
        .await
        .expect("AcceptOffer")
        .into_inner()
        .registration
        .unwrap();
    assert_eq!(
        (accepted.status(), accepted.booths_granted),
        (pb::RegistrationStatus::Confirmed, 1)
    );
    let again = app
        .client
        .clone()
        .accept_offer(as_dept(
            "commerce",
            pb::AcceptOfferRequest {
                registration_id: next.id.clone(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition);
    assert_eq!(of(&c).status(), pb::RegistrationStatus::Waitlisted);

    let topic = app.topic(haicheng_proto::topics::FAIR_EVENTS);
    let ours = |r: &Option<pb::Registration>| r.as_ref().is_some_and(|r| r.fair_id == fair.id);
    let offers = collect::<pb::OfferMade>(
        &topic,
        |e| ours(&e.registration),
        2,
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(offers.len(), 2);
    let expired = collect::<pb::OfferExpired>(
        &topic,
        |e| ours(&e.registration),
        1,
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(expired.len(), 1);
    let promoted = collect::<pb::RegistrationConfirmed>(
        &topic,
        |e| ours(&e.registration) && e.promoted_from_waitlist,
        1,
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(promoted.len(), 1);
    assert_eq!(promoted[0].registration.as_ref().unwrap().uscc, b_early);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn cancelling_after_the_window_closed_costs_the_configured_share_of_the_fee() {
    let app = spawn_app().await;
    let fair = app
        .create_fair(fair_plan(
            pb::FairKind::LocalCraft,
            pb::AllocationMode::FirstCome,
            5,
        ))
        .await;
    let r = app.apply(&fair.id, &app.uscc(0), 2).await.unwrap();
    let closes = crate::at(&fair.registration_closes_at);
    let id = Uuid::parse_str(&r.id).unwrap();
    let (cancelled, _) = app.store.cancel(id, "ill", closes).await.unwrap();
    // Two booths at 20,000 yuan, 30 % of it by default.
    assert_eq!(cancelled.cancellation_fee_fen, 1_200_000);
    assert_eq!(
        app.get_fair(&fair.id).await.fair.unwrap().inventory[0].taken,
        0
    );
    app.stop().await;
}
