//! Breaches: recording one ([`crate::domain::breach::decide`]) with its event and notice, and
//! a firm's breaches with the sessions of each one's kind after it, for the bar an
//! application checks.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{Result, Store, StoreError, corrupt, fairs, lock_fair};
use crate::{
    domain::{
        breach::{self, Breach, BreachKind, BreachRecord, RecordBreach, RecordState, Session},
        fair::FairKind,
    },
    events,
};

struct Row {
    id: Uuid,
    fair_id: Uuid,
    uscc: String,
    kind: String,
    evidence: String,
    reference: String,
    recorded_at: DateTime<Utc>,
    fair_kind: String,
    fair_name: String,
    starts_at: DateTime<Utc>,
}

/// The sessions of `kind` after the fair `after` (which starts at `starts_at`), in order.
async fn later_sessions(
    conn: &mut PgConnection,
    kind: FairKind,
    after: Uuid,
    starts_at: DateTime<Utc>,
) -> Result<Vec<Session>> {
    Ok(sqlx::query_as!(
        Session,
        "SELECT id AS fair_id, name, starts_at FROM fairs
         WHERE kind = $1 AND (starts_at, id) > ($2, $3)
         ORDER BY starts_at, id",
        kind.as_str(),
        starts_at,
        after
    )
    .fetch_all(conn)
    .await?)
}

async fn record(conn: &mut PgConnection, r: Row) -> Result<BreachRecord> {
    let fair_kind = FairKind::parse(&r.fair_kind).ok_or_else(|| corrupt("kind", &r.fair_kind))?;
    let kind = BreachKind::parse(&r.kind).ok_or_else(|| corrupt("breach kind", &r.kind))?;
    let later = later_sessions(conn, fair_kind, r.fair_id, r.starts_at).await?;
    Ok(BreachRecord {
        breach: Breach {
            id: r.id,
            fair_id: r.fair_id,
            uscc: r.uscc,
            kind,
            evidence: r.evidence,
            reference: r.reference,
            recorded_at: r.recorded_at,
        },
        kind: fair_kind,
        at: Session {
            fair_id: r.fair_id,
            name: r.fair_name,
            starts_at: r.starts_at,
        },
        later,
    })
}

/// Every breach recorded against `uscc` (`None`: every firm's), each with the sessions of its
/// fair's kind after it; at one fair when `fair_id` is given.
pub(super) async fn of_firm(
    conn: &mut PgConnection,
    uscc: Option<&str>,
    fair_id: Option<Uuid>,
) -> Result<Vec<BreachRecord>> {
    let rows = sqlx::query_as!(
        Row,
        "SELECT b.id, b.fair_id, b.uscc, b.kind, b.evidence, b.reference, b.recorded_at,
                f.kind AS fair_kind, f.name AS fair_name, f.starts_at
         FROM breaches b JOIN fairs f ON f.id = b.fair_id
         WHERE ($1::text IS NULL OR b.uscc = $1) AND ($2::uuid IS NULL OR b.fair_id = $2)
         ORDER BY f.starts_at, b.recorded_at, b.id",
        uscc,
        fair_id
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut records = Vec::with_capacity(rows.len());
    for row in rows {
        records.push(record(conn, row).await?);
    }
    Ok(records)
}

/// What recording a breach needs: whether the firm ever registered, what is recorded already.
async fn record_state(conn: &mut PgConnection, c: &RecordBreach) -> Result<RecordState> {
    let registered = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM registrations WHERE fair_id = $1 AND uscc = $2) AS "exists!""#,
        c.fair_id,
        c.uscc
    )
    .fetch_one(&mut *conn)
    .await?;
    let recorded = sqlx::query_scalar!(
        "SELECT kind FROM breaches WHERE fair_id = $1 AND uscc = $2",
        c.fair_id,
        c.uscc
    )
    .fetch_all(conn)
    .await?
    .iter()
    .map(|k| BreachKind::parse(k).ok_or_else(|| corrupt("breach kind", k)))
    .collect::<Result<Vec<_>>>()?;
    Ok(RecordState {
        id: Uuid::now_v7(),
        registered,
        recorded,
    })
}

impl Store {
    /// Records a breach under the fair's lock, with its event and its notice to market
    /// supervision; returns it with the sessions it bars.
    pub async fn record_breach(
        &self,
        c: &RecordBreach,
        now: DateTime<Utc>,
    ) -> Result<BreachRecord> {
        let mut tx = self.pool.begin().await?;
        lock_fair(&mut tx, c.fair_id).await?;
        let fair = fairs::get(&mut tx, c.fair_id).await?;
        let state = record_state(&mut tx, c).await?;
        let b = breach::decide(&state, c, now)?;
        sqlx::query!(
            "INSERT INTO breaches (id, fair_id, uscc, kind, evidence, reference, recorded_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            b.id,
            b.fair_id,
            b.uscc,
            b.kind.as_str(),
            b.evidence,
            b.reference,
            b.recorded_at
        )
        .execute(&mut *tx)
        .await?;
        let name = sqlx::query_scalar!("SELECT name FROM enterprises WHERE uscc = $1", b.uscc)
            .fetch_optional(&mut *tx)
            .await?
            .unwrap_or_default();
        let recorded = of_firm(&mut tx, Some(&b.uscc), Some(b.fair_id))
            .await?
            .into_iter()
            .find(|r| r.breach.id == b.id)
            .ok_or_else(|| StoreError::NotFound(format!("breach {}", b.id)))?;
        let n = self.rules.breach_barred_sessions;
        self.publish(&mut tx, events::breach_recorded(&recorded, &fair, n))
            .await?;
        self.publish(&mut tx, events::breach_notice(&recorded, &name, n))
            .await?;
        tx.commit().await?;
        Ok(recorded)
    }

    /// The breaches of a firm, or at a fair, or all, with the sessions after each.
    pub async fn breaches(
        &self,
        uscc: Option<&str>,
        fair_id: Option<Uuid>,
    ) -> Result<Vec<BreachRecord>> {
        of_firm(&mut *self.pool.acquire().await?, uscc, fair_id).await
    }
}
