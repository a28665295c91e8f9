//! Benchmarks of the platform's hot paths, each as a ratio to its limit measured beside it in
//! the same run (absolute times drift on a shared machine; ratios much less). See
//! BENCHMARKS.md for the table and where the time goes.
//!
//! [`run`] starts census and classification as processes (the binaries in
//! [`Options::bin_dir`], release builds for `make bench`) against the stack that
//! `testkit::stack` names (`scripts/with-stack`, or a private one it starts), drives each row
//! with the [`load`] generator (16 callers over 4 connections, loopback) or a timed bulk
//! operation, and returns the [`table`] rows. Quick mode runs every row with tiny counts, so
//! the harness is tested in `make test`; its figures mean nothing.

// A benchmark row is one scenario read top to bottom; the 80-line bound is for the services.
#![allow(clippy::too_many_lines)]

pub mod census;
pub mod cpu;
pub mod events;
pub mod fair;
pub mod fixtures;
pub mod land;
pub mod load;
pub mod notices;
pub mod overload;
pub mod rerank;
pub mod rerank_db;
pub mod scale;
pub mod services;
pub mod support;
pub mod table;

use std::{path::PathBuf, time::Duration};

use load::Bounds;
use services::{PeakRss, rss_mib};
use table::{Row, Side, Target};
use testkit::process::ServiceProcess;

/// Callers and connections of every gRPC row (and the size of each limit's pool).
pub const CALLERS: usize = 16;
pub const CONNECTIONS: usize = 4;

/// What to run and how much.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where the service binaries are.
    pub bin_dir: PathBuf,
    /// Tiny counts: the harness works, the figures mean nothing.
    pub quick: bool,
    /// Only these rows ([`ROWS`]);
    /// empty for all. Memory rows come with any row that starts the services.
    pub only: Vec<String>,
    /// Extra variables for both services (`KEY=VALUE`), to try a setting's effect.
    pub service_env: Vec<(String, String)>,
    /// Run the rows at this many firms ([`scale`]); `None` for the table's own counts.
    pub scale: Option<usize>,
}

/// The row names [`Options::only`] takes.
pub const ROWS: &[&str] = &[
    "health",
    "submit",
    "file",
    "import",
    "relay",
    "consumer",
    "rerank",
    "rerank-db",
    "notice",
    "overload",
    "land",
    "fair",
    "support",
];

/// The counts of one mode.
struct Counts {
    firms: usize,
    /// Requests of one gRPC row (per side), and its time bound.
    requests: u64,
    time: Duration,
    import_rows: usize,
    relay_messages: usize,
    consumed_messages: usize,
    rerank_firms: usize,
    rerank_rounds: usize,
    /// Firms of the period re-ranked in the database.
    rerank_db_firms: usize,
    /// Firms holding a granted parcel, one return each, in the land evaluation row.
    land_firms: usize,
    /// Registrations of the fair in the booth allocation row.
    fair_registrations: usize,
    /// Firms of the support eligibility row (against 20 policies).
    support_firms: usize,
    /// Returns of the notice latency row.
    notice: notices::Load,
    /// The overload row: its firms, streams and times.
    overload: overload::Load,
}

