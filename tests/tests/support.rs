//! Support policies across real processes: a census return lifts a firm into class A, the
//! published ranking and a round make it a beneficiary, and finance receives its payment
//! order in the trace of the call that finalized the round.

use std::time::Duration;

use haicheng_proto::{
    classification::v1::PublishPeriodRequest,
    common::v1::{self as common, EnterpriseClass},
    policy::v1::ListNoticesRequest,
    support::v1::{self as pb, support_service_client::SupportServiceClient},
};
use system_tests::{
    cluster::{Cluster, usccs},
    otlp::SpanCollector,
};
use testkit::with_token;

const PERIOD: &str = "2025";

/// Key support for class A as published: 1,000 yuan each.
fn key_support(id: &str) -> pb::PolicySpec {
    pb::PolicySpec {
        id: id.into(),
        title: "Key support fund".into(),
        document_number: "海政发〔2026〕3号".into(),
        issuer: common::Department::Commerce as i32,
        valid_from: "2026-01-01".into(),
        valid_until: "2099-12-31".into(),
        period: testkit::period(PERIOD),
        mode: pb::PolicyMode::Automatic as i32,
        conditions: vec![pb::Condition {
            clause: Some(pb::condition::Clause::Class(pb::ClassCondition {
                classes: vec![EnterpriseClass::A as i32],
                view: pb::ClassView::Published as i32,
            })),
        }],
        benefit: Some(pb::Benefit {
            amount: Some(pb::benefit::Amount::FixedFen(100_000)),
            cap_fen: 0,
        }),
        budget_fen: 1_000_000,
        remainder: pb::Remainder::None as i32,
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_census_return_makes_a_firm_a_beneficiary_and_finance_gets_its_order_in_one_trace() {
    let collector = SpanCollector::start().await;
    let otel = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint.as_str()),
        ("RUST_LOG", "info"),
    ];
    let mut cluster = Cluster::start(&otel).await;
    let mut support = system_tests::start(
        "support",
        &[
            ("KAFKA_TOPIC_PREFIX", cluster.prefix.as_str()),
            ("OUTBOX_POLL_MS", "100"),
            ("SHUTDOWN_GRACE_MS", "0"),
            ("SUPPORT_PUBLICITY_WORKING_DAYS", "0"),
            otel[0],
            otel[1],
        ],
    )
    .await;
    support
        .wait_serving(Duration::from_secs(60))
        .await
        .expect("support serves");
    let mut policies = SupportServiceClient::new(support.channel().await);

    let firms = usccs(10);
    cluster.register(&firms).await;
    for (i, uscc) in firms.iter().enumerate() {
        let tax = 1_000 + 100 * i as i64;
        cluster
            .submit(uscc, PERIOD, tax, &format!("first-{i}"))
            .await;
    }
    // The weakest firm's correction lifts it into A.
    cluster
        .submit(&firms[0], PERIOD, 100_000, "correction-0")
        .await;
    cluster
        .wait_classes(PERIOD, Duration::from_secs(60), |c| {
            c.get(&firms[0]) == Some(&EnterpriseClass::A)
        })
        .await;
    cluster
        .classes()
        .await
        .publish_period(with_token(
            "dev-commerce",
            PublishPeriodRequest {
                period: testkit::period(PERIOD),
                note: String::new(),
                ..Default::default()
            },
        ))
        .await
        .expect("PublishPeriod");

    // unique_name is `p.<hex>`: the hex alone makes a valid policy id.
    let tag: String = testkit::unique_name("p")
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    let id = format!("key-support-{tag}");
    policies
        .put_policy(with_token(
            "dev-commerce",
            pb::PutPolicyRequest {
                spec: Some(key_support(&id)),
                expected_version: 0,
            },
        ))
        .await
        .expect("PutPolicy");
    // Support learns the published classes from classification's events.
    let eligible = testkit::wait_until(Duration::from_secs(60), || {
        let mut policies = policies.clone();
        let (id, uscc) = (id.clone(), firms[0].clone());
        async move {
            let check = pb::CheckEligibilityRequest {
                policy_id: id,
                uscc,
            };
            policies
                .check_eligibility(with_token("dev-commerce", check))
                .await
                .is_ok_and(|r| r.into_inner().eligible)
        }
    })
    .await;
    assert!(eligible, "the firm published in A is eligible");
    let round = policies
        .run_round(with_token(
            "dev-commerce",
            pb::RunRoundRequest {
                policy_id: id.clone(),
            },
        ))
        .await
        .expect("RunRound")
        .into_inner()
        .round
        .unwrap();
    let listed: Vec<&str> = round.entries.iter().map(|e| e.uscc.as_str()).collect();
    assert!(listed.contains(&firms[0].as_str()), "{listed:?}");

    let trace_id = "5cf92f3577b34da6a3ce929d0e0e4737";
    let mut finalize = with_token(
        "dev-commerce",
        pb::FinalizeRoundRequest {
            round_id: round.id.clone(),
        },
    );
    finalize.metadata_mut().insert(
        "traceparent",
        format!("00-{trace_id}-00f067aa0ba902b7-01")
            .parse()
            .unwrap(),
    );
    let orders = policies
        .finalize_round(finalize)
        .await
        .expect("FinalizeRound")
        .into_inner()
        .orders;
    assert!(
        orders
            .iter()
            .any(|o| o.uscc == firms[0] && o.amount_fen == 100_000)
    );

    // Finance's notice of the order reaches the notice store (in the classification process).
    let notices = cluster.notices().await;
    let arrived = testkit::wait_until(Duration::from_secs(60), || {
        let mut notices = notices.clone();
        let uscc = firms[0].clone();
        async move {
            let request = ListNoticesRequest {
                uscc,
                kind: "support_payment_ordered".into(),
                ..Default::default()
            };
            notices
                .list_notices(with_token("dev-finance", request))
                .await
                .is_ok_and(|l| !l.into_inner().notices.is_empty())
        }
    })
    .await;
    assert!(arrived, "finance has the payment order's notice");

    // A graceful stop flushes the exporters.
    assert!(support.terminate().await.success());
    assert!(cluster.classification.terminate().await.success());
    let spans = collector.trace(trace_id);
    let has =
        |service: &str, name: &str| spans.iter().any(|s| s.service == service && s.name == name);
    assert!(has("support", "grpc"), "the finalize call: {spans:#?}");
    assert!(
        has("support", "outbox.publish"),
        "the order's publication: {spans:#?}"
    );
    assert!(
        has("classification", "inbox.consume"),
        "the notice consumed: {spans:#?}"
    );
}
