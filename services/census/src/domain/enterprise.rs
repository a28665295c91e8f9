//! The registry record of an enterprise (企业登记信息): who it is, where, in which industry.

use chrono::{DateTime, NaiveDate, Utc};
use platform::Violations;

use platform::Park;

use super::{IndustryClass, Uscc};

/// Longest registered name or legal representative accepted, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// Longest deregistration reason accepted, in characters.
pub const MAX_REASON_CHARS: usize = 1000;
/// The earliest registration date accepted; anything earlier is a typing error.
pub const EARLIEST_REGISTRATION: NaiveDate = match NaiveDate::from_ymd_opt(1949, 10, 1) {
    Some(date) => date,
    None => panic!("a valid constant date"),
};

/// Size class (企业规模) of the statistical size classification.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Size {
    Large,
    Medium,
    Small,
    Micro,
}

impl Size {
    pub const ALL: [Size; 4] = [Size::Large, Size::Medium, Size::Small, Size::Micro];

    pub fn as_str(self) -> &'static str {
        match self {
            Size::Large => "LARGE",
            Size::Medium => "MEDIUM",
            Size::Small => "SMALL",
            Size::Micro => "MICRO",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == code)
    }
}

/// Registry status: an enterprise is never deleted, only deregistered (注销), and its file stays.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    Active,
    Deregistered,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "ACTIVE",
            Status::Deregistered => "DEREGISTERED",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        [Status::Active, Status::Deregistered]
            .into_iter()
            .find(|s| s.as_str() == code)
    }
}

/// Serious violations on record; any one is a veto (一票否决) that keeps the firm out of
/// classes A and B.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Vetoes {
    pub safety: bool,
    pub environmental: bool,
    pub tax_credit: bool,
}

/// The fields a caller sets when registering or updating an enterprise, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistryFields {
    /// Registered name, trimmed.
    pub name: String,
    /// Legal representative (法定代表人), trimmed.
    pub legal_representative: String,
    pub park: Park,
    /// GB/T 4754 class; the segment follows from it.
    pub industry_class: IndustryClass,
    pub size: Size,
    /// Date of registration with market supervision (local date in China).
    pub registration_date: NaiveDate,
    pub vetoes: Vetoes,
}

/// The registry fields as they arrive, before any check. Enumerations the caller left unset
/// or sent with an unknown number are `None`.
#[derive(Clone, Debug, Default)]
pub struct RegistryInput<'a> {
    pub name: &'a str,
    pub legal_representative: &'a str,
    pub park: Option<Park>,
    pub industry_class: &'a str,
    pub size: Option<Size>,
    pub registration_date: &'a str,
    pub vetoes: Vetoes,
}

impl RegistryInput<'_> {
    /// Checks every field, adding one violation per bad field; `None` if any was bad.
    /// `today` is the current local date in China: a registration cannot lie in the future.
    pub fn check(&self, today: NaiveDate, violations: &mut Violations) -> Option<RegistryFields> {
        let name = text(self.name, "name", MAX_NAME_CHARS, violations);
        let legal_representative = text(
            self.legal_representative,
            "legal_representative",
            MAX_NAME_CHARS,
            violations,
        );
        if self.park.is_none() {
            violations.add("park", "must be one of XILIU, NANTAI, GANWANG, ZHONGXIAO");
        }
        let industry_class = IndustryClass::parse(self.industry_class)
            .map_err(|e| violations.add("industry_class", e.to_string()))
            .ok();
        if self.size.is_none() {
            violations.add("size", "must be one of LARGE, MEDIUM, SMALL, MICRO");
        }
        let registration_date = registration_date(self.registration_date, today, violations);
        Some(RegistryFields {
            name: name?,
            legal_representative: legal_representative?,
            park: self.park?,
            industry_class: industry_class?,
            size: self.size?,
            registration_date: registration_date?,
            vetoes: self.vetoes,
        })
    }
}

