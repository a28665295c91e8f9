//! The periodic sweep: lapse offers whose time is up (passing their booths on), release the
//! reserves of first-come fairs whose window closed, allocate scored fairs whose window
//! closed (commerce may also call `AllocateBooths` itself), and invite class-A firms to
//! external fairs whose window opened since they became A. Each step is its own transaction(s) and
//! safe to run on several replicas at once (the fair rows are locked; invitations are unique).

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use platform::Outbox;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::{
    config::Rules,
    store::{self, invitations, registrations},
};

/// What one sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Swept {
    pub offers_lapsed: usize,
    pub fairs_released: usize,
    pub fairs_allocated: usize,
    pub invitations: usize,
}

/// One sweep at `now` (tests call it directly with the time they need).
pub async fn sweep_once(
    pool: &PgPool,
    outbox: &Outbox,
    rules: &Rules,
    now: DateTime<Utc>,
) -> store::Result<Swept> {
    Ok(Swept {
        offers_lapsed: registrations::expire_offers(pool, outbox, rules, now)
            .await?
            .len(),
        fairs_released: registrations::release_reserves(pool, outbox, rules, now).await?,
        fairs_allocated: allocate_closed(pool, outbox, rules, now).await?,
        invitations: invitations::sweep(pool, outbox, now).await?,
    })
}

/// Allocates every scored fair whose window has closed by `now` and that is not allocated.
async fn allocate_closed(
    pool: &PgPool,
    outbox: &Outbox,
    rules: &Rules,
    now: DateTime<Utc>,
) -> store::Result<usize> {
    let due: Vec<uuid::Uuid> = sqlx::query_scalar(
        "SELECT id FROM fairs WHERE mode = 'scored' AND closes_at <= $1 AND allocated_at IS NULL ORDER BY closes_at, id",
    )
    .bind(now)
    .fetch_all(pool)
    .await?;
    let mut allocated = 0;
    for id in due {
        match registrations::allocate(pool, outbox, rules, id, now).await {
            Ok(_) => allocated += 1,
            // Allocated by a call (or another replica) meanwhile.
            Err(store::StoreError::Precondition(_)) => {}
            Err(err) => return Err(err),
        }
    }
    Ok(allocated)
}

/// Sweeps every `period` until `stop`.
pub async fn run(
    pool: PgPool,
    outbox: Outbox,
    rules: Arc<Rules>,
    period: Duration,
    stop: CancellationToken,
) {
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = ticks.tick() => {}
        }
        match sweep_once(&pool, &outbox, &rules, Utc::now()).await {
            Ok(swept) if swept != Swept::default() => tracing::info!(?swept, "swept"),
            Ok(_) => {}
            Err(err) => tracing::warn!(error = %err, "sweep failed; the next one retries"),
        }
    }
}
