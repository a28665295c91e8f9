//! Typed configuration read from the environment, with local defaults.
//!
//! Every variable name is a constant in [`vars`], the one place the deploy checks and the
//! README read from. A variable that is set but malformed stops start-up with a
//! [`ConfigError`] naming it; a variable that is not set takes its local default, except
//! where production must not guess: credentials. A service with neither `AUTH_TOKENS` nor
//! `AUTH_JWT_ISSUER` refuses to start unless development mode is asked for explicitly
//! (`AUTH_DEVELOPMENT=true`), which `haicheng dev` and the tests do.

use std::{net::SocketAddr, str::FromStr, time::Duration};

use secrecy::SecretString;

use crate::{
    auth::{
        TokenTable,
        jwt::{JwtSettings, JwtVerifier},
    },
    bus::KafkaSettings,
    server::limits::config::LimitsConfig,
    tls::ServerTls,
};

/// Names of the environment variables the platform reads, declared once.
pub mod vars {
    pub const GRPC_ADDR: &str = "GRPC_ADDR";
    pub const DATABASE_URL: &str = "DATABASE_URL";
    pub const DATABASE_MAX_CONNECTIONS: &str = "DATABASE_MAX_CONNECTIONS";
    pub const KAFKA_BOOTSTRAP: &str = "KAFKA_BOOTSTRAP";
    pub const KAFKA_MESSAGE_TIMEOUT_MS: &str = "KAFKA_MESSAGE_TIMEOUT_MS";
    /// `PLAINTEXT` (default), `SSL` (TLS; mutual with a client certificate) or `SASL_SSL`
    /// (TLS and a SCRAM login).
    pub const KAFKA_SECURITY_PROTOCOL: &str = "KAFKA_SECURITY_PROTOCOL";
    /// PEM file of the CA that signed the brokers' certificates.
    pub const KAFKA_SSL_CA_FILE: &str = "KAFKA_SSL_CA_FILE";
    /// PEM file of the client's certificate (a Strimzi `tls` user's `user.crt`).
    pub const KAFKA_SSL_CERT_FILE: &str = "KAFKA_SSL_CERT_FILE";
    /// PEM file of the client's private key (`user.key`).
    pub const KAFKA_SSL_KEY_FILE: &str = "KAFKA_SSL_KEY_FILE";
    /// `SCRAM-SHA-512` (default) or `SCRAM-SHA-256`, with `SASL_SSL`.
    pub const KAFKA_SASL_MECHANISM: &str = "KAFKA_SASL_MECHANISM";
    /// The SCRAM user name, with `SASL_SSL`.
    pub const KAFKA_SASL_USERNAME: &str = "KAFKA_SASL_USERNAME";
    /// The file holding the SCRAM password (a Strimzi `scram-sha-512` user's `password`).
    pub const KAFKA_SASL_PASSWORD_FILE: &str = "KAFKA_SASL_PASSWORD_FILE";
    pub const OTEL_EXPORTER_OTLP_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
    /// `key=value,…` added to the telemetry resource; read by the OpenTelemetry SDK itself
    /// (its environment detector). A pod sets `service.instance.id` to its name here.
    pub const OTEL_RESOURCE_ATTRIBUTES: &str = "OTEL_RESOURCE_ATTRIBUTES";
    pub const LOG_FILTER: &str = "RUST_LOG";
    pub const AUTH_TOKENS: &str = "AUTH_TOKENS";
    /// `true` runs the service in development mode: the development tokens (`dev-commerce`,
    /// `dev-enterprise-<USCC>`, …) are accepted and no credentials need be configured. Never
    /// set in a cluster (`deploy/check` refuses an overlay that sets it).
    pub const AUTH_DEVELOPMENT: &str = "AUTH_DEVELOPMENT";
    /// The identity provider's issuer (`iss`); set, the service accepts its JWTs.
    pub const AUTH_JWT_ISSUER: &str = "AUTH_JWT_ISSUER";
    /// The `aud` a JWT must name; default: the service's name.
    pub const AUTH_JWT_AUDIENCE: &str = "AUTH_JWT_AUDIENCE";
    /// The identity provider's JWKS: a file path or an https URL.
    pub const AUTH_JWT_JWKS: &str = "AUTH_JWT_JWKS";
    /// How often the JWKS is read again (`10m`, `1h`, …).
    pub const AUTH_JWT_JWKS_REFRESH: &str = "AUTH_JWT_JWKS_REFRESH";
    /// JWS algorithms accepted, comma-separated; default `RS256,ES256`; `none` and HS* refused.
    pub const AUTH_JWT_ALGORITHMS: &str = "AUTH_JWT_ALGORITHMS";
    /// Deadline of a unary or server-streaming call (its time to the response).
    pub const REQUEST_TIMEOUT_MS: &str = "REQUEST_TIMEOUT_MS";
    /// Longest silence between two messages of a client-streaming call (an import), which
    /// has no whole-call deadline of the server's ([`crate::server::deadline`]).
    pub const STREAM_IDLE_TIMEOUT_MS: &str = "STREAM_IDLE_TIMEOUT_MS";
    pub const MAX_MESSAGE_BYTES: &str = "MAX_MESSAGE_BYTES";
    pub const MAX_CONCURRENT_REQUESTS: &str = "MAX_CONCURRENT_REQUESTS";
    pub const SHUTDOWN_GRACE_MS: &str = "SHUTDOWN_GRACE_MS";
    pub const OUTBOX_BATCH_SIZE: &str = "OUTBOX_BATCH_SIZE";
    pub const OUTBOX_POLL_MS: &str = "OUTBOX_POLL_MS";
    pub const INBOX_MAX_ATTEMPTS: &str = "INBOX_MAX_ATTEMPTS";
    pub const KAFKA_TOPIC_PARTITIONS: &str = "KAFKA_TOPIC_PARTITIONS";
    pub const KAFKA_TOPIC_PREFIX: &str = "KAFKA_TOPIC_PREFIX";
    pub const KAFKA_GROUP_INSTANCE_ID: &str = "KAFKA_GROUP_INSTANCE_ID";
    pub const KAFKA_ENSURE_TOPICS: &str = "KAFKA_ENSURE_TOPICS";
    pub const OUTBOX_RETENTION: &str = "OUTBOX_RETENTION";
    pub const INBOX_RETENTION: &str = "INBOX_RETENTION";
    /// Per-caller limits and reflection: see [`crate::server::limits`].
    pub const RATE_LIMIT_READS: &str = "RATE_LIMIT_READS";
    pub const RATE_LIMIT_WRITES: &str = "RATE_LIMIT_WRITES";
    pub const RATE_LIMIT_IMPORTS: &str = "RATE_LIMIT_IMPORTS";
    pub const WATCH_STREAMS_PER_PRINCIPAL: &str = "WATCH_STREAMS_PER_PRINCIPAL";
    pub const WATCH_STREAMS_MAX: &str = "WATCH_STREAMS_MAX";
    /// `off`, `public` or `scope:<scope>`.
    pub const GRPC_REFLECTION: &str = "GRPC_REFLECTION";
    /// The owner role's connection string: the `migrate` command (the Job) migrates with it.
    /// Never set in a Deployment (`deploy/check`); a development launcher that sets it has
    /// the service migrate with it before serving as `DATABASE_URL`'s runtime role.
    pub const DATABASE_OWNER_URL: &str = "DATABASE_OWNER_URL";
    /// How long audit records are kept (at least 183 days).
    pub const AUDIT_RETENTION: &str = "AUDIT_RETENTION";
    /// PEM certificate chain and private key of the gRPC server: both set, TLS on.
    pub const GRPC_TLS_CERT: &str = "GRPC_TLS_CERT";
    pub const GRPC_TLS_KEY: &str = "GRPC_TLS_KEY";
    /// PEM CA certificates: set, every client must present a certificate from them (mTLS).
    pub const GRPC_TLS_CLIENT_CA: &str = "GRPC_TLS_CLIENT_CA";
    /// Client certificate SANs and the principals they stand for (`SAN=KIND:NAME:SCOPES;…`).
    pub const AUTH_CERT_PRINCIPALS: &str = "AUTH_CERT_PRINCIPALS";
    /// With TLS: where health alone is also served in plaintext, for kubelet's gRPC probes.
    pub const GRPC_HEALTH_ADDR: &str = "GRPC_HEALTH_ADDR";

