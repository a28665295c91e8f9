//! Re-ranking one period: read the cohort, classify it, and in one transaction write the
//! rows that changed, the cohorts' benchmarks, an `EnterpriseClassified` and the notices
//! for every enterprise whose class in force changed, and the run's record.
//!
//! An override wins over the computed class and is never touched here: the class in force
//! is the override while there is one. The period's advisory lock keeps a concurrent
//! re-rank (another replica) and an override from interleaving with this one.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use platform::Outbox;
use sqlx::{PgConnection, PgPool};

use super::{events, models, try_lock_period};
use crate::domain::{
    Class, Figures, Firm, Indicator, Period, class_to_proto, classify,
    policy::{NoticeRule, Transition},
};

/// What one re-rank did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RerankOutcome {
    /// Firms with a return in the period.
    pub firms: usize,
    /// Rows written (anything changed: score, rank, class, …).
    pub rows_written: usize,
    /// Enterprises whose class in force changed (each got an event).
    pub changed_classes: usize,
    pub notices: usize,
    pub model_version: i64,
}

#[derive(sqlx::FromRow)]
struct FirmRow {
    uscc: String,
    name: String,
    park: i32,
    segment: i32,
    industry_class: String,
    registration_date: Option<NaiveDate>,
    active: bool,
    vetoed: bool,
    employees_total: i64,
    rd_spend_fen: i64,
    revenue_fen: i64,
    industrial_output_fen: i64,
    tax_paid_fen: i64,
    export_sales_fen: i64,
    automation_share_percent: f64,
    patents: i64,
    land_used_centi_mu: i64,
    energy_use_tce: Option<f64>,
}

#[derive(sqlx::FromRow, Clone)]
struct Previous {
    uscc: String,
    name: String,
    park: i32,
    segment: i32,
    grading: i16,
    computed_class: i16,
    class: i16,
    score: f64,
    rank: i32,
    cohort_size: i32,
    model_version: i64,
    reduced_model: bool,
    vetoed: bool,
    override_class: Option<i16>,
    override_reason: Option<String>,
}

