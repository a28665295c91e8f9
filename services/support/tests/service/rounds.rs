//! Rounds: the list under the budget, objections, finalization into payment orders, finance's
//! records, and the budget kept under concurrency.

use std::time::Duration;

use haicheng_proto::{policy::v1::SupportPolicyNotice, topics};
use tonic::Code;

use super::*;

fn rd_rate(rate_bp: i64, cap_fen: i64) -> pb::Benefit {
    pb::Benefit {
        amount: Some(pb::benefit::Amount::Rate(pb::RateOfIndicator {
            indicator: pb::Indicator::RdSpendFen as i32,
            rate_bp,
        })),
        cap_fen,
    }
}

fn no_veto() -> pb::Condition {
    pb::Condition {
        clause: Some(pb::condition::Clause::NoVeto(true)),
    }
}

fn amounts(round: &pb::Round) -> Vec<(String, i64)> {
    round
        .entries
        .iter()
        .map(|e| (e.uscc.clone(), e.amount_fen))
        .collect()
}

/// Four eligible firms and a vetoed one; 10 % of R&D capped at 150,000 fen; a budget of
/// 320,000 fen that pays three in full and the fourth its remainder.
async fn seeded_round(app: &App, id: &str) -> pb::Round {
    let firms = [
        (0, Some(Class::C), 99.0, 3_000_000, false),
        (1, Some(Class::B), 50.0, 500_000, false),
        (2, Some(Class::A), 90.0, 1_000_000, false),
        (3, Some(Class::B), 60.0, 2_000_000, false),
        (4, Some(Class::A), 95.0, 1_000_000, true),
    ];
    for (i, class, score, rd_spend_fen, veto) in firms {
        let firm = Firm {
            class,
            score,
            rd_spend_fen,
            veto,
            ..Firm::default()
        };
        app.seed(&app.uscc(i), firm).await;
    }
    let mut policy = spec(id, rd_rate(1_000, 150_000), 320_000);
    policy.conditions = vec![no_veto()];
    policy.remainder = pb::Remainder::Partial as i32;
    app.put("commerce", policy, 0).await.unwrap();
    app.run_round("commerce", id).await.unwrap()
}

