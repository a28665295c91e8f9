//! A grant's two documents: the transfer contract (出让合同: deposit and dates) and the
//! performance-supervision agreement (履约监管协议: the commitments of "standard land", 标准地).
//!
//! A committed plot ratio must reach the national minimum of the holder's segment for
//! industrial land (工业项目建设用地控制指标: garments 1.0, leather and luggage 1.0,
//! textiles 0.8; configurable) and lie within the range the plan allows for the parcel.

use chrono::{DateTime, NaiveDate, Utc};
use platform::{Segment, Violations};
use uuid::Uuid;

use super::{
    Enterprise, LandRules, LandUse,
    lateness::{self, Lateness, Progress},
    parcel::{ParcelRecord, ParcelStatus},
    parse_date,
    supply::{SupplyMode, Terms},
};

/// Plot ratios are kept in thousandths: 1.0 = 1000.
pub type Milli = i64;

/// National minimum plot ratio of an industrial project by segment, thousandths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlotRatioMinimums {
    pub textile: Milli,
    pub apparel: Milli,
    pub luggage_leather: Milli,
}

impl Default for PlotRatioMinimums {
    fn default() -> Self {
        Self {
            textile: 800,
            apparel: 1000,
            luggage_leather: 1000,
        }
    }
}

impl PlotRatioMinimums {
    /// The minimum for a segment; `None` for traders (who get no industrial land).
    pub fn for_segment(&self, segment: Segment) -> Option<Milli> {
        match segment {
            Segment::Textile => Some(self.textile),
            Segment::Apparel => Some(self.apparel),
            Segment::LuggageLeather => Some(self.luggage_leather),
            Segment::Trade => None,
        }
    }
}

/// The contract's dates and deposit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contract {
    pub deposit_fen: i64,
    pub signed_on: NaiveDate,
    pub start_by: NaiveDate,
    pub complete_by: NaiveDate,
    pub production_check_on: NaiveDate,
}

/// The contract as asked for, dates still text.
#[derive(Debug, Clone, Default)]
pub struct ContractRequest {
    pub deposit_fen: i64,
    pub signed_on: String,
    pub start_by: String,
    pub complete_by: String,
    pub production_check_on: String,
}

/// Checks the contract against the (already checked) price; dates must be in order:
/// signed ≤ start ≤ completion ≤ production check.
pub fn check_contract(
    request: &ContractRequest,
    price_fen: i64,
    violations: &mut Violations,
) -> Option<Contract> {
    let before = violations.as_slice().len();
    if request.deposit_fen < 0 || request.deposit_fen > price_fen.max(0) {
        violations.add("contract.deposit_fen", "must be 0 to the price");
    }
    let mut date = |text: &str, name: &str| {
        let parsed = parse_date(text);
        if parsed.is_none() {
            violations.add(format!("contract.{name}"), "a date YYYY-MM-DD is required");
        }
        parsed
    };
    let signed = date(&request.signed_on, "signed_on");
    let start = date(&request.start_by, "start_by");
    let complete = date(&request.complete_by, "complete_by");
    let check = date(&request.production_check_on, "production_check_on");
    let order = [
        (signed, start, "start_by", "signed_on"),
        (start, complete, "complete_by", "start_by"),
        (complete, check, "production_check_on", "complete_by"),
    ];
    for (earlier, later, field, after) in order {
        if let (Some(a), Some(b)) = (earlier, later)
            && b < a
        {
            violations.add(
                format!("contract.{field}"),
                format!("must not be before {after}"),
            );
        }
    }
    if violations.as_slice().len() != before {
        return None;
    }
    Some(Contract {
        deposit_fen: request.deposit_fen,
        signed_on: signed?,
        start_by: start?,
        complete_by: complete?,
        production_check_on: check?,
    })
}

