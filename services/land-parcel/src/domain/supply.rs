//! Supply modes and their term rules (供地方式).
//!
//! - Standard transfer (出让): a term up to the statutory maximum of the land use
//!   (industrial 50 years, commercial 40, public service 50).
//! - Flexible term (弹性年期): at most `flexible_max_years` (20 by default) and never past the
//!   statutory maximum; the price asked is that of a statutory-maximum term and the contract
//!   price is scaled pro rata to the years granted.
//! - Lease then transfer (先租后让): a lease of at most `lease_max_years` (5 by default, never
//!   more than [`LEASE_YEARS_CAP`]), then a transfer; lease + transfer within the statutory
//!   maximum; a yearly rent of at least `min_yearly_rent_permille` of the price (50 ‰ = 5 %).
//! - Long-term lease (长期租赁): `long_lease_min_years` to `long_lease_max_years` (5 to 20 by
//!   default, within the statutory maximum) at a yearly rent; the price is the rent of the
//!   whole term; renewable for another term within the same limits ([`check_renewal`]).

use platform::Violations;

use super::{LandUse, scale_fen};

/// The most lease years any configuration may allow (the pilot rules' ceiling).
pub const LEASE_YEARS_CAP: u32 = 10;

/// How land is supplied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SupplyMode {
    StandardTransfer,
    FlexibleTerm,
    LeaseThenTransfer,
    LongTermLease,
}

impl SupplyMode {
    pub fn as_str(self) -> &'static str {
        match self {
            SupplyMode::StandardTransfer => "standard_transfer",
            SupplyMode::FlexibleTerm => "flexible_term",
            SupplyMode::LeaseThenTransfer => "lease_then_transfer",
            SupplyMode::LongTermLease => "long_term_lease",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        [
            SupplyMode::StandardTransfer,
            SupplyMode::FlexibleTerm,
            SupplyMode::LeaseThenTransfer,
            SupplyMode::LongTermLease,
        ]
        .into_iter()
        .find(|m| m.as_str() == name)
    }
}

/// The configurable limits of the term rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TermRules {
    /// Statutory maximum term of industrial land, years (50).
    pub industrial_max_years: u32,
    /// Statutory maximum of commercial land (40).
    pub commercial_max_years: u32,
    /// Statutory maximum of public service land (50).
    pub public_service_max_years: u32,
    /// Longest flexible term (20).
    pub flexible_max_years: u32,
    /// Longest lease of a lease-then-transfer grant (5; at most [`LEASE_YEARS_CAP`]).
    pub lease_max_years: u32,
    /// Least yearly rent as a share of the price, per mille (50 = 5 %).
    pub min_yearly_rent_permille: u32,
    /// Shortest term of a long-term lease, and of each renewal (5).
    pub long_lease_min_years: u32,
    /// Longest term of a long-term lease, and of each renewal (20).
    pub long_lease_max_years: u32,
}

impl Default for TermRules {
    fn default() -> Self {
        Self {
            industrial_max_years: 50,
            commercial_max_years: 40,
            public_service_max_years: 50,
            flexible_max_years: 20,
            lease_max_years: 5,
            min_yearly_rent_permille: 50,
            long_lease_min_years: 5,
            long_lease_max_years: 20,
        }
    }
}

impl TermRules {
    pub fn statutory_max(&self, land_use: LandUse) -> u32 {
        match land_use {
            LandUse::Industrial => self.industrial_max_years,
            LandUse::Commercial => self.commercial_max_years,
            LandUse::PublicService => self.public_service_max_years,
        }
    }
}

/// The terms as asked for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TermRequest {
    pub term_years: i64,
    pub lease_years: i64,
    pub transfer_years: i64,
    pub price_fen: i64,
    pub yearly_rent_fen: i64,
}

/// Terms that passed every rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Terms {
    pub mode: SupplyMode,
    /// Years of the lease phase; 0 unless lease then transfer.
    pub lease_years: u32,
    /// Years of transfer (the whole term for the transfer modes).
    pub transfer_years: u32,
    /// The contract price, fen (scaled for a flexible term).
    pub price_fen: i64,
    /// Yearly rent during the lease, fen; 0 unless lease then transfer.
    pub yearly_rent_fen: i64,
}

