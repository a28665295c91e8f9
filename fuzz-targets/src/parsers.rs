//! The platform's parsers of codes and settings: periods, USCCs, retention spans and the
//! `AUTH_TOKENS` table.

use platform::{
    auth::TokenTable, config::span_or, config::vars::OUTBOX_RETENTION, period::Period, uscc::Uscc,
};
use std::time::Duration;

/// `Period::parse` (`2025`, `2025Q3`), and the parsed period's code and end.
pub fn period(data: &[u8]) {
    if let Ok(period) = Period::parse(&crate::text(data)) {
        let _ = (period.code(), period.end(), period.completion_key());
    }
}

/// `Uscc::parse` (the check character), and `Uscc::complete` of the first 16 characters.
pub fn uscc(data: &[u8]) {
    let text = crate::text(data);
    let _ = Uscc::parse(&text).map(|u| u.as_str().len());
    let _ = Uscc::complete(&text);
}

/// The span of `OUTBOX_RETENTION` and friends (`14d`, `36h`).
pub fn retention_span(data: &[u8]) {
    let _ = span_or(
        Some(crate::text(data).into_owned()),
        OUTBOX_RETENTION,
        Duration::ZERO,
    );
}

/// `TokenTable::parse` of an `AUTH_TOKENS` value, and a lookup of the same bytes as a token.
pub fn auth_tokens(data: &[u8]) {
    let text = crate::text(data);
    if let Ok(table) = TokenTable::parse(&text) {
        let _ = table.authenticate(&text);
    }
    let _ = TokenTable::development().authenticate(&text);
}
