//! The working-day calendar of the objection window (异议期): the platform's one calendar
//! (`platform::calendar`), which the support service's publicity window counts in too.

pub use platform::calendar::*;
