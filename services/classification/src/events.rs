//! The service's outgoing events, built from domain values (never from the store, which
//! enqueues them in the transaction of their change): an `EnterpriseClassified` keyed by USCC
//! at every change of class in force, and, once the change is settled, one
//! `SupportPolicyNotice` per firing rule keyed by department.

use chrono::{DateTime, Utc};
use haicheng_proto::{
    classification::v1::EnterpriseClassified, common::v1 as common,
    policy::v1::SupportPolicyNotice, topics,
};
use platform::{OutgoingEvent, Park, Segment, auth::Department, time::to_timestamp};

use crate::{
    domain::{
        Grading,
        policy::{self, Cause, NoticeRule, Transition},
    },
    proto::{class_to_proto, park_to_proto, segment_to_proto},
};

/// The `source` of the notices this service issues.
pub const SOURCE: &str = "classification";

/// One enterprise's change of class in force.
#[derive(Debug, Clone)]
pub struct ClassChange<'a> {
    pub uscc: &'a str,
    pub name: &'a str,
    /// `None` is sent as 0 (UNSPECIFIED), as the stored NULL reads.
    pub park: Option<Park>,
    pub segment: Option<Segment>,
    pub period: &'a str,
    pub transition: Transition,
    pub grading: Grading,
    pub score: f64,
    pub rank: i32,
    pub cohort_size: i32,
    pub model_version: i64,
    pub overridden: bool,
    pub override_reason: &'a str,
    pub at: DateTime<Utc>,
}

/// The notices `rules` give for `cause`, issued `at`, with the department each is for.
pub fn notices(
    cause: &Cause<'_>,
    at: DateTime<Utc>,
    rules: &[NoticeRule],
) -> Vec<(Department, SupportPolicyNotice)> {
    policy::firing(rules, cause.transition)
        .map(|rule| {
            let notice = notices::outgoing::Notice {
                id: policy::notice_id(cause, &rule.id),
                department: rule.department,
                source: SOURCE,
                uscc: cause.uscc,
                enterprise_name: cause.name,
                kind: &rule.kind,
                rule_id: &rule.id,
                text: policy::render(&rule.text, cause),
                period: Some(cause.period.to_string()),
                transition: Some((cause.transition.from, cause.transition.to)),
                model_version: cause.model_version,
                parcel_id: "",
                issued_at: at,
                due_at: rule
                    .due_days
                    .map(|days| at + chrono::Duration::days(i64::from(days))),
            }
            .to_proto();
            (rule.department, notice)
        })
        .collect()
}

/// The change's `EnterpriseClassified`, keyed by USCC. Its notices are not part of it: they
/// wait for the period to settle (`store::settle`).
pub fn classified_event(change: &ClassChange<'_>) -> OutgoingEvent {
    let event = EnterpriseClassified {
        uscc: change.uscc.to_string(),
        old_class: class_to_proto(change.transition.from),
        new_class: class_to_proto(change.transition.to),
        score: change.score,
        rank: change.rank,
        cohort_size: change.cohort_size,
        model_version: change.model_version,
        period: Some(common::Period {
            code: change.period.to_string(),
        }),
        park: park_to_proto(change.park),
        segment: segment_to_proto(change.segment),
        overridden: change.overridden,
        classified_at: Some(to_timestamp(change.at)),
        grading: change.grading.to_proto(),
        name: change.name.to_string(),
        override_reason: change.override_reason.to_string(),
    };
    OutgoingEvent::new(topics::CLASSIFICATION_EVENTS, change.uscc, &event)
}

/// A notice as its outgoing event: keyed by department, the enterprise as subject.
pub fn notice_event(department: Department, notice: &SupportPolicyNotice) -> OutgoingEvent {
    OutgoingEvent::new(topics::POLICY_NOTICES, department.as_str(), notice)
        .with_subject(&notice.uscc)
}

/// A period's final list, as finalized.
#[derive(Debug, Clone)]
pub struct Finalized<'a> {
    pub period: &'a str,
    pub finalized_at: DateTime<Utc>,
    pub finalized_by: &'a str,
    pub published_at: DateTime<Utc>,
    /// Every firm of the list with its final class, by USCC.
    pub classes: &'a [(String, Option<platform::Class>)],
    /// The amended firms: (USCC, class as published, final class, objection id).
    pub amendments: &'a [(String, Option<platform::Class>, platform::Class, i64)],
}

/// The contract's message of a finalization (the API's answer and the event's).
pub fn finalization(f: &Finalized<'_>) -> haicheng_proto::classification::v1::Finalization {
    use haicheng_proto::classification::v1 as pb;
    pb::Finalization {
        period: Some(common::Period {
            code: f.period.to_string(),
        }),
        finalized_at: Some(to_timestamp(f.finalized_at)),
        finalized_by: f.finalized_by.to_string(),
        published_at: Some(to_timestamp(f.published_at)),
        enterprises: i32::try_from(f.classes.len()).unwrap_or(i32::MAX),
        amendments: f
            .amendments
            .iter()
            .map(|(uscc, published, last, id)| pb::FinalAmendment {
                uscc: uscc.clone(),
                published_class: class_to_proto(*published),
                final_class: class_to_proto(Some(*last)),
                objection_id: *id,
            })
            .collect(),
    }
}

/// `PeriodFinalized`, keyed by the period, with the whole final list.
pub fn finalized_event(f: &Finalized<'_>) -> OutgoingEvent {
    use haicheng_proto::classification::v1 as pb;
    let event = pb::PeriodFinalized {
        finalization: Some(finalization(f)),
        classes: f
            .classes
            .iter()
            .map(|(uscc, class)| pb::FinalClass {
                uscc: uscc.clone(),
                enterprise_class: class_to_proto(*class),
            })
            .collect(),
    };
    OutgoingEvent::new(topics::CLASSIFICATION_EVENTS, f.period, &event)
}
