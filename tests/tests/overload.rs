//! Load shedding (issue 23, item 4), at a rate `make test` can afford: a census whose
//! process-wide admission cap (`MAX_CONCURRENT_REQUESTS`) is small, driven by many more
//! concurrent SubmitReturn calls than it admits, while classification holds [`STREAMS`]
//! WatchNotices streams open. The excess gets RESOURCE_EXHAUSTED and nothing else goes
//! wrong: no other code, health SERVING throughout, the process alive, every admitted return
//! stored once with one event, no row left by a shed call, and the streams still deliver.
//!
//! The per-principal write rate is off in the census, so that the process-wide admission is
//! what sheds (all calls come from one principal). The bench's `overload` row drives the same
//! at twice the measured peak with 1,000 streams and reports the timings this test never
//! asserts.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use haicheng_proto::{
    census::v1::{
        CensusReturnSubmitted, SubmitReturnRequest, census_service_client::CensusServiceClient,
    },
    policy::v1::{WatchNoticesRequest, notice_service_client::NoticeServiceClient},
    topics,
};
use prost::Message;
use system_tests::{
    ServiceProcess,
    cluster::{Cluster, indicators, usccs},
};
use testkit::{wait_until, with_token};
use tonic::Code;

/// Calls the census admits at once.
const CENSUS_MAX_IN_FLIGHT: &str = "4";
/// Concurrent callers, each issuing its next call as soon as the last one answered: many
/// times the cap, so most calls find it full.
const CALLERS: usize = 64;
/// The load lasts until this many calls were admitted (a shed call answers at once, so a
/// count of calls would end the load before much was admitted)…
const ADMITTED: usize = 400;
/// …or this many were made, each with a client request id of its own.
const MAX_CALLS: usize = 50_000;
/// Firms the load's returns are spread over (each has a first return before the load).
const FIRMS: usize = 40;
/// WatchNotices streams open on classification (the bench's row holds 1,000).
const STREAMS: usize = 100;
/// Streams per connection: HTTP/2 servers cap concurrent streams per connection (hyper: 200).
const STREAMS_PER_CONNECTION: usize = 50;
/// The period of every return.
const PERIOD: &str = "2024";
/// The departments watching, by development token, each with the tax per mu (yuan) of the
/// firm submitted after the load that it is told of: one below every load firm's (500–5,499)
/// enters C, which commerce is told of; one above them all enters A or B (scores are capped
/// at 1.5 times the benchmark, and ties at the cap may put it in B), finance is told of both.
const WATCHERS: [(&str, i64); 2] = [("dev-commerce", 100), ("dev-finance", 9_000)];
/// What the admission layer says when it sheds (the per-caller limits say otherwise).
const SHED_MESSAGE: &str = "concurrency limit";

/// Census and classification sharing one topic prefix, as [`Cluster::start`] starts them,
/// with the census's cap small and its write rate off, and classification able to hold the
/// streams.
async fn start() -> Cluster {
    let prefix = format!("{}.", testkit::unique_name("overload"));
    let common = [
        ("KAFKA_TOPIC_PREFIX", prefix.as_str()),
        ("OUTBOX_POLL_MS", "100"),
        ("SHUTDOWN_GRACE_MS", "0"),
    ];
    let mut census_env = common.to_vec();
    census_env.extend([
        ("MAX_CONCURRENT_REQUESTS", CENSUS_MAX_IN_FLIGHT),
        ("RATE_LIMIT_WRITES", "off"),
    ]);
    let (streams, in_flight) = (STREAMS.to_string(), (STREAMS + 64).to_string());
    let mut classification_env = common.to_vec();
    classification_env.extend([
        ("CLASSIFICATION_NOTICE_SETTLE", "0s"),
        ("MAX_CONCURRENT_REQUESTS", in_flight.as_str()),
        ("WATCH_STREAMS_MAX", streams.as_str()),
        ("WATCH_STREAMS_PER_PRINCIPAL", streams.as_str()),
    ]);
    let mut census = system_tests::start("census", &census_env).await;
    let mut classification = system_tests::start("classification", &classification_env).await;
    for service in [&mut census, &mut classification] {
        service
            .wait_serving(Duration::from_secs(60))
            .await
            .expect("serving");
    }
    Cluster {
        prefix,
        census,
        classification,
    }
}

