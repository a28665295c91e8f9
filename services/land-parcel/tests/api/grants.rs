//! Grants: term rules at and past each limit, the segment plot-ratio minimum, holders the
//! service does not know, and fifty concurrent grants of one parcel.

use haicheng_proto::{
    common::v1::{Park, Segment},
    land::v1 as pb,
};
use tonic::Code;

use super::*;

async fn app_with_firm() -> (App, String) {
    let app = spawn_app().await;
    let uscc = app.uscc(1);
    app.enterprise(&uscc, Segment::Apparel, Park::Xiliu).await;
    (app, uscc)
}

async fn try_terms(
    app: &App,
    uscc: &str,
    supply: pb::SupplyTerms,
) -> Result<pb::Grant, tonic::Status> {
    let parcel = app
        .register_parcel(&parcel_id("T"), Park::Xiliu, 1_000)
        .await;
    let mut request = grant_request(&parcel, uscc);
    request.supply = Some(supply);
    app.grant(request).await
}

#[tokio::test(flavor = "multi_thread")]
async fn term_rules_hold_at_each_limit_and_refuse_past_it() {
    let (app, uscc) = app_with_firm().await;

    let fifty = try_terms(&app, &uscc, standard(50, 5_000_000_000))
        .await
        .unwrap();
    assert_eq!(fifty.total_years, 50);
    let err = try_terms(&app, &uscc, standard(51, 5_000_000_000))
        .await
        .unwrap_err();
    assert_eq!(invalid_fields(&err), ["supply.term_years"]);

    let flexible = |years| pb::SupplyTerms {
        mode: pb::SupplyMode::FlexibleTerm as i32,
        term_years: years,
        price_fen: 5_000_000_000,
        ..Default::default()
    };
    let twenty = try_terms(&app, &uscc, flexible(20)).await.unwrap();
    assert_eq!(
        twenty.supply.unwrap().price_fen,
        2_000_000_000,
        "20/50 of the full-term price"
    );
    let err = try_terms(&app, &uscc, flexible(21)).await.unwrap_err();
    assert_eq!(invalid_fields(&err), ["supply.term_years"]);

    let lease = |lease_years, transfer_years, rent| pb::SupplyTerms {
        mode: pb::SupplyMode::LeaseThenTransfer as i32,
        lease_years,
        transfer_years,
        price_fen: 5_000_000_000,
        yearly_rent_fen: rent,
        ..Default::default()
    };
    let leased = try_terms(&app, &uscc, lease(5, 45, 250_000_000))
        .await
        .unwrap();
    assert_eq!(leased.status(), pb::GrantStatus::Leasing);
    let err = try_terms(&app, &uscc, lease(6, 44, 250_000_000))
        .await
        .unwrap_err();
    assert_eq!(invalid_fields(&err), ["supply.lease_years"]);
    let err = try_terms(&app, &uscc, lease(5, 46, 250_000_000))
        .await
        .unwrap_err();
    assert_eq!(invalid_fields(&err), ["supply.transfer_years"]);
    let err = try_terms(&app, &uscc, lease(5, 45, 249_999_999))
        .await
        .unwrap_err();
    assert_eq!(invalid_fields(&err), ["supply.yearly_rent_fen"]);

    // A refused grant leaves the parcel available: nothing half-written.
    let refused: i64 =
        sqlx::query_scalar("SELECT count(*) FROM parcels WHERE status = 'available'")
            .fetch_one(&app.service.pool)
            .await
            .unwrap();
    assert_eq!(
        refused, 5,
        "five refused grants, five parcels still available"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plot_ratio_under_the_segment_minimum_is_refused_on_its_field() {
    let app = spawn_app().await;
    let apparel = app.uscc(1);
    let textile = app.uscc(2);
    app.enterprise(&apparel, Segment::Apparel, Park::Xiliu)
        .await;
    app.enterprise(&textile, Segment::Textile, Park::Ganwang)
        .await;
    let parcel = app
        .register_parcel(&parcel_id("PR"), Park::Xiliu, 1_000)
        .await;

    let mut request = grant_request(&parcel, &apparel);
    request.commitments.as_mut().unwrap().plot_ratio_milli = 999;
    let err = app.grant(request.clone()).await.unwrap_err();
    assert_eq!(invalid_fields(&err), ["commitments.plot_ratio_milli"]);
    assert!(
        err.message().contains("national minimum"),
        "{}",
        err.message()
    );

    // Textiles' minimum is 0.8: the same ratio passes for a textile firm.
    request.uscc = textile;
    request.commitments.as_mut().unwrap().plot_ratio_milli = 800;
    let grant = app.grant(request).await.unwrap();
    assert_eq!(grant.commitments.unwrap().plot_ratio_milli, 800);
}

#[tokio::test(flavor = "multi_thread")]
async fn only_known_active_manufacturers_get_industrial_land() {
    let app = spawn_app().await;
    let trader = app.uscc(1);
    app.enterprise(&trader, Segment::Trade, Park::Xiliu).await;
    let parcel = app
        .register_parcel(&parcel_id("M"), Park::Xiliu, 1_000)
        .await;

    let err = app
        .grant(grant_request(&parcel, &trader))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(
        err.message().contains("not a manufacturer"),
        "{}",
        err.message()
    );
    let unknown = app.uscc(2);
    let err = app
        .grant(grant_request(&parcel, &unknown))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(err.message().contains("not known"), "{}", err.message());
    let err = app
        .grant(grant_request(&parcel, "91210381MA0Q1234XX"))
        .await
        .unwrap_err();
    assert_eq!(invalid_fields(&err), ["uscc"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn fifty_concurrent_grants_of_one_parcel_leave_exactly_one() {
    let app = spawn_app().await;
    let firms: Vec<String> = (0..5).map(|i| app.uscc(i)).collect();
    for uscc in &firms {
        app.enterprise(uscc, Segment::LuggageLeather, Park::Nantai)
            .await;
    }
    let parcel = app
        .register_parcel(&parcel_id("RACE"), Park::Nantai, 1_000)
        .await;
    let calls = (0..50).map(|i| {
        let mut request = grant_request(&parcel, &firms[i % firms.len()]);
        // Half send the version they read, half skip the check: both must lose but one.
        if i % 2 == 0 {
            request.expected_version = 0;
        }
        app.grant(request)
    });
    let results = futures::future::join_all(calls).await;
    let granted = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(
        granted,
        1,
        "{:?}",
        results
            .iter()
            .filter_map(|r| r.as_ref().err())
            .collect::<Vec<_>>()
    );
    for err in results.iter().filter_map(|r| r.as_ref().err()) {
        assert!(
            matches!(err.code(), Code::FailedPrecondition | Code::Aborted),
            "{err:?}"
        );
    }
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM grants WHERE parcel_id = $1")
        .bind(&parcel.id)
        .fetch_one(&app.service.pool)
        .await
        .unwrap();
    assert_eq!(rows, 1);
    let events: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM outbox WHERE ce_type = 'haicheng.land.v1.ParcelGranted'",
    )
    .fetch_one(&app.service.pool)
    .await
    .unwrap();
    assert_eq!(events, 1);
}
