//! The gRPC API (`haicheng.land.v1.LandService`): the trait methods below are the handlers.
//! Each reads its request through the parsers of its group ([`parcels`], [`grants`],
//! [`units`], [`queue`]: shape checks, every bad field at once), calls the store (load →
//! decide → commit) and answers in proto ([`convert`]). Errors leave through
//! [`platform::ApiError`], mapped here once: INVALID_ARGUMENT with a field violation per bad
//! field, NOT_FOUND, ALREADY_EXISTS, ABORTED on a version conflict, FAILED_PRECONDITION naming
//! the rule that refuses.
//!
//! Access: natural resources (`land.write`) writes; `land.read` reads. A park committee
//! reads only the parks named by its `land.park:<park>` scopes.

pub mod convert;
pub mod disposal;
pub mod grants;
pub mod parcels;
pub mod queue;
pub mod units;

use haicheng_proto::land::v1::{self as pb, land_service_server::LandService};
use platform::{
    AccessPolicy, ApiError, Park, Principal, Rule, Violations,
    auth::{Department, scopes},
};
use tonic::{Request, Response, Status};

use crate::{
    domain::{Refused, disposal::TakeBackCommand},
    store::{Store, StoreError},
};

/// The fully qualified service name.
pub const SERVICE_NAME: &str = haicheng_proto::land::v1::land_service_server::SERVICE_NAME;

/// A scope naming one park a park committee may read: `land.park:nantai`.
pub const PARK_SCOPE_PREFIX: &str = scopes::LAND_PARK_PREFIX;

/// Every method's access rule.
pub fn access_rules(policy: AccessPolicy) -> AccessPolicy {
    let method = |name: &str| format!("/{SERVICE_NAME}/{name}");
    let read = Rule::Scope(scopes::LAND_READ);
    let write = Rule::Scope(scopes::LAND_WRITE);
    let mut policy = policy;
    for name in [
        "GetParcel",
        "ListParcels",
        "GetGrant",
        "ListEvaluations",
        "ListLandApplications",
        "ListLowEfficiencyGrants",
    ] {
        policy = policy.allow(&method(name), read.clone());
    }
    for name in [
        "RegisterParcel",
        "SplitParcel",
        "MergeParcels",
        "GrantParcel",
        "RecordMilestone",
        "ConvertLeaseToTransfer",
        "DefineBuilding",
        "LeaseUnit",
        "SellUnit",
        "SubmitLandApplication",
        "AllocateLand",
        "RenewLease",
    ] {
        policy = policy.allow(&method(name), write.clone());
    }
    // Idle land and take-back are natural resources' decisions (闲置土地处置办法): the write
    // scope here, and the handler checks the department ([`natural_resources_only`]).
    for name in ["RunIdlePass", "RecordIdleFee", "TakeBackGrant"] {
        policy = policy.allow(&method(name), write.clone());
    }
    policy
}

/// Which parks a caller may read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parks {
    All,
    Only(Vec<Park>),
}

impl Parks {
    /// A park committee reads its own parks (scopes spell them in lower case,
    /// [`Park::scope_name`]); every other reader all of them.
    pub fn of(principal: &Principal) -> Self {
        if principal.department() != Some(Department::ParkCommittee) {
            return Parks::All;
        }
        Parks::Only(
            principal
                .scopes
                .iter()
                .filter_map(|s| s.strip_prefix(PARK_SCOPE_PREFIX))
                .filter_map(|name| Park::ALL.into_iter().find(|p| p.scope_name() == name))
                .collect(),
        )
    }

    fn allows(&self, park: Park) -> bool {
        match self {
            Parks::All => true,
            Parks::Only(parks) => parks.contains(&park),
        }
    }

    fn check(&self, park: Park) -> Result<(), ApiError> {
        if self.allows(park) {
            Ok(())
        } else {
            Err(ApiError::PermissionDenied(format!(
                "the caller may not read park {}",
                park.scope_name()
            )))
        }
    }

    fn of_request<T>(request: &Request<T>) -> Result<Self, Status> {
        Ok(Self::of(Principal::of(request)?))
    }
}

/// Who records a change: the caller's identity.
fn recorded_by<T>(request: &Request<T>) -> Result<String, Status> {
    Ok(Principal::of(request)?.identity.to_string())
}

