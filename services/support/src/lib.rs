//! Support service (扶持政策): support policies as versioned rules over the facts the platform
//! already holds, benefits without application (免申即享), rounds published for objections and
//! finalized into payment orders for finance, under budgets that are never exceeded.

pub mod domain;
