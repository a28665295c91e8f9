//! `haicheng census …`: the census service from the command line.
//!
//! `haicheng census submit --uscc U --period P --request-id ID --file return.json` submits
//! one return (or a correction, which becomes a new revision); the file holds its figures as
//! JSON ([`crate::return_file`]; `-` reads stdin). The request id is the idempotency key:
//! sending the same submission again changes nothing and prints the original revision.
//! Exit codes as for every client command ([`crate::errors`]): 1 with one line per bad field
//! when the census refuses the return.
//!
//! `haicheng census import FILE.csv` reads a census import CSV (format in [`crate::census_csv`]
//! and the README, "Census import CSV") one row at a time and streams its rows to
//! `ImportReturns` while it reads (a file of any size, in constant memory), showing progress
//! on stderr (rows sent and acknowledged, rate: a bar on a terminal, a line every 10 s
//! otherwise), and prints the report: rows accepted, how many of them were already imported,
//! and each rejected row with its number, column or field, and reason.
//!
//! Exit codes of the import: 0 every row accepted; 1 the import ran and some rows were
//! rejected; 2 bad arguments or a file that cannot be imported (nothing sent); 3 the call
//! failed (service unreachable, token refused): rows of completed calls are stored, and
//! running the same file again is safe.

use std::{
    io::{IsTerminal, Read},
    path::PathBuf,
    process::ExitCode,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use clap::{Args, Subcommand};
use haicheng_proto::{
    census::v1::{self as pb, census_service_client::CensusServiceClient},
    common::v1 as common,
};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use tonic::{Status, transport::Endpoint};

use crate::{
    Context, census_csv,
    client::{self, Bearer, call},
    errors::CliError,
    output::{self, Format},
    return_file,
};

/// Rows sent per `ImportReturns` call: half the census's default cap on one call
/// (`CENSUS_IMPORT_MAX_ROWS`, 200,000), so a longer file goes as several calls. A call has no
/// deadline for its length, only for silence between rows (`STREAM_IDLE_TIMEOUT_MS`).
const ROWS_PER_CALL: usize = 100_000;

/// Rows read ahead of the stream.
const READ_AHEAD: usize = 4_096;

#[derive(Subcommand)]
pub enum CensusCommand {
    /// Submit one census return, or a correction of one (needs census.write).
    #[command(after_long_help = SUBMIT_FILE_HELP)]
    Submit(SubmitArgs),
    /// Import census returns from a CSV file (format: README, "Census import CSV").
    Import(ImportArgs),
}

/// The return file's format, under `haicheng census submit --help`.
const SUBMIT_FILE_HELP: &str = r#"The return file holds the figures, field names as in CensusIndicators of the census proto:

  {
    "indicators": {
      "employees_total": 120, "production_staff": 80, "rd_technical_staff": 12,
      "management_sales_staff": 28, "college_educated_staff": 30,
      "rd_spend_fen": 150000000, "revenue_fen": 4800000000,
      "industrial_output_fen": 4500000000, "tax_paid_fen": 210000000,
      "export_sales_fen": 900000000, "equipment_value_fen": 1200000000,
      "automation_share_percent": 42.5, "equipment_level": "DOMESTIC_ADVANCED",
      "invention_patents": 2, "utility_model_patents": 7, "design_patents": 15,
      "land_used_centi_mu": 3120, "energy_use_tce": 640,
      "rd_exceeds_revenue_flag": false
    },
    "sources": { "tax_paid_fen": "TAX", "land_used_centi_mu": "LAND_REGISTRY" }
  }

Every indicator is required except equipment_level, energy_use_tce and rd_exceeds_revenue_flag;
money in fen, land in hundredths of a mu; sources are optional (TAX, STATISTICS, LAND_REGISTRY,
SELF_REPORTED). Unknown keys are refused. A figure may also be named by its JSON name
(employeesTotal), and sources may be {"byIndicator": {...}}: the indicators and sources of a
return printed by `haicheng enterprise show -o json` can be sent as they are."#;

#[derive(Args)]
pub struct SubmitArgs {
    /// USCC of a registered, active enterprise.
    #[arg(long)]
    uscc: String,
    /// Census period: a year (2025) or a quarter (2025Q3).
    #[arg(long)]
    period: String,
    /// Idempotency key chosen by you (a UUID, say): a repeat returns the original result.
    #[arg(long, value_name = "ID")]
    request_id: String,
    /// The figures as JSON (format below); `-` reads them from stdin.
    #[arg(long, value_name = "return.json")]
    file: PathBuf,
}

#[derive(Args)]
pub struct ImportArgs {
    /// The CSV file.
    #[arg(value_name = "FILE.csv")]
    file: PathBuf,
}

pub async fn run(command: CensusCommand, context: &Context) -> ExitCode {
    match command {
        CensusCommand::Submit(args) => crate::finish(submit(args, context).await, context),
        CensusCommand::Import(args) => import(args, context).await,
    }
}

async fn submit(args: SubmitArgs, context: &Context) -> Result<(), CliError> {
    let text = read_input(&args.file)
        .map_err(|e| CliError::usage(format!("{}: {e}", args.file.display())))?;
    let (indicators, sources) = return_file::parse(&text)
        .map_err(|e| CliError::usage(format!("{}: {e}", args.file.display())))?;
    let mut census = context.connect.census().await?;
    let reply = census
        .submit_return(call(pb::SubmitReturnRequest {
            client_request_id: args.request_id.trim().to_string(),
            uscc: args.uscc.trim().to_string(),
            period: Some(common::Period {
                code: args.period.trim().to_string(),
            }),
            indicators: Some(indicators),
            sources: Some(sources),
        }))
        .await?
        .into_inner();
    match context.format {
        Format::Table => output::emit(&render_submitted(&reply)),
        Format::Json => output::emit(&output::json(&reply)),
    }
    Ok(())
}

/// A file's text, or stdin's for `-`.
fn read_input(path: &std::path::Path) -> std::io::Result<String> {
    if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text)?;
        Ok(text)
    } else {
        std::fs::read_to_string(path)
    }
}

