//! `haicheng fair …`: the trade-fair service (commerce bureau).
//!
//! - `fair list [--kind K] [--market M] [--external] [--open] [--past]` (paging as every
//!   list), `fair show FAIR_ID`, `fair create …`: fairs (create needs `fairs.write`);
//! - `fair invitations [--fair ID] [--uscc USCC]`: who was invited (class A) and whether the
//!   invitation was used or withdrawn;
//! - `fair apply FAIR_ID USCC [--booths N] [--type standard|brand|custom-space]`,
//!   `fair registrations FAIR_ID [--status S]`, `fair registration ID` (with the explanation
//!   of its allocation), `fair allocate FAIR_ID`, `fair cancel ID --reason TEXT`,
//!   `fair accept ID`, `fair decline ID`: applications, allocation and waitlist offers;
//! - `fair outcome ID --leads N --intended-yuan X --signed-yuan Y`, `fair report FAIR_ID`:
//!   outcomes;
//! - `fair subsidy ID` (claim), `fair subsidies --year Y [--uscc USCC]`,
//!   `fair budget --year Y [--set-yuan X]`: subsidies (finance may read them);
//! - `fair demo`: creates the demo fairs ([`demo_plans`]): the coming year's external fairs
//!   and two local ones, their windows open now, so the trade-fair service's sweep invites
//!   the demo's class-A firms within seconds (`haicheng dev` can call [`load_demo`]).
//!
//! Money is typed and shown in yuan (`12,000.50`); the protos and JSON carry fen. The
//! service's address is `--trade-fair HOST:PORT` (`HAICHENG_TRADE_FAIR_ADDR`).

use clap::{Args, Subcommand};
use haicheng_proto::{
    common::v1 as common,
    fair::v1::{self as pb, fair_service_client::FairServiceClient},
};
use prost_types::Timestamp;
use serde_json::{Value, json};

use crate::{
    Context,
    client::{self, Authed, call},
    enterprise::more_hint,
    enums,
    errors::CliError,
    output::{self, Format, Table, hundredths},
};

/// Address of the trade-fair service, `HOST:PORT`.
pub const ADDR_VAR: &str = "HAICHENG_TRADE_FAIR_ADDR";

