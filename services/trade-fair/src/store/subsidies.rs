//! Subsidy claims against the yearly budget. The budget row of the year is locked by every
//! claim, so the per-firm cap and the budget are checked one claim at a time; the table's
//! check (`granted_fen <= budget_fen`) refuses an overspend regardless.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{Result, Store, fairs, lock_fair, outcomes, registrations};
use crate::{
    domain::subsidy::{self, Budget, ClaimState, Subsidy},
    events,
};

/// Locks the year's budget row, creating it with the default budget if absent.
async fn lock_budget(conn: &mut PgConnection, year: i32, default_fen: i64) -> Result<Budget> {
    sqlx::query!(
        "INSERT INTO subsidy_budgets (year, budget_fen) VALUES ($1, $2) ON CONFLICT (year) DO NOTHING",
        year,
        default_fen
    )
    .execute(&mut *conn)
    .await?;
    Ok(sqlx::query_as!(
        Budget,
        "SELECT year, budget_fen, granted_fen FROM subsidy_budgets WHERE year = $1 FOR UPDATE",
        year
    )
    .fetch_one(conn)
    .await?)
}

impl Store {
    /// Loads what a claim on registration `id` needs: the fair first (as every booth-moving
    /// write), so the registration cannot be cancelled under the claim; then the year's budget.
    async fn claim_state(&self, conn: &mut PgConnection, id: Uuid) -> Result<ClaimState> {
        let fair_id = registrations::get(conn, id).await?.fair_id;
        lock_fair(conn, fair_id).await?;
        let registration = registrations::get(conn, id).await?;
        let fair = fairs::get(conn, fair_id).await?;
        let year = subsidy::year_of(&fair);
        let budget = lock_budget(conn, year, self.rules.default_yearly_budget_fen).await?;
        let claimed = sqlx::query_scalar!(
            r#"SELECT EXISTS (SELECT 1 FROM subsidies WHERE registration_id = $1) AS "exists!""#,
            id
        )
        .fetch_one(&mut *conn)
        .await?;
        let firm_granted_fen = sqlx::query_scalar!(
            r#"SELECT COALESCE(sum(amount_fen), 0)::bigint AS "sum!" FROM subsidies WHERE uscc = $1 AND year = $2"#,
            registration.uscc,
            year
        )
        .fetch_one(&mut *conn)
        .await?;
        Ok(ClaimState {
            has_outcome: outcomes::of_registration(conn, id).await?.is_some(),
            fair,
            registration,
            claimed,
            firm_granted_fen,
            budget,
        })
    }

    /// Grants the subsidy of a registration as [`subsidy::decide`] decides.
    pub async fn claim_subsidy(
        &self,
        registration_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Subsidy> {
        let mut tx = self.pool.begin().await?;
        let state = self.claim_state(&mut tx, registration_id).await?;
        let s = subsidy::decide(&state, &self.rules, now)?;
        let granted = sqlx::query_as!(
            Subsidy,
            "INSERT INTO subsidies (registration_id, fair_id, uscc, year, amount_fen, percent, limited_by, granted_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             RETURNING registration_id, fair_id, uscc, year, amount_fen, percent, limited_by, granted_at",
            s.registration_id,
            s.fair_id,
            s.uscc,
            s.year,
            s.amount_fen,
            s.percent,
            &s.limited_by,
            s.granted_at
        )
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query!(
            "UPDATE subsidy_budgets SET granted_fen = granted_fen + $2 WHERE year = $1",
            s.year,
            s.amount_fen
        )
        .execute(&mut *tx)
        .await?;
        self.publish(&mut tx, events::subsidy_granted(&granted))
            .await?;
        tx.commit().await?;
        Ok(granted)
    }

    /// The subsidies of a year, of one firm or all.
    pub async fn subsidies(&self, year: i32, uscc: Option<&str>) -> Result<Vec<Subsidy>> {
        Ok(sqlx::query_as!(
            Subsidy,
            "SELECT registration_id, fair_id, uscc, year, amount_fen, percent, limited_by, granted_at
             FROM subsidies WHERE year = $1 AND ($2::text IS NULL OR uscc = $2)
             ORDER BY granted_at, registration_id",
            year,
            uscc
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Sets a year's budget ([`subsidy::decide_budget`]).
    pub async fn set_budget(&self, year: i32, budget_fen: i64) -> Result<Budget> {
        let mut tx = self.pool.begin().await?;
        let current = lock_budget(&mut tx, year, self.rules.default_yearly_budget_fen).await?;
        let budget = subsidy::decide_budget(current, budget_fen)?;
        let budget = sqlx::query_as!(
            Budget,
            "UPDATE subsidy_budgets SET budget_fen = $2 WHERE year = $1 RETURNING year, budget_fen, granted_fen",
            year,
            budget.budget_fen
        )
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(budget)
    }

    /// The year's budget (the default when none is stored yet).
    pub async fn budget(&self, year: i32) -> Result<Budget> {
        let stored = sqlx::query_as!(
            Budget,
            "SELECT year, budget_fen, granted_fen FROM subsidy_budgets WHERE year = $1",
            year
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(stored.unwrap_or(Budget {
            year,
            budget_fen: self.rules.default_yearly_budget_fen,
            granted_fen: 0,
        }))
    }
}
