//! The words two or more services share, each defined once with one stored spelling and one
//! protobuf mapping: [`Park`], [`Segment`], [`Class`].
//!
//! The stored spelling is the protobuf value name without its prefix (`PARK_XILIU` is stored
//! `XILIU`, `ENTERPRISE_CLASS_A` is stored `A`), so a database row, a log line, an event and
//! the CLI all read the same. Names come from `strum`; [`stored_word!`] adds what every word
//! needs besides: `ALL`, `as_str`/`parse`, PostgreSQL `text` encoding, and the protobuf
//! number both ways (0, the UNSPECIFIED value, maps to no word).

mod class;
mod park;
mod segment;

/// Departments are a word of the vocabulary too; they are defined with the principals that
/// act for them.
pub use crate::auth::Department;
pub use class::Class;
pub use park::Park;
pub use segment::Segment;

/// Implements the shared parts of a vocabulary word `$word` (a `Copy` enum deriving strum's
/// `IntoStaticStr`, `EnumString` and `EnumIter`) mapped to the protobuf enum `$proto`,
/// variant by variant.
macro_rules! stored_word {
    ($word:ident, $proto:ty, { $($variant:ident => $proto_variant:ident),+ $(,)? }) => {
        impl $word {
            /// Every value, in declaration order.
            pub const ALL: [$word; [$(stringify!($variant)),+].len()] = [$($word::$variant),+];

            /// The stored spelling (also the CLI's and the logs').
            pub fn as_str(self) -> &'static str {
                self.into()
            }

            /// The value whose stored spelling is exactly `name`.
            pub fn parse(name: &str) -> Option<Self> {
                name.parse().ok()
            }

            /// The contract's value (`as i32` for a message field).
            pub fn to_proto(self) -> $proto {
                <$proto>::from(self)
            }

            /// The value of a protobuf number; `None` for 0 (UNSPECIFIED) and unknown numbers.
            pub fn from_proto(number: i32) -> Option<Self> {
                match <$proto>::try_from(number) {
                    $(Ok(<$proto>::$proto_variant) => Some($word::$variant),)+
                    _ => None,
                }
            }
        }

        impl From<$word> for $proto {
            fn from(word: $word) -> Self {
                match word {
                    $($word::$variant => <$proto>::$proto_variant,)+
                }
            }
        }

        impl std::fmt::Display for $word {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl sqlx::Type<sqlx::Postgres> for $word {
            fn type_info() -> sqlx::postgres::PgTypeInfo {
                <&str as sqlx::Type<sqlx::Postgres>>::type_info()
            }

            fn compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
                <&str as sqlx::Type<sqlx::Postgres>>::compatible(ty)
            }
        }

        impl sqlx::Encode<'_, sqlx::Postgres> for $word {
            fn encode_by_ref(
                &self,
                buf: &mut sqlx::postgres::PgArgumentBuffer,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <&str as sqlx::Encode<sqlx::Postgres>>::encode_by_ref(&self.as_str(), buf)
            }
        }

        impl sqlx::Decode<'_, sqlx::Postgres> for $word {
            fn decode(value: sqlx::postgres::PgValueRef<'_>) -> Result<Self, sqlx::error::BoxDynError> {
                let name = <&str as sqlx::Decode<sqlx::Postgres>>::decode(value)?;
                Self::parse(name).ok_or_else(|| {
                    format!("{name:?} is not a stored {}", stringify!($word)).into()
                })
            }
        }
    };
}
use stored_word;

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trips<W: Copy + PartialEq + std::fmt::Debug>(
        all: &[W],
        as_str: fn(W) -> &'static str,
        parse: fn(&str) -> Option<W>,
        to_proto: fn(W) -> i32,
        from_proto: fn(i32) -> Option<W>,
    ) {
        for &word in all {
            assert_eq!(parse(as_str(word)), Some(word));
            assert_eq!(from_proto(to_proto(word)), Some(word));
            assert_ne!(to_proto(word), 0, "{word:?} must not be UNSPECIFIED");
        }
        assert_eq!(from_proto(0), None);
        assert_eq!(from_proto(99), None);
    }

    #[test]
    fn every_word_round_trips_through_its_spelling_and_its_number() {
        round_trips(
            &Park::ALL,
            Park::as_str,
            Park::parse,
            |p| p.to_proto() as i32,
            Park::from_proto,
        );
        round_trips(
            &Segment::ALL,
            Segment::as_str,
            Segment::parse,
            |s| s.to_proto() as i32,
            Segment::from_proto,
        );
        round_trips(
            &Class::ALL,
            Class::as_str,
            Class::parse,
            |c| c.to_proto() as i32,
            Class::from_proto,
        );
    }

    #[test]
    fn the_stored_spelling_is_the_protobuf_name_without_its_prefix() {
        assert_eq!(Park::Xiliu.as_str(), "XILIU");
        assert_eq!(Segment::LuggageLeather.as_str(), "LUGGAGE_LEATHER");
        assert_eq!(Class::A.as_str(), "A");
        assert_eq!(Park::parse("xiliu"), None, "one spelling, no case folding");
        assert_eq!(Segment::parse("textile"), None);
    }
}
