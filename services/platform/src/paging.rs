//! Paging: `page_size` clamped to a range, and opaque page tokens that carry a cursor.
//!
//! A token is the cursor (any serde type: the sort key of the last item returned) as JSON in
//! URL-safe base64. Keyset paging on a stable sort key keeps pages stable while rows are added.
//! A token that does not decode is INVALID_ARGUMENT on `page_token`.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::{Serialize, de::DeserializeOwned};

use crate::ApiError;

/// Page size when the request sends 0.
pub const DEFAULT_PAGE_SIZE: u32 = 50;
/// The largest page served; larger requests get this many.
pub const MAX_PAGE_SIZE: u32 = 1000;

/// The page size to serve for a requested one; negative is INVALID_ARGUMENT.
pub fn page_size(requested: i32) -> Result<u32, ApiError> {
    match requested {
        n if n < 0 => Err(ApiError::invalid("page_size", "must not be negative")),
        0 => Ok(DEFAULT_PAGE_SIZE),
        n => Ok((n as u32).min(MAX_PAGE_SIZE)),
    }
}

/// Encodes a cursor as a page token.
pub fn encode_token<C: Serialize>(cursor: &C) -> String {
    let json = serde_json::to_vec(cursor).expect("a cursor serialises");
    URL_SAFE_NO_PAD.encode(json)
}

/// Decodes a page token; an empty token means the first page (`None`).
pub fn decode_token<C: DeserializeOwned>(token: &str) -> Result<Option<C>, ApiError> {
    if token.is_empty() {
        return Ok(None);
    }
    let bad = || ApiError::invalid("page_token", "not a token this service issued");
    let json = URL_SAFE_NO_PAD.decode(token).map_err(|_| bad())?;
    serde_json::from_slice(&json).map(Some).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_garbage_is_refused() {
        let token = encode_token(&("91210381MA0Q12343L".to_string(), 7_i64));
        assert_eq!(
            decode_token::<(String, i64)>(&token).unwrap(),
            Some(("91210381MA0Q12343L".into(), 7))
        );
        assert_eq!(decode_token::<(String, i64)>("").unwrap(), None);
        assert!(matches!(
            decode_token::<(String, i64)>("%%%"),
            Err(ApiError::InvalidArgument(_))
        ));
        assert!(page_size(-1).is_err());
        assert_eq!(page_size(0).unwrap(), DEFAULT_PAGE_SIZE);
        assert_eq!(page_size(5000).unwrap(), MAX_PAGE_SIZE);
    }
}
