//! The census's rules, as pure types and functions: no I/O, no clock (the caller passes
//! the date), so every rule is unit- and property-tested on its own.
//!
//! Checks collect one [`platform::Violations`] entry per bad field, named by its path in
//! the request (`uscc`, `period`, `indicators.production_staff`), so a caller learns every
//! problem of a request at once. Writes take the one path of every service: the store loads
//! the state, [`registry::decide`] or [`submission::decide`] says what to write (or a typed
//! refusal), the store commits it with its events.

pub mod census_return;
pub mod enterprise;
pub mod industry;
pub mod registry;
pub mod statistics;
pub mod submission;

pub use census_return::{
    CensusReturn, EquipmentLevel, FigureSource, Indicators, ReturnContent, ReturnInput, Rules,
    Sources, Submission,
};
pub use enterprise::{Enterprise, RegistryFields, RegistryInput, Size, Status, Vetoes};
pub use industry::{IndustryClass, Segment};
pub use platform::Park;
pub use platform::period::{self, Period};
pub use platform::uscc::{self, Uscc};
pub use statistics::{Group, Grouping, Totals};
