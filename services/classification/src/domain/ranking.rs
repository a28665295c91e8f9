//! Ranking: graded firms ordered by score within their cohort and placed by quota.
//!
//! **Tie rule.** Firms are ordered by score, higher first, and on an exactly equal score by
//! USCC ascending. So when equal scores straddle a class boundary, the firm whose code sorts
//! first takes the better class, and the class counts stay exactly the quotas. The rule was
//! chosen over "all tied firms take the better class" because that rule breaks the quotas
//! exactly where it matters most: a cohort whose figures are missing scores 0 throughout and
//! would be placed entirely in A. Exact ties need identical figures (scores are computed the
//! same way for everyone), a rare event that the published ranking and an objection
//! (override) settle case by case.
//!
//! **Veto (一票否决).** A vetoed firm keeps its rank (its score's position) but is placed in C;
//! the A and B seats are filled by the best firms without a veto. Class counts therefore stay
//! the quotas whenever enough firms are eligible.
//!
//! **Speed.** A counting pass groups the firms by cohort; each cohort is then one
//! `sort_unstable` of plain `u64` keys: the score as an order-preserving integer, its lowest
//! bits replaced by the firm's index. Keys that agree above the index bits (equal or nearly
//! equal scores, a relative difference under about 2^-40 for a million firms) are re-sorted
//! exactly, by full score then USCC, so the order is exact while the sort itself costs what
//! sorting as many `f64` does. Classes are then assigned by position in one pass.

use super::{Class, Quotas};

/// A graded firm as the ranking sees it.
#[derive(Clone, Copy, Debug)]
pub struct Candidate<'a> {
    pub uscc: &'a str,
    /// Dense cohort number (the segment's index in the period).
    pub cohort: u32,
    pub score: f64,
    pub vetoed: bool,
}

/// Where a candidate was placed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placement {
    /// 1 = best in the cohort.
    pub rank: u32,
    /// Graded firms in the cohort.
    pub cohort_size: u32,
    pub class: Class,
}

/// An integer that orders like the score, best (highest) first. NaN counts as the worst
/// score and −0 as 0, so every input has one place.
pub fn descending_key(score: f64) -> u64 {
    let score = if score.is_nan() {
        f64::NEG_INFINITY
    } else if score == 0.0 {
        0.0
    } else {
        score
    };
    let bits = score.to_bits();
    let ascending = if bits >> 63 == 1 {
        !bits
    } else {
        bits | 1 << 63
    };
    !ascending
}

/// Ranks and places every candidate; the result is in the candidates' order and does not
/// depend on it (given distinct USCCs).
pub fn rank(candidates: &[Candidate<'_>], quotas: &Quotas) -> Vec<Placement> {
    let placeholder = Placement {
        rank: 0,
        cohort_size: 0,
        class: Class::C,
    };
    let mut placements = vec![placeholder; candidates.len()];
    rank_by(
        candidates.len(),
        |i| (candidates[i].cohort, candidates[i].score),
        |i| candidates[i].uscc,
        |i| candidates[i].vetoed,
        quotas,
        |i, placement| placements[i] = placement,
    );
    placements
}

/// [`rank`] over `n` firms described by accessors, so a caller need neither build candidates
/// nor collect placements (at a million firms, fresh memory costs as much as the sort):
/// `key_of(i)` is firm i's (dense cohort number, score); `place(i, placement)` receives
/// each firm's placement once.
pub fn rank_by<'a>(
    n: usize,
    key_of: impl Fn(usize) -> (u32, f64),
    uscc_of: impl Fn(usize) -> &'a str,
    vetoed_of: impl Fn(usize) -> bool,
    quotas: &Quotas,
    place: impl FnMut(usize, Placement),
) {
    let index_mask = index_mask(n);
    // Counting sort by cohort: `starts[c]..starts[c + 1]` will hold cohort c.
    let cohort_count = (0..n).map(|i| key_of(i).0 as usize + 1).max().unwrap_or(0);
    let mut starts = vec![0usize; cohort_count + 1];
    for i in 0..n {
        starts[key_of(i).0 as usize + 1] += 1;
    }
    for c in 0..cohort_count {
        starts[c + 1] += starts[c];
    }
    let mut fill = starts.clone();
    let mut keys = vec![0u64; n];
    for i in 0..n {
        let (cohort, score) = key_of(i);
        keys[fill[cohort as usize]] = sort_key(score, i, index_mask);
        fill[cohort as usize] += 1;
    }
    order_cohorts(&mut keys, &starts, index_mask, |i| key_of(i).1, uscc_of);
    place_cohorts(&keys, &starts, index_mask, vetoed_of, quotas, place);
}

/// The low bits of a sort key that hold the index of one of `n` firms.
pub fn index_mask(n: usize) -> u64 {
    let index_bits = usize::BITS - n.max(1).leading_zeros();
    (1u64 << index_bits) - 1
}

