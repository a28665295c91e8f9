//! Reading classes for the API, current or as published (one static statement per read and
//! [`View`], naming its tables), and overrides (set and lift, audited, with their events).

use chrono::{DateTime, Utc};
use platform::{Outbox, Park};
use sqlx::PgConnection;

use super::{
    Store, StoreError, lock_period, outgoing,
    publication::{self, View},
    settle,
};
pub use crate::domain::overrides::OverrideAction;
use crate::domain::{
    Benchmarks, Class, Figures, Grading, Segment,
    overrides::{self, Overridden, OverrideDecision},
    policy::NoticeRule,
};

/// A stored classification with the figures and benchmarks its explanation needs.
#[derive(Debug, Clone)]
pub struct ClassRow {
    pub period: String,
    pub uscc: String,
    pub name: String,
    /// Stored as the vocabulary's spelling (`XILIU`, `TEXTILE`); NULL for none.
    pub park: Option<Park>,
    pub segment: Option<Segment>,
    pub grading: i16,
    /// Stored as the vocabulary's spelling (`A`); NULL for none.
    pub computed_class: Option<Class>,
    pub class: Option<Class>,
    pub score: f64,
    pub rank: i32,
    pub sort_rank: i32,
    pub cohort_size: i32,
    pub model_version: i64,
    pub reduced_model: bool,
    pub vetoed: bool,
    pub override_class: Option<Class>,
    pub override_reason: Option<String>,
    pub override_by: Option<String>,
    pub override_at: Option<DateTime<Utc>>,
    pub classified_at: DateTime<Utc>,
    pub registration_date: Option<chrono::NaiveDate>,
    /// The figures of the firm's return, which its breakdown is computed from.
    pub figures: Figures,
    pub benchmarks: Option<Vec<Option<f64>>>,
}

impl ClassRow {
    pub fn benchmarks(&self) -> Benchmarks {
        let stored = self.benchmarks.as_deref().unwrap_or(&[]);
        Benchmarks(std::array::from_fn(|i| stored.get(i).copied().flatten()))
    }

    pub fn class(&self) -> Option<Class> {
        self.class
    }

    pub fn computed_class(&self) -> Option<Class> {
        self.computed_class
    }

    pub fn grading(&self) -> Grading {
        Grading::from_proto(i32::from(self.grading))
    }
}

/// The columns of a [`ClassRow`] from `$r`, a record of [`class_rows!`].
macro_rules! class_row {
    ($r:ident) => {
        ClassRow {
            period: $r.period,
            uscc: $r.uscc,
            name: $r.name,
            park: $r.park,
            segment: $r.segment,
            grading: $r.grading,
            computed_class: $r.computed_class,
            class: $r.class,
            score: $r.score,
            rank: $r.rank,
            sort_rank: $r.sort_rank,
            cohort_size: $r.cohort_size,
            model_version: $r.model_version,
            reduced_model: $r.reduced_model,
            vetoed: $r.vetoed,
            override_class: $r.override_class,
            override_reason: $r.override_reason,
            override_by: $r.override_by,
            override_at: $r.override_at,
            classified_at: $r.classified_at,
            registration_date: $r.registration_date,
            figures: Figures {
                employees_total: $r.employees_total,
                rd_spend_fen: $r.rd_spend_fen,
                revenue_fen: $r.revenue_fen,
                industrial_output_fen: $r.industrial_output_fen,
                tax_paid_fen: $r.tax_paid_fen,
                export_sales_fen: $r.export_sales_fen,
                automation_share_percent: $r.automation_share_percent,
                patents: $r.patents,
                land_used_centi_mu: $r.land_used_centi_mu,
                energy_use_tce: $r.energy_use_tce,
            },
            benchmarks: $r.benchmarks,
        }
    };
}

