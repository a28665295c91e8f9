//! TLS and mutual TLS on the gRPC listener (rustls with the ring provider).
//!
//! `GRPC_TLS_CERT` and `GRPC_TLS_KEY` (PEM files) turn TLS on; with `GRPC_TLS_CLIENT_CA`
//! every client must present a certificate issued by one of those CAs (mutual TLS), and the
//! SAN of that certificate (its SPIFFE ID, else its DNS names) is looked up in
//! `AUTH_CERT_PRINCIPALS` for the caller's principal ([`crate::auth::CertPrincipals`]).
//! Unset, the server speaks plaintext (the in-process tests, the benchmarks).
//!
//! The files are read at start (a missing or malformed one stops start-up naming its
//! variable) and again whenever they change ([`reload`]): a rotated certificate, key or CA is
//! used for the next connection, without a restart. Files: [`reload`] (the server
//! configuration, re-read on change), [`incoming`] (the handshake of each accepted connection
//! and the identity it yields), [`client`] (the client side, for the CLI and the tests),
//! `pki` (a local CA for `haicheng dev` and the tests, behind the `pki` feature).

mod client;
mod incoming;
#[cfg(feature = "pki")]
pub mod pki;
mod reload;

use std::{fmt, net::SocketAddr, path::PathBuf, sync::Arc};

pub use client::{ClientFiles, client_config};
pub use incoming::{HANDSHAKE_TIMEOUT, incoming};
pub use reload::RECHECK_INTERVAL;

use crate::{
    auth::CertPrincipals,
    config::{ConfigError, vars},
};

/// The trust domain of the SPIFFE IDs `haicheng dev` and the tests issue:
/// `spiffe://haicheng.local/service/<name>`.
pub const SPIFFE_TRUST_DOMAIN: &str = "haicheng.local";

/// The SPIFFE ID of a service or client account in the local trust domain.
pub fn spiffe_id(account: &str) -> String {
    format!("spiffe://{SPIFFE_TRUST_DOMAIN}/service/{account}")
}

/// Where the server's certificate, key and client CA are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// Set: mutual TLS, clients must present a certificate from these CAs.
    pub client_ca: Option<PathBuf>,
}

/// The TLS side of the gRPC server: its files, the configuration read from them (re-read
/// when they change) and the principals client certificates stand for. Cloning shares it.
#[derive(Clone)]
pub struct ServerTls {
    files: TlsFiles,
    principals: CertPrincipals,
    /// Where health alone is also served in plaintext (`GRPC_HEALTH_ADDR`): kubelet's gRPC
    /// probes speak no TLS.
    health_addr: Option<SocketAddr>,
    current: Arc<reload::Reloading>,
}

impl fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerTls")
            .field("files", &self.files)
            .field("principals", &self.principals)
            .field("health_addr", &self.health_addr)
            .finish_non_exhaustive()
    }
}

