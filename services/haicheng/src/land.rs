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
//!   score, time), or the applications already granted.
//!
//! Money is shown in yuan and land in mu (`12,345.67`); the protos and JSON carry fen and
//! hundredths of a mu. The service's address is `--land HOST:PORT` (`HAICHENG_LAND_ADDR`).

pub mod demo;

use clap::{Args, Subcommand};
use haicheng_proto::{
    common::v1 as common,
    land::v1::{self as pb, land_service_client::LandServiceClient},
};
use serde_json::{Value, json};

use crate::{
    Context,
    client::{self, Authed, call},
    enterprise::more_hint,
    enums,
    errors::CliError,
    output::{self, Format, Table, hundredths},
};

/// Address of the land-parcel service, `HOST:PORT`.
pub const ADDR_VAR: &str = "HAICHENG_LAND_ADDR";

#[derive(Args)]
pub struct LandArgs {
    /// Address of the land-parcel service.
    #[arg(long = "land", global = true, value_name = "HOST:PORT", env = ADDR_VAR, default_value = "127.0.0.1:50053")]
    address: String,
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

async fn connect(address: &str, context: &Context) -> Result<LandServiceClient<Authed>, CliError> {
    let token = context.connect.bearer()?;
    let channel = client::connect("land-parcel", "land", address).await?;
    Ok(LandServiceClient::with_interceptor(channel, token))
}

pub async fn run(args: LandArgs, context: &Context) -> Result<(), CliError> {
    let mut service = connect(&args.address, context).await?;
    let json = context.format == Format::Json;
    match args.command {
        LandCommand::Parcels(list) => {
            let (parcels, next) = client::pages(
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
            if json {
                output::emit(&output::json(&json!({
                    "parcels": parcels.iter().map(parcel_json).collect::<Vec<_>>(),
                    "next_page_token": next,
                })));
            } else {
                output::emit(&parcels_table(&parcels));
                more_hint(&next);
            }
        }
        LandCommand::Parcel { parcel_id } => {
            let reply = service
                .get_parcel(call(pb::GetParcelRequest {
                    parcel_id: parcel_id.trim().to_string(),
                }))
                .await?
                .into_inner();
            let parcel = reply.parcel.unwrap_or_default();
            if json {
                output::emit(&output::json(&json!({
                    "parcel": parcel_json(&parcel),
                    "grant": reply.grant.as_ref().map_or(Value::Null, grant_json),
                    "buildings": reply.buildings.iter().map(building_json).collect::<Vec<_>>(),
                })));
            } else {
                let mut text = render_parcel(&parcel);
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
            }
        }
        LandCommand::Grant { grant_id } => {
            let reply = service
                .get_grant(call(pb::GetGrantRequest {
                    grant_id: grant_id.trim().to_string(),
                }))
                .await?
                .into_inner();
            let grant = reply.grant.unwrap_or_default();
            if json {
                output::emit(&output::json(&json!({
                    "grant": grant_json(&grant),
                    "latest_evaluation": reply.latest_evaluation.as_ref().map_or(Value::Null, evaluation_json),
                })));
            } else {
                let mut text = render_grant(&grant);
                match &reply.latest_evaluation {
                    Some(e) => {
                        text.push('\n');
                        text.push_str(&render_evaluation(e));
                    }
                    None => text.push_str("not evaluated yet\n"),
                }
                output::emit(&text);
            }
        }
        LandCommand::Evaluations { grant_id, as_of } => {
            let reply = service
                .list_evaluations(call(pb::ListEvaluationsRequest {
                    grant_id: grant_id.trim().to_string(),
                    as_of,
                }))
                .await?
                .into_inner();
            if json {
                output::emit(&output::json(&json!({
                    "evaluations": reply.evaluations.iter().map(evaluation_json).collect::<Vec<_>>(),
                })));
            } else {
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
                for e in &reply.evaluations {
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
                output::emit(&table.render());
            }
        }
        LandCommand::Units { parcel_id } => {
            let reply = service
                .get_parcel(call(pb::GetParcelRequest {
                    parcel_id: parcel_id.trim().to_string(),
                }))
                .await?
                .into_inner();
            let units: Vec<&pb::Unit> = reply.buildings.iter().flat_map(|b| &b.units).collect();
            if json {
                output::emit(&output::json(&json!({
                    "units": units.iter().map(|u| unit_json(u)).collect::<Vec<_>>(),
                })));
            } else {
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
                output::emit(&table.render());
            }
        }
        LandCommand::Queue(queue) => {
            let status = if queue.granted {
                pb::ApplicationStatus::Granted
            } else {
                pb::ApplicationStatus::Queued
            };
            let (applications, next) = client::pages(
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
            if json {
                output::emit(&output::json(&json!({
                    "applications": applications.iter().map(application_json).collect::<Vec<_>>(),
                    "next_page_token": next,
                })));
            } else {
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
                for a in &applications {
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
                output::emit(&table.render());
                more_hint(&next);
            }
        }
    }
    Ok(())
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

fn render_grant(g: &pb::Grant) -> String {
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
        ("rent credited (yuan)", hundredths(g.rent_credited_fen)),
        ("version", g.version.to_string()),
    ])
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

fn parcel_json(p: &pb::Parcel) -> Value {
    json!({
        "id": p.id,
        "park": enums::json::<common::Park>(p.park),
        "land_use": enums::json::<pb::LandUse>(p.land_use),
        "area_centi_mu": p.area_centi_mu,
        "plot_ratio_min_milli": p.plot_ratio_min_milli,
        "plot_ratio_max_milli": p.plot_ratio_max_milli,
        "status": enums::json::<pb::ParcelStatus>(p.status),
        "location": p.location,
        "parent_ids": p.parent_ids,
        "child_ids": p.child_ids,
        "version": p.version,
        "created_at": output::time_json(p.created_at.as_ref()),
    })
}

fn grant_json(g: &pb::Grant) -> Value {
    let s = g.supply.unwrap_or_default();
    let c = g.contract.clone().unwrap_or_default();
    let k = g.commitments.unwrap_or_default();
    let p = g.progress.clone().unwrap_or_default();
    json!({
        "id": g.id,
        "parcel_id": g.parcel_id,
        "uscc": g.uscc,
        "supply": {
            "mode": enums::json::<pb::SupplyMode>(s.mode),
            "term_years": s.term_years,
            "lease_years": s.lease_years,
            "transfer_years": s.transfer_years,
            "price_fen": s.price_fen,
            "yearly_rent_fen": s.yearly_rent_fen,
        },
        "contract": {
            "deposit_fen": c.deposit_fen,
            "signed_on": c.signed_on,
            "start_by": c.start_by,
            "complete_by": c.complete_by,
            "production_check_on": c.production_check_on,
        },
        "commitments": {
            "investment_fen_per_mu": k.investment_fen_per_mu,
            "output_fen_per_mu": k.output_fen_per_mu,
            "tax_fen_per_mu": k.tax_fen_per_mu,
            "plot_ratio_milli": k.plot_ratio_milli,
            "energy_tce_per_wan_yuan": k.energy_tce_per_wan_yuan,
        },
        "status": enums::json::<pb::GrantStatus>(g.status),
        "progress": {
            "started_on": p.started_on,
            "completed_on": p.completed_on,
            "investment_to_date_fen": p.investment_to_date_fen,
            "built_floor_area_centi_m2": p.built_floor_area_centi_m2,
            "start_days_late": p.start_days_late,
            "completion_days_late": p.completion_days_late,
            "late_damages_fen": p.late_damages_fen,
            "take_back_review": p.take_back_review,
            "idle_reason": p.idle_reason,
        },
        "total_years": g.total_years,
        "rent_credited_fen": g.rent_credited_fen,
        "granted_at": output::time_json(g.granted_at.as_ref()),
        "version": g.version,
    })
}

fn evaluation_json(e: &pb::CommitmentEvaluation) -> Value {
    json!({
        "id": e.id,
        "grant_id": e.grant_id,
        "parcel_id": e.parcel_id,
        "uscc": e.uscc,
        "period": output::period_json(e.period.as_ref()),
        "revision": e.revision,
        "outcome": enums::json::<pb::EvaluationOutcome>(e.outcome),
        "all_met": e.all_met,
        "items": e.items.iter().map(|i| json!({
            "item": enums::json::<pb::CommitmentItem>(i.item),
            "committed": i.committed,
            "actual": i.actual,
            "shortfall_bp": i.shortfall_bp,
            "projected_shortfall_bp": i.projected_shortfall_bp,
            "damages_fen": i.damages_fen,
        })).collect::<Vec<_>>(),
        "damages_fen": e.damages_fen,
        "rectification_due_on": e.rectification_due_on,
        "evaluated_on": e.evaluated_on,
        "recorded_at": output::time_json(e.recorded_at.as_ref()),
    })
}

fn unit_json(u: &pb::Unit) -> Value {
    json!({
        "id": u.id,
        "building_id": u.building_id,
        "parcel_id": u.parcel_id,
        "floor": u.floor,
        "part": u.part,
        "floor_area_centi_m2": u.floor_area_centi_m2,
        "status": enums::json::<pb::UnitStatus>(u.status),
        "holder_uscc": u.holder_uscc,
        "apportioned_centi_mu": u.apportioned_centi_mu,
        "version": u.version,
        "holder_figures": u.holder_figures.map_or(Value::Null, |h| json!({
            "year": h.year,
            "output_fen_per_mu": h.output_fen_per_mu,
            "tax_fen_per_mu": h.tax_fen_per_mu,
            "meets_commitments": h.meets_commitments,
        })),
    })
}

fn building_json(b: &pb::Building) -> Value {
    json!({
        "id": b.id,
        "parcel_id": b.parcel_id,
        "name": b.name,
        "floors": b.floors.iter().map(|f| json!({"number": f.number, "area_centi_m2": f.area_centi_m2})).collect::<Vec<_>>(),
        "units": b.units.iter().map(unit_json).collect::<Vec<_>>(),
    })
}

fn application_json(a: &pb::LandApplication) -> Value {
    json!({
        "id": a.id,
        "uscc": a.uscc,
        "enterprise_class": enums::json::<common::EnterpriseClass>(a.enterprise_class),
        "score": a.score,
        "park": enums::json::<common::Park>(a.park),
        "land_use": enums::json::<pb::LandUse>(a.land_use),
        "area_centi_mu": a.area_centi_mu,
        "supply_mode": enums::json::<pb::SupplyMode>(a.supply_mode),
        "purpose": a.purpose,
        "status": enums::json::<pb::ApplicationStatus>(a.status),
        "submitted_at": output::time_json(a.submitted_at.as_ref()),
        "queue_position": a.queue_position,
        "grant_id": a.grant_id,
    })
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
