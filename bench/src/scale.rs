//! `haicheng-bench --scale`: how each cost grows with the number of firms (issue 24).
//!
//! Runs each row of [`ROWS`] at every size on fresh services and databases (one [`crate::run`]
//! per row and size, so what a row leaves behind never weighs on the next), and prints one
//! table: the time, the rate, the services' peak resident memory and their databases' size, and
//! how the cost per unit grew from the size before beside what n log n growth would give. A
//! row whose cost per unit grows faster than that is a finding.

use crate::{
    Options,
    table::{Row, Target},
};

/// The rows that grow with the number of firms.
pub const ROWS: &[&str] = &["import", "relay", "rerank-db", "notice", "land", "fair"];
/// The sizes of `--scale` (the last only there, never in `make test`).
pub const SIZES: &[usize] = &[10_000, 100_000, 1_000_000];
/// The sizes of `--scale --quick`: the harness works, the figures mean nothing.
pub const QUICK_SIZES: &[usize] = &[40, 80];

/// One row at one size.
#[derive(Debug, Clone)]
pub struct Line {
    pub firms: usize,
    pub row: String,
    /// The measured row as the table prints it.
    pub measured: Row,
    /// Each service's peak resident memory over the row, MiB.
    pub peaks: Vec<(String, f64)>,
    /// Each service's database size after the row, MiB.
    pub databases: Vec<(String, f64)>,
}

impl Line {
    /// Seconds per unit (the inverse of the rate), what the growth compares.
    fn cost(&self) -> f64 {
        1.0 / self.measured.platform.rate
    }
}

/// Runs `rows` (of [`ROWS`]) at each of `sizes`; progress goes to stderr.
pub async fn run(options: &Options, rows: &[String], sizes: &[usize]) -> Vec<Line> {
    let mut lines = Vec::new();
    for &firms in sizes {
        for row in rows {
            eprintln!("bench: scale: {row} at {firms} firms");
            let options = Options {
                only: vec![row.clone()],
                scale: Some(firms),
                ..options.clone()
            };
            let line = match crate::run(&options).await {
                Ok(measured) => line_of(firms, row, measured),
                Err(err) => line_of(firms, row, vec![Row::failed(row, &format!("{err:#}"))]),
            };
            // The line as it comes, so a long run that is cut short still leaves its figures.
            let before = lines
                .iter()
                .rev()
                .find(|l: &&Line| l.row == line.row && l.measured.has_figure());
            eprint!("bench: scale: {}", format_line(&line, before));
            lines.push(line);
        }
    }
    lines
}

/// The measured row (the first) and the memory and size rows that follow it.
fn line_of(firms: usize, row: &str, rows: Vec<Row>) -> Line {
    let mut rows = rows.into_iter();
    let measured = rows.next().unwrap_or_else(|| Row::failed(row, "no row"));
    let mut line = Line {
        firms,
        row: row.to_string(),
        measured,
        peaks: Vec::new(),
        databases: Vec::new(),
    };
    for other in rows {
        let service = other.path.split(' ').next().unwrap_or("?").to_string();
        if other.path.contains("database size") {
            line.databases.push((service, other.platform.rate));
        } else if other.target == Target::MemoryAtMost(100.0) {
            line.peaks.push((service, other.platform.rate));
        }
    }
    line
}

const HEADER: &str = "| row | firms | time | rate | p50 / p99 | peak resident (MiB) | database (MiB) | cost per unit vs the size before (n log n) |\n\
     | --- | --- | --- | --- | --- | --- | --- | --- |\n";

/// The table in Markdown: one line per row and size, rows grouped.
pub fn print(lines: &[Line]) -> String {
    let mut out = String::from(HEADER);
    let mut rows: Vec<&str> = Vec::new();
    for line in lines {
        if !rows.contains(&line.row.as_str()) {
            rows.push(&line.row);
        }
    }
    for row in rows {
        let mut before: Option<&Line> = None;
        for line in lines.iter().filter(|l| l.row == row) {
            out.push_str(&format_line(line, before));
            if line.measured.has_figure() {
                before = Some(line);
            }
        }
    }
    out
}

fn format_line(line: &Line, before: Option<&Line>) -> String {
    let m = &line.measured;
    if !m.has_figure() {
        return format!(
            "| {} | {} | — | — | — | — | — | {} |\n",
            line.row,
            thousands(line.firms as f64),
            m.note
        );
    }
    let rate = m.platform.rate;
    // Rows of one timed operation over every firm: the time is firms ÷ rate. The notice row
    // is an open loop of fixed length: its p50 and p99 are the figures.
    let time = if line.row == "notice" {
        "60 s of load".to_string()
    } else {
        format!("{:.2} s", line.firms as f64 / rate)
    };
    let growth = before.map_or("—".to_string(), |b| {
        let n_log_n = (line.firms as f64).ln() / (b.firms as f64).ln();
        format!("×{:.2} (×{n_log_n:.2})", line.cost() / b.cost())
    });
    let list = |items: &[(String, f64)]| {
        if items.is_empty() {
            "—".to_string()
        } else {
            items
                .iter()
                .map(|(service, mib)| format!("{service} {mib:.0}"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    format!(
        "| {} | {} | {time} | {}/s {} | {:.0} / {:.0} ms | {} | {} | {growth} |\n",
        line.row,
        thousands(line.firms as f64),
        thousands(rate),
        m.unit,
        m.platform.p50_ms,
        m.platform.p99_ms,
        list(&line.peaks),
        list(&line.databases),
    )
}

fn thousands(value: f64) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::Side;

    fn line(firms: usize, rate: f64) -> Line {
        Line {
            firms,
            row: "import".into(),
            measured: Row {
                path: "import".into(),
                unit: "rows",
                platform: Side {
                    rate,
                    p50_ms: 1.0,
                    p99_ms: 2.0,
                },
                limit: None,
                target: Target::Report,
                note: String::new(),
                cpu: None,
            },
            peaks: vec![("census".into(), 40.0)],
            databases: vec![("census".into(), 120.0)],
        }
    }

    #[test]
    fn the_growth_compares_the_cost_per_unit_with_n_log_n() {
        // 10,000 rows at 10,000/s, then 100,000 at 5,000/s: each unit costs twice as much.
        let table = print(&[line(10_000, 10_000.0), line(100_000, 5_000.0)]);
        assert!(table.contains("| import | 10,000 | 1.00 s |"), "{table}");
        assert!(table.contains("| import | 100,000 | 20.00 s |"), "{table}");
        assert!(table.contains("×2.00 (×1.25)"), "{table}");
        assert!(table.contains("census 40"), "{table}");
    }
}
