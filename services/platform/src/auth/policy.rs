//! The access rule of every gRPC method, and the gate that applies them to each call.

use std::borrow::Cow;

use tonic::{Status, body::Body};

use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};

use super::{CertPrincipals, ClientCertificate, Identity, Principal, TokenTable};
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
    /// Client certificates as callers (`AUTH_CERT_PRINCIPALS`); the server sets them from
    /// its TLS configuration ([`with_certificates`](Self::with_certificates)).
    certificates: CertPrincipals,
    rules: Vec<(String, Rule)>,
}

impl AccessPolicy {
    /// A policy where health and reflection are public and nothing else is allowed yet.
    pub fn new(tokens: TokenTable) -> Self {
        Self {
            tokens,
            certificates: CertPrincipals::default(),
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

    /// This policy with client certificates standing for these principals.
    pub fn with_certificates(mut self, certificates: CertPrincipals) -> Self {
        self.certificates = certificates;
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

    /// Who a call is from as far as its credentials say, for the audit of a refused call:
    /// the bearer token's principal, else the client certificate's (`peer_certs`, the
    /// verified chain under mutual TLS); `None` when neither names one.
    pub fn identify(
        &self,
        headers: &http::HeaderMap,
        peer_certs: Option<&[rustls_pki_types::CertificateDer<'static>]>,
    ) -> Option<Identity> {
        let certificate = peer_certs
            .and_then(<[_]>::first)
            .map(|leaf| self.certificates.identify(leaf));
        let principal = self.caller(headers, certificate.as_ref()).ok()?;
        Some(principal.identity.clone())
    }

    /// Decides on one call: `Ok(Some(principal))` for an authenticated caller,
    /// `Ok(None)` for a public method, or the status to answer with.
    pub fn admit(
        &self,
        path: &str,
        headers: &http::HeaderMap,
    ) -> Result<Option<Principal>, Status> {
        self.admit_with_certificate(path, headers, None)
    }

    /// [`admit`](Self::admit) for a call over a connection whose client presented a verified
    /// certificate: a bearer token still decides when one is sent; without one the
    /// certificate's principal (`AUTH_CERT_PRINCIPALS`) is the caller.
    pub fn admit_with_certificate(
        &self,
        path: &str,
        headers: &http::HeaderMap,
        certificate: Option<&ClientCertificate>,
    ) -> Result<Option<Principal>, Status> {
        let rule = self.rule_for(path);
        if rule == Some(&Rule::Public) {
            return Ok(None);
        }
        let principal = self.caller(headers, certificate)?;
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

impl AccessPolicy {
    /// Who calls: the bearer token's principal, else the client certificate's.
    fn caller<'a>(
        &'a self,
        headers: &http::HeaderMap,
        certificate: Option<&'a ClientCertificate>,
    ) -> Result<Cow<'a, Principal>, Status> {
        let token = headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        match (token, certificate) {
            (Some(token), _) => self
                .tokens
                .authenticate(token.trim())
                .map_err(Status::unauthenticated),
            (None, Some(certificate)) => certificate
                .principal
                .as_ref()
                .map(Cow::Borrowed)
                .ok_or_else(|| {
                    Status::unauthenticated(format!(
                        "no bearer token, and the client certificate ({certificate}) stands \
                         for no principal"
                    ))
                }),
            (None, None) => Err(Status::unauthenticated(
                "missing bearer token in the authorization header",
            )),
        }
    }
}

/// Refuses what the policy refuses; an admitted call carries its [`Principal`] in its
/// extensions for the handler.
impl Gate for AccessPolicy {
    fn check(&self, request: &mut http::Request<Body>) -> Result<(), Status> {
        // The client's verified certificate, under mutual TLS; read for each call, since the
        // connection's extensions are all the server keeps of it.
        let certificate = request
            .extensions()
            .get::<TlsConnectInfo<TcpConnectInfo>>()
            .and_then(TlsConnectInfo::peer_certs)
            .and_then(|chain| chain.first().map(|leaf| self.certificates.identify(leaf)));
        let admitted = self.admit_with_certificate(
            request.uri().path(),
            request.headers(),
            certificate.as_ref(),
        )?;
        if let Some(principal) = admitted {
            request.extensions_mut().insert(principal);
        }
        Ok(())
    }
}
