//! Land across real processes: a census return of a grant holder that falls short of its
//! commitments reaches natural resources' watch stream as one notice, in the call's trace; an
//! idle parcel reaches its fee order and, two years on (the pass run as of that day), a
//! take-back whose event support reads (its shortfall of the grant is no longer current).

use std::time::Duration;

use haicheng_proto::{
    census::v1::SubmitReturnRequest,
    common::v1::Department,
    land::v1::{self as pb, land_service_client::LandServiceClient},
    policy::v1::{SupportPolicyNotice, WatchNoticesRequest},
};
use system_tests::{
    cluster::{Cluster, indicators, usccs},
    fixtures::{grant_request, register_parcel, wait_for_grant},
    otlp::SpanCollector,
};
use testkit::with_token;
use tokio_stream::StreamExt;
use tonic::transport::Channel;

/// Land notices on a department's watch stream until it has been quiet for `quiet`.
async fn land_notices(
    cluster: &Cluster,
    token: &str,
    quiet: Duration,
    at_least: usize,
) -> Vec<SupportPolicyNotice> {
    let request = with_token(
        token,
        WatchNoticesRequest {
            cursor: String::new(),
        },
    );
    let mut stream = cluster
        .notices()
        .await
        .watch_notices(request)
        .await
        .expect("watching")
        .into_inner();
    let mut found = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let wait = if found.len() >= at_least {
            quiet
        } else {
            deadline - tokio::time::Instant::now()
        };
        match tokio::time::timeout(wait, stream.next()).await {
            Ok(Some(item)) => {
                let notice = item.expect("a watch item").notice.expect("a notice");
                if notice.source == "land-parcel" {
                    found.push(notice);
                }
            }
            Ok(None) | Err(_) => return found,
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_short_return_of_a_grant_holder_reaches_natural_resources_once_in_the_same_trace() {
    let collector = SpanCollector::start().await;
    let otlp = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint.as_str()),
        ("RUST_LOG", "info"),
    ];
    let cluster = Cluster::start(&otlp).await;
    let mut land = system_tests::start(
        "land-parcel",
        &[
            ("KAFKA_TOPIC_PREFIX", cluster.prefix.as_str()),
            ("OUTBOX_POLL_MS", "100"),
            ("SHUTDOWN_GRACE_MS", "0"),
            otlp[0],
            otlp[1],
        ],
    )
    .await;
    land.wait_serving(Duration::from_secs(60))
        .await
        .expect("land-parcel serves");
    let client: LandServiceClient<Channel> = LandServiceClient::new(land.channel().await);

    let firm = usccs(1);
    cluster.register(&firm).await;
    let parcel = register_parcel(&client, format!("SYS-{}", &firm[0][10..16])).await;
    // The grant succeeds once land-parcel has the firm from the census events.
    wait_for_grant(&client, grant_request(&parcel, &firm[0])).await;

    let trace_id = "5cf92f3577b34da6a3ce929d0e0e4737";
    let mut request = with_token(
        "dev-commerce",
        SubmitReturnRequest {
            client_request_id: "land-traced".into(),
            uscc: firm[0].clone(),
            period: testkit::period("2025"),
            indicators: Some(indicators(2_000)),
            sources: None,
        },
    );
    request.metadata_mut().insert(
        "traceparent",
        format!("00-{trace_id}-00f067aa0ba902b7-01")
            .parse()
            .unwrap(),
    );
    cluster
        .census()
        .await
        .submit_return(request)
        .await
        .expect("the traced return");

    let notices = land_notices(&cluster, "dev-natural-resources", Duration::from_secs(4), 1).await;
    assert_eq!(
        notices.len(),
        1,
        "one land notice for natural resources: {notices:?}"
    );
    let notice = &notices[0];
    assert_eq!(notice.department(), Department::NaturalResources);
    assert_eq!(notice.kind, "land_commitment_shortfall");
    assert_eq!(notice.uscc, firm[0]);
    assert_eq!(notice.parcel_id, parcel.id);

    assert!(land.terminate().await.success());
    let mut cluster = cluster;
    assert!(cluster.classification.terminate().await.success());
    assert!(cluster.census.terminate().await.success());
    let spans = collector.trace(trace_id);
    let has =
        |service: &str, name: &str| spans.iter().any(|s| s.service == service && s.name == name);
    assert!(has("census", "grpc"), "the census call: {spans:#?}");
    assert!(
        has("land-parcel", "inbox.consume"),
        "land-parcel consumed the return in the trace: {spans:#?}"
    );
    assert!(
        has("land-parcel", "outbox.publish"),
        "and published its notice in it: {spans:#?}"
    );
    assert!(
        has("classification", "inbox.consume"),
        "the notice store consumed in the trace: {spans:#?}"
    );
}

