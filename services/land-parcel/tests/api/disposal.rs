//! Idle land to its end: the idle fee to the fen with notices to natural resources and
//! finance, paid or waived; take-back review at two years idle and not a day before; one
//! take-back of many concurrent decisions, naming the units and their tenants, the parcel back
//! in supply with its history readable as of the day before. Low-efficiency land at 49.99 %
//! and 50 %, long-term leases of 5 and 20 years (not 4 or 21), lineage events, and every new
//! method refused to an enterprise.

use chrono::{TimeZone, Utc};
use haicheng_proto::{
    common::v1::{Park, Segment},
    land::v1 as pb,
    topics,
};
use platform::time::to_timestamp;
use tonic::Code;

use super::*;

/// The late-start clause out of the way, so only the idle rule puts a grant under review.
const NO_LATE_START_REVIEW: (&str, &str) = ("LAND_TAKE_BACK_AFTER_MONTHS", "600");

async fn pass(client: &mut Client, on: &str) -> pb::RunIdlePassResponse {
    client
        .run_idle_pass(with_token(
            NATURAL_RESOURCES,
            pb::RunIdlePassRequest { on: on.into() },
        ))
        .await
        .expect("the idle pass")
        .into_inner()
}

fn take_back(grant_id: &str) -> pb::TakeBackGrantRequest {
    pb::TakeBackGrantRequest {
        grant_id: grant_id.into(),
        expected_version: 0,
        reason: "idle for two years (闲置土地处置办法 art. 14)".into(),
        document_number: "海自然资收〔2026〕7号".into(),
    }
}

async fn outbox_count(app: &App, ce_type: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM outbox WHERE ce_type = $1")
        .bind(ce_type)
        .fetch_one(&app.service.pool)
        .await
        .unwrap()
}

