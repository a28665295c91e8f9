//! Inspections across real processes: a census return ranks a firm into class C, the
//! classification event reaches the inspection service through Kafka and gives market
//! supervision a follow-up task and the firm tier C; market supervision's yearly plan draws
//! the firm (the seed stored, so the filed plan is the preview drawn again), its visit is
//! approved with an inspection code the firm sees, a result is recorded only against that
//! code and firm, and the firm rates the visit without the department learning who rated.

use std::time::Duration;

use haicheng_proto::{
    common::v1::{Department, EnterpriseClass},
    inspection::v1::{self as pb, inspection_service_client::InspectionServiceClient},
};
use system_tests::cluster::{Cluster, usccs};
use testkit::with_token;
use tonic::{Code, transport::Channel};

const PERIOD: &str = "2025";
const MS: &str = "dev-market-supervision";
const ITEM: &str = "MS-QUALITY-01";

type Client = InspectionServiceClient<Channel>;

/// The coming year in China: every day of its plan is ahead, so a code is valid.
fn next_year() -> i32 {
    use chrono::Datelike;
    platform::calendar::china_date(chrono::Utc::now()).year() + 1
}

/// Market supervision's routine item, its triggered one (what a follow-up checks) and a
/// roster of two.
async fn market_supervision_lists(inspection: &mut Client) {
    let routine = pb::Item {
        code: ITEM.into(),
        title: "产品质量监督检查".into(),
        legal_basis: "《中华人民共和国产品质量法》第十五条".into(),
        kind: pb::ItemKind::Routine as i32,
        documents: vec!["产品检验报告".into()],
        ..Default::default()
    };
    let triggered = pb::Item {
        code: "MS-RECHECK-04".into(),
        title: "整改情况复查".into(),
        legal_basis: "《市场监督管理行政处罚程序规定》第八十三条".into(),
        kind: pb::ItemKind::Triggered as i32,
        ..Default::default()
    };
    for item in [routine, triggered] {
        inspection
            .put_item(with_token(MS, pb::PutItemRequest { item: Some(item) }))
            .await
            .expect("PutItem");
    }
    let inspectors = ["王强", "李娜"]
        .iter()
        .enumerate()
        .map(|(i, name)| pb::Inspector {
            id: format!("SJ-{i}"),
            name: (*name).into(),
            department: 0,
        })
        .collect();
    inspection
        .put_roster(with_token(MS, pb::PutRosterRequest { inspectors }))
        .await
        .expect("PutRoster");
}

/// Until the firm's tier is C and market supervision has a follow-up task for it.
async fn wait_for_follow_up(inspection: &Client, uscc: &str) -> bool {
    testkit::wait_until(Duration::from_secs(60), || {
        let mut inspection = inspection.clone();
        let uscc = uscc.to_string();
        async move {
            let tier = inspection
                .get_risk_tier(with_token(
                    MS,
                    pb::GetRiskTierRequest { uscc: uscc.clone() },
                ))
                .await
                .ok()
                .and_then(|r| r.into_inner().firm);
            if tier.is_none_or(|f| f.tier != pb::RiskTier::C as i32) {
                return false;
            }
            let tasks = pb::ListTasksRequest {
                department: Department::MarketSupervision as i32,
                uscc,
                ..Default::default()
            };
            inspection
                .list_tasks(with_token(MS, tasks))
                .await
                .is_ok_and(|r| {
                    r.into_inner()
                        .tasks
                        .iter()
                        .any(|t| t.kind == pb::ItemKind::Triggered as i32)
                })
        }
    })
    .await
}