impl Terms {
    pub fn total_years(&self) -> u32 {
        self.lease_years + self.transfer_years
    }
}

/// Largest price accepted: 10^15 fen (10 trillion yuan), so sums stay far from overflow.
pub const MAX_PRICE_FEN: i64 = 1_000_000_000_000_000;

/// Checks `request` under `mode` for land of `land_use`; every broken rule becomes a
/// violation on its field under `prefix` (e.g. `supply.term_years`).
pub fn check_terms(
    mode: SupplyMode,
    request: &TermRequest,
    land_use: LandUse,
    rules: &TermRules,
    prefix: &str,
    violations: &mut Violations,
) -> Option<Terms> {
    let before = violations.as_slice().len();
    let statutory = i64::from(rules.statutory_max(land_use));
    let checks = TermChecks {
        prefix,
        request,
        statutory,
    };
    if mode == SupplyMode::LongTermLease {
        let terms = checks.long_term_lease(rules, violations);
        return (violations.as_slice().len() == before).then_some(terms);
    }
    if request.price_fen <= 0 || request.price_fen > MAX_PRICE_FEN {
        violations.add(
            format!("{prefix}.price_fen"),
            format!("must be 1 to {MAX_PRICE_FEN}"),
        );
    }
    let terms = match mode {
        SupplyMode::StandardTransfer | SupplyMode::FlexibleTerm => {
            checks.transfer(mode, rules, violations)
        }
        _ => checks.lease_then_transfer(rules, violations),
    };
    (violations.as_slice().len() == before).then_some(terms)
}

/// The request under check, its fields' prefix and the land use's statutory maximum.
struct TermChecks<'a> {
    prefix: &'a str,
    request: &'a TermRequest,
    statutory: i64,
}