    /// Every variable above, for documentation and deploy checks.
    pub const ALL: &[&str] = &[
        GRPC_ADDR,
        DATABASE_URL,
        DATABASE_MAX_CONNECTIONS,
        KAFKA_BOOTSTRAP,
        KAFKA_MESSAGE_TIMEOUT_MS,
        KAFKA_SECURITY_PROTOCOL,
        KAFKA_SSL_CA_FILE,
        KAFKA_SSL_CERT_FILE,
        KAFKA_SSL_KEY_FILE,
        KAFKA_SASL_MECHANISM,
        KAFKA_SASL_USERNAME,
        KAFKA_SASL_PASSWORD_FILE,
        OTEL_EXPORTER_OTLP_ENDPOINT,
        OTEL_RESOURCE_ATTRIBUTES,
        LOG_FILTER,
        AUTH_TOKENS,
        AUTH_DEVELOPMENT,
        AUTH_JWT_ISSUER,
        AUTH_JWT_AUDIENCE,
        AUTH_JWT_JWKS,
        AUTH_JWT_JWKS_REFRESH,
        AUTH_JWT_ALGORITHMS,
        REQUEST_TIMEOUT_MS,
        STREAM_IDLE_TIMEOUT_MS,
        MAX_MESSAGE_BYTES,
        MAX_CONCURRENT_REQUESTS,
        SHUTDOWN_GRACE_MS,
        OUTBOX_BATCH_SIZE,
        OUTBOX_POLL_MS,
        INBOX_MAX_ATTEMPTS,
        KAFKA_TOPIC_PARTITIONS,
        KAFKA_TOPIC_PREFIX,
        KAFKA_GROUP_INSTANCE_ID,
        KAFKA_ENSURE_TOPICS,
        OUTBOX_RETENTION,
        INBOX_RETENTION,
        RATE_LIMIT_READS,
        RATE_LIMIT_WRITES,
        RATE_LIMIT_IMPORTS,
        WATCH_STREAMS_PER_PRINCIPAL,
        WATCH_STREAMS_MAX,
        GRPC_REFLECTION,
        DATABASE_OWNER_URL,
        AUDIT_RETENTION,
        GRPC_TLS_CERT,
        GRPC_TLS_KEY,
        GRPC_TLS_CLIENT_CA,
        AUTH_CERT_PRINCIPALS,
        GRPC_HEALTH_ADDR,
    ];
}

