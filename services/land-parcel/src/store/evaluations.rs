//! Evaluations: on a holder's yearly census return, each of its grants in force is evaluated
//! and the result kept; a change of outcome sends notices. All of it inside the inbox
//! transaction of the census event, so a replayed event changes nothing.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{PgConnection, types::Json};
use uuid::Uuid;

use super::{Result, Store, StoreError, corrupt, grants, read_model, units};
use crate::{
    domain::{
        evaluation::{
            self, Evaluation, EvaluationRecord, ItemResult, NoticeKind, Outcome, ReturnFacts,
            ReturnOutcome,
        },
        grant::GrantRecord,
        low_efficiency,
    },
    events::{self, LandNotice},
};

struct Row {
    id: Uuid,
    grant_id: Uuid,
    parcel_id: String,
    uscc: String,
    year: i32,
    revision: i64,
    outcome: String,
    all_met: bool,
    damages_fen: i64,
    rectification_due_on: Option<NaiveDate>,
    evaluated_on: NaiveDate,
    items: Json<Vec<ItemResult>>,
    recorded_at: DateTime<Utc>,
}

impl TryFrom<Row> for EvaluationRecord {
    type Error = sqlx::Error;
    fn try_from(r: Row) -> sqlx::Result<Self> {
        let outcome = Outcome::parse(&r.outcome).ok_or_else(|| corrupt("outcome", &r.outcome))?;
        Ok(Self {
            id: r.id,
            grant_id: r.grant_id,
            parcel_id: r.parcel_id,
            uscc: r.uscc,
            year: r.year,
            revision: r.revision,
            evaluation: Evaluation {
                items: r.items.0,
                outcome,
                all_met: r.all_met,
                damages_fen: r.damages_fen,
                rectification_due_on: r.rectification_due_on,
            },
            evaluated_on: r.evaluated_on,
            recorded_at: r.recorded_at,
        })
    }
}

/// The latest evaluation of a grant.
pub(super) async fn latest(
    conn: &mut PgConnection,
    grant_id: Uuid,
) -> Result<Option<EvaluationRecord>> {
    let row = sqlx::query_as!(
        Row,
        r#"SELECT e.id, e.grant_id, g.parcel_id, e.uscc, e.year, e.revision, e.outcome, e.all_met,
            e.damages_fen, e.rectification_due_on, e.evaluated_on,
            e.items AS "items: Json<Vec<ItemResult>>", e.recorded_at
        FROM evaluations e JOIN grants g ON g.id = e.grant_id
        WHERE e.grant_id = $1 ORDER BY e.seq DESC LIMIT 1"#,
        grant_id
    )
    .fetch_optional(&mut *conn)
    .await?;
    row.map(EvaluationRecord::try_from)
        .transpose()
        .map_err(StoreError::Database)
}

async fn insert(
    conn: &mut PgConnection,
    grant: &GrantRecord,
    facts: &ReturnFacts<'_>,
    evaluation: Evaluation,
) -> Result<EvaluationRecord> {
    let id = Uuid::now_v7();
    let recorded_at = sqlx::query_scalar!(
        "INSERT INTO evaluations (id, grant_id, uscc, year, revision, outcome, all_met, damages_fen,
             rectification_due_on, evaluated_on, items)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING recorded_at",
        id,
        grant.id,
        facts.uscc,
        facts.year,
        facts.revision,
        evaluation.outcome.as_str(),
        evaluation.all_met,
        evaluation.damages_fen,
        evaluation.rectification_due_on,
        facts.evaluated_on,
        Json(&evaluation.items) as _,
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(EvaluationRecord {
        id,
        grant_id: grant.id,
        parcel_id: grant.parcel_id.clone(),
        uscc: facts.uscc.to_string(),
        year: facts.year,
        revision: facts.revision,
        evaluation,
        evaluated_on: facts.evaluated_on,
        recorded_at,
    })
}

/// The notice of an evaluation whose outcome changed.
fn notice<'a>(
    kind: NoticeKind,
    record: &'a EvaluationRecord,
    facts: &ReturnFacts<'a>,
) -> LandNotice<'a> {
    LandNotice {
        cause: format!(
            "evaluation|{}|{}|{}|{}",
            record.grant_id,
            facts.year,
            facts.revision,
            kind.as_str()
        ),
        kind: kind.as_str(),
        text: evaluation::notice_text(kind, record),
        uscc: facts.uscc,
        enterprise_name: facts.name,
        parcel_id: &record.parcel_id,
        period: Some(facts.year.to_string()),
        issued_at: record.recorded_at,
        due_on: record.evaluation.rectification_due_on,
    }
}

