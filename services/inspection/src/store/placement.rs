//! Placing tasks into visits: for each firm and year, under a lock of that firm's year, the
//! firm's visits are loaded, each task is placed by the domain (`visit::place`: join a
//! proposed visit inside the window, a new visit, or refused by a cap), and the visits and
//! tasks are written with their TaskPlaced / TaskRefused events. Plans, ad hoc tasks,
//! follow-ups and re-checks all come through here.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use platform::auth::Department;
use sqlx::PgConnection;
use uuid::Uuid;

use super::{
    Store, StoreError, facts,
    items::{all_items, roster},
    rows::{TaskRow, VisitRow, inspectors_json, year},
};
use crate::{
    config::Rules,
    domain::{
        item::{Item, ItemKind},
        plan::two_inspectors,
        visit::{Exemption, Task, TaskFacts, TaskState, Visit, VisitView, apply, place},
    },
    events,
};

/// A task outside the plan, as a department (or a follow-up) asks for it.
#[derive(Debug, Clone)]
pub struct NewTask {
    pub department: Department,
    pub uscc: String,
    pub kind: ItemKind,
    pub item_codes: Vec<String>,
    pub planned_on: NaiveDate,
    pub exemption: Option<(Exemption, String)>,
}

/// Visits with their tasks, from their rows.
pub(super) async fn with_tasks(
    conn: &mut PgConnection,
    rows: Vec<VisitRow>,
) -> Result<Vec<Visit>, StoreError> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let tasks = sqlx::query_as!(
        TaskRow,
        "SELECT id, department, uscc, name, kind, item_codes, planned_on, inspectors, exemption,
                exemption_reference, plan_code, state, visit_id, refusal, off_site, tier, created_at
         FROM tasks WHERE visit_id = ANY($1) ORDER BY created_at, id",
        &ids
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(TaskRow::into_task)
    .collect::<Result<Vec<Task>, StoreError>>()?;
    rows.into_iter().map(|r| r.into_visit(&tasks)).collect()
}

/// A firm's visits of a year.
pub(super) async fn firm_visits(
    conn: &mut PgConnection,
    uscc: &str,
    year: i32,
) -> Result<Vec<Visit>, StoreError> {
    let rows = sqlx::query_as!(
        VisitRow,
        "SELECT id, uscc, name, visit_on, on_site, state, code, code_valid_until, version, approved_at,
                rated, result, publish_by, published_at
         FROM visits WHERE uscc = $1 AND year = $2 ORDER BY visit_on, id",
        uscc,
        year
    )
    .fetch_all(&mut *conn)
    .await?;
    with_tasks(conn, rows).await
}

/// Serializes the placements and approvals of one firm's year: a task never joins a visit
/// being approved, and two placements never both take the last place under a cap.
pub(super) async fn lock_firm_year(
    conn: &mut PgConnection,
    uscc: &str,
    year: i32,
) -> Result<(), StoreError> {
    let key = format!("inspection:{uscc}:{year}");
    sqlx::query!("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", key)
        .execute(conn)
        .await?;
    Ok(())
}

/// Places `tasks` (any firms, any years) and writes them; each with its visit (none when
/// refused).
pub(super) async fn place_tasks(
    store: &Store,
    conn: &mut PgConnection,
    tasks: Vec<Task>,
    rules: &Rules,
    items: &[Item],
) -> Result<Vec<(Task, Option<VisitView>)>, StoreError> {
    let mut groups: BTreeMap<(String, i32), Vec<Task>> = BTreeMap::new();
    for task in tasks {
        groups
            .entry((task.uscc.clone(), year(task.planned_on)))
            .or_default()
            .push(task);
    }
    let mut out = Vec::new();
    for ((uscc, year), group) in groups {
        lock_firm_year(conn, &uscc, year).await?;
        let mut visits = firm_visits(conn, &uscc, year).await?;
        let white_listed = facts::firm(conn, &uscc)
            .await?
            .is_some_and(|f| f.standing.white_listed);
        let mut touched = BTreeSet::new();
        let mut placed = Vec::new();
        for mut task in group {
            let safety = task.item_codes.iter().any(|code| {
                items
                    .iter()
                    .any(|i| i.department == task.department && i.code == *code && i.safety)
            });
            let decision = place(
                &task,
                TaskFacts {
                    white_listed,
                    safety,
                },
                &visits,
                &rules.limits,
            );
            let visit_id = apply(&mut visits, &mut task, &decision, Uuid::now_v7());
            touched.extend(visit_id);
            placed.push(task);
        }
        for visit in visits.iter().filter(|v| touched.contains(&v.id)) {
            write_visit(conn, visit).await?;
        }
        for task in placed {
            insert_task(conn, &task).await?;
            let view = task
                .visit_id
                .and_then(|id| visits.iter().find(|v| v.id == id))
                .map(|v| VisitView::of(v.clone(), items));
            let event = match &view {
                Some(view) => events::task_placed(&task, view),
                None => events::task_refused(&task),
            };
            store.outbox.enqueue(conn, event).await?;
            out.push((task, view));
        }
    }
    Ok(out)
}

