//! `FileObjection`, `DecideObjection` and `ListObjections` (异议): requests validated here
//! (INVALID_ARGUMENT naming each bad field), the rules in `domain::objection`, the writes in
//! `store::objections`.
//!
//! Access: filing and listing by commerce (`classification.admin`) or by the enterprise
//! itself (`Rule::ScopeOrEnterprise`: an enterprise files only its own objections and lists
//! only its own); deciding by commerce only.

use haicheng_proto::{classification::v1 as pb, common::v1 as common};
use platform::{ApiError, Principal, Violations, paging};

use super::convert;
use crate::{
    domain::{
        Class,
        objection::{self, Decision, ObjectionState},
    },
    store::objections::{self, Filter, NewObjection, ObjectionRow},
};

/// The platform's PERMISSION_DENIED of an enterprise reaching for another's records.
pub fn denied(status: tonic::Status) -> ApiError {
    ApiError::PermissionDenied(status.message().to_string())
}

fn add_all(violations: &mut Violations, problems: Vec<(String, String)>) {
    for (field, message) in problems {
        violations.add(field, message);
    }
}

/// An optional class (`field`): unspecified is `None`, an unknown number a violation.
fn optional_class(violations: &mut Violations, field: &str, value: i32) -> Option<Class> {
    if value == common::EnterpriseClass::Unspecified as i32 {
        return None;
    }
    let class = Class::from_proto(value);
    if class.is_none() {
        violations.add(field, "must be A, B or C");
    }
    class
}

/// A filing's checked fields (the rest is read from the request as it is).
pub struct Filing {
    period: String,
    requested_class: Option<Class>,
    evidence: Vec<String>,
}

impl Filing {
    /// The objection to store, filed by `by`.
    pub(super) fn new_objection<'a>(
        &'a self,
        request: &'a pb::FileObjectionRequest,
        by: &'a str,
    ) -> NewObjection<'a> {
        NewObjection {
            period: &self.period,
            uscc: &request.uscc,
            reason: request.reason.trim(),
            evidence: &self.evidence,
            requested_class: self.requested_class,
            principal: by,
        }
    }
}

/// A FileObjection request checked, every bad field a violation.
pub fn filing(request: &pb::FileObjectionRequest) -> Result<Filing, ApiError> {
    let mut violations = Violations::new();
    violations.uscc("uscc", &request.uscc);
    let period = convert::optional_period(&mut violations, "period", request.period.as_ref());
    if request.period.as_ref().is_none_or(|p| p.code.is_empty()) {
        violations.add("period", "is required: the published period objected to");
    }
    add_all(
        &mut violations,
        objection::reason_problems("reason", &request.reason),
    );
    add_all(
        &mut violations,
        objection::evidence_problems("evidence", &request.evidence),
    );
    let requested_class =
        optional_class(&mut violations, "requested_class", request.requested_class);
    violations.finish()?;
    let Some(period) = period else {
        return Err(ApiError::invalid("period", "is required"));
    };
    Ok(Filing {
        period,
        requested_class,
        evidence: request
            .evidence
            .iter()
            .map(|e| e.trim().to_string())
            .collect(),
    })
}

/// A DecideObjection request's decision, checked with its other fields.
pub fn decision(request: &pb::DecideObjectionRequest) -> Result<Decision, ApiError> {
    let mut violations = Violations::new();
    violations.check(
        request.objection_id > 0,
        "objection_id",
        "required: the objection's id",
    );
    let class = optional_class(
        &mut violations,
        "enterprise_class",
        request.enterprise_class,
    );
    let decision = match pb::ObjectionDecision::try_from(request.decision) {
        Ok(pb::ObjectionDecision::Uphold) => match class {
            Some(class) => Some(Decision::Uphold(class)),
            None => {
                if request.enterprise_class == 0 {
                    violations.add("enterprise_class", "required when upholding");
                }
                None
            }
        },
        Ok(pb::ObjectionDecision::Reject) => {
            if request.enterprise_class != 0 {
                violations.add("enterprise_class", "must be unset when rejecting");
            }
            Some(Decision::Reject)
        }
        Ok(pb::ObjectionDecision::Unspecified) | Err(_) => {
            violations.add("decision", "must be UPHOLD or REJECT");
            None
        }
    };
    add_all(
        &mut violations,
        objection::reason_problems("reason", &request.reason),
    );
    violations.finish()?;
    decision.ok_or_else(|| ApiError::invalid("decision", "must be UPHOLD or REJECT"))
}

/// A ListObjections request's filter (an enterprise's kept to its own) and page size.
pub fn list_query(
    principal: &Principal,
    request: &pb::ListObjectionsRequest,
) -> Result<(Filter, u32), ApiError> {
    let mut violations = Violations::new();
    let period = convert::optional_period(&mut violations, "period", request.period.as_ref());
    if !request.uscc.is_empty() {
        violations.uscc("uscc", &request.uscc);
    }
    let state = match pb::ObjectionState::try_from(request.state) {
        Ok(pb::ObjectionState::Unspecified) => None,
        Ok(pb::ObjectionState::Filed) => Some(ObjectionState::Filed),
        Ok(pb::ObjectionState::Upheld) => Some(ObjectionState::Upheld),
        Ok(pb::ObjectionState::Rejected) => Some(ObjectionState::Rejected),
        Err(_) => {
            violations.add("state", format!("{} is not a known state", request.state));
            None
        }
    };
    let limit = match paging::page_size(request.page_size) {
        Ok(limit) => limit,
        Err(_) => {
            violations.add("page_size", "must not be negative");
            paging::DEFAULT_PAGE_SIZE
        }
    };
    violations.finish()?;
    // An enterprise lists only its own: its USCC becomes the filter.
    let uscc = principal.restrict_to_self(&request.uscc).map_err(denied)?;
    let filter = Filter {
        period,
        uscc: Some(uscc).filter(|u| !u.is_empty()),
        state,
    };
    Ok((filter, limit))
}

/// A page of objections (`rows` read with one more than `limit`) and the next page's token.
pub(super) fn page(
    mut rows: Vec<ObjectionRow>,
    limit: u32,
) -> Result<pb::ListObjectionsResponse, ApiError> {
    let next_page_token = if rows.len() > limit as usize {
        rows.truncate(limit as usize);
        rows.last()
            .map_or_else(String::new, |last| paging::encode_token(&last.id))
    } else {
        String::new()
    };
    let objections = rows
        .iter()
        .map(objections::to_proto)
        .collect::<Result<_, _>>()?;
    Ok(pb::ListObjectionsResponse {
        objections,
        next_page_token,
    })
}