impl TermChecks<'_> {
    fn field(&self, name: &str) -> String {
        format!("{}.{name}", self.prefix)
    }

    /// A term of 1 to `max` years on `name`.
    fn in_years(&self, value: i64, max: i64, name: &str, what: &str, v: &mut Violations) {
        if value < 1 {
            v.add(self.field(name), "must be at least 1 year");
        } else if value > max {
            v.add(
                self.field(name),
                format!("{value} years exceeds {what} of {max} years"),
            );
        }
    }

    /// Standard transfer (出让) or a flexible term (弹性年期, the price scaled to the years).
    fn transfer(&self, mode: SupplyMode, rules: &TermRules, violations: &mut Violations) -> Terms {
        let request = self.request;
        let statutory = self.statutory;
        let (max, what) = if mode == SupplyMode::FlexibleTerm {
            let flexible = i64::from(rules.flexible_max_years).min(statutory);
            (flexible, "the flexible-term maximum")
        } else {
            (statutory, "the statutory maximum for this land use")
        };
        self.in_years(request.term_years, max, "term_years", what, violations);
        for (value, name) in [
            (request.lease_years, "lease_years"),
            (request.transfer_years, "transfer_years"),
            (request.yearly_rent_fen, "yearly_rent_fen"),
        ] {
            violations.check(value == 0, self.field(name), "only for lease then transfer");
        }
        let years = request.term_years.clamp(0, max);
        let price_fen = if mode == SupplyMode::FlexibleTerm {
            scale_fen(request.price_fen, years, statutory)
        } else {
            request.price_fen
        };
        Terms {
            mode,
            lease_years: 0,
            transfer_years: years as u32,
            price_fen,
            yearly_rent_fen: 0,
        }
    }

    /// Long-term lease (长期租赁): `term_years` within the long-lease bounds (and the statutory
    /// maximum), a positive yearly rent; the price is the rent of the whole term.
    fn long_term_lease(&self, rules: &TermRules, violations: &mut Violations) -> Terms {
        let request = self.request;
        let years = check_lease_years(
            request.term_years,
            rules,
            self.statutory,
            &self.field("term_years"),
            violations,
        );
        check_rent(
            request.yearly_rent_fen,
            &self.field("yearly_rent_fen"),
            violations,
        );
        for (value, name) in [
            (request.lease_years, "lease_years"),
            (request.transfer_years, "transfer_years"),
        ] {
            violations.check(value == 0, self.field(name), "not for a long-term lease");
        }
        let total = i128::from(request.yearly_rent_fen) * i128::from(years);
        if request.price_fen != 0 && i128::from(request.price_fen) != total {
            violations.add(
                self.field("price_fen"),
                "0, or yearly rent × term years (the service sets it)",
            );
        }
        Terms {
            mode: SupplyMode::LongTermLease,
            lease_years: years,
            transfer_years: 0,
            price_fen: i64::try_from(total).unwrap_or(MAX_PRICE_FEN),
            yearly_rent_fen: request.yearly_rent_fen,
        }
    }

    /// Lease then transfer (先租后让): the lease capped, lease + transfer within the statutory
    /// maximum, a yearly rent of at least the configured share of the price.
    fn lease_then_transfer(&self, rules: &TermRules, violations: &mut Violations) -> Terms {
        let request = self.request;
        let statutory = self.statutory;
        let lease_max = i64::from(rules.lease_max_years.min(LEASE_YEARS_CAP));
        self.in_years(
            request.lease_years,
            lease_max,
            "lease_years",
            "the lease maximum",
            violations,
        );
        self.in_years(
            request.transfer_years,
            statutory,
            "transfer_years",
            "the statutory maximum for this land use",
            violations,
        );
        let total = request.lease_years.saturating_add(request.transfer_years);
        if request.lease_years >= 1 && request.transfer_years >= 1 && total > statutory {
            violations.add(
                self.field("transfer_years"),
                format!("lease + transfer = {total} years exceeds the statutory maximum of {statutory} years"),
            );
        }
        if request.term_years != 0 && request.term_years != total {
            violations.add(
                self.field("term_years"),
                "0, or lease years + transfer years",
            );
        }
        let least_rent = scale_fen(
            request.price_fen,
            i64::from(rules.min_yearly_rent_permille),
            1000,
        );
        if request.yearly_rent_fen < least_rent {
            violations.add(
                self.field("yearly_rent_fen"),
                format!(
                    "at least {} ‰ of the price: {least_rent} fen",
                    rules.min_yearly_rent_permille
                ),
            );
        }
        Terms {
            mode: SupplyMode::LeaseThenTransfer,
            lease_years: request.lease_years.clamp(0, lease_max) as u32,
            transfer_years: request.transfer_years.clamp(0, statutory) as u32,
            price_fen: request.price_fen,
            yearly_rent_fen: request.yearly_rent_fen,
        }
    }
}

/// Years of a long-term lease or its renewal on `field`: within the bounds and the statutory
/// maximum. The years when they pass (0 otherwise).
fn check_lease_years(
    years: i64,
    rules: &TermRules,
    statutory: i64,
    field: &str,
    violations: &mut Violations,
) -> u32 {
    let min = i64::from(rules.long_lease_min_years);
    let max = i64::from(rules.long_lease_max_years).min(statutory);
    if years < min || years > max {
        violations.add(
            field,
            format!("{years} years is outside the long-term lease's {min} to {max} years"),
        );
        return 0;
    }
    years as u32
}

fn check_rent(yearly_rent_fen: i64, field: &str, violations: &mut Violations) {
    if yearly_rent_fen <= 0 || yearly_rent_fen > MAX_PRICE_FEN / 100 {
        violations.add(field, format!("must be 1 to {}", MAX_PRICE_FEN / 100));
    }
}

/// A renewal of a long-term lease as asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Renewal {
    pub years: i64,
    pub yearly_rent_fen: i64,
}

