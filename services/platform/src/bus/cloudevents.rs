//! CloudEvents Kafka binding, binary mode: the event's attributes travel as `ce_*` headers
//! beside the W3C trace context, and the payload is the bare protobuf message.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rdkafka::message::{BorrowedHeaders, Header, Headers, OwnedHeaders};
use uuid::Uuid;

pub const SPECVERSION: &str = "ce_specversion";
pub const ID: &str = "ce_id";
pub const TYPE: &str = "ce_type";
pub const SOURCE: &str = "ce_source";
pub const SUBJECT: &str = "ce_subject";
pub const TIME: &str = "ce_time";
pub const CONTENT_TYPE: &str = "content-type";
pub const TRACEPARENT: &str = "traceparent";
pub const TRACESTATE: &str = "tracestate";
/// Added on a DLQ copy: why the consumer gave up.
pub const DLQ_ERROR: &str = "dlq_error";

/// The attributes of one event.
#[derive(Debug, Clone, PartialEq)]
pub struct CloudEvent {
    /// Unique per event; consumers deduplicate on it. A UUIDv7, so ids sort by time.
    pub id: Uuid,
    /// The protobuf full name of the payload, e.g. `haicheng.census.v1.CensusReturnSubmitted`.
    pub ty: String,
    /// The producing service.
    pub source: String,
    /// The aggregate the event is about (a USCC, a parcel id, a department).
    pub subject: String,
    pub time: DateTime<Utc>,
    /// W3C trace context of the producer (`traceparent`, `tracestate`).
    pub trace: HashMap<String, String>,
}

/// Why a message's headers do not make a CloudEvent.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum HeaderError {
    #[error("header {0} is missing")]
    Missing(&'static str),
    #[error("header {0} is malformed: {1}")]
    Malformed(&'static str, String),
}

impl CloudEvent {
    pub fn to_headers(&self) -> OwnedHeaders {
        let time = self.time.to_rfc3339();
        let id = self.id.to_string();
        let mut headers = OwnedHeaders::new_with_capacity(9);
        for (key, value) in [
            (SPECVERSION, "1.0"),
            (ID, id.as_str()),
            (TYPE, self.ty.as_str()),
            (SOURCE, self.source.as_str()),
            (SUBJECT, self.subject.as_str()),
            (TIME, time.as_str()),
            (CONTENT_TYPE, "application/protobuf"),
        ] {
            headers = headers.insert(Header {
                key,
                value: Some(value),
            });
        }
        for key in [TRACEPARENT, TRACESTATE] {
            if let Some(value) = self.trace.get(key) {
                headers = headers.insert(Header {
                    key,
                    value: Some(value.as_str()),
                });
            }
        }
        headers
    }

    pub fn from_headers(headers: Option<&BorrowedHeaders>) -> Result<Self, HeaderError> {
        let map = header_map(headers);
        let get = |key: &'static str| map.get(key).cloned().ok_or(HeaderError::Missing(key));
        let id = get(ID)?;
        let time = get(TIME)?;
        let trace = [TRACEPARENT, TRACESTATE]
            .into_iter()
            .filter_map(|key| map.get(key).map(|v| (key.to_string(), v.clone())))
            .collect();
        Ok(Self {
            id: Uuid::parse_str(&id).map_err(|e| HeaderError::Malformed(ID, e.to_string()))?,
            ty: get(TYPE)?,
            source: get(SOURCE)?,
            subject: get(SUBJECT)?,
            time: DateTime::parse_from_rfc3339(&time)
                .map_err(|e| HeaderError::Malformed(TIME, e.to_string()))?
                .with_timezone(&Utc),
            trace,
        })
    }
}

/// Every header whose value is UTF-8, by name (the last one wins).
pub fn header_map(headers: Option<&BorrowedHeaders>) -> HashMap<String, String> {
    let Some(headers) = headers else {
        return HashMap::new();
    };
    headers
        .iter()
        .filter_map(|h| {
            Some((
                h.key.to_string(),
                String::from_utf8(h.value?.to_vec()).ok()?,
            ))
        })
        .collect()
}

/// Lets the trace propagator read the `traceparent` of a message's headers.
pub struct TraceCarrier<'a>(pub &'a HashMap<String, String>);

impl opentelemetry::propagation::Extractor for TraceCarrier<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
}
