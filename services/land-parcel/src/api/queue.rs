//! Requests of the land queue RPCs (submit, list), checked for shape, and the list's pages.

use haicheng_proto::land::v1 as pb;
use platform::{ApiError, Park, Violations, paging};

use super::{absorb, convert, done};
use crate::domain::{
    parcel,
    queue::{ApplicationRecord, NewApplication},
};

/// The application of a `SubmitLandApplication`.
pub fn application(r: pb::SubmitLandApplicationRequest) -> Result<NewApplication, ApiError> {
    let mut v = Violations::new();
    v.uscc("uscc", &r.uscc);
    let park = v.word::<Park>("park", r.park);
    let land_use = convert::land_use_from_proto(r.land_use);
    v.check(
        land_use.is_some(),
        "land_use",
        "one of the land uses is required",
    );
    parcel::check_area(r.area_centi_mu, "area_centi_mu", &mut v);
    let mode = convert::supply_mode_from_proto(r.supply_mode);
    v.check(
        mode.is_some(),
        "supply_mode",
        "one of the supply modes is required",
    );
    v.check(
        r.purpose.chars().count() <= 500 && !r.purpose.chars().any(char::is_control),
        "purpose",
        "at most 500 characters",
    );
    let ((park, land_use), mode) = done(park.zip(land_use).zip(mode), v)?;
    Ok(NewApplication {
        uscc: r.uscc,
        park,
        land_use,
        area_centi_mu: r.area_centi_mu,
        supply_mode: mode,
        purpose: r.purpose,
    })
}

/// One page of a park's applications.
pub struct ApplicationPage {
    pub park: Park,
    pub queued: bool,
    pub offset: usize,
    pub size: usize,
}

pub fn page(r: &pb::ListLandApplicationsRequest) -> Result<ApplicationPage, ApiError> {
    let mut v = Violations::new();
    let park = v.word::<Park>("park", r.park);
    let queued = match pb::ApplicationStatus::try_from(r.status) {
        Ok(pb::ApplicationStatus::Unspecified | pb::ApplicationStatus::Queued) => true,
        Ok(pb::ApplicationStatus::Granted) => false,
        Err(_) => {
            v.add("status", "not a defined status");
            true
        }
    };
    let size = absorb(paging::page_size(r.page_size), &mut v)?;
    let offset = absorb(paging::decode_token::<usize>(&r.page_token), &mut v)?.flatten();
    let (park, size) = done(park.zip(size), v)?;
    Ok(ApplicationPage {
        park,
        queued,
        offset: offset.unwrap_or(0),
        size: size as usize,
    })
}

/// The applications of the page at `offset`, and the next page's token.
pub fn one_page(
    all: &[ApplicationRecord],
    offset: usize,
    size: usize,
) -> (impl Iterator<Item = &ApplicationRecord>, String) {
    let shown = all.len().saturating_sub(offset).min(size);
    let next = if offset + shown < all.len() {
        paging::encode_token(&(offset + shown))
    } else {
        String::new()
    };
    (all.iter().skip(offset).take(size), next)
}