/// What the grantee commits to.
#[derive(Debug, Clone, PartialEq)]
pub struct Commitments {
    pub investment_fen_per_mu: i64,
    pub output_fen_per_mu: i64,
    pub tax_fen_per_mu: i64,
    pub plot_ratio_milli: Milli,
    /// Tonnes of standard coal per 10,000 yuan of output (lower is better).
    pub energy_tce_per_wan_yuan: Option<f64>,
}

/// Largest per-mu amount accepted, fen (10^13: 100 billion yuan a mu).
const MAX_PER_MU_FEN: i64 = 10_000_000_000_000;

/// The parcel facts and holder a commitment check needs.
#[derive(Debug, Clone, Copy)]
pub struct PlotContext {
    pub land_use: LandUse,
    pub plan_min_milli: Milli,
    pub plan_max_milli: Milli,
    pub segment: Option<Segment>,
}

/// Checks the commitments; an industrial plot ratio under the segment minimum is refused on
/// `commitments.plot_ratio_milli`.
pub fn check_commitments(
    c: &Commitments,
    at: PlotContext,
    minimums: &PlotRatioMinimums,
    violations: &mut Violations,
) -> bool {
    let before = violations.as_slice().len();
    for (value, name, least) in [
        (c.investment_fen_per_mu, "investment_fen_per_mu", 1),
        (c.output_fen_per_mu, "output_fen_per_mu", 0),
        (c.tax_fen_per_mu, "tax_fen_per_mu", 0),
    ] {
        if !(least..=MAX_PER_MU_FEN).contains(&value) {
            violations.add(
                format!("commitments.{name}"),
                format!("must be {least} to {MAX_PER_MU_FEN}"),
            );
        }
    }
    let field = "commitments.plot_ratio_milli";
    let segment_min = match (at.land_use, at.segment) {
        (LandUse::Industrial, Some(segment)) => minimums.for_segment(segment),
        _ => None,
    };
    if let Some(min) = segment_min
        && c.plot_ratio_milli < min
    {
        violations.add(
            field,
            format!(
                "{} is under the national minimum of {min} for the holder's segment",
                c.plot_ratio_milli
            ),
        );
    } else if c.plot_ratio_milli < at.plan_min_milli || c.plot_ratio_milli > at.plan_max_milli {
        violations.add(
            field,
            format!(
                "must lie within the plan's {}..={}",
                at.plan_min_milli, at.plan_max_milli
            ),
        );
    }
    if let Some(energy) = c.energy_tce_per_wan_yuan
        && !(energy.is_finite() && energy > 0.0 && energy < 1.0e6)
    {
        violations.add(
            "commitments.energy_tce_per_wan_yuan",
            "a positive number when set",
        );
    }
    violations.as_slice().len() == before
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contract() -> ContractRequest {
        ContractRequest {
            deposit_fen: 100,
            signed_on: "2025-01-10".into(),
            start_by: "2025-07-01".into(),
            complete_by: "2027-07-01".into(),
            production_check_on: "2030-07-01".into(),
        }
    }

    fn fields(v: &Violations) -> Vec<String> {
        v.as_slice().iter().map(|v| v.field.clone()).collect()
    }

    #[test]
    fn contract_dates_must_be_in_order_and_the_deposit_within_the_price() {
        let mut v = Violations::new();
        assert!(check_contract(&contract(), 1_000, &mut v).is_some());
        let bad = ContractRequest {
            deposit_fen: 1_001,
            complete_by: "2025-06-30".into(),
            production_check_on: "soon".into(),
            ..contract()
        };
        assert!(check_contract(&bad, 1_000, &mut v).is_none());
        assert_eq!(
            fields(&v),
            [
                "contract.deposit_fen",
                "contract.production_check_on",
                "contract.complete_by"
            ]
        );
    }

    fn commitments(plot: Milli) -> Commitments {
        Commitments {
            investment_fen_per_mu: 300_000_000,
            output_fen_per_mu: 500_000_000,
            tax_fen_per_mu: 20_000_000,
            plot_ratio_milli: plot,
            energy_tce_per_wan_yuan: None,
        }
    }

    fn industrial(segment: Segment) -> PlotContext {
        PlotContext {
            land_use: LandUse::Industrial,
            plan_min_milli: 500,
            plan_max_milli: 3000,
            segment: Some(segment),
        }
    }

    #[test]
    fn a_plot_ratio_under_the_segment_minimum_is_refused_on_its_field() {
        let minimums = PlotRatioMinimums::default();
        let mut v = Violations::new();
        assert!(check_commitments(
            &commitments(800),
            industrial(Segment::Textile),
            &minimums,
            &mut v
        ));
        assert!(check_commitments(
            &commitments(1000),
            industrial(Segment::Apparel),
            &minimums,
            &mut v
        ));
        assert!(!check_commitments(
            &commitments(999),
            industrial(Segment::LuggageLeather),
            &minimums,
            &mut v
        ));
        assert!(!check_commitments(
            &commitments(799),
            industrial(Segment::Textile),
            &minimums,
            &mut v
        ));
        assert_eq!(
            fields(&v),
            [
                "commitments.plot_ratio_milli",
                "commitments.plot_ratio_milli"
            ]
        );
    }

    #[test]
    fn a_plot_ratio_must_lie_within_the_plan() {
        let minimums = PlotRatioMinimums::default();
        let mut v = Violations::new();
        assert!(!check_commitments(
            &commitments(3001),
            industrial(Segment::Textile),
            &minimums,
            &mut v
        ));
        let commercial = PlotContext {
            land_use: LandUse::Commercial,
            ..industrial(Segment::Trade)
        };
        assert!(check_commitments(
            &commitments(600),
            commercial,
            &minimums,
            &mut v
        ));
        assert_eq!(v.as_slice().len(), 1);
    }

    #[test]
    fn amounts_must_be_positive_and_energy_a_number() {
        let mut v = Violations::new();
        let bad = Commitments {
            investment_fen_per_mu: 0,
            tax_fen_per_mu: -1,
            energy_tce_per_wan_yuan: Some(f64::NAN),
            ..commitments(1200)
        };
        assert!(!check_commitments(
            &bad,
            industrial(Segment::Apparel),
            &PlotRatioMinimums::default(),
            &mut v
        ));
        assert_eq!(
            fields(&v),
            [
                "commitments.investment_fen_per_mu",
                "commitments.tax_fen_per_mu",
                "commitments.energy_tce_per_wan_yuan"
            ]
        );
    }
}

