//! Domain values to and from the contract (`haicheng.inspection.v1`).

use haicheng_proto::inspection::v1 as pb;
use platform::{Violations, auth::Department, time::to_timestamp};

use crate::domain::{
    code::{Outcome, VisitResult},
    item::{Item, ItemKind, valid_code},
    plan::{Inspector, Plan, TierDraw},
    rating::{Satisfaction, Summary},
    report::{FirmCount, PlanReport},
    tier::{FirmStanding, Tier},
    visit::{Exemption, Task, TaskState, VisitState, VisitView},
};

fn department(d: Department) -> i32 {
    d.to_proto() as i32
}

pub fn tier_to_proto(tier: Tier) -> pb::RiskTier {
    match tier {
        Tier::A => pb::RiskTier::A,
        Tier::B => pb::RiskTier::B,
        Tier::C => pb::RiskTier::C,
        Tier::D => pb::RiskTier::D,
    }
}

pub fn tier_from_proto(number: i32) -> Option<Tier> {
    match pb::RiskTier::try_from(number).ok()? {
        pb::RiskTier::A => Some(Tier::A),
        pb::RiskTier::B => Some(Tier::B),
        pb::RiskTier::C => Some(Tier::C),
        pb::RiskTier::D => Some(Tier::D),
        pb::RiskTier::Unspecified => None,
    }
}

fn kind_to_proto(kind: ItemKind) -> pb::ItemKind {
    match kind {
        ItemKind::Routine => pb::ItemKind::Routine,
        ItemKind::Special => pb::ItemKind::Special,
        ItemKind::Triggered => pb::ItemKind::Triggered,
    }
}

pub fn kind_from_proto(kind: pb::ItemKind) -> Option<ItemKind> {
    match kind {
        pb::ItemKind::Routine => Some(ItemKind::Routine),
        pb::ItemKind::Special => Some(ItemKind::Special),
        pb::ItemKind::Triggered => Some(ItemKind::Triggered),
        pb::ItemKind::Unspecified => None,
    }
}

const EXEMPTIONS: [(Exemption, pb::Exemption); 10] = [
    (Exemption::Complaint, pb::Exemption::Complaint),
    (Exemption::HigherReferral, pb::Exemption::HigherReferral),
    (
        Exemption::JointWithHigherLevel,
        pb::Exemption::JointWithHigherLevel,
    ),
    (Exemption::AuditFinding, pb::Exemption::AuditFinding),
    (Exemption::DataClue, pb::Exemption::DataClue),
    (Exemption::MediaExposure, pb::Exemption::MediaExposure),
    (Exemption::Recheck, pb::Exemption::Recheck),
    (Exemption::FirmRequest, pb::Exemption::FirmRequest),
    (Exemption::LicenceCheck, pb::Exemption::LicenceCheck),
    (Exemption::Emergency, pb::Exemption::Emergency),
];

fn exemption_to_proto(e: Exemption) -> pb::Exemption {
    EXEMPTIONS
        .iter()
        .find(|(d, _)| *d == e)
        .map_or(pb::Exemption::Unspecified, |(_, p)| *p)
}

pub fn exemption_from_proto(p: pb::Exemption) -> Option<Exemption> {
    EXEMPTIONS.iter().find(|(_, x)| *x == p).map(|(d, _)| *d)
}

pub fn satisfaction_from_proto(p: pb::Satisfaction) -> Option<Satisfaction> {
    match p {
        pb::Satisfaction::Satisfied => Some(Satisfaction::Satisfied),
        pb::Satisfaction::Neutral => Some(Satisfaction::Neutral),
        pb::Satisfaction::Unsatisfied => Some(Satisfaction::Unsatisfied),
        pb::Satisfaction::Unspecified => None,
    }
}

pub fn visit_state_from_proto(p: pb::VisitState) -> Option<VisitState> {
    match p {
        pb::VisitState::Proposed => Some(VisitState::Proposed),
        pb::VisitState::Approved => Some(VisitState::Approved),
        pb::VisitState::Recorded => Some(VisitState::Recorded),
        pb::VisitState::Published => Some(VisitState::Published),
        pb::VisitState::Unspecified => None,
    }
}

fn visit_state_to_proto(s: VisitState) -> pb::VisitState {
    match s {
        VisitState::Proposed => pb::VisitState::Proposed,
        VisitState::Approved => pb::VisitState::Approved,
        VisitState::Recorded => pb::VisitState::Recorded,
        VisitState::Published => pb::VisitState::Published,
    }
}