/// [`ClassRow`]s of `view`: one static statement per view (`current_class_rows`,
/// `published_class_rows`, `final_class_rows`), the columns of a [`ClassRow`] from `<view> c` followed by `$rest` (a literal: the filter and order), with
/// `$arg`s, fetched with `$fetch` on `$conn`.
macro_rules! class_rows {
    ($view:expr, $rest:literal, [$($arg:expr),* $(,)?], $fetch:ident($conn:expr)) => {
        match $view {
            View::Current => {
                sqlx::query!(
                    r#"SELECT c.period AS "period!", c.uscc AS "uscc!", c.name AS "name!",
                        c.park AS "park?: Park", c.segment AS "segment?: Segment",
                        c.grading AS "grading!", c.computed_class AS "computed_class?: Class",
                        c.class AS "class?: Class", c.score AS "score!", c.rank AS "rank!",
                        c.sort_rank AS "sort_rank!", c.cohort_size AS "cohort_size!",
                        c.model_version AS "model_version!", c.reduced_model AS "reduced_model!",
                        c.vetoed AS "vetoed!", c.override_class AS "override_class?: Class",
                        c.override_reason AS "override_reason?", c.override_by AS "override_by?",
                        c.override_at AS "override_at?", c.classified_at AS "classified_at!",
                        c.registration_date AS "registration_date?",
                        c.employees_total AS "employees_total!", c.rd_spend_fen AS "rd_spend_fen!",
                        c.revenue_fen AS "revenue_fen!",
                        c.industrial_output_fen AS "industrial_output_fen!",
                        c.tax_paid_fen AS "tax_paid_fen!", c.export_sales_fen AS "export_sales_fen!",
                        c.automation_share_percent AS "automation_share_percent!",
                        c.patents AS "patents!", c.land_used_centi_mu AS "land_used_centi_mu!",
                        c.energy_use_tce AS "energy_use_tce?",
                        c.benchmarks AS "benchmarks?: Vec<Option<f64>>"
                    FROM current_class_rows c "# + $rest,
                    $($arg),*
                )
                .map(|r| class_row!(r))
                .$fetch($conn)
                .await
            }
            View::Published => {
                sqlx::query!(
                    r#"SELECT c.period AS "period!", c.uscc AS "uscc!", c.name AS "name!",
                        c.park AS "park?: Park", c.segment AS "segment?: Segment",
                        c.grading AS "grading!", c.computed_class AS "computed_class?: Class",
                        c.class AS "class?: Class", c.score AS "score!", c.rank AS "rank!",
                        c.sort_rank AS "sort_rank!", c.cohort_size AS "cohort_size!",
                        c.model_version AS "model_version!", c.reduced_model AS "reduced_model!",
                        c.vetoed AS "vetoed!", c.override_class AS "override_class?: Class",
                        c.override_reason AS "override_reason?", c.override_by AS "override_by?",
                        c.override_at AS "override_at?", c.classified_at AS "classified_at!",
                        c.registration_date AS "registration_date?",
                        c.employees_total AS "employees_total!", c.rd_spend_fen AS "rd_spend_fen!",
                        c.revenue_fen AS "revenue_fen!",
                        c.industrial_output_fen AS "industrial_output_fen!",
                        c.tax_paid_fen AS "tax_paid_fen!", c.export_sales_fen AS "export_sales_fen!",
                        c.automation_share_percent AS "automation_share_percent!",
                        c.patents AS "patents!", c.land_used_centi_mu AS "land_used_centi_mu!",
                        c.energy_use_tce AS "energy_use_tce?",
                        c.benchmarks AS "benchmarks?: Vec<Option<f64>>"
                    FROM published_class_rows c "# + $rest,
                    $($arg),*
                )
                .map(|r| class_row!(r))
                .$fetch($conn)
                .await
            }
            View::Final => {
                sqlx::query!(
                    r#"SELECT c.period AS "period!", c.uscc AS "uscc!", c.name AS "name!",
                        c.park AS "park?: Park", c.segment AS "segment?: Segment",
                        c.grading AS "grading!", c.computed_class AS "computed_class?: Class",
                        c.class AS "class?: Class", c.score AS "score!", c.rank AS "rank!",
                        c.sort_rank AS "sort_rank!", c.cohort_size AS "cohort_size!",
                        c.model_version AS "model_version!", c.reduced_model AS "reduced_model!",
                        c.vetoed AS "vetoed!", c.override_class AS "override_class?: Class",
                        c.override_reason AS "override_reason?", c.override_by AS "override_by?",
                        c.override_at AS "override_at?", c.classified_at AS "classified_at!",
                        c.registration_date AS "registration_date?",
                        c.employees_total AS "employees_total!", c.rd_spend_fen AS "rd_spend_fen!",
                        c.revenue_fen AS "revenue_fen!",
                        c.industrial_output_fen AS "industrial_output_fen!",
                        c.tax_paid_fen AS "tax_paid_fen!", c.export_sales_fen AS "export_sales_fen!",
                        c.automation_share_percent AS "automation_share_percent!",
                        c.patents AS "patents!", c.land_used_centi_mu AS "land_used_centi_mu!",
                        c.energy_use_tce AS "energy_use_tce?",
                        c.benchmarks AS "benchmarks?: Vec<Option<f64>>"
                    FROM final_class_rows c "# + $rest,
                    $($arg),*
                )
                .map(|r| class_row!(r))
                .$fetch($conn)
                .await
            }
        }
    };
}

