//! The inspection part of the demo data set (涉企行政检查): the item lists and rosters of three
//! inspecting departments, their plans over the demo firms, merged into joint visits
//! (综合查一次), and one visit due today (on a complaint) carried through: approved with its
//! inspection code, its result recorded with a finding (a result waits for its visit's day),
//! and rated by the firm.
//!
//! - market supervision (市场监管): product quality, labelling, special equipment (safety);
//! - tax (税务): invoices on site, filings off site;
//! - natural resources (自然资源): land use as granted, idle land (triggered).
//!
//! The plans are for [`year`]: this year until June, the coming one after.
//!
//! The lists go in before the census returns, so the firms the returns rank into class C (and
//! those whose land they find short) get their follow-up tasks on the triggered items.
//! Risk tiers follow classification's events into the inspection service, so the plans wait
//! (with a deadline) until it holds every class classification settled on. Each department
//! draws with a seed of its own derived from the demo's, so every newcomer gets the same plans.
//! Everything is idempotent: an item or roster is put again unchanged, a plan filed before is
//! kept, and a visit carried through before is found again.

use std::time::Duration;

use futures::{StreamExt, TryStreamExt, stream};
use haicheng_proto::{
    common::v1::{self as common, Department},
    inspection::v1::{self as pb, inspection_service_client::InspectionServiceClient},
};
use tonic::Code;

use crate::client::{Authed, Bearer, call, endpoint};

/// How long the classes may take to reach the inspection service.
const TIERS_DEADLINE: Duration = Duration::from_secs(240);

type Client = InspectionServiceClient<Authed>;

/// The joint visit the demo carried through, for the tour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoVisit {
    pub visit: String,
    pub uscc: String,
}

/// One demo item: code, title, legal basis, kind, safety, off site, documents.
struct DemoItem(
    &'static str,
    &'static str,
    &'static str,
    pb::ItemKind,
    bool,
    bool,
    &'static [&'static str],
);

/// The inspecting departments of the demo, with their development tokens.
pub const DEPARTMENTS: [(Department, &str); 3] = [
    (Department::MarketSupervision, "dev-market-supervision"),
    (Department::Tax, "dev-tax"),
    (Department::NaturalResources, "dev-natural-resources"),
];

/// The department whose visit the demo approves, records and has rated.
pub const RECORDING: (Department, &str) = DEPARTMENTS[0];

/// A department's list (检查事项清单).
#[allow(
    clippy::too_many_lines,
    reason = "demo data: one table of items per department, read top to bottom"
)]
fn items(department: Department) -> Vec<DemoItem> {
    use pb::ItemKind::{Routine, Triggered};
    match department {
        Department::MarketSupervision => vec![
            DemoItem(
                "MS-QUALITY-01",
                "产品质量监督检查",
                "《中华人民共和国产品质量法》第十五条",
                Routine,
                false,
                false,
                &["产品检验报告", "原材料进货查验记录"],
            ),
            DemoItem(
                "MS-LABEL-02",
                "产品标识标注检查",
                "《中华人民共和国产品质量法》第二十七条",
                Routine,
                false,
                false,
                &["产品标签样张"],
            ),
            DemoItem(
                "MS-EQUIP-03",
                "特种设备使用安全检查",
                "《中华人民共和国特种设备安全法》第五十七条",
                Routine,
                true,
                false,
                &["特种设备使用登记证", "定期检验报告"],
            ),
            DemoItem(
                "MS-RECHECK-04",
                "整改情况复查",
                "《市场监督管理行政处罚程序规定》第八十三条",
                Triggered,
                false,
                false,
                &["整改报告"],
            ),
        ],
        Department::Tax => vec![
            DemoItem(
                "TAX-INVOICE-01",
                "发票开具与取得检查",
                "《中华人民共和国发票管理办法》第三十五条",
                Routine,
                false,
                false,
                &["发票领用存台账"],
            ),
            DemoItem(
                "TAX-FILING-02",
                "纳税申报资料核查",
                "《中华人民共和国税收征收管理法》第五十四条",
                Routine,
                false,
                true,
                &["纳税申报表", "财务报表"],
            ),
        ],
        _ => vec![
            DemoItem(
                "NR-LANDUSE-01",
                "土地利用与出让合同履约检查",
                "《中华人民共和国土地管理法》第六十七条",
                Routine,
                false,
                false,
                &["国有建设用地使用权出让合同", "不动产权证书"],
            ),
            DemoItem(
                "NR-IDLE-02",
                "闲置土地调查",
                "《闲置土地处置办法》第五条",
                Triggered,
                false,
                false,
                &["项目开竣工证明"],
            ),
        ],
    }
}

