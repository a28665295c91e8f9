//! Breaches and the bar: a breach at one session of a fair's kind bars the firm from exactly
//! the next N sessions of that kind (refused naming the breach and the session it may apply
//! again), with its event and a notice to market supervision; a firm may apply again to a
//! fair after cancelling, while the window is open.

use std::time::Duration;

use haicheng_proto::{fair::v1 as pb, policy::v1::SupportPolicyNotice, topics};
use platform::time::to_timestamp;
use tonic::Code;
use trade_fair::domain::{fair::BoothType, registration::Application};
use uuid::Uuid;

use crate::{App, FirmSpec, as_dept, collect, fair_plan, fields, hours, spawn_app};

/// A local craft fair (first come), session `i` of the series: each a week after the last.
async fn session(app: &App, i: i64) -> pb::Fair {
    let mut plan = fair_plan(pb::FairKind::LocalCraft, pb::AllocationMode::FirstCome, 10);
    plan.name = format!("Craft fair session {i} {}", testkit::unique_name("s"));
    let starts = crate::at(&plan.starts_at) + hours(24 * 7 * i);
    plan.starts_at = Some(to_timestamp(starts));
    plan.ends_at = Some(to_timestamp(starts + hours(48)));
    app.create_fair(plan).await
}

fn breach(fair_id: &str, uscc: &str, kind: pb::BreachKind) -> pb::RecordBreachRequest {
    pb::RecordBreachRequest {
        fair_id: fair_id.into(),
        uscc: uscc.into(),
        kind: kind as i32,
        evidence: "booth C-12 staffed by another firm on day 2".into(),
        reference: "SW-2027-031".into(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_breach_bars_exactly_the_next_n_sessions_of_the_fair_s_kind() {
    let app = spawn_app().await;
    let n = app.rules.breach_barred_sessions as i64;
    assert_eq!(n, 4, "the default, as the Canton Fair does");
    let mut sessions = Vec::new();
    for i in 0..=n + 1 {
        sessions.push(session(&app, i).await);
    }
    let other_kind = app
        .create_fair(fair_plan(
            pb::FairKind::LocalPrinting,
            pb::AllocationMode::FirstCome,
            5,
        ))
        .await;
    let (firm, clean) = (app.uscc(0), app.uscc(1));
    app.seed(&firm, FirmSpec::default()).await;
    app.seed(&clean, FirmSpec::default()).await;
    app.apply(&sessions[0].id, &firm, 1)
        .await
        .expect("applies to session 0");

    let recorded = app
        .client
        .clone()
        .record_breach(as_dept(
            "commerce",
            breach(&sessions[0].id, &firm, pb::BreachKind::SubLetting),
        ))
        .await
        .expect("RecordBreach")
        .into_inner()
        .breach
        .expect("a breach");
    assert_eq!(recorded.barred_sessions, n as i32);
    let barred: Vec<&str> = recorded.barred.iter().map(|s| s.fair_id.as_str()).collect();
    let expected: Vec<&str> = sessions[1..=n as usize]
        .iter()
        .map(|f| f.id.as_str())
        .collect();
    assert_eq!(barred, expected);
    let free_again = &sessions[n as usize + 1];
    assert_eq!(
        recorded.free_again.as_ref().map(|s| s.fair_id.as_str()),
        Some(free_again.id.as_str())
    );

    for fair in &sessions[1..=n as usize] {
        let status = app.apply(&fair.id, &firm, 1).await.unwrap_err();
        assert_eq!(status.code(), Code::FailedPrecondition, "{}", fair.name);
        assert!(
            status.message().contains("sub-letting a booth"),
            "{}",
            status.message()
        );
        assert!(
            status.message().contains(&free_again.name),
            "{}",
            status.message()
        );
        app.apply(&fair.id, &clean, 1)
            .await
            .expect("a firm without a breach applies");
    }
    app.apply(&free_again.id, &firm, 1)
        .await
        .expect("session N + 1 is open to it again");
    app.apply(&other_kind.id, &firm, 1)
        .await
        .expect("another kind of fair is not barred");

    let notices = collect::<SupportPolicyNotice>(
        &app.topic(topics::POLICY_NOTICES),
        |n| n.uscc == firm && n.kind == "fair_breach",
        1,
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(notices.len(), 1);
    assert!(
        notices[0].text.contains("sub-letting a booth"),
        "{}",
        notices[0].text
    );
    let events = collect::<pb::BreachRecorded>(
        &app.topic(topics::FAIR_EVENTS),
        |e| e.breach.as_ref().is_some_and(|b| b.uscc == firm),
        1,
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(events[0].breach.as_ref().unwrap().barred.len(), n as usize);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_breach_is_recorded_once_for_a_registered_firm_by_commerce_only() {
    let app = spawn_app().await;
    let fair = session(&app, 0).await;
    let (firm, stranger) = (app.uscc(0), app.uscc(1));
    app.seed(&firm, FirmSpec::default()).await;
    app.apply(&fair.id, &firm, 1).await.expect("applies");
    let mut client = app.client.clone();
    let request = || breach(&fair.id, &firm, pb::BreachKind::LeavingEarly);

    let token = platform::auth::TokenTable::development_enterprise_token(&firm);
    let as_firm = client
        .record_breach(testkit::with_token(&token, request()))
        .await
        .unwrap_err();
    assert_eq!(as_firm.code(), Code::PermissionDenied);
    let as_finance = client
        .record_breach(as_dept("finance", request()))
        .await
        .unwrap_err();
    assert_eq!(as_finance.code(), Code::PermissionDenied);
    let listed = client
        .list_breaches(testkit::with_token(
            &token,
            pb::ListBreachesRequest::default(),
        ))
        .await
        .unwrap_err();
    assert_eq!(listed.code(), Code::PermissionDenied);

    client
        .record_breach(as_dept("commerce", request()))
        .await
        .expect("recorded");
    let twice = client
        .record_breach(as_dept("commerce", request()))
        .await
        .unwrap_err();
    assert_eq!(twice.code(), Code::AlreadyExists);
    let unregistered = client
        .record_breach(as_dept(
            "commerce",
            breach(&fair.id, &stranger, pb::BreachKind::LeavingEarly),
        ))
        .await
        .unwrap_err();
    assert_eq!(unregistered.code(), Code::FailedPrecondition);
    assert!(
        unregistered.message().contains("has no registration"),
        "{}",
        unregistered.message()
    );

    let bad = client
        .record_breach(as_dept(
            "commerce",
            pb::RecordBreachRequest {
                fair_id: "nope".into(),
                uscc: "123".into(),
                kind: 0,
                evidence: " ".into(),
                reference: "x".repeat(201),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert_eq!(
        fields(&bad),
        ["fair_id", "uscc", "kind", "evidence", "reference"]
    );
    let listed = client
        .list_breaches(as_dept(
            "park_committee",
            pb::ListBreachesRequest {
                uscc: firm.clone(),
                fair_id: String::new(),
            },
        ))
        .await
        .expect("ListBreaches")
        .into_inner()
        .breaches;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].kind(), pb::BreachKind::LeavingEarly);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_firm_may_apply_again_after_cancelling_until_the_window_closes() {
    let app = spawn_app().await;
    let fair = session(&app, 0).await;
    let firm = app.uscc(0);
    app.seed(&firm, FirmSpec::default()).await;
    let first = app.apply(&fair.id, &firm, 2).await.expect("applies");
    assert_eq!(first.status(), pb::RegistrationStatus::Confirmed);
    let mut client = app.client.clone();
    client
        .cancel_registration(as_dept(
            "commerce",
            pb::CancelRegistrationRequest {
                registration_id: first.id.clone(),
                reason: "wrong booth count".into(),
            },
        ))
        .await
        .expect("cancels");
    let again = app
        .apply(&fair.id, &firm, 1)
        .await
        .expect("applies again after cancelling");
    assert_eq!(again.status(), pb::RegistrationStatus::Confirmed);
    assert_ne!(again.id, first.id);
    let third = app.apply(&fair.id, &firm, 1).await.unwrap_err();
    assert_eq!(
        third.code(),
        Code::AlreadyExists,
        "one live registration at a time"
    );
    assert_eq!(
        app.get_fair(&fair.id).await.fair.unwrap().inventory[0].taken,
        1
    );

    // Cancelled again, it may not come back once the window has closed.
    let again_id = Uuid::parse_str(&again.id).unwrap();
    let closes = crate::at(&fair.registration_closes_at);
    app.store
        .cancel(again_id, "changed plans", closes - hours(1))
        .await
        .unwrap();
    let application = Application {
        fair_id: Uuid::parse_str(&fair.id).unwrap(),
        uscc: firm.clone(),
        booth_type: BoothType::Standard,
        booths: 1,
    };
    let late = app.store.apply(&application, closes).await.unwrap_err();
    assert!(
        late.to_string().contains("registration closed at"),
        "{late}"
    );
    app.stop().await;
}
