//! Who may go to an external fair (参展资格): a firm the census knows, with export sales of at
//! least the threshold in its latest complete year, and no serious tax-credit violation
//! (the veto, 一票否决). Local fairs are open to every firm.

use super::Period;

/// The census facts about one firm, from the read model.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FirmFacts {
    /// The census has registered the firm.
    pub known: bool,
    pub tax_credit_violation: bool,
    /// Export sales of its latest complete year, fen (see [`annual_export_sales`]).
    pub export_sales_fen: Option<i64>,
}

/// Why a firm may not go.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Ineligible {
    #[error("the census has no record of the enterprise")]
    Unknown,
    #[error("the enterprise has a serious tax-credit violation on record (veto)")]
    TaxCreditVeto,
    #[error("the census has no export sales of the enterprise yet")]
    NoExportFigures,
    #[error("export sales of {sales_yuan} yuan are below the threshold of {threshold_yuan} yuan")]
    BelowThreshold {
        sales_yuan: i64,
        threshold_yuan: i64,
    },
}

/// Checks a firm against the threshold (fen).
pub fn check(facts: &FirmFacts, min_export_sales_fen: i64) -> Result<(), Ineligible> {
    if !facts.known {
        return Err(Ineligible::Unknown);
    }
    if facts.tax_credit_violation {
        return Err(Ineligible::TaxCreditVeto);
    }
    let sales = facts.export_sales_fen.ok_or(Ineligible::NoExportFigures)?;
    if sales < min_export_sales_fen {
        return Err(Ineligible::BelowThreshold {
            sales_yuan: sales / 100,
            threshold_yuan: min_export_sales_fen / 100,
        });
    }
    Ok(())
}

/// Export sales of the latest year with figures: its annual return if there is one, else the
/// sum of that year's quarterly returns (the latest revision of each). `None` without returns.
pub fn annual_export_sales(returns: &[(Period, i64)]) -> Option<i64> {
    let year_of = |p: &Period| p.end().format("%Y").to_string();
    let latest = returns.iter().map(|(p, _)| year_of(p)).max()?;
    let of_year: Vec<&(Period, i64)> = returns
        .iter()
        .filter(|(p, _)| year_of(p) == latest)
        .collect();
    if let Some((_, annual)) = of_year.iter().find(|(p, _)| p.code().len() == 4) {
        return Some(*annual);
    }
    Some(of_year.iter().map(|(_, v)| *v).sum())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(code: &str) -> Period {
        Period::parse(code).unwrap()
    }

    #[test]
    fn the_threshold_is_inclusive_and_the_veto_wins() {
        let facts = FirmFacts {
            known: true,
            tax_credit_violation: false,
            export_sales_fen: Some(100),
        };
        assert_eq!(check(&facts, 100), Ok(()));
        assert_eq!(
            check(&facts, 101),
            Err(Ineligible::BelowThreshold {
                sales_yuan: 1,
                threshold_yuan: 1
            })
        );
        let vetoed = FirmFacts {
            tax_credit_violation: true,
            ..facts.clone()
        };
        assert_eq!(check(&vetoed, 0), Err(Ineligible::TaxCreditVeto));
        assert_eq!(check(&FirmFacts::default(), 0), Err(Ineligible::Unknown));
        let no_figures = FirmFacts {
            export_sales_fen: None,
            ..facts
        };
        assert_eq!(check(&no_figures, 0), Err(Ineligible::NoExportFigures));
    }

    #[test]
    fn the_latest_year_counts_annual_return_first() {
        assert_eq!(annual_export_sales(&[]), None);
        let returns = [(p("2025"), 900), (p("2026Q1"), 10), (p("2026Q2"), 20)];
        assert_eq!(annual_export_sales(&returns), Some(30));
        let with_annual = [(p("2026Q1"), 10), (p("2026"), 500), (p("2025"), 900)];
        assert_eq!(annual_export_sales(&with_annual), Some(500));
    }
}
