//! What a store call can answer besides success, in the store's own words; the API maps
//! each to a gRPC status once, at its edge (in `api`).

use crate::domain::registry;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The registry's rules refused the write (the version conflict among them).
    #[error(transparent)]
    Refused(#[from] registry::Refused),
    /// The database failed, could not be reached, or holds data the service cannot read.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}
