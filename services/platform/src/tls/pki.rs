//! A local certificate authority (rcgen): what `haicheng dev` and the tests run mutual TLS
//! with. Not for a cluster, where cert-manager or the platform's PKI issues certificates.
//!
//! The CA is `ca.pem` and `ca.key` in its folder; each certificate it issues is
//! `<name>.pem` and `<name>.key` beside them (keys readable by the owner only).

use std::{
    fs,
    io::Write,
    net::IpAddr,
    os::unix::fs::OpenOptionsExt,
    path::{Path, PathBuf},
};

use anyhow::Context;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};

use super::{ClientFiles, TlsFiles, spiffe_id};

/// One subject alternative name of an issued certificate.
#[derive(Clone, Debug)]
pub enum San {
    Dns(String),
    Ip(IpAddr),
    /// A URI, such as a SPIFFE ID.
    Uri(String),
}

/// What an issued certificate is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Usage {
    /// A service: it serves (server authentication) and may call others (client).
    Service,
    /// A client only.
    Client,
}

/// A certificate and its key, as files.
#[derive(Clone, Debug)]
pub struct Issued {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// A CA whose key is in a folder, issuing certificates into that folder.
pub struct LocalCa {
    dir: PathBuf,
    issuer: Issuer<'static, KeyPair>,
}

impl LocalCa {
    /// The CA in `dir`, created (with the folder) when `ca.pem` or `ca.key` is missing.
    /// Returns whether it was created: certificates of an older CA are then worthless.
    pub fn open_or_create(dir: &Path, name: &str) -> anyhow::Result<(Self, bool)> {
        let (cert, key) = (dir.join("ca.pem"), dir.join("ca.key"));
        if cert.exists() && key.exists() {
            let pem = fs::read_to_string(&key)
                .with_context(|| format!("cannot read the CA key {}", key.display()))?;
            let key = KeyPair::from_pem(&pem).context("the CA key is not a PEM private key")?;
            let issuer = Issuer::new(ca_params(name)?, key);
            return Ok((
                Self {
                    dir: dir.to_path_buf(),
                    issuer,
                },
                false,
            ));
        }
        Ok((Self::create(dir, name)?, true))
    }

    /// A new CA in `dir`, replacing one that was there.
    pub fn create(dir: &Path, name: &str) -> anyhow::Result<Self> {
        fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let key = KeyPair::generate()?;
        let params = ca_params(name)?;
        let cert = params.self_signed(&key)?;
        write(&dir.join("ca.key"), &key.serialize_pem(), true)?;
        write(&dir.join("ca.pem"), &cert.pem(), false)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            issuer: Issuer::new(params, key),
        })
    }

    /// The CA certificate: what servers and clients trust.
    pub fn ca(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// Issues `<name>.pem` and `<name>.key` with these SANs (the common name is `name`),
    /// replacing files of the same name: rewriting them is a rotation.
    pub fn issue(&self, name: &str, sans: &[San], usage: Usage) -> anyhow::Result<Issued> {
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, name);
        for san in sans {
            params.subject_alt_names.push(match san {
                San::Dns(dns) => SanType::DnsName(dns.as_str().try_into()?),
                San::Ip(ip) => SanType::IpAddress(*ip),
                San::Uri(uri) => SanType::URI(uri.as_str().try_into()?),
            });
        }
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = match usage {
            Usage::Service => vec![
                ExtendedKeyUsagePurpose::ServerAuth,
                ExtendedKeyUsagePurpose::ClientAuth,
            ],
            Usage::Client => vec![ExtendedKeyUsagePurpose::ClientAuth],
        };
        params.use_authority_key_identifier_extension = true;
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.issuer)?;
        let issued = Issued {
            cert: self.dir.join(format!("{name}.pem")),
            key: self.dir.join(format!("{name}.key")),
        };
        write(&issued.key, &key.serialize_pem(), true)?;
        write(&issued.cert, &cert.pem(), false)?;
        Ok(issued)
    }

    /// A service's certificate: `localhost`, `127.0.0.1` and its SPIFFE ID
    /// (`spiffe://haicheng.local/service/<name>`).
    pub fn issue_service(&self, name: &str) -> anyhow::Result<Issued> {
        self.issue(name, &local_sans(name), Usage::Service)
    }

    /// A client account's certificate: its SPIFFE ID only.
    pub fn issue_client(&self, account: &str) -> anyhow::Result<Issued> {
        self.issue(account, &[San::Uri(spiffe_id(account))], Usage::Client)
    }

    /// The server files for a service certificate, with mutual TLS against this CA.
    pub fn server_files(&self, issued: &Issued) -> TlsFiles {
        TlsFiles {
            cert: issued.cert.clone(),
            key: issued.key.clone(),
            client_ca: Some(self.ca()),
        }
    }

    /// The client files for a client certificate (or none: TLS without a client certificate).
    pub fn client_files(&self, issued: Option<&Issued>) -> ClientFiles {
        ClientFiles {
            ca: self.ca(),
            identity: issued.map(|issued| (issued.cert.clone(), issued.key.clone())),
        }
    }
}

/// `localhost`, `127.0.0.1` and the SPIFFE ID of `account`.
pub fn local_sans(account: &str) -> Vec<San> {
    vec![
        San::Dns("localhost".into()),
        San::Ip(IpAddr::from([127, 0, 0, 1])),
        San::Uri(spiffe_id(account)),
    ]
}

/// The same parameters every time, so a CA read back from its key signs as it did.
fn ca_params(name: &str) -> anyhow::Result<CertificateParams> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    Ok(params)
}

/// Writes `contents` to `path`, replacing it; a key readable by its owner only.
fn write(path: &Path, contents: &str, secret: bool) -> anyhow::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    if secret {
        options.mode(0o600);
    }
    options
        .open(path)
        .and_then(|mut file| file.write_all(contents.as_bytes()))
        .with_context(|| format!("cannot write {}", path.display()))
}
