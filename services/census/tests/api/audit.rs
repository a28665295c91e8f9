//! The audit log: a refused call, a list and a file read each leave a row (method,
//! principal, peer, code, the USCC read; never the token), the service's own role can
//! neither change nor delete them, and commerce reads them back through the AuditService.

use std::time::Duration;

use haicheng_proto::{
    audit::v1::{ListAuditRecordsRequest, audit_service_client::AuditServiceClient},
    census::v1 as pb,
    common::v1 as common,
};
use sqlx::{Connection, PgConnection};
use testkit::{wait_until, with_token};
use tonic::Code;

use crate::{COMMERCE, FINANCE, new_uscc, register, registration, spawn};

const SERVICE: &str = "/haicheng.census.v1.CensusService";

#[tokio::test(flavor = "multi_thread")]
async fn a_refusal_a_list_and_a_file_read_each_leave_a_row_the_service_cannot_change() {
    let census = spawn().await;
    let uscc = new_uscc();
    register(&mut census.client(COMMERCE), &uscc).await;

    let mut finance = census.client(FINANCE);
    let refused = finance
        .register_enterprise(registration(&new_uscc()))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    let secret = "not-a-token-3f9a";
    let anonymous = census
        .client(secret)
        .list_enterprises(pb::ListEnterprisesRequest::default())
        .await
        .unwrap_err();
    assert_eq!(anonymous.code(), Code::Unauthenticated);
    finance
        .list_enterprises(pb::ListEnterprisesRequest {
            park: common::Park::Nantai as i32,
            ..Default::default()
        })
        .await
        .unwrap();
    finance
        .get_enterprise_file(pb::GetEnterpriseFileRequest {
            uscc: uscc.clone(),
            ..Default::default()
        })
        .await
        .unwrap();

    let pool = census.pool();
    type Row = (
        String,
        String,
        String,
        Option<String>,
        String,
        serde_json::Value,
    );
    let rows = || async {
        sqlx::query_as::<_, Row>(
            "SELECT method, principal, code, uscc, coalesce(peer, ''), detail
             FROM audit_log ORDER BY id",
        )
        .fetch_all(&pool)
        .await
        .unwrap()
    };
    assert!(
        wait_until(Duration::from_secs(10), || async {
            rows().await.len() >= 4
        })
        .await,
        "four audit rows: {:?}",
        rows().await
    );
    let rows = rows().await;
    let summary: Vec<(&str, &str, &str, Option<&str>)> = rows
        .iter()
        .map(|(method, principal, code, uscc, _, _)| {
            (
                method.strip_prefix(SERVICE).unwrap_or(method),
                principal.as_str(),
                code.as_str(),
                uscc.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                "/RegisterEnterprise",
                "department:finance",
                "PERMISSION_DENIED",
                None
            ),
            ("/ListEnterprises", "anonymous", "UNAUTHENTICATED", None),
            ("/ListEnterprises", "department:finance", "OK", None),
            (
                "/GetEnterpriseFile",
                "department:finance",
                "OK",
                Some(uscc.as_str())
            ),
        ]
    );
    for (_, _, _, _, peer, _) in &rows {
        assert!(peer.starts_with("127.0.0.1:"), "peer {peer:?}");
    }
    assert_eq!(rows[2].5["park"], common::Park::Nantai as i32);
    // A refusal keeps what the caller was told.
    let told = rows[0].5["message"].as_str().unwrap_or_default();
    assert!(told.contains("lacks the scope census.write"), "{told}");
    let everything: String = sqlx::query_scalar("SELECT string_agg(t::text, ' ') FROM audit_log t")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(!everything.contains(secret), "the token was recorded");

    // The service's runtime role cannot erase or rewrite them (nor the file-read audit).
    let mut runtime = PgConnection::connect(&census.service.db.runtime_url)
        .await
        .unwrap();
    for statement in [
        "DELETE FROM audit_log",
        "UPDATE audit_log SET principal = 'anonymous'",
        "DELETE FROM file_reads",
        "UPDATE file_reads SET reader = 'anonymous'",
    ] {
        let err = sqlx::query(statement)
            .execute(&mut runtime)
            .await
            .expect_err(statement);
        let code = err.as_database_error().and_then(|e| e.code());
        assert_eq!(code.as_deref(), Some("42501"), "{statement}: {err}");
    }
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_log")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(count >= 4);

    // Commerce lists them by USCC; finance may not.
    let mut audit = AuditServiceClient::new(census.service.channel.clone());
    let by_uscc = audit
        .list_audit_records(with_token(
            COMMERCE,
            ListAuditRecordsRequest {
                uscc: uscc.clone(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(by_uscc.records.len(), 1);
    assert_eq!(
        by_uscc.records[0].method,
        format!("{SERVICE}/GetEnterpriseFile")
    );
    assert_eq!(by_uscc.records[0].service, "census");
    let denied = audit
        .list_audit_records(with_token(FINANCE, ListAuditRecordsRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    let bad = audit
        .list_audit_records(with_token(
            COMMERCE,
            ListAuditRecordsRequest {
                uscc: "not-a-uscc".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    census.stop().await;
}