fn render_submitted(reply: &pb::SubmitReturnResponse) -> String {
    let Some(r) = &reply.census_return else {
        return "the census answered without the return\n".to_string();
    };
    let what = if reply.duplicate {
        "already submitted with this request id: nothing new stored"
    } else if r.revision > 1 {
        "correction accepted"
    } else {
        "return accepted"
    };
    format!(
        "{what}\n{}",
        output::fields(&[
            ("uscc", r.uscc.clone()),
            ("period", output::period(r.period.as_ref())),
            ("revision", r.revision.to_string()),
            ("submitted", output::time(r.submitted_at.as_ref())),
            ("by", r.submitted_by.clone()),
            ("request id", r.client_request_id.clone()),
        ])
    )
}

async fn import(args: ImportArgs, context: &Context) -> ExitCode {
    let opened = std::fs::File::open(&args.file)
        .and_then(|file| Ok((file.metadata()?.len(), file)))
        .map_err(census_csv::FileError::from)
        .and_then(|(size, file)| {
            census_csv::Records::open(std::io::BufReader::with_capacity(1 << 16, file))
                .map(|records| (size, records))
        });
    let (size, records) = match opened {
        Ok(opened) => opened,
        Err(err) => {
            eprintln!("error: {}: {err}", args.file.display());
            return ExitCode::from(2);
        }
    };
    let token = match context.connect.bearer() {
        Ok(token) => token,
        Err(err) => return crate::finish(Err(err), context),
    };
    let address = &context.connect.census;
    let endpoint = match client::endpoint(address) {
        Ok(endpoint) => endpoint,
        Err(err) => {
            eprintln!("error: --census {address:?}: {err}");
            return ExitCode::from(2);
        }
    };

    let progress = Progress::new(size, "bytes");
    let items = read_in_background(records, progress.clone());
    let result = send_items(endpoint, token, items, &progress).await;
    progress.finish();
    let imported = match result {
        Ok(imported) => imported,
        Err(err) => {
            eprintln!("error: the import failed: {err}");
            eprintln!("rows of completed calls are stored; importing the same file again is safe");
            return ExitCode::from(3);
        }
    };
    if let Some(err) = imported.read_error {
        eprintln!("error: {}: {err}", args.file.display());
        eprintln!("the rows before it were imported; importing the same file again is safe");
        return ExitCode::from(2);
    }
    let mut report = imported.report;
    report.rejected_rows.extend(imported.rejected_before);
    report.rejected_rows.sort_by_key(|r| r.row_number);
    let file = args.file.display().to_string();
    match context.format {
        Format::Table => output::emit(&render(&file, imported.rows, &report)),
        Format::Json => output::emit(&output::json(&ImportReport {
            file: &file,
            rows: imported.rows,
            report: &report,
        })),
    }
    if report.rejected_rows.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

pub(crate) fn progress_bar(rows: u64) -> ProgressBar {
    let bar = ProgressBar::new(rows);
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} importing [{bar:40}] {pos}/{len} rows ({per_sec}, {eta})",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// An import's progress on stderr: a bar over the file (or the rows) with the rows sent and
/// acknowledged and the rate when stderr is a terminal; otherwise a plain line every 10 s.
#[derive(Clone)]
pub(crate) struct Progress(Arc<ProgressState>);

struct ProgressState {
    bar: Option<ProgressBar>,
    sent: AtomicU64,
    acknowledged: AtomicU64,
    /// How far through the whole (bytes of the file, or rows).
    done: AtomicU64,
    total: u64,
    unit: &'static str,
    started: Instant,
    last_line: Mutex<Instant>,
}

impl Progress {
    /// Progress over `total` `unit`s (the file's bytes, or the rows).
    pub(crate) fn new(total: u64, unit: &'static str) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(total);
            if let Ok(style) = ProgressStyle::with_template(
                "{spinner} importing [{bar:40}] {percent:>3}% {msg} ({eta})",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar
        });
        let now = Instant::now();
        Self(Arc::new(ProgressState {
            bar,
            sent: AtomicU64::new(0),
            acknowledged: AtomicU64::new(0),
            done: AtomicU64::new(0),
            total,
            unit,
            started: now,
            last_line: Mutex::new(now),
        }))
    }

    fn read_to(&self, done: u64) {
        self.0.done.store(done, Ordering::Relaxed);
    }

    fn sent(&self) {
        let sent = self.0.sent.fetch_add(1, Ordering::Relaxed) + 1;
        if self.0.unit == "rows" {
            self.0.done.store(sent, Ordering::Relaxed);
        }
        if sent.is_multiple_of(256) {
            self.show();
        }
    }

    fn acknowledged(&self, rows: u64) {
        self.0.acknowledged.fetch_add(rows, Ordering::Relaxed);
        self.show();
    }

    fn message(&self) -> String {
        let state = &self.0;
        let sent = state.sent.load(Ordering::Relaxed);
        let rate = sent as f64 / state.started.elapsed().as_secs_f64().max(1e-3);
        format!(
            "{sent} rows sent, {} acknowledged, {rate:.0} rows/s",
            state.acknowledged.load(Ordering::Relaxed)
        )
    }

    fn show(&self) {
        let state = &self.0;
        let done = state.done.load(Ordering::Relaxed);
        if let Some(bar) = &state.bar {
            bar.set_position(done);
            bar.set_message(self.message());
            return;
        }
        let mut last = state.last_line.lock().unwrap_or_else(|p| p.into_inner());
        if last.elapsed() >= Duration::from_secs(10) {
            *last = Instant::now();
            let share = done as f64 * 100.0 / state.total.max(1) as f64;
            eprintln!(
                "importing: {}; {share:.0} % of the {}",
                self.message(),
                if state.unit == "rows" { "rows" } else { "file" }
            );
        }
    }

    pub(crate) fn finish(&self) {
        if let Some(bar) = &self.0.bar {
            bar.finish_and_clear();
        }
    }
}

