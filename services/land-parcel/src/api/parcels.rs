//! Requests of the parcel RPCs (register, get, list, split, merge), checked for shape.

use chrono::{DateTime, Utc};
use haicheng_proto::land::v1 as pb;
use platform::{ApiError, Park, Violations, paging, time::from_timestamp};

use super::{Parks, absorb, convert, done};
use crate::{
    domain::parcel::{self, NewParcel, ParcelRecord, Part},
    store::ParcelFilter,
};

/// The parcel to register.
pub fn new_parcel(r: &pb::RegisterParcelRequest) -> Result<NewParcel, ApiError> {
    let mut v = Violations::new();
    let park = v.word::<Park>("park", r.park);
    let land_use = convert::land_use_from_proto(r.land_use);
    v.check(
        land_use.is_some(),
        "land_use",
        "one of the land uses is required",
    );
    let new = park.zip(land_use).map(|(park, land_use)| NewParcel {
        id: r.id.clone(),
        park,
        land_use,
        area_centi_mu: r.area_centi_mu,
        plot_ratio_min_milli: r.plot_ratio_min_milli,
        plot_ratio_max_milli: r.plot_ratio_max_milli,
        location: r.location.clone(),
    });
    parcel::check_fields(
        &r.id,
        r.area_centi_mu,
        (r.plot_ratio_min_milli, r.plot_ratio_max_milli),
        &r.location,
        &mut v,
    );
    done(new, v)
}

/// The parcel and the time of a `GetParcel` (`None`: now).
pub fn parcel_as_of(r: &pb::GetParcelRequest) -> Result<(&str, Option<DateTime<Utc>>), ApiError> {
    let mut v = Violations::new();
    parcel::check_id(&r.parcel_id, "parcel_id", &mut v);
    let as_of = r.as_of.as_ref().map(from_timestamp);
    v.check(
        !matches!(as_of, Some(None)),
        "as_of",
        "not a valid timestamp",
    );
    v.finish()?;
    Ok((&r.parcel_id, as_of.flatten()))
}

/// One page of a parcel list.
pub struct ParcelPage {
    pub filter: ParcelFilter,
    pub after: Option<String>,
    pub size: u32,
}

/// The filters and page of a list, the parks narrowed to those the caller may read.
pub fn page(r: &pb::ListParcelsRequest, parks: &Parks) -> Result<ParcelPage, ApiError> {
    let mut v = Violations::new();
    let park = v.optional_word::<Park>("park", r.park);
    let land_use = (r.land_use != 0)
        .then(|| convert::land_use_from_proto(r.land_use))
        .flatten();
    v.check(
        r.land_use == 0 || land_use.is_some(),
        "land_use",
        "not a defined land use",
    );
    let status = (r.status != 0)
        .then(|| convert::parcel_status_from_proto(r.status))
        .flatten();
    v.check(
        r.status == 0 || status.is_some(),
        "status",
        "not a defined status",
    );
    let size = absorb(paging::page_size(r.page_size), &mut v)?;
    let after = absorb(paging::decode_token::<String>(&r.page_token), &mut v)?.flatten();
    let size = done(size, v)?;
    let wanted: Option<Vec<Park>> = match (parks, park) {
        (Parks::All, None) => None,
        (Parks::All, Some(p)) => Some(vec![p]),
        (Parks::Only(own), None) => Some(own.clone()),
        (Parks::Only(own), Some(p)) => Some(own.iter().copied().filter(|o| *o == p).collect()),
    };
    Ok(ParcelPage {
        filter: ParcelFilter {
            parks: wanted,
            land_use,
            status,
        },
        after,
        size,
    })
}

/// Cuts `records` (one more than a page, when there is more) to `size`; the next page's token.
pub fn next_token(records: &mut Vec<ParcelRecord>, size: u32) -> String {
    if records.len() > size as usize {
        records.truncate(size as usize);
        records
            .last()
            .map(|p| paging::encode_token(&p.id))
            .unwrap_or_default()
    } else {
        String::new()
    }
}

/// The parts of a split.
pub fn split_parts(r: &pb::SplitParcelRequest) -> Result<Vec<Part>, ApiError> {
    let mut v = Violations::new();
    parcel::check_id(&r.parcel_id, "parcel_id", &mut v);
    v.check(
        r.expected_version >= 1,
        "expected_version",
        "the version last read is required",
    );
    let parts: Vec<Part> = r
        .parts
        .iter()
        .map(|p| Part {
            id: p.id.clone(),
            area_centi_mu: p.area_centi_mu,
            location: p.location.clone(),
        })
        .collect();
    v.check(
        parts.len() >= 2 && parts.len() <= 100,
        "parts",
        "2 to 100 parts",
    );
    for (i, part) in parts.iter().enumerate() {
        parcel::check_id(&part.id, &format!("parts[{i}].id"), &mut v);
    }
    v.finish()?;
    Ok(parts)
}

/// The parcels of a merge, distinct and sorted.
pub fn merged_ids(r: &pb::MergeParcelsRequest) -> Result<Vec<String>, ApiError> {
    let mut v = Violations::new();
    let mut ids = r.parcel_ids.clone();
    ids.sort();
    ids.dedup();
    v.check(
        ids.len() == r.parcel_ids.len() && (2..=100).contains(&ids.len()),
        "parcel_ids",
        "2 to 100 distinct parcels",
    );
    for (i, id) in r.parcel_ids.iter().enumerate() {
        parcel::check_id(id, &format!("parcel_ids[{i}]"), &mut v);
    }
    parcel::check_id(&r.new_parcel_id, "new_parcel_id", &mut v);
    parcel::check_location(&r.location, "location", &mut v);
    v.finish()?;
    Ok(ids)
}
