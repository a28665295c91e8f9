//! Loading the demo land through the land-parcel API: grants (their parcels, then the
//! grant, then its milestones), the idle pass (the never-started grants' idle fee orders), spare
//! parcels, the split factory with its two leases, and the land queue. Natural resources writes land.

use std::time::Duration;

use haicheng_proto::{
    common::v1::Park,
    land::v1::{self as pb, land_service_client::LandServiceClient},
};
use tonic::{Code, service::interceptor::InterceptedService, transport::Channel};

use crate::{
    client::{Bearer, endpoint},
    demo::{
        DemoCensus,
        land::{DemoLand, plan},
    },
};

/// Natural resources writes land.
const LOADER_TOKEN: &str = "dev-natural-resources";

type Client = LandServiceClient<InterceptedService<Channel, Bearer>>;

/// Registers a parcel unless it is there; true when it already has a grant in force.
async fn ensure_parcel(
    client: &mut Client,
    parcel: &pb::RegisterParcelRequest,
) -> anyhow::Result<bool> {
    match client.register_parcel(parcel.clone()).await {
        Ok(_) => Ok(false),
        Err(status) if status.code() == Code::AlreadyExists => {
            let existing = client
                .get_parcel(pb::GetParcelRequest {
                    parcel_id: parcel.id.clone(),
                    as_of: None,
                })
                .await?
                .into_inner();
            Ok(existing.grant.is_some())
        }
        Err(status) => anyhow::bail!("registering parcel {}: {status}", parcel.id),
    }
}

/// Runs `call` again while land-parcel has not yet read the firm from the census events
/// (FAILED_PRECONDITION "… not known …"), for up to two minutes.
async fn retrying_unknown<T, F, Fut>(what: &str, mut call: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, tonic::Status>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        match call().await {
            Ok(value) => return Ok(value),
            Err(status)
                if status.code() == Code::FailedPrecondition
                    && status.message().contains("not known")
                    && tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(status) => anyhow::bail!("{what}: {status}"),
        }
    }
}

/// Loads the demo land through the land-parcel API.
pub async fn load(land: &str, census: &DemoCensus) -> anyhow::Result<()> {
    let plan = plan(census);
    let channel = endpoint(land)?.connect().await?;
    let mut client = LandServiceClient::with_interceptor(channel, Bearer::new(LOADER_TOKEN)?);
    eprintln!(
        "loading the demo land: {} grants, {} spare parcels",
        plan.grants.len(),
        plan.spare.len()
    );
    grants(&mut client, &plan).await?;
    // The never-started grants are idle land now: their idle fee orders, without waiting an
    // hour for the service's own pass.
    let pass = client
        .run_idle_pass(pb::RunIdlePassRequest { on: String::new() })
        .await?
        .into_inner();
    eprintln!(
        "idle pass: {} grants idle (fee ordered), {} under take-back review",
        pass.flagged_idle, pass.take_back_review
    );
    for parcel in &plan.spare {
        ensure_parcel(&mut client, parcel).await?;
    }
    building(&mut client, &plan).await?;
    queue(&mut client, &plan).await
}

/// Each grant with its parcel and milestones; a parcel already granted is skipped.
async fn grants(client: &mut Client, plan: &DemoLand) -> anyhow::Result<()> {
    for demo in &plan.grants {
        if ensure_parcel(client, &demo.parcel).await? {
            continue;
        }
        let what = format!("granting {} to {}", demo.grant.parcel_id, demo.grant.uscc);
        let granted = retrying_unknown(&what, || {
            let mut client = client.clone();
            let request = demo.grant.clone();
            async move { client.grant_parcel(request).await }
        })
        .await?
        .into_inner()
        .grant
        .ok_or_else(|| anyhow::anyhow!("no grant in the reply"))?;
        for milestone in &demo.milestones {
            let mut milestone = milestone.clone();
            milestone.grant_id = granted.id.clone();
            client.record_milestone(milestone).await?;
        }
    }
    Ok(())
}

/// The multi-storey factory and the leases of two of its units, unless defined before.
async fn building(client: &mut Client, plan: &DemoLand) -> anyhow::Result<()> {
    let Some(building) = &plan.building else {
        return Ok(());
    };
    let units = match client.define_building(building.clone()).await {
        Ok(reply) => reply
            .into_inner()
            .building
            .map(|b| b.units)
            .unwrap_or_default(),
        // Loaded before: the building and its leases are there.
        Err(status) if status.code() == Code::AlreadyExists => return Ok(()),
        Err(status) => anyhow::bail!("defining the demo building: {status}"),
    };
    for (unit, tenant) in units.iter().zip(&plan.tenants) {
        let request = pb::LeaseUnitRequest {
            unit_id: unit.id.clone(),
            expected_version: unit.version,
            uscc: tenant.clone(),
            term_months: 36,
            yearly_rent_fen: unit.floor_area_centi_m2 * 20,
        };
        retrying_unknown("leasing a demo unit", || {
            let mut client = client.clone();
            let request = request.clone();
            async move { client.lease_unit(request).await }
        })
        .await?;
    }
    Ok(())
}

/// The land applications, once: they have no natural key to find them again by.
async fn queue(client: &mut Client, plan: &DemoLand) -> anyhow::Result<()> {
    let queued = client
        .list_land_applications(pb::ListLandApplicationsRequest {
            park: Park::Xiliu as i32,
            ..Default::default()
        })
        .await?
        .into_inner();
    if !queued.applications.is_empty() {
        return Ok(());
    }
    for application in &plan.applications {
        retrying_unknown("submitting a demo land application", || {
            let mut client = client.clone();
            let request = application.clone();
            async move { client.submit_land_application(request).await }
        })
        .await?;
    }
    Ok(())
}
