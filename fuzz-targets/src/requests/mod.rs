//! The request messages of each service: decoded as tonic's codec does (prost), then put
//! through the checks the handler runs before it touches the store. The first input byte
//! picks the message (modulo their number), the rest is its protobuf encoding.
//!
//! Where a handler's checks are a function of the API (`parcels::new_parcel`,
//! `reads::list_query`), that function is called; where they are a few lines inline in an
//! async handler, the same calls on the same fields are made here.

pub mod census;
pub mod classification;
pub mod inspection;
pub mod land_parcel;
pub mod support;
pub mod trade_fair;

use chrono::{DateTime, NaiveDate, Utc};

/// The day the checks take as today (a fixed one: a run is repeatable).
fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 6, 30).unwrap_or_default()
}

/// The time the checks take as now.
fn now() -> DateTime<Utc> {
    today().and_time(chrono::NaiveTime::MIN).and_utc()
}

/// Declares a service's target: `requests(data)` and `request_names()`, the full names of
/// the messages in the order the first byte picks them (the generator builds them by name).
macro_rules! requests {
    ($($message:ty => $check:expr),+ $(,)?) => {
        /// The full protobuf names of the request messages, in selector order.
        pub fn request_names() -> Vec<String> {
            vec![$(<$message as prost::Name>::full_name()),+]
        }

        /// The target: the first byte picks a request message, the rest is decoded as it
        /// and checked.
        pub fn requests(data: &[u8]) {
            crate::dispatch(
                data,
                &[$(|bytes| {
                    if let Ok(request) = <$message as prost::Message>::decode(bytes) {
                        let check: fn(&$message) = $check;
                        check(&request);
                    }
                }),+],
            );
        }
    };
}
pub(crate) use requests;
