//! Evaluations: on a holder's yearly census return, each of its grants in force is evaluated
//! and the result kept; a change of outcome sends notices. All of it inside the inbox
//! transaction of the census event, so a replayed event changes nothing.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{PgConnection, types::Json};
use uuid::Uuid;

use super::{Result, Store, StoreError, events, grants, read_model};
use crate::domain::evaluation::{
    self, Evaluation, Figures, Input, ItemResult, Outcome, notice_for,
};

/// A kept evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct EvaluationRecord {
    pub id: Uuid,
    pub grant_id: Uuid,
    pub parcel_id: String,
    pub uscc: String,
    pub year: i32,
    pub revision: i64,
    pub evaluation: Evaluation,
    pub evaluated_on: NaiveDate,
    pub recorded_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
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
        let outcome = Outcome::parse(&r.outcome)
            .ok_or_else(|| super::parcels::corrupt("outcome", &r.outcome))?;
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
pub async fn latest(conn: &mut PgConnection, grant_id: Uuid) -> Result<Option<EvaluationRecord>> {
    const Q: &str =
        "SELECT e.id, e.grant_id, g.parcel_id, e.uscc, e.year, e.revision, e.outcome, e.all_met,
            e.damages_fen, e.rectification_due_on, e.evaluated_on, e.items, e.recorded_at
        FROM evaluations e JOIN grants g ON g.id = e.grant_id
        WHERE e.grant_id = $1 ORDER BY e.seq DESC LIMIT 1";
    let row: Option<Row> = sqlx::query_as(Q)
        .bind(grant_id)
        .fetch_optional(&mut *conn)
        .await?;
    row.map(EvaluationRecord::try_from)
        .transpose()
        .map_err(StoreError::Database)
}

/// A yearly census return of a holder, as the consumer hands it over.
#[derive(Debug, Clone)]
pub struct ReturnFacts<'a> {
    pub uscc: &'a str,
    pub name: &'a str,
    pub year: i32,
    pub revision: i64,
    pub figures: Figures,
    /// The day it was submitted, in China: the evaluation's date.
    pub evaluated_on: NaiveDate,
    pub submitted_at: DateTime<Utc>,
}

/// What one return did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReturnOutcome {
    pub evaluations: usize,
    pub notices: usize,
}

/// Keeps the return (if it is the newest revision of its year) and evaluates the holder's
/// grants in force, inside `conn`'s transaction.
pub async fn apply_return(
    conn: &mut PgConnection,
    store: &Store,
    facts: &ReturnFacts<'_>,
) -> Result<ReturnOutcome> {
    let kept = read_model::apply_return(
        conn,
        facts.uscc,
        facts.year,
        facts.revision,
        &facts.figures,
        facts.submitted_at,
    )
    .await?;
    if !kept {
        tracing::debug!(
            uscc = facts.uscc,
            year = facts.year,
            "an older revision; nothing to evaluate"
        );
        return Ok(ReturnOutcome::default());
    }
    // Tenants and owners of units are evaluated per mu of their apportioned land too.
    super::units::evaluate_holder(conn, facts.uscc, facts.year, &facts.figures).await?;
    let previous = read_model::previous_return(conn, facts.uscc, facts.year).await?;
    let mut outcome = ReturnOutcome::default();
    for grant in grants::in_force_of(conn, facts.uscc).await? {
        let before = latest(conn, grant.id).await?.map(|e| e.evaluation.outcome);
        let result = evaluation::evaluate(
            &Input {
                land_centi_mu: grant.land_centi_mu,
                price_fen: grant.terms.price_fen,
                commitments: &grant.commitments,
                production_check_on: grant.contract.production_check_on,
                progress: &grant.progress,
                year: facts.year,
                figures: facts.figures,
                previous,
                evaluated_on: facts.evaluated_on,
            },
            &store.rules.evaluation,
        );
        let record = insert(conn, &grant, facts, result).await?;
        events::commitment_evaluated(conn, store, &record).await?;
        outcome.evaluations += 1;
        if let Some(kind) = notice_for(before, record.evaluation.outcome) {
            let notice = events::Notice {
                cause: format!(
                    "evaluation|{}|{}|{}|{}",
                    grant.id,
                    facts.year,
                    facts.revision,
                    kind.as_str()
                ),
                kind: kind.as_str(),
                text: events::evaluation_text(kind, &record),
                uscc: facts.uscc,
                enterprise_name: facts.name,
                parcel_id: &grant.parcel_id,
                period: Some(facts.year.to_string()),
                issued_at: record.recorded_at,
                due_on: record.evaluation.rectification_due_on,
            };
            outcome.notices +=
                events::notices(conn, store, &notice, &store.rules.notice_departments).await?;
        }
    }
    Ok(outcome)
}

async fn insert(
    conn: &mut PgConnection,
    grant: &grants::GrantRecord,
    facts: &ReturnFacts<'_>,
    evaluation: Evaluation,
) -> Result<EvaluationRecord> {
    let id = Uuid::now_v7();
    let recorded_at: DateTime<Utc> = sqlx::query_scalar(
        "INSERT INTO evaluations (id, grant_id, uscc, year, revision, outcome, all_met, damages_fen,
             rectification_due_on, evaluated_on, items)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING recorded_at",
    )
    .bind(id)
    .bind(grant.id)
    .bind(facts.uscc)
    .bind(facts.year)
    .bind(facts.revision)
    .bind(evaluation.outcome.as_str())
    .bind(evaluation.all_met)
    .bind(evaluation.damages_fen)
    .bind(evaluation.rectification_due_on)
    .bind(facts.evaluated_on)
    .bind(Json(&evaluation.items))
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

impl Store {
    /// A grant's evaluations recorded at or before `as_of`, newest first.
    pub async fn evaluations(
        &self,
        grant_id: Uuid,
        as_of: Option<DateTime<Utc>>,
    ) -> Result<Vec<EvaluationRecord>> {
        let mut conn = self.pool.acquire().await?;
        grants::load(&mut conn, grant_id, false).await?;
        const Q: &str = "SELECT e.id, e.grant_id, g.parcel_id, e.uscc, e.year, e.revision, e.outcome, e.all_met,
                e.damages_fen, e.rectification_due_on, e.evaluated_on, e.items, e.recorded_at
            FROM evaluations e JOIN grants g ON g.id = e.grant_id
            WHERE e.grant_id = $1 AND ($2::timestamptz IS NULL OR e.recorded_at <= $2)
            ORDER BY e.seq DESC LIMIT 1000";
        let rows: Vec<Row> = sqlx::query_as(Q)
            .bind(grant_id)
            .bind(as_of)
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
