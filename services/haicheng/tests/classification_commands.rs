//! The class, model and notice commands end to end: census and classification started in
//! this process through `testkit::spawn` (real PostgreSQL and broker, one topic prefix per
//! test), ten firms of one segment registered and given returns, then the real `haicheng`
//! binary reads their classes, explains one, counts the distribution, lists, acknowledges
//! and watches finance's notices, and sets a new model. One test per behaviour; each starts
//! its own services.

mod support;

use std::{
    path::Path,
    process::{Output, Stdio},
    time::Duration,
};

use haicheng_proto::{
    census::v1::{self as census_pb, census_service_client::CensusServiceClient},
    classification::v1::{self as pb, classification_service_client::ClassificationServiceClient},
    common::v1 as common,
};
use serde_json::Value;
use testkit::{Service, Usccs, unique_name, wait_until, with_token};
use tokio::io::{AsyncBufReadExt, BufReader};

const FIRMS: usize = 10;

/// Census and classification on one topic prefix, with the firms graded.
struct Graded {
    census: Service,
    classification: Service,
    /// The firms' codes; firm `i` pays more tax per mu the higher `i` is.
    usccs: Usccs,
    /// Where the CLI reaches classification.
    address: String,
}

impl Graded {
    /// Starts both services, loads the firms and waits until every one is graded.
    async fn start() -> Self {
        let classification = start_classification().await;
        let census = testkit::spawn(
            census::Config::from_lookup,
            census::run,
            &[("KAFKA_TOPIC_PREFIX", &classification.prefix)],
        )
        .await;
        let usccs = Usccs::new();
        load_firms(&census, &usccs).await;
        let client = ClassificationServiceClient::new(classification.channel.clone());
        let classified = wait_until(Duration::from_secs(120), || {
            let mut client = client.clone();
            async move {
                let request = pb::ListClassesRequest {
                    page_size: 100,
                    ..Default::default()
                };
                client
                    .list_classes(with_token("dev-commerce", request))
                    .await
                    .is_ok_and(|r| {
                        let list = r.into_inner().classifications;
                        list.len() == FIRMS
                            && list.iter().all(|c| c.grading == pb::Grading::Graded as i32)
                    })
            }
        })
        .await;
        assert!(classified, "every firm was classified within 2 minutes");
        Self {
            address: classification.address.to_string(),
            census,
            classification,
            usccs,
        }
    }

    async fn stop(self) {
        self.classification.stop().await;
        self.census.stop().await;
    }
}

/// Classification alone, on a topic prefix of its own. Notices go out 1 s after the period's
/// last change instead of the default 30 s, which is as long as the watch test waits.
async fn start_classification() -> Service {
    platform::telemetry::init_for_tests();
    let prefix = format!("{}.", unique_name("cli"));
    testkit::spawn(
        classification::Config::from_lookup,
        classification::run,
        &[
            ("KAFKA_TOPIC_PREFIX", &prefix),
            (classification::config::vars::NOTICE_SETTLE, "1s"),
        ],
    )
    .await
}

/// Registers the firms (textile, Ganwang, registered long ago) and submits a 2025 return
/// for each; firm `i` pays more tax per mu the higher `i` is.
async fn load_firms(census: &Service, usccs: &Usccs) {
    let requests = (0..FIRMS).map(|i| census_pb::RegisterEnterpriseRequest {
        uscc: usccs.nth(i),
        name: format!("感王纺织{i}号有限公司"),
        legal_representative: "李娜".into(),
        park: common::Park::Ganwang as i32,
        industry_class: "1711".into(),
        size: census_pb::EnterpriseSize::Small as i32,
        registration_date: "2015-03-01".into(),
        ..Default::default()
    });
    support::register(census, requests).await;
    let mut client = CensusServiceClient::new(census.channel.clone());
    for i in 0..FIRMS {
        let land = 5_000;
        let request = census_pb::SubmitReturnRequest {
            client_request_id: format!("cli-class-{i}"),
            uscc: usccs.nth(i),
            period: testkit::period("2025"),
            indicators: Some(census_pb::CensusIndicators {
                employees_total: 100,
                production_staff: 70,
                rd_spend_fen: 100_000_000,
                revenue_fen: 5_000_000_000,
                industrial_output_fen: 4_000_000_000,
                tax_paid_fen: (10_000 + 1_000 * i as i64) * land,
                export_sales_fen: 500_000_000,
                automation_share_percent: 50.0,
                invention_patents: 3,
                land_used_centi_mu: land,
                energy_use_tce: Some(100.0),
                ..Default::default()
            }),
            sources: None,
        };
        client
            .submit_return(with_token("dev-commerce", request))
            .await
            .expect("submitted");
    }
}

