//! The client side: tonic's rustls client configuration from a CA file and, for mutual TLS,
//! a certificate and key. The CLI, `haicheng dev` and the tests connect through it.

use std::{fs, path::PathBuf};

use anyhow::Context;
use tonic::transport::{Certificate, ClientTlsConfig, Identity};

/// The files a client needs: the CA that issued the servers' certificates and, for mutual
/// TLS, its own certificate and key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientFiles {
    pub ca: PathBuf,
    /// Certificate and key, or neither.
    pub identity: Option<(PathBuf, PathBuf)>,
}

/// A client TLS configuration trusting only `files.ca` (the server's name checked against
/// the host of the address connected to), presenting `files.identity` when set.
pub fn client_config(files: &ClientFiles) -> anyhow::Result<ClientTlsConfig> {
    let read = |path: &PathBuf, what: &str| {
        fs::read(path).with_context(|| format!("cannot read the {what} {}", path.display()))
    };
    let ca = read(&files.ca, "CA certificate")?;
    let mut config = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(ca));
    if let Some((cert, key)) = &files.identity {
        config = config.identity(Identity::from_pem(
            read(cert, "client certificate")?,
            read(key, "client key")?,
        ));
    }
    Ok(config)
}