/// Idle land and take-back are decided by natural resources only (闲置土地处置办法): another
/// department, even with the write scope, is PERMISSION_DENIED.
fn natural_resources_only<T>(request: &Request<T>) -> Result<(), Status> {
    let principal = Principal::of(request)?;
    if principal.department() == Some(Department::NaturalResources) {
        Ok(())
    } else {
        Err(ApiError::PermissionDenied("only natural resources decides on idle land".into()).into())
    }
}

/// A refusal of the domain: its field violations, or the rule that fails.
fn refusal(why: Refused) -> ApiError {
    match why.into_violations() {
        Ok(violations) => match violations.finish() {
            Err(err) => err,
            Ok(()) => ApiError::Internal(anyhow::anyhow!("a refusal without violations")),
        },
        Err(why) => ApiError::FailedPrecondition(why.to_string()),
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound(what) => ApiError::NotFound(what),
            StoreError::AlreadyExists(what) => ApiError::AlreadyExists(what),
            StoreError::VersionConflict(why) => ApiError::Aborted(why),
            StoreError::Refused(why) => refusal(why),
            StoreError::Database(err) => err.into(),
        }
    }
}

/// So `?` works on the store's results in the handlers.
impl From<StoreError> for Status {
    fn from(err: StoreError) -> Self {
        ApiError::from(err).into()
    }
}

/// The value once there are no violations (the caller checked it was set).
fn done<T>(value: Option<T>, v: Violations) -> Result<T, ApiError> {
    v.finish()?;
    value.ok_or_else(|| ApiError::Internal(anyhow::anyhow!("a check failed without a violation")))
}

/// A check's value, with an INVALID_ARGUMENT's violations moved into `v` (so a request's bad
/// fields are all reported together); other errors pass through.
fn absorb<T>(result: Result<T, ApiError>, v: &mut Violations) -> Result<Option<T>, ApiError> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(ApiError::InvalidArgument(list)) => {
            for violation in list {
                v.add(violation.field, violation.reason);
            }
            Ok(None)
        }
        Err(err) => Err(err),
    }
}

/// The service's handlers.
#[derive(Clone)]
pub struct LandApi {
    store: Store,
    /// Development mode: an idle pass may run on a later day (a rehearsal).
    development: bool,
}

impl LandApi {
    pub fn new(store: Store, development: bool) -> Self {
        Self { store, development }
    }
}