/// A row as this re-rank computes it.
struct Computed {
    grading: i16,
    computed_class: i16,
    class: i16,
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

/// Re-ranks `period` if it is dirty and no one else is re-ranking it (`None` otherwise).
pub async fn rerank_period(
    pool: &PgPool,
    outbox: &Outbox,
    rules: &[NoticeRule],
    period: &str,
) -> anyhow::Result<Option<RerankOutcome>> {
    let mut tx = pool.begin().await?;
    if !try_lock_period(&mut tx, period).await? {
        return Ok(None);
    }
    // The generation read now: if a change commits while this runs, the row stays dirty.
    let dirty: Option<(i64, DateTime<Utc>)> =
        sqlx::query_as("SELECT generation, clock_timestamp() FROM dirty_periods WHERE period = $1")
            .bind(period)
            .fetch_optional(&mut *tx)
            .await?;
    let Some((generation, started_at)) = dirty else {
        return Ok(None); // another replica has just done it
    };
    let outcome = rerank_locked(&mut tx, outbox, rules, period).await?;

    let cleared = sqlx::query("DELETE FROM dirty_periods WHERE period = $1 AND generation = $2")
        .bind(period)
        .bind(generation)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if cleared == 0 {
        // Changes arrived meanwhile: they are younger than this run's start, so their
        // maximum delay counts from there.
        sqlx::query("UPDATE dirty_periods SET first_dirty_at = $2 WHERE period = $1")
            .bind(period)
            .bind(started_at)
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query(
        "INSERT INTO rerank_runs (period, model_version, firms, changed_classes, started_at, finished_at)
         VALUES ($1, $2, $3, $4, $5, clock_timestamp())",
    )
    .bind(period)
    .bind(outcome.model_version)
    .bind(outcome.firms as i32)
    .bind(outcome.changed_classes as i32)
    .bind(started_at)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Some(outcome))
}

/// The re-rank itself, inside the caller's transaction holding the period's lock.
async fn rerank_locked(
    tx: &mut PgConnection,
    outbox: &Outbox,
    rules: &[NoticeRule],
    period_code: &str,
) -> anyhow::Result<RerankOutcome> {
    let period = Period::parse(period_code)
        .map_err(|err| anyhow::anyhow!("stored period {period_code:?}: {err}"))?;
    let model = models::current(&mut *tx).await?;
    let rows: Vec<FirmRow> = sqlx::query_as(
        "SELECT r.uscc, e.name, e.park, e.segment, e.industry_class, e.registration_date, e.active,
                (e.safety_violation OR e.environmental_violation OR e.tax_credit_violation) AS vetoed,
                r.employees_total, r.rd_spend_fen, r.revenue_fen, r.industrial_output_fen,
                r.tax_paid_fen, r.export_sales_fen, r.automation_share_percent, r.patents,
                r.land_used_centi_mu, r.energy_use_tce
         FROM census_returns r JOIN enterprises e ON e.uscc = r.uscc
         WHERE r.period = $1",
    )
    .bind(period_code)
    .fetch_all(&mut *tx)
    .await?;
    let previous: HashMap<String, Previous> = sqlx::query_as::<_, Previous>(
        "SELECT uscc, name, park, segment, grading, computed_class, class, score, rank, cohort_size,
                model_version, reduced_model, vetoed, override_class, override_reason
         FROM classifications WHERE period = $1",
    )
    .bind(period_code)
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .map(|p| (p.uscc.clone(), p))
    .collect();

    let firms: Vec<Firm> = rows.iter().map(firm_of).collect();
    let result = classify(&model.model, &period, &firms);
    let at = Utc::now();

    let mut outcome = RerankOutcome {
        firms: firms.len(),
        model_version: model.version,
        ..Default::default()
    };
    let mut writes: Vec<(usize, Computed)> = Vec::new();
    for (i, (row, evaluation)) in rows.iter().zip(&result.evaluations).enumerate() {
        let before = previous.get(&row.uscc);
        let computed_class = class_to_proto(evaluation.class) as i16;
        let override_class = before.and_then(|p| p.override_class);
        let computed = Computed {
            grading: evaluation.grading.to_proto() as i16,
            computed_class,
            class: override_class.unwrap_or(computed_class),
            score: evaluation.score,
            rank: evaluation.rank as i32,
            cohort_size: evaluation.cohort_size as i32,
            reduced_model: evaluation.reduced,
            vetoed: row.vetoed,
        };
        if before.is_some_and(|p| computed.same_as(p, row, model.version)) {
            continue;
        }
        let old_class = before.and_then(|p| Class::from_proto(i32::from(p.class)));
        let new_class = Class::from_proto(i32::from(computed.class));
        if old_class != new_class {
            let change = events::ClassChange {
                uscc: &row.uscc,
                name: &row.name,
                park: row.park,
                segment: row.segment,
                period: period_code,
                transition: Transition {
                    from: old_class,
                    to: new_class,
                },
                grading: evaluation.grading,
                score: computed.score,
                rank: computed.rank,
                cohort_size: computed.cohort_size,
                model_version: model.version,
                overridden: override_class.is_some(),
                override_reason: before
                    .and_then(|p| p.override_reason.as_deref())
                    .unwrap_or(""),
                at,
            };
            outcome.notices += events::publish(&mut *tx, outbox, rules, &change).await?;
            outcome.changed_classes += 1;
        }
        writes.push((i, computed));
    }
    outcome.rows_written = writes.len();

    for chunk in writes.chunks(CHUNK) {
        write_rows(
            &mut *tx,
            period_code,
            period.completion_key(),
            model.version,
            at,
            &rows,
            chunk,
        )
        .await?;
    }

    sqlx::query("DELETE FROM cohorts WHERE period = $1")
        .bind(period_code)
        .execute(&mut *tx)
        .await?;
    for (segment, cohort) in &result.cohorts {
        let benchmarks: Vec<Option<f64>> = Indicator::ALL
            .iter()
            .map(|i| cohort.benchmarks.get(*i))
            .collect();
        sqlx::query(
            "INSERT INTO cohorts (period, segment, model_version, cohort_size, benchmarks, ranked_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(period_code)
        .bind(segment)
        .bind(model.version)
        .bind(cohort.size as i32)
        .bind(&benchmarks)
        .bind(at)
        .execute(&mut *tx)
        .await?;
    }
    Ok(outcome)
}

fn firm_of(row: &FirmRow) -> Firm {
    Firm {
        uscc: row.uscc.clone(),
        segment: row.segment,
        industry_class: row.industry_class.clone(),
        registration_date: row.registration_date,
        active: row.active,
        vetoed: row.vetoed,
        figures: Figures {
            employees_total: row.employees_total,
            rd_spend_fen: row.rd_spend_fen,
            revenue_fen: row.revenue_fen,
            industrial_output_fen: row.industrial_output_fen,
            tax_paid_fen: row.tax_paid_fen,
            export_sales_fen: row.export_sales_fen,
            automation_share_percent: row.automation_share_percent,
            patents: row.patents,
            land_used_centi_mu: row.land_used_centi_mu,
            energy_use_tce: row.energy_use_tce,
        },
    }
}

/// One bulk upsert of computed rows; override columns are left as they are.
async fn write_rows(
    tx: &mut PgConnection,
    period: &str,
    period_key: i32,
    model_version: i64,
    at: DateTime<Utc>,
    rows: &[FirmRow],
    chunk: &[(usize, Computed)],
) -> sqlx::Result<()> {
    let usccs: Vec<&str> = chunk.iter().map(|(i, _)| rows[*i].uscc.as_str()).collect();
    let names: Vec<&str> = chunk.iter().map(|(i, _)| rows[*i].name.as_str()).collect();
    let parks: Vec<i32> = chunk.iter().map(|(i, _)| rows[*i].park).collect();
    let segments: Vec<i32> = chunk.iter().map(|(i, _)| rows[*i].segment).collect();
    let gradings: Vec<i16> = chunk.iter().map(|(_, c)| c.grading).collect();
    let computed: Vec<i16> = chunk.iter().map(|(_, c)| c.computed_class).collect();
    let classes: Vec<i16> = chunk.iter().map(|(_, c)| c.class).collect();
    let scores: Vec<f64> = chunk.iter().map(|(_, c)| c.score).collect();
    let ranks: Vec<i32> = chunk.iter().map(|(_, c)| c.rank).collect();
    let sizes: Vec<i32> = chunk.iter().map(|(_, c)| c.cohort_size).collect();
    let reduced: Vec<bool> = chunk.iter().map(|(_, c)| c.reduced_model).collect();
    let vetoed: Vec<bool> = chunk.iter().map(|(_, c)| c.vetoed).collect();
    sqlx::query(
        "INSERT INTO classifications (period, uscc, period_key, name, park, segment, grading,
                                      computed_class, class, score, rank, cohort_size, model_version,
                                      reduced_model, vetoed, classified_at)
         SELECT $1, t.uscc, $2, t.name, t.park, t.segment, t.grading, t.computed_class, t.class,
                t.score, t.rank, t.cohort_size, $3, t.reduced_model, t.vetoed, $4
         FROM unnest($5::text[], $6::text[], $7::int4[], $8::int4[], $9::int2[], $10::int2[],
                     $11::int2[], $12::float8[], $13::int4[], $14::int4[], $15::bool[], $16::bool[])
              AS t(uscc, name, park, segment, grading, computed_class, class, score, rank,
                   cohort_size, reduced_model, vetoed)
         ON CONFLICT (period, uscc) DO UPDATE SET
             name = EXCLUDED.name, park = EXCLUDED.park, segment = EXCLUDED.segment,
             grading = EXCLUDED.grading, computed_class = EXCLUDED.computed_class,
             class = EXCLUDED.class, score = EXCLUDED.score, rank = EXCLUDED.rank,
             cohort_size = EXCLUDED.cohort_size, model_version = EXCLUDED.model_version,
             reduced_model = EXCLUDED.reduced_model, vetoed = EXCLUDED.vetoed,
             classified_at = EXCLUDED.classified_at",
    )
    .bind(period)
    .bind(period_key)
    .bind(model_version)
    .bind(at)
    .bind(&usccs)
    .bind(&names)
    .bind(&parks)
    .bind(&segments)
    .bind(&gradings)
    .bind(&computed)
    .bind(&classes)
    .bind(&scores)
    .bind(&ranks)
    .bind(&sizes)
    .bind(&reduced)
    .bind(&vetoed)
    .execute(tx)
    .await
    .map(|_| ())
}
