//! Unified Social Credit Code (统一社会信用代码, GB 32100-2015): the enterprise's key everywhere.
//!
//! Eighteen characters from a 31-character alphabet: the registering authority (position 1),
//! the entity type (2), the division code of the authority (3–8), the organisation code
//! (9–17, itself carrying a GB 11714 check character at 17), and the GB 32100 check
//! character (18). [`Uscc::parse`] checks all of it; a code with any one character changed
//! fails, because every weight of the mod-31 check is prime to 31.
//!
//! It lives in the platform because every service takes USCCs as input and the demo data
//! generator makes them.

use std::fmt;

/// The GB 32100 alphabet: digits and upper-case letters without I, O, S, V and Z.
pub const ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

/// Weights of positions 1–17 in the GB 32100 check: 3^(i-1) mod 31.
const WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

/// Weights of the first eight characters of the organisation code in the GB 11714 check.
const ORG_WEIGHTS: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];

/// A code that passed every check; the only way to get one is [`Uscc::parse`] (or
/// [`Uscc::complete`], which computes the check characters).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Uscc(String);

/// Why a string is not a USCC; the message is what the caller reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsccError {
    #[error("must be 18 characters, found {0}")]
    Length(usize),
    #[error(
        "position {position}: {found:?} is not in the GB 32100 alphabet (digits and capitals without I, O, S, V, Z)"
    )]
    Character { position: usize, found: char },
    #[error("position 1: {0:?} is not a registering authority code")]
    Authority(char),
    #[error("position 2: {entity:?} is not an entity type of registering authority {authority:?}")]
    EntityType { authority: char, entity: char },
    #[error("positions 3-8: the division code {0:?} must be six digits")]
    Division(String),
    #[error(
        "position 17: organisation-code check character should be {expected:?}, found {found:?}"
    )]
    OrganisationCheck { expected: char, found: char },
    #[error("position 18: check character should be {expected:?}, found {found:?}")]
    Check { expected: char, found: char },
}

impl Uscc {
    /// Checks `code` exactly as given: no trimming, no case folding (a lower-case letter is
    /// a changed character).
    pub fn parse(code: &str) -> Result<Self, UsccError> {
        let chars: Vec<char> = code.chars().collect();
        if chars.len() != 18 {
            return Err(UsccError::Length(chars.len()));
        }
        let mut values = [0u32; 18];
        for (i, c) in chars.iter().enumerate() {
            values[i] = value_of(*c).ok_or(UsccError::Character {
                position: i + 1,
                found: *c,
            })?;
        }
        check_entity_type(chars[0], chars[1])?;
        let division: String = chars[2..8].iter().collect();
        if !division.chars().all(|c| c.is_ascii_digit()) {
            return Err(UsccError::Division(division));
        }
        let expected = organisation_check(&chars[8..16]);
        if chars[16] != expected {
            return Err(UsccError::OrganisationCheck {
                expected,
                found: chars[16],
            });
        }
        let expected = check_character(&values[..17]);
        if chars[17] != expected {
            return Err(UsccError::Check {
                expected,
                found: chars[17],
            });
        }
        Ok(Self(code.to_string()))
    }

