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

/// An enterprise principal (`dev-enterprise-<USCC>` on a development stack) reads its own
/// file, returns included, and nothing else: not another firm's file, not the lists, no write.
#[tokio::test(flavor = "multi_thread")]
async fn an_enterprise_reads_only_its_own_file() {
    let census = spawn().await;
    let mut commerce = census.client(COMMERCE);
    let (own, other) = (new_uscc(), new_uscc());
    register(&mut commerce, &own).await;
    register(&mut commerce, &other).await;
    commerce
        .submit_return(submission(&own, "2025", good_indicators()))
        .await
        .expect("commerce submits the firm's return");

    let mut firm = census.client(&platform::auth::TokenTable::development_enterprise_token(
        &own,
    ));
    let file = firm
        .get_enterprise_file(pb::GetEnterpriseFileRequest {
            uscc: own.clone(),
            ..Default::default()
        })
        .await
        .expect("an enterprise reads its own file")
        .into_inner();
    assert_eq!(file.enterprise.unwrap().uscc, own);
    assert_eq!(file.returns.len(), 1, "its own returns come with the file");

    let status = firm
        .get_enterprise_file(pb::GetEnterpriseFileRequest {
            uscc: other.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert!(status.message().contains(&other), "{}", status.message());

    let denied = [
        firm.list_enterprises(pb::ListEnterprisesRequest::default())
            .await
            .unwrap_err(),
        firm.get_statistics(pb::GetStatisticsRequest::default())
            .await
            .unwrap_err(),
        firm.submit_return(submission(&own, "2024", good_indicators()))
            .await
            .unwrap_err(),
        firm.register_enterprise(registration(&new_uscc()))
            .await
            .unwrap_err(),
        firm.import_returns(tokio_stream::iter(Vec::<pb::ImportReturnsRow>::new()))
            .await
            .unwrap_err(),
    ];
    for status in denied {
        assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    }

    // A development token whose USCC fails its check stands for no one.
    let mut broken = own.clone();
    broken.replace_range(17.., if own.ends_with('0') { "1" } else { "0" });
    let status = census
        .client(&format!("dev-enterprise-{broken}"))
        .get_enterprise_file(pb::GetEnterpriseFileRequest {
            uscc: broken,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    census.stop().await;
}

/// A configured `enterprise:<USCC>` entry of AUTH_TOKENS is the same principal.
#[tokio::test(flavor = "multi_thread")]
async fn a_configured_enterprise_token_reads_its_own_file_only() {
    let (own, other) = (new_uscc(), new_uscc());
    let tokens = format!(
        "commerce-token-1=department:commerce:census.read,census.write;firm-token-1=enterprise:{own}"
    );
    // Outside development mode, as a cluster runs (testkit asks for development mode).
    let census =
        crate::spawn_with(&[("AUTH_TOKENS", &tokens), ("AUTH_DEVELOPMENT", "false")]).await;
    let mut commerce = census.client("commerce-token-1");
    register(&mut commerce, &own).await;
    register(&mut commerce, &other).await;
    let mut firm = census.client("firm-token-1");
    firm.get_enterprise_file(pb::GetEnterpriseFileRequest {
        uscc: own.clone(),
        ..Default::default()
    })
    .await
    .expect("its own file");
    let status = firm
        .get_enterprise_file(pb::GetEnterpriseFileRequest {
            uscc: other,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    // Development enterprise tokens do not exist beside a configured table.
    let status = census
        .client(&platform::auth::TokenTable::development_enterprise_token(
            &own,
        ))
        .get_enterprise_file(pb::GetEnterpriseFileRequest {
            uscc: own,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    census.stop().await;
}
