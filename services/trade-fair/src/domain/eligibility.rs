//! Who may go to an external fair (参展资格): a firm the census knows, with export sales of at
//! least the threshold of its kind in its latest complete year (trading firms and producers
//! have their own, as at the Canton Fair), and no serious tax-credit violation (the veto,
//! 一票否决). Local fairs are open to every firm.

use super::{Period, Segment};

/// The export thresholds by kind of firm, fen a year (the Canton Fair asks about 1.5 M USD of
/// trading firms and 0.75 M USD of producers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Thresholds {
    /// Trading firms (segment `TRADE`), and firms whose segment the census does not give.
    pub trade_fen: i64,
    /// Producers: the manufacturing segments ([`Segment::is_manufacturing`]).
    pub producer_fen: i64,
}

/// Which threshold a firm answers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KindOfFirm {
    /// A trading firm (外贸公司), or one whose segment is unknown: the stricter threshold.
    Trading,
    /// A producer (生产企业): a manufacturing segment.
    Producer,
}

impl KindOfFirm {
    pub fn of(segment: Option<Segment>) -> Self {
        match segment {
            Some(s) if s.is_manufacturing() => KindOfFirm::Producer,
            _ => KindOfFirm::Trading,
        }
    }

    fn noun(self) -> &'static str {
        match self {
            KindOfFirm::Trading => "trading firms",
            KindOfFirm::Producer => "producers",
        }
    }
}

impl std::fmt::Display for KindOfFirm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.noun())
    }
}

impl Thresholds {
    /// The threshold of `kind`, fen.
    pub fn of(&self, kind: KindOfFirm) -> i64 {
        match kind {
            KindOfFirm::Trading => self.trade_fen,
            KindOfFirm::Producer => self.producer_fen,
        }
    }
}

/// The census facts about one firm, from the read model.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FirmFacts {
    /// The census has registered the firm.
    pub known: bool,
    pub tax_credit_violation: bool,
    /// The census segment: decides the kind of firm and so its threshold.
    pub segment: Option<Segment>,
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
    #[error(
        "export sales of {sales_yuan} yuan are below the threshold of {threshold_yuan} yuan for {kind}"
    )]
    BelowThreshold {
        sales_yuan: i64,
        threshold_yuan: i64,
        kind: KindOfFirm,
    },
}

/// Checks a firm against the threshold of its kind.
pub fn check(facts: &FirmFacts, thresholds: &Thresholds) -> Result<(), Ineligible> {
    if !facts.known {
        return Err(Ineligible::Unknown);
    }
    if facts.tax_credit_violation {
        return Err(Ineligible::TaxCreditVeto);
    }
    let sales = facts.export_sales_fen.ok_or(Ineligible::NoExportFigures)?;
    let kind = KindOfFirm::of(facts.segment);
    let threshold = thresholds.of(kind);
    if sales < threshold {
        return Err(Ineligible::BelowThreshold {
            sales_yuan: sales / 100,
            threshold_yuan: threshold / 100,
            kind,
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

    fn all(fen: i64) -> Thresholds {
        Thresholds {
            trade_fen: fen,
            producer_fen: fen,
        }
    }

    #[test]
    fn the_threshold_is_inclusive_and_the_veto_wins() {
        let facts = FirmFacts {
            known: true,
            tax_credit_violation: false,
            segment: Some(Segment::Trade),
            export_sales_fen: Some(100),
        };
        assert_eq!(check(&facts, &all(100)), Ok(()));
        assert_eq!(
            check(&facts, &all(101)),
            Err(Ineligible::BelowThreshold {
                sales_yuan: 1,
                threshold_yuan: 1,
                kind: KindOfFirm::Trading,
            })
        );
        let vetoed = FirmFacts {
            tax_credit_violation: true,
            ..facts.clone()
        };
        assert_eq!(check(&vetoed, &all(0)), Err(Ineligible::TaxCreditVeto));
        assert_eq!(
            check(&FirmFacts::default(), &all(0)),
            Err(Ineligible::Unknown)
        );
        let no_figures = FirmFacts {
            export_sales_fen: None,
            ..facts
        };
        assert_eq!(
            check(&no_figures, &all(0)),
            Err(Ineligible::NoExportFigures)
        );
    }

    fn firm(segment: Option<Segment>, sales_fen: i64) -> FirmFacts {
        FirmFacts {
            known: true,
            tax_credit_violation: false,
            segment,
            export_sales_fen: Some(sales_fen),
        }
    }

    #[test]
    fn trading_firms_meet_their_threshold_at_it_and_not_one_fen_under() {
        let t = super::super::Rules::default().export_thresholds;
        assert_eq!(t.trade_fen, 1_050_000_000, "10.5 M yuan, about 1.5 M USD");
        let trade = Some(Segment::Trade);
        assert_eq!(check(&firm(trade, t.trade_fen), &t), Ok(()));
        let under = check(&firm(trade, t.trade_fen - 1), &t).unwrap_err();
        assert!(
            matches!(
                under,
                Ineligible::BelowThreshold {
                    kind: KindOfFirm::Trading,
                    ..
                }
            ),
            "{under}"
        );
        assert!(under.to_string().contains("for trading firms"), "{under}");
        // A firm whose segment the census does not give answers to the stricter one.
        assert!(check(&firm(None, t.trade_fen - 1), &t).is_err());
        assert_eq!(check(&firm(None, t.trade_fen), &t), Ok(()));
    }

    #[test]
    fn producers_meet_theirs_at_it_and_not_one_fen_under_in_every_manufacturing_segment() {
        let t = super::super::Rules::default().export_thresholds;
        assert_eq!(t.producer_fen, 525_000_000, "5.25 M yuan, about 0.75 M USD");
        for segment in Segment::ALL.into_iter().filter(|s| s.is_manufacturing()) {
            assert_eq!(check(&firm(Some(segment), t.producer_fen), &t), Ok(()));
            let under = check(&firm(Some(segment), t.producer_fen - 1), &t).unwrap_err();
            assert_eq!(
                under,
                Ineligible::BelowThreshold {
                    sales_yuan: (t.producer_fen - 1) / 100,
                    threshold_yuan: t.producer_fen / 100,
                    kind: KindOfFirm::Producer,
                }
            );
        }
        // A producer's sales that would not do for a trading firm.
        assert!(check(&firm(Some(Segment::Trade), t.producer_fen), &t).is_err());
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