/// What the file reader hands to the stream (mostly rows, so the row is not boxed).
#[allow(clippy::large_enum_variant)]
enum Item {
    Row(pb::ImportReturnsRow),
    Rejected(Vec<pb::RejectedRow>),
    Failed(census_csv::FileError),
}

/// Reads the file on a thread of its own, a bounded number of rows ahead of the stream.
fn read_in_background(
    records: census_csv::Records<impl Read + Send + 'static>,
    progress: Progress,
) -> tokio::sync::mpsc::Receiver<Item> {
    let (tx, rx) = tokio::sync::mpsc::channel(READ_AHEAD);
    tokio::task::spawn_blocking(move || {
        let mut records = records;
        while let Some(record) = records.next() {
            progress.read_to(records.position());
            let item = match record {
                Ok(census_csv::Record::Row(row)) => Item::Row(row),
                Ok(census_csv::Record::Rejected(rejected)) => Item::Rejected(rejected),
                Err(err) => Item::Failed(err),
            };
            if tx.blocking_send(item).is_err() {
                break;
            }
        }
    });
    rx
}

/// An import's outcome: the service's report over every call, the rows refused before
/// sending, the file's rows, and a read error that ended it early.
#[derive(Default)]
pub(crate) struct Imported {
    pub report: pb::ImportReturnsResponse,
    pub rejected_before: Vec<pb::RejectedRow>,
    pub rows: usize,
    read_error: Option<census_csv::FileError>,
}

