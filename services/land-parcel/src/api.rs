//! The gRPC API (`haicheng.land.v1.LandService`): proto in, shape checks, store (which runs
//! the rules needing stored facts), proto out. Errors leave through [`platform::ApiError`]:
//! INVALID_ARGUMENT with a field violation per bad field, NOT_FOUND, ALREADY_EXISTS, ABORTED
//! on a stale version, FAILED_PRECONDITION naming the condition that fails.
//!
//! Access: natural resources (`land.write`) writes; `land.read` reads. A park committee
//! reads only the parks named by its `land.park:<park>` scopes.

use haicheng_proto::land::v1::{self as pb, land_service_server::LandService};
use platform::{
    AccessPolicy, ApiError, Principal, Rule, Violations,
    auth::{Department, scopes},
    paging,
    time::from_timestamp,
};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::{
    convert,
    domain::{
        Park,
        lateness::{Milestone, MilestoneKind},
        parcel::{self, NewParcel, Part},
        parse_date,
        supply::MAX_PRICE_FEN,
        units::{FloorSpec, UnitSpec, UnitUse},
    },
    store::{Store, parcels::ParcelFilter, queue::NewApplication, units::Transfer},
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
    ] {
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
    /// A park committee reads its own parks; every other reader all of them.
    pub fn of(principal: &Principal) -> Self {
        if principal.department() != Some(Department::ParkCommittee) {
            return Parks::All;
        }
        Parks::Only(
            principal
                .scopes
                .iter()
                .filter_map(|s| s.strip_prefix(PARK_SCOPE_PREFIX))
                .filter_map(Park::parse)
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
                park.as_str()
            )))
        }
    }
}

/// The service's handlers.
#[derive(Clone)]
pub struct LandApi {
    store: Store,
}

impl LandApi {
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

fn principal<T>(request: &Request<T>) -> Result<Principal, Status> {
    Principal::of(request).cloned()
}

fn uuid_field(text: &str, field: &str, v: &mut Violations) -> Option<Uuid> {
    let parsed = Uuid::parse_str(text).ok();
    if parsed.is_none() {
        v.add(field, "a UUID is required");
    }
    parsed
}

fn uscc_field(text: &str, v: &mut Violations) {
    if let Err(err) = platform::uscc::Uscc::parse(text) {
        v.add("uscc", err.to_string());
    }
}

fn required_park(value: i32, field: &str, v: &mut Violations) -> Option<Park> {
    let park = convert::park_from_proto(value);
    if park.is_none() {
        v.add(field, "one of the four parks is required");
    }
    park
}

/// The value once there are no violations (the caller checked it was set).
fn done<T>(value: Option<T>, v: Violations) -> Result<T, ApiError> {
    v.finish()?;
    value.ok_or_else(|| ApiError::Internal(anyhow::anyhow!("a check failed without a violation")))
}

type PageCursor = String;

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

impl LandApi {
    async fn register_parcel(
        &self,
        r: pb::RegisterParcelRequest,
    ) -> Result<pb::RegisterParcelResponse, ApiError> {
        let mut v = Violations::new();
        let park = required_park(r.park, "park", &mut v);
        let land_use = convert::land_use_from_proto(r.land_use);
        v.check(
            land_use.is_some(),
            "land_use",
            "one of the land uses is required",
        );
        let new = park.zip(land_use).map(|(park, land_use)| NewParcel {
            id: r.id.clone(),
            park,
            land_use,
            area_centi_mu: r.area_centi_mu,
            plot_ratio_min_milli: r.plot_ratio_min_milli,
            plot_ratio_max_milli: r.plot_ratio_max_milli,
            location: r.location.clone(),
        });
        parcel::check_fields(
            &r.id,
            r.area_centi_mu,
            (r.plot_ratio_min_milli, r.plot_ratio_max_milli),
            &r.location,
            &mut v,
        );
        let new = done(new, v)?;
        let record = self.store.register_parcel(&new).await?;
        Ok(pb::RegisterParcelResponse {
            parcel: Some(convert::parcel_to_proto(&record)),
        })
    }

