//! `haicheng enterprise …`: the census registry and the enterprise file (一企一档).
//!
//! - `enterprise show USCC [--as-of TIME] [--all-revisions]`: the registry record and the
//!   census returns (per period the latest revision, or every revision), now or as known at a
//!   past time. Each read is written to the census audit log.
//! - `enterprise list [--park P] [--segment S] [--industry-class C] [--status S] [--name TEXT]
//!   [--page-size N] [--page-token T] [--all]`: enterprises ordered by USCC, one page, or
//!   every page with `--all`.
//!
//! Needs a token with `census.read` (every department's development token has it).

use clap::{Args, Subcommand};
use haicheng_proto::{census::v1 as pb, common::v1 as common};

use crate::{
    Context,
    client::{self, call},
    enums,
    errors::CliError,
    output::{self, Format, Table, hundredths},
};

#[derive(Subcommand)]
pub enum EnterpriseCommand {
    /// The file of one enterprise: registry record and census returns.
    Show(ShowArgs),
    /// Enterprises, filtered, ordered by USCC.
    List(ListArgs),
}

#[derive(Args)]
pub struct ShowArgs {
    /// USCC of the enterprise.
    uscc: String,
    /// The file as it was known at this time (RFC 3339, e.g. 2025-06-30T00:00:00+08:00).
    #[arg(long, value_name = "TIME", value_parser = output::parse_time)]
    as_of: Option<prost_types::Timestamp>,
    /// Every revision of every return, not only the latest per period.
    #[arg(long)]
    all_revisions: bool,
}

#[derive(Args)]
pub struct ListArgs {
    /// Only this park: XILIU, NANTAI, GANWANG or ZHONGXIAO (any case).
    #[arg(long, value_parser = enums::parse::<common::Park>)]
    park: Option<common::Park>,
    /// Only this segment: TEXTILE, APPAREL, LUGGAGE_LEATHER or TRADE (any case).
    #[arg(long, value_parser = enums::parse::<common::Segment>)]
    segment: Option<common::Segment>,
    /// Only this four-digit industry class (GB/T 4754-2017), e.g. 1922.
    #[arg(long, value_name = "CLASS")]
    industry_class: Option<String>,
    /// Only this status: ACTIVE or DEREGISTERED (any case).
    #[arg(long, value_parser = enums::parse::<pb::EnterpriseStatus>)]
    status: Option<pb::EnterpriseStatus>,
    /// Only names containing this text (case-insensitive).
    #[arg(long, value_name = "TEXT")]
    name: Option<String>,
    #[command(flatten)]
    paging: client::Paging,
}

pub async fn run(command: EnterpriseCommand, context: &Context) -> Result<(), CliError> {
    match command {
        EnterpriseCommand::Show(args) => show(args, context).await,
        EnterpriseCommand::List(args) => list(args, context).await,
    }
}

async fn show(args: ShowArgs, context: &Context) -> Result<(), CliError> {
    let mut census = context.connect.census().await?;
    let view = View {
        as_of: args.as_of,
        all_revisions: args.all_revisions,
    };
    let file = census
        .get_enterprise_file(call(pb::GetEnterpriseFileRequest {
            uscc: args.uscc.trim().to_string(),
            as_of: view.as_of,
            all_revisions: view.all_revisions,
        }))
        .await?
        .into_inner();
    match context.format {
        Format::Table => output::emit(&render_file(&file, &view)),
        Format::Json => output::emit(&output::json(&file)),
    }
    Ok(())
}

impl ListArgs {
    fn request(&self, page_token: String) -> pb::ListEnterprisesRequest {
        pb::ListEnterprisesRequest {
            park: self.park.map_or(0, |p| p as i32),
            segment: self.segment.map_or(0, |s| s as i32),
            industry_class: self.industry_class.clone().unwrap_or_default(),
            status: self.status.map_or(0, |s| s as i32),
            name_contains: self.name.clone().unwrap_or_default(),
            page_size: self.paging.page_size.unwrap_or(0),
            page_token,
        }
    }
}

