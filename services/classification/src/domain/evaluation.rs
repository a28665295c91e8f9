//! Evaluating one period: who is graded, each firm's score against its segment's benchmark,
//! and the ranking of each cohort.
//!
//! A cohort is the graded firms of one segment in one period. The benchmark of an indicator
//! is the average of its usable (present, non-negative) values over the cohort's firms scored
//! on it (vetoed firms included; an indicator of the reduced model averages the small firms
//! with the others that report it); deferred and exempt firms are scored against it but
//! neither shape it nor count in the cohort.
//!
//! The store hands the firms over as [`Columns`] (a struct of arrays: each firm's grading,
//! cohort and indicator values, computed as its row is read). The work is linear apart from
//! the sort of each cohort ([`ranking::order_cohorts`]): one pass over the columns sums the
//! benchmarks, one scores, a few flat vectors and no per-firm allocation
//! ([`classify_columns`]). Benchmark sums
//! are kept in exact fixed point, so the result is the same bit for bit whatever the order of
//! the firms.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};

use super::{Class, Figures, Grading, Indicator, Model, Period, Segment, Weighted, ranking};

/// An enterprise with a return in the period, as the evaluation needs it.
#[derive(Clone, Debug, PartialEq)]
pub struct Firm {
    pub uscc: String,
    /// Benchmarking segment: the cohort.
    pub segment: Segment,
    /// Four-digit GB/T 4754 class, for exemptions by type.
    pub industry_class: String,
    pub registration_date: Option<NaiveDate>,
    /// False once deregistered: the firm is then not evaluated.
    pub active: bool,
    /// A serious safety, environmental or tax-credit violation (一票否决).
    pub vetoed: bool,
    /// The figures of its latest return for the period.
    pub figures: Figures,
}

/// Benchmarks of one cohort, indexed by [`Indicator::index`]; `None` where no firm of the
/// cohort has a usable value (the indicator then scores 0 for everyone).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Benchmarks(pub [Option<f64>; Indicator::COUNT]);

impl Benchmarks {
    pub fn get(&self, indicator: Indicator) -> Option<f64> {
        self.0[indicator.index()]
    }
}

/// What the evaluation decided for one firm.
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation {
    pub grading: Grading,
    /// Scored with the reduced model (revenue below the threshold).
    pub reduced: bool,
    /// Also computed for deferred and exempt firms, for their explanation.
    pub score: f64,
    /// 1 = best in the cohort; 0 unless graded.
    pub rank: u32,
    /// Graded firms in the firm's segment.
    pub cohort_size: u32,
    /// The computed class; `None` unless graded.
    pub class: Option<Class>,
}

/// One cohort's benchmark and size.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Cohort {
    pub benchmarks: Benchmarks,
    pub size: u32,
}

/// The evaluation of a period.
#[derive(Clone, Debug, PartialEq)]
pub struct PeriodResult {
    /// One per firm, in the order of the input.
    pub evaluations: Vec<Evaluation>,
    /// Per segment with at least one evaluated firm.
    pub cohorts: BTreeMap<Segment, Cohort>,
}

/// Whether `firm` is graded in `period` under `model`.
pub fn grading(model: &Model, period: &Period, firm: &Firm) -> Grading {
    grading_of(
        model,
        deferral_cutoff(period, model.deferral_years),
        &firm.view(),
    )
}

/// Firms registered after this day are deferred: `years` before the period's last day
/// (29 February falls back to the 28th).
pub fn deferral_cutoff(period: &Period, years: u32) -> NaiveDate {
    let end = period.end();
    let year = end.year() - years as i32;
    NaiveDate::from_ymd_opt(year, end.month(), end.day())
        .or_else(|| NaiveDate::from_ymd_opt(year, end.month(), end.day() - 1))
        .unwrap_or(NaiveDate::MIN)
}

/// Whether the firm is scored with the reduced model.
pub fn uses_reduced_model(model: &Model, figures: &Figures) -> bool {
    figures.revenue_fen < model.reduced.revenue_threshold_fen
}

/// The indicators a firm is scored on.
pub fn indicators_for(model: &Model, reduced: bool) -> &[Weighted] {
    if reduced {
        &model.reduced.indicators
    } else {
        &model.indicators
    }
}

