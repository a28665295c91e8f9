//! The read model from census events: enterprises and the latest return per period. Each
//! change marks the periods it affects dirty in the same transaction (the inbox's), and a
//! `pg_notify` wakes the re-ranker once that transaction commits.

use std::collections::HashMap;

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

/// What a batch of returns changes, decided from the rows stored before it exactly as
/// [`apply_return`] on each in turn would: the rows to write and the dirty marks to add.
#[derive(Debug, Default, PartialEq)]
pub struct ReturnsPlan<'a> {
    /// The latest revision of each (period, firm) that a return of the batch changed.
    pub returns: Vec<&'a ReturnRecord>,
    /// The newest registry fields of each firm that a return of the batch changed.
    pub enterprises: Vec<&'a ReturnRecord>,
    /// Each period marked, in the order first marked.
    pub marks: Vec<PeriodMark>,
}

/// The marks a batch adds to one period.
#[derive(Debug, Clone, PartialEq)]
pub struct PeriodMark {
    pub period: String,
    /// How many marks: each adds one to the period's generation.
    pub count: i64,
    /// The cohorts marked, in the order first marked; None: the whole period.
    pub segments: Option<Vec<String>>,
}

/// The rows of the read model a batch of returns reads before it is applied.
#[derive(Debug, Default)]
pub struct StoredFirms {
    /// The stored revision of each (period, firm): every period of a firm whose registry
    /// fields the batch may change, and the batch's own (period, firm) pairs otherwise.
    pub revisions: HashMap<(String, String), i64>,
    /// Each firm's stored record version and segment (its stored spelling).
    pub enterprises: HashMap<String, (i64, Option<String>)>,
}

impl PeriodMark {
    fn add(&mut self, segment: Option<&str>) {
        self.count += 1;
        match (&mut self.segments, segment) {
            (Some(segments), Some(segment)) => {
                if !segments.iter().any(|s| s == segment) {
                    segments.push(segment.to_string());
                }
            }
            (segments, _) => *segments = None,
        }
    }
}

/// Replays `returns` in order against `stored` as [`apply_return`] would one by one: a return
/// applies over a lower stored revision, its registry fields over a lower record version; a
/// change of the registry fields marks every period of the firm whole, a change of the return
/// alone the firm's cohort as stored at that point.
pub fn plan_returns<'a>(mut stored: StoredFirms, returns: &'a [ReturnRecord]) -> ReturnsPlan<'a> {
    let mut latest_return: HashMap<(&str, &str), usize> = HashMap::new();
    let mut latest_enterprise: HashMap<&str, usize> = HashMap::new();
    let mut marks: Vec<PeriodMark> = Vec::new();
    let mut mark_index: HashMap<String, usize> = HashMap::new();
    let mut mark = |period: &str, segment: Option<&str>, whole: bool| {
        let i = *mark_index.entry(period.to_string()).or_insert_with(|| {
            marks.push(PeriodMark {
                period: period.to_string(),
                count: 0,
                segments: Some(Vec::new()),
            });
            marks.len() - 1
        });
        let m = &mut marks[i];
        if whole {
            m.count += 1;
            m.segments = None;
        } else if m.count == 0 {
            m.count = 1;
            m.segments = segment.map(|s| vec![s.to_string()]);
        } else {
            m.add(segment);
        }
    };
    for (i, r) in returns.iter().enumerate() {
        let key = (r.period.clone(), r.uscc.clone());
        let return_changed = stored
            .revisions
            .get(&key)
            .is_none_or(|&rev| rev < r.revision);
        if return_changed {
            stored.revisions.insert(key, r.revision);
            latest_return.insert((&r.period, &r.uscc), i);
        }
        let e = &r.enterprise;
        let enterprise_changed = stored
            .enterprises
            .get(&r.uscc)
            .is_none_or(|(version, _)| *version < e.version);
        if enterprise_changed {
            let segment = <&'static str>::from(e.segment).to_string();
            stored
                .enterprises
                .insert(r.uscc.clone(), (e.version, Some(segment)));
            latest_enterprise.insert(&r.uscc, i);
            let mut periods: Vec<&str> = stored
                .revisions
                .keys()
                .filter(|(_, uscc)| *uscc == r.uscc)
                .map(|(period, _)| period.as_str())
                .collect();
            periods.sort_unstable();
            for period in periods {
                mark(period, None, true);
            }
        } else if return_changed {
            let segment = stored
                .enterprises
                .get(&r.uscc)
                .and_then(|(_, segment)| segment.as_deref());
            mark(&r.period, segment, false);
        }
    }
    let mut returns_changed: Vec<usize> = latest_return.into_values().collect();
    returns_changed.sort_unstable();
    let mut enterprises_changed: Vec<usize> = latest_enterprise.into_values().collect();
    enterprises_changed.sort_unstable();
    ReturnsPlan {
        returns: returns_changed.into_iter().map(|i| &returns[i]).collect(),
        enterprises: enterprises_changed
            .into_iter()
            .map(|i| &returns[i])
            .collect(),
        marks,
    }
}

