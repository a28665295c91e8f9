//! Re-ranking one period: read the cohorts whose firms changed (the dirty segments, or the
//! whole period), classify them, and in one transaction write the rows that changed, those
//! cohorts' benchmarks, an `EnterpriseClassified` for every enterprise whose class in force
//! changed, and the run's record. Notices are not sent here:
//! a change marks the period unsettled, and `settle` sends the net notices once it is quiet.
//!
//! An override wins over the computed class and is never touched here: the class in force
//! is the override while there is one. The period's advisory lock keeps a concurrent
//! re-rank (another replica) and an override from interleaving with this one.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use platform::{Outbox, Park};
use sqlx::PgConnection;

use super::{Store, corrupt, models, settle, try_lock_period};
use crate::domain::{
    Class, Evaluation, Figures, Indicator, Period, PeriodResult, Segment,
    evaluation::{Columns, FirmRef, classify_columns},
    policy::Transition,
};

/// What one re-rank did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RerankOutcome {
    /// Firms with a return in the period's cohorts re-ranked.
    pub firms: usize,
    /// Rows written (anything changed: score, rank, class, …).
    pub rows_written: usize,
    /// Enterprises whose class in force changed (each got an event).
    pub changed_classes: usize,
    pub model_version: i64,
}

struct FirmRow {
    uscc: String,
    name: String,
    park: Option<Park>,
    segment: Option<Segment>,
    industry_class: String,
    registration_date: Option<NaiveDate>,
    active: bool,
    vetoed: bool,
    figures: Figures,
}

#[derive(Clone)]
struct Previous {
    uscc: String,
    name: String,
    park: Option<Park>,
    segment: Option<Segment>,
    grading: i16,
    computed_class: Option<Class>,
    class: Option<Class>,
    score: f64,
    rank: i32,
    cohort_size: i32,
    model_version: i64,
    reduced_model: bool,
    vetoed: bool,
    override_class: Option<Class>,
    override_reason: Option<String>,
}

/// A row as this re-rank computes it.
struct Computed {
    grading: i16,
    computed_class: Option<Class>,
    class: Option<Class>,
    score: f64,
    rank: i32,
    cohort_size: i32,
    reduced_model: bool,
    vetoed: bool,
}

impl Computed {
    fn same_as(&self, p: &Previous, firm: &FirmRow, model_version: i64) -> bool {
        self.grading == p.grading
            && self.computed_class == p.computed_class
            && self.class == p.class
            && self.score.to_bits() == p.score.to_bits()
            && self.rank == p.rank
            && self.cohort_size == p.cohort_size
            && self.reduced_model == p.reduced_model
            && self.vetoed == p.vetoed
            && model_version == p.model_version
            && firm.name == p.name
            && firm.park == p.park
            && firm.segment == p.segment
    }
}

/// Rows per bulk upsert statement.
const CHUNK: usize = 5_000;

/// `EnterpriseClassified` events enqueued per statement.
const EVENT_CHUNK: usize = 1_000;

impl Store {
    /// Re-ranks `period` if it is dirty and no one else is re-ranking it (`None` otherwise).
    pub async fn rerank_period(&self, period: &str) -> anyhow::Result<Option<RerankOutcome>> {
        let pool = &self.pool;
        let outbox = &self.outbox;
        let mut tx = pool.begin().await?;
        if !try_lock_period(&mut tx, period).await? {
            return Ok(None);
        }
        let outcome = rerank_if_dirty(&mut tx, outbox, period).await?;
        if outcome.is_some() {
            tx.commit().await?;
        }
        Ok(outcome)
    }
}