    async fn get_parcel(
        &self,
        r: pb::GetParcelRequest,
        parks: Parks,
    ) -> Result<pb::GetParcelResponse, ApiError> {
        let mut v = Violations::new();
        parcel::check_id(&r.parcel_id, "parcel_id", &mut v);
        v.finish()?;
        let record = self.store.parcel(&r.parcel_id).await?;
        parks.check(record.park)?;
        let grant = self.store.grant_on(&record.id).await?;
        let buildings = self.store.buildings(&record.id).await?;
        Ok(pb::GetParcelResponse {
            parcel: Some(convert::parcel_to_proto(&record)),
            grant: grant.as_ref().map(convert::grant_to_proto),
            buildings: buildings.iter().map(convert::building_to_proto).collect(),
        })
    }

    async fn list_parcels(
        &self,
        r: pb::ListParcelsRequest,
        parks: Parks,
    ) -> Result<pb::ListParcelsResponse, ApiError> {
        let mut v = Violations::new();
        let park = (r.park != 0)
            .then(|| required_park(r.park, "park", &mut v))
            .flatten();
        let land_use = (r.land_use != 0)
            .then(|| convert::land_use_from_proto(r.land_use))
            .flatten();
        v.check(
            r.land_use == 0 || land_use.is_some(),
            "land_use",
            "not a defined land use",
        );
        let status = (r.status != 0)
            .then(|| convert::parcel_status_from_proto(r.status))
            .flatten();
        v.check(
            r.status == 0 || status.is_some(),
            "status",
            "not a defined status",
        );
        let size = absorb(paging::page_size(r.page_size), &mut v)?;
        let after = absorb(paging::decode_token::<PageCursor>(&r.page_token), &mut v)?.flatten();
        let size = done(size, v)?;
        let wanted: Option<Vec<Park>> = match (&parks, park) {
            (Parks::All, None) => None,
            (Parks::All, Some(p)) => Some(vec![p]),
            (Parks::Only(own), None) => Some(own.clone()),
            (Parks::Only(own), Some(p)) => Some(own.iter().copied().filter(|o| *o == p).collect()),
        };
        let filter = ParcelFilter {
            parks: wanted,
            land_use,
            status,
        };
        let mut records = self
            .store
            .list_parcels(&filter, after.as_deref(), size + 1)
            .await?;
        let next = if records.len() > size as usize {
            records.truncate(size as usize);
            records
                .last()
                .map(|p| paging::encode_token(&p.id))
                .unwrap_or_default()
        } else {
            String::new()
        };
        Ok(pb::ListParcelsResponse {
            parcels: records.iter().map(convert::parcel_to_proto).collect(),
            next_page_token: next,
        })
    }

    async fn split_parcel(
        &self,
        r: pb::SplitParcelRequest,
    ) -> Result<pb::SplitParcelResponse, ApiError> {
        let mut v = Violations::new();
        parcel::check_id(&r.parcel_id, "parcel_id", &mut v);
        v.check(
            r.expected_version >= 1,
            "expected_version",
            "the version last read is required",
        );
        let parts: Vec<Part> = r
            .parts
            .iter()
            .map(|p| Part {
                id: p.id.clone(),
                area_centi_mu: p.area_centi_mu,
                location: p.location.clone(),
            })
            .collect();
        v.check(
            parts.len() >= 2 && parts.len() <= 100,
            "parts",
            "2 to 100 parts",
        );
        for (i, part) in parts.iter().enumerate() {
            parcel::check_id(&part.id, &format!("parts[{i}].id"), &mut v);
        }
        v.finish()?;
        let records = self
            .store
            .split_parcel(&r.parcel_id, r.expected_version, &parts)
            .await?;
        Ok(pb::SplitParcelResponse {
            parcels: records.iter().map(convert::parcel_to_proto).collect(),
        })
    }

    async fn merge_parcels(
        &self,
        r: pb::MergeParcelsRequest,
    ) -> Result<pb::MergeParcelsResponse, ApiError> {
        let mut v = Violations::new();
        let mut ids = r.parcel_ids.clone();
        ids.sort();
        ids.dedup();
        v.check(
            ids.len() == r.parcel_ids.len() && (2..=100).contains(&ids.len()),
            "parcel_ids",
            "2 to 100 distinct parcels",
        );
        for (i, id) in r.parcel_ids.iter().enumerate() {
            parcel::check_id(id, &format!("parcel_ids[{i}]"), &mut v);
        }
        parcel::check_id(&r.new_parcel_id, "new_parcel_id", &mut v);
        parcel::check_location(&r.location, "location", &mut v);
        v.finish()?;
        let record = self
            .store
            .merge_parcels(&ids, &r.new_parcel_id, &r.location)
            .await?;
        Ok(pb::MergeParcelsResponse {
            parcel: Some(convert::parcel_to_proto(&record)),
        })
    }

