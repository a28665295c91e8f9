//! Who calls: a government department, a machine account (service) or an enterprise, and
//! what it may do.

use std::{collections::BTreeSet, fmt};

use tonic::Status;

use super::scopes;
use crate::uscc::Uscc;

/// The government departments (and the park committees) that call the platform.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Department {
    /// Commerce bureau (商务局): owns the census and the classification model.
    Commerce,
    /// Finance (财政): support-fund notices.
    Finance,
    /// Tax (税务): incentive pre-review notices; a source of tax figures.
    Tax,
    /// Market supervision (市场监管): rectification-supervision notices.
    MarketSupervision,
    /// Natural resources (自然资源): land.
    NaturalResources,
    /// Human resources (人社): skills training notices.
    HumanResources,
    /// A park management committee.
    ParkCommittee,
}

impl Department {
    pub const ALL: [Department; 7] = [
        Department::Commerce,
        Department::Finance,
        Department::Tax,
        Department::MarketSupervision,
        Department::NaturalResources,
        Department::HumanResources,
        Department::ParkCommittee,
    ];

    /// The name used in tokens, topics' keys and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Department::Commerce => "commerce",
            Department::Finance => "finance",
            Department::Tax => "tax",
            Department::MarketSupervision => "market_supervision",
            Department::NaturalResources => "natural_resources",
            Department::HumanResources => "human_resources",
            Department::ParkCommittee => "park_committee",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.as_str() == name)
    }

    /// Scopes a department's development token gets on a local stack.
    pub(super) fn development_scopes(self) -> &'static [&'static str] {
        use scopes::*;
        match self {
            Department::Commerce => &[
                CENSUS_READ,
                CENSUS_WRITE,
                CLASSIFICATION_READ,
                CLASSIFICATION_ADMIN,
                NOTICES_READ,
                NOTICES_ACK,
                LAND_READ,
                FAIRS_READ,
                FAIRS_WRITE,
                FAIR_SUBSIDIES_READ,
                AUDIT_READ,
                SUPPORT_READ,
                SUPPORT_WRITE,
                INSPECTION_READ,
                INSPECTION_WRITE,
            ],
            Department::NaturalResources => &[
                CENSUS_READ,
                CLASSIFICATION_READ,
                NOTICES_READ,
                NOTICES_ACK,
                LAND_READ,
                LAND_WRITE,
                SUPPORT_READ,
                INSPECTION_READ,
                INSPECTION_WRITE,
            ],
            Department::ParkCommittee => &[
                CENSUS_READ,
                CLASSIFICATION_READ,
                LAND_READ,
                LAND_PARK_XILIU,
                FAIRS_READ,
                SUPPORT_READ,
            ],
            Department::Finance => &[
                CENSUS_READ,
                CLASSIFICATION_READ,
                NOTICES_READ,
                NOTICES_ACK,
                LAND_READ,
                FAIR_SUBSIDIES_READ,
                SUPPORT_READ,
                SUPPORT_WRITE,
                SUPPORT_PAY,
                INSPECTION_READ,
                INSPECTION_WRITE,
            ],
            // Tax, market supervision, human resources: they inspect.
            _ => &[
                CENSUS_READ,
                CLASSIFICATION_READ,
                NOTICES_READ,
                NOTICES_ACK,
                SUPPORT_READ,
                INSPECTION_READ,
                INSPECTION_WRITE,
            ],
        }
    }
}

/// Who is calling.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Identity {
    Department(Department),
    /// A machine account, e.g. `census-import`.
    Service(String),
    /// An enterprise (企业), by its USCC (validated when the token table was read): it may
    /// read its own records and nothing else.
    Enterprise(String),
}

impl Identity {
    /// The caller as a metric label: a department or a service by name, every enterprise as
    /// `enterprise` (one label per USCC would make a series per firm).
    pub fn metric_label(&self) -> String {
        match self {
            Identity::Enterprise(_) => "enterprise".to_string(),
            other => other.to_string(),
        }
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Identity::Department(d) => write!(f, "department:{}", d.as_str()),
            Identity::Service(name) => write!(f, "service:{name}"),
            Identity::Enterprise(uscc) => write!(f, "enterprise:{uscc}"),
        }
    }
}

/// An authenticated caller and what it may do; handlers read it from the request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub identity: Identity,
    pub scopes: BTreeSet<String>,
}

