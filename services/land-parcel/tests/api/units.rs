//! Split buildings: overlapping, oversized and common-part units refused with field
//! violations; a unit leased to a manufacturer with its apportioned land; not to a trader.

use haicheng_proto::{
    common::v1::{Park, Segment},
    land::v1 as pb,
};
use tonic::Code;

use super::*;

fn unit(floor: i32, part: &str, area: i64, unit_use: pb::UnitUse) -> pb::UnitSpec {
    pb::UnitSpec {
        floor,
        part: part.into(),
        floor_area_centi_m2: area,
        unit_use: unit_use as i32,
    }
}

fn building(parcel_id: &str, units: Vec<pb::UnitSpec>) -> pb::DefineBuildingRequest {
    pb::DefineBuildingRequest {
        parcel_id: parcel_id.into(),
        name: "No. 3 factory".into(),
        floors: vec![
            pb::Floor {
                number: 1,
                area_centi_m2: 400_000,
            },
            pb::Floor {
                number: 2,
                area_centi_m2: 400_000,
            },
        ],
        units,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_units_are_refused_field_by_field_and_good_ones_leased_to_manufacturers() {
    let app = spawn_app().await;
    let holder = app.uscc(1);
    let tenant = app.uscc(2);
    let trader = app.uscc(3);
    app.enterprise(&holder, Segment::Apparel, Park::Xiliu).await;
    app.enterprise(&tenant, Segment::Apparel, Park::Xiliu).await;
    app.enterprise(&trader, Segment::Trade, Park::Xiliu).await;
    let parcel = app
        .register_parcel(&parcel_id("B"), Park::Xiliu, 1_000)
        .await;
    let mut client = app.client.clone();

    let early = client
        .define_building(with_token(
            NATURAL_RESOURCES,
            building(
                &parcel.id,
                vec![unit(1, "", 400_000, pb::UnitUse::Production)],
            ),
        ))
        .await
        .unwrap_err();
    assert_eq!(
        early.code(),
        Code::FailedPrecondition,
        "only granted land is split"
    );
    app.grant(grant_request(&parcel, &holder)).await.unwrap();

    use pb::UnitUse::{Canteen, Common, Production};
    let bad = vec![
        unit(1, "", 400_000, Production),
        unit(1, "east", 100_000, Production), // overlaps the whole floor
        unit(2, "east", 400_001, Production), // larger than its floor
        unit(2, "stairs", 50_000, Common),    // common parts are never split off
        unit(2, "canteen", 50_000, Canteen),  // nor canteens
        unit(3, "", 100_000, Production),     // no such floor
    ];
    let err = client
        .define_building(with_token(NATURAL_RESOURCES, building(&parcel.id, bad)))
        .await
        .unwrap_err();
    assert_eq!(
        invalid_fields(&err),
        [
            "units[2].floor_area_centi_m2",
            "units[3].unit_use",
            "units[4].unit_use",
            "units[5].floor",
            "units[1].part",
        ]
    );
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM buildings")
        .fetch_one(&app.service.pool)
        .await
        .unwrap();
    assert_eq!(stored, 0);

    let good = vec![
        unit(1, "", 400_000, Production),
        unit(2, "east", 200_000, Production),
    ];
    let building = client
        .define_building(with_token(NATURAL_RESOURCES, building(&parcel.id, good)))
        .await
        .unwrap()
        .into_inner()
        .building
        .unwrap();
    let east = building
        .units
        .iter()
        .find(|u| u.part == "east")
        .unwrap()
        .clone();
    // 2,000 of 8,000 m² on a 10-mu parcel: 2.5 mu.
    assert_eq!(east.apportioned_centi_mu, 250);

    let lease = |uscc: &str, version| pb::LeaseUnitRequest {
        unit_id: east.id.clone(),
        expected_version: version,
        uscc: uscc.into(),
        term_months: 36,
        yearly_rent_fen: 12_000_000,
    };
    let err = client
        .lease_unit(with_token(NATURAL_RESOURCES, lease(&trader, east.version)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    let leased = client
        .lease_unit(with_token(NATURAL_RESOURCES, lease(&tenant, east.version)))
        .await
        .unwrap()
        .into_inner()
        .unit
        .unwrap();
    assert_eq!(leased.status(), pb::UnitStatus::Leased);
    assert_eq!(leased.holder_uscc, tenant);
    let err = client
        .lease_unit(with_token(
            NATURAL_RESOURCES,
            lease(&tenant, leased.version),
        ))
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Code::FailedPrecondition,
        "a leased unit is not leased again"
    );
    // The tenant's own return is evaluated per mu of its 2.5 apportioned mu: 1,500,000 yuan
    // of output per mu of 10 mu is 15 M yuan in all, 6 M yuan per apportioned mu.
    let at = chrono::Utc::now();
    let figures = app.census_return(&tenant, 2025, 1, 1_500_000, 75_000, at);
    app.events
        .publish(haicheng_proto::topics::CENSUS_EVENTS, &tenant, &figures)
        .await;
    let evaluated = wait_until(std::time::Duration::from_secs(30), || {
        let mut client = client.clone();
        let parcel_id = parcel.id.clone();
        let unit_id = east.id.clone();
        async move {
            let reply = client
                .get_parcel(with_token(
                    COMMERCE,
                    pb::GetParcelRequest {
                        parcel_id,
                        as_of: None,
                    },
                ))
                .await
                .unwrap()
                .into_inner();
            reply
                .buildings
                .iter()
                .flat_map(|b| &b.units)
                .find(|u| u.id == unit_id)
                .and_then(|u| u.holder_figures)
                == Some(pb::HolderFigures {
                    year: 2025,
                    output_fen_per_mu: 600_000_000,
                    tax_fen_per_mu: 30_000_000,
                    meets_commitments: true,
                })
        }
    })
    .await;
    assert!(
        evaluated,
        "the tenant is evaluated per mu of its apportioned land"
    );

    let whole = building.units.iter().find(|u| u.part.is_empty()).unwrap();
    let sold = client
        .sell_unit(with_token(
            NATURAL_RESOURCES,
            pb::SellUnitRequest {
                unit_id: whole.id.clone(),
                expected_version: whole.version,
                uscc: tenant.clone(),
                price_fen: 800_000_000,
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .unit
        .unwrap();
    assert_eq!(sold.status(), pb::UnitStatus::Sold);
    assert_eq!(
        sold.apportioned_centi_mu, 500,
        "4,000 of 8,000 m²: half the parcel"
    );
    let history: i64 = sqlx::query_scalar("SELECT count(*) FROM unit_transactions")
        .fetch_one(&app.service.pool)
        .await
        .unwrap();
    assert_eq!(history, 2);
    let events: (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE ce_type = 'haicheng.land.v1.UnitLeased'),
                count(*) FILTER (WHERE ce_type = 'haicheng.land.v1.UnitSold')
         FROM outbox WHERE message_key = $1",
    )
    .bind(&parcel.id)
    .fetch_one(&app.service.pool)
    .await
    .unwrap();
    assert_eq!(events, (1, 1));
}