    async fn grant_parcel(
        &self,
        r: pb::GrantParcelRequest,
    ) -> Result<pb::GrantParcelResponse, ApiError> {
        let mut v = Violations::new();
        parcel::check_id(&r.parcel_id, "parcel_id", &mut v);
        uscc_field(&r.uscc, &mut v);
        v.check(
            r.expected_version >= 0,
            "expected_version",
            "0 or the version last read",
        );
        let request = convert::grant_request(
            r.supply.as_ref(),
            r.contract.as_ref(),
            r.commitments.as_ref(),
            &mut v,
        );
        v.finish()?;
        let grant = self
            .store
            .grant(&r.parcel_id, r.expected_version, &r.uscc, &request)
            .await?;
        tracing::info!(parcel_id = %r.parcel_id, grant_id = %grant.grant.id, "parcel granted");
        Ok(pb::GrantParcelResponse {
            grant: Some(convert::grant_to_proto(&grant)),
        })
    }

    /// The park of a grant's parcel, for the park check.
    async fn grant_park(&self, grant_parcel: &str) -> Result<Park, ApiError> {
        Ok(self.store.parcel(grant_parcel).await?.park)
    }

    async fn get_grant(
        &self,
        r: pb::GetGrantRequest,
        parks: Parks,
    ) -> Result<pb::GetGrantResponse, ApiError> {
        let mut v = Violations::new();
        let id = uuid_field(&r.grant_id, "grant_id", &mut v);
        let id = done(id, v)?;
        let grant = self.store.grant_view(id).await?;
        parks.check(self.grant_park(&grant.grant.parcel_id).await?)?;
        let latest = self.store.latest_evaluation(id).await?;
        Ok(pb::GetGrantResponse {
            grant: Some(convert::grant_to_proto(&grant)),
            latest_evaluation: latest.as_ref().map(convert::evaluation_to_proto),
        })
    }

    async fn record_milestone(
        &self,
        r: pb::RecordMilestoneRequest,
        by: &str,
    ) -> Result<pb::RecordMilestoneResponse, ApiError> {
        let mut v = Violations::new();
        let id = uuid_field(&r.grant_id, "grant_id", &mut v);
        let kind = match pb::MilestoneKind::try_from(r.kind) {
            Ok(pb::MilestoneKind::Started) => Some(MilestoneKind::Started),
            Ok(pb::MilestoneKind::Completed) => Some(MilestoneKind::Completed),
            Ok(pb::MilestoneKind::Progress) => Some(MilestoneKind::Progress),
            _ => {
                v.add("kind", "started, completed or progress");
                None
            }
        };
        let on = parse_date(&r.on);
        v.check(on.is_some(), "on", "a date YYYY-MM-DD is required");
        v.check(
            (0..=MAX_PRICE_FEN).contains(&r.investment_to_date_fen),
            "investment_to_date_fen",
            "must not be negative",
        );
        v.check(
            r.built_floor_area_centi_m2 >= 0,
            "built_floor_area_centi_m2",
            "must not be negative",
        );
        let ((id, kind), on) = done(id.zip(kind).zip(on), v)?;
        let milestone = Milestone {
            kind,
            on,
            investment_to_date_fen: r.investment_to_date_fen,
            built_floor_area_centi_m2: r.built_floor_area_centi_m2,
        };
        let grant = self.store.record_milestone(id, &milestone, by).await?;
        Ok(pb::RecordMilestoneResponse {
            grant: Some(convert::grant_to_proto(&grant)),
        })
    }

    async fn list_evaluations(
        &self,
        r: pb::ListEvaluationsRequest,
        parks: Parks,
    ) -> Result<pb::ListEvaluationsResponse, ApiError> {
        let mut v = Violations::new();
        let id = uuid_field(&r.grant_id, "grant_id", &mut v);
        let as_of = r.as_of.as_ref().map(from_timestamp);
        v.check(
            !matches!(as_of, Some(None)),
            "as_of",
            "not a valid timestamp",
        );
        let id = done(id, v)?;
        let grant = self.store.grant_view(id).await?;
        parks.check(self.grant_park(&grant.grant.parcel_id).await?)?;
        let records = self.store.evaluations(id, as_of.flatten()).await?;
        Ok(pb::ListEvaluationsResponse {
            evaluations: records.iter().map(convert::evaluation_to_proto).collect(),
        })
    }

