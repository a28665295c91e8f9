//! Connecting to the services: where each one is (every service address the client knows is
//! here: the options, their variables and the local defaults), endpoints from `HOST:PORT`,
//! the bearer token on every call, and the global connection options every client command
//! shares.
//!
//! With a CA (`--ca`, `HAICHENG_CA`) every connection of the process is TLS, presenting the
//! client certificate of `--cert` and `--key` when given (mutual TLS, as `haicheng dev` runs
//! the services). The choice is made once, at start ([`use_tls`]), and every endpoint the
//! client or `haicheng dev` opens ([`endpoint`]) follows it.

use std::{path::PathBuf, sync::OnceLock, time::Duration};

use clap::Args;
use haicheng_proto::{
    audit::v1::audit_service_client::AuditServiceClient,
    census::v1::census_service_client::CensusServiceClient,
    classification::v1::classification_service_client::ClassificationServiceClient,
    fair::v1::fair_service_client::FairServiceClient,
    inspection::v1::inspection_service_client::InspectionServiceClient,
    land::v1::land_service_client::LandServiceClient,
    policy::v1::notice_service_client::NoticeServiceClient,
    support::v1::support_service_client::SupportServiceClient,
};
use platform::tls::ClientFiles;
use tonic::{
    Request, Status,
    metadata::AsciiMetadataValue,
    service::{Interceptor, interceptor::InterceptedService},
    transport::{Channel, ClientTlsConfig, Endpoint},
};

use crate::errors::CliError;

/// Environment variables of the client commands, declared once.
pub mod vars {
    /// Bearer token of the caller.
    pub const TOKEN: &str = "HAICHENG_TOKEN";
    /// Address of the census service, `HOST:PORT`.
    pub const CENSUS_ADDR: &str = "HAICHENG_CENSUS_ADDR";
    /// Address of the classification service (which also serves the notices), `HOST:PORT`.
    pub const CLASSIFICATION_ADDR: &str = "HAICHENG_CLASSIFICATION_ADDR";
    /// Address of the land-parcel service, `HOST:PORT`.
    pub const LAND_ADDR: &str = "HAICHENG_LAND_ADDR";
    /// Address of the trade-fair service, `HOST:PORT`.
    pub const TRADE_FAIR_ADDR: &str = "HAICHENG_TRADE_FAIR_ADDR";
    /// Address of the support service, `HOST:PORT`.
    pub const SUPPORT_ADDR: &str = "HAICHENG_SUPPORT_ADDR";
    /// Address of the inspection service, `HOST:PORT`.
    pub const INSPECTION_ADDR: &str = "HAICHENG_INSPECTION_ADDR";
    /// PEM certificate of the CA that issued the services' certificates: set, TLS.
    pub const CA: &str = "HAICHENG_CA";
    /// PEM certificate and key of the client, for mutual TLS.
    pub const CERT: &str = "HAICHENG_CERT";
    pub const KEY: &str = "HAICHENG_KEY";
}

/// Where the services listen on this machine: `haicheng dev` serves them there, and the
/// address options default to them.
pub mod local {
    pub const CENSUS: &str = "127.0.0.1:50051";
    pub const CLASSIFICATION: &str = "127.0.0.1:50052";
    pub const LAND: &str = "127.0.0.1:50053";
    pub const TRADE_FAIR: &str = "127.0.0.1:50054";
    pub const SUPPORT: &str = "127.0.0.1:50055";
    pub const INSPECTION: &str = "127.0.0.1:50056";
    /// Every service by name, in start order (census first: the others consume its events).
    pub const ALL: [(&str, &str); 6] = [
        ("census", CENSUS),
        ("classification", CLASSIFICATION),
        ("land-parcel", LAND),
        ("trade-fair", TRADE_FAIR),
        ("support", SUPPORT),
        ("inspection", INSPECTION),
    ];
}

