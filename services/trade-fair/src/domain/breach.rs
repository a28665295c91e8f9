//! Rule breaches at a fair (违规参展) and the bar that follows: commerce records that a firm
//! sub-let its booth, left early or made a false declaration, with its evidence; the firm may
//! not apply to the next N sessions of that fair's kind (the Canton Fair bars for several).
//!
//! A *session of a fair's kind* is a fair of the same [`FairKind`] (the series: every Canton
//! Fair, every CHIC, every local craft fair), sessions ordered by their start, then id. The
//! sessions after a breach are the fairs of its kind starting after the fair it happened at;
//! the first N of them are barred, the (N + 1)th is the first the firm may apply to again.
//! Sessions planned later fill in as they are created.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Refused, fair::FairKind};

/// What the firm did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BreachKind {
    /// Sub-let its booth to another firm (转让、转租展位).
    SubLetting,
    /// Left before the fair closed (提前撤展).
    LeavingEarly,
    /// A false declaration in its application (虚假申报).
    FalseDeclaration,
}

impl BreachKind {
    pub const ALL: [BreachKind; 3] = [
        BreachKind::SubLetting,
        BreachKind::LeavingEarly,
        BreachKind::FalseDeclaration,
    ];

    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            BreachKind::SubLetting => "sub_letting",
            BreachKind::LeavingEarly => "leaving_early",
            BreachKind::FalseDeclaration => "false_declaration",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// How a message names it.
    pub fn describe(self) -> &'static str {
        match self {
            BreachKind::SubLetting => "sub-letting a booth",
            BreachKind::LeavingEarly => "leaving early",
            BreachKind::FalseDeclaration => "a false declaration",
        }
    }
}

/// A recorded breach.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Breach {
    pub id: Uuid,
    pub fair_id: Uuid,
    pub uscc: String,
    pub kind: BreachKind,
    /// What was seen, as commerce wrote it.
    pub evidence: String,
    /// The document or file the evidence is in (may be empty).
    pub reference: String,
    pub recorded_at: DateTime<Utc>,
}

/// One session of a fair's kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    pub fair_id: Uuid,
    pub name: String,
    pub starts_at: DateTime<Utc>,
}

/// A breach as the bar reads it: the fair it happened at, that fair's kind, and the sessions
/// of that kind after it, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BreachRecord {
    pub breach: Breach,
    pub kind: FairKind,
    pub at: Session,
    /// The fairs of `kind` starting after `at`, by start then id.
    pub later: Vec<Session>,
}

impl BreachRecord {
    /// The sessions it bars (`n` at most; fewer while later ones are not planned yet).
    pub fn barred(&self, n: u32) -> &[Session] {
        &self.later[..self.later.len().min(n as usize)]
    }

    /// The first session the firm may apply to again, once it is planned.
    pub fn free_again(&self, n: u32) -> Option<&Session> {
        self.later.get(n as usize)
    }
}

/// Why the firm may not apply, for the refusal's message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bar {
    pub breach: BreachKind,
    pub at_fair: String,
    pub at_date: DateTime<Utc>,
    /// This session's place among the sessions after the breach (1 = the next).
    pub session: u32,
    pub sessions: u32,
    /// The first session it may apply to again, when already planned.
    pub free_again: Option<Session>,
}

impl std::fmt::Display for Bar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "barred after {} at {} ({}): this is session {} of the {} of its kind it may not apply to; ",
            self.breach.describe(),
            self.at_fair,
            self.at_date.format("%Y-%m-%d"),
            self.session,
            self.sessions
        )?;
        match &self.free_again {
            Some(s) => write!(
                f,
                "it may apply again from {} ({})",
                s.name,
                s.starts_at.format("%Y-%m-%d")
            ),
            None => write!(
                f,
                "it may apply again from session {} after {} (not planned yet)",
                self.sessions + 1,
                self.at_fair
            ),
        }
    }
}

/// Refuses an application of a firm with `breaches` to `fair_id` (of `kind`) when a breach
/// of that kind bars it: the fair is among the first `n` sessions after the breach.
pub fn check_bar(
    breaches: &[BreachRecord],
    fair_id: Uuid,
    kind: FairKind,
    n: u32,
) -> Result<(), Refused> {
    let bars = breaches.iter().filter(|b| b.kind == kind).filter_map(|b| {
        let place = b.barred(n).iter().position(|s| s.fair_id == fair_id)?;
        Some(Bar {
            breach: b.breach.kind,
            at_fair: b.at.name.clone(),
            at_date: b.at.starts_at,
            session: place as u32 + 1,
            sessions: n,
            free_again: b.free_again(n).cloned(),
        })
    });
    // The breach that bars the longest names the session it may apply again.
    match bars.max_by_key(|bar| bar.sessions - bar.session) {
        Some(bar) => Err(Refused::Barred(Box::new(bar))),
        None => Ok(()),
    }
}

