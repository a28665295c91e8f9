//! `haicheng model …`: the classification model.
//!
//! - `model get [--version N]`: the current model (or version N); needs `classification.read`.
//! - `model set --file model.json [--expected-version N]`: stores a new version and starts the
//!   full re-run; prints the new version. Needs `classification.admin`, which only commerce
//!   holds (locally `dev-commerce`).
//!
//! # The model file
//!
//! The JSON form of the proto `Model`, exactly what `haicheng model get -o json` prints, so the
//! round trip is: get, edit, set.
//!
//! ```json
//! {
//!   "version": 3,
//!   "indicators": [
//!     { "indicator": "TAX_PER_MU", "weight": 30, "cap": 1.5 },
//!     { "indicator": "OUTPUT_PER_MU", "weight": 20, "cap": 1.5 }
//!   ],
//!   "quotaAPercent": 10,
//!   "quotaBPercent": 30,
//!   "deferralYears": 3,
//!   "reducedModel": {
//!     "revenueThresholdFen": 2000000000,
//!     "indicators": [{ "indicator": "TAX_PER_MU", "weight": 60, "cap": 1.5 }]
//!   },
//!   "exemptIndustryClasses": ["5139"],
//!   "exemptEnterprises": [{ "uscc": "91210381MA0Q12343L", "reason": "relocating" }],
//!   "note": "why this version"
//! }
//! ```
//!
//! `indicators`, `quotaAPercent`, `quotaBPercent` and `deferralYears` are required; the
//! rest may be left out. Indicator names are those of the proto `Indicator`, in any case, with
//! or without the `INDICATOR_` prefix. `version` is the version the file was read from: the
//! service refuses the new model (ABORTED) if another version was stored since, and
//! `--expected-version` overrides it. `createdAt` and `createdBy` may stay in the file; the
//! service sets them. Any other key is refused, so a misspelt setting is never dropped. Each
//! key may also be spelt as the proto field (`quota_a_percent`), as protobuf JSON parsers
//! accept.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use haicheng_proto::classification::v1 as pb;
use serde::{Deserialize, de::IgnoredAny};

use crate::{
    Context,
    client::call,
    enums,
    errors::CliError,
    output::{self, Format, Table, hundredths, number},
};

#[derive(Subcommand)]
pub enum ModelCommand {
    /// The current classification model, or one version of it.
    Get(GetArgs),
    /// Store a new model version (commerce only); the whole classification is re-run.
    #[command(after_long_help = MODEL_FILE_HELP)]
    Set(SetArgs),
}

/// The model file's format, under `haicheng model set --help`.
const MODEL_FILE_HELP: &str = r#"The model file is the JSON that `haicheng model get -o json` prints:

  {
    "version": 3,
    "indicators": [
      { "indicator": "TAX_PER_MU", "weight": 30, "cap": 1.5 },
      { "indicator": "OUTPUT_PER_MU", "weight": 20, "cap": 1.5 }
    ],
    "quotaAPercent": 10,
    "quotaBPercent": 30,
    "deferralYears": 3,
    "reducedModel": {
      "revenueThresholdFen": 2000000000,
      "indicators": [{ "indicator": "TAX_PER_MU", "weight": 60, "cap": 1.5 }]
    },
    "exemptIndustryClasses": ["5139"],
    "exemptEnterprises": [{ "uscc": "91210381MA0Q12343L", "reason": "relocating" }],
    "note": "why this version"
  }

indicators, quotaAPercent, quotaBPercent and deferralYears are required. Indicators are
named as in the proto (TAX_PER_MU, OUTPUT_PER_MU, OUTPUT_PER_ENERGY, RD_INTENSITY,
LABOUR_PRODUCTIVITY, PATENTS_PER_100_EMPLOYEES, AUTOMATION_SHARE, EXPORT_SHARE, TAX_PER_ENERGY),
any case. "version" is the version you edited: the service refuses the model if another was
stored since (--expected-version overrides it). createdAt and createdBy are ignored; any other
unknown key is refused. The proto field names (quota_a_percent, …) are accepted too."#;

#[derive(Args)]
pub struct GetArgs {
    /// This version instead of the current one.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(i64).range(1..))]
    version: Option<i64>,
}

#[derive(Args)]
pub struct SetArgs {
    /// The model as JSON (format below); `-` reads it from stdin.
    #[arg(long, value_name = "model.json")]
    file: PathBuf,
    /// The current version you based the model on; by default the file's "version".
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(i64).range(1..))]
    expected_version: Option<i64>,
}

