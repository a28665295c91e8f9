//! The census service against a real PostgreSQL and broker: each test starts the service
//! in-process through `testkit::spawn` (`census::run` on port 0, a fresh database, topics
//! under a prefix of its own) and talks gRPC to it with a development bearer token.

mod access;
mod audit;
mod events;
mod import;
mod reads;
mod registry;
mod returns;
mod validation;

use std::net::SocketAddr;

use haicheng_proto::{
    census::v1::{self as pb, census_service_client::CensusServiceClient},
    common::v1 as common,
};
use sqlx::PgPool;
use testkit::Service;
pub use testkit::{invalid_fields, new_uscc, period};
use tonic::{
    Request, Status,
    metadata::{AsciiMetadataValue, MetadataValue},
    service::{Interceptor, interceptor::InterceptedService},
    transport::Channel,
};

/// Development tokens (they apply when AUTH_TOKENS is unset).
pub const COMMERCE: &str = "dev-commerce";
pub const FINANCE: &str = "dev-finance";
pub const IMPORTER: &str = "dev-census-import";

pub type Client = CensusServiceClient<InterceptedService<Channel, Bearer>>;

/// Adds `authorization: Bearer <token>` to every call.
#[derive(Clone)]
pub struct Bearer(AsciiMetadataValue);

impl Interceptor for Bearer {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        request
            .metadata_mut()
            .insert("authorization", self.0.clone());
        Ok(request)
    }
}

/// A census service running in this process (see `testkit::spawn`).
pub struct Census {
    pub service: Service,
}

/// Starts the service with a fresh database and topics of its own; `extra` adds variables.
pub async fn spawn_with(extra: &[(&str, &str)]) -> Census {
    platform::telemetry::init_for_tests();
    let service = testkit::spawn(census::Config::from_lookup, census::run, extra).await;
    Census { service }
}

pub async fn spawn() -> Census {
    spawn_with(&[]).await
}

impl Census {
    /// A client calling with `token`.
    pub fn client(&self, token: &str) -> Client {
        let value: AsciiMetadataValue = MetadataValue::try_from(format!("Bearer {token}")).unwrap();
        CensusServiceClient::with_interceptor(self.service.channel.clone(), Bearer(value))
    }

    pub fn address(&self) -> SocketAddr {
        self.service.address
    }

    /// A pool on the service's database.
    pub fn pool(&self) -> PgPool {
        self.service.pool.clone()
    }

    /// The broker's name of the census topic for this service.
    pub fn events_topic(&self) -> String {
        self.service.topic(haicheng_proto::topics::CENSUS_EVENTS)
    }

    /// Stops the service and waits for it to finish cleanly.
    pub async fn stop(self) {
        self.service.stop().await;
    }
}

/// A registration of a Nantai luggage maker.
pub fn registration(uscc: &str) -> pb::RegisterEnterpriseRequest {
    pb::RegisterEnterpriseRequest {
        uscc: uscc.into(),
        name: format!("海城南台箱包有限公司 {uscc}"),
        legal_representative: "王海".into(),
        park: common::Park::Nantai as i32,
        industry_class: "1922".into(),
        size: pb::EnterpriseSize::Small as i32,
        registration_date: "2015-04-01".into(),
        ..Default::default()
    }
}

/// Registers `uscc` (as commerce) and returns its record.
pub async fn register(client: &mut Client, uscc: &str) -> pb::Enterprise {
    client
        .register_enterprise(registration(uscc))
        .await
        .expect("registration")
        .into_inner()
        .enterprise
        .expect("an enterprise")
}

/// Indicators that keep every rule.
pub fn good_indicators() -> pb::CensusIndicators {
    pb::CensusIndicators {
        employees_total: 120,
        production_staff: 80,
        rd_technical_staff: 12,
        management_sales_staff: 28,
        college_educated_staff: 30,
        rd_spend_fen: 150_000_000,
        revenue_fen: 4_800_000_000,
        industrial_output_fen: 4_500_000_000,
        tax_paid_fen: 210_000_000,
        export_sales_fen: 900_000_000,
        equipment_value_fen: 1_200_000_000,
        automation_share_percent: 42.5,
        equipment_level: pb::EquipmentLevel::DomesticAdvanced as i32,
        invention_patents: 2,
        utility_model_patents: 7,
        design_patents: 15,
        land_used_centi_mu: 3_120,
        energy_use_tce: Some(640.0),
        rd_exceeds_revenue_flag: false,
    }
}

/// A submission with a fresh client request id.
pub fn submission(
    uscc: &str,
    period_code: &str,
    indicators: pb::CensusIndicators,
) -> pb::SubmitReturnRequest {
    pb::SubmitReturnRequest {
        client_request_id: uuid::Uuid::new_v4().to_string(),
        uscc: uscc.into(),
        period: period(period_code),
        indicators: Some(indicators),
        sources: Some(pb::FigureSources {
            by_indicator: [("tax_paid_fen".to_string(), common::FigureSource::Tax as i32)].into(),
        }),
    }
}
