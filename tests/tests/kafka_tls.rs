//! The chain on a broker run as a cluster runs it: one TLS listener that requires a client
//! certificate, ACLs, and each service under its own Kafka identity holding exactly the ACLs
//! its code needs (census writes the census events; classification reads the census events
//! and the notices, and writes the classification events, the notices and the DLQs of what it
//! reads). A client without a certificate cannot connect; an identity cannot read a topic or
//! produce to a topic its ACLs do not name (the forged census return is refused by the
//! broker); a service missing an ACL stops at start, naming the topic.

use std::time::Duration;

use haicheng_proto::{census::v1::CensusReturnSubmitted, common::v1::EnterpriseClass, topics};
use platform::bus::{CloudEvent, KafkaSettings, Producer, dlq_topic};
use prost::Message;
use rdkafka::{
    consumer::{BaseConsumer, Consumer},
    error::KafkaError,
    types::RDKafkaErrorCode,
};
use system_tests::{ServiceProcess, cluster::Cluster};
use testkit::{SecureBroker, Usccs, unique_name, wait_until};

/// Starts `name` as the Kafka user `name` on `broker`, behind `prefix`.
async fn start_as(
    name: &'static str,
    broker: &SecureBroker,
    prefix: &str,
    extra: &[(&str, &str)],
) -> ServiceProcess {
    let mut vars: Vec<(&str, String)> = broker.service_vars(name);
    vars.push(("KAFKA_TOPIC_PREFIX", prefix.to_string()));
    // Topics are the admin's (a KafkaTopic each in a cluster); no identity may create one.
    vars.push(("KAFKA_ENSURE_TOPICS", "false".into()));
    vars.push(("OUTBOX_POLL_MS", "100".into()));
    vars.push(("SHUTDOWN_GRACE_MS", "0".into()));
    vars.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    system_tests::start(name, &vars).await
}

/// Metadata of `topic` as `settings` sees it: Ok, or the error the broker or TLS gave.
fn metadata_error(settings: &KafkaSettings, topic: &str) -> Option<String> {
    let consumer: BaseConsumer = match settings.client_config().create() {
        Ok(consumer) => consumer,
        Err(err) => return Some(err.to_string()),
    };
    match consumer.fetch_metadata(Some(topic), Duration::from_secs(5)) {
        Err(err) => Some(err.to_string()),
        Ok(metadata) => metadata
            .topics()
            .iter()
            .find(|t| t.name() == topic)
            .and_then(|t| t.error())
            .map(|code| RDKafkaErrorCode::from(code).to_string()),
    }
}

