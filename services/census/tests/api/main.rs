//! The census service against a real PostgreSQL and broker: each test starts the service
//! in-process (`census::run` on port 0, a fresh database) and talks gRPC to it with a
//! development bearer token. Topics are shared across tests, so each test uses USCCs of
//! its own and filters what it reads back by them.

mod access;
mod events;
mod import;
mod reads;
mod registry;
mod returns;
mod validation;

use std::{net::SocketAddr, time::Duration};

use census::domain::{Uscc, uscc::ALPHABET};
use haicheng_proto::{
    census::v1::{self as pb, census_service_client::CensusServiceClient},
    common::v1 as common,
};
use rand::Rng;
use testkit::{TestDatabase, stack, wait_until};
use tokio::{net::TcpListener, task::JoinHandle};
use tokio_util::sync::CancellationToken;
use tonic::{
    Code, Request, Status,
    metadata::{AsciiMetadataValue, MetadataValue},
    service::{Interceptor, interceptor::InterceptedService},
    transport::Channel,
};
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};
use tonic_types::StatusExt;

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

/// A census service running in this process.
pub struct Census {
    pub db: TestDatabase,
    address: SocketAddr,
    channel: Channel,
    shutdown: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
}

/// Starts the service with a fresh database and the shared broker; `extra` adds variables.
pub async fn spawn_with(extra: &[(&str, &str)]) -> Census {
    platform::telemetry::init_for_tests();
    let db = TestDatabase::create().await;
    let mut vars: Vec<(String, String)> = vec![
        ("DATABASE_URL".into(), db.url.clone()),
        ("KAFKA_BOOTSTRAP".into(), stack().kafka_bootstrap.clone()),
        ("OUTBOX_POLL_MS".into(), "100".into()),
        ("DATABASE_MAX_CONNECTIONS".into(), "5".into()),
    ];
    vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let config = census::Config::from_lookup(|name| {
        vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    })
    .expect("test configuration");
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(census::run(config, listener, shutdown.clone()));
    let channel = Channel::from_shared(format!("http://{address}"))
        .unwrap()
        .connect_lazy();
    let serving = wait_until(Duration::from_secs(60), || {
        let mut health = HealthClient::new(channel.clone());
        async move {
            let request = HealthCheckRequest {
                service: census::GRPC_SERVICE.into(),
            };
            let reply = tokio::time::timeout(Duration::from_secs(2), health.check(request)).await;
            matches!(reply, Ok(Ok(r)) if r.get_ref().status() == ServingStatus::Serving)
        }
    })
    .await;
    assert!(serving, "the census service did not start serving");
    Census {
        db,
        address,
        channel,
        shutdown,
        task,
    }
}

pub async fn spawn() -> Census {
    spawn_with(&[]).await
}

impl Census {
    /// A client calling with `token`.
    pub fn client(&self, token: &str) -> Client {
        let value: AsciiMetadataValue = MetadataValue::try_from(format!("Bearer {token}")).unwrap();
        CensusServiceClient::with_interceptor(self.channel.clone(), Bearer(value))
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Stops the service and waits for it to finish cleanly.
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.task
            .await
            .expect("the service task")
            .expect("the service stopped cleanly");
    }
}

/// A fresh, valid USCC of a Haicheng enterprise, different in every call.
pub fn new_uscc() -> String {
    let mut rng = rand::rng();
    let body: String = (0..8)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect();
    Uscc::complete(&format!("91210381{body}"))
        .unwrap()
        .to_string()
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

pub fn period(code: &str) -> Option<common::Period> {
    Some(common::Period { code: code.into() })
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

/// The fields named by an INVALID_ARGUMENT's field violations, in order.
pub fn violated_fields(status: &Status) -> Vec<String> {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    status
        .get_details_bad_request()
        .map(|b| b.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default()
}