/// Until inspection holds, for every firm, the class classification holds now (the tiers the
/// plans are drawn over have settled).
async fn wait_for_tiers(cluster: &Cluster, inspection: &Client, firms: &[String]) -> bool {
    testkit::wait_until(Duration::from_secs(60), || async {
        let classes = cluster.classes_of(PERIOD).await;
        let mut all = classes.len() == firms.len();
        for uscc in firms {
            let request = pb::GetRiskTierRequest { uscc: uscc.clone() };
            let held = inspection
                .clone()
                .get_risk_tier(with_token(MS, request))
                .await
                .ok()
                .and_then(|r| r.into_inner().firm)
                .map(|f| f.enterprise_class);
            all = all && held == classes.get(uscc).map(|c| *c as i32);
        }
        all
    })
    .await
}

/// The first seed whose preview draws `uscc`, and the filed plan of that seed.
async fn plan_drawing(inspection: &mut Client, year: i32, uscc: &str) -> (pb::Plan, pb::Plan) {
    for seed in 1..=200 {
        let request = pb::DrawPlanRequest {
            year,
            item_codes: vec![ITEM.into()],
            seed,
            preview: true,
        };
        let preview = inspection
            .draw_plan(with_token(MS, request.clone()))
            .await
            .expect("DrawPlan preview")
            .into_inner()
            .plan
            .unwrap();
        if preview.tasks.iter().any(|t| t.uscc == uscc) {
            let filed = pb::DrawPlanRequest {
                preview: false,
                ..request
            };
            let plan = inspection
                .draw_plan(with_token(MS, filed))
                .await
                .expect("DrawPlan")
                .into_inner()
                .plan
                .unwrap();
            return (preview, plan);
        }
    }
    panic!("no seed of 200 draws the class-C firm");
}

fn drawn(plan: &pb::Plan) -> Vec<(String, Vec<String>)> {
    let mut drawn: Vec<_> = plan
        .tasks
        .iter()
        .map(|t| {
            let ids = t.inspectors.iter().map(|i| i.id.clone()).collect();
            (t.uscc.clone(), ids)
        })
        .collect();
    drawn.sort();
    drawn
}

#[tokio::test(flavor = "multi_thread")]
async fn a_class_c_firm_is_followed_up_drawn_visited_with_a_code_and_rates_the_visit() {
    let cluster = Cluster::start(&[]).await;
    let mut process = system_tests::start(
        "inspection",
        &[
            ("KAFKA_TOPIC_PREFIX", cluster.prefix.as_str()),
            ("OUTBOX_POLL_MS", "100"),
            ("SHUTDOWN_GRACE_MS", "0"),
        ],
    )
    .await;
    process
        .wait_serving(Duration::from_secs(60))
        .await
        .expect("inspection serves");
    let mut inspection = InspectionServiceClient::new(process.channel().await);
    market_supervision_lists(&mut inspection).await;

    let firms = usccs(10);
    cluster.register(&firms).await;
    for (i, uscc) in firms.iter().enumerate() {
        let tax = 1_000 + 100 * i as i64;
        cluster
            .submit(uscc, PERIOD, tax, &format!("insp-{i}"))
            .await;
    }
    let weakest = &firms[0];
    let classes = cluster
        .wait_classes(PERIOD, Duration::from_secs(60), |c| {
            c.get(weakest) == Some(&EnterpriseClass::C)
        })
        .await;
    assert_eq!(classes.get(weakest), Some(&EnterpriseClass::C));
    assert!(
        wait_for_follow_up(&inspection, weakest).await,
        "the class C event gave tier C and market supervision a follow-up task"
    );

    assert!(
        wait_for_tiers(&cluster, &inspection, &firms).await,
        "inspection holds every firm's class"
    );
    let year = next_year();
    let (preview, plan) = plan_drawing(&mut inspection, year, weakest).await;
    assert!(!plan.code.is_empty(), "filed with a plan code");
    assert_eq!(
        drawn(&plan),
        drawn(&preview),
        "the seed draws the plan again"
    );
    let task = plan.tasks.iter().find(|t| &t.uscc == weakest).unwrap();
    assert_eq!(task.inspectors.len(), 2, "two inspectors drawn");

    let visit = visit_of(&mut inspection, task, year, weakest).await;
    let approved = inspection
        .approve_visit(with_token(
            MS,
            pb::ApproveVisitRequest {
                visit_id: visit.id.clone(),
                expected_version: 0,
            },
        ))
        .await
        .expect("ApproveVisit")
        .into_inner()
        .visit
        .unwrap();
    assert!(!approved.code.is_empty(), "approved with its code");
    the_firm_sees_its_visit(&mut inspection, &approved, &firms).await;
    // The plan's visit is next year: its result waits for its day. A visit due today on a
    // complaint, at a firm with no other task (none in class C, none drawn), is the one
    // recorded and rated.
    let quiet = firms
        .iter()
        .find(|f| {
            classes.get(*f) != Some(&EnterpriseClass::C)
                && !plan.tasks.iter().any(|t| &t.uscc == *f)
        })
        .expect("a firm neither in class C nor drawn");
    let due_today = complaint_visit_today(&mut inspection, quiet).await;
    let due = approve(&mut inspection, due_today).await;
    let early = inspection
        .record_result(with_token(MS, clean_result(&approved)))
        .await
        .expect_err("a result before the visit's day");
    assert_eq!(early.code(), tonic::Code::FailedPrecondition, "{early:?}");
    record_against_the_code(&mut inspection, &due, weakest).await;
    rate_anonymously(&mut inspection, &due, next_year() - 1).await;

    let counts = inspection
        .get_visit_counts(with_token(
            "dev-commerce",
            pb::GetVisitCountsRequest {
                year,
                alerts_only: false,
            },
        ))
        .await
        .expect("GetVisitCounts")
        .into_inner();
    let firm = counts.firms.iter().find(|f| &f.uscc == weakest).unwrap();
    assert!(firm.visits >= 1 && firm.alerts.is_empty(), "{firm:?}");
    assert!(process.terminate().await.success());
}

