//! Protobuf ↔ domain for the API: requests are validated here, with one field violation per
//! bad field, and stored rows become `Classification` messages with their breakdown.

use std::collections::{BTreeMap, BTreeSet};

use haicheng_proto::{classification::v1 as pb, common::v1 as common};
use platform::{Violations, time::to_timestamp};

use crate::{
    domain::{
        Class, Indicator, Model, ReducedModel, Weighted,
        evaluation::indicators_for,
        explain::{self, IndicatorScore},
        model::DEFAULT_CAP,
    },
    store::{classes::ClassRow, models::StoredModel},
};

/// Longest reason or note accepted.
pub const MAX_TEXT: usize = 2_000;

/// An optional period (`field`, its code reported as `field.code`): unset or an empty code
/// is `None`.
pub fn optional_period(
    violations: &mut Violations,
    field: &str,
    period: Option<&common::Period>,
) -> Option<String> {
    let code = period.map_or("", |p| p.code.as_str());
    violations
        .optional_period(&format!("{field}.code"), code)
        .map(|p| p.to_string())
}

/// A required free text (reason): not blank, at most [`MAX_TEXT`] characters.
pub fn check_reason(violations: &mut Violations, field: &str, text: &str) {
    if text.trim().is_empty() {
        violations.add(field, "is required");
    } else if text.chars().count() > MAX_TEXT {
        violations.add(field, format!("must be at most {MAX_TEXT} characters"));
    }
}

/// An enum filter: 0 is "any", a known value filters, anything else is a violation.
pub fn filter<E: TryFrom<i32>>(
    violations: &mut Violations,
    field: &str,
    value: i32,
) -> Option<i32> {
    if value == 0 {
        None
    } else if E::try_from(value).is_ok() {
        Some(value)
    } else {
        violations.add(field, format!("{value} is not a known value"));
        None
    }
}

fn weighted_from_proto(
    violations: &mut Violations,
    path: &str,
    items: &[pb::ModelIndicator],
) -> Vec<Weighted> {
    items
        .iter()
        .enumerate()
        .filter_map(|(i, item)| {
            let Some(indicator) = Indicator::from_proto(item.indicator) else {
                violations.add(
                    format!("{path}[{i}].indicator"),
                    "must be a known indicator",
                );
                return None;
            };
            Some(Weighted {
                indicator,
                weight: item.weight,
                // 0 is proto3's "unset": the default cap.
                cap: if item.cap == 0.0 {
                    DEFAULT_CAP
                } else {
                    item.cap
                },
            })
        })
        .collect()
}

/// The domain model of a `SetModel` request; every bad field is added to `violations`
/// with its request path (`model.indicators[1].weight`, …).
pub fn model_from_proto(violations: &mut Violations, model: Option<&pb::Model>) -> Option<Model> {
    let Some(m) = model else {
        violations.add("model", "is required");
        return None;
    };
    let before = violations.as_slice().len();
    let violations_here = |v: &Violations| v.as_slice().len() > before;
    let indicators = weighted_from_proto(violations, "model.indicators", &m.indicators);
    let reduced = match &m.reduced_model {
        None => ReducedModel {
            revenue_threshold_fen: 0,
            indicators: Vec::new(),
        },
        Some(r) => ReducedModel {
            revenue_threshold_fen: r.revenue_threshold_fen,
            indicators: weighted_from_proto(
                violations,
                "model.reduced_model.indicators",
                &r.indicators,
            ),
        },
    };
    let deferral_years = u32::try_from(m.deferral_years).unwrap_or_else(|_| {
        violations.add("model.deferral_years", "must not be negative");
        0
    });
    let mut exempt_enterprises = BTreeMap::new();
    for (i, e) in m.exempt_enterprises.iter().enumerate() {
        if exempt_enterprises
            .insert(e.uscc.clone(), e.reason.clone())
            .is_some()
        {
            violations.add(
                format!("model.exempt_enterprises[{i}].uscc"),
                "is listed twice",
            );
        }
    }
    if m.note.chars().count() > MAX_TEXT {
        violations.add(
            "model.note",
            format!("must be at most {MAX_TEXT} characters"),
        );
    }
    let domain = Model {
        indicators,
        quota_a_percent: m.quota_a_percent,
        quota_b_percent: m.quota_b_percent,
        deferral_years,
        reduced,
        exempt_industry_classes: m
            .exempt_industry_classes
            .iter()
            .cloned()
            .collect::<BTreeSet<_>>(),
        exempt_enterprises,
    };
    // Paths from the domain are relative to the model; list indices of sets are the sorted
    // order, which for a valid request without duplicates is the request's own.
    if violations_here(violations) {
        return None;
    }
    let problems = domain.validate();
    for (field, reason) in &problems {
        violations.add(format!("model.{field}"), reason.clone());
    }
    problems.is_empty().then_some(domain)
}

fn weighted_to_proto(items: &[Weighted]) -> Vec<pb::ModelIndicator> {
    items
        .iter()
        .map(|w| pb::ModelIndicator {
            indicator: w.indicator.to_proto(),
            weight: w.weight,
            cap: w.cap,
        })
        .collect()
}

