//! Evaluation of a grant's commitments (履约评价): the actual figures per mu of granted land
//! against what the performance agreement committed.
//!
//! Output and tax per mu come from the holder's yearly census return, investment intensity
//! and plot ratio from the construction milestones, energy per output from the return when
//! committed and reported. Each item is met, or short by a share of the committed value.
//!
//! From the production check date on (达产复核), a shortfall is enforced: a rectification
//! deadline (`rectification_days`, 180 by default) and damages the contract foresees,
//! price × (committed − actual) / committed for each short item (at most the price). Before
//! it, the trend of output and tax per mu between the last two yearly returns is projected
//! to the check date, and a projected shortfall is an early warning.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use uuid::Uuid;

use super::{
    grant::{Commitments, GrantRecord},
    lateness::Progress,
    scale_fen,
};

/// A kept evaluation of a grant on one yearly return.
#[derive(Debug, Clone, PartialEq)]
pub struct EvaluationRecord {
    pub id: Uuid,
    pub grant_id: Uuid,
    pub parcel_id: String,
    pub uscc: String,
    pub year: i32,
    pub revision: i64,
    pub evaluation: Evaluation,
    pub evaluated_on: NaiveDate,
    pub recorded_at: DateTime<Utc>,
}

/// A yearly census return of a holder, as the consumer hands it over.
#[derive(Debug, Clone)]
pub struct ReturnFacts<'a> {
    pub uscc: &'a str,
    pub name: &'a str,
    pub year: i32,
    pub revision: i64,
    pub figures: Figures,
    /// The day it was submitted, in China: the evaluation's date.
    pub evaluated_on: NaiveDate,
    pub submitted_at: DateTime<Utc>,
}

/// What one return did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReturnOutcome {
    pub evaluations: usize,
    pub notices: usize,
}

/// What the evaluation of one grant on a return writes: the evaluation, and the notice its
/// change of outcome calls for.
#[derive(Debug, Clone, PartialEq)]
pub struct GrantEvaluation {
    pub evaluation: Evaluation,
    pub notice: Option<NoticeKind>,
}

/// Decides the evaluation of `grant` on the return `facts`, with the holder's latest earlier
/// yearly figures (`previous`) and the outcome of the grant's latest evaluation (`before`).
pub fn decide(
    grant: &GrantRecord,
    facts: &ReturnFacts<'_>,
    previous: Option<(i32, Figures)>,
    before: Option<Outcome>,
    rules: &EvaluationRules,
) -> GrantEvaluation {
    let evaluation = evaluate(
        &Input {
            land_centi_mu: grant.land_centi_mu,
            price_fen: grant.terms.price_fen,
            commitments: &grant.commitments,
            production_check_on: grant.contract.production_check_on,
            progress: &grant.progress,
            year: facts.year,
            figures: facts.figures,
            previous,
            evaluated_on: facts.evaluated_on,
        },
        rules,
    );
    GrantEvaluation {
        notice: notice_for(before, evaluation.outcome),
        evaluation,
    }
}

/// The text of an evaluation notice.
pub fn notice_text(kind: NoticeKind, evaluation: &EvaluationRecord) -> String {
    let short: Vec<String> = evaluation
        .evaluation
        .items
        .iter()
        .filter(|i| i.shortfall_bp > 0 || i.projected_shortfall_bp > 0)
        .map(|i| {
            let bp = if kind == NoticeKind::EarlyWarning {
                i.projected_shortfall_bp
            } else {
                i.shortfall_bp
            };
            format!("{} {}.{:02} % short", i.item.name(), bp / 100, bp % 100)
        })
        .collect();
    let head = format!(
        "Grant {} on parcel {} ({} {}):",
        evaluation.grant_id, evaluation.parcel_id, evaluation.year, evaluation.uscc
    );
    match kind {
        NoticeKind::Shortfall => format!(
            "{head} commitments short at the production check ({}); damages {} fen; rectify by {}",
            short.join(", "),
            evaluation.evaluation.damages_fen,
            evaluation
                .evaluation
                .rectification_due_on
                .map_or_else(String::new, |d| d.to_string())
        ),
        NoticeKind::EarlyWarning => format!(
            "{head} early warning: the trend projects a shortfall at the production check ({})",
            short.join(", ")
        ),
        NoticeKind::Restored => format!("{head} every commitment is met again"),
    }
}

