//! Events: each change is announced on `haicheng.census.events.v1`, keyed by USCC, as a
//! CloudEvent carrying the caller's trace.

use std::time::Duration;

use haicheng_proto::census::v1 as pb;
use platform::bus::cloudevents::header_map;
use prost::{Message as _, Name};
use rdkafka::{Message, message::OwnedMessage};
use testkit::{read_topic, stack};
use tonic::Request;

use crate::{COMMERCE, good_indicators, new_uscc, registration, spawn, submission};

/// The messages of this service's census topic keyed by `uscc`, once `expected` of them
/// arrived (the topic is the test's own, so every message on it counts).
async fn messages_about(topic: &str, uscc: &str, expected: usize) -> Vec<OwnedMessage> {
    read_topic(
        &stack().kafka_bootstrap,
        topic,
        expected,
        Duration::from_secs(60),
        Duration::from_secs(2),
    )
    .await
    .into_iter()
    .filter(|m| m.key() == Some(uscc.as_bytes()))
    .collect()
}

fn traced<T>(message: T, trace_id: &str) -> Request<T> {
    let mut request = Request::new(message);
    request.metadata_mut().insert(
        "traceparent",
        format!("00-{trace_id}-00f067aa0ba902b7-01")
            .parse()
            .unwrap(),
    );
    request
}

#[tokio::test(flavor = "multi_thread")]
async fn each_change_is_published_as_a_cloudevent_keyed_by_uscc_with_the_full_figures() {
    let census = spawn().await;
    let mut client = census.client(COMMERCE);
    let uscc = new_uscc();
    let trace_id = uuid::Uuid::new_v4().simple().to_string();

    let registered = client
        .register_enterprise(traced(registration(&uscc), &trace_id))
        .await
        .unwrap()
        .into_inner()
        .enterprise
        .unwrap();
    let request = submission(&uscc, "2025Q3", good_indicators());
    let stored = client
        .submit_return(traced(request.clone(), &trace_id))
        .await
        .unwrap()
        .into_inner()
        .census_return
        .unwrap();
    client
        .deregister_enterprise(traced(
            pb::DeregisterEnterpriseRequest {
                uscc: uscc.clone(),
                expected_version: 1,
                reason: "closed".into(),
            },
            &trace_id,
        ))
        .await
        .unwrap();
    // A repeat and a refused request publish nothing.
    client.submit_return(request).await.unwrap();

    let messages = messages_about(&census.events_topic(), &uscc, 3).await;
    let types: Vec<String> = messages
        .iter()
        .map(|m| header_map(m.headers().map(|h| h.as_borrowed()))["ce_type"].clone())
        .collect();
    assert_eq!(
        types,
        [
            pb::EnterpriseRegistered::full_name(),
            pb::CensusReturnSubmitted::full_name(),
            pb::EnterpriseUpdated::full_name(),
        ],
        "in order, once each"
    );
    for message in &messages {
        let headers = header_map(message.headers().map(|h| h.as_borrowed()));
        assert_eq!(headers["ce_specversion"], "1.0");
        assert_eq!(headers["ce_source"], "census");
        assert_eq!(headers["ce_subject"], uscc);
        assert_eq!(headers["content-type"], "application/protobuf");
        assert!(uuid::Uuid::parse_str(&headers["ce_id"]).is_ok());
        assert!(chrono::DateTime::parse_from_rfc3339(&headers["ce_time"]).is_ok());
        assert_eq!(
            headers["traceparent"].split('-').nth(1),
            Some(trace_id.as_str()),
            "the event continues the caller's trace"
        );
    }

    let payload = |i: usize| messages[i].payload().unwrap_or_default();
    let event = pb::EnterpriseRegistered::decode(payload(0)).unwrap();
    assert_eq!(event.enterprise.unwrap(), registered);
    let event = pb::CensusReturnSubmitted::decode(payload(1)).unwrap();
    assert_eq!(event.uscc, uscc);
    assert_eq!(event.revision, 1);
    assert_eq!(event.indicators.as_ref(), stored.indicators.as_ref());
    assert_eq!(
        event.indicators.unwrap(),
        good_indicators(),
        "the full figure set"
    );
    assert_eq!(event.sources, stored.sources);
    assert_eq!(event.park, registered.park);
    assert_eq!(event.segment, registered.segment);
    assert_eq!(event.industry_class, "1922");
    assert_eq!(event.registration_date, registered.registration_date);
    assert_eq!(event.name, registered.name);
    assert_eq!(event.enterprise_version, 1);
    assert_eq!(event.submitted_at, stored.submitted_at);
    let event = pb::EnterpriseUpdated::decode(payload(2)).unwrap();
    assert_eq!(event.previous_version, 1);
    assert_eq!(
        event.enterprise.unwrap().status,
        pb::EnterpriseStatus::Deregistered as i32
    );
    census.stop().await;
}