async fn write_visit(conn: &mut PgConnection, visit: &Visit) -> Result<(), StoreError> {
    sqlx::query!(
        "INSERT INTO visits (id, uscc, name, year, visit_on, on_site, state, version)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version",
        visit.id,
        visit.uscc,
        visit.name,
        year(visit.visit_on),
        visit.visit_on,
        visit.on_site,
        <&str>::from(visit.state),
        visit.version
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub(super) async fn insert_task(conn: &mut PgConnection, task: &Task) -> Result<(), StoreError> {
    let (exemption, reference) = match &task.exemption {
        Some((e, r)) => (Some(<&str>::from(*e)), r.as_str()),
        None => (None, ""),
    };
    sqlx::query!(
        "INSERT INTO tasks (id, department, uscc, name, year, kind, item_codes, planned_on, inspectors,
                            exemption, exemption_reference, plan_code, state, visit_id, refusal, off_site,
                            tier, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
        task.id,
        task.department.as_str(),
        task.uscc,
        task.name,
        year(task.planned_on),
        <&str>::from(task.kind),
        &task.item_codes,
        task.planned_on,
        inspectors_json(&task.inspectors),
        exemption,
        reference,
        task.plan_code,
        <&str>::from(task.state),
        task.visit_id,
        task.refusal,
        task.off_site,
        <&str>::from(task.tier),
        task.created_at
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Whether every code names an item of the department; and whether all can be done off site.
fn check_items(
    items: &[Item],
    department: Department,
    codes: &[String],
) -> Result<bool, StoreError> {
    let mut off_site = true;
    for code in codes {
        let item = items
            .iter()
            .find(|i| i.department == department && i.code == *code)
            .ok_or_else(|| StoreError::UnknownItem(code.clone(), department.as_str()))?;
        off_site &= item.off_site;
    }
    Ok(off_site)
}

impl Store {
    /// A task outside the plan: placed, or refused by a cap (nothing is stored then).
    pub async fn create_task(
        &self,
        new: NewTask,
        rules: &Rules,
        now: DateTime<Utc>,
    ) -> Result<(Task, VisitView), StoreError> {
        let mut tx = self.pool.begin().await?;
        let placed = self.place_new(&mut tx, new, rules, now).await?;
        tx.commit().await?;
        Ok(placed)
    }

    /// Builds the task (firm, tier, inspectors drawn from the roster) and places it; a
    /// refusal is an error (the transaction is not to be committed).
    pub(super) async fn place_new(
        &self,
        conn: &mut PgConnection,
        new: NewTask,
        rules: &Rules,
        now: DateTime<Utc>,
    ) -> Result<(Task, VisitView), StoreError> {
        let items = all_items(conn).await?;
        let off_site = check_items(&items, new.department, &new.item_codes)?;
        let firm = facts::firm(conn, &new.uscc)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("enterprise {}", new.uscc)))?;
        let id = Uuid::now_v7();
        let roster = roster(conn, new.department).await?;
        let seed = u64::try_from(id.as_u128() & u128::from(u64::MAX)).unwrap_or(0);
        let task = Task {
            id,
            department: new.department,
            uscc: new.uscc,
            name: firm.name,
            kind: new.kind,
            item_codes: new.item_codes,
            planned_on: new.planned_on,
            inspectors: two_inspectors(&roster, seed),
            exemption: new.exemption,
            plan_code: None,
            state: TaskState::Placed,
            visit_id: None,
            refusal: String::new(),
            off_site,
            tier: firm.standing.tier,
            created_at: now,
        };
        let mut placed = place_tasks(self, conn, vec![task], rules, &items).await?;
        match placed.pop() {
            Some((task, Some(view))) => Ok((task, view)),
            Some((task, None)) => Err(StoreError::Refused(task.refusal)),
            None => Err(StoreError::Corrupt("a task vanished in placement".into())),
        }
    }
}
