//! gRPC server bootstrap: health and reflection beside the service's own APIs, deadlines
//! (one per call, or between a client stream's messages: [`deadline`]), message size caps, admission control, auth, trace context from the caller,
//! and a graceful stop (NOT_SERVING first, then drain).
//!
//! Layers, outermost first: deadline → audit (refusals, shedding included, and audited reads, see
//! [`crate::audit`]) → admission (shedding, metrics) → status codes (tonic's codec errors
//! corrected, see [`codes`]) → served methods only (UNIMPLEMENTED for the rest, see
//! [`methods`]) → auth → per-caller limits ([`limits`]) → the routes. Every accepted socket
//! has `TCP_NODELAY` ([`incoming`]); with TLS configured each connection is a TLS (or mutual
//! TLS) one ([`crate::tls`]). Reflection is served as `GRPC_REFLECTION` says: off, public,
//! or to the holders of a scope.

mod admission;
pub mod codes;
pub mod deadline;
pub mod gate;
mod held;
pub mod incoming;
pub mod limits;
pub mod methods;
mod probes;

use std::{collections::BTreeSet, time::Duration};

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::{service::RoutesBuilder, transport::Server};
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

pub use admission::AdmissionLayer;
pub use codes::StatusCodesLayer;
pub use deadline::{DeadlineLayer, Deadlines};
pub use gate::{Gate, GateLayer};
pub use limits::{Limits, LimitsLayer};
pub use methods::ServedMethods;

use crate::{
    audit::{
        AuditLayer, AuditLog,
        api::{AuditApi, AuditServiceServer, LIST_AUDIT_RECORDS},
    },
    auth::{AccessPolicy, Rule, scopes},
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
    /// Where the calls' audit records go.
    pub audit_log: AuditLog,
    /// The gRPC paths recorded on every call (reads of enterprise data, notice reads).
    pub audited_reads: BTreeSet<String>,
    /// The service's database, for the audit service's reads.
    pub pool: sqlx::PgPool,
}

/// The served methods and the access policy, checked: every served method has a rule, every
/// audited read is served; reflection's rule and client certificates added.
fn checked_access(settings: &GrpcSettings<'_>) -> anyhow::Result<(ServedMethods, AccessPolicy)> {
    let config = settings.config;
    let methods = ServedMethods::from_descriptors(settings.descriptor_set, settings.service_names)?
        .merge(ServedMethods::from_descriptors(
            haicheng_proto::FILE_DESCRIPTOR_SET,
            &[crate::audit::api::SERVICE_NAME],
        )?);
    let policy = settings
        .policy
        .clone()
        .allow(LIST_AUDIT_RECORDS, Rule::Scope(scopes::AUDIT_READ));
    methods.check_rules(&policy)?;
    if let Some(unknown) = settings.audited_reads.iter().find(|p| !methods.serves(p)) {
        anyhow::bail!("refusing to start: the audited read {unknown} is not a served method");
    }
    let policy = reflection_rule(policy, &config.limits.reflection);
    // Client certificates as callers, when mutual TLS maps them.
    let policy = match &config.tls {
        Some(tls) => policy.with_certificates(tls.principals().clone()),
        None => policy,
    };
    Ok((methods, policy))
}

/// Health SERVING for every served service, and the development-mode entry when it is on.
async fn report_serving(health: &HealthReporter, settings: &GrpcSettings<'_>) {
    for name in settings.service_names {
        health
            .set_service_status(name, ServingStatus::Serving)
            .await;
    }
    if settings.config.development {
        health
            .set_service_status(DEVELOPMENT_MODE_HEALTH, ServingStatus::Serving)
            .await;
    }
}

/// Once shutdown is asked for: NOT_SERVING for everything, then the grace period, so load
/// balancers stop sending before the listener closes; then the server drains.
async fn drain_after_grace(
    shutdown: &CancellationToken,
    health: &HealthReporter,
    service_names: &[&str],
    grace: Duration,
) {
    shutdown.cancelled().await;
    tracing::info!("shutdown requested: reporting NOT_SERVING");
    health
        .set_service_status("", ServingStatus::NotServing)
        .await;
    for name in service_names {
        health
            .set_service_status(name, ServingStatus::NotServing)
            .await;
    }
    tokio::time::sleep(grace).await;
    tracing::info!("draining calls in flight");
}

