//! Protobuf ↔ domain: domain values to `haicheng.fair.v1` messages (for the API and
//! [`crate::events`]), and requests to domain values with a field violation for each bad
//! field. Never reads the store.

use haicheng_proto::fair::v1 as pb;
use platform::{
    Violations,
    time::{from_timestamp, to_timestamp},
};

use crate::domain::{
    Class, Rules,
    breach::{BreachKind, BreachRecord, Session},
    fair::{AllocationMode, BoothType, Fair, FairKind, FairSpec, Inventory, Market, Window},
    invitation::{Invitation, InvitationStatus},
    outcome::Outcome,
    registration::{Registration, Status},
    subsidy::{Budget, Subsidy},
};

/// The contract's number of an optional class (0: none).
pub fn class(class: Option<Class>) -> i32 {
    class.map_or(0, |c| c.to_proto() as i32)
}

pub fn kind(kind: FairKind) -> pb::FairKind {
    match kind {
        FairKind::LocalFabricAccessories => pb::FairKind::LocalFabricAccessories,
        FairKind::LocalFashionShow => pb::FairKind::LocalFashionShow,
        FairKind::LocalPrinting => pb::FairKind::LocalPrinting,
        FairKind::LocalCraft => pb::FairKind::LocalCraft,
        FairKind::LocalGarmentCulture => pb::FairKind::LocalGarmentCulture,
        FairKind::CantonFair => pb::FairKind::CantonFair,
        FairKind::Chic => pb::FairKind::Chic,
        FairKind::ChinaBrandFairBudapest => pb::FairKind::ChinaBrandFairBudapest,
        FairKind::CpmMoscow => pb::FairKind::CpmMoscow,
    }
}

pub fn kind_from_proto(value: i32) -> Option<FairKind> {
    FairKind::ALL.into_iter().find(|k| kind(*k) as i32 == value)
}

pub fn market(market: Market) -> pb::Market {
    match market {
        Market::Domestic => pb::Market::Domestic,
        Market::TraditionalExport => pb::Market::TraditionalExport,
        Market::Emerging => pb::Market::Emerging,
    }
}

pub fn market_from_proto(value: i32) -> Option<Market> {
    Market::ALL.into_iter().find(|m| market(*m) as i32 == value)
}

pub fn booth_type(t: BoothType) -> pb::BoothType {
    match t {
        BoothType::Standard => pb::BoothType::Standard,
        BoothType::Brand => pb::BoothType::Brand,
        BoothType::CustomSpace => pb::BoothType::CustomSpace,
    }
}

pub fn booth_type_from_proto(value: i32) -> Option<BoothType> {
    BoothType::ALL
        .into_iter()
        .find(|t| booth_type(*t) as i32 == value)
}

fn mode(mode: AllocationMode) -> pb::AllocationMode {
    match mode {
        AllocationMode::FirstCome => pb::AllocationMode::FirstCome,
        AllocationMode::Scored => pb::AllocationMode::Scored,
    }
}

pub fn status(status: Status) -> pb::RegistrationStatus {
    match status {
        Status::Applied => pb::RegistrationStatus::Applied,
        Status::Confirmed => pb::RegistrationStatus::Confirmed,
        Status::Waitlisted => pb::RegistrationStatus::Waitlisted,
        Status::Offered => pb::RegistrationStatus::Offered,
        Status::Cancelled => pb::RegistrationStatus::Cancelled,
    }
}

pub fn status_from_proto(value: i32) -> Option<Status> {
    Status::ALL.into_iter().find(|s| status(*s) as i32 == value)
}

pub fn invitation_status(s: InvitationStatus) -> pb::InvitationStatus {
    match s {
        InvitationStatus::Issued => pb::InvitationStatus::Issued,
        InvitationStatus::Applied => pb::InvitationStatus::Applied,
        InvitationStatus::Withdrawn => pb::InvitationStatus::Withdrawn,
    }
}

pub fn invitation_status_from_proto(value: i32) -> Option<InvitationStatus> {
    InvitationStatus::ALL
        .into_iter()
        .find(|s| invitation_status(*s) as i32 == value)
}

