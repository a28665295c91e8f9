//! The facts a policy is decided on, as the read model holds them: who the firm is (census
//! registry), its figures for the policy's period (census return), its class (classification),
//! its land commitments (land evaluations) and its external fairs (fair registrations). Each
//! came from another service's events; none is asked of the firm again.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, NaiveDate};
use platform::{Class, Park, Segment};

/// Everything the rules read about one firm.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Facts {
    pub uscc: String,
    pub name: String,
    pub park: Option<Park>,
    pub segment: Option<Segment>,
    pub registered_on: Option<NaiveDate>,
    /// A serious safety, environmental or tax-credit violation on record (一票否决).
    pub veto: bool,
    /// Deregistered firms receive nothing.
    pub deregistered: bool,
    /// The latest revision of the return for the policy's period; `None`: no return.
    pub figures: Option<Figures>,
    /// The class in force now, and the score it was ranked by.
    pub class_in_force: Option<Class>,
    pub score: f64,
    /// The class as the period was published; `None` before publication or without a class.
    pub class_published: Option<Class>,
    /// The class in the period's final list (the published ranking amended by the upheld
    /// objections); `None` while the period has no final list, `Some(None)` for a firm it
    /// lists without a class or does not list. Where there is one, class conditions read it.
    pub class_final: Option<Option<Class>>,
    /// Some grant of the firm was short at its latest evaluation.
    pub land_short: bool,
    /// Years in which the firm took part in an external fair.
    pub external_fair_years: BTreeSet<i32>,
    /// Expenses recorded for the period, by kind, fen.
    pub expenses: BTreeMap<String, i64>,
}

/// The figures of a census return (money in fen, land in hundredths of a mu).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Figures {
    pub employees_total: i64,
    pub rd_spend_fen: i64,
    pub revenue_fen: i64,
    pub industrial_output_fen: i64,
    pub tax_paid_fen: i64,
    pub export_sales_fen: i64,
    pub equipment_value_fen: i64,
    pub invention_patents: i64,
    pub land_used_centi_mu: i64,
}

/// A figure of a return, or one derived from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "SCREAMING_SNAKE_CASE")]
pub enum Indicator {
    EmployeesTotal,
    RdSpendFen,
    RevenueFen,
    IndustrialOutputFen,
    TaxPaidFen,
    ExportSalesFen,
    EquipmentValueFen,
    InventionPatents,
    LandUsedCentiMu,
    /// R&D spend as a share of revenue, basis points.
    RdShareBp,
    /// Tax paid per mu of land used, fen.
    TaxPerMuFen,
    /// Industrial output per mu of land used, fen.
    OutputPerMuFen,
}

impl Indicator {
    /// Its stored spelling.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn parse(name: &str) -> Option<Self> {
        name.parse().ok()
    }

    /// How a person reads it.
    pub fn label(self) -> &'static str {
        match self {
            Indicator::EmployeesTotal => "employees",
            Indicator::RdSpendFen => "R&D spend",
            Indicator::RevenueFen => "revenue",
            Indicator::IndustrialOutputFen => "industrial output",
            Indicator::TaxPaidFen => "tax paid",
            Indicator::ExportSalesFen => "export sales",
            Indicator::EquipmentValueFen => "equipment value",
            Indicator::InventionPatents => "invention patents",
            Indicator::LandUsedCentiMu => "land used",
            Indicator::RdShareBp => "R&D share of revenue",
            Indicator::TaxPerMuFen => "tax per mu",
            Indicator::OutputPerMuFen => "output per mu",
        }
    }

    /// Its unit, after a value.
    pub fn unit(self) -> &'static str {
        match self {
            Indicator::EmployeesTotal => "employees",
            Indicator::InventionPatents => "patents",
            Indicator::LandUsedCentiMu => "centi-mu",
            Indicator::RdShareBp => "bp",
            _ => "fen",
        }
    }

    /// The value in `figures`; `None` where a derived value has no denominator (no revenue,
    /// no land).
    pub fn value(self, figures: &Figures) -> Option<i64> {
        let f = figures;
        Some(match self {
            Indicator::EmployeesTotal => f.employees_total,
            Indicator::RdSpendFen => f.rd_spend_fen,
            Indicator::RevenueFen => f.revenue_fen,
            Indicator::IndustrialOutputFen => f.industrial_output_fen,
            Indicator::TaxPaidFen => f.tax_paid_fen,
            Indicator::ExportSalesFen => f.export_sales_fen,
            Indicator::EquipmentValueFen => f.equipment_value_fen,
            Indicator::InventionPatents => f.invention_patents,
            Indicator::LandUsedCentiMu => f.land_used_centi_mu,
            Indicator::RdShareBp => ratio(f.rd_spend_fen, 10_000, f.revenue_fen)?,
            Indicator::TaxPerMuFen => ratio(f.tax_paid_fen, 100, f.land_used_centi_mu)?,
            Indicator::OutputPerMuFen => ratio(f.industrial_output_fen, 100, f.land_used_centi_mu)?,
        })
    }
}

/// `numerator × scale / denominator`, rounded down; `None` for a denominator of 0 or less.
fn ratio(numerator: i64, scale: i64, denominator: i64) -> Option<i64> {
    (denominator > 0).then(|| {
        let value = i128::from(numerator) * i128::from(scale) / i128::from(denominator);
        i64::try_from(value).unwrap_or(i64::MAX)
    })
}

/// Whole years from `registered_on` to `on`.
pub fn whole_years(registered_on: NaiveDate, on: NaiveDate) -> i32 {
    let mut years = on.year() - registered_on.year();
    if (on.month(), on.day()) < (registered_on.month(), registered_on.day()) {
        years -= 1;
    }
    years
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_indicators_need_their_denominator() {
        let figures = Figures {
            rd_spend_fen: 300,
            revenue_fen: 10_000,
            tax_paid_fen: 1_000_000,
            land_used_centi_mu: 250,
            ..Figures::default()
        };
        assert_eq!(Indicator::RdShareBp.value(&figures), Some(300));
        assert_eq!(Indicator::TaxPerMuFen.value(&figures), Some(400_000));
        let none = Figures::default();
        assert_eq!(Indicator::RdShareBp.value(&none), None);
        assert_eq!(Indicator::OutputPerMuFen.value(&none), None);
    }

    #[test]
    fn whole_years_count_the_anniversary_itself() {
        let registered = NaiveDate::from_ymd_opt(2020, 3, 15).unwrap();
        assert_eq!(
            whole_years(registered, NaiveDate::from_ymd_opt(2023, 3, 14).unwrap()),
            2
        );
        assert_eq!(
            whole_years(registered, NaiveDate::from_ymd_opt(2023, 3, 15).unwrap()),
            3
        );
    }

    #[test]
    fn every_indicator_round_trips_through_its_spelling() {
        for name in ["EMPLOYEES_TOTAL", "RD_SHARE_BP", "TAX_PER_MU_FEN"] {
            assert_eq!(Indicator::parse(name).map(Indicator::as_str), Some(name));
        }
    }
}
