//! The one mapping of the store's errors and the domain's refusals to API errors (and so to
//! statuses: a handler's `?` on a store call needs nothing more).

use platform::ApiError;

use crate::{
    domain::{code::CodeRefused, item::ItemRefused, plan::PlanRefused, rating::RatingRefused},
    store::StoreError,
};

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        let message = err.to_string();
        match err {
            StoreError::Item(ItemRefused::NotOwnDepartment { .. }) => {
                ApiError::PermissionDenied(message)
            }
            StoreError::Plan(PlanRefused::Exists(..)) => ApiError::AlreadyExists(message),
            StoreError::Plan(PlanRefused::UnknownItem(_) | PlanRefused::NotRoutine(_)) => {
                ApiError::invalid("item_codes", message)
            }
            StoreError::Plan(_) => ApiError::FailedPrecondition(message),
            StoreError::Cap(_) | StoreError::Refused(_) => ApiError::FailedPrecondition(message),
            StoreError::Code(CodeRefused::NotInVisit(..)) => ApiError::PermissionDenied(message),
            StoreError::Code(
                CodeRefused::WrongCode(_) | CodeRefused::OtherFirm(..) | CodeRefused::Expired(..),
            ) => ApiError::FailedPrecondition(message),
            StoreError::Code(CodeRefused::ItemNotInVisit(_)) => {
                ApiError::invalid("findings", message)
            }
            StoreError::Code(CodeRefused::FindingsMismatch) => {
                ApiError::invalid("findings", message)
            }
            StoreError::Code(_) => ApiError::FailedPrecondition(message),
            StoreError::Rating(RatingRefused::NotOwn) => ApiError::PermissionDenied(message),
            StoreError::Rating(RatingRefused::AlreadyRated) => ApiError::AlreadyExists(message),
            StoreError::Rating(_) => ApiError::FailedPrecondition(message),
            StoreError::UnknownItem(..) => ApiError::invalid("item_codes", message),
            StoreError::NotFound(what) => ApiError::NotFound(what),
            StoreError::VersionConflict(why) => ApiError::Aborted(why),
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
