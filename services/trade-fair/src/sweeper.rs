//! The periodic sweep: lapse offers whose time is up (passing their booths on), release the
//! reserves of first-come fairs whose window closed, allocate scored fairs whose window
//! closed (commerce may also call `AllocateBooths` itself), and invite class-A firms to
//! external fairs whose window opened since they became A. Each step is its own transaction(s) and
//! safe to run on several replicas at once (the fair rows are locked; invitations are unique).

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use crate::store::{self, Store, StoreError};

/// What one sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Swept {
    pub offers_lapsed: usize,
    pub fairs_released: usize,
    pub fairs_allocated: usize,
    pub invitations: usize,
}

/// One sweep at `now` (tests call it directly with the time they need).
pub async fn sweep_once(store: &Store, now: DateTime<Utc>) -> store::Result<Swept> {
    Ok(Swept {
        offers_lapsed: store.expire_offers(now).await?.len(),
        fairs_released: store.release_reserves(now).await?,
        fairs_allocated: allocate_closed(store, now).await?,
        invitations: store.sweep_invitations(now).await?,
    })
}

/// Allocates every scored fair whose window has closed by `now` and that is not allocated.
async fn allocate_closed(store: &Store, now: DateTime<Utc>) -> store::Result<usize> {
    let mut allocated = 0;
    for id in store.scored_fairs_due(now).await? {
        match store.allocate(id, now).await {
            Ok(_) => allocated += 1,
            // Allocated by a call (or another replica) meanwhile.
            Err(StoreError::Refused(_)) => {}
            Err(err) => return Err(err),
        }
    }
    Ok(allocated)
}

/// Sweeps every `period` until `stop`.
pub async fn run(store: Store, period: Duration, stop: CancellationToken) {
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = ticks.tick() => {}
        }
        match sweep_once(&store, Utc::now()).await {
            Ok(swept) if swept != Swept::default() => tracing::info!(?swept, "swept"),
            Ok(_) => {}
            Err(err) => tracing::warn!(error = %err, "sweep failed; the next one retries"),
        }
    }
}