/// Dates of a contract whose start was due 13 months ago (China) and never came: idle now,
/// two years idle 11 months from now. Returns (signed, start, complete, check, two years on).
fn idle_contract_dates() -> [String; 5] {
    use chrono::Months;
    let today = (chrono::Utc::now() + chrono::Duration::hours(8)).date_naive();
    let start = today - Months::new(13);
    [
        start - Months::new(1),
        start,
        today - Months::new(1),
        today - chrono::Duration::days(1),
        start + Months::new(24),
    ]
    .map(|d| d.to_string())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_idle_parcel_reaches_its_fee_and_two_years_on_a_take_back_support_reads() {
    let cluster = Cluster::start(&[]).await;
    let common = [
        ("KAFKA_TOPIC_PREFIX", cluster.prefix.as_str()),
        ("OUTBOX_POLL_MS", "100"),
        ("SHUTDOWN_GRACE_MS", "0"),
    ];
    // The late-start clause out of the way: only two years idle puts the grant under review.
    let mut land_env = common.to_vec();
    land_env.push(("LAND_TAKE_BACK_AFTER_MONTHS", "600"));
    let mut land = system_tests::start("land-parcel", &land_env).await;
    let mut support = system_tests::start("support", &common).await;
    land.wait_serving(Duration::from_secs(60))
        .await
        .expect("land-parcel serves");
    support
        .wait_serving(Duration::from_secs(60))
        .await
        .expect("support serves");
    let mut client: LandServiceClient<Channel> = LandServiceClient::new(land.channel().await);
    let nr = "dev-natural-resources";

    let firm = usccs(1);
    cluster.register(&firm).await;
    let parcel = register_parcel(&client, format!("IDLE-{}", &firm[0][10..16])).await;
    let [signed, start, complete, check, two_years_on] = idle_contract_dates();
    let mut request = grant_request(&parcel, &firm[0]);
    request.contract = Some(pb::Contract {
        deposit_fen: 0,
        signed_on: signed,
        start_by: start,
        complete_by: complete,
        production_check_on: check,
    });
    let grant = wait_for_grant(&client, request).await;

    // A short return: support learns the grant is short.
    cluster.submit(&firm[0], "2025", 2_000, "idle-short").await;
    let support_db = sqlx::PgPool::connect(&support.database_url)
        .await
        .expect("the support database");
    let short_in_support = |short: bool| {
        let db = support_db.clone();
        let id = grant.id.clone();
        async move {
            sqlx::query_scalar::<_, bool>("SELECT short FROM land_evaluations WHERE grant_id = $1")
                .bind(id)
                .fetch_optional(&db)
                .await
                .is_ok_and(|found| found == Some(short))
        }
    };
    assert!(
        testkit::wait_until(Duration::from_secs(60), || short_in_support(true)).await,
        "support has the grant short"
    );

    let pass_client = client.clone();
    let pass = |on: &str| {
        let mut client = pass_client.clone();
        let request = with_token(nr, pb::RunIdlePassRequest { on: on.into() });
        async move {
            client
                .run_idle_pass(request)
                .await
                .expect("the idle pass")
                .into_inner()
        }
    };
    assert_eq!(pass("").await.flagged_idle, 1, "idle today");
    let read = client
        .get_grant(with_token(
            nr,
            pb::GetGrantRequest {
                grant_id: grant.id.clone(),
            },
        ))
        .await
        .expect("the grant")
        .into_inner()
        .grant
        .expect("a grant");
    let fee = read.idle_fee.expect("an idle fee ordered");
    assert_eq!(fee.fee_fen, 1_000_000_000, "20 % of 5,000,000,000 fen");
    assert_eq!(fee.status(), pb::IdleFeeStatus::Ordered);
    assert_eq!(read.take_back_review, "");

    assert_eq!(pass(&two_years_on).await.take_back_review, 1);
    let taken = client
        .take_back_grant(with_token(
            nr,
            pb::TakeBackGrantRequest {
                grant_id: grant.id.clone(),
                expected_version: 0,
                reason: "idle two years".into(),
                document_number: "海自然资收〔2026〕1号".into(),
            },
        ))
        .await
        .expect("the take-back")
        .into_inner();
    assert_eq!(taken.grant.unwrap().status(), pb::GrantStatus::TakenBack);
    assert_eq!(taken.parcel.unwrap().status(), pb::ParcelStatus::Available);
    assert!(
        testkit::wait_until(Duration::from_secs(60), || short_in_support(false)).await,
        "support read the take-back: the grant's shortfall is no longer current"
    );

    assert!(land.terminate().await.success());
    assert!(support.terminate().await.success());
    let mut cluster = cluster;
    assert!(cluster.classification.terminate().await.success());
    assert!(cluster.census.terminate().await.success());
}
