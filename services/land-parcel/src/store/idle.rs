//! The idle land pass: every grant in force not yet flagged is checked against the idle rule
//! on one day (the database's date when run by the service's task); a grant found idle is
//! flagged, its parcel marked idle, a `GrantIdle` event and notices written, one transaction
//! per grant. Flagging happens once: a flagged grant is not looked at again.

use chrono::NaiveDate;
use uuid::Uuid;

use super::{Result, Store, grants, parcels, read_model, today};
use crate::{
    domain::{
        grant::GrantRecord,
        idle::{self, IdleReason},
        parcel::ParcelStatus,
    },
    events::{self, LandNotice},
};

impl Store {
    /// Runs the pass for `on` (the database's date when `None`); returns the grants flagged.
    pub async fn flag_idle(&self, on: Option<NaiveDate>) -> Result<usize> {
        let mut conn = self.pool.acquire().await?;
        let on = match on {
            Some(day) => day,
            None => today(&mut conn).await?,
        };
        let candidates = sqlx::query_scalar!(
            "SELECT id FROM grants WHERE status IN ('leasing', 'transferred') AND idle_reason IS NULL
               AND completed_on IS NULL ORDER BY id"
        )
        .fetch_all(&mut *conn)
        .await?;
        drop(conn);
        let mut flagged = 0;
        for id in candidates {
            if self.flag_if_idle(id, on).await? {
                flagged += 1;
            }
        }
        Ok(flagged)
    }

    /// Flags one grant if the rule finds it idle on `on`, in a transaction of its own.
    async fn flag_if_idle(&self, id: Uuid, on: NaiveDate) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let grant = grants::load_locked(&mut tx, id).await?;
        let Some(reason) = idle::decide(&grant, on, &self.rules.idle) else {
            return Ok(false);
        };
        sqlx::query!(
            "UPDATE grants SET idle_reason = $2, idle_on = $3, version = version + 1 WHERE id = $1",
            id,
            reason.as_str(),
            on
        )
        .execute(&mut *tx)
        .await?;
        parcels::lock(&mut tx, &grant.parcel_id).await?;
        parcels::set_status(&mut tx, &grant.parcel_id, ParcelStatus::Idle).await?;
        let view = self.view(grants::load(&mut tx, id).await?, on);
        let name = read_model::enterprise(&mut tx, &grant.uscc)
            .await?
            .map(|e| e.name)
            .unwrap_or_default();
        let mut announced = vec![events::grant_idle(&view, reason, on)];
        let notice = idle_notice(&grant, reason, on, &name);
        announced.extend(events::notices(
            &notice,
            &self.rules.idle_notice_departments,
        ));
        self.publish(&mut tx, announced).await?;
        tx.commit().await?;
        Ok(true)
    }
}

fn idle_notice<'a>(
    grant: &'a GrantRecord,
    reason: IdleReason,
    on: NaiveDate,
    name: &'a str,
) -> LandNotice<'a> {
    LandNotice {
        cause: format!("idle|{}|{}", grant.id, reason.as_str()),
        kind: "land_idle",
        text: idle::notice_text(grant, reason, on),
        uscc: &grant.uscc,
        enterprise_name: name,
        parcel_id: &grant.parcel_id,
        period: None,
        issued_at: chrono::Utc::now(),
        due_on: None,
    }
}
