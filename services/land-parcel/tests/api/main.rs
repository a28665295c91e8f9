//! The land-parcel service against a real PostgreSQL and broker: started in-process through
//! `testkit::spawn` (a database and a topic prefix of its own), fed census and classification
//! events on its own topics, read back through gRPC, its database and its own land and
//! notice topics.

mod access;
mod conversion;
mod disposal;
mod evaluation;
mod grants;
mod idle;
mod queue;
mod units;
mod upgrade;
mod validation;

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use haicheng_proto::{
    census::v1::{
        CensusIndicators, CensusReturnSubmitted, Enterprise, EnterpriseRegistered, EnterpriseStatus,
    },
    common::v1::{Park, Segment},
    land::v1::{self as pb, land_service_client::LandServiceClient},
    topics,
};
use land_parcel::{Config, config::LandRules, store::Store};
use platform::{Outbox, time::to_timestamp};
use testkit::{Publisher, Service, Usccs, invalid_fields, period, stack, wait_until, with_token};
use tonic::{Status, transport::Channel};
use uuid::Uuid;

pub const NATURAL_RESOURCES: &str = "dev-natural-resources";
pub const COMMERCE: &str = "dev-commerce";

pub type Client = LandServiceClient<Channel>;

/// Land of every test parcel that is evaluated: 10 mu, so yuan per mu × 1,000 is fen.
pub const LAND_CENTI_MU: i64 = 1_000;

/// The service under test.
pub struct App {
    pub client: Client,
    pub service: Service,
    /// Publishes onto this test's topics, as census and classification would.
    pub events: Publisher,
    pub usccs: Usccs,
    /// The store on the service's database, for the idle pass with a chosen date.
    pub store: Store,
}

pub async fn spawn_app() -> App {
    spawn_app_with(&[]).await
}

pub async fn spawn_app_with(vars: &[(&str, &str)]) -> App {
    platform::telemetry::init_for_tests();
    let service = testkit::spawn(Config::from_lookup, land_parcel::run, vars).await;
    let events = service.publisher("land-tests");
    let store = Store::new(
        service.pool.clone(),
        Outbox::new(land_parcel::SPEC.name),
        Arc::new(LandRules::default()),
    );
    App {
        client: LandServiceClient::new(service.channel.clone()),
        service,
        events,
        usccs: Usccs::new(),
        store,
    }
}

impl App {
    pub fn uscc(&self, i: usize) -> String {
        self.usccs.nth(i)
    }

    /// Registers an enterprise through a census event and waits until the service knows it.
    pub async fn enterprise(&self, uscc: &str, segment: Segment, park: Park) {
        let message = EnterpriseRegistered {
            enterprise: Some(Enterprise {
                uscc: uscc.into(),
                name: format!("Firm {uscc}"),
                park: park as i32,
                segment: segment as i32,
                status: EnterpriseStatus::Active as i32,
                version: 1,
                ..Default::default()
            }),
        };
        self.events
            .publish(topics::CENSUS_EVENTS, uscc, &message)
            .await;
        let pool = &self.service.pool;
        assert!(
            wait_until(Duration::from_secs(30), || async {
                sqlx::query_scalar::<_, i64>("SELECT count(*) FROM enterprises WHERE uscc = $1")
                    .bind(uscc)
                    .fetch_one(pool)
                    .await
                    .is_ok_and(|n| n == 1)
            })
            .await,
            "the enterprise reached the read model"
        );
    }

    /// Publishes a registry update of `uscc` (same key, so after everything published before
    /// for it) and waits until it is applied: every earlier event of the firm was handled.
    pub async fn barrier(&self, uscc: &str, segment: Segment, park: Park) {
        let name = format!("barrier {}", Uuid::new_v4());
        let message = haicheng_proto::census::v1::EnterpriseUpdated {
            enterprise: Some(Enterprise {
                uscc: uscc.into(),
                name: name.clone(),
                park: park as i32,
                segment: segment as i32,
                status: EnterpriseStatus::Active as i32,
                version: i64::from(u32::MAX) + i64::from(rand_version()),
                ..Default::default()
            }),
            previous_version: 1,
        };
        self.events
            .publish(topics::CENSUS_EVENTS, uscc, &message)
            .await;
        let pool = &self.service.pool;
        assert!(
            wait_until(Duration::from_secs(30), || async {
                sqlx::query_scalar::<_, String>("SELECT name FROM enterprises WHERE uscc = $1")
                    .bind(uscc)
                    .fetch_one(pool)
                    .await
                    .is_ok_and(|n| n == name)
            })
            .await,
            "the barrier event was applied"
        );
    }