/// Points one indicator adds: weight × min(cap, value / benchmark); 0 when the value is
/// missing or negative or there is no positive benchmark.
pub fn contribution(item: &Weighted, value: Option<f64>, benchmark: Option<f64>) -> f64 {
    raw_contribution(
        item,
        value.unwrap_or(f64::NAN),
        benchmark.unwrap_or(f64::NAN),
    )
}

/// [`contribution`] on raw values (NaN = missing); the one formula every score uses.
fn raw_contribution(item: &Weighted, value: f64, benchmark: f64) -> f64 {
    if value >= 0.0 && benchmark > 0.0 {
        item.weight * (value / benchmark).min(item.cap)
    } else {
        0.0
    }
}

/// The total score, summed in the model's order.
pub fn score(items: &[Weighted], figures: &Figures, benchmarks: &Benchmarks) -> f64 {
    raw_score(items, &figures.raw_values(), &raw_benchmarks(benchmarks))
}

fn raw_benchmarks(benchmarks: &Benchmarks) -> [f64; Indicator::COUNT] {
    benchmarks.0.map(|b| b.unwrap_or(f64::NAN))
}

fn raw_score(
    items: &[Weighted],
    values: &[f64; Indicator::COUNT],
    benchmarks: &[f64; Indicator::COUNT],
) -> f64 {
    items
        .iter()
        .map(|item| {
            let i = item.indicator.index();
            raw_contribution(item, values[i], benchmarks[i])
        })
        .sum()
}

/// Fixed point with 2^-40 resolution summed in an i128: integer addition is exact, so a sum
/// does not depend on the order of its terms (f64 addition does, in the last bits).
#[derive(Clone, Copy, Default)]
struct ExactSum {
    total: i128,
    count: u64,
}

impl ExactSum {
    const FRACTION_BITS: i32 = 40;
    /// The largest term, 2^87 (a value of 2^47 ≈ 1.4 × 10^14, beyond any real figure): an
    /// i128 then holds 2^40 terms without overflow.
    const MAX_TERM: i128 = 1 << 87;

    /// `value` × 2^40 rounded to an integer, computed from the float's bits (a conversion
    /// through `as i128` is a slow library call); `value` is finite and not negative.
    fn fixed(value: f64) -> i128 {
        let bits = value.to_bits();
        let exponent = ((bits >> 52) & 0x7ff) as i32;
        let fraction = i128::from(bits & ((1 << 52) - 1));
        let (mantissa, exponent) = if exponent == 0 {
            (fraction, 1)
        } else {
            (fraction | 1 << 52, exponent)
        };
        // value = mantissa × 2^(exponent − 1075)
        let shift = exponent - 1075 + Self::FRACTION_BITS;
        if shift >= 0 {
            if shift > 34 {
                Self::MAX_TERM
            } else {
                (mantissa << shift).min(Self::MAX_TERM)
            }
        } else if shift < -60 {
            0
        } else {
            (mantissa + (1 << (-shift - 1))) >> -shift
        }
    }

    /// `value` is finite and not negative (see [`usable`]).
    fn add(&mut self, value: f64) {
        self.total += Self::fixed(value);
        self.count += 1;
    }

    fn mean(&self) -> Option<f64> {
        (self.count > 0)
            .then(|| self.total as f64 / (1u64 << Self::FRACTION_BITS) as f64 / self.count as f64)
    }
}

/// What the scoring pass and the placement need of a firm besides its values, in four bytes.
#[derive(Clone, Copy)]
struct Fact {
    /// Dense cohort number: the segment's place in order of first appearance.
    cohort: u8,
    grading: Grading,
    reduced: bool,
    vetoed: bool,
}

/// A firm as the store reads it, borrowed from its row: what grading and scoring need.
#[derive(Clone, Copy, Debug)]
pub struct FirmRef<'a> {
    pub uscc: &'a str,
    pub segment: Segment,
    pub industry_class: &'a str,
    pub registration_date: Option<NaiveDate>,
    pub active: bool,
    pub vetoed: bool,
    pub figures: &'a Figures,
}

