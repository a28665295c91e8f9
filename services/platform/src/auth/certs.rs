//! Client certificates and the principals they stand for (`AUTH_CERT_PRINCIPALS`).
//!
//! Under mutual TLS a machine caller is known by its certificate: the SPIFFE ID in its URI
//! SAN (`spiffe://haicheng.local/service/census-import`) or, when it has none, its DNS names.
//! The access policy reads the verified certificate of a call's connection (which the TLS
//! listener, [`crate::tls`], leaves in the request's extensions, as tonic's TLS does), looks
//! its names up here, and takes the mapped principal as the caller of a call that sends no
//! bearer token. A bearer token, when sent, still decides.

use std::{collections::HashMap, fmt, sync::Arc};

use x509_parser::{certificate::X509Certificate, extensions::GeneralName, prelude::FromDer};

use super::{Principal, principal::table_entries};

/// The prefix of a DNS name in `AUTH_CERT_PRINCIPALS` (`dns:gateway.example`), so the
/// mapping can tell it from a SPIFFE ID.
pub const DNS_PREFIX: &str = "dns:";

/// Certificate names (`spiffe://…` or `dns:NAME`) and the principals they stand for.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct CertPrincipals(Arc<HashMap<String, Principal>>);

impl fmt::Debug for CertPrincipals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<String> = self
            .0
            .iter()
            .map(|(name, p)| format!("{name}={}", p.identity))
            .collect();
        names.sort();
        f.debug_tuple("CertPrincipals").field(&names).finish()
    }
}

impl CertPrincipals {
    /// Parses `AUTH_CERT_PRINCIPALS`: entries separated by `;`, each `SAN=KIND:NAME:SCOPES`
    /// with the right-hand side of an `AUTH_TOKENS` entry (`department:NAME:SCOPES`,
    /// `service:NAME:SCOPES`, `enterprise:USCC`) and SAN a SPIFFE ID (`spiffe://…`) or a DNS
    /// name (`dns:NAME`, matched without regard to case).
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut table = HashMap::new();
        for entry in table_entries(spec, "SAN") {
            let (at, san, principal) = entry?;
            let san = Self::key(san).ok_or(format!(
                "{at}: the SAN must be a SPIFFE ID (spiffe://DOMAIN/PATH) or dns:NAME"
            ))?;
            if table.insert(san, principal).is_some() {
                return Err(format!("{at}: the SAN is listed twice"));
            }
        }
        Ok(Self(Arc::new(table)))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The name a mapping entry is stored under: a SPIFFE ID as written, a DNS name in
    /// lower case behind `dns:`.
    fn key(san: &str) -> Option<String> {
        if let Some(rest) = san.strip_prefix("spiffe://") {
            return (rest.contains('/') && !rest.starts_with('/')).then(|| san.to_string());
        }
        let dns = san.strip_prefix(DNS_PREFIX)?.trim();
        (!dns.is_empty() && !dns.contains(char::is_whitespace))
            .then(|| format!("{DNS_PREFIX}{}", dns.to_ascii_lowercase()))
    }

    /// What a verified client certificate (DER) stands for.
    pub fn identify(&self, der: &[u8]) -> ClientCertificate {
        self.resolve(san_names(der))
    }

    /// What a verified certificate with these SAN names stands for. `names` are in the order
    /// the listener found them: the SPIFFE ID alone when the certificate has one (a SPIFFE
    /// ID names the workload; its DNS names only say where it runs), else `dns:NAME` each.
    pub fn resolve(&self, names: Vec<String>) -> ClientCertificate {
        let principal = names
            .iter()
            .filter_map(|name| Self::key(name))
            .find_map(|key| self.0.get(&key).cloned());
        ClientCertificate { names, principal }
    }
}

/// The verified client certificate of a connection: its SAN names and, when
/// `AUTH_CERT_PRINCIPALS` maps one of them, the principal it stands for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientCertificate {
    /// `spiffe://…` or `dns:NAME` each; empty for a certificate with neither.
    pub names: Vec<String>,
    pub principal: Option<Principal>,
}

impl fmt::Display for ClientCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.names.is_empty() {
            f.write_str("a certificate with no SPIFFE ID or DNS name")
        } else {
            f.write_str(&self.names.join(", "))
        }
    }
}