/// The configurable part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvaluationRules {
    /// Days to rectify a shortfall found at or after the production check (180).
    pub rectification_days: u32,
}

impl Default for EvaluationRules {
    fn default() -> Self {
        Self {
            rectification_days: 180,
        }
    }
}

/// A commitment item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Item {
    InvestmentIntensity,
    OutputPerMu,
    TaxPerMu,
    PlotRatio,
    EnergyPerOutput,
}

/// The outcome of one evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Met,
    EarlyWarning,
    Short,
}

impl Item {
    /// The item's name in notices.
    pub fn name(self) -> &'static str {
        match self {
            Item::InvestmentIntensity => "investment intensity",
            Item::OutputPerMu => "output per mu",
            Item::TaxPerMu => "tax per mu",
            Item::PlotRatio => "plot ratio",
            Item::EnergyPerOutput => "energy per output",
        }
    }
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Met => "met",
            Outcome::EarlyWarning => "early_warning",
            Outcome::Short => "short",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        [Outcome::Met, Outcome::EarlyWarning, Outcome::Short]
            .into_iter()
            .find(|o| o.as_str() == name)
    }
}

/// One year's figures of the holder from its census return.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Figures {
    pub output_fen: i64,
    pub tax_fen: i64,
    pub energy_tce: Option<f64>,
}

/// Everything one evaluation needs.
#[derive(Debug, Clone)]
pub struct Input<'a> {
    /// Land the holder is evaluated on, hundredths of a mu.
    pub land_centi_mu: i64,
    pub price_fen: i64,
    pub commitments: &'a Commitments,
    pub production_check_on: NaiveDate,
    pub progress: &'a Progress,
    /// The year of the return and its figures.
    pub year: i32,
    pub figures: Figures,
    /// The latest earlier yearly return, for the trend.
    pub previous: Option<(i32, Figures)>,
    pub evaluated_on: NaiveDate,
}

/// One item compared. Values are in the item's unit: fen per mu, thousandths of plot ratio,
/// or thousandths of a tonne of standard coal per 10,000 yuan.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ItemResult {
    pub item: Item,
    pub committed: i64,
    pub actual: i64,
    /// Gap / committed, basis points, rounded up (so a short item never shows 0); 0 = met.
    pub shortfall_bp: i32,
    /// The same for the value projected at the check date; 0 when none is projected.
    pub projected_shortfall_bp: i32,
    /// Damages for the gap, fen (only when the outcome is short).
    pub damages_fen: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    pub items: Vec<ItemResult>,
    pub outcome: Outcome,
    /// Every item met now, whatever the date (conversion and unit sales ask for this).
    pub all_met: bool,
    pub damages_fen: i64,
    pub rectification_due_on: Option<NaiveDate>,
}

