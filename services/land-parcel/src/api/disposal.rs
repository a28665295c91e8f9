//! Requests of the disposal RPCs (idle pass, idle fee, take-back, low-efficiency list, lease
//! renewal), checked for shape; the rules that need the grant are the domain's.

use chrono::NaiveDate;
use haicheng_proto::land::v1 as pb;
use platform::{ApiError, Park, Violations, paging};
use uuid::Uuid;

use super::{Parks, absorb, done};
use crate::domain::{disposal::Settlement, parse_date, supply::Renewal};

/// Longest reason of a waiver or a take-back, characters.
const MAX_REASON_CHARS: usize = 500;
/// Longest document number, characters.
const MAX_DOCUMENT_CHARS: usize = 100;

fn expected_version(value: i64, v: &mut Violations) {
    v.check(value >= 0, "expected_version", "0 or the version last read");
}

/// The day of a `RunIdlePass`: `None` for the database's date. A day after `today` would
/// flag grants before they are idle, so it is a development mode's rehearsal only (the demo
/// and the system test's "two years on").
pub fn pass_day(
    r: &pb::RunIdlePassRequest,
    today: NaiveDate,
    development: bool,
) -> Result<Option<NaiveDate>, ApiError> {
    if r.on.is_empty() {
        return Ok(None);
    }
    let mut v = Violations::new();
    let on = parse_date(&r.on);
    v.check(on.is_some(), "on", "a date YYYY-MM-DD, or empty for today");
    if let Some(day) = on {
        v.check(
            development || day <= today,
            "on",
            "today or an earlier day (a later day runs only in development mode)",
        );
    }
    done(on, v).map(Some)
}

/// The grant and settlement of a `RecordIdleFee`: a waiver needs its reason, a payment has none.
pub fn fee(r: &pb::RecordIdleFeeRequest) -> Result<(Uuid, Settlement), ApiError> {
    let mut v = Violations::new();
    let id = v.uuid("grant_id", &r.grant_id);
    expected_version(r.expected_version, &mut v);
    let settlement = match pb::IdleFeeStatus::try_from(r.outcome) {
        Ok(pb::IdleFeeStatus::Paid) => {
            v.check(
                r.waiver_reason.trim().is_empty(),
                "waiver_reason",
                "only for a waiver",
            );
            Some(Settlement::Paid)
        }
        Ok(pb::IdleFeeStatus::Waived) => v
            .text("waiver_reason", &r.waiver_reason, MAX_REASON_CHARS)
            .map(|reason| Settlement::Waived { reason }),
        _ => {
            v.add("outcome", "PAID or WAIVED");
            None
        }
    };
    done(id.zip(settlement), v)
}

/// A take-back as asked for: grant, reason, document number.
pub struct TakeBackRequest {
    pub id: Uuid,
    pub reason: String,
    pub document_number: String,
}

pub fn take_back(r: &pb::TakeBackGrantRequest) -> Result<TakeBackRequest, ApiError> {
    let mut v = Violations::new();
    let id = v.uuid("grant_id", &r.grant_id);
    expected_version(r.expected_version, &mut v);
    let reason = v.text("reason", &r.reason, MAX_REASON_CHARS);
    let document = v.text("document_number", &r.document_number, MAX_DOCUMENT_CHARS);
    let ((id, reason), document_number) = done(id.zip(reason).zip(document), v)?;
    Ok(TakeBackRequest {
        id,
        reason,
        document_number,
    })
}

/// The grant and renewal of a `RenewLease` (the years' bounds are the domain's).
pub fn renewal(r: &pb::RenewLeaseRequest) -> Result<(Uuid, Renewal), ApiError> {
    let mut v = Violations::new();
    let id = v.uuid("grant_id", &r.grant_id);
    expected_version(r.expected_version, &mut v);
    let id = done(id, v)?;
    Ok((
        id,
        Renewal {
            years: i64::from(r.years),
            yearly_rent_fen: r.yearly_rent_fen,
        },
    ))
}

/// A page of the low-efficiency list: the parks the caller may read (and asked for).
pub struct LowEfficiencyPage {
    pub parks: Parks,
    pub after: Option<Uuid>,
    pub size: u32,
}

pub fn low_efficiency_page(
    r: &pb::ListLowEfficiencyGrantsRequest,
    parks: Parks,
) -> Result<LowEfficiencyPage, ApiError> {
    let mut v = Violations::new();
    let park = v.optional_word::<Park>("park", r.park);
    let size = absorb(paging::page_size(r.page_size), &mut v)?;
    let token = absorb(paging::decode_token::<String>(&r.page_token), &mut v)?.flatten();
    let after = token.and_then(|t| v.uuid("page_token", &t));
    let size = done(size, v)?;
    let parks = match (parks, park) {
        (parks, None) => parks,
        (Parks::All, Some(p)) => Parks::Only(vec![p]),
        (Parks::Only(own), Some(p)) => Parks::Only(own.into_iter().filter(|o| *o == p).collect()),
    };
    Ok(LowEfficiencyPage { parks, after, size })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pass_on(on: &str) -> pb::RunIdlePassRequest {
        pb::RunIdlePassRequest { on: on.into() }
    }

    #[test]
    fn a_pass_on_a_later_day_is_a_development_rehearsal_only() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 7).unwrap();
        let tomorrow = pass_on("2026-12-08");
        let refused = pass_day(&tomorrow, today, false).unwrap_err();
        assert!(format!("{refused:?}").contains("\"on\""), "{refused:?}");
        assert_eq!(
            pass_day(&tomorrow, today, true).unwrap(),
            NaiveDate::from_ymd_opt(2026, 12, 8)
        );
        assert_eq!(
            pass_day(&pass_on("2026-12-07"), today, false).unwrap(),
            Some(today)
        );
        assert_eq!(pass_day(&pass_on(""), today, false).unwrap(), None);
    }
}
