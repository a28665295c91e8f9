//! Census periods: a year (`YYYY`) or a quarter (`YYYYQn`). Each period is classified on its own.

use std::fmt;

use chrono::NaiveDate;

/// A census period.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Period {
    pub year: i32,
    /// 1..=4 for a quarter, `None` for the whole year.
    pub quarter: Option<u8>,
}

impl Period {
    /// Parses `YYYY` or `YYYYQn` (year 1000..=9999, n in 1..=4).
    pub fn parse(code: &str) -> Option<Period> {
        let (year, quarter) = match code.len() {
            4 => (code, None),
            6 if code.as_bytes()[4] == b'Q' => (&code[..4], Some(&code[5..])),
            _ => return None,
        };
        if !year.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let year: i32 = year.parse().ok().filter(|y| (1000..=9999).contains(y))?;
        let quarter = match quarter {
            None => None,
            Some(q) => Some(q.parse::<u8>().ok().filter(|q| (1..=4).contains(q))?),
        };
        Some(Period { year, quarter })
    }

    /// The last day of the period; deferral counts back from it, so a re-rank never depends
    /// on the day it runs.
    pub fn end(&self) -> NaiveDate {
        let (month, day) = match self.quarter {
            None | Some(4) => (12, 31),
            Some(1) => (3, 31),
            Some(2) => (6, 30),
            Some(_) => (9, 30),
        };
        NaiveDate::from_ymd_opt(self.year, month, day).expect("a quarter's last day exists")
    }

    /// Orders periods in time: by year, the quarters of a year first and the year itself
    /// after its fourth quarter (an annual return is complete only once the year is).
    pub fn sort_key(&self) -> i32 {
        self.year * 10 + i32::from(self.quarter.unwrap_or(5))
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.quarter {
            None => write!(f, "{}", self.year),
            Some(q) => write!(f, "{}Q{q}", self.year),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_parse_round_trip_and_sort() {
        for code in ["2025", "2025Q1", "2025Q4", "1999Q3"] {
            assert_eq!(Period::parse(code).unwrap().to_string(), code);
        }
        for bad in [
            "", "25", "2025Q0", "2025Q5", "2025q1", "20251", "+025", "2025Q1x", "0999",
        ] {
            assert_eq!(Period::parse(bad), None, "{bad}");
        }
        let key = |c| Period::parse(c).unwrap().sort_key();
        assert!(key("2024") < key("2025Q1"));
        assert!(key("2025Q4") < key("2025"));
        assert_eq!(
            Period::parse("2025Q2").unwrap().end(),
            NaiveDate::from_ymd_opt(2025, 6, 30).unwrap()
        );
    }
}
