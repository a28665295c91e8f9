//! Protobuf ↔ domain. Enumerations the caller left unset or sent with a number the contract
//! does not define come out as `None` (or a violation), never as a guess.

use haicheng_proto::{census::v1 as pb, common::v1 as common};
use platform::Violations;
use platform::time::to_timestamp;

use crate::domain::{
    CensusReturn, Enterprise, EquipmentLevel, FigureSource, Group, Indicators, Park, RegistryInput,
    ReturnInput, Size, Sources, Status, Totals, Vetoes,
};

pub fn size(value: i32) -> Option<Size> {
    match pb::EnterpriseSize::try_from(value).ok()? {
        pb::EnterpriseSize::Unspecified => None,
        pb::EnterpriseSize::Large => Some(Size::Large),
        pb::EnterpriseSize::Medium => Some(Size::Medium),
        pb::EnterpriseSize::Small => Some(Size::Small),
        pb::EnterpriseSize::Micro => Some(Size::Micro),
    }
}

fn size_to_proto(size: Size) -> pb::EnterpriseSize {
    match size {
        Size::Large => pb::EnterpriseSize::Large,
        Size::Medium => pb::EnterpriseSize::Medium,
        Size::Small => pb::EnterpriseSize::Small,
        Size::Micro => pb::EnterpriseSize::Micro,
    }
}

pub fn status(value: i32) -> Option<Status> {
    match pb::EnterpriseStatus::try_from(value).ok()? {
        pb::EnterpriseStatus::Unspecified => None,
        pb::EnterpriseStatus::Active => Some(Status::Active),
        pb::EnterpriseStatus::Deregistered => Some(Status::Deregistered),
    }
}

fn status_to_proto(status: Status) -> pb::EnterpriseStatus {
    match status {
        Status::Active => pb::EnterpriseStatus::Active,
        Status::Deregistered => pb::EnterpriseStatus::Deregistered,
    }
}

fn equipment_level(value: i32) -> Option<EquipmentLevel> {
    Some(match pb::EquipmentLevel::try_from(value).ok()? {
        pb::EquipmentLevel::Unspecified => EquipmentLevel::NotReported,
        pb::EquipmentLevel::InternationalAdvanced => EquipmentLevel::InternationalAdvanced,
        pb::EquipmentLevel::DomesticAdvanced => EquipmentLevel::DomesticAdvanced,
        pb::EquipmentLevel::DomesticAverage => EquipmentLevel::DomesticAverage,
        pb::EquipmentLevel::Outdated => EquipmentLevel::Outdated,
    })
}

fn equipment_level_to_proto(level: EquipmentLevel) -> pb::EquipmentLevel {
    match level {
        EquipmentLevel::NotReported => pb::EquipmentLevel::Unspecified,
        EquipmentLevel::InternationalAdvanced => pb::EquipmentLevel::InternationalAdvanced,
        EquipmentLevel::DomesticAdvanced => pb::EquipmentLevel::DomesticAdvanced,
        EquipmentLevel::DomesticAverage => pb::EquipmentLevel::DomesticAverage,
        EquipmentLevel::Outdated => pb::EquipmentLevel::Outdated,
    }
}

/// A figure source; unset means self-reported, an undefined number is `None`.
fn figure_source(value: i32) -> Option<FigureSource> {
    Some(match common::FigureSource::try_from(value).ok()? {
        common::FigureSource::Unspecified | common::FigureSource::SelfReported => {
            FigureSource::SelfReported
        }
        common::FigureSource::Tax => FigureSource::Tax,
        common::FigureSource::Statistics => FigureSource::Statistics,
        common::FigureSource::LandRegistry => FigureSource::LandRegistry,
    })
}

fn figure_source_to_proto(source: FigureSource) -> common::FigureSource {
    match source {
        FigureSource::SelfReported => common::FigureSource::SelfReported,
        FigureSource::Tax => common::FigureSource::Tax,
        FigureSource::Statistics => common::FigureSource::Statistics,
        FigureSource::LandRegistry => common::FigureSource::LandRegistry,
    }
}

