//! The methods a process serves, read from the service's descriptor set.
//!
//! Checked at start: every method of every served gRPC service must have an access rule, or
//! the service refuses to start (a new RPC cannot ship open, nor closed by accident). At run
//! time they are the only paths routed: a call to anything else (a service this process does
//! not serve, a method no contract declares) answers UNIMPLEMENTED before auth, where it
//! would otherwise look like a missing permission.

use std::collections::BTreeSet;

use prost::Message;
use prost_types::FileDescriptorSet;
use tonic::{Status, body::Body};

use super::gate::Gate;
use crate::auth::AccessPolicy;

/// Served by every process beside its own services (public by the default policy).
pub const HEALTH: &str = "grpc.health.v1.Health";
pub const REFLECTION: &str = "grpc.reflection.v1.ServerReflection";

/// The gRPC paths (`/package.Service/Method`) of the services a process serves.
#[derive(Debug, Clone)]
pub struct ServedMethods {
    paths: BTreeSet<String>,
}

impl ServedMethods {
    /// The methods of `services` (fully qualified names) in the encoded `descriptor_set`;
    /// a service the set does not describe is an error.
    pub fn from_descriptors(descriptor_set: &[u8], services: &[&str]) -> anyhow::Result<Self> {
        let set = FileDescriptorSet::decode(descriptor_set).map_err(|err| {
            anyhow::anyhow!("the service's descriptor set does not decode: {err}")
        })?;
        let mut paths = BTreeSet::new();
        for wanted in services {
            let service = set.file.iter().find_map(|file| {
                file.service
                    .iter()
                    .find(|s| format!("{}.{}", file.package(), s.name()) == *wanted)
            });
            let Some(service) = service else {
                anyhow::bail!("the descriptor set describes no gRPC service {wanted}");
            };
            paths.extend(
                service
                    .method
                    .iter()
                    .map(|method| format!("/{wanted}/{}", method.name())),
            );
        }
        Ok(Self { paths })
    }

    /// These methods and `other`'s (the platform's own services beside the service's).
    pub fn merge(mut self, other: Self) -> Self {
        self.paths.extend(other.paths);
        self
    }

    /// Refuses a policy that leaves any served method without an access rule, listing them all.
    pub fn check_rules(&self, policy: &AccessPolicy) -> anyhow::Result<()> {
        let missing: Vec<&str> = self
            .paths
            .iter()
            .filter(|path| !policy.has_rule(path))
            .map(String::as_str)
            .collect();
        anyhow::ensure!(
            missing.is_empty(),
            "refusing to start: no access rule for {} (add them to the service's access policy)",
            missing.join(", ")
        );
        Ok(())
    }

    /// Whether a call to `path` reaches a service: one of ours, health or reflection.
    pub fn serves(&self, path: &str) -> bool {
        let service = path.trim_start_matches('/').split('/').next();
        self.paths.contains(path) || matches!(service, Some(HEALTH | REFLECTION))
    }
}

/// Answers UNIMPLEMENTED for every path not served here.
impl Gate for ServedMethods {
    fn check(&self, request: &mut http::Request<Body>) -> Result<(), Status> {
        let path = request.uri().path();
        if self.serves(path) {
            Ok(())
        } else {
            Err(Status::unimplemented(format!("{path} is not served here")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{Rule, TokenTable, scopes};

    const CENSUS: &str = "haicheng.census.v1.CensusService";

    fn census() -> ServedMethods {
        ServedMethods::from_descriptors(haicheng_proto::FILE_DESCRIPTOR_SET, &[CENSUS]).unwrap()
    }

    #[test]
    fn the_methods_come_from_the_contract() {
        let methods = census();
        assert!(methods.serves("/haicheng.census.v1.CensusService/SubmitReturn"));
        assert!(methods.serves("/grpc.health.v1.Health/Check"));
        assert!(!methods.serves("/haicheng.census.v1.CensusService/NoSuchMethod"));
        assert!(!methods.serves("/haicheng.land.v1.LandService/GetParcel"));
        let unknown = ServedMethods::from_descriptors(
            haicheng_proto::FILE_DESCRIPTOR_SET,
            &["haicheng.census.v1.Census"],
        );
        assert!(unknown.unwrap_err().to_string().contains("no gRPC service"));
    }

    #[test]
    fn a_method_without_a_rule_is_named_and_refused() {
        let partial = AccessPolicy::new(TokenTable::development())
            .allow(&format!("/{CENSUS}/"), Rule::Scope(scopes::CENSUS_READ));
        assert!(
            census().check_rules(&partial).is_ok(),
            "a service rule covers each method"
        );

        let one_method = AccessPolicy::new(TokenTable::development()).allow(
            &format!("/{CENSUS}/SubmitReturn"),
            Rule::Scope(scopes::CENSUS_WRITE),
        );
        let err = census().check_rules(&one_method).unwrap_err().to_string();
        assert!(
            err.contains("/haicheng.census.v1.CensusService/ListEnterprises"),
            "{err}"
        );
        assert!(!err.contains("SubmitReturn"), "{err}");
    }
}
