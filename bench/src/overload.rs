//! SubmitReturn at twice its peak (issue 23, item 4: load shedding): the census's peak
//! measured as the SubmitReturn row measures it (16 callers, each issuing its next call when
//! the last one answered), then calls issued open loop at twice that rate, each once, while
//! classification holds [`Load::streams`] WatchNotices streams open and health is checked
//! throughout. Reported: the share shed (RESOURCE_EXHAUSTED at the census's concurrency
//! limit, `MAX_CONCURRENT_REQUESTS`), the admitted calls' p99 against the p99 at the peak,
//! the health answers, the streams still open and whether the census is still alive.
//!
//! The row starts a census and a classification of its own (fresh databases, own topic
//! prefixes: the streams are open and idle, no census event reaches them). The census runs
//! with `RATE_LIMIT_WRITES=off`, so that the process-wide admission is what sheds (the bench
//! calls as one principal); its `MAX_CONCURRENT_REQUESTS` is the default unless `--env` sets
//! one. The peak is measured with the streams already open, so both sides of the ratio see
//! the same machine.

use std::{
    path::Path,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use haicheng_proto::{
    census::v1::{SubmitReturnRequest, census_service_client::CensusServiceClient},
    policy::v1::{WatchNoticesRequest, notice_service_client::NoticeServiceClient},
};
use hdrhistogram::Histogram;
use testkit::{period, process::ServiceProcess, with_token};
use tonic::{Code, transport::Channel};

use crate::{
    CONNECTIONS,
    census::pool,
    fixtures,
    load::{self, Bounds, new_histogram},
    services,
    table::{Row, Side, Target},
};

/// The period of this row's returns; no other row uses it.
const PERIOD: &str = "2017";

/// WatchNotices streams per connection: hyper's HTTP/2 server takes 200 at once on one.
const STREAMS_PER_CONNECTION: usize = 100;

/// How often health is checked during the overload (a probe's cadence).
const HEALTH_EVERY: Duration = Duration::from_millis(50);

/// How much load.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    pub firms: usize,
    /// WatchNotices streams held open on classification.
    pub streams: usize,
    /// The peak's measurement, as the SubmitReturn row's.
    pub peak: Bounds,
    /// How long the overload lasts.
    pub time: Duration,
}

/// Runs the row with its own census and classification (`extra`: variables for both).
pub async fn run(bin_dir: &Path, extra: &[(&str, &str)], load: Load) -> anyhow::Result<Row> {
    let streams = load.streams.to_string();
    let in_flight = (load.streams + 256).to_string();
    // The streams' settings after `extra`, so that an `--env MAX_CONCURRENT_REQUESTS` tried
    // on the census leaves classification able to hold the streams.
    let mut classification_env = extra.to_vec();
    classification_env.extend([
        ("WATCH_STREAMS_MAX", streams.as_str()),
        ("WATCH_STREAMS_PER_PRINCIPAL", streams.as_str()),
        ("MAX_CONCURRENT_REQUESTS", in_flight.as_str()),
    ]);
    let mut census_env = vec![("RATE_LIMIT_WRITES", "off")];
    census_env.extend(extra);
    let mut census = services::start(bin_dir, "census", &census_env).await?;
    let classification = services::start(bin_dir, "classification", &classification_env).await?;
    let result = measure(&mut census, &classification, load).await;
    census.stop().await;
    classification.stop().await;
    result
}