pub fn enterprise_to_proto(enterprise: &Enterprise) -> pb::Enterprise {
    let fields = &enterprise.fields;
    pb::Enterprise {
        uscc: enterprise.uscc.to_string(),
        name: fields.name.clone(),
        legal_representative: fields.legal_representative.clone(),
        park: fields.park.to_proto() as i32,
        industry_class: fields.industry_class.code().to_string(),
        segment: fields.industry_class.segment().to_proto() as i32,
        size: size_to_proto(fields.size) as i32,
        registration_date: fields.registration_date.format("%Y-%m-%d").to_string(),
        status: status_to_proto(enterprise.status) as i32,
        safety_violation: fields.vetoes.safety,
        environmental_violation: fields.vetoes.environmental,
        tax_credit_violation: fields.vetoes.tax_credit,
        version: enterprise.version,
        created_at: Some(to_timestamp(enterprise.created_at)),
        updated_at: Some(to_timestamp(enterprise.updated_at)),
        deregistration_reason: enterprise.deregistration_reason.clone().unwrap_or_default(),
    }
}

pub fn register_input(request: &pb::RegisterEnterpriseRequest) -> RegistryInput<'_> {
    RegistryInput {
        name: &request.name,
        legal_representative: &request.legal_representative,
        park: Park::from_proto(request.park),
        industry_class: &request.industry_class,
        size: size(request.size),
        registration_date: &request.registration_date,
        vetoes: Vetoes {
            safety: request.safety_violation,
            environmental: request.environmental_violation,
            tax_credit: request.tax_credit_violation,
        },
    }
}

pub fn update_input(request: &pb::UpdateEnterpriseRequest) -> RegistryInput<'_> {
    RegistryInput {
        name: &request.name,
        legal_representative: &request.legal_representative,
        park: Park::from_proto(request.park),
        industry_class: &request.industry_class,
        size: size(request.size),
        registration_date: &request.registration_date,
        vetoes: Vetoes {
            safety: request.safety_violation,
            environmental: request.environmental_violation,
            tax_credit: request.tax_credit_violation,
        },
    }
}

/// The figures of a message; an undefined equipment level is a violation.
pub fn indicators(message: &pb::CensusIndicators, violations: &mut Violations) -> Indicators {
    let equipment_level = equipment_level(message.equipment_level).unwrap_or_else(|| {
        violations.add(
            "indicators.equipment_level",
            format!("{} is not an equipment level", message.equipment_level),
        );
        EquipmentLevel::NotReported
    });
    Indicators {
        employees_total: message.employees_total,
        production_staff: message.production_staff,
        rd_technical_staff: message.rd_technical_staff,
        management_sales_staff: message.management_sales_staff,
        college_educated_staff: message.college_educated_staff,
        rd_spend_fen: message.rd_spend_fen,
        revenue_fen: message.revenue_fen,
        industrial_output_fen: message.industrial_output_fen,
        tax_paid_fen: message.tax_paid_fen,
        export_sales_fen: message.export_sales_fen,
        equipment_value_fen: message.equipment_value_fen,
        automation_share_percent: message.automation_share_percent,
        equipment_level,
        invention_patents: message.invention_patents,
        utility_model_patents: message.utility_model_patents,
        design_patents: message.design_patents,
        land_used_centi_mu: message.land_used_centi_mu,
        energy_use_tce: message.energy_use_tce,
        rd_exceeds_revenue_flag: message.rd_exceeds_revenue_flag,
    }
}

pub fn indicators_to_proto(indicators: &Indicators) -> pb::CensusIndicators {
    pb::CensusIndicators {
        employees_total: indicators.employees_total,
        production_staff: indicators.production_staff,
        rd_technical_staff: indicators.rd_technical_staff,
        management_sales_staff: indicators.management_sales_staff,
        college_educated_staff: indicators.college_educated_staff,
        rd_spend_fen: indicators.rd_spend_fen,
        revenue_fen: indicators.revenue_fen,
        industrial_output_fen: indicators.industrial_output_fen,
        tax_paid_fen: indicators.tax_paid_fen,
        export_sales_fen: indicators.export_sales_fen,
        equipment_value_fen: indicators.equipment_value_fen,
        automation_share_percent: indicators.automation_share_percent,
        equipment_level: equipment_level_to_proto(indicators.equipment_level) as i32,
        invention_patents: indicators.invention_patents,
        utility_model_patents: indicators.utility_model_patents,
        design_patents: indicators.design_patents,
        land_used_centi_mu: indicators.land_used_centi_mu,
        energy_use_tce: indicators.energy_use_tce,
        rd_exceeds_revenue_flag: indicators.rd_exceeds_revenue_flag,
    }
}

