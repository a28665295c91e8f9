//! Bulk import: every row stands on its own, the report names each refused row, and the
//! same file twice changes nothing the second time.

use haicheng_proto::census::v1 as pb;

use tonic_types::StatusExt;

use crate::{COMMERCE, IMPORTER, good_indicators, new_uscc, period, register, spawn_with};

fn row(
    number: i64,
    id: &str,
    uscc: &str,
    period_code: &str,
    indicators: pb::CensusIndicators,
) -> pb::ImportReturnsRow {
    pb::ImportReturnsRow {
        row_number: number,
        client_request_id: id.into(),
        uscc: uscc.into(),
        period: period(period_code),
        indicators: Some(indicators),
        sources: None,
    }
}

async fn count(pool: &sqlx::PgPool, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_import_stores_the_good_rows_reports_each_bad_one_and_a_second_run_changes_nothing() {
    // Batches of three rows, so the file spans several transactions.
    let census = spawn_with(&[("CENSUS_IMPORT_BATCH_ROWS", "3")]).await;
    let mut commerce = census.client(COMMERCE);
    let (a, b, gone) = (new_uscc(), new_uscc(), new_uscc());
    for uscc in [&a, &b, &gone] {
        register(&mut commerce, uscc).await;
    }
    commerce
        .deregister_enterprise(pb::DeregisterEnterpriseRequest {
            uscc: gone.clone(),
            expected_version: 1,
            reason: "closed".into(),
        })
        .await
        .unwrap();

    let tag = uuid::Uuid::new_v4().simple().to_string();
    let id = |n: i64| format!("{tag}-{n}");
    let good = good_indicators();
    let mut negative_tax = good;
    negative_tax.tax_paid_fen = -1;
    let mut corrected = good;
    corrected.employees_total = 130;
    let mut two_faults = good;
    two_faults.production_staff = 500;
    two_faults.automation_share_percent = 140.0;
    let mut bad_check = a.clone();
    bad_check.replace_range(17.., if a.ends_with('0') { "1" } else { "0" });
    let mut changed = good;
    changed.export_sales_fen += 1;
    let rows = vec![
        row(2, &id(2), &a, "2025", good),
        row(3, &id(3), &a, "2025Q1", negative_tax),
        row(4, &id(4), &b, "2025", good),
        row(5, &id(5), &new_uscc(), "2025", good),
        row(6, &id(6), &bad_check, "2025", good),
        row(7, &id(7), &a, "2025", corrected),
        row(8, &id(8), &b, "2025Q2", two_faults),
        row(9, &id(9), &gone, "2025", good),
        row(10, &id(2), &a, "2025", good),
        row(11, &id(4), &b, "2025", changed),
    ];

    let mut importer = census.client(IMPORTER);
    let first = importer
        .import_returns(tokio_stream::iter(rows.clone()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.accepted_count, 4, "{first:?}");
    assert_eq!(first.duplicate_count, 1, "row 10 repeats row 2");
    let rejected: Vec<(i64, &str)> = first
        .rejected_rows
        .iter()
        .map(|r| (r.row_number, r.field.as_str()))
        .collect();
    assert_eq!(
        rejected,
        [
            (3, "indicators.tax_paid_fen"),
            (5, "uscc"),
            (6, "uscc"),
            (8, "indicators.production_staff"),
            (8, "indicators.automation_share_percent"),
            (9, "uscc"),
            (11, "client_request_id"),
        ]
    );
    assert!(first.rejected_rows.iter().all(|r| !r.reason.is_empty()));

    let pool = census.pool();
    let returns = count(&pool, "SELECT count(*) FROM census_returns").await;
    let events = count(&pool, "SELECT count(*) FROM outbox").await;
    assert_eq!(returns, 3, "rows 2, 4 and the correction in row 7");
    let revisions: Vec<(i64, i64, String)> = sqlx::query_as(
        "SELECT revision, employees_total, submitted_by FROM census_returns
         WHERE uscc = $1 AND period = '2025' ORDER BY revision",
    )
    .bind(&a)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        revisions,
        [
            (1, 120, "service:census-import".to_string()),
            (2, 130, "service:census-import".to_string())
        ]
    );

    let second = importer
        .import_returns(tokio_stream::iter(rows))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(second.accepted_count, 4);
    assert_eq!(
        second.duplicate_count, 4,
        "every accepted row is now a repeat"
    );
    assert_eq!(second.rejected_rows, first.rejected_rows);
    assert_eq!(
        count(&pool, "SELECT count(*) FROM census_returns").await,
        returns
    );
    assert_eq!(
        count(&pool, "SELECT count(*) FROM outbox").await,
        events,
        "no new events"
    );
    census.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_import_over_the_row_cap_is_refused_and_the_file_goes_through_in_parts() {
    // Batches of two rows and a cap of five: the sixth row refuses the stream.
    let census = spawn_with(&[
        ("CENSUS_IMPORT_BATCH_ROWS", "2"),
        ("CENSUS_IMPORT_MAX_ROWS", "5"),
    ])
    .await;
    let mut commerce = census.client(COMMERCE);
    let firms: Vec<String> = (0..8).map(|_| new_uscc()).collect();
    for uscc in &firms {
        register(&mut commerce, uscc).await;
    }
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let rows: Vec<pb::ImportReturnsRow> = firms
        .iter()
        .zip(1..)
        .map(|(uscc, n)| row(n, &format!("{tag}-{n}"), uscc, "2025", good_indicators()))
        .collect();

    let mut importer = census.client(IMPORTER);
    let refused = importer
        .import_returns(tokio_stream::iter(rows.clone()))
        .await
        .unwrap_err();
    assert_eq!(
        refused.code(),
        tonic::Code::ResourceExhausted,
        "{refused:?}"
    );
    assert!(refused.message().contains("split the file"), "{refused:?}");
    assert!(refused.get_details_retry_info().is_some(), "a RetryInfo");
    let quota = refused.get_details_quota_failure().expect("a QuotaFailure");
    assert!(quota.violations[0].description.contains('5'), "{quota:?}");
    // What committed before the sixth row arrived stays (each row stands on its own): the
    // two batches read before it; the batch being read when it came is dropped.
    let pool = census.pool();
    let stored = count(&pool, "SELECT count(*) FROM census_returns").await;
    assert_eq!(stored, 4, "rows 1 to 4");

    // Split: a part at the cap passes, and the rows stored before are duplicates.
    let first = importer
        .import_returns(tokio_stream::iter(rows[..5].to_vec()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((first.accepted_count, first.duplicate_count), (5, 4));
    let second = importer
        .import_returns(tokio_stream::iter(rows[5..].to_vec()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((second.accepted_count, second.duplicate_count), (3, 0));
    assert_eq!(count(&pool, "SELECT count(*) FROM census_returns").await, 8);
    census.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_import_that_keeps_sending_outlives_the_request_deadline() {
    // A request deadline far shorter than this import, whose every row waits until the one
    // before it is stored: client streams are bounded by the silence between messages only.
    let census = spawn_with(&[
        ("CENSUS_IMPORT_BATCH_ROWS", "1"),
        ("REQUEST_TIMEOUT_MS", "200"),
        ("STREAM_IDLE_TIMEOUT_MS", "60000"),
    ])
    .await;
    let mut commerce = census.client(COMMERCE);
    let firms: Vec<String> = (0..5).map(|_| new_uscc()).collect();
    for uscc in &firms {
        register(&mut commerce, uscc).await;
    }
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    let mut importer = census.client(IMPORTER);
    let call = tokio::spawn(async move {
        importer
            .import_returns(tokio_stream::wrappers::ReceiverStream::new(rx))
            .await
    });
    let pool = census.pool();
    for (uscc, n) in firms.iter().zip(1..) {
        tx.send(row(
            n,
            &format!("{tag}-{n}"),
            uscc,
            "2025",
            good_indicators(),
        ))
        .await
        .unwrap();
        // Batches of one row are stored one behind the read: row n-1 is stored once row n
        // arrived, and the last when the stream ends.
        if n > 1 {
            let stored = testkit::wait_until(std::time::Duration::from_secs(30), || {
                let pool = pool.clone();
                async move { count(&pool, "SELECT count(*) FROM census_returns").await >= n - 1 }
            })
            .await;
            assert!(stored, "row {} was not stored", n - 1);
        }
    }
    drop(tx);
    let report = call
        .await
        .unwrap()
        .expect("the import lives on")
        .into_inner();
    assert_eq!((report.accepted_count, report.duplicate_count), (5, 0));
    assert!(
        report.rejected_rows.is_empty(),
        "{:?}",
        report.rejected_rows
    );
    assert_eq!(count(&pool, "SELECT count(*) FROM census_returns").await, 5);
    census.stop().await;
}
