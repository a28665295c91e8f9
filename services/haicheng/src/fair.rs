//! `haicheng fair …`: the trade-fair service (commerce bureau).
//!
//! - `fair list [--kind K] [--market M] [--external] [--open] [--past]` (paging as every
//!   list), `fair show FAIR_ID`, `fair create …`: fairs (create needs `fairs.write`);
//! - `fair invitations [--fair ID] [--uscc USCC]`: who was invited (class A) and whether the
//!   invitation was used or withdrawn;
//! - `fair apply FAIR_ID USCC [--booths N] [--type standard|brand|custom-space]`,
//!   `fair registrations FAIR_ID [--status S]` (every page), `fair registration ID` (with the
//!   explanation of its allocation), `fair allocate FAIR_ID` (what it decided, counted),
//!   `fair cancel ID --reason TEXT`, `fair accept ID`, `fair decline ID`: applications,
//!   allocation and waitlist offers;
//! - `fair outcome ID --leads N --intended-yuan X --signed-yuan Y`, `fair report FAIR_ID`:
//!   outcomes;
//! - `fair subsidy ID` (claim), `fair subsidies --year Y [--uscc USCC]`,
//!   `fair budget --year Y [--set-yuan X]`: subsidies (finance may read them);
//! - `fair breach FAIR_ID USCC --kind sub-letting|leaving-early|false-declaration --evidence
//!   TEXT [--reference DOC]`, `fair breaches [--uscc USCC] [--fair ID]`: rule breaches and the
//!   sessions of the fair's kind they bar (commerce records; readers of fairs list);
//! - `fair demo`: creates the demo fairs ([`crate::demo::fairs`]): the coming year's external
//!   fairs and two local ones, their windows open now, so the trade-fair service's sweep
//!   invites the demo's class-A firms within seconds.
//!
//! Money is typed and shown in yuan (`12,000.50`); the protos and JSON carry fen. The
//! service's address is `--trade-fair HOST:PORT` (`HAICHENG_TRADE_FAIR_ADDR`,
//! [`crate::client`]). One function per subcommand.

use clap::{Args, Subcommand};
use haicheng_proto::{
    common::v1 as common,
    fair::v1::{self as pb, fair_service_client::FairServiceClient},
};
use prost_types::Timestamp;

use crate::{
    Context,
    client::{self, Authed, call},
    enterprise::more_hint,
    enums,
    errors::CliError,
    output::{self, Format, Table, hundredths},
};

#[derive(Args)]
pub struct FairArgs {
    #[command(subcommand)]
    command: FairCommand,
}

