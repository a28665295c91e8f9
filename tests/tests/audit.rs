//! The audit log end to end: census and land-parcel as real processes (migrated by their
//! `migrate` command as the owner, serving as the runtime role), a refused call and an
//! enterprise read, then `haicheng audit` listing both services' records merged, as JSON.

use std::time::Duration;

use haicheng_proto::{
    census::v1::{
        GetEnterpriseFileRequest, RegisterEnterpriseRequest,
        census_service_client::CensusServiceClient,
    },
    common::v1::Park,
    land::v1::{ListParcelsRequest, land_service_client::LandServiceClient},
};
use system_tests::binary;
use testkit::with_token;
use tokio::process::Command;
use tonic::Code;

#[tokio::test(flavor = "multi_thread")]
async fn haicheng_audit_lists_the_refusals_and_reads_of_every_service_it_is_asked_about() {
    let mut census = system_tests::start("census", &[]).await;
    let mut land = system_tests::start("land-parcel", &[]).await;
    census.wait_serving(Duration::from_secs(60)).await.unwrap();
    land.wait_serving(Duration::from_secs(60)).await.unwrap();

    let uscc = testkit::new_uscc();
    let mut client = CensusServiceClient::new(census.channel().await);
    let registration = RegisterEnterpriseRequest {
        uscc: uscc.clone(),
        name: "海城审计测试纺织有限公司".into(),
        legal_representative: "王伟".into(),
        park: Park::Ganwang as i32,
        industry_class: "1711".into(),
        size: 3,
        registration_date: "2010-05-01".into(),
        ..Default::default()
    };
    client
        .register_enterprise(with_token("dev-commerce", registration))
        .await
        .expect("registering a firm");
    client
        .get_enterprise_file(with_token(
            "dev-finance",
            GetEnterpriseFileRequest {
                uscc: uscc.clone(),
                ..Default::default()
            },
        ))
        .await
        .expect("finance reads the file");
    let refused = LandServiceClient::new(land.channel().await)
        .list_parcels(with_token(
            "dev-enterprise-nobody",
            ListParcelsRequest::default(),
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);

    let run = |args: Vec<String>| async move {
        Command::new(binary("haicheng"))
            .args(&args)
            // The services serve mutual TLS: the tests' client certificate.
            .envs(system_tests::cli_env())
            .output()
            .await
            .expect("running haicheng audit")
    };
    let args = |token: &str| -> Vec<String> {
        [
            "audit",
            "--service",
            "census",
            "--service",
            "land-parcel",
            "--census",
            &census.address,
            "--land",
            &land.address,
            "--token",
            token,
            "-o",
            "json",
        ]
        .map(str::to_string)
        .to_vec()
    };
    // The writer inserts in the background: poll until both records are there.
    let records = std::sync::Mutex::new(Vec::new());
    let found = testkit::wait_until(Duration::from_secs(20), || async {
        let output = run(args("dev-commerce")).await;
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let listed: Vec<serde_json::Value> =
            serde_json::from_slice(&output.stdout).expect("a JSON array");
        let enough = listed.len() >= 2;
        *records.lock().unwrap() = listed;
        enough
    })
    .await;
    let records = records.into_inner().unwrap();
    assert!(found, "{records:?}");
    let read = records
        .iter()
        .find(|r| r["service"] == "census")
        .expect("census's record");
    assert_eq!(
        read["method"],
        "/haicheng.census.v1.CensusService/GetEnterpriseFile"
    );
    assert_eq!(read["principal"], "department:finance");
    assert_eq!(read["code"], "OK");
    assert_eq!(read["uscc"], uscc.as_str());
    let refusal = records
        .iter()
        .find(|r| r["service"] == "land-parcel")
        .expect("land-parcel's record");
    assert_eq!(refusal["principal"], "anonymous");
    assert_eq!(refusal["code"], "UNAUTHENTICATED");

    // Finance may not read the audit log.
    let output = run(args("dev-finance")).await;
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("audit.read"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    census.terminate().await;
    land.terminate().await;
}
