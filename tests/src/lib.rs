//! Helpers for the system tests: start a service's binary as a real process on a free port,
//! wait for its health, stop it with a signal.
//!
//! Every service runs with mutual TLS, as in a cluster: a certificate of the run's test CA
//! ([`pki`]) and that CA for its clients; the tests connect with a client certificate of the
//! same CA ([`ServiceProcess::channel`], [`cli_env`] for the `haicheng` binary).

pub mod cluster;
pub mod otlp;

use std::{path::PathBuf, sync::OnceLock, time::Duration};

use platform::tls::{
    ClientFiles,
    pki::{Usage, local_sans},
};
use testkit::{TestDatabase, stack, tls::TestCa};
use tokio::process::{Child, Command};
use tonic::transport::{Channel, Endpoint};
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

/// The four services, by binary name.
pub const SERVICES: [&str; 4] = ["census", "classification", "land-parcel", "trade-fair"];

/// Where cargo put the workspace's binaries (`make test` builds them before the tests run).
pub fn binary(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let path = target.join("debug").join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --workspace --bins` first (make test does)",
        path.display()
    );
    path
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Starts `name`; its log (stdout and stderr) goes to `log`, appended across restarts. A file,
/// not a pipe: a pipe nobody reads fills up and blocks a chatty process.
fn spawn(name: &str, env: &[(String, String)], log: &std::path::Path) -> Child {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("the service's log file");
    Command::new(binary(name))
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdout(file.try_clone().expect("the log file"))
        .stderr(file)
        .kill_on_drop(true)
        .spawn()
        .expect("starting the service")
}

/// `<name> migrate` as the owner (`owner_url`), as the Kubernetes Job runs it before the
/// Deployment, its output in the service's log. A migration that fails (a test of a bad
/// variable) is left for the service's own start to report: it refuses an unmigrated
/// database, naming `migrate`.
async fn migrate(name: &str, env: &[(String, String)], owner_url: &str, log: &std::path::Path) {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("the service's log file");
    Command::new(binary(name))
        .arg("migrate")
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("DATABASE_OWNER_URL", owner_url)
        .stdout(file.try_clone().expect("the log file"))
        .stderr(file)
        .status()
        .await
        .expect("running the migrate command");
}

/// The client account of the tests' certificate.
pub const CLIENT_ACCOUNT: &str = "system-tests";

/// The test CA of this process, with the client certificate the tests present.
pub struct Pki {
    pub ca: TestCa,
    pub client: ClientFiles,
}

/// This process's test CA (made on first use; its temporary folder lives as long as the
/// process).
pub fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        let ca = TestCa::new("haicheng system-tests CA");
        let client = ca.client_files(Some(&ca.client(CLIENT_ACCOUNT)));
        Pki { ca, client }
    })
}

/// The variables that make the `haicheng` binary connect as the tests do.
pub fn cli_env() -> Vec<(&'static str, String)> {
    let files = &pki().client;
    let (cert, key) = files
        .identity
        .clone()
        .expect("the tests' client certificate");
    vec![
        ("HAICHENG_CA", files.ca.display().to_string()),
        ("HAICHENG_CERT", cert.display().to_string()),
        ("HAICHENG_KEY", key.display().to_string()),
    ]
}

/// A request carrying the bearer token `token`.
pub fn authorized<T>(token: &str, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("an ASCII token"),
    );
    request
}

/// A service process with its own database.
pub struct ServiceProcess {
    pub name: &'static str,
    pub address: String,
    /// The service's own database, for checks a client cannot make.
    pub database_url: String,
    pub child: Child,
    /// Where its log goes (kept after the test, for diagnosis).
    pub log: PathBuf,
    env: Vec<(String, String)>,
}

impl ServiceProcess {
    /// Starts `name` with a fresh database and the shared broker, plus `extra` variables.
    pub async fn start(name: &'static str, extra: &[(&str, &str)]) -> Self {
        let db = TestDatabase::create().await;
        let port = free_port();
        let address = format!("127.0.0.1:{port}");
        // The service's own certificate (its SPIFFE ID, localhost, 127.0.0.1).
        let issued = pki()
            .ca
            .ca
            .issue(&format!("{name}-{port}"), &local_sans(name), Usage::Service)
            .expect("the service's certificate");
        let mut env: Vec<(String, String)> = vec![
            // Served as the runtime role; migrated first as the owner, as the Job does.
            ("DATABASE_URL".into(), db.runtime_url.clone()),
            ("KAFKA_BOOTSTRAP".into(), stack().kafka_bootstrap.clone()),
            ("GRPC_ADDR".into(), address.clone()),
            ("RUST_LOG".into(), "warn".into()),
            // The system tests call with the development tokens.
            ("AUTH_DEVELOPMENT".into(), "true".into()),
        ];
        env.extend(
            pki()
                .ca
                .server_vars(&issued)
                .into_iter()
                .map(|(k, v)| (k.to_string(), v)),
        );
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let logs = std::env::temp_dir().join("haicheng-system-tests");
        std::fs::create_dir_all(&logs).expect("the log folder");
        let log = logs.join(format!("{name}-{}.log", &db.name));
        // A test that names its own database (DATABASE_URL in `extra`) owns it as that user.
        let owner_url = extra
            .iter()
            .find(|(k, _)| *k == "DATABASE_URL")
            .map_or(db.url.clone(), |(_, v)| v.to_string());
        migrate(name, &env, &owner_url, &log).await;
        let child = spawn(name, &env, &log);
        Self {
            name,
            address,
            database_url: db.url,
            child,
            log,
            env,
        }
    }

    /// Kills the process at once (SIGKILL: no shutdown at all).
    pub async fn kill(&mut self) {
        self.child.kill().await.expect("killing the service");
    }

    /// Starts the same service again with the same database and settings.
    pub fn restart(&mut self) {
        self.child = spawn(self.name, &self.env, &self.log);
    }

    /// An endpoint of the service over mutual TLS with the tests' client certificate.
    pub fn endpoint(&self) -> Endpoint {
        testkit::tls::endpoint(&self.address, &pki().client).expect("an endpoint")
    }

    pub async fn channel(&self) -> Channel {
        self.endpoint().connect().await.expect("connecting")
    }

    /// Waits until the overall health status is SERVING.
    pub async fn wait_serving(&mut self, timeout: Duration) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait()? {
                anyhow::bail!("{} exited early with {status}", self.name);
            }
            if let Ok(channel) = self.endpoint().connect().await {
                let reply = HealthClient::new(channel)
                    .check(HealthCheckRequest {
                        service: String::new(),
                    })
                    .await;
                if reply.map(|r| r.into_inner().status()).ok() == Some(ServingStatus::Serving) {
                    return Ok(());
                }
            }
            anyhow::ensure!(
                tokio::time::Instant::now() < deadline,
                "{} not SERVING within {timeout:?}",
                self.name
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The service's log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends SIGTERM and waits for the exit status.
    pub async fn terminate(&mut self) -> std::process::ExitStatus {
        platform::process::signal(self.child.id().expect("running"), libc::SIGTERM)
            .expect("signalling the service");
        tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("the service stops within 30 s of SIGTERM")
            .expect("waiting for the service")
    }
}
