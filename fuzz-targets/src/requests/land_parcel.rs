//! `haicheng.land.v1.LandService`: every request has a check function in the API's modules.

use haicheng_proto::land::v1 as pb;
use land_parcel::{
    api::{Parks, disposal, grants, parcels, queue, units},
    domain::{
        LandRules,
        parcel::{MAX_AREA_CENTI_MU, check_split},
        units::check_new_building,
    },
};
use platform::{Park, Violations};

use super::{requests, today};

requests! {
    pb::RegisterParcelRequest => |r| {
        let _ = parcels::new_parcel(r);
    },
    pb::GetParcelRequest => |r| {
        let _ = parcels::parcel_as_of(r);
    },
    pb::ListParcelsRequest => |r| {
        let _ = parcels::page(r, &Parks::All);
        let _ = parcels::page(r, &Parks::Only(vec![Park::Xiliu]));
    },
    pb::SplitParcelRequest => |r| {
        // The parts against a parcel of the largest area (the stored one, in the service).
        if let Ok(parts) = parcels::split_parts(r) {
            check_split(&r.parcel_id, MAX_AREA_CENTI_MU, &parts, &mut Violations::new());
        }
    },
    pb::MergeParcelsRequest => |r| {
        let _ = parcels::merged_ids(r);
    },
    pb::GrantParcelRequest => |r| {
        let _ = grants::grant_request(r);
    },
    pb::GetGrantRequest => |r| {
        let _ = grants::grant_id(&r.grant_id);
    },
    pb::RecordMilestoneRequest => |r| {
        let _ = grants::milestone(r);
    },
    pb::ListEvaluationsRequest => |r| {
        let _ = grants::evaluations_as_of(r);
    },
    pb::ConvertLeaseToTransferRequest => |r| {
        let _ = grants::conversion(r);
    },
    pb::DefineBuildingRequest => |r| {
        // The domain's check of floors and units, which runs before anything is loaded.
        if let Ok((floors, specs)) = units::building(r) {
            let _ = check_new_building(&r.name, &floors, &specs, &LandRules::default());
        }
    },
    pb::LeaseUnitRequest => |r| {
        let _ = units::lease(r);
    },
    pb::SellUnitRequest => |r| {
        let _ = units::sale(r);
    },
    pb::SubmitLandApplicationRequest => |r| {
        let _ = queue::application(r.clone());
    },
    pb::ListLandApplicationsRequest => |r| {
        let _ = queue::page(r);
    },
    pb::AllocateLandRequest => |r| {
        let _ = grants::allocation(r);
    },
    pb::RunIdlePassRequest => |r| {
        for development in [false, true] {
            let _ = disposal::pass_day(r, today(), development);
        }
    },
    pb::RecordIdleFeeRequest => |r| {
        let _ = disposal::fee(r);
    },
    pb::TakeBackGrantRequest => |r| {
        let _ = disposal::take_back(r);
    },
    pb::ListLowEfficiencyGrantsRequest => |r| {
        let _ = disposal::low_efficiency_page(r, Parks::All);
    },
    pb::RenewLeaseRequest => |r| {
        let _ = disposal::renewal(r);
    },
}
