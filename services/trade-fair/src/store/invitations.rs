//! Invitations (邀请): a class-A firm is invited once to every external fair whose window is
//! open; an invitation it has not used is withdrawn when it leaves class A, and issued again
//! should it come back.

use chrono::{DateTime, Utc};
use platform::Outbox;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::{Result, corrupt, events, fairs, read_model};
use crate::domain::{Class, fair::FairKind};

/// Where an invitation stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InvitationStatus {
    Issued,
    Applied,
    Withdrawn,
}

impl InvitationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            InvitationStatus::Issued => "issued",
            InvitationStatus::Applied => "applied",
            InvitationStatus::Withdrawn => "withdrawn",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        [
            InvitationStatus::Issued,
            InvitationStatus::Applied,
            InvitationStatus::Withdrawn,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
    }
}

/// A stored invitation.
#[derive(Debug, Clone, PartialEq)]
pub struct Invitation {
    pub fair_id: Uuid,
    pub uscc: String,
    pub class: Option<Class>,
    pub reason: String,
    pub status: InvitationStatus,
    pub issued_at: DateTime<Utc>,
    pub withdrawn_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct Row {
    fair_id: Uuid,
    uscc: String,
    enterprise_class: String,
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
            class: read_model::parse_class(Some(&r.enterprise_class))?,
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
    let external: Vec<&str> = FairKind::ALL
        .iter()
        .filter(|k| k.is_external())
        .map(|k| k.as_str())
        .collect();
    Ok(sqlx::query_scalar(
        "SELECT id FROM fairs WHERE kind = ANY($1) AND opens_at <= $2 AND closes_at > $2 ORDER BY starts_at, id",
    )
    .bind(&external)
    .bind(now)
    .fetch_all(conn)
    .await?)
}

/// Invites `uscc` (class A) to fair `fair_id` unless it is invited already or has applied;
/// a withdrawn invitation is issued again. Returns the invitation when one was issued.
async fn invite(
    conn: &mut PgConnection,
    outbox: &Outbox,
    fair_id: Uuid,
    uscc: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Option<Invitation>> {
    let applied: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM registrations WHERE fair_id = $1 AND uscc = $2)",
    )
    .bind(fair_id)
    .bind(uscc)
    .fetch_one(&mut *conn)
    .await?;
    if applied {
        return Ok(None);
    }
    let row: Option<Row> = sqlx::query_as(
        "INSERT INTO invitations (fair_id, uscc, enterprise_class, reason, status, issued_at)
         VALUES ($1, $2, 'A', $3, 'issued', $4)
         ON CONFLICT (fair_id, uscc) DO UPDATE SET status = 'issued', reason = EXCLUDED.reason,
             issued_at = EXCLUDED.issued_at, withdrawn_at = NULL
         WHERE invitations.status = 'withdrawn'
         RETURNING fair_id, uscc, enterprise_class, reason, status, issued_at, withdrawn_at",
    )
    .bind(fair_id)
    .bind(uscc)
    .bind(reason)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let invitation = Invitation::try_from(row)?;
    let fair = fairs::get(conn, fair_id).await?;
    events::invited(conn, outbox, &invitation, &fair).await?;
    Ok(Some(invitation))
}

/// Invites a firm that became class A to every external fair open at `now`.
pub async fn invite_to_open_fairs(
    conn: &mut PgConnection,
    outbox: &Outbox,
    uscc: &str,
    now: DateTime<Utc>,
) -> Result<Vec<Invitation>> {
    let mut issued = Vec::new();
    for fair_id in open_external_fairs(conn, now).await? {
        issued.extend(invite(conn, outbox, fair_id, uscc, "entered class A", now).await?);
    }
    Ok(issued)
}

/// Withdraws every unused invitation of a firm that left class A.
pub async fn withdraw_unused(
    conn: &mut PgConnection,
    outbox: &Outbox,
    uscc: &str,
    now: DateTime<Utc>,
) -> Result<Vec<Invitation>> {
    let rows: Vec<Row> = sqlx::query_as(
        "UPDATE invitations SET status = 'withdrawn', withdrawn_at = $2
         WHERE uscc = $1 AND status = 'issued'
         RETURNING fair_id, uscc, enterprise_class, reason, status, issued_at, withdrawn_at",
    )
    .bind(uscc)
    .bind(now)
    .fetch_all(&mut *conn)
    .await?;
    let mut withdrawn = Vec::new();
    for row in rows {
        let invitation = Invitation::try_from(row)?;
        events::withdrawn(conn, outbox, &invitation).await?;
        withdrawn.push(invitation);
    }
    Ok(withdrawn)
}

/// Marks the firm's invitation to the fair used; true if it had an issued one.
pub async fn mark_applied(conn: &mut PgConnection, fair_id: Uuid, uscc: &str) -> Result<bool> {
    Ok(sqlx::query("UPDATE invitations SET status = 'applied' WHERE fair_id = $1 AND uscc = $2 AND status = 'issued'")
        .bind(fair_id)
        .bind(uscc)
        .execute(conn)
        .await?
        .rows_affected()
        > 0)
}

/// Invites every class-A firm to every external fair open at `now` that it has no
/// invitation for yet (fairs created, or windows opened, after the firm became A). A
/// withdrawn invitation is not issued again here: only a new entry into class A does that.
pub async fn sweep(pool: &PgPool, outbox: &Outbox, now: DateTime<Utc>) -> Result<usize> {
    let mut tx = pool.begin().await?;
    let fairs = open_external_fairs(&mut tx, now).await?;
    let leaders = read_model::class_a(&mut tx).await?;
    let mut issued = 0;
    for fair_id in fairs {
        let missing: Vec<String> = sqlx::query_scalar(
            "SELECT u FROM unnest($2::text[]) AS u
             WHERE NOT EXISTS (SELECT 1 FROM invitations i WHERE i.fair_id = $1 AND i.uscc = u)",
        )
        .bind(fair_id)
        .bind(&leaders)
        .fetch_all(&mut *tx)
        .await?;
        for uscc in missing {
            issued += invite(
                &mut tx,
                outbox,
                fair_id,
                &uscc,
                "class A when the window opened",
                now,
            )
            .await?
            .iter()
            .count();
        }
    }
    tx.commit().await?;
    Ok(issued)
}

/// Invitations of a fair and/or an enterprise, oldest first.
pub async fn list(
    pool: &PgPool,
    fair_id: Option<Uuid>,
    uscc: Option<&str>,
    status: Option<InvitationStatus>,
) -> Result<Vec<Invitation>> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT fair_id, uscc, enterprise_class, reason, status, issued_at, withdrawn_at FROM invitations
         WHERE ($1::uuid IS NULL OR fair_id = $1) AND ($2::text IS NULL OR uscc = $2)
           AND ($3::text IS NULL OR status = $3)
         ORDER BY issued_at, fair_id, uscc",
    )
    .bind(fair_id)
    .bind(uscc)
    .bind(status.map(InvitationStatus::as_str))
    .fetch_all(pool)
    .await?;
    rows.into_iter().map(Invitation::try_from).collect()
}