/// Deadline of a unary call. Streams (notices watch) have none.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// The client TLS configuration of this process: `None` until [`use_tls`] chose, and
/// `Some(None)` for plaintext.
static TLS: OnceLock<Option<ClientTlsConfig>> = OnceLock::new();

/// Chooses, once per process, how every endpoint connects: over TLS with `files`, or in
/// plaintext (`None`). A second choice is an error.
pub fn use_tls(files: Option<&ClientFiles>) -> anyhow::Result<()> {
    let config = files.map(platform::tls::client_config).transpose()?;
    TLS.set(config)
        .map_err(|_| anyhow::anyhow!("the client's TLS settings were chosen twice"))
}

/// Whether [`use_tls`] chose TLS for this process.
pub fn tls_chosen() -> bool {
    TLS.get().is_some_and(Option::is_some)
}

/// An endpoint for `HOST:PORT` (or a full `http://` or `https://` URL): `https` with the
/// process's TLS settings when [`use_tls`] chose TLS, else `http`.
pub fn endpoint(address: &str) -> anyhow::Result<Endpoint> {
    let tls = TLS.get().and_then(Option::as_ref);
    let url = if address.contains("://") {
        address.to_string()
    } else if tls.is_some() {
        format!("https://{address}")
    } else {
        format!("http://{address}")
    };
    let endpoint = Endpoint::from_shared(url)?.connect_timeout(Duration::from_secs(5));
    match tls {
        Some(config) if endpoint.uri().scheme_str() == Some("https") => {
            Ok(endpoint.tls_config(config.clone())?)
        }
        _ => Ok(endpoint),
    }
}

/// Adds `authorization: Bearer TOKEN` to every call.
#[derive(Clone)]
pub struct Bearer(AsciiMetadataValue);

impl Bearer {
    pub fn new(token: &str) -> anyhow::Result<Self> {
        AsciiMetadataValue::try_from(format!("Bearer {}", token.trim()))
            .map(Self)
            .map_err(|_| anyhow::anyhow!("the token must be printable ASCII"))
    }
}

impl Interceptor for Bearer {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        request
            .metadata_mut()
            .insert("authorization", self.0.clone());
        Ok(request)
    }
}

/// A channel that sends the caller's token.
pub type Authed = InterceptedService<Channel, Bearer>;

/// Where the services are and who is calling: global options of every client command.
#[derive(Args, Clone, Debug)]
pub struct Connect {
    /// Bearer token of the caller (locally the development tokens `haicheng dev` prints:
    /// dev-commerce, dev-finance, dev-tax, dev-census-import, …, and dev-enterprise-<USCC>
    /// for an enterprise, which reads only its own records).
    #[arg(long, global = true, env = vars::TOKEN, hide_env_values = true)]
    pub token: Option<String>,
    /// Address of the census service.
    #[arg(long = "census", global = true, value_name = "HOST:PORT", env = vars::CENSUS_ADDR, default_value = local::CENSUS)]
    pub census: String,
    /// Address of the classification service (it serves the notices too).
    #[arg(long = "classification", global = true, value_name = "HOST:PORT", env = vars::CLASSIFICATION_ADDR, default_value = local::CLASSIFICATION)]
    pub classification: String,
    /// Address of the land-parcel service.
    #[arg(long = "land", global = true, value_name = "HOST:PORT", env = vars::LAND_ADDR, default_value = local::LAND)]
    pub land: String,
    /// Address of the trade-fair service.
    #[arg(long = "trade-fair", global = true, value_name = "HOST:PORT", env = vars::TRADE_FAIR_ADDR, default_value = local::TRADE_FAIR)]
    pub trade_fair: String,
    /// Address of the support service.
    #[arg(long = "support", global = true, value_name = "HOST:PORT", env = vars::SUPPORT_ADDR, default_value = local::SUPPORT)]
    pub support: String,
    /// Address of the inspection service.
    #[arg(long = "inspection", global = true, value_name = "HOST:PORT", env = vars::INSPECTION_ADDR, default_value = local::INSPECTION)]
    pub inspection: String,
    /// CA certificate (PEM) that issued the services' certificates: connect over TLS
    /// (`haicheng dev` prints its own: .local/tls/ca.pem).
    #[arg(long, global = true, value_name = "FILE", env = vars::CA)]
    pub ca: Option<PathBuf>,
    /// Client certificate (PEM) for mutual TLS; needs --key and --ca.
    #[arg(long, global = true, value_name = "FILE", env = vars::CERT)]
    pub cert: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    #[arg(long, global = true, value_name = "FILE", env = vars::KEY)]
    pub key: Option<PathBuf>,
}

