//! OIDC JWT bearer tokens, verified against the identity provider's JWKS.
//!
//! A JWT is accepted when its signature verifies with a key of the JWKS under an allowed
//! algorithm (never `none`, never an HMAC one: the key is public), its `iss` is the
//! configured issuer, its `aud` names this service, and the time is between its `nbf` and
//! its `exp` (both checked, with [`LEEWAY_SECS`] for clock skew; `exp`, `iss` and `aud` are
//! required). The claims then name the principal:
//!
//! - `haicheng_uscc`: an enterprise (企业), by a valid USCC the issuer vouches for. It holds
//!   no scopes, whatever the token says, and may not also name a department.
//! - `haicheng_department`: a department (one of [`Department`]'s names), with the scopes of
//!   `scope` (space-separated, as OAuth 2 writes them).
//! - otherwise `sub`: a service account of that name, with the scopes of `scope`.
//!
//! The JWKS is a file (a mounted ConfigMap or Secret) or an `https` URL (the provider's
//! `jwks_uri`). It is read at start, again every refresh interval, and sooner when a token
//! names a key id the set lacks (a rotated key), at most once per [`ON_DEMAND_GAP`]. A token
//! signed by a key not yet loaded is refused; the caller's retry finds the new key.

use std::{
    collections::BTreeSet,
    fmt,
    path::PathBuf,
    sync::{Arc, Mutex, RwLock},
    time::{Duration, Instant},
};

use jsonwebtoken::{
    Algorithm, DecodingKey, Validation,
    errors::ErrorKind,
    jwk::{AlgorithmParameters, EllipticCurve, Jwk, PublicKeyUse},
};
use serde::Deserialize;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::{Department, Identity, Principal};
use crate::uscc::Uscc;

/// Clock skew allowed on `exp` and `nbf`, in seconds.
pub const LEEWAY_SECS: u64 = 30;
/// The shortest time between two reads of the JWKS that a token with an unknown key id
/// asks for: a flood of forged key ids must not become a flood of fetches.
pub const ON_DEMAND_GAP: Duration = Duration::from_secs(30);
/// The algorithms allowed when `AUTH_JWT_ALGORITHMS` is not set.
pub const DEFAULT_ALGORITHMS: &str = "RS256,ES256";

/// The claim naming an enterprise's USCC.
pub const CLAIM_USCC: &str = "haicheng_uscc";
/// The claim naming a department.
pub const CLAIM_DEPARTMENT: &str = "haicheng_department";

/// Where the JWKS comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JwksSource {
    File(PathBuf),
    Url(String),
}

impl JwksSource {
    /// A path, or an `https://` URL (`http://` only for a loopback host, for tests).
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if let Some(rest) = text.strip_prefix("http://") {
            let host = rest.split(['/', ':']).next().unwrap_or_default();
            if !matches!(host, "127.0.0.1" | "localhost" | "[::1]") {
                return Err(format!(
                    "{text:?}: a JWKS URL must be https (http only on a loopback host)"
                ));
            }
            return Ok(Self::Url(text.to_string()));
        }
        if text.starts_with("https://") {
            return Ok(Self::Url(text.to_string()));
        }
        if text.contains("://") {
            return Err(format!("{text:?}: a JWKS is a file path or an https URL"));
        }
        Ok(Self::File(PathBuf::from(text)))
    }
}

/// What the verifier checks, from the `AUTH_JWT_*` variables.
#[derive(Clone, Debug)]
pub struct JwtSettings {
    /// The `iss` every token must carry: the identity provider's issuer URL.
    pub issuer: String,
    /// The `aud` a token must name to be accepted here: by default the service's name.
    pub audience: String,
    pub jwks: JwksSource,
    /// Signature algorithms accepted (never `none` or HMAC).
    pub algorithms: Vec<Algorithm>,
    /// How often the JWKS is read again.
    pub refresh: Duration,
}

/// Parses `AUTH_JWT_ALGORITHMS`: a comma-separated list of asymmetric JWS algorithms.
pub fn parse_algorithms(list: &str) -> Result<Vec<Algorithm>, String> {
    let mut algorithms = Vec::new();
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        if name.eq_ignore_ascii_case("none") || name.to_ascii_uppercase().starts_with("HS") {
            return Err(format!(
                "{name} is refused: a JWT must be signed by the identity provider's private key \
                 (use RS256, ES256, PS256, EdDSA, …)"
            ));
        }
        let algorithm: Algorithm = name
            .parse()
            .map_err(|_| format!("{name:?} is not a JWS algorithm"))?;
        if !algorithms.contains(&algorithm) {
            algorithms.push(algorithm);
        }
    }
    if algorithms.is_empty() {
        return Err("name at least one algorithm, e.g. RS256,ES256".into());
    }
    Ok(algorithms)
}

