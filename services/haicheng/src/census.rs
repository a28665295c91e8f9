//! `haicheng census …`: the census service from the command line.
//!
//! `haicheng census import FILE.csv` reads a census import CSV (format in [`crate::census_csv`]
//! and the README, "Census import CSV"), streams its rows to `ImportReturns` with a progress
//! bar, and prints the report: rows accepted, how many of them were already imported, and
//! each rejected row with its number, column or field, and reason.
//!
//! Exit codes: 0 every row accepted; 1 the import ran and some rows were rejected; 2 bad
//! arguments or a file that cannot be imported (nothing sent); 3 the call failed (service
//! unreachable, token refused): rows of completed calls are stored, and running the same file
//! again is safe.

use std::{path::PathBuf, process::ExitCode};

use clap::{Args, Subcommand};
use haicheng_proto::census::v1::{self as pb, census_service_client::CensusServiceClient};
use indicatif::{ProgressBar, ProgressStyle};
use tonic::{Status, transport::Endpoint};

use crate::{
    census_csv,
    client::{self, Bearer},
};

/// Environment variables of the census commands, declared once.
pub mod vars {
    /// Bearer token for the census service.
    pub const TOKEN: &str = "HAICHENG_TOKEN";
    /// Address of the census service, `HOST:PORT`.
    pub const CENSUS_ADDR: &str = "HAICHENG_CENSUS_ADDR";
}

/// Rows sent per `ImportReturns` call: each call is one request under the service's
/// deadline, so a long file goes as several calls.
const ROWS_PER_CALL: usize = 2_000;

#[derive(Subcommand)]
pub enum CensusCommand {
    /// Import census returns from a CSV file (format: README, "Census import CSV").
    Import(ImportArgs),
}

#[derive(Args)]
pub struct ImportArgs {
    /// The CSV file.
    #[arg(value_name = "FILE.csv")]
    file: PathBuf,
    /// Address of the census service.
    #[arg(long = "census", value_name = "HOST:PORT", env = vars::CENSUS_ADDR, default_value = "127.0.0.1:50051")]
    address: String,
    /// Bearer token with the census.write scope (locally: dev-census-import or dev-commerce).
    #[arg(long, env = vars::TOKEN, hide_env_values = true)]
    token: String,
}

pub async fn run(command: CensusCommand) -> ExitCode {
    match command {
        CensusCommand::Import(args) => import(args).await,
    }
}

async fn import(args: ImportArgs) -> ExitCode {
    let parsed = match std::fs::File::open(&args.file)
        .map_err(census_csv::FileError::from)
        .and_then(census_csv::parse)
    {
        Ok(parsed) => parsed,
        Err(err) => {
            eprintln!("error: {}: {err}", args.file.display());
            return ExitCode::from(2);
        }
    };
    let token = match Bearer::new(&args.token) {
        Ok(token) => token,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::from(2);
        }
    };
    let endpoint = match client::endpoint(&args.address) {
        Ok(endpoint) => endpoint,
        Err(err) => {
            eprintln!("error: --census {:?}: {err}", args.address);
            return ExitCode::from(2);
        }
    };

    let total = parsed.rows.len() + parsed.rejected_row_count();
    let bar = progress_bar(parsed.rows.len() as u64);
    let result = send(endpoint, token, parsed.rows, &bar).await;
    bar.finish_and_clear();
    let mut report = match result {
        Ok(report) => report,
        Err(err) => {
            eprintln!("error: the import failed: {err}");
            eprintln!("rows of completed calls are stored; importing the same file again is safe");
            return ExitCode::from(3);
        }
    };
    report.rejected_rows.extend(parsed.rejected);
    report.rejected_rows.sort_by_key(|r| r.row_number);
    print!(
        "{}",
        render(&args.file.display().to_string(), total, &report)
    );
    if report.rejected_rows.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

impl census_csv::Parsed {
    /// Rows refused before sending (a row with several bad cells counts once).
    fn rejected_row_count(&self) -> usize {
        let mut rows: Vec<i64> = self.rejected.iter().map(|r| r.row_number).collect();
        rows.dedup();
        rows.len()
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

/// Streams the rows in calls of [`ROWS_PER_CALL`] and adds up the replies.
pub(crate) async fn send(
    endpoint: Endpoint,
    token: Bearer,
    rows: Vec<pb::ImportReturnsRow>,
    bar: &ProgressBar,
) -> Result<pb::ImportReturnsResponse, Status> {
    let channel = endpoint
        .connect()
        .await
        .map_err(|e| Status::unavailable(format!("connecting: {e}")))?;
    let mut client = CensusServiceClient::with_interceptor(channel, token);
    let mut total = pb::ImportReturnsResponse::default();
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<pb::ImportReturnsRow> = rows.by_ref().take(ROWS_PER_CALL).collect();
        let progress = bar.clone();
        let stream = tokio_stream::iter(chunk).map(move |row| {
            progress.inc(1);
            row
        });
        let reply = client.import_returns(stream).await?.into_inner();
        total.accepted_count += reply.accepted_count;
        total.duplicate_count += reply.duplicate_count;
        total.rejected_rows.extend(reply.rejected_rows);
    }
    Ok(total)
}

use tokio_stream::StreamExt as _;

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
}
