//! Certificates for tests: a local CA in a temporary folder ([`platform::tls::pki`]), the
//! certificates it issues, and the client configuration to connect with them.

use std::path::Path;

use platform::tls::{
    ClientFiles, TlsFiles,
    pki::{Issued, LocalCa},
};
use tonic::transport::{Channel, Endpoint};

/// A CA of its own in a temporary folder, removed when dropped.
pub struct TestCa {
    dir: tempfile::TempDir,
    pub ca: LocalCa,
}

impl TestCa {
    /// A new CA named `name` (its certificate's common name).
    pub fn new(name: &str) -> Self {
        let dir = tempfile::tempdir().expect("a temporary folder for the test CA");
        let ca = LocalCa::create(dir.path(), name).expect("a test CA");
        Self { dir, ca }
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A service certificate (`localhost`, `127.0.0.1`, its SPIFFE ID), issued now.
    pub fn service(&self, name: &str) -> Issued {
        self.ca.issue_service(name).expect("a service certificate")
    }

    /// A client certificate (its SPIFFE ID), issued now.
    pub fn client(&self, account: &str) -> Issued {
        self.ca.issue_client(account).expect("a client certificate")
    }

    /// The server's files for `issued`, with mutual TLS against this CA.
    pub fn server_files(&self, issued: &Issued) -> TlsFiles {
        self.ca.server_files(issued)
    }

    /// The client's files: this CA trusted, `issued` presented (none: no certificate).
    pub fn client_files(&self, issued: Option<&Issued>) -> ClientFiles {
        self.ca.client_files(issued)
    }

    /// The platform variables that serve `issued` with mutual TLS against this CA.
    pub fn server_vars(&self, issued: &Issued) -> Vec<(&'static str, String)> {
        use platform::config::vars;
        vec![
            (vars::GRPC_TLS_CERT, issued.cert.display().to_string()),
            (vars::GRPC_TLS_KEY, issued.key.display().to_string()),
            (vars::GRPC_TLS_CLIENT_CA, self.ca.ca().display().to_string()),
        ]
    }
}

/// An endpoint for `https://address` with the client TLS configuration of `files`.
pub fn endpoint(address: impl std::fmt::Display, files: &ClientFiles) -> anyhow::Result<Endpoint> {
    let config = platform::tls::client_config(files)?;
    Ok(Endpoint::from_shared(format!("https://{address}"))?.tls_config(config)?)
}

/// A channel to `address` over TLS with `files`, connected now.
pub async fn connect(
    address: impl std::fmt::Display,
    files: &ClientFiles,
) -> anyhow::Result<Channel> {
    Ok(endpoint(address, files)?.connect().await?)
}
