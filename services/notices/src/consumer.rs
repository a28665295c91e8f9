//! The consumer of `haicheng.policy.notices.v1`: stores each notice once, whoever produced it.
//!
//! Two layers of deduplication: the platform inbox drops a redelivered event (same `ce_id`),
//! and `notice_id`, deterministic at the producer, drops the same notice published again
//! under a new event id (a re-run of the producer).

use haicheng_proto::policy::v1::SupportPolicyNotice;
use platform::{
    Envelope, Handler, HandlerError,
    auth::Department,
    time::{from_timestamp, to_timestamp},
};
use prost::Name;
use sqlx::PgConnection;

use crate::{
    model,
    store::{self, NewNotice},
};

/// Applies notice events inside the inbox transaction.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoticeConsumer;

impl Handler for NoticeConsumer {
    async fn handle(&self, tx: &mut PgConnection, event: &Envelope) -> Result<(), HandlerError> {
        if !event.is::<SupportPolicyNotice>() {
            // Another kind of event on the topic is not ours to judge: skip it, do not DLQ it.
            tracing::warn!(
                ce_type = %event.event.ty,
                expected = %SupportPolicyNotice::full_name(),
                "not a notice; skipped"
            );
            return Ok(());
        }
        let new = checked(event.decode()?, event).map_err(HandlerError::Permanent)?;
        if !store::insert(tx, &new).await? {
            tracing::debug!(notice_id = %new.notice.notice_id, "notice already stored");
        }
        Ok(())
    }
}

/// The notice ready to store, or why it can never be stored (it goes to the DLQ).
fn checked(mut notice: SupportPolicyNotice, event: &Envelope) -> Result<NewNotice, String> {
    if let Some(problem) = model::notice_id_problem(&notice.notice_id) {
        return Err(format!("notice_id: {problem}"));
    }
    let department = Department::from_proto(notice.department)
        .ok_or_else(|| format!("department: {} is not a department", notice.department))?;
    // A producer that sent no issue time issued it when it published.
    let issued_at = match &notice.issued_at {
        None => event.event.time,
        Some(at) => from_timestamp(at).ok_or("issued_at: out of range")?,
    };
    notice.issued_at = Some(to_timestamp(issued_at));
    let due_at = match &notice.due_at {
        None => None,
        Some(at) => Some(from_timestamp(at).ok_or("due_at: out of range")?),
    };
    Ok(NewNotice {
        notice,
        department,
        issued_at,
        due_at,
        event_id: event.event.id,
    })
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use haicheng_proto::common::v1::Department;
    use platform::bus::CloudEvent;
    use prost_types::Timestamp;

    use super::*;

    fn envelope() -> Envelope {
        Envelope {
            topic: "t".into(),
            partition: 0,
            offset: 0,
            key: None,
            event: CloudEvent {
                id: uuid::Uuid::now_v7(),
                ty: SupportPolicyNotice::full_name(),
                source: "tests".into(),
                subject: "finance".into(),
                time: Utc::now(),
                trace: Default::default(),
            },
            payload: Vec::new(),
        }
    }

    fn notice() -> SupportPolicyNotice {
        SupportPolicyNotice {
            notice_id: "n-1".into(),
            department: Department::Finance as i32,
            ..Default::default()
        }
    }

    #[test]
    fn a_notice_without_an_issue_time_takes_the_events() {
        let event = envelope();
        let new = checked(notice(), &event).unwrap();
        assert_eq!(new.issued_at, event.event.time);
        assert_eq!(new.department, platform::auth::Department::Finance);
        assert_eq!(new.due_at, None);
    }

    #[test]
    fn notices_that_can_never_be_stored_are_refused_with_the_field() {
        let event = envelope();
        let no_id = SupportPolicyNotice {
            notice_id: String::new(),
            ..notice()
        };
        assert!(checked(no_id, &event).unwrap_err().starts_with("notice_id"));
        let nobody = SupportPolicyNotice {
            department: 0,
            ..notice()
        };
        assert!(
            checked(nobody, &event)
                .unwrap_err()
                .starts_with("department")
        );
        let far = SupportPolicyNotice {
            due_at: Some(Timestamp {
                seconds: i64::MAX / 2,
                nanos: 0,
            }),
            ..notice()
        };
        assert!(checked(far, &event).unwrap_err().starts_with("due_at"));
    }
}
