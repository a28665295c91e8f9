//! The read model kept from events: from the census each firm's size, tax-credit veto and
//! export sales per period; from classification its class of the latest period. The
//! consumers write it in their inbox transaction; applications and the allocation read it.

use chrono::{DateTime, Utc};
use platform::period::Period;
use sqlx::PgConnection;

use super::{Result, corrupt};
use crate::domain::{
    Class,
    eligibility::{FirmFacts, annual_export_sales},
};

/// What the census says about an enterprise's registry record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnterpriseRecord {
    pub uscc: String,
    pub name: String,
    pub small_firm: bool,
    pub tax_credit_violation: bool,
    pub segment: i32,
    pub version: i64,
}

/// Applies a registry record unless a newer version is stored.
pub async fn apply_enterprise(conn: &mut PgConnection, e: &EnterpriseRecord) -> Result<bool> {
    let changed = sqlx::query(
        "INSERT INTO enterprises (uscc, name, small_firm, tax_credit_violation, segment, record_version)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (uscc) DO UPDATE SET name = EXCLUDED.name, small_firm = EXCLUDED.small_firm,
             tax_credit_violation = EXCLUDED.tax_credit_violation, segment = EXCLUDED.segment,
             record_version = EXCLUDED.record_version
         WHERE enterprises.record_version < EXCLUDED.record_version",
    )
    .bind(&e.uscc)
    .bind(&e.name)
    .bind(e.small_firm)
    .bind(e.tax_credit_violation)
    .bind(e.segment)
    .bind(e.version)
    .execute(conn)
    .await?
    .rows_affected()
        > 0;
    Ok(changed)
}

/// Applies the export sales of a return revision unless a later revision is stored; a firm
/// seen first through a return is created without vetoes until its record arrives.
pub async fn apply_return(
    conn: &mut PgConnection,
    uscc: &str,
    name: &str,
    segment: i32,
    period: Period,
    revision: i64,
    export_sales_fen: i64,
) -> Result<bool> {
    sqlx::query(
        "INSERT INTO enterprises (uscc, name, segment) VALUES ($1, $2, $3) ON CONFLICT (uscc) DO NOTHING",
    )
    .bind(uscc)
    .bind(name)
    .bind(segment)
    .execute(&mut *conn)
    .await?;
    let changed = sqlx::query(
        "INSERT INTO census_exports (uscc, period, revision, export_sales_fen) VALUES ($1, $2, $3, $4)
         ON CONFLICT (uscc, period) DO UPDATE SET revision = EXCLUDED.revision,
             export_sales_fen = EXCLUDED.export_sales_fen
         WHERE census_exports.revision < EXCLUDED.revision",
    )
    .bind(uscc)
    .bind(period.code())
    .bind(revision)
    .bind(export_sales_fen)
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
    let before: Option<(Option<String>, i32)> = sqlx::query_as(
        "SELECT enterprise_class, period_key FROM enterprise_classes WHERE uscc = $1 FOR UPDATE",
    )
    .bind(uscc)
    .fetch_optional(&mut *conn)
    .await?;
    let key = period.completion_key();
    let previous = match before {
        Some((_, stored_key)) if stored_key > key => return Ok(None),
        Some((stored, _)) => parse_class(stored.as_deref())?,
        None => None,
    };
    sqlx::query(
        "INSERT INTO enterprise_classes (uscc, enterprise_class, period, period_key, classified_at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (uscc) DO UPDATE SET enterprise_class = EXCLUDED.enterprise_class,
             period = EXCLUDED.period, period_key = EXCLUDED.period_key, classified_at = EXCLUDED.classified_at",
    )
    .bind(uscc)
    .bind(class.map(Class::letter))
    .bind(period.code())
    .bind(key)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(Some(previous))
}

pub(crate) fn parse_class(stored: Option<&str>) -> Result<Option<Class>> {
    stored
        .map(|letter| Class::parse(letter).ok_or_else(|| corrupt("class", letter)))
        .transpose()
}

/// Everything the rules need to know about one firm.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Firm {
    pub facts: FirmFacts,
    pub small_firm: bool,
    pub class: Option<Class>,
}

/// The read model's view of `uscc` (unknown firms come back with `facts.known == false`).
pub async fn firm(conn: &mut PgConnection, uscc: &str) -> Result<Firm> {
    let record: Option<(bool, bool, i64)> = sqlx::query_as(
        "SELECT small_firm, tax_credit_violation, record_version FROM enterprises WHERE uscc = $1",
    )
    .bind(uscc)
    .fetch_optional(&mut *conn)
    .await?;
    let class: Option<Option<String>> =
        sqlx::query_scalar("SELECT enterprise_class FROM enterprise_classes WHERE uscc = $1")
            .bind(uscc)
            .fetch_optional(&mut *conn)
            .await?;
    let exports = export_returns(conn, uscc).await?;
    let (small_firm, tax_credit_violation, known) = match record {
        Some((small, veto, _)) => (small, veto, true),
        None => (false, false, false),
    };
    Ok(Firm {
        facts: FirmFacts {
            known,
            tax_credit_violation,
            export_sales_fen: annual_export_sales(&exports),
        },
        small_firm,
        class: parse_class(class.flatten().as_deref())?,
    })
}

/// The firm's export sales per period.
pub async fn export_returns(conn: &mut PgConnection, uscc: &str) -> Result<Vec<(Period, i64)>> {
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT period, export_sales_fen FROM census_exports WHERE uscc = $1")
            .bind(uscc)
            .fetch_all(conn)
            .await?;
    rows.into_iter()
        .map(|(code, sales)| {
            Period::parse(&code)
                .map(|p| (p, sales))
                .map_err(|_| corrupt("period", &code))
        })
        .collect()
}

/// Every firm whose latest class is A.
pub async fn class_a(conn: &mut PgConnection) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT uscc FROM enterprise_classes WHERE enterprise_class = 'A' ORDER BY uscc",
    )
    .fetch_all(conn)
    .await?)
}
