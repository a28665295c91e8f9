//! `PublishPeriod` (公示, commerce only), `FinalizePeriod` (最终结果, commerce only) and the
//! `view` field of the reads: which ranking they answer from, the current one, the one
//! published, or the final list.

use haicheng_proto::classification::v1 as pb;
use platform::{
    ApiError, Violations,
    calendar::{MAX_OBJECTION_WORKING_DAYS, ObjectionWindow},
};

use super::convert;
use crate::store::publication::View;

/// The ranking an enterprise reads its own class and explanation in (decided for the security
/// issue): before its period is published the current one, the only one there is; once the
/// period is published only the ranking as published (公示), the one it may object to, so an
/// unset view means PUBLISHED and an explicit CURRENT is PERMISSION_DENIED. Later re-ranks
/// and overrides move only the current ranking, which stays the departments' working view;
/// the outcome of its own objection the enterprise reads from `ListObjections`.
pub fn enterprise_view(requested: i32, view: View, published: bool) -> Result<View, ApiError> {
    if !published {
        return Ok(view);
    }
    match pb::ClassView::try_from(requested) {
        Ok(pb::ClassView::Current) => Err(ApiError::PermissionDenied(
            "an enterprise reads the ranking of a published period as published: ask for view \
             PUBLISHED, or leave the view unset"
                .into(),
        )),
        Ok(pb::ClassView::Final) => Ok(View::Final),
        _ => Ok(View::Published),
    }
}

/// The ranking a read asks for (`field`: the request's `view`); unset is the current one.
pub fn view(violations: &mut Violations, field: &str, value: i32) -> View {
    match pb::ClassView::try_from(value) {
        Ok(pb::ClassView::Unspecified | pb::ClassView::Current) => View::Current,
        Ok(pb::ClassView::Published) => View::Published,
        Ok(pb::ClassView::Final) => View::Final,
        Err(_) => {
            violations.add(field, format!("{value} is not a known view"));
            View::Current
        }
    }
}

/// The period a FinalizePeriod request names.
pub fn period_to_finalize(request: &pb::FinalizePeriodRequest) -> Result<String, ApiError> {
    let mut violations = Violations::new();
    let period = convert::optional_period(&mut violations, "period", request.period.as_ref());
    if request.period.as_ref().is_none_or(|p| p.code.is_empty()) {
        violations.add("period", "is required: the published period to finalize");
    }
    violations.finish()?;
    period.ok_or_else(|| ApiError::invalid("period", "is required"))
}

/// The period a PublishPeriod request names, its note checked.
/// The objection window a publication announces: the configured one unless it gives its own
/// length, which may be longer (firms given more time) but never shorter, outside development
/// mode, where any length down to 0 (no window) rehearses a finalization.
pub fn announced_window(
    request: &pb::PublishPeriodRequest,
    configured: &ObjectionWindow,
    development: bool,
) -> Result<ObjectionWindow, ApiError> {
    let Some(days) = request.objection_working_days else {
        return Ok(configured.clone());
    };
    let least = if development {
        0
    } else {
        configured.working_days
    };
    if !(least..=MAX_OBJECTION_WORKING_DAYS).contains(&days) {
        return Err(ApiError::invalid(
            "objection_working_days",
            format!(
                "{days}: must be {least} to {MAX_OBJECTION_WORKING_DAYS} working days (the \
                 configured window is {}; a publication may give more time, never less)",
                configured.working_days
            ),
        ));
    }
    Ok(configured.announced(Some(days)))
}

pub fn period_to_publish(request: &pb::PublishPeriodRequest) -> Result<String, ApiError> {
    let mut violations = Violations::new();
    let period = convert::optional_period(&mut violations, "period", request.period.as_ref());
    if request.period.as_ref().is_none_or(|p| p.code.is_empty()) {
        violations.add("period", "is required: the census period to publish");
    }
    if request.note.chars().count() > convert::MAX_TEXT {
        violations.add(
            "note",
            format!("must be at most {} characters", convert::MAX_TEXT),
        );
    }
    violations.finish()?;
    period.ok_or_else(|| ApiError::invalid("period", "is required"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn announcing(days: u32) -> pb::PublishPeriodRequest {
        pb::PublishPeriodRequest {
            objection_working_days: Some(days),
            ..Default::default()
        }
    }

    #[test]
    fn a_publication_may_give_more_time_never_less_outside_development() {
        let configured = ObjectionWindow::default();
        let unset = pb::PublishPeriodRequest::default();
        assert_eq!(
            announced_window(&unset, &configured, false).unwrap(),
            configured
        );
        for (days, development, accepted) in [
            (5, false, true),
            (4, false, false),
            (30, false, true),
            (31, false, false),
            (0, false, false),
            (0, true, true),
            (31, true, false),
        ] {
            let answer = announced_window(&announcing(days), &configured, development);
            assert_eq!(
                answer.is_ok(),
                accepted,
                "{days} days, development {development}"
            );
            match answer {
                Ok(window) => assert_eq!(window.working_days, days),
                Err(err) => assert!(
                    format!("{err:?}").contains("objection_working_days"),
                    "{err:?}"
                ),
            }
        }
    }

    #[test]
    fn an_enterprise_reads_a_published_period_only_as_published() {
        let current = pb::ClassView::Current as i32;
        let unset = pb::ClassView::Unspecified as i32;
        let published = pb::ClassView::Published as i32;
        // Not published yet: the view asked for, as for a department.
        assert_eq!(
            enterprise_view(unset, View::Current, false).unwrap(),
            View::Current
        );
        assert_eq!(
            enterprise_view(current, View::Current, false).unwrap(),
            View::Current
        );
        assert_eq!(
            enterprise_view(published, View::Published, false).unwrap(),
            View::Published
        );
        // Published: unset means published, current is refused.
        assert_eq!(
            enterprise_view(unset, View::Current, true).unwrap(),
            View::Published
        );
        assert_eq!(
            enterprise_view(published, View::Published, true).unwrap(),
            View::Published
        );
        let refused = enterprise_view(current, View::Current, true).unwrap_err();
        assert!(
            matches!(refused, ApiError::PermissionDenied(ref why) if why.contains("PUBLISHED"))
        );
    }
}
