//! The working-day calendar (工作日历) of every window counted in working days: the objection
//! window of a published ranking (异议期), the publicity period of a support round (公示期), pure.
//!
//! Days are counted in China Standard Time (UTC+8 all year, no daylight saving). Saturday and
//! Sunday are non-working unless listed as adjusted working days (调休); listed public holidays
//! (法定节假日) are non-working whatever the weekday. The objection window is the N working
//! days after the day of publication; it ends at 24:00 CST of the N-th of them.

use std::collections::BTreeSet;
use std::fmt;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};

/// China Standard Time's offset from UTC, in seconds.
const CST_OFFSET_SECONDS: i32 = 8 * 3_600;

/// Longest range accepted in a list (`from..to`, both included), in days: a year.
pub const MAX_RANGE_DAYS: i64 = 366;

/// Most dates a calendar list may hold once ranges are expanded (ten years of holidays).
pub const MAX_LISTED_DATES: usize = 3_660;

/// China Standard Time (UTC+8).
pub fn china_standard_time() -> FixedOffset {
    FixedOffset::east_opt(CST_OFFSET_SECONDS).expect("UTC+8 is a valid offset")
}

/// The calendar day of `at` in China Standard Time.
pub fn china_date(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&china_standard_time()).date_naive()
}

/// Which days are working days.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Calendar {
    /// Non-working whatever the weekday (public holidays).
    non_working: BTreeSet<NaiveDate>,
    /// Saturdays and Sundays that are working days (adjusted working days).
    extra_working: BTreeSet<NaiveDate>,
}

/// Why a calendar list was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarError(pub String);

impl fmt::Display for CalendarError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CalendarError {}

impl Calendar {
    /// A calendar of `non_working` dates and `extra_working` weekend days. A date in both
    /// lists, or an extra working day that is not a Saturday or Sunday, is refused.
    pub fn new(
        non_working: impl IntoIterator<Item = NaiveDate>,
        extra_working: impl IntoIterator<Item = NaiveDate>,
    ) -> Result<Self, CalendarError> {
        let non_working: BTreeSet<NaiveDate> = non_working.into_iter().collect();
        let extra_working: BTreeSet<NaiveDate> = extra_working.into_iter().collect();
        if let Some(day) = extra_working.iter().find(|d| !is_weekend(**d)) {
            return Err(CalendarError(format!(
                "{day} is a {:?}: only a Saturday or Sunday can be an adjusted working day",
                day.weekday()
            )));
        }
        if let Some(day) = non_working.intersection(&extra_working).next() {
            return Err(CalendarError(format!(
                "{day} is listed both as non-working and as an adjusted working day"
            )));
        }
        Ok(Self {
            non_working,
            extra_working,
        })
    }

    /// Whether `day` is a working day.
    pub fn is_working_day(&self, day: NaiveDate) -> bool {
        if self.non_working.contains(&day) {
            false
        } else if is_weekend(day) {
            self.extra_working.contains(&day)
        } else {
            true
        }
    }

    /// The `n`-th working day after `day` (`day` itself is not counted; `n` = 0 is `day`).
    pub fn nth_working_day_after(&self, day: NaiveDate, n: u32) -> NaiveDate {
        let mut current = day;
        let mut counted = 0;
        while counted < n {
            // The lists are finite, so working days keep coming long before chrono's last day.
            let Some(next) = current.succ_opt() else {
                return current;
            };
            current = next;
            if self.is_working_day(current) {
                counted += 1;
            }
        }
        current
    }
}

fn is_weekend(day: NaiveDate) -> bool {
    matches!(day.weekday(), Weekday::Sat | Weekday::Sun)
}

/// The default length of the objection window, in working days.
pub const DEFAULT_OBJECTION_WORKING_DAYS: u32 = 5;

/// The longest objection window that may be configured, in working days.
pub const MAX_OBJECTION_WORKING_DAYS: u32 = 30;

/// The objection window as configured: how many working days, counted in which calendar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectionWindow {
    pub calendar: Calendar,
    pub working_days: u32,
}

impl Default for ObjectionWindow {
    fn default() -> Self {
        Self {
            calendar: Calendar::default(),
            working_days: DEFAULT_OBJECTION_WORKING_DAYS,
        }
    }
}

impl ObjectionWindow {
    /// [`objection_deadline`] of a ranking published at `published_at`; with no window
    /// (0 working days, a development setting), the instant of publication itself.
    pub fn deadline(&self, published_at: DateTime<Utc>) -> DateTime<Utc> {
        if self.working_days == 0 {
            return published_at;
        }
        objection_deadline(published_at, &self.calendar, self.working_days)
    }

    /// The window a publication announced: its own length where it gave one, counted in the
    /// same calendar.
    pub fn announced(&self, working_days: Option<u32>) -> Self {
        Self {
            calendar: self.calendar.clone(),
            working_days: working_days.unwrap_or(self.working_days),
        }
    }
}

