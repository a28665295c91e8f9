//! The policy commands end to end: census, classification and support started in this process
//! through `testkit::spawn` (real PostgreSQL and broker, one topic prefix per test), six firms
//! registered and given returns so that classification grades them and support learns their
//! facts from the events, then the real `haicheng` binary puts a policy, runs, shows and
//! finalizes its round, and asks the calculator. Support runs with no publicity window
//! (`SUPPORT_PUBLICITY_WORKING_DAYS=0`, as in `haicheng dev`), so a round is final at once.

mod support;

use std::{path::Path, process::Output, time::Duration};

use haicheng_proto::{
    census::v1::{self as census_pb, census_service_client::CensusServiceClient},
    common::v1 as common,
};
use serde_json::Value;
use testkit::{Service, Usccs, unique_name, wait_until, with_token};

const FIRMS: usize = 6;

/// A policy for every graded firm: class A, B or C in force, no veto; 1,000 yuan each.
const POLICY: &str = r#"{
  "id": "ID", "title": "测试扶持", "document_number": "海政发〔2025〕99号",
  "issuer": "commerce", "valid_from": "2025-01-01", "valid_until": "2099-12-31",
  "period": "2025",
  "conditions": [ { "class": { "classes": ["A", "B", "C"] } }, "no_veto",
                  { "indicator": { "indicator": "RD_SHARE_BP", "at_least": 100 } } ],
  "benefit": { "fixed_fen": 100000 },
  "budget_fen": 10000000
}"#;

struct Stack {
    census: Service,
    classification: Service,
    support: Service,
    usccs: Usccs,
}

impl Stack {
    /// The three services on one topic prefix, the firms loaded, and support holding every
    /// firm's class.
    async fn start() -> Self {
        platform::telemetry::init_for_tests();
        let prefix = format!("{}.", unique_name("cli-policy"));
        let prefixed = [("KAFKA_TOPIC_PREFIX", prefix.as_str())];
        let classification = testkit::spawn(
            classification::Config::from_lookup,
            classification::run,
            &prefixed,
        )
        .await;
        let support_service = testkit::spawn(
            ::support::Config::from_lookup,
            ::support::run,
            &[
                ("KAFKA_TOPIC_PREFIX", prefix.as_str()),
                ("AUTH_DEVELOPMENT", "true"),
                (::support::config::vars::PUBLICITY_WORKING_DAYS, "0"),
            ],
        )
        .await;
        let census = testkit::spawn(census::Config::from_lookup, census::run, &prefixed).await;
        let stack = Self {
            census,
            classification,
            support: support_service,
            usccs: Usccs::new(),
        };
        stack.load_firms().await;
        stack.wait_for_classes().await;
        stack
    }

    /// Registers the firms (textile, Ganwang, registered long ago) with a 2025 return each;
    /// firm `i` pays more tax per mu the higher `i` is.
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
                client_request_id: format!("cli-policy-{i}"),
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

    /// Until the calculator of a policy for class A, B or C shows every firm's class.
    async fn wait_for_classes(&self) {
        let dir = tempfile::tempdir().unwrap();
        let file = write_policy(dir.path(), "probe", POLICY);
        let put = self
            .haicheng("dev-commerce", &["policy", "put", &file])
            .await;
        assert_eq!(put.status.code(), Some(0), "{}", text(&put.stderr));
        let known = wait_until(Duration::from_secs(120), || async {
            let mut all = true;
            for i in 0..FIRMS {
                let uscc = self.usccs.nth(i);
                let args = ["policy", "check", "probe", "--uscc", &uscc, "-o", "json"];
                let checked = self.haicheng("dev-commerce", &args).await;
                all = all
                    && checked.status.success()
                    && serde_json::from_slice::<Value>(&checked.stdout)
                        .is_ok_and(|v| v["eligible"] == true);
            }
            all
        })
        .await;
        assert!(known, "support learnt every firm's class within 2 minutes");
    }

    async fn haicheng(&self, token: &str, args: &[&str]) -> Output {
        let mut command = support::command(args);
        command
            .env("HAICHENG_SUPPORT_ADDR", self.support.address.to_string())
            .env("HAICHENG_TOKEN", token);
        support::run(command, args).await
    }

    async fn stop(self) {
        self.census.stop().await;
        self.support.stop().await;
        self.classification.stop().await;
    }
}

