//! Benchmarking segment (对标分组) of the cluster: enterprises are compared within their
//! segment. Census assigns it from the industry class; classification ranks within it.

/// Benchmarking segment (对标分组).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
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

impl Segment {
    pub const ALL: [Segment; 4] = [
        Segment::Textile,
        Segment::Apparel,
        Segment::LuggageLeather,
        Segment::Trade,
    ];

    /// The name stored in a database.
    pub fn as_str(self) -> &'static str {
        match self {
            Segment::Textile => "TEXTILE",
            Segment::Apparel => "APPAREL",
            Segment::LuggageLeather => "LUGGAGE_LEATHER",
            Segment::Trade => "TRADE",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_segment_parses_back_from_its_name() {
        for segment in Segment::ALL {
            assert_eq!(Segment::parse(segment.as_str()), Some(segment));
        }
        assert_eq!(Segment::parse("textile"), None);
    }
}
