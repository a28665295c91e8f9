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

use std::{
    borrow::Cow,
    collections::{BTreeSet, HashMap},
    fmt,
    sync::Arc,
};

use tonic::{Status, body::Body};

use crate::{server::Gate, uscc::Uscc};

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
}

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
    fn development_scopes(self) -> &'static [&'static str] {
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
            ],
            Department::NaturalResources => &[
                CENSUS_READ,
                CLASSIFICATION_READ,
                NOTICES_READ,
                NOTICES_ACK,
                LAND_READ,
                LAND_WRITE,
            ],
            Department::ParkCommittee => &[
                CENSUS_READ,
                CLASSIFICATION_READ,
                LAND_READ,
                LAND_PARK_XILIU,
                FAIRS_READ,
            ],
            Department::Finance => &[
                CENSUS_READ,
                CLASSIFICATION_READ,
                NOTICES_READ,
                NOTICES_ACK,
                LAND_READ,
                FAIR_SUBSIDIES_READ,
            ],
            _ => &[CENSUS_READ, CLASSIFICATION_READ, NOTICES_READ, NOTICES_ACK],
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

/// Bearer tokens and the principals they stand for. Tokens never appear in `Debug` output.
#[derive(Clone, Default)]
pub struct TokenTable {
    principals: Arc<HashMap<String, Principal>>,
    /// Whether `dev-enterprise-<USCC>` stands for that enterprise (the development table only).
    development_enterprises: bool,
}

/// The prefix of an enterprise's development token: `dev-enterprise-<USCC>`.
pub const DEVELOPMENT_ENTERPRISE_PREFIX: &str = "dev-enterprise-";

impl fmt::Debug for TokenTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut who: Vec<String> = self
            .principals
            .values()
            .map(|p| p.identity.to_string())
            .collect();
        who.sort();
        f.debug_struct("TokenTable")
            .field("principals", &who)
            .field("development_enterprises", &self.development_enterprises)
            .finish()
    }
}

