//! The idle land pass: every grant in force not yet completed is checked on one day (the
//! database's date when run by the service's task): a grant found idle is flagged, its parcel
//! marked idle, its idle fee ordered, with `GrantIdle`, `IdleFeeOrdered` and notices to natural
//! resources and finance; a flagged grant idle for two years goes to take-back review
//! (`GrantUnderTakeBackReview`). One transaction per grant; each step happens once.

use chrono::NaiveDate;
use uuid::Uuid;

use super::{Result, Store, grants, parcels, read_model, today};
use crate::{
    domain::{
        disposal::{self, IdleDecision, IdleFee, ReviewReason},
        grant::GrantRecord,
        idle::IdleReason,
        parcel::ParcelStatus,
    },
    events::{self, LandNotice},
};

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PassOutcome {
    /// Grants flagged idle (each with its fee order).
    pub flagged: usize,
    /// Grants put under take-back review.
    pub take_back_review: usize,
}

impl Store {
    /// Runs the pass for `on` (the database's date when `None`); returns the grants flagged.
    pub async fn flag_idle(&self, on: Option<NaiveDate>) -> Result<usize> {
        Ok(self.idle_pass(on).await?.flagged)
    }

    /// Runs the pass for `on` (the database's date when `None`).
    pub async fn idle_pass(&self, on: Option<NaiveDate>) -> Result<PassOutcome> {
        let mut conn = self.pool.acquire().await?;
        let on = match on {
            Some(day) => day,
            None => today(&mut conn).await?,
        };
        let candidates = sqlx::query_scalar!(
            "SELECT id FROM grants WHERE status IN ('leasing', 'transferred')
               AND (idle_reason IS NULL OR take_back_review_on IS NULL)
               AND completed_on IS NULL ORDER BY id"
        )
        .fetch_all(&mut *conn)
        .await?;
        drop(conn);
        let mut outcome = PassOutcome::default();
        for id in candidates {
            if let Some(decided) = self.pass_one(id, on).await? {
                outcome.flagged += usize::from(decided.flagged.is_some());
                outcome.take_back_review += usize::from(decided.take_back_review);
            }
        }
        Ok(outcome)
    }

    /// Decides one grant on `on` and commits what changed, in a transaction of its own.
    async fn pass_one(&self, id: Uuid, on: NaiveDate) -> Result<Option<IdleDecision>> {
        let mut tx = self.pool.begin().await?;
        let grant = grants::load_locked(&mut tx, id).await?;
        let Some(decided) = disposal::decide_idle(&grant, on, &self.rules.idle) else {
            return Ok(None);
        };
        if let Some((reason, fee)) = &decided.flagged {
            sqlx::query!(
                "UPDATE grants SET idle_reason = $2, idle_on = $3, idle_fee_fen = $4,
                     idle_fee_status = $5, version = version + 1
                 WHERE id = $1",
                id,
                reason.as_str(),
                on,
                fee.fee_fen,
                fee.status.as_str(),
            )
            .execute(&mut *tx)
            .await?;
            parcels::lock(&mut tx, &grant.parcel_id).await?;
            parcels::set_status(&mut tx, &grant.parcel_id, ParcelStatus::Idle).await?;
        }
        if decided.take_back_review {
            sqlx::query!(
                "UPDATE grants SET take_back_review = $2, take_back_review_on = $3,
                     version = version + 1
                 WHERE id = $1",
                id,
                ReviewReason::IdleTwoYears.as_str(),
                on,
            )
            .execute(&mut *tx)
            .await?;
        }
        let view = self.view(grants::load(&mut tx, id).await?, on);
        let name = read_model::enterprise(&mut tx, &grant.uscc)
            .await?
            .map(|e| e.name)
            .unwrap_or_default();
        let mut announced = Vec::new();
        if let Some((reason, fee)) = &decided.flagged {
            announced.push(events::grant_idle(&view, *reason, on));
            announced.push(events::idle_fee_ordered(&view, fee));
            let notice = idle_notice(&grant, *reason, fee, &name);
            announced.extend(events::notices(
                &notice,
                &self.rules.idle_notice_departments,
            ));
        }
        if decided.take_back_review {
            let reason = ReviewReason::IdleTwoYears.as_str();
            announced.push(events::under_take_back_review(&view, reason, on));
            let notice = review_notice(&grant, on, &name);
            announced.extend(events::notices(
                &notice,
                &self.rules.review_notice_departments,
            ));
        }
        self.publish(&mut tx, announced).await?;
        tx.commit().await?;
        Ok(Some(decided))
    }
}

fn idle_notice<'a>(
    grant: &'a GrantRecord,
    reason: IdleReason,
    fee: &IdleFee,
    name: &'a str,
) -> LandNotice<'a> {
    LandNotice {
        cause: format!("idle|{}|{}", grant.id, reason.as_str()),
        kind: "land_idle",
        text: disposal::fee_notice_text(grant, reason, fee),
        uscc: &grant.uscc,
        enterprise_name: name,
        parcel_id: &grant.parcel_id,
        period: None,
        issued_at: chrono::Utc::now(),
        due_on: None,
    }
}

fn review_notice<'a>(grant: &'a GrantRecord, on: NaiveDate, name: &'a str) -> LandNotice<'a> {
    LandNotice {
        cause: format!("take_back_review|{}", grant.id),
        kind: "land_take_back_review",
        text: disposal::review_notice_text(grant, on),
        uscc: &grant.uscc,
        enterprise_name: name,
        parcel_id: &grant.parcel_id,
        period: None,
        issued_at: chrono::Utc::now(),
        due_on: None,
    }
}