/// What one open stream has seen: the firms of its notices, and how it ended if it did.
#[derive(Default)]
struct Watched {
    /// Which of [`WATCHERS`] it watches as.
    watcher: usize,
    firms: BTreeSet<String>,
    ended: Option<String>,
}

/// Opens [`STREAMS`] WatchNotices streams, half as each of [`WATCHERS`], each read by a task
/// of its own into its [`Watched`].
async fn open_streams(classification: &ServiceProcess) -> Vec<Arc<Mutex<Watched>>> {
    let channels = classification
        .channels(STREAMS.div_ceil(STREAMS_PER_CONNECTION))
        .await
        .expect("connecting to classification");
    let mut watched = Vec::with_capacity(STREAMS);
    for i in 0..STREAMS {
        let watcher = i % WATCHERS.len();
        let mut client = NoticeServiceClient::new(channels[i / STREAMS_PER_CONNECTION].clone());
        let mut stream = client
            .watch_notices(with_token(
                WATCHERS[watcher].0,
                WatchNoticesRequest::default(),
            ))
            .await
            .unwrap_or_else(|status| panic!("stream {i} refused: {status:?}"))
            .into_inner();
        let seen = Arc::new(Mutex::new(Watched {
            watcher,
            ..Watched::default()
        }));
        watched.push(seen.clone());
        tokio::spawn(async move {
            let ended = loop {
                match stream.message().await {
                    Ok(Some(message)) => {
                        if let Some(notice) = message.notice {
                            seen.lock().unwrap().firms.insert(notice.uscc);
                        }
                    }
                    Ok(None) => break "ended by the server".to_string(),
                    Err(status) => break format!("{status:?}"),
                }
            };
            seen.lock().unwrap().ended = Some(ended);
        });
    }
    watched
}

/// What became of the load's calls.
#[derive(Default)]
struct Outcomes {
    /// Admitted and stored: client request id → (uscc, revision) the census answered.
    stored: BTreeMap<String, (String, i64)>,
    /// Shed with RESOURCE_EXHAUSTED by the admission layer.
    shed: BTreeSet<String>,
    /// Anything else: the id, the status.
    other: Vec<(String, String)>,
    /// Calls made.
    made: usize,
}

