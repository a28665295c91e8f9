//! Every input from outside is checked: a bad request is INVALID_ARGUMENT naming each bad
//! field, and changes nothing.

use haicheng_proto::{common::v1::Park, land::v1 as pb};

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn bad_requests_name_each_bad_field() {
    let app = spawn_app().await;
    let mut client = app.client.clone();

    let err = client
        .register_parcel(with_token(
            NATURAL_RESOURCES,
            pb::RegisterParcelRequest {
                id: "lower-case".into(),
                park: 9,
                land_use: 0,
                area_centi_mu: -1,
                plot_ratio_min_milli: 0,
                plot_ratio_max_milli: 0,
                location: "x".repeat(201),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(
        invalid_fields(&err),
        [
            "park",
            "land_use",
            "id",
            "area_centi_mu",
            "plot_ratio_min_milli",
            "location"
        ]
    );

    let err = client
        .grant_parcel(with_token(
            NATURAL_RESOURCES,
            pb::GrantParcelRequest {
                parcel_id: "P-1".into(),
                uscc: "not a uscc".into(),
                expected_version: -1,
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(
        invalid_fields(&err),
        [
            "uscc",
            "expected_version",
            "supply",
            "contract",
            "commitments"
        ]
    );

    let err = client
        .record_milestone(with_token(
            NATURAL_RESOURCES,
            pb::RecordMilestoneRequest {
                grant_id: "nope".into(),
                kind: 0,
                on: "2025-13-01".into(),
                investment_to_date_fen: -5,
                built_floor_area_centi_m2: -1,
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(
        invalid_fields(&err),
        [
            "grant_id",
            "kind",
            "on",
            "investment_to_date_fen",
            "built_floor_area_centi_m2"
        ]
    );

    let err = client
        .submit_land_application(with_token(
            NATURAL_RESOURCES,
            pb::SubmitLandApplicationRequest {
                uscc: String::new(),
                park: 0,
                land_use: 7,
                area_centi_mu: 0,
                supply_mode: 0,
                purpose: "\u{0}".into(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(
        invalid_fields(&err),
        [
            "uscc",
            "park",
            "land_use",
            "area_centi_mu",
            "supply_mode",
            "purpose"
        ]
    );

    let err = client
        .list_parcels(with_token(
            COMMERCE,
            pb::ListParcelsRequest {
                status: 42,
                page_size: -1,
                page_token: "%%%".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(invalid_fields(&err), ["status", "page_size", "page_token"]);

    let err = client
        .lease_unit(with_token(
            NATURAL_RESOURCES,
            pb::LeaseUnitRequest {
                unit_id: String::new(),
                expected_version: 0,
                uscc: "91210381MA0Q12343L".into(),
                term_months: 241,
                yearly_rent_fen: 0,
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(
        invalid_fields(&err),
        [
            "unit_id",
            "expected_version",
            "term_months",
            "yearly_rent_fen"
        ]
    );

    let err = client
        .list_land_applications(with_token(
            COMMERCE,
            pb::ListLandApplicationsRequest::default(),
        ))
        .await
        .unwrap_err();
    assert_eq!(invalid_fields(&err), ["park"]);

    let parcels: i64 = sqlx::query_scalar("SELECT count(*) FROM parcels")
        .fetch_one(&app.service.pool)
        .await
        .unwrap();
    assert_eq!(parcels, 0, "nothing was written");
    let _ = Park::Xiliu;
}
