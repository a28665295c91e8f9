//! What several system tests set up alike: a parcel and a standard grant of it to a firm, and
//! an external fair open for registration.

use std::time::Duration;

use haicheng_proto::{
    common::v1::Park,
    fair::v1 as fair,
    land::v1::{self as land, land_service_client::LandServiceClient},
};
use testkit::with_token;
use tonic::{Code, transport::Channel};

/// Registers an industrial parcel of 50 mu in Ganwang park as natural resources.
pub async fn register_parcel(client: &LandServiceClient<Channel>, id: String) -> land::Parcel {
    client
        .clone()
        .register_parcel(with_token(
            "dev-natural-resources",
            land::RegisterParcelRequest {
                id,
                park: Park::Ganwang as i32,
                land_use: land::LandUse::Industrial as i32,
                area_centi_mu: 5_000,
                plot_ratio_min_milli: 800,
                plot_ratio_max_milli: 3_000,
                location: "system test".into(),
            },
        ))
        .await
        .expect("registering a parcel")
        .into_inner()
        .parcel
        .expect("the parcel")
}

/// A standard grant of `parcel` whose production check is long past, committing far more tax
/// per mu than any test return reports.
pub fn grant_request(parcel: &land::Parcel, uscc: &str) -> land::GrantParcelRequest {
    land::GrantParcelRequest {
        parcel_id: parcel.id.clone(),
        expected_version: 0,
        uscc: uscc.into(),
        supply: Some(land::SupplyTerms {
            mode: land::SupplyMode::StandardTransfer as i32,
            term_years: 50,
            price_fen: 5_000_000_000,
            ..Default::default()
        }),
        contract: Some(land::Contract {
            deposit_fen: 0,
            signed_on: "2020-01-01".into(),
            start_by: "2020-06-01".into(),
            complete_by: "2021-06-01".into(),
            production_check_on: "2023-06-01".into(),
        }),
        commitments: Some(land::Commitments {
            investment_fen_per_mu: 100_000_000,
            output_fen_per_mu: 10_000_000,
            tax_fen_per_mu: 100_000_000,
            plot_ratio_milli: 1_000,
            energy_tce_per_wan_yuan: None,
        }),
    }
}

/// Grants once land-parcel has the firm from the census events.
pub async fn wait_for_grant(
    client: &LandServiceClient<Channel>,
    request: land::GrantParcelRequest,
) -> land::Grant {
    let mut granted = None;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while granted.is_none() {
        match client
            .clone()
            .grant_parcel(with_token("dev-natural-resources", request.clone()))
            .await
        {
            Ok(reply) => granted = reply.into_inner().grant,
            Err(status) if status.code() == Code::FailedPrecondition => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "the firm never reached land-parcel: {status:?}"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(status) => panic!("the grant failed: {status:?}"),
        }
    }
    granted.expect("a grant")
}

/// The Canton Fair's third phase a month from now, its registration open since an hour ago
/// for a week, 30 standard booths allocated by score: class A firms are invited to it.
pub fn open_fair() -> fair::Fair {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64;
    // A timestamp `offset` seconds from now (the type is prost's, named through the field).
    let at = |offset: i64| {
        let mut t = fair::Fair::default().starts_at.unwrap_or_default();
        t.seconds = now + offset;
        Some(t)
    };
    const DAY: i64 = 86_400;
    fair::Fair {
        name: "China Import and Export Fair, phase 3".into(),
        kind: fair::FairKind::CantonFair as i32,
        city: "Guangzhou".into(),
        venue: "Pazhou complex".into(),
        market: fair::Market::TraditionalExport as i32,
        starts_at: at(30 * DAY),
        ends_at: at(35 * DAY),
        registration_opens_at: at(-3_600),
        registration_closes_at: at(7 * DAY),
        allocation_mode: fair::AllocationMode::Scored as i32,
        inventory: vec![fair::BoothInventory {
            booth_type: fair::BoothType::Standard as i32,
            capacity: 30,
            fee_fen: 2_000_000,
            taken: 0,
        }],
        ..Default::default()
    }
}
