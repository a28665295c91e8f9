//! The platform's own types to and from the shared protobuf contract (`haicheng.common.v1`).
//!
//! Every service maps a department the same way, so the mapping lives here once (the
//! vocabulary's words map themselves: [`crate::vocab`]).

use haicheng_proto::common::v1 as common;

use crate::auth::Department;

impl Department {
    /// The contract's department.
    pub fn to_proto(self) -> common::Department {
        match self {
            Department::Commerce => common::Department::Commerce,
            Department::Finance => common::Department::Finance,
            Department::Tax => common::Department::Tax,
            Department::MarketSupervision => common::Department::MarketSupervision,
            Department::NaturalResources => common::Department::NaturalResources,
            Department::HumanResources => common::Department::HumanResources,
            Department::ParkCommittee => common::Department::ParkCommittee,
        }
    }

    /// The department for a contract value; `None` for unspecified or unknown numbers.
    pub fn from_proto(value: i32) -> Option<Self> {
        let department = match common::Department::try_from(value).ok()? {
            common::Department::Unspecified => return None,
            common::Department::Commerce => Department::Commerce,
            common::Department::Finance => Department::Finance,
            common::Department::Tax => Department::Tax,
            common::Department::MarketSupervision => Department::MarketSupervision,
            common::Department::NaturalResources => Department::NaturalResources,
            common::Department::HumanResources => Department::HumanResources,
            common::Department::ParkCommittee => Department::ParkCommittee,
        };
        Some(department)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_department_maps_to_the_contract_and_back() {
        for department in Department::ALL {
            assert_eq!(
                Department::from_proto(department.to_proto() as i32),
                Some(department)
            );
        }
    }

    #[test]
    fn unspecified_and_unknown_numbers_are_no_department() {
        assert_eq!(
            Department::from_proto(common::Department::Unspecified as i32),
            None
        );
        assert_eq!(Department::from_proto(99), None);
        assert_eq!(Department::from_proto(-1), None);
    }
}