/// One usable key of the JWKS, with the checks that apply to tokens it signed.
struct Key {
    id: Option<String>,
    key: DecodingKey,
    validation: Validation,
}

/// The loaded key set.
#[derive(Default)]
struct Keys {
    keys: Vec<Key>,
    /// When the set was last read successfully, if ever.
    loaded_at: Option<Instant>,
}

/// Verifies JWTs and maps their claims to a [`Principal`]. Holds no secret: the keys are
/// public.
pub struct JwtVerifier {
    settings: JwtSettings,
    keys: RwLock<Keys>,
    /// When a token last asked for an early read of the JWKS.
    asked_at: Mutex<Option<Instant>>,
    /// Wakes the refresher for an early read.
    wake: Notify,
}

impl fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys = self.keys.read().map(|k| k.keys.len()).unwrap_or(0);
        f.debug_struct("JwtVerifier")
            .field("issuer", &self.settings.issuer)
            .field("audience", &self.settings.audience)
            .field("jwks", &self.settings.jwks)
            .field("algorithms", &self.settings.algorithms)
            .field("keys", &keys)
            .finish()
    }
}

/// The claims that name the principal (the registered ones are checked by `jsonwebtoken`).
#[derive(Deserialize)]
struct Claims {
    #[serde(default)]
    sub: Option<String>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    haicheng_department: Option<String>,
    #[serde(default)]
    haicheng_uscc: Option<String>,
}

impl JwtVerifier {
    /// A verifier; a file JWKS is read now (a missing or unusable file stops start-up), a URL
    /// JWKS by the refresher ([`run_refresher`](Self::run_refresher)) when the service starts.
    pub fn new(settings: JwtSettings) -> Result<Self, String> {
        let verifier = Self {
            settings,
            keys: RwLock::default(),
            asked_at: Mutex::new(None),
            wake: Notify::new(),
        };
        if let JwksSource::File(path) = &verifier.settings.jwks {
            let text = std::fs::read_to_string(path)
                .map_err(|err| format!("cannot read the JWKS file {}: {err}", path.display()))?;
            verifier.install(&text)?;
        }
        Ok(verifier)
    }

    pub fn settings(&self) -> &JwtSettings {
        &self.settings
    }

    /// Replaces the key set with the usable keys of a JWKS document. A key of an unknown
    /// type, an HMAC key, an encryption key or one whose algorithm is not allowed is left
    /// out; a set with no usable key is an error (and the old set stays).
    pub fn install(&self, jwks: &str) -> Result<usize, String> {
        #[derive(Deserialize)]
        struct Set {
            keys: Vec<serde_json::Value>,
        }
        let set: Set = serde_json::from_str(jwks)
            .map_err(|err| format!("the JWKS is not a key set: {err}"))?;
        let keys: Vec<Key> = set
            .keys
            .into_iter()
            .filter_map(|value| serde_json::from_value::<Jwk>(value).ok())
            .filter_map(|jwk| self.usable(&jwk))
            .collect();
        if keys.is_empty() {
            return Err(format!(
                "the JWKS has no key usable with the algorithms {:?}",
                self.settings.algorithms
            ));
        }
        let count = keys.len();
        let mut loaded = self.keys.write().unwrap_or_else(|p| p.into_inner());
        *loaded = Keys {
            keys,
            loaded_at: Some(Instant::now()),
        };
        Ok(count)
    }

