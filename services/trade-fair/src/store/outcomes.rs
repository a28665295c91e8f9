//! Outcomes (成效) per registration, and the reports built on them: per fair, per enterprise
//! (with the follow-through of intended orders against later census export sales), and
//! signed export orders per year.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Utc};
use haicheng_proto::fair::v1 as pb;
use platform::{Outbox, period::Period};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::{
    Result, StoreError, events, lock_fair, read_model,
    registrations::{self, Status},
};
use crate::{convert, domain::eligibility::annual_export_sales};

/// A recorded outcome.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Outcome {
    pub registration_id: Uuid,
    pub fair_id: Uuid,
    pub uscc: String,
    pub leads: i32,
    pub intended_orders_fen: i64,
    pub signed_export_orders_fen: i64,
    pub recorded_at: DateTime<Utc>,
}

/// The figures of an outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Figures {
    pub leads: i32,
    pub intended_orders_fen: i64,
    pub signed_export_orders_fen: i64,
}

const COLUMNS: &str = "registration_id, fair_id, uscc, leads, intended_orders_fen, signed_export_orders_fen, recorded_at";

/// Records (or replaces) the outcome of a confirmed registration.
pub async fn record(
    pool: &PgPool,
    outbox: &Outbox,
    registration_id: Uuid,
    f: Figures,
    now: DateTime<Utc>,
) -> Result<Outcome> {
    let mut tx = pool.begin().await?;
    let r = registrations::get(&mut tx, registration_id).await?;
    lock_fair(&mut tx, r.fair_id).await?;
    let r = registrations::get(&mut tx, registration_id).await?;
    if r.status != Status::Confirmed {
        return Err(StoreError::Precondition(format!(
            "only a confirmed registration has an outcome; this one is {}",
            r.status.as_str()
        )));
    }
    let outcome: Outcome = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO outcomes ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (registration_id) DO UPDATE SET leads = EXCLUDED.leads,
             intended_orders_fen = EXCLUDED.intended_orders_fen,
             signed_export_orders_fen = EXCLUDED.signed_export_orders_fen, recorded_at = EXCLUDED.recorded_at
         RETURNING {COLUMNS}"
    )))
    .bind(r.id)
    .bind(r.fair_id)
    .bind(&r.uscc)
    .bind(f.leads)
    .bind(f.intended_orders_fen)
    .bind(f.signed_export_orders_fen)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    let event = pb::OutcomeRecorded {
        outcome: Some(convert::outcome(&outcome)),
    };
    events::publish(&mut tx, outbox, r.fair_id, &r.uscc, &event).await?;
    tx.commit().await?;
    Ok(outcome)
}

pub async fn of_registration(
    conn: &mut PgConnection,
    registration_id: Uuid,
) -> Result<Option<Outcome>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM outcomes WHERE registration_id = $1"
    )))
    .bind(registration_id)
    .fetch_optional(conn)
    .await?)
}

/// Counts and totals of one fair.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FairReport {
    pub invitations: i64,
    pub confirmed: i64,
    pub waitlisted: i64,
    pub cancelled: i64,
    pub booths_taken: i64,
    pub outcomes: Vec<Outcome>,
    pub subsidies_fen: i64,
}

pub async fn fair_report(pool: &PgPool, fair_id: Uuid) -> Result<FairReport> {
    let mut conn = pool.acquire().await?;
    let registrations = registrations::of_fair(&mut conn, fair_id).await?;
    let count = |s: Status| registrations.iter().filter(|r| r.status == s).count() as i64;
    let invitations: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM invitations WHERE fair_id = $1 AND status <> 'withdrawn'",
    )
    .bind(fair_id)
    .fetch_one(&mut *conn)
    .await?;
    let outcomes: Vec<Outcome> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM outcomes WHERE fair_id = $1 ORDER BY recorded_at, registration_id"
    )))
    .bind(fair_id)
    .fetch_all(&mut *conn)
    .await?;
    let subsidies_fen: i64 = sqlx::query_scalar(
        "SELECT COALESCE(sum(amount_fen), 0)::bigint FROM subsidies WHERE fair_id = $1",
    )
    .bind(fair_id)
    .fetch_one(&mut *conn)
    .await?;
    Ok(FairReport {
        invitations,
        confirmed: count(Status::Confirmed),
        waitlisted: count(Status::Waitlisted),
        cancelled: count(Status::Cancelled),
        booths_taken: registrations
            .iter()
            .filter(|r| r.status == Status::Confirmed)
            .map(|r| i64::from(r.draw.total()))
            .sum(),
        outcomes,
        subsidies_fen,
    })
}

