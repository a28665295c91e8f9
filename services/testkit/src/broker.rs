//! A broker of a test's own, for faults the shared one must not suffer (stopping it).

use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A tansu broker on a fixed port that a test starts and stops at will.
pub struct Broker {
    pub port: u16,
    child: Option<Child>,
}

impl Broker {
    /// A broker address with nothing listening yet: `start` brings it up.
    pub fn reserve() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        Self { port, child: None }
    }

    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Starts tansu (in-memory storage) and waits until it accepts connections.
    pub fn start(&mut self) {
        let output = Command::new(super::scripts_dir().join("install-tansu"))
            .output()
            .expect("running install-tansu");
        assert!(
            output.status.success(),
            "install-tansu failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let binary = String::from_utf8_lossy(&output.stdout)
            .lines()
            .last()
            .unwrap_or_default()
            .trim()
            .to_string();
        let url = format!("tcp://127.0.0.1:{}", self.port);
        let child = Command::new(binary)
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", "memory://tansu/"])
            .current_dir(std::env::temp_dir())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting tansu");
        self.child = Some(child);
        for _ in 0..300 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("tansu did not listen on port {} within 30 s", self.port);
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.stop();
    }
}
