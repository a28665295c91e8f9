//! The one set of field parsers: each reads one field of a request, records a violation
//! naming the field when the value is bad, and hands back the parsed value (or `None`). The
//! argument order is always `(field, value)`. A handler reads every field, then calls
//! [`Violations::finish`], so the caller learns of every bad field at once.

use uuid::Uuid;

use crate::{
    Violations,
    period::Period,
    uscc::Uscc,
    vocab::{Class, Park, Segment},
};

/// A vocabulary word that arrives as a protobuf enum number.
pub trait Word: Sized + Copy {
    /// What a bad value is told it should be ("one of the four parks").
    const EXPECTED: &'static str;
    fn from_proto(number: i32) -> Option<Self>;
}

impl Word for Park {
    const EXPECTED: &'static str = "one of the four parks is required";
    fn from_proto(number: i32) -> Option<Self> {
        Park::from_proto(number)
    }
}

impl Word for Segment {
    const EXPECTED: &'static str = "a segment is required";
    fn from_proto(number: i32) -> Option<Self> {
        Segment::from_proto(number)
    }
}

impl Word for Class {
    const EXPECTED: &'static str = "a class (A, B or C) is required";
    fn from_proto(number: i32) -> Option<Self> {
        Class::from_proto(number)
    }
}

impl Violations {
    /// A USCC, checked in full (GB 32100).
    pub fn uscc(&mut self, field: &str, code: &str) -> Option<Uscc> {
        Uscc::parse(code)
            .map_err(|err| self.add(field, err.to_string()))
            .ok()
    }

    /// A UUID in its text form.
    pub fn uuid(&mut self, field: &str, text: &str) -> Option<Uuid> {
        if text.is_empty() {
            self.add(field, "is required: a UUID");
            return None;
        }
        Uuid::parse_str(text)
            .map_err(|_| self.add(field, format!("{text:?} is not a UUID")))
            .ok()
    }

    /// A required census period code (`YYYY` or `YYYYQn`).
    pub fn period(&mut self, field: &str, code: &str) -> Option<Period> {
        Period::parse(code)
            .map_err(|err| self.add(field, err.to_string()))
            .ok()
    }

    /// An optional census period: empty is `None` without a violation.
    pub fn optional_period(&mut self, field: &str, code: &str) -> Option<Period> {
        if code.is_empty() {
            None
        } else {
            self.period(field, code)
        }
    }

    /// A required vocabulary word ([`Park`], [`Segment`], [`Class`]) from its protobuf number.
    pub fn word<W: Word>(&mut self, field: &str, number: i32) -> Option<W> {
        let word = W::from_proto(number);
        if word.is_none() {
            self.add(field, W::EXPECTED);
        }
        word
    }

    /// An optional vocabulary word: 0 (UNSPECIFIED) is `None` without a violation.
    pub fn optional_word<W: Word>(&mut self, field: &str, number: i32) -> Option<W> {
        if number == 0 {
            None
        } else {
            self.word(field, number)
        }
    }

    /// A required protobuf enum of a service's own contract: 0 (UNSPECIFIED) and numbers this
    /// build does not know are violations.
    pub fn required_enum<E: TryFrom<i32>>(&mut self, field: &str, number: i32) -> Option<E> {
        match E::try_from(number) {
            Ok(value) if number != 0 => Some(value),
            _ if number == 0 => {
                self.add(field, "is required");
                None
            }
            _ => {
                self.add(field, format!("{number} is not a known value"));
                None
            }
        }
    }

    /// A required text of at most `max_chars` characters, not blank.
    pub fn text(&mut self, field: &str, text: &str, max_chars: usize) -> Option<String> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            self.add(field, "is required");
            None
        } else if trimmed.chars().count() > max_chars {
            self.add(field, format!("is longer than {max_chars} characters"));
            None
        } else {
            Some(trimmed.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use haicheng_proto::common::v1 as proto;

    #[test]
    fn each_parser_names_its_field_and_returns_none_on_a_bad_value() {
        let mut v = Violations::new();
        assert!(v.uscc("holder_uscc", "91210381").is_none());
        assert!(v.uuid("parcel_id", "not-a-uuid").is_none());
        assert!(v.uuid("grant_id", "").is_none());
        assert!(v.period("period", "2024Q5").is_none());
        assert!(v.word::<Park>("park", 0).is_none());
        assert!(v.word::<Segment>("segment", 42).is_none());
        assert!(
            v.required_enum::<proto::Department>("department", 0)
                .is_none()
        );
        assert!(
            v.required_enum::<proto::Department>("department", 99)
                .is_none()
        );
        assert!(v.text("reason", "   ", 10).is_none());
        assert!(v.text("reason", "elevenchars", 10).is_none());
        let fields: Vec<_> = v.as_slice().iter().map(|x| x.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "holder_uscc",
                "parcel_id",
                "grant_id",
                "period",
                "park",
                "segment",
                "department",
                "department",
                "reason",
                "reason"
            ]
        );
    }

    #[test]
    fn good_values_parse_without_a_violation() {
        let mut v = Violations::new();
        let id = Uuid::now_v7();
        assert_eq!(v.uuid("id", &id.to_string()), Some(id));
        assert_eq!(
            v.period("period", "2024").map(|p| p.to_string()),
            Some("2024".into())
        );
        assert_eq!(v.optional_period("period", ""), None);
        assert_eq!(
            v.word::<Park>("park", proto::Park::Nantai as i32),
            Some(Park::Nantai)
        );
        assert_eq!(v.optional_word::<Class>("class", 0), None);
        assert_eq!(
            v.required_enum::<proto::Department>("department", proto::Department::Tax as i32),
            Some(proto::Department::Tax)
        );
        assert_eq!(v.text("reason", "  late  ", 10).as_deref(), Some("late"));
        assert!(v.is_empty());
    }
}
