//! The whole chain as real processes, for the fault scenarios: census → classification
//! (classes, notices) → land-parcel, trade-fair, support and inspection (their read models of
//! what the others publish), on one broker under a topic prefix of their own; the input the scenarios feed it ([`Workload`]); and
//! waiting until every part has done all it will do ([`Chain::settle`]).

use std::{ops::Range, time::Duration};

use haicheng_proto::{
    census::v1::ImportReturnsRow,
    fair::v1::{CreateFairRequest, fair_service_client::FairServiceClient},
    land::v1::land_service_client::LandServiceClient,
    topics,
};
use sqlx::PgPool;
use testkit::{wait_until, with_token};

use crate::{
    ServiceProcess,
    cluster::{Cluster, indicators, usccs},
    fixtures,
};

/// Census events a scenario feeds when `HAICHENG_FAULT_EVENTS` does not say (`make faults`
/// sets 10,000): registrations and returns together.
const DEFAULT_EVENTS: usize = 400;
/// Years of returns per firm: each firm makes one registration and this many returns.
const YEARS: Range<i32> = 2022..2025;
/// One firm in this many holds a land grant, whose returns land-parcel evaluates.
const GRANT_EVERY: usize = 10;

/// The input of a run: firms registered one by one, then their returns in one import.
#[derive(Clone)]
pub struct Workload {
    pub firms: Vec<String>,
    pub rows: Vec<ImportReturnsRow>,
}

impl Workload {
    /// About `HAICHENG_FAULT_EVENTS` census events (default 400): a quarter registrations,
    /// the rest returns of three years with scattered tax per mu.
    pub fn from_env() -> Self {
        let events = std::env::var("HAICHENG_FAULT_EVENTS")
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(DEFAULT_EVENTS);
        let firms = usccs((events / (1 + YEARS.len())).max(10));
        let rows = scattered_returns(&firms, YEARS, "fault");
        Self { firms, rows }
    }

    /// Census events the workload makes: a registration per firm and an event per return.
    pub fn events(&self) -> usize {
        self.firms.len() + self.rows.len()
    }

    pub fn periods(&self) -> Vec<String> {
        YEARS.map(|y| y.to_string()).collect()
    }
}

/// Each topic of the chain: the service that publishes it and those that consume it.
/// Notices are published by several services and consumed by classification's notice store.
pub const FLOWS: [(&str, &str, &[&str]); 4] = [
    (
        topics::CENSUS_EVENTS,
        "census",
        &[
            "classification",
            "land-parcel",
            "trade-fair",
            "support",
            "inspection",
        ],
    ),
    (
        topics::CLASSIFICATION_EVENTS,
        "classification",
        &["land-parcel", "trade-fair", "support", "inspection"],
    ),
    (
        topics::LAND_EVENTS,
        "land-parcel",
        &["support", "inspection"],
    ),
    (topics::FAIR_EVENTS, "trade-fair", &["support"]),
];

/// A return of every firm for every year of `years`, the same figures but for a tax per mu
/// scattered over 500..5,500 yuan, each with its request id `<id_prefix>-<year>-<firm>`.
pub fn scattered_returns(
    firms: &[String],
    years: Range<i32>,
    id_prefix: &str,
) -> Vec<ImportReturnsRow> {
    let mut rows = Vec::new();
    for (y, year) in years.enumerate() {
        for (i, uscc) in firms.iter().enumerate() {
            let tax = 500 + ((i * 7_919 + y * 104_729) % 5_000) as i64;
            rows.push(ImportReturnsRow {
                row_number: rows.len() as i64 + 1,
                client_request_id: format!("{id_prefix}-{year}-{i}"),
                uscc: uscc.clone(),
                period: testkit::period(&year.to_string()),
                indicators: Some(indicators(tax)),
                sources: None,
            });
        }
    }
    rows
}

/// The six services of the chain, running.
pub struct Chain {
    pub cluster: Cluster,
    pub land: ServiceProcess,
    pub fair: ServiceProcess,
    pub support: ServiceProcess,
    pub inspection: ServiceProcess,
}

/// Where the chain's parts are: the shared stack unless a scenario gives its own.
#[derive(Default, Clone)]
pub struct Parts {
    /// A broker of the scenario's own (or a proxy in front of one).
    pub kafka_bootstrap: Option<String>,
    /// Classification's database on a PostgreSQL of the scenario's own.
    pub classification_database: Option<String>,
}