/// A clean result of `visit` against its code.
fn clean_result(visit: &pb::Visit) -> pb::RecordResultRequest {
    pb::RecordResultRequest {
        visit_id: visit.id.clone(),
        code: visit.code.clone(),
        uscc: visit.uscc.clone(),
        outcome: pb::Outcome::Clean as i32,
        summary: "no finding".into(),
        ..Default::default()
    }
}

/// Market supervision approves `visit`: it gets its code.
async fn approve(inspection: &mut Client, visit: pb::Visit) -> pb::Visit {
    inspection
        .approve_visit(with_token(
            MS,
            pb::ApproveVisitRequest {
                visit_id: visit.id,
                expected_version: visit.version,
            },
        ))
        .await
        .expect("ApproveVisit")
        .into_inner()
        .visit
        .unwrap()
}

/// A visit of market supervision due today at `uscc` on a complaint (exempt from the caps).
async fn complaint_visit_today(inspection: &mut Client, uscc: &str) -> pb::Visit {
    let task = pb::CreateTaskRequest {
        uscc: uscc.into(),
        kind: pb::ItemKind::Triggered as i32,
        item_codes: vec![ITEM.into()],
        planned_on: platform::calendar::china_date(chrono::Utc::now()).to_string(),
        exemption: pb::Exemption::Complaint as i32,
        exemption_reference: "12345-2026-0815".into(),
    };
    let created = inspection
        .create_task(with_token(MS, task))
        .await
        .expect("CreateTask")
        .into_inner();
    let visit = created.visit.expect("placed into a visit");
    assert_eq!(
        visit.visit_on,
        platform::calendar::china_date(chrono::Utc::now()).to_string(),
        "a visit of its own, today"
    );
    visit
}

/// The visit the firm's plan task was placed into.
async fn visit_of(inspection: &mut Client, task: &pb::Task, year: i32, uscc: &str) -> pb::Visit {
    let request = pb::ListVisitsRequest {
        uscc: uscc.into(),
        year,
        ..Default::default()
    };
    let visits = inspection
        .list_visits(with_token(MS, request))
        .await
        .expect("ListVisits")
        .into_inner()
        .visits;
    let found = visits
        .iter()
        .find(|v| v.id == task.visit_id || v.task_ids.contains(&task.id));
    found
        .cloned()
        .unwrap_or_else(|| panic!("task {task:?} is in none of {year}'s visits {visits:?}"))
}

