//! The registry's write path: what a registration, an update or a deregistration of an
//! enterprise decides, given the record the store loaded (locked) for it. Pure: the store
//! loads the current record and the time, [`decide`] says the new version (or that nothing
//! changes, or why not), the store commits it with its event.

use chrono::{DateTime, Utc};

use super::{Enterprise, RegistryFields, Status, Uscc};

/// Why a registry write was refused; each variant names the rule it broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// A registration of a USCC already registered with other registry data.
    #[error("enterprise {0} is registered with different registry data")]
    RegisteredDifferently(Uscc),
    /// A change to an enterprise that was never registered.
    #[error("no enterprise with uscc {0}")]
    UnknownEnterprise(Uscc),
    /// A change to a deregistered enterprise, whose record no longer changes.
    #[error("enterprise {0} is deregistered; its record no longer changes")]
    Deregistered(Uscc),
    /// A change based on a version that is no longer the current one.
    #[error("enterprise {uscc} is at version {current}, not the expected {expected}")]
    VersionConflict {
        uscc: Uscc,
        current: i64,
        expected: i64,
    },
}

/// A change to an existing enterprise's record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// New registry fields.
    Fields(RegistryFields),
    /// Deregistration (注销), with its reason; the file stays.
    Deregister { reason: String },
}

/// A change as the caller asked it: the enterprise, the version it last read, the change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeCommand {
    pub uscc: Uscc,
    pub expected_version: i64,
    pub change: Change,
}

/// What a change decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// The same values again: the record as it is, no new version, no event.
    Unchanged(Enterprise),
    /// A new version to write, and the version it replaces (its event says both).
    NewVersion {
        next: Enterprise,
        previous_version: i64,
    },
}

/// A change of `current` (the record the store loaded and locked; `None` if unknown) at
/// `now`.
pub fn decide(
    current: Option<Enterprise>,
    command: ChangeCommand,
    now: DateTime<Utc>,
) -> Result<Decision, Refused> {
    let ChangeCommand {
        uscc,
        expected_version,
        change,
    } = command;
    let current = current.ok_or_else(|| Refused::UnknownEnterprise(uscc.clone()))?;
    if !current.is_active() {
        return Err(Refused::Deregistered(uscc));
    }
    if current.version != expected_version {
        return Err(Refused::VersionConflict {
            uscc,
            current: current.version,
            expected: expected_version,
        });
    }
    let mut next = Enterprise {
        version: current.version + 1,
        updated_at: now,
        ..current.clone()
    };
    match change {
        Change::Fields(fields) if fields == current.fields => {
            return Ok(Decision::Unchanged(current));
        }
        Change::Fields(fields) => next.fields = fields,
        Change::Deregister { reason } => {
            next.status = Status::Deregistered;
            next.deregistration_reason = Some(reason);
        }
    }
    Ok(Decision::NewVersion {
        next,
        previous_version: current.version,
    })
}

/// A new enterprise's first version, registered at `created_at`.
pub fn first_version(uscc: Uscc, fields: RegistryFields, created_at: DateTime<Utc>) -> Enterprise {
    Enterprise {
        uscc,
        fields,
        status: Status::Active,
        deregistration_reason: None,
        version: 1,
        created_at,
        updated_at: created_at,
    }
}

/// A registration of a USCC already registered: the same data again is the existing record
/// (the registration is idempotent); anything else is refused.
pub fn register_again(
    existing: Enterprise,
    fields: &RegistryFields,
) -> Result<Enterprise, Refused> {
    if existing.is_active() && &existing.fields == fields {
        Ok(existing)
    } else {
        Err(Refused::RegisteredDifferently(existing.uscc))
    }
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, TimeZone};
    use proptest::prelude::*;

    use super::*;
    use crate::domain::{IndustryClass, Park, Size, Vetoes};

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, 1, 8, 0, 0).unwrap()
    }

    fn fields(name: &str) -> RegistryFields {
        RegistryFields {
            name: name.into(),
            legal_representative: "王海".into(),
            park: Park::Xiliu,
            industry_class: IndustryClass::parse("1922").unwrap(),
            size: Size::Small,
            registration_date: NaiveDate::from_ymd_opt(2012, 3, 15).unwrap(),
            vetoes: Vetoes::default(),
        }
    }

    fn at_version(version: i64) -> Enterprise {
        let uscc = Uscc::complete("91210381TEXT0001").unwrap();
        Enterprise {
            version,
            ..first_version(uscc, fields("firm"), now() - chrono::Duration::days(9))
        }
    }

    fn command(expected_version: i64, change: Change) -> ChangeCommand {
        ChangeCommand {
            uscc: at_version(1).uscc,
            expected_version,
            change,
        }
    }

    #[test]
    fn unknown_and_deregistered_enterprises_take_no_change() {
        let change = || command(1, Change::Fields(fields("other")));
        assert!(matches!(
            decide(None, change(), now()),
            Err(Refused::UnknownEnterprise(_))
        ));
        let gone = Change::Deregister {
            reason: "closed".into(),
        };
        let Ok(Decision::NewVersion { next, .. }) =
            decide(Some(at_version(1)), command(1, gone), now())
        else {
            panic!("a deregistration of the current version is a new version");
        };
        assert_eq!(next.status, Status::Deregistered);
        assert!(matches!(
            decide(
                Some(next),
                command(2, Change::Fields(fields("other"))),
                now()
            ),
            Err(Refused::Deregistered(_))
        ));
    }

    #[test]
    fn a_registration_again_is_the_record_only_with_the_same_fields() {
        assert_eq!(
            register_again(at_version(2), &fields("firm")),
            Ok(at_version(2))
        );
        assert!(matches!(
            register_again(at_version(2), &fields("other")),
            Err(Refused::RegisteredDifferently(_))
        ));
    }

    proptest! {
        /// Only the current version may be changed; a change to other values is the next
        /// version at `now`, the same values are no change.
        #[test]
        fn only_the_current_version_changes(current in 1..50i64, expected in 1..50i64, same in any::<bool>()) {
            let name = if same { "firm" } else { "renamed" };
            let decision = decide(Some(at_version(current)), command(expected, Change::Fields(fields(name))), now());
            match decision {
                Err(Refused::VersionConflict { current: c, expected: e, .. }) => {
                    prop_assert_ne!(current, expected);
                    prop_assert_eq!((c, e), (current, expected));
                }
                Ok(Decision::Unchanged(record)) => {
                    prop_assert!(same && current == expected);
                    prop_assert_eq!(record, at_version(current));
                }
                Ok(Decision::NewVersion { next, previous_version }) => {
                    prop_assert!(!same && current == expected);
                    prop_assert_eq!(previous_version, current);
                    prop_assert_eq!(next.version, current + 1);
                    prop_assert_eq!(next.updated_at, now());
                    prop_assert_eq!(next.fields.name.as_str(), "renamed");
                }
                Err(other) => prop_assert!(false, "{:?}", other),
            }
        }
    }
}
