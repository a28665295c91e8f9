//! `haicheng land …`: the land-parcel service (natural resources writes; commerce, finance
//! and the park committees read).
//!
//! - `land parcels [--park P] [--use U] [--status S]` (paging as every list): parcels by id;
//! - `land parcel ID`: one parcel with its lineage, its grant in force and its buildings;
//! - `land grant GRANT_ID`: a grant's terms, commitments, progress and lateness as of today,
//!   and its latest evaluation;
//! - `land evaluations GRANT_ID [--as-of TIME]`: the grant's evaluations, newest first, as
//!   known at a time;
//! - `land units PARCEL_ID`: the separable units of the parcel's buildings;
//! - `land queue --park P [--granted]`: the land application queue in its order (class,
//!   score, time), or the applications already granted;
//! - `land parcel ID --as-of TIME`: the parcel's status and grant in force as they were then;
//! - idle land, take-back, low-efficiency land and lease renewal: [`crate::land_disposal`].
//!
//! Money is shown in yuan and land in mu (`12,345.67`); the protos and JSON carry fen and
//! hundredths of a mu. The service's address is `--land HOST:PORT` (`HAICHENG_LAND_ADDR`,
//! [`crate::client`]). One function per subcommand.

use clap::{Args, Subcommand};
use haicheng_proto::{
    common::v1 as common,
    land::v1::{self as pb, land_service_client::LandServiceClient},
};

use crate::{
    Context,
    client::{self, Authed, call},
    enterprise::more_hint,
    enums,
    errors::CliError,
    land_disposal,
    output::{self, Format, Table, hundredths},
};

#[derive(Args)]
pub struct LandArgs {
    #[command(subcommand)]
    command: LandCommand,
}

#[derive(Subcommand)]
pub enum LandCommand {
    /// Parcels by id, filtered.
    Parcels(ParcelsArgs),
    /// One parcel: lineage, grant in force, buildings.
    Parcel {
        /// Parcel id.
        parcel_id: String,
        /// Its status and grant in force as they were at this RFC 3339 time.
        #[arg(long, value_parser = output::parse_time)]
        as_of: Option<prost_types::Timestamp>,
    },
    /// One grant: terms, commitments, progress, lateness, latest evaluation.
    Grant {
        /// Grant id.
        grant_id: String,
    },
    /// A grant's evaluations, newest first.
    Evaluations {
        /// Grant id.
        grant_id: String,
        /// As known at this RFC 3339 time.
        #[arg(long, value_parser = output::parse_time)]
        as_of: Option<prost_types::Timestamp>,
    },
    /// The separable units of a parcel's buildings.
    Units {
        /// Parcel id.
        parcel_id: String,
    },
    /// A park's land application queue, in order.
    Queue(QueueArgs),
    /// Runs the idle land pass now, or as of another day (natural resources).
    IdlePass {
        /// The day, YYYY-MM-DD; today when left out.
        #[arg(long)]
        on: Option<String>,
    },
    /// Records an ordered idle fee as paid or waived (natural resources).
    IdleFee(land_disposal::IdleFeeArgs),
    /// Takes a grant under take-back review back (natural resources).
    TakeBack(land_disposal::TakeBackArgs),
    /// Grants flagged low-efficiency land, for redevelopment.
    LowEfficiency(land_disposal::LowEfficiencyArgs),
    /// Renews a long-term lease.
    Renew(land_disposal::RenewArgs),
}

#[derive(Args)]
pub struct ParcelsArgs {
    /// Only this park: XILIU, NANTAI, GANWANG, ZHONGXIAO.
    #[arg(long, value_parser = enums::parse::<common::Park>)]
    park: Option<common::Park>,
    /// Only this land use: INDUSTRIAL, COMMERCIAL, PUBLIC_SERVICE.
    #[arg(long = "use", value_parser = enums::parse::<pb::LandUse>)]
    land_use: Option<pb::LandUse>,
    /// Only this status: AVAILABLE, GRANTED, LEASED, IDLE, TAKEN_BACK, ENDED.
    #[arg(long, value_parser = enums::parse::<pb::ParcelStatus>)]
    status: Option<pb::ParcelStatus>,
    #[command(flatten)]
    paging: client::Paging,
}

#[derive(Args)]
pub struct QueueArgs {
    /// The park whose queue to show.
    #[arg(long, value_parser = enums::parse::<common::Park>)]
    park: common::Park,
    /// The applications already granted instead of the queue.
    #[arg(long)]
    granted: bool,
    #[command(flatten)]
    paging: client::Paging,
}

