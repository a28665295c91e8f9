//! The census import CSV: one census return per row, read into `ImportReturnsRow`s.
//!
//! # Format
//!
//! - UTF-8, comma-separated, with a header row naming the columns (any order). Lines starting
//!   with `#` are comments; blank cells are empty. Cells are trimmed.
//! - A row's number is its line in the file (the header is line 1 when there are no comments
//!   before it), so the report points at the line to fix.
//! - Required columns, whole numbers (money in fen, area in hundredths of a mu):
//!   `uscc`, `period` (`2025` or `2025Q3`), `employees_total`, `production_staff`,
//!   `rd_technical_staff`, `management_sales_staff`, `college_educated_staff`, `rd_spend_fen`,
//!   `revenue_fen`, `industrial_output_fen`, `tax_paid_fen`, `export_sales_fen`,
//!   `equipment_value_fen`, `invention_patents`, `utility_model_patents`, `design_patents`,
//!   `land_used_centi_mu`; and `automation_share_percent` (a number, 0 to 100).
//! - Optional columns:
//!   - `client_request_id`: the row's idempotency key. Left out or empty, it is derived from
//!     the row's content (`csv:<uscc>:<period>:<hash>`), so importing the same file again
//!     changes nothing, and a changed row becomes a correction (a new revision).
//!   - `equipment_level`: `INTERNATIONAL_ADVANCED`, `DOMESTIC_ADVANCED`, `DOMESTIC_AVERAGE`,
//!     `OUTDATED`, or empty for not reported.
//!   - `energy_use_tce`: tonnes of standard coal; empty when unknown.
//!   - `rd_exceeds_revenue_flag`: `true`/`false` (also `yes`/`no`, `1`/`0`; empty is false):
//!     confirms R&D spend above revenue.
//!   - `sources`: where figures come from, `indicator=SOURCE` pairs separated by `;`, SOURCE
//!     one of `TAX`, `STATISTICS`, `LAND_REGISTRY`, `SELF_REPORTED`; an indicator not named is
//!     self-reported. Example: `tax_paid_fen=TAX;land_used_centi_mu=LAND_REGISTRY`.
//! - A column not listed here stops the import before anything is sent (a typo in a header
//!   would otherwise drop a figure). A cell that does not parse, or a row with the wrong
//!   number of cells, makes that row a rejected row (row number, column, reason); the other
//!   rows are sent. The census then checks every rule and reports the rows it refuses.

use std::{
    collections::{HashMap, VecDeque},
    io::Read,
    sync::{Arc, Mutex},
};

use haicheng_proto::{census::v1 as pb, common::v1 as common};

/// The indicator columns that hold whole numbers, in the order of `CensusIndicators`.
const INTEGER_COLUMNS: [&str; 15] = [
    "employees_total",
    "production_staff",
    "rd_technical_staff",
    "management_sales_staff",
    "college_educated_staff",
    "rd_spend_fen",
    "revenue_fen",
    "industrial_output_fen",
    "tax_paid_fen",
    "export_sales_fen",
    "equipment_value_fen",
    "invention_patents",
    "utility_model_patents",
    "design_patents",
    "land_used_centi_mu",
];

/// Columns every file must have.
const REQUIRED: [&str; 18] = [
    "uscc",
    "period",
    "employees_total",
    "production_staff",
    "rd_technical_staff",
    "management_sales_staff",
    "college_educated_staff",
    "rd_spend_fen",
    "revenue_fen",
    "industrial_output_fen",
    "tax_paid_fen",
    "export_sales_fen",
    "equipment_value_fen",
    "automation_share_percent",
    "invention_patents",
    "utility_model_patents",
    "design_patents",
    "land_used_centi_mu",
];

/// Columns a file may have besides the required ones.
const OPTIONAL: [&str; 5] = [
    "client_request_id",
    "equipment_level",
    "energy_use_tce",
    "rd_exceeds_revenue_flag",
    "sources",
];

/// A file that cannot be imported at all.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("reading the file: {0}")]
    Read(#[from] std::io::Error),
    #[error("the header row: {0}")]
    Header(String),
    #[error("the header lacks the required column(s) {0}")]
    MissingColumns(String),
    #[error("the header has the unknown column {0:?} (see the format in the README)")]
    UnknownColumn(String),
    #[error("the header names the column {0:?} twice")]
    DuplicateColumn(String),
}