impl Counts {
    fn of(quick: bool) -> Self {
        if quick {
            Self {
                firms: 200,
                requests: 200,
                time: Duration::from_secs(5),
                import_rows: 300,
                relay_messages: 200,
                consumed_messages: 100,
                rerank_firms: 10_000,
                rerank_rounds: 1,
                rerank_db_firms: 500,
                land_firms: 3,
                fair_registrations: 4,
                support_firms: 600,
                notice: notices::Load {
                    firms: 30,
                    rate: 30,
                    time: Duration::from_secs(3),
                },
                overload: overload::Load {
                    firms: 200,
                    streams: 20,
                    peak: Bounds {
                        callers: CALLERS,
                        requests: 200,
                        time: Duration::from_secs(5),
                    },
                    time: Duration::from_secs(2),
                },
            }
        } else {
            Self {
                firms: 10_000,
                requests: 30_000,
                time: Duration::from_secs(15),
                import_rows: 100_000,
                relay_messages: 50_000,
                consumed_messages: 20_000,
                rerank_firms: 1_000_000,
                rerank_rounds: 3,
                rerank_db_firms: 100_000,
                land_firms: 2_000,
                fair_registrations: 1_000,
                support_firms: 100_000,
                notice: notices::Load {
                    firms: 10_000,
                    rate: 500,
                    time: Duration::from_secs(60),
                },
                overload: overload::Load {
                    firms: 10_000,
                    streams: 1_000,
                    peak: Bounds {
                        callers: CALLERS,
                        requests: 30_000,
                        time: Duration::from_secs(15),
                    },
                    time: Duration::from_secs(15),
                },
            }
        }
    }

    /// The counts of a [`scale`] run at `firms` firms: every row that grows with the firms
    /// gets that many (rows, messages, firms of the period, registrations).
    fn at(firms: usize, quick: bool) -> Self {
        let mut counts = Self::of(quick);
        counts.firms = counts.firms.min(firms);
        counts.import_rows = firms;
        counts.relay_messages = firms;
        counts.rerank_db_firms = firms;
        counts.notice.firms = firms;
        counts.land_firms = firms;
        counts.fair_registrations = firms;
        counts
    }

    fn bounds(&self) -> Bounds {
        Bounds {
            callers: CALLERS,
            requests: self.requests,
            time: self.time,
        }
    }
}