/// The latest period with classifications in `view`, or `None` before the first re-rank
/// (the first publication).
pub async fn latest_period(conn: &mut PgConnection, view: View) -> sqlx::Result<Option<String>> {
    match view {
        // Without an index on period_key (every row of a period shares it): the distinct
        // periods by a walk of the primary key, one probe each, then one row of each for
        // its key.
        View::Current => {
            sqlx::query_scalar!(
                r#"WITH RECURSIVE periods(period) AS (
                     (SELECT period FROM classifications ORDER BY period LIMIT 1)
                     UNION ALL
                     SELECT (SELECT c.period FROM classifications c WHERE c.period > p.period
                             ORDER BY c.period LIMIT 1)
                     FROM periods p WHERE p.period IS NOT NULL
                   )
                   SELECT p.period AS "period!" FROM periods p
                   CROSS JOIN LATERAL (SELECT c.period_key FROM classifications c
                                       WHERE c.period = p.period LIMIT 1) k
                   WHERE p.period IS NOT NULL
                   ORDER BY k.period_key DESC LIMIT 1"#
            )
            .fetch_optional(conn)
            .await
        }
        View::Published => {
            sqlx::query_scalar!(
                "SELECT period FROM published_classifications ORDER BY period_key DESC LIMIT 1"
            )
            .fetch_optional(conn)
            .await
        }
        View::Final => {
            sqlx::query_scalar!(
                r#"SELECT period AS "period!" FROM final_classifications ORDER BY period_key DESC LIMIT 1"#
            )
            .fetch_optional(conn)
            .await
        }
    }
}

/// The latest period `uscc` has a classification for in `view`.
pub async fn latest_period_of(
    conn: &mut PgConnection,
    view: View,
    uscc: &str,
) -> sqlx::Result<Option<String>> {
    match view {
        View::Current => sqlx::query_scalar!(
            "SELECT period FROM classifications WHERE uscc = $1 ORDER BY period_key DESC LIMIT 1",
            uscc,
        )
        .fetch_optional(conn)
        .await,
        View::Published => {
            sqlx::query_scalar!(
                "SELECT period FROM published_classifications WHERE uscc = $1
                 ORDER BY period_key DESC LIMIT 1",
                uscc,
            )
            .fetch_optional(conn)
            .await
        }
        View::Final => {
            sqlx::query_scalar!(
                r#"SELECT period AS "period!" FROM final_classifications WHERE uscc = $1
                 ORDER BY period_key DESC LIMIT 1"#,
                uscc,
            )
            .fetch_optional(conn)
            .await
        }
    }
}

pub async fn get(
    conn: &mut PgConnection,
    view: View,
    period: &str,
    uscc: &str,
) -> sqlx::Result<Option<ClassRow>> {
    class_rows!(
        view,
        "WHERE c.period = $1 AND c.uscc = $2",
        [period, uscc],
        fetch_optional(conn)
    )
}

/// Filters of a listing; `None` matches everything.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub class: Option<Class>,
    pub park: Option<Park>,
    pub segment: Option<Segment>,
}

