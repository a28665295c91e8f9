//! The fault checker: what a settled run of the chain did ([`Outcome::collect`]), what it shows
//! alone (an event lost on the way or not taken in, a change notified twice or not at all:
//! [`Outcome::problems`]) and how it differs from a fault-free run of the same input
//! ([`Outcome::differences`]): the final classes, each return revision, the census events,
//! the read models land-parcel and trade-fair keep, the notices.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use haicheng_proto::{
    classification::v1::EnterpriseClassified, common::v1::EnterpriseClass,
    policy::v1::SupportPolicyNotice, topics,
};
use prost::Message;
use sqlx::PgPool;

use crate::chain::{Chain, FLOWS, Workload};

/// One topic's events: how many the producer's outbox holds, how many of them never reached
/// the broker, and how many extra copies the broker holds (at-least-once delivery: the
/// consumers' inboxes drop them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Wire {
    pub sent: usize,
    pub lost: usize,
    pub copies: usize,
}

/// What a settled run of the chain did.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Every firm's class per period, as classification reports it.
    pub classes: BTreeMap<String, BTreeMap<String, EnterpriseClass>>,
    /// The revisions census stored per firm and period.
    pub revisions: BTreeMap<(String, String), Vec<i64>>,
    /// Census events by CloudEvents type.
    pub census_events: BTreeMap<String, i64>,
    /// The read models of land-parcel and trade-fair, a line a row, by table.
    pub read_models: BTreeMap<String, Vec<String>>,
    /// Each topic of the chain on the broker.
    pub wire: BTreeMap<&'static str, Wire>,
    /// What the run shows wrong on its own: an event a consumer never took in, a class
    /// change or a notice lost or repeated, a notice published and not stored.
    pub problems: Vec<String>,
}

/// A read model: the service, the table (and filter) and the columns that the events alone
/// decide (no times of arrival).
const READ_MODELS: [(&str, &str, &str); 12] = [
    (
        "land-parcel",
        "evaluations",
        "uscc || ' ' || year || ' ' || revision || ' ' || outcome || ' ' || all_met || ' ' || damages_fen",
    ),
    (
        "trade-fair",
        // A withdrawn invitation depends on the classes a firm passed through on the way,
        // which a re-rank's timing decides; the invitations in force do not.
        "invitations WHERE status <> 'withdrawn'",
        "uscc || ' ' || status",
    ),
    (
        "land-parcel",
        "census_returns",
        "uscc || ' ' || year || ' ' || revision || ' ' || output_fen || ' ' || tax_fen",
    ),
    (
        "land-parcel",
        "enterprises",
        "uscc || ' ' || active || ' ' || coalesce(segment, '-') || ' ' || version",
    ),
    (
        "land-parcel",
        "classes",
        "uscc || ' ' || period || ' ' || coalesce(class, '-')",
    ),
    (
        "trade-fair",
        "census_exports",
        "uscc || ' ' || period || ' ' || revision || ' ' || export_sales_fen",
    ),
    (
        "trade-fair",
        "enterprises",
        "uscc || ' ' || segment || ' ' || record_version",
    ),
    (
        "trade-fair",
        "enterprise_classes",
        "uscc || ' ' || coalesce(enterprise_class, '-') || ' ' || period",
    ),
    (
        "support",
        "returns",
        "uscc || ' ' || period || ' ' || revision || ' ' || tax_paid_fen || ' ' || land_used_centi_mu",
    ),
    (
        "support",
        "classes",
        "uscc || ' ' || period || ' ' || coalesce(class, '-')",
    ),
    (
        "support",
        "firms",
        "uscc || ' ' || coalesce(segment, '-') || ' ' || veto || ' ' || version",
    ),
    (
        "inspection",
        "firms",
        "uscc || ' ' || coalesce(class, '-') || ' ' || tier || ' ' || white_listed || ' ' || census_version",
    ),
];

