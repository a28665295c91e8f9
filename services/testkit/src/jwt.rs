//! A test identity provider: an ECDSA P-256 key made per test and a fixed RSA key (ring
//! cannot make one; `fixtures/jwt-rsa-test-key.pem`, made once with `openssl genrsa
//! -traditional 2048`, a test key and nothing else), its JWKS written to a file, and JWTs
//! signed with them (or, to be refused, with another key or none).

use std::{
    path::PathBuf,
    time::{SystemTime, UNIX_EPOCH},
};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use ring::{
    rand::SystemRandom,
    signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair},
};
use serde_json::{Value, json};

/// The key id of the issuer's key in its JWKS.
pub const KEY_ID: &str = "test-key-1";
/// The key id of the issuer's RSA key in its JWKS.
pub const RSA_KEY_ID: &str = "test-rsa-1";

/// A 2048-bit RSA key for tests only (PKCS#1 PEM).
const RSA_TEST_KEY: &str = include_str!("../fixtures/jwt-rsa-test-key.pem");

/// The RSA test key as PKCS#1 DER.
fn rsa_key() -> Vec<u8> {
    let body: String = RSA_TEST_KEY
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .expect("the fixture is PEM")
}

/// An identity provider for one test: [`vars`](Self::vars) configure a service to trust it.
pub struct TestIssuer {
    /// The `iss` of its tokens.
    pub issuer: String,
    /// The JWKS file (its folder is removed when the issuer is dropped).
    pub jwks: PathBuf,
    _dir: tempfile::TempDir,
    key: Vec<u8>,
    /// A key of the same kind that is not in the JWKS.
    other_key: Vec<u8>,
}

impl Default for TestIssuer {
    fn default() -> Self {
        Self::new()
    }
}

fn new_key() -> (Vec<u8>, Vec<u8>) {
    let rng = SystemRandom::new();
    let pkcs8 =
        EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).expect("a P-256 key");
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
        .expect("the key just made");
    (pkcs8.as_ref().to_vec(), pair.public_key().as_ref().to_vec())
}

/// Seconds since the epoch, shifted by `offset`.
pub fn now_plus(offset: i64) -> i64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_secs() as i64;
    now + offset
}

impl TestIssuer {
    pub fn new() -> Self {
        let (key, public) = new_key();
        let (other_key, _) = new_key();
        // An uncompressed P-256 point: 0x04, x (32 bytes), y (32 bytes).
        let (x, y) = public[1..].split_at(32);
        let rsa = ring::rsa::KeyPair::from_der(&rsa_key()).expect("the RSA test key");
        let rsa = ring::rsa::PublicKeyComponents::<Vec<u8>>::from(rsa.public());
        let jwks = json!({"keys": [{
            "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": KEY_ID,
            "x": URL_SAFE_NO_PAD.encode(x), "y": URL_SAFE_NO_PAD.encode(y),
        }, {
            "kty": "RSA", "use": "sig", "kid": RSA_KEY_ID,
            "n": URL_SAFE_NO_PAD.encode(&rsa.n), "e": URL_SAFE_NO_PAD.encode(&rsa.e),
        }]});
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = dir.path().join("jwks.json");
        std::fs::write(&path, jwks.to_string()).expect("the JWKS written");
        Self {
            issuer: "https://idp.test.haicheng/realms/haicheng".into(),
            jwks: path,
            _dir: dir,
            key,
            other_key,
        }
    }

    /// `AUTH_JWT_ISSUER` and `AUTH_JWT_JWKS` for a service that trusts this issuer.
    pub fn vars(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AUTH_JWT_ISSUER", self.issuer.clone()),
            ("AUTH_JWT_JWKS", self.jwks.display().to_string()),
        ]
    }

    /// Claims valid now for `audience`: `iss`, `aud`, `iat`, `nbf` a minute ago, `exp` in
    /// ten minutes. Add the principal's claims to them.
    pub fn claims(&self, audience: &str) -> Value {
        json!({
            "iss": self.issuer, "aud": audience, "sub": "test-subject",
            "iat": now_plus(0), "nbf": now_plus(-60), "exp": now_plus(600),
        })
    }

    /// A department's token for `audience`, with space-separated `scope`.
    pub fn department(&self, audience: &str, department: &str, scope: &str) -> String {
        let mut claims = self.claims(audience);
        claims["haicheng_department"] = json!(department);
        claims["scope"] = json!(scope);
        self.sign(&claims)
    }

    /// An enterprise's token for `audience`.
    pub fn enterprise(&self, audience: &str, uscc: &str) -> String {
        let mut claims = self.claims(audience);
        claims["haicheng_uscc"] = json!(uscc);
        self.sign(&claims)
    }

    /// `claims` signed with the issuer's key (ES256, its key id).
    pub fn sign(&self, claims: &Value) -> String {
        sign_with(&self.key, claims)
    }

    /// `claims` signed with the issuer's RSA key under `algorithm` (RS256, PS256, …).
    pub fn sign_rsa(&self, algorithm: Algorithm, claims: &Value) -> String {
        let mut header = Header::new(algorithm);
        header.kid = Some(RSA_KEY_ID.into());
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_rsa_der(&rsa_key()))
            .expect("a signed JWT")
    }

    /// `claims` signed with a key the JWKS does not hold, under the issuer's key id.
    pub fn sign_with_other_key(&self, claims: &Value) -> String {
        sign_with(&self.other_key, claims)
    }

    /// `claims` under `alg: none`, without a signature.
    pub fn unsigned(&self, claims: &Value) -> String {
        let header = json!({"alg": "none", "typ": "JWT", "kid": KEY_ID});
        format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        )
    }
}

fn sign_with(key: &[u8], claims: &Value) -> String {
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(KEY_ID.into());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_ec_der(key)).expect("a signed JWT")
}
