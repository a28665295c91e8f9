//! The rows of the result table and how they print (Markdown, so BENCHMARKS.md can take it
//! as it is).

use crate::load::Measured;

/// One side of a row: what the platform did, or the limit beside it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Side {
    /// Units (requests, rows, messages, firms) per second.
    pub rate: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

impl Side {
    pub fn of(measured: &Measured) -> Self {
        Self {
            rate: measured.per_second(),
            p50_ms: measured.p50_ms(),
            p99_ms: measured.p99_ms(),
        }
    }

    /// A single timed operation of `units` units: its time is both p50 and p99.
    pub fn once(units: u64, elapsed: std::time::Duration) -> Self {
        Self::of(&Measured::once(units, elapsed))
    }

    fn text(&self, unit: &str) -> String {
        format!(
            "{}/s {unit}, p50 {}, p99 {}",
            thousands(self.rate),
            millis(self.p50_ms),
            millis(self.p99_ms)
        )
    }
}

/// What a row is held to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Target {
    /// Throughput at least this fraction of the limit's.
    AtLeast(f64),
    /// Time at most this multiple of the limit's.
    SlowerAtMost(f64),
    /// Resident memory at most this many MiB.
    MemoryAtMost(f64),
    /// p99 latency at most this multiple of the limit's p99.
    P99AtMost(f64),
    /// The ratio of the p99 latencies, reported only (no bound is set yet).
    P99Report,
    /// Reported only.
    Report,
}

/// One measured row.
#[derive(Debug, Clone)]
pub struct Row {
    pub path: String,
    /// What one unit is: `calls`, `rows`, `messages`, `firms`.
    pub unit: &'static str,
    /// The platform's side; for memory rows `rate` holds MiB.
    pub platform: Side,
    pub limit: Option<Side>,
    pub target: Target,
    /// Failed calls or anything else the reader should know.
    pub note: String,
    /// CPU per unit of the service, PostgreSQL and the bench, on each side
    /// ([`crate::cpu::Sample::per_unit`]).
    pub cpu: Option<(String, String)>,
}

impl Row {
    /// The ratio the target speaks of: throughput over the limit's, time over the limit's,
    /// or MiB.
    pub fn ratio(&self) -> Option<f64> {
        match (self.target, self.limit) {
            (Target::AtLeast(_), Some(limit)) => Some(self.platform.rate / limit.rate),
            (Target::SlowerAtMost(_), Some(limit)) => Some(limit.rate / self.platform.rate),
            (Target::MemoryAtMost(_), _) => Some(self.platform.rate),
            (Target::P99AtMost(_) | Target::P99Report, Some(limit)) => {
                Some(self.platform.p99_ms / limit.p99_ms)
            }
            _ => None,
        }
    }

    /// Whether the target is met; `None` for report-only rows.
    pub fn met(&self) -> Option<bool> {
        let ratio = self.ratio()?;
        match self.target {
            Target::AtLeast(min) => Some(ratio >= min),
            Target::SlowerAtMost(max) | Target::MemoryAtMost(max) | Target::P99AtMost(max) => {
                Some(ratio <= max)
            }
            Target::Report | Target::P99Report => None,
        }
    }

    /// A row whose measurement failed: no figure, the error in its note.
    pub fn failed(path: &str, error: &str) -> Self {
        let nothing = Side {
            rate: 0.0,
            p50_ms: 0.0,
            p99_ms: 0.0,
        };
        Self {
            path: path.to_string(),
            unit: "",
            platform: nothing,
            limit: None,
            target: Target::Report,
            note: format!("failed: {error}"),
            cpu: None,
        }
    }

    /// True when the row measured something real: positive, finite figures.
    pub fn has_figure(&self) -> bool {
        let good = |s: &Side| s.rate.is_finite() && s.rate > 0.0;
        good(&self.platform) && self.limit.as_ref().is_none_or(good)
    }
}

/// One line for progress output: the ratio and whether the target is met.
pub fn summary(row: &Row) -> String {
    match (row.ratio(), row.met()) {
        _ if !row.note.is_empty() && row.note.starts_with("failed") => row.note.clone(),
        (Some(ratio), Some(met)) => format!("{ratio:.2} ({})", if met { "met" } else { "not met" }),
        (Some(ratio), None) => format!("{ratio:.2} (reported)"),
        _ => format!("{:.0}/s", row.platform.rate),
    }
}

