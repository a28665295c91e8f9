//! The services under test as real processes (the release binaries next to the bench's own,
//! or any folder given) through `testkit::process`, the launcher the system tests use too,
//! each with a fresh database on the stack; and their resident memory.

use std::{
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use testkit::process::{Launch, ServiceProcess};

/// Starts `bin_dir/name` on a free port with a fresh database, its own topic prefix and
/// `extra` variables; returns once it reports SERVING.
pub async fn start(
    bin_dir: &Path,
    name: &'static str,
    extra: &[(&str, &str)],
) -> anyhow::Result<ServiceProcess> {
    let topic_prefix = format!("{}.", testkit::unique_name("bench"));
    start_with_prefix(bin_dir, name, extra, &topic_prefix).await
}

/// As [`start`] with a topic prefix given: services that share one see each other's events.
/// Plaintext, migrated as it starts (`DATABASE_OWNER_URL`), its log in `haicheng-bench` in
/// the temporary folder.
pub async fn start_with_prefix(
    bin_dir: &Path,
    name: &'static str,
    extra: &[(&str, &str)],
    topic_prefix: &str,
) -> anyhow::Result<ServiceProcess> {
    let mut service = Launch::new(bin_dir.join(name), name)
        .vars(&[("KAFKA_TOPIC_PREFIX", topic_prefix)])
        .vars(extra)
        .log_dir(std::env::temp_dir().join("haicheng-bench"))
        .start()
        .await?;
    service.wait_serving(Duration::from_secs(90)).await?;
    Ok(service)
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
