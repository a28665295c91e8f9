//! The classification model: what is scored, with which weights and caps, how the cohort is
//! split, and who is not graded. Stored versioned; a new version re-ranks every period.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::{Indicator, Quotas, Uscc};

/// The default cap of value / benchmark: an item gives at most 1.5 × its weight.
pub const DEFAULT_CAP: f64 = 1.5;

/// One indicator of a model: contribution = weight × min(cap, value / benchmark).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Weighted {
    pub indicator: Indicator,
    pub weight: f64,
    /// Cap of value / benchmark, so one outstanding figure cannot buy a class alone.
    pub cap: f64,
}

impl Weighted {
    pub fn new(indicator: Indicator, weight: f64) -> Self {
        Self {
            indicator,
            weight,
            cap: DEFAULT_CAP,
        }
    }
}

/// The model for firms below the reporting threshold, which report less.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReducedModel {
    /// Firms with revenue below this (fen) are scored with `indicators`; 0 turns it off.
    pub revenue_threshold_fen: i64,
    pub indicators: Vec<Weighted>,
}

/// A version's content (the version number, author and time are the store's).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// Indicators of the full model.
    pub indicators: Vec<Weighted>,
    /// Share of the graded cohort in class A, percent.
    pub quota_a_percent: f64,
    /// Share of the graded cohort in class B, percent; C takes the rest.
    pub quota_b_percent: f64,
    /// Firms registered fewer than this many years before the period's end are deferred.
    pub deferral_years: u32,
    pub reduced: ReducedModel,
    /// Four-digit industry classes exempt from grading by type.
    pub exempt_industry_classes: BTreeSet<String>,
    /// Enterprises exempt by decision: USCC → reason.
    pub exempt_enterprises: BTreeMap<String, String>,
}

impl Default for Model {
    /// The defaults of DOMAIN.md: tax per mu weighs most, as in the county models; caps 1.5;
    /// quotas 10/30/60; deferral 3 years; small firms (revenue under 20 million yuan, the
    /// statistical "above designated size" line) scored on tax per mu and tax per energy.
    fn default() -> Self {
        use Indicator::*;
        Self {
            indicators: vec![
                Weighted::new(TaxPerMu, 30.0),
                Weighted::new(OutputPerMu, 20.0),
                Weighted::new(RdIntensity, 15.0),
                Weighted::new(LabourProductivity, 15.0),
                Weighted::new(PatentsPer100Employees, 10.0),
                Weighted::new(AutomationShare, 5.0),
                Weighted::new(ExportShare, 5.0),
            ],
            quota_a_percent: 10.0,
            quota_b_percent: 30.0,
            deferral_years: 3,
            reduced: ReducedModel {
                revenue_threshold_fen: 20_000_000 * 100,
                indicators: vec![
                    Weighted::new(TaxPerMu, 70.0),
                    Weighted::new(TaxPerEnergy, 30.0),
                ],
            },
            exempt_industry_classes: BTreeSet::new(),
            exempt_enterprises: BTreeMap::new(),
        }
    }
}

/// The longest deferral accepted; beyond it nobody would ever be graded.
pub const MAX_DEFERRAL_YEARS: u32 = 50;

impl Model {
    pub fn quotas(&self) -> Quotas {
        Quotas::from_percent(self.quota_a_percent, self.quota_b_percent).unwrap_or_default()
    }

