//! The support part of the demo data set: three policies for the demo's 2025 census period,
//! and the R&D subsidy's round published and finalized, so finance has payment orders.
//!
//! - `key-support-2025` (commerce, 免申即享): class A in force, no veto; 100,000 yuan each,
//!   a budget that pays every class-A firm;
//! - `rd-subsidy-2025` (finance, 免申即享): class A or B, R&D at least 1 % of revenue, no
//!   veto; 10 % of R&D spend, at most 300,000 yuan a firm; a budget of 2,000,000 yuan that
//!   does not cover everyone (the firm that does not fit gets the remainder);
//! - `training-2025` (commerce, 快申快享: human resources does not issue policies): class B,
//!   registered at least 3 years; 20,000 yuan, reviewed within 10 working days.
//!
//! Facts reach the support service through its consumers (census and classification events),
//! so the round waits (with a deadline) until the calculator sees the demo firms' figures and
//! every firm in the class classification settled on. Everything is idempotent: a policy already there is kept, and a round already run
//! is found again through its payment orders.

use std::time::Duration;

use futures::{StreamExt, TryStreamExt, stream};
use haicheng_proto::{
    classification::v1::{self as cpb, classification_service_client::ClassificationServiceClient},
    common::v1 as common,
    support::v1::{self as pb, support_service_client::SupportServiceClient},
};
use tonic::Code;

use crate::{
    client::{Authed, Bearer, call, endpoint},
    demo::DemoCensus,
    enums,
};

/// The policy whose round the demo runs and finalizes.
pub const ROUND_POLICY: &str = "rd-subsidy-2025";
/// The policy of class A (the tour firm receives it once the tour's return lifts it into A).
pub const KEY_SUPPORT: &str = "key-support-2025";
/// The APPLICATION policy.
pub const TRAINING: &str = "training-2025";

/// How long the facts may take to reach the support service.
const FACTS_DEADLINE: Duration = Duration::from_secs(240);

type Client = SupportServiceClient<Authed>;

fn class(classes: &[common::EnterpriseClass]) -> pb::Condition {
    pb::Condition {
        clause: Some(pb::condition::Clause::Class(pb::ClassCondition {
            classes: classes.iter().map(|c| *c as i32).collect(),
            view: pb::ClassView::InForce as i32,
        })),
    }
}

fn clause(clause: pb::condition::Clause) -> pb::Condition {
    pb::Condition {
        clause: Some(clause),
    }
}

/// A demo policy for 2025, valid 2025–2030, the remainder to the first firm that does not fit.
fn spec(
    (id, title, document_number): (&str, &str, &str),
    issuer: common::Department,
    mode: pb::PolicyMode,
    conditions: Vec<pb::Condition>,
    (benefit, budget_fen): (pb::Benefit, i64),
) -> pb::PolicySpec {
    pb::PolicySpec {
        id: id.into(),
        title: title.into(),
        document_number: document_number.into(),
        issuer: issuer as i32,
        valid_from: "2025-01-01".into(),
        valid_until: "2030-12-31".into(),
        period: Some(common::Period {
            code: "2025".into(),
        }),
        mode: mode as i32,
        review_working_days: if mode == pb::PolicyMode::Application {
            10
        } else {
            0
        },
        conditions,
        benefit: Some(benefit),
        budget_fen,
        remainder: pb::Remainder::Partial as i32,
        exclusive_group: String::new(),
    }
}

/// The three demo policies, each with the token of its issuer.
pub fn policies() -> Vec<(&'static str, pb::PolicySpec)> {
    use common::{Department, EnterpriseClass as C};
    use pb::condition::Clause;
    let fixed = |fen| pb::Benefit {
        amount: Some(pb::benefit::Amount::FixedFen(fen)),
        cap_fen: 0,
    };
    let key_support = spec(
        (KEY_SUPPORT, "重点企业扶持资金", "海政发〔2025〕12号"),
        Department::Commerce,
        pb::PolicyMode::Automatic,
        vec![class(&[C::A]), clause(Clause::NoVeto(true))],
        (fixed(10_000_000), 5_000_000_000),
    );
    let rd_rate = pb::Benefit {
        amount: Some(pb::benefit::Amount::Rate(pb::RateOfIndicator {
            indicator: pb::Indicator::RdSpendFen as i32,
            rate_bp: 1_000,
        })),
        cap_fen: 30_000_000,
    };
    let rd_share = pb::IndicatorCondition {
        indicator: pb::Indicator::RdShareBp as i32,
        at_least: 100,
    };
    let rd_subsidy = spec(
        (ROUND_POLICY, "研发投入后补助", "海财发〔2025〕7号"),
        Department::Finance,
        pb::PolicyMode::Automatic,
        vec![
            class(&[C::A, C::B]),
            clause(Clause::Indicator(rd_share)),
            clause(Clause::NoVeto(true)),
        ],
        (rd_rate, 200_000_000),
    );
    let training = spec(
        (TRAINING, "职工技能培训补贴", "海人社发〔2025〕3号"),
        Department::Commerce,
        pb::PolicyMode::Application,
        vec![class(&[C::B]), clause(Clause::MinYearsRegistered(3))],
        (fixed(2_000_000), 100_000_000),
    );
    vec![
        ("dev-commerce", key_support),
        ("dev-finance", rd_subsidy),
        ("dev-commerce", training),
    ]
}

