//! Risk tiers A–D per firm, from the facts the platform holds (分级分类): the class in force
//! gives the tier (A → A, B → B, C → C; a firm without a class is B), and a veto on record or
//! a land commitment short makes it D. The white list (无事不扰): tier A with no veto, no open
//! rectification and no land shortfall; a white-listed firm gets no routine visit on a
//! non-safety item.

use platform::{Class, auth::Department};

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    strum::IntoStaticStr,
    strum::EnumString,
)]
pub enum Tier {
    A,
    B,
    C,
    D,
}

impl Tier {
    pub const ALL: [Tier; 4] = [Tier::A, Tier::B, Tier::C, Tier::D];

    /// Its place in `Limits::ratios_bp`.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// What the platform knows about a firm, as the consumers keep it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Facts {
    /// The class in force; `None` when not graded.
    pub class: Option<Class>,
    /// A safety, environmental or tax-credit violation on record (census).
    pub veto: bool,
    /// A land commitment short at the latest evaluation of any of its grants.
    pub land_shortfall: bool,
    /// A finding not yet re-checked.
    pub open_rectification: bool,
}

/// A firm's standing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standing {
    pub tier: Tier,
    pub white_listed: bool,
    /// Why, in words.
    pub reason: String,
}

/// A firm as the tier lists show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirmStanding {
    pub uscc: String,
    pub name: String,
    pub facts: Facts,
    pub standing: Standing,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// The tier and white-list standing of `facts`.
pub fn assess(facts: &Facts) -> Standing {
    let class_tier = match facts.class {
        Some(Class::A) => Tier::A,
        Some(Class::B) | None => Tier::B,
        Some(Class::C) => Tier::C,
    };
    let class_reason = match facts.class {
        Some(class) => format!("class {class} in force"),
        None => "no class in force (tier B)".to_string(),
    };
    let mut causes = Vec::new();
    if facts.veto {
        causes.push("a veto on record");
    }
    if facts.land_shortfall {
        causes.push("a land commitment short");
    }
    let (tier, reason) = if causes.is_empty() {
        (class_tier, class_reason)
    } else {
        (
            Tier::D,
            format!("{class_reason}; {} → D", causes.join(", ")),
        )
    };
    let white_listed = tier == Tier::A && !facts.open_rectification;
    Standing {
        tier,
        white_listed,
        reason,
    }
}

/// Triggered work: entering class C (from another class or none) opens a rectification
/// follow-up for market supervision.
pub fn follow_up_on_class(before: Option<Class>, after: Option<Class>) -> Option<Department> {
    (after == Some(Class::C) && before != Some(Class::C)).then_some(Department::MarketSupervision)
}

/// Triggered work: a firm's first land shortfall (none short before) opens a follow-up for
/// natural resources.
pub fn follow_up_on_land(short_before: bool, short_now: bool) -> Option<Department> {
    (short_now && !short_before).then_some(Department::NaturalResources)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(class: Option<Class>) -> Facts {
        Facts {
            class,
            ..Facts::default()
        }
    }

    #[test]
    fn the_class_in_force_gives_the_tier() {
        assert_eq!(assess(&facts(Some(Class::A))).tier, Tier::A);
        assert_eq!(assess(&facts(Some(Class::B))).tier, Tier::B);
        assert_eq!(assess(&facts(Some(Class::C))).tier, Tier::C);
        assert_eq!(assess(&facts(None)).tier, Tier::B);
    }

    #[test]
    fn a_veto_or_a_shortfall_makes_d_and_ends_the_white_list() {
        let veto = Facts {
            veto: true,
            ..facts(Some(Class::A))
        };
        let short = Facts {
            land_shortfall: true,
            ..facts(Some(Class::A))
        };
        for f in [veto, short] {
            let s = assess(&f);
            assert_eq!(s.tier, Tier::D);
            assert!(!s.white_listed);
        }
    }

    #[test]
    fn only_entering_c_or_a_first_shortfall_opens_a_follow_up() {
        let ms = Some(Department::MarketSupervision);
        assert_eq!(follow_up_on_class(Some(Class::B), Some(Class::C)), ms);
        assert_eq!(follow_up_on_class(None, Some(Class::C)), ms);
        assert_eq!(follow_up_on_class(Some(Class::C), Some(Class::C)), None);
        assert_eq!(follow_up_on_class(Some(Class::C), Some(Class::B)), None);
        assert_eq!(
            follow_up_on_land(false, true),
            Some(Department::NaturalResources)
        );
        assert_eq!(follow_up_on_land(true, true), None);
        assert_eq!(follow_up_on_land(false, false), None);
    }

    #[test]
    fn only_a_clean_tier_a_firm_is_white_listed() {
        assert!(assess(&facts(Some(Class::A))).white_listed);
        assert!(!assess(&facts(Some(Class::B))).white_listed);
        let open = Facts {
            open_rectification: true,
            ..facts(Some(Class::A))
        };
        let s = assess(&open);
        assert_eq!(s.tier, Tier::A);
        assert!(!s.white_listed);
    }
}