async fn set_low_efficiency(conn: &mut PgConnection, id: Uuid, low: bool) -> Result<()> {
    sqlx::query!(
        "UPDATE grants SET low_efficiency = $2, version = version + 1 WHERE id = $1",
        id,
        low
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The notice of a grant flagged low-efficiency, or cleared.
fn low_efficiency_notice<'a>(
    grant: &'a GrantRecord,
    low: bool,
    record: &EvaluationRecord,
    facts: &ReturnFacts<'a>,
) -> LandNotice<'a> {
    let kind = if low {
        "land_low_efficiency"
    } else {
        "land_low_efficiency_cleared"
    };
    LandNotice {
        cause: format!("{kind}|{}|{}|{}", grant.id, facts.year, facts.revision),
        kind,
        text: low_efficiency::notice_text(grant, low, record.evaluated_on),
        uscc: &grant.uscc,
        enterprise_name: facts.name,
        parcel_id: &grant.parcel_id,
        period: Some(facts.year.to_string()),
        issued_at: record.recorded_at,
        due_on: None,
    }
}

impl Store {
    /// Keeps the return (if it is the newest revision of its year) and evaluates the holder's
    /// grants in force, inside `conn`'s transaction (the inbox's).
    pub async fn apply_return(
        &self,
        conn: &mut PgConnection,
        facts: &ReturnFacts<'_>,
    ) -> Result<ReturnOutcome> {
        if !read_model::apply_return(conn, facts).await? {
            tracing::debug!(
                uscc = facts.uscc,
                year = facts.year,
                "an older revision; nothing to evaluate"
            );
            return Ok(ReturnOutcome::default());
        }
        // Tenants and owners of units are evaluated per mu of their apportioned land too.
        units::evaluate_holder(conn, facts.uscc, facts.year, &facts.figures).await?;
        let previous = read_model::previous_return(conn, facts.uscc, facts.year).await?;
        let mut outcome = ReturnOutcome::default();
        for grant in grants::in_force_of(conn, facts.uscc).await? {
            let before = latest(conn, grant.id).await?.map(|e| e.evaluation.outcome);
            let decided =
                evaluation::decide(&grant, facts, previous, before, &self.rules.evaluation);
            let record = insert(conn, &grant, facts, decided.evaluation).await?;
            let mut announced = vec![events::commitment_evaluated(&record)];
            if let Some(kind) = decided.notice {
                let departments = &self.rules.notice_departments;
                announced.extend(events::notices(&notice(kind, &record, facts), departments));
                outcome.notices += departments.len();
            }
            if let Some(low) = low_efficiency::decide(&grant, &record, &self.rules.low_efficiency) {
                set_low_efficiency(conn, grant.id, low).await?;
                announced.push(events::low_efficiency_changed(&record, low));
                let departments = &self.rules.disposal_notice_departments;
                let notice = low_efficiency_notice(&grant, low, &record, facts);
                announced.extend(events::notices(&notice, departments));
                outcome.notices += departments.len();
            }
            self.publish(conn, announced).await?;
            outcome.evaluations += 1;
        }
        Ok(outcome)
    }

    /// A grant's evaluations recorded at or before `as_of`, newest first.
    pub async fn evaluations(
        &self,
        grant_id: Uuid,
        as_of: Option<DateTime<Utc>>,
    ) -> Result<Vec<EvaluationRecord>> {
        let mut conn = self.pool.acquire().await?;
        grants::load(&mut conn, grant_id).await?;
        let rows = sqlx::query_as!(
            Row,
            r#"SELECT e.id, e.grant_id, g.parcel_id, e.uscc, e.year, e.revision, e.outcome, e.all_met,
                e.damages_fen, e.rectification_due_on, e.evaluated_on,
                e.items AS "items: Json<Vec<ItemResult>>", e.recorded_at
            FROM evaluations e JOIN grants g ON g.id = e.grant_id
            WHERE e.grant_id = $1 AND ($2::timestamptz IS NULL OR e.recorded_at <= $2)
            ORDER BY e.seq DESC LIMIT 1000"#,
            grant_id,
            as_of
        )
        .fetch_all(&mut *conn)
        .await?;
        rows.into_iter()
            .map(|r| r.try_into().map_err(StoreError::Database))
            .collect()
    }

    pub async fn latest_evaluation(&self, grant_id: Uuid) -> Result<Option<EvaluationRecord>> {
        let mut conn = self.pool.acquire().await?;
        latest(&mut conn, grant_id).await
    }
}
