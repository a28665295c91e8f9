//! Protobuf ↔ domain, in one place: the API and the events speak `haicheng.land.v1`, the
//! domain and the store plain Rust. Enum numbers outside the contract map to `None`. Imports
//! the domain only (never the store or the events). The shared words (`Park`, `Segment`,
//! `Class`) map themselves (`platform::vocab`).

use chrono::NaiveDate;
use haicheng_proto::{common::v1 as common, land::v1 as pb};
use platform::{Class, time::to_timestamp};

use crate::domain::{
    LandUse,
    disposal::{FeeStatus, IdleFee, TakeBack},
    evaluation::{EvaluationRecord, Item, Outcome},
    grant::{Commitments, ContractRequest, GrantRequest, GrantStatus, GrantView},
    parcel::{ParcelRecord, ParcelStatus},
    queue::ApplicationRecord,
    supply::{SupplyMode, TermRequest},
    units::{BuildingRecord, UnitRecord, UnitStatus},
};

fn class_to_proto(class: Option<Class>) -> common::EnterpriseClass {
    class.map_or(common::EnterpriseClass::Unspecified, Class::to_proto)
}

pub fn land_use_from_proto(value: i32) -> Option<LandUse> {
    match pb::LandUse::try_from(value).ok()? {
        pb::LandUse::Unspecified => None,
        pb::LandUse::Industrial => Some(LandUse::Industrial),
        pb::LandUse::Commercial => Some(LandUse::Commercial),
        pb::LandUse::PublicService => Some(LandUse::PublicService),
    }
}

fn land_use_to_proto(land_use: LandUse) -> pb::LandUse {
    match land_use {
        LandUse::Industrial => pb::LandUse::Industrial,
        LandUse::Commercial => pb::LandUse::Commercial,
        LandUse::PublicService => pb::LandUse::PublicService,
    }
}

pub fn parcel_status_from_proto(value: i32) -> Option<ParcelStatus> {
    match pb::ParcelStatus::try_from(value).ok()? {
        pb::ParcelStatus::Unspecified => None,
        pb::ParcelStatus::Available => Some(ParcelStatus::Available),
        pb::ParcelStatus::Granted => Some(ParcelStatus::Granted),
        pb::ParcelStatus::Leased => Some(ParcelStatus::Leased),
        pb::ParcelStatus::Idle => Some(ParcelStatus::Idle),
        pb::ParcelStatus::TakenBack => Some(ParcelStatus::TakenBack),
        pb::ParcelStatus::Ended => Some(ParcelStatus::Ended),
    }
}

fn parcel_status_to_proto(status: ParcelStatus) -> pb::ParcelStatus {
    match status {
        ParcelStatus::Available => pb::ParcelStatus::Available,
        ParcelStatus::Granted => pb::ParcelStatus::Granted,
        ParcelStatus::Leased => pb::ParcelStatus::Leased,
        ParcelStatus::Idle => pb::ParcelStatus::Idle,
        ParcelStatus::TakenBack => pb::ParcelStatus::TakenBack,
        ParcelStatus::Ended => pb::ParcelStatus::Ended,
    }
}

pub fn supply_mode_from_proto(value: i32) -> Option<SupplyMode> {
    match pb::SupplyMode::try_from(value).ok()? {
        pb::SupplyMode::Unspecified => None,
        pb::SupplyMode::StandardTransfer => Some(SupplyMode::StandardTransfer),
        pb::SupplyMode::FlexibleTerm => Some(SupplyMode::FlexibleTerm),
        pb::SupplyMode::LeaseThenTransfer => Some(SupplyMode::LeaseThenTransfer),
        pb::SupplyMode::LongTermLease => Some(SupplyMode::LongTermLease),
    }
}

fn supply_mode_to_proto(mode: SupplyMode) -> pb::SupplyMode {
    match mode {
        SupplyMode::StandardTransfer => pb::SupplyMode::StandardTransfer,
        SupplyMode::FlexibleTerm => pb::SupplyMode::FlexibleTerm,
        SupplyMode::LeaseThenTransfer => pb::SupplyMode::LeaseThenTransfer,
        SupplyMode::LongTermLease => pb::SupplyMode::LongTermLease,
    }
}

