//! Coalescing: a burst of returns is ranked in a few re-ranks, not one per return.

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
