//! The caps on open server streams: per principal and per process. A slot is taken when the
//! call arrives and travels with the response body ([`super::super::held`]), so it is given
//! back when the stream ends or its client goes away.

use std::{
    collections::HashMap,
    hash::Hash,
    sync::{Arc, Mutex},
};

/// Why a stream was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Full {
    /// The principal holds its cap of streams.
    Principal(usize),
    /// The process holds its cap of streams.
    Process(usize),
}

/// Open streams by key (the principal).
pub struct StreamCaps<K: Hash + Eq> {
    per_key: usize,
    max: usize,
    open: Arc<Mutex<Open<K>>>,
}

struct Open<K> {
    total: usize,
    by_key: HashMap<K, usize>,
}

/// One open stream; dropping it frees its slot.
pub struct Slot<K: Hash + Eq> {
    key: Option<K>,
    open: Arc<Mutex<Open<K>>>,
}

impl<K: Hash + Eq + Clone> StreamCaps<K> {
    pub fn new(per_key: usize, max: usize) -> Self {
        Self {
            per_key,
            max,
            open: Arc::new(Mutex::new(Open {
                total: 0,
                by_key: HashMap::new(),
            })),
        }
    }

    /// A slot for one more stream of `key`, or which cap is full.
    pub fn open(&self, key: &K) -> Result<Slot<K>, Full> {
        // A poisoned lock only means another call panicked mid-update; the counts are sound.
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let held = open.by_key.get(key).copied().unwrap_or(0);
        if held >= self.per_key {
            return Err(Full::Principal(self.per_key));
        }
        if open.total >= self.max {
            return Err(Full::Process(self.max));
        }
        open.total += 1;
        *open.by_key.entry(key.clone()).or_insert(0) += 1;
        Ok(Slot {
            key: Some(key.clone()),
            open: self.open.clone(),
        })
    }
}

impl<K: Hash + Eq> Drop for Slot<K> {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.total -= 1;
        if let Some(key) = self.key.take()
            && let Some(held) = open.by_key.get_mut(&key)
        {
            *held -= 1;
            if *held == 0 {
                open.by_key.remove(&key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_principal_has_its_cap_and_the_process_has_one_over_all() {
        let caps = StreamCaps::new(2, 3);
        let finance = [
            caps.open(&"finance").unwrap(),
            caps.open(&"finance").unwrap(),
        ];
        assert_eq!(caps.open(&"finance").err(), Some(Full::Principal(2)));
        let tax = caps.open(&"tax").unwrap();
        assert_eq!(
            caps.open(&"commerce").err(),
            Some(Full::Process(3)),
            "three open in the process"
        );
        drop(tax);
        let commerce = caps.open(&"commerce").unwrap();
        let [first, _second] = finance;
        drop(first);
        let _tax = caps.open(&"tax").expect("a freed slot is free again");
        assert_eq!(caps.open(&"finance").err(), Some(Full::Process(3)));
        drop(commerce);
    }
}
