//! The read model from census events: enterprises and the latest return per period. Each
//! change marks the periods it affects dirty in the same transaction (the inbox's), and a
//! `pg_notify` wakes the re-ranker once that transaction commits.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;

use platform::Park;

use crate::domain::{Figures, Segment};

/// The channel that wakes the re-ranker when a period turns dirty.
pub const DIRTY_CHANNEL: &str = "classification_dirty";

/// An enterprise's registry record as classification keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct EnterpriseRecord {
    pub uscc: String,
    pub name: String,
    /// NULL when census sent none (or one this build does not know).
    pub park: Option<Park>,
    pub segment: Segment,
    pub industry_class: String,
    pub registration_date: Option<NaiveDate>,
    pub active: bool,
    pub safety_violation: bool,
    pub environmental_violation: bool,
    pub tax_credit_violation: bool,
    /// The census record's version: an older or equal version is not applied again.
    pub version: i64,
}

/// The registry fields a return carries (as of its acceptance).
#[derive(Debug, Clone, PartialEq)]
pub struct ReturnEnterprise {
    pub name: String,
    /// NULL when census sent none (or one this build does not know).
    pub park: Option<Park>,
    pub segment: Segment,
    pub industry_class: String,
    pub registration_date: Option<NaiveDate>,
    pub version: i64,
}

/// One revision of a return.
#[derive(Debug, Clone, PartialEq)]
pub struct ReturnRecord {
    pub uscc: String,
    pub period: String,
    pub revision: i64,
    pub figures: Figures,
    pub submitted_at: Option<DateTime<Utc>>,
    pub enterprise: ReturnEnterprise,
}

/// Applies a registration or an update unless a newer version is stored; returns whether
/// anything changed. A change makes every period with a return of the enterprise dirty.
pub async fn apply_enterprise(conn: &mut PgConnection, e: &EnterpriseRecord) -> sqlx::Result<bool> {
    let changed = sqlx::query!(
        "INSERT INTO enterprises (uscc, name, park, segment, industry_class, registration_date, active,
                                  safety_violation, environmental_violation, tax_credit_violation, record_version)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         ON CONFLICT (uscc) DO UPDATE SET
             name = EXCLUDED.name, park = EXCLUDED.park, segment = EXCLUDED.segment,
             industry_class = EXCLUDED.industry_class, registration_date = EXCLUDED.registration_date,
             active = EXCLUDED.active, safety_violation = EXCLUDED.safety_violation,
             environmental_violation = EXCLUDED.environmental_violation,
             tax_credit_violation = EXCLUDED.tax_credit_violation,
             record_version = EXCLUDED.record_version, updated_at = now()
         WHERE enterprises.record_version < EXCLUDED.record_version",
        &e.uscc,
        &e.name,
        e.park as Option<Park>,
        e.segment as Segment,
        &e.industry_class,
        e.registration_date,
        e.active,
        e.safety_violation,
        e.environmental_violation,
        e.tax_credit_violation,
        e.version,
    )
    .execute(&mut *conn)
    .await?
    .rows_affected()
        > 0;
    if changed {
        mark_enterprise_periods_dirty(conn, &e.uscc).await?;
    }
    Ok(changed)
}

/// Applies a return revision unless a later one is stored, and the registry fields it
/// carries when they are newer (a return may arrive for an enterprise not seen yet: it is
/// then created active, without vetoes, until its record arrives). Returns whether anything
/// changed.
pub async fn apply_return(conn: &mut PgConnection, r: &ReturnRecord) -> sqlx::Result<bool> {
    let f = &r.figures;
    let return_changed = sqlx::query!(
        "INSERT INTO census_returns (period, uscc, revision, employees_total, rd_spend_fen, revenue_fen,
                                     industrial_output_fen, tax_paid_fen, export_sales_fen,
                                     automation_share_percent, patents, land_used_centi_mu,
                                     energy_use_tce, submitted_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
         ON CONFLICT (period, uscc) DO UPDATE SET
             revision = EXCLUDED.revision, employees_total = EXCLUDED.employees_total,
             rd_spend_fen = EXCLUDED.rd_spend_fen, revenue_fen = EXCLUDED.revenue_fen,
             industrial_output_fen = EXCLUDED.industrial_output_fen,
             tax_paid_fen = EXCLUDED.tax_paid_fen, export_sales_fen = EXCLUDED.export_sales_fen,
             automation_share_percent = EXCLUDED.automation_share_percent,
             patents = EXCLUDED.patents, land_used_centi_mu = EXCLUDED.land_used_centi_mu,
             energy_use_tce = EXCLUDED.energy_use_tce, submitted_at = EXCLUDED.submitted_at,
             received_at = now()
         WHERE census_returns.revision < EXCLUDED.revision",
        &r.period,
        &r.uscc,
        r.revision,
        f.employees_total,
        f.rd_spend_fen,
        f.revenue_fen,
        f.industrial_output_fen,
        f.tax_paid_fen,
        f.export_sales_fen,
        f.automation_share_percent,
        f.patents,
        f.land_used_centi_mu,
        f.energy_use_tce,
        r.submitted_at,
    )
    .execute(&mut *conn)
    .await?
    .rows_affected()
        > 0;

    let e = &r.enterprise;
    let enterprise_changed = sqlx::query!(
        "INSERT INTO enterprises (uscc, name, park, segment, industry_class, registration_date, active, record_version)
         VALUES ($1, $2, $3, $4, $5, $6, true, $7)
         ON CONFLICT (uscc) DO UPDATE SET
             name = EXCLUDED.name, park = EXCLUDED.park, segment = EXCLUDED.segment,
             industry_class = EXCLUDED.industry_class, registration_date = EXCLUDED.registration_date,
             record_version = EXCLUDED.record_version, updated_at = now()
         WHERE enterprises.record_version < EXCLUDED.record_version",
        &r.uscc,
        &e.name,
        e.park as Option<Park>,
        e.segment as Segment,
        &e.industry_class,
        e.registration_date,
        e.version,
    )
    .execute(&mut *conn)
    .await?
    .rows_affected()
        > 0;

    if enterprise_changed {
        mark_enterprise_periods_dirty(conn, &r.uscc).await?;
    } else if return_changed {
        mark_cohort_dirty(conn, &r.period, &r.uscc).await?;
    }
    Ok(return_changed || enterprise_changed)
}

