//! Objections (异议): filing within the window after publication, deciding (upholding is the
//! override path in the same transaction), listing; each change with its event in the outbox.
//!
//! Filing reads the period's publication (`publications`, migration 0007) for the window's
//! start; one undecided objection per firm and period is guarded by a partial unique index, so
//! two filings at once cannot both pass.

use chrono::{DateTime, Utc};
use haicheng_proto::{
    classification::v1::{self as pb, ObjectionDecided, ObjectionFiled},
    common::v1 as common,
    topics,
};
use platform::{OutgoingEvent, time::to_timestamp};
use sqlx::PgConnection;

use super::{
    Store, StoreError,
    classes::{self, OverrideAction},
    publication::View,
};
use crate::{
    domain::{
        Class,
        calendar::ObjectionWindow,
        objection::{self, Decision, Filed, FilingState, ObjectionState},
        policy::NoticeRule,
    },
    proto::class_to_proto,
};

/// A stored objection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectionRow {
    pub id: i64,
    pub period: String,
    pub uscc: String,
    pub reason: String,
    pub evidence: Vec<String>,
    pub requested_class: Option<Class>,
    /// The class in force when filed; `None` if none.
    pub class_at_filing: Option<Class>,
    pub state: String,
    pub filed_by: String,
    pub filed_at: DateTime<Utc>,
    pub deadline: DateTime<Utc>,
    pub decided_class: Option<Class>,
    pub decision_reason: Option<String>,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
}

impl ObjectionRow {
    pub fn state(&self) -> Result<ObjectionState, StoreError> {
        ObjectionState::parse(&self.state)
            .ok_or_else(|| super::corrupt(format!("objection state {:?}", self.state)).into())
    }
}

/// What a filing carries, validated by the caller.
#[derive(Debug, Clone)]
pub struct NewObjection<'a> {
    pub period: &'a str,
    pub uscc: &'a str,
    pub reason: &'a str,
    pub evidence: &'a [String],
    pub requested_class: Option<Class>,
    pub principal: &'a str,
}

impl Store {
    /// Files an objection with its `ObjectionFiled`. FAILED_PRECONDITION when the period is not
    /// published, the window has closed (naming the deadline), or the firm already has one
    /// awaiting decision; NOT_FOUND when the firm has no class in the period.
    pub async fn file_objection(
        &self,
        window: &ObjectionWindow,
        new: NewObjection<'_>,
    ) -> Result<ObjectionRow, StoreError> {
        let pool = &self.pool;
        let outbox = &self.outbox;
        let mut tx = pool.begin().await?;
        let published = sqlx::query!(
            "SELECT published_at, objection_working_days FROM publications WHERE period = $1",
            new.period,
        )
        .fetch_optional(&mut *tx)
        .await?;
        let published_at = published.as_ref().map(|p| p.published_at);
        // The window the publication announced, where it gave its own.
        let window = window.announced(
            published
                .and_then(|p| p.objection_working_days)
                .and_then(|days| u32::try_from(days).ok()),
        );
        let classified = classes::get(&mut tx, View::Current, new.period, new.uscc)
            .await?
            .map(|row| row.class);
        let state = FilingState {
            period: new.period,
            uscc: new.uscc,
            published_at,
            classified,
            undecided: undecided(&mut tx, new.period, new.uscc).await?,
        };
        // Stored to the microsecond: the answer carries exactly what is stored.
        let now = self.clock.now();
        let Filed {
            deadline,
            class_at_filing,
        } = objection::decide_filing(&state, &window, now)?;
        let inserted = sqlx::query_as!(
            ObjectionRow,
            r#"INSERT INTO objections (period, uscc, reason, evidence, requested_class,
                                     class_at_filing, state, filed_by, filed_at, deadline)
             VALUES ($1, $2, $3, $4, $5, $6, 'filed', $7, $8, $9)
             RETURNING id, period, uscc, reason, evidence, requested_class AS "requested_class: Class",
                class_at_filing AS "class_at_filing: Class", state, filed_by, filed_at, deadline,
                decided_class AS "decided_class: Class", decision_reason, decided_by, decided_at"#,
            new.period,
            new.uscc,
            new.reason,
            new.evidence,
            new.requested_class.map(Class::as_str),
            class_at_filing.map(Class::as_str),
            new.principal,
            now,
            deadline,
        )
        .fetch_one(&mut *tx)
        .await;
        let row = match inserted {
            Ok(row) => row,
            // Another filing for the firm committed since the check above.
            Err(sqlx::Error::Database(err))
                if err.constraint() == Some("objections_one_undecided") =>
            {
                return Err(StoreError::Precondition(format!(
                    "{} already has an objection for {} awaiting decision",
                    new.uscc, new.period
                )));
            }
            Err(err) => return Err(err.into()),
        };
        let event = ObjectionFiled {
            objection: Some(to_proto(&row)?),
        };
        outbox
            .enqueue(
                &mut tx,
                OutgoingEvent::new(topics::CLASSIFICATION_EVENTS, &row.uscc, &event),
            )
            .await?;
        tx.commit().await?;
        Ok(row)
    }
}

async fn undecided(conn: &mut PgConnection, period: &str, uscc: &str) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar!(
        "SELECT id FROM objections WHERE period = $1 AND uscc = $2 AND state = 'filed'",
        period,
        uscc,
    )
    .fetch_optional(conn)
    .await
}