    /// The key and its checks, if the JWK is a signing key of an allowed algorithm.
    fn usable(&self, jwk: &Jwk) -> Option<Key> {
        if matches!(&jwk.common.public_key_use, Some(u) if *u != PublicKeyUse::Signature) {
            return None;
        }
        let family: &[Algorithm] = match &jwk.algorithm {
            AlgorithmParameters::RSA(_) => &[
                Algorithm::RS256,
                Algorithm::RS384,
                Algorithm::RS512,
                Algorithm::PS256,
                Algorithm::PS384,
                Algorithm::PS512,
            ],
            AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
                EllipticCurve::P256 => &[Algorithm::ES256],
                EllipticCurve::P384 => &[Algorithm::ES384],
                _ => return None,
            },
            AlgorithmParameters::OctetKeyPair(_) => &[Algorithm::EdDSA],
            // A symmetric key in a public set: never.
            AlgorithmParameters::OctetKey(_) => return None,
        };
        // A key that names its algorithm is used with that one only.
        let named = jwk
            .common
            .key_algorithm
            .map(|a| a.to_string().parse::<Algorithm>());
        let algorithms: Vec<Algorithm> = family
            .iter()
            .copied()
            .filter(|a| self.settings.algorithms.contains(a))
            .filter(|a| match &named {
                None => true,
                Some(Ok(n)) => n == a,
                Some(Err(_)) => false,
            })
            .collect();
        let first = *algorithms.first()?;
        let key = DecodingKey::from_jwk(jwk).ok()?;
        let mut validation = Validation::new(first);
        validation.algorithms = algorithms;
        validation.leeway = LEEWAY_SECS;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.set_issuer(&[&self.settings.issuer]);
        validation.set_audience(&[&self.settings.audience]);
        Some(Key {
            id: jwk.common.key_id.clone(),
            key,
            validation,
        })
    }

    /// The principal a JWT stands for, or why it is refused (never echoing the token).
    pub fn verify(&self, token: &str) -> Result<Principal, String> {
        let raw_header = raw_header(token).ok_or("the JWT's header is malformed")?;
        if raw_header.get("crit").is_some() {
            // RFC 7515 4.1.11: extensions the recipient must understand; this one knows none.
            return Err("the JWT's header names critical extensions (crit)".into());
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| {
            if raw_header.get("alg").is_some() {
                // `none`, or a name `jsonwebtoken` does not know.
                self.algorithm_refused()
            } else {
                "the JWT's header is malformed".to_string()
            }
        })?;
        if !self.settings.algorithms.contains(&header.alg) {
            return Err(self.algorithm_refused());
        }
        let keys = self.keys.read().unwrap_or_else(|p| p.into_inner());
        if keys.loaded_at.is_none() {
            return Err("the identity provider's keys are not loaded yet; retry shortly".into());
        }
        let candidates: Vec<&Key> = match &header.kid {
            Some(kid) => keys
                .keys
                .iter()
                .filter(|k| k.id.as_deref() == Some(kid.as_str()))
                .collect(),
            None if keys.keys.len() == 1 => keys.keys.iter().collect(),
            None => return Err("the JWT names no key id (kid)".into()),
        };
        if candidates.is_empty() {
            drop(keys);
            self.ask_for_refresh();
            return Err("the JWT's key id is not in the identity provider's key set".into());
        }
        let mut refusal = String::new();
        for key in candidates {
            if !key.validation.algorithms.contains(&header.alg) {
                refusal = self.algorithm_refused();
                continue;
            }
            match jsonwebtoken::decode::<Claims>(token, &key.key, &key.validation) {
                Ok(data) => return self.principal(data.claims),
                Err(err) => refusal = self.reason(err.kind()),
            }
        }
        Err(refusal)
    }

    fn algorithm_refused(&self) -> String {
        format!(
            "the JWT's algorithm is not allowed (allowed: {:?})",
            self.settings.algorithms
        )
    }

    fn reason(&self, kind: &ErrorKind) -> String {
        match kind {
            ErrorKind::ExpiredSignature => "the JWT has expired".into(),
            ErrorKind::ImmatureSignature => "the JWT is not valid yet (nbf)".into(),
            ErrorKind::InvalidAudience => {
                format!("the JWT's audience is not {:?}", self.settings.audience)
            }
            ErrorKind::InvalidIssuer => {
                format!("the JWT's issuer is not {:?}", self.settings.issuer)
            }
            ErrorKind::InvalidSignature | ErrorKind::Crypto(_) => {
                "the JWT's signature does not verify".into()
            }
            ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
                self.algorithm_refused()
            }
            ErrorKind::MissingRequiredClaim(claim) => format!("the JWT lacks the claim {claim}"),
            _ => "the JWT is malformed".into(),
        }
    }

    /// Maps verified claims to a principal (see the module documentation).
    fn principal(&self, claims: Claims) -> Result<Principal, String> {
        let scopes = || -> BTreeSet<String> {
            claims
                .scope
                .as_deref()
                .unwrap_or_default()
                .split_whitespace()
                .map(String::from)
                .collect()
        };
        match (&claims.haicheng_uscc, &claims.haicheng_department) {
            (Some(_), Some(_)) => Err(format!(
                "the JWT names both an enterprise ({CLAIM_USCC}) and a department ({CLAIM_DEPARTMENT})"
            )),
            (Some(uscc), None) => {
                let uscc = Uscc::parse(uscc)
                    .map_err(|err| format!("the JWT's {CLAIM_USCC} is not a valid USCC: {err}"))?;
                Ok(Principal {
                    identity: Identity::Enterprise(uscc.as_str().to_string()),
                    scopes: BTreeSet::new(),
                })
            }
            (None, Some(name)) => {
                let department = Department::parse(name)
                    .ok_or_else(|| format!("the JWT's {CLAIM_DEPARTMENT} is not a department"))?;
                Ok(Principal {
                    identity: Identity::Department(department),
                    scopes: scopes(),
                })
            }
            (None, None) => match claims.sub.as_deref().map(str::trim) {
                Some(sub) if !sub.is_empty() => Ok(Principal {
                    identity: Identity::Service(sub.to_string()),
                    scopes: scopes(),
                }),
                _ => Err(format!(
                    "the JWT names no principal ({CLAIM_USCC}, {CLAIM_DEPARTMENT} or sub)"
                )),
            },
        }
    }

    /// Wakes the refresher, unless a token asked less than [`ON_DEMAND_GAP`] ago.
    fn ask_for_refresh(&self) {
        let mut asked = self.asked_at.lock().unwrap_or_else(|p| p.into_inner());
        if asked.is_some_and(|at| at.elapsed() < ON_DEMAND_GAP) {
            return;
        }
        *asked = Some(Instant::now());
        self.wake.notify_one();
    }

    /// Reads the JWKS again every refresh interval and when a token asks, until `stop`.
    /// A failed read is logged and the old keys stay; it is tried again after a short
    /// back-off (first keys) or at the next interval. Never ends before `stop`.
    pub async fn run_refresher(self: Arc<Self>, stop: CancellationToken) {
        let mut first = !matches!(self.settings.jwks, JwksSource::File(_));
        loop {
            if !first {
                let wait = if self.loaded() {
                    self.settings.refresh
                } else {
                    Duration::from_secs(5)
                };
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(wait) => {}
                    () = self.wake.notified() => {}
                }
            }
            first = false;
            match self.read_source().await {
                Ok(text) => match self.install(&text) {
                    Ok(keys) => tracing::debug!(keys, "JWKS loaded"),
                    Err(reason) => tracing::warn!(%reason, "JWKS not loaded; the old keys stay"),
                },
                Err(reason) => tracing::warn!(%reason, "JWKS not read; the old keys stay"),
            }
        }
    }

    fn loaded(&self) -> bool {
        self.keys
            .read()
            .map(|k| k.loaded_at.is_some())
            .unwrap_or(false)
    }

    async fn read_source(&self) -> Result<String, String> {
        match &self.settings.jwks {
            JwksSource::File(path) => tokio::fs::read_to_string(path)
                .await
                .map_err(|err| format!("cannot read {}: {err}", path.display())),
            JwksSource::Url(url) => super::jwks_fetch::get(url).await,
        }
    }
}

