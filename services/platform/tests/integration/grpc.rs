//! The gRPC server: access rules (no token, bad token, wrong scope) and health through a
//! graceful shutdown, over a real socket.

use std::time::Duration;

use haicheng_proto::census::v1::census_service_server::SERVICE_NAME as CENSUS;
use platform::{AccessPolicy, Rule, auth::TokenTable};
use serde_json::json;
use testkit::{
    jwt::{TestIssuer, now_plus},
    wait_until,
};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tonic::{Code, Request, transport::Channel};

use crate::served::CENSUS_CONTRACT;
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

/// Two machine accounts' tokens (32 random bytes each, base64url); the probe's is
/// configured by its digest, as a deployment does.
const PROBE_TOKEN: &str = "Zq8Rk2Lw5Nx1Tb7Pv4Hc9Jm3Dg6Fs0Ya2Ue8Oi5Kt1Wr";
const OTHER_TOKEN: &str = "Mc4Vh7Xn1Qp9Bz3Ls6Kd0Tf8Gw2Jy5Ra7Ee1Ou4Ii9Nm";

fn tokens() -> String {
    format!(
        "{}=service:probe:health.check;{OTHER_TOKEN}=service:other:census.read",
        platform::auth::digest_key(PROBE_TOKEN)
    )
}

struct Running {
    channel: Channel,
    shutdown: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
}

/// Starts the platform on port 0 with `policy` and the given shutdown grace.
async fn start(policy: impl FnOnce(TokenTable) -> AccessPolicy, grace_ms: u64) -> Running {
    start_with(policy, grace_ms, Vec::new()).await
}

/// [`start`], with more variables (e.g. a JWT issuer's).
async fn start_with(
    policy: impl FnOnce(TokenTable) -> AccessPolicy,
    grace_ms: u64,
    more: Vec<(&'static str, String)>,
) -> Running {
    let mut vars = vec![
        ("AUTH_TOKENS", tokens()),
        ("SHUTDOWN_GRACE_MS", grace_ms.to_string()),
    ];
    vars.extend(more);
    let served = crate::served::serve(&CENSUS_CONTRACT, vars, |tokens| {
        policy(tokens).allow(&format!("/{CENSUS}/"), Rule::Scope("census.read"))
    })
    .await;
    Running {
        channel: served.channel().await,
        shutdown: served.shutdown,
        task: served.task,
    }
}

fn check(token: Option<&str>, service: &str) -> Request<HealthCheckRequest> {
    testkit::with_optional_token(
        token,
        HealthCheckRequest {
            service: service.into(),
        },
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn calls_without_a_valid_token_or_scope_are_refused() {
    // Health is public in production; here its Check method demands a scope, to exercise the rules.
    let running = start(
        |tokens| {
            AccessPolicy::new(tokens)
                .allow("/grpc.health.v1.Health/Check", Rule::Scope("health.check"))
        },
        0,
    )
    .await;
    let mut client = HealthClient::new(running.channel.clone());

    let no_token = client.check(check(None, "")).await.unwrap_err();
    assert_eq!(no_token.code(), Code::Unauthenticated);
    let bad_token = client
        .check(check(Some("not-a-known-token"), ""))
        .await
        .unwrap_err();
    assert_eq!(bad_token.code(), Code::Unauthenticated);
    let wrong_scope = client
        .check(check(Some(OTHER_TOKEN), ""))
        .await
        .unwrap_err();
    assert_eq!(wrong_scope.code(), Code::PermissionDenied);
    let allowed = client.check(check(Some(PROBE_TOKEN), "")).await.unwrap();
    assert_eq!(allowed.into_inner().status(), ServingStatus::Serving);

    running.shutdown.cancel();
    running.task.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn jwts_that_fail_a_check_are_unauthenticated() {
    let issuer = TestIssuer::new();
    let running = start_with(
        |tokens| {
            AccessPolicy::new(tokens)
                .allow("/grpc.health.v1.Health/Check", Rule::Scope("health.check"))
        },
        0,
        issuer.vars(),
    )
    .await;
    let mut client = HealthClient::new(running.channel.clone());
    // The audience is the service's name, by default.
    let mut valid = issuer.claims("platform-tests");
    valid["sub"] = json!("probe");
    valid["scope"] = json!("health.check");
    let with = |key: &str, value: serde_json::Value| {
        let mut claims = valid.clone();
        claims[key] = value;
        claims
    };
    let refused = [
        ("wrong audience", issuer.sign(&with("aud", json!("census")))),
        ("expired", issuer.sign(&with("exp", json!(now_plus(-3600))))),
        (
            "not yet valid",
            issuer.sign(&with("nbf", json!(now_plus(3600)))),
        ),
        ("alg none", issuer.unsigned(&valid)),
        ("wrong key", issuer.sign_with_other_key(&valid)),
        (
            "wrong issuer",
            issuer.sign(&with("iss", json!("https://elsewhere"))),
        ),
    ];
    for (case, token) in refused {
        let status = client.check(check(Some(&token), "")).await.expect_err(case);
        assert_eq!(status.code(), Code::Unauthenticated, "{case}: {status:?}");
        assert!(
            !status.message().contains(&token[..20]),
            "{case}: the refusal echoes the token"
        );
    }
    let allowed = client
        .check(check(Some(&issuer.sign(&valid)), ""))
        .await
        .unwrap();
    assert_eq!(allowed.into_inner().status(), ServingStatus::Serving);
    let no_scope = client
        .check(check(
            Some(&issuer.sign(&with("scope", json!("census.read")))),
            "",
        ))
        .await
        .unwrap_err();
    assert_eq!(no_scope.code(), Code::PermissionDenied);
    // The static tokens still work beside the JWTs.
    assert!(client.check(check(Some(PROBE_TOKEN), "")).await.is_ok());

    running.shutdown.cancel();
    running.task.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn health_reports_not_serving_as_soon_as_shutdown_begins() {
    let running = start(AccessPolicy::new, 3_000).await;
    let mut client = HealthClient::new(running.channel.clone());
    for service in ["", CENSUS] {
        let status = client
            .check(check(None, service))
            .await
            .unwrap()
            .into_inner()
            .status();
        assert_eq!(
            status,
            ServingStatus::Serving,
            "{service:?} serving after start"
        );
    }

    running.shutdown.cancel();
    // During the grace period the server still answers, and says it is going away.
    let not_serving = wait_until(Duration::from_secs(2), || {
        let mut client = client.clone();
        async move {
            client
                .check(check(None, CENSUS))
                .await
                .ok()
                .map(|r| r.into_inner().status())
                == Some(ServingStatus::NotServing)
        }
    })
    .await;
    assert!(not_serving);
    running.task.await.unwrap().unwrap();
}
