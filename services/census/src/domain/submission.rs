//! The returns' write path: what each submission of a batch decides, given what the store
//! loaded for the batch (under its enterprises' row locks). Pure: [`decide`] takes one
//! submission against the state, [`decide_batch`] takes a batch in order, each decision
//! evolving the state the next one sees (a later row may correct an earlier one).
//!
//! The return's own checks ([`super::Rules`]) were applied when the request was read (a
//! [`Submission`] is checked input); what is decided here needs the stored state.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::{CensusReturn, Enterprise, Submission, Uscc};

/// Why a submission was refused; each variant names the rule it broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// No enterprise has this USCC.
    #[error("no enterprise with uscc {0} is registered")]
    UnknownEnterprise(Uscc),
    /// The enterprise is deregistered and takes no new returns.
    #[error("enterprise {0} is deregistered and takes no new returns")]
    Deregistered(Uscc),
    /// Its client request id was used before for different content.
    #[error("{0:?} was already used for a submission with different content")]
    ConflictingRequestId(String),
}

impl Refused {
    /// The field of the submission the refusal is about (an import's rejected row names it).
    pub fn field(&self) -> &'static str {
        match self {
            Refused::UnknownEnterprise(_) | Refused::Deregistered(_) => "uscc",
            Refused::ConflictingRequestId(_) => "client_request_id",
        }
    }
}

/// What a batch is decided from, read while its enterprises' row locks are held.
#[derive(Debug, Clone, Default)]
pub struct State {
    /// The current records of the batch's enterprises, by USCC.
    pub enterprises: HashMap<String, Enterprise>,
    /// Revisions already stored under the batch's client request ids.
    pub seen: HashMap<String, CensusReturn>,
    /// The latest revision of each (uscc, period code) the batch touches.
    pub last_revision: HashMap<(String, String), i64>,
}

/// A new revision and the enterprise record it was checked against: the domain event
/// `CensusReturnSubmitted` is built from it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReturnSubmitted {
    pub census_return: CensusReturn,
    pub enterprise: Enterprise,
}

/// What one submission decided.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// A new revision to store, with its event.
    Stored(ReturnSubmitted),
    /// Its client request id was seen before with the same content: the revision stored then.
    Duplicate(CensusReturn),
}

impl Decision {
    /// The revision the caller gets back, and whether it was a duplicate.
    pub fn census_return(&self) -> (&CensusReturn, bool) {
        match self {
            Decision::Stored(event) => (&event.census_return, false),
            Decision::Duplicate(stored) => (stored, true),
        }
    }
}

/// One submission by `submitted_by`, decided against `state` at `now`.
pub fn decide(
    state: &State,
    submission: &Submission,
    submitted_by: &str,
    now: DateTime<Utc>,
) -> Result<Decision, Refused> {
    let content = &submission.content;
    if let Some(earlier) = state.seen.get(&submission.client_request_id) {
        return if earlier.content == *content {
            Ok(Decision::Duplicate(earlier.clone()))
        } else {
            Err(Refused::ConflictingRequestId(
                submission.client_request_id.clone(),
            ))
        };
    }
    let enterprise = state
        .enterprises
        .get(content.uscc.as_str())
        .ok_or_else(|| Refused::UnknownEnterprise(content.uscc.clone()))?;
    if !enterprise.is_active() {
        return Err(Refused::Deregistered(content.uscc.clone()));
    }
    let last = state
        .last_revision
        .get(&(content.uscc.to_string(), content.period.code()))
        .copied()
        .unwrap_or(0);
    Ok(Decision::Stored(ReturnSubmitted {
        census_return: CensusReturn {
            content: content.clone(),
            revision: last + 1,
            client_request_id: submission.client_request_id.clone(),
            submitted_at: now,
            submitted_by: submitted_by.to_string(),
            enterprise_version: enterprise.version,
        },
        enterprise: enterprise.clone(),
    }))
}

impl State {
    /// The state after `decision`: a stored revision is the latest of its period and is
    /// known by its request id.
    pub fn evolve(&mut self, decision: &Decision) {
        if let Decision::Stored(event) = decision {
            let stored = &event.census_return;
            let key = (
                stored.content.uscc.to_string(),
                stored.content.period.code(),
            );
            self.last_revision.insert(key, stored.revision);
            self.seen
                .insert(stored.client_request_id.clone(), stored.clone());
        }
    }
}

