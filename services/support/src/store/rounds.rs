//! Rounds: computed and published in one transaction, objections filed and decided under the
//! round's row lock, finalized into payment orders whose sum the budget row's CHECK bounds.

use chrono::{DateTime, Utc};
use platform::{Class, period::Period};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{
    Store, StoreError,
    payments::{insert_order, raise_ordered},
    policies::{load_policy, load_rivals},
    read_model::load_facts,
};
use crate::{
    domain::{
        objection::{Decided, Objection, ObjectionState, decide_filing, decide_objection},
        payment::{PaymentOrder, decide_finalize},
        policy::Policy,
        round::{Candidate, Entry, Rival, Round, RoundRefused, RoundState, decide_round},
    },
    events,
};

/// A round as the API shows it.
#[derive(Debug, Clone)]
pub struct RoundView {
    pub round: Round,
    pub period: Period,
    pub objections: Vec<Objection>,
}

struct RoundRow {
    id: Uuid,
    policy_id: String,
    policy_version: i64,
    period: String,
    state: String,
    published_at: DateTime<Utc>,
    objection_deadline: DateTime<Utc>,
    finalized_at: Option<DateTime<Utc>>,
}

struct EntryRow {
    uscc: String,
    name: String,
    class: Option<Class>,
    score: f64,
    entitled_fen: i64,
    amount_fen: i64,
    position: i32,
    explanation: String,
    by_objection: bool,
}

struct ObjectionRow {
    id: Uuid,
    round_id: Uuid,
    uscc: String,
    reason: String,
    state: String,
    decision_reason: String,
    filed_by: String,
    filed_at: DateTime<Utc>,
    decided_at: Option<DateTime<Utc>>,
}

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("{what} {value:?}"))
}

impl ObjectionRow {
    fn into_objection(self) -> Result<Objection, StoreError> {
        Ok(Objection {
            state: self
                .state
                .parse::<ObjectionState>()
                .map_err(|_| corrupt("objection state", &self.state))?,
            id: self.id,
            round_id: self.round_id,
            uscc: self.uscc,
            reason: self.reason,
            decision_reason: self.decision_reason,
            filed_by: self.filed_by,
            filed_at: self.filed_at,
            decided_at: self.decided_at,
        })
    }
}

