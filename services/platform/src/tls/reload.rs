//! The server's rustls configuration, re-read when its files change.
//!
//! A handshake asks for the current configuration; at most once a [`RECHECK_INTERVAL`] that
//! reads the three small files again and, when their bytes differ from the ones in use,
//! builds a new configuration from them. Comparing contents rather than modification times
//! also catches a Kubernetes Secret volume's update (a symbolic link swapped under the same
//! path) and two writes within one timestamp tick. A new set that cannot be used (a
//! certificate rewritten before its key, a truncated file) is reported once and the
//! configuration in use stays, so a rotation never takes the listener down.

use std::{
    fs,
    path::Path,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use rustls::{RootCertStore, ServerConfig, crypto::ring, server::WebPkiClientVerifier};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};

use super::TlsFiles;
use crate::config::{ConfigError, vars};

/// How often a handshake may look at the files again: a rotation is in use this long after
/// the files changed, at most.
pub const RECHECK_INTERVAL: Duration = Duration::from_secs(1);

/// The bytes of the files a configuration was built from.
#[derive(PartialEq, Eq)]
struct Contents {
    cert: Vec<u8>,
    key: Vec<u8>,
    client_ca: Option<Vec<u8>>,
}

pub(super) struct Reloading {
    files: TlsFiles,
    state: Mutex<State>,
}

struct State {
    checked: Instant,
    /// What the files held when last read (whether or not a configuration came of it, so a
    /// broken set is reported once, not at every handshake).
    seen: Contents,
    config: Arc<ServerConfig>,
}

impl Reloading {
    /// Reads and builds once: the start-up check.
    pub(super) fn load(files: TlsFiles) -> Result<Self, ConfigError> {
        let seen = read(&files)?;
        let config = build(&seen)?;
        Ok(Self {
            files,
            state: Mutex::new(State {
                checked: Instant::now(),
                seen,
                config,
            }),
        })
    }

    /// The configuration for the next handshake (the files re-read if it is time).
    pub(super) fn current(&self) -> Arc<ServerConfig> {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if state.checked.elapsed() >= RECHECK_INTERVAL {
            state.checked = Instant::now();
            self.refresh(&mut state);
        }
        state.config.clone()
    }

    fn refresh(&self, state: &mut State) {
        let contents = match read(&self.files) {
            Ok(contents) => contents,
            Err(err) => {
                tracing::warn!("TLS files not reloaded, the ones in use stay: {err}");
                return;
            }
        };
        if contents == state.seen {
            return;
        }
        match build(&contents) {
            Ok(config) => {
                state.config = config;
                tracing::info!(cert = %self.files.cert.display(), "TLS certificates reloaded");
            }
            Err(err) => {
                tracing::warn!("changed TLS files not used, the ones in use stay: {err}")
            }
        }
        state.seen = contents;
    }
}

fn read(files: &TlsFiles) -> Result<Contents, ConfigError> {
    Ok(Contents {
        cert: read_file(&files.cert, vars::GRPC_TLS_CERT)?,
        key: read_file(&files.key, vars::GRPC_TLS_KEY)?,
        client_ca: files
            .client_ca
            .as_deref()
            .map(|ca| read_file(ca, vars::GRPC_TLS_CLIENT_CA))
            .transpose()?,
    })
}

fn read_file(path: &Path, var: &'static str) -> Result<Vec<u8>, ConfigError> {
    fs::read(path).map_err(|err| ConfigError {
        var,
        reason: format!("cannot read {}: {err}", path.display()),
    })
}

/// A server configuration from PEM contents: TLS 1.2 and 1.3, ALPN `h2`, and with a client
/// CA a verifier that demands a client certificate issued by it.
fn build(contents: &Contents) -> Result<Arc<ServerConfig>, ConfigError> {
    let invalid = |var: &'static str| move |reason: String| ConfigError { var, reason };
    let chain = certificates(&contents.cert).map_err(invalid(vars::GRPC_TLS_CERT))?;
    let key = PrivateKeyDer::from_pem_slice(&contents.key).map_err(|err| ConfigError {
        var: vars::GRPC_TLS_KEY,
        reason: format!("no PEM private key: {err}"),
    })?;
    // ring, as tonic's client side (`tls-ring`): rustls 0.23.48 deprecates it for lacking
    // post-quantum key exchange, which aws-lc-rs has at the cost of a cmake build of a C
    // library. A choice to revisit when ring gains it or the build can afford aws-lc.
    #[allow(deprecated)]
    let provider = Arc::new(ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|err| invalid(vars::GRPC_TLS_CERT)(err.to_string()))?;
    let builder = match &contents.client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            for cert in certificates(ca).map_err(invalid(vars::GRPC_TLS_CLIENT_CA))? {
                roots.add(cert).map_err(|err| ConfigError {
                    var: vars::GRPC_TLS_CLIENT_CA,
                    reason: format!("not a usable CA certificate: {err}"),
                })?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|err| invalid(vars::GRPC_TLS_CLIENT_CA)(err.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder
        .with_single_cert(chain, key)
        .map_err(|err| ConfigError {
            var: vars::GRPC_TLS_KEY,
            reason: format!(
                "unusable with the certificate of {}: {err}",
                vars::GRPC_TLS_CERT
            ),
        })?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(config))
}

/// The certificates of a PEM file, at least one.
fn certificates(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    let chain = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| format!("not a PEM certificate file: {err}"))?;
    if chain.is_empty() {
        return Err("holds no PEM certificate".into());
    }
    Ok(chain)
}

#[cfg(all(test, feature = "pki"))]
mod tests {
    use super::*;
    use crate::tls::pki::LocalCa;

    #[test]
    fn a_broken_rotation_keeps_the_configuration_in_use_and_a_good_one_replaces_it() {
        let dir = tempfile::tempdir().unwrap();
        let ca = LocalCa::create(dir.path(), "unit CA").unwrap();
        let issued = ca.issue_service("census").unwrap();
        let reloading = Reloading::load(ca.server_files(&issued)).unwrap();
        let refresh = || {
            let mut state = reloading.state.lock().unwrap();
            reloading.refresh(&mut state);
            state.config.clone()
        };
        let first = refresh();

        // Unchanged files: the same configuration.
        assert!(Arc::ptr_eq(&first, &refresh()));
        // A certificate rewritten before its key: not a pair, so the old one stays.
        let other = LocalCa::create(&dir.path().join("other"), "other CA")
            .unwrap()
            .issue_service("census")
            .unwrap();
        fs::copy(&other.cert, &issued.cert).unwrap();
        assert!(Arc::ptr_eq(&first, &refresh()));
        // A truncated file: the same.
        fs::write(&issued.key, b"").unwrap();
        assert!(Arc::ptr_eq(&first, &refresh()));
        // Its key written too: the new pair is in use.
        fs::copy(&other.key, &issued.key).unwrap();
        let rotated = refresh();
        assert!(!Arc::ptr_eq(&first, &rotated));
    }
}
