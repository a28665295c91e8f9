//! `haicheng policy …`: the support service (扶持政策).
//!
//! - `policy put FILE [--expected-version N]` (a `PolicySpec` as JSON, [`crate::policy_file`];
//!   the issuer's token), `policy list`, `policy show ID [--version N]`: policies;
//! - `policy round run ID`, `policy round show ROUND_ID`, `policy round finalize ROUND_ID`:
//!   rounds (the issuer runs and finalizes; every department reads);
//! - `policy object ROUND_ID --uscc U --reason R` (the firm or commerce),
//!   `policy decide OBJECTION_ID --uphold|--reject --reason R` (the issuer): objections;
//! - `policy pay ORDER_ID --voucher V`, `policy refuse ORDER_ID --reason R` (finance),
//!   `policy payments [--policy ID] [--uscc U] [--state S]`: payment orders;
//! - `policy check ID --uscc U`: the calculator, each condition met or not, value and gap;
//! - `policy apply ID --uscc U`, `policy applications [--policy] [--uscc] [--overdue]`,
//!   `policy review APPLICATION_ID --approve|--reject --reason R`: applications (快申快享);
//! - `policy report ID`, `policy benefits --uscc U --year Y`: reports.
//!
//! Money is shown in yuan (`12,000.50`); the protos and JSON carry fen. The service's address
//! is `--support HOST:PORT` (`HAICHENG_SUPPORT_ADDR`, [`crate::client`]). One function per
//! subcommand.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use haicheng_proto::{
    common::v1 as common,
    support::v1::{self as pb, support_service_client::SupportServiceClient},
};

use crate::{
    Context,
    client::{self, Authed, call},
    enterprise::more_hint,
    enums,
    errors::CliError,
    output::{self, Format, Table, hundredths},
};

#[derive(Args)]
pub struct PolicyArgs {
    #[command(subcommand)]
    command: PolicyCommand,
}

