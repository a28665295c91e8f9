//! A re-rank covers only the cohorts whose firms changed, and writes only the rows that
//! changed (issue 24): the other cohorts' rows are not touched, and a re-rank that changes
//! nothing writes no class row and no event.

use std::collections::HashMap;

use haicheng_proto::common::v1::Segment;

use super::*;

const PERIOD: &str = "2031";

/// Every class row of the period: USCC → (the transaction that last wrote it, rank, score).
async fn rows(app: &App) -> HashMap<String, (String, i32, f64)> {
    let rows: Vec<(String, String, i32, f64)> = sqlx::query_as(
        "SELECT uscc, xmin::text, rank, score FROM classifications WHERE period = $1",
    )
    .bind(PERIOD)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    rows.into_iter()
        .map(|(uscc, xmin, rank, score)| (uscc, (xmin, rank, score)))
        .collect()
}

/// The latest re-rank of the period: (firms read, rows written, classes changed, cohorts).
async fn last_run(app: &App) -> (i32, i32, i32, Option<Vec<String>>) {
    sqlx::query_as(
        "SELECT firms, rows_written, changed_classes, segments FROM rerank_runs
         WHERE period = $1 ORDER BY id DESC LIMIT 1",
    )
    .bind(PERIOD)
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

/// Ten textile firms (codes 0..10) and ten apparel firms (10..20), one return each, ranked.
async fn two_cohorts(app: &App) -> (Vec<String>, Vec<String>) {
    let textile: Vec<String> = (0..10).map(|i| app.uscc(i)).collect();
    let apparel: Vec<String> = (10..20).map(|i| app.uscc(i)).collect();
    for (i, uscc) in textile.iter().enumerate() {
        app.submit(uscc, PERIOD, 1, 1_000 + 100 * i as i64).await;
    }
    for (i, uscc) in apparel.iter().enumerate() {
        let mut message = app.census_return(uscc, PERIOD, 1, 1_000 + 100 * i as i64);
        message.segment = Segment::Apparel as i32;
        message.industry_class = "1811".into();
        app.publish(uscc, &message).await;
    }
    app.settled(PERIOD, 20, 20).await;
    (textile, apparel)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_return_re_ranks_only_its_cohort_and_leaves_the_others_rows_untouched() {
    let app = spawn_app().await;
    let (textile, apparel) = two_cohorts(&app).await;
    let before = rows(&app).await;
    let reranks = app.reranks(PERIOD).await;

    // The last textile firm's tax per mu falls from 1,900 to 500: every textile score moves
    // (the cohort's benchmark falls), and so do its ranks.
    app.submit(&textile[9], PERIOD, 2, 500).await;
    app.settled(PERIOD, 20, 21).await;

    assert!(app.reranks(PERIOD).await > reranks);
    let after = rows(&app).await;
    for uscc in &apparel {
        assert_eq!(after[uscc], before[uscc], "apparel row {uscc} untouched");
    }
    for uscc in &textile {
        assert_ne!(
            after[uscc].0, before[uscc].0,
            "textile row {uscc} rewritten"
        );
        assert_ne!(
            after[uscc].2, before[uscc].2,
            "textile score of {uscc} moved"
        );
    }
    assert_eq!(after[&textile[9]].1, 10, "now the last of its cohort");
    let (firms, written, _, segments) = last_run(&app).await;
    assert_eq!(firms, 10, "only the textile cohort was read");
    assert_eq!(written, 10);
    assert_eq!(segments, Some(vec!["TEXTILE".to_string()]));
    // The apparel cohort's benchmarks are still there, the textile one's replaced.
    let cohorts: Vec<(String, i32)> = sqlx::query_as(
        "SELECT segment, cohort_size FROM cohorts WHERE period = $1 ORDER BY segment",
    )
    .bind(PERIOD)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        cohorts,
        [("APPAREL".to_string(), 10), ("TEXTILE".to_string(), 10)]
    );

    // A change of an enterprise's record re-ranks every cohort of its periods.
    app.register(&apparel[0], 2, true).await;
    let reranked = wait_until(Duration::from_secs(60), || async {
        let (_, _, _, segments) = last_run(&app).await;
        let dirty: i64 = sqlx::query_scalar("SELECT count(*) FROM dirty_periods")
            .fetch_one(&app.pool)
            .await
            .unwrap();
        dirty == 0 && segments.is_none()
    })
    .await;
    assert!(
        reranked,
        "the whole period re-ranked after the record changed"
    );
    let (firms, _, _, _) = last_run(&app).await;
    assert_eq!(firms, 20);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_re_rank_that_changes_nothing_writes_no_row_and_no_event() {
    let app = spawn_app().await;
    two_cohorts(&app).await;
    let before = rows(&app).await;
    let events = |app: &App| {
        let pool = app.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(
                "SELECT count(*) FROM outbox WHERE ce_type = 'haicheng.classification.v1.EnterpriseClassified'",
            )
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    let events_before = events(&app).await;
    let reranks = app.reranks(PERIOD).await;

    // The whole period dirty again, as after a crash before its mark was cleared.
    sqlx::query("INSERT INTO dirty_periods VALUES ($1, 1, now(), now())")
        .bind(PERIOD)
        .execute(&app.pool)
        .await
        .unwrap();
    let done = wait_until(Duration::from_secs(60), || async {
        let dirty: i64 = sqlx::query_scalar("SELECT count(*) FROM dirty_periods")
            .fetch_one(&app.pool)
            .await
            .unwrap();
        dirty == 0 && app.reranks(PERIOD).await > reranks
    })
    .await;
    assert!(done, "re-ranked");
    assert_eq!(last_run(&app).await, (20, 0, 0, None));
    assert_eq!(rows(&app).await, before, "no class row written");
    assert_eq!(events(&app).await, events_before, "no event");
    app.stop().await;
}
