//! `haicheng.census.v1.CensusService`.

use census::{
    api::{convert, convert::ReturnMessage, reads},
    domain::{
        Rules,
        enterprise::{MAX_REASON_CHARS, text},
    },
};
use haicheng_proto::census::v1 as pb;
use platform::{Violations, time::from_timestamp};

use super::{requests, today};

requests! {
    pb::RegisterEnterpriseRequest => |r| {
        let mut v = Violations::new();
        v.uscc("uscc", &r.uscc);
        let _ = convert::register_input(r).check(today(), &mut v);
        let _ = v.finish();
    },
    pb::UpdateEnterpriseRequest => |r| {
        let mut v = Violations::new();
        v.uscc("uscc", &r.uscc);
        let _ = convert::update_input(r).check(today(), &mut v);
        let _ = v.finish();
    },
    pb::DeregisterEnterpriseRequest => |r| {
        let mut v = Violations::new();
        v.uscc("uscc", &r.uscc);
        let _ = text(&r.reason, "reason", MAX_REASON_CHARS, &mut v);
        let _ = v.finish();
    },
    pb::SubmitReturnRequest => |r| {
        let mut v = Violations::new();
        let input = ReturnMessage::of_request(r).input(&mut v);
        let _ = input.check(&Rules::default(), &mut v);
        let _ = v.finish();
    },
    pb::ImportReturnsRow => |r| {
        let mut v = Violations::new();
        let input = ReturnMessage::of_row(r).input(&mut v);
        let _ = input.check(&Rules::default(), &mut v);
        let _ = v.finish();
    },
    pb::GetEnterpriseFileRequest => |r| {
        let mut v = Violations::new();
        v.uscc("uscc", &r.uscc);
        let _ = r.as_of.as_ref().map(from_timestamp);
        let _ = v.finish();
    },
    pb::ListEnterprisesRequest => |r| {
        let _ = reads::list_query(r);
    },
    pb::GetStatisticsRequest => |r| {
        let _ = reads::statistics_query(r);
    },
}
