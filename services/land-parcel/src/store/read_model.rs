//! The read model kept from events: enterprises (census), yearly return figures (census)
//! and classes (classification). Applied inside the inbox transaction of each event.

use chrono::{DateTime, Utc};
use platform::{Class, Park, Segment};
use sqlx::PgConnection;

use super::{Result, Store};
use crate::domain::{
    Enterprise,
    evaluation::{Figures, ReturnFacts},
};

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

/// Keeps a yearly return if it is a newer revision than the one known; true if it was kept.
pub(super) async fn apply_return(
    conn: &mut PgConnection,
    facts: &ReturnFacts<'_>,
) -> sqlx::Result<bool> {
    let kept = sqlx::query!(
        "INSERT INTO census_returns (uscc, year, revision, output_fen, tax_fen, energy_tce, submitted_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (uscc, year) DO UPDATE SET
             revision = excluded.revision, output_fen = excluded.output_fen,
             tax_fen = excluded.tax_fen, energy_tce = excluded.energy_tce,
             submitted_at = excluded.submitted_at
         WHERE census_returns.revision < excluded.revision",
        facts.uscc,
        facts.year,
        facts.revision,
        facts.figures.output_fen,
        facts.figures.tax_fen,
        facts.figures.energy_tce,
        facts.submitted_at,
    )
    .execute(conn)
    .await?
    .rows_affected();
    Ok(kept == 1)
}

/// The latest yearly return before `year`, for the trend.
pub(super) async fn previous_return(
    conn: &mut PgConnection,
    uscc: &str,
    year: i32,
) -> sqlx::Result<Option<(i32, Figures)>> {
    let row = sqlx::query!(
        "SELECT year, output_fen, tax_fen, energy_tce FROM census_returns
         WHERE uscc = $1 AND year < $2 ORDER BY year DESC LIMIT 1",
        uscc,
        year
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| {
        (
            r.year,
            Figures {
                output_fen: r.output_fen,
                tax_fen: r.tax_fen,
                energy_tce: r.energy_tce,
            },
        )
    }))
}

/// An enterprise as known here.
pub(super) async fn enterprise(
    conn: &mut PgConnection,
    uscc: &str,
) -> sqlx::Result<Option<Enterprise>> {
    let row = sqlx::query!(
        r#"SELECT uscc, name, active, segment AS "segment: Segment", park AS "park: Park"
        FROM enterprises WHERE uscc = $1"#,
        uscc
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| Enterprise {
        uscc: r.uscc,
        name: r.name,
        active: r.active,
        segment: r.segment,
        park: r.park,
    }))
}

impl Store {
    /// Applies a registry record unless a newer version is known.
    pub async fn apply_enterprise(
        &self,
        conn: &mut PgConnection,
        e: &EnterpriseRecord,
    ) -> Result<()> {
        sqlx::query!(
            "INSERT INTO enterprises (uscc, name, active, segment, park, version)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (uscc) DO UPDATE SET
                 name = excluded.name, active = excluded.active, segment = excluded.segment,
                 park = excluded.park, version = excluded.version, updated_at = now()
             WHERE enterprises.version <= excluded.version",
            e.uscc,
            e.name,
            e.active,
            e.segment.map(Segment::as_str),
            e.park.map(Park::as_str),
            e.version,
        )
        .execute(conn)
        .await?;
        Ok(())
    }

    /// Applies a class unless one of a later period, or a later classification of the same
    /// period, is known. `period` is the census period code (`2025`, `2025Q3`): codes of one
    /// year sort the year before its quarters, as the periods do.
    pub async fn apply_class(
        &self,
        conn: &mut PgConnection,
        uscc: &str,
        period: &str,
        class: Option<Class>,
        score: f64,
        classified_at: DateTime<Utc>,
    ) -> Result<()> {
        sqlx::query!(
            "INSERT INTO classes (uscc, period, class, score, classified_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (uscc) DO UPDATE SET
                 period = excluded.period, class = excluded.class, score = excluded.score,
                 classified_at = excluded.classified_at
             WHERE (classes.period, classes.classified_at) <= (excluded.period, excluded.classified_at)",
            uscc,
            period,
            class.map(Class::as_str),
            score,
            classified_at,
        )
        .execute(conn)
        .await?;
        Ok(())
    }
}