impl Chain {
    /// Starts the six services and waits until they serve. Consumers run with static
    /// membership, as a Deployment's pods do, so a killed one takes its partitions back at
    /// once when it restarts.
    pub async fn start(parts: &Parts) -> Self {
        let mut extra = vec![("KAFKA_GROUP_INSTANCE_ID", "fault-chain")];
        if let Some(bootstrap) = &parts.kafka_bootstrap {
            extra.push(("KAFKA_BOOTSTRAP", bootstrap.as_str()));
        }
        let mut classification_extra = Vec::new();
        if let Some(url) = &parts.classification_database {
            classification_extra.push(("DATABASE_URL", url.as_str()));
        }
        let cluster = Cluster::start_with(&extra, &classification_extra).await;
        extra.push(("KAFKA_TOPIC_PREFIX", cluster.prefix.as_str()));
        extra.push(("OUTBOX_POLL_MS", "100"));
        extra.push(("SHUTDOWN_GRACE_MS", "0"));
        let mut land = crate::start("land-parcel", &extra).await;
        let mut fair = crate::start("trade-fair", &extra).await;
        let mut support = crate::start("support", &extra).await;
        let mut inspection = crate::start("inspection", &extra).await;
        for service in [&mut land, &mut fair, &mut support, &mut inspection] {
            service
                .wait_serving(Duration::from_secs(60))
                .await
                .expect("the consumer serves");
        }
        Self {
            cluster,
            land,
            fair,
            support,
            inspection,
        }
    }

    /// Registers the workload's firms, then imports its returns; an import cut by a fault is
    /// sent again whole (idempotent on each row's request id) until it completes.
    pub async fn feed(&self, workload: &Workload) {
        self.cluster.register(&workload.firms).await;
        self.prepare(workload).await;
        let census = self.cluster.census.endpoint();
        let rows = workload.rows.clone();
        import_until_done(census, rows).await;
    }

    /// Starts [`feed`](Self::feed)'s import in the background (the firms registered first),
    /// so a scenario can strike while it runs.
    pub async fn feed_in_background(&self, workload: &Workload) -> tokio::task::JoinHandle<()> {
        self.cluster.register(&workload.firms).await;
        self.prepare(workload).await;
        let census = self.cluster.census.endpoint();
        let rows = workload.rows.clone();
        tokio::spawn(import_until_done(census, rows))
    }

    /// What the returns meet, set up between the registrations and the import: an open
    /// external fair (trade-fair invites its class A firms) and a standard grant to one firm
    /// in ten (land-parcel evaluates their returns against the grant's commitments).
    async fn prepare(&self, workload: &Workload) {
        FairServiceClient::new(self.fair.channel().await)
            .create_fair(with_token(
                "dev-commerce",
                CreateFairRequest {
                    fair: Some(fixtures::open_fair()),
                },
            ))
            .await
            .expect("opening a fair");
        let land = LandServiceClient::new(self.land.channel().await);
        for (i, uscc) in workload.firms.iter().enumerate().step_by(GRANT_EVERY) {
            let parcel = fixtures::register_parcel(&land, format!("FAULT-{i:05}")).await;
            fixtures::wait_for_grant(&land, fixtures::grant_request(&parcel, uscc)).await;
        }
    }

    /// Every process of the chain, for faults that strike them all.
    pub fn processes(&mut self) -> [&mut ServiceProcess; 6] {
        [
            &mut self.cluster.census,
            &mut self.cluster.classification,
            &mut self.land,
            &mut self.fair,
            &mut self.support,
            &mut self.inspection,
        ]
    }

    /// The consumers downstream of classification, for faults that strike consumers alone.
    pub fn downstream(&mut self) -> [&mut ServiceProcess; 4] {
        [
            &mut self.land,
            &mut self.fair,
            &mut self.support,
            &mut self.inspection,
        ]
    }

    /// Waits until every consumer of census events has taken in at least `events` of them
    /// (the middle of a run, for a fault to strike).
    pub async fn wait_consumed(&self, events: usize) {
        let pools = self.pools().await;
        let reached = wait_until(Duration::from_secs(120), || async {
            for (_, pool) in &pools[1..] {
                if consumed(pool, topics::CENSUS_EVENTS).await.unwrap_or(0) < events as i64 {
                    return false;
                }
            }
            true
        })
        .await;
        assert!(reached, "the consumers took in {events} census events");
    }