#[derive(Subcommand)]
pub enum FairCommand {
    /// Upcoming fairs (by start), filtered.
    List(ListArgs),
    /// One fair with its booth occupancy.
    Show { fair_id: String },
    /// Create a fair (commerce).
    Create(Box<CreateArgs>),
    /// Invitations of a fair or an enterprise.
    Invitations {
        #[arg(long = "fair")]
        fair_id: Option<String>,
        #[arg(long)]
        uscc: Option<String>,
    },
    /// Apply for booths for an enterprise.
    Apply {
        fair_id: String,
        uscc: String,
        #[arg(long, default_value_t = 1)]
        booths: i32,
        /// STANDARD (9 m²), BRAND or CUSTOM_SPACE.
        #[arg(long = "type", default_value = "standard", value_parser = enums::parse::<pb::BoothType>)]
        booth_type: pb::BoothType,
    },
    /// Registrations of a fair, every page: by application time; with --status waitlisted,
    /// in waitlist order.
    Registrations {
        fair_id: String,
        /// APPLIED, CONFIRMED, WAITLISTED, OFFERED or CANCELLED.
        #[arg(long, value_parser = enums::parse::<pb::RegistrationStatus>)]
        status: Option<pb::RegistrationStatus>,
    },
    /// One registration, with why it got what it got.
    Registration { registration_id: String },
    /// Allocate a scored fair's booths once its window has closed; prints how many were
    /// confirmed, waitlisted and cancelled (`fair registrations` lists them).
    Allocate { fair_id: String },
    /// Cancel a registration (after the window closes it costs a share of the fee).
    Cancel {
        registration_id: String,
        #[arg(long)]
        reason: String,
    },
    /// Accept a waitlist offer.
    Accept { registration_id: String },
    /// Decline a waitlist offer.
    Decline { registration_id: String },
    /// Record what a registration got out of the fair.
    Outcome {
        registration_id: String,
        #[arg(long, default_value_t = 0)]
        leads: i32,
        #[arg(long, value_name = "YUAN", default_value = "0", value_parser = parse_yuan)]
        intended_yuan: i64,
        #[arg(long, value_name = "YUAN", default_value = "0", value_parser = parse_yuan)]
        signed_yuan: i64,
    },
    /// A fair's registrations and outcome totals.
    Report { fair_id: String },
    /// Claim the booth-fee subsidy of a registration.
    Subsidy { registration_id: String },
    /// Subsidies granted in a year.
    Subsidies {
        #[arg(long)]
        year: i32,
        #[arg(long)]
        uscc: Option<String>,
    },
    /// Record a firm's rule breach at a fair: it may not apply to the next sessions of the
    /// fair's kind (commerce).
    Breach {
        fair_id: String,
        uscc: String,
        /// SUB_LETTING, LEAVING_EARLY or FALSE_DECLARATION.
        #[arg(long, value_parser = enums::parse::<pb::BreachKind>)]
        kind: pb::BreachKind,
        /// What was seen.
        #[arg(long)]
        evidence: String,
        /// The document the evidence is in.
        #[arg(long, default_value = "")]
        reference: String,
    },
    /// Breaches recorded, of an enterprise or at a fair, with the sessions each bars.
    Breaches {
        #[arg(long)]
        uscc: Option<String>,
        #[arg(long = "fair")]
        fair_id: Option<String>,
    },
    /// Create the demo fairs (the coming year's external fairs and two local ones).
    Demo,
    /// A year's subsidy budget; with --set-yuan, set it.
    Budget {
        #[arg(long)]
        year: i32,
        #[arg(long, value_name = "YUAN", value_parser = parse_yuan)]
        set_yuan: Option<i64>,
    },
}

#[derive(Args)]
pub struct ListArgs {
    #[arg(long, value_parser = enums::parse::<pb::FairKind>)]
    kind: Option<pb::FairKind>,
    #[arg(long, value_parser = enums::parse::<pb::Market>)]
    market: Option<pb::Market>,
    /// Only external fairs.
    #[arg(long)]
    external: bool,
    /// Only fairs whose registration window is open.
    #[arg(long)]
    open: bool,
    /// Also fairs that have ended.
    #[arg(long)]
    past: bool,
    #[command(flatten)]
    paging: client::Paging,
}

#[derive(Args)]
pub struct CreateArgs {
    #[arg(long)]
    name: String,
    /// CANTON_FAIR, CHIC, CHINA_BRAND_FAIR_BUDAPEST, CPM_MOSCOW or a LOCAL_… kind.
    #[arg(long, value_parser = enums::parse::<pb::FairKind>)]
    kind: pb::FairKind,
    #[arg(long)]
    city: String,
    #[arg(long)]
    venue: String,
    /// DOMESTIC, TRADITIONAL_EXPORT or EMERGING.
    #[arg(long, value_parser = enums::parse::<pb::Market>)]
    market: pb::Market,
    /// RFC 3339 times.
    #[arg(long, value_parser = output::parse_time)]
    starts: Timestamp,
    #[arg(long, value_parser = output::parse_time)]
    ends: Timestamp,
    #[arg(long, value_parser = output::parse_time)]
    opens: Timestamp,
    #[arg(long, value_parser = output::parse_time)]
    closes: Timestamp,
    /// FIRST_COME or SCORED.
    #[arg(long, value_parser = enums::parse::<pb::AllocationMode>)]
    mode: pb::AllocationMode,
    /// Standard booths (9 m²).
    #[arg(long, default_value_t = 0)]
    standard: i32,
    #[arg(long, value_name = "YUAN", default_value = "0", value_parser = parse_yuan)]
    standard_fee_yuan: i64,
    /// Brand booths.
    #[arg(long, default_value_t = 0)]
    brand: i32,
    #[arg(long, value_name = "YUAN", default_value = "0", value_parser = parse_yuan)]
    brand_fee_yuan: i64,
    /// Percent of booths kept for small firms (the service default when left out).
    #[arg(long)]
    small_reserve: Option<i32>,
    /// Percent kept for invited A-class firms until the window closes.
    #[arg(long)]
    a_reserve: Option<i32>,
    /// Most booths per firm.
    #[arg(long)]
    cap: Option<i32>,
}

