//! ListRegistrations in pages and AllocateBooths' counts: the pages show every registration
//! once, by application time or, filtered by WAITLISTED, in waitlist order; the status
//! filter pages too; a token that does not decode or comes with other filters is refused;
//! what AllocateBooths counts is what the pages then show.

use std::collections::{HashMap, HashSet};

use haicheng_proto::{
    common::v1::EnterpriseClass,
    fair::v1::{self as pb, RegistrationStatus as S},
};
use tonic::Code;
use uuid::Uuid;

use crate::{App, FirmSpec, fair_plan, fields, spawn_app};

/// Registrations per page in these tests: small, so every list spans several pages.
const SMALL_PAGE: i32 = 4;

/// A class's rank on the waitlist: A first, no class last.
fn class_rank(r: &pb::Registration) -> u8 {
    match r.enterprise_class() {
        EnterpriseClass::A => 0,
        EnterpriseClass::B => 1,
        EnterpriseClass::C => 2,
        EnterpriseClass::Unspecified => 3,
    }
}

/// The registration's application time and id, the order of an unfiltered list.
fn time_key(r: &pb::Registration) -> (chrono::DateTime<chrono::Utc>, String) {
    (crate::at(&r.applied_at), r.id.clone())
}

/// The fields an INVALID_ARGUMENT answer to `request` names.
async fn refused(app: &App, request: pb::ListRegistrationsRequest) -> Vec<String> {
    let status = app.list_registrations(request).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    fields(&status)
}

/// A scored fair of 6 standard and 3 brand booths, 30 applications of every class (a later
/// A-class firm ranks before earlier ones), a third of them for brand booths, firm 7 vetoed
/// after it applied; its window closed a second ago, not allocated.
async fn applied_scored_fair(app: &App) -> pb::Fair {
    let fair = app.mixed_scored_fair(6, 3, 30).await;
    let fair_id = Uuid::parse_str(&fair.id).unwrap();
    // The window closes now, after the last application (opens + 29 minutes).
    sqlx::query("UPDATE fairs SET closes_at = now() - interval '1 second' WHERE id = $1")
        .bind(fair_id)
        .execute(&app.pool)
        .await
        .unwrap();
    fair
}