/// In the caller's transaction holding the period's lock: re-ranks `period` if it is dirty
/// (`None` if not), clears the dirty mark unless a change arrived meanwhile, and records the
/// run. Publishing a period calls it too, so what it publishes reflects every return.
pub async fn rerank_if_dirty(
    tx: &mut PgConnection,
    outbox: &Outbox,
    period: &str,
) -> anyhow::Result<Option<RerankOutcome>> {
    // The generation read now: if a change commits while this runs, the row stays dirty.
    let dirty = sqlx::query!(
        r#"SELECT generation, clock_timestamp() AS "started_at!", segments
           FROM dirty_periods WHERE period = $1"#,
        period,
    )
    .fetch_optional(&mut *tx)
    .await?
    .map(|row| (row.generation, row.started_at, row.segments));
    let Some((generation, started_at, segments)) = dirty else {
        return Ok(None); // another replica has just done it
    };
    let outcome = rerank_locked(&mut *tx, outbox, period, segments.as_deref()).await?;
    if outcome.changed_classes > 0 {
        settle::mark_changed(&mut *tx, period).await?;
    }

    let cleared = sqlx::query!(
        "DELETE FROM dirty_periods WHERE period = $1 AND generation = $2",
        period,
        generation,
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if cleared == 0 {
        // Changes arrived meanwhile: they are younger than this run's start, so their
        // maximum delay counts from there.
        sqlx::query!(
            "UPDATE dirty_periods SET first_dirty_at = $2 WHERE period = $1",
            period,
            started_at,
        )
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query!(
        "INSERT INTO rerank_runs (period, model_version, firms, changed_classes, rows_written,
                                  segments, started_at, finished_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, clock_timestamp())",
        period,
        outcome.model_version,
        outcome.firms as i32,
        outcome.changed_classes as i32,
        outcome.rows_written as i32,
        segments.as_deref(),
        started_at,
    )
    .execute(&mut *tx)
    .await?;
    Ok(Some(outcome))
}

/// The re-rank itself, inside the caller's transaction holding the period's lock: read the
/// firms of the cohorts re-ranked (`segments`, stored spelling; `None`: every cohort) and
/// their stored classes, classify, publish each change of class in force, write what
/// changed and those cohorts' benchmarks. A cohort is ranked on its own (its benchmarks,
/// ranks and quotas are its firms' alone), so the cohorts left out keep their rows.
async fn rerank_locked(
    tx: &mut PgConnection,
    outbox: &Outbox,
    period_code: &str,
    segments: Option<&[String]>,
) -> anyhow::Result<RerankOutcome> {
    let period = Period::parse(period_code)
        .map_err(|err| anyhow::anyhow!("stored period {period_code:?}: {err}"))?;
    let mut steps = Steps::start();
    let model = models::current(&mut *tx).await?;
    let rows = firm_rows(&mut *tx, period_code, segments).await?;
    let previous = previous_rows(&mut *tx, period_code, segments).await?;
    steps.mark("read");
    let columns = columns_of(&model.model, &period, &rows)?;
    let result = classify_columns(&columns);
    drop(columns);
    let at = Utc::now();
    steps.mark("classify");

    let mut outcome = RerankOutcome {
        firms: rows.len(),
        model_version: model.version,
        ..Default::default()
    };
    let mut writes: Vec<(usize, Computed)> = Vec::new();
    let mut classified = Vec::new();
    for (i, (row, evaluation)) in rows.iter().zip(&result.evaluations).enumerate() {
        let before = previous.get(&row.uscc);
        let computed = Computed::of(evaluation, before, row);
        if before.is_some_and(|p| computed.same_as(p, row, model.version)) {
            continue;
        }
        let transition = Transition {
            from: before.and_then(|p| p.class),
            to: computed.class,
        };
        if transition.from != transition.to {
            let change = ClassChangeOf {
                row,
                before,
                computed: &computed,
                evaluation,
                transition,
            };
            classified.push(crate::events::classified_event(&change.event(
                period_code,
                model.version,
                at,
            )));
            outcome.changed_classes += 1;
            // One statement per EVENT_CHUNK changes, in ranking order, not one per change;
            // flushed as they fill, so a large re-rank never holds all its events at once.
            if classified.len() == EVENT_CHUNK {
                steps.mark("events");
                outbox
                    .enqueue_many(&mut *tx, std::mem::take(&mut classified))
                    .await?;
                steps.mark("enqueue");
            }
        }
        writes.push((i, computed));
    }
    steps.mark("events");
    outbox.enqueue_many(&mut *tx, classified).await?;
    outcome.rows_written = writes.len();
    steps.mark("enqueue");

    let run = Run {
        period: period_code,
        period_key: period.completion_key(),
        model_version: model.version,
        at,
    };
    write_changes(
        &mut *tx, &run, segments, &rows, &writes, &result, &mut steps,
    )
    .await?;
    tracing::debug!(period = period_code, firms = outcome.firms, steps = %steps, "re-rank steps");
    Ok(outcome)
}

/// The changed rows, a chunk per statement, then the re-ranked cohorts' benchmarks.
async fn write_changes(
    tx: &mut PgConnection,
    run: &Run<'_>,
    segments: Option<&[String]>,
    rows: &[FirmRow],
    writes: &[(usize, Computed)],
    result: &PeriodResult,
    steps: &mut Steps,
) -> sqlx::Result<()> {
    for chunk in writes.chunks(CHUNK) {
        write_rows(&mut *tx, run, rows, chunk).await?;
    }
    steps.mark("write");
    write_cohorts(&mut *tx, run, segments, result).await?;
    steps.mark("cohorts");
    Ok(())
}

/// Where a re-rank's time went: milliseconds per step, summed over repeats.
struct Steps {
    last: std::time::Instant,
    spent: Vec<(&'static str, std::time::Duration)>,
}

impl Steps {
    fn start() -> Self {
        Self {
            last: std::time::Instant::now(),
            spent: Vec::new(),
        }
    }

    /// The time since the last mark goes to `step`.
    fn mark(&mut self, step: &'static str) {
        let now = std::time::Instant::now();
        let spent = now - self.last;
        self.last = now;
        match self.spent.iter_mut().find(|(s, _)| *s == step) {
            Some((_, total)) => *total += spent,
            None => self.spent.push((step, spent)),
        }
    }
}

impl std::fmt::Display for Steps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, (step, spent)) in self.spent.iter().enumerate() {
            let sep = if i == 0 { "" } else { ", " };
            write!(f, "{sep}{step} {:.1} ms", spent.as_secs_f64() * 1e3)?;
        }
        Ok(())
    }
}

