//! Reads: an enterprise's file (now or as of a time, audited), the filtered list, and the
//! statistics of a period.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, types::Json};

use super::{EnterpriseRow, ReturnRow, Store, StoreError};
use crate::domain::{
    CensusReturn, Enterprise, Group, Grouping, Park, Period, Segment, Status, Totals, Uscc,
};

/// One group's sums as the statistics query returns them.
struct GroupRow {
    key: String,
    enterprises: i64,
    employees: i64,
    rd_spend_fen: i64,
    patents: i64,
    output_fen: i64,
    tax_fen: i64,
    export_fen: i64,
}

/// Which view of a file to read.
#[derive(Clone, Debug)]
pub struct FileView {
    /// Show the file as it was known then; `None` for now.
    pub as_of: Option<DateTime<Utc>>,
    /// Every revision of every return, not only the latest per period.
    pub all_revisions: bool,
}

/// Filters of the enterprise list; `None` matches everything.
#[derive(Clone, Debug, Default)]
pub struct ListFilter {
    pub park: Option<Park>,
    pub segment: Option<Segment>,
    pub industry_class: Option<String>,
    pub status: Option<Status>,
    /// Case-insensitive part of the name.
    pub name_contains: Option<String>,
}

impl Store {
    /// The file of `uscc` as `view` asks, and an audit row saying `reader` read it: a file is
    /// never shown without its audit row. `None` if the enterprise did not exist at that time
    /// (and then nothing is audited).
    ///
    /// Two statements on one connection, no transaction (under READ COMMITTED each statement
    /// of one reads its own snapshot anyway): the record with the audit insert in the same
    /// statement, so both or neither, then the returns. A transaction cost three more round
    /// trips per read (BENCHMARKS.md, GetEnterpriseFile). A read whose second statement
    /// fails stays audited: the reader asked for the file and may have been shown part of it.
    pub async fn read_file(
        &self,
        uscc: &Uscc,
        view: &FileView,
        reader: &str,
    ) -> Result<Option<(Enterprise, Vec<CensusReturn>)>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let row = sqlx::query_as!(
            EnterpriseRow,
            r#"WITH found AS (
                SELECT v.uscc, v.version, v.name, v.legal_representative, v.park,
                    v.industry_class, v.size, v.registration_date, v.status,
                    v.deregistration_reason, v.safety_violation, v.environmental_violation,
                    v.tax_credit_violation, v.recorded_at, e.created_at
                FROM enterprise_versions v JOIN enterprises e ON e.uscc = v.uscc
                WHERE v.uscc = $1 AND ($2::timestamptz IS NULL OR v.recorded_at <= $2)
                ORDER BY v.version DESC
                LIMIT 1
             ), audit AS (
                INSERT INTO file_reads (reader, uscc, as_of, all_revisions)
                SELECT $3, $1, $2, $4 FROM found
             )
             SELECT uscc AS "uscc!", version AS "version!", name AS "name!",
                legal_representative AS "legal_representative!", park AS "park!: Park",
                industry_class AS "industry_class!", size AS "size!",
                registration_date AS "registration_date!", status AS "status!",
                deregistration_reason, safety_violation AS "safety_violation!",
                environmental_violation AS "environmental_violation!",
                tax_credit_violation AS "tax_credit_violation!", recorded_at AS "recorded_at!",
                created_at AS "created_at!"
             FROM found"#,
            uscc.as_str(),
            view.as_of,
            reader,
            view.all_revisions,
        )
        .fetch_optional(&mut *conn)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let enterprise = Enterprise::try_from(row)?;
        let rows = returns_in_view(&mut conn, uscc, view).await?;
        let mut returns = rows
            .into_iter()
            .map(CensusReturn::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        // Periods in time order (a year before its quarters), then revisions.
        returns.sort_by_key(|r| (r.content.period, r.revision));
        Ok(Some((enterprise, returns)))
    }

    /// Up to `limit` current records matching `filter`, in USCC order after `after`.
    pub async fn list(
        &self,
        filter: &ListFilter,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Enterprise>, StoreError> {
        let rows = sqlx::query_as!(
            EnterpriseRow,
            r#"SELECT v.uscc, v.version, v.name, v.legal_representative, v.park AS "park: Park",
                    v.industry_class, v.size, v.registration_date, v.status, v.deregistration_reason,
                    v.safety_violation, v.environmental_violation, v.tax_credit_violation,
                    v.recorded_at, e.created_at
             FROM enterprises e JOIN enterprise_versions v
               ON v.uscc = e.uscc AND v.version = e.current_version
             WHERE ($1::text IS NULL OR v.park = $1)
               AND ($2::text IS NULL OR v.segment = $2)
               AND ($3::text IS NULL OR v.industry_class = $3)
               AND ($4::text IS NULL OR v.status = $4)
               AND ($5::text IS NULL OR strpos(lower(v.name), lower($5)) > 0)
               AND ($6::text IS NULL OR e.uscc > $6)
             ORDER BY e.uscc
             LIMIT $7"#,
            filter.park.map(Park::as_str),
            filter.segment.map(Segment::as_str),
            filter.industry_class.as_deref(),
            filter.status.map(Status::as_str),
            filter.name_contains.as_deref(),
            after,
            limit,
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(Enterprise::try_from)
            .collect::<Result<_, _>>()?)
    }

    /// Totals of `period` per group, over the latest revision of each enterprise's return;
    /// an enterprise counts in the park and segment of its current record. Every group is
    /// listed, with zeros where nothing was returned.
    pub async fn statistics(
        &self,
        period: Period,
        grouping: Grouping,
    ) -> Result<Vec<(Group, Totals)>, StoreError> {
        // One statement per grouping, the same but for the key; sums saturate at the
        // largest bigint rather than fail.
        let code = period.code();
        let rows = match grouping {
            Grouping::Park => totals_by_park(&self.pool, &code).await?,
            Grouping::Segment => totals_by_segment(&self.pool, &code).await?,
        };
        let mut totals: Vec<(Group, Totals)> = grouping
            .groups()
            .into_iter()
            .map(|g| (g, Totals::default()))
            .collect();
        for row in rows {
            let group = match grouping {
                Grouping::Park => Park::parse(&row.key).map(Group::Park),
                Grouping::Segment => Segment::parse(&row.key).map(Group::Segment),
            }
            .ok_or_else(|| super::corrupt(format!("group {}", row.key)))?;
            if let Some((_, t)) = totals.iter_mut().find(|(g, _)| *g == group) {
                *t = Totals {
                    enterprises: row.enterprises,
                    employees: row.employees,
                    rd_spend_fen: row.rd_spend_fen,
                    patents: row.patents,
                    output_fen: row.output_fen,
                    tax_fen: row.tax_fen,
                    export_fen: row.export_fen,
                };
            }
        }
        Ok(totals)
    }
}

