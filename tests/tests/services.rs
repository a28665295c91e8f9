//! Every service, as a real process: it starts, migrates, serves health and reflection,
//! refuses a bad configuration by name, and stops cleanly on SIGTERM.

use std::time::Duration;

use haicheng_proto::{
    census::v1::{ListEnterprisesRequest, census_service_client::CensusServiceClient},
    classification::v1::{
        GetDistributionRequest, classification_service_client::ClassificationServiceClient,
    },
    fair::v1::{ListFairsRequest, fair_service_client::FairServiceClient},
    land::v1::{ListParcelsRequest, land_service_client::LandServiceClient},
    policy::v1::{ListNoticesRequest, notice_service_client::NoticeServiceClient},
};
use system_tests::{SERVICES, binary};
use tonic::Code;
use tonic_reflection::pb::v1::{
    ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
    server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
};

#[tokio::test(flavor = "multi_thread")]
async fn every_service_serves_health_and_reflection_and_stops_on_sigterm() {
    let mut running = Vec::new();
    for name in SERVICES {
        running.push(system_tests::start(name, &[]).await);
    }
    for service in &mut running {
        service.wait_serving(Duration::from_secs(60)).await.unwrap();

        let request = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        };
        let mut replies = ServerReflectionClient::new(service.channel().await)
            .server_reflection_info(tokio_stream::iter([request]))
            .await
            .unwrap()
            .into_inner();
        let reply = replies
            .message()
            .await
            .unwrap()
            .expect("a reflection reply");
        let Some(MessageResponse::ListServicesResponse(list)) = reply.message_response else {
            panic!("{}: unexpected reflection reply {reply:?}", service.name);
        };
        let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
        assert!(
            names.contains(&"grpc.health.v1.Health".to_string()),
            "{}: {names:?}",
            service.name
        );
    }
    // A call without a token is refused by each, before any handler runs.
    let refused = [
        CensusServiceClient::new(running[0].channel().await)
            .list_enterprises(ListEnterprisesRequest::default())
            .await
            .map(|_| ()),
        ClassificationServiceClient::new(running[1].channel().await)
            .get_distribution(GetDistributionRequest::default())
            .await
            .map(|_| ()),
        NoticeServiceClient::new(running[1].channel().await)
            .list_notices(ListNoticesRequest::default())
            .await
            .map(|_| ()),
        LandServiceClient::new(running[2].channel().await)
            .list_parcels(ListParcelsRequest::default())
            .await
            .map(|_| ()),
        FairServiceClient::new(running[3].channel().await)
            .list_fairs(ListFairsRequest::default())
            .await
            .map(|_| ()),
    ];
    for (index, result) in refused.into_iter().enumerate() {
        assert_eq!(
            result.unwrap_err().code(),
            Code::Unauthenticated,
            "call {index} without a token"
        );
    }

    for service in &mut running {
        let status = service.terminate().await;
        assert!(
            status.success(),
            "{} exited with {status} after SIGTERM",
            service.name
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_malformed_variable_stops_start_up_with_its_name() {
    let mut service = system_tests::start("census", &[("REQUEST_TIMEOUT_MS", "soon")]).await;
    let status = tokio::time::timeout(Duration::from_secs(30), service.child.wait())
        .await
        .unwrap()
        .unwrap();
    let stderr = service.log_text();
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("REQUEST_TIMEOUT_MS"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_argument_is_refused() {
    let output = tokio::process::Command::new(binary("census"))
        .arg("serve-please")
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("unknown argument"));
}
