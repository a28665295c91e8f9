//! Quotas: how many of a cohort of n go to A, B and C.
//!
//! **Rounding: largest remainder (Hamilton).** Each class's exact share n × p is split into
//! its whole part and a remainder; every class gets its whole part, and the seats left over
//! (at most two) go one each to the classes with the largest remainders. The counts therefore
//! always sum to n exactly, and no class is ever more than one seat away from its exact share.
//! Equal remainders go to the lower class first (C before B before A): a tie in the
//! arithmetic never enlarges a privileged class.
//!
//! Shares are held as integers in millionths of the cohort (a percentage is rounded to four
//! decimals), so the arithmetic is exact: no floating-point error decides a seat.
//!
//! Examples with 10/30/60: n = 1 → 0/0/1; 2 → 0/1/1; 9 → 1/3/5; 10 → 1/3/6; 11 → 1/3/7;
//! 100 → 10/30/60.

/// One million: shares are in millionths.
const WHOLE: u64 = 1_000_000;

/// The shares of A and B (C takes the rest), in millionths of the cohort.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quotas {
    a: u64,
    b: u64,
}

impl Default for Quotas {
    /// 10 % A, 30 % B, 60 % C.
    fn default() -> Self {
        Self {
            a: 100_000,
            b: 300_000,
        }
    }
}

/// Class counts of one cohort.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct ClassCounts {
    pub a: usize,
    pub b: usize,
    pub c: usize,
}

impl ClassCounts {
    pub fn total(&self) -> usize {
        self.a + self.b + self.c
    }
}

impl Quotas {
    /// From percentages; `None` unless both are in 0..=100 and together at most 100.
    pub fn from_percent(a: f64, b: f64) -> Option<Self> {
        let millionths = |p: f64| {
            (p.is_finite() && (0.0..=100.0).contains(&p)).then(|| (p * 10_000.0).round() as u64)
        };
        let (a, b) = (millionths(a)?, millionths(b)?);
        (a + b <= WHOLE).then_some(Self { a, b })
    }

    /// The counts for a cohort of `n`, by largest remainder (see the module doc).
    pub fn counts(&self, n: usize) -> ClassCounts {
        let n = n as u64;
        let shares = [self.a, self.b, WHOLE - self.a - self.b];
        let exact = shares.map(|s| (n * s / WHOLE, n * s % WHOLE));
        let mut seats = exact.map(|(whole, _)| whole);
        let mut left = n - seats.iter().sum::<u64>();
        // Largest remainder first; on equal remainders the lower class (higher index) first.
        let mut order = [0usize, 1, 2];
        order.sort_by(|&x, &y| exact[y].1.cmp(&exact[x].1).then(y.cmp(&x)));
        for class in order {
            if left == 0 {
                break;
            }
            seats[class] += 1;
            left -= 1;
        }
        ClassCounts {
            a: seats[0] as usize,
            b: seats[1] as usize,
            c: seats[2] as usize,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn counts(n: usize) -> (usize, usize, usize) {
        let c = Quotas::default().counts(n);
        (c.a, c.b, c.c)
    }

    #[test]
    fn the_documented_examples_hold() {
        assert_eq!(counts(0), (0, 0, 0));
        assert_eq!(counts(1), (0, 0, 1));
        assert_eq!(counts(2), (0, 1, 1));
        assert_eq!(
            counts(5),
            (0, 2, 3),
            "equal remainders: the lower class first"
        );
        assert_eq!(counts(9), (1, 3, 5));
        assert_eq!(counts(10), (1, 3, 6));
        assert_eq!(counts(11), (1, 3, 7));
        assert_eq!(counts(100), (10, 30, 60));
        assert_eq!(counts(1_000_000), (100_000, 300_000, 600_000));
    }

    #[test]
    fn percentages_are_checked() {
        assert!(Quotas::from_percent(60.0, 50.0).is_none());
        assert!(Quotas::from_percent(-1.0, 10.0).is_none());
        assert!(Quotas::from_percent(f64::NAN, 10.0).is_none());
        assert_eq!(Quotas::from_percent(10.0, 30.0), Some(Quotas::default()));
        let thirds = Quotas::from_percent(100.0 / 3.0, 100.0 / 3.0).unwrap();
        assert_eq!(thirds.counts(3).total(), 3);
    }

    proptest! {
        #[test]
        fn counts_sum_to_the_cohort_and_stay_within_one_seat_of_the_exact_share(
            a in 0.0f64..=100.0, b_fraction in 0.0f64..=1.0, n in 0usize..5_000_000,
        ) {
            let b = (100.0 - a) * b_fraction;
            let quotas = Quotas::from_percent(a, b).unwrap();
            let c = quotas.counts(n);
            prop_assert_eq!(c.total(), n);
            let exact = |share: u64| n as f64 * share as f64 / WHOLE as f64;
            prop_assert!((c.a as f64 - exact(quotas.a)).abs() < 1.0 + 1e-9);
            prop_assert!((c.b as f64 - exact(quotas.b)).abs() < 1.0 + 1e-9);
        }
    }
}