#[derive(Subcommand)]
pub enum PolicyCommand {
    /// Create a policy, or with --expected-version write its next version (the issuer).
    Put {
        /// The policy as JSON (see `haicheng policy put --help` and the README).
        file: PathBuf,
        /// 0 to create; else the version last read.
        #[arg(long, default_value_t = 0)]
        expected_version: i64,
    },
    /// Policies at their latest versions.
    List(#[command(flatten)] client::Paging),
    /// One policy, at its latest version or at --version.
    Show {
        id: String,
        #[arg(long, default_value_t = 0)]
        version: i64,
    },
    /// Rounds: run, show, finalize.
    Round {
        #[command(subcommand)]
        command: RoundCommand,
    },
    /// Object to a round's published list for a firm (the firm itself or commerce).
    Object {
        round_id: String,
        #[arg(long)]
        uscc: String,
        #[arg(long)]
        reason: String,
    },
    /// Decide an objection before the round is final (the issuer).
    Decide {
        objection_id: String,
        #[command(flatten)]
        verdict: Verdict,
        #[arg(long)]
        reason: String,
    },
    /// Record a payment order as paid, with its voucher number (finance).
    Pay {
        order_id: String,
        #[arg(long)]
        voucher: String,
    },
    /// Record a payment order as refused, with the reason (finance).
    Refuse {
        order_id: String,
        #[arg(long)]
        reason: String,
    },
    /// Payment orders, filtered.
    Payments(PaymentsArgs),
    /// The calculator: each condition of a policy for one firm, met or not, value and gap.
    Check {
        id: String,
        #[arg(long)]
        uscc: String,
    },
    /// Apply for an APPLICATION policy (the firm itself or the issuer).
    Apply {
        id: String,
        #[arg(long)]
        uscc: String,
    },
    /// Applications, filtered.
    Applications(ApplicationsArgs),
    /// Approve or reject an application (the issuer).
    Review {
        application_id: String,
        #[command(flatten)]
        decision: Decision,
        #[arg(long)]
        reason: String,
    },
    /// A policy's beneficiaries and amounts by park, segment and class.
    Report { id: String },
    /// Everything one firm was ordered in a year (China time), with its state.
    Benefits {
        #[arg(long)]
        uscc: String,
        #[arg(long)]
        year: i32,
    },
}

#[derive(Subcommand)]
pub enum RoundCommand {
    /// Compute a policy's round from the facts held now and publish its list (the issuer).
    Run { id: String },
    /// One round with its list and objections.
    Show { round_id: String },
    /// Payment orders for the list, once its publicity window closed (the issuer).
    Finalize { round_id: String },
}

#[derive(Args)]
#[group(required = true, multiple = false)]
pub struct Verdict {
    /// Uphold the objection: the firm joins the list (within the budget).
    #[arg(long)]
    uphold: bool,
    /// Reject the objection.
    #[arg(long)]
    reject: bool,
}

#[derive(Args)]
#[group(required = true, multiple = false)]
pub struct Decision {
    /// Approve: a payment order follows, within the budget.
    #[arg(long)]
    approve: bool,
    /// Reject the application.
    #[arg(long)]
    reject: bool,
}

#[derive(Args)]
pub struct PaymentsArgs {
    #[arg(long = "policy")]
    policy_id: Option<String>,
    #[arg(long)]
    uscc: Option<String>,
    /// ORDERED, PAID or REFUSED.
    #[arg(long, value_parser = enums::parse::<pb::PaymentState>)]
    state: Option<pb::PaymentState>,
    #[command(flatten)]
    paging: client::Paging,
}

#[derive(Args)]
pub struct ApplicationsArgs {
    #[arg(long = "policy")]
    policy_id: Option<String>,
    #[arg(long)]
    uscc: Option<String>,
    /// Only those past their review deadline and still undecided.
    #[arg(long)]
    overdue: bool,
    #[command(flatten)]
    paging: client::Paging,
}

type Client = SupportServiceClient<Authed>;

pub async fn run(args: PolicyArgs, context: &Context) -> Result<(), CliError> {
    // A policy file that does not parse is refused before any connection.
    let put = match &args.command {
        PolicyCommand::Put { file, .. } => Some(read_spec(file)?),
        _ => None,
    };
    let mut service = context.connect.support().await?;
    let format = context.format;
    match args.command {
        PolicyCommand::Put {
            expected_version, ..
        } => put_policy(&mut service, put, expected_version, format).await,
        PolicyCommand::List(paging) => list(service, paging, format).await,
        PolicyCommand::Show { id, version } => show(&mut service, id, version, format).await,
        PolicyCommand::Round { command } => round(&mut service, command, format).await,
        PolicyCommand::Object {
            round_id,
            uscc,
            reason,
        } => object(&mut service, round_id, uscc, reason, format).await,
        PolicyCommand::Decide {
            objection_id,
            verdict,
            reason,
        } => decide(&mut service, objection_id, verdict.uphold, reason, format).await,
        PolicyCommand::Pay { order_id, voucher } => {
            record(&mut service, order_id, voucher, String::new(), format).await
        }
        PolicyCommand::Refuse { order_id, reason } => {
            record(&mut service, order_id, String::new(), reason, format).await
        }
        PolicyCommand::Payments(args) => payments(service, args, format).await,
        command => run_more(&mut service, command, format).await,
    }
}

/// The calculator, applications and reports.
async fn run_more(
    service: &mut Client,
    command: PolicyCommand,
    format: Format,
) -> Result<(), CliError> {
    match command {
        PolicyCommand::Check { id, uscc } => check(service, id, uscc, format).await,
        PolicyCommand::Apply { id, uscc } => apply(service, id, uscc, format).await,
        PolicyCommand::Applications(args) => applications(service.clone(), args, format).await,
        PolicyCommand::Review {
            application_id,
            decision,
            reason,
        } => review(service, application_id, decision.approve, reason, format).await,
        PolicyCommand::Report { id } => report(service, id, format).await,
        PolicyCommand::Benefits { uscc, year } => benefits(service, uscc, year, format).await,
        // The others are run in [`run`].
        _ => Ok(()),
    }
}

/// The spec of a policy file, or a usage error naming the file and the bad key.
fn read_spec(file: &PathBuf) -> Result<pb::PolicySpec, CliError> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| CliError::usage(format!("reading {}: {e}", file.display())))?;
    crate::policy_file::parse(&text)
        .map_err(|e| CliError::usage(format!("{}: {e}", file.display())))
}

