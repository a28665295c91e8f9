//! The land part of the demo data set: in each park, parcels granted to fifty of its
//! manufacturers (standard transfer, some flexible term, some lease then transfer) with
//! "standard land" commitments set from the firm's own census figures, construction
//! milestones, and a few parcels left available for the queue.
//!
//! Most commitments sit under the firm's figures; one grant in seven commits 25 % above
//! them, so the census returns loaded after the grants find it short and natural resources
//! and commerce get their notices. One in eleven started seven months late (damages and a
//! take-back review). Everything is derived from the census data set, so the same seed gives
//! the same land; loading again skips what is there.

use std::time::Duration;

use haicheng_proto::{
    common::v1::Park,
    land::v1::{self as pb, land_service_client::LandServiceClient},
};
use tonic::{Code, service::interceptor::InterceptedService, transport::Channel};

use crate::{
    client::{Bearer, endpoint},
    demo::DemoCensus,
};

/// Natural resources writes land.
const LOADER_TOKEN: &str = "dev-natural-resources";
/// Grants per park.
const GRANTS_PER_PARK: usize = 50;
/// Parcels per park left available.
const SPARE_PER_PARK: usize = 5;
/// Committed investment, fen per mu (2 M yuan a mu).
const INVESTMENT_FEN_PER_MU: i64 = 200_000_000;
/// Price, fen per hundredth of a mu (300,000 yuan a mu).
const PRICE_FEN_PER_CENTI_MU: i64 = 300_000;

/// One demo grant with what follows it.
pub struct DemoGrant {
    pub parcel: pb::RegisterParcelRequest,
    pub grant: pb::GrantParcelRequest,
    /// Milestones in order; their grant id is filled in when the grant exists.
    pub milestones: Vec<pb::RecordMilestoneRequest>,
}

/// The land of the demo: grants, then spare parcels.
pub struct DemoLand {
    pub grants: Vec<DemoGrant>,
    pub spare: Vec<pb::RegisterParcelRequest>,
}

fn park_code(park: Park) -> &'static str {
    match park {
        Park::Xiliu => "XL",
        Park::Nantai => "NT",
        Park::Ganwang => "GW",
        Park::Zhongxiao => "ZX",
        Park::Unspecified => "XX",
    }
}

/// National minimum plot ratio (thousandths) of the firm's industry class.
fn segment_minimum(industry_class: &str) -> i64 {
    if industry_class.starts_with("17") {
        800
    } else {
        1000
    }
}

fn parcel(id: String, park: Park, area_centi_mu: i64) -> pb::RegisterParcelRequest {
    pb::RegisterParcelRequest {
        id,
        park: park as i32,
        land_use: pb::LandUse::Industrial as i32,
        area_centi_mu,
        plot_ratio_min_milli: 800,
        plot_ratio_max_milli: 3_000,
        location: "demo".into(),
    }
}

/// Figures per mu the way the service computes them (total × 100 / hundredths of a mu).
fn per_mu(total: i64, centi_mu: i64) -> i64 {
    (i128::from(total) * 100 / i128::from(centi_mu.max(1))) as i64
}

/// Derives the demo land from the census data set.
pub fn plan(census: &DemoCensus) -> DemoLand {
    let mut grants = Vec::new();
    let mut spare = Vec::new();
    for park in [Park::Xiliu, Park::Nantai, Park::Ganwang, Park::Zhongxiao] {
        let firms = census
            .enterprises
            .iter()
            .filter(|e| e.park == park as i32 && !e.industry_class.starts_with('5'))
            .filter_map(|e| {
                let latest = census
                    .returns
                    .iter()
                    .filter(|r| r.uscc == e.uscc)
                    .filter_map(|r| r.indicators.as_ref())
                    .next_back()?;
                Some((e, *latest))
            })
            .filter(|(_, figures)| figures.land_used_centi_mu >= 100)
            .take(GRANTS_PER_PARK);
        for (i, (firm, figures)) in firms.enumerate() {
            let n = grants.len();
            let area = figures.land_used_centi_mu;
            let id = format!("DEMO-{}-{:03}", park_code(park), i + 1);
            let factor = if n % 7 == 3 { 1.25 } else { 0.8 };
            let commit = |actual: i64| ((actual as f64) * factor).round().max(1.0) as i64;
            let plot = segment_minimum(&firm.industry_class) + 200;
            let price = area * PRICE_FEN_PER_CENTI_MU;
            let supply = match n % 9 {
                4 => pb::SupplyTerms {
                    mode: pb::SupplyMode::FlexibleTerm as i32,
                    term_years: 20,
                    // The price of a 50-year term; the service scales it to 20 years.
                    price_fen: price,
                    ..Default::default()
                },
                7 => pb::SupplyTerms {
                    mode: pb::SupplyMode::LeaseThenTransfer as i32,
                    lease_years: 5,
                    transfer_years: 45,
                    price_fen: price,
                    yearly_rent_fen: price * 6 / 100,
                    ..Default::default()
                },
                _ => pb::SupplyTerms {
                    mode: pb::SupplyMode::StandardTransfer as i32,
                    term_years: 50,
                    price_fen: price,
                    ..Default::default()
                },
            };
            let late = n % 11 == 5;
            let milestone = |kind: pb::MilestoneKind, on: &str, investment: i64, built: i64| {
                pb::RecordMilestoneRequest {
                    grant_id: String::new(),
                    kind: kind as i32,
                    on: on.into(),
                    investment_to_date_fen: investment,
                    built_floor_area_centi_m2: built,
                }
            };
            let invested = INVESTMENT_FEN_PER_MU * area / 100;
            // One square metre above the committed ratio, so rounding never makes it short.
            let built = plot * area * 2 / 3 + 100;
            grants.push(DemoGrant {
                parcel: parcel(id.clone(), park, area),
                grant: pb::GrantParcelRequest {
                    parcel_id: id,
                    expected_version: 0,
                    uscc: firm.uscc.clone(),
                    supply: Some(supply),
                    contract: Some(pb::Contract {
                        deposit_fen: price / 10,
                        signed_on: "2019-03-01".into(),
                        start_by: "2019-09-01".into(),
                        complete_by: "2021-03-01".into(),
                        production_check_on: "2023-03-01".into(),
                    }),
                    commitments: Some(pb::Commitments {
                        investment_fen_per_mu: INVESTMENT_FEN_PER_MU,
                        output_fen_per_mu: commit(per_mu(figures.industrial_output_fen, area)),
                        tax_fen_per_mu: commit(per_mu(figures.tax_paid_fen, area)),
                        plot_ratio_milli: plot,
                        energy_tce_per_wan_yuan: None,
                    }),
                },
                milestones: vec![
                    milestone(
                        pb::MilestoneKind::Started,
                        if late { "2020-04-01" } else { "2019-08-01" },
                        invested / 4,
                        0,
                    ),
                    milestone(pb::MilestoneKind::Completed, "2021-01-15", invested, built),
                ],
            });
        }
        for i in 0..SPARE_PER_PARK {
            spare.push(parcel(
                format!("DEMO-{}-S{:02}", park_code(park), i + 1),
                park,
                2_000 + 500 * i as i64,
            ));
        }
    }
    DemoLand { grants, spare }
}

