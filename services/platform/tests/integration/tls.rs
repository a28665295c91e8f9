//! TLS on the gRPC server over a real socket: plaintext refused, mutual TLS refusing clients
//! without a certificate of the configured CA, client certificates as principals, and a
//! rotated certificate used without a restart.

use std::{fs, time::Duration};

use platform::{
    AccessPolicy, Rule, ServiceSpec,
    config::vars,
    tls::{ClientFiles, pki::Issued},
};
use testkit::{
    tls::{TestCa, connect},
    wait_until,
};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tonic::{Code, Status, transport::Channel};
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};
use tonic_reflection::pb::v1::{
    ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
    server_reflection_request::MessageRequest,
};

/// The method the tests call: `Check` needs the scope `health.check` here (`Watch` stays
/// public), so a call shows who the server took the caller for.
const CHECK: &str = "/grpc.health.v1.Health/Check";
const SCOPE: &str = "health.check";
const TOKENS: &str = "Pr0beT0kenKq2Wm7Hb1Nc5Vz8Lp0Rd6Gs3Jf9Ye4Ua2O=service:probe:health.check";

struct Running {
    address: std::net::SocketAddr,
    shutdown: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
}

impl Running {
    async fn stop(self) {
        self.shutdown.cancel();
        self.task.await.unwrap().unwrap();
    }
}

static SPEC: ServiceSpec = ServiceSpec {
    name: "tls-tests",
    grpc_services: &[],
    descriptor_set: haicheng_proto::FILE_DESCRIPTOR_SET,
    migrations: &crate::TEST_MIGRATIONS,
    consumes: &[],
    produces: &[],
    vars: &[],
};

