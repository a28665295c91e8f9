//! The whole chain under faults: census → classification → notices, and the land-parcel,
//! trade-fair, support and inspection consumers, fed the same input with and without a fault, compared by the checker
//! (`system_tests::checker`): nothing lost, nothing applied twice, the same final state.
//!
//! `make test` runs each at 400 census events; `make faults` at 10,000
//! (`HAICHENG_FAULT_EVENTS`). Each prints its verdict line, and writes it under
//! `HAICHENG_FAULT_REPORT_DIR` when set (RELIABILITY.md's table).

use std::time::{Duration, Instant};

use haicheng_proto::{
    census::v1::{SubmitReturnRequest, census_service_client::CensusServiceClient},
    topics,
};
use platform::outbox::replay::{ReplayFrom, replay};
use sqlx::{Connection, PgConnection};
use system_tests::{
    chain::{Chain, Parts, Workload, connect},
    checker::Outcome,
    cluster::{Cluster, indicators, usccs},
};
use testkit::{Broker, Fault, FaultProxy, Postgres, replace_database, wait_until, with_token};
use tonic::Code;

/// How long the broker or a database stays away: `HAICHENG_FAULT_HOLD_SECS`, default 10.
fn hold() -> Duration {
    let secs = std::env::var("HAICHENG_FAULT_HOLD_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    Duration::from_secs(secs)
}

/// The same workload without a fault, on the shared stack: the reference.
async fn reference(workload: &Workload) -> Outcome {
    let mut chain = Chain::start(&Parts::default()).await;
    chain.feed(workload).await;
    let restarted = chain.settle(workload, "the fault-free run").await;
    assert_eq!(
        restarted,
        Vec::<&str>::new(),
        "nothing exits without a fault"
    );
    let outcome = Outcome::collect(&chain, workload, &testkit::stack().kafka_bootstrap).await;
    // The comparison means something only if the run evaluated grants and invited firms.
    for table in [
        "land-parcel.evaluations",
        "trade-fair.invitations WHERE status <> 'withdrawn'",
        "support.classes",
        "inspection.firms",
    ] {
        let rows = outcome.read_models[table].len();
        assert!(rows > 0, "the reference run has no rows in {table}");
        println!("reference: {rows} rows in {table}");
    }
    outcome
}

/// How a run under a fault ended: what it did, how long it took to settle after the fault,
/// and the processes that exited on their own and were started again.
struct Run {
    outcome: Outcome,
    recovered: Duration,
    restarted: Vec<&'static str>,
}

/// Asserts the run under `fault` lost nothing, applied nothing twice and ended where the
/// reference did; prints (and files) the verdict. No process may exit on its own unless
/// `exits_allowed` (a fatal Kafka error ends a service by design, and a network fault can
/// cause one: the verdict names them).
fn verdict(fault: &str, run: &Run, reference: &Outcome, exits_allowed: bool) {
    let Run {
        outcome,
        recovered,
        restarted,
    } = run;
    let differences = outcome.differences(reference);
    let line = format!(
        "{fault}: {}; differences from the fault-free run {}; settled {:.1} s after the fault ended; exited and restarted: {restarted:?}",
        outcome.summary(),
        differences.len(),
        recovered.as_secs_f64()
    );
    println!("{line}");
    if let Ok(dir) = std::env::var("HAICHENG_FAULT_REPORT_DIR") {
        let _ = std::fs::create_dir_all(&dir);
        let _ = std::fs::write(format!("{dir}/{fault}.txt"), format!("{line}\n"));
    }
    assert!(
        reference.problems.is_empty(),
        "the reference: {:?}",
        reference.problems
    );
    assert!(
        outcome.problems.is_empty(),
        "{fault}: {:?}",
        &outcome.problems[..outcome.problems.len().min(20)]
    );
    assert!(differences.is_empty(), "{fault}: {differences:?}");
    assert!(
        exits_allowed || restarted.is_empty(),
        "{fault}: no process should exit on its own: {restarted:?}"
    );
}

/// Feeds `workload` in the background and returns once the consumers are a third of the
/// way in: the moment a scenario strikes.
async fn begin(chain: &Chain, workload: &Workload) -> tokio::task::JoinHandle<()> {
    let feeding = chain.feed_in_background(workload).await;
    chain.wait_consumed(workload.events() / 3).await;
    feeding
}

/// After the fault (over at `over`): the import completes, the chain settles; returns what it
/// did, how long it took to settle after the fault, and what exited on its own meanwhile.
async fn finish(
    chain: &mut Chain,
    workload: &Workload,
    bootstrap: &str,
    feeding: tokio::task::JoinHandle<()>,
    over: Instant,
) -> Run {
    feeding.await.expect("the import");
    let restarted = chain.settle(workload, "the run under the fault").await;
    let recovered = over.elapsed();
    Run {
        outcome: Outcome::collect(chain, workload, bootstrap).await,
        recovered,
        restarted,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_broker_killed_for_a_while_mid_run_loses_nothing_and_applies_nothing_twice() {
    let workload = Workload::from_env();
    let expected = reference(&workload).await;

    let mut broker = Broker::reserve();
    broker.start();
    let parts = Parts {
        kafka_bootstrap: Some(broker.bootstrap()),
        ..Parts::default()
    };
    let mut chain = Chain::start(&parts).await;
    let bootstrap = broker.bootstrap();
    let feeding = begin(&chain, &workload).await;
    broker.kill();
    tokio::time::sleep(hold()).await; // the fault's length, not a wait for a condition
    broker.start();
    let run = finish(&mut chain, &workload, &bootstrap, feeding, Instant::now()).await;
    verdict("broker killed", &run, &expected, true);
}

#[tokio::test(flavor = "multi_thread")]
async fn classification_s_postgres_crashed_mid_run_loses_nothing_and_applies_nothing_twice() {
    let workload = Workload::from_env();
    let expected = reference(&workload).await;

    let postgres = Postgres::start();
    let admin_url = postgres.admin_url();
    let mut admin = PgConnection::connect(&admin_url).await.unwrap();
    sqlx::query("CREATE DATABASE classification_faults")
        .execute(&mut admin)
        .await
        .unwrap();
    admin.close().await.unwrap();
    let parts = Parts {
        classification_database: Some(replace_database(&admin_url, "classification_faults")),
        ..Parts::default()
    };
    let mut chain = Chain::start(&parts).await;
    let bootstrap = testkit::stack().kafka_bootstrap.clone();
    let feeding = begin(&chain, &workload).await;
    postgres.crash();
    tokio::time::sleep(hold()).await; // the fault's length, not a wait for a condition
    postgres.restart();
    let run = finish(&mut chain, &workload, &bootstrap, feeding, Instant::now()).await;
    verdict(
        "classification's PostgreSQL -m immediate",
        &run,
        &expected,
        false,
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_process_killed_at_once_mid_import_then_restarted_loses_nothing() {
    let workload = Workload::from_env();
    let expected = reference(&workload).await;

    let mut chain = Chain::start(&Parts::default()).await;
    let bootstrap = testkit::stack().kafka_bootstrap.clone();
    let feeding = begin(&chain, &workload).await;
    for process in chain.processes() {
        process.kill().await;
    }
    let over = Instant::now();
    for process in chain.processes() {
        process.restart();
    }
    for process in chain.processes() {
        process
            .wait_serving(Duration::from_secs(60))
            .await
            .expect("serving again after the kill");
    }
    let run = finish(&mut chain, &workload, &bootstrap, feeding, over).await;
    verdict("every process SIGKILLed", &run, &expected, false);
}

#[tokio::test(flavor = "multi_thread")]
async fn consumers_killed_while_consuming_apply_each_event_once() {
    let workload = Workload::from_env();
    let expected = reference(&workload).await;

    let mut chain = Chain::start(&Parts::default()).await;
    let bootstrap = testkit::stack().kafka_bootstrap.clone();
    let feeding = begin(&chain, &workload).await;
    // Land-parcel, trade-fair, support and inspection killed while busy, twice: a kill lands
    // between some event's effect and the offset commit that follows it (the inbox's own
    // tests stage that exact moment in-process).
    for _ in 0..2 {
        for consumer in chain.downstream() {
            consumer.kill().await;
            consumer.restart();
        }
        for consumer in chain.downstream() {
            consumer
                .wait_serving(Duration::from_secs(60))
                .await
                .expect("serving again");
        }
    }
    let over = Instant::now();
    let run = finish(&mut chain, &workload, &bootstrap, feeding, over).await;
    verdict(
        "land-parcel, trade-fair, support and inspection SIGKILLed",
        &run,
        &expected,
        false,
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replay_of_census_s_outbox_from_the_start_while_consumers_run_applies_nothing_twice() {
    let workload = Workload::from_env();
    let expected = reference(&workload).await;

    let mut chain = Chain::start(&Parts::default()).await;
    let bootstrap = testkit::stack().kafka_bootstrap.clone();
    let census = chain.census_db().await;
    let feeding = begin(&chain, &workload).await;
    let replayed = replay(&census, ReplayFrom::Id(0), None)
        .await
        .expect("replaying")
        .rows;
    let run = finish(&mut chain, &workload, &bootstrap, feeding, Instant::now()).await;
    assert!(replayed > 0, "the replay re-queued the events sent so far");
    let copies = run.outcome.wire[topics::CENSUS_EVENTS].copies as i64;
    assert!(
        copies >= replayed,
        "the replayed events are on the broker twice: {copies} copies, {replayed} replayed"
    );
    verdict(
        "census's outbox replayed from the start",
        &run,
        &expected,
        false,
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_lossy_link_to_the_broker_loses_nothing_and_applies_nothing_twice() {
    let workload = Workload::from_env();
    let expected = reference(&workload).await;

    // Every connection to the broker goes through the proxy: the broker advertises its port.
    let proxy_port = testkit::process::free_port();
    let mut broker = Broker::reserve_advertising(proxy_port);
    let upstream = format!("127.0.0.1:{}", broker.port).parse().unwrap();
    let proxy = FaultProxy::start_on(proxy_port, upstream).await.unwrap();
    broker.start();
    let bootstrap = proxy.addr().to_string();
    let parts = Parts {
        kafka_bootstrap: Some(bootstrap.clone()),
        ..Parts::default()
    };
    let mut chain = Chain::start(&parts).await;
    proxy.set(Fault::Lossy {
        latency: Duration::from_millis(200),
        reset_every: 25,
    });
    let feeding = chain.feed_in_background(&workload).await;
    // Lossy until census has sent every event of the workload through it, or for a minute at
    // most (at 10,000 events the link is slower than the import): then a clean link to settle.
    let census = chain.census_db().await;
    let events = workload.events() as i64;
    wait_until(Duration::from_secs(60), || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT (SELECT count(*) FROM outbox) - (SELECT count(*) FROM outbox_unsent)",
        )
        .fetch_one(&census)
        .await
        .is_ok_and(|sent| sent == events)
    })
    .await;
    let resets = proxy.resets();
    proxy.set(Fault::None);
    let run = finish(&mut chain, &workload, &bootstrap, feeding, Instant::now()).await;
    assert!(resets > 0, "the link did cut connections");
    verdict("slow lossy link to the broker", &run, &expected, true);
}

/// "The commit succeeded but the caller saw a timeout": the proxy in front of census lets
/// the request through and swallows the reply. The caller retries with the same request id
/// and gets the stored revision; one event is published.
#[tokio::test(flavor = "multi_thread")]
async fn a_reply_lost_after_the_commit_is_answered_from_the_stored_revision_with_one_event() {
    let cluster = Cluster::start(&[]).await;
    let firm = usccs(1).remove(0);
    cluster.register(std::slice::from_ref(&firm)).await;
    let upstream = cluster.census.address.parse().unwrap();
    let proxy = FaultProxy::start(upstream).await.unwrap();
    let channel = testkit::tls::connect(proxy.addr(), &system_tests::pki().client)
        .await
        .expect("connecting through the proxy");
    let request = || {
        let mut request = with_token(
            "dev-commerce",
            SubmitReturnRequest {
                client_request_id: "commit-then-timeout".into(),
                uscc: firm.clone(),
                period: testkit::period("2024"),
                indicators: Some(indicators(1_000)),
                sources: None,
            },
        );
        request.set_timeout(Duration::from_secs(3));
        request
    };

    proxy.set(Fault::SwallowReplies);
    let lost = CensusServiceClient::new(channel.clone())
        .submit_return(request())
        .await
        .expect_err("the reply never came");
    assert!(
        matches!(
            lost.code(),
            Code::DeadlineExceeded | Code::Cancelled | Code::Unavailable
        ),
        "{lost:?}"
    );
    let census = connect(&cluster.census.database_url).await;
    let stored = wait_until(Duration::from_secs(10), || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM census_returns WHERE client_request_id = 'commit-then-timeout'",
        )
        .fetch_one(&census)
        .await
        .is_ok_and(|n| n == 1)
    })
    .await;
    assert!(
        stored,
        "the commit happened although the caller saw no reply"
    );

    proxy.set(Fault::None);
    proxy.reset();
    let channel = testkit::tls::connect(proxy.addr(), &system_tests::pki().client)
        .await
        .expect("connecting again");
    let again = CensusServiceClient::new(channel)
        .submit_return(request())
        .await
        .expect("the retry is answered")
        .into_inner();
    assert!(again.duplicate, "the retry found the stored revision");
    assert_eq!(again.census_return.map(|r| r.revision), Some(1));

    let events: Vec<String> = sqlx::query_scalar(
        "SELECT event_id::text FROM outbox WHERE topic = $1 AND ce_type LIKE '%CensusReturnSubmitted'",
    )
    .bind(topics::CENSUS_EVENTS)
    .fetch_all(&census)
    .await
    .unwrap();
    assert_eq!(events.len(), 1, "one event for the one revision");
    let wanted = events.iter().cloned().collect();
    let on_wire = testkit::ce_ids_on(
        &testkit::stack().kafka_bootstrap,
        &format!("{}{}", cluster.prefix, topics::CENSUS_EVENTS),
        &wanted,
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(
        on_wire.get(&events[0]),
        Some(&1),
        "the return's event is on the broker once: {on_wire:?}"
    );
}