type Client = LandServiceClient<InterceptedService<Channel, Bearer>>;

/// Registers a parcel unless it is there; true when it already has a grant in force.
async fn ensure_parcel(
    client: &mut Client,
    parcel: &pb::RegisterParcelRequest,
) -> anyhow::Result<bool> {
    match client.register_parcel(parcel.clone()).await {
        Ok(_) => Ok(false),
        Err(status) if status.code() == Code::AlreadyExists => {
            let existing = client
                .get_parcel(pb::GetParcelRequest {
                    parcel_id: parcel.id.clone(),
                })
                .await?
                .into_inner();
            Ok(existing.grant.is_some())
        }
        Err(status) => anyhow::bail!("registering parcel {}: {status}", parcel.id),
    }
}

/// Grants, retrying while land-parcel has not yet read the firm from the census events.
async fn grant(client: &mut Client, request: &pb::GrantParcelRequest) -> anyhow::Result<pb::Grant> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        match client.grant_parcel(request.clone()).await {
            Ok(reply) => {
                return reply
                    .into_inner()
                    .grant
                    .ok_or_else(|| anyhow::anyhow!("no grant in the reply"));
            }
            Err(status)
                if status.code() == Code::FailedPrecondition
                    && status.message().contains("not known")
                    && tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(status) => anyhow::bail!(
                "granting {} to {}: {status}",
                request.parcel_id,
                request.uscc
            ),
        }
    }
}

/// Loads the demo land through the land-parcel API.
pub async fn load(land: &str, census: &DemoCensus) -> anyhow::Result<()> {
    let plan = plan(census);
    let channel = endpoint(land)?.connect().await?;
    let mut client = LandServiceClient::with_interceptor(channel, Bearer::new(LOADER_TOKEN)?);
    eprintln!(
        "loading the demo land: {} grants, {} spare parcels",
        plan.grants.len(),
        plan.spare.len()
    );
    for demo in &plan.grants {
        if ensure_parcel(&mut client, &demo.parcel).await? {
            continue;
        }
        let granted = grant(&mut client, &demo.grant).await?;
        for milestone in &demo.milestones {
            let mut milestone = milestone.clone();
            milestone.grant_id = granted.id.clone();
            client.record_milestone(milestone).await?;
        }
    }
    for parcel in &plan.spare {
        ensure_parcel(&mut client, parcel).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo;

    #[test]
    fn the_demo_land_grants_fifty_manufacturers_a_park_some_of_them_short() {
        let census = demo::census(demo::DEFAULT_SEED);
        let land = plan(&census);
        assert_eq!(land.grants.len(), 200);
        assert_eq!(land.spare.len(), 20);
        let short = land.grants.iter().filter(|g| {
            let c = g.grant.commitments.as_ref().unwrap();
            let area = g.parcel.area_centi_mu;
            let figures = census
                .returns
                .iter()
                .rev()
                .find(|r| r.uscc == g.grant.uscc)
                .unwrap()
                .indicators
                .unwrap();
            c.tax_fen_per_mu > per_mu(figures.tax_paid_fen, area)
        });
        assert!(
            short.count() >= 20,
            "about one grant in seven commits above the firm's figures"
        );
        let ids: std::collections::HashSet<&str> =
            land.grants.iter().map(|g| g.parcel.id.as_str()).collect();
        assert_eq!(ids.len(), 200, "parcel ids are unique");
        assert!(land.grants.iter().all(|g| {
            !census
                .enterprises
                .iter()
                .find(|e| e.uscc == g.grant.uscc)
                .unwrap()
                .industry_class
                .starts_with('5')
        }));
    }
}
