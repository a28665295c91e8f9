//! The census's events, built from domain values: what `haicheng.census.events.v1` carries,
//! keyed by USCC so one enterprise's events stay in order. Each carries everything a
//! consumer needs, so none has to call the census back.

use haicheng_proto::{census::v1 as pb, common::v1 as common, topics};
use platform::OutgoingEvent;

use crate::{
    api::convert,
    domain::{Enterprise, submission::ReturnSubmitted},
};

pub fn enterprise_registered(enterprise: &Enterprise) -> OutgoingEvent {
    let message = pb::EnterpriseRegistered {
        enterprise: Some(convert::enterprise_to_proto(enterprise)),
    };
    OutgoingEvent::new(topics::CENSUS_EVENTS, enterprise.uscc.as_str(), &message)
}

pub fn enterprise_updated(enterprise: &Enterprise, previous_version: i64) -> OutgoingEvent {
    let message = pb::EnterpriseUpdated {
        enterprise: Some(convert::enterprise_to_proto(enterprise)),
        previous_version,
    };
    OutgoingEvent::new(topics::CENSUS_EVENTS, enterprise.uscc.as_str(), &message)
}

/// A new revision, with the enterprise record it was checked against.
pub fn return_submitted(event: &ReturnSubmitted) -> OutgoingEvent {
    let ReturnSubmitted {
        census_return,
        enterprise,
    } = event;
    let content = &census_return.content;
    let fields = &enterprise.fields;
    let message = pb::CensusReturnSubmitted {
        uscc: content.uscc.to_string(),
        period: Some(common::Period {
            code: content.period.code(),
        }),
        revision: census_return.revision,
        indicators: Some(convert::indicators_to_proto(&content.indicators)),
        sources: Some(convert::sources_to_proto(&content.sources)),
        segment: fields.industry_class.segment().to_proto() as i32,
        park: fields.park.to_proto() as i32,
        registration_date: fields.registration_date.format("%Y-%m-%d").to_string(),
        submitted_at: Some(platform::time::to_timestamp(census_return.submitted_at)),
        industry_class: fields.industry_class.code().to_string(),
        name: fields.name.clone(),
        enterprise_version: enterprise.version,
    };
    OutgoingEvent::new(topics::CENSUS_EVENTS, content.uscc.as_str(), &message)
}
