//! Tasks and visits. A task is one department's intent to check one firm on listed items by
//! a day; tasks of one firm whose days are at most `joint_window_days` apart are placed into
//! one visit (综合查一次): one date, one team, one request for documents. A visit of two or
//! more departments is a joint visit, and it counts once against the firm's caps.
//!
//! Caps per firm and year: `routine_cap_per_department` routine visits of each department
//! and `visit_cap_total` on-site visits of all departments. A task beyond a cap is refused,
//! naming the cap, unless it carries an exemption with its reference; exempt-only visits do
//! not use the caps up. Off-site tasks (every item can be done without entering the firm)
//! neither merge nor count. A white-listed firm gets no routine task on a non-safety item.

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, Utc};
use platform::auth::Department;
use uuid::Uuid;

use super::{Limits, item::ItemKind, plan::Inspector, tier::Tier};

/// Why a visit may go beyond a cap (DOMAIN.md, "Inspections"), with its reference.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    strum::IntoStaticStr,
    strum::EnumString,
)]
#[strum(serialize_all = "SCREAMING_SNAKE_CASE")]
pub enum Exemption {
    /// A complaint through 12345 or a petition.
    Complaint,
    HigherReferral,
    JointWithHigherLevel,
    AuditFinding,
    /// A data-driven clue (a class C entry, a land shortfall).
    DataClue,
    MediaExposure,
    /// A re-check of a rectification.
    Recheck,
    FirmRequest,
    LicenceCheck,
    Emergency,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "SCREAMING_SNAKE_CASE")]
pub enum TaskState {
    Placed,
    Refused,
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "SCREAMING_SNAKE_CASE")]
pub enum VisitState {
    Proposed,
    Approved,
    Recorded,
    Published,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    pub id: Uuid,
    pub department: Department,
    pub uscc: String,
    pub name: String,
    pub kind: ItemKind,
    pub item_codes: Vec<String>,
    pub planned_on: NaiveDate,
    pub inspectors: Vec<Inspector>,
    /// The exemption and its reference.
    pub exemption: Option<(Exemption, String)>,
    pub plan_code: Option<String>,
    pub state: TaskState,
    pub visit_id: Option<Uuid>,
    /// Refused: the cap, in words.
    pub refusal: String,
    pub off_site: bool,
    pub tier: Tier,
    pub created_at: DateTime<Utc>,
}

impl Task {
    /// Whether it uses up the caps (it carries no exemption).
    pub fn counts(&self) -> bool {
        self.exemption.is_none()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Visit {
    pub id: Uuid,
    pub uscc: String,
    pub name: String,
    pub visit_on: NaiveDate,
    pub on_site: bool,
    pub state: VisitState,
    pub code: Option<String>,
    pub code_valid_until: Option<NaiveDate>,
    pub version: i64,
    pub approved_at: Option<DateTime<Utc>>,
    pub rated: bool,
    /// Its tasks (placed or done).
    pub tasks: Vec<Task>,
    pub result: Option<super::code::VisitResult>,
}

impl Visit {
    /// The departments taking part, in order.
    pub fn departments(&self) -> Vec<Department> {
        let set: BTreeSet<Department> = self.tasks.iter().map(|t| t.department).collect();
        set.into_iter().collect()
    }

    /// Two or more departments.
    pub fn joint(&self) -> bool {
        self.departments().len() >= 2
    }

    /// Uses up the caps: on site with a task without exemption.
    pub fn counts(&self) -> bool {
        self.on_site && self.tasks.iter().any(Task::counts)
    }

    /// Carries an exemption.
    pub fn exempt(&self) -> bool {
        self.tasks.iter().any(|t| t.exemption.is_some())
    }

    /// One team: every task's inspectors, once each.
    pub fn inspectors(&self) -> Vec<Inspector> {
        let set: BTreeSet<&Inspector> = self.tasks.iter().flat_map(|t| &t.inspectors).collect();
        set.into_iter().cloned().collect()
    }

    /// Every task's items as (department, code), once each.
    pub fn item_keys(&self) -> Vec<(Department, String)> {
        let set: BTreeSet<(Department, String)> = self
            .tasks
            .iter()
            .flat_map(|t| t.item_codes.iter().map(|c| (t.department, c.clone())))
            .collect();
        set.into_iter().collect()
    }
}

/// A visit with its items as listed (legal basis, documents): what the firm is shown.
#[derive(Debug, Clone, PartialEq)]
pub struct VisitView {
    pub visit: Visit,
    pub items: Vec<super::item::Item>,
}

impl VisitView {
    /// The items of `all` the visit checks.
    pub fn of(visit: Visit, all: &[super::item::Item]) -> Self {
        let keys = visit.item_keys();
        let items = all
            .iter()
            .filter(|i| keys.iter().any(|(d, c)| *d == i.department && *c == i.code))
            .cloned()
            .collect();
        Self { visit, items }
    }

    /// One request for documents: every item's documents, once each, in order.
    pub fn documents(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for doc in self.items.iter().flat_map(|i| &i.documents) {
            if !out.contains(doc) {
                out.push(doc.clone());
            }
        }
        out
    }
}

/// Which cap a task would break.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CapRefused {
    #[error(
        "cap: at most {cap} routine visit(s) of {department} per firm a year; {uscc} has had them in {year} (an exemption with its reference goes beyond it)"
    )]
    RoutinePerDepartment {
        department: &'static str,
        uscc: String,
        year: i32,
        cap: u32,
    },
    #[error(
        "cap: at most {cap} visits of all departments per firm a year; {uscc} has had them in {year} (an exemption with its reference goes beyond it)"
    )]
    Total { uscc: String, year: i32, cap: u32 },
    #[error("white list (无事不扰): {0} gets no routine visit on a non-safety item")]
    WhiteListed(String),
}

