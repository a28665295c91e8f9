//! A late construction start or completion: damages per day as a share of the price (1 ‰ a
//! day by default), and a start more than `take_back_after_months` (6) late flags the grant
//! for take-back review, as the model contracts write it.

use chrono::NaiveDate;

use super::add_months;

/// The configurable rates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LatenessRules {
    /// Damages per day late, per mille of the price (1).
    pub damages_permille_per_day: u32,
    /// A start later than this many months flags the grant for take-back review (6).
    pub take_back_after_months: u32,
}

impl Default for LatenessRules {
    fn default() -> Self {
        Self {
            damages_permille_per_day: 1,
            take_back_after_months: 6,
        }
    }
}

/// Where construction stands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    pub started_on: Option<NaiveDate>,
    pub completed_on: Option<NaiveDate>,
    pub investment_to_date_fen: i64,
    pub built_floor_area_centi_m2: i64,
    /// Day of the last milestone that moved something (start, completion, more investment or
    /// floor area): the idle rule measures a stop from it.
    pub last_progress_on: Option<NaiveDate>,
}

/// Lateness as of one day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Lateness {
    pub start_days_late: i64,
    pub completion_days_late: i64,
    pub damages_fen: i64,
    pub take_back_review: bool,
}

/// Days `done` (or, while not done, `today`) is after `due`; 0 when on time.
pub fn days_late(due: NaiveDate, done: Option<NaiveDate>, today: NaiveDate) -> i64 {
    let at = done.unwrap_or(today);
    (at - due).num_days().max(0)
}

/// Lateness of a grant with `price_fen` as of `today`.
pub fn lateness(
    price_fen: i64,
    start_by: NaiveDate,
    complete_by: NaiveDate,
    progress: &Progress,
    today: NaiveDate,
    rules: &LatenessRules,
) -> Lateness {
    let start_days_late = days_late(start_by, progress.started_on, today);
    let completion_days_late = days_late(complete_by, progress.completed_on, today);
    let days = i128::from(start_days_late + completion_days_late);
    let damages = i128::from(price_fen) * i128::from(rules.damages_permille_per_day) * days / 1000;
    let started_or_today = progress.started_on.unwrap_or(today);
    Lateness {
        start_days_late,
        completion_days_late,
        damages_fen: i64::try_from(damages).unwrap_or(i64::MAX),
        take_back_review: started_or_today > add_months(start_by, rules.take_back_after_months),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn each_late_day_costs_one_per_mille_of_the_price() {
        let progress = Progress {
            started_on: Some(day(2025, 3, 11)),
            ..Default::default()
        };
        // Start due 1 March, done 11 March: 10 days × 1 ‰ × 12,345,678 fen = 123,456.78 → 123,456.
        let late = lateness(
            12_345_678,
            day(2025, 3, 1),
            day(2026, 3, 1),
            &progress,
            day(2025, 6, 1),
            &LatenessRules::default(),
        );
        assert_eq!(late.start_days_late, 10);
        assert_eq!(late.completion_days_late, 0);
        assert_eq!(late.damages_fen, 123_456);
        assert!(!late.take_back_review);
    }

    #[test]
    fn an_open_start_keeps_accruing_and_completion_adds_its_own_days() {
        let late = lateness(
            1_000_000,
            day(2025, 1, 1),
            day(2025, 1, 31),
            &Progress::default(),
            day(2025, 2, 10),
            &LatenessRules::default(),
        );
        assert_eq!((late.start_days_late, late.completion_days_late), (40, 10));
        assert_eq!(late.damages_fen, 50 * 1_000);
    }

    #[test]
    fn a_start_more_than_six_months_late_needs_take_back_review() {
        let rules = LatenessRules::default();
        let due = day(2025, 1, 15);
        let at = |today| lateness(1, due, day(2027, 1, 1), &Progress::default(), today, &rules);
        assert!(
            !at(day(2025, 7, 15)).take_back_review,
            "exactly six months is not more"
        );
        assert!(at(day(2025, 7, 16)).take_back_review);
        let started = Progress {
            started_on: Some(day(2025, 7, 1)),
            ..Default::default()
        };
        assert!(
            !lateness(1, due, day(2027, 1, 1), &started, day(2026, 1, 1), &rules).take_back_review
        );
    }
}

/// What a milestone records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MilestoneKind {
    Started,
    Completed,
    Progress,
}

impl MilestoneKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MilestoneKind::Started => "started",
            MilestoneKind::Completed => "completed",
            MilestoneKind::Progress => "progress",
        }
    }
}

/// A milestone as reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Milestone {
    pub kind: MilestoneKind,
    pub on: NaiveDate,
    pub investment_to_date_fen: i64,
    pub built_floor_area_centi_m2: i64,
}

