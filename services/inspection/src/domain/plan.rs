//! The yearly plan of a department (双随机): per tier, exactly ceil(ratio × firms that can be
//! drawn) firms at random, and two inspectors at random from the department's roster for
//! each. The draw is a pure function of the seed and the sorted inputs (ChaCha8), so the seed
//! stored with the plan redraws it identically. White-listed firms cannot be drawn unless
//! every item of the plan is a safety item.
//!
//! A firm's tasks of all departments' plans fall within `plan_spread_days` after one anchor
//! day of its own (a hash of the USCC and the year), so they can be merged into one visit
//! (综合查一次); the day within the spread is drawn, then moved to the next working day.

use chrono::{Datelike, Duration, NaiveDate};
use platform::{auth::Department, calendar::Calendar};
use rand::{Rng, SeedableRng, seq::index::sample};
use rand_chacha::ChaCha8Rng;

use super::{Limits, tier::Tier};

/// An inspector of a department's roster (执法人员).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Inspector {
    /// Enforcement certificate number (执法证号).
    pub id: String,
    pub name: String,
    pub department: Department,
}

/// A firm that can be drawn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub uscc: String,
    pub name: String,
    pub tier: Tier,
    pub white_listed: bool,
}

/// The count of one tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TierDraw {
    pub tier: Tier,
    pub ratio_bp: u32,
    pub population: u32,
    pub drawn: u32,
}

/// One drawn firm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pick {
    pub uscc: String,
    pub name: String,
    pub tier: Tier,
    pub inspectors: Vec<Inspector>,
    pub planned_on: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draw {
    pub tiers: Vec<TierDraw>,
    pub picks: Vec<Pick>,
}

/// What the draw needs besides the firms.
#[derive(Debug, Clone)]
pub struct DrawInput<'a> {
    pub year: i32,
    pub seed: u64,
    /// Every item of the plan concerns safety: the white list does not apply.
    pub safety_only: bool,
    pub roster: &'a [Inspector],
    pub limits: &'a Limits,
    pub calendar: &'a Calendar,
}

/// Why a plan cannot be drawn or filed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanRefused {
    #[error("the roster of {0} has {1} inspectors: two per visit are drawn, at least 2 are needed")]
    RosterTooSmall(&'static str, usize),
    #[error("item {0} is not on the department's list")]
    UnknownItem(String),
    #[error("item {0} is not a routine item: a yearly plan checks routine items")]
    NotRoutine(String),
    #[error("{0} has already filed its plan for {1}: plan {2}")]
    Exists(&'static str, i32, String),
    #[error("year {0} is outside 2000 to 2100")]
    Year(i32),
}

/// A filed plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub code: String,
    pub department: Department,
    pub year: i32,
    pub seed: u64,
    pub item_codes: Vec<String>,
    pub tiers: Vec<TierDraw>,
    pub tasks: Vec<super::visit::Task>,
    pub filed_at: chrono::DateTime<chrono::Utc>,
    pub filed_by: String,
}

/// Two inspectors drawn from `roster` with `seed` (fewer when the roster is smaller).
pub fn two_inspectors(roster: &[Inspector], seed: u64) -> Vec<Inspector> {
    let mut roster = roster.to_vec();
    roster.sort();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut two = sample(&mut rng, roster.len(), roster.len().min(2)).into_vec();
    two.sort_unstable();
    two.into_iter().map(|i| roster[i].clone()).collect()
}

/// A plan checks routine items of its department's list: whether every one concerns safety
/// (the white list then does not apply) and whether every one can be done off site.
pub fn plan_items(
    items: &[super::item::Item],
    department: Department,
    codes: &[String],
) -> Result<(bool, bool), PlanRefused> {
    let mut safety_only = true;
    let mut off_site = true;
    for code in codes {
        let item = items
            .iter()
            .find(|i| i.department == department && i.code == *code)
            .ok_or_else(|| PlanRefused::UnknownItem(code.clone()))?;
        if item.kind != super::item::ItemKind::Routine {
            return Err(PlanRefused::NotRoutine(code.clone()));
        }
        safety_only &= item.safety;
        off_site &= item.off_site;
    }
    Ok((safety_only, off_site))
}