/// A variable that is present but cannot be used; start-up stops with this message.
#[derive(Debug, Clone, thiserror::Error)]
#[error("configuration variable {var} is invalid: {reason}")]
pub struct ConfigError {
    pub var: &'static str,
    pub reason: String,
}

/// The part of a service's configuration that the platform owns.
#[derive(Debug, Clone)]
pub struct PlatformConfig {
    /// Name in logs, traces, CloudEvents `ce_source` and the consumer group id.
    pub service_name: &'static str,
    /// Where the gRPC server listens; port 0 picks a free port (tests).
    pub grpc_addr: SocketAddr,
    /// PostgreSQL connection string; a secret, since it may carry a password.
    pub database_url: SecretString,
    pub database_max_connections: u32,
    /// The Kafka bootstrap servers (`host:port[,host:port]`) and the connection's security.
    pub kafka: KafkaSettings,
    /// Put before every topic and consumer group name, so several platforms (or test runs)
    /// can share one broker; empty in a normal deployment.
    pub kafka_topic_prefix: String,
    /// Static group membership (`group.instance.id`): a replica restarted under the same id
    /// (a pod's name) takes its partitions back at once instead of waiting for the broker to
    /// expire its dead predecessor. Unset: dynamic membership.
    pub kafka_group_instance_id: Option<String>,
    /// Whether the service creates its topics (and their DLQs) when they are missing: on for
    /// the local stack and the tests; off in Kubernetes, where Strimzi's Topic Operator owns
    /// the topics (`KafkaTopic` resources) and a service must not race it.
    pub kafka_ensure_topics: bool,
    /// Partitions of a topic the service creates (`kafka_ensure_topics`).
    pub kafka_topic_partitions: i32,
    /// How long the producer keeps retrying one message before it reports failure.
    pub kafka_message_timeout: Duration,
    /// Log filter in `tracing` syntax (`info`, `census=debug,info`).
    pub log_filter: Option<String>,
    /// OTLP/gRPC endpoint; traces and metrics are exported only when it is set.
    pub otlp_endpoint: Option<String>,
    /// Bearer tokens and the principals they stand for: `AUTH_TOKENS`, entries
    /// `sha256:DIGEST=service:NAME:SCOPES` or `sha256:DIGEST=department:NAME:SCOPES` (see
    /// [`TokenTable::parse`]), and JWTs when `AUTH_JWT_ISSUER` is set (see
    /// [`crate::auth::jwt`]); in development mode the development table
    /// (`dev-<department>`, `dev-census-import`, `dev-enterprise-<USCC>`) besides them.
    pub tokens: TokenTable,
    /// Set when no credentials are configured outside development mode: the service then
    /// refuses to serve (exit 2 naming `AUTH_TOKENS`: fail closed), while `migrate` and
    /// `replay`, which serve nobody, still run (the migration Job holds no tokens).
    pub missing_credentials: Option<ConfigError>,
    /// TLS on the gRPC listener (`GRPC_TLS_CERT`, `GRPC_TLS_KEY`), mutual with
    /// `GRPC_TLS_CLIENT_CA`, client certificates mapped to principals by
    /// `AUTH_CERT_PRINCIPALS`; `None`: plaintext. See [`crate::tls`].
    pub tls: Option<ServerTls>,
    /// Development mode (`AUTH_DEVELOPMENT=true`): the development tokens work and no
    /// credentials are required. The service says so in its first log line and in its health
    /// (the health entry [`crate::server::DEVELOPMENT_MODE_HEALTH`] is SERVING).
    pub development: bool,
    /// Deadline of a unary or server-streaming call whose client sent none (and the cap on
    /// those that did).
    pub request_timeout: Duration,
    /// A client-streaming call is cut after this long without a request message; it has no
    /// whole-call deadline of the server's, so a long import that keeps sending lives on.
    pub stream_idle_timeout: Duration,
    /// Largest protobuf message accepted or sent, in bytes.
    pub max_message_bytes: usize,
    /// Calls served at once; beyond this a call is shed with RESOURCE_EXHAUSTED.
    pub max_concurrent_requests: usize,
    /// Time between reporting NOT_SERVING and closing the listener, so load balancers notice.
    pub shutdown_grace: Duration,
    pub outbox_batch_size: i64,
    /// How often the relay looks for new rows when nothing woke it.
    pub outbox_poll: Duration,
    /// Attempts of a failing event handler before its message goes to the DLQ.
    pub inbox_max_attempts: u32,
    /// Sent outbox rows are kept this long after they were written, for replay.
    pub outbox_retention: Duration,
    /// Inbox ids are kept this long after the event was applied. An event can reach a
    /// consumer again up to `outbox_retention` after it was written (a replay) plus the
    /// topic's retention (re-read from the topic), so this must exceed that sum to recognise
    /// it: start-up refuses a window not longer than `outbox_retention`, and `deploy/check`
    /// compares the sum with the topics' `retention.ms`.
    pub inbox_retention: Duration,
    /// Per-principal rate limits by method group, caps on open streams, and who may use
    /// reflection ([`crate::server::limits`]).
    pub limits: LimitsConfig,
    /// The owner role's connection (migrations) and the audit log's retention.
    pub audit: crate::audit::AuditConfig,
}

