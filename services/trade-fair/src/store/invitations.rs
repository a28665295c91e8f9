//! Invitations: issued to class-A firms for open external fairs, withdrawn when a firm leaves
//! class A ([`crate::domain::invitation`] decides which; this file writes them).

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{Result, Store, corrupt, fairs, read_model};
use crate::{
    domain::{
        Class,
        invitation::{self, Invitation, InvitationStatus},
    },
    events,
};

struct Row {
    fair_id: Uuid,
    uscc: String,
    class: Option<Class>,
    reason: String,
    status: String,
    issued_at: DateTime<Utc>,
    withdrawn_at: Option<DateTime<Utc>>,
}

impl TryFrom<Row> for Invitation {
    type Error = super::StoreError;
    fn try_from(r: Row) -> Result<Self> {
        Ok(Invitation {
            status: InvitationStatus::parse(&r.status)
                .ok_or_else(|| corrupt("invitation status", &r.status))?,
            class: r.class,
            fair_id: r.fair_id,
            uscc: r.uscc,
            reason: r.reason,
            issued_at: r.issued_at,
            withdrawn_at: r.withdrawn_at,
        })
    }
}

/// External fairs whose window is open at `now`.
async fn open_external_fairs(conn: &mut PgConnection, now: DateTime<Utc>) -> Result<Vec<Uuid>> {
    Ok(sqlx::query_scalar!(
        "SELECT id FROM fairs WHERE kind = ANY($1) AND opens_at <= $2 AND closes_at > $2 ORDER BY starts_at, id",
        &fairs::external_kinds(),
        now
    )
    .fetch_all(conn)
    .await?)
}

/// The firm has a registration for the fair that it has not cancelled.
pub(super) async fn has_registered(
    conn: &mut PgConnection,
    fair_id: Uuid,
    uscc: &str,
) -> Result<bool> {
    Ok(sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM registrations
                          WHERE fair_id = $1 AND uscc = $2 AND status <> 'cancelled') AS "exists!""#,
        fair_id,
        uscc
    )
    .fetch_one(conn)
    .await?)
}

/// The firm holds an invitation to the fair that is not withdrawn: issued, or used by a
/// registration it has since cancelled (it applies again as the invited firm it was).
pub(super) async fn holds_issued(
    conn: &mut PgConnection,
    fair_id: Uuid,
    uscc: &str,
) -> Result<bool> {
    Ok(sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM invitations WHERE fair_id = $1 AND uscc = $2 AND status IN ('issued', 'applied')) AS "exists!""#,
        fair_id,
        uscc
    )
    .fetch_one(conn)
    .await?)
}

/// Marks the firm's issued invitation to the fair used.
pub(super) async fn mark_applied(conn: &mut PgConnection, fair_id: Uuid, uscc: &str) -> Result<()> {
    sqlx::query!(
        "UPDATE invitations SET status = 'applied' WHERE fair_id = $1 AND uscc = $2 AND status = 'issued'",
        fair_id,
        uscc
    )
    .execute(conn)
    .await?;
    Ok(())
}

