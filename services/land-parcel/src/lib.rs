//! Land-parcel service: parcels of the four parks, flexible land supply, "standard land"
//! commitments checked against census figures, idle land, buildings split into units, and
//! a land queue ordered by class (土地资源保障).
//!
//! Data flows one way: census and classification events → [`consumers`] (read model; a
//! holder's yearly return evaluates its grants, through the inbox) → [`store`] (sqlx; loads
//! what a rule needs, commits what [`domain`] decided with the [`events`] announcing it, in
//! one transaction) ← [`api`] (`LandService`, proto ↔ domain in [`api::convert`]). The rules
//! are pure, in [`domain`], with their numbers in [`config`]. A background task runs the idle
//! land pass on the database's date.

pub mod api;
pub mod config;
pub mod consumers;
pub mod domain;
pub mod events;
pub mod store;

use std::sync::Arc;

use haicheng_proto::{land::v1::land_service_server::LandServiceServer, topics};
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
    grpc_services: &[api::SERVICE_NAME],
    descriptor_set: haicheng_proto::FILE_DESCRIPTOR_SET,
    migrations: &MIGRATIONS,
    consumes: &[
        ("census", &[topics::CENSUS_EVENTS]),
        ("classification", &[topics::CLASSIFICATION_EVENTS]),
    ],
    produces: &[topics::LAND_EVENTS, topics::POLICY_NOTICES],
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
        consumers::CensusConsumer {
            store: store.clone(),
        },
    )?;
    platform.consume(
        "classification",
        &[topics::CLASSIFICATION_EVENTS],
        consumers::ClassificationConsumer {
            store: store.clone(),
        },
    )?;
    // The hourly pass: idle land, its fee orders, and take-back review at two years.
    let idle_store = store.clone();
    let interval = config.idle_check;
    platform.spawn(move |stop| idle_pass(idle_store, interval, stop));

    let mut routes = RoutesBuilder::default();
    routes.add_service(platform::capped!(
        LandServiceServer::new(api::LandApi::new(store, platform.config.development)),
        platform.config
    ));
    // Reads naming firms (holders, applicants, evaluations) go to the audit log.
    platform.audit_reads(
        api::SERVICE_NAME,
        &[
            "GetParcel",
            "ListParcels",
            "GetGrant",
            "ListEvaluations",
            "ListLandApplications",
            "ListLowEfficiencyGrants",
        ],
    );
    let policy = api::access_rules(AccessPolicy::new(platform.config.tokens.clone()));
    platform.serve(listener, routes, policy).await
}

/// The idle land pass, every `interval` until `stop`; a failed pass is logged and retried at
/// the next tick (the database may be briefly away).
async fn idle_pass(store: store::Store, interval: std::time::Duration, stop: CancellationToken) {
    let mut ticks = tokio::time::interval(interval);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = ticks.tick() => {}
        }
        match store.idle_pass(None).await {
            Ok(outcome) if outcome == store::PassOutcome::default() => {}
            Ok(outcome) => tracing::info!(
                flagged = outcome.flagged,
                take_back_review = outcome.take_back_review,
                "idle land flagged (fees ordered), or under take-back review"
            ),
            Err(err) => {
                tracing::warn!(error = %err, "idle land pass failed; retried at the next tick")
            }
        }
    }
}