/// How many of `population` firms a ratio draws: ceil(ratio × population).
pub fn quota(ratio_bp: u32, population: u32) -> u32 {
    let q = (u64::from(ratio_bp) * u64::from(population)).div_ceil(10_000);
    u32::try_from(q).unwrap_or(u32::MAX).min(population)
}

/// The plan code of a department's plan of a year (计划编号).
pub fn plan_code(department: Department, year: i32) -> String {
    format!("JC-{year}-{}", department.as_str().to_uppercase())
}

/// The firm's anchor day of a year: FNV-1a of the USCC and the year, within the year so
/// that the spread still ends in it.
pub fn anchor(uscc: &str, year: i32, spread_days: u32) -> NaiveDate {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in uscc.bytes().chain(year.to_be_bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    let first = NaiveDate::from_ymd_opt(year, 1, 1).unwrap_or(NaiveDate::MIN);
    let days: u32 = if first.leap_year() { 366 } else { 365 };
    // Room for the spread and for moving to a working day at the end.
    let room = days.saturating_sub(spread_days + 14).max(1);
    first + Duration::days(i64::try_from(hash % u64::from(room)).unwrap_or(0))
}

/// The first working day on or after `day`.
pub fn working_day_from(calendar: &Calendar, day: NaiveDate) -> NaiveDate {
    let mut day = day;
    for _ in 0..60 {
        if calendar.is_working_day(day) {
            return day;
        }
        day = day.succ_opt().unwrap_or(day);
    }
    day
}

/// Draws the plan from `firms` (any order).
pub fn draw(firms: &[Candidate], input: &DrawInput<'_>) -> Result<Draw, PlanRefused> {
    if !(2000..=2100).contains(&input.year) {
        return Err(PlanRefused::Year(input.year));
    }
    let mut roster = input.roster.to_vec();
    roster.sort();
    if roster.len() < 2 {
        let department = roster
            .first()
            .map_or("the department", |i| i.department.as_str());
        return Err(PlanRefused::RosterTooSmall(department, roster.len()));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(input.seed);
    let mut tiers = Vec::new();
    let mut picks = Vec::new();
    for tier in Tier::ALL {
        let mut population: Vec<&Candidate> = firms
            .iter()
            .filter(|f| f.tier == tier && (input.safety_only || !f.white_listed))
            .collect();
        population.sort_by(|a, b| a.uscc.cmp(&b.uscc));
        let ratio_bp = input.limits.ratios_bp[tier.index()];
        let size = u32::try_from(population.len()).unwrap_or(u32::MAX);
        let drawn = quota(ratio_bp, size);
        tiers.push(TierDraw {
            tier,
            ratio_bp,
            population: size,
            drawn,
        });
        let mut chosen = sample(&mut rng, population.len(), drawn as usize).into_vec();
        chosen.sort_unstable();
        for index in chosen {
            picks.push(pick(population[index], &roster, &mut rng, input));
        }
    }
    Ok(Draw { tiers, picks })
}

fn pick(
    firm: &Candidate,
    roster: &[Inspector],
    rng: &mut ChaCha8Rng,
    input: &DrawInput<'_>,
) -> Pick {
    let mut two = sample(rng, roster.len(), 2).into_vec();
    two.sort_unstable();
    let spread = input.limits.plan_spread_days.max(1);
    let offset = rng.random_range(0..spread);
    let day = anchor(&firm.uscc, input.year, spread) + Duration::days(i64::from(offset));
    Pick {
        uscc: firm.uscc.clone(),
        name: firm.name.clone(),
        tier: firm.tier,
        inspectors: two.into_iter().map(|i| roster[i].clone()).collect(),
        planned_on: working_day_from(input.calendar, day),
    }
}

/// The year a day is in (for counting per year).
pub fn year_of(day: NaiveDate) -> i32 {
    day.year()
}

#[cfg(test)]
mod tests;
