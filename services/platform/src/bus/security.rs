//! How a client reaches the brokers: the bootstrap servers and the connection's security
//! (`KAFKA_SECURITY_PROTOCOL`: plaintext on a laptop, TLS with a client certificate, or TLS
//! with a SCRAM login), applied to every producer, consumer and admin client alike through
//! [`KafkaSettings::client_config`].
//!
//! Certificates and the SCRAM password are read from mounted files (a Strimzi `KafkaUser`'s
//! Secret mounted into the pod), never from the environment; the password is read once at
//! start and never printed.

use std::{fmt, path::PathBuf};

use rdkafka::{ClientConfig, config::RDKafkaLogLevel};
use secrecy::{ExposeSecret, SecretString};

use crate::config::{ConfigError, vars};

/// The security of the connection to the brokers.
#[derive(Clone, Default)]
pub enum KafkaSecurity {
    /// No TLS, no authentication: the local stack and the tests.
    #[default]
    Plaintext,
    /// TLS; the client authenticates with its certificate when one is given (mutual TLS, a
    /// Strimzi `tls` user).
    Ssl(TlsFiles),
    /// TLS and a SCRAM login (a Strimzi `scram-sha-512` user).
    SaslSsl {
        tls: TlsFiles,
        mechanism: ScramMechanism,
        username: String,
        password: SecretString,
    },
}

/// The TLS files: the CA that signed the brokers' certificates, and the client's own
/// certificate and key (PEM).
#[derive(Clone, Debug, Default)]
pub struct TlsFiles {
    pub ca: Option<PathBuf>,
    pub certificate: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

/// The SCRAM mechanisms Kafka offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScramMechanism {
    Sha256,
    Sha512,
}

impl ScramMechanism {
    fn as_str(self) -> &'static str {
        match self {
            ScramMechanism::Sha256 => "SCRAM-SHA-256",
            ScramMechanism::Sha512 => "SCRAM-SHA-512",
        }
    }
}

impl fmt::Debug for KafkaSecurity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KafkaSecurity::Plaintext => f.write_str("Plaintext"),
            KafkaSecurity::Ssl(tls) => f.debug_tuple("Ssl").field(tls).finish(),
            KafkaSecurity::SaslSsl {
                tls,
                mechanism,
                username,
                ..
            } => f
                .debug_struct("SaslSsl")
                .field("tls", tls)
                .field("mechanism", mechanism)
                .field("username", username)
                .finish_non_exhaustive(),
        }
    }
}

/// Where the brokers are and how to reach them.
#[derive(Clone, Debug)]
pub struct KafkaSettings {
    /// `host:port[,host:port]`.
    pub bootstrap: String,
    pub security: KafkaSecurity,
}

impl From<&str> for KafkaSettings {
    /// Plaintext to `bootstrap` (the local stack, tests).
    fn from(bootstrap: &str) -> Self {
        Self {
            bootstrap: bootstrap.to_string(),
            security: KafkaSecurity::Plaintext,
        }
    }
}

impl From<&String> for KafkaSettings {
    fn from(bootstrap: &String) -> Self {
        bootstrap.as_str().into()
    }
}

impl From<&KafkaSettings> for KafkaSettings {
    fn from(settings: &KafkaSettings) -> Self {
        settings.clone()
    }
}

