//! The land part of the demo data set: in each park, parcels granted to fifty of its
//! manufacturers (standard transfer, some flexible term, some lease then transfer) with
//! "standard land" commitments set from the firm's own census figures, construction
//! milestones, a few parcels left available, ten land applications a park, and a multi-storey
//! factory split into units, two of them leased.
//!
//! Most commitments sit under the firm's figures; one grant in seven commits 25 % above
//! them, so the census returns loaded after the grants find it short and natural resources
//! and commerce get their notices. One in eleven started seven months late (damages and a
//! take-back review). The tenth grant of each park was never started: the loader's idle pass
//! finds it idle land, orders its idle fee (20 % of the price; natural resources and finance
//! are told) and, idle for years, puts it under take-back review. Everything is derived from the census data set, so the same seed gives
//! the same land; loading again skips what is there.

use haicheng_proto::{census::v1 as pb_census, common::v1::Park, land::v1 as pb};

use super::census::DemoCensus;

/// Grants per park.
const GRANTS_PER_PARK: usize = 50;
/// The grant of each park (its index there) that is never started: idle land.
pub const IDLE_IN_PARK: usize = 9;
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

/// The land of the demo: grants, then spare parcels, a split building and the queue.
pub struct DemoLand {
    pub grants: Vec<DemoGrant>,
    pub spare: Vec<pb::RegisterParcelRequest>,
    /// A multi-storey factory on the first Nantai grant, split into units.
    pub building: Option<pb::DefineBuildingRequest>,
    /// Manufacturers without land that lease a unit of it.
    pub tenants: Vec<String>,
    /// Land applications of manufacturers without land, ten a park.
    pub applications: Vec<pb::SubmitLandApplicationRequest>,
}

/// Applications per park.
const APPLICATIONS_PER_PARK: usize = 10;

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
    let mut applications = Vec::new();
    for park in [Park::Xiliu, Park::Nantai, Park::Ganwang, Park::Zhongxiao] {
        for (i, (firm, figures)) in landholders(census, park).enumerate() {
            // The grant's number across parks decides its terms.
            let n = grants.len();
            grants.push(grant(park, i, n, firm, &figures));
        }
        applications.extend(applications_of(census, park, &grants));
        spare.extend((0..SPARE_PER_PARK).map(|i| {
            parcel(
                format!("DEMO-{}-S{:02}", park_code(park), i + 1),
                park,
                2_000 + 500 * i as i64,
            )
        }));
    }
    let building = factory(census, &grants);
    // Tenants: applicants of the factory's park (manufacturers without land of their own).
    let tenants = applications
        .iter()
        .filter(|a| a.park == Park::Nantai as i32)
        .take(2)
        .map(|a| a.uscc.clone())
        .collect();
    DemoLand {
        grants,
        spare,
        building,
        tenants,
        applications,
    }
}

/// The park's manufacturers that get land: those with a return and at least a mu of land,
/// the first fifty, with their latest figures.
fn landholders(
    census: &DemoCensus,
    park: Park,
) -> impl Iterator<
    Item = (
        &pb_census::RegisterEnterpriseRequest,
        pb_census::CensusIndicators,
    ),
> {
    census
        .enterprises
        .iter()
        .filter(move |e| e.park == park as i32 && !e.industry_class.starts_with('5'))
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
        .take(GRANTS_PER_PARK)
}