/// What a file holds: the rows to send, and the rows refused before sending.
#[derive(Debug, Default)]
pub struct Parsed {
    pub rows: Vec<pb::ImportReturnsRow>,
    pub rejected: Vec<pb::RejectedRow>,
}

impl Parsed {
    /// Rows refused before sending (a row with several bad cells counts once).
    pub fn rejected_row_count(&self) -> usize {
        let mut rows: Vec<i64> = self.rejected.iter().map(|r| r.row_number).collect();
        rows.dedup();
        rows.len()
    }
}

/// Reads a whole census import CSV into memory ([`Records`] reads one row at a time).
pub fn parse(input: impl Read) -> Result<Parsed, FileError> {
    let mut parsed = Parsed::default();
    for record in Records::open(input)? {
        match record? {
            Record::Row(row) => parsed.rows.push(row),
            Record::Rejected(mut rejected) => parsed.rejected.append(&mut rejected),
        }
    }
    Ok(parsed)
}

/// One record of the file: a row to send, or its rejections (one per bad cell). Most
/// records are rows, so the row is not boxed.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Record {
    Row(pb::ImportReturnsRow),
    Rejected(Vec<pb::RejectedRow>),
}

/// A census import CSV read one record at a time, so a file of any size goes through in
/// constant memory: the header is checked when it is opened (nothing is sent from a file
/// whose header is wrong), then each record is a [`Record`]; a read error ends it.
pub struct Records<R: Read> {
    reader: csv::Reader<Lines<R>>,
    columns: HashMap<String, usize>,
    skippable: Skippable,
    /// Bytes of the file read so far (for a progress indication).
    position: u64,
    done: bool,
}

impl<R: Read> Records<R> {
    pub fn open(input: R) -> Result<Self, FileError> {
        let skippable = Skippable::default();
        let mut reader = csv::ReaderBuilder::new()
            .comment(Some(b'#'))
            .trim(csv::Trim::All)
            .flexible(false)
            .from_reader(Lines::new(input, skippable.clone()));
        let header = reader
            .headers()
            .map_err(|e| match e.kind() {
                csv::ErrorKind::Io(_) => FileError::Read(std::io::Error::other(e.to_string())),
                _ => FileError::Header(e.to_string()),
            })?
            .clone();
        let columns = columns(&header)?;
        Ok(Self {
            reader,
            columns,
            skippable,
            position: 0,
            done: false,
        })
    }

    /// Bytes of the file read so far, up to the end of the last record returned.
    pub fn position(&self) -> u64 {
        self.position
    }
}

impl<R: Read> Iterator for Records<R> {
    type Item = Result<Record, FileError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let mut record = csv::StringRecord::new();
        let read = self.reader.read_record(&mut record);
        self.position = self.reader.position().byte();
        match read {
            Ok(false) => {
                self.done = true;
                None
            }
            Ok(true) => {
                let line = record.position().map_or(0, |p| self.skippable.line_of(p));
                let cells = Cells {
                    record: &record,
                    columns: &self.columns,
                };
                Some(Ok(match cells.row(line) {
                    Ok(row) => Record::Row(row),
                    Err(rejected) => Record::Rejected(rejected),
                }))
            }
            Err(err) => {
                let line = err.position().map_or(0, |p| self.skippable.line_of(p));
                let reason = match err.kind() {
                    csv::ErrorKind::UnequalLengths {
                        expected_len, len, ..
                    } => format!("has {len} cells, the header has {expected_len}"),
                    csv::ErrorKind::Utf8 { .. } => "is not valid UTF-8".to_string(),
                    csv::ErrorKind::Io(_) => {
                        self.done = true;
                        return Some(Err(FileError::Read(std::io::Error::other(err.to_string()))));
                    }
                    _ => err.to_string(),
                };
                Some(Ok(Record::Rejected(vec![reject(line, "", reason)])))
            }
        }
    }
}

/// The blank and comment lines of the file not yet behind the last record, as (start,
/// start of the next line) byte offsets: the csv reader reports a record's position at the
/// start of the blank lines and comments it skipped before it, and a row's number is the
/// line it starts on.
#[derive(Clone, Default)]
struct Skippable(Arc<Mutex<VecDeque<(u64, u64)>>>);

impl Skippable {
    /// The line a record starts on: the position's line, stepped over the skipped lines.
    fn line_of(&self, position: &csv::Position) -> i64 {
        let mut line = position.line() as i64;
        let mut at = position.byte();
        let mut lines = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        loop {
            while lines.front().is_some_and(|(start, _)| *start < at) {
                lines.pop_front();
            }
            match lines.front().copied() {
                Some((start, next)) if start == at => {
                    line += 1;
                    at = next;
                    lines.pop_front();
                }
                _ => return line,
            }
        }
    }
}

