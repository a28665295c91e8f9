//! Support service (扶持政策): support policies as versioned rules over the facts the platform
//! already holds, benefits without application (免申即享), rounds published for objections and
//! finalized into payment orders for finance, under budgets that are never exceeded.
//!
//! Data flows one way: census, classification, land and fair events → [`consumers`] (the read
//! model of facts, through the inbox) → [`store`] (load → [`domain`] decides → commit with
//! the events of [`events`]) ← [`api`] (`SupportService`).

pub mod api;
pub mod config;
pub mod consumers;
pub mod convert;
pub mod domain;
pub mod events;
pub mod store;

use std::sync::Arc;

use haicheng_proto::{
    support::v1::support_service_server::{self, SupportServiceServer},
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
    name: "support",
    grpc_services: &[support_service_server::SERVICE_NAME],
    descriptor_set: haicheng_proto::FILE_DESCRIPTOR_SET,
    migrations: &MIGRATIONS,
    consumes: &[
        ("census", &[topics::CENSUS_EVENTS]),
        ("classification", &[topics::CLASSIFICATION_EVENTS]),
        ("land", &[topics::LAND_EVENTS]),
        ("fair", &[topics::FAIR_EVENTS]),
    ],
    produces: &[topics::SUPPORT_EVENTS, topics::POLICY_NOTICES],
    vars: &[config::vars::ALL],
};

/// Runs the service on `listener` until `shutdown` is cancelled.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let mut platform = Platform::start(&SPEC, config.platform, shutdown).await?;
    platform.consume(
        "census",
        &[topics::CENSUS_EVENTS],
        consumers::CensusConsumer,
    )?;
    platform.consume(
        "classification",
        &[topics::CLASSIFICATION_EVENTS],
        consumers::ClassificationConsumer,
    )?;
    platform.consume("land", &[topics::LAND_EVENTS], consumers::LandConsumer)?;
    platform.consume("fair", &[topics::FAIR_EVENTS], consumers::FairConsumer)?;

    let store = store::Store::new(platform.pool.clone(), platform.outbox.clone());
    let api = api::SupportApi::new(store, Arc::new(config.rules));
    let mut routes = RoutesBuilder::default();
    routes.add_service(platform::capped!(
        SupportServiceServer::new(api),
        platform.config
    ));
    // Rounds, payment orders and the calculator name firms: audited reads.
    platform.audit_reads(
        support_service_server::SERVICE_NAME,
        &[
            "GetRound",
            "ListPayments",
            "CheckEligibility",
            "ListApplications",
            "GetEnterpriseBenefits",
        ],
    );
    let policy = api::access_rules(AccessPolicy::new(platform.config.tokens.clone()));
    platform.serve(listener, routes, policy).await
}
