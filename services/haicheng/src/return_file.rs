//! The census return file of `haicheng census submit --file return.json`: the figures of one
//! return as JSON, field names as in `CensusIndicators` of the census proto.
//!
//! ```json
//! {
//!   "indicators": {
//!     "employees_total": 120, "production_staff": 80, "rd_technical_staff": 12,
//!     "management_sales_staff": 28, "college_educated_staff": 30,
//!     "rd_spend_fen": 150000000, "revenue_fen": 4800000000,
//!     "industrial_output_fen": 4500000000, "tax_paid_fen": 210000000,
//!     "export_sales_fen": 900000000, "equipment_value_fen": 1200000000,
//!     "automation_share_percent": 42.5, "equipment_level": "DOMESTIC_ADVANCED",
//!     "invention_patents": 2, "utility_model_patents": 7, "design_patents": 15,
//!     "land_used_centi_mu": 3120, "energy_use_tce": 640,
//!     "rd_exceeds_revenue_flag": false
//!   },
//!   "sources": { "tax_paid_fen": "TAX", "land_used_centi_mu": "LAND_REGISTRY" }
//! }
//! ```
//!
//! Every indicator is required except `equipment_level` (not reported when left out),
//! `energy_use_tce` (unknown) and `rd_exceeds_revenue_flag` (false). Money is whole fen, land
//! hundredths of a mu. `sources` is optional: an indicator not named is self-reported; a
//! source is `TAX`, `STATISTICS`, `LAND_REGISTRY` or `SELF_REPORTED` (any case, the
//! `FIGURE_SOURCE_` prefix allowed). A key not listed here is refused, so a misspelt figure is
//! never silently dropped. A figure may also be named by its JSON name (`employeesTotal`), and
//! `sources` may be the `FigureSources` message (`{"byIndicator": {…}}`): the `indicators`
//! and `sources` of a return printed by `haicheng enterprise show -o json` are in that form,
//! so a return can be copied, corrected and submitted again.

use std::collections::BTreeMap;

use haicheng_proto::{census::v1 as pb, common::v1 as common};
use serde::Deserialize;

use crate::enums;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReturnFile {
    indicators: Indicators,
    #[serde(default)]
    sources: Sources,
}

/// The sources: indicator → source, or the `FigureSources` message as
/// `haicheng enterprise show -o json` prints it (`{"byIndicator": {…}}`).
#[derive(Deserialize)]
#[serde(untagged)]
enum Sources {
    Message {
        #[serde(rename = "byIndicator", alias = "by_indicator")]
        by_indicator: BTreeMap<String, String>,
    },
    Flat(BTreeMap<String, String>),
}

impl Default for Sources {
    fn default() -> Self {
        Self::Flat(BTreeMap::new())
    }
}

impl Sources {
    fn into_map(self) -> BTreeMap<String, String> {
        match self {
            Self::Message { by_indicator } | Self::Flat(by_indicator) => by_indicator,
        }
    }
}

/// `CensusIndicators`, with the required figures required; each figure by its proto name or
/// its JSON name (`employees_total` or `employeesTotal`), as protobuf JSON parsers accept.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Indicators {
    #[serde(alias = "employeesTotal")]
    employees_total: i64,
    #[serde(alias = "productionStaff")]
    production_staff: i64,
    #[serde(alias = "rdTechnicalStaff")]
    rd_technical_staff: i64,
    #[serde(alias = "managementSalesStaff")]
    management_sales_staff: i64,
    #[serde(alias = "collegeEducatedStaff")]
    college_educated_staff: i64,
    #[serde(alias = "rdSpendFen")]
    rd_spend_fen: i64,
    #[serde(alias = "revenueFen")]
    revenue_fen: i64,
    #[serde(alias = "industrialOutputFen")]
    industrial_output_fen: i64,
    #[serde(alias = "taxPaidFen")]
    tax_paid_fen: i64,
    #[serde(alias = "exportSalesFen")]
    export_sales_fen: i64,
    #[serde(alias = "equipmentValueFen")]
    equipment_value_fen: i64,
    #[serde(alias = "automationSharePercent")]
    automation_share_percent: f64,
    #[serde(default)]
    #[serde(alias = "equipmentLevel")]
    equipment_level: Option<String>,
    #[serde(alias = "inventionPatents")]
    invention_patents: i64,
    #[serde(alias = "utilityModelPatents")]
    utility_model_patents: i64,
    #[serde(alias = "designPatents")]
    design_patents: i64,
    #[serde(alias = "landUsedCentiMu")]
    land_used_centi_mu: i64,
    #[serde(default)]
    #[serde(alias = "energyUseTce")]
    energy_use_tce: Option<f64>,
    #[serde(default)]
    #[serde(alias = "rdExceedsRevenueFlag")]
    rd_exceeds_revenue_flag: bool,
}

