//! Request fields the handlers share: a department caller, years, dates, ids, page tokens.

use chrono::NaiveDate;
use platform::{
    ApiError, Principal, Violations,
    auth::Department,
    paging::{decode_token, encode_token},
};
use uuid::Uuid;

/// The caller's department: a writing method is for departments (a service account or an
/// enterprise is refused).
pub fn department(principal: &Principal) -> Result<Department, ApiError> {
    principal.department().ok_or_else(|| {
        ApiError::PermissionDenied(format!(
            "{} is not a department: only an inspecting department may do this",
            principal.identity
        ))
    })
}

pub fn year(v: &mut Violations, field: &str, year: i32) -> Option<i32> {
    if (2000..=2100).contains(&year) {
        Some(year)
    } else {
        v.add(field, "a year from 2000 to 2100 is required");
        None
    }
}

/// 0: no filter.
pub fn optional_year(v: &mut Violations, field: &str, y: i32) -> Option<i32> {
    if y == 0 { None } else { year(v, field, y) }
}

pub fn date(v: &mut Violations, field: &str, text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|_| v.add(field, "a date YYYY-MM-DD is required"))
        .ok()
}

/// A department filter (0: all).
pub fn optional_department(v: &mut Violations, field: &str, number: i32) -> Option<Department> {
    if number == 0 {
        return None;
    }
    let d = Department::from_proto(number);
    v.check(d.is_some(), field, format!("{number} is not a department"));
    d
}

/// The id a page token carries (the last id of the page before).
pub fn uuid_token(token: &str) -> Result<Option<Uuid>, ApiError> {
    decode_token::<String>(token)?
        .map(|id| Uuid::parse_str(&id))
        .transpose()
        .map_err(|_| ApiError::invalid("page_token", "not a token this service issued"))
}

/// Cuts `items` to `size` and returns the token of the next page (empty on the last).
pub fn next_token<T>(items: &mut Vec<T>, size: u32, key: impl Fn(&T) -> String) -> String {
    if items.len() > size as usize {
        items.truncate(size as usize);
        items
            .last()
            .map(|last| encode_token(&key(last)))
            .unwrap_or_default()
    } else {
        String::new()
    }
}
