//! USCCs for tests: valid codes (check characters computed) that no other test uses.

use platform::uscc::{ALPHABET, Uscc};

/// The USCCs of one test: Haicheng's region code, a random four-character tag of this
/// test, then a four-digit number. A test's codes sort by their number, and two tests on
/// one stack do not share a code.
#[derive(Debug, Clone)]
pub struct Usccs {
    tag: String,
}

impl Usccs {
    pub fn new() -> Self {
        let random = uuid::Uuid::new_v4().as_u128();
        let tag = (0..4)
            .map(|i| ALPHABET[((random >> (i * 8)) % ALPHABET.len() as u128) as usize] as char)
            .collect();
        Self { tag }
    }

    /// The `i`-th code (`i` below 10,000).
    pub fn nth(&self, i: usize) -> String {
        assert!(i < 10_000, "four digits of number in a test USCC");
        Uscc::complete(&format!("91210381{}{i:04}", self.tag))
            .expect("a valid prefix")
            .to_string()
    }

    /// The first `count` codes, in ascending order.
    pub fn first(&self, count: usize) -> Vec<String> {
        (0..count).map(|i| self.nth(i)).collect()
    }
}

impl Default for Usccs {
    fn default() -> Self {
        Self::new()
    }
}

/// A fresh code, different in every call.
pub fn new_uscc() -> String {
    Usccs::new().nth(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_valid_and_sort_by_their_number() {
        let usccs = Usccs::new();
        let codes = usccs.first(12);
        for code in &codes {
            assert!(Uscc::parse(code).is_ok(), "{code}");
        }
        let mut sorted = codes.clone();
        sorted.sort();
        assert_eq!(codes, sorted);
    }

    #[test]
    fn two_tests_get_different_codes() {
        assert_ne!(Usccs::new().nth(0), Usccs::new().nth(0));
    }
}
