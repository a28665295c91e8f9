//! The gRPC edge over a real socket: the status codes a caller gets for what tonic's codec
//! refuses, for what the process does not serve, the start-up check of the access rules, and
//! reflection of the served services only.

use std::time::Duration;

use haicheng_proto::census::v1::census_service_server::SERVICE_NAME as CENSUS;
use platform::{AccessPolicy, Platform, PlatformConfig, Rule, ServiceSpec, auth::scopes};
use testkit::{TestDatabase, stack};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::{Code, service::RoutesBuilder, transport::Channel};
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse, health_client::HealthClient};
use tonic_reflection::pb::v1::{
    ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
    server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
};

/// A process that claims the census service (its routes are absent: the calls here never
/// get that far) and lets census.read callers in.
static SPEC: ServiceSpec = ServiceSpec {
    name: "edge-tests",
    grpc_services: &[CENSUS],
    descriptor_set: haicheng_proto::FILE_DESCRIPTOR_SET,
    migrations: &crate::TEST_MIGRATIONS,
    consumes: &[],
    produces: &[],
    vars: &[],
};

fn census_readers(policy: AccessPolicy) -> AccessPolicy {
    policy.allow(&format!("/{CENSUS}/"), Rule::Scope(scopes::CENSUS_READ))
}

struct Running {
    channel: Channel,
    shutdown: CancellationToken,
    served: tokio::task::JoinHandle<anyhow::Result<()>>,
}

async fn config(extra: &[(&str, &str)]) -> PlatformConfig {
    platform::telemetry::init_for_tests();
    let db = TestDatabase::create().await;
    let mut vars: Vec<(String, String)> = vec![
        ("DATABASE_URL".into(), db.runtime_url.clone()),
        ("DATABASE_OWNER_URL".into(), db.url.clone()),
        ("KAFKA_BOOTSTRAP".into(), stack().kafka_bootstrap.clone()),
        ("AUTH_DEVELOPMENT".into(), "true".into()),
    ];
    vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    PlatformConfig::from_lookup("edge-tests", 0, |name| {
        vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    })
    .unwrap()
}

async fn start(extra: &[(&str, &str)]) -> Running {
    let config = config(extra).await;
    let policy = census_readers(AccessPolicy::new(config.tokens.clone()));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let platform = Platform::start(&SPEC, config, shutdown.clone())
        .await
        .unwrap();
    let served = tokio::spawn(platform.serve(listener, RoutesBuilder::default(), policy));
    let channel = Channel::from_shared(format!("http://{address}"))
        .unwrap()
        .connect_lazy();
    Running {
        channel,
        shutdown,
        served,
    }
}

impl Running {
    async fn stop(self) {
        self.shutdown.cancel();
        self.served.await.unwrap().unwrap();
    }
}

/// A unary call to `path` with `message` encoded as it is, whatever the method expects.
async fn raw_call<M: prost::Message + Default + Send + Sync + 'static>(
    channel: &Channel,
    path: &'static str,
    message: M,
    token: Option<&str>,
) -> Result<HealthCheckResponse, tonic::Status> {
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready().await.unwrap();
    let request = testkit::with_optional_token(token, message);
    let codec = tonic_prost::ProstCodec::<M, HealthCheckResponse>::default();
    grpc.unary(request, http::uri::PathAndQuery::from_static(path), codec)
        .await
        .map(tonic::Response::into_inner)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_that_cannot_be_decoded_is_an_invalid_argument() {
    let running = start(&[]).await;
    // Field 1 as a number where HealthCheckRequest has a string: not a HealthCheckRequest.
    let not_a_request = prost_types::Duration {
        seconds: 5,
        nanos: 0,
    };
    let err = raw_call(
        &running.channel,
        "/grpc.health.v1.Health/Check",
        not_a_request,
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert!(err.message().contains("decode"), "{err:?}");
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_message_over_the_size_limit_is_resource_exhausted() {
    let running = start(&[("MAX_MESSAGE_BYTES", "256")]).await;
    let mut health = HealthClient::new(running.channel.clone());
    let small = health
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await;
    assert!(small.is_ok(), "{small:?}");
    let err = health
        .check(HealthCheckRequest {
            service: "x".repeat(1_000),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn what_the_process_does_not_serve_is_unimplemented_and_what_it_serves_needs_a_token() {
    let running = start(&[]).await;
    let request = || HealthCheckRequest::default();
    for (path, token) in [
        // A service of the contract this process does not serve, with and without a token.
        ("/haicheng.land.v1.LandService/ListParcels", None),
        (
            "/haicheng.land.v1.LandService/ListParcels",
            Some("dev-commerce"),
        ),
        // A method the served service does not declare.
        ("/haicheng.census.v1.CensusService/DropEverything", None),
        ("/haicheng.nothing.v1.Nothing/At", Some("dev-commerce")),
    ] {
        let err = raw_call(&running.channel, path, request(), token)
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::Unimplemented, "{path}: {err:?}");
    }
    // A served method still goes through auth first.
    let err = raw_call(
        &running.channel,
        "/haicheng.census.v1.CensusService/ListEnterprises",
        request(),
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "{err:?}");
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn reflection_lists_only_the_services_the_process_serves() {
    let running = start(&[]).await;
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut replies = ServerReflectionClient::new(running.channel.clone())
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let reply = replies
        .message()
        .await
        .unwrap()
        .expect("a reflection reply");
    let Some(MessageResponse::ListServicesResponse(list)) = reply.message_response else {
        panic!("unexpected reflection reply {reply:?}");
    };
    let mut names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            CENSUS,
        ]
    );
    drop(replies);
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_served_method_without_an_access_rule_stops_start_up() {
    let config = config(&[]).await;
    // Every census method but GetStatistics.
    let partial = [
        "RegisterEnterprise",
        "UpdateEnterprise",
        "DeregisterEnterprise",
        "SubmitReturn",
        "ImportReturns",
        "GetEnterpriseFile",
        "ListEnterprises",
    ]
    .iter()
    .fold(AccessPolicy::new(config.tokens.clone()), |p, method| {
        p.allow(
            &format!("/{CENSUS}/{method}"),
            Rule::Scope(scopes::CENSUS_WRITE),
        )
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let platform = Platform::start(&SPEC, config, CancellationToken::new())
        .await
        .unwrap();
    let refused = tokio::time::timeout(
        Duration::from_secs(30),
        platform.serve(listener, RoutesBuilder::default(), partial),
    )
    .await
    .expect("serve returns at once")
    .unwrap_err()
    .to_string();
    assert!(
        refused.contains("no access rule for /haicheng.census.v1.CensusService/GetStatistics"),
        "{refused}"
    );
}
