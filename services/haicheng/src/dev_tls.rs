//! The local CA of `haicheng dev`: made once under `<dir>/tls/` (rcgen, through
//! `platform::tls::pki`), with a certificate per service (`localhost`, `127.0.0.1` and
//! `spiffe://haicheng.local/service/<name>`) and one for the command-line client. Every
//! service serves mutual TLS with them, and the client presents its own.

use std::path::{Path, PathBuf};

use platform::{
    config::vars,
    tls::{
        ClientFiles,
        pki::{Issued, LocalCa},
    },
};

use crate::client;

/// The client account of the command-line client's certificate.
pub const CLIENT_ACCOUNT: &str = "haicheng-cli";

/// The CA and the certificates `haicheng dev` runs with.
pub struct DevTls {
    ca: PathBuf,
    services: Vec<(&'static str, Issued)>,
    client: Issued,
}

impl DevTls {
    /// The CA in `dir` (made on first use) and its certificates: those already there are
    /// kept, unless the CA is new.
    pub fn prepare(dir: &Path, services: &[&'static str]) -> anyhow::Result<Self> {
        let (ca, created) = LocalCa::open_or_create(dir, "haicheng dev CA")?;
        let ensure = |name: &str, issue: &dyn Fn() -> anyhow::Result<Issued>| {
            let existing = Issued {
                cert: dir.join(format!("{name}.pem")),
                key: dir.join(format!("{name}.key")),
            };
            if !created && existing.cert.exists() && existing.key.exists() {
                Ok(existing)
            } else {
                issue()
            }
        };
        let services = services
            .iter()
            .map(|&name| Ok((name, ensure(name, &|| ca.issue_service(name))?)))
            .collect::<anyhow::Result<_>>()?;
        let client = ensure(CLIENT_ACCOUNT, &|| ca.issue_client(CLIENT_ACCOUNT))?;
        Ok(Self {
            ca: ca.ca(),
            services,
            client,
        })
    }

    /// The variables that make `service` serve mutual TLS with its certificate (absolute
    /// paths: a service does not depend on the folder it was started from).
    pub fn service_env(&self, service: &str) -> anyhow::Result<Vec<(String, String)>> {
        let issued = self
            .services
            .iter()
            .find(|(name, _)| *name == service)
            .map(|(_, issued)| issued)
            .ok_or_else(|| anyhow::anyhow!("no certificate for {service}"))?;
        let absolute = |path: &Path| -> anyhow::Result<String> {
            Ok(std::path::absolute(path)?.display().to_string())
        };
        Ok(vec![
            (vars::GRPC_TLS_CERT.into(), absolute(&issued.cert)?),
            (vars::GRPC_TLS_KEY.into(), absolute(&issued.key)?),
            (vars::GRPC_TLS_CLIENT_CA.into(), absolute(&self.ca)?),
        ])
    }

    /// What the client presents: the CA and the client certificate.
    pub fn client_files(&self) -> ClientFiles {
        ClientFiles {
            ca: self.ca.clone(),
            identity: Some((self.client.cert.clone(), self.client.key.clone())),
        }
    }

    /// The shell line that points the command-line client at these files.
    pub fn exports(&self) -> String {
        format!(
            "export {}={} {}={} {}={}",
            client::vars::CA,
            self.ca.display(),
            client::vars::CERT,
            self.client.cert.display(),
            client::vars::KEY,
            self.client.key.display()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ca_and_its_certificates_are_made_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let first = DevTls::prepare(dir.path(), &["census", "classification"]).unwrap();
        let ca = std::fs::read(&first.ca).unwrap();
        let census = std::fs::read(&first.services[0].1.cert).unwrap();
        let again = DevTls::prepare(dir.path(), &["census", "classification"]).unwrap();
        assert_eq!(std::fs::read(&again.ca).unwrap(), ca);
        assert_eq!(std::fs::read(&again.services[0].1.cert).unwrap(), census);
        let env = again.service_env("classification").unwrap();
        assert!(env.iter().any(|(k, v)| k == vars::GRPC_TLS_CLIENT_CA
            && Path::new(v).is_absolute()
            && v.ends_with("ca.pem")));
        assert!(again.exports().starts_with("export HAICHENG_CA="));

        // A lost CA key: a new CA, and every certificate issued again by it.
        std::fs::remove_file(dir.path().join("ca.key")).unwrap();
        let renewed = DevTls::prepare(dir.path(), &["census", "classification"]).unwrap();
        assert_ne!(std::fs::read(&renewed.ca).unwrap(), ca);
        assert_ne!(std::fs::read(&renewed.services[0].1.cert).unwrap(), census);
    }
}