/// The round `id` with its list and objections; `lock` takes its row lock for a change.
async fn load_round(
    conn: &mut PgConnection,
    id: Uuid,
    lock: bool,
) -> Result<RoundView, StoreError> {
    let row = if lock {
        sqlx::query_as!(
            RoundRow,
            "SELECT id, policy_id, policy_version, period, state, published_at,
                    objection_deadline, finalized_at
             FROM rounds WHERE id = $1 FOR UPDATE",
            id
        )
        .fetch_optional(&mut *conn)
        .await?
    } else {
        sqlx::query_as!(
            RoundRow,
            "SELECT id, policy_id, policy_version, period, state, published_at,
                    objection_deadline, finalized_at
             FROM rounds WHERE id = $1",
            id
        )
        .fetch_optional(&mut *conn)
        .await?
    }
    .ok_or_else(|| StoreError::NotFound(format!("round {id}")))?;
    let entries = sqlx::query_as!(
        EntryRow,
        r#"SELECT uscc, name, class AS "class: Class", score, entitled_fen, amount_fen, position,
                  explanation, by_objection
           FROM round_entries WHERE round_id = $1 ORDER BY position, uscc"#,
        id
    )
    .fetch_all(&mut *conn)
    .await?;
    let objections = sqlx::query_as!(
        ObjectionRow,
        "SELECT id, round_id, uscc, reason, state, decision_reason, filed_by, filed_at, decided_at
         FROM objections WHERE round_id = $1 ORDER BY filed_at, id",
        id
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(ObjectionRow::into_objection)
    .collect::<Result<Vec<_>, _>>()?;
    let period = Period::parse(&row.period).map_err(|_| corrupt("period", &row.period))?;
    let state = row
        .state
        .parse::<RoundState>()
        .map_err(|_| corrupt("round state", &row.state))?;
    let round = Round {
        id: row.id,
        policy_id: row.policy_id,
        policy_version: row.policy_version,
        state,
        entries: entries
            .into_iter()
            .map(|e| Entry {
                uscc: e.uscc,
                name: e.name,
                class: e.class,
                score: e.score,
                entitled_fen: e.entitled_fen,
                amount_fen: e.amount_fen,
                position: e.position,
                explanation: e.explanation,
                by_objection: e.by_objection,
            })
            .collect(),
        published_at: row.published_at,
        objection_deadline: row.objection_deadline,
        finalized_at: row.finalized_at,
    };
    Ok(RoundView {
        round,
        period,
        objections,
    })
}

async fn insert_entries(
    conn: &mut PgConnection,
    round_id: Uuid,
    entries: &[Entry],
) -> sqlx::Result<()> {
    let column = |f: fn(&Entry) -> String| entries.iter().map(f).collect::<Vec<_>>();
    sqlx::query!(
        "INSERT INTO round_entries (round_id, uscc, name, class, score, entitled_fen, amount_fen,
             position, explanation, by_objection)
         SELECT $1, e.uscc, e.name, NULLIF(e.class, ''), e.score, e.entitled_fen, e.amount_fen,
                e.position, e.explanation, e.by_objection
         FROM unnest($2::text[], $3::text[], $4::text[], $5::float8[], $6::bigint[],
                     $7::bigint[], $8::int[], $9::text[], $10::bool[])
              AS e(uscc, name, class, score, entitled_fen, amount_fen, position, explanation,
                   by_objection)",
        round_id,
        &column(|e| e.uscc.clone()),
        &column(|e| e.name.clone()),
        &column(|e| e.class.map_or_else(String::new, |c| c.as_str().to_string())),
        &entries.iter().map(|e| e.score).collect::<Vec<_>>(),
        &entries.iter().map(|e| e.entitled_fen).collect::<Vec<_>>(),
        &entries.iter().map(|e| e.amount_fen).collect::<Vec<_>>(),
        &entries.iter().map(|e| e.position).collect::<Vec<_>>(),
        &column(|e| e.explanation.clone()),
        &entries.iter().map(|e| e.by_objection).collect::<Vec<_>>(),
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The policy a round ran on (its version, with the budget's current orders).
async fn round_policy(conn: &mut PgConnection, round: &Round) -> Result<Policy, StoreError> {
    load_policy(conn, &round.policy_id, round.policy_version)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("policy {}", round.policy_id)))
}

impl Store {
    pub async fn round(&self, id: Uuid) -> Result<RoundView, StoreError> {
        let mut conn = self.pool.acquire().await?;
        load_round(&mut conn, id, false).await
    }

    /// The round of `policy_id` for `period`, if it has one.
    pub async fn round_of(
        &self,
        policy_id: &str,
        period: Period,
    ) -> Result<Option<Uuid>, StoreError> {
        Ok(sqlx::query_scalar!(
            "SELECT id FROM rounds WHERE policy_id = $1 AND period = $2",
            policy_id,
            period.code()
        )
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Computes and publishes the round of `policy_id` (load → decide → commit with
    /// RoundPublished). `deadline` gives the end of the publicity window from `now`.
    pub async fn run_round(
        &self,
        policy_id: &str,
        now: DateTime<Utc>,
        deadline: impl FnOnce(DateTime<Utc>) -> DateTime<Utc>,
    ) -> Result<RoundView, StoreError> {
        let mut tx = self.pool.begin().await?;
        let locked = sqlx::query_scalar!(
            "SELECT policy_id FROM budgets WHERE policy_id = $1 FOR UPDATE",
            policy_id
        )
        .fetch_optional(&mut *tx)
        .await?;
        if locked.is_none() {
            return Err(StoreError::NotFound(format!("policy {policy_id}")));
        }
        let policy = load_policy(&mut tx, policy_id, 0)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("policy {policy_id}")))?;
        let existing = sqlx::query_scalar!(
            "SELECT id FROM rounds WHERE policy_id = $1 AND period = $2",
            policy_id,
            policy.spec.period.code()
        )
        .fetch_optional(&mut *tx)
        .await?;
        if existing.is_some() {
            return Err(RoundRefused::RoundExists(policy_id.to_string()).into());
        }
        let facts = load_facts(&mut tx, policy.spec.period, None).await?;
        let rivals = load_rivals(&mut tx, &policy).await?;
        let candidates: Vec<Candidate<'_>> = facts
            .iter()
            .map(|f| Candidate {
                facts: f,
                rivals: rivals
                    .iter()
                    .map(|r| Rival {
                        policy_id: r.spec.id.clone(),
                        entitled_fen: r.spec.benefit.entitled(f),
                    })
                    .collect(),
            })
            .collect();
        let round = decide_round(&policy, &candidates, now, deadline(now))?;
        let period = policy.spec.period;
        sqlx::query!(
            "INSERT INTO rounds (id, policy_id, policy_version, period, state, published_at,
                 objection_deadline)
             VALUES ($1, $2, $3, $4, 'PUBLISHED', $5, $6)",
            round.id,
            round.policy_id,
            round.policy_version,
            period.code(),
            round.published_at,
            round.objection_deadline,
        )
        .execute(&mut *tx)
        .await?;
        insert_entries(&mut tx, round.id, &round.entries).await?;
        self.outbox
            .enqueue(&mut tx, events::round_published(&round, period))
            .await?;
        tx.commit().await?;
        Ok(RoundView {
            round,
            period,
            objections: Vec::new(),
        })
    }

    /// Files an objection to a published round.
    pub async fn file_objection(
        &self,
        round_id: Uuid,
        uscc: &str,
        reason: String,
        by: String,
        now: DateTime<Utc>,
    ) -> Result<Objection, StoreError> {
        let mut tx = self.pool.begin().await?;
        let view = load_round(&mut tx, round_id, true).await?;
        let objection = decide_filing(&view.round, &view.objections, uscc, reason, by, now)?;
        sqlx::query!(
            "INSERT INTO objections (id, round_id, uscc, reason, state, filed_by, filed_at)
             VALUES ($1, $2, $3, $4, 'FILED', $5, $6)",
            objection.id,
            objection.round_id,
            objection.uscc,
            objection.reason,
            objection.filed_by,
            objection.filed_at,
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(objection)
    }

    /// Upholds or rejects an objection; upheld, the firm joins the list within the budget.
    pub async fn decide_objection(
        &self,
        objection_id: Uuid,
        upheld: bool,
        reason: String,
        now: DateTime<Utc>,
    ) -> Result<Decided, StoreError> {
        let mut tx = self.pool.begin().await?;
        let round_id = sqlx::query_scalar!(
            "SELECT round_id FROM objections WHERE id = $1",
            objection_id
        )
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("objection {objection_id}")))?;
        let view = load_round(&mut tx, round_id, true).await?;
        let objection = view
            .objections
            .iter()
            .find(|o| o.id == objection_id)
            .ok_or_else(|| StoreError::NotFound(format!("objection {objection_id}")))?;
        let policy = round_policy(&mut tx, &view.round).await?;
        let facts = load_facts(&mut tx, view.period, Some(&objection.uscc))
            .await?
            .pop()
            .unwrap_or_else(|| crate::domain::facts::Facts {
                uscc: objection.uscc.clone(),
                ..Default::default()
            });
        let decided =
            decide_objection(&policy, &view.round, objection, upheld, reason, &facts, now)?;
        let o = &decided.objection;
        sqlx::query!(
            "UPDATE objections SET state = $2, decision_reason = $3, decided_at = $4 WHERE id = $1",
            o.id,
            <&str>::from(o.state),
            o.decision_reason,
            o.decided_at,
        )
        .execute(&mut *tx)
        .await?;
        if let Some(entry) = &decided.entry {
            insert_entries(&mut tx, round_id, std::slice::from_ref(entry)).await?;
        }
        tx.commit().await?;
        Ok(decided)
    }

    /// Finalizes a round: payment orders, the budget's orders raised (the CHECK refuses an
    /// excess), RoundFinalized, and per order PaymentOrdered with its notice to finance.
    pub async fn finalize(
        &self,
        round_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<(RoundView, Vec<PaymentOrder>), StoreError> {
        let mut tx = self.pool.begin().await?;
        let mut view = load_round(&mut tx, round_id, true).await?;
        let orders = decide_finalize(&view.round, &view.objections, now)?;
        let policy = round_policy(&mut tx, &view.round).await?;
        let total: i64 = orders.iter().map(|o| o.amount_fen).sum();
        raise_ordered(&mut tx, &policy.spec.id, total).await?;
        for order in &orders {
            insert_order(&mut tx, order, &policy, view.period).await?;
        }
        sqlx::query!(
            "UPDATE rounds SET state = 'FINAL', finalized_at = $2 WHERE id = $1",
            round_id,
            now
        )
        .execute(&mut *tx)
        .await?;
        view.round.state = RoundState::Final;
        view.round.finalized_at = Some(now);
        let mut outgoing = vec![events::round_finalized(
            &view.round,
            view.period,
            &view.objections,
        )];
        for order in &orders {
            outgoing.extend(events::payment_ordered(
                order,
                view.period,
                &policy.spec.title,
                now,
            ));
        }
        self.outbox.enqueue_many(&mut tx, outgoing).await?;
        tx.commit().await?;
        Ok((view, orders))
    }
}