/// Every firm with a return in the period and a segment of `segments` (`None`: any), with its
/// registry record. The benchmark's raw read (`bench/src/rerank_db.rs`) is this statement:
/// keep the two alike.
async fn firm_rows(
    tx: &mut PgConnection,
    period: &str,
    segments: Option<&[String]>,
) -> sqlx::Result<Vec<FirmRow>> {
    sqlx::query!(
        r#"SELECT r.uscc, e.name, e.park AS "park: Park", e.segment AS "segment: Segment",
                e.industry_class, e.registration_date, e.active,
                (e.safety_violation OR e.environmental_violation OR e.tax_credit_violation) AS "vetoed!",
                r.employees_total, r.rd_spend_fen, r.revenue_fen, r.industrial_output_fen,
                r.tax_paid_fen, r.export_sales_fen, r.automation_share_percent, r.patents,
                r.land_used_centi_mu, r.energy_use_tce
         FROM census_returns r JOIN enterprises e ON e.uscc = r.uscc
         WHERE r.period = $1 AND ($2::text[] IS NULL OR e.segment = ANY($2))"#,
        period,
        segments,
    )
    .map(|r| FirmRow {
        uscc: r.uscc,
        name: r.name,
        park: r.park,
        segment: r.segment,
        industry_class: r.industry_class,
        registration_date: r.registration_date,
        active: r.active,
        vetoed: r.vetoed,
        figures: Figures {
            employees_total: r.employees_total,
            rd_spend_fen: r.rd_spend_fen,
            revenue_fen: r.revenue_fen,
            industrial_output_fen: r.industrial_output_fen,
            tax_paid_fen: r.tax_paid_fen,
            export_sales_fen: r.export_sales_fen,
            automation_share_percent: r.automation_share_percent,
            patents: r.patents,
            land_used_centi_mu: r.land_used_centi_mu,
            energy_use_tce: r.energy_use_tce,
        },
    })
    .fetch_all(tx)
    .await
}