/// `12000`, `12,000.5` or `0.01` yuan as fen.
pub fn parse_yuan(text: &str) -> Result<i64, String> {
    let clean = text.trim().replace(',', "");
    let bad = || format!("{text:?} is not an amount of yuan such as 12000 or 12000.50");
    let (whole, cents) = clean.split_once('.').unwrap_or((&clean, ""));
    if whole.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || cents.len() > 2
        || !cents.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    let whole: i64 = whole.parse().map_err(|_| bad())?;
    let cents: i64 = format!("{cents:0<2}").parse().map_err(|_| bad())?;
    whole
        .checked_mul(100)
        .and_then(|w| w.checked_add(cents))
        .ok_or_else(bad)
}

type Client = FairServiceClient<Authed>;

pub async fn run(args: FairArgs, context: &Context) -> Result<(), CliError> {
    let mut service = context.connect.fair().await?;
    let format = context.format;
    match args.command {
        FairCommand::List(list) => fairs(service, list, format).await,
        FairCommand::Show { fair_id } => show(&mut service, fair_id, format).await,
        FairCommand::Create(plan) => create(&mut service, *plan, format).await,
        FairCommand::Invitations { fair_id, uscc } => {
            invitations(&mut service, fair_id, uscc, format).await
        }
        FairCommand::Apply {
            fair_id,
            uscc,
            booths,
            booth_type,
        } => {
            let request = pb::ApplyRequest {
                fair_id,
                uscc,
                booth_type: booth_type as i32,
                booths,
            };
            let reply = service.apply(call(request)).await?.into_inner();
            emit_registration(reply.registration, format);
            Ok(())
        }
        FairCommand::Registrations { fair_id, status } => {
            registrations(service, fair_id, status, format).await
        }
        FairCommand::Registration { registration_id } => {
            let request = pb::GetRegistrationRequest { registration_id };
            let reply = service.get_registration(call(request)).await?;
            emit_registration(reply.into_inner().registration, format);
            Ok(())
        }
        FairCommand::Allocate { fair_id } => allocate(&mut service, fair_id, format).await,
        command => run_after_allocation(&mut service, command, format).await,
    }
}

/// The subcommands of a fair's later life: offers, cancellations, outcomes, subsidies, and
/// the demo fairs.
async fn run_after_allocation(
    service: &mut Client,
    command: FairCommand,
    format: Format,
) -> Result<(), CliError> {
    match command {
        FairCommand::Cancel {
            registration_id,
            reason,
        } => {
            let request = pb::CancelRegistrationRequest {
                registration_id,
                reason,
            };
            let reply = service.cancel_registration(call(request)).await?;
            let reply = reply.into_inner();
            emit_with_offers(reply.registration, reply.offered, format);
        }
        FairCommand::Accept { registration_id } => {
            let request = pb::AcceptOfferRequest { registration_id };
            let reply = service.accept_offer(call(request)).await?;
            emit_registration(reply.into_inner().registration, format);
        }
        FairCommand::Decline { registration_id } => {
            let request = pb::DeclineOfferRequest { registration_id };
            let reply = service.decline_offer(call(request)).await?.into_inner();
            emit_with_offers(reply.registration, reply.offered, format);
        }
        FairCommand::Outcome {
            registration_id,
            leads,
            intended_yuan,
            signed_yuan,
        } => {
            let request = pb::RecordOutcomeRequest {
                registration_id,
                leads,
                intended_orders_fen: intended_yuan,
                signed_export_orders_fen: signed_yuan,
            };
            outcome(service, request, format).await?;
        }
        FairCommand::Report { fair_id } => report(service, fair_id, format).await?,
        FairCommand::Subsidy { registration_id } => {
            let request = pb::ClaimSubsidyRequest { registration_id };
            let reply = service.claim_subsidy(call(request)).await?.into_inner();
            let subsidy = reply.subsidy.unwrap_or_default();
            output::emit(&match format {
                Format::Json => output::json(&subsidy),
                Format::Table => subsidies_table(std::slice::from_ref(&subsidy)),
            });
        }
        FairCommand::Subsidies { year, uscc } => subsidies(service, year, uscc, format).await?,
        FairCommand::Budget { year, set_yuan } => budget(service, year, set_yuan, format).await?,
        command @ (FairCommand::Breach { .. } | FairCommand::Breaches { .. }) => {
            breach_command(service, command, format).await?
        }
        FairCommand::Demo => demo(service, format).await?,
        // The others are run before allocation ([`run`]).
        _ => {}
    }
    Ok(())
}

