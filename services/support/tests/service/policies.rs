//! Policies: versions, who may write them, and the fields a bad spec is refused on.

use tonic::Code;

use super::*;

#[tokio::test]
async fn a_change_makes_a_new_version_and_a_stale_one_is_aborted() {
    let app = spawn_app().await;
    let id = policy_id("versions");
    let v1 = app
        .put("commerce", spec(&id, fixed(100), 1_000), 0)
        .await
        .unwrap();
    assert_eq!(v1.version, 1);
    let mut changed = spec(&id, fixed(200), 1_000);
    changed.title = "Changed".into();
    let v2 = app.put("commerce", changed.clone(), 1).await.unwrap();
    assert_eq!(v2.version, 2);
    let stale = app.put("commerce", changed.clone(), 1).await.unwrap_err();
    assert_eq!(stale.code(), Code::Aborted, "{stale:?}");
    let again = app
        .put("commerce", spec(&id, fixed(1), 1), 0)
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::AlreadyExists);
    let first = app
        .client
        .clone()
        .get_policy(as_dev(
            "tax",
            pb::GetPolicyRequest {
                id: id.clone(),
                version: 1,
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .policy
        .unwrap();
    assert_eq!(
        first.spec.unwrap().title,
        format!("Policy {id}"),
        "version 1 is kept as it was"
    );
    app.stop().await;
}

#[tokio::test]
async fn only_the_issuer_writes_a_policy() {
    let app = spawn_app().await;
    let id = policy_id("issuer");
    let by_finance = app
        .put("finance", spec(&id, fixed(100), 1_000), 0)
        .await
        .unwrap_err();
    assert_eq!(by_finance.code(), Code::PermissionDenied, "{by_finance:?}");
    let uscc = app.uscc(1);
    let by_firm = app
        .put(
            &format!("enterprise-{uscc}"),
            spec(&id, fixed(100), 1_000),
            0,
        )
        .await
        .unwrap_err();
    assert_eq!(by_firm.code(), Code::PermissionDenied);
    let by_tax = app
        .put("tax", spec(&id, fixed(100), 1_000), 0)
        .await
        .unwrap_err();
    assert_eq!(by_tax.code(), Code::PermissionDenied);
    app.stop().await;
}

#[tokio::test]
async fn a_bad_spec_is_refused_naming_every_bad_field() {
    let app = spawn_app().await;
    let mut bad = spec("Bad Id!", fixed(0), 0);
    bad.valid_until = "2019-01-01".into();
    bad.period = Some(common::Period {
        code: "2025Q9".into(),
    });
    bad.remainder = 0;
    let status = app.put("commerce", bad, 0).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let mut got = fields(&status);
    got.sort();
    assert_eq!(
        got,
        [
            "spec.benefit.fixed_fen",
            "spec.budget_fen",
            "spec.id",
            "spec.period",
            "spec.remainder",
            "spec.valid_until",
        ]
    );
    app.stop().await;
}