impl Firm {
    pub fn view(&self) -> FirmRef<'_> {
        FirmRef {
            uscc: &self.uscc,
            segment: self.segment,
            industry_class: &self.industry_class,
            registration_date: self.registration_date,
            active: self.active,
            vetoed: self.vetoed,
            figures: &self.figures,
        }
    }
}

/// The firms of one period as [`classify_columns`] reads them, a struct of arrays: per firm
/// its [`Fact`] (cohort, grading, model, veto) and its indicator values, computed once as
/// the caller reads each firm ([`Columns::push`]); row i is the caller's firm i, and its USCC
/// is kept only as a borrowed reference for the tie rule.
///
/// At a million firms a `Firm` moved 144 bytes per firm through each pass, its USCC on the
/// heap, and the values were computed twice (about 25 divisions per firm); here the passes
/// read four bytes of facts and the values, each computed once.
pub struct Columns<'a> {
    model: &'a Model,
    /// Firms registered after this day are deferred.
    cutoff: NaiveDate,
    /// The cohorts' segments in order of first appearance: a cohort's number is its place.
    segments: Vec<Segment>,
    facts: Vec<Fact>,
    /// Every indicator's value per firm, NaN where it cannot be computed.
    values: Vec<[f64; Indicator::COUNT]>,
    /// For the tie rule (USCC ascending) among exactly equal scores, read only then.
    usccs: Vec<&'a str>,
}

impl<'a> Columns<'a> {
    /// Empty columns for `model` and `period`, room for `capacity` firms.
    pub fn with_capacity(model: &'a Model, period: &Period, capacity: usize) -> Self {
        Self {
            model,
            cutoff: deferral_cutoff(period, model.deferral_years),
            segments: Vec::with_capacity(Segment::ALL.len()),
            facts: Vec::with_capacity(capacity),
            values: Vec::with_capacity(capacity),
            usccs: Vec::with_capacity(capacity),
        }
    }

    /// The next firm: its grading, model, cohort and values.
    pub fn push(&mut self, firm: FirmRef<'a>) {
        let cohort = match self.segments.iter().position(|s| *s == firm.segment) {
            Some(c) => c,
            None => {
                self.segments.push(firm.segment);
                self.segments.len() - 1
            }
        };
        self.facts.push(Fact {
            cohort: cohort as u8,
            grading: grading_of(self.model, self.cutoff, &firm),
            reduced: uses_reduced_model(self.model, firm.figures),
            vetoed: firm.vetoed,
        });
        self.values.push(firm.figures.raw_values());
        self.usccs.push(firm.uscc);
    }

    pub fn len(&self) -> usize {
        self.facts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.facts.is_empty()
    }
}

/// [`grading`] of a borrowed firm with the deferral cutoff computed once for the period.
fn grading_of(model: &Model, cutoff: NaiveDate, firm: &FirmRef<'_>) -> Grading {
    if !firm.active {
        Grading::NotEvaluated
    } else if (!model.exempt_enterprises.is_empty()
        && model.exempt_enterprises.contains_key(firm.uscc))
        || (!model.exempt_industry_classes.is_empty()
            && model.exempt_industry_classes.contains(firm.industry_class))
    {
        Grading::Exempt
    } else if firm
        .registration_date
        .is_some_and(|registered| registered > cutoff)
    {
        Grading::Deferred
    } else {
        Grading::Graded
    }
}

/// Evaluates every firm of one period: grading, score, rank and class ([`classify_columns`]
/// over the firms' columns).
pub fn classify(model: &Model, period: &Period, firms: &[Firm]) -> PeriodResult {
    let mut columns = Columns::with_capacity(model, period, firms.len());
    for firm in firms {
        columns.push(firm.view());
    }
    classify_columns(&columns)
}

