//! What arrives from the broker: a message's headers (CloudEvents binary mode) and each
//! consumer's payloads, decoded and turned into the domain values the handlers store.

use std::collections::HashMap;

use chrono::DateTime;
use haicheng_proto::{
    census::v1::{CensusReturnSubmitted, EnterpriseRegistered, EnterpriseUpdated},
    classification::v1::{EnterpriseClassified, PeriodFinalized, PeriodPublished},
    fair::v1::{RegistrationCancelled, RegistrationConfirmed},
    land::v1::{CommitmentEvaluated, GrantTakenBack},
};
use platform::{
    Envelope,
    bus::cloudevents::{self, CloudEvent},
    period::Period,
};
use prost::{Message, Name};
use rdkafka::message::{Header, OwnedHeaders};
use uuid::Uuid;

/// The header names a producer sets; an entry's first byte picks one, or (past the list) a
/// name of its own written before a `=`.
const KEYS: [&str; 9] = [
    cloudevents::SPECVERSION,
    cloudevents::ID,
    cloudevents::TYPE,
    cloudevents::SOURCE,
    cloudevents::SUBJECT,
    cloudevents::TIME,
    cloudevents::CONTENT_TYPE,
    cloudevents::TRACEPARENT,
    cloudevents::TRACESTATE,
];

/// `CloudEvent::from_headers` of a message whose headers the bytes spell: entries separated
/// by 0xFF, each a key selector byte and the value (an entry of one byte has no value). A
/// decoded event goes back to headers, as a DLQ copy does.
pub fn cloudevents(data: &[u8]) {
    let mut headers = OwnedHeaders::new();
    for entry in data.split(|b| *b == 0xFF) {
        let Some((&which, value)) = entry.split_first() else {
            continue;
        };
        let (key, value) = match KEYS.get(usize::from(which) % (KEYS.len() + 1)) {
            Some(key) => ((*key).to_string(), value),
            None => {
                let at = value.iter().position(|b| *b == b'=').unwrap_or(value.len());
                let (key, rest) = value.split_at(at);
                (
                    crate::text(key).into_owned(),
                    rest.get(1..).unwrap_or_default(),
                )
            }
        };
        headers = headers.insert(Header {
            key: &key,
            value: (entry.len() > 1).then_some(value),
        });
    }
    let borrowed = headers.as_borrowed();
    let _ = cloudevents::header_map(Some(borrowed));
    if let Ok(event) = CloudEvent::from_headers(Some(borrowed)) {
        let _ = event.to_headers();
    }
}

/// A received event carrying `payload`, as the inbox hands it to a handler.
fn envelope<M: Name>(payload: &[u8]) -> Envelope {
    Envelope {
        topic: "fuzz".into(),
        partition: 0,
        offset: 0,
        key: None,
        event: CloudEvent {
            id: Uuid::nil(),
            ty: M::full_name(),
            source: "fuzz".into(),
            subject: String::new(),
            time: DateTime::UNIX_EPOCH,
            trace: HashMap::new(),
        },
        payload: payload.to_vec(),
    }
}

/// The payload decoded as the handler does (`Envelope::decode`), or `None`.
fn decoded<M: Message + Name + Default>(payload: &[u8]) -> Option<M> {
    envelope::<M>(payload).decode().ok()
}

/// A period code as the consumers read it.
fn period(period: Option<&haicheng_proto::common::v1::Period>) {
    let _ = Period::parse(period.map_or("", |p| p.code.as_str()));
}

/// Each consumer's payloads; the first byte picks the consumer and event type.
pub fn consumer_payloads(data: &[u8]) {
    crate::dispatch(data, &PAYLOADS);
}

/// The consumers' event types and what each handler makes of one, in selector order.
const PAYLOADS: [crate::Target; 17] = [
    |b| {
        let m = decoded::<EnterpriseRegistered>(b);
        let _ = m.map(|m| classification::consumers::enterprise_record(m.enterprise));
    },
    |b| {
        let m = decoded::<EnterpriseUpdated>(b);
        let _ = m.map(|m| classification::consumers::enterprise_record(m.enterprise));
    },
    |b| {
        let m = decoded::<CensusReturnSubmitted>(b);
        let _ = m.map(classification::consumers::return_record);
    },
    |b| {
        let m = decoded::<EnterpriseRegistered>(b);
        let _ = m.map(|m| land_parcel::consumers::enterprise_record(m.enterprise));
    },
    |b| {
        if let Some(m) = decoded::<CensusReturnSubmitted>(b) {
            period(m.period.as_ref());
        }
    },
    |b| {
        if let Some(m) = decoded::<EnterpriseClassified>(b) {
            period(m.period.as_ref());
            let _ = platform::Class::from_proto(m.new_class);
        }
    },
    |b| {
        let m = decoded::<EnterpriseUpdated>(b);
        let _ = m.map(|m| trade_fair::consumers::enterprise_record(m.enterprise));
    },
    |b| {
        if let Some(m) = decoded::<CensusReturnSubmitted>(b) {
            let code = m.period.as_ref().map(|p| p.code.as_str());
            let _ = trade_fair::consumers::period(code);
        }
    },
    |b| {
        let m = decoded::<EnterpriseRegistered>(b);
        let _ = m.map(|m| support::consumers::firm(m.enterprise));
    },
    |b| {
        if let Some(m) = decoded::<EnterpriseClassified>(b) {
            let _ = support::consumers::uscc(&m.uscc);
            let _ = support::consumers::period(m.period.as_ref().map(|p| p.code.as_str()));
        }
    },
    |b| {
        if let Some(m) = decoded::<PeriodPublished>(b) {
            let publication = m.publication.unwrap_or_default();
            period(publication.period.as_ref());
        }
    },
    |b| {
        let _ = decoded::<PeriodFinalized>(b);
    },
    |b| {
        if let Some(m) = decoded::<CommitmentEvaluated>(b) {
            let _ = m
                .evaluation
                .map(|e| inspection::consumers::uscc(&e.uscc).is_ok());
        }
    },
    |b| {
        let _ = decoded::<GrantTakenBack>(b);
    },
    |b| {
        let _ = decoded::<RegistrationConfirmed>(b);
    },
    |b| {
        let _ = decoded::<RegistrationCancelled>(b);
    },
    |b| {
        let m = decoded::<EnterpriseUpdated>(b);
        let _ = m.map(|m| inspection::consumers::census_record(m.enterprise));
    },
];
