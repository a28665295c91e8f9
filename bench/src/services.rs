//! The services under test as real processes (the release binaries next to the bench's own,
//! or any folder given), each with a fresh database on the stack, and their resident memory.

use std::{
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use anyhow::Context;
use testkit::TestDatabase;
use tokio::process::{Child, Command};
use tonic::transport::Channel;
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

/// A running service.
pub struct ServiceProcess {
    pub name: &'static str,
    pub address: String,
    /// Its own database, which the limits use too (the same tables).
    pub database_url: String,
    /// Put before its topics and consumer groups.
    pub topic_prefix: String,
    child: Child,
    pub log: PathBuf,
}

impl ServiceProcess {
    /// Starts `bin_dir/name` on a free port with a fresh database, its own topic prefix and
    /// `extra` variables; returns once it reports SERVING.
    pub async fn start(
        bin_dir: &Path,
        name: &'static str,
        extra: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        let topic_prefix = format!("{}.", testkit::unique_name("bench"));
        Self::start_with_prefix(bin_dir, name, extra, &topic_prefix).await
    }

    /// As [`Self::start`] with a topic prefix given: services that share one see each
    /// other's events.
    pub async fn start_with_prefix(
        bin_dir: &Path,
        name: &'static str,
        extra: &[(&str, &str)],
        topic_prefix: &str,
    ) -> anyhow::Result<Self> {
        let topic_prefix = topic_prefix.to_string();
        let binary = bin_dir.join(name);
        anyhow::ensure!(
            binary.exists(),
            "{} is missing: build it first (cargo build --release -p {name})",
            binary.display()
        );
        let db = TestDatabase::create().await;
        let address = format!("127.0.0.1:{}", free_port()?);
        let log = std::env::temp_dir().join(format!("haicheng-bench-{name}-{}.log", db.name));
        let file = std::fs::File::create(&log).context("the service's log file")?;
        // Served as the runtime role, after migrating at start as the owner.
        let child = Command::new(&binary)
            .env("DATABASE_URL", &db.runtime_url)
            .env("DATABASE_OWNER_URL", &db.url)
            .env("KAFKA_BOOTSTRAP", &testkit::stack().kafka_bootstrap)
            .env("GRPC_ADDR", &address)
            .env("KAFKA_TOPIC_PREFIX", &topic_prefix)
            .env("RUST_LOG", "warn")
            .env("AUTH_DEVELOPMENT", "true")
            .envs(extra.iter().copied())
            .stdout(file.try_clone()?)
            .stderr(file)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let mut service = Self {
            name,
            address,
            database_url: db.url,
            topic_prefix,
            child,
            log,
        };
        service.wait_serving(Duration::from_secs(90)).await?;
        Ok(service)
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// `count` connections to the service (one HTTP/2 connection each).
    pub async fn channels(&self, count: usize) -> anyhow::Result<Vec<Channel>> {
        let mut channels = Vec::with_capacity(count);
        for _ in 0..count {
            channels.push(
                Channel::from_shared(format!("http://{}", self.address))?
                    .tcp_nodelay(true)
                    .connect()
                    .await?,
            );
        }
        Ok(channels)
    }

    async fn wait_serving(&mut self, timeout: Duration) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait()? {
                anyhow::bail!(
                    "{} exited early with {status}; its log: {}",
                    self.name,
                    self.log.display()
                );
            }
            if let Ok(channel) = Channel::from_shared(format!("http://{}", self.address))?
                .connect()
                .await
            {
                let reply = HealthClient::new(channel)
                    .check(HealthCheckRequest::default())
                    .await;
                if reply.map(|r| r.into_inner().status()).ok() == Some(ServingStatus::Serving) {
                    return Ok(());
                }
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

    /// Sends SIGTERM and waits (up to 30 s) for the exit.
    pub async fn stop(mut self) {
        if let Some(pid) = self.child.id()
            && platform::process::signal(pid, libc::SIGTERM).is_ok()
        {
            let _ = tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await;
        }
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Resident memory of a process in MiB (`VmRSS` of /proc/<pid>/status).
pub fn rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: f64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}

/// The peak resident memory of a process, sampled every 50 ms until dropped.
pub struct PeakRss {
    peak_kib: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl PeakRss {
    pub fn watch(pid: u32) -> Self {
        let peak_kib = Arc::new(AtomicU64::new(0));
        let peak = peak_kib.clone();
        let task = tokio::spawn(async move {
            loop {
                if let Some(mib) = rss_mib(pid) {
                    peak.fetch_max((mib * 1024.0) as u64, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
        Self { peak_kib, task }
    }

    pub fn peak_mib(&self) -> f64 {
        self.peak_kib.load(Ordering::Relaxed) as f64 / 1024.0
    }
}

impl Drop for PeakRss {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn this_process_has_a_resident_size() {
        let mib = super::rss_mib(std::process::id()).unwrap();
        assert!(mib > 0.5 && mib < 10_000.0, "{mib}");
    }
}
