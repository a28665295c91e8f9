//! Rows as the queries read them, to domain values and back. Enumerations are stored in
//! their spelling (strum), departments by `Department::as_str`, inspectors and results as
//! JSON.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use platform::auth::Department;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::StoreError;
use crate::domain::{
    code::{Finding, Outcome, VisitResult},
    item::{Item, ItemKind},
    plan::Inspector,
    tier::Tier,
    visit::{Exemption, Task, TaskState, Visit, VisitState},
};

pub(super) fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("{what} {value:?}"))
}

pub(super) fn department(text: &str) -> Result<Department, StoreError> {
    Department::parse(text).ok_or_else(|| corrupt("department", text))
}

pub(super) fn parse<T: std::str::FromStr>(what: &str, text: &str) -> Result<T, StoreError> {
    text.parse().map_err(|_| corrupt(what, text))
}

/// An inspector as stored in a task's `inspectors`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct InspectorJson {
    id: String,
    name: String,
    department: String,
}

pub(super) fn inspectors_json(list: &[Inspector]) -> serde_json::Value {
    let rows: Vec<InspectorJson> = list
        .iter()
        .map(|i| InspectorJson {
            id: i.id.clone(),
            name: i.name.clone(),
            department: i.department.as_str().to_string(),
        })
        .collect();
    serde_json::to_value(rows).unwrap_or_default()
}

fn inspectors_from(value: serde_json::Value) -> Result<Vec<Inspector>, StoreError> {
    let rows: Vec<InspectorJson> =
        serde_json::from_value(value).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    rows.into_iter()
        .map(|r| {
            Ok(Inspector {
                department: department(&r.department)?,
                id: r.id,
                name: r.name,
            })
        })
        .collect()
}

/// A result as stored in `visits.result`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ResultJson {
    outcome: String,
    findings: Vec<FindingJson>,
    summary: String,
    /// RFC 3339.
    recorded_at: String,
    recorded_by: String,
    recheck_task_ids: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct FindingJson {
    item_code: String,
    description: String,
    /// YYYY-MM-DD.
    rectify_by: String,
}

pub(super) fn result_json(result: &VisitResult) -> serde_json::Value {
    let row = ResultJson {
        outcome: <&str>::from(result.outcome).to_string(),
        findings: result
            .findings
            .iter()
            .map(|f| FindingJson {
                item_code: f.item_code.clone(),
                description: f.description.clone(),
                rectify_by: f.rectify_by.to_string(),
            })
            .collect(),
        summary: result.summary.clone(),
        recorded_at: result.recorded_at.to_rfc3339(),
        recorded_by: result.recorded_by.clone(),
        recheck_task_ids: result
            .recheck_task_ids
            .iter()
            .map(Uuid::to_string)
            .collect(),
    };
    serde_json::to_value(row).unwrap_or_default()
}

fn result_from(
    value: serde_json::Value,
    publish_by: Option<NaiveDate>,
    published_at: Option<DateTime<Utc>>,
) -> Result<VisitResult, StoreError> {
    let row: ResultJson =
        serde_json::from_value(value).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let recorded_at = DateTime::parse_from_rfc3339(&row.recorded_at)
        .map_err(|_| corrupt("recorded_at", &row.recorded_at))?
        .with_timezone(&Utc);
    let findings = row
        .findings
        .into_iter()
        .map(|f| {
            Ok(Finding {
                rectify_by: parse::<NaiveDate>("rectify_by", &f.rectify_by)?,
                item_code: f.item_code,
                description: f.description,
            })
        })
        .collect::<Result<_, StoreError>>()?;
    let recheck_task_ids = row
        .recheck_task_ids
        .iter()
        .map(|id| parse::<Uuid>("task id", id))
        .collect::<Result<_, StoreError>>()?;
    Ok(VisitResult {
        outcome: parse::<Outcome>("outcome", &row.outcome)?,
        findings,
        summary: row.summary,
        recorded_at,
        recorded_by: row.recorded_by,
        publish_by: publish_by.unwrap_or(recorded_at.date_naive()),
        published_at,
        recheck_task_ids,
    })
}

