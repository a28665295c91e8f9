//! First-come fairs: concurrent applications never over-allocate, the window's edges, one
//! application per firm, and input errors that name their fields.

use chrono::Utc;
use haicheng_proto::fair::v1 as pb;
use tonic::Code;
use trade_fair::{
    domain::fair::BoothType,
    domain::registration::{self as registrations, Application},
};
use uuid::Uuid;

use crate::{FirmSpec, as_dept, fair_plan, fields, hours, spawn_app};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_applications_for_twenty_booths_confirm_exactly_twenty() {
    let app = spawn_app().await;
    let mut plan = fair_plan(
        pb::FairKind::LocalFabricAccessories,
        pb::AllocationMode::FirstCome,
        20,
    );
    // No reserves: every firm competes for the same twenty booths.
    plan.small_firm_reserve_percent = Some(0);
    plan.a_class_reserve_percent = Some(0);
    let fair = app.create_fair(plan).await;
    let usccs: Vec<String> = (0..50).map(|i| app.uscc(i)).collect();
    for uscc in &usccs {
        app.seed(uscc, FirmSpec::default()).await;
    }
    let calls = usccs.iter().map(|uscc| app.apply(&fair.id, uscc, 1));
    let results = futures::future::join_all(calls).await;
    let registrations: Vec<pb::Registration> =
        results.into_iter().map(|r| r.expect("Apply")).collect();
    let confirmed = registrations
        .iter()
        .filter(|r| r.status() == pb::RegistrationStatus::Confirmed)
        .count();
    let waitlisted = registrations
        .iter()
        .filter(|r| r.status() == pb::RegistrationStatus::Waitlisted)
        .count();
    assert_eq!((confirmed, waitlisted), (20, 30));

    let state = app.get_fair(&fair.id).await;
    assert_eq!(state.fair.unwrap().inventory[0].taken, 20);
    assert_eq!(state.waitlisted, 30);
    let positions: Vec<i32> = app
        .registrations(&fair.id)
        .await
        .iter()
        .filter(|r| r.status() == pb::RegistrationStatus::Waitlisted)
        .map(|r| r.waitlist_position)
        .collect();
    assert_eq!(positions, (1..=30).collect::<Vec<i32>>());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn applications_are_taken_from_the_opening_instant_until_just_before_the_close() {
    let app = spawn_app().await;
    let fair = app
        .create_fair(fair_plan(
            pb::FairKind::LocalCraft,
            pb::AllocationMode::FirstCome,
            10,
        ))
        .await;
    let fair_id = Uuid::parse_str(&fair.id).unwrap();
    let opens = crate::at(&fair.registration_opens_at);
    let closes = crate::at(&fair.registration_closes_at);
    let apply = |i: usize, at| {
        let application = Application {
            fair_id,
            uscc: app.uscc(i),
            booth_type: BoothType::Standard,
            booths: 1,
        };
        let store = app.store.clone();
        async move { store.apply(&application, at).await }
    };
    let early = apply(0, opens - chrono::Duration::microseconds(1))
        .await
        .unwrap_err();
    assert!(
        early.to_string().contains("registration opens at"),
        "{early}"
    );
    assert!(
        apply(1, opens).await.is_ok(),
        "the opening instant is inside the window"
    );
    assert!(
        apply(2, closes - chrono::Duration::microseconds(1))
            .await
            .is_ok()
    );
    let late = apply(3, closes).await.unwrap_err();
    assert!(
        late.to_string().contains("registration closed at"),
        "{late}"
    );

    // Through the API, a fair whose window has passed answers FAILED_PRECONDITION.
    let mut past = fair_plan(pb::FairKind::LocalCraft, pb::AllocationMode::FirstCome, 10);
    past.registration_opens_at = Some(platform::time::to_timestamp(Utc::now() - hours(48)));
    past.registration_closes_at = Some(platform::time::to_timestamp(Utc::now() - hours(24)));
    let closed = app.create_fair(past).await;
    let status = app.apply(&closed.id, &app.uscc(4), 1).await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(
        status.message().contains("registration closed"),
        "{}",
        status.message()
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn no_firm_applies_twice_nor_above_the_cap() {
    let app = spawn_app().await;
    let mut plan = fair_plan(
        pb::FairKind::LocalPrinting,
        pb::AllocationMode::FirstCome,
        10,
    );
    plan.per_firm_cap = Some(3);
    let fair = app.create_fair(plan).await;
    let uscc = app.uscc(0);
    app.apply(&fair.id, &uscc, 2)
        .await
        .expect("the first application");
    let again = app.apply(&fair.id, &uscc, 1).await.unwrap_err();
    assert_eq!(again.code(), Code::AlreadyExists);
    let greedy = app.apply(&fair.id, &app.uscc(1), 4).await.unwrap_err();
    assert_eq!(greedy.code(), Code::FailedPrecondition);
    assert!(
        greedy.message().contains("at most 3"),
        "{}",
        greedy.message()
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_names_every_field() {
    let app = spawn_app().await;
    let mut plan = fair_plan(pb::FairKind::Unspecified, pb::AllocationMode::FirstCome, 0);
    plan.kind = pb::FairKind::CantonFair as i32;
    plan.name = String::new();
    plan.small_firm_reserve_percent = Some(101);
    plan.ends_at = plan.starts_at;
    let status = app
        .client
        .clone()
        .create_fair(as_dept(
            "commerce",
            pb::CreateFairRequest { fair: Some(plan) },
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let named = fields(&status);
    for field in [
        "fair.name",
        "fair.ends_at",
        "fair.inventory[0].capacity",
        "fair.small_firm_reserve_percent",
    ] {
        assert!(
            named.iter().any(|f| f == field),
            "{field} missing from {named:?}"
        );
    }

    let status = app
        .client
        .clone()
        .apply(as_dept(
            "commerce",
            pb::ApplyRequest {
                fair_id: "nope".into(),
                uscc: "123".into(),
                booth_type: 0,
                booths: 0,
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(fields(&status), ["fair_id", "uscc", "booth_type", "booths"]);

    let status = app
        .client
        .clone()
        .list_fairs(as_dept(
            "commerce",
            pb::ListFairsRequest {
                page_token: "garbage".into(),
                page_size: -1,
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn upcoming_fairs_page_in_start_order_and_updates_need_the_current_version() {
    let app = spawn_app().await;
    let mut ids = Vec::new();
    for day in [40, 10, 30, 20] {
        let mut plan = fair_plan(pb::FairKind::Chic, pb::AllocationMode::Scored, 5);
        plan.starts_at = Some(platform::time::to_timestamp(Utc::now() + hours(24 * day)));
        plan.ends_at = Some(platform::time::to_timestamp(
            Utc::now() + hours(24 * day + 48),
        ));
        ids.push((day, app.create_fair(plan).await.id));
    }
    let mut past = fair_plan(pb::FairKind::Chic, pb::AllocationMode::Scored, 5);
    past.registration_opens_at = Some(platform::time::to_timestamp(Utc::now() - hours(24 * 10)));
    past.registration_closes_at = Some(platform::time::to_timestamp(Utc::now() - hours(24 * 9)));
    past.starts_at = Some(platform::time::to_timestamp(Utc::now() - hours(24 * 5)));
    past.ends_at = Some(platform::time::to_timestamp(Utc::now() - hours(24 * 4)));
    app.create_fair(past).await;
    ids.sort();
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = app
            .client
            .clone()
            .list_fairs(as_dept(
                "park_committee",
                pb::ListFairsRequest {
                    page_size: 3,
                    page_token: token,
                    ..Default::default()
                },
            ))
            .await
            .expect("ListFairs")
            .into_inner();
        seen.extend(page.fairs.into_iter().map(|f| f.id));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(
        seen,
        ids.iter().map(|(_, id)| id.clone()).collect::<Vec<_>>(),
        "upcoming only, by start"
    );
    // A token belongs to the filters it was issued for.
    let list = |request: pb::ListFairsRequest| {
        let mut client = app.client.clone();
        async move { client.list_fairs(as_dept("park_committee", request)).await }
    };
    let first = list(pb::ListFairsRequest {
        page_size: 1,
        ..Default::default()
    })
    .await
    .expect("ListFairs")
    .into_inner();
    assert!(!first.next_page_token.is_empty());
    let refused = list(pb::ListFairsRequest {
        page_size: 1,
        page_token: first.next_page_token,
        include_past: true,
        ..Default::default()
    })
    .await
    .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(fields(&refused), ["page_token"]);

    let fair = app.get_fair(&ids[0].1).await.fair.unwrap();
    let mut changed = fair.clone();
    changed.name = "CHIC spring".into();
    let update = |plan: pb::Fair, version| {
        let mut client = app.client.clone();
        let request = pb::UpdateFairRequest {
            fair_id: fair.id.clone(),
            fair: Some(plan),
            expected_version: version,
        };
        async move { client.update_fair(as_dept("commerce", request)).await }
    };
    let updated = update(changed.clone(), fair.version)
        .await
        .expect("UpdateFair")
        .into_inner()
        .fair
        .unwrap();
    assert_eq!(
        (updated.name.as_str(), updated.version),
        ("CHIC spring", fair.version + 1)
    );
    let stale = update(changed, fair.version).await.unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn reserves_are_kept_for_small_and_invited_leader_firms_until_the_window_closes() {
    use trade_fair::{domain::Class, sweeper};

    let app = spawn_app().await;
    // Ten booths: 2 for small firms (20 %), 1 for invited A-class firms (10 %), 7 general.
    let mut plan = fair_plan(pb::FairKind::Chic, pb::AllocationMode::FirstCome, 10);
    plan.small_firm_reserve_percent = Some(20);
    plan.a_class_reserve_percent = Some(10);
    let fair = app.create_fair(plan).await;
    let fair_id = Uuid::parse_str(&fair.id).unwrap();
    let opens = crate::at(&fair.registration_opens_at);
    let closes = crate::at(&fair.registration_closes_at);
    let apply = |uscc: String, minute: i64| {
        let application = Application {
            fair_id,
            uscc,
            booth_type: BoothType::Standard,
            booths: 1,
        };
        let store = app.store.clone();
        async move {
            store
                .apply(&application, opens + chrono::Duration::minutes(minute))
                .await
                .unwrap()
        }
    };
    for i in 0..8 {
        app.seed(&app.uscc(i), FirmSpec::default()).await;
    }
    let mut large = Vec::new();
    for i in 0..8 {
        large.push(apply(app.uscc(i), i as i64).await);
    }
    let confirmed = large
        .iter()
        .filter(|r| r.status == registrations::Status::Confirmed)
        .count();
    assert_eq!(confirmed, 7, "large firms share the general pool only");
    assert_eq!(large[7].status, registrations::Status::Waitlisted);

    // A small firm and an invited leader still find their reserved booths.
    let small = app.uscc(8);
    app.seed(
        &small,
        FirmSpec {
            small: true,
            ..FirmSpec::default()
        },
    )
    .await;
    let leader = app.uscc(9);
    app.seed(
        &leader,
        FirmSpec {
            class: Some(Class::A),
            ..FirmSpec::default()
        },
    )
    .await;
    let mut tx = app.pool.begin().await.unwrap();
    app.store
        .invite_to_open_fairs(&mut tx, &leader, opens + chrono::Duration::minutes(9))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let small_r = apply(small, 10).await;
    assert_eq!(
        (small_r.status, small_r.draw.small),
        (registrations::Status::Confirmed, 1)
    );
    let leader_r = apply(leader, 11).await;
    assert_eq!(
        (leader_r.status, leader_r.draw.a_class),
        (registrations::Status::Confirmed, 1)
    );
    assert!(leader_r.invited_a);

    // At the close the small-firm reserve's last booth goes to the waiting large firm.
    let swept = sweeper::sweep_once(&app.store, closes).await.unwrap();
    assert_eq!(swept.fairs_released, 1);
    let waiting = app.store.registration(large[7].id).await.unwrap();
    assert_eq!(waiting.status, registrations::Status::Offered);
    assert_eq!(
        app.get_fair(&fair.id).await.fair.unwrap().inventory[0].taken,
        10
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_capacity_never_drops_below_the_booths_taken() {
    let app = spawn_app().await;
    let fair = app
        .create_fair(fair_plan(
            pb::FairKind::LocalCraft,
            pb::AllocationMode::FirstCome,
            10,
        ))
        .await;
    app.apply(&fair.id, &app.uscc(0), 3).await.unwrap();
    let mut smaller = fair.clone();
    smaller.inventory[0].capacity = 2;
    let status = app
        .client
        .clone()
        .update_fair(as_dept(
            "commerce",
            pb::UpdateFairRequest {
                fair_id: fair.id.clone(),
                fair: Some(smaller),
                expected_version: fair.version,
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(
        status.message().contains("3 are taken"),
        "{}",
        status.message()
    );
    let mut scored = fair.clone();
    scored.allocation_mode = pb::AllocationMode::Scored as i32;
    let status = app
        .client
        .clone()
        .update_fair(as_dept(
            "commerce",
            pb::UpdateFairRequest {
                fair_id: fair.id.clone(),
                fair: Some(scored),
                expected_version: fair.version,
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(
        status.code(),
        Code::FailedPrecondition,
        "{}",
        status.message()
    );
    app.stop().await;
}