#[tokio::test]
async fn a_round_pays_down_the_list_and_finance_gets_one_order_per_firm() {
    let app = spawn_app().await;
    let id = policy_id("rd");
    let round = seeded_round(&app, &id).await;
    assert_eq!(
        amounts(&round),
        [
            (app.uscc(2), 100_000),
            (app.uscc(3), 150_000),
            (app.uscc(1), 50_000),
            (app.uscc(0), 20_000),
        ],
        "A, then B by score, then C; the cap at 150,000; the last firm its remainder"
    );
    assert_eq!(round.total_fen, 320_000);

    let early = app
        .client
        .clone()
        .finalize_round(as_dev(
            "commerce",
            pb::FinalizeRoundRequest {
                round_id: round.id.clone(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(early.code(), Code::FailedPrecondition, "{early:?}");
    assert!(
        early.message().contains("objection window is open"),
        "{}",
        early.message()
    );

    let round_id: Uuid = round.id.parse().unwrap();
    let (_, orders) = app
        .store
        .finalize(round_id, after_the_window(&round))
        .await
        .unwrap();
    assert_eq!(orders.len(), 4);
    let ordered: i64 = sqlx::query_scalar("SELECT ordered_fen FROM budgets WHERE policy_id = $1")
        .bind(&id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(ordered, 320_000);

    let notices = testkit::read_events::<SupportPolicyNotice>(
        &stack().kafka_bootstrap,
        &app.topic(topics::POLICY_NOTICES),
        |n| n.rule_id == id,
        4,
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(notices.len(), 4, "one notice to finance per order");
    assert!(
        notices
            .iter()
            .all(|(key, n)| key == "finance" && n.kind == "support_payment_ordered")
    );

    let order_id = orders[0].id.to_string();
    let pay = |voucher: &str| pb::RecordPaymentRequest {
        order_id: order_id.clone(),
        voucher: voucher.into(),
        refusal_reason: String::new(),
    };
    let paid = app
        .client
        .clone()
        .record_payment(as_dev("finance", pay("V-001")))
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();
    assert_eq!(paid.state, pb::PaymentState::Paid as i32);
    assert_eq!(paid.voucher, "V-001");
    let twice = app
        .client
        .clone()
        .record_payment(as_dev("finance", pay("V-002")))
        .await
        .unwrap_err();
    assert_eq!(twice.code(), Code::FailedPrecondition);
    let by_commerce = app
        .client
        .clone()
        .record_payment(as_dev("commerce", pay("V-003")))
        .await
        .unwrap_err();
    assert_eq!(by_commerce.code(), Code::PermissionDenied);

    let firm = app.uscc(3);
    let own = app
        .client
        .clone()
        .list_payments(as_dev(
            &format!("enterprise-{firm}"),
            pb::ListPaymentsRequest::default(),
        ))
        .await
        .unwrap()
        .into_inner()
        .orders;
    assert_eq!(
        own.iter().map(|o| o.uscc.as_str()).collect::<Vec<_>>(),
        [firm.as_str()]
    );
    app.stop().await;
}

#[tokio::test]
async fn an_upheld_objection_adds_the_firm_within_what_the_budget_has_left() {
    let app = spawn_app().await;
    let id = policy_id("objection");
    let round = seeded_round(&app, &id).await;
    let vetoed = app.uscc(4);
    let objection = app
        .client
        .clone()
        .file_objection(as_dev(
            &format!("enterprise-{vetoed}"),
            pb::FileObjectionRequest {
                round_id: round.id.clone(),
                uscc: vetoed.clone(),
                reason: "the veto was lifted".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .objection
        .unwrap();
    let other = app.uscc(0);
    let for_another = app
        .client
        .clone()
        .file_objection(as_dev(
            &format!("enterprise-{vetoed}"),
            pb::FileObjectionRequest {
                round_id: round.id.clone(),
                uscc: other,
                reason: "not mine".into(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(for_another.code(), Code::PermissionDenied);

    let round_id: Uuid = round.id.parse().unwrap();
    let open = app
        .store
        .finalize(round_id, after_the_window(&round))
        .await
        .unwrap_err();
    assert!(
        open.to_string().contains(&vetoed),
        "names the open objection: {open}"
    );

    let decided = app
        .client
        .clone()
        .decide_objection(as_dev(
            "commerce",
            pb::DecideObjectionRequest {
                objection_id: objection.id.clone(),
                upheld: true,
                reason: "veto lifted on appeal".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let entry = decided.entry.unwrap();
    assert_eq!(entry.entitled_fen, 100_000);
    assert_eq!(
        entry.amount_fen, 0,
        "the budget was spent: nothing is left for it"
    );
    assert!(entry.by_objection);
    let (_, orders) = app
        .store
        .finalize(round_id, after_the_window(&round))
        .await
        .unwrap();
    assert_eq!(orders.len(), 4, "no order of 0 fen");
    app.stop().await;
}

#[tokio::test]
async fn concurrent_rounds_and_finalizations_leave_one_and_the_budget_unbroken() {
    let app = spawn_app().await;
    for i in 0..5 {
        app.seed(&app.uscc(i), Firm::default()).await;
    }
    let id = policy_id("race");
    app.put("commerce", spec(&id, fixed(1_000), 3_000), 0)
        .await
        .unwrap();
    let runs = futures::future::join_all((0..20).map(|_| app.run_round("commerce", &id))).await;
    let rounds: Vec<&pb::Round> = runs.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(rounds.len(), 1, "one round per policy: {runs:?}");
    assert!(
        runs.iter()
            .filter_map(|r| r.as_ref().err())
            .all(|e| matches!(e.code(), Code::AlreadyExists | Code::Aborted))
    );
    let round = rounds[0].clone();
    let round_id: Uuid = round.id.parse().unwrap();
    let at = after_the_window(&round);
    let finals = futures::future::join_all((0..20).map(|_| app.store.finalize(round_id, at))).await;
    assert_eq!(finals.iter().filter(|r| r.is_ok()).count(), 1);
    let (orders, ordered): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM payment_orders WHERE policy_id = $1), ordered_fen
         FROM budgets WHERE policy_id = $1",
    )
    .bind(&id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        (orders, ordered),
        (3, 3_000),
        "three firms fit the budget, ordered once"
    );
    let beyond =
        sqlx::query("UPDATE budgets SET ordered_fen = ordered_fen + 1 WHERE policy_id = $1")
            .bind(&id)
            .execute(&app.pool)
            .await
            .unwrap_err();
    assert!(
        beyond.to_string().contains("budget_never_exceeded"),
        "{beyond}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_firm_gets_the_larger_policy_of_an_exclusive_group() {
    let app = spawn_app().await;
    let firm = app.uscc(0);
    app.seed(&firm, Firm::default()).await;
    let group = policy_id("group");
    let small = policy_id("small");
    let large = policy_id("large");
    for (id, fen) in [(&small, 100), (&large, 200)] {
        let mut s = spec(id, fixed(fen), 10_000);
        s.exclusive_group = group.clone();
        app.put("commerce", s, 0).await.unwrap();
    }
    assert!(
        app.run_round("commerce", &small)
            .await
            .unwrap()
            .entries
            .is_empty()
    );
    let won = app.run_round("commerce", &large).await.unwrap();
    assert_eq!(amounts(&won), [(firm, 200)]);
    app.stop().await;
}

#[tokio::test]
async fn a_census_correction_after_finalization_changes_no_order() {
    let app = spawn_app().await;
    let id = policy_id("correction");
    let round = seeded_round(&app, &id).await;
    let round_id: Uuid = round.id.parse().unwrap();
    app.store
        .finalize(round_id, after_the_window(&round))
        .await
        .unwrap();
    let firm = app.uscc(2);
    let period = Period::parse(PERIOD).unwrap();
    let mut tx = app.pool.begin().await.unwrap();
    let corrected = Figures {
        rd_spend_fen: 9,
        revenue_fen: 10,
        ..Figures::default()
    };
    read_model::upsert_return(&mut tx, &firm, period, 2, &corrected)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let amount: i64 = sqlx::query_scalar(
        "SELECT amount_fen FROM payment_orders WHERE policy_id = $1 AND uscc = $2",
    )
    .bind(&id)
    .bind(&firm)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(amount, 100_000);
    let again = app.run_round("commerce", &id).await.unwrap_err();
    assert_eq!(again.code(), Code::AlreadyExists);
    app.stop().await;
}

#[tokio::test]
async fn a_firm_that_becomes_eligible_later_is_in_the_next_periods_round() {
    let app = spawn_app().await;
    let firm = app.uscc(0);
    // Class C in 2025, A in 2026.
    app.seed(
        &firm,
        Firm {
            class: Some(Class::C),
            ..Firm::default()
        },
    )
    .await;
    let next = Period::parse("2026").unwrap();
    let mut tx = app.pool.begin().await.unwrap();
    read_model::upsert_return(&mut tx, &firm, next, 1, &Figures::default())
        .await
        .unwrap();
    read_model::set_class(
        &mut tx,
        &firm,
        next,
        Some(Class::A),
        90.0,
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let id = policy_id("later");
    let mut s = spec(&id, fixed(1_000), 100_000);
    s.conditions = vec![pb::Condition {
        clause: Some(pb::condition::Clause::Class(pb::ClassCondition {
            classes: vec![common::EnterpriseClass::A as i32],
            view: pb::ClassView::InForce as i32,
        })),
    }];
    app.put("commerce", s.clone(), 0).await.unwrap();
    assert!(
        app.run_round("commerce", &id)
            .await
            .unwrap()
            .entries
            .is_empty(),
        "C in 2025"
    );
    s.period = Some(common::Period {
        code: "2026".into(),
    });
    app.put("commerce", s, 1).await.unwrap();
    let next_round = app.run_round("commerce", &id).await.unwrap();
    assert_eq!(
        amounts(&next_round),
        [(firm, 1_000)],
        "A in 2026: in the next period's round"
    );
    assert_eq!(next_round.policy_version, 2);
    app.stop().await;
}

#[tokio::test]
async fn a_share_of_a_recorded_expense_is_paid_to_the_firms_that_recorded_it() {
    let app = spawn_app().await;
    let (trained, untrained) = (app.uscc(0), app.uscc(1));
    app.seed(&trained, Firm::default()).await;
    app.seed(&untrained, Firm::default()).await;
    let record = |amount_fen: i64, kind: &str| pb::RecordExpenseRequest {
        uscc: trained.clone(),
        period: Some(common::Period {
            code: PERIOD.into(),
        }),
        kind: kind.into(),
        amount_fen,
        evidence: "invoice 2025-0042".into(),
    };
    let bad = app
        .client
        .clone()
        .record_expense(as_dev("commerce", record(-1, "Training!")))
        .await
        .unwrap_err();
    assert_eq!(testkit::invalid_fields(&bad), ["kind", "amount_fen"]);
    app.client
        .clone()
        .record_expense(as_dev("commerce", record(30_001, "training")))
        .await
        .unwrap();
    let id = policy_id("training-share");
    let benefit = pb::Benefit {
        amount: Some(pb::benefit::Amount::Expense(pb::ShareOfExpense {
            kind: "training".into(),
            rate_bp: 5_000,
        })),
        cap_fen: 0,
    };
    app.put("commerce", spec(&id, benefit, 1_000_000), 0)
        .await
        .unwrap();
    let round = app.run_round("commerce", &id).await.unwrap();
    assert_eq!(
        amounts(&round),
        [(trained, 15_001)],
        "half of 30,001 fen rounded half up; nothing recorded, nothing paid"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_round_reads_the_final_list_where_the_period_has_one() {
    use haicheng_proto::classification::v1::{FinalClass, Finalization, PeriodFinalized};
    let app = spawn_app().await;
    // Upgraded to A by an upheld objection, and one the final list keeps in B.
    let (raised, kept) = (app.uscc(0), app.uscc(1));
    let firm = |class| Firm {
        class: Some(class),
        ..Firm::default()
    };
    app.seed(&raised, firm(Class::C)).await;
    app.seed(&kept, firm(Class::A)).await;
    let id = policy_id("leaders-final");
    let mut s = spec(&id, fixed(5_000), 100_000);
    s.conditions = vec![pb::Condition {
        clause: Some(pb::condition::Clause::Class(pb::ClassCondition {
            classes: vec![common::EnterpriseClass::A as i32],
            view: pb::ClassView::InForce as i32,
        })),
    }];
    app.put("commerce", s, 0).await.unwrap();

    let finalized = PeriodFinalized {
        finalization: Some(Finalization {
            period: Some(common::Period {
                code: PERIOD.into(),
            }),
            finalized_at: Some(platform::time::to_timestamp(Utc::now())),
            ..Default::default()
        }),
        classes: vec![
            FinalClass {
                uscc: raised.clone(),
                enterprise_class: common::EnterpriseClass::A as i32,
            },
            FinalClass {
                uscc: kept.clone(),
                enterprise_class: common::EnterpriseClass::B as i32,
            },
        ],
    };
    let (event, payload) = app
        .publish(topics::CLASSIFICATION_EVENTS, PERIOD, &finalized)
        .await;
    // Delivered twice: applied once.
    app.publish_again(topics::CLASSIFICATION_EVENTS, &event, &payload)
        .await;
    let applied = testkit::wait_until(Duration::from_secs(30), || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM final_classes WHERE period = $1")
            .bind(PERIOD)
            .fetch_one(&app.pool)
            .await
            .is_ok_and(|n| n == 2)
    })
    .await;
    assert!(applied, "the final list arrived");

    let round = app.run_round("commerce", &id).await.unwrap();
    assert_eq!(
        amounts(&round),
        [(raised.clone(), 5_000)],
        "the final list's A, not the class in force"
    );
    assert_eq!(
        round.entries[0].enterprise_class(),
        common::EnterpriseClass::A
    );
    assert!(
        round.entries[0].explanation.contains("in the final list"),
        "{}",
        round.entries[0].explanation
    );
    app.stop().await;
}
