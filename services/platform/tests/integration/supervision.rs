//! The supervisor in `Platform::serve`: a background task that panics before shutdown was
//! asked turns health NOT_SERVING, stops the service in order and makes `serve` fail.

use std::time::Duration;

use platform::{AccessPolicy, Platform, PlatformConfig, ServiceSpec};
use testkit::{TestDatabase, stack};
use tokio::{net::TcpListener, sync::oneshot};
use tokio_util::sync::CancellationToken;
use tonic::{service::RoutesBuilder, transport::Channel};
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

static SPEC: ServiceSpec = ServiceSpec {
    name: "supervision-tests",
    grpc_services: &[],
    descriptor_set: haicheng_proto::FILE_DESCRIPTOR_SET,
    migrations: &crate::TEST_MIGRATIONS,
    // A pattern that does not compile, for the refused subscription below.
    consumes: &[("broken", &["^[unclosed"])],
    produces: &[],
    vars: &[],
};

/// Runs until `stop`, or panics when `trigger` fires first.
async fn fragile(trigger: oneshot::Receiver<()>, stop: CancellationToken) {
    tokio::select! {
        _ = trigger => panic!("the fragile task gives up"),
        _ = stop.cancelled() => {}
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_task_that_panics_turns_health_not_serving_and_fails_serve() {
    platform::telemetry::init_for_tests();
    let db = TestDatabase::create().await;
    let vars = [
        ("DATABASE_URL", db.runtime_url.clone()),
        ("DATABASE_OWNER_URL", db.url.clone()),
        ("KAFKA_BOOTSTRAP", stack().kafka_bootstrap.clone()),
        ("AUTH_DEVELOPMENT", "true".to_string()),
        // Long enough to watch NOT_SERVING before the listener closes.
        ("SHUTDOWN_GRACE_MS", "1500".to_string()),
    ];
    let config = PlatformConfig::from_lookup(SPEC.name, 0, |name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
    })
    .unwrap();
    let policy = AccessPolicy::new(config.tokens.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let mut platform = Platform::start(&SPEC, config, shutdown.clone())
        .await
        .unwrap();
    let (trigger, triggered) = oneshot::channel();
    platform.spawn(move |stop| fragile(triggered, stop));
    let served = tokio::spawn(platform.serve(listener, RoutesBuilder::default(), policy));

    let channel = Channel::from_shared(format!("http://{address}"))
        .unwrap()
        .connect_lazy();
    let mut watch = HealthClient::new(channel)
        .watch(HealthCheckRequest::default())
        .await
        .unwrap()
        .into_inner();
    let first = watch.message().await.unwrap().unwrap();
    assert_eq!(first.status(), ServingStatus::Serving);

    trigger.send(()).unwrap();
    let next = tokio::time::timeout(Duration::from_secs(10), watch.message())
        .await
        .expect("a health change within 10 s")
        .unwrap()
        .unwrap();
    assert_eq!(next.status(), ServingStatus::NotServing);
    drop(watch);

    let err = tokio::time::timeout(Duration::from_secs(30), served)
        .await
        .expect("serve returns after the failure")
        .unwrap()
        .expect_err("serve fails when a task panicked")
        .to_string();
    assert!(err.contains("panicked: the fragile task gives up"), "{err}");
    assert!(
        err.contains("supervision::fragile"),
        "named after its task: {err}"
    );
    assert!(
        !shutdown.is_cancelled(),
        "the caller's token is left alone; the platform stopped on its own"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_consumer_that_cannot_subscribe_stops_start_up() {
    platform::telemetry::init_for_tests();
    let db = TestDatabase::create().await;
    let vars = [
        ("DATABASE_URL", db.runtime_url.clone()),
        ("DATABASE_OWNER_URL", db.url.clone()),
        ("KAFKA_BOOTSTRAP", stack().kafka_bootstrap.clone()),
        ("AUTH_DEVELOPMENT", "true".to_string()),
    ];
    let config = PlatformConfig::from_lookup(SPEC.name, 0, |name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
    })
    .unwrap();
    let mut platform = Platform::start(&SPEC, config, CancellationToken::new())
        .await
        .unwrap();
    // A name starting with `^` is a pattern to the client, and this one does not compile.
    let err = platform
        .consume("broken", &["^[unclosed"], crate::RecordingHandler)
        .expect_err("an invalid subscription is refused at once");
    assert!(
        format!("{err:#}")
            .starts_with("starting the consumer supervision-tests.broken: Subscription error"),
        "{err:#}"
    );
}
