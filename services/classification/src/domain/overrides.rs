//! Overrides (人工调整), pure: what setting or lifting one does to a stored classification,
//! or why it is refused. The store loads the classification under the period's lock, calls
//! [`decide`], and writes what it says (the override, its audit row, the event of a change).

use super::{Class, Refused, policy::Transition};

/// What an override call changes.
#[derive(Debug, Clone)]
pub enum OverrideAction<'a> {
    Set { class: Class, reason: &'a str },
    Lift { reason: &'a str },
}

/// The classification an override is decided against.
#[derive(Debug, Clone, Copy)]
pub struct Overridden<'r> {
    pub uscc: &'r str,
    pub period: &'r str,
    /// The class in force.
    pub class: Option<Class>,
    pub computed_class: Option<Class>,
    pub override_class: Option<Class>,
}

/// What an override call does to one stored classification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverrideDecision<'a> {
    /// The override after the call (`None` once lifted).
    pub override_class: Option<Class>,
    /// The class in force before and after the call.
    pub transition: Transition,
    pub reason: &'a str,
    /// `set` or `lift`, for the audit.
    pub verb: &'static str,
}

impl OverrideDecision<'_> {
    /// The class in force after the call.
    pub fn new_class(&self) -> Option<Class> {
        self.transition.to
    }
}

/// `action` on `row`: a set always applies; a lift needs an override to lift.
pub fn decide<'a>(
    row: &Overridden<'_>,
    action: OverrideAction<'a>,
) -> Result<OverrideDecision<'a>, Refused> {
    let (override_class, new_class, reason, verb) = match action {
        OverrideAction::Set { class, reason } => (Some(class), Some(class), reason, "set"),
        OverrideAction::Lift { .. } if row.override_class.is_none() => {
            return Err(Refused::NoOverride {
                uscc: row.uscc.to_string(),
                period: row.period.to_string(),
            });
        }
        OverrideAction::Lift { reason } => (None, row.computed_class, reason, "lift"),
    };
    Ok(OverrideDecision {
        override_class,
        transition: Transition {
            from: row.class,
            to: new_class,
        },
        reason,
        verb,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(computed: Option<Class>, overridden: Option<Class>) -> Overridden<'static> {
        Overridden {
            uscc: "91350500MA2XXXXXX1",
            period: "2025",
            class: overridden.or(computed),
            computed_class: computed,
            override_class: overridden,
        }
    }

    #[test]
    fn a_set_puts_its_class_in_force_over_the_computed_one() {
        let set = OverrideAction::Set {
            class: Class::A,
            reason: "exports",
        };
        let decided = decide(&row(Some(Class::C), None), set).unwrap();
        assert_eq!(decided.override_class, Some(Class::A));
        assert_eq!(
            decided.transition,
            Transition {
                from: Some(Class::C),
                to: Some(Class::A)
            }
        );
        assert_eq!((decided.reason, decided.verb), ("exports", "set"));
    }

    #[test]
    fn a_lift_restores_the_computed_class() {
        let lift = OverrideAction::Lift { reason: "lifted" };
        let decided = decide(&row(Some(Class::B), Some(Class::A)), lift).unwrap();
        assert_eq!(decided.override_class, None);
        assert_eq!(decided.new_class(), Some(Class::B));
        assert_eq!(decided.transition.from, Some(Class::A));
        assert_eq!(decided.verb, "lift");
    }

    #[test]
    fn a_lift_without_an_override_is_refused_naming_the_firm_and_period() {
        let lift = OverrideAction::Lift { reason: "lifted" };
        let refused = decide(&row(Some(Class::B), None), lift).unwrap_err();
        assert_eq!(
            refused.to_string(),
            "91350500MA2XXXXXX1 has no override for 2025"
        );
    }
}