/// What recording a breach needs, loaded under the fair's lock.
#[derive(Clone, Debug)]
pub struct RecordState {
    /// The id the breach gets.
    pub id: Uuid,
    /// The firm has (or had) a registration for the fair.
    pub registered: bool,
    /// Breaches of the firm already recorded at this fair.
    pub recorded: Vec<BreachKind>,
}

/// What commerce records.
#[derive(Clone, Debug)]
pub struct RecordBreach {
    pub fair_id: Uuid,
    pub uscc: String,
    pub kind: BreachKind,
    pub evidence: String,
    pub reference: String,
}

/// Decides recording a breach: only of a firm registered for the fair, once per kind.
pub fn decide(
    state: &RecordState,
    c: &RecordBreach,
    now: DateTime<Utc>,
) -> Result<Breach, Refused> {
    if !state.registered {
        return Err(Refused::NotRegistered(c.uscc.clone()));
    }
    if state.recorded.contains(&c.kind) {
        return Err(Refused::BreachRecorded(c.kind));
    }
    Ok(Breach {
        id: state.id,
        fair_id: c.fair_id,
        uscc: c.uscc.clone(),
        kind: c.kind,
        evidence: c.evidence.clone(),
        reference: c.reference.clone(),
        recorded_at: now,
    })
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;

    fn session(i: u128) -> Session {
        Session {
            fair_id: Uuid::from_u128(i),
            name: format!("Canton Fair session {i}"),
            starts_at: Utc.with_ymd_and_hms(2026, 4, 15, 0, 0, 0).unwrap()
                + Duration::days(180 * i as i64),
        }
    }

    fn record(kind: FairKind, later: u128) -> BreachRecord {
        BreachRecord {
            breach: Breach {
                id: Uuid::from_u128(99),
                fair_id: Uuid::from_u128(0),
                uscc: "91330100MA27XXXX0X".into(),
                kind: BreachKind::SubLetting,
                evidence: "booth 3F12 staffed by another firm".into(),
                reference: "SW-2026-17".into(),
                recorded_at: session(0).starts_at,
            },
            kind,
            at: session(0),
            later: (1..=later).map(session).collect(),
        }
    }

    #[test]
    fn a_breach_bars_exactly_n_sessions_of_its_kind() {
        let breaches = [record(FairKind::CantonFair, 6)];
        for n in [1, 4] {
            for i in 1..=n {
                let refused = check_bar(
                    &breaches,
                    Uuid::from_u128(i as u128),
                    FairKind::CantonFair,
                    n,
                )
                .unwrap_err();
                let text = refused.to_string();
                assert!(text.contains("sub-letting a booth"), "{text}");
                assert!(text.contains(&format!("session {i} of the {n}")), "{text}");
                let again = session(n as u128 + 1);
                assert!(text.contains(&again.name), "{text}");
            }
            let next = Uuid::from_u128(n as u128 + 1);
            assert_eq!(check_bar(&breaches, next, FairKind::CantonFair, n), Ok(()));
        }
        // The fair of the breach itself and other kinds are not barred.
        assert_eq!(
            check_bar(&breaches, Uuid::from_u128(0), FairKind::CantonFair, 4),
            Ok(())
        );
        assert_eq!(
            check_bar(&breaches, Uuid::from_u128(1), FairKind::Chic, 4),
            Ok(())
        );
    }

    #[test]
    fn a_session_not_planned_yet_is_named_by_its_place() {
        let breaches = [record(FairKind::CantonFair, 2)];
        let text = check_bar(&breaches, Uuid::from_u128(2), FairKind::CantonFair, 4)
            .unwrap_err()
            .to_string();
        assert!(
            text.contains("from session 5 after Canton Fair session 0"),
            "{text}"
        );
    }

    #[test]
    fn a_breach_is_recorded_once_per_kind_and_only_for_a_registered_firm() {
        let c = RecordBreach {
            fair_id: Uuid::from_u128(1),
            uscc: "91330100MA27XXXX0X".into(),
            kind: BreachKind::LeavingEarly,
            evidence: "stand empty on day 3".into(),
            reference: String::new(),
        };
        let mut state = RecordState {
            id: Uuid::from_u128(5),
            registered: false,
            recorded: vec![],
        };
        let now = session(0).starts_at;
        assert_eq!(
            decide(&state, &c, now),
            Err(Refused::NotRegistered(c.uscc.clone()))
        );
        state.registered = true;
        assert_eq!(
            decide(&state, &c, now).unwrap().kind,
            BreachKind::LeavingEarly
        );
        state.recorded.push(BreachKind::LeavingEarly);
        let twice = decide(&state, &c, now).unwrap_err();
        assert!(twice.already_exists().is_some(), "{twice}");
    }
}