/// `fair breach` and `fair breaches`.
async fn breach_command(
    service: &mut Client,
    command: FairCommand,
    format: Format,
) -> Result<(), CliError> {
    match command {
        FairCommand::Breach {
            fair_id,
            uscc,
            kind,
            evidence,
            reference,
        } => {
            let request = pb::RecordBreachRequest {
                fair_id,
                uscc,
                kind: kind as i32,
                evidence,
                reference,
            };
            let reply = service.record_breach(call(request)).await?.into_inner();
            emit_breaches(reply.breach.as_slice(), format);
        }
        FairCommand::Breaches { uscc, fair_id } => {
            let request = pb::ListBreachesRequest {
                uscc: uscc.unwrap_or_default(),
                fair_id: fair_id.unwrap_or_default(),
            };
            let reply = service.list_breaches(call(request)).await?.into_inner();
            emit_breaches(&reply.breaches, format);
        }
        _ => {}
    }
    Ok(())
}

/// `fair list`: one page, or every page with `--all`.
async fn fairs(service: Client, list: ListArgs, format: Format) -> Result<(), CliError> {
    let (fairs, next_page_token) = client::pages(
        list.paging.all,
        list.paging.page_token.clone(),
        "fairs",
        |token| {
            let mut service = service.clone();
            let request = call(pb::ListFairsRequest {
                kind: list.kind.map_or(0, |k| k as i32),
                market: list.market.map_or(0, |m| m as i32),
                external_only: list.external,
                open_only: list.open,
                include_past: list.past,
                page_size: list.paging.page_size.unwrap_or(0),
                page_token: token,
            });
            async move {
                let page = service.list_fairs(request).await?.into_inner();
                Ok((page.fairs, page.next_page_token))
            }
        },
    )
    .await?;
    match format {
        Format::Json => output::emit(&output::json(&pb::ListFairsResponse {
            fairs,
            next_page_token,
        })),
        Format::Table => {
            output::emit(&fairs_table(&fairs));
            more_hint(&next_page_token);
        }
    }
    Ok(())
}

/// `fair registrations FAIR_ID [--status S]`: every page, read as `fair list --all` reads
/// them (JSON: the list itself).
async fn registrations(
    service: Client,
    fair_id: String,
    status: Option<pb::RegistrationStatus>,
    format: Format,
) -> Result<(), CliError> {
    let (all, _) = client::pages(true, String::new(), "registrations", |token| {
        let mut service = service.clone();
        let request = call(pb::ListRegistrationsRequest {
            fair_id: fair_id.clone(),
            status: status.map_or(0, |s| s as i32),
            page_size: REGISTRATIONS_PAGE,
            page_token: token,
        });
        async move {
            let page = service.list_registrations(request).await?.into_inner();
            Ok((page.registrations, page.next_page_token))
        }
    })
    .await?;
    emit_registrations(&all, format);
    Ok(())
}

/// Registrations asked for per page: the most the services serve
/// (`platform::paging::MAX_PAGE_SIZE`), so a large fair takes few calls.
const REGISTRATIONS_PAGE: i32 = platform::paging::MAX_PAGE_SIZE as i32;

