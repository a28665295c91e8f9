//! Where the time goes, coarsely: CPU seconds spent by the service, by PostgreSQL (the
//! postmaster and its backends) and by the bench itself over one side of a row, from
//! /proc/<pid>/stat. On two cores the sum says which process the row waits for.

use std::time::Duration;

/// CPU time of one process so far (user + system), with its reaped children's when `children`.
fn cpu_of(pid: u32, children: bool) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces: the fields start after its closing parenthesis.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    // After the name: state is field 3 of the man page, utime 14, stime 15, cutime 16, cstime 17.
    let field = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<u64>().ok());
    let mut ticks = field(14)? + field(15)?;
    if children {
        ticks += field(16)? + field(17)?;
    }
    Some(Duration::from_secs_f64(ticks as f64 / USER_HZ))
}

/// The unit of the times in /proc/<pid>/stat: USER_HZ, 100 per second in Linux's ABI on every
/// architecture it runs on here (whatever the kernel's own tick rate).
const USER_HZ: f64 = 100.0;

fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// CPU of the postmaster `postmaster` and all its children, living and reaped.
fn cpu_of_tree(postmaster: u32) -> Duration {
    let mut total = cpu_of(postmaster, true).unwrap_or_default();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            if parent_of(pid) == Some(postmaster) {
                total += cpu_of(pid, false).unwrap_or_default();
            }
        }
    }
    total
}

/// The processes whose CPU a row reports.
#[derive(Debug, Clone, Copy)]
pub struct Watched {
    pub service: u32,
    /// PostgreSQL's postmaster (the parent of a backend).
    pub postmaster: u32,
}

impl Watched {
    /// Finds the postmaster from a backend of `pool`.
    pub async fn new(service: u32, pool: &sqlx::PgPool) -> anyhow::Result<Self> {
        let backend: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(pool)
            .await?;
        let postmaster = parent_of(backend as u32)
            .ok_or_else(|| anyhow::anyhow!("PostgreSQL backend {backend} has no parent"))?;
        Ok(Self {
            service,
            postmaster,
        })
    }

    pub fn sample(&self) -> Sample {
        Sample {
            service: cpu_of(self.service, false).unwrap_or_default(),
            postgres: cpu_of_tree(self.postmaster),
            bench: cpu_of(std::process::id(), false).unwrap_or_default(),
        }
    }
}

/// CPU so far of each part.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sample {
    pub service: Duration,
    pub postgres: Duration,
    pub bench: Duration,
}

impl Sample {
    /// "service 120 µs, PostgreSQL 340 µs, bench 40 µs per call" between `self` and `later`.
    pub fn per_unit(&self, later: &Sample, units: u64, unit: &str) -> String {
        let per = |a: Duration, b: Duration| {
            b.saturating_sub(a).as_secs_f64() * 1e6 / units.max(1) as f64
        };
        format!(
            "CPU per {unit}: service {:.0} µs, PostgreSQL {:.0} µs, bench {:.0} µs",
            per(self.service, later.service),
            per(self.postgres, later.postgres),
            per(self.bench, later.bench),
        )
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn this_process_uses_cpu() {
        let before = super::cpu_of(std::process::id(), false).unwrap();
        let mut x = 0u64;
        for i in 0..50_000_000u64 {
            x = x.wrapping_add(i * i);
        }
        std::hint::black_box(x);
        let after = super::cpu_of(std::process::id(), false).unwrap();
        assert!(after > before, "{before:?} {after:?}");
    }
}