async fn client(address: &str, token: &str) -> anyhow::Result<Client> {
    let channel = endpoint(address)?.connect().await?;
    Ok(SupportServiceClient::with_interceptor(
        channel,
        Bearer::new(token)?,
    ))
}

/// Loads the policies and the finalized R&D round; returns the round's id.
pub async fn load(
    address: &str,
    classification: &str,
    census: &DemoCensus,
) -> anyhow::Result<String> {
    for (token, spec) in policies() {
        put_once(&mut client(address, token).await?, spec).await?;
    }
    eprintln!("3 demo support policies in place; waiting for the facts to reach support");
    let mut finance = client(address, "dev-finance").await?;
    if let Err(err) = wait_for_facts(&mut finance, classification, census).await {
        eprintln!("warning: {err:#}; the round runs on the facts support holds now");
    }
    let round = round_once(&mut finance).await?;
    eprintln!("the {ROUND_POLICY} round {round} is final: finance has its payment orders");
    Ok(round)
}

/// Puts a policy unless it is there already.
async fn put_once(service: &mut Client, spec: pb::PolicySpec) -> anyhow::Result<()> {
    let id = spec.id.clone();
    match service
        .get_policy(call(pb::GetPolicyRequest { id, version: 0 }))
        .await
    {
        Ok(_) => return Ok(()),
        Err(status) if status.code() == Code::NotFound => {}
        Err(status) => anyhow::bail!("reading policy {}: {status}", spec.id),
    }
    let id = spec.id.clone();
    service
        .put_policy(call(pb::PutPolicyRequest {
            spec: Some(spec),
            expected_version: 0,
        }))
        .await
        .map_err(|status| anyhow::anyhow!("putting policy {id}: {status}"))?;
    Ok(())
}

