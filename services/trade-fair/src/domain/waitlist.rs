//! The waiting list (候补): ordered by class (A first), then application time; when booths
//! free up, the first in line whose request fits gets an offer that holds the booths for a
//! limited time (48 hours by default); accepting confirms, a lapse passes them on.

use chrono::{DateTime, Duration, Utc};

use super::Class;

/// A waiting registration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Waiting {
    pub id: String,
    pub class: Option<Class>,
    pub applied_at: DateTime<Utc>,
    pub booths: u32,
}

/// The list's order: class, then application time, then id.
fn by_priority(a: &Waiting, b: &Waiting) -> std::cmp::Ordering {
    Class::priority(a.class)
        .cmp(&Class::priority(b.class))
        .then(a.applied_at.cmp(&b.applied_at))
        .then(a.id.cmp(&b.id))
}

/// Sorts the list into its order.
pub fn order(list: &mut [Waiting]) {
    list.sort_by(by_priority);
}

/// The registration that gets the next offer when `free` booths are open to it: the first in
/// order whose whole request fits (a request is never split).
pub fn next_offer(list: &[Waiting], free: impl Fn(&Waiting) -> u32) -> Option<&Waiting> {
    let mut ordered: Vec<&Waiting> = list.iter().collect();
    ordered.sort_by(|a, b| by_priority(a, b));
    ordered.into_iter().find(|w| w.booths <= free(w))
}

/// When an offer made at `made_at` lapses.
pub fn offer_expires_at(made_at: DateTime<Utc>, hold: Duration) -> DateTime<Utc> {
    made_at + hold
}

/// An offer is still good strictly before its expiry.
pub fn offer_is_open(expires_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    now < expires_at
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn w(id: &str, class: Option<Class>, minute: i64, booths: u32) -> Waiting {
        Waiting {
            id: id.into(),
            class,
            applied_at: Utc.with_ymd_and_hms(2027, 3, 1, 9, 0, 0).unwrap()
                + Duration::minutes(minute),
            booths,
        }
    }

    #[test]
    fn class_comes_before_time() {
        let mut list = vec![
            w("late-a", Some(Class::A), 30, 1),
            w("early-none", None, 0, 1),
            w("early-b", Some(Class::B), 1, 1),
            w("early-a", Some(Class::A), 2, 1),
        ];
        order(&mut list);
        let ids: Vec<&str> = list.iter().map(|w| w.id.as_str()).collect();
        assert_eq!(ids, ["early-a", "late-a", "early-b", "early-none"]);
    }

    #[test]
    fn the_offer_goes_to_the_first_whose_request_fits() {
        let list = vec![
            w("big", Some(Class::A), 0, 3),
            w("small", Some(Class::B), 1, 1),
        ];
        assert_eq!(
            next_offer(&list, |_| 1).map(|w| w.id.as_str()),
            Some("small")
        );
        assert_eq!(next_offer(&list, |_| 3).map(|w| w.id.as_str()), Some("big"));
        assert_eq!(next_offer(&list, |_| 0), None);
    }

    #[test]
    fn an_offer_lapses_at_its_expiry_exactly() {
        let made = Utc.with_ymd_and_hms(2027, 3, 1, 9, 0, 0).unwrap();
        let expires = offer_expires_at(made, Duration::hours(48));
        assert!(offer_is_open(expires, expires - Duration::seconds(1)));
        assert!(!offer_is_open(expires, expires));
    }
}