pub async fn run(command: ModelCommand, context: &Context) -> Result<(), CliError> {
    match command {
        ModelCommand::Get(args) => {
            let mut service = context.connect.classification().await?;
            let model = service
                .get_model(call(pb::GetModelRequest {
                    version: args.version.unwrap_or(0),
                }))
                .await?
                .into_inner()
                .model
                .unwrap_or_default();
            output::emit(&match context.format {
                Format::Table => render_model(&model),
                Format::Json => output::json(&model),
            });
        }
        ModelCommand::Set(args) => {
            let text = read(&args.file)?;
            let (model, file_version) = parse(&text)
                .map_err(|e| CliError::usage(format!("{}: {e}", args.file.display())))?;
            let expected_version = args.expected_version.or(file_version).ok_or_else(|| {
                CliError::usage(
                    "which version is this model based on? Put the \"version\" from \
                     `haicheng model get -o json` in the file, or pass --expected-version N",
                )
            })?;
            let mut service = context.connect.classification().await?;
            let stored = service
                .set_model(call(pb::SetModelRequest {
                    model: Some(model),
                    expected_version,
                }))
                .await?
                .into_inner()
                .model
                .unwrap_or_default();
            output::emit(&match context.format {
                Format::Table => render_stored(&stored, expected_version),
                Format::Json => output::json(&stored),
            });
        }
    }
    Ok(())
}

