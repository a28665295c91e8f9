//! gRPC server bootstrap: health and reflection beside the service's own APIs, a default
//! deadline, message size caps, admission control, auth, trace context from the caller,
//! and a graceful stop (NOT_SERVING first, then drain).
//!
//! Layers, outermost first: admission (shedding, metrics) → status codes (tonic's codec
//! errors corrected, see [`codes`]) → served methods only (UNIMPLEMENTED for the rest, see
//! [`methods`]) → auth → the routes. Every accepted socket has `TCP_NODELAY` ([`incoming`]);
//! with TLS configured each connection is a TLS (or mutual TLS) one ([`crate::tls`]).

mod admission;
pub mod codes;
pub mod gate;
pub mod incoming;
pub mod methods;
mod probes;

use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::{service::RoutesBuilder, transport::Server};
use tonic_health::ServingStatus;

pub use admission::AdmissionLayer;
pub use codes::StatusCodesLayer;
pub use gate::{Gate, GateLayer};
pub use methods::ServedMethods;

use crate::{
    auth::AccessPolicy,
    config::PlatformConfig,
    telemetry::{self, HeaderExtractor},
    tls,
};

/// The health entry that is SERVING when the service runs in development mode (and unknown,
/// NOT_FOUND, otherwise): a probe or `haicheng health` can tell a development service from
/// a production one with the standard health protocol.
pub const DEVELOPMENT_MODE_HEALTH: &str = "haicheng.development-mode";

/// Applies the configured message size caps to a generated tonic server.
#[macro_export]
macro_rules! capped {
    ($server:expr, $config:expr) => {
        $server
            .max_decoding_message_size($config.max_message_bytes)
            .max_encoding_message_size($config.max_message_bytes)
    };
}

/// What the gRPC server needs besides the service's routes.
pub struct GrpcSettings<'a> {
    pub config: &'a PlatformConfig,
    /// Fully qualified names of the service's gRPC services, reported by health.
    pub service_names: &'a [&'a str],
    /// The service's encoded FileDescriptorSet, served by reflection.
    pub descriptor_set: &'a [u8],
    pub policy: AccessPolicy,
}

/// Serves until `shutdown` is cancelled; then reports NOT_SERVING, waits the configured
/// grace period, stops accepting and lets calls in flight finish.
///
/// Refuses to start when a method of a served service has no access rule, or a served
/// service is not in the descriptor set.
pub async fn serve(
    listener: TcpListener,
    mut routes: RoutesBuilder,
    settings: GrpcSettings<'_>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let config = settings.config;
    let methods = ServedMethods::from_descriptors(settings.descriptor_set, settings.service_names)?;
    methods.check_rules(&settings.policy)?;
    let (health, health_service) = tonic_health::server::health_reporter();
    for name in settings.service_names {
        health
            .set_service_status(name, ServingStatus::Serving)
            .await;
    }
    if config.development {
        health
            .set_service_status(DEVELOPMENT_MODE_HEALTH, ServingStatus::Serving)
            .await;
    }
    // Reflection lists what this process serves, not every service of the contract.
    let reflection = settings
        .service_names
        .iter()
        .chain(&[methods::HEALTH, methods::REFLECTION])
        .fold(
            tonic_reflection::server::Builder::configure(),
            |builder, name| builder.with_service_name(*name),
        )
        .register_encoded_file_descriptor_set(settings.descriptor_set)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let probes = match config.tls.as_ref().and_then(|tls| tls.health_addr()) {
        Some(address) => Some(probes::serve(address, health_service.clone()).await?),
        None => None,
    };
    routes
        .add_service(capped!(health_service, config))
        .add_service(reflection);

    // Client certificates as callers, when mutual TLS maps them.
    let policy = match &config.tls {
        Some(tls) => settings.policy.with_certificates(tls.principals().clone()),
        None => settings.policy,
    };
    let service_name = config.service_name;
    let drained = async {
        shutdown.cancelled().await;
        tracing::info!("shutdown requested: reporting NOT_SERVING");
        health
            .set_service_status("", ServingStatus::NotServing)
            .await;
        for name in settings.service_names {
            health
                .set_service_status(name, ServingStatus::NotServing)
                .await;
        }
        tokio::time::sleep(config.shutdown_grace).await;
        tracing::info!("draining calls in flight");
    };
    // Calls still open after the grace period and one request deadline (a stream whose
    // client stopped reading) are cut, so a stop always finishes.
    let drain_limit = async {
        shutdown.cancelled().await;
        tokio::time::sleep(config.shutdown_grace + config.request_timeout).await;
    };
    let router = Server::builder()
        .timeout(config.request_timeout)
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
        .trace_fn(move |request| {
            let span =
                tracing::info_span!("grpc", service = service_name, rpc = %request.uri().path());
            telemetry::set_remote_parent(&span, &HeaderExtractor(request.headers()));
            span
        })
        .layer(AdmissionLayer::new(config.max_concurrent_requests))
        .layer(StatusCodesLayer)
        .layer(GateLayer::new(methods))
        .layer(GateLayer::new(policy))
        .add_routes(routes.routes());
    let server = async {
        match &config.tls {
            Some(tls) => {
                let incoming = tls::incoming(listener, tls.clone());
                router.serve_with_incoming_shutdown(incoming, drained).await
            }
            None => {
                let incoming = incoming::without_delay(listener);
                router.serve_with_incoming_shutdown(incoming, drained).await
            }
        }
    };
    let probes = async {
        match probes {
            Some(probes) => probes.await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        served = server => served?,
        _ = drain_limit => tracing::warn!("calls still open after the drain limit were cut"),
        failed = probes => failed?,
    }
    Ok(())
}
