//! The idle land pass: every grant in force not yet flagged is checked against the idle rule
//! on one day (the database's date when run by the service's task); a grant found idle is
//! flagged, its parcel marked idle, a `GrantIdle` event and notices written, one transaction
//! per grant. Flagging happens once: a flagged grant is not looked at again.

use chrono::NaiveDate;

use super::{Result, Store, events, grants, parcels, read_model, today};
use crate::domain::{
    evaluation::floor_area_for,
    idle::{IdleFacts, idle_reason},
    parcel::ParcelStatus,
    scale_fen,
};

impl Store {
    /// Runs the pass for `on` (the database's date when `None`); returns the grants flagged.
    pub async fn flag_idle(&self, on: Option<NaiveDate>) -> Result<usize> {
        let mut conn = self.pool.acquire().await?;
        let on = match on {
            Some(day) => day,
            None => today(&mut conn).await?,
        };
        let candidates: Vec<uuid::Uuid> = sqlx::query_scalar(
            "SELECT id FROM grants WHERE status IN ('leasing', 'transferred') AND idle_reason IS NULL
               AND completed_on IS NULL ORDER BY id",
        )
        .fetch_all(&mut *conn)
        .await?;
        drop(conn);
        let mut flagged = 0;
        for id in candidates {
            let mut tx = self.pool.begin().await?;
            let grant = grants::load(&mut tx, id, true).await?;
            if grant.idle_reason.is_some() {
                continue;
            }
            let c = &grant.commitments;
            let facts = IdleFacts {
                start_by: grant.contract.start_by,
                progress: &grant.progress,
                planned_floor_centi_m2: floor_area_for(c.plot_ratio_milli, grant.land_centi_mu),
                committed_investment_fen: scale_fen(
                    c.investment_fen_per_mu,
                    grant.land_centi_mu,
                    100,
                ),
            };
            let Some(reason) = idle_reason(&facts, on, &self.rules.idle) else {
                continue;
            };
            sqlx::query("UPDATE grants SET idle_reason = $2, idle_on = $3, version = version + 1 WHERE id = $1")
                .bind(id)
                .bind(reason.as_str())
                .bind(on)
                .execute(&mut *tx)
                .await?;
            parcels::load(&mut tx, &grant.parcel_id, true).await?;
            parcels::set_status(&mut tx, &grant.parcel_id, ParcelStatus::Idle).await?;
            let view = grants::view(self, grants::load(&mut tx, id, false).await?, on);
            events::grant_idle(&mut tx, self, &view, reason, on).await?;
            let name = read_model::enterprise(&mut tx, &grant.uscc)
                .await?
                .map(|e| e.name)
                .unwrap_or_default();
            let notice = events::Notice {
                cause: format!("idle|{id}|{}", reason.as_str()),
                kind: "land_idle",
                text: format!(
                    "Grant {id} on parcel {}: idle land ({}) as of {on}; idle fee and take-back to be reviewed",
                    grant.parcel_id,
                    reason.as_str()
                ),
                uscc: &grant.uscc,
                enterprise_name: &name,
                parcel_id: &grant.parcel_id,
                period: None,
                issued_at: chrono::Utc::now(),
                due_on: None,
            };
            events::notices(&mut tx, self, &notice, &self.rules.idle_notice_departments).await?;
            tx.commit().await?;
            flagged += 1;
        }
        Ok(flagged)
    }
}
