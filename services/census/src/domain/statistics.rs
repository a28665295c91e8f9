//! Totals of a census period (普查汇总), per park or per segment.

use super::{Park, Segment};

/// How statistics rows are grouped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grouping {
    Park,
    Segment,
}

/// The key of one statistics row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    Park(Park),
    Segment(Segment),
}

impl Grouping {
    /// Every group, in a fixed order, so a report always has the same rows (zeros included).
    pub fn groups(self) -> Vec<Group> {
        match self {
            Grouping::Park => Park::ALL.into_iter().map(Group::Park).collect(),
            Grouping::Segment => Segment::ALL.into_iter().map(Group::Segment).collect(),
        }
    }
}

/// Sums over the latest revision of each enterprise's return for one period.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Enterprises with a return for the period.
    pub enterprises: i64,
    pub employees: i64,
    pub rd_spend_fen: i64,
    /// Patents of every kind.
    pub patents: i64,
    pub output_fen: i64,
    pub tax_fen: i64,
    pub export_fen: i64,
}

impl Totals {
    /// Adds another group's totals (saturating: a total never wraps round).
    pub fn add(&mut self, other: &Totals) {
        self.enterprises = self.enterprises.saturating_add(other.enterprises);
        self.employees = self.employees.saturating_add(other.employees);
        self.rd_spend_fen = self.rd_spend_fen.saturating_add(other.rd_spend_fen);
        self.patents = self.patents.saturating_add(other.patents);
        self.output_fen = self.output_fen.saturating_add(other.output_fen);
        self.tax_fen = self.tax_fen.saturating_add(other.tax_fen);
        self.export_fen = self.export_fen.saturating_add(other.export_fen);
    }
}