/// The token's header as a JSON object, if it is one.
fn raw_header(token: &str) -> Option<serde_json::Map<String, serde_json::Value>> {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    let header = token.split('.').next()?;
    let bytes = URL_SAFE_NO_PAD.decode(header).ok()?;
    serde_json::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use testkit::jwt::{TestIssuer, now_plus};

    use super::*;

    fn verifier(issuer: &TestIssuer) -> JwtVerifier {
        JwtVerifier::new(JwtSettings {
            issuer: issuer.issuer.clone(),
            audience: "census".into(),
            jwks: JwksSource::File(issuer.jwks.clone()),
            algorithms: parse_algorithms(DEFAULT_ALGORITHMS).unwrap(),
            refresh: Duration::from_secs(600),
        })
        .unwrap()
    }

    fn uscc() -> String {
        Uscc::complete("91210381MA0Q1234")
            .unwrap()
            .as_str()
            .to_string()
    }

    #[test]
    fn claims_name_a_department_an_enterprise_or_a_service() {
        let issuer = TestIssuer::new();
        let jwt = verifier(&issuer);
        let finance = jwt
            .verify(&issuer.department("census", "finance", "census.read notices.read"))
            .unwrap();
        assert_eq!(finance.department(), Some(Department::Finance));
        assert!(finance.has_scope("census.read") && finance.has_scope("notices.read"));

        let firm = jwt.verify(&issuer.enterprise("census", &uscc())).unwrap();
        assert_eq!(firm.enterprise(), Some(uscc().as_str()));
        let mut claims = issuer.claims("census");
        claims["haicheng_uscc"] = json!(uscc());
        claims["scope"] = json!("census.read");
        assert!(jwt.verify(&issuer.sign(&claims)).unwrap().scopes.is_empty());

        let mut claims = issuer.claims("census");
        claims["sub"] = json!("census-import");
        claims["scope"] = json!("census.write");
        let service = jwt.verify(&issuer.sign(&claims)).unwrap();
        assert_eq!(service.identity, Identity::Service("census-import".into()));
    }

    #[test]
    fn bad_principal_claims_are_refused() {
        let issuer = TestIssuer::new();
        let jwt = verifier(&issuer);
        let err = jwt
            .verify(&issuer.enterprise("census", "91210381MA0Q12345"))
            .unwrap_err();
        assert!(err.contains("USCC"), "{err}");
        let mut both = issuer.claims("census");
        both["haicheng_uscc"] = json!(uscc());
        both["haicheng_department"] = json!("finance");
        assert!(
            jwt.verify(&issuer.sign(&both))
                .unwrap_err()
                .contains("both")
        );
        let err = jwt
            .verify(&issuer.department("census", "army", "census.read"))
            .unwrap_err();
        assert!(err.contains("not a department"), "{err}");
    }

    #[test]
    fn audience_issuer_times_algorithm_and_key_are_checked() {
        let issuer = TestIssuer::new();
        let jwt = verifier(&issuer);
        let check = |claims: serde_json::Value, why: &str| {
            let err = jwt.verify(&issuer.sign(&claims)).unwrap_err();
            assert!(err.contains(why), "{why}: {err}");
        };
        let mut claims = issuer.claims("land-parcel");
        claims["haicheng_department"] = json!("finance");
        check(claims.clone(), "audience");
        claims["aud"] = json!(["land-parcel", "census"]);
        assert!(jwt.verify(&issuer.sign(&claims)).is_ok());

        let valid = {
            let mut c = issuer.claims("census");
            c["haicheng_department"] = json!("finance");
            c
        };
        let with = |key: &str, value: serde_json::Value| {
            let mut c = valid.clone();
            c[key] = value;
            c
        };
        check(with("exp", json!(now_plus(-3600))), "expired");
        check(with("nbf", json!(now_plus(3600))), "not valid yet");
        check(with("iss", json!("https://elsewhere")), "issuer");
        for claim in ["exp", "iss", "aud"] {
            let mut c = valid.clone();
            c.as_object_mut().unwrap().remove(claim);
            check(c, &format!("lacks the claim {claim}"));
        }
        let err = jwt.verify(&issuer.unsigned(&valid)).unwrap_err();
        assert!(err.contains("algorithm"), "{err}");
        let err = jwt.verify(&issuer.sign_with_other_key(&valid)).unwrap_err();
        assert!(err.contains("signature"), "{err}");
        // HS256 keyed with the public JWKS text: the classic key-confusion forgery.
        let forged = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(Algorithm::HS256),
            &valid,
            &jsonwebtoken::EncodingKey::from_secret(&std::fs::read(&issuer.jwks).unwrap()),
        )
        .unwrap();
        assert!(jwt.verify(&forged).unwrap_err().contains("algorithm"));
        assert!(jwt.verify(&issuer.sign(&valid)).is_ok());
    }

    #[test]
    fn an_unknown_key_id_asks_for_a_fresh_key_set_at_most_once_a_while() {
        let issuer = TestIssuer::new();
        let jwt = verifier(&issuer);
        let mut header = jsonwebtoken::Header::new(Algorithm::ES256);
        header.kid = Some("rotated".into());
        let token = issuer.sign(&issuer.claims("census"));
        let (_, rest) = token.split_once('.').unwrap();
        let renamed = format!(
            "{}.{rest}",
            base64::Engine::encode(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                serde_json::to_string(&header).unwrap()
            )
        );
        let err = jwt.verify(&renamed).unwrap_err();
        assert!(err.contains("key id"), "{err}");
        let asked = *jwt.asked_at.lock().unwrap();
        assert!(asked.is_some());
        jwt.verify(&renamed).unwrap_err();
        assert_eq!(*jwt.asked_at.lock().unwrap(), asked);
    }

    #[test]
    fn rsa_keys_verify_the_allowed_rsa_algorithms_only() {
        let issuer = TestIssuer::new();
        let jwt = verifier(&issuer);
        let mut claims = issuer.claims("census");
        claims["haicheng_department"] = json!("commerce");
        let firm = jwt.verify(&issuer.sign_rsa(Algorithm::RS256, &claims));
        assert_eq!(firm.unwrap().department(), Some(Department::Commerce));
        // PS256 is an RSA algorithm, but not in the default allow-list.
        let err = jwt
            .verify(&issuer.sign_rsa(Algorithm::PS256, &claims))
            .unwrap_err();
        assert!(err.contains("algorithm"), "{err}");
        let mut settings = jwt.settings().clone();
        settings.algorithms = parse_algorithms("PS256").unwrap();
        let pss = JwtVerifier::new(settings).unwrap();
        assert!(
            pss.verify(&issuer.sign_rsa(Algorithm::PS256, &claims))
                .is_ok()
        );
        assert!(
            pss.verify(&issuer.sign_rsa(Algorithm::RS256, &claims))
                .is_err()
        );
    }

    #[test]
    fn a_critical_header_extension_is_refused() {
        use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
        let issuer = TestIssuer::new();
        let jwt = verifier(&issuer);
        let token = issuer.enterprise("census", &uscc());
        let (_, rest) = token.split_once('.').unwrap();
        let header = json!({"alg": "ES256", "kid": testkit::jwt::KEY_ID, "crit": ["exp"]});
        let crit = format!("{}.{rest}", URL_SAFE_NO_PAD.encode(header.to_string()));
        assert!(jwt.verify(&crit).unwrap_err().contains("crit"));
    }

    #[tokio::test]
    async fn a_key_set_by_url_is_fetched_when_the_service_starts() {
        let issuer = TestIssuer::new();
        let jwks = std::fs::read_to_string(&issuer.jwks).unwrap();
        let url = crate::auth::jwks_fetch::tests::serve_once("200 OK", jwks).await;
        let jwt = Arc::new(
            JwtVerifier::new(JwtSettings {
                issuer: issuer.issuer.clone(),
                audience: "census".into(),
                jwks: JwksSource::parse(&url).unwrap(),
                algorithms: parse_algorithms(DEFAULT_ALGORITHMS).unwrap(),
                refresh: Duration::from_secs(600),
            })
            .unwrap(),
        );
        let token = issuer.enterprise("census", &uscc());
        let err = jwt.verify(&token).unwrap_err();
        assert!(err.contains("not loaded yet"), "{err}");
        let stop = CancellationToken::new();
        let refresher = tokio::spawn(jwt.clone().run_refresher(stop.clone()));
        assert!(
            testkit::wait_until(Duration::from_secs(10), || {
                let ok = jwt.verify(&token).is_ok();
                async move { ok }
            })
            .await,
            "the key set was fetched"
        );
        stop.cancel();
        refresher.await.unwrap();
    }

    #[test]
    fn a_key_set_without_a_usable_key_is_refused() {
        let issuer = TestIssuer::new();
        let jwt = verifier(&issuer);
        let hmac_only = r#"{"keys":[{"kty":"oct","k":"c2VjcmV0","alg":"HS256"}]}"#;
        assert!(jwt.install(hmac_only).is_err());
        assert!(jwt.install("not json").is_err());
        // The old keys stay.
        assert!(jwt.verify(&issuer.enterprise("census", &uscc())).is_ok());
    }

    #[test]
    fn none_and_hmac_are_refused_as_algorithms() {
        for bad in ["none", "HS256", "RS256,hs512", "", "XY1"] {
            assert!(parse_algorithms(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_algorithms(DEFAULT_ALGORITHMS).unwrap(),
            vec![Algorithm::RS256, Algorithm::ES256]
        );
    }

    #[test]
    fn a_jwks_is_a_path_or_an_https_url() {
        assert_eq!(
            JwksSource::parse("/etc/haicheng/jwks.json").unwrap(),
            JwksSource::File("/etc/haicheng/jwks.json".into())
        );
        assert!(matches!(
            JwksSource::parse("https://idp.example/jwks").unwrap(),
            JwksSource::Url(_)
        ));
        assert!(JwksSource::parse("http://idp.example/jwks").is_err());
        assert!(JwksSource::parse("http://127.0.0.1:8080/jwks").is_ok());
        assert!(JwksSource::parse("ftp://idp.example/jwks").is_err());
    }
}