impl ServerTls {
    /// Reads `GRPC_TLS_CERT`, `GRPC_TLS_KEY`, `GRPC_TLS_CLIENT_CA`, `AUTH_CERT_PRINCIPALS`
    /// and `GRPC_HEALTH_ADDR` (blank values are unset), and loads the files once: `None`
    /// when TLS is off. One of certificate and key without the other, a client CA, a
    /// certificate mapping or a health address without TLS, a mapping without a client CA
    /// (no client would ever present a certificate), or a file that cannot be used is an
    /// error naming its variable.
    pub fn from_lookup(
        get: impl Fn(&'static str) -> Option<String>,
    ) -> Result<Option<Self>, ConfigError> {
        let principals = get(vars::AUTH_CERT_PRINCIPALS)
            .map(|spec| CertPrincipals::parse(&spec))
            .transpose()
            .map_err(|reason| ConfigError {
                var: vars::AUTH_CERT_PRINCIPALS,
                reason,
            })?
            .unwrap_or_default();
        let client_ca = get(vars::GRPC_TLS_CLIENT_CA).map(PathBuf::from);
        let health_addr = get(vars::GRPC_HEALTH_ADDR)
            .map(|raw| {
                raw.trim().parse::<SocketAddr>().map_err(|err| ConfigError {
                    var: vars::GRPC_HEALTH_ADDR,
                    reason: format!("{raw:?}: {err}"),
                })
            })
            .transpose()?;
        let (cert, key) = match (get(vars::GRPC_TLS_CERT), get(vars::GRPC_TLS_KEY)) {
            (Some(cert), Some(key)) => (PathBuf::from(cert), PathBuf::from(key)),
            (None, None) => {
                let needless = if client_ca.is_some() {
                    Some(vars::GRPC_TLS_CLIENT_CA)
                } else if !principals.is_empty() {
                    Some(vars::AUTH_CERT_PRINCIPALS)
                } else if health_addr.is_some() {
                    Some(vars::GRPC_HEALTH_ADDR)
                } else {
                    None
                };
                return match needless {
                    Some(var) => Err(ConfigError {
                        var,
                        reason: format!(
                            "needs TLS, which {} and {} turn on",
                            vars::GRPC_TLS_CERT,
                            vars::GRPC_TLS_KEY
                        ),
                    }),
                    None => Ok(None),
                };
            }
            (Some(_), None) => return Err(alone(vars::GRPC_TLS_CERT, vars::GRPC_TLS_KEY)),
            (None, Some(_)) => return Err(alone(vars::GRPC_TLS_KEY, vars::GRPC_TLS_CERT)),
        };
        if client_ca.is_none() && !principals.is_empty() {
            return Err(ConfigError {
                var: vars::AUTH_CERT_PRINCIPALS,
                reason: format!(
                    "maps client certificates, but without {} no client presents one",
                    vars::GRPC_TLS_CLIENT_CA
                ),
            });
        }
        let files = TlsFiles {
            cert,
            key,
            client_ca,
        };
        let current = Arc::new(reload::Reloading::load(files.clone())?);
        Ok(Some(Self {
            files,
            principals,
            health_addr,
            current,
        }))
    }

    /// Whether clients must present a certificate.
    pub fn mutual(&self) -> bool {
        self.files.client_ca.is_some()
    }

    /// Whether `AUTH_CERT_PRINCIPALS` maps any certificate: credentials for the fail-closed
    /// start.
    pub fn maps_certificates(&self) -> bool {
        !self.principals.is_empty()
    }

    /// Client certificates and the principals they stand for (`AUTH_CERT_PRINCIPALS`).
    pub fn principals(&self) -> &CertPrincipals {
        &self.principals
    }

    pub fn files(&self) -> &TlsFiles {
        &self.files
    }

    /// Where health alone is also served in plaintext, for probes.
    pub fn health_addr(&self) -> Option<SocketAddr> {
        self.health_addr
    }
}

fn alone(set: &'static str, missing: &'static str) -> ConfigError {
    ConfigError {
        var: set,
        reason: format!("is set without {missing}; TLS needs both"),
    }
}

#[cfg(all(test, feature = "pki"))]
mod tests {
    use super::*;
    use crate::config::{PlatformConfig, lookup_in};

    struct Files {
        _dir: tempfile::TempDir,
        cert: String,
        key: String,
        ca: String,
    }

    fn files() -> Files {
        let dir = tempfile::tempdir().unwrap();
        let ca = pki::LocalCa::create(dir.path(), "unit CA").unwrap();
        let issued = ca.issue_service("census").unwrap();
        let text = |p: PathBuf| p.display().to_string();
        Files {
            cert: text(issued.cert),
            key: text(issued.key),
            ca: text(ca.ca()),
            _dir: dir,
        }
    }

    fn config(pairs: &[(&str, &str)]) -> Result<PlatformConfig, ConfigError> {
        PlatformConfig::from_lookup("census", 1, lookup_in(pairs))
    }