/// The SPIFFE ID of a certificate alone when it has one, else its DNS names as `dns:NAME`.
fn san_names(der: &[u8]) -> Vec<String> {
    let Ok((_, cert)) = X509Certificate::from_der(der) else {
        return Vec::new();
    };
    let Ok(Some(san)) = cert.subject_alternative_name() else {
        return Vec::new();
    };
    let names = &san.value.general_names;
    let spiffe = names.iter().find_map(|name| match name {
        GeneralName::URI(uri) if uri.starts_with("spiffe://") => Some(uri.to_string()),
        _ => None,
    });
    match spiffe {
        Some(id) => vec![id],
        None => names
            .iter()
            .filter_map(|name| match name {
                GeneralName::DNSName(dns) => Some(format!("{DNS_PREFIX}{dns}")),
                _ => None,
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{Department, Identity};

    const SPEC: &str = "spiffe://haicheng.local/service/census-import=service:census-import:census.write; \
                        dns:Gateway.Example=department:commerce:census.read,census.write";

    #[test]
    fn a_spiffe_id_or_a_dns_name_maps_to_its_principal() {
        let map = CertPrincipals::parse(SPEC).unwrap();
        let import = map.resolve(vec!["spiffe://haicheng.local/service/census-import".into()]);
        let principal = import.principal.unwrap();
        assert_eq!(
            principal.identity,
            Identity::Service("census-import".into())
        );
        assert!(principal.has_scope("census.write"));

        let gateway = map.resolve(vec![
            "dns:other.example".into(),
            "dns:gateway.example".into(),
        ]);
        assert_eq!(
            gateway.principal.unwrap().department(),
            Some(Department::Commerce)
        );
    }

    #[test]
    fn an_unmapped_certificate_stands_for_no_one() {
        let map = CertPrincipals::parse(SPEC).unwrap();
        for names in [
            vec!["spiffe://haicheng.local/service/census".to_string()],
            vec!["dns:census-import".to_string()],
            vec![],
        ] {
            let resolved = map.resolve(names.clone());
            assert_eq!(resolved.principal, None, "{names:?}");
            assert_eq!(resolved.names, names);
        }
    }

    #[test]
    fn malformed_entries_are_refused_with_their_number() {
        for (spec, needle) in [
            (
                "spiffe://haicheng.local/service/a",
                "entry 1: expected SAN=",
            ),
            ("gateway.example=service:gw:x", "entry 1: the SAN must be"),
            ("spiffe://no-path=service:gw:x", "entry 1: the SAN must be"),
            (
                "dns:a=service:a:x;dns:b=department:army:x",
                "entry 2: unknown department",
            ),
            (
                "dns:a=service:a:x;dns:A=service:b:y",
                "entry 2: the SAN is listed twice",
            ),
            ("dns:a=robot:a:x", "entry 1: KIND must be"),
        ] {
            let err = CertPrincipals::parse(spec).unwrap_err();
            assert!(err.contains(needle), "{spec}: {err}");
        }
        assert!(CertPrincipals::parse(" ; ").unwrap().is_empty());
    }

    #[cfg(feature = "pki")]
    #[test]
    fn a_certificate_is_known_by_its_spiffe_id_else_by_its_dns_names() {
        use crate::tls::pki::{LocalCa, San, Usage};
        let dir = tempfile::tempdir().unwrap();
        let ca = LocalCa::create(dir.path(), "unit CA").unwrap();
        let der = |name: &str, sans: &[San]| {
            let issued = ca.issue(name, sans, Usage::Client).unwrap();
            let pem = std::fs::read(issued.cert).unwrap();
            use rustls_pki_types::{CertificateDer, pem::PemObject};
            CertificateDer::from_pem_slice(&pem).unwrap().to_vec()
        };
        let map = CertPrincipals::parse(SPEC).unwrap();

        let gateway = der("gateway", &[San::Dns("GATEWAY.example".into())]);
        let known = map.identify(&gateway);
        assert_eq!(known.names, ["dns:GATEWAY.example"]);
        assert_eq!(
            known.principal.unwrap().department(),
            Some(Department::Commerce)
        );

        // With a SPIFFE ID the DNS names do not count: this one is not the gateway.
        let both = der(
            "both",
            &[
                San::Dns("gateway.example".into()),
                San::Uri("spiffe://haicheng.local/service/other".into()),
            ],
        );
        let other = map.identify(&both);
        assert_eq!(other.names, ["spiffe://haicheng.local/service/other"]);
        assert_eq!(other.principal, None);
        assert_eq!(
            map.identify(b"not a certificate").names,
            Vec::<String>::new()
        );
    }
}
