//! Trade-fair service (会展经济): local fairs and the external fairs the commerce bureau sends
//! leader enterprises to; invitations for class-A firms, applications with first-come or
//! scored booth allocation, the waitlist and its offers, outcomes, reports and subsidies.
//!
//! Data flows one way: census and classification events → [`consumers`] (read model and
//! invitations, through the inbox) → [`store`] ← [`api`] (`FairService`); the [`sweeper`]
//! lapses offers, releases reserves when windows close and invites leaders to newly opened
//! fairs. Every write takes one path: the [`store::Store`] loads under a lock of the fair
//! what the rule needs → a pure `decide` of [`domain`] returns the rows, or a
//! [`domain::Refused`] naming the rule → the store commits the rows and their [`events`]
//! (built from domain values) in one transaction. Refusals and store errors become
//! `ApiError` once, in [`api`].

pub mod api;
pub mod config;
pub mod consumers;
pub mod domain;
pub mod events;
pub mod store;
pub mod sweeper;

use std::sync::Arc;

use haicheng_proto::{
    fair::v1::fair_service_server::{self, FairServiceServer},
    topics,
};
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
    grpc_services: &[fair_service_server::SERVICE_NAME],
    descriptor_set: haicheng_proto::FILE_DESCRIPTOR_SET,
    migrations: &MIGRATIONS,
    consumes: &[
        ("census", &[topics::CENSUS_EVENTS]),
        ("classification", &[topics::CLASSIFICATION_EVENTS]),
    ],
    produces: &[topics::FAIR_EVENTS, topics::POLICY_NOTICES],
    vars: &[config::vars::ALL],
};

/// Runs the service on `listener` until `shutdown` is cancelled.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let mut platform = Platform::start(&SPEC, config.platform, shutdown).await?;
    let store = store::Store::new(
        platform.pool.clone(),
        platform.outbox.clone(),
        Arc::new(config.rules),
    );
    platform.consume(
        "census",
        &[topics::CENSUS_EVENTS],
        consumers::CensusConsumer,
    )?;
    platform.consume(
        "classification",
        &[topics::CLASSIFICATION_EVENTS],
        consumers::ClassificationConsumer {
            store: store.clone(),
        },
    )?;
    let sweeping = store.clone();
    platform.spawn(move |stop| sweeper::run(sweeping, config.sweep, stop));

    let api = api::FairApi::new(store);
    let mut routes = RoutesBuilder::default();
    routes.add_service(platform::capped!(
        FairServiceServer::new(api),
        platform.config
    ));
    // Invitations, registrations, reports and subsidies name firms: audited reads.
    platform.audit_reads(
        fair_service_server::SERVICE_NAME,
        &[
            "ListInvitations",
            "GetRegistration",
            "ListRegistrations",
            "GetFairReport",
            "GetEnterpriseReport",
            "GetExportTotals",
            "ListSubsidies",
            "GetSubsidyBudget",
            "ListBreaches",
        ],
    );
    let policy = api::access_rules(AccessPolicy::new(platform.config.tokens.clone()));
    platform.serve(listener, routes, policy).await
}