/// Where a page starts: after this (segment's protobuf number, as listings order by it,
/// sort_rank, uscc).
pub type Cursor = (i32, i32, String);

impl Store {
    /// One page in listing order (segment, rank, USCC; ungraded firms after the ranked ones).
    /// Segments are in the contract's order (`segment_number`, as the listing index has it).
    pub async fn list_classes(
        &self,
        view: View,
        period: &str,
        filter: &Filter,
        after: Option<&Cursor>,
        limit: u32,
    ) -> sqlx::Result<Vec<ClassRow>> {
        let pool = &self.pool;
        let (segment, rank, uscc) = after
            .cloned()
            .unwrap_or((i32::MIN, i32::MIN, String::new()));
        class_rows!(
            view,
            "WHERE c.period = $1
               AND ($2::text IS NULL OR c.class = $2)
               AND ($3::text IS NULL OR c.park = $3)
               AND ($4::text IS NULL OR c.segment = $4)
               AND (segment_number(c.segment), c.sort_rank, c.uscc) > ($5, $6, $7)
             ORDER BY segment_number(c.segment), c.sort_rank, c.uscc
             LIMIT $8",
            [
                period,
                filter.class as Option<Class>,
                filter.park as Option<Park>,
                filter.segment as Option<Segment>,
                segment,
                rank,
                uscc,
                i64::from(limit),
            ],
            fetch_all(pool)
        )
    }
}

impl Store {
    /// The lowest score computed into `class` in a cohort: the score to beat to enter it.
    pub async fn boundary_score(
        &self,
        view: View,
        period: &str,
        segment: Option<Segment>,
        class: Class,
    ) -> sqlx::Result<Option<f64>> {
        let pool = &self.pool;
        let graded = Grading::Graded.to_proto() as i16;
        match view {
            View::Current => {
                sqlx::query_scalar!(
                    "SELECT min(score) FROM classifications
                     WHERE period = $1 AND segment = $2 AND computed_class = $3 AND grading = $4",
                    period,
                    segment as Option<Segment>,
                    class as Class,
                    graded,
                )
                .fetch_one(pool)
                .await
            }
            View::Published => {
                sqlx::query_scalar!(
                    "SELECT min(score) FROM published_classifications
                     WHERE period = $1 AND segment = $2 AND computed_class = $3 AND grading = $4",
                    period,
                    segment as Option<Segment>,
                    class as Class,
                    graded,
                )
                .fetch_one(pool)
                .await
            }
            View::Final => {
                sqlx::query_scalar!(
                    "SELECT min(score) FROM final_classifications
                     WHERE period = $1 AND segment = $2 AND computed_class = $3 AND grading = $4",
                    period,
                    segment as Option<Segment>,
                    class as Class,
                    graded,
                )
                .fetch_one(pool)
                .await
            }
        }
    }
}

/// Counts of one (park, segment).
#[derive(Debug, Clone, Default)]
pub struct DistributionRow {
    pub park: Option<Park>,
    pub segment: Option<Segment>,
    pub class_a: i64,
    pub class_b: i64,
    pub class_c: i64,
    pub deferred: i64,
    pub exempt: i64,
}

/// The distribution of `$table` (a literal) in a period `$1`: per (park, segment) in the
/// contract's order, and the highest model version.
macro_rules! distribution_in {
    ($pool:expr, $period:expr, $counts:literal, $version:literal) => {{
        let rows = sqlx::query_as!(
            DistributionRow,
            $counts,
            $period,
            Class::A as Class,
            Class::B as Class,
            Class::C as Class,
            Grading::Deferred.to_proto() as i16,
            Grading::Exempt.to_proto() as i16,
        )
        .fetch_all($pool)
        .await?;
        let version: Option<i64> = sqlx::query_scalar!($version, $period)
            .fetch_one($pool)
            .await?;
        (rows, version)
    }};
}

