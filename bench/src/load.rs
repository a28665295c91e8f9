//! The load generator: a fixed number of callers, each issuing one request after the other,
//! until a request count or a time limit is reached, every latency recorded in an HDR
//! histogram. The same generator drives a gRPC method and the limit measured beside it, so
//! the two sides differ only in what one call does.

use std::{
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use hdrhistogram::Histogram;

/// How much load to apply.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    /// Callers issuing requests at once.
    pub callers: usize,
    /// Requests in all; the run stops after this many (or at `time`).
    pub requests: u64,
    /// The run stops after this time even if requests remain.
    pub time: Duration,
}

/// What a run measured.
#[derive(Debug, Clone)]
pub struct Measured {
    /// Requests that succeeded.
    pub done: u64,
    /// Requests that failed (counted, not timed).
    pub failed: u64,
    pub elapsed: Duration,
    /// Microseconds per request.
    pub latency: Histogram<u64>,
    /// The first failure, for the report.
    pub first_error: Option<String>,
}

impl Measured {
    /// Succeeded requests per second (`units` per request: rows of an import, say).
    pub fn per_second(&self) -> f64 {
        self.done as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub fn p50_ms(&self) -> f64 {
        self.latency.value_at_quantile(0.50) as f64 / 1e3
    }

    pub fn p99_ms(&self) -> f64 {
        self.latency.value_at_quantile(0.99) as f64 / 1e3
    }

    /// A measurement of one timed operation that did `units` of work (rows, messages).
    pub fn once(units: u64, elapsed: Duration) -> Self {
        let mut latency = new_histogram();
        let _ = latency.record(elapsed.as_micros().max(1) as u64);
        Self {
            done: units,
            failed: 0,
            elapsed,
            latency,
            first_error: None,
        }
    }
}

/// Microseconds from 1 µs to 10 min, three significant digits.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds")
}

/// Runs `call(caller, sequence)` from `bounds.callers` callers until the bounds are reached.
/// `sequence` numbers the requests 0, 1, 2… across all callers (each number is used once), so
/// a call can derive a distinct key from it.
pub async fn run<F, Fut, E>(bounds: Bounds, call: F) -> Measured
where
    F: Fn(usize, u64) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Result<(), E>> + Send,
    E: std::fmt::Display,
{
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + bounds.time;
    let mut tasks = Vec::with_capacity(bounds.callers);
    for caller in 0..bounds.callers.max(1) {
        let next = next.clone();
        let call = call.clone();
        tasks.push(tokio::spawn(async move {
            let mut latency = new_histogram();
            let (mut done, mut failed, mut first_error) = (0u64, 0u64, None);
            loop {
                let sequence = next.fetch_add(1, Ordering::Relaxed);
                if sequence >= bounds.requests || Instant::now() >= deadline {
                    break;
                }
                let t = Instant::now();
                match call(caller, sequence).await {
                    Ok(()) => {
                        done += 1;
                        let _ = latency.record(t.elapsed().as_micros().max(1) as u64);
                    }
                    Err(err) => {
                        failed += 1;
                        first_error.get_or_insert_with(|| err.to_string());
                    }
                }
            }
            (latency, done, failed, first_error)
        }));
    }
    let mut total = Measured {
        done: 0,
        failed: 0,
        elapsed: Duration::ZERO,
        latency: new_histogram(),
        first_error: None,
    };
    for task in tasks {
        let (latency, done, failed, first_error) = task.await.expect("a caller panicked");
        let _ = total.latency.add(&latency);
        total.done += done;
        total.failed += failed;
        if total.first_error.is_none() {
            total.first_error = first_error;
        }
    }
    total.elapsed = started.elapsed();
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_sequence_number_is_used_once_and_the_count_bound_holds() {
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let bounds = Bounds {
            callers: 4,
            requests: 100,
            time: Duration::from_secs(10),
        };
        let recorder = seen.clone();
        let measured = run(bounds, move |_, sequence| {
            let recorder = recorder.clone();
            async move {
                recorder.lock().unwrap().push(sequence);
                if sequence % 10 == 0 {
                    Err("every tenth fails")
                } else {
                    Ok(())
                }
            }
        })
        .await;
        let mut seen = seen.lock().unwrap().clone();
        seen.sort();
        assert_eq!(seen, (0..100).collect::<Vec<_>>());
        assert_eq!((measured.done, measured.failed), (90, 10));
        assert_eq!(measured.latency.len(), 90);
        assert_eq!(measured.first_error.as_deref(), Some("every tenth fails"));
    }

    #[tokio::test]
    async fn the_time_bound_stops_a_run() {
        let bounds = Bounds {
            callers: 2,
            requests: u64::MAX,
            time: Duration::from_millis(100),
        };
        let measured = run(bounds, |_, _| async {
            tokio::time::sleep(Duration::from_millis(5)).await;
            Ok::<(), String>(())
        })
        .await;
        assert!(measured.done > 0);
        assert!(measured.elapsed < Duration::from_secs(2));
    }
}