/// The `i`-th grant of the park, the `n`-th of all: one in seven commits above the firm's
/// figures, one in nine is a flexible term and one in nine a lease then transfer, one in
/// eleven started late.
fn grant(
    park: Park,
    i: usize,
    n: usize,
    firm: &pb_census::RegisterEnterpriseRequest,
    figures: &pb_census::CensusIndicators,
) -> DemoGrant {
    let area = figures.land_used_centi_mu;
    let id = format!("DEMO-{}-{:03}", park_code(park), i + 1);
    let factor = if n % 7 == 3 { 1.25 } else { 0.8 };
    let commit = |actual: i64| ((actual as f64) * factor).round().max(1.0) as i64;
    let plot = segment_minimum(&firm.industry_class) + 200;
    let price = area * PRICE_FEN_PER_CENTI_MU;
    DemoGrant {
        parcel: parcel(id.clone(), park, area),
        grant: pb::GrantParcelRequest {
            parcel_id: id,
            expected_version: 0,
            uscc: firm.uscc.clone(),
            supply: Some(supply(n, price)),
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
        milestones: if i == IDLE_IN_PARK {
            Vec::new()
        } else {
            milestones(n % 11 == 5, area, plot)
        },
    }
}

/// The supply terms of the `n`-th grant.
fn supply(n: usize, price: i64) -> pb::SupplyTerms {
    match n % 9 {
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
    }
}

/// Started (seven months late when `late`) and completed, with the investment and the floor
/// area built.
fn milestones(late: bool, area: i64, plot: i64) -> Vec<pb::RecordMilestoneRequest> {
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
    vec![
        milestone(
            pb::MilestoneKind::Started,
            if late { "2020-04-01" } else { "2019-08-01" },
            invested / 4,
            0,
        ),
        milestone(pb::MilestoneKind::Completed, "2021-01-15", invested, built),
    ]
}

/// Ten land applications of the park's manufacturers without a grant.
fn applications_of(
    census: &DemoCensus,
    park: Park,
    grants: &[DemoGrant],
) -> Vec<pb::SubmitLandApplicationRequest> {
    let granted: std::collections::HashSet<&str> =
        grants.iter().map(|g| g.grant.uscc.as_str()).collect();
    census
        .enterprises
        .iter()
        .filter(|e| e.park == park as i32 && !e.industry_class.starts_with('5'))
        .filter(|e| !granted.contains(e.uscc.as_str()))
        .take(APPLICATIONS_PER_PARK)
        .enumerate()
        .map(|(i, firm)| pb::SubmitLandApplicationRequest {
            uscc: firm.uscc.clone(),
            park: park as i32,
            land_use: pb::LandUse::Industrial as i32,
            area_centi_mu: 1_000 + 500 * (i as i64 % 4),
            supply_mode: if i % 2 == 0 {
                pb::SupplyMode::LeaseThenTransfer
            } else {
                pb::SupplyMode::FlexibleTerm
            } as i32,
            purpose: "new workshop".into(),
        })
        .collect()
}

/// A three-storey factory on the first Nantai grant that meets its commitments, split into
/// four units.
fn factory(census: &DemoCensus, grants: &[DemoGrant]) -> Option<pb::DefineBuildingRequest> {
    let site = grants
        .iter()
        .filter(|g| g.parcel.park == Park::Nantai as i32 && !g.milestones.is_empty())
        .find(|g| !is_short(census, g))?;
    Some(pb::DefineBuildingRequest {
        parcel_id: site.parcel.id.clone(),
        name: "No. 1 multi-storey factory".into(),
        floors: (1..=3)
            .map(|number| pb::Floor {
                number,
                area_centi_m2: 300_000,
            })
            .collect(),
        units: vec![
            unit(1, "", 300_000),
            unit(2, "east", 150_000),
            unit(2, "west", 150_000),
            unit(3, "", 300_000),
        ],
    })
}

fn unit(floor: i32, part: &str, area: i64) -> pb::UnitSpec {
    pb::UnitSpec {
        floor,
        part: part.into(),
        floor_area_centi_m2: area,
        unit_use: pb::UnitUse::Production as i32,
    }
}

/// True when the grant commits more tax per mu than the firm's latest return shows.
pub fn is_short(census: &DemoCensus, g: &DemoGrant) -> bool {
    let latest = census
        .returns
        .iter()
        .rev()
        .find(|r| r.uscc == g.grant.uscc)
        .and_then(|r| r.indicators);
    match (latest, g.grant.commitments) {
        (Some(figures), Some(c)) => {
            c.tax_fen_per_mu > per_mu(figures.tax_paid_fen, g.parcel.area_centi_mu)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::{self, tour::tour_grant};

    #[test]
    fn the_demo_land_grants_fifty_manufacturers_a_park_some_of_them_short() {
        let census = demo::census(demo::DEFAULT_SEED);
        let land = plan(&census);
        assert_eq!(land.grants.len(), 200);
        assert_eq!(land.spare.len(), 20);
        assert_eq!(land.applications.len(), 40);
        assert_eq!(land.tenants.len(), 2);
        assert!(land.building.is_some());
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
        let idle: Vec<&str> = land
            .grants
            .iter()
            .filter(|g| g.milestones.is_empty())
            .map(|g| g.parcel.id.as_str())
            .collect();
        assert_eq!(
            idle,
            ["DEMO-XL-010", "DEMO-NT-010", "DEMO-GW-010", "DEMO-ZX-010"],
            "one never-started grant a park"
        );
        assert!(
            ids.contains(tour_grant(&census).0.as_str()),
            "the tour has a short grant"
        );
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