/// SubmitReturn calls from [`CALLERS`] callers over four connections until [`ADMITTED`] were
/// admitted (or [`MAX_CALLS`] made), each call made once (no retry), a revision of one of
/// `firms` with a request id of its own.
async fn drive(census: &ServiceProcess, firms: &[String]) -> Outcomes {
    let channels = census.channels(4).await.expect("connecting to census");
    let outcomes = Arc::new(Mutex::new(Outcomes::default()));
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut callers = tokio::task::JoinSet::new();
    for caller in 0..CALLERS {
        let mut client = CensusServiceClient::new(channels[caller % channels.len()].clone());
        let (firms, outcomes, next) = (firms.to_vec(), outcomes.clone(), next.clone());
        callers.spawn(async move {
            loop {
                if outcomes.lock().unwrap().stored.len() >= ADMITTED {
                    return;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= MAX_CALLS {
                    return;
                }
                let id = format!("overload-{i}");
                let request = SubmitReturnRequest {
                    client_request_id: id.clone(),
                    uscc: firms[i % firms.len()].clone(),
                    period: testkit::period(PERIOD),
                    indicators: Some(indicators(500 + (i as i64 * 7_919) % 5_000)),
                    sources: None,
                };
                let answer = client
                    .submit_return(with_token("dev-commerce", request))
                    .await;
                let mut outcomes = outcomes.lock().unwrap();
                match answer {
                    Ok(reply) => {
                        let reply = reply.into_inner();
                        let stored = reply.census_return.unwrap_or_default();
                        assert!(!reply.duplicate, "{id} is new");
                        assert_eq!(stored.client_request_id, id);
                        outcomes.stored.insert(id, (stored.uscc, stored.revision));
                    }
                    Err(status)
                        if status.code() == Code::ResourceExhausted
                            && status.message().contains(SHED_MESSAGE) =>
                    {
                        outcomes.shed.insert(id);
                    }
                    Err(status) => outcomes.other.push((id, format!("{status:?}"))),
                }
            }
        });
    }
    callers.join_all().await;
    let mut outcomes = Arc::into_inner(outcomes)
        .expect("every caller done")
        .into_inner()
        .unwrap();
    outcomes.made = next.load(Ordering::Relaxed).min(MAX_CALLS);
    outcomes
}

/// The load's returns in census's database: request id → (uscc, revision, rows with that id).
async fn stored_returns(pool: &sqlx::PgPool) -> BTreeMap<String, (String, i64, i64)> {
    let rows: Vec<(String, String, i64, i64)> = sqlx::query_as(
        "SELECT client_request_id, min(uscc), min(revision), count(*) FROM census_returns
         WHERE client_request_id LIKE 'overload-%' GROUP BY client_request_id",
    )
    .fetch_all(pool)
    .await
    .expect("reading the returns");
    rows.into_iter()
        .map(|(id, uscc, revision, count)| (id, (uscc, revision, count)))
        .collect()
}

/// Census's return events in its outbox: (uscc, period, revision) → how many.
async fn return_events(pool: &sqlx::PgPool) -> BTreeMap<(String, String, i64), usize> {
    let payloads: Vec<Vec<u8>> = sqlx::query_scalar(
        "SELECT payload FROM outbox WHERE topic = $1 AND ce_type LIKE '%.CensusReturnSubmitted'",
    )
    .bind(topics::CENSUS_EVENTS)
    .fetch_all(pool)
    .await
    .expect("reading the outbox");
    let mut events = BTreeMap::new();
    for payload in payloads {
        let event = CensusReturnSubmitted::decode(payload.as_slice()).expect("a return event");
        let period = event.period.map(|p| p.code).unwrap_or_default();
        *events
            .entry((event.uscc, period, event.revision))
            .or_default() += 1;
    }
    events
}

#[tokio::test(flavor = "multi_thread")]
async fn an_overloaded_census_sheds_only_the_excess_and_stores_every_admitted_return_once() {
    let mut cluster = start().await;
    let firms = usccs(FIRMS + WATCHERS.len());
    let (load_firms, after_load) = firms.split_at(FIRMS);
    cluster.register(&firms).await;
    // A first return of each load firm, before the load: the cohort is complete whatever the
    // load admits.
    for (i, uscc) in load_firms.iter().enumerate() {
        let tax = 500 + (i as i64 * 104_729) % 5_000;
        cluster
            .submit(uscc, PERIOD, tax, &format!("before-{i}"))
            .await;
    }
    let streams = open_streams(&cluster.classification).await;

    let stop = Arc::new(AtomicBool::new(false));
    let health = tokio::spawn(testkit::poll_health(
        vec![
            cluster.census.channel().await,
            cluster.classification.channel().await,
        ],
        Duration::from_millis(20),
        stop.clone(),
    ));
    let outcomes = drive(&cluster.census, load_firms).await;
    stop.store(true, Ordering::Relaxed);
    let (serving, not_serving) = health.await.unwrap();

    assert_eq!(
        outcomes.stored.len() + outcomes.shed.len() + outcomes.other.len(),
        outcomes.made
    );
    assert!(
        outcomes.other.is_empty(),
        "{} calls got something else than OK or RESOURCE_EXHAUSTED, first {:?}",
        outcomes.other.len(),
        outcomes.other.first()
    );
    assert!(!outcomes.shed.is_empty(), "the excess was shed");
    assert!(
        !outcomes.stored.is_empty(),
        "calls within the cap were served"
    );
    assert!(
        not_serving.is_empty(),
        "health answered other than SERVING during the load: {not_serving:?}"
    );
    assert!(serving > 0, "health was checked during the load");
    assert!(
        cluster.census.child.try_wait().unwrap().is_none(),
        "census is alive after the load"
    );

    // Every admitted return stored once, as answered; no shed call left a row.
    let pool = sqlx::PgPool::connect(&cluster.census.database_url)
        .await
        .expect("the census database");
    let stored = stored_returns(&pool).await;
    let stored_ids: BTreeSet<_> = stored.keys().cloned().collect();
    let admitted_ids: BTreeSet<_> = outcomes.stored.keys().cloned().collect();
    assert!(
        stored_ids.is_disjoint(&outcomes.shed),
        "shed calls left rows: {:?}",
        stored_ids
            .intersection(&outcomes.shed)
            .take(5)
            .collect::<Vec<_>>()
    );
    assert_eq!(stored_ids, admitted_ids, "the rows are the admitted calls'");
    for (id, (uscc, revision)) in &outcomes.stored {
        assert_eq!(
            stored[id],
            (uscc.clone(), *revision, 1),
            "{id}: one row, the revision answered"
        );
    }
    // One event per return: the load's and the firms' first ones, nothing else.
    let events = return_events(&pool).await;
    let expected: BTreeSet<_> = outcomes
        .stored
        .values()
        .map(|(uscc, revision)| (uscc.clone(), PERIOD.to_string(), *revision))
        .chain(
            load_firms
                .iter()
                .map(|uscc| (uscc.clone(), PERIOD.to_string(), 1)),
        )
        .collect();
    assert_eq!(expected.len(), FIRMS + outcomes.stored.len());
    assert_eq!(
        events.keys().cloned().collect::<BTreeSet<_>>(),
        expected,
        "an event for each stored return"
    );
    let twice: Vec<_> = events.iter().filter(|(_, n)| **n != 1).collect();
    assert!(
        twice.is_empty(),
        "events published more than once: {twice:?}"
    );

    // The streams stayed open and deliver what comes after the load: each department is told
    // of the firm submitted for it.
    for ((_, tax), uscc) in WATCHERS.iter().zip(after_load) {
        cluster
            .submit(uscc, PERIOD, *tax, &format!("after-the-load-{uscc}"))
            .await;
    }
    let told = |seen: &Watched| seen.firms.contains(&after_load[seen.watcher]);
    let delivered = wait_until(Duration::from_secs(60), || async {
        streams.iter().all(|s| told(&s.lock().unwrap()))
    })
    .await;
    let ended: Vec<_> = streams
        .iter()
        .filter_map(|s| s.lock().unwrap().ended.clone())
        .collect();
    assert!(
        ended.is_empty(),
        "{} streams ended: {:?}",
        ended.len(),
        ended.first()
    );
    let waiting: Vec<_> = streams
        .iter()
        .map(|s| s.lock().unwrap())
        .filter(|s| !told(s))
        .map(|s| WATCHERS[s.watcher].0)
        .collect();
    assert!(
        delivered,
        "{} of {STREAMS} streams were not told of the firm submitted after the load: {:?}; classes {:?}",
        waiting.len(),
        waiting.iter().collect::<BTreeSet<_>>(),
        cluster
            .classes_of(PERIOD)
            .await
            .into_iter()
            .filter(|(u, _)| after_load.contains(u))
            .collect::<Vec<_>>()
    );
    assert!(cluster.census.child.try_wait().unwrap().is_none());
    assert!(cluster.classification.child.try_wait().unwrap().is_none());
    eprintln!(
        "overload: {} of {} calls admitted, {} shed; {serving} health checks SERVING",
        outcomes.stored.len(),
        outcomes.made,
        outcomes.shed.len()
    );
}
