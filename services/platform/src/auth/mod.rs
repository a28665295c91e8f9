//! Authentication and access: bearer tokens mapped to principals with scopes, and a tower
//! layer that admits a call only when its method's access rule allows the caller.
//!
//! Every gRPC method of a service has a rule in its [`AccessPolicy`]: public (health,
//! reflection) or a scope. A method without a rule is refused, so a new RPC is closed until
//! someone decides who may call it. Finer checks (a department sees only its own notices)
//! are the handler's, with the [`Principal`] the layer puts in the request's extensions.
//!
//! Three kinds of principal call: a government department, a machine account (service), and
//! an enterprise (企业) bound to its one USCC. An enterprise holds no scopes: it passes only
//! methods marked [`Rule::ScopeOrEnterprise`], whose handler then keeps it to its own records
//! with [`Principal::require_enterprise_self`] or [`Principal::restrict_to_self`]; every
//! [`Rule::Scope`] method refuses it.
//!
//! Files: [`principal`] (who calls: departments, services, enterprises), [`tokens`] (bearer
//! tokens to principals: static digests, or JWTs via [`jwt`]), [`certs`] (client
//! certificates to principals), [`policy`] (the access rule of each method, and the gate).

mod certs;
mod jwks_fetch;
pub mod jwt;
mod jwt_config;
mod policy;
mod principal;
mod tokens;

pub use certs::{CertPrincipals, ClientCertificate};
pub use policy::{AccessPolicy, Rule};
pub use principal::{Department, Identity, Principal};
pub use tokens::{
    DEVELOPMENT_ENTERPRISE_PREFIX, DIGEST_PREFIX, MIN_TOKEN_BYTES, TokenTable, digest_key,
    new_static_token,
};

/// Scope names, declared once.
pub mod scopes {
    pub const CENSUS_READ: &str = "census.read";
    pub const CENSUS_WRITE: &str = "census.write";
    pub const CLASSIFICATION_READ: &str = "classification.read";
    pub const CLASSIFICATION_ADMIN: &str = "classification.admin";
    pub const NOTICES_READ: &str = "notices.read";
    pub const NOTICES_ACK: &str = "notices.ack";
    pub const LAND_READ: &str = "land.read";
    pub const LAND_WRITE: &str = "land.write";
    /// Prefix of a park committee's park scopes (`land.park:nantai`): with `land.read`, it
    /// reads the land of the parks it names and no other.
    pub const LAND_PARK_PREFIX: &str = "land.park:";
    /// The development park committee's park.
    pub const LAND_PARK_XILIU: &str = "land.park:xiliu";
    pub const FAIRS_READ: &str = "fairs.read";
    pub const FAIRS_WRITE: &str = "fairs.write";
    /// Booth-fee subsidies and budgets of the trade-fair service (commerce, finance).
    pub const FAIR_SUBSIDIES_READ: &str = "fairs.subsidies.read";
    /// The audit log of every service (`haicheng.audit.v1.AuditService`): commerce.
    pub const AUDIT_READ: &str = "audit.read";
    /// Support policies, rounds and payment orders: every department reads them.
    pub const SUPPORT_READ: &str = "support.read";
    /// Writing policies, running rounds, deciding objections (commerce, finance: a policy's
    /// issuer alone writes it).
    pub const SUPPORT_WRITE: &str = "support.write";
    /// Recording payments (finance).
    pub const SUPPORT_PAY: &str = "support.pay";
    /// Inspection items, plans, visits, tiers and rating aggregates: the inspecting
    /// departments read them (an enterprise reads only its own visits, by method).
    pub const INSPECTION_READ: &str = "inspection.read";
    /// Keeping item lists and rosters, drawing plans, adding tasks, approving visits,
    /// recording results (the inspecting departments, each for its own).
    pub const INSPECTION_WRITE: &str = "inspection.write";
}

#[cfg(test)]
mod tests;