/// `policy put FILE`: prints the policy as stored.
async fn put_policy(
    service: &mut Client,
    spec: Option<pb::PolicySpec>,
    expected_version: i64,
    format: Format,
) -> Result<(), CliError> {
    let request = pb::PutPolicyRequest {
        spec,
        expected_version,
    };
    let policy = service.put_policy(call(request)).await?.into_inner().policy;
    emit_policy(&policy.unwrap_or_default(), format);
    Ok(())
}

/// `policy list`: one page, or every page with `--all`.
async fn list(service: Client, paging: client::Paging, format: Format) -> Result<(), CliError> {
    let (policies, next_page_token) =
        client::pages(paging.all, paging.page_token.clone(), "policies", |token| {
            let mut service = service.clone();
            let request = call(pb::ListPoliciesRequest {
                page_size: paging.page_size.unwrap_or(0),
                page_token: token,
            });
            async move {
                let page = service.list_policies(request).await?.into_inner();
                Ok((page.policies, page.next_page_token))
            }
        })
        .await?;
    match format {
        Format::Json => output::emit(&output::json(&pb::ListPoliciesResponse {
            policies,
            next_page_token,
        })),
        Format::Table => {
            output::emit(&policies_table(&policies));
            more_hint(&next_page_token);
        }
    }
    Ok(())
}

/// `policy show ID`.
async fn show(
    service: &mut Client,
    id: String,
    version: i64,
    format: Format,
) -> Result<(), CliError> {
    let request = pb::GetPolicyRequest { id, version };
    let policy = service.get_policy(call(request)).await?.into_inner().policy;
    emit_policy(&policy.unwrap_or_default(), format);
    Ok(())
}

/// `policy round run|show|finalize`.
async fn round(
    service: &mut Client,
    command: RoundCommand,
    format: Format,
) -> Result<(), CliError> {
    let (round, orders) = match command {
        RoundCommand::Run { id } => {
            let request = pb::RunRoundRequest { policy_id: id };
            (
                service.run_round(call(request)).await?.into_inner().round,
                None,
            )
        }
        RoundCommand::Show { round_id } => {
            let request = pb::GetRoundRequest { round_id };
            (
                service.get_round(call(request)).await?.into_inner().round,
                None,
            )
        }
        RoundCommand::Finalize { round_id } => {
            let request = pb::FinalizeRoundRequest { round_id };
            let reply = service.finalize_round(call(request)).await?.into_inner();
            (reply.round, Some(reply.orders))
        }
    };
    let round = round.unwrap_or_default();
    match (format, orders) {
        (Format::Json, None) => output::emit(&output::json(&round)),
        (Format::Json, Some(orders)) => output::emit(&output::json(&pb::FinalizeRoundResponse {
            round: Some(round),
            orders,
        })),
        (Format::Table, orders) => {
            output::emit(&render_round(&round));
            if let Some(orders) = orders {
                output::emit(&format!("\n{} payment orders\n", orders.len()));
            }
        }
    }
    Ok(())
}

/// `policy object ROUND_ID --uscc U --reason R`.
async fn object(
    service: &mut Client,
    round_id: String,
    uscc: String,
    reason: String,
    format: Format,
) -> Result<(), CliError> {
    let request = pb::FileObjectionRequest {
        round_id,
        uscc,
        reason,
    };
    let objection = service.file_objection(call(request)).await?.into_inner();
    let objection = objection.objection.unwrap_or_default();
    output::emit(&match format {
        Format::Json => output::json(&objection),
        Format::Table => objections_table(std::slice::from_ref(&objection)),
    });
    Ok(())
}