/// A `CensusReturnSubmitted` with a leader's figures, as an attacker would forge it.
fn forged_return(uscc: &str) -> (CloudEvent, Vec<u8>) {
    let event = testkit::cloud_event::<CensusReturnSubmitted>("forger", uscc);
    let payload = CensusReturnSubmitted {
        uscc: uscc.into(),
        revision: 99,
        ..Default::default()
    }
    .encode_to_vec();
    (event, payload)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_chain_runs_on_a_tls_broker_with_an_identity_and_exact_acls_per_service() {
    let broker = SecureBroker::start(&["census", "classification", "land-parcel", "intruder"]);
    let prefix = format!("{}.", unique_name("tls"));
    let topic = |name: &str| format!("{prefix}{name}");
    let (census_events, class_events, notices) = (
        topic(topics::CENSUS_EVENTS),
        topic(topics::CLASSIFICATION_EVENTS),
        topic(topics::POLICY_NOTICES),
    );
    let admin = Producer::new(broker.settings(Some("admin")), Duration::from_secs(10))
        .expect("the admin's client");
    let all = [
        census_events.clone(),
        class_events.clone(),
        notices.clone(),
        dlq_topic(&census_events),
        dlq_topic(&notices),
    ];
    let all_refs: Vec<&str> = all.iter().map(String::as_str).collect();
    admin
        .ensure_topics(&all_refs, 1)
        .await
        .expect("the admin creates the topics");

    // census writes the census events.
    broker.allow("User:census", "Write", &[&census_events], &[]);
    // classification reads the census events and the notices (its two groups) and writes
    // the classification events, the notices and the DLQs of what it reads.
    let groups = [
        topic("classification.census"),
        topic("classification.notices"),
    ];
    broker.allow(
        "User:classification",
        "Read",
        &[&census_events, &notices],
        &[&groups[0], &groups[1]],
    );
    broker.allow(
        "User:classification",
        "Write",
        &[
            &class_events,
            &notices,
            &dlq_topic(&census_events),
            &dlq_topic(&notices),
        ],
        &[],
    );

    let mut census = start_as("census", &broker, &prefix, &[]).await;
    let mut classification = start_as(
        "classification",
        &broker,
        &prefix,
        &[("CLASSIFICATION_NOTICE_SETTLE", "0s")],
    )
    .await;
    census
        .wait_serving(Duration::from_secs(60))
        .await
        .expect("census serves as its own Kafka user");
    classification
        .wait_serving(Duration::from_secs(60))
        .await
        .expect("classification serves as its own Kafka user");
    let cluster = Cluster {
        prefix: prefix.clone(),
        census,
        classification,
    };

    // The chain: returns through census reach classification's classes.
    let usccs = Usccs::new().first(10);
    cluster.register(&usccs).await;
    for (i, uscc) in usccs.iter().enumerate() {
        cluster
            .submit(uscc, "2025", 3_000 - 100 * i as i64, &format!("tls-{i}"))
            .await;
    }
    let classified = wait_until(Duration::from_secs(90), || async {
        let classes = cluster.classes_of("2025").await;
        classes.len() == usccs.len() && classes.get(&usccs[0]) == Some(&EnterpriseClass::A)
    })
    .await;
    assert!(classified, "the census returns were classified over TLS");

    // No client certificate: the handshake fails, nothing is read.
    let anonymous = metadata_error(&broker.settings(None), &notices);
    assert!(
        anonymous.is_some(),
        "a client without a certificate connected"
    );

    // A valid certificate without ACLs reads nothing and forges nothing.
    let intruder = broker.settings(Some("intruder"));
    assert_eq!(
        metadata_error(&intruder, &notices).as_deref(),
        Some(
            RDKafkaErrorCode::TopicAuthorizationFailed
                .to_string()
                .as_str()
        ),
        "the intruder sees the notices topic"
    );
    let (event, payload) = forged_return(&usccs[9]);
    let forger = Producer::new(intruder, Duration::from_secs(10)).expect("a producer");
    let refused = forger
        .send(&census_events, &usccs[9], &payload, &event)
        .await
        .expect_err("the broker took a forged census return");
    assert_eq!(
        refused.rdkafka_error_code(),
        Some(RDKafkaErrorCode::TopicAuthorizationFailed),
        "{refused:?}"
    );

    // A service's identity holds only its own ACLs: census reads no notices and produces no
    // classification event.
    let census_identity = broker.settings(Some("census"));
    assert_eq!(
        metadata_error(&census_identity, &notices).as_deref(),
        Some(
            RDKafkaErrorCode::TopicAuthorizationFailed
                .to_string()
                .as_str()
        ),
    );
    let as_census = Producer::new(census_identity, Duration::from_secs(10)).unwrap();
    let refused = as_census
        .send(&class_events, &usccs[9], &payload, &event)
        .await
        .unwrap_err();
    assert!(
        matches!(
            refused,
            KafkaError::MessageProduction(RDKafkaErrorCode::TopicAuthorizationFailed)
        ),
        "{refused:?}"
    );

    // land-parcel without its ACLs does not start, and says which topic.
    let mut land = start_as("land-parcel", &broker, &prefix, &[]).await;
    let status = tokio::time::timeout(Duration::from_secs(60), land.child.wait())
        .await
        .expect("land-parcel stopped")
        .expect("its exit status");
    assert!(!status.success());
    let log = std::fs::read_to_string(&land.log).expect("its log");
    assert!(
        log.contains("not authorized for topic") && log.contains(&prefix),
        "{log}"
    );
}
