//! Lease to transfer: refused before the lease ends and with a short evaluation, allowed
//! after, with the rent paid credited against the price.

use chrono::{TimeZone, Utc};
use haicheng_proto::{
    common::v1::{Park, Segment},
    land::v1 as pb,
    topics,
};
use tonic::Code;

use super::*;

fn lease_request(
    parcel: &pb::Parcel,
    uscc: &str,
    signed: &str,
    check: &str,
) -> pb::GrantParcelRequest {
    let mut request = grant_request(parcel, uscc);
    request.supply = Some(pb::SupplyTerms {
        mode: pb::SupplyMode::LeaseThenTransfer as i32,
        lease_years: 5,
        transfer_years: 45,
        price_fen: 5_000_000_000,
        yearly_rent_fen: 300_000_000,
        ..Default::default()
    });
    request.contract = Some(pb::Contract {
        deposit_fen: 0,
        signed_on: signed.into(),
        start_by: signed.into(),
        complete_by: signed.into(),
        production_check_on: check.into(),
    });
    request
}

async fn convert(
    app: &App,
    grant: &pb::Grant,
) -> Result<pb::ConvertLeaseToTransferResponse, tonic::Status> {
    app.client
        .clone()
        .convert_lease_to_transfer(with_token(
            NATURAL_RESOURCES,
            pb::ConvertLeaseToTransferRequest {
                grant_id: grant.id.clone(),
                expected_version: grant.version,
            },
        ))
        .await
        .map(|r| r.into_inner())
}

#[tokio::test(flavor = "multi_thread")]
async fn conversion_waits_for_the_lease_end_and_a_met_evaluation_then_credits_the_rent() {
    let app = spawn_app().await;
    let uscc = app.uscc(1);
    app.enterprise(&uscc, Segment::Apparel, Park::Xiliu).await;

    // A lease signed today runs for five more years.
    let today = (Utc::now() + chrono::Duration::hours(8))
        .date_naive()
        .to_string();
    let young = app
        .register_parcel(&parcel_id("LEASE"), Park::Xiliu, 1_000)
        .await;
    let fresh = app
        .grant(lease_request(&young, &uscc, &today, "2099-01-01"))
        .await
        .unwrap();
    let err = convert(&app, &fresh).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(
        err.message().contains("the lease runs until"),
        "{}",
        err.message()
    );

    // A lease signed in 2019 ended in 2024; built and invested as committed.
    let old = app
        .register_parcel(&parcel_id("LEASE"), Park::Xiliu, 1_000)
        .await;
    let grant = app
        .grant(lease_request(&old, &uscc, "2019-01-01", "2023-12-31"))
        .await
        .unwrap();
    app.milestone(&grant.id, pb::MilestoneKind::Started, "2019-01-01", 0, 0)
        .await;
    let grant = app
        .milestone(
            &grant.id,
            pb::MilestoneKind::Completed,
            "2020-01-01",
            3_000_000_000,
            800_000,
        )
        .await;
    let err = convert(&app, &grant).await.unwrap_err();
    assert!(err.message().contains("no evaluation"), "{}", err.message());

    let at = Utc.with_ymd_and_hms(2025, 3, 1, 2, 0, 0).unwrap();
    let short = app.census_return(&uscc, 2024, 1, 6_000_000, 100_000, at);
    app.events
        .publish(topics::CENSUS_EVENTS, &uscc, &short)
        .await;
    assert!(app.wait_evaluations(&grant.id, 1).await);
    let err = convert(&app, &grant).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(err.message().contains("short"), "{}", err.message());

    let met = app.census_return(&uscc, 2024, 2, 6_000_000, 300_000, at);
    app.events.publish(topics::CENSUS_EVENTS, &uscc, &met).await;
    assert!(app.wait_evaluations(&grant.id, 2).await);
    let converted = convert(&app, &grant).await.unwrap();
    assert_eq!(
        converted.rent_credited_fen, 1_500_000_000,
        "five years of 300,000,000 fen"
    );
    assert_eq!(converted.transfer_price_due_fen, 3_500_000_000);
    let grant = converted.grant.unwrap();
    assert_eq!(grant.status(), pb::GrantStatus::Transferred);
    assert_eq!(grant.rent_credited_fen, 1_500_000_000);
    let err = convert(&app, &grant).await.unwrap_err();
    assert!(
        err.message().contains("not in a lease phase"),
        "{}",
        err.message()
    );
}