    /// Waits until every part has done all it will do with the workload: census published
    /// everything, each consumer took in every event of its topics, classification
    /// re-ranked, notified and stored every notice published. A process that exits meanwhile
    /// (a fatal Kafka error ends a service, by design) is started again, as Kubernetes
    /// would; returns the names of those restarted.
    pub async fn settle(&mut self, workload: &Workload, what: &str) -> Vec<&'static str> {
        let pools = self.pools().await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(300);
        let mut restarted = Vec::new();
        loop {
            restarted.extend(self.restart_exited());
            let pending = pending(&pools, workload).await;
            if pending.is_empty() {
                return restarted;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{what} did not settle: {pending:?} (restarted: {restarted:?})"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Starts again every process of the chain that has exited; returns their names.
    fn restart_exited(&mut self) -> Vec<&'static str> {
        let mut restarted = Vec::new();
        for process in self.processes() {
            if let Ok(Some(status)) = process.child.try_wait() {
                eprintln!(
                    "{} exited ({status}); started again, as Kubernetes would; its log: {}",
                    process.name,
                    process.log.display()
                );
                process.restart();
                restarted.push(process.name);
            }
        }
        restarted
    }

    /// The databases of the six services, by name; census first, classification second.
    pub async fn pools(&self) -> Vec<(&'static str, PgPool)> {
        vec![
            ("census", self.census_db().await),
            ("classification", self.cluster.classification_db().await),
            ("land-parcel", connect(&self.land.database_url).await),
            ("trade-fair", connect(&self.fair.database_url).await),
            ("support", connect(&self.support.database_url).await),
            ("inspection", connect(&self.inspection.database_url).await),
        ]
    }

    pub async fn census_db(&self) -> PgPool {
        connect(&self.cluster.census.database_url).await
    }
}

/// What some part still has to do; empty once the chain has settled. `pools` as
/// [`Chain::pools`] gives them.
pub async fn pending(pools: &[(&'static str, PgPool)], workload: &Workload) -> Vec<String> {
    match try_pending(pools, workload).await {
        Ok(pending) => pending,
        // A database away (a fault not yet over) leaves everything pending.
        Err(err) => vec![format!("a database unreachable: {err}")],
    }
}

async fn try_pending(
    pools: &[(&'static str, PgPool)],
    workload: &Workload,
) -> sqlx::Result<Vec<String>> {
    let pool = |name: &str| &pools.iter().find(|(n, _)| *n == name).expect("a service").1;
    let mut pending = Vec::new();
    let census_events = outbox_count(pool("census"), topics::CENSUS_EVENTS).await?;
    if census_events != workload.events() as i64 {
        pending.push(format!("census holds {census_events} events"));
    }
    for (name, pool) in pools {
        let unsent = scalar(pool, "SELECT count(*) FROM outbox_unsent").await?;
        if unsent != 0 {
            pending.push(format!("{name}: {unsent} outbox rows unsent"));
        }
    }
    for (topic, producer, consumers) in FLOWS {
        let published = outbox_count(pool(producer), topic).await?;
        for consumer in consumers {
            let taken = consumed(pool(consumer), topic).await?;
            if taken != published {
                pending.push(format!(
                    "{consumer}: {taken} of {published} events of {topic}"
                ));
            }
        }
    }
    let classification = pool("classification");
    for (what, sql) in [
        ("periods to re-rank", "SELECT count(*) FROM dirty_periods"),
        (
            "periods whose notices are pending",
            "SELECT count(*) FROM unsettled_periods",
        ),
    ] {
        let left = scalar(classification, sql).await?;
        if left != 0 {
            pending.push(format!("classification: {left} {what}"));
        }
    }
    let mut published = 0;
    for (_, pool) in pools {
        published += outbox_count(pool, topics::POLICY_NOTICES).await?;
    }
    let stored = scalar(classification, "SELECT count(*) FROM notices").await?;
    if published != stored {
        pending.push(format!("{published} notices published, {stored} stored"));
    }
    Ok(pending)
}

/// Imports `rows` in one stream, again and again until the whole import is accepted (a
/// fault may cut a stream; each row's request id makes a repeat harmless).
async fn import_until_done(census: tonic::transport::Endpoint, rows: Vec<ImportReturnsRow>) {
    use haicheng_proto::census::v1::census_service_client::CensusServiceClient;
    let expected = rows.len() as i64;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(300);
    loop {
        let attempt = async {
            let channel = census.connect().await.map_err(|e| e.to_string())?;
            let request =
                testkit::with_token("dev-census-import", tokio_stream::iter(rows.clone()));
            CensusServiceClient::new(channel)
                .import_returns(request)
                .await
                .map(tonic::Response::into_inner)
                .map_err(|status| status.to_string())
        };
        match attempt.await {
            Ok(report) => {
                assert!(
                    report.rejected_rows.is_empty(),
                    "rows refused: {:?}",
                    report.rejected_rows
                );
                assert_eq!(report.accepted_count, expected, "every row accepted");
                return;
            }
            Err(err) => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "the import never completed: {err}"
                );
                // The census is away (killed, restarting): try again shortly.
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

pub async fn connect(url: &str) -> PgPool {
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect(url)
        .await
        .expect("a service's database")
}

pub async fn scalar(pool: &PgPool, sql: &'static str) -> sqlx::Result<i64> {
    sqlx::query_scalar(sql).fetch_one(pool).await
}

/// Rows of `pool`'s outbox for `topic`.
pub async fn outbox_count(pool: &PgPool, topic: &str) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT count(*) FROM outbox WHERE topic = $1")
        .bind(topic)
        .fetch_one(pool)
        .await
}

/// Events of `topic` (under any prefix) that `pool`'s service took in through its inbox.
pub async fn consumed(pool: &PgPool, topic: &str) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT count(*) FROM inbox WHERE topic LIKE '%' || $1")
        .bind(topic)
        .fetch_one(pool)
        .await
}