/// What the current line holds so far.
#[derive(Clone, Copy, PartialEq)]
enum LineSoFar {
    Nothing,
    CarriageReturn,
    Comment,
    Content,
}

/// The file as the csv reader reads it, noting each blank or comment line on the way.
struct Lines<R> {
    inner: R,
    skippable: Skippable,
    offset: u64,
    line_start: u64,
    so_far: LineSoFar,
    after_cr: bool,
}

impl<R> Lines<R> {
    fn new(inner: R, skippable: Skippable) -> Self {
        Self {
            inner,
            skippable,
            offset: 0,
            line_start: 0,
            so_far: LineSoFar::Nothing,
            after_cr: false,
        }
    }
}

impl<R: Read> Read for Lines<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut found = Vec::new();
        for &byte in &buf[..n] {
            self.offset += 1;
            self.so_far = match (self.so_far, byte) {
                (so_far, b'\n') => {
                    if so_far != LineSoFar::Content {
                        found.push((self.line_start, self.offset));
                    }
                    // The csv reader ends a record at the \r of a CRLF and may report the
                    // next one from its \n: an empty stretch to step over, as a blank line.
                    if self.after_cr {
                        found.push((self.offset - 1, self.offset));
                    }
                    self.line_start = self.offset;
                    LineSoFar::Nothing
                }
                (LineSoFar::Nothing, b'#') => LineSoFar::Comment,
                (LineSoFar::Nothing, b'\r') => LineSoFar::CarriageReturn,
                (LineSoFar::Comment, _) => LineSoFar::Comment,
                _ => LineSoFar::Content,
            };
            self.after_cr = byte == b'\r';
        }
        if !found.is_empty() {
            let mut lines = self
                .skippable
                .0
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            lines.extend(found);
        }
        Ok(n)
    }
}

/// Column name → position, checked against the format.
fn columns(header: &csv::StringRecord) -> Result<HashMap<String, usize>, FileError> {
    let mut columns = HashMap::new();
    for (index, name) in header.iter().enumerate() {
        // A byte-order mark some spreadsheet programs write before the first name.
        let name = name.trim_start_matches('\u{feff}');
        if !REQUIRED.contains(&name) && !OPTIONAL.contains(&name) {
            return Err(FileError::UnknownColumn(name.to_string()));
        }
        if columns.insert(name.to_string(), index).is_some() {
            return Err(FileError::DuplicateColumn(name.to_string()));
        }
    }
    let missing: Vec<&str> = REQUIRED
        .into_iter()
        .filter(|c| !columns.contains_key(*c))
        .collect();
    if missing.is_empty() {
        Ok(columns)
    } else {
        Err(FileError::MissingColumns(missing.join(", ")))
    }
}

fn reject(row_number: i64, column: &str, reason: impl Into<String>) -> pb::RejectedRow {
    pb::RejectedRow {
        row_number,
        field: column.to_string(),
        reason: reason.into(),
    }
}

/// One record's cells by column name.
struct Cells<'a> {
    record: &'a csv::StringRecord,
    columns: &'a HashMap<String, usize>,
}

impl Cells<'_> {
    fn get(&self, column: &str) -> &str {
        self.columns
            .get(column)
            .and_then(|i| self.record.get(*i))
            .unwrap_or("")
    }

    /// The row, or one rejection per cell that does not parse.
    fn row(&self, line: i64) -> Result<pb::ImportReturnsRow, Vec<pb::RejectedRow>> {
        let mut parse = Parse {
            cells: self,
            line,
            rejected: Vec::new(),
        };
        let indicators = parse.indicators();
        let sources = parse.sources();
        if !parse.rejected.is_empty() {
            return Err(parse.rejected);
        }
        let uscc = self.get("uscc").to_string();
        let period = self.get("period").to_string();
        let client_request_id = match self.get("client_request_id") {
            "" => self.derived_request_id(&uscc, &period),
            id => id.to_string(),
        };
        Ok(pb::ImportReturnsRow {
            row_number: line,
            client_request_id,
            uscc,
            period: Some(common::Period { code: period }),
            indicators: Some(indicators),
            sources: Some(pb::FigureSources {
                by_indicator: sources.into_iter().map(|(k, v)| (k, v as i32)).collect(),
            }),
        })
    }

    /// An id from the row's content: every cell but the id, in the format's column order, so
    /// the same row gives the same id whatever the column order or spacing of the file.
    fn derived_request_id(&self, uscc: &str, period: &str) -> String {
        let mut hash = Fnv1a::new();
        for column in REQUIRED.iter().chain(&OPTIONAL[1..]) {
            hash.write(column.as_bytes());
            hash.write(b"=");
            hash.write(self.get(column).as_bytes());
            hash.write(b"\n");
        }
        format!("csv:{uscc}:{period}:{:016x}", hash.finish())
    }
}