/// `fair allocate FAIR_ID`: what the allocation decided, counted (JSON: the response), and
/// how to read the registrations.
async fn allocate(service: &mut Client, fair_id: String, format: Format) -> Result<(), CliError> {
    let request = pb::AllocateBoothsRequest {
        fair_id: fair_id.clone(),
    };
    let r = service.allocate_booths(call(request)).await?.into_inner();
    output::emit(&match format {
        Format::Json => output::json(&r),
        Format::Table => output::fields(&[
            ("confirmed", r.confirmed.to_string()),
            ("booths allocated", r.booths_allocated.to_string()),
            ("waitlisted", r.waitlisted.to_string()),
            (
                "cancelled (not eligible)",
                r.cancelled_ineligible.to_string(),
            ),
        ]),
    });
    if format == Format::Table {
        eprintln!(
            "the registrations, each with why: haicheng fair registrations {fair_id} [--status waitlisted]"
        );
    }
    Ok(())
}

/// `fair show ID`.
async fn show(service: &mut Client, fair_id: String, format: Format) -> Result<(), CliError> {
    let reply = service
        .get_fair(call(pb::GetFairRequest { fair_id }))
        .await?
        .into_inner();
    output::emit(&match format {
        Format::Json => output::json(&reply),
        Format::Table => render_fair(&reply.fair.unwrap_or_default(), reply.waitlisted),
    });
    Ok(())
}

/// `fair create …`: prints the fair as created.
async fn create(service: &mut Client, c: CreateArgs, format: Format) -> Result<(), CliError> {
    let mut inventory = Vec::new();
    for (booth_type, capacity, fee_fen) in [
        (pb::BoothType::Standard, c.standard, c.standard_fee_yuan),
        (pb::BoothType::Brand, c.brand, c.brand_fee_yuan),
    ] {
        if capacity > 0 {
            inventory.push(pb::BoothInventory {
                booth_type: booth_type as i32,
                capacity,
                fee_fen,
                taken: 0,
            });
        }
    }
    let plan = pb::Fair {
        name: c.name,
        kind: c.kind as i32,
        city: c.city,
        venue: c.venue,
        market: c.market as i32,
        starts_at: Some(c.starts),
        ends_at: Some(c.ends),
        registration_opens_at: Some(c.opens),
        registration_closes_at: Some(c.closes),
        allocation_mode: c.mode as i32,
        inventory,
        small_firm_reserve_percent: c.small_reserve,
        a_class_reserve_percent: c.a_reserve,
        per_firm_cap: c.cap,
        ..Default::default()
    };
    let fair = service
        .create_fair(call(pb::CreateFairRequest { fair: Some(plan) }))
        .await?
        .into_inner()
        .fair
        .unwrap_or_default();
    output::emit(&match format {
        Format::Json => output::json(&fair),
        Format::Table => render_fair(&fair, 0),
    });
    Ok(())
}

/// `fair invitations [--fair ID] [--uscc USCC]` (JSON: the list itself).
async fn invitations(
    service: &mut Client,
    fair_id: Option<String>,
    uscc: Option<String>,
    format: Format,
) -> Result<(), CliError> {
    let request = pb::ListInvitationsRequest {
        fair_id: fair_id.unwrap_or_default(),
        uscc: uscc.unwrap_or_default(),
        status: 0,
    };
    let found = service
        .list_invitations(call(request))
        .await?
        .into_inner()
        .invitations;
    output::emit(&match format {
        Format::Json => output::json(&found),
        Format::Table => invitations_table(&found),
    });
    Ok(())
}

/// `fair outcome ID …`.
async fn outcome(
    service: &mut Client,
    request: pb::RecordOutcomeRequest,
    format: Format,
) -> Result<(), CliError> {
    let o = service
        .record_outcome(call(request))
        .await?
        .into_inner()
        .outcome
        .unwrap_or_default();
    output::emit(&match format {
        Format::Json => output::json(&o),
        Format::Table => output::fields(&[
            ("registration", o.registration_id.clone()),
            ("leads", o.leads.to_string()),
            ("intended orders", hundredths(o.intended_orders_fen)),
            (
                "signed export orders",
                hundredths(o.signed_export_orders_fen),
            ),
        ]),
    });
    Ok(())
}