fn item_to_proto(item: Item) -> pb::CommitmentItem {
    match item {
        Item::InvestmentIntensity => pb::CommitmentItem::InvestmentIntensity,
        Item::OutputPerMu => pb::CommitmentItem::OutputPerMu,
        Item::TaxPerMu => pb::CommitmentItem::TaxPerMu,
        Item::PlotRatio => pb::CommitmentItem::PlotRatio,
        Item::EnergyPerOutput => pb::CommitmentItem::EnergyPerOutput,
    }
}

fn outcome_to_proto(outcome: Outcome) -> pb::EvaluationOutcome {
    match outcome {
        Outcome::Met => pb::EvaluationOutcome::Met,
        Outcome::EarlyWarning => pb::EvaluationOutcome::EarlyWarning,
        Outcome::Short => pb::EvaluationOutcome::Short,
    }
}

fn date(d: Option<NaiveDate>) -> String {
    d.map_or_else(String::new, |d| d.to_string())
}

pub fn parcel_to_proto(p: &ParcelRecord) -> pb::Parcel {
    pb::Parcel {
        id: p.id.clone(),
        park: p.park.to_proto() as i32,
        land_use: land_use_to_proto(p.land_use) as i32,
        area_centi_mu: p.area_centi_mu,
        plot_ratio_min_milli: p.plot_ratio_min_milli,
        plot_ratio_max_milli: p.plot_ratio_max_milli,
        status: parcel_status_to_proto(p.status) as i32,
        location: p.location.clone(),
        parent_ids: p.parent_ids.clone(),
        child_ids: p.child_ids.clone(),
        version: p.version,
        created_at: Some(to_timestamp(p.created_at)),
    }
}

pub fn grant_to_proto(view: &GrantView) -> pb::Grant {
    let g = &view.grant;
    let late = &view.lateness;
    pb::Grant {
        id: g.id.to_string(),
        parcel_id: g.parcel_id.clone(),
        uscc: g.uscc.clone(),
        supply: Some(pb::SupplyTerms {
            mode: supply_mode_to_proto(g.terms.mode) as i32,
            term_years: g.terms.total_years() as i32,
            lease_years: g.terms.lease_years as i32,
            transfer_years: g.terms.transfer_years as i32,
            price_fen: g.terms.price_fen,
            yearly_rent_fen: g.terms.yearly_rent_fen,
        }),
        contract: Some(pb::Contract {
            deposit_fen: g.contract.deposit_fen,
            signed_on: g.contract.signed_on.to_string(),
            start_by: g.contract.start_by.to_string(),
            complete_by: g.contract.complete_by.to_string(),
            production_check_on: g.contract.production_check_on.to_string(),
        }),
        commitments: Some(commitments_to_proto(&g.commitments)),
        status: grant_status_to_proto(g.status) as i32,
        progress: Some(pb::Progress {
            started_on: date(g.progress.started_on),
            completed_on: date(g.progress.completed_on),
            investment_to_date_fen: g.progress.investment_to_date_fen,
            built_floor_area_centi_m2: g.progress.built_floor_area_centi_m2,
            start_days_late: late.start_days_late.clamp(0, i64::from(i32::MAX)) as i32,
            completion_days_late: late.completion_days_late.clamp(0, i64::from(i32::MAX)) as i32,
            late_damages_fen: late.damages_fen,
            take_back_review: late.take_back_review,
            idle_reason: g.idle_reason.clone().unwrap_or_default(),
        }),
        total_years: g.terms.total_years() as i32,
        rent_credited_fen: g.rent_credited_fen,
        granted_at: Some(to_timestamp(g.granted_at)),
        version: g.version,
        idle_fee: g.disposal.idle_fee.as_ref().map(idle_fee_to_proto),
        take_back_review: crate::domain::disposal::review_reason(view)
            .map_or_else(String::new, |r| r.as_str().to_string()),
        low_efficiency: g.disposal.low_efficiency,
        take_back: g.disposal.take_back.as_ref().map(take_back_to_proto),
        ended_at: g.disposal.ended_at.map(to_timestamp),
    }
}