pub(crate) type Client = LandServiceClient<Authed>;

pub async fn run(args: LandArgs, context: &Context) -> Result<(), CliError> {
    let service = context.connect.land().await?;
    let format = context.format;
    match args.command {
        LandCommand::Parcels(args) => parcels(service, args, format).await,
        LandCommand::Parcel { parcel_id, as_of } => {
            parcel(service, &parcel_id, as_of, format).await
        }
        LandCommand::Grant { grant_id } => grant(service, &grant_id, format).await,
        LandCommand::Evaluations { grant_id, as_of } => {
            evaluations(service, &grant_id, as_of, format).await
        }
        LandCommand::Units { parcel_id } => units(service, &parcel_id, format).await,
        LandCommand::Queue(args) => queue(service, args, format).await,
        LandCommand::IdlePass { on } => land_disposal::idle_pass(service, on, format).await,
        LandCommand::IdleFee(args) => land_disposal::idle_fee(service, args, format).await,
        LandCommand::TakeBack(args) => land_disposal::take_back(service, args, format).await,
        LandCommand::LowEfficiency(args) => {
            land_disposal::low_efficiency(service, args, format).await
        }
        LandCommand::Renew(args) => land_disposal::renew(service, args, format).await,
    }
}

/// `land parcels`: one page, or every page with `--all`.
async fn parcels(service: Client, list: ParcelsArgs, format: Format) -> Result<(), CliError> {
    let (parcels, next_page_token) = client::pages(
        list.paging.all,
        list.paging.page_token.clone(),
        "parcels",
        |token| {
            let mut service = service.clone();
            let request = call(pb::ListParcelsRequest {
                park: list.park.map_or(0, |p| p as i32),
                land_use: list.land_use.map_or(0, |u| u as i32),
                status: list.status.map_or(0, |s| s as i32),
                page_size: list.paging.page_size.unwrap_or(0),
                page_token: token,
            });
            async move {
                let page = service.list_parcels(request).await?.into_inner();
                Ok((page.parcels, page.next_page_token))
            }
        },
    )
    .await?;
    match format {
        Format::Json => output::emit(&output::json(&pb::ListParcelsResponse {
            parcels,
            next_page_token,
        })),
        Format::Table => {
            output::emit(&parcels_table(&parcels));
            more_hint(&next_page_token);
        }
    }
    Ok(())
}

/// `land parcel ID`: the parcel, its grant in force with the grant's latest evaluation, and
/// its buildings.
async fn parcel(
    mut service: Client,
    parcel_id: &str,
    as_of: Option<prost_types::Timestamp>,
    format: Format,
) -> Result<(), CliError> {
    let reply = service
        .get_parcel(call(pb::GetParcelRequest {
            parcel_id: parcel_id.trim().to_string(),
            as_of,
        }))
        .await?
        .into_inner();
    if format == Format::Json {
        output::emit(&output::json(&reply));
        return Ok(());
    }
    let mut text = render_parcel(&reply.parcel.unwrap_or_default());
    match &reply.grant {
        Some(grant) => {
            text.push('\n');
            text.push_str(&render_grant(grant));
            let latest = service
                .get_grant(call(pb::GetGrantRequest {
                    grant_id: grant.id.clone(),
                }))
                .await?
                .into_inner()
                .latest_evaluation;
            if let Some(evaluation) = latest {
                text.push('\n');
                text.push_str(&render_evaluation(&evaluation));
            }
        }
        None => text.push_str("no grant in force\n"),
    }
    for building in &reply.buildings {
        text.push_str(&format!(
            "\nbuilding {} ({}): {} floors, {} units\n",
            building.name,
            building.id,
            building.floors.len(),
            building.units.len()
        ));
    }
    output::emit(&text);
    Ok(())
}

/// `land grant ID`: the grant and its latest evaluation.
async fn grant(mut service: Client, grant_id: &str, format: Format) -> Result<(), CliError> {
    let reply = service
        .get_grant(call(pb::GetGrantRequest {
            grant_id: grant_id.trim().to_string(),
        }))
        .await?
        .into_inner();
    output::emit(&match format {
        Format::Json => output::json(&reply),
        Format::Table => {
            let mut text = render_grant(&reply.grant.unwrap_or_default());
            match &reply.latest_evaluation {
                Some(e) => {
                    text.push('\n');
                    text.push_str(&render_evaluation(e));
                }
                None => text.push_str("not evaluated yet\n"),
            }
            text
        }
    });
    Ok(())
}

