//! Inspection codes (扫码入企) and results. A visit gets its code when it is approved; the
//! code is valid until `code_valid_days` after the visit's day. A result is recorded only
//! against the visit's valid code and firm; findings set a rectification deadline and open a
//! re-check task per department (exempt from the caps, referenced by the code). A result is
//! published within the configured working days of its recording.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use platform::calendar::{Calendar, china_date};
use uuid::Uuid;

use super::{
    Limits,
    item::ItemKind,
    visit::{Exemption, Task, TaskState, Visit, VisitState},
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "SCREAMING_SNAKE_CASE")]
pub enum Outcome {
    Clean,
    Findings,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub item_code: String,
    pub description: String,
    pub rectify_by: NaiveDate,
}

#[derive(Debug, Clone, PartialEq)]
pub struct VisitResult {
    pub outcome: Outcome,
    pub findings: Vec<Finding>,
    pub summary: String,
    pub recorded_at: DateTime<Utc>,
    pub recorded_by: String,
    pub publish_by: NaiveDate,
    pub published_at: Option<DateTime<Utc>>,
    pub recheck_task_ids: Vec<Uuid>,
}

/// Why a code, a result or a publication was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeRefused {
    #[error("visit {0} is {1}: only a proposed visit is approved")]
    NotProposed(Uuid, &'static str),
    #[error("visit {0} has no valid code: it is {1}")]
    NotApproved(Uuid, &'static str),
    #[error("the code is not the code of visit {0}")]
    WrongCode(Uuid),
    #[error("the code of visit {0} is for another firm, not {1}")]
    OtherFirm(Uuid, String),
    #[error("the code of visit {0} expired at the end of {1}")]
    Expired(Uuid, NaiveDate),
    #[error("visit {0} is on {1}: its result is recorded on that day or later")]
    BeforeVisit(Uuid, NaiveDate),
    #[error("item {0} is not checked in this visit")]
    ItemNotInVisit(String),
    #[error("an outcome with findings needs at least one finding; a clean one none")]
    FindingsMismatch,
    #[error("visit {0} has no result to publish, or it is published")]
    NothingToPublish(Uuid),
    #[error("{0} takes part in no task of visit {1}")]
    NotInVisit(String, Uuid),
}

/// A new inspection code from 80 random bits: `JC` and 16 characters of Crockford's base32.
pub fn new_code(random: u128) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let mut code = String::from("JC");
    for i in 0..16 {
        let index = ((random >> (5 * i)) & 31) as usize;
        code.push(char::from(ALPHABET[index]));
    }
    code
}

/// Approves a proposed visit with `code`: valid until `code_valid_days` after its day.
pub fn decide_approve(
    visit: &Visit,
    code: String,
    now: DateTime<Utc>,
    limits: &Limits,
) -> Result<Visit, CodeRefused> {
    if visit.state != VisitState::Proposed {
        return Err(CodeRefused::NotProposed(visit.id, visit.state.into()));
    }
    let mut approved = visit.clone();
    approved.state = VisitState::Approved;
    approved.code = Some(code);
    approved.code_valid_until =
        Some(visit.visit_on + Duration::days(i64::from(limits.code_valid_days)));
    approved.approved_at = Some(now);
    approved.version += 1;
    Ok(approved)
}

/// Whether `code` shown at firm `uscc` on `today` is the visit's valid code.
pub fn check_code(
    visit: &Visit,
    code: &str,
    uscc: &str,
    today: NaiveDate,
) -> Result<(), CodeRefused> {
    let (Some(own), Some(until)) = (&visit.code, visit.code_valid_until) else {
        return Err(CodeRefused::NotApproved(visit.id, visit.state.into()));
    };
    if own != code {
        return Err(CodeRefused::WrongCode(visit.id));
    }
    if visit.uscc != uscc {
        return Err(CodeRefused::OtherFirm(visit.id, uscc.to_string()));
    }
    if visit.state != VisitState::Approved {
        return Err(CodeRefused::NotApproved(visit.id, visit.state.into()));
    }
    if today > until {
        return Err(CodeRefused::Expired(visit.id, until));
    }
    Ok(())
}

/// One finding as the inspector writes it.
#[derive(Debug, Clone)]
pub struct FindingInput {
    pub item_code: String,
    pub description: String,
    /// Days to rectify; `None`: `Limits::rectification_days`.
    pub rectification_days: Option<u32>,
}