/// Typed cells of one row; each cell that does not parse adds a rejection naming it, and
/// reads as zero so the rest of the row is still checked.
struct Parse<'c> {
    cells: &'c Cells<'c>,
    line: i64,
    rejected: Vec<pb::RejectedRow>,
}

impl Parse<'_> {
    fn reject(&mut self, column: &str, reason: impl Into<String>) {
        self.rejected.push(reject(self.line, column, reason));
    }

    /// The indicators, checked in the format's column order: whole numbers first.
    fn indicators(&mut self) -> pb::CensusIndicators {
        let mut values: HashMap<&str, i64> = HashMap::new();
        for column in INTEGER_COLUMNS {
            let value = self.integer(column);
            values.insert(column, value);
        }
        let value = |column: &str| values.get(column).copied().unwrap_or_default();
        let automation_share_percent = self.number("automation_share_percent");
        let energy_use_tce = self.optional_number("energy_use_tce");
        let equipment_level = self.equipment_level();
        let rd_exceeds_revenue_flag = self.flag("rd_exceeds_revenue_flag");
        pb::CensusIndicators {
            employees_total: value("employees_total"),
            production_staff: value("production_staff"),
            rd_technical_staff: value("rd_technical_staff"),
            management_sales_staff: value("management_sales_staff"),
            college_educated_staff: value("college_educated_staff"),
            rd_spend_fen: value("rd_spend_fen"),
            revenue_fen: value("revenue_fen"),
            industrial_output_fen: value("industrial_output_fen"),
            tax_paid_fen: value("tax_paid_fen"),
            export_sales_fen: value("export_sales_fen"),
            equipment_value_fen: value("equipment_value_fen"),
            automation_share_percent,
            equipment_level: equipment_level as i32,
            invention_patents: value("invention_patents"),
            utility_model_patents: value("utility_model_patents"),
            design_patents: value("design_patents"),
            land_used_centi_mu: value("land_used_centi_mu"),
            energy_use_tce,
            rd_exceeds_revenue_flag,
        }
    }

    fn integer(&mut self, column: &str) -> i64 {
        let cell = self.cells.get(column);
        match cell.parse() {
            Ok(value) => value,
            Err(_) if cell.is_empty() => {
                self.reject(column, "is empty; a whole number is required");
                0
            }
            Err(_) => {
                self.reject(column, format!("{cell:?} is not a whole number"));
                0
            }
        }
    }

    fn number(&mut self, column: &str) -> f64 {
        let cell = self.cells.get(column);
        cell.parse().unwrap_or_else(|_| {
            self.reject(column, format!("{cell:?} is not a number"));
            0.0
        })
    }

    /// A number, or `None` for an empty cell.
    fn optional_number(&mut self, column: &str) -> Option<f64> {
        match self.cells.get(column) {
            "" => None,
            _ => Some(self.number(column)),
        }
    }

    fn equipment_level(&mut self) -> pb::EquipmentLevel {
        let level = self.cells.get("equipment_level");
        equipment_level(level).unwrap_or_else(|| {
            self.reject(
                "equipment_level",
                format!("{level:?} is not INTERNATIONAL_ADVANCED, DOMESTIC_ADVANCED, DOMESTIC_AVERAGE or OUTDATED"),
            );
            pb::EquipmentLevel::Unspecified
        })
    }

    fn flag(&mut self, column: &str) -> bool {
        let cell = self.cells.get(column);
        yes_no(cell).unwrap_or_else(|| {
            self.reject(column, format!("{cell:?} is not true or false"));
            false
        })
    }

    fn sources(&mut self) -> HashMap<String, common::FigureSource> {
        sources(self.cells.get("sources")).unwrap_or_else(|reason| {
            self.reject("sources", reason);
            HashMap::new()
        })
    }
}

