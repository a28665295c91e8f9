//! Census return → department notice on the watch stream: returns submitted to the census at
//! a steady rate, each firm's first notice awaited on classification's WatchNotices, beside
//! the limit `CLASSIFICATION_RERANK_MAX_DELAY` + 5 × a raw produce→consume round trip on the
//! same broker (the census relay, the re-ranker's maximum delay, the notice relay and the
//! notice store's consumer are the pipeline's unavoidable steps).
//!
//! The row starts a census and a classification of its own that share one topic prefix, so
//! census events reach this classification (the other rows give each service its own prefix).
//! A firm's first class is known only once its first return went through the whole pipeline,
//! so the latency of a firm is from the call of its first SubmitReturn to its first notice on
//! either stream watched (commerce receives "entering A" and "entering C", finance "entering
//! A" and "entering B": every first class). Two returns in three are revisions of firms
//! already in, so the load is the full rate throughout.
//!
//! Notices go out when a period settles (`CLASSIFICATION_NOTICE_SETTLE`, default 30 s): quiet
//! for that long and no re-rank pending. The row sets the settle time to [`SETTLE`] so that it
//! measures the pipeline, not the wait; what remains is that a period under steady returns is
//! never without a pending re-rank, so its notices go out when the returns stop.

use std::{
    collections::HashMap,
    path::Path,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use crate::{
    census::pool,
    fixtures,
    load::new_histogram,
    services,
    table::{Row, Side, Target},
};
use haicheng_proto::{
    census::v1::{SubmitReturnRequest, census_service_client::CensusServiceClient},
    policy::v1::{WatchNoticesRequest, notice_service_client::NoticeServiceClient},
};
use platform::bus::{CloudEvent, Producer};
use rdkafka::{
    ClientConfig,
    consumer::{Consumer, StreamConsumer},
    error::{KafkaError, RDKafkaErrorCode},
};
use testkit::{period, process::ServiceProcess, with_token};

/// The settle time this row runs classification with.
pub const SETTLE: &str = "0s";

/// The period of this row's returns; no other row uses it.
const PERIOD: &str = "2018";

/// Attempts of a return the census sheds (RESOURCE_EXHAUSTED), with growing backoff.
const RETRIES: u64 = 20;

/// The departments watched, by development token.
const WATCHERS: [&str; 2] = ["dev-commerce", "dev-finance"];

/// How much load.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    pub firms: usize,
    /// Returns per second.
    pub rate: u32,
    pub time: Duration,
}

/// Runs the row with its own census and classification (`extra`: variables for both).
pub async fn run(bin_dir: &Path, extra: &[(&str, &str)], load: Load) -> anyhow::Result<Row> {
    let prefix = format!("{}.", testkit::unique_name("bench-notice"));
    let mut classification_env = vec![("CLASSIFICATION_NOTICE_SETTLE", SETTLE)];
    classification_env.extend(extra);
    let max_delay_ms: u64 = classification_env
        .iter()
        .rev()
        .find(|(k, _)| *k == "CLASSIFICATION_RERANK_MAX_DELAY_MS")
        .map_or(Ok(2_000), |(_, v)| v.parse())?;
    let census = services::start_with_prefix(bin_dir, "census", extra, &prefix).await?;
    let classification =
        services::start_with_prefix(bin_dir, "classification", &classification_env, &prefix)
            .await?;
    let result = measure(&census, &classification, load, max_delay_ms, &prefix).await;
    census.stop().await;
    classification.stop().await;
    result
}

