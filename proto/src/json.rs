//! JSON of the messages: the serializers `build.rs` names on the fields whose Rust type does
//! not say what they hold, and the hand-written `Serialize` of `Period`.
//!
//! Every message of ours derives `serde::Serialize` (see `build.rs`) and follows the protobuf
//! JSON mapping where it is a matter of names: fields by their JSON name (lowerCamelCase),
//! enumerations by their value name (`PARK_XILIU`, the number when this build does not know
//! it), timestamps as RFC 3339 strings in UTC with the sub-second digits they have. It departs
//! from the mapping in three places, each to keep what scripts already read: 64-bit integers
//! are JSON numbers (money in fen never exceeds 2^53), fields with default values are written
//! (an unset message field is `null`), and a `Period` is its code (`"2025Q3"`).

use std::collections::HashMap;

use prost_types::Timestamp;
use serde::{Serialize, Serializer, ser::SerializeMap};

use crate::{ProtoEnum, common::v1::Period};

/// An enumeration field: its value name, or the number when unknown.
pub(crate) fn enumeration<E: ProtoEnum, S: Serializer>(
    value: &i32,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    Named::<E>::new(*value).serialize(serializer)
}

/// A proto3 `optional` enumeration field: `null` when unset. (No contract has one yet;
/// `build.rs` names it when one does.)
#[allow(dead_code)]
pub(crate) fn optional_enumeration<E: ProtoEnum, S: Serializer>(
    value: &Option<i32>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    value.map(Named::<E>::new).serialize(serializer)
}

/// A repeated enumeration field. (No contract has one yet; `build.rs` names it when one does.)
#[allow(dead_code)]
pub(crate) fn enumerations<E: ProtoEnum, S: Serializer>(
    values: &[i32],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(values.iter().map(|v| Named::<E>::new(*v)))
}

/// A map with enumeration values, its keys in order (a `HashMap` has none of its own, and
/// the same message should print the same way twice).
pub(crate) fn enumeration_map<E: ProtoEnum, S: Serializer>(
    map: &HashMap<String, i32>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let mut entries: Vec<(&String, &i32)> = map.iter().collect();
    entries.sort();
    let mut out = serializer.serialize_map(Some(entries.len()))?;
    for (key, value) in entries {
        out.serialize_entry(key, &Named::<E>::new(*value))?;
    }
    out.end()
}

/// A `Timestamp` field: RFC 3339 in UTC (`2025-06-30T00:00:00.250Z`), `null` when unset or
/// out of range.
pub(crate) fn timestamp<S: Serializer>(
    value: &Option<Timestamp>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let time = value.as_ref().and_then(|t| {
        let nanos = u32::try_from(t.nanos).ok()?;
        chrono::DateTime::from_timestamp(t.seconds, nanos)
    });
    match time {
        Some(time) => {
            serializer.serialize_str(&time.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        }
        None => serializer.serialize_none(),
    }
}

/// A period is written as its code: `"2025"`, `"2025Q3"`.
impl Serialize for Period {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.code)
    }
}

/// An enumeration value as JSON.
struct Named<E> {
    value: i32,
    kind: std::marker::PhantomData<E>,
}

impl<E> Named<E> {
    fn new(value: i32) -> Self {
        Self {
            value,
            kind: std::marker::PhantomData,
        }
    }
}

impl<E: ProtoEnum> Serialize for Named<E> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match E::from_value(self.value) {
            Some(known) => serializer.serialize_str(known.proto_name()),
            None => serializer.serialize_i32(self.value),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::{census::v1 as census, common::v1 as common, land::v1 as land};

    use super::*;

    fn to_json(value: &impl Serialize) -> Value {
        serde_json::to_value(value).expect("serializes")
    }

    #[test]
    fn fields_take_their_json_names_and_enumerations_their_value_names() {
        let enterprise = census::Enterprise {
            uscc: "91210381MA0Q12343L".into(),
            park: common::Park::Xiliu as i32,
            segment: common::Segment::LuggageLeather as i32,
            size: 42,
            version: 3,
            ..Default::default()
        };
        let value = to_json(&enterprise);
        assert_eq!(value["uscc"], "91210381MA0Q12343L");
        assert_eq!(value["legalRepresentative"], "");
        assert_eq!(value["park"], "PARK_XILIU");
        assert_eq!(value["segment"], "SEGMENT_LUGGAGE_LEATHER");
        assert_eq!(value["size"], 42, "an unknown value stays a number");
        assert_eq!(value["status"], "ENTERPRISE_STATUS_UNSPECIFIED");
        assert_eq!(value["version"], 3, "64-bit integers are numbers");
        assert_eq!(value["createdAt"], Value::Null);
        assert!(value.get("legal_representative").is_none());
    }

    #[test]
    fn times_are_rfc3339_periods_their_code_and_maps_in_key_order() {
        let census_return = census::CensusReturn {
            period: Some(common::Period {
                code: "2025Q3".into(),
            }),
            submitted_at: Some(Timestamp {
                seconds: 1_751_241_600,
                nanos: 250_000_000,
            }),
            sources: Some(census::FigureSources {
                by_indicator: [
                    ("tax_paid_fen", common::FigureSource::Tax),
                    ("employees_total", common::FigureSource::Statistics),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v as i32))
                .collect(),
            }),
            ..Default::default()
        };
        let text = serde_json::to_string(&census_return).expect("serializes");
        assert!(
            text.contains(r#""byIndicator":{"employees_total":"FIGURE_SOURCE_STATISTICS","tax_paid_fen":"FIGURE_SOURCE_TAX"}"#),
            "{text}"
        );
        let value = to_json(&census_return);
        assert_eq!(value["period"], "2025Q3");
        assert_eq!(value["submittedAt"], "2025-06-30T00:00:00.250Z");
        assert_eq!(value["indicators"], Value::Null);
    }

    #[test]
    fn optional_scalars_are_null_when_unset() {
        let commitments = land::Commitments {
            plot_ratio_milli: 1_200,
            energy_tce_per_wan_yuan: None,
            ..Default::default()
        };
        assert_eq!(
            to_json(&commitments),
            json!({
                "investmentFenPerMu": 0,
                "outputFenPerMu": 0,
                "taxFenPerMu": 0,
                "plotRatioMilli": 1200,
                "energyTcePerWanYuan": null,
            })
        );
    }
}