async fn list(args: ListArgs, context: &Context) -> Result<(), CliError> {
    let census = context.connect.census().await?;
    let (enterprises, next_page_token) = client::pages(
        args.paging.all,
        args.paging.page_token.clone(),
        "enterprises",
        |token| {
            let mut census = census.clone();
            let request = call(args.request(token));
            async move {
                let page = census.list_enterprises(request).await?.into_inner();
                Ok((page.enterprises, page.next_page_token))
            }
        },
    )
    .await?;
    let page = pb::ListEnterprisesResponse {
        enterprises,
        next_page_token,
    };
    match context.format {
        Format::Table => {
            output::emit(&render_list(&page.enterprises));
            more_hint(&page.next_page_token);
        }
        Format::Json => output::emit(&output::json(&page)),
    }
    Ok(())
}

/// On stderr, so that stdout stays the table: how to read on.
pub(crate) fn more_hint(next_page_token: &str) {
    if !next_page_token.is_empty() {
        eprintln!("more: --page-token {next_page_token} for the next page, or --all");
    }
}

/// How the file was asked for, for the heading of the returns.
struct View {
    as_of: Option<prost_types::Timestamp>,
    all_revisions: bool,
}

fn render_list(enterprises: &[pb::Enterprise]) -> String {
    if enterprises.is_empty() {
        return "no enterprises match\n".to_string();
    }
    let mut table = Table::new(&[
        "USCC", "NAME", "PARK", "SEGMENT", "CLASS", "SIZE", "STATUS", "VERSION",
    ])
    .numeric(&[7]);
    for e in enterprises {
        table.row(vec![
            e.uscc.clone(),
            e.name.clone(),
            enums::short::<common::Park>(e.park),
            enums::short::<common::Segment>(e.segment),
            e.industry_class.clone(),
            enums::short::<pb::EnterpriseSize>(e.size),
            enums::short::<pb::EnterpriseStatus>(e.status),
            e.version.to_string(),
        ]);
    }
    table.render()
}

fn render_file(file: &pb::GetEnterpriseFileResponse, view: &View) -> String {
    let mut out = match &file.enterprise {
        Some(e) => render_enterprise(e),
        None => String::new(),
    };
    let which = if view.all_revisions {
        "every revision"
    } else {
        "latest revision per period"
    };
    let when = match &view.as_of {
        Some(t) => format!(", as known at {}", output::time(Some(t))),
        None => String::new(),
    };
    out.push_str(&format!("\ncensus returns ({which}{when})\n"));
    if file.returns.is_empty() {
        out.push_str("none\n");
    } else {
        out.push_str(&render_returns(&file.returns));
    }
    out
}

fn render_enterprise(e: &pb::Enterprise) -> String {
    let vetoes: Vec<&str> = [
        (e.safety_violation, "safety"),
        (e.environmental_violation, "environmental"),
        (e.tax_credit_violation, "tax credit"),
    ]
    .into_iter()
    .filter_map(|(on, name)| on.then_some(name))
    .collect();
    let mut status = enums::short::<pb::EnterpriseStatus>(e.status);
    if !e.deregistration_reason.is_empty() {
        status.push_str(&format!(" ({})", e.deregistration_reason));
    }
    output::fields(&[
        ("uscc", e.uscc.clone()),
        ("name", e.name.clone()),
        ("legal representative", e.legal_representative.clone()),
        ("park", enums::short::<common::Park>(e.park)),
        (
            "industry class",
            format!(
                "{} ({})",
                e.industry_class,
                enums::short::<common::Segment>(e.segment)
            ),
        ),
        ("size", enums::short::<pb::EnterpriseSize>(e.size)),
        ("registration date", e.registration_date.clone()),
        ("status", status),
        (
            "vetoes",
            if vetoes.is_empty() {
                "none".to_string()
            } else {
                vetoes.join(", ")
            },
        ),
        ("version", e.version.to_string()),
        ("registered", output::time(e.created_at.as_ref())),
        ("changed", output::time(e.updated_at.as_ref())),
    ])
}

