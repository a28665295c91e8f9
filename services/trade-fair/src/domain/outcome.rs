//! Outcomes (成效) per registration, and what the reports make of them: per fair, per
//! enterprise and year (the follow-through of intended orders against later census export
//! sales), and signed export orders per year.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Utc};
use uuid::Uuid;

use super::{
    Period, Refused,
    eligibility::annual_export_sales,
    registration::{Registration, Status},
};

/// A recorded outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub registration_id: Uuid,
    pub fair_id: Uuid,
    pub uscc: String,
    pub leads: i32,
    pub intended_orders_fen: i64,
    pub signed_export_orders_fen: i64,
    pub recorded_at: DateTime<Utc>,
}

/// The figures of an outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Figures {
    pub leads: i32,
    pub intended_orders_fen: i64,
    pub signed_export_orders_fen: i64,
}

/// Decides recording (or replacing) the outcome of `r`: only a confirmed registration has one.
pub fn decide(r: &Registration, f: Figures, now: DateTime<Utc>) -> Result<Outcome, Refused> {
    if r.status != Status::Confirmed {
        return Err(Refused::NoOutcomeUnlessConfirmed(r.status));
    }
    Ok(Outcome {
        registration_id: r.id,
        fair_id: r.fair_id,
        uscc: r.uscc.clone(),
        leads: f.leads,
        intended_orders_fen: f.intended_orders_fen,
        signed_export_orders_fen: f.signed_export_orders_fen,
        recorded_at: now,
    })
}

/// Counts and totals of one fair.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FairReport {
    pub invitations: i64,
    pub confirmed: i64,
    pub waitlisted: i64,
    pub cancelled: i64,
    pub booths_taken: i64,
    pub outcomes: Vec<Outcome>,
    pub subsidies_fen: i64,
}

impl FairReport {
    /// The report of a fair's registrations, with its other figures.
    pub fn of(
        registrations: &[Registration],
        invitations: i64,
        outcomes: Vec<Outcome>,
        subsidies_fen: i64,
    ) -> Self {
        let count = |s: Status| registrations.iter().filter(|r| r.status == s).count() as i64;
        FairReport {
            invitations,
            confirmed: count(Status::Confirmed),
            waitlisted: count(Status::Waitlisted),
            cancelled: count(Status::Cancelled),
            booths_taken: registrations
                .iter()
                .filter(|r| r.status == Status::Confirmed)
                .map(|r| i64::from(r.draw.total()))
                .sum(),
            outcomes,
            subsidies_fen,
        }
    }
}

/// One year of an enterprise's fairs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Year {
    pub year: i32,
    pub fairs: i32,
    pub intended_orders_fen: i64,
    pub signed_export_orders_fen: i64,
    pub census_export_sales_fen: Option<i64>,
}

impl Year {
    /// Census export sales over intended orders, percent.
    pub fn follow_through_percent(&self) -> Option<f64> {
        match (self.census_export_sales_fen, self.intended_orders_fen) {
            (Some(census), intended) if intended > 0 => {
                Some(census as f64 * 100.0 / intended as f64)
            }
            _ => None,
        }
    }
}

/// An enterprise's years: `confirmed` holds the start of each fair it was confirmed for,
/// `outcomes` its outcomes with the start of their fair, `exports` its census export sales
/// per period.
pub fn years(
    confirmed: &[DateTime<Utc>],
    outcomes: &[(Outcome, DateTime<Utc>)],
    exports: &[(Period, i64)],
) -> Vec<Year> {
    let mut years: BTreeMap<i32, Year> = BTreeMap::new();
    let mut year_of = |starts_at: &DateTime<Utc>| -> i32 {
        let year = starts_at.year();
        years.entry(year).or_insert_with(|| Year {
            year,
            ..Year::default()
        });
        year
    };
    let confirmed: Vec<i32> = confirmed.iter().map(&mut year_of).collect();
    let outcome_years: Vec<i32> = outcomes.iter().map(|(_, s)| year_of(s)).collect();
    for year in confirmed {
        if let Some(y) = years.get_mut(&year) {
            y.fairs += 1;
        }
    }
    for ((o, _), year) in outcomes.iter().zip(outcome_years) {
        if let Some(y) = years.get_mut(&year) {
            // Saturating: outcomes recorded before the API bounded them may add past i64.
            y.intended_orders_fen = y.intended_orders_fen.saturating_add(o.intended_orders_fen);
            y.signed_export_orders_fen = y
                .signed_export_orders_fen
                .saturating_add(o.signed_export_orders_fen);
        }
    }
    for year in years.values_mut() {
        let of_year: Vec<(Period, i64)> = exports
            .iter()
            .filter(|(p, _)| p.end().year() == year.year)
            .copied()
            .collect();
        year.census_export_sales_fen = annual_export_sales(&of_year);
    }
    years.into_values().collect()
}

/// Signed export orders per year of the fairs' start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportTotal {
    pub year: i32,
    pub fairs: i64,
    pub signed_export_orders_fen: i64,
    pub intended_orders_fen: i64,
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn outcome(intended: i64) -> Outcome {
        Outcome {
            registration_id: Uuid::nil(),
            fair_id: Uuid::nil(),
            uscc: "x".into(),
            leads: 1,
            intended_orders_fen: intended,
            signed_export_orders_fen: intended / 2,
            recorded_at: Utc.with_ymd_and_hms(2025, 6, 1, 0, 0, 0).unwrap(),
        }
    }

    #[test]
    fn years_count_fairs_and_follow_intended_orders_through_to_census_sales() {
        let y2025 = Utc.with_ymd_and_hms(2025, 4, 15, 0, 0, 0).unwrap();
        let y2026 = Utc.with_ymd_and_hms(2026, 4, 15, 0, 0, 0).unwrap();
        let exports = [(Period::parse("2025").unwrap(), 300)];
        let years = years(
            &[y2025, y2025, y2026],
            &[(outcome(200), y2025), (outcome(400), y2025)],
            &exports,
        );
        assert_eq!(years.len(), 2);
        assert_eq!((years[0].year, years[0].fairs), (2025, 2));
        assert_eq!(years[0].intended_orders_fen, 600);
        assert_eq!(years[0].census_export_sales_fen, Some(300));
        assert_eq!(years[0].follow_through_percent(), Some(50.0));
        assert_eq!((years[1].year, years[1].fairs), (2026, 1));
        assert_eq!(years[1].follow_through_percent(), None);
    }
}