/// The terms after renewing `terms` (a long-term lease) by `renewal`: the renewal's years
/// within the long-lease bounds, a positive rent; the term grows by the years, the price by
/// the renewal's rent, the yearly rent is the renewal's. Violations name `years` and
/// `yearly_rent_fen`.
pub fn check_renewal(
    terms: &Terms,
    renewal: Renewal,
    land_use: LandUse,
    rules: &TermRules,
) -> Result<Terms, Violations> {
    let mut v = Violations::new();
    let statutory = i64::from(rules.statutory_max(land_use));
    let years = check_lease_years(renewal.years, rules, statutory, "years", &mut v);
    check_rent(renewal.yearly_rent_fen, "yearly_rent_fen", &mut v);
    if !v.is_empty() {
        return Err(v);
    }
    let added = i128::from(renewal.yearly_rent_fen) * i128::from(years);
    Ok(Terms {
        lease_years: terms.lease_years + years,
        price_fen: i64::try_from(i128::from(terms.price_fen) + added).unwrap_or(i64::MAX),
        yearly_rent_fen: renewal.yearly_rent_fen,
        ..terms.clone()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(mode: SupplyMode, request: TermRequest) -> Result<Terms, Vec<String>> {
        let mut v = Violations::new();
        check_terms(
            mode,
            &request,
            LandUse::Industrial,
            &TermRules::default(),
            "supply",
            &mut v,
        )
        .ok_or_else(|| v.as_slice().iter().map(|v| v.field.clone()).collect())
    }

    fn years(term: i64) -> TermRequest {
        TermRequest {
            term_years: term,
            price_fen: 10_000_000,
            ..Default::default()
        }
    }

    fn lease(lease: i64, transfer: i64, rent: i64) -> TermRequest {
        TermRequest {
            lease_years: lease,
            transfer_years: transfer,
            price_fen: 10_000_000,
            yearly_rent_fen: rent,
            ..Default::default()
        }
    }

    #[test]
    fn standard_transfer_allows_fifty_industrial_years_and_not_fifty_one() {
        assert_eq!(
            check(SupplyMode::StandardTransfer, years(50))
                .unwrap()
                .total_years(),
            50
        );
        assert_eq!(
            check(SupplyMode::StandardTransfer, years(51)).unwrap_err(),
            ["supply.term_years"]
        );
        assert!(check(SupplyMode::StandardTransfer, years(0)).is_err());
        let mut v = Violations::new();
        let commercial = check_terms(
            SupplyMode::StandardTransfer,
            &years(41),
            LandUse::Commercial,
            &TermRules::default(),
            "supply",
            &mut v,
        );
        assert!(commercial.is_none(), "commercial land stops at 40 years");
    }

    #[test]
    fn flexible_term_stops_at_twenty_and_scales_the_price() {
        let terms = check(SupplyMode::FlexibleTerm, years(20)).unwrap();
        // 10,000,000 fen for 50 years → 20/50 of it.
        assert_eq!(terms.price_fen, 4_000_000);
        assert_eq!(
            check(SupplyMode::FlexibleTerm, years(21)).unwrap_err(),
            ["supply.term_years"]
        );
        let odd = check(
            SupplyMode::FlexibleTerm,
            TermRequest {
                price_fen: 1_000,
                ..years(7)
            },
        );
        assert_eq!(odd.unwrap().price_fen, 140);
        let third = check(
            SupplyMode::FlexibleTerm,
            TermRequest {
                price_fen: 100,
                ..years(1)
            },
        );
        assert_eq!(third.unwrap().price_fen, 2, "100 × 1/50 = 2");
    }

    #[test]
    fn lease_then_transfer_limits_the_lease_the_total_and_the_rent() {
        // 5 % of 10,000,000 is 500,000 a year.
        assert!(check(SupplyMode::LeaseThenTransfer, lease(5, 45, 500_000)).is_ok());
        assert_eq!(
            check(SupplyMode::LeaseThenTransfer, lease(6, 44, 500_000)).unwrap_err(),
            ["supply.lease_years"]
        );
        assert_eq!(
            check(SupplyMode::LeaseThenTransfer, lease(5, 46, 500_000)).unwrap_err(),
            ["supply.transfer_years"]
        );
        assert_eq!(
            check(SupplyMode::LeaseThenTransfer, lease(5, 45, 499_999)).unwrap_err(),
            ["supply.yearly_rent_fen"]
        );
    }

    #[test]
    fn a_longer_lease_may_be_configured_but_never_past_ten_years() {
        let rules = TermRules {
            lease_max_years: 12,
            ..TermRules::default()
        };
        let run = |l| {
            let mut v = Violations::new();
            check_terms(
                SupplyMode::LeaseThenTransfer,
                &lease(l, 40, 500_000),
                LandUse::Industrial,
                &rules,
                "supply",
                &mut v,
            )
        };
        assert!(run(10).is_some());
        assert!(run(11).is_none());
    }

    #[test]
    fn lease_fields_are_refused_for_the_transfer_modes() {
        let request = TermRequest {
            lease_years: 2,
            yearly_rent_fen: 1,
            ..years(20)
        };
        assert_eq!(
            check(SupplyMode::StandardTransfer, request).unwrap_err(),
            ["supply.lease_years", "supply.yearly_rent_fen"]
        );
    }

    fn long(term: i64, rent: i64) -> TermRequest {
        TermRequest {
            term_years: term,
            yearly_rent_fen: rent,
            ..Default::default()
        }
    }

    #[test]
    fn a_long_term_lease_runs_five_to_twenty_years_and_not_four_or_twenty_one() {
        let five = check(SupplyMode::LongTermLease, long(5, 100_000)).unwrap();
        assert_eq!((five.lease_years, five.price_fen), (5, 500_000));
        assert_eq!(
            check(SupplyMode::LongTermLease, long(20, 100_000))
                .unwrap()
                .total_years(),
            20
        );
        for years in [4, 21] {
            assert_eq!(
                check(SupplyMode::LongTermLease, long(years, 100_000)).unwrap_err(),
                ["supply.term_years"],
                "{years} years"
            );
        }
        assert_eq!(
            check(SupplyMode::LongTermLease, long(10, 0)).unwrap_err(),
            ["supply.yearly_rent_fen"]
        );
        let priced = TermRequest {
            price_fen: 1,
            ..long(10, 100)
        };
        assert_eq!(
            check(SupplyMode::LongTermLease, priced).unwrap_err(),
            ["supply.price_fen"]
        );
    }

    #[test]
    fn a_renewal_adds_five_to_twenty_years_at_its_own_rent() {
        let terms = check(SupplyMode::LongTermLease, long(10, 100_000)).unwrap();
        let rules = TermRules::default();
        let renew = |years, rent| {
            check_renewal(
                &terms,
                Renewal {
                    years,
                    yearly_rent_fen: rent,
                },
                LandUse::Industrial,
                &rules,
            )
        };
        let renewed = renew(5, 120_000).unwrap();
        assert_eq!(renewed.lease_years, 15);
        assert_eq!(renewed.price_fen, 1_000_000 + 600_000);
        assert_eq!(renewed.yearly_rent_fen, 120_000);
        assert!(renew(20, 1).is_ok());
        for years in [4, 21] {
            let v = renew(years, 1).unwrap_err();
            assert_eq!(v.as_slice()[0].field, "years", "{years} years");
        }
        assert_eq!(
            renew(5, 0).unwrap_err().as_slice()[0].field,
            "yearly_rent_fen"
        );
    }

    proptest::proptest! {
        #[test]
        fn accepted_flexible_prices_never_exceed_the_full_term_price(
            term in 1_i64..=20, price in 1_i64..=MAX_PRICE_FEN
        ) {
            let terms = check(SupplyMode::FlexibleTerm, TermRequest { price_fen: price, ..years(term) }).unwrap();
            proptest::prop_assert!(terms.price_fen <= price);
            proptest::prop_assert!(terms.total_years() <= 20);
        }

        #[test]
        fn accepted_lease_terms_stay_within_every_limit(
            l in 0_i64..12, t in 0_i64..60, rent in 0_i64..2_000_000
        ) {
            if let Ok(terms) = check(SupplyMode::LeaseThenTransfer, lease(l, t, rent)) {
                proptest::prop_assert!(terms.lease_years <= 5);
                proptest::prop_assert!(terms.total_years() <= 50);
                proptest::prop_assert!(terms.yearly_rent_fen * 20 >= terms.price_fen);
            }
        }
    }
}
