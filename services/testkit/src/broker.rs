//! A broker of a test's own, for faults the shared one must not suffer (stopping it).

use std::{path::PathBuf, process::Command};

/// An Apache Kafka broker on a fixed port that a test starts and stops at will
/// (`scripts/stack` with only its Kafka part, in a folder of its own).
pub struct Broker {
    pub port: u16,
    dir: PathBuf,
}

impl Broker {
    /// A broker address with nothing listening yet: `start` brings it up.
    pub fn reserve() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let dir = std::env::temp_dir().join(format!("haicheng-broker-{}-{port}", std::process::id()));
        Self { port, dir }
    }

    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Starts the broker and returns once it answers a metadata request. Its log dirs persist
    /// across `stop` and `start`, as a real broker's disks do.
    pub fn start(&mut self) {
        let port = self.port.to_string();
        let vars = [("HAICHENG_STACK_PARTS", "kafka"), ("KAFKA_PORT", port.as_str())];
        if let Err(err) = self.stack("up", &vars) {
            panic!("{err}");
        }
    }

    /// Stops the broker (controlled shutdown); clients see it as gone.
    pub fn stop(&mut self) {
        if let Err(err) = self.stack("down", &[]) {
            panic!("{err}");
        }
    }

    fn stack(&self, command: &str, vars: &[(&str, &str)]) -> Result<(), String> {
        if command == "down" && !self.dir.exists() {
            return Ok(());
        }
        let output = Command::new(super::scripts_dir().join("stack"))
            .arg(command)
            .arg(&self.dir)
            .envs(vars.iter().copied())
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
}

impl Drop for Broker {
    fn drop(&mut self) {
        // Never panic in drop (a failing test is already unwinding); leave nothing running.
        let _ = self.stack("down", &[]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