fn equipment_level(cell: &str) -> Option<pb::EquipmentLevel> {
    if cell.is_empty() {
        return Some(pb::EquipmentLevel::Unspecified);
    }
    let upper = cell.to_ascii_uppercase();
    let name = upper.strip_prefix("EQUIPMENT_LEVEL_").unwrap_or(&upper);
    match pb::EquipmentLevel::from_str_name(&format!("EQUIPMENT_LEVEL_{name}"))? {
        pb::EquipmentLevel::Unspecified => None,
        level => Some(level),
    }
}

fn yes_no(cell: &str) -> Option<bool> {
    match cell.to_ascii_lowercase().as_str() {
        "" | "false" | "no" | "0" => Some(false),
        "true" | "yes" | "1" => Some(true),
        _ => None,
    }
}

/// `indicator=SOURCE;…`; the indicator names are checked by the census.
fn sources(cell: &str) -> Result<HashMap<String, common::FigureSource>, String> {
    let mut map = HashMap::new();
    for pair in cell.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let (indicator, source) = pair
            .split_once('=')
            .ok_or_else(|| format!("{pair:?} is not indicator=SOURCE"))?;
        let upper = source.trim().to_ascii_uppercase();
        let name = upper.strip_prefix("FIGURE_SOURCE_").unwrap_or(&upper);
        let source = common::FigureSource::from_str_name(&format!("FIGURE_SOURCE_{name}"))
            .filter(|s| *s != common::FigureSource::Unspecified)
            .ok_or_else(|| {
                format!("{source:?} is not TAX, STATISTICS, LAND_REGISTRY or SELF_REPORTED")
            })?;
        if map.insert(indicator.trim().to_string(), source).is_some() {
            return Err(format!("{indicator:?} is named twice"));
        }
    }
    Ok(map)
}

/// FNV-1a, 64 bits: a small hash that is the same on every machine and every release.
struct Fnv1a(u64);

impl Fnv1a {
    fn new() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 ^= u64::from(*byte);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "uscc,period,employees_total,production_staff,rd_technical_staff,management_sales_staff,college_educated_staff,rd_spend_fen,revenue_fen,industrial_output_fen,tax_paid_fen,export_sales_fen,equipment_value_fen,automation_share_percent,invention_patents,utility_model_patents,design_patents,land_used_centi_mu";
    const ROW: &str = "91210381MA0Q12343L,2025,10,5,1,2,3,100,1000,900,50,0,300,12.5,0,1,2,150";

    /// A file that breaks after `good` bytes.
    struct Breaks {
        text: Vec<u8>,
        at: usize,
        good: usize,
    }

