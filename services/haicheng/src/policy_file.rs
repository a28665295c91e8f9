//! The policy file of `haicheng policy put FILE`: one `PolicySpec` of the support proto as
//! JSON, enumerations named without their prefix in any case, money in fen.
//!
//! ```json
//! {
//!   "id": "rd-subsidy-2025",
//!   "title": "研发投入补助",
//!   "document_number": "海财发〔2025〕7号",
//!   "issuer": "FINANCE",
//!   "valid_from": "2025-01-01", "valid_until": "2026-12-31",
//!   "period": "2025",
//!   "mode": "AUTOMATIC",
//!   "conditions": [
//!     { "class": { "classes": ["A", "B"], "view": "IN_FORCE" } },
//!     { "segment": ["TEXTILE", "APPAREL"] },
//!     { "park": ["XILIU"] },
//!     { "indicator": { "indicator": "RD_SHARE_BP", "at_least": 300 } },
//!     "no_veto", "no_land_shortfall", "external_fair",
//!     { "min_years_registered": 3 }
//!   ],
//!   "benefit": { "rate": { "indicator": "RD_SPEND_FEN", "rate_bp": 1000 }, "cap_fen": 50000000 },
//!   "budget_fen": 300000000,
//!   "remainder": "PARTIAL",
//!   "exclusive_group": ""
//! }
//! ```
//!
//! `benefit` is `{"fixed_fen": N}` or `{"rate": {…}}`, with an optional `cap_fen` (0: none).
//! Optional: `mode` (AUTOMATIC), `review_working_days` (0; APPLICATION mode needs it),
//! `conditions` (none), `remainder` (NONE), `exclusive_group` (none), a class condition's
//! `view` (IN_FORCE). A key not listed here is refused by name, so a misspelt field is never
//! silently dropped; the service checks the values (INVALID_ARGUMENT naming the field).

use haicheng_proto::{common::v1 as common, support::v1 as pb};
use serde::Deserialize;

