//! The census's rules, as pure types and functions: no I/O, no clock (the caller passes
//! the date), so every rule is unit- and property-tested on its own.
//!
//! Checks collect one [`platform::Violations`] entry per bad field, named by its path in
//! the request (`uscc`, `period`, `indicators.production_staff`), so a caller learns every
//! problem of a request at once.

pub mod census_return;
pub mod enterprise;
pub mod industry;
pub mod statistics;

pub use census_return::{
    CensusReturn, EquipmentLevel, FigureSource, Indicators, ReturnContent, ReturnInput, Rules,
    Sources, Submission,
};
pub use enterprise::{Enterprise, Park, RegistryFields, RegistryInput, Size, Status, Vetoes};
pub use industry::{IndustryClass, Segment};
pub use platform::period::{self, Period};
pub use platform::uscc::{self, Uscc};
pub use statistics::{Group, Grouping, Totals};