/// `land evaluations GRANT_ID [--as-of TIME]`.
async fn evaluations(
    mut service: Client,
    grant_id: &str,
    as_of: Option<prost_types::Timestamp>,
    format: Format,
) -> Result<(), CliError> {
    let reply = service
        .list_evaluations(call(pb::ListEvaluationsRequest {
            grant_id: grant_id.trim().to_string(),
            as_of,
        }))
        .await?
        .into_inner();
    output::emit(&match format {
        Format::Json => output::json(&reply),
        Format::Table => evaluations_table(&reply.evaluations),
    });
    Ok(())
}

/// `land units PARCEL_ID`: the units of every building of the parcel (JSON: `{"units": […]}`).
async fn units(mut service: Client, parcel_id: &str, format: Format) -> Result<(), CliError> {
    let reply = service
        .get_parcel(call(pb::GetParcelRequest {
            parcel_id: parcel_id.trim().to_string(),
            as_of: None,
        }))
        .await?
        .into_inner();
    let units: Vec<&pb::Unit> = reply.buildings.iter().flat_map(|b| &b.units).collect();
    output::emit(&match format {
        Format::Json => output::json(&Units { units: &units }),
        Format::Table => units_table(&units),
    });
    Ok(())
}

/// The JSON of `land units`: the units of every building, in their order.
#[derive(serde::Serialize)]
struct Units<'a> {
    units: &'a [&'a pb::Unit],
}

/// `land queue --park P [--granted]`.
async fn queue(service: Client, queue: QueueArgs, format: Format) -> Result<(), CliError> {
    let status = if queue.granted {
        pb::ApplicationStatus::Granted
    } else {
        pb::ApplicationStatus::Queued
    };
    let (applications, next_page_token) = client::pages(
        queue.paging.all,
        queue.paging.page_token.clone(),
        "applications",
        |token| {
            let mut service = service.clone();
            let request = call(pb::ListLandApplicationsRequest {
                park: queue.park as i32,
                status: status as i32,
                page_size: queue.paging.page_size.unwrap_or(0),
                page_token: token,
            });
            async move {
                let page = service.list_land_applications(request).await?.into_inner();
                Ok((page.applications, page.next_page_token))
            }
        },
    )
    .await?;
    match format {
        Format::Json => output::emit(&output::json(&pb::ListLandApplicationsResponse {
            applications,
            next_page_token,
        })),
        Format::Table => {
            output::emit(&queue_table(&applications));
            more_hint(&next_page_token);
        }
    }
    Ok(())
}

fn evaluations_table(evaluations: &[pb::CommitmentEvaluation]) -> String {
    let mut table = Table::new(&[
        "EVALUATED",
        "PERIOD",
        "REV",
        "OUTCOME",
        "ALL MET",
        "DAMAGES (YUAN)",
        "RECTIFY BY",
    ])
    .numeric(&[2, 5]);
    for e in evaluations {
        table.row(vec![
            e.evaluated_on.clone(),
            output::period(e.period.as_ref()),
            e.revision.to_string(),
            enums::short::<pb::EvaluationOutcome>(e.outcome),
            yes_no(e.all_met),
            hundredths(e.damages_fen),
            dash(&e.rectification_due_on),
        ]);
    }
    table.render()
}

fn units_table(units: &[&pb::Unit]) -> String {
    let mut table = Table::new(&[
        "UNIT",
        "BUILDING",
        "FLOOR",
        "PART",
        "AREA (M²)",
        "LAND (MU)",
        "STATUS",
        "HOLDER",
        "HOLDER PER MU (YEAR: OUTPUT / TAX, YUAN)",
    ])
    .numeric(&[2, 4, 5]);
    for u in units {
        table.row(vec![
            u.id.clone(),
            u.building_id.clone(),
            u.floor.to_string(),
            if u.part.is_empty() {
                "(whole floor)".to_string()
            } else {
                u.part.clone()
            },
            hundredths(u.floor_area_centi_m2),
            hundredths(u.apportioned_centi_mu),
            enums::short::<pb::UnitStatus>(u.status),
            dash(&u.holder_uscc),
            u.holder_figures.map_or_else(
                || "-".to_string(),
                |h| {
                    format!(
                        "{}: {} / {}{}",
                        h.year,
                        hundredths(h.output_fen_per_mu),
                        hundredths(h.tax_fen_per_mu),
                        if h.meets_commitments { "" } else { " (short)" }
                    )
                },
            ),
        ]);
    }
    table.render()
}