impl Outcome {
    /// Reads what the settled `chain` did with `workload`; `bootstrap` is the broker its
    /// topics are on.
    pub async fn collect(chain: &Chain, workload: &Workload, bootstrap: &str) -> Self {
        let pools: BTreeMap<&str, PgPool> = chain.pools().await.into_iter().collect();
        let mut outcome = Self::default();
        for period in workload.periods() {
            let classes = chain.cluster.classes_of(&period).await;
            outcome.classes.insert(period, classes);
        }
        let revisions: Vec<(String, String, i64)> =
            sqlx::query_as("SELECT uscc, period, revision FROM census_returns ORDER BY 1, 2, 3")
                .fetch_all(&pools["census"])
                .await
                .expect("census's returns");
        for (uscc, period, revision) in revisions {
            outcome
                .revisions
                .entry((uscc, period))
                .or_default()
                .push(revision);
        }
        outcome.census_events = sqlx::query_as(
            "SELECT ce_type, count(*) FROM outbox WHERE topic = $1 GROUP BY ce_type",
        )
        .bind(topics::CENSUS_EVENTS)
        .fetch_all(&pools["census"])
        .await
        .expect("census's events")
        .into_iter()
        .collect();
        for (service, table, columns) in READ_MODELS {
            let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT {columns} FROM {table} ORDER BY 1"
            )))
            .fetch_all(&pools[service])
            .await
            .unwrap_or_else(|err| panic!("{service}'s {table}: {err}"));
            outcome
                .read_models
                .insert(format!("{service}.{table}"), rows);
        }
        outcome
            .follow_topics(&pools, &chain.cluster.prefix, bootstrap)
            .await;
        let classification = &pools["classification"];
        outcome
            .problems
            .extend(class_change_problems(classification, &outcome.classes).await);
        outcome
            .problems
            .extend(notice_problems(classification, &outcome.classes).await);
        outcome
    }

    /// Follows every topic of the chain: each event of a producer's outbox on the broker
    /// (under `prefix`) and in the inbox of each of its consumers.
    async fn follow_topics(
        &mut self,
        pools: &BTreeMap<&str, PgPool>,
        prefix: &str,
        bootstrap: &str,
    ) {
        let mut notices = BTreeSet::new();
        for pool in pools.values() {
            notices.extend(event_ids(pool, topics::POLICY_NOTICES).await);
        }
        let flows = FLOWS
            .iter()
            .map(|&(topic, producer, consumers)| (topic, Some(producer), consumers));
        // Notices: every service's, all stored by classification's notice store.
        let notice_flow = (topics::POLICY_NOTICES, None, &["classification"][..]);
        for (topic, producer, consumers) in flows.chain([notice_flow]) {
            let sent = match producer {
                Some(producer) => event_ids(&pools[producer], topic).await,
                None => notices.clone(),
            };
            for consumer in consumers {
                let taken = taken_in(&pools[consumer], topic).await;
                let missing = sent.difference(&taken).count();
                if missing > 0 {
                    self.problems.push(format!(
                        "{consumer} never took in {missing} of {} events of {topic}",
                        sent.len()
                    ));
                }
            }
            if sent.is_empty() {
                self.wire.insert(topic, Wire::default());
                continue;
            }
            let on_wire =
                testkit::ce_ids_on(bootstrap, &format!("{prefix}{topic}"), &sent, WIRE_TIMEOUT)
                    .await;
            let lost = sent.iter().filter(|id| !on_wire.contains_key(*id)).count();
            let copies = on_wire.values().map(|n| n - 1).sum();
            self.wire.insert(
                topic,
                Wire {
                    sent: sent.len(),
                    lost,
                    copies,
                },
            );
            if lost > 0 {
                self.problems
                    .push(format!("{lost} events of {topic} never reached the broker"));
            }
        }
    }

    /// Where this run differs from `reference`, a fault-free run of the same input.
    pub fn differences(&self, reference: &Self) -> Vec<String> {
        let mut differences = Vec::new();
        for (period, expected) in &reference.classes {
            let actual = self.classes.get(period).cloned().unwrap_or_default();
            let differing = expected
                .iter()
                .filter(|(uscc, class)| actual.get(*uscc) != Some(class))
                .count();
            if differing > 0 || actual.len() != expected.len() {
                differences.push(format!(
                    "{period}: {differing} of {} classes differ ({} classified)",
                    expected.len(),
                    actual.len()
                ));
            }
        }
        if self.revisions != reference.revisions {
            let twice = self.revisions.values().filter(|r| r.len() > 1).count();
            differences.push(format!(
                "returns: {} firm-periods stored against {} ({twice} with more than one revision)",
                self.revisions.len(),
                reference.revisions.len()
            ));
        }
        if self.census_events != reference.census_events {
            differences.push(format!(
                "census events {:?} against {:?}",
                self.census_events, reference.census_events
            ));
        }
        for (table, expected) in &reference.read_models {
            let actual = &self.read_models[table];
            if actual != expected {
                let gone = expected.iter().filter(|r| !actual.contains(r)).count();
                differences.push(format!(
                    "{table}: {} rows against {}, {gone} of the reference's missing or different",
                    actual.len(),
                    expected.len()
                ));
            }
        }
        differences
    }

    /// Census events sent, lost (never on the broker or never taken in) and copies on the
    /// wire, for the report.
    pub fn summary(&self) -> String {
        let census = self
            .wire
            .get(topics::CENSUS_EVENTS)
            .copied()
            .unwrap_or_default();
        let all: Wire = self.wire.values().fold(Wire::default(), |sum, w| Wire {
            sent: sum.sent + w.sent,
            lost: sum.lost + w.lost,
            copies: sum.copies + w.copies,
        });
        format!(
            "census events {} (lost {}, extra copies on the wire {}); all topics {} (lost {}, copies {}); problems {}",
            census.sent,
            census.lost,
            census.copies,
            all.sent,
            all.lost,
            all.copies,
            self.problems.len()
        )
    }
}

