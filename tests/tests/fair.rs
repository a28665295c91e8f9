//! Trade fairs across real processes: a census return that lifts a firm into class A leads
//! to its invitation to the open external fair; the firm it pushes out of A loses its own.

use std::time::Duration;

use haicheng_proto::{
    common::v1::EnterpriseClass,
    fair::v1::{self as pb, fair_service_client::FairServiceClient},
};
use system_tests::cluster::{Cluster, usccs};
use testkit::with_token;
use tonic::transport::Channel;

const PERIOD: &str = "2025";

async fn invitations(client: &mut FairServiceClient<Channel>, uscc: &str) -> Vec<pb::Invitation> {
    client
        .list_invitations(with_token(
            "dev-commerce",
            pb::ListInvitationsRequest {
                uscc: uscc.into(),
                ..Default::default()
            },
        ))
        .await
        .expect("ListInvitations")
        .into_inner()
        .invitations
}

async fn wait_invitation(
    client: &mut FairServiceClient<Channel>,
    uscc: &str,
    status: pb::InvitationStatus,
) -> pb::Invitation {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(found) = invitations(client, uscc)
            .await
            .into_iter()
            .find(|i| i.status() == status)
        {
            return found;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{uscc} reached {status:?} within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_census_return_that_lifts_a_firm_into_a_leads_to_its_invitation() {
    let cluster = Cluster::start(&[]).await;
    let mut trade_fair = system_tests::start(
        "trade-fair",
        &[
            ("KAFKA_TOPIC_PREFIX", cluster.prefix.as_str()),
            ("OUTBOX_POLL_MS", "100"),
            ("SHUTDOWN_GRACE_MS", "0"),
        ],
    )
    .await;
    trade_fair
        .wait_serving(Duration::from_secs(60))
        .await
        .expect("trade-fair serves");
    let mut fairs = FairServiceClient::new(trade_fair.channel().await);
    let plan = system_tests::fixtures::open_fair();
    let fair = fairs
        .create_fair(with_token(
            "dev-commerce",
            pb::CreateFairRequest { fair: Some(plan) },
        ))
        .await
        .expect("CreateFair")
        .into_inner()
        .fair
        .unwrap();

    let firms = usccs(10);
    cluster.register(&firms).await;
    for (i, uscc) in firms.iter().enumerate() {
        cluster
            .submit(uscc, PERIOD, 1_000 + 100 * i as i64, &format!("first-{i}"))
            .await;
    }
    cluster
        .wait_classes(PERIOD, Duration::from_secs(60), |c| {
            c.get(&firms[9]) == Some(&EnterpriseClass::A)
        })
        .await;
    let leader = wait_invitation(&mut fairs, &firms[9], pb::InvitationStatus::Issued).await;
    assert_eq!(leader.fair_id, fair.id);

    // The weakest firm's correction lifts it into A and pushes the old leader out.
    cluster
        .submit(&firms[0], PERIOD, 100_000, "correction-0")
        .await;
    let newcomer = wait_invitation(&mut fairs, &firms[0], pb::InvitationStatus::Issued).await;
    assert_eq!(newcomer.fair_id, fair.id);
    wait_invitation(&mut fairs, &firms[9], pb::InvitationStatus::Withdrawn).await;
    for (i, uscc) in firms.iter().enumerate().skip(1).take(8) {
        assert!(
            invitations(&mut fairs, uscc).await.is_empty(),
            "firm {i} was never in A"
        );
    }
    assert_eq!(
        invitations(&mut fairs, &firms[0]).await.len(),
        1,
        "invited once"
    );
}