impl Connect {
    /// The TLS files the options name: none (plaintext), a CA, or a CA with a certificate
    /// and its key. A certificate without its key (or the other way round), or either without
    /// a CA, is a usage error.
    pub fn tls_files(&self) -> Result<Option<ClientFiles>, CliError> {
        let identity = match (&self.cert, &self.key) {
            (Some(cert), Some(key)) => Some((cert.clone(), key.clone())),
            (None, None) => None,
            (Some(_), None) => {
                return Err(CliError::usage(format!(
                    "--cert ({}) needs --key ({}), the certificate's private key",
                    vars::CERT,
                    vars::KEY
                )));
            }
            (None, Some(_)) => {
                return Err(CliError::usage(format!(
                    "--key ({}) needs --cert ({}), the certificate it belongs to",
                    vars::KEY,
                    vars::CERT
                )));
            }
        };
        match (&self.ca, identity) {
            (Some(ca), identity) => Ok(Some(ClientFiles {
                ca: ca.clone(),
                identity,
            })),
            (None, None) => Ok(None),
            (None, Some(_)) => Err(CliError::usage(format!(
                "--cert and --key need --ca ({}), the CA that issued the services' certificates",
                vars::CA
            ))),
        }
    }

    /// The caller's token; a usage error when none was given.
    pub fn bearer(&self) -> Result<Bearer, CliError> {
        let token = self.token.as_deref().map(str::trim).unwrap_or_default();
        if token.is_empty() {
            return Err(CliError::usage(format!(
                "no token: pass --token TOKEN or set {} (locally: dev-commerce, dev-finance, …)",
                vars::TOKEN
            )));
        }
        Bearer::new(token).map_err(|e| CliError::usage(e.to_string()))
    }

    pub async fn census(&self) -> Result<CensusServiceClient<Authed>, CliError> {
        let token = self.bearer()?;
        let channel = connect("census", "census", &self.census).await?;
        Ok(CensusServiceClient::with_interceptor(channel, token))
    }

    pub async fn classification(&self) -> Result<ClassificationServiceClient<Authed>, CliError> {
        let token = self.bearer()?;
        let channel = connect("classification", "classification", &self.classification).await?;
        Ok(ClassificationServiceClient::with_interceptor(
            channel, token,
        ))
    }

    /// The notice service, served by the classification process.
    pub async fn notices(&self) -> Result<NoticeServiceClient<Authed>, CliError> {
        let token = self.bearer()?;
        let channel = connect("classification", "classification", &self.classification).await?;
        Ok(NoticeServiceClient::with_interceptor(channel, token))
    }

    pub async fn land(&self) -> Result<LandServiceClient<Authed>, CliError> {
        let token = self.bearer()?;
        let channel = connect("land-parcel", "land", &self.land).await?;
        Ok(LandServiceClient::with_interceptor(channel, token))
    }

    pub async fn fair(&self) -> Result<FairServiceClient<Authed>, CliError> {
        let token = self.bearer()?;
        let channel = connect("trade-fair", "trade-fair", &self.trade_fair).await?;
        Ok(FairServiceClient::with_interceptor(channel, token))
    }

    pub async fn support(&self) -> Result<SupportServiceClient<Authed>, CliError> {
        let token = self.bearer()?;
        let channel = connect("support", "support", &self.support).await?;
        Ok(SupportServiceClient::with_interceptor(channel, token))
    }

