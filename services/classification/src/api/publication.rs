//! `PublishPeriod` (公示, commerce only) and the `view` field of the reads: which ranking they
//! answer from, the current one or the one published.

use haicheng_proto::classification::v1 as pb;
use platform::{ApiError, Principal, Violations};

use super::{ClassificationApi, convert};
use crate::store::publication::{self, PublishRequest, View};

/// The ranking a read asks for (`field`: the request's `view`); unset is the current one.
pub(super) fn view(violations: &mut Violations, field: &str, value: i32) -> View {
    match pb::ClassView::try_from(value) {
        Ok(pb::ClassView::Unspecified | pb::ClassView::Current) => View::Current,
        Ok(pb::ClassView::Published) => View::Published,
        Err(_) => {
            violations.add(field, format!("{value} is not a known view"));
            View::Current
        }
    }
}

impl ClassificationApi {
    pub(super) async fn publish(
        &self,
        principal: &Principal,
        request: pb::PublishPeriodRequest,
    ) -> Result<pb::PublishPeriodResponse, ApiError> {
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
        let Some(period) = period else {
            return Err(ApiError::invalid("period", "is required"));
        };
        let by = principal.identity.to_string();
        let (publication, outcome) = publication::publish(
            &self.pool,
            &self.outbox,
            &self.rules,
            PublishRequest {
                period: &period,
                note: request.note.trim(),
                principal: &by,
            },
            // The end of the objection window, as FileObjection counts it.
            |published_at| Some(self.objection_window.deadline(published_at)),
        )
        .await?;
        tracing::info!(
            period,
            by,
            enterprises = publication.enterprises,
            model_version = publication.model_version,
            reranked_changes = outcome.reranked_changes,
            notices = outcome.settled.notices,
            "period published"
        );
        Ok(pb::PublishPeriodResponse {
            publication: Some(publication::to_proto(&publication)),
        })
    }
}
