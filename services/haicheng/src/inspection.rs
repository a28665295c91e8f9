//! `haicheng inspection …`: the inspection service (涉企行政检查).
//!
//! - `inspection items [--department D]`, `inspection item put CODE --title T --legal-basis B
//!   --kind K [--safety] [--off-site] [--document D]…`: the item lists (检查事项清单);
//! - `inspection roster show [--department D]`, `inspection roster put ID=NAME…`: inspectors;
//! - `inspection tier USCC`, `inspection tiers [--tier T] [--white-listed]`: risk tiers;
//! - `inspection plan draw --year Y --item CODE… [--seed N] [--preview]`,
//!   `inspection plan show CODE`, `inspection plan report --year Y`: yearly plans (双随机),
//!   each printed with the year's joint-visit rate and the visits merging saved;
//! - `inspection task --uscc U --kind K --item CODE… --on DATE [--exemption E --reference R]`,
//!   `inspection tasks`: tasks outside the plan, refused beyond a cap unless exempt;
//! - `inspection visits`, `inspection visit ID`, `inspection approve ID` (its inspection code),
//!   `inspection verify CODE` (the firm), `inspection record ID --code C --uscc U --summary S
//!   (--clean | --finding ITEM:DAYS:TEXT…)`, `inspection publish ID`: visits and results;
//! - `inspection rate ID --satisfaction S [--text T]` (the firm), `inspection ratings
//!   --department D --year Y` (aggregates only), `inspection counts --year Y [--alerts]`
//!   (visits per firm against the caps).
//!
//! The service's address is `--inspection HOST:PORT` (`HAICHENG_INSPECTION_ADDR`,
//! [`crate::client`]). One function per subcommand.

use clap::{Args, Subcommand};
use haicheng_proto::{
    common::v1 as common,
    inspection::v1::{self as pb, inspection_service_client::InspectionServiceClient},
};

use crate::{
    Context,
    client::{self, Authed, call},
    enterprise::more_hint,
    enums,
    errors::CliError,
    output::{self, Format, Table},
};

#[derive(Args)]
pub struct InspectionArgs {
    #[command(subcommand)]
    command: InspectionCommand,
}

#[derive(Subcommand)]
pub enum InspectionCommand {
    /// The inspection items of a department's list (every department's without --department).
    Items {
        #[arg(long, value_parser = enums::parse::<common::Department>)]
        department: Option<common::Department>,
    },
    /// Put an item on the caller's department's list.
    Item {
        #[command(subcommand)]
        command: ItemCommand,
    },
    /// The roster of inspectors (执法人员名录): show, put.
    Roster {
        #[command(subcommand)]
        command: RosterCommand,
    },
    /// One firm's risk tier, why, and whether it is white-listed (无事不扰).
    Tier { uscc: String },
    /// Firms by risk tier.
    Tiers(TiersArgs),
    /// Yearly plans: draw, show, the year's report.
    Plan {
        #[command(subcommand)]
        command: PlanCommand,
    },
    /// Add a task outside the plan (special or triggered); beyond a cap only with an exemption.
    Task(TaskArgs),
    /// Tasks, filtered.
    Tasks(TasksArgs),
    /// Visits, filtered (an enterprise: its own).
    Visits(VisitsArgs),
    /// One visit: its items, legal basis, inspectors, code and result.
    Visit { visit_id: String },
    /// Approve a visit: it gets its inspection code (扫码入企).
    Approve {
        visit_id: String,
        /// The version last read; 0: any.
        #[arg(long, default_value_t = 0)]
        expected_version: i64,
    },
    /// Check an inspection code shown at the door (the firm).
    Verify { code: String },
    /// Record a visit's result against its code.
    Record(RecordArgs),
    /// Publish a recorded result.
    Publish { visit_id: String },
    /// Rate a visit after it took place (the firm; anonymous to the department).
    Rate {
        visit_id: String,
        /// SATISFIED, NEUTRAL or UNSATISFIED.
        #[arg(long, value_parser = enums::parse::<pb::Satisfaction>)]
        satisfaction: pb::Satisfaction,
        #[arg(long, default_value = "")]
        text: String,
    },
    /// A department's ratings in a year, as counts (refused below the minimum number).
    Ratings {
        #[arg(long, value_parser = enums::parse::<common::Department>)]
        department: common::Department,
        #[arg(long)]
        year: i32,
    },
    /// Visits per firm in a year against the caps, with an alert above one.
    Counts {
        #[arg(long)]
        year: i32,
        /// Only the firms above a cap.
        #[arg(long)]
        alerts: bool,
    },
}

#[derive(Subcommand)]
pub enum ItemCommand {
    /// Create or replace an item of the caller's department's list, by code.
    Put(ItemArgs),
}