/// Runs every row and returns them in the table's order. Progress goes to stderr.
pub async fn run(options: &Options) -> anyhow::Result<Vec<Row>> {
    let counts = match options.scale {
        Some(firms) => Counts::at(firms, options.quick),
        None => Counts::of(options.quick),
    };
    let say = |what: &str| eprintln!("bench: {what}");
    let wants = |name: &str| options.only.is_empty() || options.only.iter().any(|o| o == name);
    let rerank_row = || {
        let (firms, rounds) = (counts.rerank_firms, counts.rerank_rounds);
        let row = rerank::run(firms, rounds);
        say(&format!("{}: {}", row.path, table::summary(&row)));
        row
    };
    // The rows that need no service process run alone when they are all that is asked for.
    let standalone = ["rerank", "support"];
    if !options.only.is_empty()
        && options
            .only
            .iter()
            .all(|o| standalone.contains(&o.as_str()))
    {
        let mut rows = Vec::new();
        if wants("support") {
            let row = support::run(counts.support_firms)
                .await
                .unwrap_or_else(|err| Row::failed("support eligibility", &format!("{err:#}")));
            say(&format!("{}: {}", row.path, table::summary(&row)));
            rows.push(row);
        }
        if wants("rerank") {
            rows.push(rerank_row());
        }
        return Ok(rows);
    }
    say("starting census and classification");
    // An import is bounded by STREAM_IDLE_TIMEOUT_MS between its messages, not by
    // REQUEST_TIMEOUT_MS, so the services run with their defaults.
    let extra: Vec<(&str, &str)> = options
        .service_env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let census = services::start(&options.bin_dir, "census", &extra).await?;
    let classification = services::start(&options.bin_dir, "classification", &extra).await?;
    // Settled after start-up (migrations, the first relay and re-ranker passes).
    tokio::time::sleep(Duration::from_secs(if options.quick { 1 } else { 3 })).await;
    let idle = [&census, &classification].map(|s| s.pid().and_then(rss_mib).unwrap_or(0.0));
    let peaks = [&census, &classification].map(|s| PeakRss::watch(s.pid().unwrap_or(0)));

    let census_pool = census::pool(&census.database_url, 2).await?;
    let import_firms = fixtures::usccs(counts.import_rows.max(counts.firms));
    let firms = &import_firms[..counts.firms];
    say(&format!("registering {} firms", import_firms.len()));
    fixtures::register(&census_pool, &import_firms).await?;
    let channels = census.channels(CONNECTIONS).await?;
    let census_cpu = cpu::Watched::new(census.pid().unwrap_or(0), &census_pool).await?;
    let classification_cpu = cpu::Watched {
        service: classification.pid().unwrap_or(0),
        ..census_cpu
    };

    let mut rows = Vec::new();
    // A row that fails is reported as failed and the others still run.
    let mut record = |path: &str, row: anyhow::Result<Row>| {
        let row = row.unwrap_or_else(|err| Row::failed(path, &format!("{err:#}")));
        say(&format!("{}: {}", row.path, table::summary(&row)));
        rows.push(row);
    };
    let bounds = counts.bounds();
    if wants("health") {
        record(
            "gRPC overhead",
            Ok(census::health(&channels, census_cpu, bounds).await),
        );
    }
    let url = &census.database_url;
    if wants("submit") {
        record(
            "SubmitReturn",
            census::submit(
                &channels,
                url,
                &format!(
                    "{}{}",
                    census.topic_prefix,
                    haicheng_proto::topics::CENSUS_EVENTS
                ),
                firms,
                census_cpu,
                bounds,
            )
            .await,
        );
    }
    if wants("file") {
        record(
            "GetEnterpriseFile",
            census::file(&channels, url, firms, census_cpu, bounds).await,
        );
    }
    let imported = &import_firms[..counts.import_rows];
    if wants("import") {
        record(
            "ImportReturns",
            census::import(channels[0].clone(), url, imported, census_cpu).await,
        );
    }
    let (prefix, n) = (&census.topic_prefix, counts.relay_messages);
    if wants("relay") {
        record(
            "outbox relay",
            events::relay(url, prefix, firms, n, census_cpu).await,
        );
    }
    let (url, prefix) = (&classification.database_url, &classification.topic_prefix);
    let n = counts.consumed_messages;
    if wants("consumer") {
        record(
            "census consumer",
            events::consumer(url, prefix, firms, n, classification_cpu).await,
        );
    }
    if wants("rerank-db") {
        let (url, n) = (&classification.database_url, counts.rerank_db_firms);
        record(
            "re-rank in the database",
            rerank_db::run(url, n, classification_cpu).await,
        );
    }
    if wants("notice") {
        // A census and a classification of its own, sharing one topic prefix.
        record(
            "census return → department notice",
            notices::run(&options.bin_dir, &extra, counts.notice).await,
        );
    }
    if wants("overload") {
        // A census and a classification of its own, the streams on that classification.
        record(
            "SubmitReturn at twice its peak",
            overload::run(&options.bin_dir, &extra, counts.overload).await,
        );
    }
    let mut others = Vec::new();
    if wants("land") {
        let row = land_row(options, &extra, &counts, &mut others).await;
        record("land evaluation", row);
    }
    if wants("fair") {
        let row = fair_row(options, &extra, &counts, &mut others).await;
        record("booth allocation", row);
    }
    if wants("support") {
        record(
            "support eligibility",
            support::run(counts.support_firms).await,
        );
    }
    if wants("rerank") {
        rows.push(tokio::task::block_in_place(rerank_row));
    }

    for ((service, idle), peak) in [&census, &classification].iter().zip(idle).zip(&peaks) {
        let memory = |state: &str, mib: f64, max: f64| Row {
            path: format!("{} resident memory, {state}", service.name),
            unit: "MiB",
            platform: Side {
                rate: mib,
                p50_ms: 0.0,
                p99_ms: 0.0,
            },
            limit: None,
            target: Target::MemoryAtMost(max),
            note: String::new(),
            cpu: None,
        };
        rows.push(memory("idle", idle, 30.0));
        rows.push(memory(
            "loaded (peak over the rows above)",
            peak.peak_mib(),
            100.0,
        ));
    }
    drop(peaks);
    if options.scale.is_some() {
        for service in [&census, &classification] {
            rows.push(database_size(service).await?);
        }
        rows.append(&mut others);
    }
    census.stop().await;
    classification.stop().await;
    Ok(rows)
}

