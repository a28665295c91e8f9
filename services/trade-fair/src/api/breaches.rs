//! Breaches: RecordBreach (commerce) and ListBreaches (readers of fairs; names firms, so
//! audited).

use chrono::Utc;
use haicheng_proto::fair::v1 as pb;
use platform::{ApiError, Violations};
use tonic::{Request, Response, Status};

use super::{FairApi, convert};
use crate::domain::breach::RecordBreach;

/// Longest evidence text accepted.
const MAX_EVIDENCE_CHARS: usize = 2000;
/// Longest reference accepted.
const MAX_REFERENCE_CHARS: usize = 200;

pub fn record_breach(r: &pb::RecordBreachRequest) -> Result<RecordBreach, ApiError> {
    let mut violations = Violations::new();
    let fair_id = violations.uuid("fair_id", &r.fair_id);
    let uscc = violations.uscc("uscc", &r.uscc);
    let kind = violations
        .required_enum::<pb::BreachKind>("kind", r.kind)
        .and_then(convert::breach_kind_from_proto);
    let evidence = violations.text("evidence", &r.evidence, MAX_EVIDENCE_CHARS);
    violations.check(
        r.reference.trim().chars().count() <= MAX_REFERENCE_CHARS,
        "reference",
        format!("is longer than {MAX_REFERENCE_CHARS} characters"),
    );
    violations.finish()?;
    match (fair_id, uscc, kind, evidence) {
        (Some(fair_id), Some(uscc), Some(kind), Some(evidence)) => Ok(RecordBreach {
            fair_id,
            uscc: uscc.to_string(),
            kind,
            evidence,
            reference: r.reference.trim().to_string(),
        }),
        _ => Err(ApiError::invalid("fair_id", "is required")),
    }
}

impl FairApi {
    #[tracing::instrument(skip_all, fields(fair_id = %request.get_ref().fair_id))]
    pub(super) async fn record_breach(
        &self,
        request: Request<pb::RecordBreachRequest>,
    ) -> Result<Response<pb::RecordBreachResponse>, Status> {
        let c = record_breach(request.get_ref())?;
        let recorded = self.store.record_breach(&c, Utc::now()).await?;
        let n = self.store.rules().breach_barred_sessions;
        Ok(Response::new(pb::RecordBreachResponse {
            breach: Some(convert::breach(&recorded, n)),
        }))
    }

    #[tracing::instrument(skip_all)]
    pub(super) async fn list_breaches(
        &self,
        request: Request<pb::ListBreachesRequest>,
    ) -> Result<Response<pb::ListBreachesResponse>, Status> {
        let r = request.into_inner();
        let mut violations = Violations::new();
        let fair_id = (!r.fair_id.is_empty())
            .then(|| violations.uuid("fair_id", &r.fair_id))
            .flatten();
        if !r.uscc.is_empty() {
            violations.uscc("uscc", &r.uscc);
        }
        violations.finish()?;
        let uscc = (!r.uscc.is_empty()).then_some(r.uscc.as_str());
        let found = self.store.breaches(uscc, fair_id).await?;
        let n = self.store.rules().breach_barred_sessions;
        let reply = Response::new(pb::ListBreachesResponse {
            breaches: found.iter().map(|b| convert::breach(b, n)).collect(),
        });
        let detail = serde_json::json!({ "fair_id": r.fair_id });
        Ok(platform::audit::subject(reply, uscc, detail))
    }
}
