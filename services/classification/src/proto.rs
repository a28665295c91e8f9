//! The domain's own enumerations as the contract's numbers (the shared [`Class`] maps
//! itself, in `platform::vocab`), both ways: the API, the events and
//! the stored columns that hold the contract's numbers convert here, so the domain itself
//! knows no protobuf types.

use haicheng_proto::{classification::v1 as pb, common::v1 as common};

use platform::Park;

use crate::domain::{Class, Grading, Indicator, Segment};

/// The protobuf value of an optional class (none = unspecified).
pub fn class_to_proto(class: Option<Class>) -> i32 {
    class.map_or(common::EnterpriseClass::Unspecified as i32, |class| {
        class.to_proto() as i32
    })
}

impl Grading {
    pub fn to_proto(self) -> i32 {
        match self {
            Grading::NotEvaluated => pb::Grading::Unspecified as i32,
            Grading::Graded => pb::Grading::Graded as i32,
            Grading::Deferred => pb::Grading::Deferred as i32,
            Grading::Exempt => pb::Grading::Exempt as i32,
        }
    }

    pub fn from_proto(value: i32) -> Grading {
        match pb::Grading::try_from(value) {
            Ok(pb::Grading::Graded) => Grading::Graded,
            Ok(pb::Grading::Deferred) => Grading::Deferred,
            Ok(pb::Grading::Exempt) => Grading::Exempt,
            _ => Grading::NotEvaluated,
        }
    }
}

impl Indicator {
    pub fn to_proto(self) -> i32 {
        (match self {
            Indicator::TaxPerMu => pb::Indicator::TaxPerMu,
            Indicator::OutputPerMu => pb::Indicator::OutputPerMu,
            Indicator::OutputPerEnergy => pb::Indicator::OutputPerEnergy,
            Indicator::RdIntensity => pb::Indicator::RdIntensity,
            Indicator::LabourProductivity => pb::Indicator::LabourProductivity,
            Indicator::PatentsPer100Employees => pb::Indicator::PatentsPer100Employees,
            Indicator::AutomationShare => pb::Indicator::AutomationShare,
            Indicator::ExportShare => pb::Indicator::ExportShare,
            Indicator::TaxPerEnergy => pb::Indicator::TaxPerEnergy,
        }) as i32
    }

    /// `None` for unspecified or an unknown number.
    pub fn from_proto(value: i32) -> Option<Indicator> {
        Some(match pb::Indicator::try_from(value).ok()? {
            pb::Indicator::Unspecified => return None,
            pb::Indicator::TaxPerMu => Indicator::TaxPerMu,
            pb::Indicator::OutputPerMu => Indicator::OutputPerMu,
            pb::Indicator::OutputPerEnergy => Indicator::OutputPerEnergy,
            pb::Indicator::RdIntensity => Indicator::RdIntensity,
            pb::Indicator::LabourProductivity => Indicator::LabourProductivity,
            pb::Indicator::PatentsPer100Employees => Indicator::PatentsPer100Employees,
            pb::Indicator::AutomationShare => Indicator::AutomationShare,
            pb::Indicator::ExportShare => Indicator::ExportShare,
            pb::Indicator::TaxPerEnergy => Indicator::TaxPerEnergy,
        })
    }
}

/// The protobuf value of an optional park (none, stored NULL = unspecified).
pub fn park_to_proto(park: Option<Park>) -> i32 {
    park.map_or(common::Park::Unspecified as i32, |park| {
        park.to_proto() as i32
    })
}

/// The protobuf value of an optional segment (none, stored NULL = unspecified); also the
/// listing's order (`segment_number` in SQL).
pub fn segment_to_proto(segment: Option<Segment>) -> i32 {
    segment.map_or(common::Segment::Unspecified as i32, |segment| {
        segment.to_proto() as i32
    })
}