/// `policy decide OBJECTION_ID --uphold|--reject --reason R`.
async fn decide(
    service: &mut Client,
    objection_id: String,
    upheld: bool,
    reason: String,
    format: Format,
) -> Result<(), CliError> {
    let request = pb::DecideObjectionRequest {
        objection_id,
        upheld,
        reason,
    };
    let reply = service.decide_objection(call(request)).await?.into_inner();
    if format == Format::Json {
        output::emit(&output::json(&reply));
        return Ok(());
    }
    output::emit(&objections_table(reply.objection.as_slice()));
    if let Some(entry) = &reply.entry {
        output::emit(&format!(
            "\nadded to the list:\n{}",
            entries_table(std::slice::from_ref(entry))
        ));
    }
    Ok(())
}

/// `policy pay` and `policy refuse`.
async fn record(
    service: &mut Client,
    order_id: String,
    voucher: String,
    refusal_reason: String,
    format: Format,
) -> Result<(), CliError> {
    let request = pb::RecordPaymentRequest {
        order_id,
        voucher,
        refusal_reason,
    };
    let order = service
        .record_payment(call(request))
        .await?
        .into_inner()
        .order;
    let order = order.unwrap_or_default();
    output::emit(&match format {
        Format::Json => output::json(&order),
        Format::Table => orders_table(std::slice::from_ref(&order)),
    });
    Ok(())
}

/// `policy payments [--policy] [--uscc] [--state]`.
async fn payments(service: Client, args: PaymentsArgs, format: Format) -> Result<(), CliError> {
    let paging = &args.paging;
    let (orders, next_page_token) =
        client::pages(paging.all, paging.page_token.clone(), "orders", |token| {
            let mut service = service.clone();
            let request = call(pb::ListPaymentsRequest {
                policy_id: args.policy_id.clone().unwrap_or_default(),
                uscc: args.uscc.clone().unwrap_or_default(),
                state: args.state.map_or(0, |s| s as i32),
                page_size: paging.page_size.unwrap_or(0),
                page_token: token,
            });
            async move {
                let page = service.list_payments(request).await?.into_inner();
                Ok((page.orders, page.next_page_token))
            }
        })
        .await?;
    match format {
        Format::Json => output::emit(&output::json(&pb::ListPaymentsResponse {
            orders,
            next_page_token,
        })),
        Format::Table => {
            output::emit(&orders_table(&orders));
            more_hint(&next_page_token);
        }
    }
    Ok(())
}

/// `policy check ID --uscc U`: the calculator.
async fn check(
    service: &mut Client,
    policy_id: String,
    uscc: String,
    format: Format,
) -> Result<(), CliError> {
    let request = pb::CheckEligibilityRequest { policy_id, uscc };
    let reply = service.check_eligibility(call(request)).await?.into_inner();
    output::emit(&match format {
        Format::Json => output::json(&reply),
        Format::Table => render_check(&reply),
    });
    Ok(())
}

/// `policy apply ID --uscc U`.
async fn apply(
    service: &mut Client,
    policy_id: String,
    uscc: String,
    format: Format,
) -> Result<(), CliError> {
    let request = pb::ApplyRequest { policy_id, uscc };
    let application = service.apply(call(request)).await?.into_inner().application;
    emit_application(&application.unwrap_or_default(), format);
    Ok(())
}

