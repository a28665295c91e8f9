//! Coalescing: a burst of returns is ranked in a few re-ranks, not one per return. The
//! step-driven tests count the re-ranks the debounce itself gives on a virtual clock; the
//! service tests check the running re-ranker keeps to it.

use std::time::Duration;

use chrono::{TimeZone, Utc};
use classification::domain::coalescing::{Debounce, Dirty};
use futures::future::join_all;
use haicheng_proto::{classification::v1::GetDistributionRequest, common::v1::Period};

use crate::{as_dept, spawn_app};

#[tokio::test(flavor = "multi_thread")]
async fn a_burst_of_300_returns_is_ranked_in_far_fewer_re_ranks_than_returns() {
    let app = spawn_app().await;
    const FIRMS: usize = 300;
    let codes: Vec<String> = (0..FIRMS).map(|i| app.uscc(i)).collect();
    // Published concurrently, as an import would.
    join_all(
        codes
            .iter()
            .enumerate()
            .map(|(i, code)| app.submit(code, "2027", 1, 500 + i as i64)),
    )
    .await;
    app.settled("2027", FIRMS as i64, FIRMS as i64).await;

    let reranks = app.reranks("2027").await;
    println!("{FIRMS} returns were ranked in {reranks} re-ranks");
    assert!(reranks >= 1);
    assert!(
        reranks <= (FIRMS / 10) as i64,
        "{reranks} re-ranks for {FIRMS} returns is not coalescing"
    );

    // And the last state reflects every return.
    let distribution = app
        .client
        .clone()
        .get_distribution(as_dept(
            "park_committee",
            GetDistributionRequest {
                period: Some(Period {
                    code: "2027".into(),
                }),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let total = distribution.total.unwrap();
    assert_eq!((total.class_a, total.class_b, total.class_c), (30, 90, 180));
    assert_eq!(distribution.model_version, 1);
    assert_eq!(distribution.rows.len(), 1, "one park, one segment");
    let best = app.class_of(&codes[FIRMS - 1]).await;
    assert_eq!((best.rank, best.cohort_size), (1, FIRMS as i32));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_steady_trickle_is_still_re_ranked_within_the_maximum_delay() {
    // Returns 100 ms apart never leave the 500 ms quiet time the debounce waits for, so only
    // the maximum delay (1.5 s) can re-rank while they keep coming. The trickle goes on until
    // a re-rank is seen (at most 40 returns, 4 s): the 100 ms is the load's rate, not a wait.
    let app = crate::spawn_app_with(&[
        (classification::config::vars::RERANK_DEBOUNCE_MS, "500"),
        (classification::config::vars::RERANK_MAX_DELAY_MS, "1500"),
    ])
    .await;
    const MAX_FIRMS: usize = 40;
    // The consumer has joined once a first return is ranked.
    app.submit(&app.uscc(MAX_FIRMS), "2028", 1, 100).await;
    app.settled("2028", 1, 1).await;
    let before = app.reranks("2028").await;
    let mut rate = tokio::time::interval(std::time::Duration::from_millis(100));
    let mut sent = 0;
    while sent < MAX_FIRMS && app.reranks("2028").await == before {
        rate.tick().await;
        app.submit(&app.uscc(sent), "2028", 1, 500 + sent as i64)
            .await;
        sent += 1;
    }
    assert!(
        sent < MAX_FIRMS,
        "the maximum delay re-ranked while the returns kept coming"
    );
    app.settled("2028", sent as i64 + 1, sent as i64 + 1).await;
    let total = app.reranks("2028").await - before;
    println!("a trickle of {sent} returns, 100 ms apart, was re-ranked {total} times in all");
    assert!(
        total <= (sent / 3).max(2) as i64,
        "{total} re-ranks for {sent} returns"
    );
    app.stop().await;
}

/// The re-ranker's coalescing stepped through a virtual clock (no database, no waiting): the
/// changes arrive at `changes` (ms); the re-ranker wakes at each change (its LISTEN) and when
/// the period is due ([`Debounce::wait`]), and re-ranks a due period at once. Returns the time
/// of each re-rank and the longest a change waited for its re-rank.
fn step_reranks(debounce: Debounce, changes: &[i64]) -> (Vec<i64>, i64) {
    let at = |ms: i64| Utc.timestamp_millis_opt(1_700_000_000_000 + ms).unwrap();
    let mut dirty: Option<Dirty> = None;
    let mut first_ms = 0;
    let (mut reranks, mut longest) = (Vec::new(), 0);
    let mut pending = changes.iter().copied().peekable();
    let Some(mut now) = pending.peek().copied() else {
        return (reranks, longest);
    };
    loop {
        while let Some(change) = pending.next_if(|&t| t <= now) {
            if dirty.is_none() {
                first_ms = change;
            }
            dirty = Some(Dirty::mark(dirty, at(change)));
        }
        let next_change = pending.peek().copied();
        match dirty {
            Some(d) => {
                let wait = debounce.wait(d.first, d.last, at(now));
                if wait.is_zero() {
                    reranks.push(now);
                    longest = longest.max(now - first_ms);
                    dirty = None;
                    continue;
                }
                let due = now + wait.as_millis() as i64;
                now = next_change.map_or(due, |change| change.min(due));
            }
            None => match next_change {
                Some(change) => now = change,
                None => return (reranks, longest),
            },
        }
    }
}

#[test]
fn a_burst_is_one_re_rank_after_the_quiet_time() {
    let debounce = Debounce {
        debounce: Duration::from_millis(200),
        max_delay: Duration::from_millis(2000),
    };
    // 300 returns 1 ms apart: one re-rank, 200 ms after the last.
    let burst: Vec<i64> = (0..300).collect();
    assert_eq!(step_reranks(debounce, &burst), (vec![499], 499));
}

#[test]
fn a_steady_trickle_is_re_ranked_at_the_maximum_delay() {
    let debounce = Debounce {
        debounce: Duration::from_millis(500),
        max_delay: Duration::from_millis(1500),
    };
    // 40 returns 100 ms apart never leave 500 ms quiet: the maximum delay re-ranks at 1.5 s
    // and 3.1 s, the quiet time after the last one at 4.4 s; no change waits more than 1.5 s.
    let trickle: Vec<i64> = (0..40).map(|i| i * 100).collect();
    assert_eq!(
        step_reranks(debounce, &trickle),
        (vec![1500, 3100, 4400], 1500)
    );
}