/// A result as recorded.
#[derive(Debug, Clone)]
pub struct ResultInput {
    pub code: String,
    pub uscc: String,
    pub outcome: Outcome,
    pub findings: Vec<FindingInput>,
    pub summary: String,
    pub by: String,
}

/// Records a result: the visit with it, and the re-check tasks its findings open (not yet
/// placed into visits).
pub fn decide_result(
    visit: &Visit,
    input: ResultInput,
    now: DateTime<Utc>,
    limits: &Limits,
    calendar: &Calendar,
) -> Result<(Visit, Vec<Task>), CodeRefused> {
    let today = china_date(now);
    check_code(visit, &input.code, &input.uscc, today)?;
    if today < visit.visit_on {
        return Err(CodeRefused::BeforeVisit(visit.id, visit.visit_on));
    }
    if (input.outcome == Outcome::Findings) == input.findings.is_empty() {
        return Err(CodeRefused::FindingsMismatch);
    }
    let items = visit.item_keys();
    let mut findings = Vec::new();
    for f in input.findings {
        if !items.iter().any(|(_, code)| *code == f.item_code) {
            return Err(CodeRefused::ItemNotInVisit(f.item_code));
        }
        let days = f.rectification_days.unwrap_or(limits.rectification_days);
        findings.push(Finding {
            item_code: f.item_code,
            description: f.description,
            rectify_by: today + Duration::days(i64::from(days)),
        });
    }
    let code = visit.code.clone().unwrap_or_default();
    let rechecks = recheck_tasks(visit, &findings, &code, now);
    let mut recorded = visit.clone();
    recorded.state = VisitState::Recorded;
    recorded.version += 1;
    for task in &mut recorded.tasks {
        task.state = TaskState::Done;
    }
    recorded.result = Some(VisitResult {
        outcome: input.outcome,
        findings,
        summary: input.summary,
        recorded_at: now,
        recorded_by: input.by,
        publish_by: calendar.nth_working_day_after(today, limits.result_publish_working_days),
        published_at: None,
        recheck_task_ids: rechecks.iter().map(|t| t.id).collect(),
    });
    Ok((recorded, rechecks))
}

/// One re-check task per department whose items have findings, due on the latest deadline.
fn recheck_tasks(visit: &Visit, findings: &[Finding], code: &str, now: DateTime<Utc>) -> Vec<Task> {
    let mut out: Vec<Task> = Vec::new();
    for (department, item) in visit.item_keys() {
        let mine: Vec<&Finding> = findings.iter().filter(|f| f.item_code == item).collect();
        let Some(due) = mine.iter().map(|f| f.rectify_by).max() else {
            continue;
        };
        if let Some(task) = out.iter_mut().find(|t| t.department == department) {
            task.item_codes.push(item);
            task.planned_on = task.planned_on.max(due);
            continue;
        }
        let Some(source) = visit.tasks.iter().find(|t| t.department == department) else {
            continue;
        };
        out.push(Task {
            id: Uuid::now_v7(),
            kind: ItemKind::Triggered,
            item_codes: vec![item],
            planned_on: due,
            exemption: Some((Exemption::Recheck, code.to_string())),
            plan_code: None,
            state: TaskState::Placed,
            visit_id: None,
            refusal: String::new(),
            off_site: false,
            created_at: now,
            ..source.clone()
        });
    }
    out
}

/// Publishes a recorded result.
pub fn decide_publish(visit: &Visit, now: DateTime<Utc>) -> Result<Visit, CodeRefused> {
    let mut published = visit.clone();
    match (&mut published.result, visit.state) {
        (Some(result), VisitState::Recorded) => result.published_at = Some(now),
        _ => return Err(CodeRefused::NothingToPublish(visit.id)),
    }
    published.state = VisitState::Published;
    published.version += 1;
    Ok(published)
}

/// The rectification a recorded result opens: due on its findings' latest deadline; none
/// for a clean result.
pub fn rectification_due(result: &VisitResult) -> Option<NaiveDate> {
    result.findings.iter().map(|f| f.rectify_by).max()
}

/// Whether recording this visit clean closes the firm's open rectifications (it re-checks).
pub fn closes_rectification(visit: &Visit, outcome: Outcome) -> bool {
    outcome == Outcome::Clean
        && visit
            .tasks
            .iter()
            .any(|t| matches!(t.exemption, Some((Exemption::Recheck, _))))
}

#[cfg(test)]
mod tests;
