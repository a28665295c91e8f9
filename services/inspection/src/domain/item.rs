//! Inspection items (检查事项清单): only a listed item may be checked. Each department keeps
//! its own list; an item says its legal basis, its kind, whether it concerns safety (safety
//! items ignore the white list) and whether it can be done without entering the firm.

use chrono::{DateTime, Utc};
use platform::auth::Department;

/// The kind of an item (and of a task).
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
#[strum(serialize_all = "SCREAMING_SNAKE_CASE")]
pub enum ItemKind {
    /// Routine (日常): in the yearly plan.
    Routine,
    /// Special (专项): an approved campaign.
    Special,
    /// Triggered (个案): a complaint, referral, clue, re-check or the firm's own request.
    Triggered,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub department: Department,
    pub code: String,
    pub title: String,
    /// Legal basis (法律依据).
    pub legal_basis: String,
    pub kind: ItemKind,
    /// Safety items ignore the white list.
    pub safety: bool,
    /// Can be done without entering the firm (非现场).
    pub off_site: bool,
    /// What the firm is asked to show.
    pub documents: Vec<String>,
    pub version: i64,
    pub updated_at: DateTime<Utc>,
}

/// Why an item was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ItemRefused {
    #[error("{caller} may write only its own items, not {department}'s")]
    NotOwnDepartment {
        caller: String,
        department: &'static str,
    },
}

/// Whether a code is well formed: 2 to 40 upper-case letters, digits and dashes, starting
/// with a letter.
pub fn valid_code(code: &str) -> bool {
    (2..=40).contains(&code.len())
        && code.starts_with(|c: char| c.is_ascii_uppercase())
        && code
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-')
}

/// Decides a put: the caller writes its own department's list; the version counts up.
pub fn decide_put(
    caller: Option<Department>,
    caller_name: &str,
    existing: Option<&Item>,
    mut item: Item,
    now: DateTime<Utc>,
) -> Result<Item, ItemRefused> {
    if caller != Some(item.department) {
        return Err(ItemRefused::NotOwnDepartment {
            caller: caller_name.to_string(),
            department: item.department.as_str(),
        });
    }
    item.version = existing.map_or(1, |e| e.version + 1);
    item.updated_at = now;
    Ok(item)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn item(code: &str, department: Department) -> Item {
        Item {
            department,
            code: code.into(),
            title: "title".into(),
            legal_basis: "law".into(),
            kind: ItemKind::Routine,
            safety: false,
            off_site: false,
            documents: vec![],
            version: 0,
            updated_at: DateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn codes_are_upper_case_words_with_dashes() {
        assert!(valid_code("MS-QUALITY-01"));
        assert!(!valid_code("ms-quality"));
        assert!(!valid_code("1A"));
        assert!(!valid_code("A"));
        assert!(!valid_code(&"A".repeat(41)));
    }

    #[test]
    fn a_department_writes_only_its_own_list_and_versions_count_up() {
        let now = Utc::now();
        let new = item("TAX-01", Department::Tax);
        let refused = decide_put(
            Some(Department::Commerce),
            "commerce",
            None,
            new.clone(),
            now,
        );
        assert!(matches!(refused, Err(ItemRefused::NotOwnDepartment { .. })));
        let first = decide_put(Some(Department::Tax), "tax", None, new.clone(), now).unwrap();
        assert_eq!(first.version, 1);
        let second = decide_put(Some(Department::Tax), "tax", Some(&first), new, now).unwrap();
        assert_eq!(second.version, 2);
    }
}