/// The rows of `items` not yet sent, shared by the calls of one import.
struct Source {
    items: tokio::sync::mpsc::Receiver<Item>,
    rejected: Vec<pb::RejectedRow>,
    rejected_rows: usize,
    rows: usize,
    failed: Option<census_csv::FileError>,
}

impl Source {
    /// The next row to send, keeping the rows refused before sending on the way.
    async fn next_row(&mut self) -> Option<pb::ImportReturnsRow> {
        loop {
            match self.items.recv().await? {
                Item::Row(row) => {
                    self.rows += 1;
                    return Some(row);
                }
                Item::Rejected(mut rejected) => {
                    self.rows += 1;
                    self.rejected_rows += 1;
                    self.rejected.append(&mut rejected);
                }
                Item::Failed(err) => {
                    self.failed = Some(err);
                    return None;
                }
            }
        }
    }
}

/// Streams the rows of a list in calls of [`ROWS_PER_CALL`] and adds up the replies.
pub(crate) async fn send(
    endpoint: Endpoint,
    token: Bearer,
    rows: Vec<pb::ImportReturnsRow>,
    bar: &ProgressBar,
) -> Result<pb::ImportReturnsResponse, Status> {
    let total = rows.len() as u64;
    let (tx, items) = tokio::sync::mpsc::channel(READ_AHEAD);
    tokio::spawn(async move {
        for row in rows {
            if tx.send(Item::Row(row)).await.is_err() {
                break;
            }
        }
    });
    // The caller's bar stands for the rows; it is kept in step at the end.
    let progress = Progress::new(total, "rows");
    let imported = send_items(endpoint, token, items, &progress).await;
    progress.finish();
    bar.set_position(total);
    Ok(imported?.report)
}

/// Streams `items` in calls of [`ROWS_PER_CALL`] rows, each call's stream taking the rows as
/// they are read, and adds up the replies.
async fn send_items(
    endpoint: Endpoint,
    token: Bearer,
    items: tokio::sync::mpsc::Receiver<Item>,
    progress: &Progress,
) -> Result<Imported, Status> {
    let channel = endpoint
        .connect()
        .await
        .map_err(|e| Status::unavailable(format!("connecting: {e}")))?;
    let mut client = CensusServiceClient::with_interceptor(channel, token)
        .max_encoding_message_size(64 << 20)
        .max_decoding_message_size(64 << 20);
    let source = Arc::new(tokio::sync::Mutex::new(Source {
        items,
        rejected: Vec::new(),
        rejected_rows: 0,
        rows: 0,
        failed: None,
    }));
    let mut total = pb::ImportReturnsResponse::default();
    loop {
        let Some(first) = source.lock().await.next_row().await else {
            break;
        };
        progress.sent();
        let rest = futures::stream::unfold(
            (source.clone(), progress.clone(), 1usize),
            |(source, progress, sent)| async move {
                if sent >= ROWS_PER_CALL {
                    return None;
                }
                let row = source.lock().await.next_row().await?;
                progress.sent();
                Some((row, (source, progress, sent + 1)))
            },
        );
        let stream = futures::stream::once(async move { first }).chain(rest);
        let reply = client.import_returns(stream).await?.into_inner();
        progress.acknowledged((reply.accepted_count + reply_rejected_rows(&reply)) as u64);
        total.accepted_count += reply.accepted_count;
        total.duplicate_count += reply.duplicate_count;
        total.rejected_rows.extend(reply.rejected_rows);
    }
    let mut source = source.lock().await;
    Ok(Imported {
        report: total,
        rejected_before: std::mem::take(&mut source.rejected),
        rows: source.rows,
        read_error: source.failed.take(),
    })
}

