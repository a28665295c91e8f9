//! Trade-fair service: local and external fairs, invitations for leaders, registrations with
//! booth capacity, outcomes and export orders (会展经济).
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
    name: "trade-fair",
    grpc_services: &[],
    descriptor_set: haicheng_proto::FILE_DESCRIPTOR_SET,
    migrations: &MIGRATIONS,
    topics: &[topics::CLASSIFICATION_EVENTS, topics::FAIR_EVENTS],
    vars: &[config::vars::ALL],
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
