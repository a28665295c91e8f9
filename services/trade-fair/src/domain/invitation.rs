//! Invitations (邀请): a class-A firm is invited once to every external fair whose window is
//! open; an invitation it has not used is withdrawn when it leaves class A, and issued again
//! should it come back.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::Class;

/// Where an invitation stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InvitationStatus {
    Issued,
    Applied,
    Withdrawn,
}

impl InvitationStatus {
    pub const ALL: [InvitationStatus; 3] = [
        InvitationStatus::Issued,
        InvitationStatus::Applied,
        InvitationStatus::Withdrawn,
    ];

    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            InvitationStatus::Issued => "issued",
            InvitationStatus::Applied => "applied",
            InvitationStatus::Withdrawn => "withdrawn",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

/// An invitation of one firm to one fair.
#[derive(Debug, Clone, PartialEq)]
pub struct Invitation {
    pub fair_id: Uuid,
    pub uscc: String,
    pub class: Option<Class>,
    pub reason: String,
    pub status: InvitationStatus,
    pub issued_at: DateTime<Utc>,
    pub withdrawn_at: Option<DateTime<Utc>>,
}

/// The reason of an invitation issued when the firm entered class A.
pub const ENTERED_CLASS_A: &str = "entered class A";
/// The reason of an invitation issued by the sweep (the fair opened after the firm became A).
pub const A_WHEN_WINDOW_OPENED: &str = "class A when the window opened";

/// What a change of class means for a firm's invitations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClassMove {
    /// Invite it to every external fair whose window is open.
    EnteredA,
    /// Withdraw its unused invitations.
    LeftA,
}

/// Decides what the change of a firm's class from `previous` to `class` does.
pub fn on_class_change(previous: Option<Class>, class: Option<Class>) -> Option<ClassMove> {
    match (previous == Some(Class::A), class == Some(Class::A)) {
        (false, true) => Some(ClassMove::EnteredA),
        (true, false) => Some(ClassMove::LeftA),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_entering_or_leaving_class_a_moves_invitations() {
        use Class::*;
        assert_eq!(on_class_change(Some(B), Some(A)), Some(ClassMove::EnteredA));
        assert_eq!(on_class_change(None, Some(A)), Some(ClassMove::EnteredA));
        assert_eq!(on_class_change(Some(A), Some(C)), Some(ClassMove::LeftA));
        assert_eq!(on_class_change(Some(A), None), Some(ClassMove::LeftA));
        assert_eq!(on_class_change(Some(A), Some(A)), None);
        assert_eq!(on_class_change(Some(B), Some(C)), None);
    }

    #[test]
    fn every_status_reads_back_from_its_stored_spelling() {
        for s in InvitationStatus::ALL {
            assert_eq!(InvitationStatus::parse(s.as_str()), Some(s));
        }
    }
}