pub(super) struct ItemRow {
    pub department: String,
    pub code: String,
    pub title: String,
    pub legal_basis: String,
    pub kind: String,
    pub safety: bool,
    pub off_site: bool,
    pub documents: Vec<String>,
    pub version: i64,
    pub updated_at: DateTime<Utc>,
}

impl ItemRow {
    pub fn into_item(self) -> Result<Item, StoreError> {
        Ok(Item {
            department: department(&self.department)?,
            kind: parse::<ItemKind>("item kind", &self.kind)?,
            code: self.code,
            title: self.title,
            legal_basis: self.legal_basis,
            safety: self.safety,
            off_site: self.off_site,
            documents: self.documents,
            version: self.version,
            updated_at: self.updated_at,
        })
    }
}

pub(super) struct TaskRow {
    pub id: Uuid,
    pub department: String,
    pub uscc: String,
    pub name: String,
    pub kind: String,
    pub item_codes: Vec<String>,
    pub planned_on: NaiveDate,
    pub inspectors: serde_json::Value,
    pub exemption: Option<String>,
    pub exemption_reference: String,
    pub plan_code: Option<String>,
    pub state: String,
    pub visit_id: Option<Uuid>,
    pub refusal: String,
    pub off_site: bool,
    pub tier: String,
    pub created_at: DateTime<Utc>,
}

impl TaskRow {
    pub fn into_task(self) -> Result<Task, StoreError> {
        let exemption = match self.exemption {
            Some(e) => Some((
                parse::<Exemption>("exemption", &e)?,
                self.exemption_reference,
            )),
            None => None,
        };
        Ok(Task {
            id: self.id,
            department: department(&self.department)?,
            kind: parse::<ItemKind>("task kind", &self.kind)?,
            inspectors: inspectors_from(self.inspectors)?,
            state: parse::<TaskState>("task state", &self.state)?,
            tier: parse::<Tier>("tier", &self.tier)?,
            exemption,
            uscc: self.uscc,
            name: self.name,
            item_codes: self.item_codes,
            planned_on: self.planned_on,
            plan_code: self.plan_code,
            visit_id: self.visit_id,
            refusal: self.refusal,
            off_site: self.off_site,
            created_at: self.created_at,
        })
    }
}

pub(super) struct VisitRow {
    pub id: Uuid,
    pub uscc: String,
    pub name: String,
    pub visit_on: NaiveDate,
    pub on_site: bool,
    pub state: String,
    pub code: Option<String>,
    pub code_valid_until: Option<NaiveDate>,
    pub version: i64,
    pub approved_at: Option<DateTime<Utc>>,
    pub rated: bool,
    pub result: Option<serde_json::Value>,
    pub publish_by: Option<NaiveDate>,
    pub published_at: Option<DateTime<Utc>>,
}

impl VisitRow {
    /// The visit with its tasks (those of `tasks` whose visit it is).
    pub fn into_visit(self, tasks: &[Task]) -> Result<Visit, StoreError> {
        let result = match self.result {
            Some(value) => Some(result_from(value, self.publish_by, self.published_at)?),
            None => None,
        };
        Ok(Visit {
            state: parse::<VisitState>("visit state", &self.state)?,
            tasks: tasks
                .iter()
                .filter(|t| t.visit_id == Some(self.id))
                .cloned()
                .collect(),
            id: self.id,
            uscc: self.uscc,
            name: self.name,
            visit_on: self.visit_on,
            on_site: self.on_site,
            code: self.code,
            code_valid_until: self.code_valid_until,
            version: self.version,
            approved_at: self.approved_at,
            rated: self.rated,
            result,
        })
    }
}

/// The year a task or visit counts in.
pub(super) fn year(day: NaiveDate) -> i32 {
    day.year()
}

/// The seed's bits as PostgreSQL's signed bigint, and back.
pub(super) fn seed_to_db(seed: u64) -> i64 {
    i64::from_ne_bytes(seed.to_ne_bytes())
}

pub(super) fn seed_from_db(seed: i64) -> u64 {
    u64::from_ne_bytes(seed.to_ne_bytes())
}