    impl Read for Breaks {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.at >= self.good {
                return Err(std::io::Error::other("the disk went away"));
            }
            let n = buf.len().min(self.good - self.at).min(7);
            buf[..n].copy_from_slice(&self.text[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    #[test]
    fn records_come_one_at_a_time_and_a_read_error_ends_them_after_the_rows_before_it() {
        let rows = (0..50)
            .map(|_| ROW)
            .collect::<Vec<_>>()
            .join("\n# between\n");
        let text = format!("{HEADER}\n{rows}\n").into_bytes();
        // Read in pieces of 7 bytes, with comments between the rows: the same lines as a
        // whole read.
        let whole = parse(text.as_slice()).unwrap();
        let pieces: Vec<i64> = Records::open(Breaks {
            good: text.len() + 1,
            text: text.clone(),
            at: 0,
        })
        .unwrap()
        .map(|record| match record {
            Ok(Record::Row(row)) => row.row_number,
            other => panic!("{other:?}"),
        })
        .take(50)
        .collect();
        let lines: Vec<i64> = whole.rows.iter().map(|r| r.row_number).collect();
        assert_eq!(pieces, lines);
        assert_eq!(lines[..3], [2, 4, 6]);
        // Broken half-way: the rows before the break, then the error, then nothing.
        let mut records = Records::open(Breaks {
            good: text.len() / 2,
            text,
            at: 0,
        })
        .unwrap();
        let mut before = 0;
        let err = loop {
            match records.next() {
                Some(Ok(Record::Row(_))) => before += 1,
                Some(Err(err)) => break err,
                other => panic!("{other:?}"),
            }
        };
        assert!(matches!(err, FileError::Read(_)), "{err}");
        assert!(
            (20..=25).contains(&before),
            "{before} rows before the break"
        );
        assert!(records.next().is_none());
    }

    #[test]
    fn rows_carry_their_line_numbers_past_comments() {
        let file = format!("# a comment\n{HEADER}\n{ROW}\n# another\n\n{ROW}\n");
        let parsed = parse(file.as_bytes()).unwrap();
        assert!(parsed.rejected.is_empty(), "{:?}", parsed.rejected);
        let lines: Vec<i64> = parsed.rows.iter().map(|r| r.row_number).collect();
        assert_eq!(lines, [3, 6]);
        let windows = parse(file.replace('\n', "\r\n").as_bytes()).unwrap();
        let lines: Vec<i64> = windows.rows.iter().map(|r| r.row_number).collect();
        assert_eq!(lines, [3, 6], "the same with CRLF line ends");
        let indicators = parsed.rows[0].indicators.unwrap();
        assert_eq!(indicators.revenue_fen, 1000);
        assert_eq!(indicators.automation_share_percent, 12.5);
        assert_eq!(indicators.energy_use_tce, None);
    }

    #[test]
    fn derived_ids_follow_the_content_not_the_layout() {
        let file = format!("{HEADER}\n{ROW}\n{}\n", ROW.replace(",10,5,", ",11,5,"));
        let parsed = parse(file.as_bytes()).unwrap();
        let (a, b) = (
            &parsed.rows[0].client_request_id,
            &parsed.rows[1].client_request_id,
        );
        assert!(a.starts_with("csv:91210381MA0Q12343L:2025:"), "{a}");
        assert_ne!(a, b, "a changed row is a new submission");
        let spaced = format!("{HEADER}\n{}\n", ROW.replace(',', " , "));
        assert_eq!(
            &parse(spaced.as_bytes()).unwrap().rows[0].client_request_id,
            a
        );
    }

    #[test]
    fn cells_that_do_not_parse_reject_their_row_by_column() {
        let header = format!("{HEADER},equipment_level,sources,rd_exceeds_revenue_flag");
        let bad = ROW.replace(",10,5,", ",ten,5,").replace(",12.5,", ",lots,");
        let file = format!(
            "{header}\n{bad},OUTDATED,,\n{ROW},SHINY,tax_paid_fen=TAX,maybe\n{ROW},,tax_paid_fen=GUESS,yes\n{ROW},outdated,tax_paid_fen=tax;land_used_centi_mu=LAND_REGISTRY,1\n{ROW}\n"
        );
        let parsed = parse(file.as_bytes()).unwrap();
        let rejected: Vec<(i64, &str)> = parsed
            .rejected
            .iter()
            .map(|r| (r.row_number, r.field.as_str()))
            .collect();
        assert_eq!(
            rejected,
            [
                (2, "employees_total"),
                (2, "automation_share_percent"),
                (3, "equipment_level"),
                (3, "rd_exceeds_revenue_flag"),
                (4, "sources"),
                (6, ""),
            ]
        );
        assert_eq!(parsed.rows.len(), 1);
        let row = &parsed.rows[0];
        assert_eq!(row.row_number, 5);
        assert!(row.indicators.unwrap().rd_exceeds_revenue_flag);
        assert_eq!(
            row.sources.as_ref().unwrap().by_indicator["land_used_centi_mu"],
            common::FigureSource::LandRegistry as i32
        );
    }

    #[test]
    fn a_header_with_a_missing_unknown_or_repeated_column_stops_the_import() {
        let missing = HEADER.replace(",tax_paid_fen", "");
        assert!(matches!(
            parse(format!("{missing}\n").as_bytes()),
            Err(FileError::MissingColumns(c)) if c == "tax_paid_fen"
        ));
        assert!(matches!(
            parse(format!("{HEADER},taxes\n").as_bytes()),
            Err(FileError::UnknownColumn(c)) if c == "taxes"
        ));
        assert!(matches!(
            parse(format!("{HEADER},uscc\n").as_bytes()),
            Err(FileError::DuplicateColumn(_))
        ));
    }

    #[test]
    fn the_sample_file_parses_with_its_one_malformed_cell_and_one_short_row() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../census/samples/census-returns.csv"
        );
        let parsed = parse(std::fs::File::open(path).unwrap()).unwrap();
        let rejected: Vec<(i64, &str)> = parsed
            .rejected
            .iter()
            .map(|r| (r.row_number, r.field.as_str()))
            .collect();
        assert_eq!(rejected, [(21, "employees_total"), (27, "")]);
        assert_eq!(parsed.rows.len(), 13);
    }
}
