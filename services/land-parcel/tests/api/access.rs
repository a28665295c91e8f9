//! Access: natural resources writes; commerce and finance read; a park committee reads only
//! its own park; every method has a rule.

use haicheng_proto::{common::v1::Park, land::v1 as pb};
use tonic::Code;

use super::*;

/// Machine accounts' tokens (32 random bytes each, base64url), configured raw.
const NR_TOKEN: &str = "3b3Ckyl8I5pAUW4R_VC_Ep81AwsDYtdOCKOlCaAry1U";
const COMMERCE_TOKEN: &str = "QcwR98oa68yDvI_Gg4Yzq9Um0lSQG61b5R2CeWZakXs";
const FINANCE_TOKEN: &str = "FJ-buZgMpBZ1TIreuW4LKAHmUUbCUtzZ01AYYNJW7bI";
const NANTAI_TOKEN: &str = "t3ECDWk73ki0nziDRU_x8Ztqo9DIPSXLaEKFlAg_fWg";
const TAX_TOKEN: &str = "ziJOttTnXMUWrcHAKJtCSqxP5qx2qy9dRc0SxAFpe-4";
const TOKENS: &str = "3b3Ckyl8I5pAUW4R_VC_Ep81AwsDYtdOCKOlCaAry1U=department:natural_resources:land.read,land.write;\
QcwR98oa68yDvI_Gg4Yzq9Um0lSQG61b5R2CeWZakXs=department:commerce:land.read;\
FJ-buZgMpBZ1TIreuW4LKAHmUUbCUtzZ01AYYNJW7bI=department:finance:land.read;\
t3ECDWk73ki0nziDRU_x8Ztqo9DIPSXLaEKFlAg_fWg=department:park_committee:land.read,land.park:nantai;\
ziJOttTnXMUWrcHAKJtCSqxP5qx2qy9dRc0SxAFpe-4=department:tax:notices.read";

