//! Support-policy rules: a class transition becomes notices for the departments concerned.
//!
//! A rule fires on entering or leaving a class. A notice's id is a name-based UUID (v5) of
//! (enterprise, transition, model version, period, rule, sequence): the sequence counts the
//! firm's settled transitions in the period, so a genuine second A->B gets ids of its own,
//! while a retried computation of the same transition reproduces its ids and the notice
//! store keeps one notice per id. Transitions are settled against the class last notified
//! (see `store::settle`), not against each re-rank.

use std::fmt;

use platform::auth::Department;
use serde::{Deserialize, Deserializer, Serialize, Serializer, de};
use uuid::Uuid;

use super::Class;

/// Namespace of notice ids (a fixed random UUID; changing it would change every id).
const NOTICE_NAMESPACE: Uuid = Uuid::from_u128(0x6d1c_4f0e_9a57_4c1b_b2a4_3f5e_8c0d_7a21);

/// A change of class; `None` is "no class" (not yet evaluated, deferred, exempt, gone).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Transition {
    pub from: Option<Class>,
    pub to: Option<Class>,
}

impl Transition {
    pub fn is_change(&self) -> bool {
        self.from != self.to
    }
}

fn letter(class: Option<Class>) -> &'static str {
    class.map_or("-", Class::letter)
}

impl fmt::Display for Transition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}->{}", letter(self.from), letter(self.to))
    }
}

/// When a rule fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    Entering(Class),
    Leaving(Class),
}

impl Trigger {
    pub fn fires_on(self, transition: Transition) -> bool {
        transition.is_change()
            && match self {
                Trigger::Entering(class) => transition.to == Some(class),
                Trigger::Leaving(class) => transition.from == Some(class),
            }
    }
}

/// `entering_a`, `leaving_c`, … in configuration.
impl Serialize for Trigger {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (verb, class) = match self {
            Trigger::Entering(c) => ("entering", c),
            Trigger::Leaving(c) => ("leaving", c),
        };
        s.serialize_str(&format!("{verb}_{}", class.letter().to_lowercase()))
    }
}

impl<'de> Deserialize<'de> for Trigger {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let (verb, class) = text.rsplit_once('_').ok_or_else(|| {
            de::Error::custom(format!("{text:?}: expected entering_X or leaving_X"))
        })?;
        let class = match class {
            "a" | "A" => Class::A,
            "b" | "B" => Class::B,
            "c" | "C" => Class::C,
            other => {
                return Err(de::Error::custom(format!(
                    "{other:?} is not a class (a, b or c)"
                )));
            }
        };
        match verb {
            "entering" => Ok(Trigger::Entering(class)),
            "leaving" => Ok(Trigger::Leaving(class)),
            other => Err(de::Error::custom(format!(
                "{other:?}: expected entering or leaving"
            ))),
        }
    }
}

fn department_name<S: Serializer>(d: &Department, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(d.as_str())
}

fn parse_department<'de, D: Deserializer<'de>>(d: D) -> Result<Department, D::Error> {
    let name = String::deserialize(d)?;
    Department::parse(&name)
        .ok_or_else(|| de::Error::custom(format!("unknown department {name:?}")))
}

/// One configured rule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoticeRule {
    /// Stable id: part of every notice id it produces, so renaming it re-issues notices.
    pub id: String,
    pub on: Trigger,
    #[serde(
        serialize_with = "department_name",
        deserialize_with = "parse_department"
    )]
    pub department: Department,
    /// Kind of action, e.g. `key_support_fund_review`.
    pub kind: String,
    /// Text with placeholders `{name}`, `{uscc}`, `{period}`, `{from}`, `{to}`, `{model_version}`.
    pub text: String,
    /// Days the department has to acknowledge; unset leaves the deadline to the notice store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_days: Option<u32>,
}

impl NoticeRule {
    fn new(id: &str, on: Trigger, department: Department, kind: &str, text: &str) -> Self {
        Self {
            id: id.into(),
            on,
            department,
            kind: kind.into(),
            text: text.into(),
            due_days: None,
        }
    }
}