/// `fair report FAIR_ID`.
async fn report(service: &mut Client, fair_id: String, format: Format) -> Result<(), CliError> {
    let r = service
        .get_fair_report(call(pb::GetFairReportRequest { fair_id }))
        .await?
        .into_inner();
    if format == Format::Json {
        output::emit(&output::json(&r));
        return Ok(());
    }
    let fair = r.fair.clone().unwrap_or_default();
    output::emit(&output::fields(&[
        ("fair", format!("{} ({})", fair.name, fair.id)),
        ("invitations", r.invitations.to_string()),
        ("confirmed", r.confirmed.to_string()),
        ("waitlisted", r.waitlisted.to_string()),
        ("cancelled", r.cancelled.to_string()),
        ("booths taken", r.booths_taken.to_string()),
        ("leads", r.leads.to_string()),
        ("intended orders", hundredths(r.intended_orders_fen)),
        (
            "signed export orders",
            hundredths(r.signed_export_orders_fen),
        ),
        ("subsidies", hundredths(r.subsidies_fen)),
    ]));
    Ok(())
}

/// `fair subsidies --year Y [--uscc USCC]`.
async fn subsidies(
    service: &mut Client,
    year: i32,
    uscc: Option<String>,
    format: Format,
) -> Result<(), CliError> {
    let reply = service
        .list_subsidies(call(pb::ListSubsidiesRequest {
            year,
            uscc: uscc.unwrap_or_default(),
        }))
        .await?
        .into_inner();
    match format {
        Format::Json => output::emit(&output::json(&reply)),
        Format::Table => {
            output::emit(&subsidies_table(&reply.subsidies));
            output::emit(&format!("total  {}\n", hundredths(reply.total_fen)));
        }
    }
    Ok(())
}

/// `fair budget --year Y [--set-yuan X]`: the budget (JSON: the `SubsidyBudget` itself).
async fn budget(
    service: &mut Client,
    year: i32,
    set_yuan: Option<i64>,
    format: Format,
) -> Result<(), CliError> {
    let budget = match set_yuan {
        Some(budget_fen) => {
            let request = pb::SetSubsidyBudgetRequest { year, budget_fen };
            service
                .set_subsidy_budget(call(request))
                .await?
                .into_inner()
                .budget
        }
        None => {
            let request = pb::GetSubsidyBudgetRequest { year };
            service
                .get_subsidy_budget(call(request))
                .await?
                .into_inner()
                .budget
        }
    }
    .unwrap_or_default();
    output::emit(&match format {
        Format::Json => output::json(&budget),
        Format::Table => output::fields(&[
            ("year", budget.year.to_string()),
            ("budget", hundredths(budget.budget_fen)),
            ("granted", hundredths(budget.granted_fen)),
            ("left", hundredths(budget.budget_fen - budget.granted_fen)),
        ]),
    });
    Ok(())
}

/// `fair demo`: creates the demo fairs not there yet and lists them (JSON: the list itself).
async fn demo(service: &mut Client, format: Format) -> Result<(), CliError> {
    let created = crate::demo::load::fairs_once(service).await?;
    output::emit(&match format {
        Format::Json => output::json(&created),
        Format::Table => {
            let mut table = Table::new(&["ID", "NAME", "KIND", "STARTS", "MODE"]);
            for f in &created {
                table.row(vec![
                    f.id.clone(),
                    f.name.clone(),
                    enums::short::<pb::FairKind>(f.kind),
                    output::time(f.starts_at.as_ref()),
                    enums::short::<pb::AllocationMode>(f.allocation_mode),
                ]);
            }
            table.render()
        }
    });
    Ok(())
}

