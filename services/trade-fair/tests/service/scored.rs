//! Scored allocation through the store at the window's close: every eligible firm gets a
//! booth before any gets a second, the small-firm reserve is kept, the cap holds, each firm
//! reads why; ineligible firms are refused with their reason.

use haicheng_proto::fair::v1 as pb;
use prost::Message as _;
use tonic::Code;
use trade_fair::{
    domain::registration::{self as registrations, Application, Status},
    domain::{Class, Segment, allocation::Counts, fair::BoothType},
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

    let counts = app.store.allocate(fair_id, closes).await.unwrap();
    assert_eq!(
        counts,
        Counts {
            confirmed: 25,
            booths: 30,
            waitlisted: 0,
            ineligible: 0,
        }
    );
    let all = app.stored_registrations(fair_id).await;
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

/// What a registration's event says, beside the registration as the store reads it back.
fn same_but_position(event: &pb::Registration, read: &registrations::Registration) {
    assert_eq!(event.id, read.id.to_string());
    assert_eq!(
        event.status,
        trade_fair::api::convert::status(read.status) as i32
    );
    assert_eq!(
        event.booths_granted as u32,
        read.booths_held(),
        "{}",
        event.id
    );
    assert_eq!(event.explanation, read.explanation);
    assert_eq!(event.cancellation_reason, read.cancellation_reason);
    assert_eq!(
        event.confirmed_at,
        read.confirmed_at
            .filter(|_| read.status == Status::Confirmed)
            .map(platform::time::to_timestamp)
    );
}

/// Forty-eight firms of every class, two booth types, small firms, a firm vetoed after it
/// applied, requests of one to three booths; applied in an order where
/// later applicants often rank before earlier ones on the waitlist. The allocation's counts
/// are exactly what a read of the fair's registrations shows afterwards; each event shows
/// its registration as a read-back right after its write would (the waitlist position among
/// those waitlisted so far, the fair's booths taken so far).
#[tokio::test(flavor = "multi_thread")]
async fn an_allocation_of_many_registrations_announces_each_as_written_and_counts_what_is_stored() {
    let app = spawn_app().await;
    let n = 48;
    let fair = app.mixed_scored_fair(12, 5, n).await;
    let fair_id = Uuid::parse_str(&fair.id).unwrap();
    let closes = crate::at(&fair.registration_closes_at);
    let (last_event,): (i64,) = sqlx::query_as("SELECT COALESCE(max(id), 0) FROM outbox")
        .fetch_one(&app.pool)
        .await
        .unwrap();

    let counts = app.store.allocate(fair_id, closes).await.unwrap();
    let all = app.stored_registrations(fair_id).await;
    assert_eq!(all.len(), n);
    let of = |status: Status| all.iter().filter(move |r| r.status == status);
    assert_eq!(
        counts,
        Counts {
            confirmed: of(Status::Confirmed).count() as u32,
            booths: of(Status::Confirmed).map(|r| r.booths_held()).sum(),
            waitlisted: of(Status::Waitlisted).count() as u32,
            ineligible: of(Status::Cancelled).count() as u32,
        },
        "the allocation counts what is stored"
    );
    assert_eq!(counts.ineligible, 1);
    assert!(counts.waitlisted > 0);
    let vetoed = all.iter().find(|r| r.uscc == app.uscc(7)).unwrap();
    assert_eq!(vetoed.status, Status::Cancelled);
    assert!(vetoed.cancellation_reason.contains("tax-credit"));
    let state = app.get_fair(&fair.id).await.fair.unwrap();
    for (item, booth_type) in state
        .inventory
        .iter()
        .zip([BoothType::Standard, BoothType::Brand])
    {
        let held: u32 = all
            .iter()
            .filter(|r| r.booth_type == booth_type)
            .map(|r| r.booths_held())
            .sum();
        assert_eq!(item.taken as u32, held, "{booth_type:?}");
        assert_eq!(held, item.capacity as u32, "every booth is handed out");
        // The waitlist reads 1, 2, … in class, then application order.
        let mut waiting: Vec<_> = all
            .iter()
            .filter(|r| r.booth_type == booth_type && r.status == Status::Waitlisted)
            .collect();
        waiting.sort_by_key(|r| r.waitlist_position);
        let positions: Vec<u32> = waiting.iter().map(|r| r.waitlist_position).collect();
        assert_eq!(positions, (1..=waiting.len() as u32).collect::<Vec<_>>());
        assert!(waiting.is_sorted_by_key(|r| (Class::priority(r.class), r.applied_at, r.id)));
    }

    let events: Vec<(String, Vec<u8>)> = sqlx::query_as(
        "SELECT ce_type, payload FROM outbox WHERE message_key = $1 AND id > $2 ORDER BY id",
    )
    .bind(&fair.id)
    .bind(last_event)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(events.len(), n, "one event per registration");
    let by_id: std::collections::HashMap<String, &registrations::Registration> =
        all.iter().map(|r| (r.id.to_string(), r)).collect();
    let mut announced_waiting: Vec<&registrations::Registration> = Vec::new();
    let mut taken = [0u32; 2];
    let mut stale_positions = 0;
    for (ce_type, payload) in &events {
        let registration = match ce_type.as_str() {
            "haicheng.fair.v1.RegistrationConfirmed" => {
                let m = pb::RegistrationConfirmed::decode(payload.as_slice()).unwrap();
                let r = m.registration.unwrap();
                let read = by_id[&r.id];
                let t = usize::from(read.booth_type == BoothType::Brand);
                taken[t] += read.booths_held();
                let fair = m.fair.unwrap();
                assert_eq!(
                    fair.inventory[t].taken as u32, taken[t],
                    "the fair as it stood after this registration's booths were taken"
                );
                assert!(fair.allocated_at.is_none());
                same_but_position(&r, read);
                assert_eq!(r.waitlist_position, 0);
                r
            }
            "haicheng.fair.v1.RegistrationWaitlisted" => {
                let m = pb::RegistrationWaitlisted::decode(payload.as_slice()).unwrap();
                let r = m.registration.unwrap();
                let read = by_id[&r.id];
                same_but_position(&r, read);
                announced_waiting.push(read);
                let key = |w: &registrations::Registration| {
                    (Class::priority(w.class), w.applied_at, w.id)
                };
                let ahead = announced_waiting
                    .iter()
                    .filter(|w| w.booth_type == read.booth_type && key(w) < key(read))
                    .count();
                assert_eq!(
                    r.waitlist_position as usize,
                    ahead + 1,
                    "the position among those waitlisted so far"
                );
                if r.waitlist_position as u32 != read.waitlist_position {
                    stale_positions += 1;
                }
                r
            }
            "haicheng.fair.v1.RegistrationCancelled" => {
                let m = pb::RegistrationCancelled::decode(payload.as_slice()).unwrap();
                let r = m.registration.unwrap();
                same_but_position(&r, by_id[&r.id]);
                assert_eq!(r.waitlist_position, 0);
                r
            }
            other => panic!("unexpected event {other}"),
        };
        assert_eq!(registration.fair_id, fair.id);
    }
    assert!(
        stale_positions > 0,
        "the fixture has waitlisted firms overtaken by later ones"
    );
    app.stop().await;
}
