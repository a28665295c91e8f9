//! Page tokens: unsigned (URL-safe base64 of a JSON cursor), so a caller can craft any. Each
//! list's request check reads the bytes as its `page_token`, the other fields left unset.

use haicheng_proto::{
    census::v1 as census_pb, classification::v1 as classification_pb, land::v1 as land_pb,
    policy::v1 as policy_pb,
};
use land_parcel::api::{Parks, disposal, parcels, queue};
use platform::{Park, paging::decode_token};

/// Every list's page token, by the list's own request check.
pub fn page_tokens(data: &[u8]) {
    let page_token = crate::text(data).into_owned();
    let _ = census::api::reads::list_query(&census_pb::ListEnterprisesRequest {
        page_token: page_token.clone(),
        ..Default::default()
    });
    let _ = classification::api::classes::list_query(&classification_pb::ListClassesRequest {
        page_token: page_token.clone(),
        ..Default::default()
    });
    let _ = decode_token::<i64>(&page_token); // ListObjections: the id before
    let _ = notices::filter::query(&policy_pb::ListNoticesRequest {
        page_token: page_token.clone(),
        ..Default::default()
    });
    let _ = parcels::page(
        &land_pb::ListParcelsRequest {
            page_token: page_token.clone(),
            ..Default::default()
        },
        &Parks::All,
    );
    if let Ok(page) = queue::page(&land_pb::ListLandApplicationsRequest {
        park: Park::Xiliu.to_proto() as i32,
        page_token: page_token.clone(),
        ..Default::default()
    }) {
        let (_, next) = queue::one_page(&[], page.offset, page.size);
        let _ = next;
    }
    let _ = disposal::low_efficiency_page(
        &land_pb::ListLowEfficiencyGrantsRequest {
            page_token: page_token.clone(),
            ..Default::default()
        },
        Parks::All,
    );
    if let Ok(Some(cursor)) = decode_token::<trade_fair::api::fairs::Cursor>(&page_token) {
        let _ = cursor.position(Default::default());
    }
    let _ = support::api::uuid_token(&page_token);
    let _ = inspection::api::parse::uuid_token(&page_token);
    let _ = decode_token::<String>(&page_token); // ListRiskTiers: the USCC before
}