pub fn print(rows: &[Row]) -> String {
    let mut out = String::from(
        "| path | platform | limit | ratio | target | met |\n| --- | --- | --- | --- | --- | --- |\n",
    );
    for row in rows {
        let (platform, limit) = match row.target {
            Target::MemoryAtMost(_) => (format!("{:.1} MiB", row.platform.rate), "—".to_string()),
            Target::P99AtMost(_) => {
                let latency =
                    |s: &Side| format!("p50 {}, p99 {}", millis(s.p50_ms), millis(s.p99_ms));
                (
                    latency(&row.platform),
                    row.limit.as_ref().map_or_else(|| "—".to_string(), latency),
                )
            }
            _ => (
                row.platform.text(row.unit),
                row.limit
                    .map_or_else(|| "—".to_string(), |l| l.text(row.unit)),
            ),
        };
        let ratio = match (row.target, row.ratio()) {
            (Target::MemoryAtMost(_), _) | (_, None) => "—".to_string(),
            (Target::P99Report, Some(r)) => format!("p99 {r:.2}×"),
            (_, Some(r)) => format!("{r:.2}×"),
        };
        let target = match row.target {
            Target::AtLeast(x) => format!("≥ {x}×"),
            Target::SlowerAtMost(x) => format!("≤ {x}× the time"),
            Target::MemoryAtMost(x) => format!("≤ {x} MiB"),
            Target::P99AtMost(x) => format!("p99 ≤ {x}× the limit's"),
            Target::Report | Target::P99Report => "report".to_string(),
        };
        let met = match row.met() {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "—",
        };
        let path = if row.note.is_empty() {
            row.path.clone()
        } else {
            format!("{} ({})", row.path, row.note)
        };
        out.push_str(&format!(
            "| {path} | {platform} | {limit} | {ratio} | {target} | {met} |\n"
        ));
    }
    let cpu: Vec<_> = rows
        .iter()
        .filter_map(|r| Some((&r.path, r.cpu.as_ref()?)))
        .collect();
    if !cpu.is_empty() {
        out.push_str("\n| path | CPU, platform side | CPU, limit side |\n| --- | --- | --- |\n");
        for (path, (platform, limit)) in cpu {
            out.push_str(&format!("| {path} | {platform} | {limit} |\n"));
        }
    }
    out
}

/// 43900.2 -> "43,900"; below 100, one decimal.
fn thousands(value: f64) -> String {
    if value < 100.0 {
        return format!("{value:.1}");
    }
    let digits = format!("{:.0}", value);
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn millis(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{:.2} s", ms / 1000.0)
    } else if ms >= 10.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{ms:.2} ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn side(rate: f64) -> Side {
        Side {
            rate,
            p50_ms: 1.0,
            p99_ms: 2.0,
        }
    }

    #[test]
    fn ratios_follow_the_target() {
        let mut row = Row {
            path: "x".into(),
            unit: "calls",
            platform: side(700.0),
            limit: Some(side(1000.0)),
            target: Target::AtLeast(0.7),
            note: String::new(),
            cpu: None,
        };
        assert_eq!(row.ratio(), Some(0.7));
        assert_eq!(row.met(), Some(true));
        row.target = Target::SlowerAtMost(1.2);
        assert!((row.ratio().unwrap() - 1000.0 / 700.0).abs() < 1e-9);
        assert_eq!(row.met(), Some(false));
        row.target = Target::Report;
        assert_eq!(row.met(), None);
        row.target = Target::P99Report;
        row.platform.p99_ms = 8.0;
        assert_eq!((row.ratio(), row.met()), (Some(4.0), None));
        assert!(print(&[row]).contains("| p99 4.00× | report | — |"));
    }

    #[test]
    fn numbers_print_for_people() {
        assert_eq!(thousands(43_900.2), "43,900");
        assert_eq!(thousands(1_234_567.0), "1,234,567");
        assert_eq!(thousands(12.34), "12.3");
        assert_eq!(millis(0.191), "0.19 ms");
        assert_eq!(millis(44.2), "44 ms");
        assert_eq!(millis(2500.0), "2.50 s");
    }
}
