//! The Unified Social Credit Code (统一社会信用代码, GB 32100-2015): 18 characters, the
//! enterprise's key everywhere. Only the API validates it; events come from the census,
//! which has already checked the code.

/// The code's alphabet; a character's value is its index (no I, O, S, V, Z).
const ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
/// Weights 3^(i-1) mod 31 of positions 1..17.
const WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

/// Why a string is not a USCC.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsccError {
    #[error("must be 18 characters, got {0}")]
    Length(usize),
    #[error("character {position} is not in the USCC alphabet (0-9 and A-Y without I, O, S, V, Z)")]
    Character { position: usize },
    #[error("check character mismatch")]
    Check,
}

fn value(c: u8) -> Option<u32> {
    ALPHABET.iter().position(|&a| a == c).map(|p| p as u32)
}

/// The check character for the first 17 characters, or `None` if one is outside the alphabet.
pub fn check_character(first17: &str) -> Option<char> {
    let bytes = first17.as_bytes();
    if bytes.len() != 17 {
        return None;
    }
    let mut sum = 0;
    for (byte, weight) in bytes.iter().zip(WEIGHTS) {
        sum += value(*byte)? * weight;
    }
    Some(ALPHABET[((31 - sum % 31) % 31) as usize] as char)
}

/// Checks length, alphabet and check character.
pub fn validate(code: &str) -> Result<(), UsccError> {
    let chars = code.chars().count();
    if chars != 18 || code.len() != 18 {
        return Err(UsccError::Length(chars));
    }
    if let Some(position) = code.bytes().position(|b| value(b).is_none()) {
        return Err(UsccError::Character {
            position: position + 1,
        });
    }
    match check_character(&code[..17]) {
        Some(check) if code.as_bytes()[17] == check as u8 => Ok(()),
        _ => Err(UsccError::Check),
    }
}

/// The 18-character code for 17 characters of the alphabet (for tests and demo data).
pub fn complete(first17: &str) -> Option<String> {
    check_character(first17).map(|check| format!("{first17}{check}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_codes_pass_and_any_changed_character_fails() {
        for code in ["91210381MA0Q12343L", "91210381MA10ABCD69"] {
            assert_eq!(validate(code), Ok(()), "{code}");
            for i in 0..18 {
                let mut bytes = code.as_bytes().to_vec();
                bytes[i] = if bytes[i] == b'1' { b'2' } else { b'1' };
                let changed = String::from_utf8(bytes).unwrap();
                assert!(validate(&changed).is_err(), "{changed}");
            }
        }
    }

    #[test]
    fn malformed_codes_say_why() {
        assert_eq!(validate("123"), Err(UsccError::Length(3)));
        assert_eq!(
            validate("91210381MA0Q1234IL"),
            Err(UsccError::Character { position: 17 })
        );
        assert!(validate("９1210381MA0Q1234L").is_err());
        assert_eq!(
            complete("91210381MA0Q12343").as_deref(),
            Some("91210381MA0Q12343L")
        );
    }
}
