//! The land application queue: class A first, then B, C and unclassified; within a class the
//! higher score first; then the earlier application; the id settles the rest, so the order
//! is total and the same on every read. It re-orders by itself when a class changes, since
//! the class is read at listing time.

use std::cmp::Ordering;

use chrono::{DateTime, Utc};

/// The class of an applicant from classification events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Class {
    A,
    B,
    C,
}

impl Class {
    pub fn as_str(self) -> &'static str {
        match self {
            Class::A => "A",
            Class::B => "B",
            Class::C => "C",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "A" => Some(Class::A),
            "B" => Some(Class::B),
            "C" => Some(Class::C),
            _ => None,
        }
    }
}

/// What the order looks at.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueKey {
    pub class: Option<Class>,
    pub score: f64,
    pub submitted_at: DateTime<Utc>,
    pub id: String,
}

/// The queue order.
pub fn queue_order(a: &QueueKey, b: &QueueKey) -> Ordering {
    let rank = |c: Option<Class>| c.map_or(3, |c| c as u8);
    rank(a.class)
        .cmp(&rank(b.class))
        .then_with(|| b.score.total_cmp(&a.score))
        .then_with(|| a.submitted_at.cmp(&b.submitted_at))
        .then_with(|| a.id.cmp(&b.id))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn key(id: &str, class: Option<Class>, score: f64, minute: u32) -> QueueKey {
        QueueKey {
            class,
            score,
            submitted_at: Utc.with_ymd_and_hms(2025, 1, 1, 8, minute, 0).unwrap(),
            id: id.into(),
        }
    }

    #[test]
    fn class_then_score_then_time() {
        let mut queue = [
            key("none", None, 99.0, 0),
            key("c", Some(Class::C), 90.0, 1),
            key("b-late", Some(Class::B), 70.0, 9),
            key("b-early", Some(Class::B), 70.0, 2),
            key("b-high", Some(Class::B), 80.0, 8),
            key("a", Some(Class::A), 10.0, 5),
        ];
        queue.sort_by(queue_order);
        let ids: Vec<&str> = queue.iter().map(|k| k.id.as_str()).collect();
        assert_eq!(ids, ["a", "b-high", "b-early", "b-late", "c", "none"]);
    }

    proptest::proptest! {
        #[test]
        fn the_order_is_total_and_antisymmetric(
            a in (0_u8..4, 0.0_f64..100.0, 0_u32..60), b in (0_u8..4, 0.0_f64..100.0, 0_u32..60)
        ) {
            let class = |n: u8| [Some(Class::A), Some(Class::B), Some(Class::C), None][n as usize];
            let x = key("x", class(a.0), a.1, a.2);
            let y = key("y", class(b.0), b.1, b.2);
            proptest::prop_assert_eq!(queue_order(&x, &y), queue_order(&y, &x).reverse());
            proptest::prop_assert_ne!(queue_order(&x, &y), Ordering::Equal);
        }
    }
}
