//! Applications: submitted once per firm and policy, reviewed under their row lock; an
//! approval's order raises the budget's orders in the same transaction (the CHECK bounds it).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{
    Store, StoreError, is_unique_violation,
    payments::{insert_order, raise_ordered},
    policies::load_policy,
    read_model::load_facts,
};
use crate::{
    domain::{
        application::{
            Application, ApplicationRefused, ApplicationState, decide_apply, decide_review,
        },
        eligibility::ClauseResult,
        payment::PaymentOrder,
    },
    events,
};

struct ApplicationRow {
    id: Uuid,
    policy_id: String,
    policy_version: i64,
    uscc: String,
    name: String,
    entitled_fen: i64,
    state: String,
    applied_at: DateTime<Utc>,
    due_at: DateTime<Utc>,
    decided_at: Option<DateTime<Utc>>,
    decision_reason: String,
}

impl ApplicationRow {
    fn into_application(self) -> Result<Application, StoreError> {
        Ok(Application {
            state: self
                .state
                .parse::<ApplicationState>()
                .map_err(|_| StoreError::Corrupt(format!("application state {:?}", self.state)))?,
            id: self.id,
            policy_id: self.policy_id,
            policy_version: self.policy_version,
            uscc: self.uscc,
            name: self.name,
            entitled_fen: self.entitled_fen,
            applied_at: self.applied_at,
            due_at: self.due_at,
            decided_at: self.decided_at,
            decision_reason: self.decision_reason,
        })
    }
}

/// Which applications a list shows; empty fields do not filter.
#[derive(Debug, Clone, Default)]
pub struct ApplicationFilter {
    pub policy_id: String,
    pub uscc: String,
    /// Only those undecided at or past their deadline at this time.
    pub overdue_at: Option<DateTime<Utc>>,
}

impl Store {
    /// Submits an application (load → decide → commit); `due` gives its review deadline.
    pub async fn apply(
        &self,
        policy_id: &str,
        uscc: &str,
        now: DateTime<Utc>,
        due: impl FnOnce(DateTime<Utc>, u32) -> DateTime<Utc>,
    ) -> Result<(Application, Vec<ClauseResult>), StoreError> {
        let mut tx = self.pool.begin().await?;
        let policy = load_policy(&mut tx, policy_id, 0)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("policy {policy_id}")))?;
        let facts = load_facts(&mut tx, policy.spec.period, Some(uscc))
            .await?
            .pop()
            .ok_or_else(|| StoreError::NotFound(format!("enterprise {uscc} in the census")))?;
        let due_at = due(now, policy.spec.review_working_days);
        let (application, results) = decide_apply(&policy, &facts, now, due_at)?;
        let inserted = sqlx::query!(
            "INSERT INTO applications (id, policy_id, policy_version, uscc, name, entitled_fen,
                 state, applied_at, due_at, policy_period)
             VALUES ($1, $2, $3, $4, $5, $6, 'SUBMITTED', $7, $8, $9)",
            application.id,
            application.policy_id,
            application.policy_version,
            application.uscc,
            application.name,
            application.entitled_fen,
            application.applied_at,
            application.due_at,
            policy.spec.period.code(),
        )
        .execute(&mut *tx)
        .await;
        match inserted {
            Err(err) if is_unique_violation(&err) => {
                return Err(StoreError::AlreadyApplied(uscc.to_string()));
            }
            other => other?,
        };
        tx.commit().await?;
        Ok((application, results))
    }

    /// The issuer's review: approved, the payment order with its event and notice.
    pub async fn review(
        &self,
        application_id: Uuid,
        approved: bool,
        reason: String,
        now: DateTime<Utc>,
    ) -> Result<(Application, Option<PaymentOrder>), StoreError> {
        let mut tx = self.pool.begin().await?;
        let application = sqlx::query_as!(
            ApplicationRow,
            "SELECT id, policy_id, policy_version, uscc, name, entitled_fen, state, applied_at,
                    due_at, decided_at, decision_reason
             FROM applications WHERE id = $1 FOR UPDATE",
            application_id
        )
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("application {application_id}")))?
        .into_application()?;
        let policy = load_policy(&mut tx, &application.policy_id, application.policy_version)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("policy {}", application.policy_id)))?;
        let (decided, order) = decide_review(&application, approved, reason, now)?;
        sqlx::query!(
            "UPDATE applications SET state = $2, decision_reason = $3, decided_at = $4
             WHERE id = $1",
            decided.id,
            <&str>::from(decided.state),
            decided.decision_reason,
            decided.decided_at,
        )
        .execute(&mut *tx)
        .await?;
        if let Some(order) = &order {
            raise_ordered(&mut tx, &policy.spec.id, order.amount_fen).await?;
            insert_order(&mut tx, order, &policy, policy.spec.period).await?;
            let outgoing =
                events::payment_ordered(order, policy.spec.period, &policy.spec.title, now);
            self.outbox.enqueue_many(&mut tx, outgoing.into()).await?;
        }
        tx.commit().await?;
        Ok((decided, order))
    }

    pub async fn application(&self, id: Uuid) -> Result<Application, StoreError> {
        sqlx::query_as!(
            ApplicationRow,
            "SELECT id, policy_id, policy_version, uscc, name, entitled_fen, state, applied_at,
                    due_at, decided_at, decision_reason
             FROM applications WHERE id = $1",
            id
        )
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("application {id}")))?
        .into_application()
    }

    /// Applications matching `filter`, by id, after `after`.
    pub async fn applications(
        &self,
        filter: &ApplicationFilter,
        after: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<Application>, StoreError> {
        sqlx::query_as!(
            ApplicationRow,
            "SELECT id, policy_id, policy_version, uscc, name, entitled_fen, state, applied_at,
                    due_at, decided_at, decision_reason
             FROM applications
             WHERE ($1 = '' OR policy_id = $1) AND ($2 = '' OR uscc = $2)
               AND ($3::timestamptz IS NULL OR (state = 'SUBMITTED' AND due_at <= $3))
               AND ($4::uuid IS NULL OR id > $4)
             ORDER BY id LIMIT $5",
            filter.policy_id,
            filter.uscc,
            filter.overdue_at,
            after,
            limit,
        )
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(ApplicationRow::into_application)
        .collect()
    }
}

impl From<ApplicationRefused> for StoreError {
    fn from(refused: ApplicationRefused) -> Self {
        StoreError::Application(refused)
    }
}
