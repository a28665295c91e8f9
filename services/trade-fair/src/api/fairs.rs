//! Fairs: CreateFair, UpdateFair, GetFair, ListFairs.

use chrono::{DateTime, Utc};
use haicheng_proto::fair::v1 as pb;
use platform::{ApiError, Violations, paging};
use serde::{Deserialize, Serialize};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use super::{FairApi, convert, one_id};
use crate::{
    domain::fair::Fair,
    store::fairs::{After, Filter},
};

/// The filters of a ListFairs request, as a page token carries them: kind, market,
/// external only, open only, past included.
pub type Filters = (i32, i32, bool, bool, bool);

/// The filters `r` asks for.
pub fn filters_of(r: &pb::ListFairsRequest) -> Filters {
    (
        r.kind,
        r.market,
        r.external_only,
        r.open_only,
        r.include_past,
    )
}

/// A page token's content: the filters it was issued for and the last fair served (its start
/// in microseconds, its id). A token sent with other filters is refused, as ListNotices' and
/// ListRegistrations' are, rather than paging through another list from a stranger's place.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Cursor {
    filters: Filters,
    starts_at: i64,
    id: String,
}

impl Cursor {
    fn after(filters: Filters, fair: &Fair) -> Self {
        Self {
            filters,
            starts_at: fair.spec.starts_at.timestamp_micros(),
            id: fair.id.to_string(),
        }
    }

    /// Where the next page starts, if the token was issued for `filters`; INVALID_ARGUMENT on
    /// `page_token` otherwise.
    pub fn position(&self, filters: Filters) -> Result<After, ApiError> {
        if self.filters != filters {
            return Err(ApiError::invalid(
                "page_token",
                "was issued for other filters: repeat the filters of the first page",
            ));
        }
        let starts_at = DateTime::<Utc>::from_timestamp_micros(self.starts_at);
        let id = Uuid::parse_str(&self.id).ok();
        match (starts_at, id) {
            (Some(starts_at), Some(id)) => Ok(After { starts_at, id }),
            _ => Err(ApiError::invalid(
                "page_token",
                "not a token this service issued",
            )),
        }
    }
}

impl FairApi {
    #[tracing::instrument(skip_all)]
    pub(super) async fn create_fair(
        &self,
        request: Request<pb::CreateFairRequest>,
    ) -> Result<Response<pb::CreateFairResponse>, Status> {
        let mut violations = Violations::new();
        let fair = request.into_inner().fair.unwrap_or_default();
        let defaults = convert::defaults(self.store.rules());
        let spec = convert::fair_spec(&mut violations, "fair", &fair, defaults);
        violations.finish()?;
        let spec = spec.ok_or_else(|| ApiError::invalid("fair", "is incomplete"))?;
        let stored = self.store.create_fair(&spec).await?;
        Ok(Response::new(pb::CreateFairResponse {
            fair: Some(convert::fair(&stored)),
        }))
    }

    #[tracing::instrument(skip_all, fields(fair_id = %request.get_ref().fair_id))]
    pub(super) async fn update_fair(
        &self,
        request: Request<pb::UpdateFairRequest>,
    ) -> Result<Response<pb::UpdateFairResponse>, Status> {
        let r = request.into_inner();
        let id = one_id("fair_id", &r.fair_id)?;
        let current = self.store.fair(id).await?;
        let mut violations = Violations::new();
        violations.check(r.expected_version > 0, "expected_version", "is required");
        let fair = r.fair.unwrap_or_default();
        let s = &current.spec;
        let keep = (
            s.small_firm_reserve_percent,
            s.a_class_reserve_percent,
            s.per_firm_cap,
        );
        let spec = convert::fair_spec(&mut violations, "fair", &fair, keep);
        violations.finish()?;
        let spec = spec.ok_or_else(|| ApiError::invalid("fair", "is incomplete"))?;
        let stored = self
            .store
            .update_fair(id, &spec, r.expected_version)
            .await?;
        Ok(Response::new(pb::UpdateFairResponse {
            fair: Some(convert::fair(&stored)),
        }))
    }

    #[tracing::instrument(skip_all, fields(fair_id = %request.get_ref().fair_id))]
    pub(super) async fn get_fair(
        &self,
        request: Request<pb::GetFairRequest>,
    ) -> Result<Response<pb::GetFairResponse>, Status> {
        let id = one_id("fair_id", &request.get_ref().fair_id)?;
        let fair = self.store.fair(id).await?;
        let waitlisted = self.store.waitlisted(id).await?;
        Ok(Response::new(pb::GetFairResponse {
            fair: Some(convert::fair(&fair)),
            waitlisted: waitlisted as i32,
        }))
    }

    #[tracing::instrument(skip_all)]
    pub(super) async fn list_fairs(
        &self,
        request: Request<pb::ListFairsRequest>,
    ) -> Result<Response<pb::ListFairsResponse>, Status> {
        let r = request.into_inner();
        let mut violations = Violations::new();
        let kind = (r.kind != 0).then(|| convert::kind_from_proto(r.kind));
        violations.check(kind != Some(None), "kind", "is not a fair kind");
        let market = (r.market != 0).then(|| convert::market_from_proto(r.market));
        violations.check(market != Some(None), "market", "is not a market");
        let size = paging::page_size(r.page_size);
        let cursor = paging::decode_token::<Cursor>(&r.page_token);
        violations.finish()?;
        let (size, cursor) = (size?, cursor?);
        let filters = filters_of(&r);
        let after = cursor.map(|c| c.position(filters)).transpose()?;
        let filter = Filter {
            kind: kind.flatten(),
            market: market.flatten(),
            external_only: r.external_only,
            open_only: r.open_only,
            include_past: r.include_past,
        };
        let mut page = (self.store)
            .list_fairs(&filter, Utc::now(), after, size + 1)
            .await?;
        let next_page_token = if page.len() > size as usize {
            page.truncate(size as usize);
            page.last()
                .map(|f| paging::encode_token(&Cursor::after(filters, f)))
                .unwrap_or_default()
        } else {
            String::new()
        };
        Ok(Response::new(pb::ListFairsResponse {
            fairs: page.iter().map(convert::fair).collect(),
            next_page_token,
        }))
    }
}
