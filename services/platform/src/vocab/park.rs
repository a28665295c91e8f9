//! One of the four parks of the zone (一区四园).

use haicheng_proto::common::v1 as proto;

/// One of the four parks of the zone (一区四园).
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
#[strum(serialize_all = "SCREAMING_SNAKE_CASE")]
pub enum Park {
    /// Xiliu comprehensive park (西柳综合发展园区).
    Xiliu,
    /// Nantai luggage park (南台箱包加工商贸发展园区).
    Nantai,
    /// Ganwang textile and dyeing park (感王纺织印染产业发展园区).
    Ganwang,
    /// Zhongxiao accessories park (中小纺织服装辅料产业发展园区).
    Zhongxiao,
}

super::stored_word!(Park, proto::Park, {
    Xiliu => Xiliu,
    Nantai => Nantai,
    Ganwang => Ganwang,
    Zhongxiao => Zhongxiao,
});

impl Park {
    /// The spelling in a park scope of a token (`land.park:xiliu`): lower case.
    pub fn scope_name(self) -> String {
        self.as_str().to_ascii_lowercase()
    }
}