/// Applies `returns` in order with the effect of [`apply_return`] on each in turn, in a few
/// set-based statements whatever their number: two reads of what is stored, one upsert of
/// the returns, one of the enterprises, one of the dirty marks with one notify.
pub async fn apply_returns(conn: &mut PgConnection, returns: &[ReturnRecord]) -> sqlx::Result<()> {
    if returns.is_empty() {
        return Ok(());
    }
    let stored = read_stored(conn, returns).await?;
    let plan = plan_returns(stored, returns);
    write_returns(conn, &plan.returns).await?;
    write_enterprises(conn, &plan.enterprises).await?;
    write_marks(conn, &plan.marks).await
}

/// The stored rows [`plan_returns`] needs for `returns`.
async fn read_stored(
    conn: &mut PgConnection,
    returns: &[ReturnRecord],
) -> sqlx::Result<StoredFirms> {
    let firms: Vec<&str> = returns.iter().map(|r| r.uscc.as_str()).collect();
    let enterprises: HashMap<String, (i64, Option<String>)> = sqlx::query!(
        "SELECT uscc, record_version, segment FROM enterprises WHERE uscc = ANY($1::text[])",
        &firms as &[&str],
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|row| (row.uscc, (row.record_version, row.segment)))
    .collect();
    // Firms whose registry fields a return of the batch would change: all their periods are
    // marked then, so all are read; of the others, only the batch's own (period, firm) rows.
    // Two index lookups joined by UNION: an OR of the two would scan the whole table.
    let mut changing: Vec<&str> = returns
        .iter()
        .filter(|r| {
            enterprises
                .get(&r.uscc)
                .is_none_or(|(version, _)| *version < r.enterprise.version)
        })
        .map(|r| r.uscc.as_str())
        .collect();
    changing.sort_unstable();
    changing.dedup();
    let periods: Vec<&str> = returns.iter().map(|r| r.period.as_str()).collect();
    let revisions = sqlx::query!(
        r#"SELECT c.period AS "period!", c.uscc AS "uscc!", c.revision AS "revision!"
           FROM unnest($1::text[], $2::text[]) AS k(period, uscc)
                JOIN census_returns c ON c.period = k.period AND c.uscc = k.uscc
           UNION
           SELECT c.period, c.uscc, c.revision FROM census_returns c WHERE c.uscc = ANY($3::text[])"#,
        &periods as &[&str],
        &firms as &[&str],
        &changing as &[&str],
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|row| ((row.period, row.uscc), row.revision))
    .collect();
    Ok(StoredFirms {
        revisions,
        enterprises,
    })
}