impl KafkaSettings {
    /// The settings every client shares: the brokers, the security, the logging.
    pub fn client_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &self.bootstrap)
            // The local broker and most clusters are reached over IPv4 loopback or pod IPs.
            .set("broker.address.family", "v4")
            .set_log_level(RDKafkaLogLevel::Warning);
        match &self.security {
            KafkaSecurity::Plaintext => {
                config.set("security.protocol", "plaintext");
            }
            KafkaSecurity::Ssl(tls) => {
                config.set("security.protocol", "ssl");
                tls.apply(&mut config);
            }
            KafkaSecurity::SaslSsl {
                tls,
                mechanism,
                username,
                password,
            } => {
                config
                    .set("security.protocol", "sasl_ssl")
                    .set("sasl.mechanism", mechanism.as_str())
                    .set("sasl.username", username)
                    .set("sasl.password", password.expose_secret());
                tls.apply(&mut config);
            }
        }
        config
    }

    /// Reads `KAFKA_BOOTSTRAP` and the security variables; a bad or missing one is an error
    /// naming it.
    pub fn from_lookup(get: &dyn Fn(&'static str) -> Option<String>) -> Result<Self, ConfigError> {
        let bootstrap = get(vars::KAFKA_BOOTSTRAP).unwrap_or_else(|| "127.0.0.1:9092".into());
        let protocol = get(vars::KAFKA_SECURITY_PROTOCOL).unwrap_or_else(|| "PLAINTEXT".into());
        let tls = || TlsFiles::from_lookup(get);
        let security = match protocol.trim().to_ascii_uppercase().as_str() {
            "PLAINTEXT" => KafkaSecurity::Plaintext,
            "SSL" => KafkaSecurity::Ssl(tls()?),
            "SASL_SSL" => {
                let tls = tls()?;
                let mechanism = match get(vars::KAFKA_SASL_MECHANISM)
                    .unwrap_or_else(|| "SCRAM-SHA-512".into())
                    .trim()
                    .to_ascii_uppercase()
                    .as_str()
                {
                    "SCRAM-SHA-512" => ScramMechanism::Sha512,
                    "SCRAM-SHA-256" => ScramMechanism::Sha256,
                    other => {
                        return Err(invalid(
                            vars::KAFKA_SASL_MECHANISM,
                            format!("{other:?}: expected SCRAM-SHA-512 or SCRAM-SHA-256"),
                        ));
                    }
                };
                let username = get(vars::KAFKA_SASL_USERNAME).ok_or_else(|| {
                    invalid(vars::KAFKA_SASL_USERNAME, "required with SASL_SSL".into())
                })?;
                let password = read_password(get)?;
                KafkaSecurity::SaslSsl {
                    tls,
                    mechanism,
                    username,
                    password,
                }
            }
            other => {
                return Err(invalid(
                    vars::KAFKA_SECURITY_PROTOCOL,
                    format!("{other:?}: expected PLAINTEXT, SSL or SASL_SSL"),
                ));
            }
        };
        Ok(Self {
            bootstrap,
            security,
        })
    }
}

impl TlsFiles {
    fn from_lookup(get: &dyn Fn(&'static str) -> Option<String>) -> Result<Self, ConfigError> {
        let file = |var: &'static str| -> Result<Option<PathBuf>, ConfigError> {
            match get(var) {
                None => Ok(None),
                Some(path) => {
                    let path = PathBuf::from(path.trim());
                    if path.is_file() {
                        Ok(Some(path))
                    } else {
                        Err(invalid(
                            var,
                            format!("{} is not a readable file", path.display()),
                        ))
                    }
                }
            }
        };
        let files = Self {
            ca: file(vars::KAFKA_SSL_CA_FILE)?,
            certificate: file(vars::KAFKA_SSL_CERT_FILE)?,
            key: file(vars::KAFKA_SSL_KEY_FILE)?,
        };
        match (&files.certificate, &files.key) {
            (Some(_), None) => Err(invalid(
                vars::KAFKA_SSL_KEY_FILE,
                format!("required with {}", vars::KAFKA_SSL_CERT_FILE),
            )),
            (None, Some(_)) => Err(invalid(
                vars::KAFKA_SSL_CERT_FILE,
                format!("required with {}", vars::KAFKA_SSL_KEY_FILE),
            )),
            _ => Ok(files),
        }
    }

    fn apply(&self, config: &mut ClientConfig) {
        // librdkafka checks the broker's name against its certificate by default (`https`);
        // stated so it is chosen, not inherited.
        config.set("ssl.endpoint.identification.algorithm", "https");
        if let Some(ca) = &self.ca {
            config.set("ssl.ca.location", ca.display().to_string());
        }
        if let Some(certificate) = &self.certificate {
            config.set(
                "ssl.certificate.location",
                certificate.display().to_string(),
            );
        }
        if let Some(key) = &self.key {
            config.set("ssl.key.location", key.display().to_string());
        }
    }
}

