//! `haicheng census import` end to end: the real binary sends the shipped sample CSV to a
//! census service started in this process (real PostgreSQL and broker).

mod support;

use std::process::Output;

use haicheng_proto::common::v1 as common;

const SAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../census/samples/census-returns.csv"
);

/// The sample's enterprises, as its header comment lists them.
const ENTERPRISES: [(&str, common::Park, &str); 5] = [
    ("91210381MA0Q12343L", common::Park::Nantai, "1922"),
    ("91210381MA10ABCD69", common::Park::Ganwang, "1711"),
    ("91210381MA1HC8R2XL", common::Park::Xiliu, "1819"),
    ("91210381MA0XN7F315", common::Park::Zhongxiao, "1830"),
    ("92210381MA0UUR4K0L", common::Park::Xiliu, "5132"),
];

async fn import(address: &str, token: &str) -> Output {
    let args = ["census", "import", SAMPLE, "--census", address];
    let mut command = support::command(&args);
    command.env("HAICHENG_TOKEN", token);
    support::run(command, &args).await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sample_csv_imports_its_good_rows_reports_its_bad_ones_and_changes_nothing_the_second_time()
 {
    platform::telemetry::init_for_tests();
    let service = testkit::spawn(census::Config::from_lookup, census::run, &[]).await;
    let address = service.address.to_string();
    let requests = ENTERPRISES.map(|(uscc, park, class)| {
        support::registration(uscc, &format!("Sample enterprise {uscc}"), park, class)
    });
    support::register(&service, requests).await;

    let first = import(&address, "dev-census-import").await;
    let stdout = String::from_utf8_lossy(&first.stdout);
    println!("{stdout}");
    assert_eq!(
        first.status.code(),
        Some(1),
        "some rows are rejected\n{stdout}\n{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(
        stdout.contains("accepted   7 (0 already imported before)"),
        "{stdout}"
    );
    assert!(stdout.contains("rejected   8"), "{stdout}");
    for line in [
        "row    13  indicators.tax_paid_fen:",
        "row    15  indicators.production_staff:",
        "row    17  uscc:",
        "row    19  period:",
        "row    21  employees_total:",
        "row    23  indicators.rd_spend_fen:",
        "row    25  uscc:",
        "row    27  row:",
    ] {
        assert!(stdout.contains(line), "{line:?} missing from\n{stdout}");
    }

    let second = import(&address, "dev-census-import").await;
    let again = String::from_utf8_lossy(&second.stdout);
    assert_eq!(second.status.code(), Some(1));
    assert!(
        again.contains("accepted   7 (7 already imported before)"),
        "{again}"
    );

    let pool = service.pool.clone();
    let revisions: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT uscc, period, revision FROM census_returns ORDER BY uscc, period, revision",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(revisions.len(), 7, "{revisions:?}");
    assert!(
        revisions.contains(&("91210381MA0Q12343L".into(), "2025".into(), 2)),
        "the correction"
    );

    let refused = import(&address, "dev-finance").await;
    assert_eq!(
        refused.status.code(),
        Some(3),
        "a read-only token cannot import"
    );
    assert!(String::from_utf8_lossy(&refused.stderr).contains("census.write"));

    service.stop().await;
}
