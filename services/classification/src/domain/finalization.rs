//! The final list (最终结果) of a period: once the objection window has closed and every
//! objection is decided, commerce finalizes the period. The final list is the published list
//! amended by the upheld objections (each firm's latest upheld class), and never changes after.
//!
//! Refused, in this order: a period not published; a period finalized already (naming when and
//! by whom: the final list is an official act, made once, like the publication); the window
//! still open (naming the deadline); objections still awaiting decision (naming them).

use chrono::{DateTime, Utc};

use super::{Class, Refused, calendar::ObjectionWindow};

/// An upheld objection, as the final list reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upheld {
    pub objection_id: i64,
    pub uscc: String,
    pub class: Class,
    pub reason: String,
    pub decided_by: String,
    pub decided_at: DateTime<Utc>,
}

/// What finalizing is decided against, loaded by the store under the period's lock.
#[derive(Clone, Debug)]
pub struct FinalizeState<'a> {
    pub period: &'a str,
    /// When the period was published (`None`: not published).
    pub published_at: Option<DateTime<Utc>>,
    /// When and by whom it was finalized, if it was.
    pub finalized: Option<(DateTime<Utc>, String)>,
    /// Objections of the period awaiting decision, by id.
    pub undecided: Vec<i64>,
    /// The period's upheld objections.
    pub upheld: Vec<Upheld>,
}

/// Decides finalizing at `now`: the amendments of the published list, one per firm (its
/// latest upheld objection), by USCC.
pub fn decide(
    state: &FinalizeState<'_>,
    window: &ObjectionWindow,
    now: DateTime<Utc>,
) -> Result<Vec<Upheld>, Refused> {
    let period = state.period.to_string();
    let published_at = state
        .published_at
        .ok_or_else(|| Refused::NotPublishedToFinalize(period.clone()))?;
    if let Some((at, by)) = &state.finalized {
        return Err(Refused::AlreadyFinalized {
            period,
            at: *at,
            by: by.clone(),
        });
    }
    let deadline = window.deadline(published_at);
    if now < deadline {
        return Err(Refused::WindowOpen { period, deadline });
    }
    if !state.undecided.is_empty() {
        let mut ids = state.undecided.clone();
        ids.sort_unstable();
        return Err(Refused::ObjectionsUndecided { period, ids });
    }
    let mut latest: std::collections::BTreeMap<&str, &Upheld> = Default::default();
    for u in &state.upheld {
        let entry = latest.entry(u.uscc.as_str()).or_insert(u);
        if (u.decided_at, u.objection_id) > (entry.decided_at, entry.objection_id) {
            *entry = u;
        }
    }
    Ok(latest.into_values().cloned().collect())
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;
    use crate::domain::calendar::Calendar;

    fn window() -> ObjectionWindow {
        ObjectionWindow {
            calendar: Calendar::new(Vec::new(), Vec::new()).unwrap(),
            working_days: 5,
        }
    }

    fn published() -> DateTime<Utc> {
        // Wednesday 2026-09-02, noon CST.
        Utc.with_ymd_and_hms(2026, 9, 2, 4, 0, 0).unwrap()
    }

    fn upheld(id: i64, uscc: &str, class: Class, day: i64) -> Upheld {
        Upheld {
            objection_id: id,
            uscc: uscc.into(),
            class,
            reason: "figures misread".into(),
            decided_by: "department:commerce".into(),
            decided_at: published() + Duration::days(day),
        }
    }

    fn state(undecided: Vec<i64>, upheld: Vec<Upheld>) -> FinalizeState<'static> {
        FinalizeState {
            period: "2025",
            published_at: Some(published()),
            finalized: None,
            undecided,
            upheld,
        }
    }

    #[test]
    fn refused_until_the_window_closes_then_while_an_objection_is_open() {
        let deadline = window().deadline(published());
        let s = state(vec![7, 3], vec![]);
        let early = decide(&s, &window(), deadline - Duration::microseconds(1)).unwrap_err();
        assert_eq!(
            early,
            Refused::WindowOpen {
                period: "2025".into(),
                deadline
            }
        );
        let open = decide(&s, &window(), deadline).unwrap_err();
        assert_eq!(
            open,
            Refused::ObjectionsUndecided {
                period: "2025".into(),
                ids: vec![3, 7]
            }
        );
        assert!(open.to_string().contains("3, 7"), "{open}");
        assert_eq!(
            decide(&state(vec![], vec![]), &window(), deadline),
            Ok(vec![])
        );
    }

    #[test]
    fn each_firm_takes_its_latest_upheld_class_and_a_period_is_finalized_once() {
        let deadline = window().deadline(published());
        let s = state(
            vec![],
            vec![
                upheld(1, "B", Class::B, 1),
                upheld(4, "A", Class::A, 1),
                upheld(5, "B", Class::A, 2),
            ],
        );
        let amended = decide(&s, &window(), deadline).unwrap();
        let got: Vec<(&str, Class, i64)> = amended
            .iter()
            .map(|u| (u.uscc.as_str(), u.class, u.objection_id))
            .collect();
        assert_eq!(got, [("A", Class::A, 4), ("B", Class::A, 5)]);
        let mut again = s.clone();
        again.finalized = Some((deadline, "department:commerce".into()));
        let refused = decide(&again, &window(), deadline).unwrap_err();
        assert!(refused.to_string().contains("finalized at"), "{refused}");
        let mut unpublished = s;
        unpublished.published_at = None;
        assert_eq!(
            decide(&unpublished, &window(), deadline),
            Err(Refused::NotPublishedToFinalize("2025".into()))
        );
    }
}