impl Store {
    /// Classes in force, deferred and exempt firms, per (park, segment) of a period.
    pub async fn distribution(
        &self,
        view: View,
        period: &str,
    ) -> sqlx::Result<(Vec<DistributionRow>, i64)> {
        let pool = &self.pool;
        let (rows, version) = match view {
            View::Current => distribution_in!(
                pool,
                period,
                r#"SELECT park AS "park?: Park", segment AS "segment?: Segment",
                        count(*) FILTER (WHERE class = $2) AS "class_a!",
                        count(*) FILTER (WHERE class = $3) AS "class_b!",
                        count(*) FILTER (WHERE class = $4) AS "class_c!",
                        count(*) FILTER (WHERE grading = $5) AS "deferred!",
                        count(*) FILTER (WHERE grading = $6) AS "exempt!"
                 FROM classifications WHERE period = $1
                 GROUP BY park, segment ORDER BY park_number(park), segment_number(segment)"#,
                "SELECT max(model_version) FROM classifications WHERE period = $1"
            ),
            View::Published => distribution_in!(
                pool,
                period,
                r#"SELECT park AS "park?: Park", segment AS "segment?: Segment",
                        count(*) FILTER (WHERE class = $2) AS "class_a!",
                        count(*) FILTER (WHERE class = $3) AS "class_b!",
                        count(*) FILTER (WHERE class = $4) AS "class_c!",
                        count(*) FILTER (WHERE grading = $5) AS "deferred!",
                        count(*) FILTER (WHERE grading = $6) AS "exempt!"
                 FROM published_classifications WHERE period = $1
                 GROUP BY park, segment ORDER BY park_number(park), segment_number(segment)"#,
                "SELECT max(model_version) FROM published_classifications WHERE period = $1"
            ),
            View::Final => distribution_in!(
                pool,
                period,
                r#"SELECT park AS "park?: Park", segment AS "segment?: Segment",
                        count(*) FILTER (WHERE class = $2) AS "class_a!",
                        count(*) FILTER (WHERE class = $3) AS "class_b!",
                        count(*) FILTER (WHERE class = $4) AS "class_c!",
                        count(*) FILTER (WHERE grading = $5) AS "deferred!",
                        count(*) FILTER (WHERE grading = $6) AS "exempt!"
                 FROM final_classifications WHERE period = $1
                 GROUP BY park, segment ORDER BY park_number(park), segment_number(segment)"#,
                "SELECT max(model_version) FROM final_classifications WHERE period = $1"
            ),
        };
        Ok((rows, version.unwrap_or(0)))
    }
}

/// The period an override or a read in `view` refers to: the given one (published, for the
/// published view), or the enterprise's latest in the view.
async fn resolve_period(
    conn: &mut PgConnection,
    view: View,
    uscc: &str,
    period: Option<&str>,
) -> Result<String, StoreError> {
    match period {
        Some(p) => {
            publication::require_view(conn, view, p).await?;
            Ok(p.to_string())
        }
        None => latest_period_of(conn, view, uscc).await?.ok_or_else(|| {
            StoreError::NotFound(match view {
                View::Current => format!("classification of {uscc}"),
                View::Published => format!("published classification of {uscc}"),
                View::Final => format!("final classification of {uscc}"),
            })
        }),
    }
}

impl Store {
    /// Reads one classification in `view` (the latest period's when `period` is `None`).
    pub async fn find_class(
        &self,
        view: View,
        uscc: &str,
        period: Option<&str>,
    ) -> Result<ClassRow, StoreError> {
        let pool = &self.pool;
        let mut conn = pool.acquire().await?;
        let period = resolve_period(&mut conn, view, uscc, period).await?;
        get(&mut conn, view, &period, uscc)
            .await?
            .ok_or_else(|| not_found(uscc, &period))
    }
}

impl Store {
    /// Sets or lifts an override in one transaction with its audit row and, when the class in
    /// force changes, its event; the notices of the class in force against the one last notified
    /// go with it. A lift without an override is FAILED_PRECONDITION.
    pub async fn apply_override(
        &self,
        uscc: &str,
        period: Option<&str>,
        action: OverrideAction<'_>,
        principal: &str,
    ) -> Result<ClassRow, StoreError> {
        let pool = &self.pool;
        let outbox = &self.outbox;
        let rules: &[NoticeRule] = &self.rules;
        let mut tx = pool.begin().await?;
        let updated =
            apply_override_in(&mut tx, outbox, rules, uscc, period, action, principal).await?;
        tx.commit().await?;
        Ok(updated)
    }
}