pub fn fair(f: &Fair) -> pb::Fair {
    let s = &f.spec;
    pb::Fair {
        id: f.id.to_string(),
        name: s.name.clone(),
        kind: kind(s.kind) as i32,
        external: s.kind.is_external(),
        city: s.city.clone(),
        venue: s.venue.clone(),
        market: market(s.market) as i32,
        starts_at: Some(to_timestamp(s.starts_at)),
        ends_at: Some(to_timestamp(s.ends_at)),
        registration_opens_at: Some(to_timestamp(s.window.opens_at)),
        registration_closes_at: Some(to_timestamp(s.window.closes_at)),
        allocation_mode: mode(s.mode) as i32,
        inventory: s
            .inventory
            .iter()
            .map(|i| pb::BoothInventory {
                booth_type: booth_type(i.booth_type) as i32,
                capacity: i.capacity as i32,
                fee_fen: i.fee_fen,
                taken: f.taken_of(i.booth_type) as i32,
            })
            .collect(),
        small_firm_reserve_percent: Some(s.small_firm_reserve_percent as i32),
        a_class_reserve_percent: Some(s.a_class_reserve_percent as i32),
        per_firm_cap: Some(s.per_firm_cap as i32),
        version: f.version,
        created_at: Some(to_timestamp(f.created_at)),
        allocated_at: f.allocated_at.map(to_timestamp),
    }
}

pub fn registration(r: &Registration) -> pb::Registration {
    pb::Registration {
        id: r.id.to_string(),
        fair_id: r.fair_id.to_string(),
        uscc: r.uscc.clone(),
        booth_type: booth_type(r.booth_type) as i32,
        booths_requested: r.booths_requested as i32,
        booths_granted: r.booths_held() as i32,
        status: status(r.status) as i32,
        waitlist_position: r.waitlist_position as i32,
        applied_at: Some(to_timestamp(r.applied_at)),
        confirmed_at: r
            .confirmed_at
            .filter(|_| r.status == Status::Confirmed)
            .map(to_timestamp),
        offer_expires_at: r
            .offer_expires_at
            .filter(|_| r.status == Status::Offered)
            .map(to_timestamp),
        cancellation_reason: r.cancellation_reason.clone(),
        cancellation_fee_fen: r.cancellation_fee_fen,
        explanation: r.explanation.clone(),
        enterprise_class: class(r.class),
    }
}

pub fn breach_kind(k: BreachKind) -> pb::BreachKind {
    match k {
        BreachKind::SubLetting => pb::BreachKind::SubLetting,
        BreachKind::LeavingEarly => pb::BreachKind::LeavingEarly,
        BreachKind::FalseDeclaration => pb::BreachKind::FalseDeclaration,
    }
}

pub fn breach_kind_from_proto(value: pb::BreachKind) -> Option<BreachKind> {
    BreachKind::ALL
        .into_iter()
        .find(|k| breach_kind(*k) == value)
}

fn session(s: &Session) -> pb::Session {
    pb::Session {
        fair_id: s.fair_id.to_string(),
        name: s.name.clone(),
        starts_at: Some(to_timestamp(s.starts_at)),
    }
}

/// A breach with the `n` sessions it bars.
pub fn breach(r: &BreachRecord, n: u32) -> pb::Breach {
    let b = &r.breach;
    pb::Breach {
        id: b.id.to_string(),
        fair_id: b.fair_id.to_string(),
        uscc: b.uscc.clone(),
        kind: breach_kind(b.kind) as i32,
        evidence: b.evidence.clone(),
        reference: b.reference.clone(),
        recorded_at: Some(to_timestamp(b.recorded_at)),
        barred_sessions: n as i32,
        barred: r.barred(n).iter().map(session).collect(),
        free_again: r.free_again(n).map(session),
        fair_kind: kind(r.kind) as i32,
    }
}

pub fn invitation(i: &Invitation) -> pb::Invitation {
    pb::Invitation {
        fair_id: i.fair_id.to_string(),
        uscc: i.uscc.clone(),
        enterprise_class: class(i.class),
        reason: i.reason.clone(),
        issued_at: Some(to_timestamp(i.issued_at)),
        status: invitation_status(i.status) as i32,
        withdrawn_at: i.withdrawn_at.map(to_timestamp),
    }
}

pub fn outcome(o: &Outcome) -> pb::Outcome {
    pb::Outcome {
        registration_id: o.registration_id.to_string(),
        fair_id: o.fair_id.to_string(),
        uscc: o.uscc.clone(),
        leads: o.leads,
        intended_orders_fen: o.intended_orders_fen,
        signed_export_orders_fen: o.signed_export_orders_fen,
        recorded_at: Some(to_timestamp(o.recorded_at)),
    }
}

pub fn budget(b: Budget) -> pb::SubsidyBudget {
    pb::SubsidyBudget {
        year: b.year,
        budget_fen: b.budget_fen,
        granted_fen: b.granted_fen,
    }
}

pub fn subsidy(s: &Subsidy) -> pb::Subsidy {
    pb::Subsidy {
        registration_id: s.registration_id.to_string(),
        fair_id: s.fair_id.to_string(),
        uscc: s.uscc.clone(),
        year: s.year,
        amount_fen: s.amount_fen,
        percent: s.percent,
        limited_by: s.limited_by.clone(),
        granted_at: Some(to_timestamp(s.granted_at)),
    }
}