#[derive(Args)]
pub struct FairArgs {
    /// Address of the trade-fair service.
    #[arg(long = "trade-fair", global = true, value_name = "HOST:PORT", env = ADDR_VAR, default_value = "127.0.0.1:50054")]
    address: String,
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
    /// Registrations of a fair (the waitlisted in waitlist order).
    Registrations {
        fair_id: String,
        /// APPLIED, CONFIRMED, WAITLISTED, OFFERED or CANCELLED.
        #[arg(long, value_parser = enums::parse::<pb::RegistrationStatus>)]
        status: Option<pb::RegistrationStatus>,
    },
    /// One registration, with why it got what it got.
    Registration { registration_id: String },
    /// Allocate a scored fair's booths once its window has closed.
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

async fn connect(address: &str, context: &Context) -> Result<FairServiceClient<Authed>, CliError> {
    let token = context.connect.bearer()?;
    let channel = client::connect("trade-fair", "trade-fair", address).await?;
    Ok(FairServiceClient::with_interceptor(channel, token))
}

pub async fn run(args: FairArgs, context: &Context) -> Result<(), CliError> {
    let mut service = connect(&args.address, context).await?;
    let json = context.format == Format::Json;
    match args.command {
        FairCommand::List(list) => {
            let (fairs, next) = client::pages(
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
            if json {
                output::emit(&output::json(&json!({
                    "fairs": fairs.iter().map(fair_json).collect::<Vec<_>>(),
                    "next_page_token": next,
                })));
            } else {
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
                for f in &fairs {
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
                output::emit(&table.render());
                more_hint(&next);
            }
        }
        FairCommand::Show { fair_id } => {
            let reply = service
                .get_fair(call(pb::GetFairRequest { fair_id }))
                .await?
                .into_inner();
            let fair = reply.fair.unwrap_or_default();
            if json {
                output::emit(&output::json(
                    &json!({ "fair": fair_json(&fair), "waitlisted": reply.waitlisted }),
                ));
            } else {
                output::emit(&render_fair(&fair, reply.waitlisted));
            }
        }
        FairCommand::Create(c) => {
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
            output::emit(&if json {
                output::json(&fair_json(&fair))
            } else {
                render_fair(&fair, 0)
            });
        }
        FairCommand::Invitations { fair_id, uscc } => {
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
            if json {
                output::emit(&output::json(&Value::from(
                    found.iter().map(invitation_json).collect::<Vec<_>>(),
                )));
            } else {
                let mut table =
                    Table::new(&["FAIR", "USCC", "CLASS", "STATUS", "ISSUED", "REASON"]);
                for i in &found {
                    table.row(vec![
                        i.fair_id.clone(),
                        i.uscc.clone(),
                        enums::short::<common::EnterpriseClass>(i.enterprise_class),
                        enums::short::<pb::InvitationStatus>(i.status),
                        output::time(i.issued_at.as_ref()),
                        i.reason.clone(),
                    ]);
                }
                output::emit(&table.render());
            }
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
            let r = service
                .apply(call(request))
                .await?
                .into_inner()
                .registration
                .unwrap_or_default();
            emit_registration(&r, json);
        }
        FairCommand::Registrations { fair_id, status } => {
            let request = pb::ListRegistrationsRequest {
                fair_id,
                status: status.map_or(0, |s| s as i32),
            };
            let all = service
                .list_registrations(call(request))
                .await?
                .into_inner()
                .registrations;
            emit_registrations(&all, json);
        }
        FairCommand::Registration { registration_id } => {
            let r = service
                .get_registration(call(pb::GetRegistrationRequest { registration_id }))
                .await?
                .into_inner();
            emit_registration(&r.registration.unwrap_or_default(), json);
        }
        FairCommand::Allocate { fair_id } => {
            let all = service
                .allocate_booths(call(pb::AllocateBoothsRequest { fair_id }))
                .await?
                .into_inner()
                .registrations;
            emit_registrations(&all, json);
        }
        FairCommand::Cancel {
            registration_id,
            reason,
        } => {
            let reply = service
                .cancel_registration(call(pb::CancelRegistrationRequest {
                    registration_id,
                    reason,
                }))
                .await?
                .into_inner();
            emit_with_offers(reply.registration.unwrap_or_default(), &reply.offered, json);
        }
        FairCommand::Accept { registration_id } => {
            let r = service
                .accept_offer(call(pb::AcceptOfferRequest { registration_id }))
                .await?
                .into_inner();
            emit_registration(&r.registration.unwrap_or_default(), json);
        }
        FairCommand::Decline { registration_id } => {
            let reply = service
                .decline_offer(call(pb::DeclineOfferRequest { registration_id }))
                .await?
                .into_inner();
            emit_with_offers(reply.registration.unwrap_or_default(), &reply.offered, json);
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
            let o = service
                .record_outcome(call(request))
                .await?
                .into_inner()
                .outcome
                .unwrap_or_default();
            output::emit(&if json {
                output::json(&outcome_json(&o))
            } else {
                output::fields(&[
                    ("registration", o.registration_id.clone()),
                    ("leads", o.leads.to_string()),
                    ("intended orders", hundredths(o.intended_orders_fen)),
                    (
                        "signed export orders",
                        hundredths(o.signed_export_orders_fen),
                    ),
                ])
            });
        }
        FairCommand::Report { fair_id } => {
            let r = service
                .get_fair_report(call(pb::GetFairReportRequest { fair_id }))
                .await?
                .into_inner();
            let fair = r.fair.clone().unwrap_or_default();
            if json {
                output::emit(&output::json(&json!({
                    "fair": fair_json(&fair),
                    "invitations": r.invitations, "confirmed": r.confirmed, "waitlisted": r.waitlisted,
                    "cancelled": r.cancelled, "booths_taken": r.booths_taken, "leads": r.leads,
                    "intended_orders_fen": r.intended_orders_fen,
                    "signed_export_orders_fen": r.signed_export_orders_fen,
                    "subsidies_fen": r.subsidies_fen,
                    "outcomes": r.outcomes.iter().map(outcome_json).collect::<Vec<_>>(),
                })));
            } else {
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
            }
        }
        FairCommand::Subsidy { registration_id } => {
            let s = service
                .claim_subsidy(call(pb::ClaimSubsidyRequest { registration_id }))
                .await?
                .into_inner()
                .subsidy
                .unwrap_or_default();
            output::emit(&if json {
                output::json(&subsidy_json(&s))
            } else {
                subsidies_table(std::slice::from_ref(&s))
            });
        }
        FairCommand::Subsidies { year, uscc } => {
            let reply = service
                .list_subsidies(call(pb::ListSubsidiesRequest {
                    year,
                    uscc: uscc.unwrap_or_default(),
                }))
                .await?
                .into_inner();
            if json {
                output::emit(&output::json(&json!({
                    "subsidies": reply.subsidies.iter().map(subsidy_json).collect::<Vec<_>>(),
                    "total_fen": reply.total_fen,
                })));
            } else {
                output::emit(&subsidies_table(&reply.subsidies));
                output::emit(&format!("total  {}\n", hundredths(reply.total_fen)));
            }
        }
        FairCommand::Demo => {
            let created = load_demo(&mut service).await?;
            if json {
                output::emit(&output::json(&Value::from(
                    created.iter().map(fair_json).collect::<Vec<_>>(),
                )));
            } else {
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
                output::emit(&table.render());
            }
        }
        FairCommand::Budget { year, set_yuan } => {
            let budget = match set_yuan {
                Some(budget_fen) => {
                    service
                        .set_subsidy_budget(call(pb::SetSubsidyBudgetRequest { year, budget_fen }))
                        .await?
                        .into_inner()
                        .budget
                }
                None => {
                    service
                        .get_subsidy_budget(call(pb::GetSubsidyBudgetRequest { year }))
                        .await?
                        .into_inner()
                        .budget
                }
            }
            .unwrap_or_default();
            output::emit(&if json {
                output::json(
                    &json!({ "year": budget.year, "budget_fen": budget.budget_fen, "granted_fen": budget.granted_fen }),
                )
            } else {
                output::fields(&[
                    ("year", budget.year.to_string()),
                    ("budget", hundredths(budget.budget_fen)),
                    ("granted", hundredths(budget.granted_fen)),
                    ("left", hundredths(budget.budget_fen - budget.granted_fen)),
                ])
            });
        }
    }
    Ok(())
}

/// The demo fairs as of `now`: the external fairs of the coming year (CPM Moscow in February
/// and September, CHIC in March, the Canton Fair's third phase in May, the China Brand Fair
/// in Budapest in June) and two local fairs (fabric and accessories at Xiliu, garment
/// culture), each with its registration window open from a day ago until a month before it
/// starts (at most 60 days from now).
pub fn demo_plans(now: chrono::DateTime<chrono::Utc>) -> Vec<pb::Fair> {
    use chrono::{Datelike, Duration, TimeZone, Utc};
    use pb::{AllocationMode::*, FairKind::*, Market::*};
    let year = now.year() + 1;
    let day = |month: u32, day: u32| {
        Utc.with_ymd_and_hms(year, month, day, 1, 0, 0)
            .single()
            .unwrap_or(now)
    };
    let booths = |standard: i32, standard_fee: i64, brand: i32, brand_fee: i64| {
        let mut inventory = vec![pb::BoothInventory {
            booth_type: pb::BoothType::Standard as i32,
            capacity: standard,
            fee_fen: standard_fee,
            taken: 0,
        }];
        if brand > 0 {
            inventory.push(pb::BoothInventory {
                booth_type: pb::BoothType::Brand as i32,
                capacity: brand,
                fee_fen: brand_fee,
                taken: 0,
            });
        }
        inventory
    };
    let plans = [
        (
            "CPM Moscow, spring",
            CpmMoscow,
            "Moscow",
            "Crocus Expo",
            Emerging,
            day(2, 24),
            4,
            Scored,
            booths(12, 3_500_000, 0, 0),
        ),
        (
            "CHIC China International Fashion Fair",
            Chic,
            "Shanghai",
            "National Exhibition and Convention Center",
            Domestic,
            day(3, 11),
            3,
            Scored,
            booths(20, 1_800_000, 4, 6_000_000),
        ),
        (
            "China Import and Export Fair, phase 3",
            CantonFair,
            "Guangzhou",
            "Pazhou complex",
            TraditionalExport,
            day(5, 1),
            5,
            Scored,
            booths(30, 2_000_000, 0, 0),
        ),
        (
            "China Brand Fair (CEE)",
            ChinaBrandFairBudapest,
            "Budapest",
            "Hungexpo",
            Emerging,
            day(6, 3),
            3,
            Scored,
            booths(10, 3_000_000, 0, 0),
        ),
        (
            "CPM Moscow, autumn",
            CpmMoscow,
            "Moscow",
            "Crocus Expo",
            Emerging,
            day(9, 1),
            4,
            Scored,
            booths(12, 3_500_000, 0, 0),
        ),
        (
            "Xiliu fabric and accessories fair",
            LocalFabricAccessories,
            "Haicheng",
            "Xiliu expo centre",
            Domestic,
            day(4, 18),
            3,
            FirstCome,
            booths(120, 600_000, 10, 2_000_000),
        ),
        (
            "Haicheng garment culture festival",
            LocalGarmentCulture,
            "Haicheng",
            "Haicheng culture square",
            Domestic,
            day(8, 8),
            4,
            FirstCome,
            booths(60, 300_000, 0, 0),
        ),
    ];
    plans
        .into_iter()
        .map(
            |(name, kind, city, venue, market, starts, days, mode, inventory)| {
                let closes = (starts - Duration::days(30)).min(now + Duration::days(60));
                pb::Fair {
                    name: name.into(),
                    kind: kind as i32,
                    city: city.into(),
                    venue: venue.into(),
                    market: market as i32,
                    starts_at: Some(platform::time::to_timestamp(starts)),
                    ends_at: Some(platform::time::to_timestamp(starts + Duration::days(days))),
                    registration_opens_at: Some(platform::time::to_timestamp(
                        now - Duration::days(1),
                    )),
                    registration_closes_at: Some(platform::time::to_timestamp(closes)),
                    allocation_mode: mode as i32,
                    inventory,
                    ..Default::default()
                }
            },
        )
        .collect()
}

/// Creates the demo fairs that are not there yet (a name already listed is skipped, so a demo
/// load interrupted half-way is simply run again); returns those it created.
pub async fn load_demo(service: &mut FairServiceClient<Authed>) -> Result<Vec<pb::Fair>, CliError> {
    let mut existing = std::collections::HashSet::new();
    let mut page_token = String::new();
    loop {
        let page = service
            .list_fairs(call(pb::ListFairsRequest {
                page_size: 100,
                page_token,
                ..Default::default()
            }))
            .await?
            .into_inner();
        existing.extend(page.fairs.into_iter().map(|fair| fair.name));
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    let mut created = Vec::new();
    for plan in demo_plans(chrono::Utc::now()) {
        if existing.contains(&plan.name) {
            continue;
        }
        let fair = service
            .create_fair(call(pb::CreateFairRequest { fair: Some(plan) }))
            .await?
            .into_inner()
            .fair;
        created.extend(fair);
    }
    Ok(created)
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

fn emit_registrations(all: &[pb::Registration], json: bool) {
    if json {
        output::emit(&output::json(&Value::from(
            all.iter().map(registration_json).collect::<Vec<_>>(),
        )));
    } else {
        output::emit(&registrations_table(all));
    }
}

fn emit_registration(r: &pb::Registration, json: bool) {
    output::emit(&if json {
        output::json(&registration_json(r))
    } else {
        output::fields(&[
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
        ])
    });
}

fn emit_with_offers(r: pb::Registration, offered: &[pb::Registration], json: bool) {
    if json {
        output::emit(&output::json(&json!({
            "registration": registration_json(&r),
            "offered": offered.iter().map(registration_json).collect::<Vec<_>>(),
        })));
    } else {
        emit_registration(&r, false);
        for o in offered {
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

fn fair_json(f: &pb::Fair) -> Value {
    json!({
        "id": f.id, "name": f.name, "kind": enums::json::<pb::FairKind>(f.kind), "external": f.external,
        "city": f.city, "venue": f.venue, "market": enums::json::<pb::Market>(f.market),
        "starts_at": output::time_json(f.starts_at.as_ref()), "ends_at": output::time_json(f.ends_at.as_ref()),
        "registration_opens_at": output::time_json(f.registration_opens_at.as_ref()),
        "registration_closes_at": output::time_json(f.registration_closes_at.as_ref()),
        "allocation_mode": enums::json::<pb::AllocationMode>(f.allocation_mode),
        "inventory": f.inventory.iter().map(|i| json!({
            "booth_type": enums::json::<pb::BoothType>(i.booth_type), "capacity": i.capacity,
            "fee_fen": i.fee_fen, "taken": i.taken,
        })).collect::<Vec<_>>(),
        "small_firm_reserve_percent": f.small_firm_reserve_percent,
        "a_class_reserve_percent": f.a_class_reserve_percent,
        "per_firm_cap": f.per_firm_cap, "version": f.version,
        "created_at": output::time_json(f.created_at.as_ref()),
        "allocated_at": output::time_json(f.allocated_at.as_ref()),
    })
}

fn registration_json(r: &pb::Registration) -> Value {
    json!({
        "id": r.id, "fair_id": r.fair_id, "uscc": r.uscc,
        "booth_type": enums::json::<pb::BoothType>(r.booth_type),
        "booths_requested": r.booths_requested, "booths_granted": r.booths_granted,
        "status": enums::json::<pb::RegistrationStatus>(r.status),
        "waitlist_position": r.waitlist_position,
        "applied_at": output::time_json(r.applied_at.as_ref()),
        "confirmed_at": output::time_json(r.confirmed_at.as_ref()),
        "offer_expires_at": output::time_json(r.offer_expires_at.as_ref()),
        "cancellation_reason": r.cancellation_reason, "cancellation_fee_fen": r.cancellation_fee_fen,
        "explanation": r.explanation,
        "enterprise_class": enums::json::<common::EnterpriseClass>(r.enterprise_class),
    })
}

fn invitation_json(i: &pb::Invitation) -> Value {
    json!({
        "fair_id": i.fair_id, "uscc": i.uscc,
        "enterprise_class": enums::json::<common::EnterpriseClass>(i.enterprise_class),
        "reason": i.reason, "status": enums::json::<pb::InvitationStatus>(i.status),
        "issued_at": output::time_json(i.issued_at.as_ref()),
        "withdrawn_at": output::time_json(i.withdrawn_at.as_ref()),
    })
}

fn outcome_json(o: &pb::Outcome) -> Value {
    json!({
        "registration_id": o.registration_id, "fair_id": o.fair_id, "uscc": o.uscc, "leads": o.leads,
        "intended_orders_fen": o.intended_orders_fen, "signed_export_orders_fen": o.signed_export_orders_fen,
        "recorded_at": output::time_json(o.recorded_at.as_ref()),
    })
}

fn subsidy_json(s: &pb::Subsidy) -> Value {
    json!({
        "registration_id": s.registration_id, "fair_id": s.fair_id, "uscc": s.uscc, "year": s.year,
        "amount_fen": s.amount_fen, "percent": s.percent, "limited_by": s.limited_by,
        "granted_at": output::time_json(s.granted_at.as_ref()),
    })
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
    fn demo_fairs_are_next_year_with_windows_open_now() {
        use chrono::{Datelike, TimeZone, Utc};
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap();
        let plans = demo_plans(now);
        assert_eq!(plans.len(), 7);
        assert_eq!(
            plans
                .iter()
                .filter(|p| p.kind() == pb::FairKind::CpmMoscow)
                .count(),
            2
        );
        for p in &plans {
            let at = |t: &Option<Timestamp>| {
                platform::time::from_timestamp(t.as_ref().unwrap()).unwrap()
            };
            assert_eq!(at(&p.starts_at).year(), 2027, "{}", p.name);
            assert!(
                at(&p.registration_opens_at) <= now && now < at(&p.registration_closes_at),
                "{}",
                p.name
            );
            assert!(
                at(&p.registration_closes_at) <= at(&p.starts_at),
                "{}",
                p.name
            );
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
