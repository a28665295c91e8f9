//! The reads' side of the API: the list's filters and pages, and the statistics' request.

use haicheng_proto::census::v1 as pb;
use platform::{ApiError, Violations, paging};
use serde::{Deserialize, Serialize};

use super::{checked, convert};
use crate::{
    domain::{
        Enterprise, Grouping, IndustryClass, Park, Period, Segment,
        enterprise::{MAX_NAME_CHARS, text},
    },
    store::ListFilter,
};

/// The position in the enterprise list a page token carries: the last USCC served.
#[derive(Serialize, Deserialize)]
struct ListCursor {
    after: String,
}

/// A list request read: its filter, its page size and the USCC after which it starts.
pub struct ListQuery {
    pub filter: ListFilter,
    pub page_size: u32,
    pub after: Option<String>,
}

/// A filter enumeration: 0 is "any", a defined value filters, anything else is a violation.
fn enum_filter<T>(
    value: i32,
    parse: impl Fn(i32) -> Option<T>,
    field: &str,
    violations: &mut Violations,
) -> Option<T> {
    if value == 0 {
        return None;
    }
    let parsed = parse(value);
    if parsed.is_none() {
        violations.add(field, format!("{value} is not a defined value"));
    }
    parsed
}

/// The list request's filters and page, every bad field a violation.
pub fn list_query(request: &pb::ListEnterprisesRequest) -> Result<ListQuery, ApiError> {
    let mut violations = Violations::new();
    let industry_class = match request.industry_class.as_str() {
        "" => None,
        code => IndustryClass::parse(code)
            .map_err(|e| violations.add("industry_class", e.to_string()))
            .ok()
            .map(|c| c.code().to_string()),
    };
    let name_contains = match request.name_contains.trim() {
        "" => None,
        _ => text(
            &request.name_contains,
            "name_contains",
            MAX_NAME_CHARS,
            &mut violations,
        ),
    };
    let v = &mut violations;
    let filter = ListFilter {
        park: enum_filter(request.park, Park::from_proto, "park", v),
        segment: enum_filter(request.segment, Segment::from_proto, "segment", v),
        industry_class,
        status: enum_filter(request.status, convert::status, "status", v),
        name_contains,
    };
    let page_size = paging::page_size(request.page_size)
        .map_err(|_| violations.add("page_size", "must not be negative"))
        .ok();
    let cursor = paging::decode_token::<ListCursor>(&request.page_token)
        .map_err(|_| violations.add("page_token", "not a token this service issued"))
        .ok();
    let (page_size, cursor) = checked(page_size.zip(cursor), violations)?;
    Ok(ListQuery {
        filter,
        page_size,
        after: cursor.map(|c| c.after),
    })
}

/// A page of the list: at most `page_size` of `found` (read with one more, to know whether
/// a next page exists), and the token of the next page.
pub(super) fn list_page(mut found: Vec<Enterprise>, page_size: u32) -> pb::ListEnterprisesResponse {
    let next_page_token = if found.len() > page_size as usize {
        found.truncate(page_size as usize);
        found
            .last()
            .map(|e| {
                paging::encode_token(&ListCursor {
                    after: e.uscc.to_string(),
                })
            })
            .unwrap_or_default()
    } else {
        String::new()
    };
    pb::ListEnterprisesResponse {
        enterprises: found.iter().map(convert::enterprise_to_proto).collect(),
        next_page_token,
    }
}

/// The statistics request's period and grouping.
pub fn statistics_query(
    request: &pb::GetStatisticsRequest,
) -> Result<(Period, Grouping), ApiError> {
    let mut violations = Violations::new();
    let period = match &request.period {
        None => {
            violations.add("period", "is required");
            None
        }
        Some(p) => violations.period("period", &p.code),
    };
    let grouping = match pb::StatisticsGrouping::try_from(request.group_by) {
        Ok(pb::StatisticsGrouping::Park) => Some(Grouping::Park),
        Ok(pb::StatisticsGrouping::Segment) => Some(Grouping::Segment),
        _ => {
            violations.add("group_by", "must be PARK or SEGMENT");
            None
        }
    };
    checked(period.zip(grouping), violations)
}
