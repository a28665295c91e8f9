//! Census period (普查期): a year `YYYY` or a quarter `YYYYQn`.
//!
//! In the platform because every service that reads census figures names periods.

use std::{fmt, str::FromStr};

use chrono::NaiveDate;

/// A year or a quarter of a year. Ordered by year, the year itself before its quarters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Period {
    year: u16,
    /// 1–4 for a quarter; 0 for the whole year (so a year sorts before its quarters).
    quarter: u8,
}

/// The earliest year a census period may name; anything earlier is a typing error.
pub const FIRST_YEAR: u16 = 1949;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    #[error("is required")]
    Missing,
    #[error("{0:?} is not YYYY or YYYYQn (n in 1..4)")]
    Format(String),
    #[error("year {0} is before {FIRST_YEAR}")]
    TooEarly(u16),
}

impl Period {
    pub fn year(year: u16) -> Self {
        Self { year, quarter: 0 }
    }

    /// A quarter; `None` unless `quarter` is 1–4.
    pub fn quarter(year: u16, quarter: u8) -> Option<Self> {
        (1..=4).contains(&quarter).then_some(Self { year, quarter })
    }

    pub fn parse(code: &str) -> Result<Self, PeriodError> {
        if code.is_empty() {
            return Err(PeriodError::Missing);
        }
        let bad = || PeriodError::Format(code.to_string());
        let bytes = code.as_bytes();
        let year_part = code.get(..4).ok_or_else(bad)?;
        if !year_part.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let year: u16 = year_part.parse().map_err(|_| bad())?;
        let period = match bytes.len() {
            4 => Self::year(year),
            6 if bytes[4] == b'Q' => {
                Self::quarter(year, bytes[5].wrapping_sub(b'0')).ok_or_else(bad)?
            }
            _ => return Err(bad()),
        };
        if year < FIRST_YEAR {
            return Err(PeriodError::TooEarly(year));
        }
        Ok(period)
    }

    /// The code as the contract writes it: `2025` or `2025Q3`.
    pub fn code(&self) -> String {
        self.to_string()
    }

    /// The last day of the period (deferral counts back from it, so a re-rank never depends
    /// on the day it runs).
    pub fn end(&self) -> NaiveDate {
        let (month, day) = match self.quarter {
            0 | 4 => (12, 31),
            1 => (3, 31),
            2 => (6, 30),
            _ => (9, 30),
        };
        NaiveDate::from_ymd_opt(i32::from(self.year), month, day)
            .expect("a quarter's last day exists")
    }

    /// Orders periods by completion in time: the quarters of a year first and the year itself
    /// after its fourth quarter (an annual return is complete only once the year is), so the
    /// "latest" period is the greatest key. The derived `Ord` instead lists a year before its
    /// quarters, as a file shows them.
    pub fn completion_key(&self) -> i32 {
        i32::from(self.year) * 10
            + if self.quarter == 0 {
                5
            } else {
                i32::from(self.quarter)
            }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.quarter {
            0 => write!(f, "{:04}", self.year),
            q => write!(f, "{:04}Q{q}", self.year),
        }
    }
}

impl FromStr for Period {
    type Err = PeriodError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn end_and_completion_order() {
        assert_eq!(
            Period::parse("2025Q2").unwrap().end(),
            NaiveDate::from_ymd_opt(2025, 6, 30).unwrap()
        );
        assert_eq!(
            Period::parse("2025").unwrap().end(),
            NaiveDate::from_ymd_opt(2025, 12, 31).unwrap()
        );
        let key = |c| Period::parse(c).unwrap().completion_key();
        assert!(key("2024") < key("2025Q1") && key("2025Q4") < key("2025"));
    }

    #[test]
    fn years_and_quarters_parse_and_print_back() {
        for code in ["2025", "2025Q1", "2025Q4", "1949"] {
            assert_eq!(Period::parse(code).unwrap().code(), code);
        }
    }

    #[test]
    fn anything_else_is_refused() {
        for code in [
            "",
            "25",
            "2025Q",
            "2025Q0",
            "2025Q5",
            "2025q1",
            "2025-Q1",
            "20251",
            "２０２５",
            "2025Q1 ",
            " 2025",
            "1800",
            "abcd",
            "2025Q١",
        ] {
            assert!(Period::parse(code).is_err(), "{code:?} accepted");
        }
    }

    #[test]
    fn a_year_sorts_before_its_quarters() {
        let mut periods: Vec<Period> = ["2025Q2", "2025", "2024Q4", "2025Q1"]
            .iter()
            .map(|c| c.parse().unwrap())
            .collect();
        periods.sort();
        let codes: Vec<String> = periods.iter().map(Period::code).collect();
        assert_eq!(codes, ["2024Q4", "2025", "2025Q1", "2025Q2"]);
    }
}