/// Every submission of `batch`, in order, each seeing the ones before it.
pub fn decide_batch(
    mut state: State,
    batch: &[Submission],
    submitted_by: &str,
    now: DateTime<Utc>,
) -> Vec<Result<Decision, Refused>> {
    batch
        .iter()
        .map(|submission| {
            let decision = decide(&state, submission, submitted_by, now)?;
            state.evolve(&decision);
            Ok(decision)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, TimeZone};
    use proptest::prelude::*;

    use super::*;
    use crate::domain::{
        Indicators, IndustryClass, Park, Period, RegistryFields, ReturnContent, Size, Sources,
        Status, Vetoes,
    };

    fn uscc(i: usize) -> Uscc {
        Uscc::complete(&format!("91210381TEXT{i:04}")).expect("a valid prefix")
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, 1, 8, 0, 0).unwrap()
    }

    fn enterprise(i: usize, status: Status) -> Enterprise {
        Enterprise {
            uscc: uscc(i),
            fields: RegistryFields {
                name: format!("firm {i}"),
                legal_representative: "王海".into(),
                park: Park::Nantai,
                industry_class: IndustryClass::parse("1922").unwrap(),
                size: Size::Small,
                registration_date: NaiveDate::from_ymd_opt(2012, 3, 15).unwrap(),
                vetoes: Vetoes::default(),
            },
            status,
            deregistration_reason: None,
            version: 3,
            created_at: now(),
            updated_at: now(),
        }
    }

    /// A submission for firm `firm` in period `period` (2020 + n), its content told apart
    /// by `staff`, under request id `id`.
    fn submission(id: usize, firm: usize, period: usize, staff: i64) -> Submission {
        Submission {
            client_request_id: format!("req-{id}"),
            content: ReturnContent {
                uscc: uscc(firm),
                period: Period::parse(&format!("{}", 2020 + period)).unwrap(),
                indicators: Indicators {
                    employees_total: staff,
                    ..Indicators::default()
                },
                sources: Sources::default(),
            },
        }
    }

    /// Firms 0..3 active, firm 3 deregistered, firm 4 unknown.
    fn state() -> State {
        let mut state = State::default();
        for (i, status) in [
            (0, Status::Active),
            (1, Status::Active),
            (2, Status::Active),
        ]
        .into_iter()
        .chain([(3, Status::Deregistered)])
        {
            state
                .enterprises
                .insert(uscc(i).to_string(), enterprise(i, status));
        }
        state
    }

    fn batch() -> impl Strategy<Value = Vec<Submission>> {
        prop::collection::vec((0..12usize, 0..5usize, 0..2usize, 0..3i64), 1..30).prop_map(|rows| {
            rows.into_iter()
                .map(|(id, firm, period, staff)| submission(id, firm, period, staff))
                .collect()
        })
    }

    #[test]
    fn each_refusal_names_its_rule() {
        let state = state();
        let decide = |s: &Submission| decide(&state, s, "department:commerce", now());
        assert_eq!(
            decide(&submission(1, 4, 0, 1)),
            Err(Refused::UnknownEnterprise(uscc(4)))
        );
        assert_eq!(
            decide(&submission(1, 3, 0, 1)),
            Err(Refused::Deregistered(uscc(3)))
        );
        let outcomes = decide_batch(
            state.clone(),
            &[submission(7, 0, 0, 1), submission(7, 0, 0, 2)],
            "department:commerce",
            now(),
        );
        assert_eq!(
            outcomes[1],
            Err(Refused::ConflictingRequestId("req-7".into()))
        );
        assert_eq!(
            outcomes[1].as_ref().unwrap_err().field(),
            "client_request_id"
        );
    }

    proptest! {
        /// Revisions of one (uscc, period) count up by one from the stored latest, in batch
        /// order; a refused or duplicate row takes none.
        #[test]
        fn revisions_count_up_in_batch_order(batch in batch(), stored_latest in 0..4i64) {
            let mut state = state();
            for firm in 0..3 {
                state.last_revision.insert((uscc(firm).to_string(), "2020".into()), stored_latest);
            }
            let outcomes = decide_batch(state, &batch, "department:commerce", now());
            prop_assert_eq!(outcomes.len(), batch.len());
            let mut latest: HashMap<(String, String), i64> = HashMap::new();
            for outcome in &outcomes {
                if let Ok(Decision::Stored(event)) = outcome {
                    let r = &event.census_return;
                    let key = (r.content.uscc.to_string(), r.content.period.code());
                    let before = latest.get(&key).copied().unwrap_or(
                        if key.1 == "2020" { stored_latest } else { 0 },
                    );
                    prop_assert_eq!(r.revision, before + 1);
                    prop_assert_eq!(r.submitted_at, now());
                    prop_assert_eq!(r.enterprise_version, event.enterprise.version);
                    latest.insert(key, r.revision);
                }
            }
        }

        /// Only active, known enterprises get revisions; and the same batch again, after the
        /// first was stored, stores nothing: each row is its earlier revision or the same
        /// refusal.
        #[test]
        fn a_batch_sent_again_stores_nothing_new(batch in batch()) {
            let mut state = state();
            let first: Vec<_> = batch
                .iter()
                .map(|s| {
                    let decision = decide(&state, s, "department:commerce", now());
                    if let Ok(d) = &decision {
                        state.evolve(d);
                    }
                    decision
                })
                .collect();
            for (submission, outcome) in batch.iter().zip(&first) {
                let firm = state.enterprises.get(submission.content.uscc.as_str());
                if outcome.is_ok() {
                    prop_assert!(firm.is_some_and(Enterprise::is_active));
                }
            }
            let again = decide_batch(state, &batch, "department:commerce", now());
            for (a, b) in first.iter().zip(&again) {
                match (a, b) {
                    (Ok(a), Ok(Decision::Duplicate(b))) => prop_assert_eq!(a.census_return().0, b),
                    (Err(_), Err(_)) | (Ok(_), Err(Refused::ConflictingRequestId(_))) => {}
                    (a, b) => prop_assert!(false, "{:?} then {:?}", a, b),
                }
            }
        }
    }
}