#[derive(Args)]
pub struct ItemArgs {
    /// Upper-case letters, digits and dashes (`MS-QUALITY-01`).
    code: String,
    #[arg(long)]
    title: String,
    /// The legal basis (法律依据), e.g. 《产品质量法》第十五条.
    #[arg(long)]
    legal_basis: String,
    /// ROUTINE, SPECIAL or TRIGGERED.
    #[arg(long, value_parser = enums::parse::<pb::ItemKind>)]
    kind: pb::ItemKind,
    /// A safety item: checked on white-listed firms too.
    #[arg(long)]
    safety: bool,
    /// Can be done without entering the firm.
    #[arg(long)]
    off_site: bool,
    /// A document the firm is asked for (repeat the option for more).
    #[arg(long = "document")]
    documents: Vec<String>,
}

#[derive(Subcommand)]
pub enum RosterCommand {
    /// A department's roster (the caller's without --department).
    Show {
        #[arg(long, value_parser = enums::parse::<common::Department>)]
        department: Option<common::Department>,
    },
    /// Replace the caller's department's roster: `ID=NAME` each (certificate number, name).
    Put {
        #[arg(required = true, value_parser = parse_inspector)]
        inspectors: Vec<pb::Inspector>,
    },
}

#[derive(Args)]
pub struct TiersArgs {
    /// A, B, C or D.
    #[arg(long, value_parser = enums::parse::<pb::RiskTier>)]
    tier: Option<pb::RiskTier>,
    /// Only white-listed firms.
    #[arg(long)]
    white_listed: bool,
    #[command(flatten)]
    paging: client::Paging,
}

#[derive(Subcommand)]
pub enum PlanCommand {
    /// Draw the caller's department's yearly plan (firms per tier, two inspectors each).
    Draw {
        #[arg(long)]
        year: i32,
        /// A ROUTINE item of the department's list (repeat the option for more).
        #[arg(long = "item", required = true)]
        items: Vec<String>,
        /// The seed (the same seed over the same firms draws the same plan); 0: a fresh one.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Draw only; nothing is filed.
        #[arg(long)]
        preview: bool,
    },
    /// One plan by its code.
    Show { code: String },
    /// A year's plans of every department: visits, joint-visit rate, visits saved.
    Report {
        #[arg(long)]
        year: i32,
    },
}

#[derive(Args)]
pub struct TaskArgs {
    #[arg(long)]
    uscc: String,
    /// SPECIAL or TRIGGERED (ROUTINE only within the caps).
    #[arg(long, value_parser = enums::parse::<pb::ItemKind>)]
    kind: pb::ItemKind,
    /// An item of the caller's department's list (repeat the option for more).
    #[arg(long = "item", required = true)]
    items: Vec<String>,
    /// The day it is due, YYYY-MM-DD.
    #[arg(long = "on")]
    planned_on: String,
    /// Why it may go beyond a cap: COMPLAINT, HIGHER_REFERRAL, RECHECK, FIRM_REQUEST,
    /// DATA_CLUE, … (with --reference).
    #[arg(long, value_parser = enums::parse::<pb::Exemption>, requires = "reference")]
    exemption: Option<pb::Exemption>,
    /// The exemption's reference (a 12345 ticket, a referral number, …).
    #[arg(long, requires = "exemption")]
    reference: Option<String>,
}

#[derive(Args)]
pub struct TasksArgs {
    #[arg(long, value_parser = enums::parse::<common::Department>)]
    department: Option<common::Department>,
    #[arg(long)]
    uscc: Option<String>,
    #[arg(long)]
    year: Option<i32>,
    #[command(flatten)]
    paging: client::Paging,
}

#[derive(Args)]
pub struct VisitsArgs {
    #[arg(long)]
    uscc: Option<String>,
    #[arg(long, value_parser = enums::parse::<common::Department>)]
    department: Option<common::Department>,
    #[arg(long)]
    year: Option<i32>,
    /// PROPOSED, APPROVED, RECORDED or PUBLISHED.
    #[arg(long, value_parser = enums::parse::<pb::VisitState>)]
    state: Option<pb::VisitState>,
    /// Only results recorded and not published by their deadline.
    #[arg(long)]
    overdue: bool,
    #[command(flatten)]
    paging: client::Paging,
}

#[derive(Args)]
pub struct RecordArgs {
    visit_id: String,
    /// The inspection code shown at the firm.
    #[arg(long)]
    code: String,
    /// The firm visited.
    #[arg(long)]
    uscc: String,
    /// Nothing found.
    #[arg(
        long,
        conflicts_with = "findings",
        required_unless_present = "findings"
    )]
    clean: bool,
    /// A finding, `ITEM:DAYS:DESCRIPTION` (DAYS to rectify; empty or 0: the configured
    /// default); repeat the option for more.
    #[arg(long = "finding", value_parser = parse_finding)]
    findings: Vec<pb::FindingInput>,
    /// What the visit found, in a sentence (published with the result).
    #[arg(long)]
    summary: String,
}

