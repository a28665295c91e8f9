//! The land application queue: class A first, then B, C and unclassified; within a class the
//! higher score first; then the earlier application; the id settles the rest, so the order
//! is total and the same on every read. It re-orders by itself when a class changes, since
//! the class is read at listing time.

use std::cmp::Ordering;

use chrono::{DateTime, Utc};
use platform::{Class, Park};
use uuid::Uuid;

use super::{Enterprise, HolderRefused, LandUse, check_holder, supply::SupplyMode};

/// A new application.
#[derive(Debug, Clone)]
pub struct NewApplication {
    pub uscc: String,
    pub park: Park,
    pub land_use: LandUse,
    pub area_centi_mu: i64,
    pub supply_mode: SupplyMode,
    pub purpose: String,
}

/// An application with its place.
#[derive(Debug, Clone, PartialEq)]
pub struct ApplicationRecord {
    pub id: Uuid,
    pub uscc: String,
    pub class: Option<Class>,
    pub score: f64,
    pub park: Park,
    pub land_use: LandUse,
    pub area_centi_mu: i64,
    pub supply_mode: SupplyMode,
    pub purpose: String,
    pub queued: bool,
    pub submitted_at: DateTime<Utc>,
    /// 1-based place in its park's queue; 0 when no longer queued.
    pub position: usize,
    pub grant_id: Option<Uuid>,
}

/// Why an application or an allocation is refused.
#[derive(Debug, thiserror::Error)]
pub enum QueueRefused {
    /// Only a known active enterprise applies; a manufacturer for industrial land.
    #[error(transparent)]
    Holder(#[from] HolderRefused),
    #[error("no queued application for {land_use} land in {park}")]
    Empty { land_use: LandUse, park: Park },
}

/// Decides an application of `applicant` (as known from census events).
pub fn decide_submission(
    application: &NewApplication,
    applicant: Option<&Enterprise>,
) -> Result<(), QueueRefused> {
    let manufacturing_only = application.land_use == LandUse::Industrial;
    check_holder(&application.uscc, applicant, manufacturing_only)?;
    Ok(())
}

/// Puts `applications` in queue order with their 1-based places.
pub fn in_queue_order(mut applications: Vec<ApplicationRecord>) -> Vec<ApplicationRecord> {
    applications.sort_by(|a, b| queue_order(&key(a), &key(b)));
    for (i, application) in applications.iter_mut().enumerate() {
        application.position = i + 1;
    }
    applications
}

fn key(a: &ApplicationRecord) -> QueueKey {
    QueueKey {
        class: a.class,
        score: a.score,
        submitted_at: a.submitted_at,
        id: a.id.to_string(),
    }
}

/// Decides who gets the parcel of `park` and `land_use`: the head of its queue (`queue` in
/// queue order). The grant itself is decided by [`super::grant::decide`].
pub fn decide_allocation(
    queue: Vec<ApplicationRecord>,
    park: Park,
    land_use: LandUse,
) -> Result<ApplicationRecord, QueueRefused> {
    queue
        .into_iter()
        .next()
        .ok_or(QueueRefused::Empty { land_use, park })
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
    Class::priority(a.class)
        .cmp(&Class::priority(b.class))
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
