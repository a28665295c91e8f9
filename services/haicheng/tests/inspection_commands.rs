//! The inspection commands end to end: census, classification and inspection started in this
//! process through `testkit::spawn` (real PostgreSQL and broker, one topic prefix per test),
//! six firms registered and given returns so that classification grades them and inspection
//! learns their tiers from its events, then the real `haicheng` binary puts two departments'
//! items and rosters, draws their plans (printed with the joint-visit rate and the visits
//! saved), approves a visit, shows it to its firm with its code, records a result against the
//! code, has the firm rate it, and reads the counts per firm.

mod support;

use std::{process::Output, time::Duration};

use haicheng_proto::{
    census::v1::{self as census_pb, census_service_client::CensusServiceClient},
    common::v1 as common,
};
use serde_json::Value;
use testkit::{Service, Usccs, unique_name, wait_until, with_token};

const FIRMS: usize = 6;
const MS: &str = "dev-market-supervision";

/// A year whose every day is ahead, so an approved visit's code is valid.
const YEAR: &str = "2099";

struct Stack {
    census: Service,
    classification: Service,
    inspection: Service,
    usccs: Usccs,
}

impl Stack {
    /// The three services on one topic prefix, the firms loaded, and inspection holding every
    /// firm's class.
    async fn start() -> Self {
        platform::telemetry::init_for_tests();
        let prefix = format!("{}.", unique_name("cli-inspection"));
        let prefixed = [("KAFKA_TOPIC_PREFIX", prefix.as_str())];
        let classification = testkit::spawn(
            classification::Config::from_lookup,
            classification::run,
            &prefixed,
        )
        .await;
        let inspection = testkit::spawn(
            ::inspection::Config::from_lookup,
            ::inspection::run,
            &[
                ("KAFKA_TOPIC_PREFIX", prefix.as_str()),
                ("AUTH_DEVELOPMENT", "true"),
            ],
        )
        .await;
        let census = testkit::spawn(census::Config::from_lookup, census::run, &prefixed).await;
        let stack = Self {
            census,
            classification,
            inspection,
            usccs: Usccs::new(),
        };
        stack.load_firms().await;
        stack.wait_for_tiers().await;
        stack
    }