/// `policy applications [--policy] [--uscc] [--overdue]`.
async fn applications(
    service: Client,
    args: ApplicationsArgs,
    format: Format,
) -> Result<(), CliError> {
    let paging = &args.paging;
    let (applications, next_page_token) = client::pages(
        paging.all,
        paging.page_token.clone(),
        "applications",
        |token| {
            let mut service = service.clone();
            let request = call(pb::ListApplicationsRequest {
                policy_id: args.policy_id.clone().unwrap_or_default(),
                uscc: args.uscc.clone().unwrap_or_default(),
                overdue_only: args.overdue,
                page_size: paging.page_size.unwrap_or(0),
                page_token: token,
            });
            async move {
                let page = service.list_applications(request).await?.into_inner();
                Ok((page.applications, page.next_page_token))
            }
        },
    )
    .await?;
    match format {
        Format::Json => output::emit(&output::json(&pb::ListApplicationsResponse {
            applications,
            next_page_token,
        })),
        Format::Table => {
            output::emit(&applications_table(&applications));
            more_hint(&next_page_token);
        }
    }
    Ok(())
}

/// `policy review APPLICATION_ID --approve|--reject --reason R`.
async fn review(
    service: &mut Client,
    application_id: String,
    approved: bool,
    reason: String,
    format: Format,
) -> Result<(), CliError> {
    let request = pb::DecideApplicationRequest {
        application_id,
        approved,
        reason,
    };
    let reply = service
        .decide_application(call(request))
        .await?
        .into_inner();
    if format == Format::Json {
        output::emit(&output::json(&reply));
        return Ok(());
    }
    emit_application(&reply.application.unwrap_or_default(), format);
    if let Some(order) = &reply.order {
        output::emit(&format!("\n{}", orders_table(std::slice::from_ref(order))));
    }
    Ok(())
}

/// `policy report ID`.
async fn report(service: &mut Client, policy_id: String, format: Format) -> Result<(), CliError> {
    let request = pb::GetPolicyReportRequest { policy_id };
    let r = service.get_policy_report(call(request)).await?.into_inner();
    if format == Format::Json {
        output::emit(&output::json(&r));
        return Ok(());
    }
    output::emit(&output::fields(&[
        ("policy", r.policy_id.clone()),
        ("budget", hundredths(r.budget_fen)),
        ("ordered", hundredths(r.ordered_fen)),
        ("paid", hundredths(r.paid_fen)),
        ("beneficiaries", r.beneficiaries.to_string()),
    ]));
    let mut table = Table::new(&["BY", "VALUE", "FIRMS", "AMOUNT"]).numeric(&[2, 3]);
    for row in &r.rows {
        table.row(vec![
            row.dimension.clone(),
            row.value.clone(),
            row.firms.to_string(),
            hundredths(row.amount_fen),
        ]);
    }
    output::emit(&format!("\n{}", table.render()));
    Ok(())
}

/// `policy benefits --uscc U --year Y`.
async fn benefits(
    service: &mut Client,
    uscc: String,
    year: i32,
    format: Format,
) -> Result<(), CliError> {
    let request = pb::GetEnterpriseBenefitsRequest { uscc, year };
    let reply = service
        .get_enterprise_benefits(call(request))
        .await?
        .into_inner();
    output::emit(&match format {
        Format::Json => output::json(&reply),
        Format::Table => format!(
            "{}\nordered  {}\npaid     {}\n",
            orders_table(&reply.orders),
            hundredths(reply.ordered_fen),
            hundredths(reply.paid_fen)
        ),
    });
    Ok(())
}

fn emit_policy(policy: &pb::Policy, format: Format) {
    output::emit(&match format {
        Format::Json => output::json(policy),
        Format::Table => render_policy(policy),
    });
}

fn emit_application(application: &pb::Application, format: Format) {
    output::emit(&match format {
        Format::Json => output::json(application),
        Format::Table => render_application(application),
    });
}

// ---- Rendering ----

fn department(value: i32) -> String {
    enums::short::<common::Department>(value)
}

