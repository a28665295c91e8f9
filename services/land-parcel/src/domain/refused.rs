//! Why a change is refused, for every write of the service: one enum whose variants are the
//! refusals of each concern, each naming its rule. The API maps it to a status once:
//! field violations to INVALID_ARGUMENT, every other refusal to FAILED_PRECONDITION.

use platform::Violations;

use super::{
    HolderRefused, conversion::ConversionRefused, disposal::DisposalRefused, grant::GrantRefused,
    lateness::MilestoneRefused, parcel::ParcelRefused, queue::QueueRefused, units::UnitRefused,
};

/// A refusal of any land rule.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error(transparent)]
    Parcel(#[from] ParcelRefused),
    #[error(transparent)]
    Grant(#[from] GrantRefused),
    #[error(transparent)]
    Milestone(#[from] MilestoneRefused),
    #[error(transparent)]
    Conversion(#[from] ConversionRefused),
    #[error(transparent)]
    Unit(#[from] UnitRefused),
    #[error(transparent)]
    Queue(#[from] QueueRefused),
    #[error(transparent)]
    Disposal(#[from] DisposalRefused),
}

impl From<HolderRefused> for Refused {
    fn from(why: HolderRefused) -> Self {
        Refused::Grant(GrantRefused::Holder(why))
    }
}

impl Refused {
    /// The request's field violations, when the refusal is one of values (a rule that needed
    /// stored facts to check); `Err(self)` for a refusal of the state of things.
    pub fn into_violations(self) -> Result<Violations, Self> {
        match self {
            Refused::Parcel(ParcelRefused::Invalid(v))
            | Refused::Grant(GrantRefused::Invalid(v))
            | Refused::Milestone(MilestoneRefused::Invalid(v))
            | Refused::Unit(UnitRefused::Invalid(v))
            | Refused::Disposal(DisposalRefused::Invalid(v)) => Ok(v),
            other => Err(other),
        }
    }
}