async fn measure(
    census: &ServiceProcess,
    classification: &ServiceProcess,
    load: Load,
    max_delay_ms: u64,
    prefix: &str,
) -> anyhow::Result<Row> {
    let firms = fixtures::usccs(load.firms);
    fixtures::register(&pool(&census.database_url, 1).await?, &firms).await?;
    let channels = census.channels(4).await?;
    let watch_channel = classification.channels(1).await?.remove(0);

    // Each firm's first notice, as it arrives.
    let arrivals: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let notices = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut watchers = Vec::new();
    for token in WATCHERS {
        let mut client = NoticeServiceClient::new(watch_channel.clone());
        let mut stream = client
            .watch_notices(with_token(token, WatchNoticesRequest::default()))
            .await?
            .into_inner();
        let (arrivals, notices) = (arrivals.clone(), notices.clone());
        watchers.push(tokio::spawn(async move {
            while let Ok(Some(message)) = stream.message().await {
                let now = Instant::now();
                notices.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if let Some(notice) = message.notice {
                    arrivals
                        .lock()
                        .expect("not poisoned")
                        .entry(notice.uscc)
                        .or_insert(now);
                }
            }
        }));
    }

    // Open loop at the rate: every third return a firm's first, the others revisions of a
    // firm already in (a deterministic pseudo-random pick).
    let total = (f64::from(load.rate) * load.time.as_secs_f64()) as u64;
    let first_sent: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let failures = Arc::new(Mutex::new((0u64, None::<String>)));
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(load.rate)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut calls = tokio::task::JoinSet::new();
    let started = Instant::now();
    for sequence in 0..total {
        ticker.tick().await;
        let admitted = ((sequence / 3) as usize + 1).min(firms.len());
        let (firm, first) = if sequence % 3 == 0 && (sequence / 3) < firms.len() as u64 {
            ((sequence / 3) as usize, true)
        } else {
            let pick = sequence.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 33;
            (pick as usize % admitted, false)
        };
        let uscc = firms[firm].clone();
        let mut client =
            CensusServiceClient::new(channels[sequence as usize % channels.len()].clone());
        let request = SubmitReturnRequest {
            client_request_id: format!("{prefix}{sequence}"),
            uscc: uscc.clone(),
            period: period(PERIOD),
            indicators: Some(fixtures::indicators(sequence)),
            sources: None,
        };
        let (first_sent, failures) = (first_sent.clone(), failures.clone());
        calls.spawn(async move {
            let sent = Instant::now();
            // The census sheds load above its concurrency limit: retry as it asks, with
            // backoff; the latency counts from the first attempt.
            let mut tries = 0;
            let outcome = loop {
                tries += 1;
                let call = with_token("dev-commerce", request.clone());
                match client.submit_return(call).await {
                    Err(status)
                        if status.code() == tonic::Code::ResourceExhausted && tries < RETRIES =>
                    {
                        tokio::time::sleep(Duration::from_millis(20 * tries)).await;
                    }
                    other => break other,
                }
            };
            match outcome {
                Ok(_) if first => {
                    first_sent.lock().expect("not poisoned").insert(uscc, sent);
                }
                Ok(_) => {}
                Err(status) => {
                    let mut failed = failures.lock().expect("not poisoned");
                    failed.0 += 1;
                    failed.1.get_or_insert_with(|| status.to_string());
                }
            }
            tries - 1
        });
    }
    let retries: u64 = calls.join_all().await.into_iter().sum();
    let sending = started.elapsed();

    // Every firm whose first return was accepted gets a notice; wait for the last.
    let expected = first_sent.lock().expect("not poisoned").len();
    let deadline = Instant::now() + Duration::from_secs(120) + load.time;
    let waiting = || {
        let arrived = arrivals.lock().expect("not poisoned");
        let sent = first_sent.lock().expect("not poisoned");
        sent.keys().filter(|u| !arrived.contains_key(*u)).count()
    };
    while waiting() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let finished = started.elapsed();
    for watcher in watchers {
        watcher.abort();
    }
    let mut latency = new_histogram();
    {
        let (sent, arrived) = (
            first_sent.lock().expect("not poisoned"),
            arrivals.lock().expect("not poisoned"),
        );
        for (uscc, sent) in sent.iter() {
            if let Some(at) = arrived.get(uscc) {
                let _ =
                    latency.record(at.saturating_duration_since(*sent).as_micros().max(1) as u64);
            }
        }
    }
    let notified = latency.len();
    anyhow::ensure!(
        notified > 0,
        "no notice arrived for any of {expected} firms"
    );
    let (failed, first_error) = failures.lock().expect("not poisoned").clone();

    let rtt = round_trips(prefix, 200).await?;
    let limit = |rtt_ms: f64| max_delay_ms as f64 + 5.0 * rtt_ms;
    let quantile = |q: f64| latency.value_at_quantile(q) as f64 / 1e3;
    let mut note = format!(
        "{} returns in {:.1} s, {notified} of {expected} firms notified, {} notices, the last {:.1} s after the last return; settle {SETTLE}, max delay {max_delay_ms} ms; raw round trip p50 {:.2} ms, p99 {:.2} ms",
        total,
        sending.as_secs_f64(),
        notices.load(std::sync::atomic::Ordering::Relaxed),
        (finished - sending).as_secs_f64(),
        rtt.0,
        rtt.1,
    );
    if retries > 0 {
        note.push_str(&format!(
            "; {retries} retries of returns the census shed at its concurrency limit"
        ));
    }
    if failed > 0 {
        note.push_str(&format!(
            "; {failed} returns refused: {}",
            first_error.unwrap_or_default()
        ));
    }
    Ok(Row {
        path: format!(
            "census return → department notice on the watch stream, {} returns/s for {} s over {} firms (limit: max delay + 5 × a raw produce→consume round trip)",
            load.rate,
            load.time.as_secs(),
            load.firms
        ),
        unit: "firms",
        platform: Side {
            rate: notified as f64 / finished.as_secs_f64(),
            p50_ms: quantile(0.5),
            p99_ms: quantile(0.99),
        },
        limit: Some(Side {
            rate: 1e3 / limit(rtt.1),
            p50_ms: limit(rtt.0),
            p99_ms: limit(rtt.1),
        }),
        target: Target::P99AtMost(1.0),
        note,
        cpu: None,
    })
}

