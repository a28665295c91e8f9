//! The census client commands end to end: the real `haicheng` binary against a census
//! service started in this process through `testkit::spawn` (real PostgreSQL and broker):
//! `enterprise list` and `enterprise show` in both output formats, `census submit` accepted
//! and refused, and the exit codes of bad input (2), refusals (1) and an unreachable
//! service (3). One test per behaviour.

use std::process::Output;

mod support;

use haicheng_proto::common::v1 as common;
use serde_json::Value;
use testkit::Service;
use tokio::net::TcpListener;

const ENTERPRISES: [(&str, common::Park, &str, &str); 3] = [
    (
        "91210381MA0Q12343L",
        common::Park::Nantai,
        "1922",
        "南台箱包有限公司",
    ),
    (
        "91210381MA10ABCD69",
        common::Park::Ganwang,
        "1711",
        "感王纺织有限公司",
    ),
    (
        "91210381MA1HC8R2XL",
        common::Park::Xiliu,
        "1819",
        "西柳服饰有限公司",
    ),
];

/// The figures of a good return; `production_staff` is put in by the caller.
fn return_file(production_staff: i64) -> String {
    format!(
        r#"{{
          "indicators": {{
            "employees_total": 120, "production_staff": {production_staff}, "rd_technical_staff": 12,
            "management_sales_staff": 28, "college_educated_staff": 30,
            "rd_spend_fen": 150000000, "revenue_fen": 4800000000,
            "industrial_output_fen": 4500000000, "tax_paid_fen": 210000000,
            "export_sales_fen": 900000000, "equipment_value_fen": 1200000000,
            "automation_share_percent": 42.5, "equipment_level": "domestic_advanced",
            "invention_patents": 2, "utility_model_patents": 7, "design_patents": 15,
            "land_used_centi_mu": 3120, "energy_use_tce": 640
          }},
          "sources": {{ "tax_paid_fen": "TAX" }}
        }}"#
    )
}

/// Runs `haicheng ARGS` with this token against the census at `address`.
async fn haicheng(address: &str, token: Option<&str>, args: &[&str]) -> Output {
    let mut command = support::command(args);
    command.env("HAICHENG_CENSUS_ADDR", address);
    if let Some(token) = token {
        command.env("HAICHENG_TOKEN", token);
    }
    support::run(command, args).await
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).expect("the output is JSON")
}

/// A census service on a free port, with the enterprises registered.
struct Census {
    address: String,
    service: Service,
}

impl Census {
    async fn start() -> Self {
        platform::telemetry::init_for_tests();
        let service = testkit::spawn(census::Config::from_lookup, census::run, &[]).await;
        let requests = ENTERPRISES
            .map(|(uscc, park, class, name)| support::registration(uscc, name, park, class));
        support::register(&service, requests).await;
        Self {
            address: service.address.to_string(),
            service,
        }
    }

    async fn stop(self) {
        self.service.stop().await;
    }
}

/// `haicheng census submit` of `file` for the first enterprise's 2025 return, with `extra`
/// arguments.
async fn submit(
    address: &str,
    token: &str,
    file: &std::path::Path,
    request_id: &str,
    extra: &[&str],
) -> Output {
    let file = file.display().to_string();
    let mut args = vec![
        "census",
        "submit",
        "--uscc",
        "91210381MA0Q12343L",
        "--period",
        "2025",
        "--request-id",
        request_id,
        "--file",
        &file,
    ];
    args.extend_from_slice(extra);
    haicheng(address, Some(token), &args).await
}

/// An address nobody listens on.
async fn nowhere() -> String {
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = closed.local_addr().unwrap().to_string();
    drop(closed);
    address
}