/// The mapping of DOMAIN.md. Entering B goes to finance (the targeted support package is a
/// fund); point it at commerce through configuration where commerce runs the package.
pub fn default_rules() -> Vec<NoticeRule> {
    use Class::*;
    use Department::*;
    use Trigger::*;
    vec![
        NoticeRule::new(
            "entering-a-finance",
            Entering(A),
            Finance,
            "key_support_fund_review",
            "{name} ({uscc}) entered class A (leader) for {period}: review its eligibility for the key support fund.",
        ),
        NoticeRule::new(
            "entering-a-natural-resources",
            Entering(A),
            NaturalResources,
            "land_priority",
            "{name} ({uscc}) entered class A (leader) for {period}: give its land applications priority.",
        ),
        NoticeRule::new(
            "entering-a-commerce",
            Entering(A),
            Commerce,
            "fair_invitation",
            "{name} ({uscc}) entered class A (leader) for {period}: invite it to trade fairs.",
        ),
        NoticeRule::new(
            "entering-b-finance",
            Entering(B),
            Finance,
            "targeted_support_package",
            "{name} ({uscc}) entered class B (growth) for {period}: prepare its targeted support package.",
        ),
        NoticeRule::new(
            "entering-b-human-resources",
            Entering(B),
            HumanResources,
            "skills_training",
            "{name} ({uscc}) entered class B (growth) for {period}: offer skills training.",
        ),
        NoticeRule::new(
            "entering-c-market-supervision",
            Entering(C),
            MarketSupervision,
            "rectification_plan",
            "{name} ({uscc}) entered class C (rectification) for {period}: agree a rectification plan.",
        ),
        NoticeRule::new(
            "entering-c-commerce",
            Entering(C),
            Commerce,
            "upgrade_guidance",
            "{name} ({uscc}) entered class C (rectification) for {period}: give upgrade guidance.",
        ),
        NoticeRule::new(
            "leaving-a-finance",
            Leaving(A),
            Finance,
            "key_support_ended",
            "{name} ({uscc}) left class A for {period} (now {to}): its key-support eligibility ends.",
        ),
    ]
}

/// Everything a notice is about.
#[derive(Clone, Copy, Debug)]
pub struct Cause<'a> {
    pub uscc: &'a str,
    pub name: &'a str,
    pub period: &'a str,
    pub model_version: i64,
    pub transition: Transition,
    /// The firm's count of settled transitions in the period, this one included: a second
    /// genuine A->B is a new notice, a retried computation of the same one is not.
    pub sequence: i64,
}

/// The deterministic id of the notice `rule` gives for `cause`.
pub fn notice_id(cause: &Cause<'_>, rule_id: &str) -> Uuid {
    notices::outgoing::notice_id(
        &NOTICE_NAMESPACE,
        &[
            cause.uscc,
            &cause.transition.to_string(),
            &cause.model_version.to_string(),
            cause.period,
            rule_id,
            &cause.sequence.to_string(),
        ],
    )
}

/// The rule's text with its placeholders filled.
pub fn render(text: &str, cause: &Cause<'_>) -> String {
    let describe =
        |class: Option<Class>| class.map_or_else(|| "no class".to_string(), |c| c.to_string());
    text.replace("{name}", cause.name)
        .replace("{uscc}", cause.uscc)
        .replace("{period}", cause.period)
        .replace("{from}", &describe(cause.transition.from))
        .replace("{to}", &describe(cause.transition.to))
        .replace("{model_version}", &cause.model_version.to_string())
}

/// The rules that fire on a transition.
pub fn firing(rules: &[NoticeRule], transition: Transition) -> impl Iterator<Item = &NoticeRule> {
    rules.iter().filter(move |r| r.on.fires_on(transition))
}