/// Waits until the facts are in: the calculator knows the R&D figures of the last firm of
/// the 2025 returns, and, once classification's 2025 classes have stopped moving, shows every
/// firm in the class classification holds for it.
async fn wait_for_facts(
    service: &mut Client,
    classification: &str,
    census: &DemoCensus,
) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + FACTS_DEADLINE;
    let last = census
        .returns
        .iter()
        .rev()
        .find(|r| r.period.as_ref().is_some_and(|p| p.code == "2025"))
        .map(|r| r.uscc.clone())
        .unwrap_or_default();
    while !figures_known(service, &last).await? {
        past(deadline)?;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let mut pending = settled_classes(classification, deadline).await?;
    while !pending.is_empty() {
        let checks = pending.iter().map(|(uscc, class)| {
            let mut service = service.clone();
            async move {
                let known = calculator(&mut service, uscc).await?;
                let same = known.first().is_some_and(|c| &c.value == class);
                anyhow::Ok((!same).then(|| (uscc.clone(), class.clone())))
            }
        });
        let behind: Vec<_> = stream::iter(checks)
            .buffer_unordered(16)
            .try_collect::<Vec<_>>()
            .await?;
        pending = behind.into_iter().flatten().collect();
        if !pending.is_empty() {
            past(deadline)?;
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
    Ok(())
}

fn past(deadline: tokio::time::Instant) -> anyhow::Result<()> {
    anyhow::ensure!(
        tokio::time::Instant::now() < deadline,
        "the census and classification facts did not reach support within {FACTS_DEADLINE:?}"
    );
    Ok(())
}

/// Classification's 2025 classes (USCC → `A`, `B`, `C` or `none`) once two readings 3 s
/// apart agree (the inspection demo waits for them too).
pub(crate) async fn settled_classes(
    address: &str,
    deadline: tokio::time::Instant,
) -> anyhow::Result<Vec<(String, String)>> {
    let channel = endpoint(address)?.connect().await?;
    let mut classification =
        ClassificationServiceClient::with_interceptor(channel, Bearer::new("dev-commerce")?);
    let mut before = Vec::new();
    loop {
        let mut now = Vec::new();
        let mut page_token = String::new();
        loop {
            let page = classification
                .list_classes(call(cpb::ListClassesRequest {
                    page_size: 1_000,
                    page_token,
                    period: Some(common::Period {
                        code: "2025".into(),
                    }),
                    ..Default::default()
                }))
                .await?
                .into_inner();
            now.extend(page.classifications.into_iter().map(|c| {
                let class = match c.enterprise_class {
                    0 => "none".to_string(),
                    class => enums::short::<common::EnterpriseClass>(class),
                };
                (c.uscc, class)
            }));
            if page.next_page_token.is_empty() {
                break;
            }
            page_token = page.next_page_token;
        }
        now.sort();
        if !now.is_empty() && now == before {
            return Ok(now);
        }
        before = now;
        past(deadline)?;
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
}

async fn calculator(service: &mut Client, uscc: &str) -> anyhow::Result<Vec<pb::ConditionResult>> {
    let request = pb::CheckEligibilityRequest {
        policy_id: ROUND_POLICY.into(),
        uscc: uscc.into(),
    };
    match service.check_eligibility(call(request)).await {
        Ok(reply) => Ok(reply.into_inner().conditions),
        // The firm's registration has not reached support yet.
        Err(status) if status.code() == Code::NotFound => Ok(Vec::new()),
        Err(status) => anyhow::bail!("the calculator for {uscc}: {status}"),
    }
}

/// The R&D share condition (the second) has a value.
async fn figures_known(service: &mut Client, uscc: &str) -> anyhow::Result<bool> {
    let conditions = calculator(service, uscc).await?;
    Ok(conditions.get(1).is_some_and(|c| c.value != "unknown"))
}

/// Runs and finalizes the R&D round; a round run before is found through its orders.
async fn round_once(service: &mut Client) -> anyhow::Result<String> {
    let run = service
        .run_round(call(pb::RunRoundRequest {
            policy_id: ROUND_POLICY.into(),
        }))
        .await;
    let round_id = match run {
        Ok(reply) => reply.into_inner().round.unwrap_or_default().id,
        Err(status) if status.code() == Code::AlreadyExists => {
            let orders = service
                .list_payments(call(pb::ListPaymentsRequest {
                    policy_id: ROUND_POLICY.into(),
                    page_size: 1,
                    ..Default::default()
                }))
                .await?
                .into_inner()
                .orders;
            return orders
                .first()
                .map(|o| o.round_id.clone())
                .ok_or_else(|| anyhow::anyhow!("the {ROUND_POLICY} round exists without orders"));
        }
        Err(status) => anyhow::bail!("running the {ROUND_POLICY} round: {status}"),
    };
    service
        .finalize_round(call(pb::FinalizeRoundRequest {
            round_id: round_id.clone(),
        }))
        .await
        .map_err(|status| anyhow::anyhow!("finalizing round {round_id}: {status}"))?;
    Ok(round_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each demo policy is one the service accepts, issued by the department whose token
    /// puts it, the training policy on application.
    #[test]
    fn the_demo_policies_are_valid_specs_of_their_issuers() {
        let policies = policies();
        assert_eq!(policies.len(), 3);
        for (token, spec) in &policies {
            let mut violations = platform::Violations::new();
            let parsed = ::support::convert::spec_from_proto(&mut violations, spec);
            assert!(
                violations.is_empty(),
                "{}: {:?}",
                spec.id,
                violations.as_slice()
            );
            let parsed = parsed.expect("a spec");
            assert_eq!(
                format!("dev-{}", parsed.issuer.as_str().replace('_', "-")),
                *token,
                "{}",
                spec.id
            );
        }
        let modes: Vec<i32> = policies.iter().map(|(_, s)| s.mode).collect();
        assert_eq!(
            modes,
            [
                pb::PolicyMode::Automatic as i32,
                pb::PolicyMode::Automatic as i32,
                pb::PolicyMode::Application as i32
            ]
        );
    }
}