/// The returns a file view shows: every revision, or each period's latest, as of the view's
/// time.
async fn returns_in_view(
    conn: &mut PgConnection,
    uscc: &Uscc,
    view: &FileView,
) -> sqlx::Result<Vec<ReturnRow>> {
    // The columns of `return_columns!`, written out: the macros take one literal.
    if view.all_revisions {
        sqlx::query_as!(
            ReturnRow,
            r#"SELECT uscc, period, revision, client_request_id, employees_total, production_staff,
                rd_technical_staff, management_sales_staff, college_educated_staff,
                rd_spend_fen, revenue_fen, industrial_output_fen, tax_paid_fen,
                export_sales_fen, equipment_value_fen, automation_share_percent,
                equipment_level, invention_patents, utility_model_patents, design_patents,
                land_used_centi_mu, energy_use_tce, rd_exceeds_revenue_flag,
                sources AS "sources: Json<BTreeMap<String, String>>", enterprise_version,
                submitted_at, submitted_by
             FROM census_returns
             WHERE uscc = $1 AND ($2::timestamptz IS NULL OR submitted_at <= $2)
             ORDER BY period, revision"#,
            uscc.as_str(),
            view.as_of,
        )
        .fetch_all(&mut *conn)
        .await
    } else {
        sqlx::query_as!(
            ReturnRow,
            r#"SELECT DISTINCT ON (period) uscc, period, revision, client_request_id, employees_total, production_staff,
                rd_technical_staff, management_sales_staff, college_educated_staff,
                rd_spend_fen, revenue_fen, industrial_output_fen, tax_paid_fen,
                export_sales_fen, equipment_value_fen, automation_share_percent,
                equipment_level, invention_patents, utility_model_patents, design_patents,
                land_used_centi_mu, energy_use_tce, rd_exceeds_revenue_flag,
                sources AS "sources: Json<BTreeMap<String, String>>", enterprise_version,
                submitted_at, submitted_by
             FROM census_returns
             WHERE uscc = $1 AND ($2::timestamptz IS NULL OR submitted_at <= $2)
             ORDER BY period, revision DESC"#,
            uscc.as_str(),
            view.as_of,
        )
        .fetch_all(&mut *conn)
        .await
    }
}