/// A grant of a new parcel to a new firm, whose start was due on 1 March 2024 and never came,
/// at `price_fen`; a building on it with one unit leased to a tenant.
async fn idle_grant(app: &App, price_fen: i64) -> (pb::Parcel, pb::Grant, String) {
    let holder = app.uscc(1);
    let tenant = app.uscc(2);
    app.enterprise(&holder, Segment::Textile, Park::Ganwang)
        .await;
    app.enterprise(&tenant, Segment::Apparel, Park::Ganwang)
        .await;
    let parcel = app
        .register_parcel(&parcel_id("TB"), Park::Ganwang, 1_000)
        .await;
    let mut request = grant_request(&parcel, &holder);
    request.supply = Some(standard(50, price_fen));
    request.contract = Some(contract(
        "2024-01-10",
        "2024-03-01",
        "2025-03-01",
        "2028-03-01",
    ));
    let grant = app.grant(request).await.unwrap();
    let mut client = app.client.clone();
    let building = client
        .define_building(with_token(
            NATURAL_RESOURCES,
            pb::DefineBuildingRequest {
                parcel_id: parcel.id.clone(),
                name: "No. 1".into(),
                floors: vec![pb::Floor {
                    number: 1,
                    area_centi_m2: 400_000,
                }],
                units: vec![pb::UnitSpec {
                    floor: 1,
                    part: String::new(),
                    floor_area_centi_m2: 400_000,
                    unit_use: pb::UnitUse::Production as i32,
                }],
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .building
        .unwrap();
    let unit = &building.units[0];
    client
        .lease_unit(with_token(
            NATURAL_RESOURCES,
            pb::LeaseUnitRequest {
                unit_id: unit.id.clone(),
                expected_version: unit.version,
                uscc: tenant.clone(),
                term_months: 36,
                yearly_rent_fen: 1_000_000,
            },
        ))
        .await
        .unwrap();
    (parcel, grant, tenant)
}

#[tokio::test(flavor = "multi_thread")]
async fn an_idle_grant_is_ordered_its_fee_to_the_fen_and_the_fee_is_paid_or_waived_once() {
    let app = spawn_app_with(&[NO_LATE_START_REVIEW]).await;
    let (_, grant, _) = idle_grant(&app, 1_234_567_891).await;
    let mut client = app.client.clone();
    assert_eq!(pass(&mut client, "2025-02-28").await.flagged_idle, 0);
    assert_eq!(pass(&mut client, "2025-03-01").await.flagged_idle, 1);
    let read = client
        .get_grant(with_token(
            COMMERCE,
            pb::GetGrantRequest {
                grant_id: grant.id.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .grant
        .unwrap();
    let fee = read.idle_fee.clone().expect("a fee ordered");
    // 20 % of 1,234,567,891 fen = 246,913,578.2 → 246,913,578.
    assert_eq!(fee.fee_fen, 246_913_578);
    assert_eq!(fee.status(), pb::IdleFeeStatus::Ordered);
    assert_eq!(fee.ordered_on, "2025-03-01");
    assert_eq!(
        outbox_count(&app, "haicheng.land.v1.IdleFeeOrdered").await,
        1
    );
    let departments: Vec<String> = sqlx::query_scalar(
        "SELECT message_key FROM outbox WHERE ce_type = 'haicheng.policy.v1.SupportPolicyNotice'
         ORDER BY message_key",
    )
    .fetch_all(&app.service.pool)
    .await
    .unwrap();
    assert_eq!(departments, ["finance", "natural_resources"]);

    let record = |outcome: pb::IdleFeeStatus, reason: &str| pb::RecordIdleFeeRequest {
        grant_id: grant.id.clone(),
        expected_version: 0,
        outcome: outcome as i32,
        waiver_reason: reason.into(),
    };
    let no_reason = client
        .record_idle_fee(with_token(
            NATURAL_RESOURCES,
            record(pb::IdleFeeStatus::Waived, " "),
        ))
        .await
        .unwrap_err();
    assert_eq!(invalid_fields(&no_reason), ["waiver_reason"]);
    let waived = client
        .record_idle_fee(with_token(
            NATURAL_RESOURCES,
            record(pb::IdleFeeStatus::Waived, "the government delayed the land"),
        ))
        .await
        .unwrap()
        .into_inner()
        .grant
        .unwrap()
        .idle_fee
        .unwrap();
    assert_eq!(waived.status(), pb::IdleFeeStatus::Waived);
    assert_eq!(waived.waiver_reason, "the government delayed the land");
    let again = client
        .record_idle_fee(with_token(
            NATURAL_RESOURCES,
            record(pb::IdleFeeStatus::Paid, ""),
        ))
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition);
    assert!(again.message().contains("already waived"), "{again:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn two_years_idle_goes_to_review_and_one_of_many_concurrent_take_backs_wins() {
    let app = spawn_app_with(&[NO_LATE_START_REVIEW]).await;
    let (parcel, grant, tenant) = idle_grant(&app, 1_000_000_000).await;
    let mut client = app.client.clone();
    assert_eq!(pass(&mut client, "2025-03-01").await.flagged_idle, 1);
    assert_eq!(pass(&mut client, "2026-02-28").await.take_back_review, 0);
    let early = client
        .take_back_grant(with_token(NATURAL_RESOURCES, take_back(&grant.id)))
        .await
        .unwrap_err();
    assert_eq!(early.code(), Code::FailedPrecondition);
    assert!(
        early.message().contains("not under take-back review"),
        "{early:?}"
    );
    assert_eq!(pass(&mut client, "2026-03-01").await.take_back_review, 1);
    let review_notices: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM outbox WHERE ce_type = 'haicheng.policy.v1.SupportPolicyNotice'
           AND message_key = 'natural_resources'",
    )
    .fetch_one(&app.service.pool)
    .await
    .unwrap();
    assert_eq!(review_notices, 2, "the idle notice, then the review's");
    assert_eq!(
        pass(&mut client, "2026-03-02").await,
        pb::RunIdlePassResponse::default(),
        "once"
    );

    // The parcel's history as if it were years old, so "the day before" has it granted.
    for statement in [
        "UPDATE grants SET granted_at = granted_at - interval '3 years' WHERE parcel_id = $1",
        "UPDATE parcel_status_history SET since = since - interval '3 years' WHERE parcel_id = $1",
    ] {
        sqlx::query(statement)
            .bind(&parcel.id)
            .execute(&app.service.pool)
            .await
            .unwrap();
    }

    let calls = (0..8).map(|_| {
        let mut client = client.clone();
        let request = take_back(&grant.id);
        async move {
            client
                .take_back_grant(with_token(NATURAL_RESOURCES, request))
                .await
        }
    });
    let results = futures::future::join_all(calls).await;
    let won: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(won.len(), 1, "{results:?}");
    for lost in results.iter().filter_map(|r| r.as_ref().err()) {
        assert_eq!(lost.code(), Code::FailedPrecondition, "{lost:?}");
    }
    let decided = won[0].get_ref();
    let taken = decided.grant.clone().unwrap();
    assert_eq!(taken.status(), pb::GrantStatus::TakenBack);
    let decision = taken.take_back.unwrap();
    assert_eq!(decision.review_reason, "idle_two_years");
    assert_eq!(decision.document_number, "海自然资收〔2026〕7号");
    assert_eq!(decision.units.len(), 1);
    assert_eq!(decision.units[0].holder_uscc, tenant);
    assert_eq!(decision.units[0].status(), pb::UnitStatus::Leased);
    assert_eq!(
        decided.parcel.as_ref().unwrap().status(),
        pb::ParcelStatus::Available
    );
    assert_eq!(
        outbox_count(&app, "haicheng.land.v1.GrantTakenBack").await,
        1
    );

    let get = |as_of| pb::GetParcelRequest {
        parcel_id: parcel.id.clone(),
        as_of,
    };
    let now = client
        .get_parcel(with_token(COMMERCE, get(None)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(now.parcel.unwrap().status(), pb::ParcelStatus::Available);
    assert!(now.grant.is_none(), "back in supply");
    let day_before = to_timestamp(Utc::now() - chrono::Duration::days(1));
    let then = client
        .get_parcel(with_token(COMMERCE, get(Some(day_before))))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(then.parcel.unwrap().status(), pb::ParcelStatus::Idle);
    let then_grant = then.grant.expect("the grant in force the day before");
    assert_eq!(then_grant.id, grant.id);
    assert_eq!(then_grant.status(), pb::GrantStatus::Transferred);
    assert!(then_grant.take_back.is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_start_more_than_six_months_late_is_under_review_without_two_years_idle() {
    let app = spawn_app().await;
    let uscc = app.uscc(1);
    app.enterprise(&uscc, Segment::Apparel, Park::Xiliu).await;
    let parcel = app
        .register_parcel(&parcel_id("LS"), Park::Xiliu, 1_000)
        .await;
    let grant = app.grant(grant_request(&parcel, &uscc)).await.unwrap();
    assert_eq!(grant.take_back_review, "late_start");
    let taken = app
        .client
        .clone()
        .take_back_grant(with_token(NATURAL_RESOURCES, take_back(&grant.id)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        taken.grant.unwrap().take_back.unwrap().review_reason,
        "late_start"
    );
}

/// A built grant completed on 1 May 2021, committing 3 M yuan invested and 6 M yuan output a mu.
async fn completed_grant(app: &App, uscc: &str) -> pb::Grant {
    app.enterprise(uscc, Segment::Apparel, Park::Xiliu).await;
    let parcel = app
        .register_parcel(&parcel_id("LE"), Park::Xiliu, 1_000)
        .await;
    let mut request = grant_request(&parcel, uscc);
    request.contract = Some(contract(
        "2020-01-01",
        "2020-06-01",
        "2021-06-01",
        "2023-06-01",
    ));
    let grant = app.grant(request).await.unwrap();
    app.milestone(&grant.id, pb::MilestoneKind::Started, "2020-05-01", 0, 0)
        .await;
    app.milestone(
        &grant.id,
        pb::MilestoneKind::Completed,
        "2021-05-01",
        3_000_000_000,
        800_000,
    )
    .await
}

async fn low_efficiency_ids(app: &App) -> Vec<String> {
    app.client
        .clone()
        .list_low_efficiency_grants(with_token(
            COMMERCE,
            pb::ListLowEfficiencyGrantsRequest::default(),
        ))
        .await
        .unwrap()
        .into_inner()
        .grants
        .into_iter()
        .map(|g| g.id)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn output_under_half_flags_low_efficiency_at_49_99_and_clears_at_50_percent() {
    let app = spawn_app().await;
    let uscc = app.uscc(1);
    let grant = completed_grant(&app, &uscc).await;
    let at = Utc.with_ymd_and_hms(2025, 3, 1, 2, 0, 0).unwrap();
    // 2,999,400 of 6,000,000 yuan a mu: 49.99 %.
    let low = app.census_return(&uscc, 2024, 1, 2_999_400, 300_000, at);
    app.events.publish(topics::CENSUS_EVENTS, &uscc, &low).await;
    assert!(app.wait_evaluations(&grant.id, 1).await);
    assert_eq!(
        low_efficiency_ids(&app).await,
        std::slice::from_ref(&grant.id)
    );
    assert_eq!(
        outbox_count(&app, "haicheng.land.v1.GrantLowEfficiencyChanged").await,
        1
    );
    let half = app.census_return(&uscc, 2024, 2, 3_000_000, 300_000, at);
    app.events
        .publish(topics::CENSUS_EVENTS, &uscc, &half)
        .await;
    assert!(app.wait_evaluations(&grant.id, 2).await);
    assert!(low_efficiency_ids(&app).await.is_empty(), "50 % clears it");
    let kinds: Vec<String> = sqlx::query_scalar(
        "SELECT message_key FROM outbox WHERE ce_type = 'haicheng.policy.v1.SupportPolicyNotice'
         ORDER BY id",
    )
    .fetch_all(&app.service.pool)
    .await
    .unwrap();
    assert!(
        kinds.iter().filter(|k| *k == "commerce").count() >= 2,
        "flag and clearing told to commerce: {kinds:?}"
    );
}

fn long_lease(parcel: &pb::Parcel, uscc: &str, years: i32) -> pb::GrantParcelRequest {
    let mut request = grant_request(parcel, uscc);
    request.supply = Some(pb::SupplyTerms {
        mode: pb::SupplyMode::LongTermLease as i32,
        term_years: years,
        yearly_rent_fen: 10_000_000,
        ..Default::default()
    });
    request
}

#[tokio::test(flavor = "multi_thread")]
async fn a_long_term_lease_runs_5_to_20_years_and_renews_within_them() {
    let app = spawn_app().await;
    let uscc = app.uscc(1);
    app.enterprise(&uscc, Segment::Apparel, Park::Xiliu).await;
    for years in [4, 21] {
        let parcel = app
            .register_parcel(&parcel_id("LL"), Park::Xiliu, 1_000)
            .await;
        let err = app
            .grant(long_lease(&parcel, &uscc, years))
            .await
            .unwrap_err();
        assert_eq!(invalid_fields(&err), ["supply.term_years"], "{years} years");
    }
    let twenty = app
        .register_parcel(&parcel_id("LL"), Park::Xiliu, 1_000)
        .await;
    let leased = app.grant(long_lease(&twenty, &uscc, 20)).await.unwrap();
    assert_eq!(leased.status(), pb::GrantStatus::Leasing);
    assert_eq!(leased.supply.as_ref().unwrap().price_fen, 200_000_000);
    let parcel = app
        .register_parcel(&parcel_id("LL"), Park::Xiliu, 1_000)
        .await;
    let grant = app.grant(long_lease(&parcel, &uscc, 5)).await.unwrap();
    let renew = |years| pb::RenewLeaseRequest {
        grant_id: grant.id.clone(),
        expected_version: 0,
        years,
        yearly_rent_fen: 12_000_000,
    };
    let mut client = app.client.clone();
    for years in [4, 21] {
        let err = client
            .renew_lease(with_token(NATURAL_RESOURCES, renew(years)))
            .await
            .unwrap_err();
        assert_eq!(invalid_fields(&err), ["years"], "{years} years");
    }
    let renewed = client
        .renew_lease(with_token(NATURAL_RESOURCES, renew(5)))
        .await
        .unwrap()
        .into_inner()
        .grant
        .unwrap();
    assert_eq!(renewed.total_years, 10);
    assert_eq!(renewed.supply.unwrap().yearly_rent_fen, 12_000_000);
    assert_eq!(outbox_count(&app, "haicheng.land.v1.LeaseRenewed").await, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn split_and_merge_publish_their_lineage() {
    let app = spawn_app().await;
    let parcel = app
        .register_parcel(&parcel_id("SP"), Park::Xiliu, 1_000)
        .await;
    let (a, b) = (parcel_id("SA"), parcel_id("SB"));
    let mut client = app.client.clone();
    client
        .split_parcel(with_token(
            NATURAL_RESOURCES,
            pb::SplitParcelRequest {
                parcel_id: parcel.id.clone(),
                expected_version: parcel.version,
                parts: [&a, &b]
                    .iter()
                    .map(|id| pb::ParcelPart {
                        id: (*id).clone(),
                        area_centi_mu: 500,
                        location: String::new(),
                    })
                    .collect(),
            },
        ))
        .await
        .unwrap();
    let merged = parcel_id("SM");
    client
        .merge_parcels(with_token(
            NATURAL_RESOURCES,
            pb::MergeParcelsRequest {
                parcel_ids: vec![a.clone(), b.clone()],
                new_parcel_id: merged.clone(),
                location: String::new(),
            },
        ))
        .await
        .unwrap();
    let payload: Vec<u8> = sqlx::query_scalar(
        "SELECT payload FROM outbox WHERE ce_type = 'haicheng.land.v1.ParcelSplit'",
    )
    .fetch_one(&app.service.pool)
    .await
    .unwrap();
    let split: pb::ParcelSplit = prost::Message::decode(payload.as_slice()).unwrap();
    assert_eq!(split.old_parcel_id, parcel.id);
    let mut parts = split.new_parcel_ids.clone();
    parts.sort();
    let mut want = vec![a.clone(), b.clone()];
    want.sort();
    assert_eq!(parts, want);
    let payload: Vec<u8> = sqlx::query_scalar(
        "SELECT payload FROM outbox WHERE ce_type = 'haicheng.land.v1.ParcelMerged'",
    )
    .fetch_one(&app.service.pool)
    .await
    .unwrap();
    let merge: pb::ParcelMerged = prost::Message::decode(payload.as_slice()).unwrap();
    let mut old = merge.old_parcel_ids.clone();
    old.sort();
    assert_eq!(old, want);
    assert_eq!(merge.new_parcel_id, merged);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_enterprise_and_a_reading_department_are_refused_every_new_method() {
    let app = spawn_app().await;
    let enterprise = platform::auth::TokenTable::development_enterprise_token(&testkit::new_uscc());
    let grant_id = Uuid::now_v7().to_string();
    let mut client = app.client.clone();
    for token in [enterprise.as_str(), COMMERCE] {
        let mut denied = vec![
            client
                .run_idle_pass(with_token(token, pb::RunIdlePassRequest::default()))
                .await
                .unwrap_err(),
            client
                .record_idle_fee(with_token(
                    token,
                    pb::RecordIdleFeeRequest {
                        grant_id: grant_id.clone(),
                        ..Default::default()
                    },
                ))
                .await
                .unwrap_err(),
            client
                .take_back_grant(with_token(token, take_back(&grant_id)))
                .await
                .unwrap_err(),
            client
                .renew_lease(with_token(
                    token,
                    pb::RenewLeaseRequest {
                        grant_id: grant_id.clone(),
                        ..Default::default()
                    },
                ))
                .await
                .unwrap_err(),
        ];
        if token != COMMERCE {
            denied.push(
                client
                    .list_low_efficiency_grants(with_token(
                        token,
                        pb::ListLowEfficiencyGrantsRequest::default(),
                    ))
                    .await
                    .unwrap_err(),
            );
        }
        for status in denied {
            assert_eq!(status.code(), Code::PermissionDenied, "{token}: {status:?}");
        }
    }
}

/// A department other than natural resources, even holding `land.write`, decides nothing on
/// idle land: the pass, the fee and the take-back are natural resources' alone.
#[tokio::test(flavor = "multi_thread")]
async fn only_natural_resources_decides_on_idle_land() {
    const WRITER: &str = "wvEF4aeKrMUiETAB_W4MA-Mtvhv7604T5ypNPM8bgsc";
    let tokens = format!("{WRITER}=department:commerce:land.read,land.write");
    let app = spawn_app_with(&[("AUTH_TOKENS", tokens.as_str())]).await;
    let grant_id = Uuid::now_v7().to_string();
    let mut client = app.client.clone();
    let denied = [
        client
            .run_idle_pass(with_token(WRITER, pb::RunIdlePassRequest::default()))
            .await
            .unwrap_err(),
        client
            .take_back_grant(with_token(WRITER, take_back(&grant_id)))
            .await
            .unwrap_err(),
    ];
    for status in denied {
        assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
        assert!(status.message().contains("natural resources"), "{status:?}");
    }
}
