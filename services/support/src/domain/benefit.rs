//! What a beneficiary receives: a fixed amount, a rate of an indicator or a share of a
//! recorded expense, capped per firm, in fen, rounded half up.

use super::facts::{Facts, Indicator};

/// The amount before the cap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Amount {
    Fixed {
        fen: i64,
    },
    /// `rate_bp` basis points of the indicator's value (1000 = 10 %).
    Rate {
        indicator: Indicator,
        rate_bp: i64,
    },
    /// `rate_bp` basis points of the expense of `kind` recorded for the period.
    ShareOfExpense {
        kind: String,
        rate_bp: i64,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Benefit {
    pub amount: Amount,
    /// The most one firm receives, fen; `None`: no cap.
    pub cap_fen: Option<i64>,
}

/// `value × rate_bp / 10 000`, rounded half up to the fen (values are never negative here;
/// a negative product counts as 0).
pub fn rate_of(value: i64, rate_bp: i64) -> i64 {
    let product = i128::from(value) * i128::from(rate_bp);
    if product <= 0 {
        return 0;
    }
    i64::try_from((product + 5_000) / 10_000).unwrap_or(i64::MAX)
}

impl Benefit {
    /// What `facts` entitle the firm to, before the budget.
    pub fn entitled(&self, facts: &Facts) -> i64 {
        let raw = match &self.amount {
            Amount::Fixed { fen } => *fen,
            Amount::Rate { indicator, rate_bp } => facts
                .figures
                .as_ref()
                .and_then(|f| indicator.value(f))
                .map_or(0, |value| rate_of(value, *rate_bp)),
            Amount::ShareOfExpense { kind, rate_bp } => facts
                .expenses
                .get(kind)
                .map_or(0, |spent| rate_of(*spent, *rate_bp)),
        };
        match self.cap_fen {
            Some(cap) => raw.min(cap),
            None => raw,
        }
        .max(0)
    }

    /// The amount in words, for explanations.
    pub fn describe(&self) -> String {
        let amount = match &self.amount {
            Amount::Fixed { fen } => format!("{fen} fen"),
            Amount::Rate { indicator, rate_bp } => {
                format!("{rate_bp} bp of {}", indicator.label())
            }
            Amount::ShareOfExpense { kind, rate_bp } => {
                format!("{rate_bp} bp of the {kind} expense recorded")
            }
        };
        match self.cap_fen {
            Some(cap) => format!("{amount}, at most {cap} fen"),
            None => amount,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::facts::Figures;
    use proptest::prelude::*;

    fn with_rd(rd_spend_fen: i64) -> Facts {
        Facts {
            figures: Some(Figures {
                rd_spend_fen,
                ..Figures::default()
            }),
            ..Facts::default()
        }
    }

    #[test]
    fn a_rate_rounds_half_up_to_the_fen() {
        // 10 % of 15 fen is 1.5 fen: 2; of 14 fen is 1.4 fen: 1.
        assert_eq!(rate_of(15, 1_000), 2);
        assert_eq!(rate_of(14, 1_000), 1);
        assert_eq!(rate_of(0, 1_000), 0);
    }

    #[test]
    fn the_cap_applies_at_and_past_its_value() {
        let benefit = Benefit {
            amount: Amount::Rate {
                indicator: Indicator::RdSpendFen,
                rate_bp: 1_000,
            },
            cap_fen: Some(100),
        };
        assert_eq!(benefit.entitled(&with_rd(1_000)), 100);
        assert_eq!(benefit.entitled(&with_rd(1_010)), 100);
        assert_eq!(benefit.entitled(&with_rd(990)), 99);
        assert_eq!(
            benefit.entitled(&Facts::default()),
            0,
            "no figures, nothing"
        );
    }

    #[test]
    fn a_share_of_a_recorded_expense_is_rounded_and_capped() {
        let benefit = Benefit {
            amount: Amount::ShareOfExpense {
                kind: "training".into(),
                rate_bp: 5_000,
            },
            cap_fen: Some(1_000),
        };
        let mut facts = Facts::default();
        assert_eq!(
            benefit.entitled(&facts),
            0,
            "nothing recorded, nothing paid"
        );
        facts.expenses.insert("training".into(), 1_001);
        assert_eq!(
            benefit.entitled(&facts),
            501,
            "half of 1,001 fen, rounded half up"
        );
        facts.expenses.insert("training".into(), 2_002);
        assert_eq!(benefit.entitled(&facts), 1_000, "capped");
    }

    proptest! {
        #[test]
        fn a_rate_is_the_exact_rounded_share(value in 0i64..1_000_000_000_000, rate in 0i64..=10_000) {
            let got = rate_of(value, rate);
            // |got − value × rate / 10 000| ≤ 1/2, with half rounding up.
            let exact = i128::from(value) * i128::from(rate);
            let scaled = i128::from(got) * 10_000;
            prop_assert!(scaled - exact <= 5_000 && exact - scaled < 5_000);
        }
    }
}
