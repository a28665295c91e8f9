//! Registrations: Apply, GetRegistration, ListRegistrations, AllocateBooths,
//! CancelRegistration, AcceptOffer, DeclineOffer.

use chrono::Utc;
use haicheng_proto::fair::v1 as pb;
use platform::{ApiError, Violations};
use tonic::{Request, Response, Status};

use super::{FairApi, convert, one_id};
use crate::domain::registration::{Application, Registration};

/// Longest cancellation reason accepted.
const MAX_REASON: usize = 500;

fn all(registrations: &[Registration]) -> Vec<pb::Registration> {
    registrations.iter().map(convert::registration).collect()
}

impl FairApi {
    #[tracing::instrument(skip_all, fields(fair_id = %request.get_ref().fair_id, uscc = %request.get_ref().uscc))]
    pub(super) async fn apply(
        &self,
        request: Request<pb::ApplyRequest>,
    ) -> Result<Response<pb::ApplyResponse>, Status> {
        let r = request.into_inner();
        let mut violations = Violations::new();
        let fair_id = violations.uuid("fair_id", &r.fair_id);
        violations.uscc("uscc", &r.uscc);
        let booth_type = convert::booth_type_from_proto(r.booth_type);
        violations.check(
            booth_type.is_some(),
            "booth_type",
            "must be standard, brand or custom space",
        );
        violations.check(r.booths > 0, "booths", "must be at least 1");
        violations.finish()?;
        let application = Application {
            fair_id: fair_id.ok_or_else(|| ApiError::invalid("fair_id", "is required"))?,
            uscc: r.uscc,
            booth_type: booth_type.ok_or_else(|| ApiError::invalid("booth_type", "is required"))?,
            booths: r.booths as u32,
        };
        let registration = self.store.apply(&application, Utc::now()).await?;
        Ok(Response::new(pb::ApplyResponse {
            registration: Some(convert::registration(&registration)),
        }))
    }

    #[tracing::instrument(skip_all)]
    pub(super) async fn get_registration(
        &self,
        request: Request<pb::GetRegistrationRequest>,
    ) -> Result<Response<pb::GetRegistrationResponse>, Status> {
        let id = one_id("registration_id", &request.get_ref().registration_id)?;
        let registration = self.store.registration(id).await?;
        Ok(Response::new(pb::GetRegistrationResponse {
            registration: Some(convert::registration(&registration)),
        }))
    }

    #[tracing::instrument(skip_all, fields(fair_id = %request.get_ref().fair_id))]
    pub(super) async fn list_registrations(
        &self,
        request: Request<pb::ListRegistrationsRequest>,
    ) -> Result<Response<pb::ListRegistrationsResponse>, Status> {
        let r = request.into_inner();
        let mut violations = Violations::new();
        let fair_id = violations.uuid("fair_id", &r.fair_id);
        let status = (r.status != 0).then(|| convert::status_from_proto(r.status));
        violations.check(
            status != Some(None),
            "status",
            "is not a registration status",
        );
        violations.finish()?;
        let fair_id = fair_id.ok_or_else(|| ApiError::invalid("fair_id", "is required"))?;
        let found = self.store.registrations_of_fair(fair_id).await?;
        let registrations = found
            .iter()
            .filter(|reg| status.flatten().is_none_or(|s| reg.status == s))
            .map(convert::registration)
            .collect();
        Ok(Response::new(pb::ListRegistrationsResponse {
            registrations,
        }))
    }

    #[tracing::instrument(skip_all, fields(fair_id = %request.get_ref().fair_id))]
    pub(super) async fn allocate_booths(
        &self,
        request: Request<pb::AllocateBoothsRequest>,
    ) -> Result<Response<pb::AllocateBoothsResponse>, Status> {
        let id = one_id("fair_id", &request.get_ref().fair_id)?;
        let registrations = self.store.allocate(id, Utc::now()).await?;
        Ok(Response::new(pb::AllocateBoothsResponse {
            registrations: all(&registrations),
        }))
    }

    #[tracing::instrument(skip_all, fields(registration_id = %request.get_ref().registration_id))]
    pub(super) async fn cancel_registration(
        &self,
        request: Request<pb::CancelRegistrationRequest>,
    ) -> Result<Response<pb::CancelRegistrationResponse>, Status> {
        let r = request.into_inner();
        let mut violations = Violations::new();
        let id = violations.uuid("registration_id", &r.registration_id);
        violations.check(!r.reason.trim().is_empty(), "reason", "is required");
        violations.check(
            r.reason.chars().count() <= MAX_REASON,
            "reason",
            format!("at most {MAX_REASON} characters"),
        );
        violations.finish()?;
        let id = id.ok_or_else(|| ApiError::invalid("registration_id", "is required"))?;
        let (cancelled, offered) = self.store.cancel(id, r.reason.trim(), Utc::now()).await?;
        Ok(Response::new(pb::CancelRegistrationResponse {
            registration: Some(convert::registration(&cancelled)),
            offered: all(&offered),
        }))
    }

    #[tracing::instrument(skip_all, fields(registration_id = %request.get_ref().registration_id))]
    pub(super) async fn accept_offer(
        &self,
        request: Request<pb::AcceptOfferRequest>,
    ) -> Result<Response<pb::AcceptOfferResponse>, Status> {
        let id = one_id("registration_id", &request.get_ref().registration_id)?;
        let confirmed = self.store.accept_offer(id, Utc::now()).await?;
        Ok(Response::new(pb::AcceptOfferResponse {
            registration: Some(convert::registration(&confirmed)),
        }))
    }

    #[tracing::instrument(skip_all, fields(registration_id = %request.get_ref().registration_id))]
    pub(super) async fn decline_offer(
        &self,
        request: Request<pb::DeclineOfferRequest>,
    ) -> Result<Response<pb::DeclineOfferResponse>, Status> {
        let id = one_id("registration_id", &request.get_ref().registration_id)?;
        let (declined, offered) = self.store.decline_offer(id, Utc::now()).await?;
        Ok(Response::new(pb::DeclineOfferResponse {
            registration: Some(convert::registration(&declined)),
            offered: all(&offered),
        }))
    }
}