/// A department's roster: four inspectors, so two are drawn at random for each visit.
fn roster(department: Department) -> Vec<pb::Inspector> {
    let (prefix, names) = match department {
        Department::MarketSupervision => ("SJ", ["王强", "李娜", "赵磊", "孙悦"]),
        Department::Tax => ("SW", ["周敏", "吴刚", "郑洁", "冯涛"]),
        _ => ("ZR", ["陈晨", "杨帆", "朱琳", "许诺"]),
    };
    names
        .iter()
        .enumerate()
        .map(|(i, name)| pb::Inspector {
            id: format!("{prefix}-21030{}", i + 1),
            name: (*name).to_string(),
            department: 0,
        })
        .collect()
}

/// The routine items a department's plan checks: the on-site ones.
fn plan_items(department: Department) -> Vec<String> {
    items(department)
        .into_iter()
        .filter(|i| i.3 == pb::ItemKind::Routine && !i.5)
        .map(|i| i.0.to_string())
        .collect()
}

/// The year the demo plans: this year in China until the end of June, the coming one after
/// (a plan is drawn for a year ahead, and a visit already past has no valid code to show).
pub fn year() -> i32 {
    use chrono::Datelike;
    let half_a_year = chrono::Duration::days(183);
    platform::calendar::china_date(chrono::Utc::now() + half_a_year).year()
}

/// Today in China, `YYYY-MM-DD`, as visits carry their day.
fn today() -> String {
    platform::calendar::china_date(chrono::Utc::now())
        .format("%Y-%m-%d")
        .to_string()
}

async fn client(address: &str, token: &str) -> anyhow::Result<Client> {
    let channel = endpoint(address)?.connect().await?;
    Ok(InspectionServiceClient::with_interceptor(
        channel,
        Bearer::new(token)?,
    ))
}

/// The item lists and rosters, before the census returns: a firm the returns rank into class
/// C, or whose land they find short, gets its follow-up task on the triggered items listed.
pub async fn load_lists(address: &str) -> anyhow::Result<()> {
    for (department, token) in DEPARTMENTS {
        let mut service = client(address, token).await?;
        lists(&mut service, department).await?;
    }
    eprintln!("the inspection item lists and rosters of 3 departments are in place");
    Ok(())
}

/// Once the classes have reached inspection: the plans, and one joint visit carried through;
/// returns it.
pub async fn load_plans(
    address: &str,
    classification: &str,
    seed: u64,
) -> anyhow::Result<Option<DemoVisit>> {
    let mut commerce = client(address, "dev-commerce").await?;
    if let Err(err) = wait_for_tiers(&mut commerce, classification).await {
        eprintln!("warning: {err:#}; the plans are drawn over the tiers inspection holds now");
    }
    let year = year();
    for (i, (department, token)) in DEPARTMENTS.into_iter().enumerate() {
        let mut service = client(address, token).await?;
        plan_once(&mut service, department, year, seed + i as u64).await?;
    }
    let report = commerce
        .get_plan_report(call(pb::GetPlanReportRequest { year }))
        .await?
        .into_inner();
    eprintln!(
        "{year}'s inspection plans: {} on-site tasks in {} visits, {} joint ({} % of visits), {} visits saved",
        report.on_site_tasks,
        report.on_site_visits,
        report.joint_visits,
        f64::from(report.joint_visit_rate_bp) / 100.0,
        report.visits_saved
    );
    let (department, token) = RECORDING;
    let mut service = client(address, token).await?;
    let Some(visit) = carried_through(&mut service, department).await? else {
        eprintln!("warning: no joint visit to carry through");
        return Ok(None);
    };
    let mut firm = client(address, &format!("dev-enterprise-{}", visit.uscc)).await?;
    rate_once(&mut firm, &visit.visit).await?;
    eprintln!(
        "visit {} of {} approved, recorded with a finding and rated",
        visit.visit, visit.uscc
    );
    Ok(Some(visit))
}

/// Puts a department's items and roster (the same values again change nothing).
async fn lists(service: &mut Client, department: Department) -> anyhow::Result<()> {
    for DemoItem(code, title, legal_basis, kind, safety, off_site, documents) in items(department) {
        let item = pb::Item {
            code: code.into(),
            title: title.into(),
            legal_basis: legal_basis.into(),
            kind: kind as i32,
            safety,
            off_site,
            documents: documents.iter().map(|d| (*d).to_string()).collect(),
            ..Default::default()
        };
        service
            .put_item(call(pb::PutItemRequest { item: Some(item) }))
            .await
            .map_err(|status| anyhow::anyhow!("putting item {code}: {status}"))?;
    }
    let inspectors = roster(department);
    service
        .put_roster(call(pb::PutRosterRequest { inspectors }))
        .await
        .map_err(|status| anyhow::anyhow!("putting the roster of {department:?}: {status}"))?;
    Ok(())
}

