//! Finalizing a round into payment orders, one per beneficiary, and finance's record of each
//! payment or refusal.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{
    objection::{Objection, ObjectionState},
    round::{Round, RoundRefused, RoundState},
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "SCREAMING_SNAKE_CASE")]
pub enum PaymentState {
    Ordered,
    Paid,
    Refused,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PaymentOrder {
    pub id: Uuid,
    /// The round it came from, or the application.
    pub round_id: Option<Uuid>,
    pub application_id: Option<Uuid>,
    pub policy_id: String,
    pub policy_version: i64,
    pub uscc: String,
    pub name: String,
    pub amount_fen: i64,
    pub state: PaymentState,
    pub voucher: String,
    pub refusal_reason: String,
    pub ordered_at: DateTime<Utc>,
    pub settled_at: Option<DateTime<Utc>>,
}

/// Decides the finalization: the window has closed and every objection is decided. The
/// orders are the entries with an amount.
pub fn decide_finalize(
    round: &Round,
    objections: &[Objection],
    now: DateTime<Utc>,
) -> Result<Vec<PaymentOrder>, RoundRefused> {
    if round.state == RoundState::Final {
        return Err(RoundRefused::Final);
    }
    if now < round.objection_deadline {
        return Err(RoundRefused::WindowOpen(round.objection_deadline));
    }
    if let Some(open) = objections.iter().find(|o| o.state == ObjectionState::Filed) {
        return Err(RoundRefused::ObjectionOpen(open.uscc.clone()));
    }
    Ok(round
        .entries
        .iter()
        .filter(|e| e.amount_fen > 0)
        .map(|e| PaymentOrder {
            id: Uuid::now_v7(),
            round_id: Some(round.id),
            application_id: None,
            policy_id: round.policy_id.clone(),
            policy_version: round.policy_version,
            uscc: e.uscc.clone(),
            name: e.name.clone(),
            amount_fen: e.amount_fen,
            state: PaymentState::Ordered,
            voucher: String::new(),
            refusal_reason: String::new(),
            ordered_at: now,
            settled_at: None,
        })
        .collect())
}

/// What finance records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settlement {
    Paid { voucher: String },
    Refused { reason: String },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaymentRefused {
    #[error("order {id} is already {state}")]
    AlreadySettled { id: Uuid, state: &'static str },
}

/// Decides finance's record: only an ordered payment is settled, once.
pub fn decide_settlement(
    order: &PaymentOrder,
    settlement: Settlement,
    now: DateTime<Utc>,
) -> Result<PaymentOrder, PaymentRefused> {
    if order.state != PaymentState::Ordered {
        return Err(PaymentRefused::AlreadySettled {
            id: order.id,
            state: order.state.into(),
        });
    }
    let mut settled = order.clone();
    match settlement {
        Settlement::Paid { voucher } => {
            settled.state = PaymentState::Paid;
            settled.voucher = voucher;
        }
        Settlement::Refused { reason } => {
            settled.state = PaymentState::Refused;
            settled.refusal_reason = reason;
        }
    }
    settled.settled_at = Some(now);
    Ok(settled)
}