pub fn item_to_proto(item: &Item) -> pb::Item {
    pb::Item {
        code: item.code.clone(),
        department: department(item.department),
        title: item.title.clone(),
        legal_basis: item.legal_basis.clone(),
        kind: kind_to_proto(item.kind) as i32,
        safety: item.safety,
        off_site: item.off_site,
        documents: item.documents.clone(),
        version: item.version,
        updated_at: Some(to_timestamp(item.updated_at)),
    }
}

/// An item as a department writes it (`item.` fields); its department defaults to the
/// caller's.
pub fn item_from_proto(
    v: &mut Violations,
    item: &pb::Item,
    caller: Option<Department>,
) -> Option<Item> {
    let code = item.code.trim().to_string();
    v.check(
        valid_code(&code),
        "item.code",
        "2 to 40 upper-case letters, digits and dashes, starting with a letter",
    );
    let title = v.text("item.title", &item.title, 200);
    let legal_basis = v.text("item.legal_basis", &item.legal_basis, 500);
    let kind = v
        .required_enum::<pb::ItemKind>("item.kind", item.kind)
        .and_then(kind_from_proto);
    let department = if item.department == 0 {
        caller
    } else {
        Department::from_proto(item.department)
    };
    v.check(
        department.is_some(),
        "item.department",
        "a department is required",
    );
    let mut documents = Vec::new();
    for (i, doc) in item.documents.iter().enumerate() {
        documents.extend(v.text(&format!("item.documents[{i}]"), doc, 200));
    }
    Some(Item {
        department: department?,
        code,
        title: title?,
        legal_basis: legal_basis?,
        kind: kind?,
        safety: item.safety,
        off_site: item.off_site,
        documents,
        version: 0,
        updated_at: chrono::DateTime::UNIX_EPOCH,
    })
}

pub fn inspector_to_proto(i: &Inspector) -> pb::Inspector {
    pb::Inspector {
        id: i.id.clone(),
        name: i.name.clone(),
        department: department(i.department),
    }
}

pub fn standing_to_proto(f: &FirmStanding) -> pb::FirmTier {
    pb::FirmTier {
        uscc: f.uscc.clone(),
        name: f.name.clone(),
        tier: tier_to_proto(f.standing.tier) as i32,
        reason: f.standing.reason.clone(),
        white_listed: f.standing.white_listed,
        enterprise_class: f.facts.class.map_or(0, |c| c.to_proto() as i32),
        veto: f.facts.veto,
        land_shortfall: f.facts.land_shortfall,
        open_rectification: f.facts.open_rectification,
        updated_at: Some(to_timestamp(f.updated_at)),
    }
}

fn tier_draw_to_proto(t: &TierDraw) -> pb::TierDraw {
    let n = |x: u32| i32::try_from(x).unwrap_or(i32::MAX);
    pb::TierDraw {
        tier: tier_to_proto(t.tier) as i32,
        ratio_bp: n(t.ratio_bp),
        population: n(t.population),
        drawn: n(t.drawn),
    }
}

pub fn plan_to_proto(plan: &Plan) -> pb::Plan {
    pb::Plan {
        code: plan.code.clone(),
        department: department(plan.department),
        year: plan.year,
        seed: plan.seed,
        item_codes: plan.item_codes.clone(),
        tiers: plan.tiers.iter().map(tier_draw_to_proto).collect(),
        tasks: plan.tasks.iter().map(task_to_proto).collect(),
        filed_at: Some(to_timestamp(plan.filed_at)),
        filed_by: plan.filed_by.clone(),
    }
}

pub fn task_to_proto(t: &Task) -> pb::Task {
    let state = match t.state {
        TaskState::Placed => pb::TaskState::Placed,
        TaskState::Refused => pb::TaskState::Refused,
        TaskState::Done => pb::TaskState::Done,
    };
    pb::Task {
        id: t.id.to_string(),
        department: department(t.department),
        uscc: t.uscc.clone(),
        enterprise_name: t.name.clone(),
        kind: kind_to_proto(t.kind) as i32,
        item_codes: t.item_codes.clone(),
        planned_on: t.planned_on.to_string(),
        inspectors: t.inspectors.iter().map(inspector_to_proto).collect(),
        exemption: t
            .exemption
            .as_ref()
            .map_or(0, |(e, _)| exemption_to_proto(*e) as i32),
        exemption_reference: t
            .exemption
            .as_ref()
            .map(|(_, r)| r.clone())
            .unwrap_or_default(),
        plan_code: t.plan_code.clone().unwrap_or_default(),
        state: state as i32,
        visit_id: t.visit_id.map(|id| id.to_string()).unwrap_or_default(),
        refusal: t.refusal.clone(),
        off_site: t.off_site,
        tier: tier_to_proto(t.tier) as i32,
        created_at: Some(to_timestamp(t.created_at)),
    }
}

