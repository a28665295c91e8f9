//! Indicators of the evaluation (based on the per-mu benefit evaluation, 亩均效益综合评价)
//! and how each is computed from the figures of a census return.
//!
//! Units are chosen to read well in an explanation ("3,200 yuan more tax per mu"); the
//! score only uses value / benchmark, so the unit never changes a class.

use serde::{Deserialize, Serialize};

/// One indicator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Indicator {
    /// Tax paid per mu of land used (亩均税收), yuan per mu.
    TaxPerMu,
    /// Industrial output value per mu of land used, yuan per mu.
    OutputPerMu,
    /// Industrial output value per tonne of standard coal, yuan per tce.
    OutputPerEnergy,
    /// R&D spend as a share of revenue, percent.
    RdIntensity,
    /// Industrial output value per employee, yuan.
    LabourProductivity,
    /// Patents held (invention, utility model, design) per 100 employees.
    PatentsPer100Employees,
    /// Share of automated or CNC equipment, percent.
    AutomationShare,
    /// Export sales as a share of revenue, percent.
    ExportShare,
    /// Tax paid per tonne of standard coal, yuan per tce (reduced model).
    TaxPerEnergy,
}

/// The unit of each indicator's value, as an explanation prints it beside the number; one
/// entry per indicator, in [`Indicator::ALL`] order (a test checks that it stays complete).
const UNITS: [(Indicator, &str); Indicator::COUNT] = [
    (Indicator::TaxPerMu, "yuan per mu"),
    (Indicator::OutputPerMu, "yuan per mu"),
    (
        Indicator::OutputPerEnergy,
        "yuan per tonne of standard coal",
    ),
    (Indicator::RdIntensity, "per cent"),
    (Indicator::LabourProductivity, "yuan per employee"),
    (
        Indicator::PatentsPer100Employees,
        "patents per 100 employees",
    ),
    (Indicator::AutomationShare, "per cent"),
    (Indicator::ExportShare, "per cent"),
    (Indicator::TaxPerEnergy, "yuan per tonne of standard coal"),
];

/// One value per indicator, indexed by [`Indicator::index`]; `None` when it cannot be
/// computed (no land, no employees, no revenue, energy unknown).
pub type Values = [Option<f64>; Indicator::COUNT];

impl Indicator {
    pub const COUNT: usize = 9;
    pub const ALL: [Indicator; Self::COUNT] = [
        Indicator::TaxPerMu,
        Indicator::OutputPerMu,
        Indicator::OutputPerEnergy,
        Indicator::RdIntensity,
        Indicator::LabourProductivity,
        Indicator::PatentsPer100Employees,
        Indicator::AutomationShare,
        Indicator::ExportShare,
        Indicator::TaxPerEnergy,
    ];

    /// Position in [`Values`] and in stored benchmark arrays; never reorder.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The name used in configuration (`tax_per_mu=30`).
    pub fn name(self) -> &'static str {
        match self {
            Indicator::TaxPerMu => "tax_per_mu",
            Indicator::OutputPerMu => "output_per_mu",
            Indicator::OutputPerEnergy => "output_per_energy",
            Indicator::RdIntensity => "rd_intensity",
            Indicator::LabourProductivity => "labour_productivity",
            Indicator::PatentsPer100Employees => "patents_per_100_employees",
            Indicator::AutomationShare => "automation_share",
            Indicator::ExportShare => "export_share",
            Indicator::TaxPerEnergy => "tax_per_energy",
        }
    }

    /// The unit of the indicator's value (and of its benchmark and gaps): "yuan per mu",
    /// "per cent", "patents per 100 employees", "yuan per tonne of standard coal" (标准煤),
    /// "yuan per employee".
    pub fn unit(self) -> &'static str {
        UNITS[self.index()].1
    }

    pub fn parse(name: &str) -> Option<Indicator> {
        Self::ALL.into_iter().find(|i| i.name() == name)
    }
}

/// The figures of a census return the indicators are computed from (money in fen, land in
/// hundredths of a mu, as the census reports them). The store reads them straight from a
/// row whose columns bear these names (`FromRow` is a derive, not I/O).
#[derive(Clone, Debug, Default, PartialEq, sqlx::FromRow)]
pub struct Figures {
    pub employees_total: i64,
    pub rd_spend_fen: i64,
    pub revenue_fen: i64,
    pub industrial_output_fen: i64,
    pub tax_paid_fen: i64,
    pub export_sales_fen: i64,
    pub automation_share_percent: f64,
    /// Invention, utility model and design patents held, together.
    pub patents: i64,
    pub land_used_centi_mu: i64,
    pub energy_use_tce: Option<f64>,
}