/// The figures and their sources, or why the file cannot be sent.
pub fn parse(text: &str) -> Result<(pb::CensusIndicators, pb::FigureSources), String> {
    let file: ReturnFile = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let i = file.indicators;
    let equipment_level = match i.equipment_level.as_deref().map(str::trim) {
        None | Some("") => pb::EquipmentLevel::Unspecified,
        Some(text) if is_unspecified(text) => pb::EquipmentLevel::Unspecified,
        Some(text) => enums::parse::<pb::EquipmentLevel>(text)
            .map_err(|e| format!("indicators.equipment_level: {e}"))?,
    };
    let mut by_indicator = std::collections::HashMap::new();
    for (indicator, source) in file.sources.into_map() {
        let source = enums::parse::<common::FigureSource>(&source)
            .map_err(|e| format!("sources.{indicator}: {e}"))?;
        by_indicator.insert(indicator, source as i32);
    }
    let indicators = pb::CensusIndicators {
        employees_total: i.employees_total,
        production_staff: i.production_staff,
        rd_technical_staff: i.rd_technical_staff,
        management_sales_staff: i.management_sales_staff,
        college_educated_staff: i.college_educated_staff,
        rd_spend_fen: i.rd_spend_fen,
        revenue_fen: i.revenue_fen,
        industrial_output_fen: i.industrial_output_fen,
        tax_paid_fen: i.tax_paid_fen,
        export_sales_fen: i.export_sales_fen,
        equipment_value_fen: i.equipment_value_fen,
        automation_share_percent: i.automation_share_percent,
        equipment_level: equipment_level as i32,
        invention_patents: i.invention_patents,
        utility_model_patents: i.utility_model_patents,
        design_patents: i.design_patents,
        land_used_centi_mu: i.land_used_centi_mu,
        energy_use_tce: i.energy_use_tce,
        rd_exceeds_revenue_flag: i.rd_exceeds_revenue_flag,
    };
    Ok((indicators, pb::FigureSources { by_indicator }))
}

/// `UNSPECIFIED` as `enterprise show -o json` prints an unreported level.
fn is_unspecified(text: &str) -> bool {
    let upper = text.to_ascii_uppercase();
    upper == "UNSPECIFIED" || upper == pb::EquipmentLevel::Unspecified.as_str_name()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = r#"{
      "indicators": {
        "employees_total": 120, "production_staff": 80, "rd_technical_staff": 12,
        "management_sales_staff": 28, "college_educated_staff": 30,
        "rd_spend_fen": 150000000, "revenue_fen": 4800000000,
        "industrial_output_fen": 4500000000, "tax_paid_fen": 210000000,
        "export_sales_fen": 900000000, "equipment_value_fen": 1200000000,
        "automation_share_percent": 42.5, "equipment_level": "domestic_advanced",
        "invention_patents": 2, "utility_model_patents": 7, "design_patents": 15,
        "land_used_centi_mu": 3120, "energy_use_tce": 640
      },
      "sources": { "tax_paid_fen": "TAX", "land_used_centi_mu": "FIGURE_SOURCE_LAND_REGISTRY" }
    }"#;

    #[test]
    fn a_full_return_file_becomes_the_request_figures() {
        let (indicators, sources) = parse(FULL).unwrap();
        assert_eq!(indicators.employees_total, 120);
        assert_eq!(indicators.revenue_fen, 4_800_000_000);
        assert_eq!(indicators.automation_share_percent, 42.5);
        assert_eq!(
            indicators.equipment_level,
            pb::EquipmentLevel::DomesticAdvanced as i32
        );
        assert_eq!(indicators.energy_use_tce, Some(640.0));
        assert!(!indicators.rd_exceeds_revenue_flag);
        assert_eq!(
            sources.by_indicator["land_used_centi_mu"],
            common::FigureSource::LandRegistry as i32
        );
    }

    #[test]
    fn a_missing_or_misspelt_figure_is_refused() {
        let missing = FULL.replace(r#""design_patents": 15,"#, "");
        assert!(parse(&missing).unwrap_err().contains("design_patents"));
        let misspelt = FULL.replace("tax_paid_fen\": 210000000", "tax_payed_fen\": 210000000");
        assert!(parse(&misspelt).unwrap_err().contains("tax_payed_fen"));
        let fraction = FULL.replace("\"employees_total\": 120", "\"employees_total\": 1.5");
        assert!(parse(&fraction).is_err());
    }

    #[test]
    fn bad_enumerations_name_their_field() {
        let level = FULL.replace("domestic_advanced", "shiny");
        assert!(
            parse(&level)
                .unwrap_err()
                .starts_with("indicators.equipment_level: \"shiny\" is not one of")
        );
        let source = FULL.replace("\"TAX\"", "\"gossip\"");
        assert!(
            parse(&source)
                .unwrap_err()
                .starts_with("sources.tax_paid_fen:")
        );
        let unreported = FULL.replace("domestic_advanced", "EQUIPMENT_LEVEL_UNSPECIFIED");
        assert_eq!(parse(&unreported).unwrap().0.equipment_level, 0);
    }
}