fn grant_status_to_proto(status: GrantStatus) -> pb::GrantStatus {
    match status {
        GrantStatus::Leasing => pb::GrantStatus::Leasing,
        GrantStatus::Transferred => pb::GrantStatus::Transferred,
        GrantStatus::Ended => pb::GrantStatus::Ended,
        GrantStatus::TakenBack => pb::GrantStatus::TakenBack,
    }
}

pub fn fee_status_to_proto(status: FeeStatus) -> pb::IdleFeeStatus {
    match status {
        FeeStatus::Ordered => pb::IdleFeeStatus::Ordered,
        FeeStatus::Paid => pb::IdleFeeStatus::Paid,
        FeeStatus::Waived => pb::IdleFeeStatus::Waived,
    }
}

fn idle_fee_to_proto(fee: &IdleFee) -> pb::IdleFee {
    pb::IdleFee {
        fee_fen: fee.fee_fen,
        status: fee_status_to_proto(fee.status) as i32,
        ordered_on: fee.ordered_on.to_string(),
        settled_on: date(fee.settled_on),
        waiver_reason: fee.waiver_reason.clone().unwrap_or_default(),
    }
}

pub fn take_back_to_proto(t: &TakeBack) -> pb::TakeBack {
    pb::TakeBack {
        review_reason: t.review_reason.clone(),
        reason: t.reason.clone(),
        document_number: t.document_number.clone(),
        decided_on: t.decided_on.to_string(),
        decided_by: t.decided_by.clone(),
        units: t
            .units
            .iter()
            .map(|u| pb::TakenBackUnit {
                unit_id: u.unit_id.clone(),
                building_id: u.building_id.clone(),
                holder_uscc: u.holder_uscc.clone().unwrap_or_default(),
                status: UnitStatus::parse(&u.status)
                    .map_or(pb::UnitStatus::Unspecified, unit_status_to_proto)
                    as i32,
            })
            .collect(),
    }
}

fn commitments_to_proto(c: &Commitments) -> pb::Commitments {
    pb::Commitments {
        investment_fen_per_mu: c.investment_fen_per_mu,
        output_fen_per_mu: c.output_fen_per_mu,
        tax_fen_per_mu: c.tax_fen_per_mu,
        plot_ratio_milli: c.plot_ratio_milli,
        energy_tce_per_wan_yuan: c.energy_tce_per_wan_yuan,
    }
}

pub fn evaluation_to_proto(e: &EvaluationRecord) -> pb::CommitmentEvaluation {
    pb::CommitmentEvaluation {
        id: e.id.to_string(),
        grant_id: e.grant_id.to_string(),
        parcel_id: e.parcel_id.clone(),
        uscc: e.uscc.clone(),
        period: Some(common::Period {
            code: e.year.to_string(),
        }),
        revision: e.revision,
        outcome: outcome_to_proto(e.evaluation.outcome) as i32,
        all_met: e.evaluation.all_met,
        items: e
            .evaluation
            .items
            .iter()
            .map(|i| pb::ItemResult {
                item: item_to_proto(i.item) as i32,
                committed: i.committed,
                actual: i.actual,
                shortfall_bp: i.shortfall_bp,
                projected_shortfall_bp: i.projected_shortfall_bp,
                damages_fen: i.damages_fen,
            })
            .collect(),
        damages_fen: e.evaluation.damages_fen,
        rectification_due_on: date(e.evaluation.rectification_due_on),
        evaluated_on: e.evaluated_on.to_string(),
        recorded_at: Some(to_timestamp(e.recorded_at)),
    }
}

fn unit_status_to_proto(status: UnitStatus) -> pb::UnitStatus {
    match status {
        UnitStatus::Available => pb::UnitStatus::Available,
        UnitStatus::Leased => pb::UnitStatus::Leased,
        UnitStatus::Sold => pb::UnitStatus::Sold,
    }
}