/// The period's stored classifications in `segments` (`None`: all), by USCC.
async fn previous_rows(
    tx: &mut PgConnection,
    period: &str,
    segments: Option<&[String]>,
) -> sqlx::Result<HashMap<String, Previous>> {
    let rows = sqlx::query_as!(
        Previous,
        r#"SELECT uscc, name, park AS "park: Park", segment AS "segment: Segment", grading,
                computed_class AS "computed_class: Class", class AS "class: Class", score, rank,
                cohort_size, model_version, reduced_model, vetoed,
                override_class AS "override_class: Class", override_reason
         FROM classifications
         WHERE period = $1 AND ($2::text[] IS NULL OR segment = ANY($2))"#,
        period,
        segments,
    )
    .fetch_all(tx)
    .await?;
    Ok(rows.into_iter().map(|p| (p.uscc.clone(), p)).collect())
}

impl Computed {
    /// The row an evaluation gives; an override stored `before` stays the class in force.
    fn of(evaluation: &Evaluation, before: Option<&Previous>, row: &FirmRow) -> Self {
        let computed_class = evaluation.class;
        let override_class = before.and_then(|p| p.override_class);
        Computed {
            grading: evaluation.grading.to_proto() as i16,
            computed_class,
            class: override_class.or(computed_class),
            score: evaluation.score,
            rank: evaluation.rank as i32,
            cohort_size: evaluation.cohort_size as i32,
            reduced_model: evaluation.reduced,
            vetoed: row.vetoed,
        }
    }
}

/// What a change of class in force is made of, before it becomes an event.
struct ClassChangeOf<'a> {
    row: &'a FirmRow,
    before: Option<&'a Previous>,
    computed: &'a Computed,
    evaluation: &'a Evaluation,
    transition: Transition,
}

impl<'a> ClassChangeOf<'a> {
    fn event(
        &self,
        period: &'a str,
        model_version: i64,
        at: DateTime<Utc>,
    ) -> crate::events::ClassChange<'a> {
        crate::events::ClassChange {
            uscc: &self.row.uscc,
            name: &self.row.name,
            park: self.row.park,
            segment: self.row.segment,
            period,
            transition: self.transition,
            grading: self.evaluation.grading,
            score: self.computed.score,
            rank: self.computed.rank,
            cohort_size: self.computed.cohort_size,
            model_version,
            overridden: self.before.is_some_and(|p| p.override_class.is_some()),
            override_reason: self
                .before
                .and_then(|p| p.override_reason.as_deref())
                .unwrap_or(""),
            at,
        }
    }
}

/// Replaces the re-ranked cohorts (segment, size, benchmarks) of the period, those of
/// `segments` (`None`: all), with this run's.
async fn write_cohorts(
    tx: &mut PgConnection,
    run: &Run<'_>,
    segments: Option<&[String]>,
    result: &PeriodResult,
) -> sqlx::Result<()> {
    let (period, model_version, at) = (run.period, run.model_version, run.at);
    sqlx::query!(
        "DELETE FROM cohorts WHERE period = $1 AND ($2::text[] IS NULL OR segment = ANY($2))",
        period,
        segments,
    )
    .execute(&mut *tx)
    .await?;
    for (segment, cohort) in &result.cohorts {
        let benchmarks: Vec<Option<f64>> = Indicator::ALL
            .iter()
            .map(|i| cohort.benchmarks.get(*i))
            .collect();
        sqlx::query!(
            "INSERT INTO cohorts (period, segment, model_version, cohort_size, benchmarks, ranked_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
            period,
            *segment as Segment,
            model_version,
            cohort.size as i32,
            &benchmarks as _,
            at,
        )
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// The firms as the evaluation reads them, a column per value; one without a segment can
/// never be ranked.
fn columns_of<'a>(
    model: &'a crate::domain::Model,
    period: &Period,
    rows: &'a [FirmRow],
) -> sqlx::Result<Columns<'a>> {
    let mut columns = Columns::with_capacity(model, period, rows.len());
    for row in rows {
        let segment = row
            .segment
            .ok_or_else(|| corrupt(format!("enterprise {}: no segment", row.uscc)))?;
        columns.push(FirmRef {
            uscc: &row.uscc,
            segment,
            industry_class: &row.industry_class,
            registration_date: row.registration_date,
            active: row.active,
            vetoed: row.vetoed,
            figures: &row.figures,
        });
    }
    Ok(columns)
}