    /// Every problem of the model, as (field path, reason), paths in the proto's own names
    /// relative to the model (`indicators[2].weight`).
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        validate_indicators(&self.indicators, "indicators", &mut problems);
        if self.indicators.is_empty() {
            problems.push((
                "indicators".into(),
                "at least one indicator is required".into(),
            ));
        }
        for (field, value) in [
            ("quota_a_percent", self.quota_a_percent),
            ("quota_b_percent", self.quota_b_percent),
        ] {
            if !(value.is_finite() && (0.0..=100.0).contains(&value)) {
                problems.push((field.into(), "must be a percentage in 0..=100".into()));
            }
        }
        if Quotas::from_percent(self.quota_a_percent, self.quota_b_percent).is_none()
            && problems.iter().all(|(f, _)| !f.starts_with("quota"))
        {
            problems.push((
                "quota_b_percent".into(),
                "quota_a_percent + quota_b_percent must not exceed 100".into(),
            ));
        }
        if self.deferral_years > MAX_DEFERRAL_YEARS {
            problems.push((
                "deferral_years".into(),
                format!("must be in 0..={MAX_DEFERRAL_YEARS}"),
            ));
        }
        if self.reduced.revenue_threshold_fen < 0 {
            problems.push((
                "reduced_model.revenue_threshold_fen".into(),
                "must not be negative".into(),
            ));
        }
        if self.reduced.revenue_threshold_fen > 0 && self.reduced.indicators.is_empty() {
            problems.push((
                "reduced_model.indicators".into(),
                "a threshold above 0 needs at least one indicator".into(),
            ));
        }
        validate_indicators(
            &self.reduced.indicators,
            "reduced_model.indicators",
            &mut problems,
        );
        for (i, class) in self.exempt_industry_classes.iter().enumerate() {
            if class.len() != 4 || !class.bytes().all(|b| b.is_ascii_digit()) {
                problems.push((
                    format!("exempt_industry_classes[{i}]"),
                    "must be a four-digit GB/T 4754 class".into(),
                ));
            }
        }
        for (i, (code, reason)) in self.exempt_enterprises.iter().enumerate() {
            if let Err(err) = Uscc::parse(code) {
                problems.push((format!("exempt_enterprises[{i}].uscc"), err.to_string()));
            }
            if reason.trim().is_empty() {
                problems.push((
                    format!("exempt_enterprises[{i}].reason"),
                    "an exemption needs a reason".into(),
                ));
            }
        }
        problems
    }
}

fn validate_indicators(list: &[Weighted], path: &str, problems: &mut Vec<(String, String)>) {
    let mut seen = BTreeSet::new();
    for (i, item) in list.iter().enumerate() {
        if !seen.insert(item.indicator) {
            problems.push((
                format!("{path}[{i}].indicator"),
                format!("{} is listed twice", item.indicator.name()),
            ));
        }
        if !(item.weight.is_finite() && item.weight >= 0.0 && item.weight <= 1e6) {
            problems.push((
                format!("{path}[{i}].weight"),
                "must be a number in 0..=1000000".into(),
            ));
        }
        if !(item.cap.is_finite() && item.cap > 0.0 && item.cap <= 1e3) {
            problems.push((format!("{path}[{i}].cap"), "must be in (0, 1000]".into()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_model_is_valid_and_weighs_100() {
        let model = Model::default();
        assert!(model.validate().is_empty(), "{:?}", model.validate());
        let total: f64 = model.indicators.iter().map(|w| w.weight).sum();
        assert_eq!(total, 100.0);
        let reduced: f64 = model.reduced.indicators.iter().map(|w| w.weight).sum();
        assert_eq!(reduced, 100.0);
    }

    #[test]
    fn each_bad_field_is_named() {
        let mut model = Model::default();
        model
            .indicators
            .push(Weighted::new(Indicator::TaxPerMu, f64::NAN));
        model.quota_a_percent = 80.0;
        model.quota_b_percent = 30.0;
        model.deferral_years = 99;
        model.exempt_industry_classes.insert("18".into());
        model
            .exempt_enterprises
            .insert("91210381MA0Q12343X".into(), " ".into());
        let fields: Vec<String> = model.validate().into_iter().map(|(f, _)| f).collect();
        assert_eq!(
            fields,
            [
                "indicators[7].indicator",
                "indicators[7].weight",
                "quota_b_percent",
                "deferral_years",
                "exempt_industry_classes[0]",
                "exempt_enterprises[0].uscc",
                "exempt_enterprises[0].reason",
            ]
        );
    }

    #[test]
    fn the_model_round_trips_through_json() {
        let model = Model::default();
        let json = serde_json::to_string(&model).unwrap();
        assert_eq!(serde_json::from_str::<Model>(&json).unwrap(), model);
    }
}