const WIRE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

async fn event_ids(pool: &PgPool, topic: &str) -> BTreeSet<String> {
    sqlx::query_scalar("SELECT event_id::text FROM outbox WHERE topic = $1")
        .bind(topic)
        .fetch_all(pool)
        .await
        .expect("an outbox's ids")
        .into_iter()
        .collect()
}

async fn taken_in(pool: &PgPool, topic: &str) -> BTreeSet<String> {
    sqlx::query_scalar("SELECT event_id::text FROM inbox WHERE topic LIKE '%' || $1")
        .bind(topic)
        .fetch_all(pool)
        .await
        .expect("an inbox's ids")
        .into_iter()
        .collect()
}

async fn payloads(pool: &PgPool, topic: &str) -> Vec<Vec<u8>> {
    sqlx::query_scalar("SELECT payload FROM outbox WHERE topic = $1 ORDER BY id")
        .bind(topic)
        .fetch_all(pool)
        .await
        .expect("an outbox's payloads")
}

fn class(value: i32) -> EnterpriseClass {
    EnterpriseClass::try_from(value).unwrap_or(EnterpriseClass::Unspecified)
}

/// Every class change published once: per firm and period, the published changes form a
/// gap-free chain from no class to the class in force.
pub async fn class_change_problems(
    classification: &PgPool,
    classes: &BTreeMap<String, BTreeMap<String, EnterpriseClass>>,
) -> Vec<String> {
    let mut chains: HashMap<(String, String), Vec<(EnterpriseClass, EnterpriseClass)>> =
        HashMap::new();
    for payload in payloads(classification, topics::CLASSIFICATION_EVENTS).await {
        let event = EnterpriseClassified::decode(payload.as_slice()).expect("a class change");
        let period = event.period.map(|p| p.code).unwrap_or_default();
        chains
            .entry((event.uscc, period))
            .or_default()
            .push((class(event.old_class), class(event.new_class)));
    }
    chain_problems(classes, "class changes", |key| {
        let chain = chains.get(key).map_or(&[][..], Vec::as_slice);
        let links = chain.iter().map(|&(from, to)| (from, to, from != to));
        (format!("{chain:?}"), links.collect())
    })
}

/// Notices the default rules give a change: entering A 3, B 2, C 2; leaving A 1.
pub fn notices_for(from: EnterpriseClass, to: EnterpriseClass) -> usize {
    let entering = match to {
        EnterpriseClass::A => 3,
        EnterpriseClass::B | EnterpriseClass::C => 2,
        EnterpriseClass::Unspecified => 0,
    };
    entering + usize::from(from == EnterpriseClass::A)
}