type Answer<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl LandService for LandApi {
    async fn register_parcel(
        &self,
        request: Request<pb::RegisterParcelRequest>,
    ) -> Answer<pb::RegisterParcelResponse> {
        let new = parcels::new_parcel(request.get_ref())?;
        let record = self.store.register_parcel(&new).await?;
        Ok(Response::new(pb::RegisterParcelResponse {
            parcel: Some(convert::parcel_to_proto(&record)),
        }))
    }

    async fn get_parcel(
        &self,
        request: Request<pb::GetParcelRequest>,
    ) -> Answer<pb::GetParcelResponse> {
        let parks = Parks::of_request(&request)?;
        let (id, as_of) = parcels::parcel_as_of(request.get_ref())?;
        let (record, grant) = match as_of {
            None => {
                let record = self.store.parcel(id).await?;
                let grant = self.store.grant_on(&record.id).await?;
                (record, grant)
            }
            Some(at) => self.store.parcel_at(id, at).await?,
        };
        parks.check(record.park)?;
        let buildings = self.store.buildings(&record.id).await?;
        Ok(Response::new(pb::GetParcelResponse {
            parcel: Some(convert::parcel_to_proto(&record)),
            grant: grant.as_ref().map(convert::grant_to_proto),
            buildings: buildings.iter().map(convert::building_to_proto).collect(),
        }))
    }

    async fn list_parcels(
        &self,
        request: Request<pb::ListParcelsRequest>,
    ) -> Answer<pb::ListParcelsResponse> {
        let parks = Parks::of_request(&request)?;
        let page = parcels::page(request.get_ref(), &parks)?;
        let mut records = self
            .store
            .list_parcels(&page.filter, page.after.as_deref(), page.size + 1)
            .await?;
        let next = parcels::next_token(&mut records, page.size);
        Ok(Response::new(pb::ListParcelsResponse {
            parcels: records.iter().map(convert::parcel_to_proto).collect(),
            next_page_token: next,
        }))
    }

    async fn split_parcel(
        &self,
        request: Request<pb::SplitParcelRequest>,
    ) -> Answer<pb::SplitParcelResponse> {
        let r = request.get_ref();
        let parts = parcels::split_parts(r)?;
        let records = self
            .store
            .split_parcel(&r.parcel_id, r.expected_version, &parts)
            .await?;
        Ok(Response::new(pb::SplitParcelResponse {
            parcels: records.iter().map(convert::parcel_to_proto).collect(),
        }))
    }

    async fn merge_parcels(
        &self,
        request: Request<pb::MergeParcelsRequest>,
    ) -> Answer<pb::MergeParcelsResponse> {
        let r = request.get_ref();
        let ids = parcels::merged_ids(r)?;
        let record = self
            .store
            .merge_parcels(&ids, &r.new_parcel_id, &r.location)
            .await?;
        Ok(Response::new(pb::MergeParcelsResponse {
            parcel: Some(convert::parcel_to_proto(&record)),
        }))
    }

    async fn grant_parcel(
        &self,
        request: Request<pb::GrantParcelRequest>,
    ) -> Answer<pb::GrantParcelResponse> {
        let r = request.get_ref();
        let grant = grants::grant_request(r)?;
        let granted = self
            .store
            .grant(&r.parcel_id, r.expected_version, &r.uscc, &grant)
            .await?;
        tracing::info!(parcel_id = %r.parcel_id, grant_id = %granted.grant.id, "parcel granted");
        Ok(Response::new(pb::GrantParcelResponse {
            grant: Some(convert::grant_to_proto(&granted)),
        }))
    }

    async fn get_grant(
        &self,
        request: Request<pb::GetGrantRequest>,
    ) -> Answer<pb::GetGrantResponse> {
        let parks = Parks::of_request(&request)?;
        let id = grants::grant_id(&request.get_ref().grant_id)?;
        let grant = self.store.grant_view(id).await?;
        let parcel = self.store.parcel(&grant.grant.parcel_id).await?;
        parks.check(parcel.park)?;
        let latest = self.store.latest_evaluation(id).await?;
        Ok(Response::new(pb::GetGrantResponse {
            grant: Some(convert::grant_to_proto(&grant)),
            latest_evaluation: latest.as_ref().map(convert::evaluation_to_proto),
        }))
    }

    async fn record_milestone(
        &self,
        request: Request<pb::RecordMilestoneRequest>,
    ) -> Answer<pb::RecordMilestoneResponse> {
        let by = recorded_by(&request)?;
        let (id, milestone) = grants::milestone(request.get_ref())?;
        let grant = self.store.record_milestone(id, &milestone, &by).await?;
        Ok(Response::new(pb::RecordMilestoneResponse {
            grant: Some(convert::grant_to_proto(&grant)),
        }))
    }

    async fn list_evaluations(
        &self,
        request: Request<pb::ListEvaluationsRequest>,
    ) -> Answer<pb::ListEvaluationsResponse> {
        let parks = Parks::of_request(&request)?;
        let (id, as_of) = grants::evaluations_as_of(request.get_ref())?;
        let grant = self.store.grant_view(id).await?;
        let parcel = self.store.parcel(&grant.grant.parcel_id).await?;
        parks.check(parcel.park)?;
        let records = self.store.evaluations(id, as_of).await?;
        Ok(Response::new(pb::ListEvaluationsResponse {
            evaluations: records.iter().map(convert::evaluation_to_proto).collect(),
        }))
    }

    async fn convert_lease_to_transfer(
        &self,
        request: Request<pb::ConvertLeaseToTransferRequest>,
    ) -> Answer<pb::ConvertLeaseToTransferResponse> {
        let r = request.get_ref();
        let id = grants::conversion(r)?;
        let (grant, conversion) = self.store.convert_lease(id, r.expected_version).await?;
        Ok(Response::new(pb::ConvertLeaseToTransferResponse {
            grant: Some(convert::grant_to_proto(&grant)),
            rent_credited_fen: conversion.rent_credited_fen,
            transfer_price_due_fen: conversion.transfer_price_due_fen,
        }))
    }

    async fn define_building(
        &self,
        request: Request<pb::DefineBuildingRequest>,
    ) -> Answer<pb::DefineBuildingResponse> {
        let r = request.get_ref();
        let (floors, specs) = units::building(r)?;
        let building = self
            .store
            .define_building(&r.parcel_id, &r.name, &floors, &specs)
            .await?;
        Ok(Response::new(pb::DefineBuildingResponse {
            building: Some(convert::building_to_proto(&building)),
        }))
    }

    async fn lease_unit(
        &self,
        request: Request<pb::LeaseUnitRequest>,
    ) -> Answer<pb::LeaseUnitResponse> {
        let by = recorded_by(&request)?;
        let t = units::lease(request.get_ref())?;
        let unit = self
            .store
            .transfer_unit(t.unit_id, t.expected_version, t.uscc, t.transfer, &by)
            .await?;
        Ok(Response::new(pb::LeaseUnitResponse {
            unit: Some(convert::unit_to_proto(&unit)),
        }))
    }

    async fn sell_unit(
        &self,
        request: Request<pb::SellUnitRequest>,
    ) -> Answer<pb::SellUnitResponse> {
        let by = recorded_by(&request)?;
        let t = units::sale(request.get_ref())?;
        let unit = self
            .store
            .transfer_unit(t.unit_id, t.expected_version, t.uscc, t.transfer, &by)
            .await?;
        Ok(Response::new(pb::SellUnitResponse {
            unit: Some(convert::unit_to_proto(&unit)),
        }))
    }

    async fn submit_land_application(
        &self,
        request: Request<pb::SubmitLandApplicationRequest>,
    ) -> Answer<pb::SubmitLandApplicationResponse> {
        let application = queue::application(request.into_inner())?;
        let record = self.store.submit_application(&application).await?;
        Ok(Response::new(pb::SubmitLandApplicationResponse {
            application: Some(convert::application_to_proto(&record)),
        }))
    }

    async fn list_land_applications(
        &self,
        request: Request<pb::ListLandApplicationsRequest>,
    ) -> Answer<pb::ListLandApplicationsResponse> {
        let parks = Parks::of_request(&request)?;
        let page = queue::page(request.get_ref())?;
        parks.check(page.park)?;
        let all = self.store.applications(page.park, page.queued).await?;
        let (applications, next) = queue::one_page(&all, page.offset, page.size);
        Ok(Response::new(pb::ListLandApplicationsResponse {
            applications: applications.map(convert::application_to_proto).collect(),
            next_page_token: next,
        }))
    }

    async fn allocate_land(
        &self,
        request: Request<pb::AllocateLandRequest>,
    ) -> Answer<pb::AllocateLandResponse> {
        let r = request.get_ref();
        let grant = grants::allocation(r)?;
        let (application, granted) = self
            .store
            .allocate(&r.parcel_id, r.expected_version, &grant)
            .await?;
        Ok(Response::new(pb::AllocateLandResponse {
            application: Some(convert::application_to_proto(&application)),
            grant: Some(convert::grant_to_proto(&granted)),
        }))
    }

    async fn run_idle_pass(
        &self,
        request: Request<pb::RunIdlePassRequest>,
    ) -> Answer<pb::RunIdlePassResponse> {
        natural_resources_only(&request)?;
        let today = platform::calendar::china_date(chrono::Utc::now());
        let on = disposal::pass_day(request.get_ref(), today, self.development)?;
        let outcome = self.store.idle_pass(on).await?;
        tracing::info!(
            ?on,
            flagged = outcome.flagged,
            review = outcome.take_back_review,
            "idle pass"
        );
        Ok(Response::new(pb::RunIdlePassResponse {
            flagged_idle: i32::try_from(outcome.flagged).unwrap_or(i32::MAX),
            take_back_review: i32::try_from(outcome.take_back_review).unwrap_or(i32::MAX),
        }))
    }

    async fn record_idle_fee(
        &self,
        request: Request<pb::RecordIdleFeeRequest>,
    ) -> Answer<pb::RecordIdleFeeResponse> {
        natural_resources_only(&request)?;
        let r = request.get_ref();
        let (id, settlement) = disposal::fee(r)?;
        let grant = self
            .store
            .settle_idle_fee(id, r.expected_version, settlement)
            .await?;
        Ok(Response::new(pb::RecordIdleFeeResponse {
            grant: Some(convert::grant_to_proto(&grant)),
        }))
    }

    async fn take_back_grant(
        &self,
        request: Request<pb::TakeBackGrantRequest>,
    ) -> Answer<pb::TakeBackGrantResponse> {
        natural_resources_only(&request)?;
        let by = recorded_by(&request)?;
        let r = request.get_ref();
        let t = disposal::take_back(r)?;
        let command = TakeBackCommand {
            reason: &t.reason,
            document_number: &t.document_number,
            decided_by: &by,
        };
        let (grant, parcel) = self
            .store
            .take_back(t.id, r.expected_version, &command)
            .await?;
        tracing::info!(grant_id = %t.id, parcel_id = %parcel.id, "grant taken back");
        Ok(Response::new(pb::TakeBackGrantResponse {
            grant: Some(convert::grant_to_proto(&grant)),
            parcel: Some(convert::parcel_to_proto(&parcel)),
        }))
    }

    async fn list_low_efficiency_grants(
        &self,
        request: Request<pb::ListLowEfficiencyGrantsRequest>,
    ) -> Answer<pb::ListLowEfficiencyGrantsResponse> {
        let parks = Parks::of_request(&request)?;
        let page = disposal::low_efficiency_page(request.get_ref(), parks)?;
        let mut grants = Vec::new();
        let mut after = page.after;
        // Pages of the flagged grants, kept to the caller's parks, until one more than a page.
        loop {
            let batch = self.store.low_efficiency_grants(after, 500).await?;
            let done = batch.len() < 500;
            after = batch.last().map(|(g, _)| g.grant.id);
            grants.extend(
                batch
                    .into_iter()
                    .filter(|(_, park)| page.parks.allows(*park)),
            );
            if done || grants.len() > page.size as usize {
                break;
            }
        }
        let next = if grants.len() > page.size as usize {
            grants.truncate(page.size as usize);
            grants
                .last()
                .map(|(g, _)| platform::paging::encode_token(&g.grant.id.to_string()))
                .unwrap_or_default()
        } else {
            String::new()
        };
        Ok(Response::new(pb::ListLowEfficiencyGrantsResponse {
            grants: grants
                .iter()
                .map(|(g, _)| convert::grant_to_proto(g))
                .collect(),
            next_page_token: next,
        }))
    }

    async fn renew_lease(
        &self,
        request: Request<pb::RenewLeaseRequest>,
    ) -> Answer<pb::RenewLeaseResponse> {
        let r = request.get_ref();
        let (id, renewal) = disposal::renewal(r)?;
        let grant = self
            .store
            .renew_lease(id, r.expected_version, renewal)
            .await?;
        Ok(Response::new(pb::RenewLeaseResponse {
            grant: Some(convert::grant_to_proto(&grant)),
        }))
    }
}

