//! Census service: the "one enterprise, one file" (一企一档) database of the cluster's
//! enterprises and their census returns. Publishes to `haicheng.census.events.v1`.
//!
//! Read top to bottom: [`config`] (environment), [`domain`] (the rules, no I/O),
//! [`store`] (PostgreSQL; a change and its outbox rows in one transaction), [`api`] (gRPC,
//! proto ↔ domain through [`convert`], events built by [`events`]), and [`run`] here.

pub mod api;
pub mod config;
pub mod convert;
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

pub use config::Config;

static MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

/// The gRPC service this crate serves.
pub const GRPC_SERVICE: &str = "haicheng.census.v1.CensusService";

/// What the platform needs to know about this service.
pub static SPEC: ServiceSpec = ServiceSpec {
    name: "census",
    grpc_services: &[GRPC_SERVICE],
    descriptor_set: haicheng_proto::FILE_DESCRIPTOR_SET,
    migrations: &MIGRATIONS,
    topics: &[topics::CENSUS_EVENTS],
};

/// Every method and the scope it needs. Writes are the commerce bureau's (and the
/// `census-import` service account's); departments read with `census.read`. A method missing
/// here is refused by the platform, so a new RPC stays closed until it is listed.
pub const METHOD_SCOPES: &[(&str, &str)] = &[
    ("RegisterEnterprise", scopes::CENSUS_WRITE),
    ("UpdateEnterprise", scopes::CENSUS_WRITE),
    ("DeregisterEnterprise", scopes::CENSUS_WRITE),
    ("SubmitReturn", scopes::CENSUS_WRITE),
    ("ImportReturns", scopes::CENSUS_WRITE),
    ("GetEnterpriseFile", scopes::CENSUS_READ),
    ("ListEnterprises", scopes::CENSUS_READ),
    ("GetStatistics", scopes::CENSUS_READ),
];

/// The access rules of the census service.
pub fn access_policy(tokens: TokenTable) -> AccessPolicy {
    METHOD_SCOPES
        .iter()
        .fold(AccessPolicy::new(tokens), |policy, (method, scope)| {
            policy.allow(&format!("/{GRPC_SERVICE}/{method}"), Rule::Scope(scope))
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
    let api = api::CensusApi::new(store, config.rules, config.import_batch_rows);
    let mut routes = RoutesBuilder::default();
    routes.add_service(platform::capped!(
        CensusServiceServer::new(api),
        platform.config
    ));
    let policy = access_policy(platform.config.tokens.clone());
    platform.serve(listener, routes, policy).await
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;

    #[test]
    fn every_method_of_the_contract_has_an_access_rule() {
        let fds = prost_types::FileDescriptorSet::decode(haicheng_proto::FILE_DESCRIPTOR_SET)
            .expect("the embedded descriptor set decodes");
        let methods: Vec<String> = fds
            .file
            .iter()
            .filter(|f| f.package() == "haicheng.census.v1")
            .flat_map(|f| f.service.iter())
            .filter(|s| s.name() == "CensusService")
            .flat_map(|s| s.method.iter().map(|m| m.name().to_string()))
            .collect();
        assert!(!methods.is_empty());
        let mut listed: Vec<&str> = METHOD_SCOPES.iter().map(|(m, _)| *m).collect();
        listed.sort();
        let mut expected: Vec<&str> = methods.iter().map(String::as_str).collect();
        expected.sort();
        assert_eq!(listed, expected);
    }
}