impl Store {
    /// Decides objection `id` with its `ObjectionDecided`. Upholding sets the decided class as an
    /// override through the one override path ([`classes::apply_override_in`]) in the same
    /// transaction: audited, its `EnterpriseClassified` and notices at once. NOT_FOUND for an
    /// unknown id, FAILED_PRECONDITION for one already decided.
    pub async fn decide_objection(
        &self,
        id: i64,
        decision: Decision,
        reason: &str,
        principal: &str,
    ) -> Result<ObjectionRow, StoreError> {
        let pool = &self.pool;
        let outbox = &self.outbox;
        let rules: &[NoticeRule] = &self.rules;
        let mut tx = pool.begin().await?;
        let row = sqlx::query_as!(
            ObjectionRow,
            r#"SELECT id, period, uscc, reason, evidence, requested_class AS "requested_class: Class",
                class_at_filing AS "class_at_filing: Class", state, filed_by, filed_at, deadline,
                decided_class AS "decided_class: Class", decision_reason, decided_by, decided_at
             FROM objections WHERE id = $1 FOR UPDATE"#,
            id,
        )
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("objection {id}")))?;
        let state = objection::decide(id, row.state()?, decision)?;
        if let Decision::Uphold(class) = decision {
            let override_reason = format!("objection {id} upheld: {reason}");
            classes::apply_override_in(
                &mut tx,
                outbox,
                rules,
                &row.uscc,
                Some(&row.period),
                OverrideAction::Set {
                    class,
                    reason: &override_reason,
                },
                principal,
            )
            .await?;
        }
        let decided_class = match decision {
            Decision::Uphold(class) => Some(class),
            Decision::Reject => None,
        };
        let decided = sqlx::query_as!(
            ObjectionRow,
            r#"UPDATE objections SET state = $2, decided_class = $3, decision_reason = $4,
                    decided_by = $5, decided_at = $6
             WHERE id = $1
             RETURNING id, period, uscc, reason, evidence, requested_class AS "requested_class: Class",
                class_at_filing AS "class_at_filing: Class", state, filed_by, filed_at, deadline,
                decided_class AS "decided_class: Class", decision_reason, decided_by, decided_at"#,
            id,
            state.as_str(),
            decided_class.map(Class::as_str),
            reason,
            principal,
            self.clock.now(),
        )
        .fetch_one(&mut *tx)
        .await?;
        let event = ObjectionDecided {
            objection: Some(to_proto(&decided)?),
        };
        outbox
            .enqueue(
                &mut tx,
                OutgoingEvent::new(topics::CLASSIFICATION_EVENTS, &decided.uscc, &event),
            )
            .await?;
        tx.commit().await?;
        Ok(decided)
    }
}

/// Filters of a listing; `None` matches everything.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub period: Option<String>,
    pub uscc: Option<String>,
    pub state: Option<ObjectionState>,
}

impl Store {
    /// One page, newest first, of ids below `before` (`None`: from the newest).
    pub async fn list_objections(
        &self,
        filter: &Filter,
        before: Option<i64>,
        limit: u32,
    ) -> sqlx::Result<Vec<ObjectionRow>> {
        let pool = &self.pool;
        sqlx::query_as!(
            ObjectionRow,
            r#"SELECT id, period, uscc, reason, evidence, requested_class AS "requested_class: Class",
                class_at_filing AS "class_at_filing: Class", state, filed_by, filed_at, deadline,
                decided_class AS "decided_class: Class", decision_reason, decided_by, decided_at
             FROM objections
             WHERE ($1::text IS NULL OR period = $1)
               AND ($2::text IS NULL OR uscc = $2)
               AND ($3::text IS NULL OR state = $3)
               AND id < $4
             ORDER BY id DESC
             LIMIT $5"#,
            filter.period.as_deref(),
            filter.uscc.as_deref(),
            filter.state.map(ObjectionState::as_str),
            before.unwrap_or(i64::MAX),
            i64::from(limit),
        )
        .fetch_all(pool)
        .await
    }
}

/// The contract's message of a stored objection (the API's answers and the events).
pub fn to_proto(row: &ObjectionRow) -> Result<pb::Objection, StoreError> {
    let class = class_to_proto;
    let state = match row.state()? {
        ObjectionState::Filed => pb::ObjectionState::Filed,
        ObjectionState::Upheld => pb::ObjectionState::Upheld,
        ObjectionState::Rejected => pb::ObjectionState::Rejected,
    };
    Ok(pb::Objection {
        id: row.id,
        period: Some(common::Period {
            code: row.period.clone(),
        }),
        uscc: row.uscc.clone(),
        reason: row.reason.clone(),
        evidence: row.evidence.clone(),
        requested_class: class(row.requested_class),
        class_at_filing: class(row.class_at_filing),
        state: state as i32,
        filed_by: row.filed_by.clone(),
        filed_at: Some(to_timestamp(row.filed_at)),
        deadline: Some(to_timestamp(row.deadline)),
        decided_class: class(row.decided_class),
        decision_reason: row.decision_reason.clone().unwrap_or_default(),
        decided_by: row.decided_by.clone().unwrap_or_default(),
        decided_at: row.decided_at.map(to_timestamp),
    })
}
