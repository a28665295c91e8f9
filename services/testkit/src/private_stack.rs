//! Parts of the stack of a test's own, for faults the shared ones must not suffer (stopping
//! them): a Kafka broker ([`Broker`]) or a PostgreSQL cluster ([`Postgres`]), each in a
//! `scripts/stack` folder of its own that keeps its data across a stop and a start, as a real
//! server's disks do.

use std::{path::PathBuf, process::Command};

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
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let vars = vec![
            ("HAICHENG_STACK_PARTS", "kafka".to_string()),
            ("KAFKA_PORT", port.to_string()),
        ];
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

    /// Connection string to the cluster's `postgres` database.
    pub fn admin_url(&self) -> String {
        self.stack.env("DATABASE_URL")
    }

    /// Stops the server (fast shutdown: open connections are cut).
    pub fn stop(&self) {
        self.stack.down();
    }

    /// Starts it again on the same port.
    pub fn restart(&self) {
        self.stack.up();
    }
}