/// Every notice classification published was stored once, and notices are net (sent once a period settles,
/// against the class last notified): per firm and period, the notified transitions (one issue
/// time each, in the outbox's order) form a gap-free chain from no class to the class in
/// force, each with its rules' notices.
pub async fn notice_problems(
    classification: &PgPool,
    classes: &BTreeMap<String, BTreeMap<String, EnterpriseClass>>,
) -> Vec<String> {
    let mut problems = Vec::new();
    let published = payloads(classification, topics::POLICY_NOTICES).await;
    let stored: Vec<Vec<u8>> = sqlx::query_scalar("SELECT payload FROM notices")
        .fetch_all(classification)
        .await
        .expect("the stored notices");
    let ids = |payloads: &[Vec<u8>]| -> Vec<String> {
        let mut ids: Vec<String> = payloads
            .iter()
            .map(|p| SupportPolicyNotice::decode(p.as_slice()).expect("a notice"))
            .map(|n| n.notice_id)
            .collect();
        ids.sort();
        ids
    };
    let stored_ids: BTreeSet<String> = ids(&stored).into_iter().collect();
    let unstored = ids(&published)
        .into_iter()
        .filter(|id| !stored_ids.contains(id))
        .count();
    if unstored > 0 || stored_ids.len() != stored.len() {
        problems.push(format!(
            "{unstored} of {} notices published never stored, {} stored under {} ids",
            published.len(),
            stored.len(),
            stored_ids.len()
        ));
    }
    type Notified = (EnterpriseClass, EnterpriseClass, (i64, i32), usize);
    let mut notified: HashMap<(String, String), Vec<Notified>> = HashMap::new();
    for payload in published {
        let notice = SupportPolicyNotice::decode(payload.as_slice()).expect("a notice");
        let t = notice.transition.unwrap_or_default();
        let (from, to) = (t.from_class(), t.to_class());
        let at = notice
            .issued_at
            .map(|t| (t.seconds, t.nanos))
            .unwrap_or_default();
        let period = notice.period.map(|p| p.code).unwrap_or_default();
        let chain = notified.entry((notice.uscc, period)).or_default();
        match chain.last_mut() {
            Some(last) if (last.0, last.1, last.2) == (from, to, at) => last.3 += 1,
            _ => chain.push((from, to, at, 1)),
        }
    }
    problems.extend(chain_problems(classes, "notified changes", |key| {
        let chain = notified.get(key).map_or(&[][..], Vec::as_slice);
        let links = chain
            .iter()
            .map(|&(from, to, _, count)| (from, to, count == notices_for(from, to)));
        (format!("{chain:?}"), links.collect())
    }));
    problems
}

/// Per firm and period of `classes`, the links `chain_of` gives ((from, to, whether the link
/// itself is right), and the chain as text for the report) must run gap-free from no class
/// to the class in force: a gap is a change lost, a repeat a change applied twice.
fn chain_problems(
    classes: &BTreeMap<String, BTreeMap<String, EnterpriseClass>>,
    what: &str,
    chain_of: impl Fn(&(String, String)) -> (String, Vec<(EnterpriseClass, EnterpriseClass, bool)>),
) -> Vec<String> {
    let mut problems = Vec::new();
    for (period, in_force) in classes {
        for (uscc, &class_in_force) in in_force {
            let (shown, links) = chain_of(&(uscc.clone(), period.clone()));
            let mut current = EnterpriseClass::Unspecified;
            for (from, to, right) in links {
                if from != current || !right {
                    problems.push(format!(
                        "{uscc} {period}: {what} lost or repeated in {shown}"
                    ));
                }
                current = to;
            }
            if current != class_in_force {
                problems.push(format!(
                    "{uscc} {period}: the {what} end in {current:?}, not {class_in_force:?}"
                ));
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome() -> Outcome {
        let firm = |u: &str| u.to_string();
        Outcome {
            classes: BTreeMap::from([(
                "2024".to_string(),
                BTreeMap::from([
                    (firm("X"), EnterpriseClass::A),
                    (firm("Y"), EnterpriseClass::C),
                ]),
            )]),
            revisions: BTreeMap::from([((firm("X"), "2024".into()), vec![1])]),
            census_events: BTreeMap::from([("ReturnSubmitted".into(), 1)]),
            read_models: BTreeMap::from([(
                "land-parcel.census_returns".into(),
                vec!["X 2024 1".into()],
            )]),
            ..Outcome::default()
        }
    }

    #[test]
    fn a_run_like_its_reference_differs_in_nothing() {
        assert_eq!(outcome().differences(&outcome()), Vec::<String>::new());
    }

    #[test]
    fn a_class_a_revision_applied_twice_and_a_read_model_row_are_each_a_difference() {
        let reference = outcome();
        let mut run = outcome();
        run.classes
            .get_mut("2024")
            .unwrap()
            .insert("Y".into(), EnterpriseClass::B);
        assert_eq!(run.differences(&reference).len(), 1, "a class");

        let mut run = outcome();
        run.revisions
            .insert(("X".into(), "2024".into()), vec![1, 2]);
        let differences = run.differences(&reference);
        assert!(
            differences[0].contains("1 with more than one revision"),
            "{differences:?}"
        );

        let mut run = outcome();
        run.read_models
            .insert("land-parcel.census_returns".into(), Vec::new());
        assert_eq!(run.differences(&reference).len(), 1, "a read model");

        let mut run = outcome();
        run.census_events.insert("ReturnSubmitted".into(), 2);
        assert_eq!(run.differences(&reference).len(), 1, "an event twice");
    }
}
