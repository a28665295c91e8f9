//! Outcomes per registration, and the figures the reports are built from.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{Result, Store, lock_fair, read_model, registrations};
use crate::{
    domain::{
        outcome::{self, ExportTotal, FairReport, Figures, Outcome, Year},
        registration::{Registration, Status},
    },
    events,
};

/// The outcome of a registration, if recorded.
pub(super) async fn of_registration(
    conn: &mut PgConnection,
    registration_id: Uuid,
) -> Result<Option<Outcome>> {
    Ok(sqlx::query_as!(
        Outcome,
        "SELECT registration_id, fair_id, uscc, leads, intended_orders_fen, signed_export_orders_fen, recorded_at
         FROM outcomes WHERE registration_id = $1",
        registration_id
    )
    .fetch_optional(conn)
    .await?)
}

impl Store {
    /// Records (or replaces) the outcome of a registration ([`outcome::decide`]).
    pub async fn record_outcome(
        &self,
        registration_id: Uuid,
        f: Figures,
        now: DateTime<Utc>,
    ) -> Result<Outcome> {
        let mut tx = self.pool.begin().await?;
        let r = registrations::get(&mut tx, registration_id).await?;
        lock_fair(&mut tx, r.fair_id).await?;
        let r = registrations::get(&mut tx, registration_id).await?;
        let o = outcome::decide(&r, f, now)?;
        let outcome = sqlx::query_as!(
            Outcome,
            "INSERT INTO outcomes (registration_id, fair_id, uscc, leads, intended_orders_fen,
                                   signed_export_orders_fen, recorded_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (registration_id) DO UPDATE SET leads = EXCLUDED.leads,
                 intended_orders_fen = EXCLUDED.intended_orders_fen,
                 signed_export_orders_fen = EXCLUDED.signed_export_orders_fen, recorded_at = EXCLUDED.recorded_at
             RETURNING registration_id, fair_id, uscc, leads, intended_orders_fen, signed_export_orders_fen, recorded_at",
            o.registration_id,
            o.fair_id,
            o.uscc,
            o.leads,
            o.intended_orders_fen,
            o.signed_export_orders_fen,
            o.recorded_at
        )
        .fetch_one(&mut *tx)
        .await?;
        self.publish(&mut tx, events::outcome_recorded(&outcome))
            .await?;
        tx.commit().await?;
        Ok(outcome)
    }

    /// The counts and totals of one fair.
    pub async fn fair_report(&self, fair_id: Uuid) -> Result<FairReport> {
        let mut conn = self.pool.acquire().await?;
        let registrations = registrations::of_fair(&mut conn, fair_id).await?;
        let invitations = sqlx::query_scalar!(
            r#"SELECT count(*) AS "count!" FROM invitations WHERE fair_id = $1 AND status <> 'withdrawn'"#,
            fair_id
        )
        .fetch_one(&mut *conn)
        .await?;
        let outcomes = sqlx::query_as!(
            Outcome,
            "SELECT registration_id, fair_id, uscc, leads, intended_orders_fen, signed_export_orders_fen, recorded_at
             FROM outcomes WHERE fair_id = $1 ORDER BY recorded_at, registration_id",
            fair_id
        )
        .fetch_all(&mut *conn)
        .await?;
        let subsidies_fen = sqlx::query_scalar!(
            r#"SELECT COALESCE(sum(amount_fen), 0)::bigint AS "sum!" FROM subsidies WHERE fair_id = $1"#,
            fair_id
        )
        .fetch_one(&mut *conn)
        .await?;
        Ok(FairReport::of(
            &registrations,
            invitations,
            outcomes,
            subsidies_fen,
        ))
    }

    /// An enterprise's registrations, outcomes and years ([`outcome::years`]).
    pub async fn enterprise_report(
        &self,
        uscc: &str,
    ) -> Result<(Vec<Registration>, Vec<Outcome>, Vec<Year>)> {
        let mut conn = self.pool.acquire().await?;
        let fair_ids = sqlx::query_scalar!(
            "SELECT DISTINCT fair_id FROM registrations WHERE uscc = $1",
            uscc
        )
        .fetch_all(&mut *conn)
        .await?;
        let mut regs = Vec::new();
        for fair_id in fair_ids {
            let of_fair = registrations::of_fair(&mut conn, fair_id).await?;
            regs.extend(of_fair.into_iter().filter(|r| r.uscc == uscc));
        }
        regs.sort_by_key(|r| (r.applied_at, r.id));
        let outcomes = sqlx::query!(
            "SELECT o.registration_id, o.fair_id, o.uscc, o.leads, o.intended_orders_fen,
                    o.signed_export_orders_fen, o.recorded_at, f.starts_at
             FROM outcomes o JOIN fairs f ON f.id = o.fair_id
             WHERE o.uscc = $1 ORDER BY o.recorded_at, o.registration_id",
            uscc
        )
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .map(|o| {
            let outcome = Outcome {
                registration_id: o.registration_id,
                fair_id: o.fair_id,
                uscc: o.uscc,
                leads: o.leads,
                intended_orders_fen: o.intended_orders_fen,
                signed_export_orders_fen: o.signed_export_orders_fen,
                recorded_at: o.recorded_at,
            };
            (outcome, o.starts_at)
        })
        .collect::<Vec<_>>();
        let mut confirmed = Vec::new();
        for r in regs.iter().filter(|r| r.status == Status::Confirmed) {
            let starts_at =
                sqlx::query_scalar!("SELECT starts_at FROM fairs WHERE id = $1", r.fair_id)
                    .fetch_one(&mut *conn)
                    .await?;
            confirmed.push(starts_at);
        }
        let exports = read_model::export_returns(&mut conn, uscc).await?;
        let years = outcome::years(&confirmed, &outcomes, &exports);
        Ok((regs, outcomes.into_iter().map(|(o, _)| o).collect(), years))
    }

    /// Signed export orders per year of the fairs' start, within the years given.
    pub async fn export_totals(
        &self,
        from_year: Option<i32>,
        to_year: Option<i32>,
    ) -> Result<Vec<ExportTotal>> {
        Ok(sqlx::query_as!(
            ExportTotal,
            r#"SELECT year AS "year!", count(DISTINCT fair_id) AS "fairs!",
                      sum(signed)::bigint AS "signed_export_orders_fen!",
                      sum(intended)::bigint AS "intended_orders_fen!"
               FROM (SELECT extract(year FROM f.starts_at AT TIME ZONE 'UTC')::int AS year, o.fair_id,
                            o.signed_export_orders_fen AS signed, o.intended_orders_fen AS intended
                     FROM outcomes o JOIN fairs f ON f.id = o.fair_id) x
               WHERE ($1::int IS NULL OR year >= $1) AND ($2::int IS NULL OR year <= $2)
               GROUP BY year ORDER BY year"#,
            from_year,
            to_year
        )
        .fetch_all(&self.pool)
        .await?)
    }
}