impl TokenTable {
    /// Parses `AUTH_TOKENS`: entries separated by `;`, each `TOKEN=KIND:NAME:SCOPE,SCOPE…`
    /// where KIND is `department` (NAME one of the department names) or `service`, or
    /// `TOKEN=enterprise:USCC` for an enterprise (a valid USCC, and no scopes: what an
    /// enterprise may do is fixed by the methods marked [`Rule::ScopeOrEnterprise`]).
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut table = HashMap::new();
        for (index, entry) in spec
            .split(';')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .enumerate()
        {
            let at = format!("entry {}", index + 1);
            let (token, rest) = entry
                .split_once('=')
                .ok_or(format!("{at}: expected TOKEN=KIND:NAME:SCOPES"))?;
            let mut parts = rest.splitn(3, ':');
            let (kind, name, scope_list) = (parts.next(), parts.next(), parts.next().unwrap_or(""));
            let identity = match (kind, name) {
                (Some("department"), Some(name)) => Identity::Department(
                    Department::parse(name).ok_or(format!("{at}: unknown department {name:?}"))?,
                ),
                (Some("service"), Some(name)) if !name.is_empty() => {
                    Identity::Service(name.to_string())
                }
                (Some("enterprise"), Some(uscc)) => {
                    let uscc = Uscc::parse(uscc)
                        .map_err(|err| format!("{at}: enterprise USCC {uscc:?} {err}"))?;
                    if !scope_list.trim().is_empty() {
                        return Err(format!(
                            "{at}: an enterprise entry carries no scopes (TOKEN=enterprise:USCC)"
                        ));
                    }
                    Identity::Enterprise(uscc.as_str().to_string())
                }
                _ => {
                    return Err(format!(
                        "{at}: KIND must be department, service or enterprise, followed by :NAME"
                    ));
                }
            };
            if token.trim().len() < 8 {
                return Err(format!("{at}: a token needs at least 8 characters"));
            }
            let scopes = scope_list
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect();
            if table
                .insert(token.trim().to_string(), Principal { identity, scopes })
                .is_some()
            {
                return Err(format!("{at}: the token is listed twice"));
            }
        }
        Ok(Self {
            principals: Arc::new(table),
            development_enterprises: false,
        })
    }

    /// The local stack's tokens: `dev-<department>` for each department,
    /// `dev-census-import` for the import service account, and `dev-enterprise-<USCC>` for
    /// any enterprise (the USCC validated on lookup). Printed by `haicheng dev`.
    pub fn development() -> Self {
        let mut table: HashMap<String, Principal> = Department::ALL
            .into_iter()
            .map(|d| {
                let principal = Principal {
                    identity: Identity::Department(d),
                    scopes: d
                        .development_scopes()
                        .iter()
                        .map(|s| s.to_string())
                        .collect(),
                };
                (Self::development_token(d), principal)
            })
            .collect();
        table.insert(
            "dev-census-import".into(),
            Principal {
                identity: Identity::Service("census-import".into()),
                scopes: [scopes::CENSUS_WRITE.to_string()].into(),
            },
        );
        Self {
            principals: Arc::new(table),
            development_enterprises: true,
        }
    }

    pub fn development_token(department: Department) -> String {
        format!("dev-{}", department.as_str().replace('_', "-"))
    }

    /// An enterprise's development token (it works only with the development table).
    pub fn development_enterprise_token(uscc: &str) -> String {
        format!("{DEVELOPMENT_ENTERPRISE_PREFIX}{uscc}")
    }

    pub fn lookup(&self, token: &str) -> Option<Cow<'_, Principal>> {
        if let Some(principal) = self.principals.get(token) {
            return Some(Cow::Borrowed(principal));
        }
        let uscc = token
            .strip_prefix(DEVELOPMENT_ENTERPRISE_PREFIX)
            .filter(|_| self.development_enterprises)?;
        let uscc = Uscc::parse(uscc).ok()?;
        Some(Cow::Owned(Principal {
            identity: Identity::Enterprise(uscc.as_str().to_string()),
            scopes: BTreeSet::new(),
        }))
    }
}

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

    fn rule_for(&self, path: &str) -> Option<&Rule> {
        let exact = self.rules.iter().find(|(p, _)| p == path);
        let by_service = || {
            self.rules
                .iter()
                .find(|(p, _)| p.ends_with('/') && path.starts_with(p.as_str()))
        };
        exact.or_else(by_service).map(|(_, rule)| rule)
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
            .lookup(token.trim())
            .ok_or_else(|| Status::unauthenticated("the bearer token is not recognised"))?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(token: Option<&str>) -> http::HeaderMap {
        let mut map = http::HeaderMap::new();
        if let Some(token) = token {
            map.insert(
                http::header::AUTHORIZATION,
                format!("Bearer {token}").parse().unwrap(),
            );
        }
        map
    }

    fn policy() -> AccessPolicy {
        AccessPolicy::new(TokenTable::development())
            .allow(
                "/haicheng.census.v1.CensusService/",
                Rule::Scope(scopes::CENSUS_READ),
            )
            .allow(
                "/haicheng.census.v1.CensusService/SubmitReturn",
                Rule::Scope(scopes::CENSUS_WRITE),
            )
    }

    #[test]
    fn exact_rules_win_over_service_rules() {
        let path = "/haicheng.census.v1.CensusService/SubmitReturn";
        let denied = policy()
            .admit(path, &headers(Some("dev-finance")))
            .unwrap_err();
        assert_eq!(denied.code(), tonic::Code::PermissionDenied);
        assert!(
            policy()
                .admit(path, &headers(Some("dev-commerce")))
                .unwrap()
                .is_some()
        );
        let read = "/haicheng.census.v1.CensusService/ListEnterprises";
        assert!(
            policy()
                .admit(read, &headers(Some("dev-finance")))
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn methods_without_a_rule_are_refused() {
        let err = policy()
            .admit("/haicheng.x.v1.X/Y", &headers(Some("dev-commerce")))
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::PermissionDenied);
    }

    #[test]
    fn token_table_parses_and_rejects() {
        let table = TokenTable::parse("s3cret-token=department:finance:notices.read,notices.ack; other-token=service:import:census.write").unwrap();
        let finance = table.lookup("s3cret-token").unwrap();
        assert_eq!(finance.department(), Some(Department::Finance));
        assert!(finance.has_scope("notices.ack"));
        assert!(TokenTable::parse("tok=department:army:x").is_err());
        assert!(TokenTable::parse("short=service:a:b").is_err());
        assert!(!format!("{table:?}").contains("s3cret"));
    }

    fn uscc(first16: &str) -> String {
        Uscc::complete(first16).unwrap().as_str().to_string()
    }

    fn enterprise_policy() -> AccessPolicy {
        policy().allow(
            "/haicheng.census.v1.CensusService/GetEnterpriseFile",
            Rule::ScopeOrEnterprise(scopes::CENSUS_READ),
        )
    }

    const LIST: &str = "/haicheng.census.v1.CensusService/ListEnterprises";
    const FILE: &str = "/haicheng.census.v1.CensusService/GetEnterpriseFile";

    #[test]
    fn enterprise_entries_parse_with_a_valid_uscc_and_no_scopes() {
        let own = uscc("91210381MA0Q1234");
        let table = TokenTable::parse(&format!("firm-token-1=enterprise:{own}")).unwrap();
        let firm = table.lookup("firm-token-1").unwrap();
        assert_eq!(firm.enterprise(), Some(own.as_str()));
        assert_eq!(firm.department(), None);
        assert_eq!(firm.identity.to_string(), format!("enterprise:{own}"));

        let bad = TokenTable::parse("firm-token-1=enterprise:91210381MA0Q12345").unwrap_err();
        assert!(bad.contains("entry 1") && bad.contains("USCC"), "{bad}");
        let scoped =
            TokenTable::parse(&format!("firm-token-1=enterprise:{own}:census.read")).unwrap_err();
        assert!(scoped.contains("carries no scopes"), "{scoped}");
        assert!(TokenTable::parse("firm-token-1=enterprise:").is_err());
    }

    #[test]
    fn an_enterprise_is_denied_under_a_scope_rule_whatever_it_claims() {
        let own = uscc("91210381MA0Q1234");
        // A hand-built principal claiming every scope still holds none of them.
        let claiming = Principal {
            identity: Identity::Enterprise(own.clone()),
            scopes: [scopes::CENSUS_READ.to_string()].into(),
        };
        assert!(!claiming.has_scope(scopes::CENSUS_READ));
        let err = claiming.require(scopes::CENSUS_READ).unwrap_err();
        assert_eq!(err.code(), tonic::Code::PermissionDenied);
        assert!(err.message().contains("its own"), "{}", err.message());

        let token = TokenTable::development_enterprise_token(&own);
        let err = enterprise_policy()
            .admit(LIST, &headers(Some(&token)))
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::PermissionDenied);
    }

    #[test]
    fn scope_or_enterprise_admits_the_scope_and_any_enterprise() {
        let own = uscc("91210381MA0Q1234");
        let token = TokenTable::development_enterprise_token(&own);
        let admitted = enterprise_policy()
            .admit(FILE, &headers(Some(&token)))
            .unwrap()
            .unwrap();
        assert_eq!(admitted.enterprise(), Some(own.as_str()));
        assert!(
            enterprise_policy()
                .admit(FILE, &headers(Some("dev-finance")))
                .unwrap()
                .is_some()
        );
        // A service without the scope is still refused.
        let err = enterprise_policy()
            .admit(FILE, &headers(Some("dev-census-import")))
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::PermissionDenied);
    }

    #[test]
    fn development_enterprise_tokens_need_a_valid_uscc_and_the_development_table() {
        let own = uscc("91210381MA0Q1234");
        let token = TokenTable::development_enterprise_token(&own);
        assert!(TokenTable::development().lookup(&token).is_some());
        let mut wrong = own.clone();
        wrong.replace_range(17.., if own.ends_with('0') { "1" } else { "0" });
        let err = enterprise_policy()
            .admit(FILE, &headers(Some(&format!("dev-enterprise-{wrong}"))))
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::Unauthenticated);
        let configured = TokenTable::parse("s3cret-token=department:finance:census.read").unwrap();
        assert!(configured.lookup(&token).is_none());
    }

    #[test]
    fn require_enterprise_self_keeps_an_enterprise_to_its_own_uscc() {
        let own = uscc("91210381MA0Q1234");
        let other = uscc("91210381MA10ABCD");
        let firm = Principal {
            identity: Identity::Enterprise(own.clone()),
            scopes: BTreeSet::new(),
        };
        assert!(firm.require_enterprise_self(&own).is_ok());
        let err = firm.require_enterprise_self(&other).unwrap_err();
        assert_eq!(err.code(), tonic::Code::PermissionDenied);
        let department = TokenTable::development()
            .lookup("dev-finance")
            .unwrap()
            .into_owned();
        assert!(department.require_enterprise_self(&other).is_ok());

        assert_eq!(firm.restrict_to_self("").unwrap(), own);
        assert_eq!(firm.restrict_to_self(&own).unwrap(), own);
        assert_eq!(
            firm.restrict_to_self(&other).unwrap_err().code(),
            tonic::Code::PermissionDenied
        );
        assert_eq!(department.restrict_to_self("").unwrap(), "");
        assert_eq!(department.restrict_to_self(&other).unwrap(), other);
    }
}