/// A grant as asked for, before the parcel and the holder are known.
#[derive(Debug, Clone)]
pub struct GrantRequest {
    pub mode: Option<super::supply::SupplyMode>,
    pub terms: super::supply::TermRequest,
    pub contract: ContractRequest,
    pub commitments: Commitments,
}

/// A grant that passed every rule.
#[derive(Debug, Clone, PartialEq)]
pub struct GrantPlan {
    pub terms: super::supply::Terms,
    pub contract: Contract,
    pub commitments: Commitments,
}

/// Why a grant is refused once parcel and holder are known.
#[derive(Debug, thiserror::Error)]
pub enum GrantRefused {
    /// Terms, contract or commitments break a rule: field violations.
    #[error("invalid request")]
    Invalid(Violations),
    /// The holder may not have this land.
    #[error(transparent)]
    Holder(super::HolderRefused),
    /// Only an available parcel is granted.
    #[error("parcel {id} is {status}, not available")]
    NotAvailable { id: String, status: ParcelStatus },
    /// One grant in force per parcel (found when two grants race).
    #[error("parcel {0} already has a grant in force")]
    AlreadyGranted(String),
}

/// The parcel facts a grant is checked against.
#[derive(Debug, Clone, Copy)]
pub struct ParcelFacts {
    pub land_use: LandUse,
    pub plan_min_milli: Milli,
    pub plan_max_milli: Milli,
}