/// Rows a reply refused (a row with several bad fields counts once).
fn reply_rejected_rows(reply: &pb::ImportReturnsResponse) -> i64 {
    let mut rows: Vec<i64> = reply.rejected_rows.iter().map(|r| r.row_number).collect();
    rows.sort_unstable();
    rows.dedup();
    rows.len() as i64
}

use futures::StreamExt as _;

/// The report as printed.
fn render(file: &str, rows: usize, report: &pb::ImportReturnsResponse) -> String {
    let mut rejected_rows: Vec<i64> = report.rejected_rows.iter().map(|r| r.row_number).collect();
    rejected_rows.dedup();
    let mut out = format!(
        "{file}: {rows} rows\n  accepted   {} ({} already imported before)\n  rejected   {}\n",
        report.accepted_count,
        report.duplicate_count,
        rejected_rows.len()
    );
    for row in &report.rejected_rows {
        let field = if row.field.is_empty() {
            "row".to_string()
        } else {
            row.field.clone()
        };
        out.push_str(&format!(
            "    row {:>5}  {field}: {}\n",
            row.row_number, row.reason
        ));
    }
    out
}

/// The JSON of an import: the file, its rows, and the service's report beside them.
#[derive(Serialize)]
struct ImportReport<'a> {
    file: &'a str,
    rows: usize,
    #[serde(flatten)]
    report: &'a pb::ImportReturnsResponse,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_lists_each_rejected_row_with_its_field_and_reason() {
        let report = pb::ImportReturnsResponse {
            accepted_count: 7,
            duplicate_count: 2,
            rejected_rows: vec![
                pb::RejectedRow {
                    row_number: 13,
                    field: "indicators.tax_paid_fen".into(),
                    reason: "must not be negative (found -5)".into(),
                },
                pb::RejectedRow {
                    row_number: 27,
                    field: String::new(),
                    reason: "has 4 cells, the header has 23".into(),
                },
            ],
        };
        let text = render("returns.csv", 9, &report);
        assert_eq!(
            text,
            "returns.csv: 9 rows\n  accepted   7 (2 already imported before)\n  rejected   2\n    row    13  indicators.tax_paid_fen: must not be negative (found -5)\n    row    27  row: has 4 cells, the header has 23\n"
        );
    }

    fn submitted(revision: i64, duplicate: bool) -> pb::SubmitReturnResponse {
        pb::SubmitReturnResponse {
            census_return: Some(pb::CensusReturn {
                uscc: "91210381MA0Q12343L".into(),
                period: Some(common::Period {
                    code: "2025".into(),
                }),
                revision,
                submitted_by: "department:commerce".into(),
                client_request_id: "r-1".into(),
                ..Default::default()
            }),
            duplicate,
        }
    }

    #[test]
    fn a_submission_says_whether_it_stored_a_return_a_correction_or_nothing() {
        let text = render_submitted(&submitted(1, false));
        assert_eq!(
            text,
            "return accepted\nuscc        91210381MA0Q12343L\nperiod      2025\nrevision    1\nsubmitted   -\nby          department:commerce\nrequest id  r-1\n"
        );
        assert!(render_submitted(&submitted(2, false)).starts_with("correction accepted\n"));
        assert!(render_submitted(&submitted(2, true)).starts_with("already submitted"));
        let value = serde_json::to_value(submitted(2, true)).unwrap();
        assert_eq!(value["duplicate"], true);
        assert_eq!(value["censusReturn"]["revision"], 2);
        assert_eq!(value["censusReturn"]["period"], "2025");
    }

    #[test]
    fn the_import_report_as_json_lists_the_rejected_rows() {
        let report = pb::ImportReturnsResponse {
            accepted_count: 3,
            duplicate_count: 1,
            rejected_rows: vec![pb::RejectedRow {
                row_number: 9,
                field: "period".into(),
                reason: "expected YYYY or YYYYQn".into(),
            }],
        };
        let value = serde_json::to_value(ImportReport {
            file: "r.csv",
            rows: 4,
            report: &report,
        })
        .unwrap();
        assert_eq!(value["acceptedCount"], 3);
        assert_eq!(value["rejectedRows"][0]["rowNumber"], 9);
        assert_eq!(value["rejectedRows"][0]["field"], "period");
    }
}
