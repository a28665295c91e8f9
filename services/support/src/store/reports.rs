//! Reports: a policy's beneficiaries and amounts by park, segment and class, its budget used;
//! and what one enterprise was ordered in a year.

use platform::period::Period;

use super::{Store, StoreError};
use crate::domain::payment::PaymentOrder;

/// One group of a policy's report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRow {
    pub dimension: String,
    pub value: String,
    pub firms: i64,
    pub amount_fen: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyReport {
    pub budget_fen: i64,
    pub ordered_fen: i64,
    pub paid_fen: i64,
    pub beneficiaries: i64,
    pub rows: Vec<ReportRow>,
}

impl Store {
    pub async fn policy_report(&self, policy_id: &str) -> Result<PolicyReport, StoreError> {
        let totals = sqlx::query!(
            r#"SELECT b.budget_fen, b.ordered_fen,
                      (SELECT coalesce(sum(amount_fen), 0) FROM payment_orders
                       WHERE policy_id = $1 AND state = 'PAID')::bigint AS "paid_fen!",
                      (SELECT count(*) FROM payment_orders WHERE policy_id = $1) AS "beneficiaries!"
               FROM budgets b WHERE b.policy_id = $1"#,
            policy_id
        )
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("policy {policy_id}")))?;
        let rows = sqlx::query_as!(
            ReportRow,
            r#"SELECT 'park' AS "dimension!", coalesce(f.park, 'none') AS "value!",
                      count(*) AS "firms!", sum(o.amount_fen)::bigint AS "amount_fen!"
               FROM payment_orders o LEFT JOIN firms f ON f.uscc = o.uscc
               WHERE o.policy_id = $1 GROUP BY 2
               UNION ALL
               SELECT 'segment', coalesce(f.segment, 'none'), count(*), sum(o.amount_fen)::bigint
               FROM payment_orders o LEFT JOIN firms f ON f.uscc = o.uscc
               WHERE o.policy_id = $1 GROUP BY 2
               UNION ALL
               SELECT 'class', coalesce(c.class, 'none'), count(*), sum(o.amount_fen)::bigint
               FROM payment_orders o
               LEFT JOIN classes c ON c.uscc = o.uscc AND c.period = o.period
               WHERE o.policy_id = $1 GROUP BY 2
               ORDER BY 1, 2"#,
            policy_id
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(PolicyReport {
            budget_fen: totals.budget_fen,
            ordered_fen: totals.ordered_fen,
            paid_fen: totals.paid_fen,
            beneficiaries: totals.beneficiaries,
            rows,
        })
    }

    /// The orders of `uscc` made in `year` (China time), oldest first (at most 1,000: a firm
    /// receives a handful of policies a year).
    pub async fn benefits(
        &self,
        uscc: &str,
        year: i32,
    ) -> Result<Vec<(PaymentOrder, Period)>, StoreError> {
        let filter = super::PaymentFilter {
            uscc: uscc.to_string(),
            year: Some(year),
            ..Default::default()
        };
        self.payments(&filter, None, 1_000).await
    }
}