impl PlatformConfig {
    /// Reads the platform's variables for `service_name`, with local defaults.
    pub fn from_env(
        service_name: &'static str,
        default_grpc_port: u16,
    ) -> Result<Self, ConfigError> {
        Self::from_lookup(service_name, default_grpc_port, |name| {
            std::env::var(name).ok()
        })
    }

    /// The same as [`from_env`](Self::from_env) over any lookup, so tests need not touch the
    /// process environment.
    pub fn from_lookup(
        service_name: &'static str,
        default_grpc_port: u16,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let get = non_blank(&lookup);
        let development = parse_or(get(vars::AUTH_DEVELOPMENT), vars::AUTH_DEVELOPMENT, || {
            false
        })?;
        let jwt = JwtSettings::from_lookup(&get, service_name)?;
        let tls = ServerTls::from_lookup(&get)?;
        let certificates = tls.as_ref().is_some_and(ServerTls::maps_certificates);
        let configured = get(vars::AUTH_TOKENS);
        let missing_credentials =
            (configured.is_none() && jwt.is_none() && !certificates && !development)
                .then(no_credentials);
        let tokens = credentials(configured, jwt, development)?;
        let (kafka_ensure_topics, kafka_topic_partitions, kafka_message_timeout) =
            kafka_topics(&get)?;
        let (outbox_batch_size, outbox_poll, inbox_max_attempts) = outbox_and_inbox(&get)?;
        let max_concurrent_requests = parse_or(
            get(vars::MAX_CONCURRENT_REQUESTS),
            vars::MAX_CONCURRENT_REQUESTS,
            || 256,
        )?;
        Self {
            service_name,
            grpc_addr: parse_or(get(vars::GRPC_ADDR), vars::GRPC_ADDR, || {
                SocketAddr::from(([127, 0, 0, 1], default_grpc_port))
            })?,
            database_url: SecretString::from(
                get(vars::DATABASE_URL)
                    .unwrap_or_else(|| "postgres://haicheng@127.0.0.1:5432/postgres".into()),
            ),
            database_max_connections: parse_or(
                get(vars::DATABASE_MAX_CONNECTIONS),
                vars::DATABASE_MAX_CONNECTIONS,
                || 16,
            )?,
            kafka: KafkaSettings::from_lookup(&get)?,
            kafka_topic_prefix: get(vars::KAFKA_TOPIC_PREFIX).unwrap_or_default(),
            kafka_group_instance_id: get(vars::KAFKA_GROUP_INSTANCE_ID),
            kafka_ensure_topics,
            kafka_topic_partitions,
            kafka_message_timeout,
            log_filter: get(vars::LOG_FILTER),
            otlp_endpoint: get(vars::OTEL_EXPORTER_OTLP_ENDPOINT),
            tokens,
            missing_credentials,
            tls,
            development,
            request_timeout: millis_or(
                get(vars::REQUEST_TIMEOUT_MS),
                vars::REQUEST_TIMEOUT_MS,
                30_000,
            )?,
            stream_idle_timeout: stream_idle_timeout(&get)?,
            max_message_bytes: parse_or(
                get(vars::MAX_MESSAGE_BYTES),
                vars::MAX_MESSAGE_BYTES,
                || 4 * 1024 * 1024,
            )?,
            max_concurrent_requests,
            shutdown_grace: millis_or(get(vars::SHUTDOWN_GRACE_MS), vars::SHUTDOWN_GRACE_MS, 0)?,
            outbox_batch_size,
            outbox_poll,
            inbox_max_attempts,
            outbox_retention: span_or(
                get(vars::OUTBOX_RETENTION),
                vars::OUTBOX_RETENTION,
                DAY * 14,
            )?,
            inbox_retention: span_or(get(vars::INBOX_RETENTION), vars::INBOX_RETENTION, DAY * 30)?,
            limits: LimitsConfig::from_lookup(&get, max_concurrent_requests)?,
            audit: crate::audit::AuditConfig::from_lookup(&get)?,
        }
        .checked()
    }