impl Principal {
    /// Parses the right-hand side of an `AUTH_TOKENS` or `AUTH_CERT_PRINCIPALS` entry:
    /// `department:NAME:SCOPE,SCOPE…`, `service:NAME:SCOPE,…`, or `enterprise:USCC` (a valid
    /// USCC and no scopes: what an enterprise may do is fixed by the methods marked
    /// [`super::Rule::ScopeOrEnterprise`]).
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut parts = spec.trim().splitn(3, ':');
        let (kind, name, scope_list) = (parts.next(), parts.next(), parts.next().unwrap_or(""));
        let identity = match (kind, name) {
            (Some("department"), Some(name)) => Identity::Department(
                Department::parse(name).ok_or(format!("unknown department {name:?}"))?,
            ),
            (Some("service"), Some(name)) if !name.is_empty() => {
                Identity::Service(name.to_string())
            }
            (Some("enterprise"), Some(uscc)) => {
                let uscc =
                    Uscc::parse(uscc).map_err(|err| format!("enterprise USCC {uscc:?} {err}"))?;
                if !scope_list.trim().is_empty() {
                    return Err("an enterprise entry carries no scopes (…=enterprise:USCC)".into());
                }
                Identity::Enterprise(uscc.as_str().to_string())
            }
            _ => {
                return Err(
                    "KIND must be department, service or enterprise, followed by :NAME".into(),
                );
            }
        };
        let scopes = scope_list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        Ok(Principal { identity, scopes })
    }

    /// Whether the principal holds `scope`. Never for an enterprise, whatever scopes a
    /// hand-built principal claims: an enterprise passes only by its own rule.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.enterprise().is_none() && self.scopes.contains(scope)
    }

    /// PERMISSION_DENIED unless the principal holds `scope` (never for an enterprise).
    pub fn require(&self, scope: &str) -> Result<(), Status> {
        if self.has_scope(scope) {
            Ok(())
        } else if self.enterprise().is_some() {
            Err(Status::permission_denied(format!(
                "{} may call only the methods about its own records; this one needs the scope {scope}",
                self.identity
            )))
        } else {
            Err(Status::permission_denied(format!(
                "{} lacks the scope {scope}",
                self.identity
            )))
        }
    }

    /// The department, if the caller is one.
    pub fn department(&self) -> Option<Department> {
        match self.identity {
            Identity::Department(d) => Some(d),
            Identity::Service(_) | Identity::Enterprise(_) => None,
        }
    }

    /// The enterprise's USCC, if the caller is an enterprise.
    pub fn enterprise(&self) -> Option<&str> {
        match &self.identity {
            Identity::Enterprise(uscc) => Some(uscc),
            Identity::Department(_) | Identity::Service(_) => None,
        }
    }

    /// For a handler behind [`Rule::ScopeOrEnterprise`] reading one enterprise's record: Ok
    /// for a department or service (the rule checked its scope), Ok for the enterprise
    /// itself, PERMISSION_DENIED for an enterprise asking about another USCC.
    pub fn require_enterprise_self(&self, uscc: &str) -> Result<(), Status> {
        match self.enterprise() {
            Some(own) if own != uscc => Err(Status::permission_denied(format!(
                "{} may see and act on only its own records, not those of {uscc:?}",
                self.identity
            ))),
            _ => Ok(()),
        }
    }

    /// For a list behind [`Rule::ScopeOrEnterprise`] with a USCC filter (empty = all): the
    /// filter unchanged for a department or service; for an enterprise its own USCC (an
    /// empty filter becomes it), PERMISSION_DENIED if it names another.
    pub fn restrict_to_self(&self, uscc_filter: &str) -> Result<String, Status> {
        match self.enterprise() {
            None => Ok(uscc_filter.to_string()),
            Some(own) if uscc_filter.is_empty() => Ok(own.to_string()),
            Some(own) => self
                .require_enterprise_self(uscc_filter)
                .map(|()| own.to_string()),
        }
    }

    /// The principal the auth layer attached to a request (UNAUTHENTICATED if none).
    pub fn of<T>(request: &tonic::Request<T>) -> Result<&Principal, Status> {
        request
            .extensions()
            .get::<Principal>()
            .ok_or_else(|| Status::unauthenticated("no authenticated principal"))
    }
}

/// The entries of a `KEY=KIND:NAME:SCOPES;…` table (`AUTH_TOKENS`, `AUTH_CERT_PRINCIPALS`),
/// blank ones skipped: each entry's place for messages (`entry 3`), its key (`key_name` in
/// the message of an entry without one) and its principal.
pub(super) fn table_entries<'a>(
    spec: &'a str,
    key_name: &'static str,
) -> impl Iterator<Item = Result<(String, &'a str, Principal), String>> + 'a {
    spec.split(';')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .enumerate()
        .map(move |(index, entry)| {
            let at = format!("entry {}", index + 1);
            let (key, rest) = entry
                .split_once('=')
                .ok_or(format!("{at}: expected {key_name}=KIND:NAME:SCOPES"))?;
            let principal = Principal::parse(rest).map_err(|why| format!("{at}: {why}"))?;
            Ok((at, key.trim(), principal))
        })
}
