//! Objections (异议) to a published ranking, pure: their states, what a filing must carry, and
//! when one is in time.
//!
//! An enterprise, or commerce on its behalf, objects to its class in a published period within
//! the objection window ([`super::calendar`]); commerce upholds it (the decided class becomes an
//! override with the decision's reason) or rejects it. One objection per firm and period awaits
//! decision at a time.

use std::fmt;

use chrono::{DateTime, Utc};

use super::{
    Class, Refused,
    calendar::{ObjectionWindow, china_standard_time},
};

/// Longest reason accepted, in characters.
pub const MAX_REASON: usize = 2_000;
/// Most evidence references one objection carries.
pub const MAX_EVIDENCE: usize = 20;
/// Longest evidence reference (a document number or URL), in characters.
pub const MAX_EVIDENCE_LEN: usize = 500;

/// Where an objection stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ObjectionState {
    /// Filed, awaiting decision.
    Filed,
    /// Upheld: its decided class is an override.
    Upheld,
    /// Rejected: nothing changed.
    Rejected,
}

impl ObjectionState {
    pub const ALL: [ObjectionState; 3] = [Self::Filed, Self::Upheld, Self::Rejected];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Filed => "filed",
            Self::Upheld => "upheld",
            Self::Rejected => "rejected",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

impl fmt::Display for ObjectionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Commerce's decision on an objection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Set this class as an override.
    Uphold(Class),
    Reject,
}

impl Decision {
    /// The state the objection takes.
    pub fn state(self) -> ObjectionState {
        match self {
            Decision::Uphold(_) => ObjectionState::Upheld,
            Decision::Reject => ObjectionState::Rejected,
        }
    }
}

/// The problems of a reason, as (field, message), for `field`.
pub fn reason_problems(field: &str, reason: &str) -> Vec<(String, String)> {
    if reason.trim().is_empty() {
        vec![(field.to_string(), "is required".to_string())]
    } else if reason.chars().count() > MAX_REASON {
        vec![(
            field.to_string(),
            format!("must be at most {MAX_REASON} characters"),
        )]
    } else {
        Vec::new()
    }
}

/// The problems of a list of evidence references, as (field, message): at most
/// [`MAX_EVIDENCE`], each non-blank and at most [`MAX_EVIDENCE_LEN`] characters.
pub fn evidence_problems(field: &str, evidence: &[String]) -> Vec<(String, String)> {
    if evidence.len() > MAX_EVIDENCE {
        return vec![(
            field.to_string(),
            format!("at most {MAX_EVIDENCE} references, not {}", evidence.len()),
        )];
    }
    evidence
        .iter()
        .enumerate()
        .filter_map(|(i, reference)| {
            let problem = if reference.trim().is_empty() {
                "must not be blank".to_string()
            } else if reference.chars().count() > MAX_EVIDENCE_LEN {
                format!("must be at most {MAX_EVIDENCE_LEN} characters")
            } else if reference.chars().any(char::is_control) {
                "must not contain control characters".to_string()
            } else {
                return None;
            };
            Some((format!("{field}[{i}]"), problem))
        })
        .collect()
}

/// Ok while `filed_at` is before the window's end, else why not, naming the deadline in China
/// Standard Time.
pub fn check_in_time(
    period: &str,
    filed_at: DateTime<Utc>,
    deadline: DateTime<Utc>,
) -> Result<(), Refused> {
    if filed_at < deadline {
        Ok(())
    } else {
        Err(Refused::WindowClosed {
            period: period.to_string(),
            deadline,
        })
    }
}

/// What a filing is decided against, loaded by the store.
#[derive(Debug, Clone, Copy)]
pub struct FilingState<'a> {
    pub period: &'a str,
    pub uscc: &'a str,
    /// When the period was published (`None`: not published).
    pub published_at: Option<DateTime<Utc>>,
    /// The firm's class in force in the period; `None` if it has no classification there.
    pub classified: Option<Option<Class>>,
    /// The firm's objection for the period awaiting decision, if any.
    pub undecided: Option<i64>,
}

/// A filing the rules accept: what is stored with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Filed {
    pub deadline: DateTime<Utc>,
    pub class_at_filing: Option<Class>,
}

/// A filing at `now`: against a published ranking, within its window, by a firm with a class
/// in the period and no objection awaiting decision (checked in this order).
pub fn decide_filing(
    state: &FilingState<'_>,
    window: &ObjectionWindow,
    now: DateTime<Utc>,
) -> Result<Filed, Refused> {
    let published_at = state
        .published_at
        .ok_or_else(|| Refused::NotPublished(state.period.to_string()))?;
    let deadline = window.deadline(published_at);
    check_in_time(state.period, now, deadline)?;
    let class_at_filing = state.classified.ok_or_else(|| Refused::NoClassification {
        uscc: state.uscc.to_string(),
        period: state.period.to_string(),
    })?;
    if let Some(id) = state.undecided {
        return Err(Refused::AlreadyOpen {
            uscc: state.uscc.to_string(),
            period: state.period.to_string(),
            id,
        });
    }
    Ok(Filed {
        deadline,
        class_at_filing,
    })
}

/// An instant as China Standard Time, `2026-03-10 00:00 CST`.
pub fn format_cst(at: DateTime<Utc>) -> String {
    at.with_timezone(&china_standard_time())
        .format("%Y-%m-%d %H:%M CST")
        .to_string()
}

