//! Eligibility: a policy's conditions, each a typed clause over the facts; all must hold.
//! Each clause also says, for the calculator and the round's explanation, the firm's value
//! and what it lacks.

use chrono::NaiveDate;
use platform::{Class, Park, Segment};

use super::facts::{Facts, Indicator, whole_years};

/// Which class counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClassView {
    /// The class in force now (after overrides).
    InForce,
    /// The class as the period's ranking was published.
    Published,
}

/// One condition of a policy.
#[derive(Debug, Clone, PartialEq)]
pub enum Clause {
    Class {
        classes: Vec<Class>,
        view: ClassView,
    },
    Segment(Vec<Segment>),
    Park(Vec<Park>),
    Indicator {
        indicator: Indicator,
        at_least: i64,
    },
    NoVeto,
    NoLandShortfall,
    /// Took part in an external fair in this year (the policy period's).
    ExternalFair {
        year: i32,
    },
    /// Registered at least this many whole years on `on` (the period's last day).
    YearsRegistered {
        years: i32,
        on: NaiveDate,
    },
}

/// One clause for one firm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClauseResult {
    pub condition: String,
    pub met: bool,
    pub value: String,
    /// What is missing; empty when met.
    pub gap: String,
}

fn result(condition: String, met: bool, value: String, gap: impl Into<String>) -> ClauseResult {
    let gap = if met { String::new() } else { gap.into() };
    ClauseResult {
        condition,
        met,
        value,
        gap,
    }
}

fn names<T: Copy>(items: &[T], name: impl Fn(T) -> &'static str) -> String {
    items
        .iter()
        .map(|&i| name(i))
        .collect::<Vec<_>>()
        .join(" or ")
}

fn optional<T: Copy>(value: Option<T>, name: impl Fn(T) -> &'static str) -> String {
    value.map_or("none", name).to_string()
}

impl Clause {
    /// Whether `facts` meet this clause, with the value and the gap.
    pub fn check(&self, facts: &Facts) -> ClauseResult {
        match self {
            Clause::Class { classes, view } => {
                // Where the period has a final list, it is the class that counts.
                let (class, which) = match (facts.class_final, view) {
                    (Some(last), _) => (last, "in the final list"),
                    (None, ClassView::InForce) => (facts.class_in_force, "in force"),
                    (None, ClassView::Published) => (facts.class_published, "as published"),
                };
                let met = class.is_some_and(|c| classes.contains(&c));
                result(
                    format!("class {which} is {}", names(classes, Class::as_str)),
                    met,
                    optional(class, Class::as_str),
                    format!("needs class {}", names(classes, Class::as_str)),
                )
            }
            Clause::Segment(segments) => result(
                format!("segment is {}", names(segments, Segment::as_str)),
                facts.segment.is_some_and(|s| segments.contains(&s)),
                optional(facts.segment, Segment::as_str),
                "another segment",
            ),
            Clause::Park(parks) => result(
                format!("park is {}", names(parks, Park::as_str)),
                facts.park.is_some_and(|p| parks.contains(&p)),
                optional(facts.park, Park::as_str),
                "another park",
            ),
            Clause::Indicator {
                indicator,
                at_least,
            } => indicator_clause(*indicator, *at_least, facts),
            Clause::NoVeto => result(
                "no veto on record".into(),
                !facts.veto,
                if facts.veto { "a veto" } else { "none" }.into(),
                "a veto (safety, environmental or tax-credit violation) is on record",
            ),
            Clause::NoLandShortfall => result(
                "no land commitment short".into(),
                !facts.land_short,
                if facts.land_short {
                    "short"
                } else {
                    "none short"
                }
                .into(),
                "a land commitment is short at its latest evaluation",
            ),
            Clause::ExternalFair { year } => {
                let met = facts.external_fair_years.contains(year);
                result(
                    format!("took part in an external fair in {year}"),
                    met,
                    if met { "yes" } else { "no" }.into(),
                    format!("no external fair in {year}"),
                )
            }
            Clause::YearsRegistered { years, on } => {
                let held = facts.registered_on.map(|since| whole_years(since, *on));
                result(
                    format!("registered at least {years} years on {on}"),
                    held.is_some_and(|h| h >= *years),
                    held.map_or_else(|| "unknown".into(), |h| format!("{h} years")),
                    held.map_or_else(
                        || "no registration date".into(),
                        |h| format!("{} years short", years - h),
                    ),
                )
            }
        }
    }
}

