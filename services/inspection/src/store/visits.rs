//! Visits: approval with an inspection code, the code's check, results (with the firm's
//! rectifications and the re-check tasks they open), publication, ratings kept apart from
//! their visits, and the year's views.

use chrono::{DateTime, Utc};
use platform::auth::Department;
use sqlx::PgConnection;
use uuid::Uuid;

use super::{
    Store, StoreError,
    items::all_items,
    placement::{lock_firm_year, with_tasks},
    rows::{TaskRow, VisitRow, result_json},
};
use crate::{
    config::Rules,
    domain::{
        code::{CodeRefused, decide_approve, new_code},
        visit::{Task, Visit, VisitState, VisitView},
    },
    events,
};

/// Which visits a list shows; empty fields do not filter.
#[derive(Debug, Clone, Default)]
pub struct VisitFilter {
    pub uscc: String,
    pub department: Option<Department>,
    pub year: Option<i32>,
    pub state: Option<VisitState>,
    /// Recorded and not published by `publish_by` as of this day.
    pub overdue_on: Option<chrono::NaiveDate>,
}

/// Which tasks a list shows.
#[derive(Debug, Clone, Default)]
pub struct TaskFilter {
    pub uscc: String,
    pub department: Option<Department>,
    pub year: Option<i32>,
}

pub(super) async fn locked_visit(conn: &mut PgConnection, id: Uuid) -> Result<Visit, StoreError> {
    let row = sqlx::query_as!(
        VisitRow,
        "SELECT id, uscc, name, visit_on, on_site, state, code, code_valid_until, version, approved_at,
                rated, result, publish_by, published_at
         FROM visits WHERE id = $1 FOR UPDATE",
        id
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| StoreError::NotFound(format!("visit {id}")))?;
    let mut visits = with_tasks(conn, vec![row]).await?;
    visits
        .pop()
        .ok_or_else(|| StoreError::NotFound(format!("visit {id}")))
}

