//! Per-caller limits and reflection over a real socket, through the platform as a service
//! runs it (census's contract, no census routes): reflection is off, public or for a scope; one principal over
//! its rate or its stream cap gets RESOURCE_EXHAUSTED with a RetryInfo while another is
//! served; an open stream holds its admission permit until it ends.
//!
//! Reflection's `ServerReflectionInfo` is the stream here: a bidirectional stream the
//! platform serves itself, open for as long as the client keeps its request stream open.

use std::time::Duration;

use haicheng_proto::census::v1::census_service_server::SERVICE_NAME as CENSUS;
use platform::{
    AccessPolicy, Rule,
    auth::{TokenTable, scopes},
};
use testkit::{assert_exhausted_with_retry, wait_until};
use tokio::{sync::mpsc, task::JoinHandle};
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::{Code, Status, Streaming, transport::Channel};

use crate::served::CENSUS_CONTRACT;
use tonic_reflection::pb::v1::{
    ServerReflectionRequest, ServerReflectionResponse,
    server_reflection_client::ServerReflectionClient, server_reflection_request::MessageRequest,
    server_reflection_response::MessageResponse,
};

/// An enterprise's development token: an authenticated caller without scopes.
fn enterprise_token() -> String {
    let uscc = platform::uscc::Uscc::complete("91210381MA0Q1234").unwrap();
    TokenTable::development_enterprise_token(uscc.as_str())
}

struct Running {
    channel: Channel,
    shutdown: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
}

impl Running {
    async fn stop(self) {
        self.shutdown.cancel();
        self.task.await.unwrap().unwrap();
    }
}

/// The platform on port 0 (development mode) with `vars`, serving the census contract's
/// rules but no census routes.
async fn serve(vars: &'static [(&'static str, &'static str)]) -> Running {
    let mut all: Vec<(&str, String)> = vec![("AUTH_DEVELOPMENT", "true".into())];
    all.extend(vars.iter().map(|(k, v)| (*k, v.to_string())));
    let served = crate::served::serve(&CENSUS_CONTRACT, all, |tokens| {
        AccessPolicy::new(tokens).allow(&format!("/{CENSUS}/"), Rule::Scope(scopes::CENSUS_READ))
    })
    .await;
    Running {
        channel: served.channel().await,
        shutdown: served.shutdown,
        task: served.task,
    }
}

/// An open reflection stream: it stays open while `requests` lives.
struct Open {
    requests: mpsc::Sender<ServerReflectionRequest>,
    responses: Streaming<ServerReflectionResponse>,
    /// The services the first answer listed.
    services: Vec<String>,
}

impl Open {
    /// Ends the stream from the client's side and reads it to its end.
    async fn close(mut self) {
        drop(self.requests);
        while self.responses.message().await.unwrap().is_some() {}
    }
}

/// Opens a reflection stream as `token` (anonymous if `None`) and reads its first answer,
/// which proves it was admitted.
async fn open(channel: &Channel, token: Option<&str>) -> Result<Open, Status> {
    let (requests, receiver) = mpsc::channel(4);
    requests
        .send(ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        })
        .await
        .unwrap();
    let request = testkit::with_optional_token(token, ReceiverStream::new(receiver));
    let mut client = ServerReflectionClient::new(channel.clone());
    let mut responses = client.server_reflection_info(request).await?.into_inner();
    let first = responses.message().await?.expect("an answer");
    let services = match first.message_response {
        Some(MessageResponse::ListServicesResponse(list)) => {
            list.service.into_iter().map(|s| s.name).collect()
        }
        other => panic!("not a list of services: {other:?}"),
    };
    Ok(Open {
        requests,
        responses,
        services,
    })
}

