//! `haicheng.classification.v1.ClassificationService` and the notice service it hosts
//! (`haicheng.policy.v1.NoticeService`).

use std::collections::BTreeSet;

use classification::api::{classes, convert, objections, publication};
use haicheng_proto::{classification::v1 as pb, common::v1 as common, policy::v1 as policy_pb};
use platform::{
    Class, Principal, Violations,
    auth::{Department, Identity},
    calendar::ObjectionWindow,
    paging::decode_token,
};

use super::{now, requests};

/// The reads of one enterprise (GetClass, Explain): its USCC, period and view, as an
/// enterprise (before and after publication) and as a department would be answered.
fn target(uscc: &str, period: Option<&common::Period>, requested: i32) {
    let mut v = Violations::new();
    v.uscc("uscc", uscc);
    let _ = convert::optional_period(&mut v, "period", period);
    let view = publication::view(&mut v, "view", requested);
    if v.finish().is_ok() {
        for published in [false, true] {
            let _ = publication::enterprise_view(requested, view, published);
        }
    }
}

/// An override or its lifting: USCC, period, class (when set) and reason.
fn override_or_lift(uscc: &str, period: Option<&common::Period>, class: Option<i32>, reason: &str) {
    let mut v = Violations::new();
    v.uscc("uscc", uscc);
    let _ = convert::optional_period(&mut v, "period", period);
    let _ = class.map(Class::from_proto);
    convert::check_reason(&mut v, "reason", reason);
    let _ = v.finish();
}

/// The principals a list is checked for: a department, and an enterprise kept to its own.
fn principals() -> [Principal; 2] {
    let principal = |identity| Principal {
        identity,
        scopes: BTreeSet::new(),
    };
    [
        principal(Identity::Department(Department::Commerce)),
        principal(Identity::Enterprise("91210381MA0Q12343L".into())),
    ]
}

requests! {
    pb::GetClassRequest => |r| target(&r.uscc, r.period.as_ref(), r.view),
    pb::ListClassesRequest => |r| {
        let _ = classes::list_query(r);
    },
    pb::ExplainRequest => |r| target(&r.uscc, r.period.as_ref(), r.view),
    pb::GetModelRequest => |r| {
        let _ = r.version < 0;
    },
    pb::SetModelRequest => |r| {
        let mut v = Violations::new();
        let _ = convert::model_from_proto(&mut v, r.model.as_ref());
        let _ = v.finish();
    },
    pb::OverrideClassRequest => |r| {
        override_or_lift(&r.uscc, r.period.as_ref(), Some(r.enterprise_class), &r.reason);
    },
    pb::LiftOverrideRequest => |r| override_or_lift(&r.uscc, r.period.as_ref(), None, &r.reason),
    pb::GetDistributionRequest => |r| {
        let mut v = Violations::new();
        let _ = convert::optional_period(&mut v, "period", r.period.as_ref());
        let _ = publication::view(&mut v, "view", r.view);
        let _ = v.finish();
    },
    pb::PublishPeriodRequest => |r| {
        let _ = publication::period_to_publish(r);
        for development in [false, true] {
            let window = publication::announced_window(r, &ObjectionWindow::default(), development);
            let _ = window.map(|w| w.deadline(now()));
        }
    },
    pb::FileObjectionRequest => |r| {
        let _ = objections::filing(r);
    },
    pb::DecideObjectionRequest => |r| {
        let _ = objections::decision(r);
    },
    pb::ListObjectionsRequest => |r| {
        for principal in principals() {
            let _ = objections::list_query(&principal, r);
        }
        let _ = decode_token::<i64>(&r.page_token);
    },
    pb::FinalizePeriodRequest => |r| {
        let _ = publication::period_to_finalize(r);
    },
    policy_pb::ListNoticesRequest => |r| {
        let _ = notices::filter::query(r);
    },
    policy_pb::AcknowledgeNoticeRequest => |r| {
        let _ = r.notice_id.len();
    },
    policy_pb::WatchNoticesRequest => |r| {
        let _ = r.cursor.len();
    },
}