/// `count` round trips, one after the other, of one message through a topic of its own on
/// the same broker (the platform's idempotent acks=all producer, a consumer already
/// assigned): (p50, p99) in milliseconds.
async fn round_trips(prefix: &str, count: u32) -> anyhow::Result<(f64, f64)> {
    let bootstrap = &testkit::stack().kafka_bootstrap;
    let topic = format!("{prefix}bench.round-trip");
    let producer = Producer::new(bootstrap, Duration::from_secs(30))?;
    producer.ensure_topics(&[&topic], 1).await?;
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("broker.address.family", "v4")
        .set("group.id", format!("{topic}.bench"))
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("fetch.wait.max.ms", "100")
        .create()?;
    consumer.subscribe(&[&topic])?;
    let event = |i: u32| CloudEvent {
        id: uuid::Uuid::now_v7(),
        ty: "bench.RoundTrip".into(),
        source: "bench".into(),
        subject: i.to_string(),
        time: chrono::Utc::now(),
        trace: HashMap::new(),
    };
    // The first message waits for the group join; it is not timed.
    let send = |i: u32| {
        let (producer, topic) = (&producer, &topic);
        async move {
            producer
                .send(topic, "k", &i.to_be_bytes(), &event(i))
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))
        }
    };
    send(0).await?;
    tokio::time::timeout(Duration::from_secs(60), first_message(&consumer)).await??;
    let mut histogram = new_histogram();
    for i in 1..=count {
        let started = Instant::now();
        send(i).await?;
        tokio::time::timeout(Duration::from_secs(30), consumer.recv()).await??;
        let _ = histogram.record(started.elapsed().as_micros().max(1) as u64);
    }
    let ms = |q: f64| histogram.value_at_quantile(q) as f64 / 1e3;
    Ok((ms(0.5), ms(0.99)))
}

/// The first message of a topic just created. Until the consumer's metadata shows the topic,
/// it reports it unknown (once per metadata refresh): that is waited through, not a failure.
async fn first_message(consumer: &StreamConsumer) -> anyhow::Result<()> {
    loop {
        match consumer.recv().await {
            Ok(_) => return Ok(()),
            Err(KafkaError::MessageConsumption(RDKafkaErrorCode::UnknownTopicOrPartition)) => {}
            Err(error) => return Err(error.into()),
        }
    }
}
