//! Inspection service (涉企行政检查): fewer, joined-up inspections. Each department's item
//! list (检查事项清单), risk tiers A–D from the platform's facts and a white list (无事不扰),
//! seeded yearly plans (双随机), tasks of several departments merged into one visit
//! (综合查一次), yearly caps per firm, inspection codes (扫码入企), results with rectification
//! and re-checks, and anonymous ratings.
//!
//! Data flows one way: census, classification and land events → [`consumers`] (the facts and
//! tiers, through the inbox) → [`store`] (load → [`domain`] decides → commit with the events
//! of [`events`]) ← [`api`] (`InspectionService`).

pub mod api;
pub mod config;
pub mod consumers;
pub mod convert;
pub mod domain;
pub mod events;
pub mod store;

use std::sync::Arc;

use haicheng_proto::{
    inspection::v1::inspection_service_server::{self, InspectionServiceServer},
    topics,
};
use platform::{AccessPolicy, Platform, ServiceSpec};
use sqlx::migrate::Migrator;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::service::RoutesBuilder;

pub use config::Config;

/// The service's migrations (the platform's are applied before them).
pub static MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

/// What the platform needs to know about this service.
pub static SPEC: ServiceSpec = ServiceSpec {
    name: "inspection",
    grpc_services: &[inspection_service_server::SERVICE_NAME],
    descriptor_set: haicheng_proto::FILE_DESCRIPTOR_SET,
    migrations: &MIGRATIONS,
    consumes: &[
        ("census", &[topics::CENSUS_EVENTS]),
        ("classification", &[topics::CLASSIFICATION_EVENTS]),
        ("land", &[topics::LAND_EVENTS]),
    ],
    produces: &[topics::INSPECTION_EVENTS, topics::POLICY_NOTICES],
    vars: &[config::vars::ALL],
};

/// Runs the service on `listener` until `shutdown` is cancelled.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let mut platform = Platform::start(&SPEC, config.platform, shutdown).await?;
    let store = store::Store::new(platform.pool.clone(), platform.outbox.clone());
    let rules = Arc::new(config.rules);
    platform.consume(
        "census",
        &[topics::CENSUS_EVENTS],
        consumers::CensusConsumer {
            store: store.clone(),
        },
    )?;
    platform.consume(
        "classification",
        &[topics::CLASSIFICATION_EVENTS],
        consumers::ClassificationConsumer {
            store: store.clone(),
            rules: rules.clone(),
        },
    )?;
    platform.consume(
        "land",
        &[topics::LAND_EVENTS],
        consumers::LandConsumer {
            store: store.clone(),
            rules: rules.clone(),
        },
    )?;
    let api = api::InspectionApi::new(store, rules);
    let mut routes = RoutesBuilder::default();
    routes.add_service(platform::capped!(
        InspectionServiceServer::new(api),
        platform.config
    ));
    platform.audit_reads(inspection_service_server::SERVICE_NAME, api::AUDITED_READS);
    let policy = api::access_rules(AccessPolicy::new(platform.config.tokens.clone()));
    platform.serve(listener, routes, policy).await
}
