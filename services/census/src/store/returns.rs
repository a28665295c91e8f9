//! Return submissions, one or many at a time. A submission is stored as a new revision of
//! its (uscc, period), or recognised by its client request id as one already stored. A batch
//! (an import's rows) is one transaction with one insert for all its new revisions.
//!
//! A single submission (SubmitReturn) reads what it is decided from in one round trip, the
//! `census_submission_context` function (lock, then clock and lookups). A batch of several
//! (an import's) is copied into a staging table and read, decided and stored by set-based
//! statements over it ([`super::staging`]): four reads whatever its size, then one insert of
//! the new revisions and one of their outbox rows.
//!
//! The lookups are not prepared (`persistent(false)`), so each is planned for its own keys
//! and the table as it is: prepared, a connection keeps a cached plan (a generic one assumes
//! ten keys) made when the tables were small, and an import's PostgreSQL time per row grew
//! with the table, to 475 µs per row after 40,000 returns against 96 µs unprepared
//! (BENCHMARKS.md).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use platform::{Outbox, OutgoingEvent};
use sqlx::{FromRow, PgConnection, QueryBuilder, Row, postgres::PgRow};

use super::{
    ATTEMPTS, EnterpriseRow, ReturnRow, Store, StoreError, clock, is_retryable, return_columns,
    staging::{self, Decided},
};
use crate::{
    domain::{
        CensusReturn, Enterprise, Submission,
        submission::{self, Decision, Refused, ReturnSubmitted, State},
    },
    events,
};

/// What became of each submission of a batch, in order.
pub type Outcomes = Vec<Result<Decision, Refused>>;

impl Store {
    /// Decides and stores every submission of `batch` in one transaction, in order (a later
    /// row may correct an earlier one): loads the state under the enterprises' locks, lets
    /// [`submission::decide_batch`] rule, and commits the new revisions with their events. A
    /// transaction that lost a race with another writer is tried again, and then sees that
    /// writer's rows.
    pub async fn submit(
        &self,
        batch: &[Submission],
        submitted_by: &str,
    ) -> Result<Outcomes, StoreError> {
        let mut attempt = 1;
        loop {
            match self.try_submit(batch, submitted_by).await {
                Err(err) if attempt < ATTEMPTS && is_retryable(&err) => {
                    tracing::debug!(error = %err, attempt, "submission lost a race; trying again");
                    attempt += 1;
                }
                result => return result.map_err(StoreError::from),
            }
        }
    }

    async fn try_submit(&self, batch: &[Submission], submitted_by: &str) -> sqlx::Result<Outcomes> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.pool.begin().await?;
        let (state, now) = match batch {
            [one] => single_context(&mut tx, one).await?,
            _ => staged_context(&mut tx, batch).await?,
        };
        let outcomes = submission::decide_batch(state, batch, submitted_by, now);
        let stored: Vec<(usize, &ReturnSubmitted)> = outcomes
            .iter()
            .enumerate()
            .filter_map(|(n, outcome)| match outcome {
                Ok(Decision::Stored(event)) => Some((n, event)),
                _ => None,
            })
            .collect();
        match (batch, stored.as_slice()) {
            // A single submission's revision and its event in one statement.
            ([_], [(_, event)]) => {
                let outgoing = events::return_submitted(event);
                insert_return_with_event(&mut tx, &self.outbox, &event.census_return, outgoing)
                    .await?;
            }
            ([_], _) => {}
            _ => {
                let decided = stored
                    .iter()
                    .map(|(n, e)| {
                        Ok(Decided {
                            n: i32::try_from(*n)
                                .map_err(|_| sqlx::Error::Protocol("batch too large".into()))?,
                            revision: e.census_return.revision,
                            enterprise_version: e.census_return.enterprise_version,
                        })
                    })
                    .collect::<sqlx::Result<Vec<_>>>()?;
                staging::insert_decided(&mut tx, &decided, now, submitted_by).await?;
                // The batch's events in one statement too: one each cost two round trips,
                // the most of an import's time (BENCHMARKS.md).
                let events = stored
                    .iter()
                    .map(|(_, e)| events::return_submitted(e))
                    .collect();
                self.outbox.enqueue_many(&mut tx, events).await?;
            }
        }
        tx.commit().await?;
        Ok(outcomes)
    }
}

/// The state of a single submission in one round trip (`census_submission_context`, the
/// migration says how it keeps the order lock, then reads), and the stored revision in a
/// second only when its request id is taken.
async fn single_context(
    conn: &mut PgConnection,
    submission: &Submission,
) -> sqlx::Result<(State, DateTime<Utc>)> {
    let content = &submission.content;
    let row: PgRow = sqlx::query("SELECT * FROM census_submission_context($1, $2, $3)")
        .bind(content.uscc.as_str())
        .bind(content.period.code())
        .bind(&submission.client_request_id)
        .fetch_one(&mut *conn)
        .await?;
    let mut enterprises = HashMap::new();
    // The enterprise's columns are NULL when no enterprise has this USCC.
    if row.try_get::<Option<i64>, _>("version")?.is_some() {
        let enterprise = Enterprise::try_from(EnterpriseRow::from_row(&row)?)?;
        enterprises.insert(enterprise.uscc.to_string(), enterprise);
    }
    let mut last_revision = HashMap::new();
    if let Some(revision) = row.try_get::<Option<i64>, _>("last_revision")? {
        last_revision.insert((content.uscc.to_string(), content.period.code()), revision);
    }
    // Revisions never change, so reading the taken one in a later statement is as good.
    let seen = if row.try_get("request_id_taken")? {
        stored_by_request_id(conn, std::slice::from_ref(submission)).await?
    } else {
        HashMap::new()
    };
    let state = State {
        enterprises,
        seen,
        last_revision,
    };
    Ok((state, row.try_get("now")?))
}

