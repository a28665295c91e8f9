//! A fair (展会) as the bureau plans it: kind, market, dates, booth inventory by type,
//! registration window, allocation mode, reserves and the per-firm cap, and the checks that
//! keep a plan coherent.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{
    Refused,
    pools::{Draw, Pools},
};

/// What kind of fair it is: the local kinds ("the production area hosts the fair") and the
/// external fairs the bureau sends leader enterprises to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FairKind {
    /// Fabric and accessories fair (面辅料展).
    LocalFabricAccessories,
    /// Fashion show (时装发布).
    LocalFashionShow,
    /// Printing fair (印花展).
    LocalPrinting,
    /// Craft fair (工艺展).
    LocalCraft,
    /// Garment-culture fair (服装文化节).
    LocalGarmentCulture,
    /// China Import and Export Fair (广交会), Guangzhou.
    CantonFair,
    /// China International Fashion Fair (CHIC), Shanghai.
    Chic,
    /// China Brand Fair (CEE), Budapest.
    ChinaBrandFairBudapest,
    /// CPM, Moscow.
    CpmMoscow,
}

impl FairKind {
    pub const ALL: [FairKind; 9] = [
        FairKind::LocalFabricAccessories,
        FairKind::LocalFashionShow,
        FairKind::LocalPrinting,
        FairKind::LocalCraft,
        FairKind::LocalGarmentCulture,
        FairKind::CantonFair,
        FairKind::Chic,
        FairKind::ChinaBrandFairBudapest,
        FairKind::CpmMoscow,
    ];

    /// Held elsewhere: the bureau sends firms, invites its leaders, checks eligibility and
    /// pays subsidies.
    pub fn is_external(self) -> bool {
        matches!(
            self,
            FairKind::CantonFair
                | FairKind::Chic
                | FairKind::ChinaBrandFairBudapest
                | FairKind::CpmMoscow
        )
    }

    /// The database name.
    pub fn as_str(self) -> &'static str {
        match self {
            FairKind::LocalFabricAccessories => "local_fabric_accessories",
            FairKind::LocalFashionShow => "local_fashion_show",
            FairKind::LocalPrinting => "local_printing",
            FairKind::LocalCraft => "local_craft",
            FairKind::LocalGarmentCulture => "local_garment_culture",
            FairKind::CantonFair => "canton_fair",
            FairKind::Chic => "chic",
            FairKind::ChinaBrandFairBudapest => "china_brand_fair_budapest",
            FairKind::CpmMoscow => "cpm_moscow",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

/// The market a fair opens: it decides the subsidy share.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Market {
    Domestic,
    /// Traditional export markets (Europe, North America, Japan, …).
    TraditionalExport,
    /// Emerging markets (Belt and Road, Central and Eastern Europe, Russia, …).
    Emerging,
}

impl Market {
    pub const ALL: [Market; 3] = [
        Market::Domestic,
        Market::TraditionalExport,
        Market::Emerging,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Market::Domestic => "domestic",
            Market::TraditionalExport => "traditional_export",
            Market::Emerging => "emerging",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == name)
    }
}

/// A unit of exhibition space.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BoothType {
    /// Standard shell-scheme booth of 9 m² (标准展位).
    Standard,
    /// Brand booth, a larger unit (品牌展位).
    Brand,
    /// Raw space for a custom-built stand, in units (特装).
    CustomSpace,
}

impl BoothType {
    pub const ALL: [BoothType; 3] = [
        BoothType::Standard,
        BoothType::Brand,
        BoothType::CustomSpace,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            BoothType::Standard => "standard",
            BoothType::Brand => "brand",
            BoothType::CustomSpace => "custom_space",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

/// How a fair's booths are handed out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AllocationMode {
    /// Confirmed on application while booths last, waitlisted after (local fairs).
    FirstCome,
    /// Collected until the window closes, then allocated by score (the Canton Fair's way).
    Scored,
}

impl AllocationMode {
    pub fn as_str(self) -> &'static str {
        match self {
            AllocationMode::FirstCome => "first_come",
            AllocationMode::Scored => "scored",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "first_come" => Some(AllocationMode::FirstCome),
            "scored" => Some(AllocationMode::Scored),
            _ => None,
        }
    }
}

/// Booths of one type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inventory {
    pub booth_type: BoothType,
    /// Booths (units) the zone's firms may have.
    pub capacity: u32,
    /// Fee per booth, fen.
    pub fee_fen: i64,
}

/// The registration window: applications are taken from `opens_at` (inclusive) to
/// `closes_at` (exclusive).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub opens_at: DateTime<Utc>,
    pub closes_at: DateTime<Utc>,
}

impl Window {
    pub fn is_open(&self, at: DateTime<Utc>) -> bool {
        self.opens_at <= at && at < self.closes_at
    }

    pub fn has_closed(&self, at: DateTime<Utc>) -> bool {
        at >= self.closes_at
    }
}