/// Waits until inspection holds, for every firm classification graded, the class
/// classification settled on (its tier follows from it).
async fn wait_for_tiers(service: &mut Client, classification: &str) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + TIERS_DEADLINE;
    let classes = super::support::settled_classes(classification, deadline).await?;
    let mut pending: Vec<(String, String)> = classes
        .into_iter()
        .filter(|(_, class)| class != "none")
        .collect();
    while !pending.is_empty() {
        let checks = pending.iter().map(|(uscc, class)| {
            let mut service = service.clone();
            async move {
                let request = pb::GetRiskTierRequest { uscc: uscc.clone() };
                let held = match service.get_risk_tier(call(request)).await {
                    Ok(reply) => reply.into_inner().firm.unwrap_or_default().enterprise_class,
                    // Its class has not reached inspection yet.
                    Err(status) if status.code() == Code::NotFound => 0,
                    Err(status) => anyhow::bail!("the tier of {uscc}: {status}"),
                };
                let same = crate::enums::short::<common::EnterpriseClass>(held) == *class;
                anyhow::Ok((!same).then(|| (uscc.clone(), class.clone())))
            }
        });
        let behind: Vec<_> = stream::iter(checks)
            .buffer_unordered(16)
            .try_collect::<Vec<_>>()
            .await?;
        pending = behind.into_iter().flatten().collect();
        if !pending.is_empty() {
            anyhow::ensure!(
                tokio::time::Instant::now() < deadline,
                "{} classes did not reach inspection within {TIERS_DEADLINE:?}",
                pending.len()
            );
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
    Ok(())
}

/// Draws and files a department's plan for `year`, unless one is filed already.
async fn plan_once(
    service: &mut Client,
    department: Department,
    year: i32,
    seed: u64,
) -> anyhow::Result<()> {
    let request = pb::DrawPlanRequest {
        year,
        item_codes: plan_items(department),
        seed,
        preview: false,
    };
    match service.draw_plan(call(request)).await {
        Ok(reply) => {
            let plan = reply.into_inner().plan.unwrap_or_default();
            eprintln!("plan {} filed: {} firms drawn", plan.code, plan.tasks.len());
            Ok(())
        }
        Err(status) if status.code() == Code::AlreadyExists => Ok(()),
        Err(status) => anyhow::bail!("drawing the {year} plan of {department:?}: {status}"),
    }
}

/// The department's visit carried through: one recorded before, or a visit due today on a
/// complaint (a result is recorded only once its visit's day has come, and the plans are for
/// the year ahead) at a firm with no visit yet (so it joins none further off), approved and
/// recorded with a finding on the department's quality item.
async fn carried_through(
    service: &mut Client,
    department: Department,
) -> anyhow::Result<Option<DemoVisit>> {
    let today = today();
    let year = today[..4].parse().unwrap_or_default();
    let recorded = first_visit(service, department, year, pb::VisitState::Recorded, &today);
    if let Some(done) = recorded.await? {
        return Ok(Some(DemoVisit {
            visit: done.id,
            uscc: done.uscc,
        }));
    }
    let Some(uscc) = firm_without_visits(service).await? else {
        return Ok(None);
    };
    let task = pb::CreateTaskRequest {
        uscc,
        kind: pb::ItemKind::Triggered as i32,
        item_codes: vec!["MS-QUALITY-01".into()],
        planned_on: today,
        exemption: pb::Exemption::Complaint as i32,
        exemption_reference: "12345-2026-0815".into(),
    };
    let created = service.create_task(call(task)).await?.into_inner();
    let Some(proposed) = created.visit else {
        return Ok(None);
    };
    let approved = service
        .approve_visit(call(pb::ApproveVisitRequest {
            visit_id: proposed.id.clone(),
            expected_version: proposed.version,
        }))
        .await?
        .into_inner()
        .visit
        .unwrap_or_default();
    record_finding(service, &approved, department).await?;
    Ok(Some(DemoVisit {
        visit: approved.id,
        uscc: approved.uscc,
    }))
}

/// A tier-B firm with no visit in any year, if there is one.
async fn firm_without_visits(service: &mut Client) -> anyhow::Result<Option<String>> {
    let mut page_token = String::new();
    loop {
        let request = pb::ListRiskTiersRequest {
            tier: pb::RiskTier::B as i32,
            page_size: 200,
            page_token,
            ..Default::default()
        };
        let page = service.list_risk_tiers(call(request)).await?.into_inner();
        for firm in page.firms {
            let visits = pb::ListVisitsRequest {
                uscc: firm.uscc.clone(),
                page_size: 1,
                ..Default::default()
            };
            if service
                .list_visits(call(visits))
                .await?
                .into_inner()
                .visits
                .is_empty()
            {
                return Ok(Some(firm.uscc));
            }
        }
        if page.next_page_token.is_empty() {
            return Ok(None);
        }
        page_token = page.next_page_token;
    }
}

/// The department's first on-site visit in `state` on `until` or earlier (`YYYY-MM-DD`): a
/// joint one before one of a single department.
async fn first_visit(
    service: &mut Client,
    department: Department,
    year: i32,
    state: pb::VisitState,
    until: &str,
) -> anyhow::Result<Option<pb::Visit>> {
    let (mut page_token, mut single) = (String::new(), None);
    loop {
        let request = pb::ListVisitsRequest {
            department: department as i32,
            year,
            state: state as i32,
            page_size: 500,
            page_token,
            ..Default::default()
        };
        let page = service.list_visits(call(request)).await?.into_inner();
        for visit in page.visits {
            if !(visit.on_site && visit.visit_on.as_str() <= until) {
                continue;
            }
            if visit.joint {
                return Ok(Some(visit));
            }
            single.get_or_insert(visit);
        }
        if page.next_page_token.is_empty() {
            return Ok(single);
        }
        page_token = page.next_page_token;
    }
}

/// Records the visit's result against its code: a finding on one of the department's items.
async fn record_finding(
    service: &mut Client,
    visit: &pb::Visit,
    department: Department,
) -> anyhow::Result<()> {
    // Product quality when the visit checks it (the finding is about inspection records),
    // else the department's first item.
    let mine = || {
        visit
            .items
            .iter()
            .filter(|i| i.department == department as i32)
    };
    let item = mine()
        .find(|i| i.code == "MS-QUALITY-01")
        .or_else(|| mine().next())
        .map(|i| i.code.clone())
        .unwrap_or_default();
    let request = pb::RecordResultRequest {
        visit_id: visit.id.clone(),
        code: visit.code.clone(),
        uscc: visit.uscc.clone(),
        outcome: pb::Outcome::Findings as i32,
        findings: vec![pb::FindingInput {
            item_code: item,
            description: "部分批次产品未留存出厂检验记录".into(),
            rectification_days: 30,
        }],
        summary: "检查完成；其余事项未发现问题".into(),
    };
    service
        .record_result(call(request))
        .await
        .map_err(|status| anyhow::anyhow!("recording visit {}: {status}", visit.id))?;
    Ok(())
}

/// The firm rates the visit, unless it has.
async fn rate_once(firm: &mut Client, visit: &str) -> anyhow::Result<()> {
    let request = pb::RateVisitRequest {
        visit_id: visit.to_string(),
        satisfaction: pb::Satisfaction::Satisfied as i32,
        text: "几个部门一次来齐，资料只交一次".into(),
    };
    match firm.rate_visit(call(request)).await {
        Ok(_) => Ok(()),
        Err(status)
            if matches!(
                status.code(),
                Code::AlreadyExists | Code::FailedPrecondition
            ) =>
        {
            Ok(())
        }
        Err(status) => anyhow::bail!("rating visit {visit}: {status}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_departments_each_plan_on_site_routine_items_with_a_roster_of_four() {
        for (department, token) in DEPARTMENTS {
            let planned = plan_items(department);
            assert!(!planned.is_empty(), "{department:?}");
            let codes: Vec<&str> = items(department).iter().map(|i| i.0).collect();
            for code in &planned {
                assert!(codes.contains(&code.as_str()));
            }
            assert_eq!(roster(department).len(), 4);
            let name = platform::auth::Department::parse(
                &token.trim_start_matches("dev-").replace('-', "_"),
            );
            assert!(name.is_some(), "{token}");
        }
        // The codes are what the service takes: upper-case letters, digits and dashes.
        for (department, _) in DEPARTMENTS {
            for item in items(department) {
                assert!(
                    item.0
                        .chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-'),
                    "{}",
                    item.0
                );
            }
        }
    }
}
