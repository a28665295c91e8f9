//! Loading the demo data set through the services' own APIs, as any client would: registrations
//! first (several calls in flight), then the land (parcels and grants, so the returns that
//! follow are evaluated against the grants' commitments) and the fairs (open external fairs,
//! so the firms the returns lift into class A are invited), then the returns as an import
//! stream (the inspection item lists just before, so the returns' class-C firms get their
//! follow-up tasks), and last the support policies and the R&D round ([`demo::support`]), once
//! the facts have reached the support service, then the inspection plans and a visit carried
//! through ([`demo::inspection`]). All are idempotent, so a load interrupted half-way
//! is simply run again.

mod land;

use futures::{StreamExt, TryStreamExt, stream};
use haicheng_proto::{
    census::v1::{
        ImportReturnsRow, RegisterEnterpriseRequest, census_service_client::CensusServiceClient,
    },
    fair::v1::{self as pb, fair_service_client::FairServiceClient},
};
use tonic::Code;

use crate::{
    census::{progress_bar, send},
    client::{Authed, Bearer, call, endpoint},
    demo,
    errors::CliError,
};

/// The account that loads the demo: the commerce bureau owns the census.
const LOADER_TOKEN: &str = "dev-commerce";

/// The addresses of the services the demo is loaded through.
pub struct Targets<'a> {
    pub census: &'a str,
    pub classification: &'a str,
    pub land: &'a str,
    pub fair: &'a str,
    pub support: &'a str,
    pub inspection: &'a str,
}

/// What the tour needs of a loaded demo.
pub struct Loaded {
    /// The finalized support round.
    pub round: String,
    /// The joint visit carried through, if the plans made one.
    pub visit: Option<demo::inspection::DemoVisit>,
}

/// Loads the demo data set.
pub async fn demo(targets: Targets<'_>, seed: u64) -> anyhow::Result<Loaded> {
    let Targets {
        census,
        classification,
        land,
        fair,
        support,
        inspection,
    } = targets;
    let data = demo::census(seed);
    eprintln!(
        "loading the demo data set (seed {seed}): {} enterprises",
        data.enterprises.len()
    );
    register(census, &data.enterprises).await?;
    land::load(land, &data).await?;
    let mut fairs = FairServiceClient::with_interceptor(
        endpoint(fair)?.connect().await?,
        Bearer::new(LOADER_TOKEN)?,
    );
    let created = fairs_once(&mut fairs).await?;
    eprintln!("{} demo fairs created", created.len());
    demo::inspection::load_lists(inspection).await?;
    returns(census, data.returns.clone()).await?;
    let round = demo::support::load(support, classification, &data).await?;
    let visit = demo::inspection::load_plans(inspection, classification, seed).await?;
    Ok(Loaded { round, visit })
}

/// Registers the enterprises, several calls in flight; one registered before is there.
async fn register(census: &str, enterprises: &[RegisterEnterpriseRequest]) -> anyhow::Result<()> {
    let channel = endpoint(census)?.connect().await?;
    let client = CensusServiceClient::with_interceptor(channel, Bearer::new(LOADER_TOKEN)?);
    let bar = progress_bar(enterprises.len() as u64);
    stream::iter(enterprises.to_vec())
        .map(|request| {
            let mut client = client.clone();
            let bar = bar.clone();
            async move {
                let uscc = request.uscc.clone();
                match client.register_enterprise(request).await {
                    // Registered earlier with the same data: already there.
                    Ok(_) => {}
                    Err(status) if status.code() == Code::AlreadyExists => {}
                    Err(status) => anyhow::bail!("registering {uscc}: {status}"),
                }
                bar.inc(1);
                Ok(())
            }
        })
        .buffer_unordered(16)
        .try_collect::<()>()
        .await?;
    bar.finish_and_clear();
    Ok(())
}

/// Imports the census returns as one stream; none may be refused.
async fn returns(census: &str, rows: Vec<ImportReturnsRow>) -> anyhow::Result<()> {
    eprintln!("loading {} census returns", rows.len());
    let bar = progress_bar(rows.len() as u64);
    let report = send(endpoint(census)?, Bearer::new(LOADER_TOKEN)?, rows, &bar).await?;
    bar.finish_and_clear();
    anyhow::ensure!(
        report.rejected_rows.is_empty(),
        "{} demo rows were rejected, the first: {:?}",
        report.rejected_rows.len(),
        report.rejected_rows.first()
    );
    eprintln!(
        "demo data loaded: {} returns ({} were already there)",
        report.accepted_count, report.duplicate_count
    );
    Ok(())
}

/// Creates the demo fairs that are not there yet (a name already listed is skipped, so a demo
/// load interrupted half-way is simply run again); returns those it created.
pub async fn fairs_once(
    service: &mut FairServiceClient<Authed>,
) -> Result<Vec<pb::Fair>, CliError> {
    let mut existing = std::collections::HashSet::new();
    let mut page_token = String::new();
    loop {
        let page = service
            .list_fairs(call(pb::ListFairsRequest {
                page_size: 100,
                page_token,
                ..Default::default()
            }))
            .await?
            .into_inner();
        existing.extend(page.fairs.into_iter().map(|fair| fair.name));
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    let mut created = Vec::new();
    for plan in demo::fairs::plans(chrono::Utc::now()) {
        if existing.contains(&plan.name) {
            continue;
        }
        let fair = service
            .create_fair(call(pb::CreateFairRequest { fair: Some(plan) }))
            .await?
            .into_inner()
            .fair;
        created.extend(fair);
    }
    Ok(created)
}