    #[test]
    fn tls_is_off_unless_certificate_and_key_are_both_set() {
        let f = files();
        assert!(config(&[]).unwrap().tls.is_none());
        assert!(config(&[(vars::GRPC_TLS_CERT, " ")]).unwrap().tls.is_none());
        let tls = config(&[(vars::GRPC_TLS_CERT, &f.cert), (vars::GRPC_TLS_KEY, &f.key)])
            .unwrap()
            .tls
            .unwrap();
        assert!(!tls.mutual());
        let err = config(&[(vars::GRPC_TLS_CERT, &f.cert)]).unwrap_err();
        assert_eq!(err.var, vars::GRPC_TLS_CERT);
        let err = config(&[(vars::GRPC_TLS_KEY, &f.key)]).unwrap_err();
        assert_eq!(err.var, vars::GRPC_TLS_KEY);
        let err = config(&[(vars::GRPC_TLS_CLIENT_CA, &f.ca)]).unwrap_err();
        assert_eq!(err.var, vars::GRPC_TLS_CLIENT_CA);
        let err = config(&[(vars::GRPC_HEALTH_ADDR, "0.0.0.0:8081")]).unwrap_err();
        assert_eq!(err.var, vars::GRPC_HEALTH_ADDR);
        let tls = [
            (vars::GRPC_TLS_CERT, f.cert.as_str()),
            (vars::GRPC_TLS_KEY, &f.key),
        ];
        let probes = [&tls[..], &[(vars::GRPC_HEALTH_ADDR, "0.0.0.0:8081")]].concat();
        let probes = config(&probes).unwrap().tls.unwrap().health_addr();
        assert_eq!(probes, Some(SocketAddr::from(([0, 0, 0, 0], 8081))));
        let bad = [&tls[..], &[(vars::GRPC_HEALTH_ADDR, "8081")]].concat();
        assert_eq!(config(&bad).unwrap_err().var, vars::GRPC_HEALTH_ADDR);
    }

    #[test]
    fn unusable_files_are_refused_naming_their_variable() {
        let f = files();
        let missing = config(&[
            (vars::GRPC_TLS_CERT, "/nonexistent.pem"),
            (vars::GRPC_TLS_KEY, &f.key),
        ])
        .unwrap_err();
        assert_eq!(missing.var, vars::GRPC_TLS_CERT);
        // A key that is not the certificate's: the CA's certificate with the service's key.
        let mismatched =
            config(&[(vars::GRPC_TLS_CERT, &f.ca), (vars::GRPC_TLS_KEY, &f.key)]).unwrap_err();
        assert_eq!(mismatched.var, vars::GRPC_TLS_KEY);
        let not_a_key = config(&[
            (vars::GRPC_TLS_CERT, &f.cert),
            (vars::GRPC_TLS_KEY, &f.cert),
        ])
        .unwrap_err();
        assert_eq!(not_a_key.var, vars::GRPC_TLS_KEY);
        let not_a_ca = config(&[
            (vars::GRPC_TLS_CERT, &f.cert),
            (vars::GRPC_TLS_KEY, &f.key),
            (vars::GRPC_TLS_CLIENT_CA, &f.key),
        ])
        .unwrap_err();
        assert_eq!(not_a_ca.var, vars::GRPC_TLS_CLIENT_CA);
    }

    #[test]
    fn certificate_principals_need_mutual_tls_and_count_as_credentials() {
        let f = files();
        let mapping = format!("{}=service:import:census.write", spiffe_id("import"));
        let tls = [
            (vars::GRPC_TLS_CERT, f.cert.as_str()),
            (vars::GRPC_TLS_KEY, &f.key),
        ];
        let without_ca = [&tls[..], &[(vars::AUTH_CERT_PRINCIPALS, mapping.as_str())]].concat();
        assert_eq!(
            config(&without_ca).unwrap_err().var,
            vars::AUTH_CERT_PRINCIPALS
        );
        let production = [
            &tls[..],
            &[
                (vars::GRPC_TLS_CLIENT_CA, f.ca.as_str()),
                (vars::AUTH_CERT_PRINCIPALS, &mapping),
                (vars::AUTH_DEVELOPMENT, "false"),
            ],
        ]
        .concat();
        let started = config(&production).unwrap();
        assert!(!started.development);
        assert!(started.tls.unwrap().maps_certificates());
        // The same without the mapping: no credentials, no start.
        let no_credentials = &production[..production.len() - 2];
        let no_credentials = [no_credentials, &[(vars::AUTH_DEVELOPMENT, "false")]].concat();
        let refused = config(&no_credentials).unwrap().missing_credentials;
        assert_eq!(
            refused.expect("no credentials noticed").var,
            vars::AUTH_TOKENS
        );
    }
}
