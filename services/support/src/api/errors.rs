//! The one mapping of the store's errors and the domain's refusals to API errors (and so to
//! statuses: a handler's `?` on a store call needs nothing more).

use platform::ApiError;

use crate::{
    domain::{payment::PaymentRefused, policy::PolicyRefused, round::RoundRefused},
    store::StoreError,
};

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        let message = err.to_string();
        match err {
            StoreError::Policy(refused) => match refused {
                PolicyRefused::NotTheIssuer { .. } => ApiError::PermissionDenied(message),
                PolicyRefused::VersionConflict { .. } => ApiError::Aborted(message),
                PolicyRefused::Exists(id) => ApiError::AlreadyExists(format!("policy {id}")),
                PolicyRefused::Unknown(id) => ApiError::NotFound(format!("policy {id}")),
                PolicyRefused::BudgetBelowOrdered { .. } => ApiError::FailedPrecondition(message),
            },
            StoreError::Round(refused) => match refused {
                RoundRefused::RoundExists(_) => ApiError::AlreadyExists(message),
                RoundRefused::ObjectionExists(_) => ApiError::AlreadyExists(message),
                _ => ApiError::FailedPrecondition(message),
            },
            StoreError::Payment(PaymentRefused::AlreadySettled { .. }) => {
                ApiError::FailedPrecondition(message)
            }
            StoreError::Application(_) => ApiError::FailedPrecondition(message),
            StoreError::AlreadyApplied(_) => ApiError::AlreadyExists(message),
            StoreError::NotFound(what) => ApiError::NotFound(what),
            StoreError::VersionConflict(why) => ApiError::Aborted(why),
            StoreError::BudgetExceeded(_) => ApiError::FailedPrecondition(message),
            StoreError::Corrupt(why) => ApiError::Internal(anyhow::anyhow!(why)),
            StoreError::Database(err) => err.into(),
        }
    }
}

impl From<StoreError> for tonic::Status {
    fn from(err: StoreError) -> Self {
        ApiError::from(err).into()
    }
}
