//! The platform serving gRPC on port 0 with no routes of its own, for the tests of its server
//! layers (access, limits, TLS): a fresh database migrated by its owner, the shared broker.

use haicheng_proto::census::v1::census_service_server::SERVICE_NAME as CENSUS;
use platform::{AccessPolicy, Platform, PlatformConfig, ServiceSpec, auth::TokenTable};
use testkit::{TestDatabase, stack};
use tokio::{net::TcpListener, task::JoinHandle};
use tokio_util::sync::CancellationToken;
use tonic::{service::RoutesBuilder, transport::Channel};

/// The census contract without its routes: the start-up check finds its methods, so a
/// policy must give each a rule, and a call to one reaches the layers but no handler.
pub static CENSUS_CONTRACT: ServiceSpec = ServiceSpec {
    name: "platform-tests",
    grpc_services: &[CENSUS],
    descriptor_set: haicheng_proto::FILE_DESCRIPTOR_SET,
    migrations: &crate::TEST_MIGRATIONS,
    consumes: &[],
    produces: &[],
    vars: &[],
};

/// A running platform.
pub struct Served {
    pub address: std::net::SocketAddr,
    pub shutdown: CancellationToken,
    pub task: JoinHandle<anyhow::Result<()>>,
}

impl Served {
    /// A plaintext channel to it.
    pub async fn channel(&self) -> Channel {
        Channel::from_shared(format!("http://{}", self.address))
            .unwrap()
            .connect()
            .await
            .unwrap()
    }
}

/// Starts `spec` with `vars` over the defaults (the database, its owner, the broker; a later
/// variable wins) and the access policy `policy` makes of the configured token table.
pub async fn serve(
    spec: &'static ServiceSpec,
    vars: Vec<(&'static str, String)>,
    policy: impl FnOnce(TokenTable) -> AccessPolicy,
) -> Served {
    platform::telemetry::init_for_tests();
    let db = TestDatabase::create().await;
    let mut all = vec![
        ("DATABASE_URL", db.runtime_url.clone()),
        ("DATABASE_OWNER_URL", db.url.clone()),
        ("KAFKA_BOOTSTRAP", stack().kafka_bootstrap.clone()),
    ];
    all.extend(vars);
    let config = PlatformConfig::from_lookup(spec.name, 0, |name| {
        all.iter()
            .rev()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
    })
    .unwrap();
    let policy = policy(config.tokens.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let platform = Platform::start(spec, config, shutdown.clone())
        .await
        .unwrap();
    let task = tokio::spawn(platform.serve(listener, RoutesBuilder::default(), policy));
    Served {
        address,
        shutdown,
        task,
    }
}