/// One year of an enterprise's fairs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Year {
    pub year: i32,
    pub fairs: i32,
    pub intended_orders_fen: i64,
    pub signed_export_orders_fen: i64,
    pub census_export_sales_fen: Option<i64>,
}

impl Year {
    /// Census export sales over intended orders, percent.
    pub fn follow_through_percent(&self) -> Option<f64> {
        match (self.census_export_sales_fen, self.intended_orders_fen) {
            (Some(census), intended) if intended > 0 => {
                Some(census as f64 * 100.0 / intended as f64)
            }
            _ => None,
        }
    }
}

/// An enterprise's registrations, outcomes and years.
pub async fn enterprise_report(
    pool: &PgPool,
    uscc: &str,
) -> Result<(Vec<registrations::Registration>, Vec<Outcome>, Vec<Year>)> {
    let mut conn = pool.acquire().await?;
    let regs = registrations::of_enterprise(&mut conn, uscc).await?;
    let rows: Vec<(Outcome, DateTime<Utc>)> = {
        let outcomes: Vec<Outcome> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM outcomes WHERE uscc = $1 ORDER BY recorded_at, registration_id"
        )))
        .bind(uscc)
        .fetch_all(&mut *conn)
        .await?;
        let mut with_start = Vec::new();
        for o in outcomes {
            let starts_at: DateTime<Utc> =
                sqlx::query_scalar("SELECT starts_at FROM fairs WHERE id = $1")
                    .bind(o.fair_id)
                    .fetch_one(&mut *conn)
                    .await?;
            with_start.push((o, starts_at));
        }
        with_start
    };
    let exports = read_model::export_returns(&mut conn, uscc).await?;
    let mut years: BTreeMap<i32, Year> = BTreeMap::new();
    for r in regs.iter().filter(|r| r.status == Status::Confirmed) {
        let starts_at: DateTime<Utc> =
            sqlx::query_scalar("SELECT starts_at FROM fairs WHERE id = $1")
                .bind(r.fair_id)
                .fetch_one(&mut *conn)
                .await?;
        let year = years.entry(starts_at.year()).or_insert_with(|| Year {
            year: starts_at.year(),
            ..Year::default()
        });
        year.fairs += 1;
    }
    for (o, starts_at) in &rows {
        let year = years.entry(starts_at.year()).or_insert_with(|| Year {
            year: starts_at.year(),
            ..Year::default()
        });
        year.intended_orders_fen += o.intended_orders_fen;
        year.signed_export_orders_fen += o.signed_export_orders_fen;
    }
    for year in years.values_mut() {
        let of_year: Vec<(Period, i64)> = exports
            .iter()
            .filter(|(p, _)| p.end().year() == year.year)
            .copied()
            .collect();
        year.census_export_sales_fen = annual_export_sales(&of_year);
    }
    Ok((
        regs,
        rows.into_iter().map(|(o, _)| o).collect(),
        years.into_values().collect(),
    ))
}

/// Signed export orders per year of the fairs' start.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ExportTotal {
    pub year: i32,
    pub fairs: i64,
    pub signed_export_orders_fen: i64,
    pub intended_orders_fen: i64,
}

pub async fn export_totals(
    pool: &PgPool,
    from_year: Option<i32>,
    to_year: Option<i32>,
) -> Result<Vec<ExportTotal>> {
    Ok(sqlx::query_as(
        "SELECT year, count(DISTINCT fair_id) AS fairs, sum(signed)::bigint AS signed_export_orders_fen,
                sum(intended)::bigint AS intended_orders_fen
         FROM (SELECT extract(year FROM f.starts_at AT TIME ZONE 'UTC')::int AS year, o.fair_id,
                      o.signed_export_orders_fen AS signed, o.intended_orders_fen AS intended
               FROM outcomes o JOIN fairs f ON f.id = o.fair_id) x
         WHERE ($1::int IS NULL OR year >= $1) AND ($2::int IS NULL OR year <= $2)
         GROUP BY year ORDER BY year",
    )
    .bind(from_year)
    .bind(to_year)
    .fetch_all(pool)
    .await?)
}
