//! Registrations: Apply, GetRegistration, ListRegistrations, AllocateBooths,
//! CancelRegistration, AcceptOffer, DeclineOffer.
//!
//! ListRegistrations pages as every list does (`platform::paging`). Its page token carries
//! the position (the last registration served) and the filters it was issued for, as
//! ListNotices' does: a token sent with another fair or status is refused rather than
//! paging through a different list.

use chrono::{DateTime, Utc};
use haicheng_proto::fair::v1 as pb;
use platform::{ApiError, Violations, paging};
use serde::{Deserialize, Serialize};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use super::{FairApi, convert, one_id};
use crate::{
    domain::{
        allocation::Counts,
        fair::BoothType,
        registration::{self, Application, Registration},
    },
    store::registrations::After,
};

/// Longest cancellation reason accepted.
const MAX_REASON: usize = 500;

/// A ListRegistrations page token's content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct PageToken {
    /// The filters it was issued for: the fair and the status (`RegistrationStatus`, 0: any).
    fair_id: String,
    status: i32,
    /// The last registration served: its booth type, class rank, application time in
    /// microseconds and id (what either order needs).
    after: (String, u8, i64, String),
}

impl PageToken {
    fn new(fair_id: Uuid, status: i32, last: &Registration) -> Self {
        let after = After::of(last);
        Self {
            fair_id: fair_id.to_string(),
            status,
            after: (
                after.booth_type.as_str().to_string(),
                after.class_rank,
                after.applied_at.timestamp_micros(),
                after.id.to_string(),
            ),
        }
    }

    /// The position it carries, if it was issued for these filters.
    fn position(&self, fair_id: Uuid, status: i32) -> Result<After, ApiError> {
        if self.fair_id != fair_id.to_string() || self.status != status {
            return Err(ApiError::invalid(
                "page_token",
                "was issued for other filters: repeat the filters of the first page",
            ));
        }
        let (booth_type, class_rank, micros, id) = &self.after;
        match (
            BoothType::parse(booth_type),
            DateTime::<Utc>::from_timestamp_micros(*micros),
            Uuid::parse_str(id),
        ) {
            (Some(booth_type), Some(applied_at), Ok(id)) => Ok(After {
                booth_type,
                class_rank: *class_rank,
                applied_at,
                id,
            }),
            _ => Err(ApiError::invalid(
                "page_token",
                "not a token this service issued",
            )),
        }
    }
}

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
        let size = paging::page_size(r.page_size)
            .map_err(|_| violations.add("page_size", "must not be negative"))
            .ok();
        let token = paging::decode_token::<PageToken>(&r.page_token)
            .map_err(|_| violations.add("page_token", "not a token this service issued"))
            .ok()
            .flatten();
        violations.finish()?;
        let fair_id = fair_id.ok_or_else(|| ApiError::invalid("fair_id", "is required"))?;
        let size = size.ok_or_else(|| ApiError::invalid("page_size", "must not be negative"))?;
        let after = token.map(|t| t.position(fair_id, r.status)).transpose()?;
        let status: Option<registration::Status> = status.flatten();
        let mut page = (self.store)
            .registrations_page(fair_id, status, after, size + 1)
            .await?;
        let next_page_token = if page.len() > size as usize {
            page.truncate(size as usize);
            page.last()
                .map(|last| paging::encode_token(&PageToken::new(fair_id, r.status, last)))
                .unwrap_or_default()
        } else {
            String::new()
        };
        Ok(Response::new(pb::ListRegistrationsResponse {
            registrations: all(&page),
            next_page_token,
        }))
    }

    #[tracing::instrument(skip_all, fields(fair_id = %request.get_ref().fair_id))]
    pub(super) async fn allocate_booths(
        &self,
        request: Request<pb::AllocateBoothsRequest>,
    ) -> Result<Response<pb::AllocateBoothsResponse>, Status> {
        let id = one_id("fair_id", &request.get_ref().fair_id)?;
        let Counts {
            confirmed,
            booths,
            waitlisted,
            ineligible,
        } = self.store.allocate(id, Utc::now()).await?;
        let count = |n: u32| i32::try_from(n).unwrap_or(i32::MAX);
        Ok(Response::new(pb::AllocateBoothsResponse {
            confirmed: count(confirmed),
            booths_allocated: count(booths),
            waitlisted: count(waitlisted),
            cancelled_ineligible: count(ineligible),
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