/// `total` per mu of `centi_mu` hundredths of a mu.
pub fn per_mu(total: i64, centi_mu: i64) -> i64 {
    if centi_mu <= 0 {
        return 0;
    }
    let value = i128::from(total) * 100 / i128::from(centi_mu);
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Plot ratio in thousandths of `built_centi_m2` on `centi_mu` (1 mu = 2000/3 m²).
pub fn plot_ratio_milli(built_centi_m2: i64, centi_mu: i64) -> i64 {
    if centi_mu <= 0 {
        return 0;
    }
    let value = i128::from(built_centi_m2) * 3 / (i128::from(centi_mu) * 2);
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Floor area, hundredths of a m², of a plot ratio (thousandths) on `centi_mu`.
pub fn floor_area_for(plot_ratio_milli: i64, centi_mu: i64) -> i64 {
    let value = i128::from(plot_ratio_milli) * i128::from(centi_mu) * 2 / 3;
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Gap of `actual` below `committed` (or above, for lower-is-better), basis points rounded up.
fn shortfall_bp(committed: i64, actual: i64, lower_is_better: bool) -> i32 {
    let gap = if lower_is_better {
        actual - committed
    } else {
        committed - actual
    };
    if gap <= 0 || committed <= 0 {
        return 0;
    }
    let bp = (i128::from(gap) * 10_000 + i128::from(committed) - 1) / i128::from(committed);
    bp.min(10_000) as i32
}

/// Energy per 10,000 yuan of output, thousandths of a tonne; `None` when nothing to divide.
fn energy_milli(tce: f64, output_fen: i64) -> i64 {
    if output_fen <= 0 {
        return i64::MAX;
    }
    let wan_yuan = output_fen as f64 / 1_000_000.0;
    (tce / wan_yuan * 1000.0).round() as i64
}

/// The value of a yearly figure projected from two returns to `check_on`.
fn projected(now: i64, before: Option<(i32, i64)>, year: i32, check_on: NaiveDate) -> Option<i64> {
    let (before_year, before_value) = before?;
    let span = year - before_year;
    if span <= 0 {
        return None;
    }
    let year_end = NaiveDate::from_ymd_opt(year, 12, 31)?;
    let years_ahead = ((check_on - year_end).num_days().max(0) as f64) / 365.25;
    let slope = (now - before_value) as f64 / f64::from(span);
    Some((now as f64 + slope * years_ahead).round() as i64)
}

/// Evaluates one return against a grant.
pub fn evaluate(input: &Input<'_>, rules: &EvaluationRules) -> Evaluation {
    let c = input.commitments;
    let land = input.land_centi_mu;
    // From the check date on the figures are enforced as they are: no projection.
    let enforced = input.evaluated_on >= input.production_check_on;
    let previous = if enforced { None } else { input.previous };
    let mut items = Vec::new();
    let mut push = |item, committed: i64, actual: i64, lower: bool, projection: Option<i64>| {
        items.push(ItemResult {
            item,
            committed,
            actual,
            shortfall_bp: shortfall_bp(committed, actual, lower),
            projected_shortfall_bp: projection.map_or(0, |p| shortfall_bp(committed, p, lower)),
            damages_fen: 0,
        });
    };
    push(
        Item::InvestmentIntensity,
        c.investment_fen_per_mu,
        per_mu(input.progress.investment_to_date_fen, land),
        false,
        None,
    );
    let output = per_mu(input.figures.output_fen, land);
    let output_before = previous.map(|(y, f)| (y, per_mu(f.output_fen, land)));
    push(
        Item::OutputPerMu,
        c.output_fen_per_mu,
        output,
        false,
        projected(output, output_before, input.year, input.production_check_on),
    );
    let tax = per_mu(input.figures.tax_fen, land);
    let tax_before = previous.map(|(y, f)| (y, per_mu(f.tax_fen, land)));
    push(
        Item::TaxPerMu,
        c.tax_fen_per_mu,
        tax,
        false,
        projected(tax, tax_before, input.year, input.production_check_on),
    );
    push(
        Item::PlotRatio,
        c.plot_ratio_milli,
        plot_ratio_milli(input.progress.built_floor_area_centi_m2, land),
        false,
        None,
    );
    if let (Some(committed), Some(tce)) = (c.energy_tce_per_wan_yuan, input.figures.energy_tce) {
        let committed = (committed * 1000.0).round() as i64;
        push(
            Item::EnergyPerOutput,
            committed,
            energy_milli(tce, input.figures.output_fen),
            true,
            None,
        );
    }

    let all_met = items.iter().all(|i| i.shortfall_bp == 0);
    let outcome = outcome_of(&items, enforced, all_met);
    let damages_fen = if outcome == Outcome::Short {
        charge_damages(&mut items, input.price_fen)
    } else {
        0
    };
    Evaluation {
        items,
        outcome,
        all_met,
        damages_fen,
        rectification_due_on: (outcome == Outcome::Short)
            .then(|| input.evaluated_on + Duration::days(i64::from(rules.rectification_days))),
    }
}

/// What a change of outcome tells the departments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeKind {
    /// Met (or warned) → short: rectification and damages.
    Shortfall,
    /// Met → projected short: an early warning.
    EarlyWarning,
    /// Short or warned → met again.
    Restored,
}

impl NoticeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::Shortfall => "land_commitment_shortfall",
            NoticeKind::EarlyWarning => "land_commitment_early_warning",
            NoticeKind::Restored => "land_commitment_restored",
        }
    }
}

/// Enforced (from the check date on), the figures are met or short; before it, a projected
/// shortfall is an early warning.
fn outcome_of(items: &[ItemResult], enforced: bool, all_met: bool) -> Outcome {
    if enforced {
        if all_met {
            Outcome::Met
        } else {
            Outcome::Short
        }
    } else if items.iter().any(|i| i.projected_shortfall_bp > 0) {
        Outcome::EarlyWarning
    } else {
        Outcome::Met
    }
}