#[tokio::test(flavor = "multi_thread")]
async fn allocate_booths_counts_what_the_pages_of_each_status_then_show() {
    let app = spawn_app().await;
    let fair = applied_scored_fair(&app).await;
    let counts = app
        .client
        .clone()
        .allocate_booths(crate::as_dept(
            "commerce",
            pb::AllocateBoothsRequest {
                fair_id: fair.id.clone(),
            },
        ))
        .await
        .expect("AllocateBooths")
        .into_inner();
    assert_eq!(
        counts.confirmed + counts.waitlisted + counts.cancelled_ineligible,
        30,
        "every application is counted once: {counts:?}"
    );
    assert_eq!(counts.cancelled_ineligible, 1, "firm 7: {counts:?}");
    assert_eq!(counts.booths_allocated, 9, "every booth: {counts:?}");
    assert!(counts.waitlisted > SMALL_PAGE, "{counts:?}");

    let listed = |status| app.registrations_paged(&fair.id, status, SMALL_PAGE);
    let confirmed = listed(S::Confirmed).await;
    assert_eq!(confirmed.len() as i32, counts.confirmed);
    assert!(confirmed.iter().all(|r| r.status() == S::Confirmed));
    assert_eq!(
        confirmed.iter().map(|r| r.booths_granted).sum::<i32>(),
        counts.booths_allocated
    );
    assert!(confirmed.is_sorted_by_key(time_key), "by application time");
    let waitlisted = listed(S::Waitlisted).await;
    assert_eq!(waitlisted.len() as i32, counts.waitlisted);
    assert!(waitlisted.iter().all(|r| r.status() == S::Waitlisted));
    let cancelled = listed(S::Cancelled).await;
    assert_eq!(cancelled.len() as i32, counts.cancelled_ineligible);
    assert_eq!(cancelled[0].uscc, app.uscc(7));
    assert!(cancelled[0].cancellation_reason.contains("tax-credit"));
    assert!(listed(S::Applied).await.is_empty());
    assert!(listed(S::Offered).await.is_empty());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn pages_show_every_registration_once_by_time_and_the_waitlisted_in_waitlist_order() {
    let app = spawn_app().await;
    let fair = applied_scored_fair(&app).await;
    let closes = chrono::Utc::now();
    let fair_id = Uuid::parse_str(&fair.id).unwrap();
    app.store.allocate(fair_id, closes).await.unwrap();

    // Unfiltered: each registration once, strictly by application time then id, whatever
    // the page size.
    let all = app
        .registrations_paged(&fair.id, S::Unspecified, SMALL_PAGE)
        .await;
    assert_eq!(all.len(), 30);
    let ids: HashSet<&str> = all.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids.len(), 30, "no registration twice");
    assert!(
        all.windows(2).all(|w| time_key(&w[0]) < time_key(&w[1])),
        "by application time, then id"
    );
    let one_page = app
        .registrations_paged(&fair.id, S::Unspecified, 1000)
        .await;
    assert_eq!(one_page, all, "the pages read as one page of the same list");

    // Filtered by WAITLISTED: waitlist order, standard booths first, positions 1, 2, … per
    // booth type, class before application time; the same positions the unfiltered list shows.
    let waitlist = app
        .registrations_paged(&fair.id, S::Waitlisted, SMALL_PAGE)
        .await;
    let booth_types: Vec<i32> = waitlist.iter().map(|r| r.booth_type).collect();
    assert!(booth_types.is_sorted(), "{booth_types:?}");
    for booth_type in [pb::BoothType::Standard, pb::BoothType::Brand] {
        let of_type: Vec<&pb::Registration> = waitlist
            .iter()
            .filter(|r| r.booth_type() == booth_type)
            .collect();
        assert!(of_type.len() > 1, "{booth_type:?} has a waitlist");
        let positions: Vec<i32> = of_type.iter().map(|r| r.waitlist_position).collect();
        assert_eq!(positions, (1..=of_type.len() as i32).collect::<Vec<_>>());
        assert!(of_type.is_sorted_by_key(|r| (class_rank(r), time_key(r))));
    }
    assert!(
        !waitlist.is_sorted_by_key(|r| (r.booth_type, time_key(r))),
        "the fixture's waitlist order is not its order of application"
    );
    let shown: HashMap<&str, i32> = all
        .iter()
        .filter(|r| r.status() == S::Waitlisted)
        .map(|r| (r.id.as_str(), r.waitlist_position))
        .collect();
    let listed: HashMap<&str, i32> = waitlist
        .iter()
        .map(|r| (r.id.as_str(), r.waitlist_position))
        .collect();
    assert_eq!(shown, listed);
    assert!(
        all.iter()
            .filter(|r| r.status() != S::Waitlisted)
            .all(|r| r.waitlist_position == 0)
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_registration_whose_status_changes_between_pages_is_still_read_once() {
    let app = spawn_app().await;
    let mut plan = fair_plan(pb::FairKind::LocalCraft, pb::AllocationMode::FirstCome, 2);
    plan.small_firm_reserve_percent = Some(0);
    plan.a_class_reserve_percent = Some(0);
    let fair = app.create_fair(plan).await;
    for i in 0..5 {
        app.seed(&app.uscc(i), FirmSpec::default()).await;
        app.apply(&fair.id, &app.uscc(i), 1).await.unwrap();
    }
    let page = |page_token: String| {
        app.list_registrations(pb::ListRegistrationsRequest {
            fair_id: fair.id.clone(),
            page_size: 2,
            page_token,
            ..Default::default()
        })
    };
    let first = page(String::new()).await.unwrap();
    let holder = &first.registrations[0];
    assert_eq!(holder.status(), S::Confirmed);
    // The cancellation offers the freed booth to the head of the waitlist, on a later page.
    let cancelled = app
        .client
        .clone()
        .cancel_registration(crate::as_dept(
            "commerce",
            pb::CancelRegistrationRequest {
                registration_id: holder.id.clone(),
                reason: "plans changed".into(),
            },
        ))
        .await
        .expect("CancelRegistration")
        .into_inner();
    assert_eq!(cancelled.offered.len(), 1);
    let mut seen: Vec<pb::Registration> = first.registrations.clone();
    let mut token = first.next_page_token;
    while !token.is_empty() {
        let next = page(token).await.unwrap();
        seen.extend(next.registrations);
        token = next.next_page_token;
    }
    let ids: Vec<&str> = seen.iter().map(|r| r.id.as_str()).collect();
    let unique: HashSet<&str> = ids.iter().copied().collect();
    assert_eq!((ids.len(), unique.len()), (5, 5), "{ids:?}");
    let offered = seen
        .iter()
        .find(|r| r.id == cancelled.offered[0].id)
        .unwrap();
    assert_eq!(offered.status(), S::Offered);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_page_token_that_does_not_decode_or_comes_with_other_filters_is_refused() {
    let app = spawn_app().await;
    let mut plan = fair_plan(pb::FairKind::LocalCraft, pb::AllocationMode::FirstCome, 2);
    plan.small_firm_reserve_percent = Some(0);
    plan.a_class_reserve_percent = Some(0);
    let fair = app.create_fair(plan.clone()).await;
    let other_fair = app.create_fair(plan).await;
    for i in 0..5 {
        app.seed(&app.uscc(i), FirmSpec::default()).await;
        app.apply(&fair.id, &app.uscc(i), 1).await.unwrap();
    }
    let request = |status: pb::RegistrationStatus, page_size: i32, page_token: &str| {
        pb::ListRegistrationsRequest {
            fair_id: fair.id.clone(),
            status: status as i32,
            page_size,
            page_token: page_token.into(),
        }
    };

    let first = app
        .list_registrations(request(S::Confirmed, 1, ""))
        .await
        .unwrap();
    assert_eq!(first.registrations.len(), 1);
    let token = first.next_page_token;
    assert!(!token.is_empty());

    for status in [S::Waitlisted, S::Unspecified] {
        assert_eq!(
            refused(&app, request(status, 1, &token)).await,
            ["page_token"],
            "a token issued for CONFIRMED, sent with {status:?}"
        );
    }
    let elsewhere = pb::ListRegistrationsRequest {
        fair_id: other_fair.id.clone(),
        ..request(S::Confirmed, 1, &token)
    };
    assert_eq!(
        refused(&app, elsewhere).await,
        ["page_token"],
        "another fair"
    );
    let not_ours = platform::paging::encode_token(&vec![1, 2, 3]);
    for garbage in ["garbage!", "Z2FyYmFnZQ", not_ours.as_str()] {
        assert_eq!(
            refused(&app, request(S::Confirmed, 1, garbage)).await,
            ["page_token"],
            "{garbage}"
        );
    }
    assert_eq!(
        refused(&app, request(S::Confirmed, -1, "")).await,
        ["page_size"]
    );
    assert_eq!(
        refused(&app, request(S::Confirmed, -1, "garbage!")).await,
        ["page_size", "page_token"],
        "every bad field is named"
    );

    // With its own filters the token goes on: the second confirmed registration, the last.
    let second = app
        .list_registrations(request(S::Confirmed, 1, &token))
        .await
        .unwrap();
    assert_eq!(second.registrations.len(), 1);
    assert_ne!(second.registrations[0].id, first.registrations[0].id);
    assert!(second.next_page_token.is_empty(), "two confirmed");
    app.stop().await;
}
