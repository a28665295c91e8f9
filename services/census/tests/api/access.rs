//! Access: only holders of `census.write` change the census; departments read.

use haicheng_proto::census::v1 as pb;
use tonic::Code;

use crate::{
    COMMERCE, FINANCE, IMPORTER, good_indicators, new_uscc, register, registration, spawn,
    submission,
};

#[tokio::test(flavor = "multi_thread")]
async fn a_department_without_write_scope_is_refused_every_write_but_may_read() {
    let census = spawn().await;
    let mut commerce = census.client(COMMERCE);
    let uscc = new_uscc();
    register(&mut commerce, &uscc).await;

    let mut finance = census.client(FINANCE);
    let denied = [
        finance
            .register_enterprise(registration(&new_uscc()))
            .await
            .unwrap_err(),
        finance
            .submit_return(submission(&uscc, "2025", good_indicators()))
            .await
            .unwrap_err(),
        finance
            .deregister_enterprise(pb::DeregisterEnterpriseRequest {
                uscc: uscc.clone(),
                expected_version: 1,
                reason: "no".into(),
            })
            .await
            .unwrap_err(),
        finance
            .import_returns(tokio_stream::iter(Vec::<pb::ImportReturnsRow>::new()))
            .await
            .unwrap_err(),
    ];
    for status in denied {
        assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    }
    finance
        .list_enterprises(pb::ListEnterprisesRequest::default())
        .await
        .expect("finance reads the census");

    // The import account writes but does not read files.
    let mut importer = census.client(IMPORTER);
    importer
        .submit_return(submission(&uscc, "2025", good_indicators()))
        .await
        .expect("the import account writes");
    let status = importer
        .get_enterprise_file(pb::GetEnterpriseFileRequest {
            uscc: uscc.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);

    let status = census
        .client("not-a-token")
        .list_enterprises(pb::ListEnterprisesRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);

    let pool = census.pool();
    let enterprises: i64 = sqlx::query_scalar("SELECT count(*) FROM enterprises")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(enterprises, 1, "the refused registration stored nothing");
    census.stop().await;
}
