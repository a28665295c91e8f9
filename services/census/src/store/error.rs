//! What a store call can answer besides success, in the store's own words; the API maps
//! each to a gRPC status once, at its edge (in `api`).

use crate::domain::Uscc;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A registration of a USCC already registered with other registry data.
    #[error("enterprise {0} is registered with different registry data")]
    RegisteredDifferently(Uscc),
    /// A change to an enterprise that was never registered.
    #[error("no enterprise with uscc {0}")]
    UnknownEnterprise(Uscc),
    /// A change to a deregistered enterprise, whose record no longer changes.
    #[error("enterprise {0} is deregistered; its record no longer changes")]
    Deregistered(Uscc),
    /// A change based on a version that is no longer the current one.
    #[error("enterprise {uscc} is at version {current}, not the expected {expected}")]
    StaleVersion {
        uscc: Uscc,
        current: i64,
        expected: i64,
    },
    /// The database failed, could not be reached, or holds data the service cannot read.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}
