//! The read model kept from events: from the census each firm's size, tax-credit veto,
//! segment and export sales per period; from classification its class of the latest period.
//! The consumers write it in their inbox transaction; applications and the allocation read it.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use platform::period::Period;
use sqlx::PgConnection;

use super::{Result, corrupt};
use crate::domain::{
    Class, Segment,
    eligibility::{FirmFacts, annual_export_sales},
    registration::Firm,
};

/// What the census says about an enterprise's registry record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnterpriseRecord {
    pub uscc: String,
    pub name: String,
    pub small_firm: bool,
    pub tax_credit_violation: bool,
    /// `None`: the census gives none (outside the cluster).
    pub segment: Option<Segment>,
    pub version: i64,
}

/// A census return's export sales.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnRecord<'a> {
    pub uscc: &'a str,
    pub name: &'a str,
    pub segment: Option<Segment>,
    pub period: Period,
    pub revision: i64,
    pub export_sales_fen: i64,
}

/// Applies a registry record unless a newer version is stored.
pub async fn apply_enterprise(conn: &mut PgConnection, e: &EnterpriseRecord) -> Result<bool> {
    let changed = sqlx::query!(
        "INSERT INTO enterprises (uscc, name, small_firm, tax_credit_violation, segment, record_version)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (uscc) DO UPDATE SET name = EXCLUDED.name, small_firm = EXCLUDED.small_firm,
             tax_credit_violation = EXCLUDED.tax_credit_violation, segment = EXCLUDED.segment,
             record_version = EXCLUDED.record_version
         WHERE enterprises.record_version < EXCLUDED.record_version",
        e.uscc,
        e.name,
        e.small_firm,
        e.tax_credit_violation,
        e.segment as Option<Segment>,
        e.version
    )
    .execute(conn)
    .await?
    .rows_affected()
        > 0;
    Ok(changed)
}

/// Applies the export sales of a return revision unless a later revision is stored; a firm
/// seen first through a return is created without vetoes until its record arrives.
pub async fn apply_return(conn: &mut PgConnection, r: &ReturnRecord<'_>) -> Result<bool> {
    sqlx::query!(
        "INSERT INTO enterprises (uscc, name, segment) VALUES ($1, $2, $3) ON CONFLICT (uscc) DO NOTHING",
        r.uscc,
        r.name,
        r.segment as Option<Segment>
    )
    .execute(&mut *conn)
    .await?;
    let changed = sqlx::query!(
        "INSERT INTO census_exports (uscc, period, revision, export_sales_fen) VALUES ($1, $2, $3, $4)
         ON CONFLICT (uscc, period) DO UPDATE SET revision = EXCLUDED.revision,
             export_sales_fen = EXCLUDED.export_sales_fen
         WHERE census_exports.revision < EXCLUDED.revision",
        r.uscc,
        r.period.code(),
        r.revision,
        r.export_sales_fen
    )
    .execute(conn)
    .await?
    .rows_affected()
        > 0;
    Ok(changed)
}

/// Stores a class of `period` unless a later period's class is stored; returns the class
/// stored before when it was applied (`Some(None)`: the firm had none).
pub async fn apply_class(
    conn: &mut PgConnection,
    uscc: &str,
    class: Option<Class>,
    period: Period,
    at: DateTime<Utc>,
) -> Result<Option<Option<Class>>> {
    let before = sqlx::query!(
        r#"SELECT enterprise_class AS "class: Class", period_key FROM enterprise_classes WHERE uscc = $1 FOR UPDATE"#,
        uscc
    )
    .fetch_optional(&mut *conn)
    .await?;
    let key = period.completion_key();
    let previous = match before {
        Some(stored) if stored.period_key > key => return Ok(None),
        Some(stored) => stored.class,
        None => None,
    };
    sqlx::query!(
        "INSERT INTO enterprise_classes (uscc, enterprise_class, period, period_key, classified_at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (uscc) DO UPDATE SET enterprise_class = EXCLUDED.enterprise_class,
             period = EXCLUDED.period, period_key = EXCLUDED.period_key, classified_at = EXCLUDED.classified_at",
        uscc,
        class as Option<Class>,
        period.code(),
        key,
        at
    )
    .execute(conn)
    .await?;
    Ok(Some(previous))
}

