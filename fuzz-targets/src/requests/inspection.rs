//! `haicheng.inspection.v1.InspectionService`: an item (as a department and as the platform
//! puts it) and the lists' page tokens are checked; the other requests are decoded.

use haicheng_proto::inspection::v1 as pb;
use inspection::{api::parse, convert};
use platform::{Violations, auth::Department, paging::decode_token};

use super::requests;

requests! {
    pb::PutItemRequest => |r| {
        for caller in [None, Some(Department::MarketSupervision)] {
            let mut v = Violations::new();
            let _ = r.item.as_ref().map(|item| convert::item_from_proto(&mut v, item, caller));
            let _ = v.finish();
        }
    },
    pb::ListItemsRequest => |_| {},
    pb::PutRosterRequest => |_| {},
    pb::GetRosterRequest => |_| {},
    pb::GetRiskTierRequest => |_| {},
    pb::ListRiskTiersRequest => |r| {
        let _ = decode_token::<String>(&r.page_token);
    },
    pb::DrawPlanRequest => |_| {},
    pb::GetPlanRequest => |_| {},
    pb::GetPlanReportRequest => |_| {},
    pb::CreateTaskRequest => |_| {},
    pb::ListTasksRequest => |r| {
        let _ = parse::uuid_token(&r.page_token);
    },
    pb::ApproveVisitRequest => |_| {},
    pb::GetVisitRequest => |_| {},
    pb::ListVisitsRequest => |r| {
        let _ = parse::uuid_token(&r.page_token);
    },
    pb::VerifyCodeRequest => |_| {},
    pb::RecordResultRequest => |_| {},
    pb::PublishResultRequest => |_| {},
    pb::RateVisitRequest => |_| {},
    pb::GetRatingSummaryRequest => |_| {},
    pb::GetVisitCountsRequest => |_| {},
}
