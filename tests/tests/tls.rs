//! The services as they run everywhere: mutual TLS on gRPC. A plaintext client, a client
//! without a certificate and one with another CA's certificate are refused; the CLI connects
//! with `HAICHENG_CA`, `HAICHENG_CERT` and `HAICHENG_KEY`; a client certificate mapped in
//! `AUTH_CERT_PRINCIPALS` is a caller without a token.

use std::{process::Command, time::Duration};

use haicheng_proto::census::v1::{
    ListEnterprisesRequest, census_service_client::CensusServiceClient,
};
use system_tests::{CLIENT_ACCOUNT, binary, cli_env, pki};
use testkit::{
    tls::{TestCa, endpoint},
    with_token,
};
use tonic::{Code, transport::Channel};
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

/// A health check over `channel`, or the failure to connect or call.
async fn health(channel: Result<Channel, String>) -> Result<(), String> {
    HealthClient::new(channel?)
        .check(HealthCheckRequest::default())
        .await
        .map(|_| ())
        .map_err(|status| status.to_string())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_service_serves_only_clients_with_a_certificate_of_its_ca() {
    let mapping = format!(
        "{}=department:commerce:census.read",
        platform::tls::spiffe_id(CLIENT_ACCOUNT)
    );
    let mut census =
        system_tests::start("census", &[("AUTH_CERT_PRINCIPALS", mapping.as_str())]).await;
    census.wait_serving(Duration::from_secs(60)).await.unwrap();

    let plaintext = async {
        Channel::from_shared(format!("http://{}", census.address))
            .unwrap()
            .timeout(Duration::from_secs(5))
            .connect()
            .await
            .map_err(|e| e.to_string())
    };
    assert!(health(plaintext.await).await.is_err(), "plaintext served");

    let no_certificate = pki().ca.client_files(None);
    let address = census.address.clone();
    let connect = |files| {
        let address = address.clone();
        async move {
            endpoint(&address, &files)
                .unwrap()
                .connect()
                .await
                .map_err(|e| e.to_string())
        }
    };
    assert!(
        health(connect(no_certificate).await).await.is_err(),
        "a client without a certificate was served"
    );
    let other = TestCa::new("another CA");
    let mut foreign = pki().ca.client_files(None);
    let issued = other.client(CLIENT_ACCOUNT);
    foreign.identity = Some((issued.cert, issued.key));
    assert!(
        health(connect(foreign).await).await.is_err(),
        "a certificate of another CA was accepted"
    );

    // The tests' certificate stands for commerce (census.read) here: no token needed.
    let mut client = CensusServiceClient::new(census.channel().await);
    client
        .list_enterprises(ListEnterprisesRequest::default())
        .await
        .expect("the mapped certificate is the caller");
    // A token still decides when sent.
    let refused = client
        .list_enterprises(with_token("not-a-token", ListEnterprisesRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);

    // The CLI: with the CA and the client certificate it connects; without them it cannot.
    let cli = |with_tls: bool| {
        let mut command = Command::new(binary("haicheng"));
        command
            .args(["enterprise", "list", "--token", "dev-commerce", "--census"])
            .arg(&census.address)
            .env_remove("HAICHENG_CA")
            .env_remove("HAICHENG_CERT")
            .env_remove("HAICHENG_KEY");
        if with_tls {
            command.envs(cli_env());
        }
        command.output().expect("running haicheng")
    };
    let served = cli(true);
    assert!(
        served.status.success(),
        "{}",
        String::from_utf8_lossy(&served.stderr)
    );
    let plaintext = cli(false);
    assert!(
        !plaintext.status.success(),
        "the CLI was served in plaintext"
    );

    let status = census.terminate().await;
    assert!(status.success(), "census exited with {status}");
}
