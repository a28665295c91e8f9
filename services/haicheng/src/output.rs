//! What the commands print: a table (or a record of aligned fields) for people, JSON for
//! scripts (`-o json`).
//!
//! # JSON
//!
//! Each command prints one JSON document on stdout: the response message, serialized by the
//! serde that `haicheng_proto` generates for every message (`haicheng_proto::json` says how).
//! Field names are those of the protobuf JSON mapping (lowerCamelCase: `nextPageToken`);
//! enumerations are their full proto names (`PARK_XILIU`); timestamps are RFC 3339 strings;
//! 64-bit integers are JSON numbers (money in fen, as in the protos); a period is its code;
//! an unset message field is `null`. A list read page by page (`--all`) prints as the one
//! response the pages add up to. `notices watch` prints one compact document per line (JSON
//! Lines).

use clap::ValueEnum;
use haicheng_proto::common::v1 as common;
use platform::time::{from_timestamp, to_timestamp};
use prost_types::Timestamp;
use serde::Serialize;
use unicode_width::UnicodeWidthStr;

/// `-o table|json`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned columns for people.
    #[default]
    Table,
    /// JSON for scripts.
    Json,
}

/// A table: a header row and rows of cells, columns separated by two spaces, aligned by
/// display width (a Chinese character takes two columns).
pub struct Table {
    headers: Vec<String>,
    /// Columns aligned right (numbers).
    right: Vec<bool>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(headers: &[&str]) -> Self {
        Self {
            headers: headers.iter().map(|h| h.to_string()).collect(),
            right: vec![false; headers.len()],
            rows: Vec::new(),
        }
    }

    /// Aligns these columns (by index) to the right.
    pub fn numeric(mut self, columns: &[usize]) -> Self {
        for column in columns {
            if let Some(right) = self.right.get_mut(*column) {
                *right = true;
            }
        }
        self
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn render(&self) -> String {
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.width()).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate() {
                if i < widths.len() {
                    widths[i] = widths[i].max(cell.width());
                }
            }
        }
        let mut out = String::new();
        for row in std::iter::once(&self.headers).chain(&self.rows) {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate().take(widths.len()) {
                if i > 0 {
                    line.push_str("  ");
                }
                let pad = " ".repeat(widths[i].saturating_sub(cell.width()));
                if self.right[i] {
                    line.push_str(&pad);
                    line.push_str(cell);
                } else {
                    line.push_str(cell);
                    line.push_str(&pad);
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// One record as `label  value` lines, the values aligned.
pub fn fields(pairs: &[(&str, String)]) -> String {
    let width = pairs.iter().map(|(l, _)| l.width()).max().unwrap_or(0);
    let mut out = String::new();
    for (label, value) in pairs {
        let pad = " ".repeat(width - label.width());
        out.push_str(format!("{label}{pad}  {value}").trim_end());
        out.push('\n');
    }
    out
}

/// Writes to stdout; a closed pipe (`| head`) ends the output quietly rather than in a panic.
pub fn emit(text: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let _ = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush());
}

/// Pretty JSON with a final newline.
pub fn json<T: Serialize + ?Sized>(value: &T) -> String {
    // Our messages always serialize (string keys; serde_json writes a non-finite float as
    // null): the fallback only keeps this function total.
    let mut text = serde_json::to_string_pretty(value)
        .unwrap_or_else(|e| serde_json::json!({ "error": e.to_string() }).to_string());
    text.push('\n');
    text
}

/// A timestamp for a table: RFC 3339 to the second, `-` when unset.
pub fn time(ts: Option<&Timestamp>) -> String {
    match ts.and_then(from_timestamp) {
        Some(t) => t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        None if ts.is_some() => "(invalid time)".to_string(),
        None => "-".to_string(),
    }
}

/// `--as-of`: an RFC 3339 time (`2025-06-30T00:00:00+08:00`).
pub fn parse_time(text: &str) -> Result<Timestamp, String> {
    let time = chrono::DateTime::parse_from_rfc3339(text.trim()).map_err(|e| {
        format!("{text:?} is not an RFC 3339 time such as 2025-06-30T00:00:00+08:00 ({e})")
    })?;
    Ok(to_timestamp(time.to_utc()))
}

/// A period code, `-` when unset.
pub fn period(period: Option<&common::Period>) -> String {
    match period {
        Some(p) if !p.code.is_empty() => p.code.clone(),
        _ => "-".to_string(),
    }
}

/// Hundredths as a decimal with thousands separators: money in fen as yuan, land in
/// hundredths of a mu as mu (`1234567` → `12,345.67`).
pub fn hundredths(n: i64) -> String {
    let sign = if n < 0 { "-" } else { "" };
    let n = n.unsigned_abs();
    format!("{sign}{}.{:02}", thousands(n / 100), n % 100)
}

/// A whole number with thousands separators.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A measured value (score, ratio, benchmark) to four decimals, trailing zeros dropped.
pub fn number(x: f64) -> String {
    if !x.is_finite() {
        return x.to_string();
    }
    let text = format!("{x:.4}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".to_string()
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_by_display_width_and_numbers_to_the_right() {
        let mut table = Table::new(&["USCC", "NAME", "STAFF"]).numeric(&[2]);
        table.row(vec![
            "91210381MA0Q12343L".into(),
            "海城箱包".into(),
            "120".into(),
        ]);
        table.row(vec![
            "92210381MA0UUR4K0L".into(),
            "Ace Bags".into(),
            "6".into(),
        ]);
        assert_eq!(
            table.render(),
            "USCC                NAME      STAFF\n\
             91210381MA0Q12343L  海城箱包    120\n\
             92210381MA0UUR4K0L  Ace Bags      6\n"
        );
    }

    #[test]
    fn fields_align_their_values() {
        assert_eq!(
            fields(&[("uscc", "X".into()), ("registered", "2016-05-20".into())]),
            "uscc        X\nregistered  2016-05-20\n"
        );
    }

    #[test]
    fn money_and_numbers_read_well() {
        assert_eq!(hundredths(480_000_000_000), "4,800,000,000.00");
        assert_eq!(hundredths(5), "0.05");
        assert_eq!(hundredths(-123_456), "-1,234.56");
        assert_eq!(number(1.5), "1.5");
        assert_eq!(number(0.003_141_59), "0.0031");
        assert_eq!(number(67_307.692_307), "67307.6923");
        assert_eq!(number(-0.000_01), "0");
        assert_eq!(number(30.0), "30");
    }

    #[test]
    fn times_are_rfc3339_and_parse_back() {
        let ts = parse_time("2025-06-30T08:00:00+08:00").unwrap();
        assert_eq!(ts.seconds, 1_751_241_600);
        assert_eq!(time(Some(&ts)), "2025-06-30T00:00:00Z");
        assert_eq!(time(None), "-");
        let precise = Timestamp {
            seconds: ts.seconds,
            nanos: 250_000_000,
        };
        let model = haicheng_proto::classification::v1::Model {
            created_at: Some(precise),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_value(model).unwrap()["createdAt"],
            serde_json::Value::from("2025-06-30T00:00:00.250Z")
        );
        assert!(parse_time("2025-06-30").is_err());
    }
}