/// Rule ids must be unique, or two rules would share notice ids.
pub fn validate_rules(rules: &[NoticeRule]) -> Result<(), String> {
    let mut seen = std::collections::BTreeSet::new();
    for rule in rules {
        if rule.id.trim().is_empty() {
            return Err("a rule has an empty id".into());
        }
        if !seen.insert(rule.id.as_str()) {
            return Err(format!("rule id {:?} is used twice", rule.id));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cause(transition: Transition) -> Cause<'static> {
        Cause {
            uscc: "91210381MA0Q12343L",
            name: "Haicheng Bags",
            period: "2025",
            model_version: 1,
            transition,
            sequence: 1,
        }
    }

    fn departments(transition: Transition) -> Vec<&'static str> {
        firing(&default_rules(), transition)
            .map(|r| r.department.as_str())
            .collect()
    }

    #[test]
    fn the_default_mapping_follows_the_domain() {
        use Class::*;
        let t = |from, to| Transition { from, to };
        assert_eq!(
            departments(t(None, Some(A))),
            ["finance", "natural_resources", "commerce"]
        );
        assert_eq!(
            departments(t(Some(C), Some(B))),
            ["finance", "human_resources"]
        );
        assert_eq!(
            departments(t(Some(B), Some(C))),
            ["market_supervision", "commerce"]
        );
        assert_eq!(
            departments(t(Some(A), Some(B))),
            ["finance", "human_resources", "finance"]
        );
        assert_eq!(departments(t(Some(A), None)), ["finance"]);
        assert!(departments(t(Some(B), Some(B))).is_empty());
        assert!(validate_rules(&default_rules()).is_ok());
    }

    #[test]
    fn notice_ids_are_deterministic_and_differ_by_every_part() {
        let up = Transition {
            from: Some(Class::B),
            to: Some(Class::A),
        };
        let base = notice_id(&cause(up), "r");
        assert_eq!(base, notice_id(&cause(up), "r"));
        assert_ne!(base, notice_id(&cause(up), "s"));
        let down = Transition {
            from: Some(Class::C),
            to: Some(Class::A),
        };
        assert_ne!(base, notice_id(&cause(down), "r"));
        assert_ne!(
            base,
            notice_id(
                &Cause {
                    model_version: 2,
                    ..cause(up)
                },
                "r"
            )
        );
        assert_ne!(
            base,
            notice_id(
                &Cause {
                    sequence: 3,
                    ..cause(up)
                },
                "r"
            ),
            "a later genuine transition of the same kind is a new notice"
        );
        assert_ne!(
            base,
            notice_id(
                &Cause {
                    period: "2026",
                    ..cause(up)
                },
                "r"
            )
        );
        assert_ne!(
            base,
            notice_id(
                &Cause {
                    uscc: "91210381MA10ABCD69",
                    ..cause(up)
                },
                "r"
            )
        );
        assert_eq!(base.get_version_num(), 5);
    }

    #[test]
    fn rules_parse_from_json_and_texts_render() {
        let json = r#"[{"id":"x","on":"leaving_a","department":"tax","kind":"k","text":"{name} {from}->{to} v{model_version}","due_days":5}]"#;
        let rules: Vec<NoticeRule> = serde_json::from_str(json).unwrap();
        assert_eq!(rules[0].on, Trigger::Leaving(Class::A));
        assert_eq!(rules[0].department, Department::Tax);
        let transition = Transition {
            from: Some(Class::A),
            to: None,
        };
        assert_eq!(
            render(&rules[0].text, &cause(transition)),
            "Haicheng Bags A->no class v1"
        );
        assert!(
            serde_json::from_str::<Vec<NoticeRule>>(
                r#"[{"id":"x","on":"entering_d","department":"tax","kind":"k","text":"t"}]"#
            )
            .is_err()
        );
        assert!(
            serde_json::from_str::<Vec<NoticeRule>>(
                r#"[{"id":"x","on":"entering_a","department":"army","kind":"k","text":"t"}]"#
            )
            .is_err()
        );
        let round = serde_json::to_string(&default_rules()).unwrap();
        assert_eq!(
            serde_json::from_str::<Vec<NoticeRule>>(&round).unwrap(),
            default_rules()
        );
    }
}