/// Where a task goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Into this proposed visit of the firm.
    Join(Uuid),
    /// Into a new visit on its own day.
    New,
}

/// What the placement of a task needs to know besides the firm's visits of the year.
#[derive(Debug, Clone, Copy)]
pub struct TaskFacts {
    /// The firm is white-listed now.
    pub white_listed: bool,
    /// One of the task's items concerns safety.
    pub safety: bool,
}

/// Places `task` among `visits` (the firm's visits of the task's year), or refuses it by a
/// cap.
pub fn place(
    task: &Task,
    facts: TaskFacts,
    visits: &[Visit],
    limits: &Limits,
) -> Result<Placement, CapRefused> {
    let year = chrono::Datelike::year(&task.planned_on);
    if task.kind == ItemKind::Routine && facts.white_listed && !facts.safety {
        return Err(CapRefused::WhiteListed(task.uscc.clone()));
    }
    if task.kind == ItemKind::Routine && task.counts() {
        let routine = visits
            .iter()
            .flat_map(|v| &v.tasks)
            .filter(|t| {
                t.department == task.department && t.kind == ItemKind::Routine && t.counts()
            })
            .count();
        if routine >= limits.routine_cap_per_department as usize {
            return Err(CapRefused::RoutinePerDepartment {
                department: task.department.as_str(),
                uscc: task.uscc.clone(),
                year,
                cap: limits.routine_cap_per_department,
            });
        }
    }
    if task.off_site {
        return Ok(Placement::New);
    }
    let counted = visits.iter().filter(|v| v.counts()).count();
    let total_refused = || CapRefused::Total {
        uscc: task.uscc.clone(),
        year,
        cap: limits.visit_cap_total,
    };
    let window = i64::from(limits.joint_window_days);
    let nearest = visits
        .iter()
        .filter(|v| v.on_site && v.state == VisitState::Proposed)
        .map(|v| ((v.visit_on - task.planned_on).num_days().abs(), v))
        .filter(|(distance, _)| *distance <= window)
        .min_by_key(|(distance, v)| (*distance, v.visit_on));
    match nearest {
        Some((_, visit)) => {
            if task.counts() && !visit.counts() && counted >= limits.visit_cap_total as usize {
                return Err(total_refused());
            }
            Ok(Placement::Join(visit.id))
        }
        None => {
            if task.counts() && counted >= limits.visit_cap_total as usize {
                return Err(total_refused());
            }
            Ok(Placement::New)
        }
    }
}

/// The visits after placing `task` as decided: joined into its visit, a new visit (with id
/// `new_id`) on the task's day, or refused (then it goes into no visit). Returns the id of
/// the task's visit.
pub fn apply(
    visits: &mut Vec<Visit>,
    task: &mut Task,
    decision: &Result<Placement, CapRefused>,
    new_id: Uuid,
) -> Option<Uuid> {
    match decision {
        Err(refused) => {
            task.state = TaskState::Refused;
            task.refusal = refused.to_string();
            task.visit_id = None;
            None
        }
        Ok(Placement::Join(id)) => {
            let visit = visits.iter_mut().find(|v| v.id == *id)?;
            task.state = TaskState::Placed;
            task.visit_id = Some(visit.id);
            visit.tasks.push(task.clone());
            visit.version += 1;
            Some(visit.id)
        }
        Ok(Placement::New) => {
            task.state = TaskState::Placed;
            task.visit_id = Some(new_id);
            visits.push(Visit {
                id: new_id,
                uscc: task.uscc.clone(),
                name: task.name.clone(),
                visit_on: task.planned_on,
                on_site: !task.off_site,
                state: VisitState::Proposed,
                code: None,
                code_valid_until: None,
                version: 1,
                approved_at: None,
                rated: false,
                tasks: vec![task.clone()],
                result: None,
            });
            Some(new_id)
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
