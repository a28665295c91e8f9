//! The gRPC API `FairService`, one file per group of RPCs: [`fairs`] (plans),
//! [`registrations`] (applications, allocation, offers, cancellation), [`invitations`],
//! [`reports`] (outcomes and the reports), [`subsidies`], [`breaches`]. Each handler has the trait
//! method's signature and is the trait method: `serve!` lists them once.
//!
//! Access (see [`access_rules`]): commerce (`fairs.write`) manages fairs, applications,
//! allocation, offers, outcomes and subsidies; `fairs.read` (commerce, park committees) reads
//! fairs, registrations and reports; `fairs.subsidies.read` (commerce, finance) reads
//! subsidies and budgets; an enterprise lists its own invitations (the USCC filter forced to
//! its own) and nothing else. Every error leaves through [`ApiError`]: store errors and the
//! rules' refusals are mapped here, once; bad input is INVALID_ARGUMENT naming its field.

pub mod breaches;
pub mod convert;
pub mod fairs;
mod invitations;
mod registrations;
pub mod reports;
mod subsidies;

use haicheng_proto::fair::v1::{
    self as pb,
    fair_service_server::{FairService, SERVICE_NAME},
};
use platform::{AccessPolicy, ApiError, Rule, Violations, auth::scopes};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::{
    domain::Refused,
    store::{Store, StoreError},
};

/// `policy` with a rule for every FairService method.
pub fn access_rules(policy: AccessPolicy) -> AccessPolicy {
    let method = |name: &str| format!("/{SERVICE_NAME}/{name}");
    let read = Rule::Scope(scopes::FAIRS_READ);
    let write = Rule::Scope(scopes::FAIRS_WRITE);
    let subsidies = Rule::Scope(scopes::FAIR_SUBSIDIES_READ);
    // An enterprise lists its own invitations; the handler forces the filter to its USCC.
    let mut policy = policy.allow(
        &method("ListInvitations"),
        Rule::ScopeOrEnterprise(scopes::FAIRS_READ),
    );
    for name in [
        "GetFair",
        "ListFairs",
        "GetRegistration",
        "ListRegistrations",
        "GetFairReport",
        "GetEnterpriseReport",
        "GetExportTotals",
        "ListBreaches",
    ] {
        policy = policy.allow(&method(name), read.clone());
    }
    for name in [
        "CreateFair",
        "UpdateFair",
        "Apply",
        "AllocateBooths",
        "CancelRegistration",
        "AcceptOffer",
        "DeclineOffer",
        "RecordOutcome",
        "ClaimSubsidy",
        "SetSubsidyBudget",
        "RecordBreach",
    ] {
        policy = policy.allow(&method(name), write.clone());
    }
    for name in ["ListSubsidies", "GetSubsidyBudget"] {
        policy = policy.allow(&method(name), subsidies.clone());
    }
    policy
}

/// The service's handlers.
#[derive(Clone)]
pub struct FairApi {
    store: Store,
}

impl FairApi {
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

/// A refusal of the rules: FAILED_PRECONDITION with the rule's message, or ALREADY_EXISTS
/// for what may happen once.
fn refused(refusal: Refused) -> ApiError {
    match refusal.already_exists() {
        Some(what) => ApiError::AlreadyExists(what),
        None => ApiError::FailedPrecondition(refusal.to_string()),
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound(what) => ApiError::NotFound(what),
            StoreError::VersionConflict(why) => ApiError::Aborted(why),
            StoreError::Refused(refusal) => refused(refusal),
            StoreError::Database(err) => err.into(),
            StoreError::Corrupt(why) => ApiError::Internal(anyhow::anyhow!(why)),
        }
    }
}

impl From<StoreError> for Status {
    fn from(err: StoreError) -> Self {
        ApiError::from(err).into()
    }
}

/// A request's one required id.
fn one_id(field: &str, text: &str) -> Result<Uuid, ApiError> {
    let mut violations = Violations::new();
    let id = violations.uuid(field, text);
    violations.finish()?;
    id.ok_or_else(|| ApiError::invalid(field, "is required"))
}

/// Implements `FairService` by the handlers of the group files, each named as its method.
macro_rules! serve {
    ($($method:ident($request:ident) -> $response:ident;)+) => {
        #[tonic::async_trait]
        impl FairService for FairApi {
            $(
                async fn $method(
                    &self,
                    request: Request<pb::$request>,
                ) -> Result<Response<pb::$response>, Status> {
                    FairApi::$method(self, request).await
                }
            )+
        }
    };
}

serve! {
    create_fair(CreateFairRequest) -> CreateFairResponse;
    update_fair(UpdateFairRequest) -> UpdateFairResponse;
    get_fair(GetFairRequest) -> GetFairResponse;
    list_fairs(ListFairsRequest) -> ListFairsResponse;
    list_invitations(ListInvitationsRequest) -> ListInvitationsResponse;
    apply(ApplyRequest) -> ApplyResponse;
    get_registration(GetRegistrationRequest) -> GetRegistrationResponse;
    list_registrations(ListRegistrationsRequest) -> ListRegistrationsResponse;
    allocate_booths(AllocateBoothsRequest) -> AllocateBoothsResponse;
    cancel_registration(CancelRegistrationRequest) -> CancelRegistrationResponse;
    accept_offer(AcceptOfferRequest) -> AcceptOfferResponse;
    decline_offer(DeclineOfferRequest) -> DeclineOfferResponse;
    record_outcome(RecordOutcomeRequest) -> RecordOutcomeResponse;
    get_fair_report(GetFairReportRequest) -> GetFairReportResponse;
    get_enterprise_report(GetEnterpriseReportRequest) -> GetEnterpriseReportResponse;
    get_export_totals(GetExportTotalsRequest) -> GetExportTotalsResponse;
    claim_subsidy(ClaimSubsidyRequest) -> ClaimSubsidyResponse;
    list_subsidies(ListSubsidiesRequest) -> ListSubsidiesResponse;
    set_subsidy_budget(SetSubsidyBudgetRequest) -> SetSubsidyBudgetResponse;
    get_subsidy_budget(GetSubsidyBudgetRequest) -> GetSubsidyBudgetResponse;
    record_breach(RecordBreachRequest) -> RecordBreachResponse;
    list_breaches(ListBreachesRequest) -> ListBreachesResponse;
}