/// The size of a service's database (`pg_database_size`), as a report row.
async fn database_size(service: &ServiceProcess) -> anyhow::Result<Row> {
    let pool = census::pool(&service.database_url, 1).await?;
    let bytes: i64 = sqlx::query_scalar("SELECT pg_database_size(current_database())")
        .fetch_one(&pool)
        .await?;
    pool.close().await;
    Ok(Row {
        path: format!("{} database size", service.name),
        unit: "MiB",
        platform: Side {
            rate: bytes as f64 / (1024.0 * 1024.0),
            p50_ms: 0.0,
            p99_ms: 0.0,
        },
        limit: None,
        target: Target::Report,
        note: String::new(),
        cpu: None,
    })
}

/// A service's peak resident memory over a row, as a report row.
fn peak_row(service: &ServiceProcess, peak: &PeakRss) -> Row {
    Row {
        path: format!(
            "{} resident memory, loaded (peak over the rows above)",
            service.name
        ),
        unit: "MiB",
        platform: Side {
            rate: peak.peak_mib(),
            p50_ms: 0.0,
            p99_ms: 0.0,
        },
        limit: None,
        target: Target::MemoryAtMost(100.0),
        note: String::new(),
        cpu: None,
    }
}

/// The land evaluation row with a land-parcel of its own, stopped after the row.
/// With [`Options::scale`], its peak memory and database size go to `others`.
async fn land_row(
    options: &Options,
    extra: &[(&str, &str)],
    counts: &Counts,
    others: &mut Vec<Row>,
) -> anyhow::Result<Row> {
    let land = services::start(&options.bin_dir, "land-parcel", extra).await?;
    let peak = PeakRss::watch(land.pid().unwrap_or(0));
    let pool = census::pool(&land.database_url, 1).await?;
    let cpu = cpu::Watched::new(land.pid().unwrap_or(0), &pool).await?;
    let channel = land.channels(1).await?.remove(0);
    let firms = fixtures::usccs(counts.land_firms);
    let row = land::run(
        &channel,
        &land.database_url,
        &land.topic_prefix,
        &firms,
        cpu,
    )
    .await;
    if options.scale.is_some() {
        others.push(peak_row(&land, &peak));
        others.push(database_size(&land).await?);
    }
    land.stop().await;
    row
}

/// The booth allocation row with a trade-fair of its own, stopped after the row.
/// With [`Options::scale`], its peak memory and database size go to `others`.
async fn fair_row(
    options: &Options,
    extra: &[(&str, &str)],
    counts: &Counts,
    others: &mut Vec<Row>,
) -> anyhow::Result<Row> {
    // Its sweep would allocate a fair as soon as the window closes: once an hour, so the
    // bench's AllocateBooths is the allocation.
    let mut env = vec![("TRADE_FAIR_SWEEP_MS", "3600000")];
    env.extend(extra);
    let service = services::start(&options.bin_dir, "trade-fair", &env).await?;
    let peak = PeakRss::watch(service.pid().unwrap_or(0));
    let pool = census::pool(&service.database_url, 1).await?;
    let cpu = cpu::Watched::new(service.pid().unwrap_or(0), &pool).await?;
    let channel = service.channels(1).await?.remove(0);
    let firms = fixtures::usccs(counts.fair_registrations);
    let row = fair::run(&channel, &service.database_url, &firms, cpu).await;
    if options.scale.is_some() {
        others.push(peak_row(&service, &peak));
        others.push(database_size(&service).await?);
    }
    service.stop().await;
    row
}