    /// A yearly return of `uscc` with output and tax in yuan per mu of [`LAND_CENTI_MU`].
    pub fn census_return(
        &self,
        uscc: &str,
        year: i32,
        revision: i64,
        output_yuan_per_mu: i64,
        tax_yuan_per_mu: i64,
        submitted_at: DateTime<Utc>,
    ) -> CensusReturnSubmitted {
        CensusReturnSubmitted {
            uscc: uscc.into(),
            period: period(&year.to_string()),
            revision,
            indicators: Some(CensusIndicators {
                employees_total: 100,
                industrial_output_fen: output_yuan_per_mu * LAND_CENTI_MU,
                tax_paid_fen: tax_yuan_per_mu * LAND_CENTI_MU,
                land_used_centi_mu: LAND_CENTI_MU,
                ..Default::default()
            }),
            segment: Segment::Apparel as i32,
            park: Park::Xiliu as i32,
            name: format!("Firm {uscc}"),
            enterprise_version: 1,
            submitted_at: Some(to_timestamp(submitted_at)),
            ..Default::default()
        }
    }

    /// Waits until `grant_id` has `count` evaluations.
    pub async fn wait_evaluations(&self, grant_id: &str, count: i64) -> bool {
        let pool = &self.service.pool;
        let id = Uuid::parse_str(grant_id).expect("a grant id");
        wait_until(Duration::from_secs(30), || async {
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM evaluations WHERE grant_id = $1")
                .bind(id)
                .fetch_one(pool)
                .await
                .is_ok_and(|n| n >= count)
        })
        .await
    }

    pub async fn register_parcel(&self, id: &str, park: Park, area_centi_mu: i64) -> pb::Parcel {
        self.client
            .clone()
            .register_parcel(with_token(
                NATURAL_RESOURCES,
                pb::RegisterParcelRequest {
                    id: id.into(),
                    park: park as i32,
                    land_use: pb::LandUse::Industrial as i32,
                    area_centi_mu,
                    plot_ratio_min_milli: 800,
                    plot_ratio_max_milli: 3000,
                    location: "test".into(),
                },
            ))
            .await
            .expect("registering a parcel")
            .into_inner()
            .parcel
            .expect("the parcel")
    }

    pub async fn grant(&self, request: pb::GrantParcelRequest) -> Result<pb::Grant, Status> {
        self.client
            .clone()
            .grant_parcel(with_token(NATURAL_RESOURCES, request))
            .await
            .map(|r| r.into_inner().grant.expect("the grant"))
    }

    pub async fn milestone(
        &self,
        grant_id: &str,
        kind: pb::MilestoneKind,
        on: &str,
        investment: i64,
        built: i64,
    ) -> pb::Grant {
        self.client
            .clone()
            .record_milestone(with_token(
                NATURAL_RESOURCES,
                pb::RecordMilestoneRequest {
                    grant_id: grant_id.into(),
                    kind: kind as i32,
                    on: on.into(),
                    investment_to_date_fen: investment,
                    built_floor_area_centi_m2: built,
                },
            ))
            .await
            .expect("recording a milestone")
            .into_inner()
            .grant
            .expect("the grant")
    }

    pub async fn evaluations(&self, grant_id: &str) -> Vec<pb::CommitmentEvaluation> {
        self.client
            .clone()
            .list_evaluations(with_token(
                COMMERCE,
                pb::ListEvaluationsRequest {
                    grant_id: grant_id.into(),
                    as_of: None,
                },
            ))
            .await
            .expect("listing evaluations")
            .into_inner()
            .evaluations
    }
}

/// A growing number, so each barrier's version is newer than the last.
fn rand_version() -> u32 {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// A parcel id no other test uses.
pub fn parcel_id(tag: &str) -> String {
    let random = Uuid::new_v4().simple().to_string().to_uppercase();
    format!("{tag}-{}", &random[..10])
}

/// Commitments on 10 mu: 3 M yuan a mu invested, output 6 M yuan and tax 300,000 yuan a mu,
/// plot ratio 1.2.
pub fn commitments() -> pb::Commitments {
    pb::Commitments {
        investment_fen_per_mu: 300_000_000,
        output_fen_per_mu: 600_000_000,
        tax_fen_per_mu: 30_000_000,
        plot_ratio_milli: 1_200,
        energy_tce_per_wan_yuan: None,
    }
}

pub fn contract(signed: &str, start: &str, complete: &str, check: &str) -> pb::Contract {
    pb::Contract {
        deposit_fen: 1_000_000,
        signed_on: signed.into(),
        start_by: start.into(),
        complete_by: complete.into(),
        production_check_on: check.into(),
    }
}

pub fn standard(years: i32, price_fen: i64) -> pb::SupplyTerms {
    pb::SupplyTerms {
        mode: pb::SupplyMode::StandardTransfer as i32,
        term_years: years,
        price_fen,
        ..Default::default()
    }
}

/// A standard 50-year grant of `parcel` to `uscc` with a production check long past.
pub fn grant_request(parcel: &pb::Parcel, uscc: &str) -> pb::GrantParcelRequest {
    pb::GrantParcelRequest {
        parcel_id: parcel.id.clone(),
        expected_version: parcel.version,
        uscc: uscc.into(),
        supply: Some(standard(50, 5_000_000_000)),
        contract: Some(contract(
            "2020-01-01",
            "2020-06-01",
            "2021-06-01",
            "2023-06-01",
        )),
        commitments: Some(commitments()),
    }
}
