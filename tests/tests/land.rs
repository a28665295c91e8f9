//! Land across real processes: a census return of a grant holder that falls short of its
//! commitments reaches natural resources' watch stream as one notice, in the call's trace.

use std::time::Duration;

use haicheng_proto::{
    census::v1::SubmitReturnRequest,
    common::v1::{Department, Park},
    land::v1::{self as pb, land_service_client::LandServiceClient},
    policy::v1::{SupportPolicyNotice, WatchNoticesRequest},
};
use system_tests::{
    cluster::{Cluster, indicators, usccs},
    otlp::SpanCollector,
};
use testkit::with_token;
use tokio_stream::StreamExt;
use tonic::{Code, transport::Channel};

/// A standard grant of `parcel` whose production check is long past, committing far more tax
/// per mu than any test return reports.
fn grant_request(parcel: &pb::Parcel, uscc: &str) -> pb::GrantParcelRequest {
    pb::GrantParcelRequest {
        parcel_id: parcel.id.clone(),
        expected_version: 0,
        uscc: uscc.into(),
        supply: Some(pb::SupplyTerms {
            mode: pb::SupplyMode::StandardTransfer as i32,
            term_years: 50,
            price_fen: 5_000_000_000,
            ..Default::default()
        }),
        contract: Some(pb::Contract {
            deposit_fen: 0,
            signed_on: "2020-01-01".into(),
            start_by: "2020-06-01".into(),
            complete_by: "2021-06-01".into(),
            production_check_on: "2023-06-01".into(),
        }),
        commitments: Some(pb::Commitments {
            investment_fen_per_mu: 100_000_000,
            output_fen_per_mu: 10_000_000,
            tax_fen_per_mu: 100_000_000,
            plot_ratio_milli: 1_000,
            energy_tce_per_wan_yuan: None,
        }),
    }
}

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
    let mut client: LandServiceClient<Channel> = LandServiceClient::new(land.channel().await);

    let firm = usccs(1);
    cluster.register(&firm).await;
    let parcel = client
        .register_parcel(with_token(
            "dev-natural-resources",
            pb::RegisterParcelRequest {
                id: format!("SYS-{}", &firm[0][10..16]),
                park: Park::Ganwang as i32,
                land_use: pb::LandUse::Industrial as i32,
                area_centi_mu: 5_000,
                plot_ratio_min_milli: 800,
                plot_ratio_max_milli: 3_000,
                location: "system test".into(),
            },
        ))
        .await
        .expect("registering a parcel")
        .into_inner()
        .parcel
        .expect("the parcel");
    // The grant succeeds once land-parcel has the firm from the census events.
    let granted = testkit::wait_until(Duration::from_secs(60), || {
        let mut client = client.clone();
        let request = grant_request(&parcel, &firm[0]);
        async move {
            match client
                .grant_parcel(with_token("dev-natural-resources", request))
                .await
            {
                Ok(_) => true,
                Err(status) if status.code() == Code::FailedPrecondition => false,
                Err(status) => panic!("the grant failed: {status:?}"),
            }
        }
    })
    .await;
    assert!(granted, "the firm reached land-parcel and got the parcel");

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
