//! Land-parcel service: parcels of the four parks, flexible supply, commitments checked
//! against census figures, and buildings split into units (土地资源保障).
//!
//! This crate is the service's skeleton: it starts, migrates, serves health and reflection,
//! and runs the outbox relay; its domain, store and API arrive with its own issue.

pub mod config;
pub mod domain;

use haicheng_proto::topics;
use platform::{AccessPolicy, Platform, ServiceSpec};
use sqlx::migrate::Migrator;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::service::RoutesBuilder;

pub use config::Config;

static MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

/// What the platform needs to know about this service.
pub static SPEC: ServiceSpec = ServiceSpec {
    name: "land-parcel",
    grpc_services: &[],
    descriptor_set: haicheng_proto::FILE_DESCRIPTOR_SET,
    migrations: &MIGRATIONS,
    topics: &[
        topics::CENSUS_EVENTS,
        topics::CLASSIFICATION_EVENTS,
        topics::LAND_EVENTS,
        topics::POLICY_NOTICES,
    ],
    vars: &[],
};

/// Runs the service on `listener` until `shutdown` is cancelled.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let platform = Platform::start(&SPEC, config.platform, shutdown).await?;
    let policy = AccessPolicy::new(platform.config.tokens.clone());
    platform
        .serve(listener, RoutesBuilder::default(), policy)
        .await
}
