//! The rules of inspections, pure: no I/O, no protobuf, no clock (time is an argument).
//!
//! - [`item`]: a department's inspection items (检查事项清单) and who may write them;
//! - [`tier`]: risk tiers A–D from the platform's facts, and the white list (无事不扰);
//! - [`plan`]: the seeded yearly draw of firms and inspectors (双随机);
//! - [`visit`]: tasks, their placement into (joint) visits (综合查一次) and the yearly caps;
//! - [`code`]: inspection codes (扫码入企), results, findings and re-checks;
//! - [`rating`]: the firm's anonymous rating of a visit and the aggregates departments read;
//! - [`report`]: a year's plan report and visits per firm against the caps.

pub mod code;
pub mod item;
pub mod plan;
pub mod rating;
pub mod report;
pub mod tier;
pub mod visit;

/// The numbers of the rules, as configured (`crate::config`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Sampling ratio per tier A, B, C, D, basis points.
    pub ratios_bp: [u32; 4],
    /// Tasks of one firm this many days apart or fewer merge into one visit.
    pub joint_window_days: u32,
    /// Routine visits per department and firm a year.
    pub routine_cap_per_department: u32,
    /// Visits of all departments per firm a year.
    pub visit_cap_total: u32,
    /// A code stays valid this many days after the visit's date.
    pub code_valid_days: u32,
    /// Days to rectify a finding when the inspector sets none.
    pub rectification_days: u32,
    /// Working days after recording by which a result is published.
    pub result_publish_working_days: u32,
    /// The fewest ratings a department may read an aggregate of.
    pub min_ratings_shown: u32,
    /// A plan's tasks for one firm fall within this many days after the firm's anchor day.
    pub plan_spread_days: u32,
    /// A triggered follow-up is due this many days after its cause.
    pub follow_up_days: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            ratios_bp: [300, 1_000, 4_000, 10_000],
            joint_window_days: 30,
            routine_cap_per_department: 1,
            visit_cap_total: 4,
            code_valid_days: 7,
            rectification_days: 30,
            result_publish_working_days: 20,
            min_ratings_shown: 5,
            plan_spread_days: 60,
            follow_up_days: 30,
        }
    }
}