/// The firm sees its visit before it happens: items with their legal basis, the inspectors,
/// the code; another firm does not, and checks the code as not its own.
async fn the_firm_sees_its_visit(inspection: &mut Client, visit: &pb::Visit, firms: &[String]) {
    let own = format!("dev-enterprise-{}", visit.uscc);
    let seen = inspection
        .get_visit(with_token(
            &own,
            pb::GetVisitRequest {
                visit_id: visit.id.clone(),
            },
        ))
        .await
        .expect("the firm reads its own visit")
        .into_inner()
        .visit
        .unwrap();
    assert_eq!(seen.code, visit.code);
    assert!(
        seen.items
            .iter()
            .any(|i| i.code == ITEM && !i.legal_basis.is_empty())
    );
    assert!(seen.inspectors.len() >= 2);
    let verified = inspection
        .verify_code(with_token(
            &own,
            pb::VerifyCodeRequest {
                code: visit.code.clone(),
            },
        ))
        .await
        .expect("VerifyCode")
        .into_inner();
    assert!(verified.valid, "{}", verified.reason);
    let other = format!("dev-enterprise-{}", firms[1]);
    let refused = inspection
        .get_visit(with_token(
            &other,
            pb::GetVisitRequest {
                visit_id: visit.id.clone(),
            },
        ))
        .await;
    assert!(refused.is_err(), "another firm's visit");
}

/// A result against a wrong code or another firm is refused; against the code, recorded with
/// a finding, its rectification deadline and a re-check task.
async fn record_against_the_code(inspection: &mut Client, visit: &pb::Visit, other: &str) {
    let record = |code: &str, uscc: &str| pb::RecordResultRequest {
        visit_id: visit.id.clone(),
        code: code.into(),
        uscc: uscc.into(),
        outcome: pb::Outcome::Findings as i32,
        findings: vec![pb::FindingInput {
            item_code: ITEM.into(),
            description: "出厂检验记录缺失".into(),
            rectification_days: 30,
        }],
        summary: "联合检查一次完成".into(),
    };
    for (code, uscc) in [
        ("JC0000000000000000", visit.uscc.as_str()),
        (&visit.code, other),
    ] {
        let refused = inspection
            .record_result(with_token(MS, record(code, uscc)))
            .await
            .expect_err("refused");
        assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    }
    let recorded = inspection
        .record_result(with_token(MS, record(&visit.code, &visit.uscc)))
        .await
        .expect("RecordResult")
        .into_inner();
    let result = recorded.visit.unwrap().result.unwrap();
    assert_eq!(result.findings.len(), 1);
    assert!(!result.findings[0].rectify_by.is_empty());
    assert!(!recorded.recheck_tasks.is_empty(), "a re-check task");
}

/// The firm rates the visit once; the department reads no aggregate of fewer than 5.
async fn rate_anonymously(inspection: &mut Client, visit: &pb::Visit, year: i32) {
    let own = format!("dev-enterprise-{}", visit.uscc);
    let rate = pb::RateVisitRequest {
        visit_id: visit.id.clone(),
        satisfaction: pb::Satisfaction::Satisfied as i32,
        text: "一次查完".into(),
    };
    let accepted = inspection
        .rate_visit(with_token(&own, rate.clone()))
        .await
        .expect("RateVisit")
        .into_inner()
        .accepted;
    assert!(accepted);
    assert!(
        inspection.rate_visit(with_token(&own, rate)).await.is_err(),
        "once"
    );
    let summary = inspection
        .get_rating_summary(with_token(
            MS,
            pb::GetRatingSummaryRequest {
                department: Department::MarketSupervision as i32,
                year,
            },
        ))
        .await;
    assert!(summary.is_err(), "one rating is never shown");
}
