//! Benchmarking segment (对标分组) of the cluster: enterprises are compared within their
//! segment. Census assigns it from the industry class; classification ranks within it.

use haicheng_proto::common::v1 as proto;

/// Benchmarking segment (对标分组).
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
pub enum Segment {
    /// Textiles (纺织业), C17.
    Textile,
    /// Apparel and accessories (纺织服装、服饰业), C18.
    Apparel,
    /// Leather, fur, feather and footwear, with luggage and bags (皮革、毛皮、羽毛及其制品和制鞋业), C19.
    LuggageLeather,
    /// Wholesale of textiles, garments and luggage by market traders (批发), 513x.
    Trade,
}

super::stored_word!(Segment, proto::Segment, {
    Textile => Textile,
    Apparel => Apparel,
    LuggageLeather => LuggageLeather,
    Trade => Trade,
});

impl Segment {
    /// A producer (the manufacturing segments), not a trading firm: industrial land and
    /// units of split buildings are only for producers; fairs set producers' thresholds apart.
    pub fn is_manufacturing(self) -> bool {
        !matches!(self, Segment::Trade)
    }
}