async fn mark_enterprise_periods_dirty(conn: &mut PgConnection, uscc: &str) -> sqlx::Result<()> {
    let periods: Vec<String> = sqlx::query_scalar!(
        "SELECT period FROM census_returns WHERE uscc = $1 ORDER BY period",
        uscc,
    )
    .fetch_all(&mut *conn)
    .await?;
    mark_dirty(conn, &periods).await
}

/// Marks every period that has a return dirty (a new model re-ranks them all).
pub async fn mark_all_dirty(conn: &mut PgConnection) -> sqlx::Result<()> {
    let periods: Vec<String> =
        sqlx::query_scalar!("SELECT DISTINCT period FROM census_returns ORDER BY period")
            .fetch_all(&mut *conn)
            .await?;
    mark_dirty(conn, &periods).await
}

/// Marks `periods` (sorted, distinct) dirty, every cohort of them: a new row starts the
/// debounce clock, an existing one counts one more change. The re-ranker is notified on commit.
pub async fn mark_dirty(conn: &mut PgConnection, periods: &[String]) -> sqlx::Result<()> {
    if periods.is_empty() {
        return Ok(());
    }
    sqlx::query!(
        "INSERT INTO dirty_periods (period, generation, first_dirty_at, last_dirty_at, trace_headers)
         SELECT p, 1, clock_timestamp(), clock_timestamp(), $2 FROM unnest($1::text[]) AS p
         ON CONFLICT (period) DO UPDATE SET
             generation = dirty_periods.generation + 1, last_dirty_at = clock_timestamp(),
             trace_headers = EXCLUDED.trace_headers, segments = NULL",
        periods,
        sqlx::types::Json(platform::telemetry::inject_current()) as _,
    )
    .execute(&mut *conn)
    .await?;
    notify_dirty(conn).await
}

/// Marks dirty only the cohort of `period` that `uscc` is ranked in (its segment as stored
/// now), after a return of its changed: the other cohorts' ranking does not depend on it. A
/// period already dirty as a whole stays so; without a segment, the whole period.
async fn mark_cohort_dirty(conn: &mut PgConnection, period: &str, uscc: &str) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO dirty_periods (period, generation, first_dirty_at, last_dirty_at, trace_headers,
                                    segments)
         SELECT $1, 1, clock_timestamp(), clock_timestamp(), $3,
                CASE WHEN e.segment IS NULL THEN NULL ELSE ARRAY[e.segment] END
         FROM enterprises e WHERE e.uscc = $2
         ON CONFLICT (period) DO UPDATE SET
             generation = dirty_periods.generation + 1, last_dirty_at = clock_timestamp(),
             trace_headers = EXCLUDED.trace_headers,
             segments = CASE
                 WHEN dirty_periods.segments IS NULL OR EXCLUDED.segments IS NULL THEN NULL
                 WHEN EXCLUDED.segments <@ dirty_periods.segments THEN dirty_periods.segments
                 ELSE dirty_periods.segments || EXCLUDED.segments
             END",
        period,
        uscc,
        sqlx::types::Json(platform::telemetry::inject_current()) as _,
    )
    .execute(&mut *conn)
    .await?;
    notify_dirty(conn).await
}

/// Wakes the re-ranker once the caller's transaction commits.
async fn notify_dirty(conn: &mut PgConnection) -> sqlx::Result<()> {
    sqlx::query!("SELECT pg_notify($1, '')", DIRTY_CHANNEL,)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
