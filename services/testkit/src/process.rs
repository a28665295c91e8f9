//! One launcher of a service's real binary, for the system tests and the bench: a fresh
//! database on the stack, a free port, the development tokens, a log file, and the helpers a
//! test of a process needs (health, SIGTERM, SIGKILL and restart on the same database).
//!
//! ```text
//! let census = Launch::new(testkit::process::binary("census"), "census")
//!     .vars(&[("KAFKA_TOPIC_PREFIX", "t.1.")])
//!     .mutual_tls(&ca, &client_files)   // system tests: served with mTLS, as in a cluster
//!     .migrate_first()                  // `census migrate` as the owner first, as the Job does
//!     .start()
//!     .await?;
//! ```

use std::{
    path::{Path, PathBuf},
    process::ExitStatus,
    time::Duration,
};

use anyhow::Context;
use platform::tls::{
    ClientFiles,
    pki::{Usage, local_sans},
};
use tokio::process::{Child, Command};
use tonic::transport::{Channel, Endpoint};
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

use crate::{TestDatabase, stack, tls::TestCa};

/// The folder of the workspace's debug binaries (`CARGO_TARGET_DIR`, or the workspace's
/// `target/`).
pub fn debug_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"))
        .join("debug")
}

/// The debug build of binary `name` (`make test` builds them before the tests run).
pub fn binary(name: &str) -> PathBuf {
    let path = debug_dir().join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --workspace --bins` first (make test does)",
        path.display()
    );
    path
}

/// A port free at the moment of asking.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// How the service's database gets its schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Migration {
    /// `DATABASE_OWNER_URL` given to the service, which migrates as it starts (development).
    AtStart,
    /// `<service> migrate` as the owner first, as the Kubernetes Job does; the service is
    /// served without the owner's URL.
    Job,
}

/// What to start and how: built with [`Launch::new`] and its setters, started with
/// [`Launch::start`].
pub struct Launch<'a> {
    binary: PathBuf,
    name: &'static str,
    /// The caller's variables; they override the launcher's.
    vars: Vec<(String, String)>,
    /// The CA that issues the service's certificate, and the files the tests connect with.
    tls: Option<(&'a TestCa, ClientFiles)>,
    migration: Migration,
    /// Where the log goes: `<dir>/<name>-<database>.log`.
    log_dir: PathBuf,
}

impl<'a> Launch<'a> {
    /// `binary`, known as `name` (its certificate's name and its log's), served in plaintext,
    /// migrating as it starts, its log under the temporary folder.
    pub fn new(binary: PathBuf, name: &'static str) -> Self {
        Self {
            binary,
            name,
            vars: Vec::new(),
            tls: None,
            migration: Migration::AtStart,
            log_dir: std::env::temp_dir().join("haicheng-services"),
        }
    }

    /// Adds variables (or overrides the launcher's). A `DATABASE_URL` names the test's own
    /// database, which its user then owns (migrates) too.
    pub fn vars(mut self, vars: &[(&str, &str)]) -> Self {
        for (name, value) in vars {
            set(&mut self.vars, name, value.to_string());
        }
        self
    }

    /// Served with mutual TLS: a certificate of `ca` for the service (its SPIFFE ID,
    /// localhost, 127.0.0.1); the tests call with `client`.
    pub fn mutual_tls(mut self, ca: &'a TestCa, client: &ClientFiles) -> Self {
        self.tls = Some((ca, client.clone()));
        self
    }

    /// Migrated by `<name> migrate` as the owner before it starts, as in a cluster.
    pub fn migrate_first(mut self) -> Self {
        self.migration = Migration::Job;
        self
    }

    /// Logs go to `dir` (created when missing).
    pub fn log_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.log_dir = dir.into();
        self
    }

    /// Starts the process with a fresh database and the shared broker, without waiting for
    /// it to serve ([`ServiceProcess::wait_serving`]).
    pub async fn start(self) -> anyhow::Result<ServiceProcess> {
        anyhow::ensure!(
            self.binary.exists(),
            "{} is missing: build it first (cargo build -p {}, --release for the bench)",
            self.binary.display(),
            self.name
        );
        let db = TestDatabase::create().await;
        let port = free_port();
        let address = format!("127.0.0.1:{port}");
        let owner_url = value_of(&self.vars, "DATABASE_URL").unwrap_or_else(|| db.url.clone());
        let env = self.env(&db, port, &owner_url, &stack().kafka_bootstrap)?;
        std::fs::create_dir_all(&self.log_dir).context("the log folder")?;
        let log = self.log_dir.join(format!("{}-{}.log", self.name, db.name));
        if self.migration == Migration::Job {
            migrate(&self.binary, &env, &owner_url, &log).await?;
        }
        let child = spawn(&self.binary, &env, &log)?;
        Ok(ServiceProcess {
            name: self.name,
            address,
            database_url: owner_url,
            topic_prefix: value_of(&env, "KAFKA_TOPIC_PREFIX").unwrap_or_default(),
            child,
            log,
            binary: self.binary,
            env,
            client_tls: self.tls.map(|(_, client)| client),
        })
    }

    /// The process's variables: the launcher's, then the caller's over them.
    fn env(
        &self,
        db: &TestDatabase,
        port: u16,
        owner_url: &str,
        kafka_bootstrap: &str,
    ) -> anyhow::Result<Vec<(String, String)>> {
        let mut env: Vec<(String, String)> = vec![
            // Served as the runtime role; the owner migrates (at start, or the Job first).
            ("DATABASE_URL".into(), db.runtime_url.clone()),
            ("KAFKA_BOOTSTRAP".into(), kafka_bootstrap.into()),
            ("GRPC_ADDR".into(), format!("127.0.0.1:{port}")),
            ("RUST_LOG".into(), "warn".into()),
            // Tests call with the development tokens.
            ("AUTH_DEVELOPMENT".into(), "true".into()),
        ];
        if self.migration == Migration::AtStart {
            env.push(("DATABASE_OWNER_URL".into(), owner_url.into()));
        }
        if let Some((ca, _)) = &self.tls {
            let issued = ca.ca.issue(
                &format!("{}-{port}", self.name),
                &local_sans(self.name),
                Usage::Service,
            )?;
            for (name, value) in ca.server_vars(&issued) {
                set(&mut env, name, value);
            }
        }
        for (name, value) in &self.vars {
            set(&mut env, name, value.clone());
        }
        Ok(env)
    }
}

fn set(vars: &mut Vec<(String, String)>, name: &str, value: String) {
    vars.retain(|(k, _)| k != name);
    vars.push((name.to_string(), value));
}

fn value_of(vars: &[(String, String)], name: &str) -> Option<String> {
    vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
}

/// The log file, appended to across restarts. A file, not a pipe: a pipe nobody reads fills
/// up and blocks a chatty process.
fn log_file(log: &Path) -> anyhow::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("the log file {}", log.display()))
}

fn spawn(binary: &Path, env: &[(String, String)], log: &Path) -> anyhow::Result<Child> {
    let file = log_file(log)?;
    Command::new(binary)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdout(file.try_clone()?)
        .stderr(file)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))
}

/// `<binary> migrate` as the owner, its output in the service's log. A migration that fails
/// (a test of a bad variable) is left for the service's own start to report: it refuses an
/// unmigrated database, naming `migrate`.
async fn migrate(
    binary: &Path,
    env: &[(String, String)],
    owner_url: &str,
    log: &Path,
) -> anyhow::Result<()> {
    let file = log_file(log)?;
    Command::new(binary)
        .arg("migrate")
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("DATABASE_OWNER_URL", owner_url)
        .stdout(file.try_clone()?)
        .stderr(file)
        .status()
        .await
        .with_context(|| format!("running {} migrate", binary.display()))?;
    Ok(())
}

/// A service running as a process of its own, with its own database.
pub struct ServiceProcess {
    pub name: &'static str,
    /// `127.0.0.1:<port>`.
    pub address: String,
    /// The service's own database as its owner, for checks a client cannot make.
    pub database_url: String,
    /// Its `KAFKA_TOPIC_PREFIX` (empty: none).
    pub topic_prefix: String,
    pub child: Child,
    /// Where its log goes (kept after the test, for diagnosis).
    pub log: PathBuf,
    binary: PathBuf,
    env: Vec<(String, String)>,
    /// The files to call it with over mutual TLS; `None`: plaintext.
    client_tls: Option<ClientFiles>,
}

impl ServiceProcess {
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// An endpoint of the service: over mutual TLS with the tests' client certificate when
    /// it serves TLS, plaintext otherwise.
    pub fn endpoint(&self) -> Endpoint {
        match &self.client_tls {
            Some(files) => crate::tls::endpoint(&self.address, files).expect("an endpoint"),
            None => Endpoint::from_shared(format!("http://{}", self.address)).expect("an endpoint"),
        }
    }

    /// A channel to the service, connected now.
    pub async fn channel(&self) -> Channel {
        self.endpoint().connect().await.expect("connecting")
    }

    /// `count` connections to the service (one HTTP/2 connection each, no Nagle delay).
    pub async fn channels(&self, count: usize) -> anyhow::Result<Vec<Channel>> {
        let mut channels = Vec::with_capacity(count);
        for _ in 0..count {
            channels.push(self.endpoint().tcp_nodelay(true).connect().await?);
        }
        Ok(channels)
    }

    /// Waits until the overall health status is SERVING; fails, naming the log, when the
    /// process exits first or `timeout` passes.
    pub async fn wait_serving(&mut self, timeout: Duration) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait()? {
                anyhow::bail!(
                    "{} exited early with {status}; its log: {}",
                    self.name,
                    self.log.display()
                );
            }
            if self.serving().await {
                return Ok(());
            }
            anyhow::ensure!(
                tokio::time::Instant::now() < deadline,
                "{} not SERVING within {timeout:?}; its log: {}",
                self.name,
                self.log.display()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn serving(&self) -> bool {
        let Ok(channel) = self.endpoint().connect().await else {
            return false;
        };
        let reply = HealthClient::new(channel)
            .check(HealthCheckRequest::default())
            .await;
        reply.map(|r| r.into_inner().status()).ok() == Some(ServingStatus::Serving)
    }

    /// The service's log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Kills the process at once (SIGKILL: no shutdown at all).
    pub async fn kill(&mut self) {
        self.child.kill().await.expect("killing the service");
    }

    /// Starts the same service again with the same database, port and settings.
    pub fn restart(&mut self) {
        self.child = spawn(&self.binary, &self.env, &self.log).expect("restarting the service");
    }

    /// Sends SIGTERM and waits for the exit status; panics unless it exits within 30 s.
    pub async fn terminate(&mut self) -> ExitStatus {
        platform::process::signal(self.child.id().expect("running"), libc::SIGTERM)
            .expect("signalling the service");
        tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("the service stops within 30 s of SIGTERM")
            .expect("waiting for the service")
    }

    /// Sends SIGTERM and waits up to 30 s for the exit, whatever happens (the bench's
    /// clean-up; `kill_on_drop` ends what is left).
    pub async fn stop(mut self) {
        if let Some(pid) = self.child.id()
            && platform::process::signal(pid, libc::SIGTERM).is_ok()
        {
            let _ = tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> TestDatabase {
        TestDatabase {
            name: "test_x".into(),
            url: "postgres://owner@h:1/test_x".into(),
            runtime_url: "postgres://haicheng_runtime@h:1/test_x".into(),
        }
    }

    fn all<'v>(env: &'v [(String, String)], name: &str) -> Vec<&'v str> {
        env.iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    #[test]
    fn the_callers_variables_override_the_launchers_and_the_owner_migrates_at_start() {
        let launch = Launch::new("/bin/true".into(), "census")
            .vars(&[("RUST_LOG", "debug"), ("KAFKA_TOPIC_PREFIX", "p.")])
            .vars(&[("RUST_LOG", "info")]);
        let env = launch
            .env(&db(), 4321, "postgres://owner@h:1/test_x", "k:9092")
            .unwrap();
        assert_eq!(all(&env, "RUST_LOG"), ["info"]);
        assert_eq!(all(&env, "KAFKA_TOPIC_PREFIX"), ["p."]);
        assert_eq!(all(&env, "GRPC_ADDR"), ["127.0.0.1:4321"]);
        assert_eq!(all(&env, "KAFKA_BOOTSTRAP"), ["k:9092"]);
        assert_eq!(all(&env, "AUTH_DEVELOPMENT"), ["true"]);
        assert_eq!(
            all(&env, "DATABASE_URL"),
            ["postgres://haicheng_runtime@h:1/test_x"]
        );
        assert_eq!(
            all(&env, "DATABASE_OWNER_URL"),
            ["postgres://owner@h:1/test_x"]
        );
        assert!(all(&env, "GRPC_TLS_CERT").is_empty(), "plaintext");
    }

    #[test]
    fn a_service_migrated_by_the_job_is_served_without_the_owners_url() {
        let launch = Launch::new("/bin/true".into(), "census").migrate_first();
        let env = launch
            .env(&db(), 1, "postgres://owner@h:1/test_x", "k:9092")
            .unwrap();
        assert!(all(&env, "DATABASE_OWNER_URL").is_empty(), "{env:?}");
    }

    #[test]
    fn mutual_tls_serves_a_certificate_of_the_ca_and_trusts_its_clients() {
        let ca = TestCa::new("launch test CA");
        let client = ca.client_files(Some(&ca.client("tests")));
        let launch = Launch::new("/bin/true".into(), "census").mutual_tls(&ca, &client);
        let env = launch.env(&db(), 1, "owner", "k:9092").unwrap();
        let cert = all(&env, "GRPC_TLS_CERT");
        assert_eq!(cert.len(), 1, "{env:?}");
        assert!(Path::new(cert[0]).exists(), "{cert:?}");
        assert_eq!(
            all(&env, "GRPC_TLS_CLIENT_CA"),
            [ca.ca.ca().display().to_string()]
        );
    }

    #[tokio::test]
    async fn a_missing_binary_is_named_before_anything_starts() {
        let err = Launch::new("/nonexistent/census".into(), "census")
            .start()
            .await
            .err()
            .expect("no binary, no start");
        assert!(err.to_string().contains("/nonexistent/census"), "{err:#}");
    }
}