/// The code of a refused open.
fn refused(result: Result<Open, Status>) -> Status {
    match result {
        Ok(_) => panic!("the stream was admitted"),
        Err(status) => status,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn reflection_is_off_public_or_for_the_holders_of_a_scope() {
    let off = serve(&[("GRPC_REFLECTION", "off")]).await;
    let status = refused(open(&off.channel, None).await);
    assert_eq!(status.code(), Code::Unimplemented, "{status:?}");
    let status = refused(open(&off.channel, Some("dev-commerce")).await);
    assert_eq!(status.code(), Code::Unimplemented, "{status:?}");
    off.stop().await;

    let public = serve(&[("GRPC_REFLECTION", "public")]).await;
    let anonymous = open(&public.channel, None).await.unwrap();
    assert!(
        anonymous.services.iter().any(|s| s == CENSUS),
        "{:?}",
        anonymous.services
    );
    anonymous.close().await;
    public.stop().await;

    let scoped = serve(&[("GRPC_REFLECTION", "scope:notices.read")]).await;
    let status = refused(open(&scoped.channel, None).await);
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    let status = refused(open(&scoped.channel, Some(&enterprise_token())).await);
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    let finance = open(&scoped.channel, Some("dev-finance")).await.unwrap();
    assert!(finance.services.iter().any(|s| s == CENSUS));
    finance.close().await;
    scoped.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn one_principal_over_its_rate_gets_retry_info_while_another_is_served() {
    // Two calls an hour: the third within the test is certainly over the limit.
    let running = serve(&[
        ("GRPC_REFLECTION", "scope:notices.read"),
        ("RATE_LIMIT_READS", "2/h,2"),
    ])
    .await;
    for _ in 0..2 {
        open(&running.channel, Some("dev-finance"))
            .await
            .unwrap()
            .close()
            .await;
    }
    let status = refused(open(&running.channel, Some("dev-finance")).await);
    assert_exhausted_with_retry(&status);
    assert!(
        status.message().contains("department:finance"),
        "{status:?}"
    );

    let tax = open(&running.channel, Some("dev-tax")).await;
    assert!(tax.is_ok(), "another principal is served: {:?}", tax.err());
    tax.unwrap().close().await;
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn open_streams_are_capped_per_principal_and_per_process() {
    let running = serve(&[
        ("GRPC_REFLECTION", "scope:notices.read"),
        ("WATCH_STREAMS_PER_PRINCIPAL", "2"),
        ("WATCH_STREAMS_MAX", "3"),
    ])
    .await;
    let channel = &running.channel;
    let first = open(channel, Some("dev-finance")).await.unwrap();
    let second = open(channel, Some("dev-finance")).await.unwrap();
    let status = refused(open(channel, Some("dev-finance")).await);
    assert_exhausted_with_retry(&status);

    let tax = open(channel, Some("dev-tax"))
        .await
        .expect("another principal is served");
    let status = refused(open(channel, Some("dev-commerce")).await);
    assert_exhausted_with_retry(&status);
    assert!(status.message().contains("this server"), "{status:?}");

    // A stream that ends gives its slot back.
    first.close().await;
    let commerce_served = wait_until(Duration::from_secs(10), || async {
        match open(channel, Some("dev-commerce")).await {
            Ok(open) => {
                open.close().await;
                true
            }
            Err(_) => false,
        }
    })
    .await;
    assert!(commerce_served);
    second.close().await;
    tax.close().await;
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_open_stream_holds_its_admission_permit_until_it_ends() {
    // Anonymous public streams are not capped per principal: only the global cap holds them.
    let running = serve(&[
        ("GRPC_REFLECTION", "public"),
        ("MAX_CONCURRENT_REQUESTS", "3"),
    ])
    .await;
    let channel = &running.channel;
    let mut streams = Vec::new();
    for _ in 0..3 {
        streams.push(open(channel, None).await.unwrap());
    }
    let status = refused(open(channel, None).await);
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");

    streams.pop().unwrap().close().await;
    let admitted = wait_until(Duration::from_secs(10), || async {
        match open(channel, None).await {
            Ok(open) => {
                open.close().await;
                true
            }
            Err(_) => false,
        }
    })
    .await;
    assert!(admitted, "the ended stream gave its permit back");

    // A body dropped before its end (the client gone) releases its permit too: see the
    // admission and held-body unit tests, which can drop a body midway.
    for open in streams {
        open.close().await;
    }
    running.stop().await;
}