/// Evaluates every firm of the columns: grading, score, rank and class.
///
/// One pass over the facts and values sums the benchmarks, a second scores, writes the
/// evaluations and puts each graded firm's sort key straight into its cohort's place; then
/// each cohort is sorted and placed. What is allocated per call is the evaluations and the
/// sort keys (each below glibc's 32 MiB mmap threshold at a million firms, so a repeated
/// call reuses the heap's pages rather than faulting in fresh ones).
pub fn classify_columns(columns: &Columns<'_>) -> PeriodResult {
    let model = columns.model;
    let plans = [indicators_for(model, false), indicators_for(model, true)];
    let (sums, sizes) = benchmark_sums(&plans, columns);
    let benchmarks: Vec<Benchmarks> = sums
        .iter()
        .map(|s| Benchmarks(std::array::from_fn(|i| s[i].mean())))
        .collect();
    let raw: Vec<[f64; Indicator::COUNT]> = benchmarks.iter().map(raw_benchmarks).collect();
    let starts = cohort_starts(&sizes);
    let index_mask = ranking::index_mask(columns.len());
    let (mut evaluations, mut keys) = score_all(&plans, columns, &sizes, &raw, &starts, index_mask);

    // The ranking: one sort per cohort, then placement by quota.
    ranking::order_cohorts(
        &mut keys,
        &starts,
        index_mask,
        |i| evaluations[i].score,
        |i| columns.usccs[i],
    );
    ranking::place_cohorts(
        &keys,
        &starts,
        index_mask,
        |i| columns.facts[i].vetoed,
        &model.quotas(),
        |i, placement| {
            let evaluation = &mut evaluations[i];
            evaluation.rank = placement.rank;
            evaluation.class = Some(placement.class);
        },
    );

    let cohorts = columns
        .segments
        .iter()
        .zip(benchmarks)
        .zip(&sizes)
        .map(|((&segment, benchmarks), &size)| (segment, Cohort { benchmarks, size }))
        .collect();
    PeriodResult {
        evaluations,
        cohorts,
    }
}

/// One cohort's benchmark sums, by [`Indicator::index`].
type Sums = [ExactSum; Indicator::COUNT];

/// Pass 1: per cohort, the graded firms' count and benchmark sums (each indicator over the
/// firms scored on it).
fn benchmark_sums(plans: &[&[Weighted]; 2], columns: &Columns<'_>) -> (Vec<Sums>, Vec<u32>) {
    let cohorts = columns.segments.len();
    let mut sums = vec![[ExactSum::default(); Indicator::COUNT]; cohorts];
    let mut sizes = vec![0u32; cohorts];
    for (fact, values) in columns.facts.iter().zip(&columns.values) {
        if fact.grading != Grading::Graded {
            continue;
        }
        let cohort = usize::from(fact.cohort);
        sizes[cohort] += 1;
        let sums = &mut sums[cohort];
        for item in plans[usize::from(fact.reduced)] {
            let index = item.indicator.index();
            let value = values[index];
            if value >= 0.0 {
                sums[index].add(value);
            }
        }
    }
    (sums, sizes)
}

/// Each cohort's graded firms take `starts[c]..starts[c + 1]` of the sort keys.
fn cohort_starts(sizes: &[u32]) -> Vec<usize> {
    let mut starts = Vec::with_capacity(sizes.len() + 1);
    starts.push(0usize);
    for size in sizes {
        starts.push(starts[starts.len() - 1] + *size as usize);
    }
    starts
}

