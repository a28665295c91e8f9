//! Access: commerce writes, finance reads subsidies only, park committees read fairs, no
//! token is no call.

use haicheng_proto::fair::v1 as pb;
use tonic::{Code, Request};

use crate::{as_dept, fair_plan, spawn_app};

#[tokio::test(flavor = "multi_thread")]
async fn each_department_gets_what_its_scopes_allow() {
    let app = spawn_app().await;
    let plan = || pb::CreateFairRequest {
        fair: Some(fair_plan(
            pb::FairKind::LocalCraft,
            pb::AllocationMode::FirstCome,
            5,
        )),
    };
    let mut client = app.client.clone();
    let anonymous = client
        .list_fairs(Request::new(pb::ListFairsRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(anonymous.code(), Code::Unauthenticated);
    for department in ["finance", "park_committee", "tax"] {
        let denied = client
            .create_fair(as_dept(department, plan()))
            .await
            .unwrap_err();
        assert_eq!(
            denied.code(),
            Code::PermissionDenied,
            "{department} creates a fair"
        );
    }
    client
        .list_fairs(as_dept("park_committee", pb::ListFairsRequest::default()))
        .await
        .expect("park committees read fairs");
    let request = || pb::ListSubsidiesRequest {
        year: 2027,
        uscc: String::new(),
    };
    client
        .list_subsidies(as_dept("finance", request()))
        .await
        .expect("finance reads subsidies");
    let tax = client
        .list_subsidies(as_dept("tax", request()))
        .await
        .unwrap_err();
    assert_eq!(tax.code(), Code::PermissionDenied);
    let claim = client
        .claim_subsidy(as_dept(
            "finance",
            pb::ClaimSubsidyRequest {
                registration_id: uuid::Uuid::nil().to_string(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(
        claim.code(),
        Code::PermissionDenied,
        "finance reads subsidies, it does not grant them"
    );
    client
        .create_fair(as_dept("commerce", plan()))
        .await
        .expect("commerce creates fairs");
    app.stop().await;
}