fn time(
    violations: &mut Violations,
    field: &str,
    at: Option<&prost_types::Timestamp>,
) -> Option<chrono::DateTime<chrono::Utc>> {
    match at {
        None => {
            violations.add(field, "is required");
            None
        }
        Some(t) => {
            let parsed = from_timestamp(t);
            violations.check(parsed.is_some(), field, "is not a valid timestamp");
            parsed
        }
    }
}

fn percent(violations: &mut Violations, field: &str, value: Option<i32>, default: u32) -> u32 {
    match value {
        None => default,
        Some(v) if (0..=100).contains(&v) => v as u32,
        Some(_) => {
            violations.add(field, "must be 0 to 100");
            default
        }
    }
}

/// The booth inventory of a plan; a bad booth type is named by its index.
fn inventory(
    violations: &mut Violations,
    prefix: &str,
    items: &[pb::BoothInventory],
) -> Vec<Inventory> {
    let mut inventory = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let t = booth_type_from_proto(item.booth_type);
        violations.check(
            t.is_some(),
            format!("{prefix}.inventory[{i}].booth_type"),
            "must be standard, brand or custom space",
        );
        if let Some(booth_type) = t {
            inventory.push(Inventory {
                booth_type,
                capacity: item.capacity.max(0) as u32,
                fee_fen: item.fee_fen,
            });
        }
    }
    inventory
}

/// The two reserves and the per-firm cap of a plan, `defaults` where unset.
fn reserves_and_cap(
    violations: &mut Violations,
    prefix: &str,
    f: &pb::Fair,
    defaults: (u32, u32, u32),
) -> (u32, u32, u32) {
    let field = |name: &str| format!("{prefix}.{name}");
    let small = percent(
        violations,
        &field("small_firm_reserve_percent"),
        f.small_firm_reserve_percent,
        defaults.0,
    );
    let a_class = percent(
        violations,
        &field("a_class_reserve_percent"),
        f.a_class_reserve_percent,
        defaults.1,
    );
    let cap = match f.per_firm_cap {
        None => defaults.2,
        Some(c) if c > 0 => c as u32,
        Some(_) => {
            violations.add(field("per_firm_cap"), "must be at least 1");
            defaults.2
        }
    };
    (small, a_class, cap)
}

/// A fair plan from a request (`prefix` names the message field, e.g. `fair`); unset
/// reserves and cap take `defaults` (the service's, or the stored fair's on update).
pub fn fair_spec(
    violations: &mut Violations,
    prefix: &str,
    f: &pb::Fair,
    defaults: (u32, u32, u32),
) -> Option<FairSpec> {
    let field = |name: &str| format!("{prefix}.{name}");
    let kind = kind_from_proto(f.kind);
    violations.check(
        kind.is_some(),
        field("kind"),
        "must be one of the fair kinds",
    );
    let market = market_from_proto(f.market);
    violations.check(
        market.is_some(),
        field("market"),
        "must be domestic, traditional export or emerging",
    );
    let mode = match pb::AllocationMode::try_from(f.allocation_mode) {
        Ok(pb::AllocationMode::FirstCome) => Some(AllocationMode::FirstCome),
        Ok(pb::AllocationMode::Scored) => Some(AllocationMode::Scored),
        _ => {
            violations.add(field("allocation_mode"), "must be first come or scored");
            None
        }
    };
    let starts_at = time(violations, &field("starts_at"), f.starts_at.as_ref());
    let ends_at = time(violations, &field("ends_at"), f.ends_at.as_ref());
    let opens_at = time(
        violations,
        &field("registration_opens_at"),
        f.registration_opens_at.as_ref(),
    );
    let closes_at = time(
        violations,
        &field("registration_closes_at"),
        f.registration_closes_at.as_ref(),
    );
    let inventory = inventory(violations, prefix, &f.inventory);
    let (small, a_class, cap) = reserves_and_cap(violations, prefix, f, defaults);
    let spec = FairSpec {
        name: f.name.clone(),
        kind: kind?,
        city: f.city.clone(),
        venue: f.venue.clone(),
        market: market?,
        starts_at: starts_at?,
        ends_at: ends_at?,
        window: Window {
            opens_at: opens_at?,
            closes_at: closes_at?,
        },
        mode: mode?,
        inventory,
        small_firm_reserve_percent: small,
        a_class_reserve_percent: a_class,
        per_firm_cap: cap,
    };
    for (name, reason) in spec.validate() {
        violations.add(field(&name), reason);
    }
    Some(spec)
}

/// The service defaults for a new fair.
pub fn defaults(rules: &Rules) -> (u32, u32, u32) {
    (
        rules.default_small_firm_reserve_percent,
        rules.default_a_class_reserve_percent,
        rules.default_per_firm_cap,
    )
}