    async fn convert_lease(
        &self,
        r: pb::ConvertLeaseToTransferRequest,
    ) -> Result<pb::ConvertLeaseToTransferResponse, ApiError> {
        let mut v = Violations::new();
        let id = uuid_field(&r.grant_id, "grant_id", &mut v);
        v.check(
            r.expected_version >= 1,
            "expected_version",
            "the version last read is required",
        );
        let id = done(id, v)?;
        let (grant, conversion) = self.store.convert_lease(id, r.expected_version).await?;
        Ok(pb::ConvertLeaseToTransferResponse {
            grant: Some(convert::grant_to_proto(&grant)),
            rent_credited_fen: conversion.rent_credited_fen,
            transfer_price_due_fen: conversion.transfer_price_due_fen,
        })
    }

    async fn define_building(
        &self,
        r: pb::DefineBuildingRequest,
    ) -> Result<pb::DefineBuildingResponse, ApiError> {
        let mut v = Violations::new();
        parcel::check_id(&r.parcel_id, "parcel_id", &mut v);
        v.finish()?;
        let floors: Vec<FloorSpec> = r
            .floors
            .iter()
            .map(|f| FloorSpec {
                number: f.number,
                area_centi_m2: f.area_centi_m2,
            })
            .collect();
        let units: Vec<UnitSpec> = r
            .units
            .iter()
            .map(|u| UnitSpec {
                floor: u.floor,
                part: u.part.clone(),
                area_centi_m2: u.floor_area_centi_m2,
                unit_use: match pb::UnitUse::try_from(u.unit_use) {
                    Ok(pb::UnitUse::Production) => Some(UnitUse::Production),
                    Ok(pb::UnitUse::Common) => Some(UnitUse::Common),
                    Ok(pb::UnitUse::Office) => Some(UnitUse::Office),
                    Ok(pb::UnitUse::Dormitory) => Some(UnitUse::Dormitory),
                    Ok(pb::UnitUse::Canteen) => Some(UnitUse::Canteen),
                    _ => None,
                },
            })
            .collect();
        let building = self
            .store
            .define_building(&r.parcel_id, &r.name, &floors, &units)
            .await?;
        Ok(pb::DefineBuildingResponse {
            building: Some(convert::building_to_proto(&building)),
        })
    }

    async fn transfer_unit(
        &self,
        unit_id: &str,
        expected_version: i64,
        uscc: &str,
        transfer: Transfer,
        by: &str,
    ) -> Result<pb::Unit, ApiError> {
        let mut v = Violations::new();
        let id = uuid_field(unit_id, "unit_id", &mut v);
        v.check(
            expected_version >= 1,
            "expected_version",
            "the version last read is required",
        );
        uscc_field(uscc, &mut v);
        match transfer {
            Transfer::Lease {
                term_months,
                yearly_rent_fen,
            } => {
                v.check(
                    (1..=240).contains(&term_months),
                    "term_months",
                    "1 to 240 months",
                );
                v.check(
                    (1..=MAX_PRICE_FEN).contains(&yearly_rent_fen),
                    "yearly_rent_fen",
                    "must be positive",
                );
            }
            Transfer::Sale { price_fen } => {
                v.check(
                    (1..=MAX_PRICE_FEN).contains(&price_fen),
                    "price_fen",
                    "must be positive",
                );
            }
        }
        let id = done(id, v)?;
        let unit = self
            .store
            .transfer_unit(id, expected_version, uscc, transfer, by)
            .await?;
        Ok(convert::unit_to_proto(&unit))
    }

