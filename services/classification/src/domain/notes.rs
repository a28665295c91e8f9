//! The prose of an explanation (解释): one sentence for each thing about a firm's class a
//! reader should know: why it was not graded, which model scored it, what could not be
//! computed, a veto, an override, and what it would take to reach the next class.

use chrono::NaiveDate;

use super::{Class, Grading, Indicator, Model};

/// What the notes are written from: a stored classification as the domain sees it.
#[derive(Clone, Debug)]
pub struct Facts<'a> {
    pub uscc: &'a str,
    pub grading: Grading,
    pub registration_date: Option<NaiveDate>,
    /// Scored with the reduced model.
    pub reduced_model: bool,
    /// Indicators that could not be computed from the return (they score 0).
    pub missing: Vec<Indicator>,
    pub vetoed: bool,
    /// The class in force and the computed one (they differ under an override).
    pub class: Option<Class>,
    pub computed_class: Option<Class>,
    pub override_reason: Option<&'a str>,
    pub cohort_size: i32,
    pub score: f64,
    pub next: NextClass,
}

/// The next class up, as far as a graded firm can reach it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum NextClass {
    /// Not graded, vetoed, or already in A: nothing to reach.
    None,
    /// The class has no places in the cohort.
    NoPlaces(Class),
    /// The lowest score in the class.
    Boundary(Class, f64),
    /// The upper edge of the band the lowest score in the class lies in (an enterprise's own
    /// explanation: the exact score is a competitor's).
    Band(Class, f64),
}

/// The notes, in the order a reader needs them.
pub fn notes(facts: &Facts<'_>, model: &Model) -> Vec<String> {
    let mut notes = Vec::new();
    notes.extend(grading_note(facts, model));
    if facts.reduced_model {
        notes.push(format!(
            "Scored with the reduced model: revenue below {} yuan.",
            model.reduced.revenue_threshold_fen / 100
        ));
    }
    for indicator in &facts.missing {
        notes.push(format!(
            "{} could not be computed from the return and scores 0.",
            indicator.name()
        ));
    }
    if facts.vetoed {
        notes.push(
            "Vetoed (一票否决): a serious safety, environmental or tax-credit violation keeps it out of A and B."
                .to_string(),
        );
    }
    if let Some(reason) = facts.override_reason {
        notes.push(format!(
            "Overridden to {} (computed {}): {reason}",
            class_name(facts.class),
            class_name(facts.computed_class),
        ));
    }
    notes.extend(next_class_note(facts));
    notes
}

/// Why a firm was not graded, if it was not.
fn grading_note(facts: &Facts<'_>, model: &Model) -> Option<String> {
    match facts.grading {
        Grading::Graded => None,
        Grading::NotEvaluated => {
            Some("Not evaluated: the enterprise is deregistered (不参与评价).".to_string())
        }
        Grading::Deferred => Some(format!(
            "Deferred (暂缓评价): registered on {} — fewer than {} years before the period ended.",
            facts
                .registration_date
                .map_or("an unknown date".into(), |d| d.to_string()),
            model.deferral_years
        )),
        Grading::Exempt => Some(match model.exempt_enterprises.get(facts.uscc) {
            Some(reason) => format!("Exempt by decision (免评): {reason}"),
            None => "Exempt by industry class (免评).".to_string(),
        }),
    }
}

fn next_class_note(facts: &Facts<'_>) -> Option<String> {
    match facts.next {
        NextClass::None => None,
        NextClass::NoPlaces(target) => Some(format!(
            "Class {target} has no places in a cohort of {}.",
            facts.cohort_size
        )),
        NextClass::Boundary(target, boundary) => Some(format!(
            "{:.2} more points reach class {target} (its lowest score is {boundary:.2}); \
             on an equal score the lower USCC ranks first.",
            boundary - facts.score
        )),
        NextClass::Band(target, edge) => Some(format!(
            "{:.2} more points reach class {target} (it starts at or below {edge:.2} points).",
            edge - facts.score
        )),
    }
}

fn class_name(class: Option<Class>) -> String {
    class.map_or("no class".into(), |c| c.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graded() -> Facts<'static> {
        Facts {
            uscc: "91210381MA0Q12343L",
            grading: Grading::Graded,
            registration_date: NaiveDate::from_ymd_opt(2015, 3, 1),
            reduced_model: false,
            missing: Vec::new(),
            vetoed: false,
            class: Some(Class::C),
            computed_class: Some(Class::C),
            override_reason: None,
            cohort_size: 10,
            score: 85.0,
            next: NextClass::None,
        }
    }

    #[test]
    fn a_plain_graded_firm_gets_no_notes() {
        assert!(notes(&graded(), &Model::default()).is_empty());
    }

    #[test]
    fn an_enterprise_is_told_the_band_not_a_competitors_score() {
        let facts = Facts {
            next: NextClass::Band(Class::B, 100.0),
            ..graded()
        };
        let notes = notes(&facts, &Model::default());
        assert_eq!(
            notes,
            ["15.00 more points reach class B (it starts at or below 100.00 points)."]
        );
    }

    #[test]
    fn the_gap_to_the_next_class_is_said_last_in_points() {
        let facts = Facts {
            missing: vec![Indicator::OutputPerEnergy],
            next: NextClass::Boundary(Class::B, 100.0),
            ..graded()
        };
        let notes = notes(&facts, &Model::default());
        assert_eq!(notes.len(), 2);
        assert!(notes[0].ends_with("could not be computed from the return and scores 0."));
        assert!(
            notes[1].starts_with("15.00 more points reach class B"),
            "{}",
            notes[1]
        );
    }

    #[test]
    fn a_deferred_firm_is_told_its_registration_date_and_the_deferral() {
        let facts = Facts {
            grading: Grading::Deferred,
            ..graded()
        };
        let notes = notes(&facts, &Model::default());
        assert_eq!(
            notes,
            [
                "Deferred (暂缓评价): registered on 2015-03-01 — fewer than 3 years before the period ended."
            ]
        );
    }

    #[test]
    fn an_override_names_both_classes_and_its_reason() {
        let facts = Facts {
            class: Some(Class::A),
            override_reason: Some("provincial key project"),
            ..graded()
        };
        assert_eq!(
            notes(&facts, &Model::default()),
            ["Overridden to A (computed C): provincial key project"]
        );
    }
}