pub fn sources(message: Option<&pb::FigureSources>, violations: &mut Violations) -> Sources {
    let entries = message
        .into_iter()
        .flat_map(|m| m.by_indicator.iter())
        .map(|(name, source)| (name.as_str(), figure_source(*source)));
    Sources::check(entries, violations)
}

pub fn sources_to_proto(sources: &Sources) -> pb::FigureSources {
    pb::FigureSources {
        by_indicator: sources
            .entries()
            .map(|(name, source)| (name.to_string(), figure_source_to_proto(source) as i32))
            .collect(),
    }
}

/// The parts of a SubmitReturnRequest or an ImportReturnsRow, as a domain input.
pub struct ReturnMessage<'a> {
    pub client_request_id: &'a str,
    pub uscc: &'a str,
    pub period: Option<&'a common::Period>,
    pub indicators: Option<&'a pb::CensusIndicators>,
    pub sources: Option<&'a pb::FigureSources>,
}

impl<'a> ReturnMessage<'a> {
    pub fn of_request(request: &'a pb::SubmitReturnRequest) -> Self {
        Self {
            client_request_id: &request.client_request_id,
            uscc: &request.uscc,
            period: request.period.as_ref(),
            indicators: request.indicators.as_ref(),
            sources: request.sources.as_ref(),
        }
    }

    pub fn of_row(row: &'a pb::ImportReturnsRow) -> Self {
        Self {
            client_request_id: &row.client_request_id,
            uscc: &row.uscc,
            period: row.period.as_ref(),
            indicators: row.indicators.as_ref(),
            sources: row.sources.as_ref(),
        }
    }

    /// The domain input; violations of the conversion itself (undefined enumeration numbers)
    /// go to `violations` beside those the domain check will add.
    pub fn input(&self, violations: &mut Violations) -> ReturnInput<'a> {
        ReturnInput {
            client_request_id: self.client_request_id,
            uscc: self.uscc,
            period: self.period.map(|p| p.code.as_str()),
            indicators: self.indicators.map(|i| indicators(i, violations)),
            sources: sources(self.sources, violations),
        }
    }
}

pub fn return_to_proto(census_return: &CensusReturn) -> pb::CensusReturn {
    let content = &census_return.content;
    pb::CensusReturn {
        uscc: content.uscc.to_string(),
        period: Some(common::Period {
            code: content.period.code(),
        }),
        revision: census_return.revision,
        indicators: Some(indicators_to_proto(&content.indicators)),
        sources: Some(sources_to_proto(&content.sources)),
        submitted_at: Some(to_timestamp(census_return.submitted_at)),
        client_request_id: census_return.client_request_id.clone(),
        submitted_by: census_return.submitted_by.clone(),
    }
}

pub fn statistics_row(group: Option<Group>, totals: &Totals) -> pb::StatisticsRow {
    let (park, segment) = match group {
        Some(Group::Park(p)) => (p.to_proto(), common::Segment::Unspecified),
        Some(Group::Segment(s)) => (common::Park::Unspecified, s.to_proto()),
        None => (common::Park::Unspecified, common::Segment::Unspecified),
    };
    pb::StatisticsRow {
        park: park as i32,
        segment: segment as i32,
        enterprises: totals.enterprises,
        employees: totals.employees,
        rd_spend_fen: totals.rd_spend_fen,
        patents: totals.patents,
        output_fen: totals.output_fen,
        tax_fen: totals.tax_fen,
        export_fen: totals.export_fen,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undefined_enumeration_numbers_are_none_not_a_guess() {
        assert_eq!(Park::from_proto(0), None);
        assert_eq!(Park::from_proto(99), None);
        assert_eq!(Park::from_proto(2), Some(Park::Nantai));
        assert_eq!(size(-1), None);
        assert_eq!(status(2), Some(Status::Deregistered));
        assert_eq!(figure_source(0), Some(FigureSource::SelfReported));
        assert_eq!(figure_source(42), None);
        let mut violations = Violations::new();
        indicators(
            &pb::CensusIndicators {
                equipment_level: 17,
                ..Default::default()
            },
            &mut violations,
        );
        assert_eq!(violations.as_slice()[0].field, "indicators.equipment_level");
    }
}
