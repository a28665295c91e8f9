//! Re-ranking a cohort in the domain: classification's `classify_columns` (benchmarks,
//! scores, the ranking and the classes) over the columns of one segment of `firms` firms, as
//! the store hands them over (each firm's grading and indicator values computed as its row is
//! read, timed apart in the note), beside sorting as many `f64`. In process, no I/O.

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use classification::domain::{
    Figures, Firm, Model, Period,
    evaluation::{Columns, classify_columns},
};
use platform::Segment;

use crate::table::{Row, Side, Target};

/// A small deterministic generator (SplitMix64): the same figures in every run.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..hi`.
    fn between(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo) as u64) as i64
    }
}

fn firms(count: usize) -> Vec<Firm> {
    let mut random = SplitMix(13);
    (0..count)
        .map(|i| Firm {
            uscc: format!("91210381MA{i:08}"),
            segment: Segment::Textile,
            industry_class: "1711".into(),
            registration_date: NaiveDate::from_ymd_opt(2010, 1, 1),
            active: true,
            vetoed: i % 50 == 0,
            figures: Figures {
                employees_total: random.between(10, 2_000),
                rd_spend_fen: random.between(0, 500_000_000),
                revenue_fen: random.between(1_000_000_000, 90_000_000_000),
                industrial_output_fen: random.between(1_000_000_000, 80_000_000_000),
                tax_paid_fen: random.between(1_000_000, 2_000_000_000),
                export_sales_fen: random.between(0, 1_000_000_000),
                automation_share_percent: random.between(0, 100) as f64,
                patents: random.between(0, 40),
                land_used_centi_mu: random.between(500, 50_000),
                energy_use_tce: Some(random.between(10, 10_000) as f64),
            },
        })
        .collect()
}

/// The best of `rounds` runs of each side (the least disturbed by other work on the machine).
pub fn run(count: usize, rounds: usize) -> Row {
    let firms = firms(count);
    let model = Model::default();
    let period = Period::parse("2025").expect("a valid period");
    let mut random = SplitMix(17);
    let scores: Vec<f64> = (0..count)
        .map(|_| random.next() as f64 / u64::MAX as f64 * 100.0)
        .collect();
    let (mut platform, mut limit, mut build) = (Duration::MAX, Duration::MAX, Duration::MAX);
    for _ in 0..rounds.max(1) {
        // What the store does as it reads each row.
        let started = Instant::now();
        let mut columns = Columns::with_capacity(&model, &period, firms.len());
        for firm in &firms {
            columns.push(firm.view());
        }
        build = build.min(started.elapsed());

        let started = Instant::now();
        let result = classify_columns(&columns);
        platform = platform.min(started.elapsed());
        assert_eq!(result.evaluations.len(), count);
        drop(result);

        let mut sorted = scores.clone();
        let started = Instant::now();
        sorted.sort_unstable_by(|a, b| b.total_cmp(a));
        limit = limit.min(started.elapsed());
        assert!(sorted.first() >= sorted.last());
    }
    let n = count as u64;
    Row {
        path: format!(
            "re-rank a cohort of {count} firms in the domain (limit: sorting {count} f64), best of {rounds}"
        ),
        unit: "firms",
        platform: Side::once(n, platform),
        limit: Some(Side::once(n, limit)),
        target: Target::SlowerAtMost(3.0),
        note: format!(
            "building the columns from the rows (the store's part, not timed above): {:.0} ms",
            build.as_secs_f64() * 1e3
        ),
        cpu: None,
    }
}