fn write_policy(dir: &Path, id: &str, template: &str) -> String {
    let path = dir.join(format!("{id}.json"));
    std::fs::write(&path, template.replace("\"ID\"", &format!("\"{id}\""))).unwrap();
    path.display().to_string()
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

#[tokio::test(flavor = "multi_thread")]
async fn a_policy_file_with_a_bad_key_is_refused_naming_it_and_nothing_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_policy(
        dir.path(),
        "bad",
        &POLICY.replace("budget_fen", "budjet_fen"),
    );
    // Nothing listens at this address: the file is refused before any connection.
    let args = ["policy", "put", &file, "--support", "127.0.0.1:1"];
    let output = support::run(
        {
            let mut command = support::command(&args);
            command.env("HAICHENG_TOKEN", "dev-commerce");
            command
        },
        &args,
    )
    .await;
    assert_eq!(output.status.code(), Some(2), "a usage error");
    let stderr = text(&output.stderr);
    assert!(
        stderr.starts_with("error: ") && stderr.contains("unknown field `budjet_fen`"),
        "{stderr}"
    );
    let bad_class = write_policy(dir.path(), "bad", &POLICY.replace("\"C\"]", "\"D\"]"));
    let args = ["policy", "put", &bad_class, "--support", "127.0.0.1:1"];
    let mut command = support::command(&args);
    command.env("HAICHENG_TOKEN", "dev-commerce");
    let output = support::run(command, &args).await;
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("conditions[0].class.classes[2]: \"D\" is not one of"),
        "{}",
        text(&output.stderr)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_round_is_run_shown_and_finalized_into_payment_orders() {
    let stack = Stack::start().await;
    let dir = tempfile::tempdir().unwrap();
    // Four firms' worth of budget for six eligible firms.
    let file = write_policy(dir.path(), "round", &POLICY.replace("10000000", "400000"));
    let put = json(
        &stack
            .haicheng("dev-commerce", &["policy", "put", &file, "-o", "json"])
            .await,
    );
    assert_eq!(put["version"], 1);
    let finance = stack
        .haicheng("dev-finance", &["policy", "round", "run", "round"])
        .await;
    assert_eq!(finance.status.code(), Some(1), "finance is not the issuer");
    assert!(text(&finance.stderr).starts_with("error: PERMISSION_DENIED: "));
    let run = json(
        &stack
            .haicheng(
                "dev-commerce",
                &["policy", "round", "run", "round", "-o", "json"],
            )
            .await,
    );
    assert_eq!(run["state"], "ROUND_STATE_PUBLISHED");
    assert_eq!(run["eligible"], FIRMS as i64);
    assert_eq!(run["totalFen"], 400_000);
    let round_id = run["id"].as_str().unwrap().to_string();
    let shown = stack
        .haicheng("dev-finance", &["policy", "round", "show", &round_id])
        .await;
    let shown = text(&shown.stdout);
    assert!(
        shown
            .lines()
            .any(|l| l.starts_with("state ") && l.ends_with(" PUBLISHED")),
        "{shown}"
    );
    assert!(shown.contains("\nPOS  USCC"), "the list: {shown}");
    // The highest tax per mu leads the list (class, then score).
    let leader = stack.usccs.nth(FIRMS - 1);
    assert!(shown.contains(&format!("\n  1  {leader}")), "{shown}");
    let finalized = json(
        &stack
            .haicheng(
                "dev-commerce",
                &["policy", "round", "finalize", &round_id, "-o", "json"],
            )
            .await,
    );
    assert_eq!(finalized["round"]["state"], "ROUND_STATE_FINAL");
    let orders = finalized["orders"].as_array().unwrap();
    assert_eq!(orders.len(), 4, "the budget pays four firms");
    let paid: i64 = orders
        .iter()
        .map(|o| o["amountFen"].as_i64().unwrap())
        .sum();
    assert_eq!(paid, 400_000);
    let listed = json(
        &stack
            .haicheng(
                "dev-finance",
                &[
                    "policy", "payments", "--policy", "round", "--state", "ordered", "-o", "json",
                ],
            )
            .await,
    );
    assert_eq!(listed["orders"].as_array().unwrap().len(), 4);
    let order = listed["orders"][0]["id"].as_str().unwrap().to_string();
    let pay = stack
        .haicheng(
            "dev-finance",
            &["policy", "pay", &order, "--voucher", "PZ-1"],
        )
        .await;
    assert_eq!(pay.status.code(), Some(0), "{}", text(&pay.stderr));
    assert!(text(&pay.stdout).contains("PAID"), "{}", text(&pay.stdout));
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_calculator_shows_each_condition_with_its_value_and_gap() {
    let stack = Stack::start().await;
    let dir = tempfile::tempdir().unwrap();
    // R&D is 2 % of revenue (200 bp) for every firm: 300 bp is 100 bp short.
    let file = write_policy(dir.path(), "calc", &POLICY.replace("100 }", "300 }"));
    let put = stack
        .haicheng("dev-commerce", &["policy", "put", &file])
        .await;
    assert_eq!(put.status.code(), Some(0), "{}", text(&put.stderr));
    let uscc = stack.usccs.nth(0);
    let own = format!("dev-enterprise-{uscc}");
    let checked = json(
        &stack
            .haicheng(
                &own,
                &["policy", "check", "calc", "--uscc", &uscc, "-o", "json"],
            )
            .await,
    );
    assert_eq!(checked["eligible"], false);
    let conditions = checked["conditions"].as_array().unwrap();
    assert_eq!(conditions.len(), 3);
    assert_eq!(conditions[0]["met"], true);
    assert_eq!(conditions[2]["met"], false);
    assert_eq!(conditions[2]["value"], "200 bp");
    assert_eq!(conditions[2]["gap"], "100 bp short");
    let table = stack
        .haicheng(&own, &["policy", "check", "calc", "--uscc", &uscc])
        .await;
    let table = text(&table.stdout);
    assert!(table.starts_with("eligible  no\n"), "{table}");
    assert!(table.contains("  no   200 bp  100 bp short\n"), "{table}");
    let other = stack
        .haicheng(
            &own,
            &["policy", "check", "calc", "--uscc", &stack.usccs.nth(1)],
        )
        .await;
    assert_eq!(other.status.code(), Some(1), "only its own");
    stack.stop().await;
}