    /// Refuses settings that are each well-formed but wrong together.
    fn checked(self) -> Result<Self, ConfigError> {
        // A replay re-publishes sent rows up to OUTBOX_RETENTION old; a consumer that has
        // already forgotten such an event's id would apply it a second time.
        if self.inbox_retention <= self.outbox_retention {
            return Err(ConfigError {
                var: vars::INBOX_RETENTION,
                reason: format!(
                    "{:?} must be longer than {} ({:?}), so a replayed event is still recognised",
                    self.inbox_retention,
                    vars::OUTBOX_RETENTION,
                    self.outbox_retention
                ),
            });
        }
        Ok(self)
    }
}

/// `STREAM_IDLE_TIMEOUT_MS`: 30 s by default; zero would cut every stream before its first
/// message, so it must be at least 1 ms.
fn stream_idle_timeout(
    get: &impl Fn(&'static str) -> Option<String>,
) -> Result<Duration, ConfigError> {
    let idle = millis_or(
        get(vars::STREAM_IDLE_TIMEOUT_MS),
        vars::STREAM_IDLE_TIMEOUT_MS,
        30_000,
    )?;
    if idle.is_zero() {
        return Err(ConfigError {
            var: vars::STREAM_IDLE_TIMEOUT_MS,
            reason: "must be at least 1 ms".into(),
        });
    }
    Ok(idle)
}

pub(crate) const DAY: Duration = Duration::from_secs(24 * 60 * 60);

/// Whether the service creates its topics, their partitions, and the producer's timeout.
fn kafka_topics(
    get: &impl Fn(&'static str) -> Option<String>,
) -> Result<(bool, i32, Duration), ConfigError> {
    Ok((
        parse_or(
            get(vars::KAFKA_ENSURE_TOPICS),
            vars::KAFKA_ENSURE_TOPICS,
            || true,
        )?,
        parse_or(
            get(vars::KAFKA_TOPIC_PARTITIONS),
            vars::KAFKA_TOPIC_PARTITIONS,
            || 3,
        )?,
        millis_or(
            get(vars::KAFKA_MESSAGE_TIMEOUT_MS),
            vars::KAFKA_MESSAGE_TIMEOUT_MS,
            30_000,
        )?,
    ))
}

/// The relay's batch and poll, and a handler's attempts before the DLQ.
fn outbox_and_inbox(
    get: &impl Fn(&'static str) -> Option<String>,
) -> Result<(i64, Duration, u32), ConfigError> {
    Ok((
        parse_or(
            get(vars::OUTBOX_BATCH_SIZE),
            vars::OUTBOX_BATCH_SIZE,
            || 256,
        )?,
        millis_or(get(vars::OUTBOX_POLL_MS), vars::OUTBOX_POLL_MS, 500)?,
        parse_or(
            get(vars::INBOX_MAX_ATTEMPTS),
            vars::INBOX_MAX_ATTEMPTS,
            || 5,
        )?,
    ))
}

/// The token table: `AUTH_TOKENS` as configured and the JWT verifier (`AUTH_JWT_*`), plus
/// the development table in development mode. Without any of them it is empty and refuses
/// every call; serving then stops first ([`PlatformConfig::missing_credentials`]).
fn credentials(
    configured: Option<String>,
    jwt: Option<JwtSettings>,
    development: bool,
) -> Result<TokenTable, ConfigError> {
    let parsed = configured
        .map(|spec| TokenTable::parse(&spec))
        .transpose()
        .map_err(|reason| ConfigError {
            var: vars::AUTH_TOKENS,
            reason,
        })?;
    let verifier = jwt
        .map(JwtVerifier::new)
        .transpose()
        .map_err(|reason| ConfigError {
            var: vars::AUTH_JWT_JWKS,
            reason,
        })?
        .map(std::sync::Arc::new);
    let table = match (parsed, development) {
        (Some(table), false) => table,
        (Some(table), true) => table.with_development(),
        (None, true) => TokenTable::development(),
        (None, false) => TokenTable::default(),
    };
    Ok(match verifier {
        Some(verifier) => table.with_jwt(verifier),
        None => table,
    })
}

/// Why a service with no credentials outside development mode does not serve (fail closed):
/// a forgotten Secret must not open the service to the development tokens.
fn no_credentials() -> ConfigError {
    ConfigError {
        var: vars::AUTH_TOKENS,
        reason: format!(
            "no credentials are configured, so the service refuses to start; set {} \
             (sha256:DIGEST=KIND:NAME:SCOPES;…), {} with {}, or {} with mutual TLS, or {}=true \
             on a local development stack",
            vars::AUTH_TOKENS,
            vars::AUTH_JWT_ISSUER,
            vars::AUTH_JWT_JWKS,
            vars::AUTH_CERT_PRINCIPALS,
            vars::AUTH_DEVELOPMENT
        ),
    }
}

impl PlatformConfig {
    /// The name of `topic` (or of a consumer group) on the broker: behind the topic prefix.
    pub fn topic(&self, topic: &str) -> String {
        format!("{}{topic}", self.kafka_topic_prefix)
    }
}

/// A lookup over fixed pairs, for `from_lookup` constructors in tests. Like every test, it
/// asks for development mode (`AUTH_DEVELOPMENT=true`) unless the pairs set that variable.
pub fn lookup_in<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
    move |name| {
        pairs
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
            .or_else(|| (name == vars::AUTH_DEVELOPMENT).then(|| "true".to_string()))
    }
}

/// A lookup that treats a blank variable as unset: `FOO=` in a manifest or an env file means
/// "take the default", not "parse the empty string".
pub fn non_blank(
    lookup: impl Fn(&str) -> Option<String>,
) -> impl Fn(&'static str) -> Option<String> {
    move |var| lookup(var).filter(|v| !v.trim().is_empty())
}

/// Parses a present variable, or takes the default when it is absent.
pub fn parse_or<T>(
    value: Option<String>,
    var: &'static str,
    default: impl FnOnce() -> T,
) -> Result<T, ConfigError>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    match value {
        None => Ok(default()),
        Some(raw) => raw.trim().parse().map_err(|err| ConfigError {
            var,
            reason: format!("{raw:?}: {err}"),
        }),
    }
}

/// A present span such as `14d`, `36h`, `90m` or `45s` (more than zero), or the default.
pub fn span_or(
    value: Option<String>,
    var: &'static str,
    default: Duration,
) -> Result<Duration, ConfigError> {
    let Some(raw) = value else {
        return Ok(default);
    };
    let invalid = |why: &str| ConfigError {
        var,
        reason: format!("{raw:?}: {why}"),
    };
    let text = raw.trim();
    let split = text.len() - text.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    let (number, unit) = text.split_at(split);
    let count: u64 = number
        .parse()
        .map_err(|_| invalid("expected a whole number and a unit, e.g. 14d, 36h, 90m, 45s"))?;
    let unit_secs = match unit {
        "d" => 24 * 60 * 60,
        "h" => 60 * 60,
        "m" => 60,
        "s" => 1,
        _ => return Err(invalid("the unit must be d, h, m or s (e.g. 14d)")),
    };
    match count.checked_mul(unit_secs) {
        Some(0) => Err(invalid("must be more than zero")),
        Some(secs) => Ok(Duration::from_secs(secs)),
        None => Err(invalid("too long")),
    }
}

fn millis_or(
    value: Option<String>,
    var: &'static str,
    default_ms: u64,
) -> Result<Duration, ConfigError> {
    parse_or(value, var, || default_ms).map(Duration::from_millis)
}

#[cfg(test)]
mod tests {
    use super::{lookup_in as lookup, *};

    #[test]
    fn defaults_apply_when_nothing_is_set() {
        let config = PlatformConfig::from_lookup("census", 50051, lookup(&[])).unwrap();
        assert_eq!(config.grpc_addr.port(), 50051);
        assert_eq!(config.kafka.bootstrap, "127.0.0.1:9092");
        assert!(config.otlp_endpoint.is_none());
    }

    #[test]
    fn a_malformed_variable_is_named_in_the_error() {
        let err =
            PlatformConfig::from_lookup("census", 1, lookup(&[(vars::REQUEST_TIMEOUT_MS, "soon")]))
                .unwrap_err();
        assert_eq!(err.var, vars::REQUEST_TIMEOUT_MS);
        assert!(err.to_string().contains("REQUEST_TIMEOUT_MS"), "{err}");
    }

    #[test]
    fn the_stream_idle_timeout_defaults_to_30_s_and_refuses_zero_or_garbage() {
        let config = PlatformConfig::from_lookup("census", 1, lookup(&[])).unwrap();
        assert_eq!(config.stream_idle_timeout, Duration::from_secs(30));
        let config = PlatformConfig::from_lookup(
            "census",
            1,
            lookup(&[(vars::STREAM_IDLE_TIMEOUT_MS, "120000")]),
        )
        .unwrap();
        assert_eq!(config.stream_idle_timeout, Duration::from_secs(120));
        for bad in ["0", "-5", "30s", "soon"] {
            let err = PlatformConfig::from_lookup(
                "census",
                1,
                lookup(&[(vars::STREAM_IDLE_TIMEOUT_MS, bad)]),
            )
            .unwrap_err();
            assert_eq!(err.var, vars::STREAM_IDLE_TIMEOUT_MS, "{bad}");
        }
    }

    #[test]
    fn retention_spans_take_a_unit_and_default_to_two_and_four_weeks() {
        let config = PlatformConfig::from_lookup("census", 1, lookup(&[])).unwrap();
        assert_eq!(config.outbox_retention, DAY * 14);
        assert_eq!(config.inbox_retention, DAY * 30);
        let config = PlatformConfig::from_lookup(
            "census",
            1,
            lookup(&[
                (vars::OUTBOX_RETENTION, "36h"),
                (vars::INBOX_RETENTION, "8d"),
            ]),
        )
        .unwrap();
        assert_eq!(config.outbox_retention, Duration::from_secs(36 * 3600));
        assert_eq!(config.inbox_retention, DAY * 8);
        for bad in [
            "14",
            "d",
            "14 days",
            "-1d",
            "0h",
            "1.5d",
            "99999999999999999999d",
        ] {
            let err =
                PlatformConfig::from_lookup("census", 1, lookup(&[(vars::OUTBOX_RETENTION, bad)]))
                    .unwrap_err();
            assert_eq!(err.var, vars::OUTBOX_RETENTION, "{bad}");
        }
    }

    #[test]
    fn an_inbox_window_not_longer_than_the_outbox_window_is_refused() {
        for inbox in ["14d", "13d"] {
            let err = PlatformConfig::from_lookup(
                "census",
                1,
                lookup(&[
                    (vars::OUTBOX_RETENTION, "14d"),
                    (vars::INBOX_RETENTION, inbox),
                ]),
            )
            .unwrap_err();
            assert_eq!(err.var, vars::INBOX_RETENTION);
            assert!(err.to_string().contains("OUTBOX_RETENTION"), "{err}");
        }
    }

    #[test]
    fn without_credentials_outside_development_mode_the_service_does_not_start() {
        for pairs in [
            &[(vars::AUTH_DEVELOPMENT, "false")][..],
            &[(vars::AUTH_DEVELOPMENT, "false"), (vars::AUTH_TOKENS, "  ")][..],
            &[(vars::AUTH_DEVELOPMENT, ""), (vars::AUTH_TOKENS, "")][..],
        ] {
            // The configuration reads (`migrate` needs no credentials), but serving is refused.
            let config = PlatformConfig::from_lookup("census", 1, lookup(pairs)).unwrap();
            let err = config.missing_credentials.expect("no credentials noticed");
            assert_eq!(err.var, vars::AUTH_TOKENS, "{pairs:?}");
            assert!(err.to_string().contains("AUTH_DEVELOPMENT=true"), "{err}");
            assert!(config.tokens.lookup("dev-commerce").is_none());
        }
        let development = PlatformConfig::from_lookup("census", 1, lookup(&[])).unwrap();
        assert!(development.missing_credentials.is_none());
        let err =
            PlatformConfig::from_lookup("census", 1, lookup(&[(vars::AUTH_DEVELOPMENT, "yes")]))
                .unwrap_err();
        assert_eq!(err.var, vars::AUTH_DEVELOPMENT);
    }

    /// 32 random bytes as base64url, and its entry (by digest).
    const FINANCE_TOKEN: &str = "q3Xv9Lm2Rt8Kp0Wz5Yc7Hn4Jd6Fs1Ga3Eb9Ui2Oe5Ty";
    const FINANCE_ENTRY: &str = "sha256:f419e88db58ab31696665bc84927a3648ae50a159d7ff33fdf0c19bd68689518=department:finance:notices.read";

    #[test]
    fn development_tokens_exist_only_in_development_mode() {
        let enterprise = crate::auth::TokenTable::development_enterprise_token(
            crate::uscc::Uscc::complete("91210381MA0Q1234")
                .unwrap()
                .as_str(),
        );
        let configured = [
            (vars::AUTH_DEVELOPMENT, "false"),
            (vars::AUTH_TOKENS, FINANCE_ENTRY),
        ];
        let config = PlatformConfig::from_lookup("census", 1, lookup(&configured)).unwrap();
        assert!(!config.development);
        assert!(config.tokens.lookup(FINANCE_TOKEN).is_some());
        assert!(config.tokens.lookup("dev-commerce").is_none());
        assert!(config.tokens.lookup(&enterprise).is_none());

        let development = [(vars::AUTH_TOKENS, FINANCE_ENTRY)];
        let config = PlatformConfig::from_lookup("census", 1, lookup(&development)).unwrap();
        assert!(config.development);
        assert!(config.tokens.lookup(FINANCE_TOKEN).is_some());
        assert!(config.tokens.lookup("dev-commerce").is_some());
        assert!(config.tokens.lookup(&enterprise).is_some());
    }

    #[test]
    fn a_malformed_token_table_is_refused() {
        let err = PlatformConfig::from_lookup(
            "census",
            1,
            lookup(&[(vars::AUTH_TOKENS, "no-equals-sign")]),
        )
        .unwrap_err();
        assert_eq!(err.var, vars::AUTH_TOKENS);
    }

    #[test]
    fn an_issuer_counts_as_credentials_and_needs_its_key_set() {
        let issuer = testkit::jwt::TestIssuer::new();
        let jwks = issuer.jwks.display().to_string();
        let production = [
            (vars::AUTH_DEVELOPMENT, "false"),
            (vars::AUTH_JWT_ISSUER, issuer.issuer.as_str()),
            (vars::AUTH_JWT_JWKS, jwks.as_str()),
        ];
        let config = PlatformConfig::from_lookup("census", 1, lookup(&production)).unwrap();
        let verifier = config.tokens.jwt().expect("JWTs accepted");
        assert_eq!(verifier.settings().audience, "census");
        assert!(config.tokens.lookup("dev-commerce").is_none());
        let token = issuer.department("census", "finance", "census.read");
        assert!(config.tokens.lookup(&token).is_some());

        let err = PlatformConfig::from_lookup("census", 1, lookup(&production[..2])).unwrap_err();
        assert_eq!(err.var, vars::AUTH_JWT_JWKS);
        let missing = [
            (vars::AUTH_JWT_ISSUER, "https://idp"),
            (vars::AUTH_JWT_JWKS, "/nonexistent/jwks.json"),
        ];
        let err = PlatformConfig::from_lookup("census", 1, lookup(&missing)).unwrap_err();
        assert_eq!(err.var, vars::AUTH_JWT_JWKS);
        let stray = [(vars::AUTH_JWT_AUDIENCE, "census")];
        let err = PlatformConfig::from_lookup("census", 1, lookup(&stray)).unwrap_err();
        assert_eq!(err.var, vars::AUTH_JWT_AUDIENCE);
        let mut hmac = production.to_vec();
        hmac.push((vars::AUTH_JWT_ALGORITHMS, "ES256,HS256"));
        let err = PlatformConfig::from_lookup("census", 1, lookup(&hmac)).unwrap_err();
        assert_eq!(err.var, vars::AUTH_JWT_ALGORITHMS);
    }
}
