//! The fuzz targets of the platform: one function per target, `fn(&[u8])`, that must not
//! panic whatever the bytes. Each feeds the bytes to the code that reads what a caller, a
//! file or the broker hands a service, before any database is touched:
//!
//! - [`requests`]: the decoding (prost) and validation of every request message of the
//!   services, one target per service; the first byte picks the message;
//! - [`files`]: the CLI's census import CSV and census return file;
//! - [`parsers`]: period codes, USCCs, retention spans, `AUTH_TOKENS`;
//! - [`paging`]: the page token of every list;
//! - [`bus`]: the CloudEvents headers of a Kafka message, and each consumer's payloads.
//!
//! [`TARGETS`] names them all. `make fuzz` runs each under libFuzzer (`fuzz/`, two lines per
//! target calling in here); `make test` replays the committed corpus and regressions and a
//! fixed-seed batch of generated inputs ([`generate`]: byte mutations, and protobuf messages
//! built from the descriptors, since random bytes rarely decode into an interesting request).
//! A finding becomes a fix, a regression file under `fuzz/regressions/<target>/` and a unit
//! test beside the fixed code.

pub mod bus;
pub mod files;
pub mod generate;
pub mod paging;
pub mod parsers;
pub mod requests;

/// A fuzz target: any bytes, no panic.
pub type Target = fn(&[u8]);

/// Every target by name: the names of `fuzz/fuzz_targets/*.rs`, of the corpus folders and of
/// the rows of RELIABILITY.md.
pub const TARGETS: &[(&str, Target)] = &[
    ("census_requests", requests::census::requests),
    (
        "classification_requests",
        requests::classification::requests,
    ),
    ("land_parcel_requests", requests::land_parcel::requests),
    ("trade_fair_requests", requests::trade_fair::requests),
    ("support_requests", requests::support::requests),
    ("inspection_requests", requests::inspection::requests),
    ("census_csv", files::census_csv),
    ("return_file", files::return_file),
    ("period", parsers::period),
    ("uscc", parsers::uscc),
    ("retention_span", parsers::retention_span),
    ("auth_tokens", parsers::auth_tokens),
    ("page_tokens", paging::page_tokens),
    ("cloudevents", bus::cloudevents),
    ("consumer_payloads", bus::consumer_payloads),
];

/// The target of a name.
pub fn target(name: &str) -> Option<Target> {
    TARGETS.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

/// Calls the one of `choices` the first byte picks (modulo their number) with the rest.
fn dispatch(data: &[u8], choices: &[Target]) {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    choices[usize::from(which) % choices.len()](rest);
}

/// The bytes as text, as a service receives a string field: invalid UTF-8 never gets that
/// far (prost refuses it), so it is replaced here rather than dropped.
fn text(data: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(data)
}