fn queue_table(applications: &[pb::LandApplication]) -> String {
    let mut table = Table::new(&[
        "#",
        "USCC",
        "CLASS",
        "SCORE",
        "USE",
        "AREA (MU)",
        "MODE",
        "SUBMITTED",
        "GRANT",
    ])
    .numeric(&[0, 3, 5]);
    for a in applications {
        table.row(vec![
            if a.queue_position > 0 {
                a.queue_position.to_string()
            } else {
                "-".into()
            },
            a.uscc.clone(),
            enums::short::<common::EnterpriseClass>(a.enterprise_class),
            output::number(a.score),
            enums::short::<pb::LandUse>(a.land_use),
            hundredths(a.area_centi_mu),
            enums::short::<pb::SupplyMode>(a.supply_mode),
            output::time(a.submitted_at.as_ref()),
            dash(&a.grant_id),
        ]);
    }
    table.render()
}

fn dash(text: &str) -> String {
    if text.is_empty() {
        "-".to_string()
    } else {
        text.to_string()
    }
}

fn yes_no(flag: bool) -> String {
    if flag { "yes" } else { "no" }.to_string()
}

/// Thousandths as a decimal (a plot ratio: 1200 → 1.2).
fn milli(n: i64) -> String {
    output::number(n as f64 / 1000.0)
}

fn parcels_table(parcels: &[pb::Parcel]) -> String {
    let mut table = Table::new(&[
        "ID",
        "PARK",
        "USE",
        "AREA (MU)",
        "PLOT RATIO",
        "STATUS",
        "LOCATION",
    ])
    .numeric(&[3]);
    for p in parcels {
        table.row(vec![
            p.id.clone(),
            enums::short::<common::Park>(p.park),
            enums::short::<pb::LandUse>(p.land_use),
            hundredths(p.area_centi_mu),
            format!(
                "{}–{}",
                milli(p.plot_ratio_min_milli),
                milli(p.plot_ratio_max_milli)
            ),
            enums::short::<pb::ParcelStatus>(p.status),
            p.location.clone(),
        ]);
    }
    table.render()
}

fn render_parcel(p: &pb::Parcel) -> String {
    output::fields(&[
        ("parcel", p.id.clone()),
        ("park", enums::short::<common::Park>(p.park)),
        ("use", enums::short::<pb::LandUse>(p.land_use)),
        ("area (mu)", hundredths(p.area_centi_mu)),
        (
            "plot ratio allowed",
            format!(
                "{}–{}",
                milli(p.plot_ratio_min_milli),
                milli(p.plot_ratio_max_milli)
            ),
        ),
        ("status", enums::short::<pb::ParcelStatus>(p.status)),
        ("location", p.location.clone()),
        ("from", dash(&p.parent_ids.join(", "))),
        ("into", dash(&p.child_ids.join(", "))),
        ("version", p.version.to_string()),
    ])
}

pub(crate) fn render_grant(g: &pb::Grant) -> String {
    let supply = g.supply.unwrap_or_default();
    let contract = g.contract.clone().unwrap_or_default();
    let c = g.commitments.unwrap_or_default();
    let p = g.progress.clone().unwrap_or_default();
    let term = if supply.lease_years > 0 {
        format!(
            "{} years lease + {} years transfer",
            supply.lease_years, supply.transfer_years
        )
    } else {
        format!("{} years", g.total_years)
    };
    output::fields(&[
        ("grant", g.id.clone()),
        ("holder", g.uscc.clone()),
        ("mode", enums::short::<pb::SupplyMode>(supply.mode)),
        ("term", term),
        ("price (yuan)", hundredths(supply.price_fen)),
        ("yearly rent (yuan)", hundredths(supply.yearly_rent_fen)),
        ("status", enums::short::<pb::GrantStatus>(g.status)),
        ("signed", contract.signed_on),
        ("start by", contract.start_by),
        ("complete by", contract.complete_by),
        ("production check", contract.production_check_on),
        ("investment (yuan/mu)", hundredths(c.investment_fen_per_mu)),
        ("output (yuan/mu)", hundredths(c.output_fen_per_mu)),
        ("tax (yuan/mu)", hundredths(c.tax_fen_per_mu)),
        ("plot ratio at least", milli(c.plot_ratio_milli)),
        ("started", dash(&p.started_on)),
        ("completed", dash(&p.completed_on)),
        ("invested (yuan)", hundredths(p.investment_to_date_fen)),
        ("built (m²)", hundredths(p.built_floor_area_centi_m2)),
        (
            "days late (start, completion)",
            format!("{}, {}", p.start_days_late, p.completion_days_late),
        ),
        ("late damages (yuan)", hundredths(p.late_damages_fen)),
        ("take-back review", yes_no(p.take_back_review)),
        ("idle", dash(&p.idle_reason)),
        ("idle fee", idle_fee(g.idle_fee.as_ref())),
        ("take-back review (why)", dash(&g.take_back_review)),
        ("taken back", taken_back(g.take_back.as_ref())),
        ("low-efficiency land", yes_no(g.low_efficiency)),
        ("rent credited (yuan)", hundredths(g.rent_credited_fen)),
        ("version", g.version.to_string()),
    ])
}

