//! The registry: idempotent registration, optimistic versions, deregistration.

use haicheng_proto::{census::v1 as pb, common::v1 as common};
use tonic::Code;

use crate::{COMMERCE, good_indicators, new_uscc, register, registration, spawn, submission};

fn update_from(enterprise: &pb::Enterprise, expected_version: i64) -> pb::UpdateEnterpriseRequest {
    pb::UpdateEnterpriseRequest {
        uscc: enterprise.uscc.clone(),
        expected_version,
        name: enterprise.name.clone(),
        legal_representative: enterprise.legal_representative.clone(),
        park: enterprise.park,
        industry_class: enterprise.industry_class.clone(),
        size: enterprise.size,
        registration_date: enterprise.registration_date.clone(),
        safety_violation: enterprise.safety_violation,
        environmental_violation: enterprise.environmental_violation,
        tax_credit_violation: enterprise.tax_credit_violation,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn registering_again_with_the_same_data_returns_the_existing_record_and_with_other_data_is_refused()
 {
    let census = spawn().await;
    let mut client = census.client(COMMERCE);
    let uscc = new_uscc();
    let first = register(&mut client, &uscc).await;
    assert_eq!(first.version, 1);
    assert_eq!(first.segment, common::Segment::LuggageLeather as i32);
    assert_eq!(first.status, pb::EnterpriseStatus::Active as i32);

    let again = register(&mut client, &uscc).await;
    assert_eq!(
        again, first,
        "the same registration returns the same record"
    );

    let mut different = registration(&uscc);
    different.park = common::Park::Xiliu as i32;
    let status = client.register_enterprise(different).await.unwrap_err();
    assert_eq!(status.code(), Code::AlreadyExists);
    assert!(status.message().contains(&uscc), "{}", status.message());

    let pool = census.pool();
    let versions: i64 =
        sqlx::query_scalar("SELECT count(*) FROM enterprise_versions WHERE uscc = $1")
            .bind(&uscc)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(versions, 1);
    census.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_update_with_a_stale_expected_version_is_aborted_and_changes_nothing() {
    let census = spawn().await;
    let mut client = census.client(COMMERCE);
    let uscc = new_uscc();
    let v1 = register(&mut client, &uscc).await;

    let mut change = update_from(&v1, 1);
    change.industry_class = "1819".into();
    change.size = pb::EnterpriseSize::Medium as i32;
    let v2 = client
        .update_enterprise(change.clone())
        .await
        .unwrap()
        .into_inner()
        .enterprise
        .unwrap();
    assert_eq!(v2.version, 2);
    assert_eq!(
        v2.segment,
        common::Segment::Apparel as i32,
        "the segment follows the class"
    );

    // A second writer that still holds version 1 loses.
    change.name = "另一个名字".into();
    let status = client.update_enterprise(change).await.unwrap_err();
    assert_eq!(status.code(), Code::Aborted, "{status:?}");

    let mut unknown = update_from(&v2, 2);
    unknown.uscc = new_uscc();
    let status = client.update_enterprise(unknown.clone()).await.unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    assert!(
        status.message().contains(&unknown.uscc),
        "{}",
        status.message()
    );

    // The same values again are no change: no new version.
    let same = client
        .update_enterprise(update_from(&v2, 2))
        .await
        .unwrap()
        .into_inner()
        .enterprise
        .unwrap();
    assert_eq!(same, v2);
    census.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deregistered_enterprise_keeps_its_file_but_takes_no_returns_or_changes() {
    let census = spawn().await;
    let mut client = census.client(COMMERCE);
    let uscc = new_uscc();
    register(&mut client, &uscc).await;
    client
        .submit_return(submission(&uscc, "2024", good_indicators()))
        .await
        .unwrap();

    let status = client
        .deregister_enterprise(pb::DeregisterEnterpriseRequest {
            uscc: uscc.clone(),
            expected_version: 1,
            reason: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(crate::invalid_fields(&status), ["reason"]);

    let gone = client
        .deregister_enterprise(pb::DeregisterEnterpriseRequest {
            uscc: uscc.clone(),
            expected_version: 1,
            reason: "moved out of the zone".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .enterprise
        .unwrap();
    assert_eq!(gone.status, pb::EnterpriseStatus::Deregistered as i32);
    assert_eq!(gone.version, 2);
    assert_eq!(gone.deregistration_reason, "moved out of the zone");

    let status = client
        .submit_return(submission(&uscc, "2025", good_indicators()))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    let status = client
        .update_enterprise(update_from(&gone, 2))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");

    let file = client
        .get_enterprise_file(pb::GetEnterpriseFileRequest {
            uscc: uscc.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        file.enterprise.unwrap().status,
        pb::EnterpriseStatus::Deregistered as i32
    );
    assert_eq!(file.returns.len(), 1, "the file stays");
    census.stop().await;
}