    pub async fn inspection(&self) -> Result<InspectionServiceClient<Authed>, CliError> {
        let token = self.bearer()?;
        let channel = connect("inspection", "inspection", &self.inspection).await?;
        Ok(InspectionServiceClient::with_interceptor(channel, token))
    }

    /// The audit log of one of the services of [`local::ALL`], by name; every service serves
    /// its own.
    pub async fn audit(&self, service: &str) -> Result<AuditServiceClient<Authed>, CliError> {
        let token = self.bearer()?;
        let (name, flag, address): (&'static str, &str, &str) = match service {
            "census" => ("census", "census", &self.census),
            "classification" => ("classification", "classification", &self.classification),
            "land-parcel" => ("land-parcel", "land", &self.land),
            "trade-fair" => ("trade-fair", "trade-fair", &self.trade_fair),
            "support" => ("support", "support", &self.support),
            "inspection" => ("inspection", "inspection", &self.inspection),
            other => return Err(CliError::usage(format!("no service is called {other:?}"))),
        };
        let channel = connect(name, flag, address).await?;
        Ok(AuditServiceClient::with_interceptor(channel, token))
    }
}

/// Connects now, so that an unreachable service is told apart from a refusal; `flag` is the
/// option that gave the address (`--land` for land-parcel).
pub async fn connect(
    service: &'static str,
    flag: &str,
    address: &str,
) -> Result<Channel, CliError> {
    let endpoint = endpoint(address)
        .map_err(|e| CliError::usage(format!("--{flag} {address:?} is not HOST:PORT ({e})")))?;
    endpoint.connect().await.map_err(|e| CliError::Unreachable {
        service,
        address: address.to_string(),
        cause: causes(&e),
    })
}

/// An error with its sources, `outer: inner: …`.
fn causes(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let next = cause.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = cause.source();
    }
    text
}

/// A unary request with the client's deadline.
pub fn call<T>(message: T) -> Request<T> {
    let mut request = Request::new(message);
    request.set_timeout(CALL_TIMEOUT);
    request
}

/// One page of a list: its items and the next page's token (empty on the last page).
pub type Page<T> = (Vec<T>, String);

/// The paging flags every list command takes.
#[derive(clap::Args, Debug)]
pub struct Paging {
    /// Items per page (the service caps it).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(i32).range(1..))]
    pub page_size: Option<i32>,
    /// Start at this page (the token a previous list printed).
    #[arg(long, value_name = "TOKEN", default_value = "")]
    pub page_token: String,
    /// Follow the page tokens to the end of the list.
    #[arg(long)]
    pub all: bool,
}

/// Reads a list from `token` on: one page, or with `all` every page (following the page
/// tokens, with a spinner counting `what` on a terminal). Returns the items and the token of
/// the page after them (empty when the list is complete).
pub async fn pages<T, F, Fut>(
    all: bool,
    token: String,
    what: &str,
    mut fetch: F,
) -> Result<Page<T>, CliError>
where
    F: FnMut(String) -> Fut,
    Fut: std::future::Future<Output = Result<Page<T>, Status>>,
{
    let (mut items, mut next) = fetch(token).await?;
    if !all {
        return Ok((items, next));
    }
    let spinner = indicatif::ProgressBar::new_spinner();
    if let Ok(style) = indicatif::ProgressStyle::with_template("{spinner} {msg}") {
        spinner.set_style(style);
    }
    spinner.enable_steady_tick(Duration::from_millis(120));
    let result = async {
        while !next.is_empty() {
            spinner.set_message(format!("{} {what} read", items.len()));
            let (more, token) = fetch(std::mem::take(&mut next)).await?;
            items.extend(more);
            next = token;
        }
        Ok::<_, Status>(())
    }
    .await;
    spinner.finish_and_clear();
    result?;
    Ok((items, next))
}
