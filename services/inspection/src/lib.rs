//! Inspection service (涉企行政检查): item lists, risk tiers from the platform's facts, seeded
//! yearly plans (双随机), joint visits (综合查一次), yearly caps, inspection codes (扫码入企) and
//! anonymous ratings.

pub mod domain;