/// Checks a grant of a parcel to an enterprise: the holder (known, active; a manufacturer
/// for industrial land), the term rules of the mode, the contract and the commitments.
pub fn plan(
    request: &GrantRequest,
    parcel: ParcelFacts,
    uscc: &str,
    holder: Option<&super::Enterprise>,
    terms: &super::supply::TermRules,
    minimums: &PlotRatioMinimums,
) -> Result<GrantPlan, GrantRefused> {
    super::check_holder(uscc, holder, parcel.land_use == LandUse::Industrial)
        .map_err(GrantRefused::Holder)?;
    let mut violations = Violations::new();
    let Some(mode) = request.mode else {
        violations.add("supply.mode", "required");
        return Err(GrantRefused::Invalid(violations));
    };
    let checked_terms = super::supply::check_terms(
        mode,
        &request.terms,
        parcel.land_use,
        terms,
        "supply",
        &mut violations,
    );
    // The deposit is checked against the price even when the terms are refused: a long-term
    // lease's price is its rent over the years asked for.
    let asked_price = match mode {
        SupplyMode::LongTermLease => request
            .terms
            .yearly_rent_fen
            .saturating_mul(request.terms.term_years),
        _ => request.terms.price_fen,
    };
    let price = checked_terms.as_ref().map_or(asked_price, |t| t.price_fen);
    let contract = check_contract(&request.contract, price, &mut violations);
    let context = PlotContext {
        land_use: parcel.land_use,
        plan_min_milli: parcel.plan_min_milli,
        plan_max_milli: parcel.plan_max_milli,
        segment: holder.and_then(|h| h.segment),
    };
    let commitments_ok =
        check_commitments(&request.commitments, context, minimums, &mut violations);
    match (checked_terms, contract, commitments_ok) {
        (Some(terms), Some(contract), true) if violations.is_empty() => Ok(GrantPlan {
            terms,
            contract,
            commitments: request.commitments.clone(),
        }),
        _ => Err(GrantRefused::Invalid(violations)),
    }
}

/// Where a grant stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantStatus {
    /// The lease phase of lease then transfer.
    Leasing,
    Transferred,
    Ended,
    /// Taken back by the government (无偿收回).
    TakenBack,
}

impl std::fmt::Display for GrantStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl GrantStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            GrantStatus::Leasing => "leasing",
            GrantStatus::Transferred => "transferred",
            GrantStatus::Ended => "ended",
            GrantStatus::TakenBack => "taken_back",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        [
            GrantStatus::Leasing,
            GrantStatus::Transferred,
            GrantStatus::Ended,
            GrantStatus::TakenBack,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
    }
}

/// A grant as kept.
#[derive(Debug, Clone, PartialEq)]
pub struct GrantRecord {
    pub id: Uuid,
    pub parcel_id: String,
    pub uscc: String,
    pub terms: Terms,
    pub contract: Contract,
    pub commitments: Commitments,
    pub land_centi_mu: i64,
    pub status: GrantStatus,
    pub progress: Progress,
    pub idle_reason: Option<String>,
    pub rent_credited_fen: i64,
    pub granted_at: DateTime<Utc>,
    pub version: i64,
    /// Idle fee, take-back review and decision, low efficiency, end.
    pub disposal: super::disposal::Disposal,
}

impl GrantRecord {
    /// Leasing or transferred: the grant holds its parcel.
    pub fn in_force(&self) -> bool {
        matches!(self.status, GrantStatus::Leasing | GrantStatus::Transferred)
    }
}

/// A grant with its lateness as of the day it was read.
#[derive(Debug, Clone, PartialEq)]
pub struct GrantView {
    pub grant: GrantRecord,
    pub lateness: Lateness,
}

/// The grant's lateness on `today` with the configured rates.
pub fn view(grant: GrantRecord, today: NaiveDate, rules: &LandRules) -> GrantView {
    let lateness = lateness::lateness(
        grant.terms.price_fen,
        grant.contract.start_by,
        grant.contract.complete_by,
        &grant.progress,
        today,
        &rules.lateness,
    );
    GrantView { grant, lateness }
}