    async fn submit_application(
        &self,
        r: pb::SubmitLandApplicationRequest,
    ) -> Result<pb::SubmitLandApplicationResponse, ApiError> {
        let mut v = Violations::new();
        uscc_field(&r.uscc, &mut v);
        let park = required_park(r.park, "park", &mut v);
        let land_use = convert::land_use_from_proto(r.land_use);
        v.check(
            land_use.is_some(),
            "land_use",
            "one of the land uses is required",
        );
        parcel::check_area(r.area_centi_mu, "area_centi_mu", &mut v);
        let mode = convert::supply_mode_from_proto(r.supply_mode);
        v.check(
            mode.is_some(),
            "supply_mode",
            "one of the supply modes is required",
        );
        v.check(
            r.purpose.chars().count() <= 500 && !r.purpose.chars().any(char::is_control),
            "purpose",
            "at most 500 characters",
        );
        let ((park, land_use), mode) = done(park.zip(land_use).zip(mode), v)?;
        let record = self
            .store
            .submit_application(&NewApplication {
                uscc: r.uscc,
                park,
                land_use,
                area_centi_mu: r.area_centi_mu,
                supply_mode: mode,
                purpose: r.purpose,
            })
            .await?;
        Ok(pb::SubmitLandApplicationResponse {
            application: Some(convert::application_to_proto(&record)),
        })
    }

    async fn list_applications(
        &self,
        r: pb::ListLandApplicationsRequest,
        parks: Parks,
    ) -> Result<pb::ListLandApplicationsResponse, ApiError> {
        let mut v = Violations::new();
        let park = required_park(r.park, "park", &mut v);
        let queued = match pb::ApplicationStatus::try_from(r.status) {
            Ok(pb::ApplicationStatus::Unspecified | pb::ApplicationStatus::Queued) => true,
            Ok(pb::ApplicationStatus::Granted) => false,
            Err(_) => {
                v.add("status", "not a defined status");
                true
            }
        };
        let size = absorb(paging::page_size(r.page_size), &mut v)?;
        let offset = absorb(paging::decode_token::<usize>(&r.page_token), &mut v)?.flatten();
        let (park, size) = done(park.zip(size), v)?;
        let (size, offset) = (size as usize, offset.unwrap_or(0));
        parks.check(park)?;
        let all = self.store.applications(park, queued).await?;
        let page: Vec<_> = all.iter().skip(offset).take(size).collect();
        let next = if offset + page.len() < all.len() {
            paging::encode_token(&(offset + page.len()))
        } else {
            String::new()
        };
        Ok(pb::ListLandApplicationsResponse {
            applications: page
                .into_iter()
                .map(convert::application_to_proto)
                .collect(),
            next_page_token: next,
        })
    }

    async fn allocate(
        &self,
        r: pb::AllocateLandRequest,
    ) -> Result<pb::AllocateLandResponse, ApiError> {
        let mut v = Violations::new();
        parcel::check_id(&r.parcel_id, "parcel_id", &mut v);
        v.check(
            r.expected_version >= 0,
            "expected_version",
            "0 or the version last read",
        );
        let request = convert::grant_request(
            r.supply.as_ref(),
            r.contract.as_ref(),
            r.commitments.as_ref(),
            &mut v,
        );
        v.finish()?;
        let (application, grant) = self
            .store
            .allocate(&r.parcel_id, r.expected_version, &request)
            .await?;
        Ok(pb::AllocateLandResponse {
            application: Some(convert::application_to_proto(&application)),
            grant: Some(convert::grant_to_proto(&grant)),
        })
    }
}

#[tonic::async_trait]
impl LandService for LandApi {
    async fn register_parcel(
        &self,
        request: Request<pb::RegisterParcelRequest>,
    ) -> Result<Response<pb::RegisterParcelResponse>, Status> {
        Ok(Response::new(
            LandApi::register_parcel(self, request.into_inner()).await?,
        ))
    }

    async fn get_parcel(
        &self,
        request: Request<pb::GetParcelRequest>,
    ) -> Result<Response<pb::GetParcelResponse>, Status> {
        let parks = Parks::of(&principal(&request)?);
        Ok(Response::new(
            LandApi::get_parcel(self, request.into_inner(), parks).await?,
        ))
    }

    async fn list_parcels(
        &self,
        request: Request<pb::ListParcelsRequest>,
    ) -> Result<Response<pb::ListParcelsResponse>, Status> {
        let parks = Parks::of(&principal(&request)?);
        Ok(Response::new(
            LandApi::list_parcels(self, request.into_inner(), parks).await?,
        ))
    }

    async fn split_parcel(
        &self,
        request: Request<pb::SplitParcelRequest>,
    ) -> Result<Response<pb::SplitParcelResponse>, Status> {
        Ok(Response::new(
            LandApi::split_parcel(self, request.into_inner()).await?,
        ))
    }