/// `1,234.56 yuan ORDERED on 2025-03-01` (with the waiver's reason), `-` when none.
fn idle_fee(fee: Option<&pb::IdleFee>) -> String {
    let Some(fee) = fee else {
        return "-".into();
    };
    let mut text = format!(
        "{} yuan {} on {}",
        hundredths(fee.fee_fen),
        enums::short::<pb::IdleFeeStatus>(fee.status),
        fee.ordered_on
    );
    if !fee.settled_on.is_empty() {
        text.push_str(&format!(", settled {}", fee.settled_on));
    }
    if !fee.waiver_reason.is_empty() {
        text.push_str(&format!(" ({})", fee.waiver_reason));
    }
    text
}

/// `2026-03-01, document …: reason; 2 units named`, `-` when not taken back.
fn taken_back(decision: Option<&pb::TakeBack>) -> String {
    decision.map_or_else(
        || "-".into(),
        |t| {
            format!(
                "{}, document {}: {}; {} units named",
                t.decided_on,
                t.document_number,
                t.reason,
                t.units.len()
            )
        },
    )
}

fn render_evaluation(e: &pb::CommitmentEvaluation) -> String {
    let mut text = output::fields(&[
        (
            "evaluated",
            format!(
                "{} ({} revision {})",
                e.evaluated_on,
                output::period(e.period.as_ref()),
                e.revision
            ),
        ),
        ("outcome", enums::short::<pb::EvaluationOutcome>(e.outcome)),
        ("damages (yuan)", hundredths(e.damages_fen)),
        ("rectify by", dash(&e.rectification_due_on)),
    ]);
    let mut table = Table::new(&[
        "ITEM",
        "COMMITTED",
        "ACTUAL",
        "SHORT %",
        "PROJECTED SHORT %",
        "DAMAGES (YUAN)",
    ])
    .numeric(&[1, 2, 3, 4, 5]);
    for i in &e.items {
        table.row(vec![
            enums::short::<pb::CommitmentItem>(i.item),
            i.committed.to_string(),
            i.actual.to_string(),
            hundredths(i64::from(i.shortfall_bp)),
            hundredths(i64::from(i.projected_shortfall_bp)),
            hundredths(i.damages_fen),
        ]);
    }
    text.push_str(&table.render());
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn land_enums_parse_like_the_others() {
        assert_eq!(
            enums::parse::<pb::ParcelStatus>("idle"),
            Ok(pb::ParcelStatus::Idle)
        );
        assert_eq!(
            enums::parse::<pb::LandUse>("public-service"),
            Ok(pb::LandUse::PublicService)
        );
        assert!(enums::parse::<pb::SupplyMode>("auction").is_err());
        assert_eq!(enums::short::<pb::EvaluationOutcome>(3), "SHORT");
    }

    #[test]
    fn a_grant_renders_its_money_in_yuan_and_its_ratio_as_a_decimal() {
        let grant = pb::Grant {
            id: "g-1".into(),
            supply: Some(pb::SupplyTerms {
                mode: 1,
                price_fen: 123_456_789,
                ..Default::default()
            }),
            commitments: Some(pb::Commitments {
                plot_ratio_milli: 1_200,
                ..Default::default()
            }),
            total_years: 50,
            ..Default::default()
        };
        let text = render_grant(&grant);
        assert!(text.contains("1,234,567.89"), "{text}");
        assert!(text.contains("STANDARD_TRANSFER"), "{text}");
        assert!(text.contains("1.2"), "{text}");
        assert!(text.contains("50 years"), "{text}");
    }
}