#[cfg(test)]
mod tests {
    use tonic::Code;

    use super::*;
    use crate::domain::{
        conversion::ConversionRefused,
        grant::GrantRefused,
        parcel::{ParcelRefused, ParcelStatus},
    };

    fn code(err: StoreError) -> (Code, String) {
        let status = Status::from(err);
        (status.code(), status.message().to_string())
    }

    #[test]
    fn each_store_error_and_refusal_has_one_status() {
        let mut v = Violations::new();
        v.add("parts", "the parts add up to 1, the parcel has 2");
        let invalid = StoreError::Refused(ParcelRefused::Invalid(v).into());
        assert_eq!(code(invalid).0, Code::InvalidArgument);
        let taken = StoreError::Refused(
            GrantRefused::NotAvailable {
                id: "XL-1".into(),
                status: ParcelStatus::Granted,
            }
            .into(),
        );
        let (taken_code, message) = code(taken);
        assert_eq!(taken_code, Code::FailedPrecondition);
        assert!(
            message.ends_with("parcel XL-1 is granted, not available"),
            "{message}"
        );
        let early = StoreError::Refused(ConversionRefused::NotEvaluated.into());
        assert_eq!(code(early).0, Code::FailedPrecondition);
        let stale = StoreError::VersionConflict("parcel XL-1 is at version 3, not 2".into());
        assert_eq!(code(stale).0, Code::Aborted);
        assert_eq!(
            code(StoreError::NotFound("parcel XL-9".into())).0,
            Code::NotFound
        );
        assert_eq!(
            code(StoreError::AlreadyExists("parcel XL-1".into())).0,
            Code::AlreadyExists
        );
    }
}