/// Pass 2: scores (also of deferred and exempt firms, for their explanation) with the
/// formula of [`score`], so they equal it bit for bit; each graded firm's sort key goes
/// straight into its cohort's place.
fn score_all(
    plans: &[&[Weighted]; 2],
    columns: &Columns<'_>,
    sizes: &[u32],
    raw: &[[f64; Indicator::COUNT]],
    starts: &[usize],
    index_mask: u64,
) -> (Vec<Evaluation>, Vec<u64>) {
    let mut fill = starts.to_vec();
    let mut keys = vec![0u64; starts[starts.len() - 1]];
    let mut evaluations: Vec<Evaluation> = Vec::with_capacity(columns.len());
    for (i, (fact, values)) in columns.facts.iter().zip(&columns.values).enumerate() {
        let cohort = usize::from(fact.cohort);
        let score = match fact.grading {
            Grading::NotEvaluated => 0.0,
            _ => raw_score(plans[usize::from(fact.reduced)], values, &raw[cohort]),
        };
        if fact.grading == Grading::Graded {
            keys[fill[cohort]] = ranking::sort_key(score, i, index_mask);
            fill[cohort] += 1;
        }
        evaluations.push(Evaluation {
            grading: fact.grading,
            reduced: fact.reduced,
            score,
            rank: 0,
            cohort_size: sizes[cohort],
            class: None,
        });
    }
    (evaluations, keys)
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::*;
    use crate::domain::{Quotas, indicators::usable};

    pub(crate) fn firm(i: usize, tax_fen: i64) -> Firm {
        Firm {
            uscc: format!("91210381MA{i:08}"),
            segment: Segment::Textile,
            industry_class: "1711".into(),
            registration_date: NaiveDate::from_ymd_opt(2010, 1, 1),
            active: true,
            vetoed: false,
            figures: Figures {
                employees_total: 100,
                rd_spend_fen: 1_000_000,
                revenue_fen: 5_000_000_000,
                industrial_output_fen: 4_000_000_000,
                tax_paid_fen: tax_fen,
                export_sales_fen: 500_000_000,
                automation_share_percent: 50.0,
                patents: 3,
                land_used_centi_mu: 5_000,
                energy_use_tce: Some(100.0),
            },
        }
    }

    fn period() -> Period {
        Period::parse("2025").unwrap()
    }

    #[test]
    fn the_score_is_the_capped_weighted_sum_against_the_segment_average() {
        // Tax per mu 1000, 2000, 3000 yuan, average 2000: ratios 0.5, 1, 1.5.
        let firms: Vec<Firm> = (1..=3).map(|i| firm(i, i as i64 * 5_000_000)).collect();
        let result = classify(&Model::default(), &period(), &firms);
        let scores: Vec<f64> = result.evaluations.iter().map(|e| e.score).collect();
        // Every other indicator is equal (ratio 1): 70 points; tax per mu adds 30 × ratio.
        assert!((scores[0] - (70.0 + 15.0)).abs() < 1e-9, "{scores:?}");
        assert!((scores[1] - (70.0 + 30.0)).abs() < 1e-9, "{scores:?}");
        assert!((scores[2] - (70.0 + 45.0)).abs() < 1e-9, "{scores:?}");
        let benchmark = result.cohorts[&Segment::Textile]
            .benchmarks
            .get(Indicator::TaxPerMu);
        assert!((benchmark.unwrap() - 2_000.0).abs() < 1e-9);
        // The fast path scores exactly as `score` (and so the explanation) does.
        for (firm, evaluation) in firms.iter().zip(&result.evaluations) {
            let again = score(
                &Model::default().indicators,
                &firm.figures,
                &result.cohorts[&Segment::Textile].benchmarks,
            );
            assert_eq!(evaluation.score.to_bits(), again.to_bits());
        }
    }

    #[test]
    fn exact_sums_match_the_float_value() {
        for value in [
            0.0, 5e-324, 1e-13, 0.02, 0.5, 1.0, 3.75, 1234.5678, 1e9, 1.4e14, 1e300,
        ] {
            let fixed = ExactSum::fixed(value) as f64 / (1u64 << 40) as f64;
            let expected = value.min((1u64 << 47) as f64);
            assert!(
                (fixed - expected).abs() <= 2f64.powi(-41) + expected * 1e-15,
                "{value}: {fixed}"
            );
        }
        let mut sum = ExactSum::default();
        sum.add(0.02);
        sum.add(0.04);
        assert!((sum.mean().unwrap() - 0.03).abs() < 1e-12);
    }

    #[test]
    fn the_cap_limits_one_indicator() {
        let mut firms: Vec<Firm> = (1..=9).map(|i| firm(i, 1_000_000)).collect();
        firms.push(firm(10, 1_000_000_000)); // far above the average
        let result = classify(&Model::default(), &period(), &firms);
        assert!((result.evaluations[9].score - (70.0 + 45.0)).abs() < 1e-9);
    }

    #[test]
    fn missing_values_score_zero_and_small_firms_use_the_reduced_model() {
        let mut small = firm(1, 5_000_000);
        small.figures.revenue_fen = 1_000;
        let mut no_land = firm(2, 5_000_000);
        no_land.figures.land_used_centi_mu = 0;
        let firms = vec![small, no_land, firm(3, 5_000_000)];
        let result = classify(&Model::default(), &period(), &firms);
        assert!(result.evaluations[0].reduced);
        assert!(!result.evaluations[1].reduced);
        // No land: tax per mu and output per mu are missing: 50 points are lost.
        assert!((result.evaluations[1].score - 50.0).abs() < 1e-9);
    }

    #[test]
    fn deferred_exempt_and_deregistered_firms_are_not_counted() {
        let mut model = Model::default();
        model.exempt_industry_classes.insert("1811".into());
        model
            .exempt_enterprises
            .insert(firm(2, 0).uscc, "decision 7".into());
        let mut young = firm(1, 5_000_000);
        young.registration_date = NaiveDate::from_ymd_opt(2023, 1, 1);
        let mut by_type = firm(3, 5_000_000);
        by_type.industry_class = "1811".into();
        let mut gone = firm(4, 5_000_000);
        gone.active = false;
        let mut exactly_three_years = firm(5, 5_000_000);
        exactly_three_years.registration_date = NaiveDate::from_ymd_opt(2022, 12, 31);
        let firms = vec![
            young,
            firm(2, 5_000_000),
            by_type,
            gone,
            exactly_three_years,
            firm(6, 1),
        ];
        let result = classify(&model, &period(), &firms);
        let gradings: Vec<Grading> = result.evaluations.iter().map(|e| e.grading).collect();
        assert_eq!(
            gradings,
            [
                Grading::Deferred,
                Grading::Exempt,
                Grading::Exempt,
                Grading::NotEvaluated,
                Grading::Graded,
                Grading::Graded
            ]
        );
        assert_eq!(result.cohorts[&Segment::Textile].size, 2);
        assert!(result.evaluations.iter().all(|e| e.cohort_size == 2));
        assert_eq!(result.evaluations[0].class, None);
        assert_eq!(result.evaluations[0].rank, 0);
        assert!(
            result.evaluations[0].score > 0.0,
            "deferred firms are still scored"
        );
    }

    #[test]
    fn deferral_counts_back_from_the_end_of_a_quarter() {
        let q2 = Period::parse("2024Q2").unwrap();
        assert_eq!(
            deferral_cutoff(&q2, 3),
            NaiveDate::from_ymd_opt(2021, 6, 30).unwrap()
        );
    }

    fn arb_firms() -> impl Strategy<Value = Vec<(u8, u8, bool, bool)>> {
        // (tax bucket, segment, vetoed, young): few buckets, so ties are common.
        prop::collection::vec(
            (
                0u8..12,
                1u8..4,
                prop::bool::weighted(0.1),
                prop::bool::weighted(0.1),
            ),
            0..120,
        )
    }

    fn build(spec: &[(u8, u8, bool, bool)]) -> Vec<Firm> {
        spec.iter()
            .enumerate()
            .map(|(i, &(tax, segment, vetoed, young))| {
                let mut f = firm(i, i64::from(tax) * 1_000_000);
                f.segment = Segment::ALL[usize::from(segment)];
                f.vetoed = vetoed;
                if young {
                    f.registration_date = NaiveDate::from_ymd_opt(2024, 5, 1);
                }
                f
            })
            .collect()
    }

    fn by_uscc(firms: &[Firm], result: &PeriodResult) -> HashMap<String, Evaluation> {
        firms
            .iter()
            .zip(&result.evaluations)
            .map(|(f, e)| (f.uscc.clone(), e.clone()))
            .collect()
    }

    proptest! {
        #[test]
        fn graded_counts_sum_to_each_cohort_and_the_ungraded_are_not_counted(spec in arb_firms()) {
            let firms = build(&spec);
            let result = classify(&Model::default(), &period(), &firms);
            for (segment, cohort) in &result.cohorts {
                let members: Vec<&Evaluation> = firms.iter().zip(&result.evaluations)
                    .filter(|(f, _)| f.segment == *segment).map(|(_, e)| e).collect();
                let graded = members.iter().filter(|e| e.grading == Grading::Graded).count();
                prop_assert_eq!(cohort.size as usize, graded);
                let classed = members.iter().filter(|e| e.class.is_some()).count();
                prop_assert_eq!(classed, graded);
                let counts = Quotas::default().counts(graded);
                let a = members.iter().filter(|e| e.class == Some(Class::A)).count();
                let vetoed_graded = firms.iter().zip(&result.evaluations)
                    .filter(|(f, e)| f.segment == *segment && f.vetoed && e.grading == Grading::Graded).count();
                prop_assert_eq!(a, counts.a.min(graded - vetoed_graded));
            }
        }

        #[test]
        fn the_evaluation_does_not_depend_on_input_order(spec in arb_firms(), rotate in any::<usize>()) {
            let firms = build(&spec);
            let mut reordered = firms.clone();
            reordered.reverse();
            if !reordered.is_empty() {
                let k = rotate % reordered.len();
                reordered.rotate_left(k);
            }
            let a = classify(&Model::default(), &period(), &firms);
            let b = classify(&Model::default(), &period(), &reordered);
            prop_assert_eq!(by_uscc(&firms, &a), by_uscc(&reordered, &b));
            prop_assert_eq!(a.cohorts, b.cohorts);
        }

        #[test]
        fn raising_one_firms_figures_never_lowers_its_class(spec in arb_firms(), pick in any::<prop::sample::Index>()) {
            prop_assume!(!spec.is_empty());
            let firms = build(&spec);
            let who = pick.index(firms.len());
            let before = classify(&Model::default(), &period(), &firms).evaluations[who].clone();
            let mut raised = firms.clone();
            raised[who].figures.tax_paid_fen += 3_000_000;
            let after = classify(&Model::default(), &period(), &raised).evaluations[who].clone();
            if let (Some(b), Some(a)) = (before.class, after.class) {
                prop_assert!(a <= b, "{:?} -> {:?}", before, after);
            }
        }
    }

    /// The evaluation done the straightforward way, from the public pieces one firm at a
    /// time: `grading`, the benchmark as the mean of usable values, `score`, `ranking::rank`.
    fn reference(model: &Model, period: &Period, firms: &[Firm]) -> PeriodResult {
        let gradings: Vec<Grading> = firms.iter().map(|f| grading(model, period, f)).collect();
        let mut cohorts: BTreeMap<Segment, Cohort> = BTreeMap::new();
        let mut sums: BTreeMap<Segment, [ExactSum; Indicator::COUNT]> = BTreeMap::new();
        for (firm, grading) in firms.iter().zip(&gradings) {
            cohorts.entry(firm.segment).or_default();
            let sum = sums.entry(firm.segment).or_default();
            if *grading != Grading::Graded {
                continue;
            }
            cohorts.get_mut(&firm.segment).unwrap().size += 1;
            let reduced = uses_reduced_model(model, &firm.figures);
            for item in indicators_for(model, reduced) {
                if let Some(value) = usable(firm.figures.value(item.indicator)) {
                    sum[item.indicator.index()].add(value);
                }
            }
        }
        for (segment, cohort) in &mut cohorts {
            cohort.benchmarks = Benchmarks(std::array::from_fn(|i| sums[segment][i].mean()));
        }
        let mut evaluations: Vec<Evaluation> = firms
            .iter()
            .zip(&gradings)
            .map(|(firm, &grading)| {
                let reduced = uses_reduced_model(model, &firm.figures);
                let cohort = &cohorts[&firm.segment];
                Evaluation {
                    grading,
                    reduced,
                    score: match grading {
                        Grading::NotEvaluated => 0.0,
                        _ => score(
                            indicators_for(model, reduced),
                            &firm.figures,
                            &cohort.benchmarks,
                        ),
                    },
                    rank: 0,
                    cohort_size: cohort.size,
                    class: None,
                }
            })
            .collect();
        let segments: Vec<Segment> = cohorts.keys().copied().collect();
        let graded: Vec<usize> = (0..firms.len())
            .filter(|&i| gradings[i] == Grading::Graded)
            .collect();
        let candidates: Vec<ranking::Candidate> = graded
            .iter()
            .map(|&i| ranking::Candidate {
                uscc: &firms[i].uscc,
                cohort: segments
                    .iter()
                    .position(|s| *s == firms[i].segment)
                    .unwrap() as u32,
                score: evaluations[i].score,
                vetoed: firms[i].vetoed,
            })
            .collect();
        for (&i, placement) in graded
            .iter()
            .zip(ranking::rank(&candidates, &model.quotas()))
        {
            evaluations[i].rank = placement.rank;
            evaluations[i].class = Some(placement.class);
        }
        PeriodResult {
            evaluations,
            cohorts,
        }
    }

    /// Firms with varied figures: missing and negative values, small firms, every grading.
    fn arb_varied_firms() -> impl Strategy<Value = Vec<Firm>> {
        let figures = (
            (0i64..4, -2i64..6, 0i64..5, 0i64..4),
            (
                -1i64..5,
                0i64..3,
                0u8..4,
                0i64..4,
                0i64..3,
                prop::option::of(0u8..4),
            ),
        );
        let spec = (figures, 0usize..4, prop::bool::weighted(0.1), 0u8..12);
        prop::collection::vec(spec, 0..150).prop_map(|specs| {
            specs
                .into_iter()
                .enumerate()
                .map(
                    |(
                        i,
                        (
                            ((e, rd, rev, out), (tax, exp, auto, pat, land, energy)),
                            seg,
                            vetoed,
                            kind,
                        ),
                    )| {
                        let mut f = firm(i, tax * 3_000_000);
                        f.segment = Segment::ALL[seg];
                        f.vetoed = vetoed;
                        f.active = kind != 0;
                        f.registration_date = match kind {
                            1 => NaiveDate::from_ymd_opt(2024, 5, 1),
                            2 => None,
                            _ => f.registration_date,
                        };
                        if kind == 3 {
                            f.industry_class = "1811".into();
                        }
                        f.figures = Figures {
                            employees_total: e * 40,
                            rd_spend_fen: rd * 700_000,
                            // 0 and 1 are below the reduced model's threshold.
                            revenue_fen: rev * 1_500_000_000,
                            industrial_output_fen: out * 1_300_000_000,
                            tax_paid_fen: tax * 3_000_000,
                            export_sales_fen: exp * 400_000_000,
                            automation_share_percent: f64::from(auto) * 17.5,
                            patents: pat,
                            land_used_centi_mu: land * 2_500,
                            energy_use_tce: energy.map(|e| f64::from(e) * 45.5),
                        };
                        f
                    },
                )
                .collect()
        })
    }

    fn assert_same_bits(a: &PeriodResult, b: &PeriodResult) {
        assert_eq!(a, b);
        for (x, y) in a.evaluations.iter().zip(&b.evaluations) {
            assert_eq!(x.score.to_bits(), y.score.to_bits());
        }
        for (x, y) in a.cohorts.values().zip(b.cohorts.values()) {
            let bits = |c: &Cohort| c.benchmarks.0.map(|v| v.map(f64::to_bits));
            assert_eq!(bits(x), bits(y));
        }
    }

    #[test]
    fn an_empty_period_has_no_cohorts() {
        let result = classify(&Model::default(), &period(), &[]);
        assert!(result.evaluations.is_empty() && result.cohorts.is_empty());
    }

    proptest! {
        #[test]
        fn classify_equals_the_straightforward_evaluation_bit_for_bit(
            firms in arb_varied_firms(),
            quota_a in 0.0f64..40.0,
        ) {
            let mut model = Model {
                quota_a_percent: quota_a,
                ..Model::default()
            };
            model.exempt_industry_classes.insert("1811".into());
            if let Some(first) = firms.first() {
                model.exempt_enterprises.insert(first.uscc.clone(), "decision 9".into());
            }
            // The columns as the store builds them, row by row from borrowed fields.
            for model in [&model, &Model::default()] {
                let mut columns = Columns::with_capacity(model, &period(), firms.len());
                for firm in &firms {
                    columns.push(FirmRef {
                        uscc: &firm.uscc,
                        segment: firm.segment,
                        industry_class: &firm.industry_class,
                        registration_date: firm.registration_date,
                        active: firm.active,
                        vetoed: firm.vetoed,
                        figures: &firm.figures,
                    });
                }
                let expected = reference(model, &period(), &firms);
                assert_same_bits(&classify_columns(&columns), &expected);
                assert_same_bits(&classify(model, &period(), &firms), &expected);
            }
        }
    }
}