async fn measure(
    census: &mut ServiceProcess,
    classification: &ServiceProcess,
    load: Load,
) -> anyhow::Result<Row> {
    let firms = Arc::new(fixtures::usccs(load.firms));
    fixtures::register(&pool(&census.database_url, 1).await?, &firms).await?;
    let channels = Arc::new(census.channels(CONNECTIONS).await?);
    let open = open_streams(classification, load.streams).await?;
    let run = uuid::Uuid::new_v4().simple().to_string();
    let request = {
        let (firms, run) = (firms.clone(), run.clone());
        move |sequence: u64, phase: &str| SubmitReturnRequest {
            client_request_id: format!("bench-overload-{run}-{phase}-{sequence}"),
            uscc: firms[sequence as usize % firms.len()].clone(),
            period: period(PERIOD),
            indicators: Some(fixtures::indicators(sequence)),
            sources: None,
        }
    };

    let peak = {
        let (channels, request) = (channels.clone(), request.clone());
        load::run(load.peak, move |caller, sequence| {
            let mut client = CensusServiceClient::new(channels[caller % channels.len()].clone());
            let request = request(sequence, "peak");
            async move {
                client
                    .submit_return(with_token("dev-commerce", request))
                    .await
                    .map(|_| ())
            }
        })
        .await
    };
    anyhow::ensure!(peak.done > 0, "no call succeeded at the peak");
    let rate = 2.0 * peak.per_second();

    let stop = Arc::new(AtomicBool::new(false));
    let health = tokio::spawn(testkit::poll_health(
        vec![
            census.channels(1).await?.remove(0),
            classification.channels(1).await?.remove(0),
        ],
        HEALTH_EVERY,
        stop.clone(),
    ));
    let overload = open_loop(&channels, rate, load.time, move |sequence| {
        request(sequence, "over")
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    let (serving, not_serving) = health.await?;
    let alive = matches!(census.child.try_wait(), Ok(None));
    let still_open = open.load(Ordering::Relaxed);

    let offered = overload.admitted.len() + overload.shed + overload.other;
    let shed_share = overload.shed as f64 / offered.max(1) as f64;
    let mut note = format!(
        "peak {:.0}/s; {offered} calls offered at {:.0}/s ({:.0}/s reached) for {:.0} s, {:.1} % shed ({} calls), {} admitted; health SERVING in {serving} of {} checks of census and classification; {still_open} of {} streams open after the load; census {}",
        peak.per_second(),
        rate,
        offered as f64 / overload.sending.as_secs_f64().max(1e-9),
        load.time.as_secs_f64(),
        100.0 * shed_share,
        overload.shed,
        overload.admitted.len(),
        serving + not_serving.len(),
        load.streams,
        if alive { "alive" } else { "**gone**" },
    );
    if overload.other > 0 {
        note.push_str(&format!(
            "; {} other errors, the first: {}",
            overload.other,
            overload.first_other.unwrap_or_default()
        ));
    }
    if let Some(first) = not_serving.first() {
        note.push_str(&format!("; health otherwise: {first}"));
    }
    let quantile = |q: f64| overload.admitted.value_at_quantile(q) as f64 / 1e3;
    Ok(Row {
        path: format!(
            "SubmitReturn at twice its peak, open loop, {} WatchNotices streams open on classification (limit: the same calls at the peak, 16 callers; ratio of the admitted calls' p99 to the peak's)",
            load.streams
        ),
        unit: "calls",
        platform: Side {
            rate: overload.admitted.len() as f64 / overload.elapsed.as_secs_f64(),
            p50_ms: quantile(0.5),
            p99_ms: quantile(0.99),
        },
        limit: Some(Side::of(&peak)),
        target: Target::P99Report,
        note,
        cpu: None,
    })
}

/// Opens `count` WatchNotices streams, half as commerce and half as finance, each read by a
/// task of its own; the count of those still open.
async fn open_streams(
    classification: &ServiceProcess,
    count: usize,
) -> anyhow::Result<Arc<AtomicUsize>> {
    let channels = classification
        .channels(count.div_ceil(STREAMS_PER_CONNECTION))
        .await?;
    let open = Arc::new(AtomicUsize::new(0));
    for i in 0..count {
        let token = if i % 2 == 0 {
            "dev-commerce"
        } else {
            "dev-finance"
        };
        let mut client = NoticeServiceClient::new(channels[i / STREAMS_PER_CONNECTION].clone());
        let mut stream = client
            .watch_notices(with_token(token, WatchNoticesRequest::default()))
            .await?
            .into_inner();
        let open = open.clone();
        open.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(async move {
            while let Ok(Some(_)) = stream.message().await {}
            open.fetch_sub(1, Ordering::Relaxed);
        });
    }
    Ok(open)
}

/// What the open loop saw.
struct Overload {
    /// Latencies of the admitted calls, in microseconds.
    admitted: Histogram<u64>,
    /// Calls shed at the concurrency limit.
    shed: u64,
    /// Calls that ended otherwise, and the first of them.
    other: u64,
    first_other: Option<String>,
    /// Until the last call was issued; until the last answered.
    sending: Duration,
    elapsed: Duration,
}

/// Issues calls at `rate` per second for `time`, each once in a task of its own (a call late
/// to start is issued at once, so the rate holds on average), over `channels` in turn.
async fn open_loop(
    channels: &[Channel],
    rate: f64,
    time: Duration,
    request: impl Fn(u64) -> SubmitReturnRequest,
) -> Overload {
    #[derive(Default)]
    struct Tally {
        shed: u64,
        other: u64,
        first_other: Option<String>,
    }
    let total = (rate * time.as_secs_f64()).ceil() as u64;
    let tally = Arc::new(Mutex::new(Tally::default()));
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut calls = tokio::task::JoinSet::new();
    let started = Instant::now();
    for sequence in 0..total {
        ticker.tick().await;
        let mut client =
            CensusServiceClient::new(channels[sequence as usize % channels.len()].clone());
        let (request, tally) = (request(sequence), tally.clone());
        calls.spawn(async move {
            let sent = Instant::now();
            match client
                .submit_return(with_token("dev-commerce", request))
                .await
            {
                Ok(_) => Some(sent.elapsed()),
                Err(status) => {
                    let mut tally = tally.lock().expect("not poisoned");
                    if status.code() == Code::ResourceExhausted
                        && status.message().contains("concurrency limit")
                    {
                        tally.shed += 1;
                    } else {
                        tally.other += 1;
                        tally.first_other.get_or_insert_with(|| {
                            format!("{:?}: {}", status.code(), status.message())
                        });
                    }
                    None
                }
            }
        });
    }
    let sending = started.elapsed();
    let (mut admitted, mut panicked) = (new_histogram(), 0);
    while let Some(call) = calls.join_next().await {
        match call {
            Ok(Some(latency)) => {
                let _ = admitted.record(latency.as_micros().max(1) as u64);
            }
            Ok(None) => {}
            Err(_) => panicked += 1,
        }
    }
    let elapsed = started.elapsed();
    let tally = Arc::into_inner(tally)
        .map(|t| t.into_inner().expect("not poisoned"))
        .unwrap_or_default();
    Overload {
        admitted,
        shed: tally.shed,
        other: tally.other + panicked,
        first_other: tally.first_other,
        sending,
        elapsed,
    }
}
