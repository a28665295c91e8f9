//! The gRPC server: access rules (no token, bad token, wrong scope) and health through a
//! graceful shutdown, over a real socket.

use std::time::Duration;

use haicheng_proto::census::v1::census_service_server::SERVICE_NAME as CENSUS;
use platform::{AccessPolicy, Platform, PlatformConfig, Rule, ServiceSpec, auth::TokenTable};
use testkit::{TestDatabase, stack, wait_until};
use tokio::{net::TcpListener, task::JoinHandle};
use tokio_util::sync::CancellationToken;
use tonic::{Code, Request, service::RoutesBuilder, transport::Channel};
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

static SPEC: ServiceSpec = ServiceSpec {
    name: "platform-tests",
    // A service of the contract, so the start-up check finds its methods; no routes.
    grpc_services: &[CENSUS],
    descriptor_set: haicheng_proto::FILE_DESCRIPTOR_SET,
    migrations: &crate::TEST_MIGRATIONS,
    topics: &[],
    vars: &[],
};

const TOKENS: &str =
    "probe-token-1=service:probe:health.check;other-token=service:other:census.read";

struct Running {
    channel: Channel,
    shutdown: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
}

/// Starts the platform on port 0 with `policy` and the given shutdown grace.
async fn start(policy: impl FnOnce(TokenTable) -> AccessPolicy, grace_ms: u64) -> Running {
    platform::telemetry::init_for_tests();
    let db = TestDatabase::create().await;
    let grace = grace_ms.to_string();
    let vars = [
        ("DATABASE_URL", db.runtime_url.as_str()),
        ("DATABASE_OWNER_URL", db.url.as_str()),
        ("KAFKA_BOOTSTRAP", stack().kafka_bootstrap.as_str()),
        ("AUTH_TOKENS", TOKENS),
        ("SHUTDOWN_GRACE_MS", grace.as_str()),
    ];
    let config = PlatformConfig::from_lookup("platform-tests", 0, |name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    })
    .unwrap();
    let policy =
        policy(config.tokens.clone()).allow(&format!("/{CENSUS}/"), Rule::Scope("census.read"));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let platform = Platform::start(&SPEC, config, shutdown.clone())
        .await
        .unwrap();
    let task = tokio::spawn(platform.serve(listener, RoutesBuilder::default(), policy));
    let channel = Channel::from_shared(format!("http://{address}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    Running {
        channel,
        shutdown,
        task,
    }
}

fn check(token: Option<&str>, service: &str) -> Request<HealthCheckRequest> {
    let mut request = Request::new(HealthCheckRequest {
        service: service.into(),
    });
    if let Some(token) = token {
        request
            .metadata_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
    }
    request
}

#[tokio::test(flavor = "multi_thread")]
async fn calls_without_a_valid_token_or_scope_are_refused() {
    // Health is public in production; here its Check method demands a scope, to exercise the rules.
    let running = start(
        |tokens| {
            AccessPolicy::new(tokens)
                .allow("/grpc.health.v1.Health/Check", Rule::Scope("health.check"))
        },
        0,
    )
    .await;
    let mut client = HealthClient::new(running.channel.clone());

    let no_token = client.check(check(None, "")).await.unwrap_err();
    assert_eq!(no_token.code(), Code::Unauthenticated);
    let bad_token = client
        .check(check(Some("not-a-known-token"), ""))
        .await
        .unwrap_err();
    assert_eq!(bad_token.code(), Code::Unauthenticated);
    let wrong_scope = client
        .check(check(Some("other-token"), ""))
        .await
        .unwrap_err();
    assert_eq!(wrong_scope.code(), Code::PermissionDenied);
    let allowed = client
        .check(check(Some("probe-token-1"), ""))
        .await
        .unwrap();
    assert_eq!(allowed.into_inner().status(), ServingStatus::Serving);

    running.shutdown.cancel();
    running.task.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn health_reports_not_serving_as_soon_as_shutdown_begins() {
    let running = start(AccessPolicy::new, 3_000).await;
    let mut client = HealthClient::new(running.channel.clone());
    for service in ["", CENSUS] {
        let status = client
            .check(check(None, service))
            .await
            .unwrap()
            .into_inner()
            .status();
        assert_eq!(
            status,
            ServingStatus::Serving,
            "{service:?} serving after start"
        );
    }

    running.shutdown.cancel();
    // During the grace period the server still answers, and says it is going away.
    let not_serving = wait_until(Duration::from_secs(2), || {
        let mut client = client.clone();
        async move {
            client
                .check(check(None, CENSUS))
                .await
                .ok()
                .map(|r| r.into_inner().status())
                == Some(ServingStatus::NotServing)
        }
    })
    .await;
    assert!(not_serving);
    running.task.await.unwrap().unwrap();
}
