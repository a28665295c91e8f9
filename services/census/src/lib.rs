//! Census service: the "one enterprise, one file" (一企一档) database of the cluster's
//! enterprises and their census returns. Publishes to `haicheng.census.events.v1`.
//!
//! Read top to bottom: [`config`] (environment), [`domain`] (the rules and the write path's
//! `decide`, no I/O), [`events`] (domain values → outgoing events), [`store`] (PostgreSQL:
//! loads the state, commits a decision with its outbox rows in one transaction), [`api`]
//! (the gRPC handlers, proto ↔ domain through [`api::convert`]), and [`run`] here.

pub mod api;
pub mod config;
pub mod domain;
pub mod events;
pub mod store;

use haicheng_proto::{census::v1::census_service_server::CensusServiceServer, topics};
use platform::{
    AccessPolicy, Platform, Rule, ServiceSpec,
    auth::{TokenTable, scopes},
};
use sqlx::migrate::Migrator;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::service::RoutesBuilder;

pub use api::convert;
pub use config::Config;

static MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

/// The gRPC service this crate serves (its generated name).
pub use haicheng_proto::census::v1::census_service_server::SERVICE_NAME as GRPC_SERVICE;

/// What the platform needs to know about this service.
pub static SPEC: ServiceSpec = ServiceSpec {
    name: "census",
    grpc_services: &[GRPC_SERVICE],
    descriptor_set: haicheng_proto::FILE_DESCRIPTOR_SET,
    migrations: &MIGRATIONS,
    consumes: &[],
    produces: &[topics::CENSUS_EVENTS],
    vars: &[config::vars::ALL],
};

/// Every method and its access rule. Writes are the commerce bureau's (and the
/// `census-import` service account's); departments read with `census.read`; an enterprise
/// reads its own file (and nothing else: the handler checks the USCC). A method missing
/// here stops the service at start (the platform checks every method of the contract).
pub const METHOD_RULES: &[(&str, Rule)] = &[
    ("RegisterEnterprise", Rule::Scope(scopes::CENSUS_WRITE)),
    ("UpdateEnterprise", Rule::Scope(scopes::CENSUS_WRITE)),
    ("DeregisterEnterprise", Rule::Scope(scopes::CENSUS_WRITE)),
    ("SubmitReturn", Rule::Scope(scopes::CENSUS_WRITE)),
    ("ImportReturns", Rule::Scope(scopes::CENSUS_WRITE)),
    (
        "GetEnterpriseFile",
        Rule::ScopeOrEnterprise(scopes::CENSUS_READ),
    ),
    ("ListEnterprises", Rule::Scope(scopes::CENSUS_READ)),
    ("GetStatistics", Rule::Scope(scopes::CENSUS_READ)),
];

/// The reads of enterprise data: every call is written to the audit log, with the USCC or
/// the filters (refusals of every method are written anyway).
pub const AUDITED_READS: &[&str] = &["GetEnterpriseFile", "ListEnterprises", "GetStatistics"];

/// The access rules of the census service.
pub fn access_policy(tokens: TokenTable) -> AccessPolicy {
    METHOD_RULES
        .iter()
        .fold(AccessPolicy::new(tokens), |policy, (method, rule)| {
            policy.allow(&format!("/{GRPC_SERVICE}/{method}"), rule.clone())
        })
}

/// Runs the service on `listener` until `shutdown` is cancelled.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let platform = Platform::start(&SPEC, config.platform, shutdown).await?;
    let store = store::Store::new(platform.pool.clone(), platform.outbox.clone());
    let api = api::CensusApi::new(
        store,
        config.rules,
        config.import_batch_rows,
        config.import_max_rows,
    );
    let mut routes = RoutesBuilder::default();
    routes.add_service(platform::capped!(
        CensusServiceServer::new(api),
        platform.config
    ));
    let mut platform = platform;
    platform.audit_reads(GRPC_SERVICE, AUDITED_READS);
    let policy = access_policy(platform.config.tokens.clone());
    platform.serve(listener, routes, policy).await
}