/// What every row written by one re-rank shares.
struct Run<'a> {
    period: &'a str,
    period_key: i32,
    model_version: i64,
    at: DateTime<Utc>,
}

/// One bulk upsert of computed rows; override columns are left as they are.
async fn write_rows(
    tx: &mut PgConnection,
    run: &Run<'_>,
    rows: &[FirmRow],
    chunk: &[(usize, Computed)],
) -> sqlx::Result<()> {
    let usccs: Vec<&str> = chunk.iter().map(|(i, _)| rows[*i].uscc.as_str()).collect();
    let names: Vec<&str> = chunk.iter().map(|(i, _)| rows[*i].name.as_str()).collect();
    // The park and the segment in their stored spelling (NULL for none).
    let parks: Vec<Option<&str>> = chunk
        .iter()
        .map(|(i, _)| rows[*i].park.map(Park::as_str))
        .collect();
    let segments: Vec<Option<&str>> = chunk
        .iter()
        .map(|(i, _)| rows[*i].segment.map(Segment::as_str))
        .collect();
    let gradings: Vec<i16> = chunk.iter().map(|(_, c)| c.grading).collect();
    // The classes in their stored spelling (NULL for none).
    let spelling = |class: Option<Class>| class.map(Class::as_str);
    let computed: Vec<Option<&str>> = chunk
        .iter()
        .map(|(_, c)| spelling(c.computed_class))
        .collect();
    let classes: Vec<Option<&str>> = chunk.iter().map(|(_, c)| spelling(c.class)).collect();
    let scores: Vec<f64> = chunk.iter().map(|(_, c)| c.score).collect();
    let ranks: Vec<i32> = chunk.iter().map(|(_, c)| c.rank).collect();
    let sizes: Vec<i32> = chunk.iter().map(|(_, c)| c.cohort_size).collect();
    let reduced: Vec<bool> = chunk.iter().map(|(_, c)| c.reduced_model).collect();
    let vetoed: Vec<bool> = chunk.iter().map(|(_, c)| c.vetoed).collect();
    sqlx::query!(
        "INSERT INTO classifications (period, uscc, period_key, name, park, segment, grading,
                                      computed_class, class, score, rank, cohort_size, model_version,
                                      reduced_model, vetoed, classified_at)
         SELECT $1, t.uscc, $2, t.name, t.park, t.segment, t.grading, t.computed_class, t.class,
                t.score, t.rank, t.cohort_size, $3, t.reduced_model, t.vetoed, $4
         FROM unnest($5::text[], $6::text[], $7::text[], $8::text[], $9::int2[], $10::text[],
                     $11::text[], $12::float8[], $13::int4[], $14::int4[], $15::bool[], $16::bool[])
              AS t(uscc, name, park, segment, grading, computed_class, class, score, rank,
                   cohort_size, reduced_model, vetoed)
         ON CONFLICT (period, uscc) DO UPDATE SET
             name = EXCLUDED.name, park = EXCLUDED.park, segment = EXCLUDED.segment,
             grading = EXCLUDED.grading, computed_class = EXCLUDED.computed_class,
             class = EXCLUDED.class, score = EXCLUDED.score, rank = EXCLUDED.rank,
             cohort_size = EXCLUDED.cohort_size, model_version = EXCLUDED.model_version,
             reduced_model = EXCLUDED.reduced_model, vetoed = EXCLUDED.vetoed,
             classified_at = EXCLUDED.classified_at",
        run.period,
        run.period_key,
        run.model_version,
        run.at,
        &usccs as _,
        &names as _,
        &parks as _,
        &segments as _,
        &gradings,
        &computed as _,
        &classes as _,
        &scores,
        &ranks,
        &sizes,
        &reduced,
        &vetoed,
    )
    .execute(tx)
    .await
    .map(|_| ())
}