pub fn unit_to_proto(u: &UnitRecord) -> pb::Unit {
    pb::Unit {
        id: u.id.to_string(),
        building_id: u.building_id.to_string(),
        parcel_id: u.parcel_id.clone(),
        floor: u.floor,
        part: u.part.clone(),
        floor_area_centi_m2: u.floor_area_centi_m2,
        unit_use: pb::UnitUse::Production as i32,
        status: unit_status_to_proto(u.status) as i32,
        holder_uscc: u.holder_uscc.clone().unwrap_or_default(),
        apportioned_centi_mu: u.apportioned_centi_mu,
        version: u.version,
        holder_figures: u.holder_figures.map(|h| pb::HolderFigures {
            year: h.year,
            output_fen_per_mu: h.output_fen_per_mu,
            tax_fen_per_mu: h.tax_fen_per_mu,
            meets_commitments: h.meets_commitments,
        }),
    }
}

pub fn building_to_proto(b: &BuildingRecord) -> pb::Building {
    pb::Building {
        id: b.id.to_string(),
        parcel_id: b.parcel_id.clone(),
        name: b.name.clone(),
        floors: b
            .floors
            .iter()
            .map(|f| pb::Floor {
                number: f.number,
                area_centi_m2: f.area_centi_m2,
            })
            .collect(),
        units: b.units.iter().map(unit_to_proto).collect(),
    }
}

pub fn application_to_proto(a: &ApplicationRecord) -> pb::LandApplication {
    pb::LandApplication {
        id: a.id.to_string(),
        uscc: a.uscc.clone(),
        enterprise_class: class_to_proto(a.class) as i32,
        score: a.score,
        park: a.park.to_proto() as i32,
        land_use: land_use_to_proto(a.land_use) as i32,
        area_centi_mu: a.area_centi_mu,
        supply_mode: supply_mode_to_proto(a.supply_mode) as i32,
        purpose: a.purpose.clone(),
        status: if a.queued {
            pb::ApplicationStatus::Queued
        } else {
            pb::ApplicationStatus::Granted
        } as i32,
        submitted_at: Some(to_timestamp(a.submitted_at)),
        queue_position: a.position.min(i32::MAX as usize) as i32,
        grant_id: a.grant_id.map(|g| g.to_string()).unwrap_or_default(),
    }
}

/// A grant request from its three messages; a missing message is a violation on its name.
pub fn grant_request(
    supply: Option<&pb::SupplyTerms>,
    contract: Option<&pb::Contract>,
    commitments: Option<&pb::Commitments>,
    violations: &mut platform::Violations,
) -> GrantRequest {
    if supply.is_none() {
        violations.add("supply", "required");
    }
    if contract.is_none() {
        violations.add("contract", "required");
    }
    if commitments.is_none() {
        violations.add("commitments", "required");
    }
    let s = supply.cloned().unwrap_or_default();
    let c = contract.cloned().unwrap_or_default();
    let k = commitments.cloned().unwrap_or_default();
    let mode = supply_mode_from_proto(s.mode);
    if supply.is_some() && mode.is_none() {
        violations.add("supply.mode", "one of the defined supply modes is required");
    }
    GrantRequest {
        mode,
        terms: TermRequest {
            term_years: i64::from(s.term_years),
            lease_years: i64::from(s.lease_years),
            transfer_years: i64::from(s.transfer_years),
            price_fen: s.price_fen,
            yearly_rent_fen: s.yearly_rent_fen,
        },
        contract: ContractRequest {
            deposit_fen: c.deposit_fen,
            signed_on: c.signed_on,
            start_by: c.start_by,
            complete_by: c.complete_by,
            production_check_on: c.production_check_on,
        },
        commitments: Commitments {
            investment_fen_per_mu: k.investment_fen_per_mu,
            output_fen_per_mu: k.output_fen_per_mu,
            tax_fen_per_mu: k.tax_fen_per_mu,
            plot_ratio_milli: k.plot_ratio_milli,
            energy_tce_per_wan_yuan: k.energy_tce_per_wan_yuan,
        },
    }
}
