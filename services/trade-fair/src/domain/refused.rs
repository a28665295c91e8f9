//! Why a write did not happen: one variant per rule, its message the one the caller reads
//! (the API maps each to a status once, in `api/`).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{
    breach::{Bar, BreachKind},
    eligibility::Ineligible,
    fair::BoothType,
    registration::Status,
    subsidy::Refusal,
};

fn rfc3339(at: &DateTime<Utc>) -> String {
    at.to_rfc3339()
}

/// A write the rules refuse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    // Applications.
    #[error("registration opens at {}", rfc3339(.0))]
    NotOpenYet(DateTime<Utc>),
    #[error("registration closed at {}", rfc3339(.0))]
    WindowClosed(DateTime<Utc>),
    #[error("the fair offers no {} booths", .0.as_str())]
    BoothTypeNotOffered(BoothType),
    #[error("{asked} booths asked for; the fair allows at most {cap} per firm")]
    OverPerFirmCap { asked: u32, cap: u32 },
    /// A firm applies once per fair (ALREADY_EXISTS).
    #[error("a registration of {0} for this fair already exists")]
    AlreadyApplied(String),
    #[error("not eligible: {0}")]
    Ineligible(Ineligible),
    /// A breach at an earlier session of the fair's kind bars the firm.
    #[error("{0}")]
    Barred(Box<Bar>),

    // Breaches.
    #[error("{0} has no registration for this fair")]
    NotRegistered(String),
    /// One breach of a kind per firm and fair (ALREADY_EXISTS).
    #[error("a breach of the kind {} by this firm at this fair is already recorded", .0.as_str())]
    BreachRecorded(BreachKind),

    // Cancellations and offers.
    #[error("the registration is already cancelled")]
    AlreadyCancelled,
    #[error("the registration holds no open offer")]
    NoOpenOffer,
    #[error("the offer lapsed at {}", rfc3339(.0))]
    OfferLapsed(DateTime<Utc>),

    // The scored allocation.
    #[error("the fair allocates first come, first served")]
    NotScored,
    #[error("applications are collected until {}", rfc3339(.0))]
    StillCollecting(DateTime<Utc>),
    #[error("the booths were allocated at {}", rfc3339(.0))]
    AlreadyAllocated(DateTime<Utc>),

    // Changes of a fair's plan.
    #[error("the kind and allocation mode cannot change once firms have applied")]
    KindOrModeFixed,
    #[error("the booths are allocated: the window cannot change")]
    WindowFixed,
    #[error("{} booths have registrations and cannot be removed", .0.as_str())]
    BoothTypeInUse(BoothType),
    #[error("{} booths: {taken} are taken, the capacity cannot drop to {capacity}", .booth_type.as_str())]
    CapacityBelowTaken {
        booth_type: BoothType,
        taken: u32,
        capacity: u32,
    },

    // Outcomes and subsidies.
    #[error("only a confirmed registration has an outcome; this one is {}", .0.as_str())]
    NoOutcomeUnlessConfirmed(Status),
    #[error("only external fairs are subsidised")]
    NotExternal,
    #[error("the registration is {}, not confirmed", .0.as_str())]
    NotConfirmed(Status),
    #[error("record the outcome before claiming the subsidy")]
    NoOutcomeYet,
    /// One subsidy per registration (ALREADY_EXISTS).
    #[error("a subsidy for registration {0} already exists")]
    AlreadyClaimed(Uuid),
    #[error("{0}")]
    NoAward(Refusal),
    #[error("{granted_fen} fen are already granted for {year}; the budget cannot be lower")]
    BudgetBelowGranted { year: i32, granted_fen: i64 },
}

impl Refused {
    /// What already exists, for the refusals that say something exists already.
    pub fn already_exists(&self) -> Option<String> {
        match self {
            Refused::AlreadyApplied(uscc) => {
                Some(format!("a registration of {uscc} for this fair"))
            }
            Refused::AlreadyClaimed(id) => Some(format!("a subsidy for registration {id}")),
            Refused::BreachRecorded(kind) => Some(format!(
                "a {} breach of this firm at this fair",
                kind.as_str()
            )),
            _ => None,
        }
    }
}