    async fn merge_parcels(
        &self,
        request: Request<pb::MergeParcelsRequest>,
    ) -> Result<Response<pb::MergeParcelsResponse>, Status> {
        Ok(Response::new(
            LandApi::merge_parcels(self, request.into_inner()).await?,
        ))
    }

    async fn grant_parcel(
        &self,
        request: Request<pb::GrantParcelRequest>,
    ) -> Result<Response<pb::GrantParcelResponse>, Status> {
        Ok(Response::new(
            LandApi::grant_parcel(self, request.into_inner()).await?,
        ))
    }

    async fn get_grant(
        &self,
        request: Request<pb::GetGrantRequest>,
    ) -> Result<Response<pb::GetGrantResponse>, Status> {
        let parks = Parks::of(&principal(&request)?);
        Ok(Response::new(
            LandApi::get_grant(self, request.into_inner(), parks).await?,
        ))
    }

    async fn record_milestone(
        &self,
        request: Request<pb::RecordMilestoneRequest>,
    ) -> Result<Response<pb::RecordMilestoneResponse>, Status> {
        let by = principal(&request)?.identity.to_string();
        Ok(Response::new(
            LandApi::record_milestone(self, request.into_inner(), &by).await?,
        ))
    }

    async fn list_evaluations(
        &self,
        request: Request<pb::ListEvaluationsRequest>,
    ) -> Result<Response<pb::ListEvaluationsResponse>, Status> {
        let parks = Parks::of(&principal(&request)?);
        Ok(Response::new(
            LandApi::list_evaluations(self, request.into_inner(), parks).await?,
        ))
    }

    async fn convert_lease_to_transfer(
        &self,
        request: Request<pb::ConvertLeaseToTransferRequest>,
    ) -> Result<Response<pb::ConvertLeaseToTransferResponse>, Status> {
        Ok(Response::new(
            self.convert_lease(request.into_inner()).await?,
        ))
    }

    async fn define_building(
        &self,
        request: Request<pb::DefineBuildingRequest>,
    ) -> Result<Response<pb::DefineBuildingResponse>, Status> {
        Ok(Response::new(
            LandApi::define_building(self, request.into_inner()).await?,
        ))
    }

    async fn lease_unit(
        &self,
        request: Request<pb::LeaseUnitRequest>,
    ) -> Result<Response<pb::LeaseUnitResponse>, Status> {
        let by = principal(&request)?.identity.to_string();
        let r = request.into_inner();
        let transfer = Transfer::Lease {
            term_months: r.term_months,
            yearly_rent_fen: r.yearly_rent_fen,
        };
        let unit = self
            .transfer_unit(&r.unit_id, r.expected_version, &r.uscc, transfer, &by)
            .await?;
        Ok(Response::new(pb::LeaseUnitResponse { unit: Some(unit) }))
    }

    async fn sell_unit(
        &self,
        request: Request<pb::SellUnitRequest>,
    ) -> Result<Response<pb::SellUnitResponse>, Status> {
        let by = principal(&request)?.identity.to_string();
        let r = request.into_inner();
        let unit = self
            .transfer_unit(
                &r.unit_id,
                r.expected_version,
                &r.uscc,
                Transfer::Sale {
                    price_fen: r.price_fen,
                },
                &by,
            )
            .await?;
        Ok(Response::new(pb::SellUnitResponse { unit: Some(unit) }))
    }

    async fn submit_land_application(
        &self,
        request: Request<pb::SubmitLandApplicationRequest>,
    ) -> Result<Response<pb::SubmitLandApplicationResponse>, Status> {
        Ok(Response::new(
            self.submit_application(request.into_inner()).await?,
        ))
    }

    async fn list_land_applications(
        &self,
        request: Request<pb::ListLandApplicationsRequest>,
    ) -> Result<Response<pb::ListLandApplicationsResponse>, Status> {
        let parks = Parks::of(&principal(&request)?);
        Ok(Response::new(
            self.list_applications(request.into_inner(), parks).await?,
        ))
    }

    async fn allocate_land(
        &self,
        request: Request<pb::AllocateLandRequest>,
    ) -> Result<Response<pb::AllocateLandResponse>, Status> {
        Ok(Response::new(self.allocate(request.into_inner()).await?))
    }
}