/// What a grant looks at: the parcel (locked) and the would-be holder as known from census.
#[derive(Debug, Clone, Copy)]
pub struct GrantState<'a> {
    pub parcel: &'a ParcelRecord,
    pub holder: Option<&'a Enterprise>,
}

/// A grant as asked for.
#[derive(Debug, Clone, Copy)]
pub struct GrantCommand<'a> {
    pub uscc: &'a str,
    pub request: &'a GrantRequest,
}

/// What a grant writes: the grant (its plan, on the parcel's area) and the parcel's status.
#[derive(Debug, Clone, PartialEq)]
pub struct GrantDecision {
    pub plan: GrantPlan,
    pub status: GrantStatus,
    /// The land the holder is evaluated on: the parcel's area when granted.
    pub land_centi_mu: i64,
    pub parcel_status: ParcelStatus,
}

/// Decides a grant: the parcel available, then every rule of [`plan`]. Lease then transfer
/// starts leasing (the parcel leased); every other mode is transferred (the parcel granted).
pub fn decide(
    state: GrantState<'_>,
    command: GrantCommand<'_>,
    rules: &LandRules,
) -> Result<GrantDecision, GrantRefused> {
    let parcel = state.parcel;
    if parcel.status != ParcelStatus::Available {
        return Err(GrantRefused::NotAvailable {
            id: parcel.id.clone(),
            status: parcel.status,
        });
    }
    let facts = ParcelFacts {
        land_use: parcel.land_use,
        plan_min_milli: parcel.plot_ratio_min_milli,
        plan_max_milli: parcel.plot_ratio_max_milli,
    };
    let plan = plan(
        command.request,
        facts,
        command.uscc,
        state.holder,
        &rules.terms,
        &rules.plot_ratio_minimums,
    )?;
    let (status, parcel_status) = match plan.terms.mode {
        SupplyMode::LeaseThenTransfer | SupplyMode::LongTermLease => {
            (GrantStatus::Leasing, ParcelStatus::Leased)
        }
        _ => (GrantStatus::Transferred, ParcelStatus::Granted),
    };
    Ok(GrantDecision {
        plan,
        status,
        land_centi_mu: parcel.area_centi_mu,
        parcel_status,
    })
}

/// Decides a milestone of `grant` reported on `today`: the grant's progress after it.
pub fn decide_milestone(
    grant: &GrantRecord,
    milestone: &lateness::Milestone,
    today: NaiveDate,
) -> Result<Progress, lateness::MilestoneRefused> {
    if !grant.in_force() {
        return Err(lateness::MilestoneRefused::Ended(grant.id));
    }
    lateness::apply_milestone(&grant.progress, grant.contract.signed_on, milestone, today)
}

#[cfg(test)]
mod decide_tests {
    use platform::Park;

    use super::*;
    use crate::domain::supply::TermRequest;

    fn parcel(status: ParcelStatus) -> ParcelRecord {
        ParcelRecord {
            id: "XL-1".into(),
            park: Park::Xiliu,
            land_use: LandUse::Industrial,
            area_centi_mu: 1_000,
            plot_ratio_min_milli: 800,
            plot_ratio_max_milli: 3_000,
            status,
            location: "west".into(),
            parent_ids: vec![],
            child_ids: vec![],
            version: 1,
            created_at: Utc::now(),
        }
    }

    fn firm(segment: Segment) -> Enterprise {
        Enterprise {
            uscc: "X".into(),
            name: "Firm".into(),
            active: true,
            segment: Some(segment),
            park: Some(Park::Xiliu),
        }
    }