fn render_returns(returns: &[pb::CensusReturn]) -> String {
    let mut table = Table::new(&[
        "PERIOD",
        "REV",
        "SUBMITTED",
        "BY",
        "EMPLOYEES",
        "REVENUE (YUAN)",
        "OUTPUT (YUAN)",
        "TAX (YUAN)",
        "R&D (YUAN)",
        "PATENTS",
        "LAND (MU)",
    ])
    .numeric(&[1, 4, 5, 6, 7, 8, 9, 10]);
    for r in returns {
        let i = r.indicators.unwrap_or_default();
        table.row(vec![
            output::period(r.period.as_ref()),
            r.revision.to_string(),
            output::time(r.submitted_at.as_ref()),
            r.submitted_by.clone(),
            i.employees_total.to_string(),
            hundredths(i.revenue_fen),
            hundredths(i.industrial_output_fen),
            hundredths(i.tax_paid_fen),
            hundredths(i.rd_spend_fen),
            (i.invention_patents + i.utility_model_patents + i.design_patents).to_string(),
            hundredths(i.land_used_centi_mu),
        ]);
    }
    table.render()
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use serde_json::{Value, json};

    use super::*;

    fn enterprise() -> pb::Enterprise {
        pb::Enterprise {
            uscc: "91210381MA0Q12343L".into(),
            name: "海城市南台箱包有限公司".into(),
            legal_representative: "张伟".into(),
            park: common::Park::Nantai as i32,
            industry_class: "1922".into(),
            segment: common::Segment::LuggageLeather as i32,
            size: pb::EnterpriseSize::Small as i32,
            registration_date: "2016-05-20".into(),
            status: pb::EnterpriseStatus::Active as i32,
            safety_violation: true,
            version: 3,
            created_at: Some(prost_types::Timestamp {
                seconds: 1_700_000_000,
                nanos: 0,
            }),
            ..Default::default()
        }
    }

    fn census_return() -> pb::CensusReturn {
        pb::CensusReturn {
            uscc: "91210381MA0Q12343L".into(),
            period: Some(common::Period {
                code: "2025".into(),
            }),
            revision: 2,
            indicators: Some(pb::CensusIndicators {
                employees_total: 124,
                revenue_fen: 4_800_000_000,
                tax_paid_fen: 210_000_000,
                invention_patents: 2,
                design_patents: 15,
                land_used_centi_mu: 3120,
                equipment_level: pb::EquipmentLevel::DomesticAdvanced as i32,
                ..Default::default()
            }),
            sources: Some(pb::FigureSources {
                by_indicator: [("tax_paid_fen".to_string(), 2)].into(),
            }),
            submitted_by: "department:commerce".into(),
            client_request_id: "r-1".into(),
            ..Default::default()
        }
    }

    #[derive(Parser)]
    struct Cli {
        #[command(subcommand)]
        command: EnterpriseCommand,
    }

    #[test]
    fn list_filters_parse_case_insensitively() {
        let cli = Cli::try_parse_from([
            "enterprise",
            "list",
            "--park",
            "xiliu",
            "--segment",
            "LUGGAGE_LEATHER",
            "--status",
            "Active",
            "--page-size",
            "50",
            "--all",
        ])
        .unwrap();
        let EnterpriseCommand::List(args) = cli.command else {
            panic!("a list")
        };
        let request = args.request(String::new());
        assert_eq!(request.park, common::Park::Xiliu as i32);
        assert_eq!(request.segment, common::Segment::LuggageLeather as i32);
        assert_eq!(request.status, pb::EnterpriseStatus::Active as i32);
        assert_eq!(request.page_size, 50);
        assert!(args.paging.all);
        assert!(Cli::try_parse_from(["enterprise", "list", "--park", "dalian"]).is_err());
        assert!(Cli::try_parse_from(["enterprise", "list", "--page-size", "0"]).is_err());
    }

    #[test]
    fn show_takes_an_rfc3339_time() {
        let cli = Cli::try_parse_from([
            "enterprise",
            "show",
            "91210381MA0Q12343L",
            "--as-of",
            "2025-06-30T00:00:00+08:00",
            "--all-revisions",
        ])
        .unwrap();
        let EnterpriseCommand::Show(args) = cli.command else {
            panic!("a show")
        };
        assert_eq!(args.as_of.map(|t| t.seconds), Some(1_751_212_800));
        assert!(args.all_revisions);
        assert!(Cli::try_parse_from(["enterprise", "show", "X", "--as-of", "yesterday"]).is_err());
    }

    #[test]
    fn the_file_prints_the_record_and_a_table_of_returns() {
        let file = pb::GetEnterpriseFileResponse {
            enterprise: Some(enterprise()),
            returns: vec![census_return()],
        };
        let text = render_file(
            &file,
            &View {
                as_of: None,
                all_revisions: false,
            },
        );
        assert!(
            text.starts_with("uscc                  91210381MA0Q12343L\n"),
            "{text}"
        );
        assert!(
            text.contains("industry class        1922 (LUGGAGE_LEATHER)\n"),
            "{text}"
        );
        assert!(text.contains("vetoes                safety\n"), "{text}");
        assert!(text.contains("census returns (latest revision per period)\n"));
        assert!(text.contains("PERIOD  REV  SUBMITTED  BY"), "{text}");
        assert!(
            text.contains("2025      2  -          department:commerce        124   48,000,000.00           0.00  2,100,000.00        0.00       17      31.20\n"),
            "{text}"
        );
    }

    #[test]
    fn the_file_as_json_uses_proto_names() {
        let value = serde_json::to_value(pb::GetEnterpriseFileResponse {
            enterprise: Some(enterprise()),
            returns: vec![census_return()],
        })
        .unwrap();
        assert_eq!(value["enterprise"]["park"], "PARK_NANTAI");
        assert_eq!(value["enterprise"]["createdAt"], "2023-11-14T22:13:20Z");
        assert_eq!(value["enterprise"]["updatedAt"], Value::Null);
        let first = &value["returns"][0];
        assert_eq!(first["period"], "2025");
        assert_eq!(first["indicators"]["revenueFen"], 4_800_000_000_i64);
        assert_eq!(
            first["indicators"]["equipmentLevel"],
            "EQUIPMENT_LEVEL_DOMESTIC_ADVANCED"
        );
        assert_eq!(first["indicators"]["energyUseTce"], Value::Null);
        assert_eq!(
            first["sources"]["byIndicator"]["tax_paid_fen"],
            "FIGURE_SOURCE_TAX"
        );
    }

    #[test]
    fn a_printed_return_can_be_submitted_again() {
        let value = serde_json::to_value(census_return()).unwrap();
        let file = json!({ "indicators": value["indicators"], "sources": value["sources"] });
        let (indicators, sources) = crate::return_file::parse(&file.to_string()).unwrap();
        assert_eq!(Some(indicators), census_return().indicators);
        assert_eq!(Some(sources), census_return().sources);
    }

    #[test]
    fn the_list_is_a_table() {
        let text = render_list(&[enterprise()]);
        assert_eq!(
            text,
            "USCC                NAME                    PARK    SEGMENT          CLASS  SIZE   STATUS  VERSION\n\
             91210381MA0Q12343L  海城市南台箱包有限公司  NANTAI  LUGGAGE_LEATHER  1922   SMALL  ACTIVE        3\n"
        );
        assert_eq!(render_list(&[]), "no enterprises match\n");
    }
}
