//! What the bureau reads: a year's plan report (on-site tasks of the plans against the
//! visits they became: joint-visit rate, visits saved) and visits per firm against the caps,
//! with an alert for each firm above one.

use std::collections::BTreeMap;

use platform::auth::Department;

use super::{Limits, item::ItemKind, visit::Visit};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlanReport {
    /// On-site tasks of the plans: the visits an unmerged plan would make.
    pub on_site_tasks: u32,
    /// On-site visits holding them.
    pub on_site_visits: u32,
    /// Of them, of two or more departments.
    pub joint_visits: u32,
    pub joint_visit_rate_bp: u32,
    pub visits_saved: u32,
    pub reduction_bp: u32,
}

fn bp(part: u32, whole: u32) -> u32 {
    if whole == 0 {
        0
    } else {
        u32::try_from(u64::from(part) * 10_000 / u64::from(whole)).unwrap_or(0)
    }
}

/// The report over `visits` (a year's): only tasks of filed plans count.
pub fn plan_report(visits: &[Visit]) -> PlanReport {
    let mut report = PlanReport::default();
    for visit in visits.iter().filter(|v| v.on_site) {
        let planned = visit.tasks.iter().filter(|t| t.plan_code.is_some()).count();
        if planned == 0 {
            continue;
        }
        report.on_site_tasks += u32::try_from(planned).unwrap_or(u32::MAX);
        report.on_site_visits += 1;
        if visit.joint() {
            report.joint_visits += 1;
        }
    }
    report.visits_saved = report.on_site_tasks - report.on_site_visits;
    report.joint_visit_rate_bp = bp(report.joint_visits, report.on_site_visits);
    report.reduction_bp = bp(report.visits_saved, report.on_site_tasks);
    report
}

/// One firm's visits of a year.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirmCount {
    pub uscc: String,
    pub name: String,
    /// On-site visits (a joint visit once), exempt ones included.
    pub visits: u32,
    pub exempt_visits: u32,
    pub routine_by_department: BTreeMap<Department, u32>,
    /// Above a cap, in words.
    pub alerts: Vec<String>,
}

/// Visits per firm of `visits` (a year's), by USCC.
pub fn visit_counts(visits: &[Visit], limits: &Limits) -> Vec<FirmCount> {
    let mut firms: BTreeMap<&str, FirmCount> = BTreeMap::new();
    for visit in visits.iter().filter(|v| v.on_site) {
        let firm = firms.entry(&visit.uscc).or_insert_with(|| FirmCount {
            uscc: visit.uscc.clone(),
            name: visit.name.clone(),
            visits: 0,
            exempt_visits: 0,
            routine_by_department: BTreeMap::new(),
            alerts: Vec::new(),
        });
        firm.visits += 1;
        if !visit.counts() {
            firm.exempt_visits += 1;
        }
        for task in visit.tasks.iter().filter(|t| t.kind == ItemKind::Routine) {
            *firm
                .routine_by_department
                .entry(task.department)
                .or_default() += 1;
        }
    }
    let mut out: Vec<FirmCount> = firms.into_values().collect();
    for firm in &mut out {
        if firm.visits > limits.visit_cap_total {
            firm.alerts.push(format!(
                "{} visits of all departments, above the cap of {} ({} exempt)",
                firm.visits, limits.visit_cap_total, firm.exempt_visits
            ));
        }
        for (department, n) in &firm.routine_by_department {
            if *n > limits.routine_cap_per_department {
                firm.alerts.push(format!(
                    "{n} routine visits of {}, above the cap of {}",
                    department.as_str(),
                    limits.routine_cap_per_department
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::visit::{
        Exemption,
        tests::{day, place_all, task},
    };

    #[test]
    fn the_report_counts_the_visits_merging_saved() {
        let limits = Limits::default();
        let mut tasks = vec![
            task(Department::Tax, "F1", day(0), ItemKind::Routine),
            task(
                Department::MarketSupervision,
                "F1",
                day(10),
                ItemKind::Routine,
            ),
            task(Department::Tax, "F2", day(0), ItemKind::Routine),
        ];
        for t in &mut tasks {
            t.plan_code = Some("JC-2026-TAX".into());
        }
        let (visits, _) = place_all(tasks, &limits);
        let report = plan_report(&visits);
        assert_eq!(report.on_site_tasks, 3);
        assert_eq!(report.on_site_visits, 2);
        assert_eq!(report.joint_visits, 1);
        assert_eq!(report.visits_saved, 1);
        assert_eq!(report.joint_visit_rate_bp, 5_000);
        assert_eq!(report.reduction_bp, 3_333);
    }

    #[test]
    fn a_firm_above_the_cap_through_exemptions_raises_an_alert() {
        let limits = Limits::default();
        let tasks = (0..5)
            .map(|i| {
                let mut t = task(Department::Tax, "F1", day(40 * i), ItemKind::Triggered);
                t.exemption = Some((Exemption::Complaint, format!("12345-{i}")));
                t
            })
            .collect();
        let (visits, _) = place_all(tasks, &limits);
        let counts = visit_counts(&visits, &limits);
        assert_eq!(counts[0].visits, 5);
        assert_eq!(counts[0].exempt_visits, 5);
        assert_eq!(counts[0].alerts.len(), 1);
        assert!(counts[0].alerts[0].contains("above the cap of 4"));
    }
}
