//! Yearly plans: the draw over the firms held now (tiers, white list) and the department's
//! roster, filed with its seed and code; its tasks are placed into visits in the same
//! transaction. One plan per department and year.

use chrono::{DateTime, Utc};
use platform::auth::Department;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{
    Store, StoreError,
    items::{all_items, roster},
    placement::place_tasks,
    rows::{TaskRow, parse, seed_from_db, seed_to_db},
};
use crate::{
    config::Rules,
    domain::{
        item::{Item, ItemKind},
        plan::{Candidate, DrawInput, Plan, PlanRefused, TierDraw, draw, plan_code, plan_items},
        tier::Tier,
        visit::{Task, TaskState},
    },
    events,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
struct TierJson {
    tier: String,
    ratio_bp: u32,
    population: u32,
    drawn: u32,
}

/// What a plan is drawn from and how.
#[derive(Debug, Clone)]
pub struct PlanRequest {
    pub department: Department,
    pub year: i32,
    pub item_codes: Vec<String>,
    pub seed: u64,
    pub by: String,
}

async fn candidates(conn: &mut PgConnection) -> Result<Vec<Candidate>, StoreError> {
    let rows = sqlx::query!(
        "SELECT uscc, name, tier, white_listed FROM firms WHERE NOT deregistered ORDER BY uscc"
    )
    .fetch_all(conn)
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok(Candidate {
                tier: parse::<Tier>("tier", &r.tier)?,
                uscc: r.uscc,
                name: r.name,
                white_listed: r.white_listed,
            })
        })
        .collect()
}

/// Draws the plan in `conn` (nothing written).
async fn drawn(
    conn: &mut PgConnection,
    request: &PlanRequest,
    rules: &Rules,
    items: &[Item],
    now: DateTime<Utc>,
) -> Result<Plan, StoreError> {
    let (safety_only, off_site) = plan_items(items, request.department, &request.item_codes)?;
    let roster = roster(conn, request.department).await?;
    let firms = candidates(conn).await?;
    let input = DrawInput {
        year: request.year,
        seed: request.seed,
        safety_only,
        roster: &roster,
        limits: &rules.limits,
        calendar: &rules.calendar,
    };
    let draw = draw(&firms, &input).map_err(|refused| match refused {
        PlanRefused::RosterTooSmall(_, n) => {
            PlanRefused::RosterTooSmall(request.department.as_str(), n)
        }
        other => other,
    })?;
    let code = plan_code(request.department, request.year);
    let tasks = draw
        .picks
        .into_iter()
        .map(|pick| Task {
            id: Uuid::now_v7(),
            department: request.department,
            uscc: pick.uscc,
            name: pick.name,
            kind: ItemKind::Routine,
            item_codes: request.item_codes.clone(),
            planned_on: pick.planned_on,
            inspectors: pick.inspectors,
            exemption: None,
            plan_code: Some(code.clone()),
            state: TaskState::Placed,
            visit_id: None,
            refusal: String::new(),
            off_site,
            tier: pick.tier,
            created_at: now,
        })
        .collect();
    Ok(Plan {
        code,
        department: request.department,
        year: request.year,
        seed: request.seed,
        item_codes: request.item_codes.clone(),
        tiers: draw.tiers,
        tasks,
        filed_at: now,
        filed_by: request.by.clone(),
    })
}

impl Store {
    /// The draw without filing it.
    pub async fn preview_plan(
        &self,
        request: &PlanRequest,
        rules: &Rules,
        now: DateTime<Utc>,
    ) -> Result<Plan, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let items = all_items(&mut conn).await?;
        drawn(&mut conn, request, rules, &items, now).await
    }

    /// Draws and files the plan, places its tasks (PlanFiled, then TaskPlaced/TaskRefused).
    pub async fn file_plan(
        &self,
        request: &PlanRequest,
        rules: &Rules,
        now: DateTime<Utc>,
    ) -> Result<Plan, StoreError> {
        let mut tx = self.pool.begin().await?;
        let key = format!(
            "inspection-plan:{}:{}",
            request.department.as_str(),
            request.year
        );
        sqlx::query!("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", key)
            .execute(&mut *tx)
            .await?;
        let code = plan_code(request.department, request.year);
        let exists = sqlx::query_scalar!("SELECT code FROM plans WHERE code = $1", code)
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_some() {
            return Err(
                PlanRefused::Exists(request.department.as_str(), request.year, code).into(),
            );
        }
        let items = all_items(&mut tx).await?;
        let mut plan = drawn(&mut tx, request, rules, &items, now).await?;
        let tiers: Vec<TierJson> = plan
            .tiers
            .iter()
            .map(|t| TierJson {
                tier: <&str>::from(t.tier).to_string(),
                ratio_bp: t.ratio_bp,
                population: t.population,
                drawn: t.drawn,
            })
            .collect();
        sqlx::query!(
            "INSERT INTO plans (code, department, year, seed, item_codes, tiers, filed_at, filed_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            plan.code,
            plan.department.as_str(),
            plan.year,
            seed_to_db(plan.seed),
            &plan.item_codes,
            serde_json::to_value(&tiers).unwrap_or_default(),
            plan.filed_at,
            plan.filed_by
        )
        .execute(&mut *tx)
        .await?;
        let tasks = std::mem::take(&mut plan.tasks);
        let placed = place_tasks(self, &mut tx, tasks, rules, &items).await?;
        plan.tasks = placed.into_iter().map(|(task, _)| task).collect();
        // Filed with its tasks as placed (each also has its TaskPlaced or TaskRefused).
        self.outbox
            .enqueue(&mut tx, events::plan_filed(&plan))
            .await?;
        tx.commit().await?;
        Ok(plan)
    }

    /// A filed plan with its tasks as they stand.
    pub async fn plan(&self, code: &str) -> Result<Plan, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let row = sqlx::query!(
            "SELECT code, department, year, seed, item_codes, tiers, filed_at, filed_by FROM plans WHERE code = $1",
            code
        )
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("plan {code}")))?;
        let tiers: Vec<TierJson> =
            serde_json::from_value(row.tiers).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let tasks = sqlx::query_as!(
            TaskRow,
            "SELECT id, department, uscc, name, kind, item_codes, planned_on, inspectors, exemption,
                    exemption_reference, plan_code, state, visit_id, refusal, off_site, tier, created_at
             FROM tasks WHERE plan_code = $1 ORDER BY uscc, id",
            code
        )
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .map(TaskRow::into_task)
        .collect::<Result<Vec<Task>, StoreError>>()?;
        Ok(Plan {
            code: row.code,
            department: super::rows::department(&row.department)?,
            year: row.year,
            seed: seed_from_db(row.seed),
            item_codes: row.item_codes,
            tiers: tiers
                .into_iter()
                .map(|t| {
                    Ok(TierDraw {
                        tier: parse::<Tier>("tier", &t.tier)?,
                        ratio_bp: t.ratio_bp,
                        population: t.population,
                        drawn: t.drawn,
                    })
                })
                .collect::<Result<_, StoreError>>()?,
            tasks,
            filed_at: row.filed_at,
            filed_by: row.filed_by,
        })
    }

    /// The codes of a year's plans.
    pub async fn plan_codes(&self, year: i32) -> Result<Vec<String>, StoreError> {
        Ok(
            sqlx::query_scalar!("SELECT code FROM plans WHERE year = $1 ORDER BY code", year)
                .fetch_all(&self.pool)
                .await?,
        )
    }
}
