//! Scored allocation through the store at the window's close: every eligible firm gets a
//! booth before any gets a second, the small-firm reserve is kept, the cap holds, each firm
//! reads why; ineligible firms are refused with their reason.

use haicheng_proto::fair::v1 as pb;
use tonic::Code;
use trade_fair::{
    domain::registration::{self as registrations, Application, Status},
    domain::{Class, Segment, fair::BoothType},
};
use uuid::Uuid;

use crate::{FirmSpec, as_dept, fair_plan, spawn_app};

#[tokio::test(flavor = "multi_thread")]
async fn thirty_booths_among_twenty_five_firms_give_each_one_first_and_keep_the_small_firm_reserve()
{
    let app = spawn_app().await;
    let mut plan = fair_plan(pb::FairKind::CantonFair, pb::AllocationMode::Scored, 30);
    plan.small_firm_reserve_percent = Some(20);
    plan.a_class_reserve_percent = Some(0);
    plan.per_firm_cap = Some(3);
    let fair = app.create_fair(plan).await;
    let fair_id = Uuid::parse_str(&fair.id).unwrap();
    let opens = crate::at(&fair.registration_opens_at);
    let closes = crate::at(&fair.registration_closes_at);
    // Firms 0..22 are large, 22..25 small; class A for the first five; all want 3 booths.
    for i in 0..25 {
        let firm = FirmSpec {
            class: Some(if i < 5 { Class::A } else { Class::B }),
            export_sales_fen: 2_000_000_000 + i as i64 * 1_000_000,
            small: i >= 22,
            tax_veto: false,
            ..FirmSpec::default()
        };
        app.seed(&app.uscc(i), firm).await;
        let application = Application {
            fair_id,
            uscc: app.uscc(i),
            booth_type: BoothType::Standard,
            booths: 3,
        };
        let at = opens + chrono::Duration::minutes(i as i64);
        let r = app.store.apply(&application, at).await.unwrap();
        assert_eq!(
            r.status,
            Status::Applied,
            "a scored application waits for the allocation"
        );
    }

    let early = app
        .store
        .allocate(fair_id, closes - chrono::Duration::seconds(1))
        .await
        .unwrap_err();
    assert!(early.to_string().contains("collected until"), "{early}");

    let all = app.store.allocate(fair_id, closes).await.unwrap();
    assert_eq!(all.len(), 25);
    let booths = |r: &registrations::Registration| r.draw.total();
    assert!(
        all.iter()
            .all(|r| r.status == Status::Confirmed && booths(r) >= 1),
        "everyone has a first booth"
    );
    assert_eq!(all.iter().map(booths).sum::<u32>(), 30);
    assert!(all.iter().all(|r| booths(r) <= 3), "the cap holds");
    let small: u32 = all.iter().filter(|r| r.small_firm).map(booths).sum();
    assert_eq!(
        small, 6,
        "the three small firms keep the six reserved booths"
    );
    // Two general booths are left after round one: the two best-ranked large firms, the
    // class-A firms with the highest export sales (firms 4 and 3), get a second.
    let seconds: Vec<String> = all
        .iter()
        .filter(|r| !r.small_firm && booths(r) == 2)
        .map(|r| r.uscc.clone())
        .collect();
    assert_eq!(seconds.len(), 2);
    assert!(
        seconds.contains(&app.uscc(4)) && seconds.contains(&app.uscc(3)),
        "{seconds:?}"
    );
    let first = all.iter().find(|r| r.uscc == app.uscc(4)).unwrap();
    assert!(
        first.explanation.starts_with("Ranked 1 of 25"),
        "{}",
        first.explanation
    );

    let state = app.get_fair(&fair.id).await.fair.unwrap();
    assert_eq!(state.inventory[0].taken, 30);
    assert!(state.allocated_at.is_some());
    let again = app.store.allocate(fair_id, closes).await.unwrap_err();
    assert!(again.to_string().contains("were allocated"), "{again}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_ineligible_firm_is_refused_with_its_reason() {
    let app = spawn_app().await;
    let fair = app
        .create_fair(fair_plan(
            pb::FairKind::CpmMoscow,
            pb::AllocationMode::Scored,
            10,
        ))
        .await;
    let (low, vetoed, unknown, good) = (app.uscc(0), app.uscc(1), app.uscc(2), app.uscc(3));
    app.seed(
        &low,
        FirmSpec {
            export_sales_fen: 100_000_000,
            segment: Segment::Trade,
            ..FirmSpec::default()
        },
    )
    .await;
    app.seed(
        &vetoed,
        FirmSpec {
            tax_veto: true,
            ..FirmSpec::default()
        },
    )
    .await;
    app.seed(&good, FirmSpec::default()).await;
    for (uscc, reason) in [
        (&low, "below the threshold of 10500000 yuan"),
        (&vetoed, "tax-credit violation"),
        (&unknown, "no record of the enterprise"),
    ] {
        let status = app.apply(&fair.id, uscc, 1).await.unwrap_err();
        assert_eq!(status.code(), Code::FailedPrecondition, "{uscc}");
        assert!(status.message().contains(reason), "{}", status.message());
    }
    let registration = app
        .apply(&fair.id, &good, 1)
        .await
        .expect("an eligible firm applies");
    assert_eq!(registration.status(), pb::RegistrationStatus::Applied);
    let early = app
        .client
        .clone()
        .allocate_booths(as_dept(
            "commerce",
            pb::AllocateBoothsRequest {
                fair_id: fair.id.clone(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(early.code(), Code::FailedPrecondition);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn trading_firms_and_producers_each_meet_their_own_threshold_at_it_and_not_one_fen_under() {
    let app = spawn_app().await;
    let fair = app
        .create_fair(fair_plan(
            pb::FairKind::CantonFair,
            pb::AllocationMode::Scored,
            10,
        ))
        .await;
    let t = app.rules.export_thresholds;
    let cases = [
        (Segment::Trade, t.trade_fen, true),
        (Segment::Trade, t.trade_fen - 1, false),
        (Segment::Apparel, t.producer_fen, true),
        (Segment::Apparel, t.producer_fen - 1, false),
        (Segment::LuggageLeather, t.producer_fen, true),
        (Segment::Textile, t.producer_fen - 1, false),
    ];
    for (i, (segment, sales, eligible)) in cases.into_iter().enumerate() {
        let uscc = app.uscc(i);
        let firm = FirmSpec {
            export_sales_fen: sales,
            segment,
            ..FirmSpec::default()
        };
        app.seed(&uscc, firm).await;
        let applied = app.apply(&fair.id, &uscc, 1).await;
        if eligible {
            applied.unwrap_or_else(|e| panic!("{segment} with {sales} fen: {e}"));
        } else {
            let status = applied.unwrap_err();
            assert_eq!(status.code(), Code::FailedPrecondition);
            let kind = if segment == Segment::Trade {
                "trading firms"
            } else {
                "producers"
            };
            let threshold = if segment == Segment::Trade {
                t.trade_fen
            } else {
                t.producer_fen
            };
            let expected = format!("below the threshold of {} yuan for {kind}", threshold / 100);
            assert!(status.message().contains(&expected), "{}", status.message());
        }
    }
    app.stop().await;
}
