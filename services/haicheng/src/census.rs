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
//! and the README, "Census import CSV"), streams its rows to `ImportReturns` with a progress
//! bar, and prints the report: rows accepted, how many of them were already imported, and
//! each rejected row with its number, column or field, and reason.
//!
//! Exit codes of the import: 0 every row accepted; 1 the import ran and some rows were
//! rejected; 2 bad arguments or a file that cannot be imported (nothing sent); 3 the call
//! failed (service unreachable, token refused): rows of completed calls are stored, and
//! running the same file again is safe.

use std::{io::Read, path::PathBuf, process::ExitCode};

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

/// Rows sent per `ImportReturns` call: each call is one request under the service's
/// deadline, so a long file goes as several calls.
const ROWS_PER_CALL: usize = 2_000;

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
    let file = args.file.display().to_string();
    match context.format {
        Format::Table => output::emit(&render(&file, total, &report)),
        Format::Json => output::emit(&output::json(&ImportReport {
            file: &file,
            rows: total,
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