fn fairs_table(fairs: &[pb::Fair]) -> String {
    let mut table = Table::new(&[
        "ID",
        "NAME",
        "KIND",
        "CITY",
        "STARTS",
        "WINDOW CLOSES",
        "MODE",
        "BOOTHS",
    ]);
    for f in fairs {
        table.row(vec![
            f.id.clone(),
            f.name.clone(),
            enums::short::<pb::FairKind>(f.kind),
            f.city.clone(),
            output::time(f.starts_at.as_ref()),
            output::time(f.registration_closes_at.as_ref()),
            enums::short::<pb::AllocationMode>(f.allocation_mode),
            occupancy(f),
        ]);
    }
    table.render()
}

fn invitations_table(found: &[pb::Invitation]) -> String {
    let mut table = Table::new(&["FAIR", "USCC", "CLASS", "STATUS", "ISSUED", "REASON"]);
    for i in found {
        table.row(vec![
            i.fair_id.clone(),
            i.uscc.clone(),
            enums::short::<common::EnterpriseClass>(i.enterprise_class),
            enums::short::<pb::InvitationStatus>(i.status),
            output::time(i.issued_at.as_ref()),
            i.reason.clone(),
        ]);
    }
    table.render()
}

fn occupancy(f: &pb::Fair) -> String {
    f.inventory
        .iter()
        .map(|i| {
            format!(
                "{}/{} {}",
                i.taken,
                i.capacity,
                enums::short::<pb::BoothType>(i.booth_type)
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn render_fair(f: &pb::Fair, waitlisted: i32) -> String {
    let percent = |p: Option<i32>| p.map_or("-".into(), |p| format!("{p} %"));
    output::fields(&[
        ("id", f.id.clone()),
        ("name", f.name.clone()),
        ("kind", enums::short::<pb::FairKind>(f.kind)),
        ("where", format!("{}, {}", f.venue, f.city)),
        ("market", enums::short::<pb::Market>(f.market)),
        (
            "dates",
            format!(
                "{} to {}",
                output::time(f.starts_at.as_ref()),
                output::time(f.ends_at.as_ref())
            ),
        ),
        (
            "registration",
            format!(
                "{} to {}",
                output::time(f.registration_opens_at.as_ref()),
                output::time(f.registration_closes_at.as_ref())
            ),
        ),
        (
            "mode",
            enums::short::<pb::AllocationMode>(f.allocation_mode),
        ),
        ("booths taken", occupancy(f)),
        ("small-firm reserve", percent(f.small_firm_reserve_percent)),
        ("A-class reserve", percent(f.a_class_reserve_percent)),
        (
            "cap per firm",
            f.per_firm_cap.map_or("-".into(), |c| c.to_string()),
        ),
        ("waitlisted", waitlisted.to_string()),
        ("version", f.version.to_string()),
    ])
}

/// Registrations (JSON: the list itself).
fn emit_registrations(all: &[pb::Registration], format: Format) {
    output::emit(&match format {
        Format::Json => output::json(all),
        Format::Table => registrations_table(all),
    });
}

/// The registration a call answered with.
/// Breaches: each with what it bars and when the firm may apply again.
fn emit_breaches(breaches: &[pb::Breach], format: Format) {
    output::emit(&match format {
        Format::Json => output::json(&breaches),
        Format::Table => breaches
            .iter()
            .map(breach_fields)
            .collect::<Vec<_>>()
            .join("\n"),
    });
}

fn breach_fields(b: &pb::Breach) -> String {
    let session = |s: &pb::Session| format!("{} ({})", s.name, output::time(s.starts_at.as_ref()));
    let barred: Vec<String> = b.barred.iter().map(session).collect();
    output::fields(&[
        ("id", b.id.clone()),
        ("fair", b.fair_id.clone()),
        ("uscc", b.uscc.clone()),
        ("kind", enums::short::<pb::BreachKind>(b.kind)),
        ("evidence", b.evidence.clone()),
        ("reference", b.reference.clone()),
        ("recorded", output::time(b.recorded_at.as_ref())),
        ("bars sessions", b.barred_sessions.to_string()),
        (
            "barred",
            if barred.is_empty() {
                "-".into()
            } else {
                barred.join("; ")
            },
        ),
        (
            "may apply again",
            b.free_again
                .as_ref()
                .map_or_else(|| "a session not planned yet".into(), session),
        ),
    ])
}

fn emit_registration(r: Option<pb::Registration>, format: Format) {
    let r = r.unwrap_or_default();
    output::emit(&match format {
        Format::Json => output::json(&r),
        Format::Table => output::fields(&[
            ("id", r.id.clone()),
            ("fair", r.fair_id.clone()),
            ("uscc", r.uscc.clone()),
            ("status", enums::short::<pb::RegistrationStatus>(r.status)),
            (
                "booths",
                format!(
                    "{} of {} {}",
                    r.booths_granted,
                    r.booths_requested,
                    enums::short::<pb::BoothType>(r.booth_type)
                ),
            ),
            (
                "waitlist position",
                if r.waitlist_position > 0 {
                    r.waitlist_position.to_string()
                } else {
                    "-".into()
                },
            ),
            ("offer expires", output::time(r.offer_expires_at.as_ref())),
            ("cancellation fee", hundredths(r.cancellation_fee_fen)),
            ("why", r.explanation.clone()),
        ]),
    });
}

/// A cancelled or declined registration and the waitlist offers it freed (JSON:
/// `{"registration": …, "offered": […]}`, the shape of both responses).
fn emit_with_offers(
    registration: Option<pb::Registration>,
    offered: Vec<pb::Registration>,
    format: Format,
) {
    if format == Format::Json {
        let registration = Some(registration.unwrap_or_default());
        let reply = pb::CancelRegistrationResponse {
            registration,
            offered,
        };
        output::emit(&output::json(&reply));
    } else {
        emit_registration(registration, format);
        for o in &offered {
            output::emit(&format!(
                "offered {} booth(s) to {} until {}\n",
                o.booths_granted,
                o.uscc,
                output::time(o.offer_expires_at.as_ref())
            ));
        }
    }
}

fn registrations_table(all: &[pb::Registration]) -> String {
    let mut table = Table::new(&["ID", "USCC", "CLASS", "STATUS", "BOOTHS", "WAIT", "APPLIED"])
        .numeric(&[4, 5]);
    for r in all {
        table.row(vec![
            r.id.clone(),
            r.uscc.clone(),
            enums::short::<common::EnterpriseClass>(r.enterprise_class),
            enums::short::<pb::RegistrationStatus>(r.status),
            format!("{}/{}", r.booths_granted, r.booths_requested),
            if r.waitlist_position > 0 {
                r.waitlist_position.to_string()
            } else {
                "-".into()
            },
            output::time(r.applied_at.as_ref()),
        ]);
    }
    table.render()
}

fn subsidies_table(all: &[pb::Subsidy]) -> String {
    let mut table = Table::new(&[
        "REGISTRATION",
        "USCC",
        "YEAR",
        "PERCENT",
        "AMOUNT",
        "LIMITED BY",
    ])
    .numeric(&[3, 4]);
    for s in all {
        table.row(vec![
            s.registration_id.clone(),
            s.uscc.clone(),
            s.year.to_string(),
            s.percent.to_string(),
            hundredths(s.amount_fen),
            if s.limited_by.is_empty() {
                "-".into()
            } else {
                s.limited_by.join(", ")
            },
        ]);
    }
    table.render()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yuan_amounts_become_fen_and_nonsense_is_refused() {
        assert_eq!(parse_yuan("12000"), Ok(1_200_000));
        assert_eq!(parse_yuan("12,000.5"), Ok(1_200_050));
        assert_eq!(parse_yuan("0.01"), Ok(1));
        for bad in ["", "-5", "1.234", "abc", "1e3", ".5"] {
            assert!(parse_yuan(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn fair_enums_parse_like_the_others() {
        assert_eq!(
            enums::parse::<pb::FairKind>("canton-fair"),
            Ok(pb::FairKind::CantonFair)
        );
        assert_eq!(
            enums::parse::<pb::BoothType>("custom_space"),
            Ok(pb::BoothType::CustomSpace)
        );
        assert!(enums::parse::<pb::AllocationMode>("lottery").is_err());
    }
}
