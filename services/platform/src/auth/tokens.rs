//! Bearer tokens and the principals they stand for: JWTs from the identity provider
//! ([`super::jwt`]), and static tokens of machine accounts, kept only as SHA-256 digests.
//!
//! A bearer token of three dot-separated parts is a JWT and goes to the verifier; anything
//! else is looked up in the static table. The table holds the digest of each token, never
//! the token: a presented token is hashed and its digest compared with every entry in
//! constant time. A static token must carry at least 32 random bytes (`haicheng token new`
//! makes one and prints its entry). Enterprises authenticate with JWTs only: an
//! `enterprise:` entry is refused, and `dev-enterprise-<USCC>` works only in development mode.

use std::{
    borrow::Cow,
    collections::{BTreeSet, HashSet},
    fmt,
    sync::Arc,
};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{Department, Identity, Principal, jwt::JwtVerifier, principal::table_entries, scopes};
use crate::uscc::Uscc;

/// Bearer tokens and the principals they stand for. Neither tokens nor their digests appear
/// in `Debug` output.
#[derive(Clone, Default)]
pub struct TokenTable {
    /// The static tokens: each token's SHA-256 digest and its principal, configured entries
    /// first (the first match wins).
    entries: Arc<Vec<Entry>>,
    /// Whether `dev-enterprise-<USCC>` stands for that enterprise (the development table only).
    development_enterprises: bool,
    /// The JWT verifier, when an issuer is configured.
    jwt: Option<Arc<JwtVerifier>>,
}

#[derive(Clone)]
struct Entry {
    digest: [u8; 32],
    principal: Principal,
}

/// The prefix of an enterprise's development token: `dev-enterprise-<USCC>`.
pub const DEVELOPMENT_ENTERPRISE_PREFIX: &str = "dev-enterprise-";
/// The prefix of a digest on the left of an `AUTH_TOKENS` entry: `sha256:<64 hex>`.
pub const DIGEST_PREFIX: &str = "sha256:";
/// The fewest random bytes a static token carries.
pub const MIN_TOKEN_BYTES: usize = 32;

impl fmt::Debug for TokenTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut who: Vec<String> = self
            .entries
            .iter()
            .map(|e| e.principal.identity.to_string())
            .collect();
        who.sort();
        f.debug_struct("TokenTable")
            .field("principals", &who)
            .field("development_enterprises", &self.development_enterprises)
            .field("jwt", &self.jwt)
            .finish()
    }
}

/// A fresh static token (32 random bytes, base64url) and its `AUTH_TOKENS` key
/// (`sha256:<hex>`): what `haicheng token new` prints.
pub fn new_static_token() -> Result<(String, String), String> {
    let mut bytes = [0u8; MIN_TOKEN_BYTES];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
        .map_err(|_| "the system's random source failed".to_string())?;
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let key = digest_key(&token);
    Ok((token, key))
}

