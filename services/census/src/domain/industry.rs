//! Industry classes (GB/T 4754-2017, four digits) of the cluster, and the benchmarking
//! segment each belongs to.

use std::fmt;

pub use platform::Segment;

/// The classes in scope, each with its segment. C17 textiles, C18 apparel, the C19 classes
/// DOMAIN.md lists (leather products, fur, down, footwear; tanning 1910 is not in the
/// cluster), and the wholesale classes of market traders.
const IN_SCOPE: &[(&str, Segment)] = &[
    // C17 纺织业
    ("1711", Segment::Textile), // cotton spinning
    ("1712", Segment::Textile), // cotton weaving
    ("1713", Segment::Textile), // cotton printing and dyeing
    ("1721", Segment::Textile), // wool tops and yarn
    ("1722", Segment::Textile), // wool weaving
    ("1723", Segment::Textile), // wool dyeing and finishing
    ("1731", Segment::Textile), // hemp fibre and spinning
    ("1732", Segment::Textile), // hemp weaving
    ("1733", Segment::Textile), // hemp dyeing and finishing
    ("1741", Segment::Textile), // silk reeling
    ("1742", Segment::Textile), // silk spinning and weaving
    ("1743", Segment::Textile), // silk printing and dyeing
    ("1751", Segment::Textile), // chemical-fibre weaving
    ("1752", Segment::Textile), // chemical-fibre dyeing and finishing
    ("1761", Segment::Textile), // knitted fabrics
    ("1762", Segment::Textile), // knitted fabric dyeing and finishing
    ("1763", Segment::Textile), // knitted articles
    ("1771", Segment::Textile), // bedding
    ("1772", Segment::Textile), // towels
    ("1773", Segment::Textile), // curtains and fabric articles
    ("1779", Segment::Textile), // other home textiles
    ("1781", Segment::Textile), // non-wovens
    ("1782", Segment::Textile), // rope, cord, cable
    ("1783", Segment::Textile), // textile tapes and cord fabric
    ("1784", Segment::Textile), // tarpaulins and canvas
    ("1789", Segment::Textile), // other industrial textiles
    // C18 纺织服装、服饰业
    ("1811", Segment::Apparel), // woven sportswear
    ("1819", Segment::Apparel), // other woven garments
    ("1821", Segment::Apparel), // knitted sports and leisure wear
    ("1829", Segment::Apparel), // other knitted garments
    ("1830", Segment::Apparel), // apparel accessories
    // C19 皮革、毛皮、羽毛及其制品和制鞋业
    ("1921", Segment::LuggageLeather), // leather garments
    ("1922", Segment::LuggageLeather), // luggage and bags (皮箱、包（袋）制造)
    ("1923", Segment::LuggageLeather), // leather gloves and trims
    ("1929", Segment::LuggageLeather), // other leather products
    ("1931", Segment::LuggageLeather), // fur dressing
    ("1932", Segment::LuggageLeather), // fur garments
    ("1939", Segment::LuggageLeather), // other fur products
    ("1941", Segment::LuggageLeather), // feather and down processing
    ("1942", Segment::LuggageLeather), // feather and down products
    ("1951", Segment::LuggageLeather), // textile footwear
    ("1952", Segment::LuggageLeather), // leather shoes
    ("1953", Segment::LuggageLeather), // plastic footwear
    ("1954", Segment::LuggageLeather), // rubber footwear
    ("1959", Segment::LuggageLeather), // other footwear
    // 513 纺织、服装及家庭用品批发
    ("5131", Segment::Trade), // textiles, knitwear and raw materials
    ("5132", Segment::Trade), // garments
    ("5133", Segment::Trade), // footwear and hats
    ("5139", Segment::Trade), // other household goods (luggage)
];

/// A four-digit GB/T 4754-2017 class within the cluster.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IndustryClass {
    code: &'static str,
    segment: Segment,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IndustryError {
    #[error("is required")]
    Missing,
    #[error("{0:?} is not a four-digit GB/T 4754-2017 class")]
    Format(String),
    #[error(
        "class {0} is outside the cluster (C17 textiles, C18 apparel, C19 leather and luggage, wholesale 5131-5133 and 5139)"
    )]
    OutOfScope(String),
}

impl IndustryClass {
    pub fn parse(code: &str) -> Result<Self, IndustryError> {
        if code.is_empty() {
            return Err(IndustryError::Missing);
        }
        if code.len() != 4 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(IndustryError::Format(code.to_string()));
        }
        IN_SCOPE
            .iter()
            .find(|(c, _)| *c == code)
            .map(|&(code, segment)| Self { code, segment })
            .ok_or_else(|| IndustryError::OutOfScope(code.to_string()))
    }

    pub fn code(&self) -> &'static str {
        self.code
    }

    pub fn segment(&self) -> Segment {
        self.segment
    }
}

impl fmt::Display for IndustryClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_map_to_their_segment() {
        for (code, segment) in [
            ("1711", Segment::Textile),
            ("1789", Segment::Textile),
            ("1819", Segment::Apparel),
            ("1830", Segment::Apparel),
            ("1922", Segment::LuggageLeather),
            ("1952", Segment::LuggageLeather),
            ("5132", Segment::Trade),
        ] {
            assert_eq!(IndustryClass::parse(code).unwrap().segment(), segment);
        }
    }

    #[test]
    fn classes_outside_the_cluster_or_malformed_are_refused() {
        assert_eq!(IndustryClass::parse(""), Err(IndustryError::Missing));
        for code in [
            "1910", "1700", "1790", "2611", "5134", "C1922", "192", "19221",
        ] {
            assert!(IndustryClass::parse(code).is_err(), "{code}");
        }
        assert!(matches!(
            IndustryClass::parse("19a2"),
            Err(IndustryError::Format(_))
        ));
    }

    #[test]
    fn the_table_has_no_duplicates_and_every_segment() {
        let mut codes: Vec<&str> = IN_SCOPE.iter().map(|(c, _)| *c).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), IN_SCOPE.len());
        for segment in Segment::ALL {
            assert!(IN_SCOPE.iter().any(|(_, s)| *s == segment));
            assert_eq!(Segment::parse(segment.as_str()), Some(segment));
        }
    }
}
