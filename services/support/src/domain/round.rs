//! A round (one per policy): the beneficiary list computed from the facts, published for
//! objections (公示), then finalized into payment orders (拨付清单). The budget is spent down
//! the list in a documented order: class (A, B, C, none), then score (higher first), then
//! USCC; the first firm that does not fit gets the remainder or nothing, as the policy says,
//! and the firms after it nothing.

use std::cmp::Ordering;

use chrono::{DateTime, Utc};
use platform::Class;
use uuid::Uuid;

use super::{
    eligibility::check_all,
    facts::Facts,
    policy::{Mode, Policy, Remainder},
};

/// A firm on a round's list.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub uscc: String,
    pub name: String,
    pub class: Option<Class>,
    pub score: f64,
    /// What the benefit gives, before the budget.
    pub entitled_fen: i64,
    /// What it receives.
    pub amount_fen: i64,
    /// 1-based place in the budget order.
    pub position: i32,
    pub explanation: String,
    pub by_objection: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "SCREAMING_SNAKE_CASE")]
pub enum RoundState {
    Published,
    Final,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Round {
    pub id: Uuid,
    pub policy_id: String,
    pub policy_version: i64,
    pub state: RoundState,
    pub entries: Vec<Entry>,
    pub published_at: DateTime<Utc>,
    pub objection_deadline: DateTime<Utc>,
    pub finalized_at: Option<DateTime<Utc>>,
}

impl Round {
    pub fn total_fen(&self) -> i64 {
        self.entries.iter().map(|e| e.amount_fen).sum()
    }
}

/// Why a round's step is refused; each names the rule.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RoundRefused {
    #[error("policy {id} is valid from {from} to {until}; today is {today}")]
    OutsideValidity {
        id: String,
        from: chrono::NaiveDate,
        until: chrono::NaiveDate,
        today: chrono::NaiveDate,
    },
    #[error("policy {0} takes applications (APPLICATION mode); rounds are for AUTOMATIC policies")]
    ApplicationMode(String),
    #[error("policy {0} already has its round for this period")]
    RoundExists(String),
    #[error("the round is final")]
    Final,
    #[error("the objection window closed at {0}")]
    WindowClosed(DateTime<Utc>),
    #[error("the objection window is open until {0}")]
    WindowOpen(DateTime<Utc>),
    #[error("the objection of {0} is not decided")]
    ObjectionOpen(String),
    #[error("{0} already has an objection to this round")]
    ObjectionExists(String),
    #[error("the objection is already decided")]
    AlreadyDecided,
    #[error("{0} is already on the list")]
    AlreadyListed(String),
}

/// The budget order: class A first, then B, C, none; higher score first; then USCC.
pub fn budget_order(a: &Entry, b: &Entry) -> Ordering {
    Class::priority(a.class)
        .cmp(&Class::priority(b.class))
        .then_with(|| b.score.total_cmp(&a.score))
        .then_with(|| a.uscc.cmp(&b.uscc))
}

/// Orders `entries` and spends `budget_fen` down them.
pub fn allocate(mut entries: Vec<Entry>, budget_fen: i64, remainder: Remainder) -> Vec<Entry> {
    entries.sort_by(budget_order);
    let mut left = budget_fen.max(0);
    let mut exhausted = false;
    for (index, entry) in entries.iter_mut().enumerate() {
        entry.position = i32::try_from(index + 1).unwrap_or(i32::MAX);
        entry.amount_fen = if exhausted {
            0
        } else if entry.entitled_fen <= left {
            entry.entitled_fen
        } else {
            exhausted = true;
            match remainder {
                Remainder::Partial => left,
                Remainder::None => 0,
            }
        };
        left -= entry.amount_fen;
    }
    entries
}

/// Another policy of the same exclusive group and what it gives a firm.
#[derive(Debug, Clone, PartialEq)]
pub struct Rival {
    pub policy_id: String,
    pub entitled_fen: i64,
}

/// The rival that wins the firm over this policy, if any: the larger amount; on a tie, the
/// smaller policy id.
pub fn winning_rival<'a>(
    policy_id: &str,
    entitled_fen: i64,
    rivals: &'a [Rival],
) -> Option<&'a Rival> {
    rivals.iter().find(|r| {
        r.entitled_fen > entitled_fen
            || (r.entitled_fen == entitled_fen && r.policy_id.as_str() < policy_id)
    })
}

/// One firm's candidacy: its facts and what the group's other policies would give it.
pub struct Candidate<'a> {
    pub facts: &'a Facts,
    pub rivals: Vec<Rival>,
}

/// Decides a policy's round from the candidates' facts.
pub fn decide_round(
    policy: &Policy,
    candidates: &[Candidate<'_>],
    now: DateTime<Utc>,
    objection_deadline: DateTime<Utc>,
) -> Result<Round, RoundRefused> {
    let spec = &policy.spec;
    let today = platform::calendar::china_date(now);
    if today < spec.valid_from || today > spec.valid_until {
        return Err(RoundRefused::OutsideValidity {
            id: spec.id.clone(),
            from: spec.valid_from,
            until: spec.valid_until,
            today,
        });
    }
    if spec.mode == Mode::Application {
        return Err(RoundRefused::ApplicationMode(spec.id.clone()));
    }
    let entries = candidates
        .iter()
        .filter_map(|candidate| entry_for(policy, candidate))
        .collect();
    Ok(Round {
        id: Uuid::now_v7(),
        policy_id: spec.id.clone(),
        policy_version: policy.version,
        state: RoundState::Published,
        entries: allocate(
            entries,
            spec.budget_fen - policy.ordered_fen,
            spec.remainder,
        ),
        published_at: now,
        objection_deadline,
        finalized_at: None,
    })
}

/// The firm's entry when it is eligible, entitled to something, and no rival of the group
/// gives it more.
fn entry_for(policy: &Policy, candidate: &Candidate<'_>) -> Option<Entry> {
    let facts = candidate.facts;
    let (eligible, results) = check_all(&policy.spec.conditions, facts);
    let entitled_fen = policy.spec.benefit.entitled(facts);
    if !eligible || entitled_fen == 0 {
        return None;
    }
    if winning_rival(&policy.spec.id, entitled_fen, &candidate.rivals).is_some() {
        return None;
    }
    let met: Vec<String> = results
        .iter()
        .map(|r| format!("{} ({})", r.condition, r.value))
        .collect();
    Some(Entry {
        uscc: facts.uscc.clone(),
        name: facts.name.clone(),
        // The final list's class where the period has one (the order of the round reads it).
        class: facts.class_final.unwrap_or(facts.class_in_force),
        score: facts.score,
        entitled_fen,
        amount_fen: 0,
        position: 0,
        explanation: format!(
            "{}; benefit {}",
            if met.is_empty() {
                "no conditions".to_string()
            } else {
                met.join("; ")
            },
            policy.spec.benefit.describe()
        ),
        by_objection: false,
    })
}

#[cfg(test)]
mod tests;
