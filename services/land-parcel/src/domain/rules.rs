//! Every number of the land rules in one value, as the configuration reads it
//! ([`crate::config`]) and the `decide…` functions take it.

use platform::auth::Department;

use super::{
    evaluation::EvaluationRules, grant::PlotRatioMinimums, idle::IdleRules,
    lateness::LatenessRules, low_efficiency::LowEfficiencyRules, supply::TermRules,
};

/// Every land rule's numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LandRules {
    pub terms: TermRules,
    pub plot_ratio_minimums: PlotRatioMinimums,
    pub lateness: LatenessRules,
    pub evaluation: EvaluationRules,
    pub idle: IdleRules,
    pub low_efficiency: LowEfficiencyRules,
    /// Smallest unit of a split building, hundredths of a m² (unless a whole floor is smaller).
    pub min_unit_centi_m2: i64,
    /// Who hears of a shortfall, an early warning or a restored grant.
    pub notice_departments: Vec<Department>,
    /// Who hears of idle land and its fee order (natural resources decides, finance collects).
    pub idle_notice_departments: Vec<Department>,
    /// Who hears that a grant went to take-back review (the department that decides).
    pub review_notice_departments: Vec<Department>,
    /// Who hears of low-efficiency land and of a take-back.
    pub disposal_notice_departments: Vec<Department>,
}

impl Default for LandRules {
    fn default() -> Self {
        Self {
            terms: TermRules::default(),
            plot_ratio_minimums: PlotRatioMinimums::default(),
            lateness: LatenessRules::default(),
            evaluation: EvaluationRules::default(),
            idle: IdleRules::default(),
            low_efficiency: LowEfficiencyRules::default(),
            min_unit_centi_m2: 30_000,
            notice_departments: vec![Department::NaturalResources, Department::Commerce],
            idle_notice_departments: vec![Department::NaturalResources, Department::Finance],
            review_notice_departments: vec![Department::NaturalResources],
            disposal_notice_departments: vec![Department::NaturalResources, Department::Commerce],
        }
    }
}