async fn write_returns(conn: &mut PgConnection, returns: &[&ReturnRecord]) -> sqlx::Result<()> {
    if returns.is_empty() {
        return Ok(());
    }
    let column = |f: fn(&ReturnRecord) -> i64| returns.iter().map(|r| f(r)).collect::<Vec<i64>>();
    let periods: Vec<&str> = returns.iter().map(|r| r.period.as_str()).collect();
    let firms: Vec<&str> = returns.iter().map(|r| r.uscc.as_str()).collect();
    let automation: Vec<f64> = returns
        .iter()
        .map(|r| r.figures.automation_share_percent)
        .collect();
    let energy: Vec<Option<f64>> = returns.iter().map(|r| r.figures.energy_use_tce).collect();
    let submitted: Vec<Option<DateTime<Utc>>> = returns.iter().map(|r| r.submitted_at).collect();
    sqlx::query!(
        "INSERT INTO census_returns (period, uscc, revision, employees_total, rd_spend_fen, revenue_fen,
                                     industrial_output_fen, tax_paid_fen, export_sales_fen,
                                     automation_share_percent, patents, land_used_centi_mu,
                                     energy_use_tce, submitted_at)
         SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[],
                              $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[],
                              $10::float8[], $11::bigint[], $12::bigint[], $13::float8[],
                              $14::timestamptz[])
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
        &periods as &[&str],
        &firms as &[&str],
        &column(|r| r.revision),
        &column(|r| r.figures.employees_total),
        &column(|r| r.figures.rd_spend_fen),
        &column(|r| r.figures.revenue_fen),
        &column(|r| r.figures.industrial_output_fen),
        &column(|r| r.figures.tax_paid_fen),
        &column(|r| r.figures.export_sales_fen),
        &automation,
        &column(|r| r.figures.patents),
        &column(|r| r.figures.land_used_centi_mu),
        &energy as _,
        &submitted as _,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn write_enterprises(conn: &mut PgConnection, returns: &[&ReturnRecord]) -> sqlx::Result<()> {
    if returns.is_empty() {
        return Ok(());
    }
    let firms: Vec<&str> = returns.iter().map(|r| r.uscc.as_str()).collect();
    let names: Vec<&str> = returns.iter().map(|r| r.enterprise.name.as_str()).collect();
    let parks: Vec<Option<&'static str>> = returns
        .iter()
        .map(|r| r.enterprise.park.map(<&'static str>::from))
        .collect();
    let segments: Vec<&'static str> = returns
        .iter()
        .map(|r| <&'static str>::from(r.enterprise.segment))
        .collect();
    let classes: Vec<&str> = returns
        .iter()
        .map(|r| r.enterprise.industry_class.as_str())
        .collect();
    let registered: Vec<Option<NaiveDate>> = returns
        .iter()
        .map(|r| r.enterprise.registration_date)
        .collect();
    let versions: Vec<i64> = returns.iter().map(|r| r.enterprise.version).collect();
    sqlx::query!(
        "INSERT INTO enterprises (uscc, name, park, segment, industry_class, registration_date, active, record_version)
         SELECT uscc, name, park, segment, industry_class, registration_date, true, record_version
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::date[], $7::bigint[])
              AS e(uscc, name, park, segment, industry_class, registration_date, record_version)
         ON CONFLICT (uscc) DO UPDATE SET
             name = EXCLUDED.name, park = EXCLUDED.park, segment = EXCLUDED.segment,
             industry_class = EXCLUDED.industry_class, registration_date = EXCLUDED.registration_date,
             record_version = EXCLUDED.record_version, updated_at = now()
         WHERE enterprises.record_version < EXCLUDED.record_version",
        &firms as &[&str],
        &names as &[&str],
        &parks as _,
        &segments as &[&str],
        &classes as &[&str],
        &registered as _,
        &versions,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Adds `marks` to `dirty_periods` as that many one-by-one marks would (a whole-period mark
/// clears the cohorts; a cohort mark appends its segment unless it is there) and wakes the
/// re-ranker once, on commit.
async fn write_marks(conn: &mut PgConnection, marks: &[PeriodMark]) -> sqlx::Result<()> {
    if marks.is_empty() {
        return Ok(());
    }
    let periods: Vec<&str> = marks.iter().map(|m| m.period.as_str()).collect();
    let counts: Vec<i64> = marks.iter().map(|m| m.count).collect();
    // A text per period (segments hold no comma), since arrays of arrays must be rectangular.
    let segments: Vec<Option<String>> = marks
        .iter()
        .map(|m| m.segments.as_ref().map(|s| s.join(",")))
        .collect();
    sqlx::query!(
        "WITH marked AS (
             INSERT INTO dirty_periods (period, generation, first_dirty_at, last_dirty_at,
                                        trace_headers, segments)
             SELECT m.period, m.count, clock_timestamp(), clock_timestamp(), $4,
                    string_to_array(m.segments, ',')
             FROM unnest($1::text[], $2::bigint[], $3::text[]) AS m(period, count, segments)
             ORDER BY m.period
             ON CONFLICT (period) DO UPDATE SET
                 generation = dirty_periods.generation + EXCLUDED.generation,
                 last_dirty_at = clock_timestamp(), trace_headers = EXCLUDED.trace_headers,
                 segments = CASE
                     WHEN dirty_periods.segments IS NULL OR EXCLUDED.segments IS NULL THEN NULL
                     ELSE dirty_periods.segments || ARRAY(
                         SELECT s FROM unnest(EXCLUDED.segments) WITH ORDINALITY AS u(s, n)
                         WHERE s <> ALL (dirty_periods.segments) ORDER BY n)
                 END
             RETURNING 1
         )
         SELECT pg_notify($5, '') FROM (SELECT count(*) FROM marked) AS m",
        &periods as &[&str],
        &counts,
        &segments as _,
        sqlx::types::Json(platform::telemetry::inject_current()) as _,
        DIRTY_CHANNEL,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}