    /// The full code from its first 16 characters (authority, entity type, division,
    /// organisation code body): computes positions 17 and 18. For test data and samples.
    pub fn complete(first16: &str) -> Result<Self, UsccError> {
        let chars: Vec<char> = first16.chars().collect();
        if chars.len() != 16 {
            return Err(UsccError::Length(chars.len() + 2));
        }
        let mut code: String = chars.iter().collect();
        code.push(organisation_check(&chars[8..16]));
        let values: Vec<u32> = code.chars().map(|c| value_of(c).unwrap_or(0)).collect();
        code.push(check_character(&values));
        Self::parse(&code)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Uscc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn value_of(c: char) -> Option<u32> {
    ALPHABET
        .iter()
        .position(|&a| a as char == c)
        .map(|i| i as u32)
}

/// GB 32100 check: alphabet[(31 - Σ value_i × w_i mod 31) mod 31].
fn check_character(values: &[u32]) -> char {
    let sum: u32 = values.iter().zip(WEIGHTS).map(|(v, w)| v * w).sum();
    ALPHABET[((31 - sum % 31) % 31) as usize] as char
}

/// GB 11714 check of the organisation code: values 0–9 then A=10…Z=35, r = 11 - sum mod 11,
/// 10 → `X`, 11 → `0`. A character outside 0–9A–Z (there is none in the USCC alphabet)
/// makes the check fail.
fn organisation_check(body: &[char]) -> char {
    let sum: u32 = body
        .iter()
        .zip(ORG_WEIGHTS)
        .map(|(c, w)| c.to_digit(36).unwrap_or(99) * w)
        .sum();
    match 11 - sum % 11 {
        10 => 'X',
        11 => '0',
        r => char::from_digit(r, 10).unwrap_or('?'),
    }
}

/// GB 32100 table 1: the registering authorities and the entity types each may register.
fn check_entity_type(authority: char, entity: char) -> Result<(), UsccError> {
    let types: &[char] = match authority {
        // Institutional establishment (机构编制): organs, public institutions, mass organisations.
        '1' => &['1', '2', '3', '9'],
        // Foreign affairs (外交).
        '2' => &['1', '9'],
        // Justice (司法行政): law firms, notaries, legal services, forensics, arbitration.
        '3' => &['1', '2', '3', '4', '5', '9'],
        // Culture (文化).
        '4' => &['1', '9'],
        // Civil affairs (民政): social organisations, private non-enterprise units, foundations.
        '5' => &['1', '2', '3', '9'],
        // Tourism (旅游).
        '6' => &['1', '2', '9'],
        // Religious affairs (宗教).
        '7' => &['1', '2', '9'],
        // Trade unions (工会).
        '8' => &['1', '9'],
        // Market supervision (工商): enterprise, individual business, farmers' cooperative.
        '9' => &['1', '2', '3'],
        // Central Military Commission establishment office.
        'A' => &['1', '9'],
        // Agriculture (农业): collective economic organisations.
        'N' => &['1', '2', '3', '9'],
        // Other authorities.
        'Y' => &['1'],
        other => return Err(UsccError::Authority(other)),
    };
    if types.contains(&entity) {
        Ok(())
    } else {
        Err(UsccError::EntityType { authority, entity })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_documented_test_codes_pass() {
        for code in ["91210381MA0Q12343L", "91210381MA10ABCD69"] {
            assert_eq!(Uscc::parse(code).map(|u| u.to_string()), Ok(code.into()));
        }
    }

    #[test]
    fn complete_computes_both_check_characters() {
        assert_eq!(
            Uscc::complete("91210381MA0Q1234").unwrap().as_str(),
            "91210381MA0Q12343L"
        );
        assert_eq!(
            Uscc::complete("91210381MA10ABCD").unwrap().as_str(),
            "91210381MA10ABCD69"
        );
    }

    #[test]
    fn each_kind_of_defect_is_named() {
        let cases: &[(&str, UsccError)] = &[
            ("91210381MA0Q1234", UsccError::Length(16)),
            (
                "91210381MA0Q12343l",
                UsccError::Character {
                    position: 18,
                    found: 'l',
                },
            ),
            (
                "91210381MI0Q12343L",
                UsccError::Character {
                    position: 10,
                    found: 'I',
                },
            ),
            ("B1210381MA0Q12343L", UsccError::Authority('B')),
            (
                "94210381MA0Q12343L",
                UsccError::EntityType {
                    authority: '9',
                    entity: '4',
                },
            ),
            ("912103A1MA0Q12343L", UsccError::Division("2103A1".into())),
            (
                "91210381MA0Q12353L",
                UsccError::OrganisationCheck {
                    expected: '1',
                    found: '3',
                },
            ),
        ];
        for (code, expected) in cases {
            assert_eq!(Uscc::parse(code).as_ref(), Err(expected), "{code}");
        }
        assert!(matches!(
            Uscc::parse("91210381MA0Q12343M"),
            Err(UsccError::Check {
                expected: 'L',
                found: 'M'
            })
        ));
    }

    /// The first 16 characters of a code that can pass: a valid authority and entity type,
    /// six digits, eight organisation-code characters.
    fn first16() -> impl Strategy<Value = String> {
        let prefix = prop::sample::select(vec![
            "91", "92", "93", "11", "12", "13", "19", "51", "52", "53", "59", "Y1", "N2", "A1",
            "31", "81",
        ]);
        let division = "[0-9]{6}";
        let body = prop::collection::vec(prop::sample::select(ALPHABET.to_vec()), 8);
        (prefix, division, body).prop_map(|(p, d, b)| {
            format!(
                "{p}{d}{}",
                b.into_iter().map(char::from).collect::<String>()
            )
        })
    }

    proptest! {
        #[test]
        fn generated_codes_pass(first in first16()) {
            let uscc = Uscc::complete(&first).unwrap();
            prop_assert!(Uscc::parse(uscc.as_str()).is_ok());
        }

        #[test]
        fn any_one_character_change_fails(
            first in first16(),
            position in 0usize..18,
            replacement in prop::char::any(),
        ) {
            let uscc = Uscc::complete(&first).unwrap();
            let mut chars: Vec<char> = uscc.as_str().chars().collect();
            prop_assume!(chars[position] != replacement);
            chars[position] = replacement;
            let changed: String = chars.into_iter().collect();
            prop_assert!(Uscc::parse(&changed).is_err(), "{} passed", changed);
        }

        #[test]
        fn any_one_alphabet_substitution_fails(
            first in first16(),
            position in 0usize..18,
            replacement in prop::sample::select(ALPHABET.to_vec()),
        ) {
            let uscc = Uscc::complete(&first).unwrap();
            let mut bytes = uscc.as_str().as_bytes().to_vec();
            prop_assume!(bytes[position] != replacement);
            bytes[position] = replacement;
            let changed = String::from_utf8(bytes).unwrap();
            prop_assert!(Uscc::parse(&changed).is_err(), "{} passed", changed);
        }
    }
}
