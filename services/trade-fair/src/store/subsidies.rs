//! Subsidy claims against the yearly budget. The budget row of the year is locked by every
//! claim, so the per-firm cap and the budget are checked one claim at a time; the table's
//! check (`granted_fen <= budget_fen`) refuses an overspend regardless.

use chrono::{DateTime, Datelike, Utc};
use haicheng_proto::fair::v1 as pb;
use platform::Outbox;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::{
    Result, StoreError, events, fairs, lock_fair, outcomes,
    registrations::{self, Status},
};
use crate::{
    config::Rules,
    convert,
    domain::subsidy::{self, Limit},
};

/// A granted subsidy.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Subsidy {
    pub registration_id: Uuid,
    pub fair_id: Uuid,
    pub uscc: String,
    pub year: i32,
    pub amount_fen: i64,
    pub percent: i32,
    pub limited_by: Vec<String>,
    pub granted_at: DateTime<Utc>,
}

/// A year's budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct Budget {
    pub year: i32,
    pub budget_fen: i64,
    pub granted_fen: i64,
}

const COLUMNS: &str =
    "registration_id, fair_id, uscc, year, amount_fen, percent, limited_by, granted_at";

fn limit_name(limit: Limit) -> &'static str {
    match limit {
        Limit::PerBooth => "per_booth",
        Limit::PerFirmYear => "per_firm_year",
        Limit::Budget => "budget",
    }
}

/// Locks the year's budget row, creating it with the default budget if absent.
async fn lock_budget(conn: &mut PgConnection, year: i32, default_fen: i64) -> Result<Budget> {
    sqlx::query("INSERT INTO subsidy_budgets (year, budget_fen) VALUES ($1, $2) ON CONFLICT (year) DO NOTHING")
        .bind(year)
        .bind(default_fen)
        .execute(&mut *conn)
        .await?;
    Ok(sqlx::query_as(
        "SELECT year, budget_fen, granted_fen FROM subsidy_budgets WHERE year = $1 FOR UPDATE",
    )
    .bind(year)
    .fetch_one(conn)
    .await?)
}

/// Grants the subsidy of a confirmed registration at an external fair with an outcome.
pub async fn claim(
    pool: &PgPool,
    outbox: &Outbox,
    rules: &Rules,
    registration_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Subsidy> {
    let mut tx = pool.begin().await?;
    // The fair first (as every booth-moving write), so the registration cannot be cancelled
    // under the claim; then the year's budget.
    let fair_id = registrations::get(&mut tx, registration_id).await?.fair_id;
    lock_fair(&mut tx, fair_id).await?;
    let r = registrations::get(&mut tx, registration_id).await?;
    let fair = fairs::get(&mut tx, r.fair_id).await?;
    let year = fair.spec.starts_at.year();
    let budget = lock_budget(&mut tx, year, rules.default_yearly_budget_fen).await?;
    if !fair.spec.kind.is_external() {
        return Err(StoreError::Precondition(
            "only external fairs are subsidised".into(),
        ));
    }
    if r.status != Status::Confirmed {
        return Err(StoreError::Precondition(format!(
            "the registration is {}, not confirmed",
            r.status.as_str()
        )));
    }
    if outcomes::of_registration(&mut tx, r.id).await?.is_none() {
        return Err(StoreError::Precondition(
            "record the outcome before claiming the subsidy".into(),
        ));
    }
    let claimed: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM subsidies WHERE registration_id = $1)")
            .bind(r.id)
            .fetch_one(&mut *tx)
            .await?;
    if claimed {
        return Err(StoreError::AlreadyExists(format!(
            "a subsidy for registration {}",
            r.id
        )));
    }
    let firm_granted: i64 = sqlx::query_scalar(
        "SELECT COALESCE(sum(amount_fen), 0)::bigint FROM subsidies WHERE uscc = $1 AND year = $2",
    )
    .bind(&r.uscc)
    .bind(year)
    .fetch_one(&mut *tx)
    .await?;
    let fee = fair
        .spec
        .inventory_of(r.booth_type)
        .map_or(0, |i| i.fee_fen);
    let award = subsidy::award(
        &rules.subsidy,
        fair.spec.market,
        fee,
        r.draw.total(),
        firm_granted,
        budget.budget_fen - budget.granted_fen,
    )
    .map_err(|why| StoreError::Precondition(why.to_string()))?;
    let limited: Vec<&str> = award.limited_by.iter().copied().map(limit_name).collect();
    let granted: Subsidy = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO subsidies ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {COLUMNS}"
    )))
    .bind(r.id)
    .bind(r.fair_id)
    .bind(&r.uscc)
    .bind(year)
    .bind(award.amount_fen)
    .bind(award.percent as i32)
    .bind(&limited)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query("UPDATE subsidy_budgets SET granted_fen = granted_fen + $2 WHERE year = $1")
        .bind(year)
        .bind(award.amount_fen)
        .execute(&mut *tx)
        .await?;
    let event = pb::SubsidyGranted {
        subsidy: Some(convert::subsidy(&granted)),
    };
    events::publish(&mut tx, outbox, r.fair_id, &r.uscc, &event).await?;
    tx.commit().await?;
    Ok(granted)
}

pub async fn list(pool: &PgPool, year: i32, uscc: Option<&str>) -> Result<Vec<Subsidy>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM subsidies WHERE year = $1 AND ($2::text IS NULL OR uscc = $2)
         ORDER BY granted_at, registration_id"
    )))
    .bind(year)
    .bind(uscc)
    .fetch_all(pool)
    .await?)
}

/// Sets a year's budget; never below what is granted.
pub async fn set_budget(
    pool: &PgPool,
    rules: &Rules,
    year: i32,
    budget_fen: i64,
) -> Result<Budget> {
    let mut tx = pool.begin().await?;
    let current = lock_budget(&mut tx, year, rules.default_yearly_budget_fen).await?;
    if budget_fen < current.granted_fen {
        return Err(StoreError::Precondition(format!(
            "{} fen are already granted for {year}; the budget cannot be lower",
            current.granted_fen
        )));
    }
    let budget: Budget = sqlx::query_as(
        "UPDATE subsidy_budgets SET budget_fen = $2 WHERE year = $1 RETURNING year, budget_fen, granted_fen",
    )
    .bind(year)
    .bind(budget_fen)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(budget)
}

/// The year's budget (the default when none is stored yet).
pub async fn budget(pool: &PgPool, rules: &Rules, year: i32) -> Result<Budget> {
    let stored: Option<Budget> =
        sqlx::query_as("SELECT year, budget_fen, granted_fen FROM subsidy_budgets WHERE year = $1")
            .bind(year)
            .fetch_optional(pool)
            .await?;
    Ok(stored.unwrap_or(Budget {
        year,
        budget_fen: rules.default_yearly_budget_fen,
        granted_fen: 0,
    }))
}
