//! Bearer tokens and the principals they stand for.

use std::{
    borrow::Cow,
    collections::{BTreeSet, HashMap},
    fmt,
    sync::Arc,
};

use super::{Department, Identity, Principal, scopes};
use crate::uscc::Uscc;

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

    /// This table with the development table added (a configured token wins over a
    /// development one of the same text): what a service in development mode accepts.
    pub fn with_development(self) -> Self {
        let mut table = Self::development();
        let principals = Arc::make_mut(&mut table.principals);
        for (token, principal) in self.principals.iter() {
            principals.insert(token.clone(), principal.clone());
        }
        table
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
