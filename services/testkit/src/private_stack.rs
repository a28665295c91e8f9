//! Parts of the stack of a test's own, for faults the shared ones must not suffer (stopping
//! them): a Kafka broker ([`Broker`]) or a PostgreSQL cluster ([`Postgres`]), each in a
//! `scripts/stack` folder of its own that keeps its data across a stop and a start, as a real
//! server's disks do.

use std::{path::PathBuf, process::Command};

use platform::bus::{KafkaSecurity, KafkaSettings, security::TlsFiles};

/// A `scripts/stack` folder with some of the stack's parts; stopped and removed on drop.
struct StackDir {
    dir: PathBuf,
    /// `scripts/stack` settings of every `up`: the parts, fixed ports.
    vars: Vec<(&'static str, String)>,
}

impl StackDir {
    fn new(kind: &str, vars: Vec<(&'static str, String)>) -> Self {
        let dir = std::env::temp_dir().join(super::unique_name(&format!("haicheng-{kind}")));
        Self { dir, vars }
    }

    /// `scripts/stack COMMAND DIR`, or why it failed.
    fn run(&self, command: &str) -> Result<(), String> {
        self.run_with(command, &[])
    }

    /// `scripts/stack COMMAND DIR` with `extra` settings for this run only.
    fn run_with(&self, command: &str, extra: &[(&str, &str)]) -> Result<(), String> {
        if command == "down" && !self.dir.exists() {
            return Ok(());
        }
        let output = Command::new(super::scripts_dir().join("stack"))
            .arg(command)
            .arg(&self.dir)
            .env("HAICHENG_PG_FAST", "1")
            .env_remove("PG_PORT")
            .env_remove("KAFKA_PORT")
            .envs(self.vars.iter().map(|(k, v)| (k, v)))
            .envs(extra.iter().copied())
            .output()
            .map_err(|err| format!("running scripts/stack: {err}"))?;
        if output.status.success() {
            return Ok(());
        }
        Err(format!(
            "scripts/stack {command} {} failed: {}",
            self.dir.display(),
            String::from_utf8_lossy(&output.stderr)
        ))
    }

    fn up(&self) {
        if let Err(err) = self.run("up") {
            panic!("{err}");
        }
    }

    fn down(&self) {
        if let Err(err) = self.run("down") {
            panic!("{err}");
        }
    }

    /// Stops the parts as a crash would: Kafka KILLed, PostgreSQL `-m immediate`.
    fn crash(&self) {
        if let Err(err) = self.run_with("down", &[("HAICHENG_STOP", "immediate")]) {
            panic!("{err}");
        }
    }

    /// A value of the folder's `env` file (`DATABASE_URL`, ...).
    fn env(&self, name: &str) -> String {
        let env = std::fs::read_to_string(self.dir.join("env")).expect("the stack's env file");
        env.lines()
            .find_map(|line| line.strip_prefix(&format!("export {name}=")))
            .map(|v| v.trim_matches(['"', '\'']).to_string())
            .unwrap_or_else(|| panic!("{name} missing from the stack's env file"))
    }
}

impl Drop for StackDir {
    fn drop(&mut self) {
        // Never panic in drop (a failing test is already unwinding); leave nothing running.
        let _ = self.run("down");
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// An Apache Kafka broker on a fixed port that a test starts and stops at will.
pub struct Broker {
    pub port: u16,
    stack: StackDir,
}

impl Broker {
    /// A broker address with nothing listening yet: `start` brings it up.
    pub fn reserve() -> Self {
        Self::reserve_with(Vec::new())
    }

    /// Like [`reserve`](Self::reserve), but the broker tells its clients to connect to
    /// `port` (a [`crate::FaultProxy`] forwarding to [`port`](Self::port)), so every
    /// connection a client makes, not only the bootstrap, goes through the proxy.
    pub fn reserve_advertising(port: u16) -> Self {
        Self::reserve_with(vec![("HAICHENG_KAFKA_ADVERTISED_PORT", port.to_string())])
    }

    fn reserve_with(mut vars: Vec<(&'static str, String)>) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        vars.push(("HAICHENG_STACK_PARTS", "kafka".to_string()));
        vars.push(("KAFKA_PORT", port.to_string()));
        Self {
            port,
            stack: StackDir::new("broker", vars),
        }
    }

    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Starts the broker and returns once it answers a metadata request.
    pub fn start(&mut self) {
        self.stack.up();
    }

    /// Stops the broker (controlled shutdown); clients see it as gone.
    pub fn stop(&mut self) {
        self.stack.down();
    }

    /// Kills the broker (SIGKILL): no controlled shutdown, its logs recovered at the next start.
    pub fn kill(&mut self) {
        self.stack.crash();
    }
}

/// A broker run as a cluster runs it (`scripts/stack` with `HAICHENG_KAFKA_TLS=1`): one TLS
/// listener that requires a client certificate, ACLs and nothing allowed without one. Each
/// name of `clients` gets a certificate (principal `User:NAME`); `admin` is a super user.
pub struct SecureBroker {
    pub bootstrap: String,
    stack: StackDir,
}

impl SecureBroker {
    /// Starts the broker with certificates for `admin` and each of `clients`.
    pub fn start(clients: &[&str]) -> Self {
        let mut names = vec!["admin"];
        names.extend_from_slice(clients);
        let vars = vec![
            ("HAICHENG_STACK_PARTS", "kafka".to_string()),
            ("HAICHENG_KAFKA_TLS", "1".to_string()),
            ("HAICHENG_KAFKA_CLIENTS", names.join(" ")),
        ];
        let stack = StackDir::new("secure-broker", vars);
        stack.up();
        Self {
            bootstrap: stack.env("KAFKA_BOOTSTRAP"),
            stack,
        }
    }

    /// The CA certificate the broker's certificate is signed with.
    pub fn ca_file(&self) -> PathBuf {
        PathBuf::from(self.stack.env("KAFKA_SSL_CA_FILE"))
    }

    /// The certificate and key files of `client`.
    pub fn client_files(&self, client: &str) -> (PathBuf, PathBuf) {
        let dir = PathBuf::from(self.stack.env("KAFKA_TLS_DIR"));
        (
            dir.join(format!("{client}.crt")),
            dir.join(format!("{client}.key")),
        )
    }

    /// The variables a service connects as `client` with (`KAFKA_BOOTSTRAP`, the protocol,
    /// the CA, its certificate and key).
    pub fn service_vars(&self, client: &str) -> Vec<(&'static str, String)> {
        let (certificate, key) = self.client_files(client);
        vec![
            ("KAFKA_BOOTSTRAP", self.bootstrap.clone()),
            ("KAFKA_SECURITY_PROTOCOL", "SSL".into()),
            ("KAFKA_SSL_CA_FILE", self.ca_file().display().to_string()),
            ("KAFKA_SSL_CERT_FILE", certificate.display().to_string()),
            ("KAFKA_SSL_KEY_FILE", key.display().to_string()),
        ]
    }

    /// Client settings of `client` (`None`: TLS without a client certificate).
    pub fn settings(&self, client: Option<&str>) -> KafkaSettings {
        let (certificate, key) = match client {
            Some(client) => {
                let (certificate, key) = self.client_files(client);
                (Some(certificate), Some(key))
            }
            None => (None, None),
        };
        KafkaSettings {
            bootstrap: self.bootstrap.clone(),
            security: KafkaSecurity::Ssl(TlsFiles {
                ca: Some(self.ca_file()),
                certificate,
                key,
            }),
        }
    }

    /// Allows `principal` (`User:NAME`) `operation` (`Read`, `Write`, …) on each of `topics`
    /// and `groups`, with Kafka's own ACL tool as the admin.
    pub fn allow(&self, principal: &str, operation: &str, topics: &[&str], groups: &[&str]) {
        let libs = self.stack.env("KAFKA_LIBS");
        let mut command = Command::new("java");
        command
            .arg("-cp")
            .arg(format!("{libs}/*"))
            .arg("org.apache.kafka.tools.AclCommand")
            .args(["--bootstrap-server", &self.bootstrap])
            .args(["--command-config", &self.stack.env("KAFKA_ADMIN_CONFIG")])
            .args([
                "--add",
                "--allow-principal",
                principal,
                "--operation",
                operation,
            ]);
        for topic in topics {
            command.args(["--topic", topic]);
        }
        for group in groups {
            command.args(["--group", group]);
        }
        let output = command.output().expect("running the ACL tool");
        assert!(
            output.status.success(),
            "adding ACLs for {principal}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// A PostgreSQL cluster of a test's own, started at once; `stop` and `start` again keep its
/// port and its data.
pub struct Postgres {
    stack: StackDir,
}

impl Postgres {
    pub fn start() -> Self {
        let stack = StackDir::new(
            "postgres",
            vec![("HAICHENG_STACK_PARTS", "postgres".into())],
        );
        stack.up();
        Self { stack }
    }

    /// A cluster as a Kubernetes one runs: TLS on, TCP logins without TLS rejected
    /// (`scripts/stack` with `HAICHENG_PG_TLS=1`); its [`admin_url`](Self::admin_url) asks for
    /// `sslmode=verify-full` against the cluster's CA.
    pub fn start_tls() -> Self {
        let stack = StackDir::new(
            "postgres-tls",
            vec![
                ("HAICHENG_STACK_PARTS", "postgres".into()),
                ("HAICHENG_PG_TLS", "1".into()),
            ],
        );
        stack.up();
        Self { stack }
    }

    /// Connection string to the cluster's `postgres` database.
    pub fn admin_url(&self) -> String {
        self.stack.env("DATABASE_URL")
    }

    /// Stops the server (fast shutdown: open connections are cut).
    pub fn stop(&self) {
        self.stack.down();
    }

    /// Stops the server as a crash would (`-m immediate`: no checkpoint, connections cut;
    /// the next start recovers from the WAL).
    pub fn crash(&self) {
        self.stack.crash();
    }

    /// Starts it again on the same port.
    pub fn restart(&self) {
        self.stack.up();
    }
}