use crate::enums::{self, ProtoEnum};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    id: String,
    title: String,
    document_number: String,
    issuer: String,
    valid_from: String,
    valid_until: String,
    period: String,
    #[serde(default)]
    mode: Option<String>,
    #[serde(default)]
    review_working_days: i32,
    #[serde(default)]
    conditions: Vec<ConditionFile>,
    benefit: BenefitFile,
    budget_fen: i64,
    #[serde(default)]
    remainder: Option<String>,
    #[serde(default)]
    exclusive_group: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum ConditionFile {
    Class(ClassFile),
    Segment(Vec<String>),
    Park(Vec<String>),
    Indicator(IndicatorFile),
    NoVeto,
    NoLandShortfall,
    ExternalFair,
    MinYearsRegistered(i32),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClassFile {
    classes: Vec<String>,
    #[serde(default)]
    view: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IndicatorFile {
    indicator: String,
    at_least: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BenefitFile {
    #[serde(default)]
    fixed_fen: Option<i64>,
    #[serde(default)]
    rate: Option<RateFile>,
    #[serde(default)]
    cap_fen: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RateFile {
    indicator: String,
    rate_bp: i64,
}

/// An enumeration's number from its name; the error names the key.
fn word<T: ProtoEnum>(key: &str, text: &str) -> Result<i32, String> {
    enums::parse::<T>(text)
        .map(|v| v.value())
        .map_err(|e| format!("{key}: {e}"))
}

fn words<T: ProtoEnum>(key: &str, texts: &[String]) -> Result<Vec<i32>, String> {
    texts
        .iter()
        .enumerate()
        .map(|(i, text)| word::<T>(&format!("{key}[{i}]"), text))
        .collect()
}

fn condition(i: usize, file: ConditionFile) -> Result<pb::Condition, String> {
    use pb::condition::Clause;
    let key = format!("conditions[{i}]");
    let clause = match file {
        ConditionFile::Class(c) => Clause::Class(pb::ClassCondition {
            classes: words::<common::EnterpriseClass>(&format!("{key}.class.classes"), &c.classes)?,
            view: match c.view.as_deref() {
                None => pb::ClassView::InForce as i32,
                Some(view) => word::<pb::ClassView>(&format!("{key}.class.view"), view)?,
            },
        }),
        ConditionFile::Segment(s) => Clause::Segment(pb::SegmentCondition {
            segments: words::<common::Segment>(&format!("{key}.segment"), &s)?,
        }),
        ConditionFile::Park(p) => Clause::Park(pb::ParkCondition {
            parks: words::<common::Park>(&format!("{key}.park"), &p)?,
        }),
        ConditionFile::Indicator(c) => Clause::Indicator(pb::IndicatorCondition {
            indicator: word::<pb::Indicator>(&format!("{key}.indicator.indicator"), &c.indicator)?,
            at_least: c.at_least,
        }),
        ConditionFile::NoVeto => Clause::NoVeto(true),
        ConditionFile::NoLandShortfall => Clause::NoLandShortfall(true),
        ConditionFile::ExternalFair => Clause::ExternalFair(true),
        ConditionFile::MinYearsRegistered(years) => Clause::MinYearsRegistered(years),
    };
    Ok(pb::Condition {
        clause: Some(clause),
    })
}

fn benefit(file: BenefitFile) -> Result<pb::Benefit, String> {
    use pb::benefit::Amount;
    let amount = match (file.fixed_fen, file.rate) {
        (Some(fen), None) => Amount::FixedFen(fen),
        (None, Some(rate)) => Amount::Rate(pb::RateOfIndicator {
            indicator: word::<pb::Indicator>("benefit.rate.indicator", &rate.indicator)?,
            rate_bp: rate.rate_bp,
        }),
        _ => return Err("benefit: give exactly one of fixed_fen and rate".into()),
    };
    Ok(pb::Benefit {
        amount: Some(amount),
        cap_fen: file.cap_fen,
    })
}

/// The spec a policy file describes, or why it cannot be sent (naming the key).
pub fn parse(text: &str) -> Result<pb::PolicySpec, String> {
    let file: PolicyFile = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let conditions = file
        .conditions
        .into_iter()
        .enumerate()
        .map(|(i, c)| condition(i, c))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(pb::PolicySpec {
        id: file.id,
        title: file.title,
        document_number: file.document_number,
        issuer: word::<common::Department>("issuer", &file.issuer)?,
        valid_from: file.valid_from,
        valid_until: file.valid_until,
        period: Some(common::Period { code: file.period }),
        mode: match file.mode.as_deref() {
            None => pb::PolicyMode::Automatic as i32,
            Some(mode) => word::<pb::PolicyMode>("mode", mode)?,
        },
        review_working_days: file.review_working_days,
        conditions,
        benefit: Some(benefit(file.benefit)?),
        budget_fen: file.budget_fen,
        remainder: match file.remainder.as_deref() {
            None => pb::Remainder::None as i32,
            Some(remainder) => word::<pb::Remainder>("remainder", remainder)?,
        },
        exclusive_group: file.exclusive_group,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = r#"{
      "id": "rd-subsidy-2025", "title": "研发投入补助", "document_number": "海财发〔2025〕7号",
      "issuer": "finance", "valid_from": "2025-01-01", "valid_until": "2026-12-31",
      "period": "2025",
      "conditions": [
        { "class": { "classes": ["A", "b"] } },
        { "segment": ["textile"] }, { "park": ["XILIU"] },
        { "indicator": { "indicator": "RD_SHARE_BP", "at_least": 300 } },
        "no_veto", "no_land_shortfall", "external_fair", { "min_years_registered": 3 }
      ],
      "benefit": { "rate": { "indicator": "rd_spend_fen", "rate_bp": 1000 }, "cap_fen": 50000000 },
      "budget_fen": 300000000, "remainder": "partial"
    }"#;

    #[test]
    fn a_full_policy_file_becomes_the_spec() {
        let spec = parse(FULL).unwrap();
        assert_eq!(spec.issuer, common::Department::Finance as i32);
        assert_eq!(spec.mode, pb::PolicyMode::Automatic as i32);
        assert_eq!(spec.remainder, pb::Remainder::Partial as i32);
        assert_eq!(spec.conditions.len(), 8);
        let Some(pb::condition::Clause::Class(class)) = &spec.conditions[0].clause else {
            panic!("a class condition first");
        };
        assert_eq!(class.classes, [1, 2]);
        assert_eq!(class.view, pb::ClassView::InForce as i32);
        assert_eq!(
            spec.conditions[7].clause,
            Some(pb::condition::Clause::MinYearsRegistered(3))
        );
        let benefit = spec.benefit.unwrap();
        assert_eq!(benefit.cap_fen, 50_000_000);
        assert!(matches!(
            benefit.amount,
            Some(pb::benefit::Amount::Rate(pb::RateOfIndicator {
                rate_bp: 1000,
                ..
            }))
        ));
    }

    #[test]
    fn a_misspelt_key_is_refused_by_name() {
        let err = parse(&FULL.replace("budget_fen", "budjet_fen")).unwrap_err();
        assert!(err.contains("unknown field `budjet_fen`"), "{err}");
        let err = parse(&FULL.replace("at_least", "atleast")).unwrap_err();
        assert!(err.contains("`atleast`"), "{err}");
        let err = parse(&FULL.replace("no_veto", "no_vetoes")).unwrap_err();
        assert!(err.contains("no_vetoes"), "{err}");
        let err = parse(&FULL.replace(r#""budget_fen": 300000000,"#, "")).unwrap_err();
        assert!(err.contains("missing field `budget_fen`"), "{err}");
    }

    #[test]
    fn a_bad_value_names_its_key() {
        let err = parse(&FULL.replace(r#"["A", "b"]"#, r#"["A", "D"]"#)).unwrap_err();
        assert!(
            err.starts_with("conditions[0].class.classes[1]: \"D\" is not one of"),
            "{err}"
        );
        let err = parse(&FULL.replace("\"finance\"", "\"treasury\"")).unwrap_err();
        assert!(err.starts_with("issuer: "), "{err}");
        let both = FULL.replace(r#""cap_fen""#, r#""fixed_fen": 5, "cap_fen""#);
        assert!(parse(&both).unwrap_err().starts_with("benefit: "));
    }
}
