//! Objections to a round's published list (异议): filed by the firm or by commerce before the
//! deadline, decided before the round is final. An upheld objection adds the firm to the
//! list within what the budget has left.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{
    facts::Facts,
    policy::Policy,
    round::{Entry, Round, RoundRefused, RoundState},
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "SCREAMING_SNAKE_CASE")]
pub enum ObjectionState {
    Filed,
    Upheld,
    Rejected,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Objection {
    pub id: Uuid,
    pub round_id: Uuid,
    pub uscc: String,
    pub reason: String,
    pub state: ObjectionState,
    pub decision_reason: String,
    pub filed_by: String,
    pub filed_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
}

/// Decides a filing: the round is published, the window open, no objection of the firm yet.
pub fn decide_filing(
    round: &Round,
    existing: &[Objection],
    uscc: &str,
    reason: String,
    filed_by: String,
    now: DateTime<Utc>,
) -> Result<Objection, RoundRefused> {
    if round.state == RoundState::Final {
        return Err(RoundRefused::Final);
    }
    if now >= round.objection_deadline {
        return Err(RoundRefused::WindowClosed(round.objection_deadline));
    }
    if existing.iter().any(|o| o.uscc == uscc) {
        return Err(RoundRefused::ObjectionExists(uscc.to_string()));
    }
    Ok(Objection {
        id: Uuid::now_v7(),
        round_id: round.id,
        uscc: uscc.to_string(),
        reason,
        state: ObjectionState::Filed,
        decision_reason: String::new(),
        filed_by,
        filed_at: now,
        decided_at: None,
    })
}

/// What deciding an objection changes.
#[derive(Debug, Clone, PartialEq)]
pub struct Decided {
    pub objection: Objection,
    /// Upheld: the firm's new entry (amount 0 once the budget is spent).
    pub entry: Option<Entry>,
}

/// Decides an objection. Upheld, the firm joins the end of the list with what the policy's
/// benefit gives it on its facts, paid from what the budget has left.
pub fn decide_objection(
    policy: &Policy,
    round: &Round,
    objection: &Objection,
    upheld: bool,
    reason: String,
    facts: &Facts,
    now: DateTime<Utc>,
) -> Result<Decided, RoundRefused> {
    if round.state == RoundState::Final {
        return Err(RoundRefused::Final);
    }
    if objection.state != ObjectionState::Filed {
        return Err(RoundRefused::AlreadyDecided);
    }
    let mut decided = objection.clone();
    decided.state = if upheld {
        ObjectionState::Upheld
    } else {
        ObjectionState::Rejected
    };
    decided.decision_reason = reason;
    decided.decided_at = Some(now);
    let entry = if upheld {
        if round.entries.iter().any(|e| e.uscc == objection.uscc) {
            return Err(RoundRefused::AlreadyListed(objection.uscc.clone()));
        }
        let left = policy.spec.budget_fen - policy.ordered_fen - round.total_fen();
        let entitled_fen = policy.spec.benefit.entitled(facts);
        Some(Entry {
            uscc: objection.uscc.clone(),
            name: facts.name.clone(),
            class: facts.class_in_force,
            score: facts.score,
            entitled_fen,
            amount_fen: entitled_fen.min(left.max(0)),
            position: i32::try_from(round.entries.len() + 1).unwrap_or(i32::MAX),
            explanation: format!(
                "added by an upheld objection: {}; benefit {}",
                decided.decision_reason,
                policy.spec.benefit.describe()
            ),
            by_objection: true,
        })
    } else {
        None
    };
    Ok(Decided {
        objection: decided,
        entry,
    })
}