/// The end of the objection window of a ranking published at `published_at`: 24:00 CST (the
/// first instant of the next day) of the `n`-th working day after the day of publication.
/// An objection is in time while it is filed before this instant.
pub fn objection_deadline(
    published_at: DateTime<Utc>,
    calendar: &Calendar,
    n: u32,
) -> DateTime<Utc> {
    let last_day = calendar.nth_working_day_after(china_date(published_at), n);
    let next_midnight = last_day
        .succ_opt()
        .unwrap_or(NaiveDate::MAX)
        .and_time(NaiveTime::MIN);
    china_standard_time()
        .from_local_datetime(&next_midnight)
        .single()
        .map_or(DateTime::<Utc>::MAX_UTC, |at| at.with_timezone(&Utc))
}

/// The variables that configure one window: its length in working days and its calendar.
#[derive(Debug, Clone, Copy)]
pub struct WindowVars {
    pub working_days: &'static str,
    /// The fewest working days accepted (1 for a statutory window; 0 where "none" is a
    /// setting, as a development stack's publicity).
    pub min_days: u32,
    pub non_working_days: &'static str,
    pub extra_working_days: &'static str,
}

/// Reads a window from `get` (a non-blank lookup): its length (`min_days` to
/// [`MAX_OBJECTION_WORKING_DAYS`], default [`DEFAULT_OBJECTION_WORKING_DAYS`]) and its
/// calendar (date lists in [`parse_dates`] syntax), each error naming its variable.
pub fn window_from(
    get: &dyn Fn(&'static str) -> Option<String>,
    vars: WindowVars,
) -> Result<ObjectionWindow, crate::ConfigError> {
    let working_days: u32 =
        crate::config::parse_or(get(vars.working_days), vars.working_days, || {
            DEFAULT_OBJECTION_WORKING_DAYS
        })?;
    if !(vars.min_days..=MAX_OBJECTION_WORKING_DAYS).contains(&working_days) {
        return Err(crate::ConfigError {
            var: vars.working_days,
            reason: format!(
                "{working_days}: must be {} to {MAX_OBJECTION_WORKING_DAYS}",
                vars.min_days
            ),
        });
    }
    let dates = |var: &'static str| {
        parse_dates(&get(var).unwrap_or_default()).map_err(|err| crate::ConfigError {
            var,
            reason: err.to_string(),
        })
    };
    let non_working = dates(vars.non_working_days)?;
    let extra_working = dates(vars.extra_working_days)?;
    let calendar = Calendar::new(non_working, extra_working).map_err(|err| crate::ConfigError {
        var: vars.extra_working_days,
        reason: err.to_string(),
    })?;
    Ok(ObjectionWindow {
        calendar,
        working_days,
    })
}

/// Parses a comma-separated list of dates and inclusive ranges:
/// `2026-01-01, 2026-10-01..2026-10-07`. Blank items are skipped.
pub fn parse_dates(list: &str) -> Result<Vec<NaiveDate>, CalendarError> {
    let mut dates = Vec::new();
    for item in list.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let expected = || {
            CalendarError(format!(
                "{item:?}: expected a date YYYY-MM-DD or a range YYYY-MM-DD..YYYY-MM-DD"
            ))
        };
        match item.split_once("..") {
            None => dates.push(parse_date(item).ok_or_else(expected)?),
            Some((from, to)) => {
                let from = parse_date(from.trim()).ok_or_else(expected)?;
                let to = parse_date(to.trim()).ok_or_else(expected)?;
                if to < from {
                    return Err(CalendarError(format!(
                        "{item:?}: the range ends before it starts"
                    )));
                }
                if (to - from).num_days() >= MAX_RANGE_DAYS {
                    return Err(CalendarError(format!(
                        "{item:?}: a range spans at most {MAX_RANGE_DAYS} days"
                    )));
                }
                dates.extend(from.iter_days().take_while(|d| *d <= to));
            }
        }
        if dates.len() > MAX_LISTED_DATES {
            return Err(CalendarError(format!(
                "at most {MAX_LISTED_DATES} dates in all"
            )));
        }
    }
    Ok(dates)
}