/// Why a milestone is refused.
#[derive(Debug, thiserror::Error)]
pub enum MilestoneRefused {
    #[error("invalid request")]
    Invalid(platform::Violations),
    /// Out of order with what is recorded (started twice, completed before started).
    #[error("{0}")]
    Precondition(String),
    /// An ended grant records nothing more.
    #[error("grant {0} has ended")]
    Ended(uuid::Uuid),
}

/// The progress after `milestone`, checked against what is recorded: dated between the
/// signing and today, figures never decreasing, a start before a completion, each once.
pub fn apply_milestone(
    progress: &Progress,
    signed_on: NaiveDate,
    milestone: &Milestone,
    today: NaiveDate,
) -> Result<Progress, MilestoneRefused> {
    let mut v = platform::Violations::new();
    if milestone.on < signed_on {
        v.add(
            "on",
            format!("before the contract was signed ({signed_on})"),
        );
    } else if milestone.on > today {
        v.add("on", "in the future");
    }
    let figures = [
        (
            milestone.investment_to_date_fen,
            progress.investment_to_date_fen,
            "investment_to_date_fen",
        ),
        (
            milestone.built_floor_area_centi_m2,
            progress.built_floor_area_centi_m2,
            "built_floor_area_centi_m2",
        ),
    ];
    for (value, before, field) in figures {
        if value < before {
            v.add(field, format!("never less than recorded before: {before}"));
        }
    }
    let mut next = progress.clone();
    match milestone.kind {
        MilestoneKind::Started => {
            if let Some(on) = progress.started_on {
                return Err(MilestoneRefused::Precondition(format!(
                    "construction already started on {on}"
                )));
            }
            next.started_on = Some(milestone.on);
        }
        MilestoneKind::Completed => {
            let Some(started) = progress.started_on else {
                return Err(MilestoneRefused::Precondition(
                    "construction has not started".into(),
                ));
            };
            if let Some(on) = progress.completed_on {
                return Err(MilestoneRefused::Precondition(format!(
                    "construction already completed on {on}"
                )));
            }
            if milestone.on < started {
                v.add("on", format!("before the start ({started})"));
            }
            next.completed_on = Some(milestone.on);
        }
        MilestoneKind::Progress => {}
    }
    if !v.is_empty() {
        return Err(MilestoneRefused::Invalid(v));
    }
    let moved = milestone.kind != MilestoneKind::Progress
        || milestone.investment_to_date_fen > progress.investment_to_date_fen
        || milestone.built_floor_area_centi_m2 > progress.built_floor_area_centi_m2;
    next.investment_to_date_fen = milestone.investment_to_date_fen;
    next.built_floor_area_centi_m2 = milestone.built_floor_area_centi_m2;
    if moved {
        next.last_progress_on = Some(
            progress
                .last_progress_on
                .map_or(milestone.on, |d| d.max(milestone.on)),
        );
    }
    Ok(next)
}

#[cfg(test)]
mod milestone_tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn milestone(kind: MilestoneKind, on: NaiveDate, investment: i64) -> Milestone {
        Milestone {
            kind,
            on,
            investment_to_date_fen: investment,
            built_floor_area_centi_m2: 0,
        }
    }

    #[test]
    fn milestones_come_in_order_and_figures_never_fall() {
        let signed = day(2025, 1, 1);
        let today = day(2025, 12, 1);
        let started = apply_milestone(
            &Progress::default(),
            signed,
            &milestone(MilestoneKind::Started, day(2025, 3, 1), 10),
            today,
        )
        .unwrap();
        assert_eq!(started.started_on, Some(day(2025, 3, 1)));
        assert_eq!(started.last_progress_on, Some(day(2025, 3, 1)));
        assert!(matches!(
            apply_milestone(
                &started,
                signed,
                &milestone(MilestoneKind::Started, day(2025, 4, 1), 10),
                today
            ),
            Err(MilestoneRefused::Precondition(_))
        ));
        assert!(matches!(
            apply_milestone(
                &Progress::default(),
                signed,
                &milestone(MilestoneKind::Completed, day(2025, 4, 1), 0),
                today
            ),
            Err(MilestoneRefused::Precondition(_))
        ));
        let Err(MilestoneRefused::Invalid(v)) = apply_milestone(
            &started,
            signed,
            &milestone(MilestoneKind::Progress, day(2026, 1, 1), 9),
            today,
        ) else {
            panic!("a future date and a falling figure are invalid");
        };
        let fields: Vec<&str> = v.as_slice().iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["on", "investment_to_date_fen"]);
        let same = apply_milestone(
            &started,
            signed,
            &milestone(MilestoneKind::Progress, day(2025, 9, 1), 10),
            today,
        )
        .unwrap();
        assert_eq!(
            same.last_progress_on,
            Some(day(2025, 3, 1)),
            "nothing moved"
        );
    }
}
