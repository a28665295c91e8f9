//! The re-ranker: a background task that re-ranks dirty periods, coalescing bursts.
//!
//! The census consumer only marks a period dirty (and notifies); this task decides when to
//! re-rank. A period is due once no change arrived for `debounce` (200 ms by default), or
//! once its oldest unranked change is `max_delay` old (2 s), whichever comes first. So a
//! burst of 1,000 returns causes a re-rank every couple of seconds at most instead of 1,000,
//! and every return is reflected within `max_delay` plus one re-rank's duration.
//!
//! The same task settles periods (`store::settle`): once a period's classes have not changed
//! for `notice_settle` (30 s by default) and no re-rank is pending, its net notices go out.
//!
//! The times are the database's (`clock_timestamp()`), so replicas agree; each re-rank and
//! each settle takes the period's advisory lock without waiting, and a replica that finds it
//! taken leaves the period to the holder. Notifications (`LISTEN`) wake the task; a poll
//! covers lost ones.

use std::{collections::HashMap, time::Duration};

use chrono::{DateTime, Utc};
use opentelemetry::metrics::{Counter, Histogram};
use platform::{backoff::Backoff, bus::cloudevents::TraceCarrier, notify::Listener, telemetry};
use sqlx::{PgPool, types::Json};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::{
    config::RerankConfig,
    domain::coalescing::Debounce,
    store::{Store, read_model::DIRTY_CHANNEL},
};

pub struct Reranker {
    /// For the wake-ups and the dirty periods' times.
    pool: PgPool,
    store: Store,
    config: RerankConfig,
    runs: Counter<u64>,
    changed: Counter<u64>,
    notices: Counter<u64>,
    seconds: Histogram<f64>,
}

impl Reranker {
    pub fn new(pool: PgPool, store: Store, config: RerankConfig) -> Self {
        let meter = opentelemetry::global::meter("classification");
        Self {
            pool,
            store,
            config,
            runs: meter
                .u64_counter("classification.reranks")
                .with_description("re-ranks of a period")
                .build(),
            changed: meter
                .u64_counter("classification.class_changes")
                .with_description("enterprises whose class in force changed in a re-rank")
                .build(),
            notices: meter
                .u64_counter("classification.settled_notices")
                .with_description("notices sent when a period settled")
                .build(),
            seconds: meter
                .f64_histogram("classification.rerank.duration")
                .with_unit("s")
                .build(),
        }
    }

    /// Runs until `shutdown`; a re-rank under way is finished first.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut wakeups = Listener::new(self.pool.clone(), &[DIRTY_CHANNEL]);
        let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(30));
        while !shutdown.is_cancelled() {
            let wait = match self.pass().await {
                Ok(next) => {
                    backoff.reset();
                    next.map_or(self.config.poll, |n| n.min(self.config.poll))
                }
                Err(err) => {
                    tracing::warn!(error = format!("{err:#}"), "re-rank failed; backing off");
                    backoff.next_delay()
                }
            };
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(wait) => {}
                // Any wake-up, a missed one included, just means "look again".
                _ = wakeups.next() => {}
            }
        }
        tracing::info!("re-ranker stopped");
    }

    /// Re-ranks every period that is due, then settles every period that is quiet; returns
    /// when the next of either will be (`None`: nothing dirty or unsettled).
    pub async fn pass(&self) -> anyhow::Result<Option<Duration>> {
        let reranked = self.rerank_pass().await?;
        let settled = self.settle_pass().await?;
        Ok(match (reranked, settled) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        })
    }

    /// Settles every unsettled period quiet for the settle time.
    async fn settle_pass(&self) -> anyhow::Result<Option<Duration>> {
        let (due, mut next) = self.store.due_periods(self.config.notice_settle).await?;
        for (period, trace) in due {
            // The settle continues the trace of the change that left the period unsettled.
            let span = tracing::info_span!("classification.settle", period = %period);
            telemetry::set_remote_parent(&span, &TraceCarrier(&trace.0));
            let quiet = self.config.notice_settle;
            let settled = self
                .store
                .settle_if_due(&period, quiet)
                .instrument(span)
                .await?;
            match settled {
                Some(outcome) => {
                    self.notices.add(outcome.notices as u64, &[]);
                    tracing::info!(
                        period,
                        transitions = outcome.transitions,
                        notices = outcome.notices,
                        "settled"
                    );
                }
                // Another replica holds the period: look again after a debounce.
                None => {
                    let wait = self.config.debounce;
                    next = Some(next.map_or(wait, |n| n.min(wait)));
                }
            }
        }
        Ok(next)
    }

    /// Re-ranks every period that is due; returns when the next one will be (`None`: none dirty).
    async fn rerank_pass(&self) -> anyhow::Result<Option<Duration>> {
        let dirty: Vec<DirtyPeriod> = sqlx::query!(
            r#"SELECT period, first_dirty_at, last_dirty_at, clock_timestamp() AS "now!",
                      trace_headers AS "trace_headers: Json<HashMap<String, String>>"
               FROM dirty_periods ORDER BY first_dirty_at"#,
        )
        .map(|r| {
            (
                r.period,
                r.first_dirty_at,
                r.last_dirty_at,
                r.now,
                r.trace_headers,
            )
        })
        .fetch_all(&self.pool)
        .await?;
        let debounce = Debounce {
            debounce: self.config.debounce,
            max_delay: self.config.max_delay,
        };
        let mut next: Option<Duration> = None;
        let mut sooner = |wait: Duration| next = Some(next.map_or(wait, |n: Duration| n.min(wait)));
        for (period, first, last, now, trace) in dirty {
            let wait = debounce.wait(first, last, now);
            if !wait.is_zero() {
                sooner(wait);
                continue;
            }
            let started = std::time::Instant::now();
            // The re-rank continues the trace of the period's latest change.
            let span = tracing::info_span!("classification.rerank", period = %period);
            telemetry::set_remote_parent(&span, &TraceCarrier(&trace.0));
            let reranked = self.store.rerank_period(&period).instrument(span).await?;
            match reranked {
                Some(outcome) => {
                    let elapsed = started.elapsed();
                    self.runs.add(1, &[]);
                    self.changed.add(outcome.changed_classes as u64, &[]);
                    self.seconds.record(elapsed.as_secs_f64(), &[]);
                    tracing::info!(
                        period,
                        firms = outcome.firms,
                        rows_written = outcome.rows_written,
                        changed_classes = outcome.changed_classes,
                        model_version = outcome.model_version,
                        ms = elapsed.as_millis() as u64,
                        "re-ranked"
                    );
                    // Changes may have come in meanwhile: look again at once.
                    sooner(Duration::ZERO);
                }
                // Another replica holds the period: look again after a debounce.
                None => sooner(self.config.debounce),
            }
        }
        Ok(next)
    }
}

/// A dirty period: its code, its first and last unranked change, the database's clock now,
/// and its latest change's trace.
type DirtyPeriod = (
    String,
    DateTime<Utc>,
    DateTime<Utc>,
    DateTime<Utc>,
    Json<HashMap<String, String>>,
);