/// The SCRAM password from its mounted file (trailing newline dropped).
fn read_password(
    get: &dyn Fn(&'static str) -> Option<String>,
) -> Result<SecretString, ConfigError> {
    let var = vars::KAFKA_SASL_PASSWORD_FILE;
    let path = get(var).ok_or_else(|| invalid(var, "required with SASL_SSL".into()))?;
    let text = std::fs::read_to_string(path.trim())
        .map_err(|err| invalid(var, format!("{}: {err}", path.trim())))?;
    let password = text.trim_end_matches(['\r', '\n']);
    if password.is_empty() {
        return Err(invalid(var, format!("{} is empty", path.trim())));
    }
    Ok(SecretString::from(password.to_string()))
}

fn invalid(var: &'static str, reason: String) -> ConfigError {
    ConfigError { var, reason }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{lookup_in, non_blank};

    fn settings(pairs: &[(&str, &str)]) -> Result<KafkaSettings, ConfigError> {
        let lookup = lookup_in(pairs);
        let get = non_blank(&lookup);
        KafkaSettings::from_lookup(&get)
    }

    fn value(config: &ClientConfig, key: &str) -> Option<String> {
        config.get(key).map(str::to_string)
    }

    #[test]
    fn plaintext_is_the_default() {
        let kafka = settings(&[]).unwrap();
        assert_eq!(kafka.bootstrap, "127.0.0.1:9092");
        let config = kafka.client_config();
        assert_eq!(
            value(&config, "security.protocol").as_deref(),
            Some("plaintext")
        );
        assert!(value(&config, "ssl.ca.location").is_none());
    }

    #[test]
    fn ssl_takes_the_mounted_files_and_a_certificate_needs_its_key() {
        let dir = tempfile::tempdir().unwrap();
        let file = |name: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, "pem").unwrap();
            path.display().to_string()
        };
        let (ca, cert, key) = (file("ca.crt"), file("user.crt"), file("user.key"));
        let kafka = settings(&[
            (vars::KAFKA_SECURITY_PROTOCOL, "ssl"),
            (vars::KAFKA_SSL_CA_FILE, &ca),
            (vars::KAFKA_SSL_CERT_FILE, &cert),
            (vars::KAFKA_SSL_KEY_FILE, &key),
        ])
        .unwrap();
        let config = kafka.client_config();
        assert_eq!(value(&config, "security.protocol").as_deref(), Some("ssl"));
        assert_eq!(value(&config, "ssl.ca.location"), Some(ca.clone()));
        assert_eq!(
            value(&config, "ssl.certificate.location"),
            Some(cert.clone())
        );
        assert_eq!(value(&config, "ssl.key.location"), Some(key));

        let err = settings(&[
            (vars::KAFKA_SECURITY_PROTOCOL, "SSL"),
            (vars::KAFKA_SSL_CERT_FILE, &cert),
        ])
        .unwrap_err();
        assert_eq!(err.var, vars::KAFKA_SSL_KEY_FILE);
        let err = settings(&[
            (vars::KAFKA_SECURITY_PROTOCOL, "SSL"),
            (vars::KAFKA_SSL_CA_FILE, "/nowhere/ca.crt"),
        ])
        .unwrap_err();
        assert_eq!(err.var, vars::KAFKA_SSL_CA_FILE);
    }

    #[test]
    fn sasl_ssl_reads_the_password_from_its_file_and_never_prints_it() {
        let dir = tempfile::tempdir().unwrap();
        let password = dir.path().join("password");
        std::fs::write(&password, "s3cret-scram\n").unwrap();
        let path = password.display().to_string();
        let kafka = settings(&[
            (vars::KAFKA_SECURITY_PROTOCOL, "SASL_SSL"),
            (vars::KAFKA_SASL_USERNAME, "census"),
            (vars::KAFKA_SASL_PASSWORD_FILE, &path),
        ])
        .unwrap();
        let config = kafka.client_config();
        assert_eq!(
            value(&config, "sasl.mechanism").as_deref(),
            Some("SCRAM-SHA-512")
        );
        assert_eq!(
            value(&config, "sasl.password").as_deref(),
            Some("s3cret-scram")
        );
        assert!(!format!("{kafka:?}").contains("s3cret"));

        for (var, pairs) in [
            (
                vars::KAFKA_SASL_USERNAME,
                vec![
                    (vars::KAFKA_SECURITY_PROTOCOL, "SASL_SSL"),
                    (vars::KAFKA_SASL_PASSWORD_FILE, path.as_str()),
                ],
            ),
            (
                vars::KAFKA_SASL_PASSWORD_FILE,
                vec![
                    (vars::KAFKA_SECURITY_PROTOCOL, "SASL_SSL"),
                    (vars::KAFKA_SASL_USERNAME, "census"),
                ],
            ),
            (
                vars::KAFKA_SASL_MECHANISM,
                vec![
                    (vars::KAFKA_SECURITY_PROTOCOL, "SASL_SSL"),
                    (vars::KAFKA_SASL_MECHANISM, "PLAIN"),
                ],
            ),
            (
                vars::KAFKA_SECURITY_PROTOCOL,
                vec![(vars::KAFKA_SECURITY_PROTOCOL, "TLS")],
            ),
        ] {
            assert_eq!(settings(&pairs).unwrap_err().var, var, "{pairs:?}");
        }
    }
}