/// Ok if an objection in `state` may be decided, else why not.
pub fn check_undecided(id: i64, state: ObjectionState) -> Result<(), Refused> {
    match state {
        ObjectionState::Filed => Ok(()),
        decided => Err(Refused::AlreadyDecided { id, state: decided }),
    }
}

/// `decision` on objection `id` in `state`: the state it takes, if it is still undecided.
pub fn decide(
    id: i64,
    state: ObjectionState,
    decision: Decision,
) -> Result<ObjectionState, Refused> {
    check_undecided(id, state)?;
    Ok(decision.state())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip_their_names() {
        for state in ObjectionState::ALL {
            assert_eq!(ObjectionState::parse(state.as_str()), Some(state));
        }
        assert_eq!(ObjectionState::parse("open"), None);
        assert_eq!(Decision::Uphold(Class::A).state(), ObjectionState::Upheld);
        assert_eq!(Decision::Reject.state(), ObjectionState::Rejected);
    }

    #[test]
    fn reasons_are_required_and_bounded() {
        assert!(reason_problems("reason", "figures were misread").is_empty());
        assert_eq!(reason_problems("reason", "  ")[0].0, "reason");
        assert_eq!(
            reason_problems("reason", &"异".repeat(MAX_REASON)).len(),
            0,
            "characters, not bytes"
        );
        assert_eq!(
            reason_problems("reason", &"x".repeat(MAX_REASON + 1)).len(),
            1
        );
    }

    #[test]
    fn evidence_references_are_checked_one_by_one() {
        let refs = |items: &[&str]| items.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(evidence_problems("evidence", &refs(&["doc-1", "https://x/y"])).is_empty());
        assert!(evidence_problems("evidence", &[]).is_empty());
        let problems = evidence_problems(
            "evidence",
            &refs(&["ok", " ", &"x".repeat(MAX_EVIDENCE_LEN + 1), "a\nb"]),
        );
        let fields: Vec<&str> = problems.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(fields, ["evidence[1]", "evidence[2]", "evidence[3]"]);
        let many = vec!["doc".to_string(); MAX_EVIDENCE + 1];
        assert_eq!(evidence_problems("evidence", &many)[0].0, "evidence");
    }

    #[test]
    fn in_time_means_before_the_deadline_and_a_late_one_names_it() {
        let deadline = DateTime::parse_from_rfc3339("2026-03-09T16:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let second = chrono::Duration::seconds(1);
        assert!(check_in_time("2025", deadline - second, deadline).is_ok());
        let late = check_in_time("2025", deadline, deadline)
            .unwrap_err()
            .to_string();
        assert!(late.contains("2026-03-10 00:00 CST"), "{late}");
        assert!(late.contains("2025"), "{late}");
    }

    #[test]
    fn only_a_filed_objection_is_decided() {
        assert!(check_undecided(1, ObjectionState::Filed).is_ok());
        let err = check_undecided(7, ObjectionState::Upheld)
            .unwrap_err()
            .to_string();
        assert_eq!(err, "objection 7 is already upheld");
        assert!(check_undecided(7, ObjectionState::Rejected).is_err());
    }

    fn filing(published_at: Option<DateTime<Utc>>) -> FilingState<'static> {
        FilingState {
            period: "2025",
            uscc: "F1",
            published_at,
            classified: Some(Some(Class::B)),
            undecided: None,
        }
    }

    #[test]
    fn a_filing_in_time_stores_the_class_in_force_and_the_deadline() {
        let window = ObjectionWindow::default();
        let published = DateTime::parse_from_rfc3339("2026-03-02T02:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let filed = decide_filing(&filing(Some(published)), &window, published).unwrap();
        assert_eq!(filed.deadline, window.deadline(published));
        assert_eq!(filed.class_at_filing, Some(Class::B));
    }

    #[test]
    fn a_filing_is_refused_by_the_first_rule_it_breaks() {
        let window = ObjectionWindow::default();
        let published = DateTime::parse_from_rfc3339("2026-03-02T02:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let deadline = window.deadline(published);
        let refused =
            |state: FilingState<'_>, now| decide_filing(&state, &window, now).unwrap_err();
        assert_eq!(
            refused(filing(None), published),
            Refused::NotPublished("2025".into())
        );
        let late = FilingState {
            classified: None,
            undecided: Some(3),
            ..filing(Some(published))
        };
        assert!(matches!(
            refused(late, deadline),
            Refused::WindowClosed { .. }
        ));
        let unclassified = FilingState {
            classified: None,
            undecided: Some(3),
            ..filing(Some(published))
        };
        assert!(matches!(
            refused(unclassified, published),
            Refused::NoClassification { .. }
        ));
        let open = FilingState {
            undecided: Some(3),
            ..filing(Some(published))
        };
        assert_eq!(
            refused(open, published).to_string(),
            "F1 already has an objection for 2025 awaiting decision (objection 3)"
        );
    }

    #[test]
    fn a_decision_moves_a_filed_objection_only() {
        assert_eq!(
            decide(1, ObjectionState::Filed, Decision::Uphold(Class::A)),
            Ok(ObjectionState::Upheld)
        );
        assert_eq!(
            decide(1, ObjectionState::Filed, Decision::Reject),
            Ok(ObjectionState::Rejected)
        );
        assert_eq!(
            decide(1, ObjectionState::Rejected, Decision::Reject),
            Err(Refused::AlreadyDecided {
                id: 1,
                state: ObjectionState::Rejected
            })
        );
    }
}