/// The read model's view of `uscc` (unknown firms come back with `facts.known == false`).
pub(super) async fn firm(conn: &mut PgConnection, uscc: &str) -> Result<Firm> {
    let record = sqlx::query!(
        r#"SELECT small_firm, tax_credit_violation, segment AS "segment: Segment"
           FROM enterprises WHERE uscc = $1"#,
        uscc
    )
    .fetch_optional(&mut *conn)
    .await?;
    let class = sqlx::query_scalar!(
        r#"SELECT enterprise_class AS "class: Class" FROM enterprise_classes WHERE uscc = $1"#,
        uscc
    )
    .fetch_optional(&mut *conn)
    .await?
    .flatten();
    let exports = export_returns(conn, uscc).await?;
    let (small_firm, tax_credit_violation, segment, known) = match record {
        Some(r) => (r.small_firm, r.tax_credit_violation, r.segment, true),
        None => (false, false, None, false),
    };
    Ok(Firm {
        facts: FirmFacts {
            known,
            tax_credit_violation,
            segment,
            export_sales_fen: annual_export_sales(&exports),
        },
        small_firm,
        class,
    })
}

/// [`firm`] of each of `usccs`, in their order, in three statements whatever their number
/// (the allocation reads every applicant's firm at once).
pub(super) async fn firms(conn: &mut PgConnection, usccs: &[String]) -> Result<Vec<Firm>> {
    let records: HashMap<String, (bool, bool, Option<Segment>)> = sqlx::query!(
        r#"SELECT uscc, small_firm, tax_credit_violation, segment AS "segment: Segment"
           FROM enterprises WHERE uscc = ANY($1)"#,
        usccs
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|r| (r.uscc, (r.small_firm, r.tax_credit_violation, r.segment)))
    .collect();
    let classes: HashMap<String, Option<Class>> = sqlx::query!(
        r#"SELECT uscc, enterprise_class AS "class: Class" FROM enterprise_classes WHERE uscc = ANY($1)"#,
        usccs
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|r| (r.uscc, r.class))
    .collect();
    let mut exports: HashMap<String, Vec<(Period, i64)>> = HashMap::new();
    for row in sqlx::query!(
        "SELECT uscc, period, export_sales_fen FROM census_exports WHERE uscc = ANY($1)",
        usccs
    )
    .fetch_all(conn)
    .await?
    {
        let period = Period::parse(&row.period).map_err(|_| corrupt("period", &row.period))?;
        exports
            .entry(row.uscc)
            .or_default()
            .push((period, row.export_sales_fen));
    }
    Ok(usccs
        .iter()
        .map(|uscc| {
            let (small_firm, tax_credit_violation, segment, known) = match records.get(uscc) {
                Some(&(small, veto, segment)) => (small, veto, segment, true),
                None => (false, false, None, false),
            };
            let returns = exports.get(uscc).map_or(&[][..], Vec::as_slice);
            Firm {
                facts: FirmFacts {
                    known,
                    tax_credit_violation,
                    segment,
                    export_sales_fen: annual_export_sales(returns),
                },
                small_firm,
                class: classes.get(uscc).copied().flatten(),
            }
        })
        .collect())
}

/// The firm's export sales per period.
pub(super) async fn export_returns(
    conn: &mut PgConnection,
    uscc: &str,
) -> Result<Vec<(Period, i64)>> {
    sqlx::query!(
        "SELECT period, export_sales_fen FROM census_exports WHERE uscc = $1",
        uscc
    )
    .fetch_all(conn)
    .await?
    .into_iter()
    .map(|row| {
        Period::parse(&row.period)
            .map(|p| (p, row.export_sales_fen))
            .map_err(|_| corrupt("period", &row.period))
    })
    .collect()
}

/// Every firm whose latest class is A.
pub(super) async fn class_a(conn: &mut PgConnection) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar!(
        "SELECT uscc FROM enterprise_classes WHERE enterprise_class = 'A' ORDER BY uscc"
    )
    .fetch_all(conn)
    .await?)
}
