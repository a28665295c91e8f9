//! The read model kept from events: enterprises (census), yearly return figures (census)
//! and classes (classification). Applied inside the inbox transaction of each event.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::domain::{Enterprise, Park, Segment, evaluation::Figures, queue::Class};

/// An enterprise's record as an event carries it.
#[derive(Debug, Clone)]
pub struct EnterpriseRecord {
    pub uscc: String,
    pub name: String,
    pub active: bool,
    pub segment: Option<Segment>,
    pub park: Option<Park>,
    pub version: i64,
}

/// Applies a registry record unless a newer version is known.
pub async fn apply_enterprise(conn: &mut PgConnection, e: &EnterpriseRecord) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO enterprises (uscc, name, active, segment, park, version)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (uscc) DO UPDATE SET
             name = excluded.name, active = excluded.active, segment = excluded.segment,
             park = excluded.park, version = excluded.version, updated_at = now()
         WHERE enterprises.version <= excluded.version",
    )
    .bind(&e.uscc)
    .bind(&e.name)
    .bind(e.active)
    .bind(e.segment.map(Segment::as_str))
    .bind(e.park.map(Park::as_str))
    .bind(e.version)
    .execute(conn)
    .await?;
    Ok(())
}

/// Keeps a yearly return if it is a newer revision than the one known; true if it was kept.
pub async fn apply_return(
    conn: &mut PgConnection,
    uscc: &str,
    year: i32,
    revision: i64,
    figures: &Figures,
    submitted_at: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let kept = sqlx::query(
        "INSERT INTO census_returns (uscc, year, revision, output_fen, tax_fen, energy_tce, submitted_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (uscc, year) DO UPDATE SET
             revision = excluded.revision, output_fen = excluded.output_fen,
             tax_fen = excluded.tax_fen, energy_tce = excluded.energy_tce,
             submitted_at = excluded.submitted_at
         WHERE census_returns.revision < excluded.revision",
    )
    .bind(uscc)
    .bind(year)
    .bind(revision)
    .bind(figures.output_fen)
    .bind(figures.tax_fen)
    .bind(figures.energy_tce)
    .bind(submitted_at)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(kept == 1)
}

/// The latest yearly return before `year`, for the trend.
pub async fn previous_return(
    conn: &mut PgConnection,
    uscc: &str,
    year: i32,
) -> sqlx::Result<Option<(i32, Figures)>> {
    let row: Option<(i32, i64, i64, Option<f64>)> = sqlx::query_as(
        "SELECT year, output_fen, tax_fen, energy_tce FROM census_returns
         WHERE uscc = $1 AND year < $2 ORDER BY year DESC LIMIT 1",
    )
    .bind(uscc)
    .bind(year)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|(year, output_fen, tax_fen, energy_tce)| {
        (
            year,
            Figures {
                output_fen,
                tax_fen,
                energy_tce,
            },
        )
    }))
}

/// Applies a class unless one of a later period, or a later classification of the same
/// period, is known. `period` is the census period code (`2025`, `2025Q3`): codes of one
/// year sort the year before its quarters, as the periods do.
pub async fn apply_class(
    conn: &mut PgConnection,
    uscc: &str,
    period: &str,
    class: Option<Class>,
    score: f64,
    classified_at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO classes (uscc, period, class, score, classified_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (uscc) DO UPDATE SET
             period = excluded.period, class = excluded.class, score = excluded.score,
             classified_at = excluded.classified_at
         WHERE (classes.period, classes.classified_at) <= (excluded.period, excluded.classified_at)",
    )
    .bind(uscc)
    .bind(period)
    .bind(class.map(Class::as_str))
    .bind(score)
    .bind(classified_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// uscc, name, active, segment, park.
type EnterpriseRow = (String, String, bool, Option<String>, Option<String>);

/// An enterprise as known here.
pub async fn enterprise(conn: &mut PgConnection, uscc: &str) -> sqlx::Result<Option<Enterprise>> {
    let row: Option<EnterpriseRow> =
        sqlx::query_as("SELECT uscc, name, active, segment, park FROM enterprises WHERE uscc = $1")
            .bind(uscc)
            .fetch_optional(conn)
            .await?;
    Ok(row.map(|(uscc, name, active, segment, park)| Enterprise {
        uscc,
        name,
        active,
        segment: segment.as_deref().and_then(Segment::parse),
        park: park.as_deref().and_then(Park::parse),
    }))
}
