//! Token buckets, one per key (a principal and a method group), with the time passed in so
//! tests drive them without waiting.
//!
//! A bucket holds up to `burst` tokens and refills at the rate; a call takes one token or is
//! told how long until one is there. Memory stays bounded: once the map holds
//! [`SWEEP_AT`] buckets, the full ones are dropped (a full bucket is the same as none), so it
//! keeps only the keys that called within the last `burst / rate` seconds. The next sweep
//! waits until the map has doubled, so many active keys do not cost a sweep per call.

use std::{
    collections::HashMap,
    hash::Hash,
    sync::Mutex,
    time::{Duration, Instant},
};

use super::config::Rate;

/// Buckets kept before the full ones are swept out.
pub const SWEEP_AT: usize = 4096;

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    /// The bucket refilled up to `now`.
    fn refilled(self, rate: &Rate, now: Instant) -> Self {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        Self {
            tokens: (self.tokens + elapsed * rate.per_second()).min(f64::from(rate.burst)),
            at: now.max(self.at),
        }
    }
}

/// The buckets of one rate, by key.
pub struct Buckets<K> {
    rate: Rate,
    buckets: Mutex<Map<K>>,
}

struct Map<K> {
    buckets: HashMap<K, Bucket>,
    /// The size at which the next sweep runs.
    sweep_at: usize,
}

impl<K: Hash + Eq + Clone> Buckets<K> {
    pub fn new(rate: Rate) -> Self {
        Self {
            rate,
            buckets: Mutex::new(Map {
                buckets: HashMap::new(),
                sweep_at: SWEEP_AT,
            }),
        }
    }

    pub fn rate(&self) -> &Rate {
        &self.rate
    }

    /// Takes a token of `key`'s bucket at `now`: `Ok`, or `Err(wait)` until the next token.
    pub fn take(&self, key: &K, now: Instant) -> Result<(), Duration> {
        let rate = &self.rate;
        // A poisoned lock only means another call panicked mid-update; the map is still sound.
        let mut map = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let Map { buckets, sweep_at } = &mut *map;
        if buckets.len() >= *sweep_at && !buckets.contains_key(key) {
            let full = f64::from(rate.burst);
            buckets.retain(|_, bucket| bucket.refilled(rate, now).tokens < full);
            *sweep_at = SWEEP_AT.max(buckets.len() * 2);
        }
        let bucket = buckets.entry(key.clone()).or_insert(Bucket {
            tokens: f64::from(rate.burst),
            at: now,
        });
        *bucket = bucket.refilled(rate, now);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - bucket.tokens) / rate.per_second();
            // At least a millisecond, so a client never reads "retry in 0s".
            Err(Duration::from_secs_f64(wait).max(Duration::from_millis(1)))
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.buckets.lock().unwrap().buckets.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(text: &str) -> Rate {
        text.parse::<super::super::config::RateLimit>()
            .unwrap()
            .0
            .unwrap()
    }

    #[test]
    fn a_burst_then_the_rate_and_the_wait_until_the_next_token() {
        let buckets = Buckets::new(rate("2/s,3"));
        let start = Instant::now();
        for _ in 0..3 {
            assert_eq!(buckets.take(&"finance", start), Ok(()));
        }
        assert_eq!(
            buckets.take(&"finance", start),
            Err(Duration::from_millis(500)),
            "one token every half second"
        );
        assert_eq!(
            buckets.take(&"tax", start),
            Ok(()),
            "another key has its own"
        );
        let later = start + Duration::from_millis(500);
        assert_eq!(buckets.take(&"finance", later), Ok(()));
        assert!(buckets.take(&"finance", later).is_err());
        // A long quiet spell refills no more than the burst.
        let much_later = start + Duration::from_secs(3600);
        for _ in 0..3 {
            assert_eq!(buckets.take(&"finance", much_later), Ok(()));
        }
        assert!(buckets.take(&"finance", much_later).is_err());
    }

    #[test]
    fn full_buckets_are_swept_when_the_map_is_large() {
        let buckets = Buckets::new(rate("1/s,2"));
        let start = Instant::now();
        for key in 0..SWEEP_AT {
            buckets.take(&key, start).unwrap();
        }
        assert_eq!(buckets.len(), SWEEP_AT);
        // Key 0 keeps calling; the others are full again a second later.
        buckets.take(&0, start + Duration::from_millis(10)).unwrap();
        let later = start + Duration::from_secs(1);
        buckets.take(&usize::MAX, later).unwrap();
        assert_eq!(
            buckets.len(),
            2,
            "the caller still below its burst and the new one"
        );
        assert!(
            buckets.take(&0, later).is_ok(),
            "key 0 kept its (nearly full) bucket"
        );
        assert!(buckets.take(&0, later).is_err(), "and its count");
    }
}