/// The totals of `period` (its code) per park, one row per park with returns.
async fn totals_by_park(pool: &sqlx::PgPool, code: &str) -> sqlx::Result<Vec<GroupRow>> {
    sqlx::query_as!(
                    GroupRow,
                    r#"WITH latest AS (
                    SELECT DISTINCT ON (uscc) *
                    FROM census_returns
                    WHERE period = $1
                    ORDER BY uscc, revision DESC
                )
                SELECT v.park AS "key!",
                    count(*)::bigint AS "enterprises!",
                    LEAST(sum(l.employees_total), 9223372036854775807)::bigint AS "employees!",
                    LEAST(sum(l.rd_spend_fen), 9223372036854775807)::bigint AS "rd_spend_fen!",
                    LEAST(sum(l.invention_patents::numeric + l.utility_model_patents + l.design_patents),
                          9223372036854775807)::bigint AS "patents!",
                    LEAST(sum(l.industrial_output_fen), 9223372036854775807)::bigint AS "output_fen!",
                    LEAST(sum(l.tax_paid_fen), 9223372036854775807)::bigint AS "tax_fen!",
                    LEAST(sum(l.export_sales_fen), 9223372036854775807)::bigint AS "export_fen!"
                FROM latest l
                JOIN enterprises e ON e.uscc = l.uscc
                JOIN enterprise_versions v ON v.uscc = e.uscc AND v.version = e.current_version
                GROUP BY v.park"#,
                    code,
                )
                .fetch_all(pool)
                .await
}

/// The totals of `period` (its code) per segment, one row per segment with returns.
async fn totals_by_segment(pool: &sqlx::PgPool, code: &str) -> sqlx::Result<Vec<GroupRow>> {
    sqlx::query_as!(
                    GroupRow,
                    r#"WITH latest AS (
                    SELECT DISTINCT ON (uscc) *
                    FROM census_returns
                    WHERE period = $1
                    ORDER BY uscc, revision DESC
                )
                SELECT v.segment AS "key!",
                    count(*)::bigint AS "enterprises!",
                    LEAST(sum(l.employees_total), 9223372036854775807)::bigint AS "employees!",
                    LEAST(sum(l.rd_spend_fen), 9223372036854775807)::bigint AS "rd_spend_fen!",
                    LEAST(sum(l.invention_patents::numeric + l.utility_model_patents + l.design_patents),
                          9223372036854775807)::bigint AS "patents!",
                    LEAST(sum(l.industrial_output_fen), 9223372036854775807)::bigint AS "output_fen!",
                    LEAST(sum(l.tax_paid_fen), 9223372036854775807)::bigint AS "tax_fen!",
                    LEAST(sum(l.export_sales_fen), 9223372036854775807)::bigint AS "export_fen!"
                FROM latest l
                JOIN enterprises e ON e.uscc = l.uscc
                JOIN enterprise_versions v ON v.uscc = e.uscc AND v.version = e.current_version
                GROUP BY v.segment"#,
                    code,
                )
                .fetch_all(pool)
                .await
}