/// The `sha256:<hex>` key of a token, as written on the left of an `AUTH_TOKENS` entry.
pub fn digest_key(token: &str) -> String {
    let hex: String = digest(token).iter().map(|b| format!("{b:02x}")).collect();
    format!("{DIGEST_PREFIX}{hex}")
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Whether a bearer token has the shape of a JWT (three non-empty dot-separated parts).
fn looks_like_jwt(token: &str) -> bool {
    let parts: Vec<&str> = token.split('.').collect();
    parts.len() == 3 && parts.iter().all(|p| !p.is_empty())
}

impl TokenTable {
    /// Parses `AUTH_TOKENS`: entries separated by `;`, each `KEY=KIND:NAME:SCOPE,SCOPE…`
    /// where KIND is `service` (a machine account) or `department` (NAME one of the
    /// department names: a department's machine account), and KEY is `sha256:<64 hex>`, the
    /// digest of the token (preferred: the Secret then holds no usable token), or the token
    /// itself, at least 32 random bytes as text (43+ base64url or 64+ hex characters), hashed
    /// here and not kept. Enterprises are refused: they authenticate with JWTs.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut entries = Vec::new();
        let mut seen = HashSet::new();
        for entry in table_entries(spec, "KEY") {
            let (at, key, principal) = entry?;
            if principal.enterprise().is_some() {
                return Err(format!(
                    "{at}: enterprises authenticate with JWTs from the identity provider \
                     (AUTH_JWT_ISSUER, claim haicheng_uscc), not static tokens; on a \
                     development stack use dev-enterprise-<USCC>"
                ));
            }
            let digest = parse_key(key).map_err(|why| format!("{at}: {why}"))?;
            if !seen.insert(digest) {
                return Err(format!("{at}: the token is listed twice"));
            }
            entries.push(Entry { digest, principal });
        }
        Ok(Self {
            entries: Arc::new(entries),
            development_enterprises: false,
            jwt: None,
        })
    }

    /// The local stack's tokens: `dev-<department>` for each department,
    /// `dev-census-import` for the import service account, and `dev-enterprise-<USCC>` for
    /// any enterprise (the USCC validated on lookup). Printed by `haicheng dev`.
    pub fn development() -> Self {
        let mut entries: Vec<Entry> = Department::ALL
            .into_iter()
            .map(|d| Entry {
                digest: digest(&Self::development_token(d)),
                principal: Principal {
                    identity: Identity::Department(d),
                    scopes: d
                        .development_scopes()
                        .iter()
                        .map(|s| s.to_string())
                        .collect(),
                },
            })
            .collect();
        entries.push(Entry {
            digest: digest("dev-census-import"),
            principal: Principal {
                identity: Identity::Service("census-import".into()),
                scopes: [scopes::CENSUS_WRITE.to_string()].into(),
            },
        });
        Self {
            entries: Arc::new(entries),
            development_enterprises: true,
            jwt: None,
        }
    }

    /// This table with the development table added (a configured token wins over a
    /// development one of the same text): what a service in development mode accepts.
    pub fn with_development(self) -> Self {
        let development = Self::development();
        let mut entries = self.entries.as_ref().clone();
        entries.extend(development.entries.iter().cloned());
        Self {
            entries: Arc::new(entries),
            development_enterprises: true,
            jwt: self.jwt,
        }
    }

    /// This table with JWTs verified by `verifier`.
    pub fn with_jwt(mut self, verifier: Arc<JwtVerifier>) -> Self {
        self.jwt = Some(verifier);
        self
    }

    /// The JWT verifier, if JWTs are accepted (its refresher runs under the platform).
    pub fn jwt(&self) -> Option<&Arc<JwtVerifier>> {
        self.jwt.as_ref()
    }

    pub fn development_token(department: Department) -> String {
        format!("dev-{}", department.as_str().replace('_', "-"))
    }

    /// An enterprise's development token (it works only with the development table).
    pub fn development_enterprise_token(uscc: &str) -> String {
        format!("{DEVELOPMENT_ENTERPRISE_PREFIX}{uscc}")
    }

    /// The principal of a bearer token, if it is recognised.
    pub fn lookup(&self, token: &str) -> Option<Cow<'_, Principal>> {
        self.authenticate(token).ok()
    }

    /// The principal of a bearer token, or a short reason it is refused (for the
    /// UNAUTHENTICATED status; it never contains the token).
    pub fn authenticate(&self, token: &str) -> Result<Cow<'_, Principal>, String> {
        if looks_like_jwt(token) {
            return match &self.jwt {
                Some(verifier) => verifier.verify(token).map(Cow::Owned),
                None => Err("JWTs are not accepted by this service (no issuer configured)".into()),
            };
        }
        let presented = digest(token);
        // Every entry is compared, each in constant time, so the time taken does not tell
        // how close a guess came to some entry.
        let mut found = None;
        for entry in self.entries.iter() {
            if bool::from(entry.digest.ct_eq(&presented)) && found.is_none() {
                found = Some(&entry.principal);
            }
        }
        if let Some(principal) = found {
            return Ok(Cow::Borrowed(principal));
        }
        self.development_enterprise(token)
            .map(Cow::Owned)
            .ok_or_else(|| "the bearer token is not recognised".to_string())
    }

    fn development_enterprise(&self, token: &str) -> Option<Principal> {
        let uscc = token
            .strip_prefix(DEVELOPMENT_ENTERPRISE_PREFIX)
            .filter(|_| self.development_enterprises)?;
        let uscc = Uscc::parse(uscc).ok()?;
        Some(Principal {
            identity: Identity::Enterprise(uscc.as_str().to_string()),
            scopes: BTreeSet::new(),
        })
    }
}

/// The digest an `AUTH_TOKENS` key stands for: `sha256:<64 hex>` as given, or a raw token of
/// at least [`MIN_TOKEN_BYTES`] random bytes as text, hashed.
fn parse_key(key: &str) -> Result<[u8; 32], String> {
    if let Some(hex) = key.strip_prefix(DIGEST_PREFIX) {
        return decode_hex32(hex).ok_or_else(|| {
            format!("{DIGEST_PREFIX} must be followed by 64 hexadecimal digits (a SHA-256 digest)")
        });
    }
    let hexadecimal = key.chars().all(|c| c.is_ascii_hexdigit());
    let base64url = key
        .trim_end_matches('=')
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    let bytes = if hexadecimal {
        key.len() / 2
    } else if base64url {
        key.trim_end_matches('=').len() * 6 / 8
    } else {
        0
    };
    let distinct = key.chars().collect::<HashSet<_>>().len();
    if bytes < MIN_TOKEN_BYTES || distinct < 10 {
        return Err(format!(
            "a static token must carry at least {MIN_TOKEN_BYTES} random bytes (43+ base64url or \
             64+ hexadecimal characters); make one with `haicheng token new` and configure its \
             {DIGEST_PREFIX} digest"
        ));
    }
    Ok(digest(key))
}

fn decode_hex32(hex: &str) -> Option<[u8; 32]> {
    if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}
