//! Protobuf enumerations as people type and read them.
//!
//! On the command line a value is named without its prefix and in any case (`xiliu`,
//! `XILIU`, `PARK_XILIU`, `luggage-leather`); tables show the short upper-case name (`XILIU`);
//! JSON carries the full proto name (`PARK_XILIU`), as the proto3 JSON mapping does, so
//! scripts can match it against the `.proto` files.

use haicheng_proto::{
    census::v1 as census, classification::v1 as classification, common::v1 as common,
    fair::v1 as fair, land::v1 as land, policy::v1 as policy,
};
use serde_json::Value;

/// A prost enumeration with the naming convention of our protos: every value name starts
/// with the enum's prefix, and 0 is `…_UNSPECIFIED`.
pub trait ProtoEnum: Copy + Send + Sync + 'static {
    /// The prefix every value name carries (`PARK_`).
    const PREFIX: &'static str;
    fn from_value(value: i32) -> Option<Self>;
    fn proto_name(self) -> &'static str;
    fn from_proto_name(name: &str) -> Option<Self>;
    fn value(self) -> i32;
}

macro_rules! proto_enums {
    ($($t:ty => $prefix:literal),* $(,)?) => {$(
        impl ProtoEnum for $t {
            const PREFIX: &'static str = $prefix;
            fn from_value(value: i32) -> Option<Self> {
                Self::try_from(value).ok()
            }
            fn proto_name(self) -> &'static str {
                self.as_str_name()
            }
            fn from_proto_name(name: &str) -> Option<Self> {
                Self::from_str_name(name)
            }
            fn value(self) -> i32 {
                self as i32
            }
        }
    )*};
}

proto_enums! {
    common::Park => "PARK_",
    common::Segment => "SEGMENT_",
    common::EnterpriseClass => "ENTERPRISE_CLASS_",
    common::Department => "DEPARTMENT_",
    common::FigureSource => "FIGURE_SOURCE_",
    census::EnterpriseSize => "ENTERPRISE_SIZE_",
    census::EnterpriseStatus => "ENTERPRISE_STATUS_",
    census::EquipmentLevel => "EQUIPMENT_LEVEL_",
    classification::Indicator => "INDICATOR_",
    classification::Grading => "GRADING_",
    classification::ObjectionState => "OBJECTION_STATE_",
    policy::NoticeState => "NOTICE_STATE_",
    land::LandUse => "LAND_USE_",
    land::ParcelStatus => "PARCEL_STATUS_",
    land::SupplyMode => "SUPPLY_MODE_",
    land::GrantStatus => "GRANT_STATUS_",
    land::CommitmentItem => "COMMITMENT_ITEM_",
    land::EvaluationOutcome => "EVALUATION_OUTCOME_",
    land::UnitStatus => "UNIT_STATUS_",
    land::ApplicationStatus => "APPLICATION_STATUS_",
    fair::FairKind => "FAIR_KIND_",
    fair::Market => "MARKET_",
    fair::BoothType => "BOOTH_TYPE_",
    fair::AllocationMode => "ALLOCATION_MODE_",
    fair::RegistrationStatus => "REGISTRATION_STATUS_",
    fair::InvitationStatus => "INVITATION_STATUS_",
}

/// A value as typed: any case, with or without the prefix, `-` for `_`. The unspecified
/// value is never a choice (leave the option out instead).
pub fn parse<T: ProtoEnum>(text: &str) -> Result<T, String> {
    let name = text.trim().to_ascii_uppercase().replace('-', "_");
    let full = if name.starts_with(T::PREFIX) {
        name
    } else {
        format!("{}{name}", T::PREFIX)
    };
    match T::from_proto_name(&full) {
        Some(value) if value.value() != 0 => Ok(value),
        _ => Err(format!(
            "{text:?} is not one of {}",
            choices::<T>().join(", ")
        )),
    }
}

/// The short names of the defined values, in their order (`XILIU`, `NANTAI`, …).
pub fn choices<T: ProtoEnum>() -> Vec<&'static str> {
    (1..)
        .map_while(T::from_value)
        .map(|v| short_name(v.proto_name(), T::PREFIX))
        .collect()
}

fn short_name(name: &'static str, prefix: &str) -> &'static str {
    name.strip_prefix(prefix).unwrap_or(name)
}

/// A field's value for a table: the short name, `-` when unspecified, the number when the
/// service sent a value this client does not know.
pub fn short<T: ProtoEnum>(value: i32) -> String {
    match T::from_value(value) {
        _ if value == 0 => "-".to_string(),
        Some(v) => short_name(v.proto_name(), T::PREFIX).to_string(),
        None => value.to_string(),
    }
}

/// A field's value for JSON: the full proto name, or the number when unknown.
pub fn json<T: ProtoEnum>(value: i32) -> Value {
    match T::from_value(value) {
        Some(v) => Value::from(v.proto_name()),
        None => Value::from(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_parse_in_any_case_with_or_without_their_prefix() {
        for text in ["xiliu", "XILIU", "Xiliu", "park_xiliu", " PARK_XILIU "] {
            assert_eq!(
                parse::<common::Park>(text),
                Ok(common::Park::Xiliu),
                "{text}"
            );
        }
        assert_eq!(
            parse::<common::Segment>("luggage-leather"),
            Ok(common::Segment::LuggageLeather)
        );
        assert_eq!(
            parse::<common::EnterpriseClass>("b"),
            Ok(common::EnterpriseClass::B)
        );
        assert_eq!(
            parse::<policy::NoticeState>("Overdue"),
            Ok(policy::NoticeState::Overdue)
        );
    }

    #[test]
    fn unknown_and_unspecified_values_are_refused_with_the_choices() {
        let err = parse::<common::Park>("dalian").unwrap_err();
        assert_eq!(
            err,
            "\"dalian\" is not one of XILIU, NANTAI, GANWANG, ZHONGXIAO"
        );
        assert!(parse::<common::Park>("unspecified").is_err());
    }

    #[test]
    fn tables_show_short_names_and_json_full_names() {
        assert_eq!(short::<common::Park>(1), "XILIU");
        assert_eq!(short::<common::Park>(0), "-");
        assert_eq!(short::<common::Park>(42), "42");
        assert_eq!(json::<common::Park>(1), Value::from("PARK_XILIU"));
        assert_eq!(json::<common::Park>(0), Value::from("PARK_UNSPECIFIED"));
        assert_eq!(json::<common::Park>(42), Value::from(42));
    }
}