/// `ID=NAME`: an inspector's certificate number and name.
fn parse_inspector(text: &str) -> Result<pb::Inspector, String> {
    match text.split_once('=') {
        Some((id, name)) if !id.trim().is_empty() && !name.trim().is_empty() => Ok(pb::Inspector {
            id: id.trim().to_string(),
            name: name.trim().to_string(),
            department: 0,
        }),
        _ => Err(format!(
            "{text:?} is not ID=NAME (certificate number = name)"
        )),
    }
}

/// `ITEM:DAYS:DESCRIPTION`; DAYS may be empty (the configured default).
fn parse_finding(text: &str) -> Result<pb::FindingInput, String> {
    let bad = || format!("{text:?} is not ITEM:DAYS:DESCRIPTION (e.g. MS-QUALITY-01:30:标签不全)");
    let mut parts = text.splitn(3, ':');
    let (Some(item), Some(days), Some(description)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    let days = match days.trim() {
        "" => 0,
        days => days
            .parse::<i32>()
            .ok()
            .filter(|d| *d >= 0)
            .ok_or_else(bad)?,
    };
    if item.trim().is_empty() || description.trim().is_empty() {
        return Err(bad());
    }
    Ok(pb::FindingInput {
        item_code: item.trim().to_string(),
        description: description.trim().to_string(),
        rectification_days: days,
    })
}

type Client = InspectionServiceClient<Authed>;

pub async fn run(args: InspectionArgs, context: &Context) -> Result<(), CliError> {
    let mut service = context.connect.inspection().await?;
    let format = context.format;
    match args.command {
        InspectionCommand::Items { department } => items(&mut service, department, format).await,
        InspectionCommand::Item {
            command: ItemCommand::Put(item),
        } => put_item(&mut service, item, format).await,
        InspectionCommand::Roster { command } => roster(&mut service, command, format).await,
        InspectionCommand::Tier { uscc } => tier(&mut service, uscc, format).await,
        InspectionCommand::Tiers(args) => tiers(service, args, format).await,
        InspectionCommand::Plan { command } => plan(&mut service, command, format).await,
        InspectionCommand::Task(args) => task(&mut service, args, format).await,
        InspectionCommand::Tasks(args) => tasks(service, args, format).await,
        command => run_visits(service, command, format).await,
    }
}

/// Visits, results, ratings and counts.
async fn run_visits(
    mut service: Client,
    command: InspectionCommand,
    format: Format,
) -> Result<(), CliError> {
    let service = &mut service;
    match command {
        InspectionCommand::Visits(args) => visits(service.clone(), args, format).await,
        InspectionCommand::Visit { visit_id } => {
            let request = pb::GetVisitRequest { visit_id };
            let visit = service.get_visit(call(request)).await?.into_inner().visit;
            emit_visit(&visit.unwrap_or_default(), format);
            Ok(())
        }
        InspectionCommand::Approve {
            visit_id,
            expected_version,
        } => approve(service, visit_id, expected_version, format).await,
        InspectionCommand::Verify { code } => verify(service, code, format).await,
        InspectionCommand::Record(args) => record(service, args, format).await,
        InspectionCommand::Publish { visit_id } => {
            let request = pb::PublishResultRequest { visit_id };
            let visit = service
                .publish_result(call(request))
                .await?
                .into_inner()
                .visit;
            emit_visit(&visit.unwrap_or_default(), format);
            Ok(())
        }
        InspectionCommand::Rate {
            visit_id,
            satisfaction,
            text,
        } => rate(service, visit_id, satisfaction, text, format).await,
        InspectionCommand::Ratings { department, year } => {
            ratings(service, department, year, format).await
        }
        InspectionCommand::Counts { year, alerts } => counts(service, year, alerts, format).await,
        // The others are run in [`run`].
        _ => Ok(()),
    }
}

/// `inspection items [--department D]`.
async fn items(
    service: &mut Client,
    department: Option<common::Department>,
    format: Format,
) -> Result<(), CliError> {
    let request = pb::ListItemsRequest {
        department: department.map_or(0, |d| d as i32),
    };
    let reply = service.list_items(call(request)).await?.into_inner();
    output::emit(&match format {
        Format::Json => output::json(&reply),
        Format::Table => items_table(&reply.items),
    });
    Ok(())
}

/// `inspection item put CODE …`.
async fn put_item(service: &mut Client, args: ItemArgs, format: Format) -> Result<(), CliError> {
    let item = pb::Item {
        code: args.code,
        title: args.title,
        legal_basis: args.legal_basis,
        kind: args.kind as i32,
        safety: args.safety,
        off_site: args.off_site,
        documents: args.documents,
        ..Default::default()
    };
    let request = pb::PutItemRequest { item: Some(item) };
    let item = service.put_item(call(request)).await?.into_inner().item;
    let item = item.unwrap_or_default();
    output::emit(&match format {
        Format::Json => output::json(&item),
        Format::Table => items_table(std::slice::from_ref(&item)),
    });
    Ok(())
}

/// `inspection roster show|put`.
async fn roster(
    service: &mut Client,
    command: RosterCommand,
    format: Format,
) -> Result<(), CliError> {
    let inspectors = match command {
        RosterCommand::Show { department } => {
            let request = pb::GetRosterRequest {
                department: department.map_or(0, |d| d as i32),
            };
            service
                .get_roster(call(request))
                .await?
                .into_inner()
                .inspectors
        }
        RosterCommand::Put { inspectors } => {
            let request = pb::PutRosterRequest { inspectors };
            service
                .put_roster(call(request))
                .await?
                .into_inner()
                .inspectors
        }
    };
    output::emit(&match format {
        Format::Json => output::json(&pb::GetRosterResponse { inspectors }),
        Format::Table => inspectors_table(&inspectors),
    });
    Ok(())
}

/// `inspection tier USCC`.
async fn tier(service: &mut Client, uscc: String, format: Format) -> Result<(), CliError> {
    let request = pb::GetRiskTierRequest { uscc };
    let firm = service
        .get_risk_tier(call(request))
        .await?
        .into_inner()
        .firm;
    let firm = firm.unwrap_or_default();
    output::emit(&match format {
        Format::Json => output::json(&firm),
        Format::Table => render_tier(&firm),
    });
    Ok(())
}

/// `inspection tiers [--tier T] [--white-listed]`.
async fn tiers(service: Client, args: TiersArgs, format: Format) -> Result<(), CliError> {
    let paging = &args.paging;
    let (firms, next_page_token) =
        client::pages(paging.all, paging.page_token.clone(), "firms", |token| {
            let mut service = service.clone();
            let request = call(pb::ListRiskTiersRequest {
                tier: args.tier.map_or(0, |t| t as i32),
                white_listed_only: args.white_listed,
                page_size: paging.page_size.unwrap_or(0),
                page_token: token,
            });
            async move {
                let page = service.list_risk_tiers(request).await?.into_inner();
                Ok((page.firms, page.next_page_token))
            }
        })
        .await?;
    match format {
        Format::Json => output::emit(&output::json(&pb::ListRiskTiersResponse {
            firms,
            next_page_token,
        })),
        Format::Table => {
            output::emit(&tiers_table(&firms));
            more_hint(&next_page_token);
        }
    }
    Ok(())
}

/// `inspection plan draw|show|report`: a plan is printed with its year's report (the
/// joint-visit rate and the visits saved over every department's plans).
async fn plan(service: &mut Client, command: PlanCommand, format: Format) -> Result<(), CliError> {
    let plan = match command {
        PlanCommand::Draw {
            year,
            items,
            seed,
            preview,
        } => {
            let request = pb::DrawPlanRequest {
                year,
                item_codes: items,
                seed,
                preview,
            };
            service.draw_plan(call(request)).await?.into_inner().plan
        }
        PlanCommand::Show { code } => {
            let request = pb::GetPlanRequest { code };
            service.get_plan(call(request)).await?.into_inner().plan
        }
        PlanCommand::Report { year } => return report(service, year, format).await,
    };
    let plan = plan.unwrap_or_default();
    let request = pb::GetPlanReportRequest { year: plan.year };
    let report = service.get_plan_report(call(request)).await?.into_inner();
    match format {
        Format::Json => output::emit(&output::json(&serde_json::json!({
            "plan": plan,
            "report": report,
        }))),
        Format::Table => {
            output::emit(&render_plan(&plan));
            output::emit(&format!("\n{}", render_report(&report)));
        }
    }
    Ok(())
}

/// `inspection plan report --year Y`.
async fn report(service: &mut Client, year: i32, format: Format) -> Result<(), CliError> {
    let request = pb::GetPlanReportRequest { year };
    let report = service.get_plan_report(call(request)).await?.into_inner();
    output::emit(&match format {
        Format::Json => output::json(&report),
        Format::Table => render_report(&report),
    });
    Ok(())
}

/// `inspection task --uscc U --kind K --item CODE… --on DATE`.
async fn task(service: &mut Client, args: TaskArgs, format: Format) -> Result<(), CliError> {
    let request = pb::CreateTaskRequest {
        uscc: args.uscc,
        kind: args.kind as i32,
        item_codes: args.items,
        planned_on: args.planned_on,
        exemption: args.exemption.map_or(0, |e| e as i32),
        exemption_reference: args.reference.unwrap_or_default(),
    };
    let reply = service.create_task(call(request)).await?.into_inner();
    if format == Format::Json {
        output::emit(&output::json(&reply));
        return Ok(());
    }
    output::emit(&tasks_table(reply.task.as_slice()));
    if let Some(visit) = &reply.visit {
        output::emit(&format!("\n{}", render_visit(visit)));
    }
    Ok(())
}

/// `inspection tasks [--department] [--uscc] [--year]`.
async fn tasks(service: Client, args: TasksArgs, format: Format) -> Result<(), CliError> {
    let paging = &args.paging;
    let (tasks, next_page_token) =
        client::pages(paging.all, paging.page_token.clone(), "tasks", |token| {
            let mut service = service.clone();
            let request = call(pb::ListTasksRequest {
                department: args.department.map_or(0, |d| d as i32),
                uscc: args.uscc.clone().unwrap_or_default(),
                year: args.year.unwrap_or(0),
                page_size: paging.page_size.unwrap_or(0),
                page_token: token,
            });
            async move {
                let page = service.list_tasks(request).await?.into_inner();
                Ok((page.tasks, page.next_page_token))
            }
        })
        .await?;
    match format {
        Format::Json => output::emit(&output::json(&pb::ListTasksResponse {
            tasks,
            next_page_token,
        })),
        Format::Table => {
            output::emit(&tasks_table(&tasks));
            more_hint(&next_page_token);
        }
    }
    Ok(())
}

/// `inspection visits [--uscc] [--department] [--year] [--state] [--overdue]`.
async fn visits(service: Client, args: VisitsArgs, format: Format) -> Result<(), CliError> {
    let paging = &args.paging;
    let (visits, next_page_token) =
        client::pages(paging.all, paging.page_token.clone(), "visits", |token| {
            let mut service = service.clone();
            let request = call(pb::ListVisitsRequest {
                uscc: args.uscc.clone().unwrap_or_default(),
                department: args.department.map_or(0, |d| d as i32),
                year: args.year.unwrap_or(0),
                state: args.state.map_or(0, |s| s as i32),
                publication_overdue: args.overdue,
                page_size: paging.page_size.unwrap_or(0),
                page_token: token,
            });
            async move {
                let page = service.list_visits(request).await?.into_inner();
                Ok((page.visits, page.next_page_token))
            }
        })
        .await?;
    match format {
        Format::Json => output::emit(&output::json(&pb::ListVisitsResponse {
            visits,
            next_page_token,
        })),
        Format::Table => {
            output::emit(&visits_table(&visits));
            more_hint(&next_page_token);
        }
    }
    Ok(())
}

/// `inspection approve VISIT_ID`: prints the visit with its inspection code.
async fn approve(
    service: &mut Client,
    visit_id: String,
    expected_version: i64,
    format: Format,
) -> Result<(), CliError> {
    let request = pb::ApproveVisitRequest {
        visit_id,
        expected_version,
    };
    let visit = service
        .approve_visit(call(request))
        .await?
        .into_inner()
        .visit;
    emit_visit(&visit.unwrap_or_default(), format);
    Ok(())
}

/// `inspection verify CODE`: valid or not, and why; the visit it belongs to.
async fn verify(service: &mut Client, code: String, format: Format) -> Result<(), CliError> {
    let request = pb::VerifyCodeRequest { code };
    let reply = service.verify_code(call(request)).await?.into_inner();
    if format == Format::Json {
        output::emit(&output::json(&reply));
        return Ok(());
    }
    let valid = if reply.valid {
        "yes".to_string()
    } else {
        format!("no: {}", reply.reason)
    };
    output::emit(&output::fields(&[("valid", valid)]));
    if let Some(visit) = &reply.visit {
        output::emit(&format!("\n{}", render_visit(visit)));
    }
    Ok(())
}

/// `inspection record VISIT_ID --code C --uscc U (--clean | --finding …)`.
async fn record(service: &mut Client, args: RecordArgs, format: Format) -> Result<(), CliError> {
    let outcome = if args.findings.is_empty() {
        pb::Outcome::Clean
    } else {
        pb::Outcome::Findings
    };
    let request = pb::RecordResultRequest {
        visit_id: args.visit_id,
        code: args.code,
        uscc: args.uscc,
        outcome: outcome as i32,
        findings: args.findings,
        summary: args.summary,
    };
    let reply = service.record_result(call(request)).await?.into_inner();
    if format == Format::Json {
        output::emit(&output::json(&reply));
        return Ok(());
    }
    output::emit(&render_visit(&reply.visit.unwrap_or_default()));
    if !reply.recheck_tasks.is_empty() {
        output::emit(&format!(
            "\nre-check tasks:\n{}",
            tasks_table(&reply.recheck_tasks)
        ));
    }
    Ok(())
}

/// `inspection rate VISIT_ID --satisfaction S`.
async fn rate(
    service: &mut Client,
    visit_id: String,
    satisfaction: pb::Satisfaction,
    text: String,
    format: Format,
) -> Result<(), CliError> {
    let request = pb::RateVisitRequest {
        visit_id,
        satisfaction: satisfaction as i32,
        text,
    };
    let reply = service.rate_visit(call(request)).await?.into_inner();
    output::emit(&match format {
        Format::Json => output::json(&reply),
        Format::Table if reply.accepted => {
            "rated: the department sees only counts of at least the minimum number\n".to_string()
        }
        Format::Table => "not taken\n".to_string(),
    });
    Ok(())
}

/// `inspection ratings --department D --year Y`.
async fn ratings(
    service: &mut Client,
    department: common::Department,
    year: i32,
    format: Format,
) -> Result<(), CliError> {
    let request = pb::GetRatingSummaryRequest {
        department: department as i32,
        year,
    };
    let reply = service
        .get_rating_summary(call(request))
        .await?
        .into_inner();
    output::emit(&match format {
        Format::Json => output::json(&reply),
        Format::Table => render_ratings(&reply),
    });
    Ok(())
}

/// `inspection counts --year Y [--alerts]`.
async fn counts(
    service: &mut Client,
    year: i32,
    alerts_only: bool,
    format: Format,
) -> Result<(), CliError> {
    let request = pb::GetVisitCountsRequest { year, alerts_only };
    let reply = service.get_visit_counts(call(request)).await?.into_inner();
    output::emit(&match format {
        Format::Json => output::json(&reply),
        Format::Table => render_counts(&reply),
    });
    Ok(())
}

fn emit_visit(visit: &pb::Visit, format: Format) {
    output::emit(&match format {
        Format::Json => output::json(visit),
        Format::Table => render_visit(visit),
    });
}

// ---- Rendering ----

fn department(value: i32) -> String {
    enums::short::<common::Department>(value)
}

fn yes(flag: bool) -> String {
    if flag { "yes" } else { "no" }.to_string()
}

/// Basis points as a percentage: `4250` → `42.5 %`.
fn percent(bp: i32) -> String {
    format!("{} %", output::number(f64::from(bp) / 100.0))
}

fn items_table(items: &[pb::Item]) -> String {
    let mut table = Table::new(&[
        "CODE",
        "DEPARTMENT",
        "KIND",
        "SAFETY",
        "OFF SITE",
        "TITLE",
        "LEGAL BASIS",
    ]);
    for item in items {
        table.row(vec![
            item.code.clone(),
            department(item.department),
            enums::short::<pb::ItemKind>(item.kind),
            yes(item.safety),
            yes(item.off_site),
            item.title.clone(),
            item.legal_basis.clone(),
        ]);
    }
    table.render()
}

fn inspectors_table(inspectors: &[pb::Inspector]) -> String {
    let mut table = Table::new(&["ID", "NAME", "DEPARTMENT"]);
    for i in inspectors {
        table.row(vec![i.id.clone(), i.name.clone(), department(i.department)]);
    }
    table.render()
}

fn inspectors(inspectors: &[pb::Inspector]) -> String {
    inspectors
        .iter()
        .map(|i| format!("{} ({})", i.name, i.id))
        .collect::<Vec<_>>()
        .join(", ")
}

fn render_tier(firm: &pb::FirmTier) -> String {
    output::fields(&[
        ("enterprise", format!("{} {}", firm.uscc, firm.name)),
        ("tier", enums::short::<pb::RiskTier>(firm.tier)),
        ("why", firm.reason.clone()),
        ("white-listed", yes(firm.white_listed)),
        (
            "class",
            enums::short::<common::EnterpriseClass>(firm.enterprise_class),
        ),
        ("veto", yes(firm.veto)),
        ("land shortfall", yes(firm.land_shortfall)),
        ("open rectification", yes(firm.open_rectification)),
        ("updated", output::time(firm.updated_at.as_ref())),
    ])
}

fn tiers_table(firms: &[pb::FirmTier]) -> String {
    let mut table = Table::new(&["USCC", "NAME", "TIER", "WHITE-LISTED", "WHY"]);
    for f in firms {
        table.row(vec![
            f.uscc.clone(),
            f.name.clone(),
            enums::short::<pb::RiskTier>(f.tier),
            yes(f.white_listed),
            f.reason.clone(),
        ]);
    }
    table.render()
}

fn render_plan(plan: &pb::Plan) -> String {
    let mut out = output::fields(&[
        ("plan", plan.code.clone()),
        ("department", department(plan.department)),
        ("year", plan.year.to_string()),
        ("seed", plan.seed.to_string()),
        ("items", plan.item_codes.join(", ")),
        (
            "filed",
            if plan.filed_by.is_empty() {
                "not filed (a preview)".to_string()
            } else {
                format!(
                    "{} by {}",
                    output::time(plan.filed_at.as_ref()),
                    plan.filed_by
                )
            },
        ),
    ]);
    let mut tiers = Table::new(&["TIER", "RATIO", "FIRMS", "DRAWN"]).numeric(&[1, 2, 3]);
    for t in &plan.tiers {
        tiers.row(vec![
            enums::short::<pb::RiskTier>(t.tier),
            percent(t.ratio_bp),
            t.population.to_string(),
            t.drawn.to_string(),
        ]);
    }
    out.push('\n');
    out.push_str(&tiers.render());
    out.push('\n');
    out.push_str(&tasks_table(&plan.tasks));
    out
}

fn render_report(report: &pb::GetPlanReportResponse) -> String {
    output::fields(&[
        ("year", report.year.to_string()),
        ("plans", report.plan_codes.join(", ")),
        ("on-site tasks", report.on_site_tasks.to_string()),
        ("on-site visits", report.on_site_visits.to_string()),
        ("joint visits", report.joint_visits.to_string()),
        ("joint-visit rate", percent(report.joint_visit_rate_bp)),
        (
            "visits saved",
            format!(
                "{} ({} fewer than unmerged)",
                report.visits_saved,
                percent(report.reduction_bp)
            ),
        ),
    ])
}

fn tasks_table(tasks: &[pb::Task]) -> String {
    let mut table = Table::new(&[
        "TASK",
        "DEPARTMENT",
        "USCC",
        "KIND",
        "ON",
        "ITEMS",
        "TIER",
        "STATE",
        "VISIT / REFUSAL",
    ]);
    for t in tasks {
        let mut state = enums::short::<pb::TaskState>(t.state);
        if t.exemption != 0 {
            state = format!(
                "{state} (exempt: {} {})",
                enums::short::<pb::Exemption>(t.exemption),
                t.exemption_reference
            );
        }
        let visit = if t.refusal.is_empty() {
            t.visit_id.clone()
        } else {
            t.refusal.clone()
        };
        table.row(vec![
            t.id.clone(),
            department(t.department),
            t.uscc.clone(),
            enums::short::<pb::ItemKind>(t.kind),
            t.planned_on.clone(),
            t.item_codes.join(","),
            enums::short::<pb::RiskTier>(t.tier),
            state,
            visit,
        ]);
    }
    table.render()
}

fn visits_table(visits: &[pb::Visit]) -> String {
    let mut table = Table::new(&[
        "VISIT",
        "USCC",
        "NAME",
        "ON",
        "DEPARTMENTS",
        "JOINT",
        "STATE",
        "CODE",
    ]);
    for v in visits {
        table.row(vec![
            v.id.clone(),
            v.uscc.clone(),
            v.enterprise_name.clone(),
            v.visit_on.clone(),
            departments(&v.departments),
            yes(v.joint),
            enums::short::<pb::VisitState>(v.state),
            if v.code.is_empty() {
                "-".to_string()
            } else {
                v.code.clone()
            },
        ]);
    }
    table.render()
}

fn departments(values: &[i32]) -> String {
    values
        .iter()
        .map(|d| department(*d))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A visit as the firm sees it before the visit: items with their legal basis, the team,
/// the documents asked for, the code; then the result once recorded.
fn render_visit(visit: &pb::Visit) -> String {
    let code = if visit.code.is_empty() {
        "- (not yet approved)".to_string()
    } else {
        format!("{} (valid until {})", visit.code, visit.code_valid_until)
    };
    let mut out = output::fields(&[
        ("visit", format!("{} (version {})", visit.id, visit.version)),
        (
            "enterprise",
            format!("{} {}", visit.uscc, visit.enterprise_name),
        ),
        ("on", visit.visit_on.clone()),
        ("departments", departments(&visit.departments)),
        ("joint", yes(visit.joint)),
        ("on site", yes(visit.on_site)),
        ("exempt", yes(visit.exempt)),
        ("state", enums::short::<pb::VisitState>(visit.state)),
        ("code", code),
        ("inspectors", inspectors(&visit.inspectors)),
        ("documents", visit.documents.join(", ")),
        ("tasks", visit.task_ids.join(", ")),
        ("rated", yes(visit.rated)),
    ]);
    let mut items = Table::new(&["ITEM", "DEPARTMENT", "TITLE", "LEGAL BASIS"]);
    for item in &visit.items {
        items.row(vec![
            item.code.clone(),
            department(item.department),
            item.title.clone(),
            item.legal_basis.clone(),
        ]);
    }
    out.push('\n');
    out.push_str(&items.render());
    if let Some(result) = &visit.result {
        out.push('\n');
        out.push_str(&render_result(result));
    }
    out
}

fn render_result(result: &pb::VisitResult) -> String {
    let mut out = output::fields(&[
        ("outcome", enums::short::<pb::Outcome>(result.outcome)),
        ("summary", result.summary.clone()),
        (
            "recorded",
            format!(
                "{} by {}",
                output::time(result.recorded_at.as_ref()),
                result.recorded_by
            ),
        ),
        ("publish by", result.publish_by.clone()),
        ("published", output::time(result.published_at.as_ref())),
        ("re-check tasks", result.recheck_task_ids.join(", ")),
    ]);
    if !result.findings.is_empty() {
        let mut findings = Table::new(&["ITEM", "RECTIFY BY", "FINDING"]);
        for f in &result.findings {
            findings.row(vec![
                f.item_code.clone(),
                f.rectify_by.clone(),
                f.description.clone(),
            ]);
        }
        out.push('\n');
        out.push_str(&findings.render());
    }
    out
}

fn render_ratings(reply: &pb::GetRatingSummaryResponse) -> String {
    let mut out = output::fields(&[
        ("department", department(reply.department)),
        ("year", reply.year.to_string()),
        ("ratings", reply.ratings.to_string()),
        ("satisfied", reply.satisfied.to_string()),
        ("neutral", reply.neutral.to_string()),
        ("unsatisfied", reply.unsatisfied.to_string()),
    ]);
    if !reply.texts.is_empty() {
        out.push_str("\nTEXTS (in no order, linked to no visit)\n");
        for text in &reply.texts {
            out.push_str(&format!("  {text}\n"));
        }
    }
    out
}

fn render_counts(reply: &pb::GetVisitCountsResponse) -> String {
    let mut out = output::fields(&[
        ("year", reply.year.to_string()),
        (
            "caps",
            format!(
                "{} routine visit(s) per department, {} visits of all departments",
                reply.cap_per_department, reply.cap_total
            ),
        ),
    ]);
    let mut table = Table::new(&[
        "USCC",
        "NAME",
        "VISITS",
        "EXEMPT",
        "ROUTINE BY DEPARTMENT",
        "ALERT",
    ])
    .numeric(&[2, 3]);
    for f in &reply.firms {
        let mut routine: Vec<String> = f
            .routine_by_department
            .iter()
            .map(|(d, n)| format!("{d} {n}"))
            .collect();
        routine.sort();
        table.row(vec![
            f.uscc.clone(),
            f.enterprise_name.clone(),
            f.visits.to_string(),
            f.exempt_visits.to_string(),
            routine.join(", "),
            f.alerts.join("; "),
        ]);
    }
    out.push('\n');
    out.push_str(&table.render());
    out
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    fn parse(args: &[&str]) -> Result<crate::Cli, clap::Error> {
        crate::Cli::try_parse_from(["haicheng", "inspection"].iter().chain(args).copied())
    }

    #[test]
    fn a_result_is_clean_or_has_findings_and_never_both() {
        let with_code = [
            "record",
            "v",
            "--code",
            "C",
            "--uscc",
            "U",
            "--summary",
            "s",
        ];
        let args = |more: &[&'static str]| [&with_code[..], more].concat();
        assert!(parse(&args(&["--clean"])).is_ok());
        assert!(parse(&args(&["--finding", "MS-1:30:标签不全"])).is_ok());
        assert!(parse(&args(&[])).is_err(), "neither");
        assert!(
            parse(&args(&["--clean", "--finding", "MS-1:30:x"])).is_err(),
            "both"
        );
        let bad = parse(&args(&["--finding", "MS-1:soon:x"])).err().unwrap();
        assert!(
            bad.to_string().contains("is not ITEM:DAYS:DESCRIPTION"),
            "{bad}"
        );
    }

    #[test]
    fn a_finding_reads_item_days_and_a_description_with_colons() {
        let f = parse_finding("MS-QUALITY-01:30:标签: 不全").unwrap();
        assert_eq!(f.item_code, "MS-QUALITY-01");
        assert_eq!(f.rectification_days, 30);
        assert_eq!(f.description, "标签: 不全");
        assert_eq!(parse_finding("A::x").unwrap().rectification_days, 0);
        assert!(parse_finding("A:-1:x").is_err());
        assert!(parse_finding("A:30:").is_err());
        assert!(parse_finding("A").is_err());
    }

    #[test]
    fn an_exemption_needs_its_reference_and_the_other_way_round() {
        let task = [
            "task",
            "--uscc",
            "U",
            "--kind",
            "triggered",
            "--item",
            "I",
            "--on",
            "2026-03-02",
        ];
        let args = |more: &[&'static str]| [&task[..], more].concat();
        assert!(parse(&args(&[])).is_ok());
        assert!(
            parse(&args(&[
                "--exemption",
                "complaint",
                "--reference",
                "12345-1"
            ]))
            .is_ok()
        );
        assert!(parse(&args(&["--exemption", "complaint"])).is_err());
        assert!(parse(&args(&["--reference", "12345-1"])).is_err());
        assert!(parse(&args(&["--exemption", "boredom", "--reference", "x"])).is_err());
    }

    #[test]
    fn roster_entries_are_id_equals_name() {
        assert!(parse(&["roster", "put", "SC-001=王强", "SC-002=李娜"]).is_ok());
        assert!(parse(&["roster", "put", "SC-001"]).is_err());
        assert!(parse(&["roster", "put"]).is_err());
    }

    #[test]
    fn the_report_prints_the_joint_visit_rate_and_the_visits_saved() {
        let report = pb::GetPlanReportResponse {
            year: 2026,
            plan_codes: vec!["JC-2026-TAX".into()],
            on_site_tasks: 40,
            on_site_visits: 28,
            joint_visits: 9,
            joint_visit_rate_bp: 3214,
            visits_saved: 12,
            reduction_bp: 3000,
        };
        let text = render_report(&report);
        assert!(text.contains("joint-visit rate  32.14 %\n"), "{text}");
        assert!(
            text.contains("visits saved      12 (30 % fewer than unmerged)\n"),
            "{text}"
        );
    }
}