async fn haicheng(classification: &str, token: &str, args: &[&str]) -> Output {
    support::run(command(classification, token, args), args).await
}

fn command(classification: &str, token: &str, args: &[&str]) -> tokio::process::Command {
    let mut command = support::command(args);
    command
        .env("HAICHENG_CLASSIFICATION_ADDR", classification)
        .env("HAICHENG_TOKEN", token);
    command
}

fn json(output: &Output) -> Value {
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the output is JSON")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn write(path: &Path, value: &Value) -> String {
    std::fs::write(path, value.to_string()).unwrap();
    path.display().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn class_list_reads_every_page_filters_in_lower_case_and_prints_a_table() {
    let graded = Graded::start().await;
    let address = graded.address.as_str();
    // class list: every page, filters typed in lower case.
    let all = json(
        &haicheng(
            address,
            "dev-finance",
            &["class", "list", "-o", "json", "--all", "--page-size", "3"],
        )
        .await,
    );
    assert_eq!(all["classifications"].as_array().unwrap().len(), FIRMS);
    assert_eq!(all["nextPageToken"], "");
    let leaders = json(
        &haicheng(
            address,
            "dev-finance",
            &[
                "class",
                "list",
                "--class",
                "a",
                "--segment",
                "textile",
                "-o",
                "json",
            ],
        )
        .await,
    );
    let leaders = leaders["classifications"].as_array().unwrap();
    assert!(!leaders.is_empty());
    assert!(
        leaders
            .iter()
            .all(|c| c["enterpriseClass"] == "ENTERPRISE_CLASS_A")
    );
    assert_eq!(
        leaders[0]["uscc"],
        graded.usccs.nth(FIRMS - 1),
        "the highest tax per mu leads"
    );
    let table = haicheng(address, "dev-finance", &["class", "list"]).await;
    assert!(text(&table.stdout).starts_with("SEGMENT      RANK  USCC"));
    graded.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn class_show_and_explain_print_the_breakdown_and_the_gap_to_the_next_class() {
    let graded = Graded::start().await;
    let address = graded.address.as_str();
    // class show and explain of the last firm.
    let last = graded.usccs.nth(0);
    let shown = haicheng(address, "dev-finance", &["class", "show", &last]).await;
    assert_eq!(shown.status.code(), Some(0));
    let shown = text(&shown.stdout);
    assert!(shown.contains("class          C\n"), "{shown}");
    assert!(shown.contains("\nINDICATOR "), "the breakdown: {shown}");
    let explained = haicheng(address, "dev-finance", &["class", "explain", &last]).await;
    let explained = text(&explained.stdout);
    assert!(
        explained.contains("to reach class B: "),
        "the gap: {explained}"
    );
    let explained = json(
        &haicheng(
            address,
            "dev-finance",
            &["class", "explain", &last, "-o", "json"],
        )
        .await,
    );
    assert_eq!(
        explained["nextClassGap"]["targetClass"],
        "ENTERPRISE_CLASS_B"
    );
    assert!(
        explained["classification"]["breakdown"][0]["unit"]
            .as_str()
            .is_some_and(|unit| !unit.is_empty()),
        "{explained}"
    );
    // The firm itself, with its enterprise token: its explanation, each indicator with its
    // unit; another firm's class is refused.
    let firm = format!("dev-enterprise-{last}");
    let own = haicheng(address, &firm, &["class", "explain", &last]).await;
    assert_eq!(own.status.code(), Some(0), "{}", text(&own.stderr));
    let own = text(&own.stdout);
    for unit in [
        "yuan per mu",
        "per cent",
        "yuan per employee",
        "patents per 100 employees",
    ] {
        assert!(own.contains(unit), "{unit}: {own}");
    }
    let other = haicheng(address, &firm, &["class", "show", &graded.usccs.nth(1)]).await;
    assert_eq!(other.status.code(), Some(1));
    assert!(
        text(&other.stderr).starts_with("error: PERMISSION_DENIED: "),
        "{}",
        text(&other.stderr)
    );
    graded.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn class_distribution_adds_up_to_the_cohort() {
    let graded = Graded::start().await;
    let address = graded.address.as_str();
    // class distribution: the total adds up to the cohort.
    let distribution = json(
        &haicheng(
            address,
            "dev-finance",
            &["class", "distribution", "-o", "json"],
        )
        .await,
    );
    let total = &distribution["total"];
    let counted: i64 = ["classA", "classB", "classC"]
        .iter()
        .map(|k| total[k].as_i64().unwrap())
        .sum();
    assert_eq!(counted, FIRMS as i64);
    assert_eq!(distribution["period"], "2025");
    let table = haicheng(address, "dev-finance", &["class", "distribution"]).await;
    assert!(text(&table.stdout).contains("\nGANWANG  TEXTILE  "));
    graded.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn finance_lists_and_acknowledges_its_notices_and_tax_cannot_see_them() {
    let graded = Graded::start().await;
    let address = graded.address.as_str();
    // notices: finance's list, one acknowledged, the watch from the start.
    let notices = wait_until(Duration::from_secs(60), || async {
        let listed = haicheng(address, "dev-finance", &["notices", "list", "-o", "json"]).await;
        listed.status.success()
            && serde_json::from_slice::<Value>(&listed.stdout)
                .is_ok_and(|v| !v["notices"].as_array().unwrap().is_empty())
    })
    .await;
    assert!(notices, "finance received notices");
    let listed = json(
        &haicheng(
            address,
            "dev-finance",
            &["notices", "list", "--state", "open", "-o", "json", "--all"],
        )
        .await,
    );
    let first = &listed["notices"][0]["notice"];
    assert_eq!(first["department"], "DEPARTMENT_FINANCE");
    let id = first["noticeId"].as_str().unwrap().to_string();
    // The filters: one firm's notices of the period, and a bad USCC named.
    let uscc = first["uscc"].as_str().unwrap().to_string();
    let one_firm = json(
        &haicheng(
            address,
            "dev-finance",
            &[
                "notices", "list", "--uscc", &uscc, "--period", "2025", "--all", "-o", "json",
            ],
        )
        .await,
    );
    let found = one_firm["notices"].as_array().unwrap();
    assert!(!found.is_empty(), "{one_firm}");
    assert!(
        found.iter().all(|e| e["notice"]["uscc"] == uscc.as_str()),
        "{one_firm}"
    );
    let everyone = listed["notices"].as_array().unwrap().len();
    let firm_open = found
        .iter()
        .filter(|e| e["state"] == "NOTICE_STATE_OPEN")
        .count();
    assert!(firm_open < everyone, "the filter narrowed the list");
    let bad = haicheng(
        address,
        "dev-finance",
        &["notices", "list", "--uscc", "91210381MA0Q1234"],
    )
    .await;
    assert_eq!(bad.status.code(), Some(1));
    let bad = text(&bad.stderr);
    assert!(
        bad.starts_with("error: INVALID_ARGUMENT: ") && bad.contains("\n  uscc: "),
        "{bad}"
    );
    let acked = haicheng(address, "dev-finance", &["notices", "ack", &id]).await;
    assert_eq!(acked.status.code(), Some(0));
    assert!(
        text(&acked.stdout).starts_with(&format!("notice {id} acknowledged\n")),
        "{}",
        text(&acked.stdout)
    );
    let acknowledged = json(
        &haicheng(
            address,
            "dev-finance",
            &["notices", "list", "--state", "ACKNOWLEDGED", "-o", "json"],
        )
        .await,
    );
    assert_eq!(acknowledged["notices"][0]["notice"]["noticeId"], id);
    let foreign = haicheng(address, "dev-tax", &["notices", "ack", &id]).await;
    assert_eq!(
        foreign.status.code(),
        Some(1),
        "tax cannot see finance's notice"
    );
    assert!(text(&foreign.stderr).starts_with("error: NOT_FOUND: "));
    graded.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn notices_watch_prints_json_lines_from_the_start_and_ends_on_ctrl_c() {
    let graded = Graded::start().await;
    let address = graded.address.as_str();
    let mut watch = command(address, "dev-finance", &["notices", "watch", "-o", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(watch.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("a notice within 30 s")
        .unwrap()
        .expect("the watch runs");
    let watched: Value = serde_json::from_str(&line).unwrap();
    assert!(!watched["cursor"].as_str().unwrap().is_empty());
    assert_eq!(watched["notice"]["department"], "DEPARTMENT_FINANCE");
    platform::process::signal(watch.id().expect("running"), libc::SIGINT).unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(30), watch.wait())
        .await
        .expect("Ctrl-C ends the watch")
        .unwrap();
    assert_eq!(ended.code(), Some(0));
    graded.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn model_set_is_refused_for_finance_stored_for_commerce_and_refused_when_stale() {
    let classification = start_classification().await;
    let address = classification.address.to_string();
    let address = address.as_str();
    // model get, edit, set: finance may not, commerce may once, a stale version is refused.
    let model = json(&haicheng(address, "dev-finance", &["model", "get", "-o", "json"]).await);
    assert_eq!(model["version"], 1);
    let dir = tempfile::tempdir().unwrap();
    let mut edited = model.clone();
    edited["quotaAPercent"] = Value::from(20.0);
    edited["note"] = Value::from("two leaders in ten");
    let file = write(&dir.path().join("model.json"), &edited);
    let denied = haicheng(address, "dev-finance", &["model", "set", "--file", &file]).await;
    assert_eq!(denied.status.code(), Some(1));
    assert!(text(&denied.stderr).starts_with("error: PERMISSION_DENIED: "));
    let stored = haicheng(address, "dev-commerce", &["model", "set", "--file", &file]).await;
    assert_eq!(stored.status.code(), Some(0), "{}", text(&stored.stderr));
    assert!(
        text(&stored.stdout).starts_with("model version 2 stored (it follows version 1)"),
        "{}",
        text(&stored.stdout)
    );
    let stale = haicheng(address, "dev-commerce", &["model", "set", "--file", &file]).await;
    assert_eq!(stale.status.code(), Some(1));
    assert!(
        text(&stale.stderr).starts_with("error: ABORTED: "),
        "{}",
        text(&stale.stderr)
    );
    let current = json(&haicheng(address, "dev-finance", &["model", "get", "-o", "json"]).await);
    assert_eq!(current["version"], 2);
    assert_eq!(current["quotaAPercent"], 20.0);
    assert_eq!(current["note"], "two leaders in ten");
    let first = haicheng(address, "dev-finance", &["model", "get", "--version", "1"]).await;
    assert!(text(&first.stdout).starts_with("version         1\n"));
    classification.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn class_publish_is_for_commerce_once_and_published_reads_answer_from_the_snapshot() {
    let graded = Graded::start().await;
    let address = graded.address.as_str();
    let first = graded.usccs.nth(0);
    // Nothing published yet: reading as published is refused, naming the period.
    let early = haicheng(
        address,
        "dev-finance",
        &["class", "show", &first, "--period", "2025", "--published"],
    )
    .await;
    assert_eq!(early.status.code(), Some(1));
    assert!(
        text(&early.stderr).starts_with("error: FAILED_PRECONDITION: ")
            && text(&early.stderr).contains("period 2025 is not published"),
        "{}",
        text(&early.stderr)
    );
    let denied = haicheng(
        address,
        "dev-finance",
        &["class", "publish", "--period", "2025"],
    )
    .await;
    assert_eq!(denied.status.code(), Some(1));
    assert!(text(&denied.stderr).starts_with("error: PERMISSION_DENIED: "));

    let published = json(
        &haicheng(
            address,
            "dev-commerce",
            &[
                "class", "publish", "--period", "2025", "--note", "doc 7", "-o", "json",
            ],
        )
        .await,
    )["publication"]
        .clone();
    assert_eq!(published["period"], "2025");
    assert_eq!(published["enterprises"], FIRMS as i64);
    assert_eq!(published["publishedBy"], "department:commerce");
    assert_eq!(published["note"], "doc 7");
    assert!(published["objectionDeadline"].is_string(), "{published}");

    let counted = json(
        &haicheng(
            address,
            "dev-finance",
            &["class", "distribution", "--published", "-o", "json"],
        )
        .await,
    );
    assert_eq!(counted["period"], "2025", "the latest published period");
    let shown = haicheng(
        address,
        "dev-finance",
        &["class", "show", &first, "--published"],
    )
    .await;
    assert_eq!(shown.status.code(), Some(0), "{}", text(&shown.stderr));
    assert!(text(&shown.stdout).contains(&first));

    let again = haicheng(
        address,
        "dev-commerce",
        &["class", "publish", "--period", "2025"],
    )
    .await;
    assert_eq!(again.status.code(), Some(1));
    assert!(
        text(&again.stderr).contains("was published at"),
        "{}",
        text(&again.stderr)
    );
    graded.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_enterprise_files_its_objection_and_commerce_upholds_it_through_the_cli() {
    let graded = Graded::start().await;
    let address = graded.address.as_str();
    // Firm 0 pays the least tax per mu: class C.
    let (firm, other) = (graded.usccs.nth(0), graded.usccs.nth(1));
    let own_token = format!("dev-enterprise-{firm}");
    let early = haicheng(
        address,
        &own_token,
        &[
            "objection",
            "file",
            "--period",
            "2025",
            "--uscc",
            &firm,
            "--reason",
            "too early",
        ],
    )
    .await;
    assert_eq!(early.status.code(), Some(1));
    assert!(
        text(&early.stderr).contains("not published"),
        "{}",
        text(&early.stderr)
    );
    let published = haicheng(
        address,
        "dev-commerce",
        &["class", "publish", "--period", "2025"],
    )
    .await;
    assert_eq!(
        published.status.code(),
        Some(0),
        "{}",
        text(&published.stderr)
    );

    let filed = json(
        &haicheng(
            address,
            &own_token,
            &[
                "objection",
                "file",
                "--period",
                "2025",
                "--uscc",
                &firm,
                "--reason",
                "export sales were left out",
                "--evidence",
                "customs-2025-0815",
                "--evidence",
                "https://example.org/declarations/7",
                "--class",
                "b",
                "-o",
                "json",
            ],
        )
        .await,
    )["objection"]
        .clone();
    assert_eq!(filed["state"], "OBJECTION_STATE_FILED");
    assert_eq!(filed["classAtFiling"], "ENTERPRISE_CLASS_C");
    assert_eq!(filed["requestedClass"], "ENTERPRISE_CLASS_B");
    assert_eq!(filed["filedBy"], format!("enterprise:{firm}"));
    assert_eq!(filed["evidence"].as_array().map(Vec::len), Some(2));
    assert!(filed["deadline"].is_string(), "{filed}");
    let id = filed["id"].as_i64().expect("an id").to_string();

    let foreign = haicheng(
        address,
        &own_token,
        &[
            "objection",
            "file",
            "--period",
            "2025",
            "--uscc",
            &other,
            "--reason",
            "theirs",
        ],
    )
    .await;
    assert_eq!(foreign.status.code(), Some(1));
    assert!(text(&foreign.stderr).starts_with("error: PERMISSION_DENIED: "));
    let blank = haicheng(
        address,
        "dev-commerce",
        &[
            "objection",
            "file",
            "--period",
            "2025",
            "--uscc",
            &other,
            "--reason",
            " ",
            "--evidence",
            "",
        ],
    )
    .await;
    assert_eq!(blank.status.code(), Some(1));
    let said = text(&blank.stderr);
    assert!(said.starts_with("error: INVALID_ARGUMENT"), "{said}");
    assert!(
        said.contains("  reason: ") && said.contains("  evidence[0]: "),
        "{said}"
    );

    let listed = haicheng(
        address,
        "dev-commerce",
        &["objection", "list", "--state", "filed"],
    )
    .await;
    assert_eq!(listed.status.code(), Some(0), "{}", text(&listed.stderr));
    let table = text(&listed.stdout);
    assert!(table.starts_with("ID  PERIOD"), "{table}");
    let row = table
        .lines()
        .find(|l| l.contains(&firm))
        .expect("the firm's row");
    assert!(row.contains("FILED") && row.contains("+08:00"), "{row}");

    let neither = haicheng(
        address,
        "dev-commerce",
        &[
            "objection",
            "decide",
            "--id",
            &id,
            "--reason",
            "no decision",
        ],
    )
    .await;
    assert_eq!(
        neither.status.code(),
        Some(2),
        "uphold or reject is required"
    );
    let by_firm = haicheng(
        address,
        &own_token,
        &[
            "objection",
            "decide",
            "--id",
            &id,
            "--uphold",
            "A",
            "--reason",
            "ours",
        ],
    )
    .await;
    assert_eq!(by_firm.status.code(), Some(1));
    assert!(text(&by_firm.stderr).starts_with("error: PERMISSION_DENIED: "));
    let decided = haicheng(
        address,
        "dev-commerce",
        &[
            "objection",
            "decide",
            "--id",
            &id,
            "--uphold",
            "B",
            "--reason",
            "customs declarations confirm the exports",
        ],
    )
    .await;
    assert_eq!(decided.status.code(), Some(0), "{}", text(&decided.stderr));
    let record = text(&decided.stdout);
    assert!(
        record.contains("UPHELD") && record.contains("department:commerce"),
        "{record}"
    );

    let class = json(
        &haicheng(
            address,
            "dev-commerce",
            &["class", "show", &firm, "--period", "2025", "-o", "json"],
        )
        .await,
    )["classification"]
        .clone();
    assert_eq!(class["enterpriseClass"], "ENTERPRISE_CLASS_B");
    assert_eq!(class["overridden"], true);
    let mine = json(&haicheng(address, &own_token, &["objection", "list", "-o", "json"]).await);
    assert_eq!(mine["objections"].as_array().map(Vec::len), Some(1));
    assert_eq!(mine["objections"][0]["state"], "OBJECTION_STATE_UPHELD");
    graded.stop().await;
}
