//! Protobuf enumerations as people type and read them.
//!
//! On the command line a value is named without its prefix and in any case (`xiliu`,
//! `XILIU`, `PARK_XILIU`, `luggage-leather`); tables show the short upper-case name (`XILIU`);
//! JSON carries the full proto name (`PARK_XILIU`), as the proto3 JSON mapping does, so
//! scripts can match it against the `.proto` files (that is the generated serde of
//! `haicheng_proto`). The names come from [`ProtoEnum`], which `haicheng_proto` implements
//! for every enumeration.

pub use haicheng_proto::ProtoEnum;

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

#[cfg(test)]
mod tests {
    use haicheng_proto::{census::v1 as census, common::v1 as common, policy::v1 as policy};
    use serde_json::Value;

    use super::*;

    /// A park as the JSON of a message carries it.
    fn park_json(park: i32) -> Value {
        let enterprise = census::Enterprise {
            park,
            ..Default::default()
        };
        serde_json::to_value(enterprise).expect("serializes")["park"].clone()
    }

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
        assert_eq!(park_json(1), Value::from("PARK_XILIU"));
        assert_eq!(park_json(0), Value::from("PARK_UNSPECIFIED"));
        assert_eq!(park_json(42), Value::from(42));
    }
}