#[tokio::test(flavor = "multi_thread")]
async fn enterprise_list_reads_every_page_prints_a_table_and_filters_in_lower_case() {
    let census = Census::start().await;
    let address = census.address.as_str();
    let finance = Some("dev-finance");
    // Every page, followed by its tokens, as JSON.
    let all = haicheng(
        address,
        finance,
        &[
            "enterprise",
            "list",
            "-o",
            "json",
            "--page-size",
            "2",
            "--all",
        ],
    )
    .await;
    assert_eq!(all.status.code(), Some(0), "{}", stderr(&all));
    let listed = json(&all);
    let usccs: Vec<&str> = listed["enterprises"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["uscc"].as_str().unwrap())
        .collect();
    let mut expected: Vec<&str> = ENTERPRISES.iter().map(|e| e.0).collect();
    expected.sort();
    assert_eq!(usccs, expected, "every enterprise, in USCC order");
    assert_eq!(listed["nextPageToken"], "");
    assert_eq!(listed["enterprises"][0]["park"], "PARK_NANTAI");
    assert_eq!(
        listed["enterprises"][0]["segment"],
        "SEGMENT_LUGGAGE_LEATHER"
    );

    // One page as a table, the way on to the next on stderr.
    let page = haicheng(
        address,
        finance,
        &["enterprise", "list", "--page-size", "2"],
    )
    .await;
    assert_eq!(page.status.code(), Some(0));
    assert_eq!(stdout(&page).lines().count(), 3, "a header and two rows");
    assert!(stdout(&page).starts_with("USCC "), "{}", stdout(&page));
    assert!(stderr(&page).contains("more: --page-token "));

    // A filter typed in lower case.
    let xiliu = haicheng(
        address,
        finance,
        &["enterprise", "list", "--park", "xiliu", "-o", "json"],
    )
    .await;
    let xiliu = json(&xiliu);
    assert_eq!(xiliu["enterprises"].as_array().unwrap().len(), 1);
    assert_eq!(xiliu["enterprises"][0]["uscc"], "91210381MA1HC8R2XL");
    census.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_accepted_return_is_in_the_file_but_not_as_known_before_it_came() {
    let census = Census::start().await;
    let address = census.address.as_str();
    let finance = Some("dev-finance");
    let before = chrono::Utc::now().to_rfc3339();
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.json");
    std::fs::write(&good, return_file(80)).unwrap();
    let accepted = submit(address, "dev-commerce", &good, "cli-test-1", &[]).await;
    assert_eq!(accepted.status.code(), Some(0), "{}", stderr(&accepted));
    assert!(stdout(&accepted).starts_with("return accepted\n"));
    assert!(stdout(&accepted).contains("revision    1\n"));
    let again = submit(address, "dev-commerce", &good, "cli-test-1", &[]).await;
    assert!(stdout(&again).starts_with("already submitted with this request id"));

    let shown = haicheng(
        address,
        finance,
        &["enterprise", "show", "91210381MA0Q12343L"],
    )
    .await;
    assert_eq!(shown.status.code(), Some(0), "{}", stderr(&shown));
    let text = stdout(&shown);
    assert!(
        text.contains("name                  南台箱包有限公司\n"),
        "{text}"
    );
    assert!(text.contains("census returns (latest revision per period)\n"));
    assert!(text.contains("\n2025      1  "), "{text}");
    let file = haicheng(
        address,
        finance,
        &["enterprise", "show", "91210381MA0Q12343L", "-o", "json"],
    )
    .await;
    let file = json(&file);
    assert_eq!(file["enterprise"]["name"], "南台箱包有限公司");
    assert_eq!(file["returns"][0]["indicators"]["employeesTotal"], 120);
    assert_eq!(
        file["returns"][0]["sources"]["byIndicator"]["tax_paid_fen"],
        "FIGURE_SOURCE_TAX"
    );
    let earlier = haicheng(
        address,
        finance,
        &[
            "enterprise",
            "show",
            "91210381MA0Q12343L",
            "--as-of",
            &before,
            "-o",
            "json",
        ],
    )
    .await;
    assert_eq!(json(&earlier)["returns"], Value::Array(vec![]));
    census.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_return_prints_its_field_as_text_and_as_json_and_exits_1() {
    let census = Census::start().await;
    let address = census.address.as_str();
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, return_file(130)).unwrap();
    let refused = submit(address, "dev-commerce", &bad, "cli-test-2", &[]).await;
    assert_eq!(refused.status.code(), Some(1));
    let errors = stderr(&refused);
    assert!(errors.starts_with("error: INVALID_ARGUMENT: "), "{errors}");
    assert!(
        errors
            .lines()
            .any(|l| l.starts_with("  indicators.production_staff: ")),
        "one line for the field: {errors}"
    );
    assert!(stdout(&refused).is_empty());

    // The same with -o json: the error as JSON on stderr.
    let refused_json = submit(address, "dev-commerce", &bad, "cli-test-3", &["-o", "json"]).await;
    assert_eq!(refused_json.status.code(), Some(1));
    let error: Value = serde_json::from_slice(&refused_json.stderr).unwrap();
    assert_eq!(error["error"]["code"], "INVALID_ARGUMENT");
    assert_eq!(
        error["error"]["field_violations"][0]["field"],
        "indicators.production_staff"
    );
    census.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_enterprise_and_a_read_only_token_are_refused_with_exit_1() {
    let census = Census::start().await;
    let address = census.address.as_str();
    let finance = Some("dev-finance");
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.json");
    std::fs::write(&good, return_file(80)).unwrap();
    let unknown = haicheng(
        address,
        finance,
        &["enterprise", "show", "91210381MA1B2C3D82"],
    )
    .await;
    assert_eq!(unknown.status.code(), Some(1));
    assert!(stderr(&unknown).starts_with("error: NOT_FOUND: "));
    let read_only = submit(address, "dev-finance", &good, "cli-test-4", &[]).await;
    assert_eq!(read_only.status.code(), Some(1));
    assert!(stderr(&read_only).starts_with("error: PERMISSION_DENIED: "));
    census.stop().await;
}

/// Nothing is sent: against an address nobody listens on, sending would exit 3, not 2.
#[tokio::test(flavor = "multi_thread")]
async fn bad_local_input_sends_nothing_and_exits_2() {
    let address = nowhere().await;
    let address = address.as_str();
    let finance = Some("dev-finance");
    let dir = tempfile::tempdir().unwrap();
    let no_token = haicheng(address, None, &["enterprise", "list"]).await;
    assert_eq!(no_token.status.code(), Some(2));
    assert!(stderr(&no_token).contains("no token"));
    let bad_park = haicheng(
        address,
        finance,
        &["enterprise", "list", "--park", "dalian"],
    )
    .await;
    assert_eq!(bad_park.status.code(), Some(2));
    let typo = dir.path().join("typo.json");
    std::fs::write(&typo, return_file(80).replace("design_patents", "designs")).unwrap();
    let typo = submit(address, "dev-commerce", &typo, "cli-test-5", &[]).await;
    assert_eq!(typo.status.code(), Some(2));
    assert!(stderr(&typo).contains("designs"), "{}", stderr(&typo));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_census_exits_3() {
    let nowhere = nowhere().await;
    let finance = Some("dev-finance");
    let unreachable = haicheng(&nowhere, finance, &["enterprise", "list"]).await;
    assert_eq!(unreachable.status.code(), Some(3));
    assert!(
        stderr(&unreachable).starts_with("error: cannot reach the census service at "),
        "{}",
        stderr(&unreachable)
    );
}
