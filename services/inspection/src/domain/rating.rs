//! Ratings (评价): after a visit the firm rates it once (satisfied, neutral, unsatisfied, with
//! a text). A rating is kept apart from its visit (the year and the departments only), so no
//! one can learn who rated; a department reads only aggregates of at least
//! `min_ratings_shown` ratings.

use chrono::Datelike;
use platform::auth::Department;

use super::visit::{Visit, VisitState};

#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "SCREAMING_SNAKE_CASE")]
pub enum Satisfaction {
    Satisfied,
    Neutral,
    Unsatisfied,
}

/// A rating as kept: nothing that names the visit or the firm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rating {
    pub year: i32,
    pub departments: Vec<Department>,
    pub satisfaction: Satisfaction,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RatingRefused {
    #[error("a firm rates only its own visits")]
    NotOwn,
    #[error("a visit is rated after its result is recorded")]
    NotYet,
    #[error("this visit has been rated")]
    AlreadyRated,
    #[error(
        "{count} rating(s) of {department} in {year}: aggregates of fewer than {min} are not shown"
    )]
    TooFew {
        department: &'static str,
        year: i32,
        count: u32,
        min: u32,
    },
}

/// The firm `uscc` rates `visit`.
pub fn decide_rating(
    visit: &Visit,
    uscc: &str,
    satisfaction: Satisfaction,
    text: String,
) -> Result<Rating, RatingRefused> {
    if visit.uscc != uscc {
        return Err(RatingRefused::NotOwn);
    }
    if !matches!(visit.state, VisitState::Recorded | VisitState::Published) {
        return Err(RatingRefused::NotYet);
    }
    if visit.rated {
        return Err(RatingRefused::AlreadyRated);
    }
    Ok(Rating {
        year: visit.visit_on.year(),
        departments: visit.departments(),
        satisfaction,
        text,
    })
}

/// Counts of one department's ratings of a year.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub ratings: u32,
    pub satisfied: u32,
    pub neutral: u32,
    pub unsatisfied: u32,
    /// The non-empty texts, sorted (no order that could follow the visits).
    pub texts: Vec<String>,
}

/// The aggregate of `ratings`, or a refusal below `min`.
pub fn summarize(
    department: Department,
    year: i32,
    ratings: &[(Satisfaction, String)],
    min: u32,
) -> Result<Summary, RatingRefused> {
    let count = u32::try_from(ratings.len()).unwrap_or(u32::MAX);
    if count < min {
        return Err(RatingRefused::TooFew {
            department: department.as_str(),
            year,
            count,
            min,
        });
    }
    let mut summary = Summary {
        ratings: count,
        ..Summary::default()
    };
    for (satisfaction, text) in ratings {
        match satisfaction {
            Satisfaction::Satisfied => summary.satisfied += 1,
            Satisfaction::Neutral => summary.neutral += 1,
            Satisfaction::Unsatisfied => summary.unsatisfied += 1,
        }
        if !text.trim().is_empty() {
            summary.texts.push(text.clone());
        }
    }
    summary.texts.sort();
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ratings(n: usize) -> Vec<(Satisfaction, String)> {
        (0..n)
            .map(|i| {
                let s = [
                    Satisfaction::Satisfied,
                    Satisfaction::Neutral,
                    Satisfaction::Unsatisfied,
                ][i % 3];
                (s, format!("text {i}"))
            })
            .collect()
    }

    #[test]
    fn fewer_than_the_minimum_is_refused_and_the_minimum_is_shown() {
        let refused = summarize(Department::Tax, 2026, &ratings(4), 5).unwrap_err();
        assert!(matches!(
            refused,
            RatingRefused::TooFew {
                count: 4,
                min: 5,
                ..
            }
        ));
        let shown = summarize(Department::Tax, 2026, &ratings(5), 5).unwrap();
        assert_eq!(
            (
                shown.ratings,
                shown.satisfied,
                shown.neutral,
                shown.unsatisfied
            ),
            (5, 2, 2, 1)
        );
        assert_eq!(shown.texts.len(), 5);
    }
}