/// The state of a batch: copied into the staging table, its enterprises locked, then the
/// clock and the two lookups, each one statement over the staged rows.
///
/// The locks first, then the records in a statement of their own: read in the locking
/// statement, a record an update committed while the lock was awaited would be re-checked
/// against the old version row and dropped (the enterprise would look unknown). Both go key
/// by key: joined as one set, PostgreSQL hashed sequential scans of both tables whenever
/// they had not been analyzed yet (after a bulk registration), 19-30 ms for a batch of 500
/// among 100,000 enterprises against 2 ms key by key (`EXPLAIN ANALYZE`, BENCHMARKS.md).
async fn staged_context(
    conn: &mut PgConnection,
    batch: &[Submission],
) -> sqlx::Result<(State, DateTime<Utc>)> {
    staging::copy_in(conn, batch).await?;
    let enterprises = staging::lock_enterprises(conn).await?;
    let now = clock(conn).await?;
    let state = State {
        enterprises,
        seen: staging::stored_by_request_id(conn).await?,
        last_revision: staging::last_revisions(conn).await?,
    };
    Ok((state, now))
}

/// The revision already stored under a single submission's client request id.
async fn stored_by_request_id(
    conn: &mut PgConnection,
    batch: &[Submission],
) -> sqlx::Result<HashMap<String, CensusReturn>> {
    let ids: Vec<&str> = batch.iter().map(|s| s.client_request_id.as_str()).collect();
    let rows: Vec<ReturnRow> = sqlx::query_as(concat!(
        "SELECT ",
        return_columns!(),
        " FROM census_returns WHERE client_request_id = ANY($1)"
    ))
    .bind(&ids)
    .persistent(false)
    .fetch_all(conn)
    .await?;
    rows.into_iter()
        .map(|row| CensusReturn::try_from(row).map(|r| (r.client_request_id.clone(), r)))
        .collect()
}

/// A single submission's revision and its event in one statement, one round trip: the return
/// inserted by a data-modifying CTE ahead of the outbox's ([`Outbox::push_enqueue_many`]).
async fn insert_return_with_event(
    conn: &mut PgConnection,
    outbox: &Outbox,
    row: &CensusReturn,
    event: OutgoingEvent,
) -> sqlx::Result<()> {
    let indicators = &row.content.indicators;
    let sources = serde_json::to_string(&row.content.sources.to_stored())
        .unwrap_or_else(|_| "{}".to_string());
    let mut statement = QueryBuilder::new(
        "WITH return_inserted AS (
           INSERT INTO census_returns (uscc, period, revision, client_request_id,
            employees_total, production_staff, rd_technical_staff, management_sales_staff,
            college_educated_staff, rd_spend_fen, revenue_fen, industrial_output_fen,
            tax_paid_fen, export_sales_fen, equipment_value_fen, automation_share_percent,
            equipment_level, invention_patents, utility_model_patents, design_patents,
            land_used_centi_mu, energy_use_tce, rd_exceeds_revenue_flag, sources,
            enterprise_version, submitted_at, submitted_by)
           VALUES (",
    );
    let mut values = statement.separated(", ");
    values.push_bind(row.content.uscc.to_string());
    values.push_bind(row.content.period.code());
    values.push_bind(row.revision);
    values.push_bind(row.client_request_id.clone());
    values.push_bind(indicators.employees_total);
    values.push_bind(indicators.production_staff);
    values.push_bind(indicators.rd_technical_staff);
    values.push_bind(indicators.management_sales_staff);
    values.push_bind(indicators.college_educated_staff);
    values.push_bind(indicators.rd_spend_fen);
    values.push_bind(indicators.revenue_fen);
    values.push_bind(indicators.industrial_output_fen);
    values.push_bind(indicators.tax_paid_fen);
    values.push_bind(indicators.export_sales_fen);
    values.push_bind(indicators.equipment_value_fen);
    values.push_bind(indicators.automation_share_percent);
    values.push_bind(indicators.equipment_level.as_str().to_string());
    values.push_bind(indicators.invention_patents);
    values.push_bind(indicators.utility_model_patents);
    values.push_bind(indicators.design_patents);
    values.push_bind(indicators.land_used_centi_mu);
    values.push_bind(indicators.energy_use_tce);
    values.push_bind(indicators.rd_exceeds_revenue_flag);
    values.push_bind(sources);
    values.push_unseparated("::jsonb");
    values.push_bind(row.enterprise_version);
    values.push_bind(row.submitted_at);
    values.push_bind(row.submitted_by.clone());
    statement.push(") RETURNING 1), ");
    outbox.push_enqueue_many(&mut statement, vec![event]);
    statement.build().execute(conn).await?;
    Ok(())
}