impl Figures {
    /// Every indicator's value at once, NaN where it cannot be computed (no land, no
    /// employees, no revenue, energy unknown): the conversions are shared, which matters when
    /// a million firms are scored. Fen per hundredth of a mu is yuan per mu, conveniently.
    pub fn raw_values(&self) -> [f64; Indicator::COUNT] {
        let positive = |d: f64| {
            if d > 0.0 && d.is_finite() {
                d
            } else {
                f64::NAN
            }
        };
        let land = positive(self.land_used_centi_mu as f64);
        let employees = positive(self.employees_total as f64);
        let revenue = positive(self.revenue_fen as f64);
        let energy = positive(self.energy_use_tce.unwrap_or(0.0));
        let output_yuan = self.industrial_output_fen as f64 / 100.0;
        let tax_yuan = self.tax_paid_fen as f64 / 100.0;
        let finite = |v: f64| if v.is_finite() { v } else { f64::NAN };
        // In the order of Indicator::ALL.
        [
            finite(self.tax_paid_fen as f64 / land),
            finite(self.industrial_output_fen as f64 / land),
            finite(output_yuan / energy),
            finite(100.0 * self.rd_spend_fen as f64 / revenue),
            finite(output_yuan / employees),
            finite(100.0 * self.patents as f64 / employees),
            finite(self.automation_share_percent),
            finite(100.0 * self.export_sales_fen as f64 / revenue),
            finite(tax_yuan / energy),
        ]
    }

    /// The value of one indicator; `None` when it cannot be computed.
    pub fn value(&self, indicator: Indicator) -> Option<f64> {
        Some(self.raw_values()[indicator.index()]).filter(|v| !v.is_nan())
    }

    pub fn values(&self) -> Values {
        self.raw_values().map(|v| Some(v).filter(|v| !v.is_nan()))
    }
}

/// Whether a value takes part in scoring and benchmarks: missing or negative values score 0.
pub fn usable(value: Option<f64>) -> Option<f64> {
    value.filter(|v| v.is_finite() && *v >= 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_indicator_has_its_own_entry_in_the_unit_table() {
        for indicator in Indicator::ALL {
            let (listed, unit) = UNITS[indicator.index()];
            assert_eq!(listed, indicator, "the unit table follows Indicator::ALL");
            assert!(!unit.trim().is_empty(), "{indicator:?} has no unit");
            assert_eq!(indicator.unit(), unit);
        }
        assert_eq!(Indicator::TaxPerMu.unit(), "yuan per mu");
        assert_eq!(Indicator::RdIntensity.unit(), "per cent");
        assert_eq!(
            Indicator::PatentsPer100Employees.unit(),
            "patents per 100 employees"
        );
        assert_eq!(
            Indicator::TaxPerEnergy.unit(),
            "yuan per tonne of standard coal"
        );
        assert_eq!(Indicator::LabourProductivity.unit(), "yuan per employee");
    }

    #[test]
    fn values_follow_their_definitions_and_missing_denominators_give_none() {
        let figures = Figures {
            employees_total: 50,
            rd_spend_fen: 300_000,
            revenue_fen: 10_000_000,
            industrial_output_fen: 20_000_000,
            tax_paid_fen: 800_000,
            export_sales_fen: 2_500_000,
            automation_share_percent: 40.0,
            patents: 5,
            land_used_centi_mu: 400,
            energy_use_tce: None,
        };
        assert_eq!(figures.value(Indicator::TaxPerMu), Some(2_000.0));
        assert_eq!(figures.value(Indicator::OutputPerMu), Some(50_000.0));
        assert_eq!(figures.value(Indicator::RdIntensity), Some(3.0));
        assert_eq!(figures.value(Indicator::LabourProductivity), Some(4_000.0));
        assert_eq!(figures.value(Indicator::PatentsPer100Employees), Some(10.0));
        assert_eq!(figures.value(Indicator::ExportShare), Some(25.0));
        assert_eq!(figures.value(Indicator::OutputPerEnergy), None);
        let no_land = Figures {
            land_used_centi_mu: 0,
            ..figures
        };
        assert_eq!(no_land.value(Indicator::TaxPerMu), None);
        for indicator in Indicator::ALL {
            assert_eq!(Indicator::from_proto(indicator.to_proto()), Some(indicator));
            assert_eq!(Indicator::parse(indicator.name()), Some(indicator));
        }
    }
}