pub fn model_to_proto(stored: &StoredModel) -> pb::Model {
    let m = &stored.model;
    pb::Model {
        version: stored.version,
        indicators: weighted_to_proto(&m.indicators),
        quota_a_percent: m.quota_a_percent,
        quota_b_percent: m.quota_b_percent,
        deferral_years: m.deferral_years as i32,
        reduced_model: Some(pb::ReducedModel {
            revenue_threshold_fen: m.reduced.revenue_threshold_fen,
            indicators: weighted_to_proto(&m.reduced.indicators),
        }),
        exempt_industry_classes: m.exempt_industry_classes.iter().cloned().collect(),
        exempt_enterprises: m
            .exempt_enterprises
            .iter()
            .map(|(uscc, reason)| pb::Exemption {
                uscc: uscc.clone(),
                reason: reason.clone(),
            })
            .collect(),
        created_at: Some(to_timestamp(stored.created_at)),
        created_by: stored.created_by.clone(),
        note: stored.note.clone(),
    }
}

/// The breakdown of a stored row's score under the model it was computed with.
pub fn breakdown(row: &ClassRow, model: &Model) -> Vec<IndicatorScore> {
    explain::breakdown(
        indicators_for(model, row.reduced_model),
        &row.figures,
        &row.benchmarks(),
    )
}

fn indicator_score_to_proto(item: &IndicatorScore) -> pb::IndicatorScore {
    pb::IndicatorScore {
        indicator: item.indicator.to_proto(),
        value: item.value.unwrap_or(0.0),
        benchmark: item.benchmark.unwrap_or(0.0),
        contribution: item.contribution,
        weight: item.weight,
        cap: item.cap,
        missing: item.value.is_none(),
        unit: item.indicator.unit().to_string(),
    }
}

pub fn classification_to_proto(row: &ClassRow, model: &Model) -> pb::Classification {
    pb::Classification {
        uscc: row.uscc.clone(),
        name: row.name.clone(),
        park: crate::proto::park_to_proto(row.park),
        segment: crate::proto::segment_to_proto(row.segment),
        period: Some(common::Period {
            code: row.period.clone(),
        }),
        enterprise_class: crate::proto::class_to_proto(row.class),
        computed_class: crate::proto::class_to_proto(row.computed_class),
        grading: i32::from(row.grading),
        score: row.score,
        rank: row.rank,
        cohort_size: row.cohort_size,
        model_version: row.model_version,
        reduced_model: row.reduced_model,
        vetoed: row.vetoed,
        overridden: row.override_class.is_some(),
        override_reason: row.override_reason.clone().unwrap_or_default(),
        breakdown: breakdown(row, model)
            .iter()
            .map(indicator_score_to_proto)
            .collect(),
        classified_at: Some(to_timestamp(row.classified_at)),
    }
}

pub fn gap_to_proto(
    target: Class,
    boundary: f64,
    score: f64,
    gaps: &[explain::IndicatorGap],
) -> pb::NextClassGap {
    pb::NextClassGap {
        target_class: target.to_proto() as i32,
        boundary_score: boundary,
        score_gap: boundary - score,
        indicators: gaps
            .iter()
            .map(|g| pb::IndicatorGap {
                indicator: g.indicator.to_proto(),
                current_value: g.current,
                required_value: g.required,
                increase: g.increase,
                reachable: g.reachable,
                unit: g.indicator.unit().to_string(),
            })
            .collect(),
        banded: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> pb::Model {
        pb::Model {
            indicators: vec![pb::ModelIndicator {
                indicator: pb::Indicator::TaxPerMu as i32,
                weight: 100.0,
                cap: 0.0,
            }],
            quota_a_percent: 10.0,
            quota_b_percent: 30.0,
            deferral_years: 3,
            ..Default::default()
        }
    }

    fn fields(model: Option<&pb::Model>) -> Vec<String> {
        let mut violations = Violations::new();
        assert!(model_from_proto(&mut violations, model).is_none());
        violations
            .as_slice()
            .iter()
            .map(|v| v.field.clone())
            .collect()
    }

    #[test]
    fn a_valid_model_converts_with_default_caps() {
        let mut violations = Violations::new();
        let model = model_from_proto(&mut violations, Some(&valid())).unwrap();
        assert!(violations.is_empty());
        assert_eq!(model.indicators[0].cap, DEFAULT_CAP);
        assert_eq!(model.reduced.revenue_threshold_fen, 0);
    }

    #[test]
    fn bad_fields_are_named_with_their_request_path() {
        assert_eq!(fields(None), ["model"]);
        let mut m = valid();
        m.indicators.push(pb::ModelIndicator {
            indicator: 0,
            weight: 1.0,
            cap: 1.0,
        });
        m.deferral_years = -1;
        assert_eq!(
            fields(Some(&m)),
            ["model.indicators[1].indicator", "model.deferral_years"]
        );
        let mut m = valid();
        m.quota_a_percent = 120.0;
        m.indicators[0].weight = -5.0;
        assert_eq!(
            fields(Some(&m)),
            ["model.indicators[0].weight", "model.quota_a_percent"]
        );
    }
}
