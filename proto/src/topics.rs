//! Kafka topic names: part of the contract, like the messages they carry.

/// Census events (key: USCC): EnterpriseRegistered, EnterpriseUpdated, CensusReturnSubmitted.
pub const CENSUS_EVENTS: &str = "haicheng.census.events.v1";
/// Classification events (key: USCC): EnterpriseClassified.
pub const CLASSIFICATION_EVENTS: &str = "haicheng.classification.events.v1";
/// Support-policy notices (key: department): SupportPolicyNotice.
pub const POLICY_NOTICES: &str = "haicheng.policy.notices.v1";
/// Land events (key: parcel id): ParcelGranted, CommitmentEvaluated, UnitSold, …
pub const LAND_EVENTS: &str = "haicheng.land.events.v1";
/// Trade-fair events (key: fair id): InvitationIssued, RegistrationConfirmed, OutcomeRecorded, …
pub const FAIR_EVENTS: &str = "haicheng.fair.events.v1";
/// Support-policy events (key: policy id; payments: USCC): PolicyChanged, RoundPublished,
/// RoundFinalized, PaymentOrdered, PaymentMade, PaymentRefused.
pub const SUPPORT_EVENTS: &str = "haicheng.support.events.v1";
/// Inspection events (key: USCC; ItemChanged: item code; PlanFiled: plan code): ItemChanged,
/// RiskTierChanged, PlanFiled, TaskPlaced, TaskRefused, VisitApproved, ResultRecorded,
/// ResultPublished.
pub const INSPECTION_EVENTS: &str = "haicheng.inspection.events.v1";