/// [`apply_override`] in the caller's transaction: the one path of every override (an upheld
/// objection's decision calls it in its own transaction). Takes the period's lock.
pub async fn apply_override_in(
    tx: &mut PgConnection,
    outbox: &Outbox,
    rules: &[NoticeRule],
    uscc: &str,
    period: Option<&str>,
    action: OverrideAction<'_>,
    principal: &str,
) -> Result<ClassRow, StoreError> {
    let period = resolve_period(tx, View::Current, uscc, period).await?;
    lock_period(tx, &period).await?;
    let row = get(tx, View::Current, &period, uscc)
        .await?
        .ok_or_else(|| not_found(uscc, &period))?;
    let decision = overrides::decide(&overridden(&row), action)?;
    let at = Utc::now();
    write_override(tx, &row, &decision, principal, at).await?;
    audit_override(tx, &row, &decision, principal, at).await?;
    if decision.transition.is_change() {
        outgoing::publish_classified(tx, outbox, &class_change(&row, &decision, at)).await?;
    }
    // An override is a deliberate decision, not churn: its notices go out at once, against
    // the class last notified (a lift back to it sends none).
    settle::notify(tx, outbox, rules, &period, Some(&row.uscc)).await?;
    get(tx, View::Current, &period, uscc)
        .await?
        .ok_or_else(|| not_found(uscc, &period))
}

/// The stored classification as an override is decided against.
fn overridden(row: &ClassRow) -> Overridden<'_> {
    Overridden {
        uscc: &row.uscc,
        period: &row.period,
        class: row.class,
        computed_class: row.computed_class,
        override_class: row.override_class,
    }
}

fn not_found(uscc: &str, period: &str) -> StoreError {
    StoreError::NotFound(format!("classification of {uscc} for {period}"))
}

/// The event of the change of class in force `decision` makes to `row`.
fn class_change<'r>(
    row: &'r ClassRow,
    decision: &OverrideDecision<'r>,
    at: DateTime<Utc>,
) -> crate::events::ClassChange<'r> {
    let overridden = decision.override_class.is_some();
    crate::events::ClassChange {
        uscc: &row.uscc,
        name: &row.name,
        park: row.park,
        segment: row.segment,
        period: &row.period,
        transition: decision.transition,
        grading: row.grading(),
        score: row.score,
        rank: row.rank,
        cohort_size: row.cohort_size,
        model_version: row.model_version,
        overridden,
        override_reason: if overridden { decision.reason } else { "" },
        at,
    }
}

/// The override columns and the class in force, as the decision has them.
async fn write_override(
    tx: &mut PgConnection,
    row: &ClassRow,
    decision: &OverrideDecision<'_>,
    principal: &str,
    at: DateTime<Utc>,
) -> sqlx::Result<()> {
    let set = decision.override_class;
    sqlx::query!(
        "UPDATE classifications SET override_class = $3, override_reason = $4, override_by = $5,
                override_at = $6, class = $7, classified_at = $8
         WHERE period = $1 AND uscc = $2",
        row.period,
        row.uscc,
        set.map(Class::as_str),
        set.map(|_| decision.reason),
        set.map(|_| principal),
        set.map(|_| at),
        decision.new_class().map(Class::as_str),
        at,
    )
    .execute(tx)
    .await
    .map(|_| ())
}

/// The audit row of an override call: who, when, why, and the class before.
async fn audit_override(
    tx: &mut PgConnection,
    row: &ClassRow,
    decision: &OverrideDecision<'_>,
    principal: &str,
    at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO override_audit (period, uscc, action, override_class, class_before, reason, principal, at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        row.period,
        row.uscc,
        decision.verb,
        decision.override_class.map(Class::as_str),
        row.class.map(Class::as_str),
        decision.reason,
        principal,
        at,
    )
    .execute(tx)
    .await
    .map(|_| ())
}