fn indicator_clause(indicator: Indicator, at_least: i64, facts: &Facts) -> ClauseResult {
    let unit = indicator.unit();
    let value = facts.figures.as_ref().and_then(|f| indicator.value(f));
    result(
        format!("{} at least {at_least} {unit}", indicator.label()),
        value.is_some_and(|v| v >= at_least),
        value.map_or_else(|| "unknown".into(), |v| format!("{v} {unit}")),
        value.map_or_else(
            || "the platform holds no figure for the period".into(),
            |v| format!("{} {unit} short", at_least.saturating_sub(v)),
        ),
    )
}

/// Every clause for `facts`; eligible when all are met and the firm is not deregistered.
pub fn check_all(clauses: &[Clause], facts: &Facts) -> (bool, Vec<ClauseResult>) {
    let results: Vec<ClauseResult> = clauses.iter().map(|c| c.check(facts)).collect();
    let eligible = !facts.deregistered && results.iter().all(|r| r.met);
    (eligible, results)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::facts::Figures;

    fn firm() -> Facts {
        Facts {
            uscc: "U".into(),
            class_in_force: Some(Class::B),
            segment: Some(Segment::Textile),
            park: Some(Park::Xiliu),
            figures: Some(Figures {
                rd_spend_fen: 299,
                revenue_fen: 10_000,
                ..Figures::default()
            }),
            registered_on: NaiveDate::from_ymd_opt(2022, 12, 31),
            ..Facts::default()
        }
    }

    #[test]
    fn an_indicator_at_its_threshold_is_met_and_one_unit_below_is_not() {
        let clause = |at_least| Clause::Indicator {
            indicator: Indicator::RdShareBp,
            at_least,
        };
        let at = clause(299).check(&firm());
        assert!(at.met, "{at:?}");
        assert_eq!(at.gap, "");
        let past = clause(300).check(&firm());
        assert!(!past.met);
        assert_eq!(past.value, "299 bp");
        assert_eq!(past.gap, "1 bp short");
    }

    #[test]
    fn a_missing_figure_is_unknown_and_not_met() {
        let mut facts = firm();
        facts.figures = None;
        let r = Clause::Indicator {
            indicator: Indicator::TaxPaidFen,
            at_least: 0,
        }
        .check(&facts);
        assert!(!r.met);
        assert_eq!(r.value, "unknown");
    }

    #[test]
    fn class_views_read_different_classes() {
        let mut facts = firm();
        facts.class_published = Some(Class::A);
        let in_force = Clause::Class {
            classes: vec![Class::A],
            view: ClassView::InForce,
        };
        let published = Clause::Class {
            classes: vec![Class::A],
            view: ClassView::Published,
        };
        assert!(!in_force.check(&facts).met);
        assert!(published.check(&facts).met);
        // Once the period has a final list, both read it.
        facts.class_final = Some(Some(Class::B));
        for clause in [&in_force, &published] {
            let r = clause.check(&facts);
            assert!(!r.met);
            assert_eq!(r.value, "B");
            assert!(r.condition.contains("in the final list"), "{}", r.condition);
        }
        facts.class_final = Some(None);
        assert_eq!(published.check(&facts).value, "none");
    }

    #[test]
    fn years_registered_counts_whole_years_on_the_day() {
        let on = NaiveDate::from_ymd_opt(2025, 12, 31).unwrap();
        assert!(Clause::YearsRegistered { years: 3, on }.check(&firm()).met);
        let short = Clause::YearsRegistered { years: 4, on }.check(&firm());
        assert!(!short.met);
        assert_eq!(short.gap, "1 years short");
    }

    #[test]
    fn all_clauses_must_hold_and_a_deregistered_firm_is_never_eligible() {
        let clauses = vec![Clause::NoVeto, Clause::Segment(vec![Segment::Textile])];
        assert!(check_all(&clauses, &firm()).0);
        let mut vetoed = firm();
        vetoed.veto = true;
        let (eligible, results) = check_all(&clauses, &vetoed);
        assert!(!eligible);
        assert_eq!(results.iter().filter(|r| !r.met).count(), 1);
        let mut gone = firm();
        gone.deregistered = true;
        assert!(!check_all(&clauses, &gone).0);
    }
}