pub(super) async fn save_visit(conn: &mut PgConnection, visit: &Visit) -> Result<(), StoreError> {
    let result = visit.result.as_ref();
    sqlx::query!(
        "UPDATE visits SET state = $2, code = $3, code_valid_until = $4, version = $5, approved_at = $6,
                rated = $7, result = $8, publish_by = $9, published_at = $10
         WHERE id = $1",
        visit.id,
        <&str>::from(visit.state),
        visit.code,
        visit.code_valid_until,
        visit.version,
        visit.approved_at,
        visit.rated,
        result.map(result_json),
        result.map(|r| r.publish_by),
        result.and_then(|r| r.published_at)
    )
    .execute(&mut *conn)
    .await?;
    for task in &visit.tasks {
        sqlx::query!(
            "UPDATE tasks SET state = $2 WHERE id = $1",
            task.id,
            <&str>::from(task.state)
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// The caller must have a task in the visit.
pub(super) fn require_part(
    visit: &Visit,
    caller: Option<Department>,
    name: &str,
) -> Result<(), StoreError> {
    match caller {
        Some(d) if visit.departments().contains(&d) => Ok(()),
        _ => Err(CodeRefused::NotInVisit(name.to_string(), visit.id).into()),
    }
}

impl Store {
    async fn view(&self, conn: &mut PgConnection, visit: Visit) -> Result<VisitView, StoreError> {
        Ok(VisitView::of(visit, &all_items(conn).await?))
    }

    /// Approves a proposed visit of the caller's: it gets its code (VisitApproved).
    pub async fn approve(
        &self,
        id: Uuid,
        expected_version: i64,
        caller: Option<Department>,
        caller_name: &str,
        rules: &Rules,
        now: DateTime<Utc>,
    ) -> Result<VisitView, StoreError> {
        let mut tx = self.pool.begin().await?;
        // The firm's year first (as placements take it), then the row.
        let firm_year = sqlx::query!("SELECT uscc, year FROM visits WHERE id = $1", id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("visit {id}")))?;
        lock_firm_year(&mut tx, &firm_year.uscc, firm_year.year).await?;
        let visit = locked_visit(&mut tx, id).await?;
        require_part(&visit, caller, caller_name)?;
        if expected_version != 0 && expected_version != visit.version {
            return Err(StoreError::VersionConflict(format!(
                "visit {id} is at version {}, not {expected_version}",
                visit.version
            )));
        }
        let code = new_code(Uuid::new_v4().as_u128());
        let approved = decide_approve(&visit, code, now, &rules.limits)?;
        save_visit(&mut tx, &approved).await?;
        let view = self.view(&mut tx, approved).await?;
        self.outbox
            .enqueue(&mut tx, events::visit_approved(&view))
            .await?;
        tx.commit().await?;
        Ok(view)
    }

    pub async fn visit(&self, id: Uuid) -> Result<VisitView, StoreError> {
        let mut tx = self.pool.begin().await?;
        let visit = locked_visit(&mut tx, id).await?;
        let view = self.view(&mut tx, visit).await?;
        tx.rollback().await?;
        Ok(view)
    }

    /// The visit a code belongs to.
    pub async fn visit_by_code(&self, code: &str) -> Result<VisitView, StoreError> {
        let id = sqlx::query_scalar!("SELECT id FROM visits WHERE code = $1", code)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound("a visit with this code".into()))?;
        self.visit(id).await
    }

    /// Visits matching `filter`, by id after `after`.
    pub async fn visits(
        &self,
        filter: &VisitFilter,
        after: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<VisitView>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let rows = sqlx::query_as!(
            VisitRow,
            "SELECT v.id, v.uscc, v.name, v.visit_on, v.on_site, v.state, v.code, v.code_valid_until,
                    v.version, v.approved_at, v.rated, v.result, v.publish_by, v.published_at
             FROM visits v
             WHERE ($1 = '' OR v.uscc = $1)
               AND ($2::text IS NULL OR EXISTS (SELECT 1 FROM tasks t WHERE t.visit_id = v.id AND t.department = $2))
               AND ($3::int IS NULL OR v.year = $3)
               AND ($4::text IS NULL OR v.state = $4)
               AND ($5::date IS NULL OR (v.state = 'RECORDED' AND v.publish_by < $5))
               AND ($6::uuid IS NULL OR v.id > $6)
             ORDER BY v.id LIMIT $7",
            filter.uscc,
            filter.department.map(Department::as_str),
            filter.year,
            filter.state.map(<&str>::from),
            filter.overdue_on,
            after,
            limit
        )
        .fetch_all(&mut *conn)
        .await?;
        let visits = with_tasks(&mut conn, rows).await?;
        let items = all_items(&mut conn).await?;
        Ok(visits
            .into_iter()
            .map(|v| VisitView::of(v, &items))
            .collect())
    }

    /// Every visit of a year, with its tasks (the report and the counts).
    pub async fn year_visits(&self, year: i32) -> Result<Vec<Visit>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let rows = sqlx::query_as!(
            VisitRow,
            "SELECT id, uscc, name, visit_on, on_site, state, code, code_valid_until, version, approved_at,
                    rated, result, publish_by, published_at
             FROM visits WHERE year = $1 ORDER BY uscc, visit_on, id",
            year
        )
        .fetch_all(&mut *conn)
        .await?;
        with_tasks(&mut conn, rows).await
    }

    /// Tasks matching `filter`, by id after `after`.
    pub async fn tasks(
        &self,
        filter: &TaskFilter,
        after: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<Task>, StoreError> {
        let rows = sqlx::query_as!(
            TaskRow,
            "SELECT id, department, uscc, name, kind, item_codes, planned_on, inspectors, exemption,
                    exemption_reference, plan_code, state, visit_id, refusal, off_site, tier, created_at
             FROM tasks
             WHERE ($1 = '' OR uscc = $1) AND ($2::text IS NULL OR department = $2)
               AND ($3::int IS NULL OR year = $3) AND ($4::uuid IS NULL OR id > $4)
             ORDER BY id LIMIT $5",
            filter.uscc,
            filter.department.map(Department::as_str),
            filter.year,
            after,
            limit
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(TaskRow::into_task).collect()
    }
}
