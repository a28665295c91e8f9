//! The demo data set `haicheng dev` loads on a first start, generated deterministically from a
//! seed so that every newcomer sees the same cluster. One file per concern:
//!
//! - [`census`]: the enterprises of the four parks and their census returns for two years;
//! - [`land`]: parcels granted to the parks' manufacturers with commitments derived from
//!   their figures, spare parcels, a factory split into units, the land queue;
//! - [`fairs`]: the coming year's trade fairs, their windows open now;
//! - [`support`]: three support policies and the R&D subsidy's round, finalized;
//! - [`inspection`]: the item lists and rosters of three departments, this year's plans
//!   merged into joint visits, one visit approved, recorded with a finding and rated;
//! - [`tour`]: the firms and the parcel the tour's commands are about, and those commands;
//! - [`load`]: loading it all through the services' own APIs, as any client would.

pub mod census;
pub mod fairs;
pub mod inspection;
pub mod land;
pub mod load;
pub mod support;
pub mod tour;

pub use census::{DemoCensus, census};

/// The seed of the data set `haicheng dev` loads.
pub const DEFAULT_SEED: u64 = 210_381;
