//! Building a notice to publish: one place for every producer (classification, land-parcel,
//! and the services to come), so a notice reads the same whoever sent it.
//!
//! A notice id is a name-based UUID (v5) of its cause under the producer's namespace, so
//! the same cause published twice is one notice to the store. Each producer keeps its own
//! namespace and cause parts; ids published before this module existed stay the same.

use chrono::{DateTime, Utc};
use haicheng_proto::{
    common::v1 as common,
    policy::v1::{ClassTransition, SupportPolicyNotice},
    topics,
};
use platform::{Class, OutgoingEvent, auth::Department, time::to_timestamp};
use uuid::Uuid;

/// The id of the notice whose cause is `parts` (joined with `|`) under `namespace`.
pub fn notice_id(namespace: &Uuid, parts: &[&str]) -> Uuid {
    Uuid::new_v5(namespace, parts.join("|").as_bytes())
}

/// A notice to one department, in domain values.
#[derive(Clone, Debug)]
pub struct Notice<'a> {
    /// From [`notice_id`].
    pub id: Uuid,
    pub department: Department,
    /// The producing service (`classification`, `land-parcel`, …).
    pub source: &'static str,
    pub uscc: &'a str,
    pub enterprise_name: &'a str,
    /// The kind of action asked for (`key_support_fund_review`, `land_shortfall`, …).
    pub kind: &'a str,
    /// The configured rule behind it; producers without rules repeat the kind.
    pub rule_id: &'a str,
    pub text: String,
    pub period: Option<String>,
    /// The class change behind it, for notices caused by one: (from, to).
    pub transition: Option<(Option<Class>, Option<Class>)>,
    /// The classification model version behind it; 0 when not from classification.
    pub model_version: i64,
    /// The parcel, for land notices.
    pub parcel_id: &'a str,
    pub issued_at: DateTime<Utc>,
    pub due_at: Option<DateTime<Utc>>,
}

fn class_number(class: Option<Class>) -> i32 {
    class.map_or(0, |class| class.to_proto() as i32)
}

impl Notice<'_> {
    /// The message, as the notice store and the departments read it.
    pub fn to_proto(&self) -> SupportPolicyNotice {
        SupportPolicyNotice {
            notice_id: self.id.to_string(),
            department: self.department.to_proto() as i32,
            uscc: self.uscc.to_string(),
            transition: self.transition.map(|(from, to)| ClassTransition {
                from_class: class_number(from),
                to_class: class_number(to),
            }),
            kind: self.kind.to_string(),
            text: self.text.clone(),
            model_version: self.model_version,
            period: self.period.clone().map(|code| common::Period { code }),
            rule_id: self.rule_id.to_string(),
            source: self.source.to_string(),
            issued_at: Some(to_timestamp(self.issued_at)),
            due_at: self.due_at.map(to_timestamp),
            enterprise_name: self.enterprise_name.to_string(),
            parcel_id: self.parcel_id.to_string(),
        }
    }

    /// The outbox event: on the notices topic, keyed by department (one department's notices
    /// stay in order), with the enterprise as subject.
    pub fn to_event(&self) -> OutgoingEvent {
        OutgoingEvent::new(
            topics::POLICY_NOTICES,
            self.department.as_str(),
            &self.to_proto(),
        )
        .with_subject(self.uscc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMESPACE: Uuid = Uuid::from_u128(0x1234);

    #[test]
    fn the_same_cause_gives_the_same_id_and_any_other_part_another() {
        let id = notice_id(&NAMESPACE, &["a", "b"]);
        assert_eq!(id, notice_id(&NAMESPACE, &["a", "b"]));
        assert_ne!(id, notice_id(&NAMESPACE, &["a", "c"]));
        assert_ne!(id, notice_id(&Uuid::from_u128(0x5678), &["a", "b"]));
    }

    #[test]
    fn a_notice_becomes_one_event_keyed_by_its_department() {
        let notice = Notice {
            id: notice_id(&NAMESPACE, &["cause"]),
            department: Department::Finance,
            source: "test",
            uscc: "91210381MA0QC4TL4N",
            enterprise_name: "Firm",
            kind: "key_support_fund_review",
            rule_id: "a_entered",
            text: "text".into(),
            period: Some("2025".into()),
            transition: Some((None, Some(Class::A))),
            model_version: 3,
            parcel_id: "",
            issued_at: Utc::now(),
            due_at: None,
        };
        let message = notice.to_proto();
        assert_eq!(message.department, Department::Finance.to_proto() as i32);
        assert_eq!(
            message.transition.map(|t| (t.from_class, t.to_class)),
            Some((0, Class::A.to_proto() as i32))
        );
        assert_eq!(message.period.map(|p| p.code).as_deref(), Some("2025"));
        let event = notice.to_event();
        assert_eq!(event.topic, topics::POLICY_NOTICES);
        assert_eq!(event.key, Department::Finance.as_str());
    }
}