/// Damages of each short item, price × gap / committed (at most the price); their sum.
fn charge_damages(items: &mut [ItemResult], price_fen: i64) -> i64 {
    let mut damages_fen = 0_i64;
    for item in items.iter_mut().filter(|i| i.shortfall_bp > 0) {
        let gap = (item.committed - item.actual).abs();
        item.damages_fen = scale_fen(price_fen, gap, item.committed).min(price_fen);
        damages_fen = damages_fen.saturating_add(item.damages_fen);
    }
    damages_fen
}

/// The notice a change from `previous` (none yet counts as met) to `now` calls for.
pub fn notice_for(previous: Option<Outcome>, now: Outcome) -> Option<NoticeKind> {
    let previous = previous.unwrap_or(Outcome::Met);
    if previous == now {
        return None;
    }
    Some(match now {
        Outcome::Short => NoticeKind::Shortfall,
        Outcome::EarlyWarning => NoticeKind::EarlyWarning,
        Outcome::Met => NoticeKind::Restored,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn commitments() -> Commitments {
        Commitments {
            investment_fen_per_mu: 300_000_000, // 3 M yuan a mu
            output_fen_per_mu: 600_000_000,     // 6 M yuan a mu
            tax_fen_per_mu: 30_000_000,         // 300,000 yuan a mu
            plot_ratio_milli: 1200,
            energy_tce_per_wan_yuan: None,
        }
    }

    /// 10 mu, built to plot ratio 1.2, 3 M yuan a mu invested.
    fn progress() -> Progress {
        Progress {
            started_on: Some(day(2021, 1, 1)),
            completed_on: Some(day(2022, 1, 1)),
            investment_to_date_fen: 3_000_000_000,
            built_floor_area_centi_m2: floor_area_for(1200, 1_000),
            last_progress_on: Some(day(2022, 1, 1)),
        }
    }

    fn input<'a>(
        c: &'a Commitments,
        p: &'a Progress,
        figures: Figures,
        on: NaiveDate,
    ) -> Input<'a> {
        Input {
            land_centi_mu: 1_000,
            price_fen: 5_000_000_000,
            commitments: c,
            production_check_on: day(2025, 1, 1),
            progress: p,
            year: 2025,
            figures,
            previous: None,
            evaluated_on: on,
        }
    }

    fn figures(output_yuan_per_mu: i64, tax_yuan_per_mu: i64) -> Figures {
        Figures {
            output_fen: output_yuan_per_mu * 100 * 10,
            tax_fen: tax_yuan_per_mu * 100 * 10,
            energy_tce: None,
        }
    }

    #[test]
    fn units_convert_exactly() {
        assert_eq!(per_mu(1_000, 250), 400);
        assert_eq!(plot_ratio_milli(floor_area_for(1_500, 333), 333), 1_500);
        assert_eq!(plot_ratio_milli(6_666_667, 100), 100_000);
    }

    #[test]
    fn every_item_met_after_the_check_is_met() {
        let (c, p) = (commitments(), progress());
        let e = evaluate(
            &input(&c, &p, figures(6_000_000, 300_000), day(2026, 3, 1)),
            &EvaluationRules::default(),
        );
        assert_eq!(e.outcome, Outcome::Met);
        assert!(e.all_met);
        assert_eq!(e.damages_fen, 0);
        assert_eq!(e.rectification_due_on, None);
    }

    #[test]
    fn a_known_shortfall_costs_its_share_of_the_price_to_the_fen() {
        let (c, p) = (commitments(), progress());
        // Tax 200,000 of 300,000 yuan a mu: a third short; output 5,400,000 of 6 M: a tenth.
        let e = evaluate(
            &input(&c, &p, figures(5_400_000, 200_000), day(2026, 3, 1)),
            &EvaluationRules::default(),
        );
        assert_eq!(e.outcome, Outcome::Short);
        let tax = e.items.iter().find(|i| i.item == Item::TaxPerMu).unwrap();
        assert_eq!(tax.shortfall_bp, 3_334);
        // 5,000,000,000 fen × 1/3 = 1,666,666,666.67 → 1,666,666,667.
        assert_eq!(tax.damages_fen, 1_666_666_667);
        let output = e
            .items
            .iter()
            .find(|i| i.item == Item::OutputPerMu)
            .unwrap();
        assert_eq!(output.damages_fen, 500_000_000);
        assert_eq!(e.damages_fen, 2_166_666_667);
        assert_eq!(e.rectification_due_on, Some(day(2026, 8, 28)));

        // After the check a trend projects nothing: the figures count as they are.
        let mut falling = input(&c, &p, figures(5_400_000, 200_000), day(2026, 3, 1));
        falling.previous = Some((2024, figures(9_000_000, 900_000)));
        let e = evaluate(&falling, &EvaluationRules::default());
        assert!(e.items.iter().all(|i| i.projected_shortfall_bp == 0));
        assert_eq!(e.damages_fen, 2_166_666_667);
    }

    #[test]
    fn before_the_check_a_falling_trend_warns_and_a_flat_one_does_not() {
        let (c, p) = (commitments(), progress());
        let mut falling = input(&c, &p, figures(6_500_000, 320_000), day(2024, 2, 1));
        falling.production_check_on = day(2027, 12, 31);
        falling.year = 2023;
        falling.previous = Some((2022, figures(7_000_000, 400_000)));
        let e = evaluate(&falling, &EvaluationRules::default());
        assert_eq!(e.outcome, Outcome::EarlyWarning);
        assert!(e.all_met, "met today, short at the check date");
        assert_eq!(e.damages_fen, 0);
        let tax = e.items.iter().find(|i| i.item == Item::TaxPerMu).unwrap();
        // 320,000 − 80,000 × 4 years = 0 → all of it short.
        assert_eq!(tax.projected_shortfall_bp, 10_000);

        let mut flat = falling.clone();
        flat.previous = Some((2022, figures(6_500_000, 320_000)));
        assert_eq!(
            evaluate(&flat, &EvaluationRules::default()).outcome,
            Outcome::Met
        );
        let mut alone = falling;
        alone.previous = None;
        assert_eq!(
            evaluate(&alone, &EvaluationRules::default()).outcome,
            Outcome::Met
        );
    }

    #[test]
    fn energy_is_lower_is_better() {
        let c = Commitments {
            energy_tce_per_wan_yuan: Some(0.1),
            ..commitments()
        };
        let p = progress();
        let mut f = figures(6_000_000, 300_000);
        // Output 60 M yuan = 6,000 wan yuan; 900 tce → 0.15 per wan yuan: half again.
        f.energy_tce = Some(900.0);
        let e = evaluate(
            &input(&c, &p, f, day(2026, 1, 1)),
            &EvaluationRules::default(),
        );
        let energy = e
            .items
            .iter()
            .find(|i| i.item == Item::EnergyPerOutput)
            .unwrap();
        assert_eq!(
            (energy.committed, energy.actual, energy.shortfall_bp),
            (100, 150, 5_000)
        );
        assert_eq!(e.outcome, Outcome::Short);
    }

    #[test]
    fn notices_follow_changes_of_outcome_only() {
        use Outcome::*;
        assert_eq!(notice_for(None, Met), None);
        assert_eq!(notice_for(Some(Met), Short), Some(NoticeKind::Shortfall));
        assert_eq!(notice_for(Some(Short), Short), None);
        assert_eq!(notice_for(Some(Short), Met), Some(NoticeKind::Restored));
        assert_eq!(
            notice_for(None, EarlyWarning),
            Some(NoticeKind::EarlyWarning)
        );
        assert_eq!(
            notice_for(Some(EarlyWarning), Short),
            Some(NoticeKind::Shortfall)
        );
    }

    proptest::proptest! {
        #[test]
        fn damages_never_exceed_the_price_per_item(tax in 0_i64..1_000_000, output in 0_i64..10_000_000) {
            let (c, p) = (commitments(), progress());
            let e = evaluate(&input(&c, &p, figures(output, tax), day(2026, 1, 1)), &EvaluationRules::default());
            for item in &e.items {
                proptest::prop_assert!(item.damages_fen <= 5_000_000_000);
                proptest::prop_assert!((0..=10_000).contains(&item.shortfall_bp));
                proptest::prop_assert_eq!(item.shortfall_bp == 0, item.actual >= item.committed);
            }
        }
    }
}
