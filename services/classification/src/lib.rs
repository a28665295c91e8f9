//! Classification service: ranks enterprises into leader (A), growth (B) and rectification (C)
//! classes (分类管理) and turns every class change into support-policy notices.
//!
//! Data flows one way: census events → [`consumers`] (read model, periods marked dirty, through
//! the inbox) → [`reranker`] (coalesced re-ranks: [`domain`] scoring and ranking, then
//! [`store`] writing changed classes and their `EnterpriseClassified` events through the
//! outbox in one transaction; once a period has been quiet for the settle time, its net
//! notices against the classes last notified, in another) → [`api`] (`ClassificationService`). The process also hosts the
//! notice store (the `notices` library crate): it consumes the notices topic, whoever
//! produced them, and serves `NoticeService`.

pub mod api;
pub mod clock;
pub mod config;
pub mod consumers;
pub mod domain;
pub mod events;
pub mod proto;
pub mod reranker;
pub mod store;

use std::sync::Arc;

use haicheng_proto::{
    classification::v1::classification_service_server::{self, ClassificationServiceServer},
    topics,
};
use platform::{AccessPolicy, Platform, ServiceSpec};
use sqlx::migrate::Migrator;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::service::RoutesBuilder;

pub use config::Config;
use store::Store;

static MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

/// What the platform needs to know about this service.
pub static SPEC: ServiceSpec = ServiceSpec {
    name: "classification",
    grpc_services: &[
        classification_service_server::SERVICE_NAME,
        notices::SERVICE_NAME,
    ],
    descriptor_set: haicheng_proto::FILE_DESCRIPTOR_SET,
    migrations: &MIGRATIONS,
    consumes: &[
        ("census", &[topics::CENSUS_EVENTS]),
        // The notice store's consumer (notices::start).
        ("notices", &[topics::POLICY_NOTICES]),
    ],
    produces: &[topics::CLASSIFICATION_EVENTS, topics::POLICY_NOTICES],
    vars: &[config::vars::ALL, notices::vars::ALL],
};

/// Runs the service on `listener` until `shutdown` is cancelled.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let mut platform = Platform::start(&SPEC, config.platform, shutdown).await?;
    let rules = Arc::new(config.notice_rules);
    let store =
        Store::new(platform.pool.clone(), platform.outbox.clone(), rules).with_clock(config.clock);
    store.ensure_initial_model(&config.initial_model).await?;

    platform.consume(
        "census",
        &[topics::CENSUS_EVENTS],
        consumers::CensusConsumer,
    )?;
    let reranker = reranker::Reranker::new(platform.pool.clone(), store.clone(), config.rerank);
    // Stopped once the calls have drained; a re-rank under way finishes first.
    platform.spawn(|stop| reranker.run(stop));

    let api = api::ClassificationApi::new(store)
        .with_objection_window(config.objection_window)
        .in_development(platform.config.development)
        .with_enterprise_boundary_band(config.enterprise_boundary_band);
    platform.audit_reads(
        classification_service_server::SERVICE_NAME,
        &[
            "GetClass",
            "ListClasses",
            "Explain",
            "GetDistribution",
            "ListObjections",
        ],
    );
    let notice_service = notices::start(&mut platform, config.notices)?;
    let mut routes = RoutesBuilder::default();
    routes
        .add_service(platform::capped!(
            ClassificationServiceServer::new(api),
            platform.config
        ))
        .add_service(notice_service);
    let policy = notices::access_rules(api::access_rules(AccessPolicy::new(
        platform.config.tokens.clone(),
    )));
    platform.serve(listener, routes, policy).await
}
