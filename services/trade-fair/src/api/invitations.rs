//! Invitations: ListInvitations (an enterprise sees only its own).

use haicheng_proto::fair::v1 as pb;
use platform::{Principal, Violations};
use tonic::{Request, Response, Status};

use super::{FairApi, convert};

impl FairApi {
    #[tracing::instrument(skip_all)]
    pub(super) async fn list_invitations(
        &self,
        request: Request<pb::ListInvitationsRequest>,
    ) -> Result<Response<pb::ListInvitationsResponse>, Status> {
        let uscc = Principal::of(&request)?.restrict_to_self(&request.get_ref().uscc)?;
        let r = request.into_inner();
        let mut violations = Violations::new();
        let fair_id = (!r.fair_id.is_empty())
            .then(|| violations.uuid("fair_id", &r.fair_id))
            .flatten();
        if !uscc.is_empty() {
            violations.uscc("uscc", &uscc);
        }
        violations.check(
            !r.fair_id.is_empty() || !uscc.is_empty(),
            "fair_id",
            "give a fair, an enterprise or both",
        );
        let status = (r.status != 0).then(|| convert::invitation_status_from_proto(r.status));
        violations.check(
            status != Some(None),
            "status",
            "is not an invitation status",
        );
        violations.finish()?;
        let filter = (!uscc.is_empty()).then_some(uscc.as_str());
        let found = (self.store)
            .invitations(fair_id, filter, status.flatten())
            .await?;
        let reply = Response::new(pb::ListInvitationsResponse {
            invitations: found.iter().map(convert::invitation).collect(),
        });
        let detail = serde_json::json!({ "fair_id": r.fair_id });
        Ok(platform::audit::subject(reply, Some(&uscc), detail))
    }
}