impl Store {
    /// Invites `uscc` (class A) to fair `fair_id` unless it is invited already or has
    /// applied; a withdrawn invitation is issued again. Returns the invitation when one was
    /// issued.
    async fn invite(
        &self,
        conn: &mut PgConnection,
        fair_id: Uuid,
        uscc: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Invitation>> {
        if has_registered(conn, fair_id, uscc).await? {
            return Ok(None);
        }
        let row = sqlx::query_as!(
            Row,
            r#"INSERT INTO invitations (fair_id, uscc, enterprise_class, reason, status, issued_at)
               VALUES ($1, $2, 'A', $3, 'issued', $4)
               ON CONFLICT (fair_id, uscc) DO UPDATE SET status = 'issued', reason = EXCLUDED.reason,
                   issued_at = EXCLUDED.issued_at, withdrawn_at = NULL
               WHERE invitations.status = 'withdrawn'
               RETURNING fair_id, uscc, enterprise_class AS "class?: Class", reason, status, issued_at, withdrawn_at"#,
            fair_id,
            uscc,
            reason,
            now
        )
        .fetch_optional(&mut *conn)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let invitation = Invitation::try_from(row)?;
        let fair = fairs::get(conn, fair_id).await?;
        self.publish(conn, events::invited(&invitation, &fair))
            .await?;
        Ok(Some(invitation))
    }

    /// Invites a firm that became class A to every external fair open at `now`, in the
    /// caller's (inbox) transaction.
    pub async fn invite_to_open_fairs(
        &self,
        conn: &mut PgConnection,
        uscc: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<Invitation>> {
        let mut issued = Vec::new();
        for fair_id in open_external_fairs(conn, now).await? {
            let reason = invitation::ENTERED_CLASS_A;
            issued.extend(self.invite(conn, fair_id, uscc, reason, now).await?);
        }
        Ok(issued)
    }

    /// Withdraws every unused invitation of a firm that left class A, in the caller's
    /// (inbox) transaction.
    pub async fn withdraw_unused(
        &self,
        conn: &mut PgConnection,
        uscc: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<Invitation>> {
        let rows = sqlx::query_as!(
            Row,
            r#"UPDATE invitations SET status = 'withdrawn', withdrawn_at = $2
               WHERE uscc = $1 AND status = 'issued'
               RETURNING fair_id, uscc, enterprise_class AS "class?: Class", reason, status, issued_at, withdrawn_at"#,
            uscc,
            now
        )
        .fetch_all(&mut *conn)
        .await?;
        let mut withdrawn = Vec::new();
        for row in rows {
            let invitation = Invitation::try_from(row)?;
            self.publish(conn, events::withdrawn(&invitation)).await?;
            withdrawn.push(invitation);
        }
        Ok(withdrawn)
    }

    /// Invites every class-A firm to every external fair open at `now` that it has no
    /// invitation for yet (fairs created, or windows opened, after the firm became A). A
    /// withdrawn invitation is not issued again here: only a new entry into class A does that.
    pub async fn sweep_invitations(&self, now: DateTime<Utc>) -> Result<usize> {
        let mut tx = self.pool.begin().await?;
        let fairs = open_external_fairs(&mut tx, now).await?;
        let leaders = read_model::class_a(&mut tx).await?;
        let mut issued = 0;
        for fair_id in fairs {
            let missing = sqlx::query_scalar!(
                r#"SELECT u AS "u!" FROM unnest($2::text[]) AS u
                   WHERE NOT EXISTS (SELECT 1 FROM invitations i WHERE i.fair_id = $1 AND i.uscc = u)"#,
                fair_id,
                &leaders
            )
            .fetch_all(&mut *tx)
            .await?;
            for uscc in missing {
                let reason = invitation::A_WHEN_WINDOW_OPENED;
                let invited = self.invite(&mut tx, fair_id, &uscc, reason, now).await?;
                issued += usize::from(invited.is_some());
            }
        }
        tx.commit().await?;
        Ok(issued)
    }

    /// Invitations of a fair and/or an enterprise, oldest first.
    pub async fn invitations(
        &self,
        fair_id: Option<Uuid>,
        uscc: Option<&str>,
        status: Option<InvitationStatus>,
    ) -> Result<Vec<Invitation>> {
        sqlx::query_as!(
            Row,
            r#"SELECT fair_id, uscc, enterprise_class AS "class?: Class", reason, status, issued_at, withdrawn_at
               FROM invitations
               WHERE ($1::uuid IS NULL OR fair_id = $1) AND ($2::text IS NULL OR uscc = $2)
                 AND ($3::text IS NULL OR status = $3)
               ORDER BY issued_at, fair_id, uscc"#,
            fair_id,
            uscc,
            status.map(InvitationStatus::as_str)
        )
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(Invitation::try_from)
        .collect()
    }
}