fn read(path: &std::path::Path) -> Result<String, CliError> {
    let result = if path.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin())
    } else {
        std::fs::read_to_string(path)
    };
    result.map_err(|e| CliError::usage(format!("{}: {e}", path.display())))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelFile {
    #[serde(default)]
    version: Option<i64>,
    indicators: Vec<IndicatorFile>,
    #[serde(alias = "quotaAPercent")]
    quota_a_percent: f64,
    #[serde(alias = "quotaBPercent")]
    quota_b_percent: f64,
    #[serde(alias = "deferralYears")]
    deferral_years: i32,
    #[serde(default)]
    #[serde(alias = "reducedModel")]
    reduced_model: Option<ReducedFile>,
    #[serde(default)]
    #[serde(alias = "exemptIndustryClasses")]
    exempt_industry_classes: Vec<String>,
    #[serde(default)]
    #[serde(alias = "exemptEnterprises")]
    exempt_enterprises: Vec<ExemptionFile>,
    #[serde(default)]
    note: Option<String>,
    /// Set by the service; accepted so that `model get -o json` output can be sent back.
    #[serde(default, alias = "createdAt")]
    #[allow(dead_code)]
    created_at: Option<IgnoredAny>,
    #[serde(default, alias = "createdBy")]
    #[allow(dead_code)]
    created_by: Option<IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IndicatorFile {
    indicator: String,
    weight: f64,
    cap: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReducedFile {
    #[serde(alias = "revenueThresholdFen")]
    revenue_threshold_fen: i64,
    #[serde(default)]
    indicators: Vec<IndicatorFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExemptionFile {
    uscc: String,
    #[serde(default)]
    reason: String,
}

fn indicators(list: Vec<IndicatorFile>, field: &str) -> Result<Vec<pb::ModelIndicator>, String> {
    list.into_iter()
        .enumerate()
        .map(|(i, item)| {
            let indicator = enums::parse::<pb::Indicator>(&item.indicator)
                .map_err(|e| format!("{field}[{i}].indicator: {e}"))?;
            Ok(pb::ModelIndicator {
                indicator: indicator as i32,
                weight: item.weight,
                cap: item.cap,
            })
        })
        .collect()
}

/// The model of a model file, and the version it names.
fn parse(text: &str) -> Result<(pb::Model, Option<i64>), String> {
    let file: ModelFile = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let reduced_model = match file.reduced_model {
        Some(reduced) => Some(pb::ReducedModel {
            revenue_threshold_fen: reduced.revenue_threshold_fen,
            indicators: indicators(reduced.indicators, "reduced_model.indicators")?,
        }),
        None => None,
    };
    let model = pb::Model {
        version: 0,
        indicators: indicators(file.indicators, "indicators")?,
        quota_a_percent: file.quota_a_percent,
        quota_b_percent: file.quota_b_percent,
        deferral_years: file.deferral_years,
        reduced_model,
        exempt_industry_classes: file.exempt_industry_classes,
        exempt_enterprises: file
            .exempt_enterprises
            .into_iter()
            .map(|e| pb::Exemption {
                uscc: e.uscc,
                reason: e.reason,
            })
            .collect(),
        created_at: None,
        created_by: String::new(),
        note: file.note.unwrap_or_default(),
    };
    Ok((model, file.version.filter(|v| *v > 0)))
}

fn indicators_table(list: &[pb::ModelIndicator]) -> String {
    let mut table = Table::new(&["INDICATOR", "WEIGHT", "CAP"]).numeric(&[1, 2]);
    for i in list {
        table.row(vec![
            enums::short::<pb::Indicator>(i.indicator),
            number(i.weight),
            number(i.cap),
        ]);
    }
    table.render()
}

fn render_model(model: &pb::Model) -> String {
    let none = || "none".to_string();
    let mut out = output::fields(&[
        ("version", model.version.to_string()),
        (
            "stored",
            format!(
                "{} by {}",
                output::time(model.created_at.as_ref()),
                model.created_by
            ),
        ),
        ("note", model.note.clone()),
        (
            "quotas",
            format!(
                "A {}%, B {}%, C the rest",
                number(model.quota_a_percent),
                number(model.quota_b_percent)
            ),
        ),
        ("deferral", format!("{} years", model.deferral_years)),
        (
            "exempt classes",
            if model.exempt_industry_classes.is_empty() {
                none()
            } else {
                model.exempt_industry_classes.join(", ")
            },
        ),
    ]);
    out.push_str("\nfull model\n");
    out.push_str(&indicators_table(&model.indicators));
    if let Some(reduced) = &model.reduced_model {
        out.push_str(&format!(
            "\nreduced model (revenue below {} yuan)\n",
            hundredths(reduced.revenue_threshold_fen)
        ));
        out.push_str(&indicators_table(&reduced.indicators));
    }
    if !model.exempt_enterprises.is_empty() {
        out.push_str("\nexempt enterprises\n");
        let mut table = Table::new(&["USCC", "REASON"]);
        for e in &model.exempt_enterprises {
            table.row(vec![e.uscc.clone(), e.reason.clone()]);
        }
        out.push_str(&table.render());
    }
    out
}

fn render_stored(model: &pb::Model, expected_version: i64) -> String {
    format!(
        "model version {} stored (it follows version {expected_version}); the classification is being re-run with it\n",
        model.version
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> pb::Model {
        let item = |indicator: pb::Indicator, weight: f64| pb::ModelIndicator {
            indicator: indicator as i32,
            weight,
            cap: 1.5,
        };
        pb::Model {
            version: 3,
            indicators: vec![
                item(pb::Indicator::TaxPerMu, 30.0),
                item(pb::Indicator::RdIntensity, 15.0),
            ],
            quota_a_percent: 10.0,
            quota_b_percent: 30.0,
            deferral_years: 3,
            reduced_model: Some(pb::ReducedModel {
                revenue_threshold_fen: 2_000_000_000,
                indicators: vec![item(pb::Indicator::TaxPerEnergy, 40.0)],
            }),
            exempt_industry_classes: vec!["5139".into()],
            exempt_enterprises: vec![pb::Exemption {
                uscc: "91210381MA0Q12343L".into(),
                reason: "relocating".into(),
            }],
            created_at: Some(prost_types::Timestamp {
                seconds: 1_700_000_000,
                nanos: 0,
            }),
            created_by: "department:commerce".into(),
            note: "first".into(),
        }
    }

    #[test]
    fn what_model_get_prints_as_json_model_set_reads_back() {
        let text = serde_json::to_string(&model()).unwrap();
        let (parsed, version) = parse(&text).unwrap();
        assert_eq!(version, Some(3));
        let expected = pb::Model {
            version: 0,
            created_at: None,
            created_by: String::new(),
            ..model()
        };
        assert_eq!(parsed, expected);
    }

    #[test]
    fn a_hand_written_model_file_uses_short_names_in_any_case() {
        let (parsed, version) = parse(
            r#"{"indicators": [{"indicator": "tax_per_mu", "weight": 100, "cap": 2}],
                "quota_a_percent": 15, "quota_b_percent": 35, "deferral_years": 2}"#,
        )
        .unwrap();
        assert_eq!(version, None);
        assert_eq!(
            parsed.indicators[0].indicator,
            pb::Indicator::TaxPerMu as i32
        );
        assert_eq!(parsed.reduced_model, None);
    }

    #[test]
    fn mistakes_in_a_model_file_name_their_place() {
        let typo = parse(
            r#"{"indicators": [], "quota_a_percent": 10, "quota_b_percent": 30,
                "deferral_years": 3, "quota_c_percent": 60}"#,
        )
        .unwrap_err();
        assert!(typo.contains("unknown field `quota_c_percent`"), "{typo}");
        let bad = parse(
            r#"{"indicators": [{"indicator": "charm", "weight": 1, "cap": 1}],
                "quota_a_percent": 10, "quota_b_percent": 30, "deferral_years": 3}"#,
        )
        .unwrap_err();
        assert!(
            bad.starts_with("indicators[0].indicator: \"charm\""),
            "{bad}"
        );
    }

    #[test]
    fn the_model_reads_as_fields_and_tables() {
        let text = render_model(&model());
        assert!(text.starts_with("version         3\n"), "{text}");
        assert!(
            text.contains("quotas          A 10%, B 30%, C the rest\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "full model\nINDICATOR     WEIGHT  CAP\nTAX_PER_MU        30  1.5\nRD_INTENSITY      15  1.5\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("reduced model (revenue below 20,000,000.00 yuan)\n"),
            "{text}"
        );
        assert!(text.contains("91210381MA0Q12343L  relocating\n"), "{text}");
        assert_eq!(
            render_stored(
                &pb::Model {
                    version: 4,
                    ..model()
                },
                3
            ),
            "model version 4 stored (it follows version 3); the classification is being re-run with it\n"
        );
    }
}