/// The platform's own services beside the service's: the audit log, and reflection unless
/// it is off.
fn add_audit_and_reflection(
    routes: &mut RoutesBuilder,
    settings: &GrpcSettings<'_>,
) -> anyhow::Result<()> {
    let config = settings.config;
    routes.add_service(capped!(
        AuditServiceServer::new(AuditApi::new(settings.pool.clone())),
        config
    ));
    if config.limits.reflection != limits::Reflection::Off {
        routes.add_service(reflection(settings)?);
    }
    Ok(())
}

/// Reflection of what this process serves, not every service of the contract.
fn reflection(
    settings: &GrpcSettings<'_>,
) -> anyhow::Result<
    tonic_reflection::server::v1::ServerReflectionServer<
        impl tonic_reflection::server::v1::ServerReflection,
    >,
> {
    Ok(settings
        .service_names
        .iter()
        .chain(&[methods::HEALTH, methods::REFLECTION])
        .fold(
            tonic_reflection::server::Builder::configure(),
            |builder, name| builder.with_service_name(*name),
        )
        .register_encoded_file_descriptor_set(settings.descriptor_set)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?)
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
    let (methods, policy) = checked_access(&settings)?;
    let limits = Limits::new(
        &config.limits,
        settings.descriptor_set,
        settings.service_names,
        &policy,
    )?;
    let deadlines = Deadlines::new(
        config.request_timeout,
        config.stream_idle_timeout,
        settings.descriptor_set,
        settings.service_names,
    )?;
    let (health, health_service) = tonic_health::server::health_reporter();
    report_serving(&health, &settings).await;
    let probes = match config.tls.as_ref().and_then(|tls| tls.health_addr()) {
        Some(address) => Some(probes::serve(address, health_service.clone()).await?),
        None => None,
    };
    routes.add_service(capped!(health_service, config));
    add_audit_and_reflection(&mut routes, &settings)?;

    let service_name = config.service_name;
    let drained = drain_after_grace(
        &shutdown,
        &health,
        settings.service_names,
        config.shutdown_grace,
    );
    // Calls still open after the grace period and one request deadline (a stream whose
    // client stopped reading, an import still sending) are cut, so a stop always finishes.
    let drain_limit = async {
        shutdown.cancelled().await;
        tokio::time::sleep(config.shutdown_grace + config.request_timeout).await;
    };
    let router = Server::builder()
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
        .trace_fn(move |request| {
            let span =
                tracing::info_span!("grpc", service = service_name, rpc = %request.uri().path());
            telemetry::set_remote_parent(&span, &HeaderExtractor(request.headers()));
            span
        })
        .layer(DeadlineLayer::new(deadlines))
        .layer(AuditLayer::new(
            settings.audit_log,
            settings.audited_reads,
            policy.clone(),
        ))
        .layer(AdmissionLayer::new(config.max_concurrent_requests))
        .layer(StatusCodesLayer)
        .layer(GateLayer::new(methods))
        .layer(GateLayer::new(policy))
        .layer(LimitsLayer::new(limits))
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

/// `policy` with reflection's rule as configured: public (as [`AccessPolicy::new`] has it)
/// or a scope. Off needs no rule: the service is not routed, so it answers UNIMPLEMENTED.
fn reflection_rule(policy: AccessPolicy, reflection: &limits::Reflection) -> AccessPolicy {
    let limits::Reflection::Scope(scope) = reflection else {
        return policy;
    };
    // Rules name their scope for the life of the process; this one is made once per server.
    let scope: &'static str = scope.clone().leak();
    [
        "/grpc.reflection.v1.ServerReflection/",
        "/grpc.reflection.v1alpha.ServerReflection/",
    ]
    .into_iter()
    .fold(policy, |policy, path| {
        policy.allow(path, Rule::Scope(scope))
    })
}
