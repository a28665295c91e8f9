//! Loading the demo data set through the services' own APIs, as any client would: registrations
//! first (several calls in flight), then the land (parcels and grants, so the returns that
//! follow are evaluated against the grants' commitments) and the fairs (open external fairs,
//! so the firms the returns lift into class A are invited), then the returns as an import
//! stream. All are idempotent, so a load interrupted half-way is simply run again.

use futures::{StreamExt, TryStreamExt, stream};
use haicheng_proto::{
    census::v1::census_service_client::CensusServiceClient,
    fair::v1::fair_service_client::FairServiceClient,
};
use tonic::Code;

use crate::{
    census::{progress_bar, send},
    client::{Bearer, endpoint},
    demo,
};

/// The account that loads the demo: the commerce bureau owns the census.
const LOADER_TOKEN: &str = "dev-commerce";

/// The addresses of the services the demo is loaded through.
pub struct Targets<'a> {
    pub census: &'a str,
    pub land: &'a str,
    pub fair: &'a str,
}

pub async fn demo(targets: Targets<'_>, seed: u64) -> anyhow::Result<()> {
    let Targets { census, land, fair } = targets;
    let data = demo::census(seed);
    let channel = endpoint(census)?.connect().await?;
    let client = CensusServiceClient::with_interceptor(channel, Bearer::new(LOADER_TOKEN)?);

    eprintln!(
        "loading the demo data set (seed {seed}): {} enterprises",
        data.enterprises.len()
    );
    let bar = progress_bar(data.enterprises.len() as u64);
    stream::iter(data.enterprises.clone())
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

    crate::land::demo::load(land, &data).await?;
    let mut fairs = FairServiceClient::with_interceptor(
        endpoint(fair)?.connect().await?,
        Bearer::new(LOADER_TOKEN)?,
    );
    let created = crate::fair::load_demo(&mut fairs).await?;
    eprintln!("{} demo fairs created", created.len());

    eprintln!("loading {} census returns", data.returns.len());
    let bar = progress_bar(data.returns.len() as u64);
    let report = send(
        endpoint(census)?,
        Bearer::new(LOADER_TOKEN)?,
        data.returns,
        &bar,
    )
    .await?;
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
