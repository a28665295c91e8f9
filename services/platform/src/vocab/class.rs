//! The class an enterprise is placed in by the classification (分类管理).

use haicheng_proto::common::v1 as proto;

/// The class an enterprise is placed in. Ordered A < B < C: A comes first in every queue.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    strum::IntoStaticStr,
    strum::EnumString,
)]
pub enum Class {
    /// Leader (领军型): the top share of the cohort; key support, resource priority.
    A,
    /// Growth (成长型): the next share; targeted policy support.
    B,
    /// Rectification (整改型): the rest; supervision and a push to upgrade.
    C,
}

super::stored_word!(Class, proto::EnterpriseClass, {
    A => A,
    B => B,
    C => C,
});

impl Class {
    /// The letter, as departments write it: the stored spelling.
    pub fn letter(self) -> &'static str {
        self.as_str()
    }

    /// The class one step up (A for B, B for C), if any.
    pub fn next_up(self) -> Option<Class> {
        match self {
            Class::A => None,
            Class::B => Some(Class::A),
            Class::C => Some(Class::B),
        }
    }

    /// Priority of an optional class in a queue: A first, then B, C, and no class last.
    pub fn priority(class: Option<Class>) -> u8 {
        match class {
            Some(Class::A) => 0,
            Some(Class::B) => 1,
            Some(Class::C) => 2,
            None => 3,
        }
    }
}
