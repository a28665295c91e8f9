//! `haicheng.support.v1.SupportService`: a policy's specification (the rules it is made
//! of) and the lists' page tokens are checked; the other requests are decoded.

use haicheng_proto::support::v1 as pb;
use platform::{Violations, paging::decode_token};
use support::{api::uuid_token, convert};

use super::requests;

requests! {
    pb::PutPolicyRequest => |r| {
        let mut v = Violations::new();
        let _ = r.spec.as_ref().map(|spec| convert::spec_from_proto(&mut v, spec));
        let _ = v.finish();
    },
    pb::GetPolicyRequest => |_| {},
    pb::ListPoliciesRequest => |r| {
        let _ = decode_token::<String>(&r.page_token);
    },
    pb::RunRoundRequest => |_| {},
    pb::GetRoundRequest => |_| {},
    pb::FileObjectionRequest => |_| {},
    pb::DecideObjectionRequest => |_| {},
    pb::FinalizeRoundRequest => |_| {},
    pb::RecordPaymentRequest => |_| {},
    pb::ListPaymentsRequest => |r| {
        let _ = uuid_token(&r.page_token);
    },
    pb::CheckEligibilityRequest => |_| {},
    pb::ApplyRequest => |_| {},
    pb::DecideApplicationRequest => |_| {},
    pb::ListApplicationsRequest => |r| {
        let _ = uuid_token(&r.page_token);
    },
    pb::GetPolicyReportRequest => |_| {},
    pb::GetEnterpriseBenefitsRequest => |_| {},
    pb::RecordExpenseRequest => |r| {
        let mut v = Violations::new();
        let _ = convert::expense_kind(&mut v, "kind", &r.kind);
        let _ = v.finish();
    },
}