/// A required free-text field: trimmed, not empty, no control characters, bounded length.
pub fn text(
    value: &str,
    field: &str,
    max_chars: usize,
    violations: &mut Violations,
) -> Option<String> {
    let trimmed = value.trim();
    let reason = if trimmed.is_empty() {
        Some("is required".to_string())
    } else if trimmed.chars().any(char::is_control) {
        Some("must not contain control characters".to_string())
    } else if trimmed.chars().count() > max_chars {
        Some(format!("must be at most {max_chars} characters"))
    } else {
        None
    };
    match reason {
        Some(reason) => {
            violations.add(field, reason);
            None
        }
        None => Some(trimmed.to_string()),
    }
}

fn registration_date(
    value: &str,
    today: NaiveDate,
    violations: &mut Violations,
) -> Option<NaiveDate> {
    let field = "registration_date";
    if value.is_empty() {
        violations.add(field, "is required");
        return None;
    }
    let Ok(date) = NaiveDate::parse_from_str(value, "%Y-%m-%d") else {
        violations.add(field, format!("{value:?} is not a date YYYY-MM-DD"));
        return None;
    };
    if value.len() != 10 {
        violations.add(field, format!("{value:?} is not a date YYYY-MM-DD"));
        None
    } else if date > today {
        violations.add(field, format!("{date} lies in the future"));
        None
    } else if date < EARLIEST_REGISTRATION {
        violations.add(field, format!("{date} is before {EARLIEST_REGISTRATION}"));
        None
    } else {
        Some(date)
    }
}

/// One version of an enterprise's registry record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Enterprise {
    pub uscc: Uscc,
    pub fields: RegistryFields,
    pub status: Status,
    /// Why it was deregistered; `None` while active.
    pub deregistration_reason: Option<String>,
    /// Starts at 1, one more with every change; the optimistic-concurrency token.
    pub version: i64,
    /// When the enterprise was first registered on the platform.
    pub created_at: DateTime<Utc>,
    /// When this version was recorded.
    pub updated_at: DateTime<Utc>,
}

impl Enterprise {
    pub fn is_active(&self) -> bool {
        self.status == Status::Active
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, 6, 30).unwrap()
    }

    fn good() -> RegistryInput<'static> {
        RegistryInput {
            name: " 海城市南台箱包有限公司 ",
            legal_representative: "王海",
            park: Some(Park::Nantai),
            industry_class: "1922",
            size: Some(Size::Small),
            registration_date: "2012-03-15",
            vetoes: Vetoes::default(),
        }
    }

    fn fields_of(input: RegistryInput) -> Vec<String> {
        let mut violations = Violations::new();
        input.check(today(), &mut violations);
        violations
            .as_slice()
            .iter()
            .map(|v| v.field.clone())
            .collect()
    }

    #[test]
    fn a_good_record_passes_trimmed() {
        let mut violations = Violations::new();
        let fields = good().check(today(), &mut violations).unwrap();
        assert!(violations.is_empty());
        assert_eq!(fields.name, "海城市南台箱包有限公司");
        assert_eq!(
            fields.industry_class.segment(),
            super::super::Segment::LuggageLeather
        );
    }

    #[test]
    fn each_bad_field_is_its_own_violation() {
        let bad = RegistryInput {
            name: "  ",
            legal_representative: "a\u{7}b",
            park: None,
            industry_class: "2611",
            size: None,
            registration_date: "2030-01-01",
            vetoes: Vetoes::default(),
        };
        assert_eq!(
            fields_of(bad),
            [
                "name",
                "legal_representative",
                "park",
                "industry_class",
                "size",
                "registration_date"
            ]
        );
        for date in ["2012-3-15", "2012-02-30", "15.03.2012", "1900-01-01"] {
            let input = RegistryInput {
                registration_date: date,
                ..good()
            };
            assert_eq!(fields_of(input), ["registration_date"], "{date}");
        }
    }
}