fn parse_date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        // `%Y` takes signs and long years; only the plain form is meant.
        .filter(|d| text.len() == 10 && (1..=9999).contains(&d.year()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    /// An instant given in China Standard Time, `2026-09-30 23:59`.
    fn cst(text: &str) -> DateTime<Utc> {
        let local = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").unwrap();
        china_standard_time()
            .from_local_datetime(&local)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn calendar(non_working: &str, extra: &str) -> Calendar {
        Calendar::new(
            parse_dates(non_working).unwrap(),
            parse_dates(extra).unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn the_deadline_is_midnight_cst_after_the_nth_working_day() {
        // Monday 2026-03-02: five working days are Tue..Fri and the next Monday.
        let deadline = objection_deadline(cst("2026-03-02 10:00"), &Calendar::default(), 5);
        assert_eq!(deadline, cst("2026-03-10 00:00"));
        // 24:00 CST is 16:00 UTC the same day.
        assert_eq!(deadline.to_rfc3339(), "2026-03-09T16:00:00+00:00");
    }

    #[test]
    fn a_window_across_a_weekend_skips_it() {
        // Thursday 2026-03-05: Fri, (Sat, Sun), Mon, Tue.
        let deadline = objection_deadline(cst("2026-03-05 09:00"), &Calendar::default(), 3);
        assert_eq!(deadline, cst("2026-03-11 00:00"));
    }

    #[test]
    fn a_window_across_a_holiday_range_skips_it() {
        // National Day week 2026-10-01..07 (Thu..Wed) published Wednesday 2026-09-30.
        let cal = calendar("2026-10-01..2026-10-07", "");
        let deadline = objection_deadline(cst("2026-09-30 15:00"), &cal, 5);
        // Thu 8, Fri 9, (Sat 10, Sun 11), Mon 12, Tue 13, Wed 14.
        assert_eq!(deadline, cst("2026-10-15 00:00"));
        let without = objection_deadline(cst("2026-09-30 15:00"), &Calendar::default(), 5);
        assert_eq!(without, cst("2026-10-08 00:00"));
    }

    #[test]
    fn an_adjusted_saturday_counts_as_a_working_day() {
        let cal = calendar("2026-10-01..2026-10-07", "2026-10-10");
        assert!(cal.is_working_day(date("2026-10-10")));
        assert!(!cal.is_working_day(date("2026-10-11")));
        // Thu 8, Fri 9, Sat 10 (adjusted), Mon 12, Tue 13.
        let deadline = objection_deadline(cst("2026-09-30 15:00"), &cal, 5);
        assert_eq!(deadline, cst("2026-10-14 00:00"));
    }

    #[test]
    fn publication_on_a_non_working_day_counts_from_the_next_working_day() {
        // Saturday 2026-03-07 and a holiday Monday 2026-03-09: Tue 10 is the first day.
        let cal = calendar("2026-03-09", "");
        let deadline = objection_deadline(cst("2026-03-07 11:00"), &cal, 1);
        assert_eq!(deadline, cst("2026-03-11 00:00"));
        // Published on the holiday itself: the same.
        assert_eq!(
            objection_deadline(cst("2026-03-09 08:00"), &cal, 1),
            deadline
        );
    }

    #[test]
    fn the_day_of_publication_is_the_day_in_china() {
        // 23:59 CST Monday is still Monday; 00:01 CST is Tuesday, a working day later.
        let late = objection_deadline(cst("2026-03-02 23:59"), &Calendar::default(), 1);
        let early = objection_deadline(cst("2026-03-03 00:01"), &Calendar::default(), 1);
        assert_eq!(late, cst("2026-03-04 00:00"));
        assert_eq!(early, cst("2026-03-05 00:00"));
        // 00:01 CST Tuesday is 16:01 UTC Monday: the UTC date would have been wrong.
        assert_eq!(china_date(cst("2026-03-03 00:01")), date("2026-03-03"));
        assert_eq!(cst("2026-03-03 00:01").date_naive(), date("2026-03-02"));
    }

    #[test]
    fn lists_take_dates_and_inclusive_ranges() {
        let dates = parse_dates(" 2026-01-01, 2026-02-16..2026-02-18 ,,").unwrap();
        assert_eq!(
            dates,
            vec![
                date("2026-01-01"),
                date("2026-02-16"),
                date("2026-02-17"),
                date("2026-02-18")
            ]
        );
        assert_eq!(parse_dates("").unwrap(), vec![]);
    }

    #[test]
    fn bad_lists_are_refused_with_the_item() {
        for bad in [
            "2026-13-01",
            "2026-1-1",
            "tomorrow",
            "+2026-01-01",
            "2026-10-07..2026-10-01",
            "2026-01-01..2027-01-02",
            "2026-01-01..",
        ] {
            let err = parse_dates(bad).unwrap_err();
            assert!(err.0.contains(&format!("{bad:?}")), "{bad}: {err}");
        }
        let many = (0..11)
            .map(|y| format!("{}-01-01..{}-12-31", 2000 + y, 2000 + y))
            .collect::<Vec<_>>()
            .join(",");
        assert!(parse_dates(&many).is_err());
    }

    #[test]
    fn contradictory_calendars_are_refused() {
        // A weekday cannot be an adjusted working day.
        assert!(Calendar::new([], [date("2026-10-08")]).is_err());
        // A day cannot be both.
        assert!(Calendar::new([date("2026-10-10")], [date("2026-10-10")]).is_err());
    }

    #[test]
    fn zero_working_days_end_with_the_day_of_publication() {
        let deadline = objection_deadline(cst("2026-03-02 10:00"), &Calendar::default(), 0);
        assert_eq!(deadline, cst("2026-03-03 00:00"));
    }
}
