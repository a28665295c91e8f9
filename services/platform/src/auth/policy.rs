//! The access rule of every gRPC method, and the gate that applies them to each call.

use tonic::{Status, body::Body};

use super::{Identity, Principal, TokenTable};
use crate::server::Gate;

/// The access rule of one gRPC method.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rule {
    /// Anyone, without a token (health checks, reflection).
    Public,
    /// An authenticated caller holding this scope; never an enterprise.
    Scope(&'static str),
    /// A holder of this scope, or any enterprise: the handler then keeps an enterprise to
    /// its own USCC ([`Principal::require_enterprise_self`], [`Principal::restrict_to_self`]).
    ScopeOrEnterprise(&'static str),
}

/// Access rules by gRPC path (`/package.Service/Method`) or by service prefix (`/package.Service/`).
#[derive(Clone, Debug)]
pub struct AccessPolicy {
    tokens: TokenTable,
    rules: Vec<(String, Rule)>,
}

impl AccessPolicy {
    /// A policy where health and reflection are public and nothing else is allowed yet.
    pub fn new(tokens: TokenTable) -> Self {
        Self {
            tokens,
            rules: Vec::new(),
        }
        .allow("/grpc.health.v1.Health/", Rule::Public)
        .allow("/grpc.reflection.v1.ServerReflection/", Rule::Public)
        .allow("/grpc.reflection.v1alpha.ServerReflection/", Rule::Public)
    }

    /// Adds a rule for a method path, or for every method of a service when the path ends in `/`.
    /// An exact method rule wins over a service rule.
    pub fn allow(mut self, path: &str, rule: Rule) -> Self {
        self.rules.retain(|(p, _)| p != path);
        self.rules.push((path.to_string(), rule));
        self
    }

    /// Whether a call to `path` has a rule (checked for every served method at start).
    pub fn has_rule(&self, path: &str) -> bool {
        self.rule_for(path).is_some()
    }

    /// The rule of a call to `path` (the per-caller limits group methods by it).
    pub(crate) fn rule_for(&self, path: &str) -> Option<&Rule> {
        let exact = self.rules.iter().find(|(p, _)| p == path);
        let by_service = || {
            self.rules
                .iter()
                .find(|(p, _)| p.ends_with('/') && path.starts_with(p.as_str()))
        };
        exact.or_else(by_service).map(|(_, rule)| rule)
    }

    /// Who a call's bearer token names, if it names anyone: for the audit log, which must
    /// name the caller of a refused call too.
    pub fn identify(&self, headers: &http::HeaderMap) -> Option<Identity> {
        let token = headers
            .get(http::header::AUTHORIZATION)?
            .to_str()
            .ok()?
            .strip_prefix("Bearer ")?;
        Some(self.tokens.lookup(token.trim())?.identity.clone())
    }

    /// Decides on one call: `Ok(Some(principal))` for an authenticated caller,
    /// `Ok(None)` for a public method, or the status to answer with.
    pub fn admit(
        &self,
        path: &str,
        headers: &http::HeaderMap,
    ) -> Result<Option<Principal>, Status> {
        let rule = self.rule_for(path);
        if rule == Some(&Rule::Public) {
            return Ok(None);
        }
        let token = headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| {
                Status::unauthenticated("missing bearer token in the authorization header")
            })?;
        let principal = self
            .tokens
            .authenticate(token.trim())
            .map_err(Status::unauthenticated)?;
        match rule {
            Some(Rule::Scope(scope)) => principal.require(scope)?,
            Some(Rule::ScopeOrEnterprise(scope)) => {
                if principal.enterprise().is_none() {
                    principal.require(scope)?
                }
            }
            Some(Rule::Public) => unreachable!("handled above"),
            None => {
                return Err(Status::permission_denied(format!(
                    "{path} has no access rule"
                )));
            }
        }
        Ok(Some(principal.into_owned()))
    }
}

/// Refuses what the policy refuses; an admitted call carries its [`Principal`] in its
/// extensions for the handler.
impl Gate for AccessPolicy {
    fn check(&self, request: &mut http::Request<Body>) -> Result<(), Status> {
        if let Some(principal) = self.admit(request.uri().path(), request.headers())? {
            request.extensions_mut().insert(principal);
        }
        Ok(())
    }
}
