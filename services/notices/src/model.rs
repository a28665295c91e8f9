//! The notice store's pure rules: what a notice id and a watch cursor look like, how
//! states map between the contract and the store. No I/O.

use haicheng_proto::policy::v1::NoticeState;

/// Longest notice id accepted (a producer's deterministic id is a hash or a UUID).
pub const MAX_NOTICE_ID_LEN: usize = 128;

/// Why `id` is not a notice id, if it is not one: non-empty printable ASCII without spaces.
pub fn notice_id_problem(id: &str) -> Option<String> {
    if id.is_empty() {
        Some("required".into())
    } else if id.len() > MAX_NOTICE_ID_LEN {
        Some(format!("at most {MAX_NOTICE_ID_LEN} characters"))
    } else if !id.bytes().all(|b| b.is_ascii_graphic()) {
        Some("printable ASCII without spaces".into())
    } else {
        None
    }
}

/// A position in the store's notice sequence: a watch resumes after it.
///
/// On the wire it is `n1.<seq>`, an opaque string to clients; the prefix leaves room to
/// change the encoding. The empty cursor is the start, before every notice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cursor(pub i64);

const CURSOR_PREFIX: &str = "n1.";

impl Cursor {
    /// Before the first notice (sequence numbers start at 1).
    pub const START: Cursor = Cursor(0);

    pub fn encode(self) -> String {
        format!("{CURSOR_PREFIX}{}", self.0)
    }

    /// Parses a client's cursor; `None` when it is not one this service issued.
    pub fn parse(raw: &str) -> Option<Cursor> {
        if raw.is_empty() {
            return Some(Cursor::START);
        }
        let digits = raw.strip_prefix(CURSOR_PREFIX)?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok().map(Cursor)
    }
}

/// A notice's state as the store keeps it in SQL (`open`, `acknowledged`, `overdue`).
pub fn state_name(state: NoticeState) -> Option<&'static str> {
    match state {
        NoticeState::Unspecified => None,
        NoticeState::Open => Some("open"),
        NoticeState::Acknowledged => Some("acknowledged"),
        NoticeState::Overdue => Some("overdue"),
    }
}

/// The inverse of [`state_name`].
pub fn state_from_name(name: &str) -> Option<NoticeState> {
    match name {
        "open" => Some(NoticeState::Open),
        "acknowledged" => Some(NoticeState::Acknowledged),
        "overdue" => Some(NoticeState::Overdue),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_foreign_strings_are_refused() {
        assert_eq!(Cursor::parse(""), Some(Cursor::START));
        assert_eq!(Cursor::parse(&Cursor(42).encode()), Some(Cursor(42)));
        for bad in [
            "42",
            "n1.",
            "n1.-3",
            "n1.+3",
            "n1.4x",
            "n2.4",
            "n1.99999999999999999999",
        ] {
            assert_eq!(Cursor::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn notice_ids_are_bounded_printable_ascii() {
        assert_eq!(notice_id_problem("cls-0123abcd"), None);
        assert!(notice_id_problem("").is_some());
        assert!(notice_id_problem("with space").is_some());
        assert!(notice_id_problem("通知").is_some());
        assert!(notice_id_problem(&"x".repeat(MAX_NOTICE_ID_LEN + 1)).is_some());
    }

    #[test]
    fn states_round_trip_through_their_names() {
        for state in [
            NoticeState::Open,
            NoticeState::Acknowledged,
            NoticeState::Overdue,
        ] {
            assert_eq!(state_from_name(state_name(state).unwrap()), Some(state));
        }
        assert_eq!(state_name(NoticeState::Unspecified), None);
    }
}