/// A benefit in words: `100,000.00 fixed`, `10 % of RD_SPEND_FEN, at most 500,000.00`.
fn benefit(benefit: Option<&pb::Benefit>) -> String {
    let Some(b) = benefit else {
        return "-".to_string();
    };
    let amount = match &b.amount {
        Some(pb::benefit::Amount::FixedFen(fen)) => format!("{} fixed", hundredths(*fen)),
        Some(pb::benefit::Amount::Rate(rate)) => format!(
            "{} % of {}",
            output::number(rate.rate_bp as f64 / 100.0),
            enums::short::<pb::Indicator>(rate.indicator)
        ),
        Some(pb::benefit::Amount::Expense(share)) => format!(
            "{} % of the {} expense",
            output::number(share.rate_bp as f64 / 100.0),
            share.kind
        ),
        None => "-".to_string(),
    };
    if b.cap_fen > 0 {
        format!("{amount}, at most {}", hundredths(b.cap_fen))
    } else {
        amount
    }
}

/// A condition in words, as typed in a policy file.
fn condition(condition: &pb::Condition) -> String {
    use pb::condition::Clause;
    let list = |values: &[i32], short: fn(i32) -> String| {
        values
            .iter()
            .map(|v| short(*v))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match &condition.clause {
        Some(Clause::Class(c)) => format!(
            "class {} ({})",
            list(&c.classes, enums::short::<common::EnterpriseClass>),
            enums::short::<pb::ClassView>(c.view)
        ),
        Some(Clause::Segment(s)) => format!(
            "segment {}",
            list(&s.segments, enums::short::<common::Segment>)
        ),
        Some(Clause::Park(p)) => format!("park {}", list(&p.parks, enums::short::<common::Park>)),
        Some(Clause::Indicator(i)) => format!(
            "{} at least {}",
            enums::short::<pb::Indicator>(i.indicator),
            i.at_least
        ),
        Some(Clause::NoVeto(_)) => "no veto on record".to_string(),
        Some(Clause::NoLandShortfall(_)) => "no land commitment short".to_string(),
        Some(Clause::ExternalFair(_)) => "took part in an external fair".to_string(),
        Some(Clause::MinYearsRegistered(years)) => format!("registered at least {years} years"),
        None => "-".to_string(),
    }
}

fn render_policy(policy: &pb::Policy) -> String {
    let spec = policy.spec.clone().unwrap_or_default();
    let mut pairs = vec![
        (
            "policy",
            format!("{} (version {})", spec.id, policy.version),
        ),
        ("title", spec.title.clone()),
        ("document", spec.document_number.clone()),
        ("issuer", department(spec.issuer)),
        (
            "valid",
            format!("{} to {}", spec.valid_from, spec.valid_until),
        ),
        ("period", output::period(spec.period.as_ref())),
        ("mode", enums::short::<pb::PolicyMode>(spec.mode)),
        ("benefit", benefit(spec.benefit.as_ref())),
        ("budget", hundredths(spec.budget_fen)),
        ("ordered", hundredths(policy.ordered_fen)),
        ("remainder", enums::short::<pb::Remainder>(spec.remainder)),
    ];
    if spec.mode == pb::PolicyMode::Application as i32 {
        pairs.push(("review days", spec.review_working_days.to_string()));
    }
    if !spec.exclusive_group.is_empty() {
        pairs.push(("exclusive group", spec.exclusive_group.clone()));
    }
    pairs.push((
        "created",
        format!(
            "{} by {}",
            output::time(policy.created_at.as_ref()),
            policy.created_by
        ),
    ));
    let mut out = output::fields(&pairs);
    out.push_str("\nCONDITIONS (all must hold)\n");
    for c in &spec.conditions {
        out.push_str(&format!("  {}\n", condition(c)));
    }
    out
}

fn policies_table(policies: &[pb::Policy]) -> String {
    let mut table = Table::new(&[
        "ID", "VERSION", "ISSUER", "MODE", "PERIOD", "BUDGET", "ORDERED", "TITLE",
    ])
    .numeric(&[1, 5, 6]);
    for p in policies {
        let spec = p.spec.clone().unwrap_or_default();
        table.row(vec![
            spec.id,
            p.version.to_string(),
            department(spec.issuer),
            enums::short::<pb::PolicyMode>(spec.mode),
            output::period(spec.period.as_ref()),
            hundredths(spec.budget_fen),
            hundredths(p.ordered_fen),
            spec.title,
        ]);
    }
    table.render()
}

fn entries_table(entries: &[pb::Entry]) -> String {
    let mut table = Table::new(&[
        "POS", "USCC", "NAME", "CLASS", "SCORE", "ENTITLED", "AMOUNT", "WHY",
    ])
    .numeric(&[0, 4, 5, 6]);
    for e in entries {
        let mut why = e.explanation.clone();
        if e.by_objection {
            why = format!("(by objection) {why}");
        }
        table.row(vec![
            e.position.to_string(),
            e.uscc.clone(),
            e.enterprise_name.clone(),
            enums::short::<common::EnterpriseClass>(e.enterprise_class),
            output::number(e.score),
            hundredths(e.entitled_fen),
            hundredths(e.amount_fen),
            why,
        ]);
    }
    table.render()
}

fn render_round(round: &pb::Round) -> String {
    let mut out = output::fields(&[
        ("round", round.id.clone()),
        (
            "policy",
            format!("{} (version {})", round.policy_id, round.policy_version),
        ),
        ("period", output::period(round.period.as_ref())),
        ("state", enums::short::<pb::RoundState>(round.state)),
        ("eligible", round.eligible.to_string()),
        ("total", hundredths(round.total_fen)),
        ("published", output::time(round.published_at.as_ref())),
        (
            "objections until",
            output::time(round.objection_deadline.as_ref()),
        ),
        ("finalized", output::time(round.finalized_at.as_ref())),
    ]);
    out.push('\n');
    out.push_str(&entries_table(&round.entries));
    if !round.objections.is_empty() {
        out.push('\n');
        out.push_str(&objections_table(&round.objections));
    }
    out
}

fn objections_table(objections: &[pb::Objection]) -> String {
    let mut table = Table::new(&[
        "OBJECTION",
        "USCC",
        "STATE",
        "FILED BY",
        "REASON",
        "DECISION",
    ]);
    for o in objections {
        table.row(vec![
            o.id.clone(),
            o.uscc.clone(),
            enums::short::<pb::ObjectionState>(o.state),
            o.filed_by.clone(),
            o.reason.clone(),
            o.decision_reason.clone(),
        ]);
    }
    table.render()
}

fn orders_table(orders: &[pb::PaymentOrder]) -> String {
    let mut table = Table::new(&[
        "ORDER",
        "POLICY",
        "PERIOD",
        "USCC",
        "NAME",
        "AMOUNT",
        "STATE",
        "VOUCHER / REASON",
        "ROUND",
    ])
    .numeric(&[5]);
    for o in orders {
        let settlement = if o.voucher.is_empty() {
            o.refusal_reason.clone()
        } else {
            o.voucher.clone()
        };
        let from = if o.round_id.is_empty() {
            format!("application {}", o.application_id)
        } else {
            o.round_id.clone()
        };
        table.row(vec![
            o.id.clone(),
            o.policy_id.clone(),
            output::period(o.period.as_ref()),
            o.uscc.clone(),
            o.enterprise_name.clone(),
            hundredths(o.amount_fen),
            enums::short::<pb::PaymentState>(o.state),
            settlement,
            from,
        ]);
    }
    table.render()
}

fn conditions_table(results: &[pb::ConditionResult]) -> String {
    let mut table = Table::new(&["CONDITION", "MET", "VALUE", "GAP"]);
    for r in results {
        table.row(vec![
            r.condition.clone(),
            if r.met { "yes" } else { "no" }.to_string(),
            r.value.clone(),
            r.gap.clone(),
        ]);
    }
    table.render()
}

fn render_check(reply: &pb::CheckEligibilityResponse) -> String {
    let mut out = output::fields(&[
        (
            "eligible",
            if reply.eligible { "yes" } else { "no" }.to_string(),
        ),
        ("entitled", hundredths(reply.entitled_fen)),
    ]);
    out.push('\n');
    out.push_str(&conditions_table(&reply.conditions));
    out
}

fn render_application(a: &pb::Application) -> String {
    let state = enums::short::<pb::ApplicationState>(a.state);
    let mut out = output::fields(&[
        ("application", a.id.clone()),
        (
            "policy",
            format!("{} (version {})", a.policy_id, a.policy_version),
        ),
        ("enterprise", format!("{} {}", a.uscc, a.enterprise_name)),
        ("entitled", hundredths(a.entitled_fen)),
        (
            "state",
            if a.overdue {
                format!("{state} (overdue)")
            } else {
                state
            },
        ),
        ("applied", output::time(a.applied_at.as_ref())),
        ("due", output::time(a.due_at.as_ref())),
        ("decided", output::time(a.decided_at.as_ref())),
        ("reason", a.decision_reason.clone()),
    ]);
    out.push('\n');
    out.push_str(&conditions_table(&a.conditions));
    out
}

fn applications_table(applications: &[pb::Application]) -> String {
    let mut table = Table::new(&[
        "APPLICATION",
        "POLICY",
        "USCC",
        "NAME",
        "ENTITLED",
        "STATE",
        "DUE",
    ])
    .numeric(&[4]);
    for a in applications {
        let mut state = enums::short::<pb::ApplicationState>(a.state);
        if a.overdue {
            state.push_str(" (overdue)");
        }
        table.row(vec![
            a.id.clone(),
            a.policy_id.clone(),
            a.uscc.clone(),
            a.enterprise_name.clone(),
            hundredths(a.entitled_fen),
            state,
            output::time(a.due_at.as_ref()),
        ]);
    }
    table.render()
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    fn parse(args: &[&str]) -> Result<crate::Cli, clap::Error> {
        crate::Cli::try_parse_from(["haicheng", "policy"].iter().chain(args).copied())
    }

    #[test]
    fn decisions_take_exactly_one_verdict() {
        assert!(parse(&["decide", "x", "--uphold", "--reason", "r"]).is_ok());
        assert!(parse(&["decide", "x", "--reason", "r"]).is_err());
        assert!(parse(&["decide", "x", "--uphold", "--reject", "--reason", "r"]).is_err());
        assert!(parse(&["review", "x", "--approve", "--reason", "r"]).is_ok());
        assert!(parse(&["review", "x", "--reason", "r"]).is_err());
        assert!(parse(&["payments", "--state", "paid", "--policy", "p"]).is_ok());
        assert!(parse(&["payments", "--state", "lost"]).is_err());
        assert!(parse(&["round", "finalize", "r"]).is_ok());
    }

    #[test]
    fn the_calculator_shows_each_condition_met_or_not_with_its_gap() {
        let reply = pb::CheckEligibilityResponse {
            eligible: false,
            conditions: vec![pb::ConditionResult {
                condition: "R&D share of revenue at least 300 bp".into(),
                met: false,
                value: "250 bp".into(),
                gap: "50 bp short".into(),
            }],
            entitled_fen: 0,
        };
        let text = render_check(&reply);
        assert!(text.starts_with("eligible  no\nentitled  0.00\n"), "{text}");
        assert!(
            text.contains("R&D share of revenue at least 300 bp  no   250 bp  50 bp short"),
            "{text}"
        );
    }

    #[test]
    fn a_benefit_reads_as_words() {
        let rate = pb::Benefit {
            amount: Some(pb::benefit::Amount::Rate(pb::RateOfIndicator {
                indicator: pb::Indicator::RdSpendFen as i32,
                rate_bp: 1000,
            })),
            cap_fen: 50_000_000,
        };
        assert_eq!(
            benefit(Some(&rate)),
            "10 % of RD_SPEND_FEN, at most 500,000.00"
        );
        let fixed = pb::Benefit {
            amount: Some(pb::benefit::Amount::FixedFen(10_000_000)),
            cap_fen: 0,
        };
        assert_eq!(benefit(Some(&fixed)), "100,000.00 fixed");
    }
}