/// Firm `index`'s sort key: the score's [`descending_key`] with its lowest bits replaced by
/// the index.
pub fn sort_key(score: f64, index: usize, index_mask: u64) -> u64 {
    (descending_key(score) & !index_mask) | index as u64
}

/// Sorts each cohort's keys (`keys[starts[c]..starts[c + 1]]`, made by [`sort_key`]) into
/// the ranking's exact order: by score, best first, then USCC ascending. `score_of` and
/// `uscc_of` take a key's index.
pub fn order_cohorts<'a>(
    keys: &mut [u64],
    starts: &[usize],
    index_mask: u64,
    score_of: impl Fn(usize) -> f64,
    uscc_of: impl Fn(usize) -> &'a str,
) {
    for bounds in starts.windows(2) {
        let cohort = &mut keys[bounds[0]..bounds[1]];
        cohort.sort_unstable();
        // Runs equal above the index bits: in exact order, by full score then USCC.
        for run in cohort.chunk_by_mut(|x, y| x & !index_mask == y & !index_mask) {
            if run.len() > 1 {
                run.sort_unstable_by(|x, y| {
                    let (x, y) = ((x & index_mask) as usize, (y & index_mask) as usize);
                    descending_key(score_of(x))
                        .cmp(&descending_key(score_of(y)))
                        .then_with(|| uscc_of(x).cmp(uscc_of(y)))
                });
            }
        }
    }
}