    /// Registers the firms (textile, Ganwang, registered long ago) with a 2025 return each.
    async fn load_firms(&self) {
        let requests = (0..FIRMS).map(|i| {
            support::registration(
                &self.usccs.nth(i),
                &format!("感王纺织{i}号有限公司"),
                common::Park::Ganwang,
                "1711",
            )
        });
        support::register(&self.census, requests).await;
        let mut client = CensusServiceClient::new(self.census.channel.clone());
        for i in 0..FIRMS {
            let land = 5_000;
            let request = census_pb::SubmitReturnRequest {
                client_request_id: format!("cli-inspection-{i}"),
                uscc: self.usccs.nth(i),
                period: Some(common::Period {
                    code: "2025".into(),
                }),
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

    /// Until `inspection tier` shows a class for every firm.
    async fn wait_for_tiers(&self) {
        let known = wait_until(Duration::from_secs(120), || async {
            let mut all = true;
            for i in 0..FIRMS {
                let uscc = self.usccs.nth(i);
                let shown = self
                    .haicheng(MS, &["inspection", "tier", &uscc, "-o", "json"])
                    .await;
                all = all
                    && shown.status.success()
                    && serde_json::from_slice::<Value>(&shown.stdout).is_ok_and(|v| {
                        v["enterpriseClass"]
                            .as_str()
                            .is_some_and(|c| c != "ENTERPRISE_CLASS_UNSPECIFIED")
                    });
            }
            all
        })
        .await;
        assert!(
            known,
            "inspection learnt every firm's class within 2 minutes"
        );
    }

    async fn haicheng(&self, token: &str, args: &[&str]) -> Output {
        let mut command = support::command(args);
        command
            .env(
                "HAICHENG_INSPECTION_ADDR",
                self.inspection.address.to_string(),
            )
            .env("HAICHENG_TOKEN", token);
        support::run(command, args).await
    }

    /// Runs as `token` and expects success.
    async fn ok(&self, token: &str, args: &[&str]) -> String {
        let output = self.haicheng(token, args).await;
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
        text(&output.stdout)
    }

    async fn stop(self) {
        self.census.stop().await;
        self.inspection.stop().await;
        self.classification.stop().await;
    }
}

fn json(output: &Output) -> Value {
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("the output is JSON")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs the binary against nothing: what is refused here was never sent.
async fn offline(args: &[&str]) -> Output {
    let mut all = args.to_vec();
    all.extend(["--inspection", "127.0.0.1:1"]);
    let mut command = support::command(&all);
    command.env("HAICHENG_TOKEN", MS);
    support::run(command, &all).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_finding_or_an_exemption_without_its_reference_is_refused_before_sending() {
    let record = [
        "inspection",
        "record",
        "v-1",
        "--code",
        "JC1",
        "--uscc",
        "U",
        "--summary",
        "s",
        "--finding",
        "MS-1:soon:x",
    ];
    let output = offline(&record).await;
    assert_eq!(output.status.code(), Some(2), "a usage error");
    let stderr = text(&output.stderr);
    assert!(stderr.contains("is not ITEM:DAYS:DESCRIPTION"), "{stderr}");
    let task = [
        "inspection",
        "task",
        "--uscc",
        "U",
        "--kind",
        "triggered",
        "--item",
        "I",
        "--on",
        "2099-03-02",
        "--exemption",
        "complaint",
    ];
    let output = offline(&task).await;
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("--reference"),
        "{}",
        text(&output.stderr)
    );
    let unreachable = offline(&["inspection", "items"]).await;
    assert_eq!(unreachable.status.code(), Some(3), "nothing listens there");
    assert!(
        text(&unreachable.stderr).contains("cannot reach the inspection service"),
        "{}",
        text(&unreachable.stderr)
    );
}

/// Puts a routine item and a roster of two for the department of `token`.
async fn lists(stack: &Stack, token: &str, code: &str, prefix: &str) {
    stack
        .ok(
            token,
            &[
                "inspection",
                "item",
                "put",
                code,
                "--title",
                "例行检查",
                "--legal-basis",
                "《中华人民共和国产品质量法》第十五条",
                "--kind",
                "routine",
                "--document",
                "检验报告",
            ],
        )
        .await;
    let (one, two) = (format!("{prefix}-1=王强"), format!("{prefix}-2=李娜"));
    stack
        .ok(token, &["inspection", "roster", "put", &one, &two])
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn plans_are_drawn_with_their_report_and_a_visit_is_approved_recorded_and_rated() {
    let stack = Stack::start().await;
    lists(&stack, MS, "MS-QUALITY-01", "SJ").await;
    lists(&stack, "dev-tax", "TAX-INVOICE-01", "SW").await;
    let items = stack.ok(MS, &["inspection", "items"]).await;
    assert!(
        items.contains("MS-QUALITY-01") && items.contains("TAX-INVOICE-01"),
        "{items}"
    );

    let firm = stack.usccs.nth(0);
    let denied = stack
        .haicheng(
            &format!("dev-enterprise-{firm}"),
            &[
                "inspection",
                "plan",
                "draw",
                "--year",
                YEAR,
                "--item",
                "MS-QUALITY-01",
            ],
        )
        .await;
    assert_eq!(denied.status.code(), Some(1), "an enterprise draws no plan");
    assert!(text(&denied.stderr).starts_with("error: PERMISSION_DENIED: "));

    let draw = ["inspection", "plan", "draw", "--year", YEAR, "--seed", "7"];
    let ms = json(
        &stack
            .haicheng(
                MS,
                &[&draw[..], &["--item", "MS-QUALITY-01", "-o", "json"]].concat(),
            )
            .await,
    );
    assert!(!ms["plan"]["code"].as_str().unwrap_or_default().is_empty());
    let table = stack
        .ok(
            "dev-tax",
            &[&draw[..], &["--item", "TAX-INVOICE-01"]].concat(),
        )
        .await;
    assert!(table.contains("joint-visit rate"), "{table}");
    assert!(table.contains("visits saved"), "{table}");
    let report = json(
        &stack
            .haicheng(
                MS,
                &["inspection", "plan", "report", "--year", YEAR, "-o", "json"],
            )
            .await,
    );
    let count = |key: &str| report[key].as_i64().unwrap_or(0);
    assert_eq!(report["planCodes"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        count("visitsSaved"),
        count("onSiteTasks") - count("onSiteVisits")
    );

    let planned = approved_visit(&stack).await;
    // The plan's visit is in 2099: its result waits for its day.
    let (id, uscc, code) = &planned;
    let record = ["inspection", "record", id, "--uscc", uscc, "--summary", "s"];
    let early = stack
        .haicheng(MS, &[&record[..], &["--code", code, "--clean"]].concat())
        .await;
    assert_eq!(early.status.code(), Some(1), "before the visit's day");
    assert!(
        text(&early.stderr).contains("on that day or later"),
        "{}",
        text(&early.stderr)
    );
    let visit = complaint_visit_today(&stack, uscc).await;
    record_and_rate(&stack, &visit).await;
    stack.stop().await;
}

/// Market supervision's first visit, approved: `(id, firm, code)`.
async fn approved_visit(stack: &Stack) -> (String, String, String) {
    let visits = json(
        &stack
            .haicheng(
                MS,
                &[
                    "inspection",
                    "visits",
                    "--department",
                    "market_supervision",
                    "--year",
                    YEAR,
                    "--state",
                    "proposed",
                    "-o",
                    "json",
                ],
            )
            .await,
    );
    let first = &visits["visits"][0];
    let (id, uscc) = (
        first["id"].as_str().expect("a visit").to_string(),
        first["uscc"].as_str().unwrap().to_string(),
    );
    let approved = json(
        &stack
            .haicheng(MS, &["inspection", "approve", &id, "-o", "json"])
            .await,
    );
    assert_eq!(approved["state"], "VISIT_STATE_APPROVED");
    let code = approved["code"].as_str().unwrap().to_string();
    assert!(code.starts_with("JC"), "{code}");
    // The firm sees it before it happens: the code, the items' legal basis, the inspectors.
    let own = format!("dev-enterprise-{uscc}");
    let seen = stack.ok(&own, &["inspection", "visit", &id]).await;
    assert!(
        seen.contains(&code) && seen.contains("《中华人民共和国产品质量法》第十五条"),
        "{seen}"
    );
    let verified = stack.ok(&own, &["inspection", "verify", &code]).await;
    assert!(verified.starts_with("valid  yes\n"), "{verified}");
    (id, uscc, code)
}

/// A visit due today on a complaint (exempt from the caps), approved: `(id, firm, code)`.
async fn complaint_visit_today(stack: &Stack, uscc: &str) -> (String, String, String) {
    let today = platform::calendar::china_date(chrono::Utc::now()).to_string();
    let task = [
        "inspection",
        "task",
        "--uscc",
        uscc,
        "--kind",
        "triggered",
        "--item",
        "MS-QUALITY-01",
        "--on",
        &today,
        "--exemption",
        "complaint",
        "--reference",
        "12345-2026-0001",
        "-o",
        "json",
    ];
    let created = json(&stack.haicheng(MS, &task).await);
    let id = created["visit"]["id"]
        .as_str()
        .expect("a visit")
        .to_string();
    let approved = json(
        &stack
            .haicheng(MS, &["inspection", "approve", &id, "-o", "json"])
            .await,
    );
    let code = approved["code"].as_str().expect("its code").to_string();
    (id, uscc.to_string(), code)
}

async fn record_and_rate(stack: &Stack, (id, uscc, code): &(String, String, String)) {
    let this_year = chrono::Datelike::year(&platform::calendar::china_date(chrono::Utc::now()));
    let this_year = this_year.to_string();
    let record = [
        "inspection",
        "record",
        id,
        "--uscc",
        uscc,
        "--summary",
        "一次查完",
    ];
    let wrong = stack
        .haicheng(
            MS,
            &[&record[..], &["--code", "JC0000000000000000", "--clean"]].concat(),
        )
        .await;
    assert_eq!(wrong.status.code(), Some(1), "not the visit's code");
    assert!(
        text(&wrong.stderr).starts_with("error: FAILED_PRECONDITION: "),
        "{}",
        text(&wrong.stderr)
    );
    let finding = "MS-QUALITY-01:30:出厂检验记录缺失";
    let recorded = stack
        .ok(
            MS,
            &[&record[..], &["--code", code, "--finding", finding]].concat(),
        )
        .await;
    assert!(
        recorded.contains("RECTIFY BY") && recorded.contains("re-check tasks:"),
        "{recorded}"
    );
    let own = format!("dev-enterprise-{uscc}");
    let rate = [
        "inspection",
        "rate",
        id,
        "--satisfaction",
        "satisfied",
        "--text",
        "一次查完",
    ];
    assert!(stack.ok(&own, &rate).await.starts_with("rated"));
    let again = stack.haicheng(&own, &rate).await;
    assert_eq!(again.status.code(), Some(1), "once");
    let ratings = stack
        .haicheng(
            MS,
            &[
                "inspection",
                "ratings",
                "--department",
                "market_supervision",
                "--year",
                &this_year,
            ],
        )
        .await;
    assert_eq!(ratings.status.code(), Some(1), "one rating is never shown");
    let counts = stack
        .ok("dev-commerce", &["inspection", "counts", "--year", YEAR])
        .await;
    assert!(counts.contains(uscc.as_str()), "{counts}");
}