/// Everything the bureau decides about a fair.
#[derive(Clone, Debug, PartialEq)]
pub struct FairSpec {
    pub name: String,
    pub kind: FairKind,
    pub city: String,
    pub venue: String,
    pub market: Market,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub window: Window,
    pub mode: AllocationMode,
    /// One entry per booth type offered, each type at most once.
    pub inventory: Vec<Inventory>,
    /// Share of each type's booths kept for small firms (percent).
    pub small_firm_reserve_percent: u32,
    /// Share of each type's booths kept for invited A-class firms until the window closes
    /// (percent).
    pub a_class_reserve_percent: u32,
    /// Most booths one firm may have at this fair.
    pub per_firm_cap: u32,
}

/// Largest capacity of one booth type (far above any real fair, low enough for i32 columns).
pub const MAX_CAPACITY: u32 = 100_000;
/// Longest name, city or venue accepted.
pub const MAX_TEXT: usize = 200;

impl FairSpec {
    /// Every problem of the plan, as (field, reason), in the request's field names.
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        let mut check = |ok: bool, field: &str, reason: String| {
            if !ok {
                problems.push((field.to_string(), reason));
            }
        };
        for (field, text) in [
            ("name", &self.name),
            ("city", &self.city),
            ("venue", &self.venue),
        ] {
            check(!text.trim().is_empty(), field, "is required".into());
            check(
                text.chars().count() <= MAX_TEXT,
                field,
                format!("at most {MAX_TEXT} characters"),
            );
        }
        check(
            self.starts_at < self.ends_at,
            "ends_at",
            "must be after starts_at".into(),
        );
        check(
            self.window.opens_at < self.window.closes_at,
            "registration_closes_at",
            "must be after registration_opens_at".into(),
        );
        check(
            self.window.closes_at <= self.starts_at,
            "registration_closes_at",
            "must not be after starts_at".into(),
        );
        check(
            !self.inventory.is_empty(),
            "inventory",
            "at least one booth type".into(),
        );
        for (i, item) in self.inventory.iter().enumerate() {
            check(
                (1..=MAX_CAPACITY).contains(&item.capacity),
                &format!("inventory[{i}].capacity"),
                format!("must be 1 to {MAX_CAPACITY}"),
            );
            check(
                item.fee_fen >= 0,
                &format!("inventory[{i}].fee_fen"),
                "must not be negative".into(),
            );
            let repeated = self.inventory[..i]
                .iter()
                .any(|o| o.booth_type == item.booth_type);
            check(
                !repeated,
                &format!("inventory[{i}].booth_type"),
                format!("{} is listed twice", item.booth_type.as_str()),
            );
        }
        check(
            self.small_firm_reserve_percent + self.a_class_reserve_percent <= 100,
            "small_firm_reserve_percent",
            "the two reserves together may not exceed 100 %".into(),
        );
        check(
            self.per_firm_cap >= 1,
            "per_firm_cap",
            "must be at least 1".into(),
        );
        problems
    }

    pub fn inventory_of(&self, booth_type: BoothType) -> Option<&Inventory> {
        self.inventory.iter().find(|i| i.booth_type == booth_type)
    }
}

/// A stored fair: its plan and what its booth inventory holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Fair {
    pub id: Uuid,
    pub spec: FairSpec,
    /// Booths confirmed or held by an offer, per type.
    pub taken: BTreeMap<BoothType, u32>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub allocated_at: Option<DateTime<Utc>>,
    pub reserves_released_at: Option<DateTime<Utc>>,
}

impl Fair {
    pub fn taken_of(&self, booth_type: BoothType) -> u32 {
        self.taken.get(&booth_type).copied().unwrap_or(0)
    }

    /// What the pools of one booth type still hold when `used` is drawn from them. The
    /// reserves count until the window closes (or the sweeper released them); after that
    /// everything left is general.
    pub fn available(&self, booth_type: BoothType, used: Draw, now: DateTime<Utc>) -> Pools {
        let capacity = self.spec.inventory_of(booth_type).map_or(0, |i| i.capacity);
        let pools = Pools::split(
            capacity,
            self.spec.small_firm_reserve_percent,
            self.spec.a_class_reserve_percent,
        );
        if self.spec.window.has_closed(now) || self.reserves_released_at.is_some() {
            let total = pools.total().saturating_sub(used.total());
            return Pools {
                general: total,
                small: 0,
                a_class: 0,
            };
        }
        // A reserve overdrawn (only possible after a capacity change) takes from the general
        // pool.
        let left = pools.minus(used);
        let overdraw =
            (used.small.saturating_sub(pools.small)) + (used.a_class.saturating_sub(pools.a_class));
        Pools {
            general: left.general.saturating_sub(overdraw),
            ..left
        }
    }
}