    fn request(mode: SupplyMode, plot: Milli) -> GrantRequest {
        let lease = mode == SupplyMode::LeaseThenTransfer;
        GrantRequest {
            mode: Some(mode),
            terms: TermRequest {
                term_years: if lease { 0 } else { 50 },
                lease_years: if lease { 5 } else { 0 },
                transfer_years: if lease { 45 } else { 0 },
                price_fen: 5_000_000_000,
                yearly_rent_fen: if lease { 300_000_000 } else { 0 },
            },
            contract: ContractRequest {
                deposit_fen: 1_000_000,
                signed_on: "2020-01-01".into(),
                start_by: "2020-06-01".into(),
                complete_by: "2021-06-01".into(),
                production_check_on: "2023-06-01".into(),
            },
            commitments: Commitments {
                investment_fen_per_mu: 300_000_000,
                output_fen_per_mu: 600_000_000,
                tax_fen_per_mu: 30_000_000,
                plot_ratio_milli: plot,
                energy_tce_per_wan_yuan: None,
            },
        }
    }

    fn decide_for(
        status: ParcelStatus,
        holder: Option<&Enterprise>,
        request: &GrantRequest,
    ) -> Result<GrantDecision, GrantRefused> {
        let parcel = parcel(status);
        decide(
            GrantState {
                parcel: &parcel,
                holder,
            },
            GrantCommand { uscc: "X", request },
            &LandRules::default(),
        )
    }

    #[test]
    fn a_standard_grant_transfers_the_parcel_on_its_whole_area() {
        let apparel = firm(Segment::Apparel);
        let decision = decide_for(
            ParcelStatus::Available,
            Some(&apparel),
            &request(SupplyMode::StandardTransfer, 1_200),
        )
        .expect("a valid grant");
        assert_eq!(decision.status, GrantStatus::Transferred);
        assert_eq!(decision.parcel_status, ParcelStatus::Granted);
        assert_eq!(decision.land_centi_mu, 1_000);
    }

    #[test]
    fn lease_then_transfer_starts_leasing() {
        let apparel = firm(Segment::Apparel);
        let decision = decide_for(
            ParcelStatus::Available,
            Some(&apparel),
            &request(SupplyMode::LeaseThenTransfer, 1_200),
        );
        let decision = decision.expect("a valid lease");
        assert_eq!(
            (decision.status, decision.parcel_status),
            (GrantStatus::Leasing, ParcelStatus::Leased)
        );
    }

    #[test]
    fn each_refusal_names_its_rule() {
        let apparel = firm(Segment::Apparel);
        let ok = request(SupplyMode::StandardTransfer, 1_200);
        let taken = decide_for(ParcelStatus::Granted, Some(&apparel), &ok).unwrap_err();
        assert_eq!(taken.to_string(), "parcel XL-1 is granted, not available");
        assert!(matches!(
            decide_for(ParcelStatus::Available, None, &ok),
            Err(GrantRefused::Holder(super::super::HolderRefused::Unknown(
                _
            )))
        ));
        let trader = firm(Segment::Trade);
        assert!(matches!(
            decide_for(ParcelStatus::Available, Some(&trader), &ok),
            Err(GrantRefused::Holder(
                super::super::HolderRefused::NotManufacturer(_)
            ))
        ));
        let low = request(SupplyMode::StandardTransfer, 900);
        let Err(GrantRefused::Invalid(v)) =
            decide_for(ParcelStatus::Available, Some(&apparel), &low)
        else {
            panic!("a plot ratio under the apparel minimum is a field violation");
        };
        assert_eq!(v.as_slice()[0].field, "commitments.plot_ratio_milli");
    }

    proptest::proptest! {
        /// Within the plan's range, a plot ratio is granted exactly when it reaches the
        /// segment's national minimum.
        #[test]
        fn the_plot_ratio_is_granted_exactly_from_the_segment_minimum(plot in 800_i64..=3_000) {
            let apparel = firm(Segment::Apparel);
            let decided = decide_for(
                ParcelStatus::Available,
                Some(&apparel),
                &request(SupplyMode::StandardTransfer, plot),
            );
            proptest::prop_assert_eq!(decided.is_ok(), plot >= 1_000);
        }
    }
}
