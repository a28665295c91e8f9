//! Explanations: each indicator's value, benchmark and contribution, and for each indicator
//! alone the value that would lift the firm to the next class's boundary score.

use super::{
    Benchmarks, Figures, Indicator, Weighted, evaluation::contribution, indicators::usable,
};

/// One indicator's part of a score.
#[derive(Clone, Debug, PartialEq)]
pub struct IndicatorScore {
    pub indicator: Indicator,
    /// `None` when it could not be computed (and so scored 0).
    pub value: Option<f64>,
    pub benchmark: Option<f64>,
    pub contribution: f64,
    pub weight: f64,
    pub cap: f64,
}

/// The breakdown of a score, in the model's order; the contributions sum to the score.
pub fn breakdown(
    items: &[Weighted],
    figures: &Figures,
    benchmarks: &Benchmarks,
) -> Vec<IndicatorScore> {
    items
        .iter()
        .map(|item| {
            let value = figures.value(item.indicator);
            let benchmark = benchmarks.get(item.indicator);
            IndicatorScore {
                indicator: item.indicator,
                value,
                benchmark,
                contribution: contribution(item, value, benchmark),
                weight: item.weight,
                cap: item.cap,
            }
        })
        .collect()
}

/// What one indicator alone would need to reach a target score, the others unchanged.
#[derive(Clone, Debug, PartialEq)]
pub struct IndicatorGap {
    pub indicator: Indicator,
    /// The current value (0 when missing).
    pub current: f64,
    /// The value that reaches the target; when unreachable, the value where the cap stops
    /// further gains (or the current value if the indicator cannot score at all).
    pub required: f64,
    pub increase: f64,
    /// False if the cap (or a missing benchmark) keeps this indicator alone from closing the gap.
    pub reachable: bool,
}

/// For each indicator of the breakdown, the value that lifts the score from `score` to
/// `target`. The benchmark is held at its current value: the firm's own improvement also
/// raises its segment's average a little, which a re-rank accounts for; with a cohort of
/// n firms the effect is about 1/n of the increase. On an exactly equal score the tie rule
/// (USCC ascending) decides, so the required value is the boundary itself.
pub fn gaps(breakdown: &[IndicatorScore], score: f64, target: f64) -> Vec<IndicatorGap> {
    breakdown
        .iter()
        .filter(|item| item.weight > 0.0)
        .map(|item| {
            let current = usable(item.value).unwrap_or(0.0);
            let needed = target - (score - item.contribution);
            match item.benchmark.filter(|b| *b > 0.0) {
                None => IndicatorGap {
                    indicator: item.indicator,
                    current,
                    required: current,
                    increase: 0.0,
                    reachable: false,
                },
                Some(benchmark) => {
                    let best = item.weight * item.cap;
                    let (required, reachable) = if needed <= item.contribution {
                        (current, true)
                    } else if needed <= best {
                        (needed / item.weight * benchmark, true)
                    } else {
                        (item.cap * benchmark, false)
                    };
                    let required = required.max(current);
                    IndicatorGap {
                        indicator: item.indicator,
                        current,
                        required,
                        increase: required - current,
                        reachable,
                    }
                }
            }
        })
        .collect()
}

/// The default width, in score points, of the band an enterprise sees the boundary in.
pub const DEFAULT_BOUNDARY_BAND: f64 = 5.0;

/// The next class's boundary score as an enterprise sees it in its own explanation: rounded
/// up to the next multiple of `band`. The exact boundary is the score of the lowest firm in
/// that class, a named competitor's figure, so an enterprise is given the band's upper edge
/// instead; its gaps are computed against that edge, so reaching them still reaches the
/// class (others unchanged) and they reveal nothing finer. Departments see it exactly.
pub fn banded_boundary(boundary: f64, band: f64) -> f64 {
    (boundary / band).ceil() * band
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_enterprise_sees_the_boundary_rounded_up_to_its_band() {
        assert_eq!(banded_boundary(83.27, 5.0), 85.0);
        assert_eq!(banded_boundary(85.0, 5.0), 85.0);
        assert_eq!(banded_boundary(85.000_001, 5.0), 90.0);
        assert_eq!(banded_boundary(0.4, 5.0), 5.0);
        assert_eq!(banded_boundary(83.27, 0.5), 83.5);
        // Never below the exact boundary: the gaps still lead into the class.
        for boundary in [0.1, 17.3, 49.99, 50.0, 112.6] {
            assert!(banded_boundary(boundary, 5.0) >= boundary);
            assert!(banded_boundary(boundary, 5.0) - boundary < 5.0);
        }
    }
    use crate::domain::{Model, Period, classify, evaluation::score, evaluation::tests::firm};

    #[test]
    fn the_gap_names_the_tax_per_mu_that_reaches_the_boundary() {
        // Tax per mu 1000 and 3000 yuan; average 2000. Firm 1 scores 85, firm 2 scores 115.
        let firms = vec![firm(1, 5_000_000), firm(2, 15_000_000)];
        let model = Model::default();
        let result = classify(&model, &Period::parse("2025").unwrap(), &firms);
        let benchmarks = &result.cohorts[&crate::domain::Segment::Textile].benchmarks;
        let parts = breakdown(&model.indicators, &firms[0].figures, benchmarks);
        let total: f64 = parts.iter().map(|p| p.contribution).sum();
        assert!((total - result.evaluations[0].score).abs() < 1e-9);

        let gaps = gaps(&parts, 85.0, 100.0);
        let tax = gaps
            .iter()
            .find(|g| g.indicator == Indicator::TaxPerMu)
            .unwrap();
        // 15 more points from tax per mu: ratio 1.0, i.e. 2000 yuan per mu, +1000.
        assert!(tax.reachable);
        assert!((tax.required - 2_000.0).abs() < 1e-6, "{tax:?}");
        assert!((tax.increase - 1_000.0).abs() < 1e-6);
        // Export share (weight 5, at ratio 1 gives 5, at most 7.5) cannot give 15 more points.
        let export = gaps
            .iter()
            .find(|g| g.indicator == Indicator::ExportShare)
            .unwrap();
        assert!(!export.reachable);
        assert!((export.required - 1.5 * export.current).abs() < 1e-9);

        // The required value does reach the target with the benchmark held.
        let mut improved = firms[0].figures.clone();
        improved.tax_paid_fen = (tax.required * improved.land_used_centi_mu as f64) as i64;
        assert!((score(&model.indicators, &improved, benchmarks) - 100.0).abs() < 1e-6);
    }
}