/// Serves health on port 0 with the platform's variables `vars` (besides `AUTH_TOKENS`).
async fn start(vars: Vec<(&'static str, String)>) -> Running {
    let mut vars = vars;
    vars.push((vars::AUTH_TOKENS, TOKENS.into()));
    vars.push((vars::AUTH_DEVELOPMENT, "false".into()));
    let served = crate::served::serve(&SPEC, vars, |tokens| {
        AccessPolicy::new(tokens).allow(CHECK, Rule::Scope(SCOPE))
    })
    .await;
    Running {
        address: served.address,
        shutdown: served.shutdown,
        task: served.task,
    }
}

async fn check(channel: Channel, token: Option<&str>) -> Result<(), Status> {
    let request = testkit::with_optional_token(token, HealthCheckRequest::default());
    HealthClient::new(channel).check(request).await.map(|_| ())
}

/// A health check over a new TLS connection with `files`: the status, or the failure to
/// connect or call (a refused handshake shows as either, depending on the TLS version).
async fn check_over(
    address: std::net::SocketAddr,
    files: &ClientFiles,
    token: Option<&str>,
) -> Result<(), String> {
    let channel = connect(address, files)
        .await
        .map_err(|e| format!("{e:#}"))?;
    check(channel, token).await.map_err(|s| s.to_string())
}

fn mutual(ca: &TestCa, server: &Issued) -> Vec<(&'static str, String)> {
    ca.server_vars(server)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plaintext_client_is_refused_by_a_tls_server() {
    let ca = TestCa::new("tls-tests CA");
    let server = ca.service("census");
    let running = start(ca.server_vars(&server)[..2].to_vec()).await;

    let plaintext = async {
        let channel = Channel::from_shared(format!("http://{}", running.address))
            .unwrap()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(5))
            .connect()
            .await
            .map_err(|e| e.to_string())?;
        check(
            channel,
            Some("Pr0beT0kenKq2Wm7Hb1Nc5Vz8Lp0Rd6Gs3Jf9Ye4Ua2O"),
        )
        .await
        .map_err(|s| s.to_string())
    }
    .await;
    assert!(plaintext.is_err(), "a plaintext call was answered");

    // TLS without mutual authentication: a client with the CA alone is served, and the
    // refused plaintext connection did not stop the listener.
    check_over(
        running.address,
        &ca.client_files(None),
        Some("Pr0beT0kenKq2Wm7Hb1Nc5Vz8Lp0Rd6Gs3Jf9Ye4Ua2O"),
    )
    .await
    .unwrap();
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn under_mutual_tls_only_a_certificate_of_the_configured_ca_is_served() {
    let ca = TestCa::new("tls-tests CA");
    let other = TestCa::new("another CA");
    let server = ca.service("census");
    let running = start(mutual(&ca, &server)).await;

    let without = check_over(
        running.address,
        &ca.client_files(None),
        Some("Pr0beT0kenKq2Wm7Hb1Nc5Vz8Lp0Rd6Gs3Jf9Ye4Ua2O"),
    )
    .await;
    assert!(
        without.is_err(),
        "a client without a certificate was served"
    );

    // Trusting the right CA for the server, but presenting another CA's certificate.
    let foreign = other.client("probe");
    let mut files = ca.client_files(None);
    files.identity = Some((foreign.cert.clone(), foreign.key.clone()));
    let foreign = check_over(
        running.address,
        &files,
        Some("Pr0beT0kenKq2Wm7Hb1Nc5Vz8Lp0Rd6Gs3Jf9Ye4Ua2O"),
    )
    .await;
    assert!(foreign.is_err(), "a certificate of another CA was accepted");

    let own = ca.client("probe");
    check_over(
        running.address,
        &ca.client_files(Some(&own)),
        Some("Pr0beT0kenKq2Wm7Hb1Nc5Vz8Lp0Rd6Gs3Jf9Ye4Ua2O"),
    )
    .await
    .unwrap();
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mapped_client_certificate_is_the_caller_unless_a_token_is_sent() {
    let ca = TestCa::new("tls-tests CA");
    let server = ca.service("census");
    let mut vars = mutual(&ca, &server);
    vars.push((
        vars::AUTH_CERT_PRINCIPALS,
        format!(
            "{}=service:probe:{SCOPE}",
            platform::tls::spiffe_id("probe")
        ),
    ));
    let running = start(vars).await;
    let probe = ca.client_files(Some(&ca.client("probe")));
    let stranger = ca.client_files(Some(&ca.client("stranger")));

    // The probe's certificate carries the scope; no token needed.
    check_over(running.address, &probe, None).await.unwrap();
    // A token, when sent, decides: an unknown one is refused whatever the certificate.
    let refused = check_over(running.address, &probe, Some("not-a-known-token"))
        .await
        .unwrap_err();
    assert!(
        refused.contains("bearer token is not recognised"),
        "{refused}"
    );
    // A certificate the mapping does not name is no one.
    let channel = connect(running.address, &stranger).await.unwrap();
    let unmapped = check(channel.clone(), None).await.unwrap_err();
    assert_eq!(unmapped.code(), Code::Unauthenticated);
    assert!(
        unmapped
            .message()
            .contains("spiffe://haicheng.local/service/stranger"),
        "{}",
        unmapped.message()
    );
    // ... but may still call with a token of its own.
    check(
        channel,
        Some("Pr0beT0kenKq2Wm7Hb1Nc5Vz8Lp0Rd6Gs3Jf9Ye4Ua2O"),
    )
    .await
    .unwrap();
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rotated_certificate_is_used_without_a_restart() {
    let old_ca = TestCa::new("old CA");
    let new_ca = TestCa::new("new CA");
    let server = old_ca.service("census");
    let running = start(old_ca.server_vars(&server)[..2].to_vec()).await;
    let (trusts_old, trusts_new) = (old_ca.client_files(None), new_ca.client_files(None));
    check_over(
        running.address,
        &trusts_old,
        Some("Pr0beT0kenKq2Wm7Hb1Nc5Vz8Lp0Rd6Gs3Jf9Ye4Ua2O"),
    )
    .await
    .unwrap();
    assert!(
        check_over(
            running.address,
            &trusts_new,
            Some("Pr0beT0kenKq2Wm7Hb1Nc5Vz8Lp0Rd6Gs3Jf9Ye4Ua2O")
        )
        .await
        .is_err()
    );

    // Rotate: the new CA's certificate and key written over the files the server was
    // started with.
    let rotated = new_ca.service("census");
    fs::copy(&rotated.key, &server.key).unwrap();
    fs::copy(&rotated.cert, &server.cert).unwrap();

    let picked_up = wait_until(Duration::from_secs(20), || async {
        check_over(
            running.address,
            &trusts_new,
            Some("Pr0beT0kenKq2Wm7Hb1Nc5Vz8Lp0Rd6Gs3Jf9Ye4Ua2O"),
        )
        .await
        .is_ok()
    })
    .await;
    assert!(
        picked_up,
        "new connections never saw the rotated certificate"
    );
    assert!(
        check_over(
            running.address,
            &trusts_old,
            Some("Pr0beT0kenKq2Wm7Hb1Nc5Vz8Lp0Rd6Gs3Jf9Ye4Ua2O")
        )
        .await
        .is_err(),
        "the old certificate is still served"
    );
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn probes_get_health_alone_in_plaintext_on_the_health_address() {
    let ca = TestCa::new("tls-tests CA");
    let server = ca.service("census");
    let probe_port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let mut vars = mutual(&ca, &server);
    vars.push((vars::GRPC_HEALTH_ADDR, format!("127.0.0.1:{probe_port}")));
    let running = start(vars).await;

    // The server binds in its task: wait for the probe port to answer.
    let probe = Channel::from_shared(format!("http://127.0.0.1:{probe_port}")).unwrap();
    let serving = wait_until(Duration::from_secs(10), || async {
        let Ok(channel) = probe.connect().await else {
            return false;
        };
        let reply = HealthClient::new(channel)
            .check(HealthCheckRequest::default())
            .await;
        reply.map(|r| r.into_inner().status()).ok() == Some(ServingStatus::Serving)
    })
    .await;
    assert!(
        serving,
        "the probe port never answered SERVING in plaintext"
    );
    let probe = probe.connect().await.unwrap();
    // Nothing but health: reflection (served on the TLS port) is not there.
    let reflection = ServerReflectionClient::new(probe)
        .server_reflection_info(futures::stream::iter([ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        }]))
        .await
        .unwrap_err();
    assert_eq!(reflection.code(), Code::Unimplemented);
    running.stop().await;
}