#[tokio::test(flavor = "multi_thread")]
async fn writers_readers_and_a_park_committee_see_what_their_rules_allow() {
    let app = spawn_app_with(&[("AUTH_TOKENS", TOKENS)]).await;
    let mut client = app.client.clone();
    let register = |id: &str, park: Park| pb::RegisterParcelRequest {
        id: id.into(),
        park: park as i32,
        land_use: pb::LandUse::Industrial as i32,
        area_centi_mu: 500,
        plot_ratio_min_milli: 800,
        plot_ratio_max_milli: 2000,
        location: String::new(),
    };
    let nantai = parcel_id("NT");
    let xiliu = parcel_id("XL");
    client
        .register_parcel(with_token(NR_TOKEN, register(&nantai, Park::Nantai)))
        .await
        .unwrap();
    client
        .register_parcel(with_token(NR_TOKEN, register(&xiliu, Park::Xiliu)))
        .await
        .unwrap();
    let err = client
        .register_parcel(with_token(
            COMMERCE_TOKEN,
            register(&parcel_id("C"), Park::Xiliu),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "commerce only reads");

    let list = |token: &'static str| {
        let mut client = client.clone();
        async move {
            client
                .list_parcels(with_token(token, pb::ListParcelsRequest::default()))
                .await
                .map(|r| {
                    r.into_inner()
                        .parcels
                        .into_iter()
                        .map(|p| p.id)
                        .collect::<Vec<_>>()
                })
        }
    };
    let mut both = vec![nantai.clone(), xiliu.clone()];
    both.sort();
    assert_eq!(list(FINANCE_TOKEN).await.unwrap(), both);
    assert_eq!(list(COMMERCE_TOKEN).await.unwrap(), both);
    assert_eq!(
        list(NANTAI_TOKEN).await.unwrap(),
        std::slice::from_ref(&nantai)
    );
    assert_eq!(
        list(TAX_TOKEN).await.unwrap_err().code(),
        Code::PermissionDenied
    );

    let get = |id: &str| pb::GetParcelRequest {
        parcel_id: id.into(),
        as_of: None,
    };
    client
        .get_parcel(with_token(NANTAI_TOKEN, get(&nantai)))
        .await
        .unwrap();
    let err = client
        .get_parcel(with_token(NANTAI_TOKEN, get(&xiliu)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = client
        .get_parcel(with_token(FINANCE_TOKEN, get("not a parcel id")))
        .await
        .unwrap_err();
    assert_eq!(invalid_fields(&err), ["parcel_id"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn parcels_split_and_merge_with_their_lineage() {
    let app = spawn_app().await;
    let mut client = app.client.clone();
    let parcel = app
        .register_parcel(&parcel_id("S"), Park::Ganwang, 1_000)
        .await;
    let (a, b) = (format!("{}-A", parcel.id), format!("{}-B", parcel.id));
    let part = |id: &str, area| pb::ParcelPart {
        id: id.into(),
        area_centi_mu: area,
        location: String::new(),
    };
    let err = client
        .split_parcel(with_token(
            NATURAL_RESOURCES,
            pb::SplitParcelRequest {
                parcel_id: parcel.id.clone(),
                expected_version: parcel.version,
                parts: vec![part(&a, 400), part(&b, 599)],
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(invalid_fields(&err), ["parts"]);
    let parts = client
        .split_parcel(with_token(
            NATURAL_RESOURCES,
            pb::SplitParcelRequest {
                parcel_id: parcel.id.clone(),
                expected_version: parcel.version,
                parts: vec![part(&a, 400), part(&b, 600)],
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .parcels;
    assert!(parts.iter().all(|p| p.parent_ids == [parcel.id.clone()]));
    let merged_id = format!("{}-M", parcel.id);
    let merged = client
        .merge_parcels(with_token(
            NATURAL_RESOURCES,
            pb::MergeParcelsRequest {
                parcel_ids: vec![b.clone(), a.clone()],
                new_parcel_id: merged_id.clone(),
                location: String::new(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .parcel
        .unwrap();
    assert_eq!(merged.area_centi_mu, 1_000);
    assert_eq!(merged.parent_ids, [a.clone(), b.clone()]);
    let old = client
        .get_parcel(with_token(
            COMMERCE,
            pb::GetParcelRequest {
                parcel_id: parcel.id.clone(),
                as_of: None,
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .parcel
        .unwrap();
    assert_eq!(old.status(), pb::ParcelStatus::Ended);
    assert_eq!(old.child_ids, [a, b]);
    let page = client
        .list_parcels(with_token(
            COMMERCE,
            pb::ListParcelsRequest {
                status: pb::ParcelStatus::Ended as i32,
                page_size: 2,
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page.parcels.len(), 2);
    assert!(
        !page.next_page_token.is_empty(),
        "three ended parcels, pages of two"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_development_tokens_let_finance_read_and_the_park_committee_read_xiliu() {
    let app = spawn_app().await;
    let xiliu = app
        .register_parcel(&parcel_id("DX"), Park::Xiliu, 500)
        .await;
    let nantai = app
        .register_parcel(&parcel_id("DN"), Park::Nantai, 500)
        .await;
    let mut client = app.client.clone();
    let ids = |reply: pb::ListParcelsResponse| {
        reply.parcels.into_iter().map(|p| p.id).collect::<Vec<_>>()
    };
    let finance = client
        .list_parcels(with_token("dev-finance", pb::ListParcelsRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(finance.parcels.len(), 2);
    let committee = client
        .list_parcels(with_token(
            "dev-park-committee",
            pb::ListParcelsRequest::default(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ids(committee), [xiliu.id]);
    let err = client
        .get_parcel(with_token(
            "dev-park-committee",
            pb::GetParcelRequest {
                parcel_id: nantai.id,
                as_of: None,
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
}

/// An enterprise principal has no land method: every one is `Rule::Scope`, which refuses it.
#[tokio::test(flavor = "multi_thread")]
async fn an_enterprise_principal_is_refused_every_land_method() {
    let app = spawn_app().await;
    let parcel = app
        .register_parcel(&parcel_id("EN"), Park::Xiliu, 500)
        .await;
    let token = platform::auth::TokenTable::development_enterprise_token(&testkit::new_uscc());
    let mut client = app.client.clone();
    let denied = [
        client
            .list_parcels(with_token(&token, pb::ListParcelsRequest::default()))
            .await
            .unwrap_err(),
        client
            .get_parcel(with_token(
                &token,
                pb::GetParcelRequest {
                    parcel_id: parcel.id,
                    as_of: None,
                },
            ))
            .await
            .unwrap_err(),
        client
            .list_land_applications(with_token(
                &token,
                pb::ListLandApplicationsRequest::default(),
            ))
            .await
            .unwrap_err(),
    ];
    for status in denied {
        assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    }
}
