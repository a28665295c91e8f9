//! Payment orders and finance's record of each: paid with a voucher, or refused with a reason.

use chrono::{DateTime, Utc};
use platform::period::Period;
use uuid::Uuid;

use sqlx::PgConnection;

use super::{Store, StoreError, is_unique_violation, violated_constraint};
use crate::{
    domain::{
        payment::{PaymentOrder, PaymentState, Settlement, decide_settlement},
        policy::Policy,
    },
    events,
};

/// Which orders a list shows; empty fields do not filter.
#[derive(Debug, Clone, Default)]
pub struct PaymentFilter {
    pub policy_id: String,
    pub uscc: String,
    pub state: Option<PaymentState>,
    /// Ordered in this year (China time).
    pub year: Option<i32>,
}

struct OrderRow {
    id: Uuid,
    round_id: Option<Uuid>,
    application_id: Option<Uuid>,
    policy_id: String,
    policy_version: i64,
    period: String,
    uscc: String,
    name: String,
    amount_fen: i64,
    state: String,
    voucher: String,
    refusal_reason: String,
    ordered_at: DateTime<Utc>,
    settled_at: Option<DateTime<Utc>>,
}

impl OrderRow {
    fn into_order(self) -> Result<(PaymentOrder, Period), StoreError> {
        let corrupt = |what: &str, v: &str| StoreError::Corrupt(format!("{what} {v:?}"));
        let period = Period::parse(&self.period).map_err(|_| corrupt("period", &self.period))?;
        let state = self
            .state
            .parse::<PaymentState>()
            .map_err(|_| corrupt("payment state", &self.state))?;
        Ok((
            PaymentOrder {
                id: self.id,
                round_id: self.round_id,
                application_id: self.application_id,
                policy_id: self.policy_id,
                policy_version: self.policy_version,
                uscc: self.uscc,
                name: self.name,
                amount_fen: self.amount_fen,
                state,
                voucher: self.voucher,
                refusal_reason: self.refusal_reason,
                ordered_at: self.ordered_at,
                settled_at: self.settled_at,
            },
            period,
        ))
    }
}

impl Store {
    /// Orders matching `filter`, by id, after `after`.
    pub async fn payments(
        &self,
        filter: &PaymentFilter,
        after: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<(PaymentOrder, Period)>, StoreError> {
        let rows = sqlx::query_as!(
            OrderRow,
            "SELECT id, round_id, application_id, policy_id, policy_version, period, uscc, name, amount_fen,
                    state, voucher, refusal_reason, ordered_at, settled_at
             FROM payment_orders
             WHERE ($1 = '' OR policy_id = $1) AND ($2 = '' OR uscc = $2)
               AND ($3::text IS NULL OR state = $3)
               AND ($4::uuid IS NULL OR id > $4)
               AND ($6::int IS NULL
                    OR extract(year FROM (ordered_at AT TIME ZONE 'UTC') + interval '8 hours') = $6)
             ORDER BY id LIMIT $5",
            filter.policy_id,
            filter.uscc,
            filter.state.map(<&str>::from),
            after,
            limit,
            filter.year,
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(OrderRow::into_order).collect()
    }

    /// Records finance's settlement of an order (load → decide → commit with its event).
    pub async fn settle(
        &self,
        order_id: Uuid,
        settlement: Settlement,
        now: DateTime<Utc>,
    ) -> Result<(PaymentOrder, Period), StoreError> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query_as!(
            OrderRow,
            "SELECT id, round_id, application_id, policy_id, policy_version, period, uscc, name, amount_fen,
                    state, voucher, refusal_reason, ordered_at, settled_at
             FROM payment_orders WHERE id = $1 FOR UPDATE",
            order_id
        )
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("payment order {order_id}")))?;
        let (order, period) = row.into_order()?;
        let settled = decide_settlement(&order, settlement, now)?;
        sqlx::query!(
            "UPDATE payment_orders SET state = $2, voucher = $3, refusal_reason = $4,
                 settled_at = $5
             WHERE id = $1",
            settled.id,
            <&str>::from(settled.state),
            settled.voucher,
            settled.refusal_reason,
            settled.settled_at,
        )
        .execute(&mut *tx)
        .await?;
        self.outbox
            .enqueue(&mut tx, events::payment_settled(&settled, period))
            .await?;
        tx.commit().await?;
        Ok((settled, period))
    }
}

/// Raises what is ordered of `policy_id`'s budget by `amount_fen`; the budget row's CHECK
/// refuses an excess, whatever else commits at the same time.
pub(super) async fn raise_ordered(
    conn: &mut PgConnection,
    policy_id: &str,
    amount_fen: i64,
) -> Result<(), StoreError> {
    let raised = sqlx::query!(
        "UPDATE budgets SET ordered_fen = ordered_fen + $2 WHERE policy_id = $1",
        policy_id,
        amount_fen,
    )
    .execute(conn)
    .await;
    match raised {
        Err(err) if violated_constraint(&err) == Some("budget_never_exceeded") => {
            Err(StoreError::BudgetExceeded(policy_id.to_string()))
        }
        other => other.map(|_| ()).map_err(StoreError::from),
    }
}

/// Inserts an order; a second order of the firm under the policy or its exclusive group is a
/// conflict the database refuses.
pub(super) async fn insert_order(
    conn: &mut PgConnection,
    order: &PaymentOrder,
    policy: &Policy,
    period: Period,
) -> Result<(), StoreError> {
    let inserted = sqlx::query!(
        "INSERT INTO payment_orders (id, round_id, application_id, policy_id, policy_version,
             period, exclusive_group, uscc, name, amount_fen, state, ordered_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'ORDERED', $11)",
        order.id,
        order.round_id,
        order.application_id,
        order.policy_id,
        order.policy_version,
        period.code(),
        policy.spec.exclusive_group,
        order.uscc,
        order.name,
        order.amount_fen,
        order.ordered_at,
    )
    .execute(conn)
    .await;
    match inserted {
        Err(err) if is_unique_violation(&err) => Err(StoreError::VersionConflict(format!(
            "{} already has a payment order of policy {} or of its exclusive group",
            order.uscc, policy.spec.id
        ))),
        other => other.map(|_| ()).map_err(StoreError::from),
    }
}