fn result_to_proto(r: &VisitResult) -> pb::VisitResult {
    let outcome = match r.outcome {
        Outcome::Clean => pb::Outcome::Clean,
        Outcome::Findings => pb::Outcome::Findings,
    };
    pb::VisitResult {
        outcome: outcome as i32,
        findings: r
            .findings
            .iter()
            .map(|f| pb::Finding {
                item_code: f.item_code.clone(),
                description: f.description.clone(),
                rectify_by: f.rectify_by.to_string(),
            })
            .collect(),
        summary: r.summary.clone(),
        recorded_at: Some(to_timestamp(r.recorded_at)),
        recorded_by: r.recorded_by.clone(),
        publish_by: r.publish_by.to_string(),
        published_at: r.published_at.map(to_timestamp),
        recheck_task_ids: r.recheck_task_ids.iter().map(|id| id.to_string()).collect(),
    }
}

/// A visit as a department and the events see it: `rated` is never shown (it would link a
/// rating to its visit); [`visit_for_firm`] shows it to the firm.
pub fn visit_to_proto(view: &VisitView) -> pb::Visit {
    let v = &view.visit;
    pb::Visit {
        id: v.id.to_string(),
        uscc: v.uscc.clone(),
        enterprise_name: v.name.clone(),
        visit_on: v.visit_on.to_string(),
        departments: v.departments().into_iter().map(department).collect(),
        joint: v.joint(),
        items: view.items.iter().map(item_to_proto).collect(),
        inspectors: v.inspectors().iter().map(inspector_to_proto).collect(),
        documents: view.documents(),
        task_ids: v.tasks.iter().map(|t| t.id.to_string()).collect(),
        state: visit_state_to_proto(v.state) as i32,
        code: v.code.clone().unwrap_or_default(),
        code_valid_until: v
            .code_valid_until
            .map(|d| d.to_string())
            .unwrap_or_default(),
        on_site: v.on_site,
        exempt: v.exempt(),
        result: v.result.as_ref().map(result_to_proto),
        rated: false,
        version: v.version,
        approved_at: v.approved_at.map(to_timestamp),
    }
}

/// A visit as its firm sees it: with whether it has rated it.
pub fn visit_for_firm(view: &VisitView) -> pb::Visit {
    pb::Visit {
        rated: view.visit.rated,
        ..visit_to_proto(view)
    }
}

pub fn summary_to_proto(d: Department, year: i32, s: Summary) -> pb::GetRatingSummaryResponse {
    let n = |x: u32| i32::try_from(x).unwrap_or(i32::MAX);
    pb::GetRatingSummaryResponse {
        department: department(d),
        year,
        ratings: n(s.ratings),
        satisfied: n(s.satisfied),
        neutral: n(s.neutral),
        unsatisfied: n(s.unsatisfied),
        texts: s.texts,
    }
}

pub fn report_to_proto(year: i32, codes: Vec<String>, r: PlanReport) -> pb::GetPlanReportResponse {
    let n = |x: u32| i32::try_from(x).unwrap_or(i32::MAX);
    pb::GetPlanReportResponse {
        year,
        plan_codes: codes,
        on_site_tasks: n(r.on_site_tasks),
        on_site_visits: n(r.on_site_visits),
        joint_visits: n(r.joint_visits),
        joint_visit_rate_bp: n(r.joint_visit_rate_bp),
        visits_saved: n(r.visits_saved),
        reduction_bp: n(r.reduction_bp),
    }
}

pub fn count_to_proto(c: FirmCount) -> pb::FirmVisitCount {
    let n = |x: u32| i32::try_from(x).unwrap_or(i32::MAX);
    pb::FirmVisitCount {
        uscc: c.uscc,
        enterprise_name: c.name,
        visits: n(c.visits),
        exempt_visits: n(c.exempt_visits),
        routine_by_department: c
            .routine_by_department
            .into_iter()
            .map(|(d, k)| (d.as_str().to_string(), n(k)))
            .collect(),
        alerts: c.alerts,
    }
}
