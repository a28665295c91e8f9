//! The filters of `ListNotices` (通知筛选): checked from the request, and the page token that
//! belongs to them. No I/O.
//!
//! A page token carries the position (the last sequence number served) and the filters it
//! was issued for. The next page's request repeats the filters; a token sent with other
//! filters is refused rather than silently paging through a different list.

use haicheng_proto::policy::v1::{ListNoticesRequest, NoticeState};
use platform::{ApiError, Violations, paging, period::Period, uscc::Uscc};
use serde::{Deserialize, Serialize};

use crate::model::{self, Cursor};

/// Longest rule id or kind accepted as a filter (producers' are short names).
pub const MAX_NAME_LEN: usize = 128;

/// What a ListNotices call asks for; every `None` matches every notice.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filter {
    /// The period code as given, once it parsed ("2025", "2025Q3").
    pub period: Option<String>,
    pub uscc: Option<String>,
    pub rule_id: Option<String>,
    pub kind: Option<String>,
    /// The store's state name (`open`, `acknowledged`, `overdue`).
    pub state: Option<String>,
}

/// A checked ListNotices request: its filter, page size and the position to continue from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub filter: Filter,
    pub page_size: u32,
    pub before: Option<Cursor>,
}

/// The page token's content.
#[derive(Serialize, Deserialize)]
struct PageToken {
    /// The last sequence number served: the next page starts below it.
    before: i64,
    filter: Filter,
}

/// Why `name` is not a rule id or kind: printable ASCII without spaces, bounded.
fn name_problem(name: &str) -> Option<String> {
    if name.len() > MAX_NAME_LEN {
        Some(format!("at most {MAX_NAME_LEN} characters"))
    } else if !name.bytes().all(|b| b.is_ascii_graphic()) {
        Some("printable ASCII without spaces (a rule id or kind as notices carry it)".into())
    } else {
        None
    }
}

/// Checks a request: INVALID_ARGUMENT naming every bad field, or the query to run.
pub fn query(request: &ListNoticesRequest) -> Result<Query, ApiError> {
    let mut violations = Violations::new();
    let period = match request.period.as_ref().map(|p| p.code.as_str()) {
        None | Some("") => None,
        Some(code) => match Period::parse(code) {
            Ok(_) => Some(code.to_string()),
            Err(err) => {
                violations.add("period", err.to_string());
                None
            }
        },
    };
    let uscc = match request.uscc.as_str() {
        "" => None,
        code => match Uscc::parse(code) {
            Ok(uscc) => Some(uscc.as_str().to_string()),
            Err(err) => {
                violations.add("uscc", err.to_string());
                None
            }
        },
    };
    let mut name = |field: &str, value: &str| {
        if value.is_empty() {
            return None;
        }
        match name_problem(value) {
            Some(problem) => {
                violations.add(field, problem);
                None
            }
            None => Some(value.to_string()),
        }
    };
    let rule_id = name("rule_id", &request.rule_id);
    let kind = name("kind", &request.kind);
    let state = match NoticeState::try_from(request.state) {
        Ok(state) => model::state_name(state),
        Err(_) => {
            violations.add("state", format!("{} is not a NoticeState", request.state));
            None
        }
    };
    let page_size = match paging::page_size(request.page_size) {
        Ok(size) => size,
        Err(_) => {
            violations.add("page_size", "must not be negative");
            0
        }
    };
    violations.finish()?;
    let filter = Filter {
        period,
        uscc,
        rule_id,
        kind,
        state: state.map(String::from),
    };
    let before = match paging::decode_token::<PageToken>(&request.page_token)? {
        None => None,
        Some(token) if token.filter == filter => Some(Cursor(token.before)),
        Some(_) => {
            return Err(ApiError::invalid(
                "page_token",
                "was issued for other filters: repeat the filters of the first page",
            ));
        }
    };
    Ok(Query {
        filter,
        page_size,
        before,
    })
}

/// The token of the page after the one that ended at `last`, for the same filter.
pub fn next_page_token(filter: &Filter, last: Cursor) -> String {
    paging::encode_token(&PageToken {
        before: last.0,
        filter: filter.clone(),
    })
}

#[cfg(test)]
mod tests {
    use haicheng_proto::common::v1::Period as ProtoPeriod;
    use tonic_types::StatusExt;

    use super::*;

    fn bad_fields(request: &ListNoticesRequest) -> Vec<String> {
        let status = tonic::Status::from(query(request).unwrap_err());
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        status
            .get_details_bad_request()
            .map(|b| b.field_violations.into_iter().map(|v| v.field).collect())
            .unwrap_or_default()
    }

    fn valid_uscc() -> String {
        Uscc::complete("91210381MA0Q1234")
            .unwrap()
            .as_str()
            .to_string()
    }

    #[test]
    fn empty_filters_match_everything() {
        let query = query(&ListNoticesRequest::default()).unwrap();
        assert_eq!(query.filter, Filter::default());
        assert_eq!(query.page_size, paging::DEFAULT_PAGE_SIZE);
        assert_eq!(query.before, None);
    }

    #[test]
    fn every_bad_filter_is_named() {
        let request = ListNoticesRequest {
            period: Some(ProtoPeriod {
                code: "2025Q5".into(),
            }),
            uscc: "91210381MA0Q12345".into(),
            rule_id: "two words".into(),
            kind: "x".repeat(MAX_NAME_LEN + 1),
            state: 9,
            page_size: -1,
            ..Default::default()
        };
        let mut fields = bad_fields(&request);
        fields.sort();
        assert_eq!(
            fields,
            ["kind", "page_size", "period", "rule_id", "state", "uscc"]
        );
    }

    #[test]
    fn a_page_token_keeps_its_filters() {
        let request = ListNoticesRequest {
            period: Some(ProtoPeriod {
                code: "2025".into(),
            }),
            uscc: valid_uscc(),
            rule_id: "finance-entering-a".into(),
            state: NoticeState::Open as i32,
            ..Default::default()
        };
        let first = query(&request).unwrap();
        assert_eq!(first.filter.state.as_deref(), Some("open"));
        let token = next_page_token(&first.filter, Cursor(42));
        let next = query(&ListNoticesRequest {
            page_token: token.clone(),
            ..request.clone()
        })
        .unwrap();
        assert_eq!(next.before, Some(Cursor(42)));
        assert_eq!(next.filter, first.filter);

        let changed = ListNoticesRequest {
            page_token: token,
            rule_id: "another-rule".into(),
            ..request
        };
        assert_eq!(bad_fields(&changed), ["page_token"]);
    }
}