/// Decides a change of a fair's plan to `spec`: the kind and the allocation mode stay once
/// anyone applied (`registered` holds the booth types with registrations), the window once
/// the booths are allocated; a booth type with registrations stays, and no capacity drops
/// below the booths taken.
pub fn decide_update(
    current: &Fair,
    registered: &[BoothType],
    spec: &FairSpec,
) -> Result<(), Refused> {
    if !registered.is_empty() && (spec.mode != current.spec.mode || spec.kind != current.spec.kind)
    {
        return Err(Refused::KindOrModeFixed);
    }
    if current.allocated_at.is_some() && spec.window != current.spec.window {
        return Err(Refused::WindowFixed);
    }
    if let Some(&gone) = registered.iter().find(|t| spec.inventory_of(**t).is_none()) {
        return Err(Refused::BoothTypeInUse(gone));
    }
    for item in &spec.inventory {
        let taken = current.taken_of(item.booth_type);
        if item.capacity < taken {
            return Err(Refused::CapacityBelowTaken {
                booth_type: item.booth_type,
                taken,
                capacity: item.capacity,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;

    pub fn at(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2027, 3, day, 0, 0, 0).unwrap()
    }

    pub fn spec() -> FairSpec {
        FairSpec {
            name: "Canton Fair, phase 3".into(),
            kind: FairKind::CantonFair,
            city: "Guangzhou".into(),
            venue: "Pazhou complex".into(),
            market: Market::TraditionalExport,
            starts_at: at(20),
            ends_at: at(25),
            window: Window {
                opens_at: at(1),
                closes_at: at(10),
            },
            mode: AllocationMode::Scored,
            inventory: vec![Inventory {
                booth_type: BoothType::Standard,
                capacity: 30,
                fee_fen: 1_500_000,
            }],
            small_firm_reserve_percent: 20,
            a_class_reserve_percent: 10,
            per_firm_cap: 10,
        }
    }

    #[test]
    fn the_window_includes_its_opening_and_excludes_its_close() {
        let w = spec().window;
        assert!(!w.is_open(w.opens_at - Duration::nanoseconds(1)));
        assert!(w.is_open(w.opens_at));
        assert!(w.is_open(w.closes_at - Duration::nanoseconds(1)));
        assert!(!w.is_open(w.closes_at));
        assert!(w.has_closed(w.closes_at));
    }

    #[test]
    fn a_coherent_plan_passes_and_each_flaw_is_named() {
        assert!(spec().validate().is_empty());
        let mut bad = spec();
        bad.name = " ".into();
        bad.ends_at = bad.starts_at;
        bad.window.closes_at = at(21);
        bad.inventory.push(Inventory {
            booth_type: BoothType::Standard,
            capacity: 0,
            fee_fen: -1,
        });
        bad.small_firm_reserve_percent = 95;
        bad.per_firm_cap = 0;
        let fields: Vec<String> = bad.validate().into_iter().map(|(f, _)| f).collect();
        for field in [
            "name",
            "ends_at",
            "registration_closes_at",
            "inventory[1].capacity",
            "inventory[1].fee_fen",
            "inventory[1].booth_type",
            "small_firm_reserve_percent",
            "per_firm_cap",
        ] {
            assert!(
                fields.iter().any(|f| f == field),
                "{field} missing from {fields:?}"
            );
        }
    }

    #[test]
    fn only_the_four_fairs_abroad_or_elsewhere_are_external() {
        let external: Vec<FairKind> = FairKind::ALL
            .into_iter()
            .filter(|k| k.is_external())
            .collect();
        assert_eq!(external.len(), 4);
        for kind in FairKind::ALL {
            assert_eq!(FairKind::parse(kind.as_str()), Some(kind));
        }
    }

    fn stored(spec: FairSpec) -> Fair {
        Fair {
            id: Uuid::from_u128(1),
            spec,
            taken: BTreeMap::from([(BoothType::Standard, 12)]),
            version: 3,
            created_at: at(1),
            allocated_at: None,
            reserves_released_at: None,
        }
    }

    #[test]
    fn a_plan_change_keeps_what_registrations_rely_on() {
        let current = stored(spec());
        let registered = [BoothType::Standard];
        let mut mode = spec();
        mode.mode = AllocationMode::FirstCome;
        assert!(
            decide_update(&current, &[], &mode).is_ok(),
            "nobody applied yet"
        );
        assert_eq!(
            decide_update(&current, &registered, &mode).unwrap_err(),
            Refused::KindOrModeFixed
        );
        let mut smaller = spec();
        smaller.inventory[0].capacity = 11;
        assert_eq!(
            decide_update(&current, &registered, &smaller).unwrap_err(),
            Refused::CapacityBelowTaken {
                booth_type: BoothType::Standard,
                taken: 12,
                capacity: 11
            }
        );
        let mut other = spec();
        other.inventory[0].booth_type = BoothType::Brand;
        assert_eq!(
            decide_update(&current, &registered, &other).unwrap_err(),
            Refused::BoothTypeInUse(BoothType::Standard)
        );
        let mut allocated = stored(spec());
        allocated.allocated_at = Some(at(10));
        let mut later = spec();
        later.window.closes_at = at(11);
        assert_eq!(
            decide_update(&allocated, &registered, &later).unwrap_err(),
            Refused::WindowFixed
        );
    }
}