/// Places each cohort's firms, its keys in ranking order ([`order_cohorts`]): rank by
/// position, classes by quota, a vetoed firm in C. `place(index, placement)` is called once
/// per key.
pub fn place_cohorts(
    keys: &[u64],
    starts: &[usize],
    index_mask: u64,
    vetoed_of: impl Fn(usize) -> bool,
    quotas: &Quotas,
    mut place: impl FnMut(usize, Placement),
) {
    for bounds in starts.windows(2) {
        let cohort = &keys[bounds[0]..bounds[1]];
        let counts = quotas.counts(cohort.len());
        let (mut a_left, mut b_left) = (counts.a, counts.b);
        for (position, key) in cohort.iter().enumerate() {
            let index = (key & index_mask) as usize;
            let class = if vetoed_of(index) {
                Class::C
            } else if a_left > 0 {
                a_left -= 1;
                Class::A
            } else if b_left > 0 {
                b_left -= 1;
                Class::B
            } else {
                Class::C
            };
            place(
                index,
                Placement {
                    rank: position as u32 + 1,
                    cohort_size: cohort.len() as u32,
                    class,
                },
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::*;

    fn codes(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("91210381MA{i:08}")).collect()
    }

    fn classes(scores: &[f64], vetoed: &[usize]) -> Vec<Class> {
        let codes = codes(scores.len());
        let candidates: Vec<Candidate> = scores
            .iter()
            .enumerate()
            .map(|(i, &score)| Candidate {
                uscc: &codes[i],
                cohort: 0,
                score,
                vetoed: vetoed.contains(&i),
            })
            .collect();
        rank(&candidates, &Quotas::default())
            .into_iter()
            .map(|p| p.class)
            .collect()
    }

    #[test]
    fn the_key_orders_like_the_score_best_first() {
        let scores = [
            f64::INFINITY,
            150.0,
            1.5,
            0.0,
            -0.0,
            -2.0,
            f64::NEG_INFINITY,
        ];
        let keys: Vec<u64> = scores.iter().map(|s| descending_key(*s)).collect();
        assert!(keys.windows(2).all(|w| w[0] <= w[1]), "{keys:?}");
        assert_eq!(descending_key(0.0), descending_key(-0.0));
        assert_eq!(descending_key(f64::NAN), descending_key(f64::NEG_INFINITY));
    }

    #[test]
    fn equal_scores_at_a_boundary_go_by_uscc_ascending() {
        // Ten firms, all tied: A = 1, B = 3, C = 6 by code order.
        let placed = classes(&[50.0; 10], &[]);
        assert_eq!(placed[0], Class::A);
        assert_eq!(&placed[1..4], &[Class::B; 3]);
        assert_eq!(&placed[4..], &[Class::C; 6]);
    }

    #[test]
    fn a_vetoed_firm_goes_to_c_and_the_next_eligible_takes_its_seat() {
        let placed = classes(
            &[90.0, 80.0, 70.0, 60.0, 50.0, 40.0, 30.0, 20.0, 10.0, 5.0],
            &[0],
        );
        assert_eq!(placed[0], Class::C);
        assert_eq!(placed[1], Class::A);
        assert_eq!(&placed[2..5], &[Class::B; 3]);
        assert_eq!(placed.iter().filter(|c| **c == Class::C).count(), 6);
    }

    #[test]
    fn scores_closer_than_the_key_resolution_are_still_ordered_exactly() {
        // Differences in the last bits of the score fall into the index bits of the key.
        let base = 80.0f64;
        let scores = [
            base,
            f64::from_bits(base.to_bits() + 1),
            f64::from_bits(base.to_bits() + 2),
            base,
        ];
        let codes = codes(4);
        let candidates: Vec<Candidate> = (0..4)
            .map(|i| Candidate {
                uscc: &codes[i],
                cohort: 0,
                score: scores[i],
                vetoed: false,
            })
            .collect();
        let ranks: Vec<u32> = rank(&candidates, &Quotas::default())
            .into_iter()
            .map(|p| p.rank)
            .collect();
        assert_eq!(
            ranks,
            [3, 2, 1, 4],
            "higher score first, then USCC ascending"
        );
    }

    #[test]
    fn cohorts_are_ranked_separately() {
        let codes = codes(4);
        let candidates: Vec<Candidate> = (0..4)
            .map(|i| Candidate {
                uscc: &codes[i],
                cohort: (i % 2) as u32,
                score: i as f64,
                vetoed: false,
            })
            .collect();
        let placed = rank(&candidates, &Quotas::default());
        assert_eq!(
            placed
                .iter()
                .map(|p| (p.rank, p.cohort_size))
                .collect::<Vec<_>>(),
            [(2, 2), (2, 2), (1, 2), (1, 2)]
        );
    }

    fn arb_cohort() -> impl Strategy<Value = Vec<(u8, u8, bool)>> {
        // (score bucket, cohort, vetoed): few buckets, so ties are common.
        prop::collection::vec((0u8..20, 0u8..3, prop::bool::weighted(0.1)), 0..300)
    }

    fn run(
        firms: &[(u8, u8, bool)],
        codes: &[String],
        order: &[usize],
    ) -> HashMap<String, Placement> {
        let candidates: Vec<Candidate> = order
            .iter()
            .map(|&i| Candidate {
                uscc: &codes[i],
                cohort: u32::from(firms[i].1),
                score: f64::from(firms[i].0),
                vetoed: firms[i].2,
            })
            .collect();
        let placed = rank(&candidates, &Quotas::default());
        order
            .iter()
            .zip(placed)
            .map(|(&i, p)| (codes[i].clone(), p))
            .collect()
    }

    proptest! {
        #[test]
        fn counts_sum_to_each_cohort_and_follow_the_quotas(firms in arb_cohort()) {
            let codes = codes(firms.len());
            let order: Vec<usize> = (0..firms.len()).collect();
            let placed = run(&firms, &codes, &order);
            for cohort in 0..3u8 {
                let members: Vec<usize> = (0..firms.len()).filter(|&i| firms[i].1 == cohort).collect();
                let counts = Quotas::default().counts(members.len());
                let eligible = members.iter().filter(|&&i| !firms[i].2).count();
                let count = |class| members.iter().filter(|&&i| placed[&codes[i]].class == class).count();
                prop_assert_eq!(count(Class::A) + count(Class::B) + count(Class::C), members.len());
                prop_assert_eq!(count(Class::A), counts.a.min(eligible));
                prop_assert_eq!(count(Class::B), counts.b.min(eligible - count(Class::A)));
                let mut ranks: Vec<u32> = members.iter().map(|&i| placed[&codes[i]].rank).collect();
                ranks.sort_unstable();
                prop_assert_eq!(ranks, (1..=members.len() as u32).collect::<Vec<_>>());
            }
        }

        #[test]
        fn the_result_does_not_depend_on_input_order(firms in arb_cohort(), seed in any::<u64>()) {
            let codes = codes(firms.len());
            let order: Vec<usize> = (0..firms.len()).collect();
            let mut shuffled = order.clone();
            // A deterministic shuffle from the seed (Fisher-Yates with an LCG).
            let mut state = seed;
            for i in (1..shuffled.len()).rev() {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                shuffled.swap(i, (state >> 33) as usize % (i + 1));
            }
            prop_assert_eq!(run(&firms, &codes, &order), run(&firms, &codes, &shuffled));
        }

        #[test]
        fn raising_one_score_never_lowers_its_class(
            firms in arb_cohort().prop_filter("non-empty", |f| !f.is_empty()),
            pick in any::<prop::sample::Index>(),
            raise in 1u8..30,
        ) {
            let codes = codes(firms.len());
            let order: Vec<usize> = (0..firms.len()).collect();
            let who = pick.index(firms.len());
            let before = run(&firms, &codes, &order)[&codes[who]];
            let mut raised = firms.clone();
            raised[who].0 = raised[who].0.saturating_add(raise);
            let after = run(&raised, &codes, &order)[&codes[who]];
            // A is the smallest variant: "better or equal" is "less or equal".
            prop_assert!(after.class <= before.class, "{:?} -> {:?}", before, after);
            prop_assert!(after.rank <= before.rank);
        }
    }
}
