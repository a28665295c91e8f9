//! Watching a service's health while a test or a benchmark loads it.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use tonic::transport::Channel;
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

/// Checks the overall health of each channel's service in turn, every `every`, until `stop`;
/// returns the count of SERVING answers and every other answer (a status, an error, or no
/// answer within 5 s).
pub async fn poll_health(
    channels: Vec<Channel>,
    every: Duration,
    stop: Arc<AtomicBool>,
) -> (usize, Vec<String>) {
    let (mut serving, mut other) = (0, Vec::new());
    let mut clients: Vec<_> = channels.into_iter().map(HealthClient::new).collect();
    while !stop.load(Ordering::Relaxed) {
        for client in &mut clients {
            let answer = tokio::time::timeout(
                Duration::from_secs(5),
                client.check(HealthCheckRequest::default()),
            )
            .await;
            match answer {
                Ok(Ok(reply)) if reply.get_ref().status() == ServingStatus::Serving => {
                    serving += 1;
                }
                Ok(Ok(reply)) => other.push(format!("{:?}", reply.get_ref().status())),
                Ok(Err(status)) => {
                    other.push(format!("{:?}: {}", status.code(), status.message()));
                }
                Err(_) => other.push("no answer within 5 s".into()),
            }
        }
        // A probe's cadence, not a wait for a condition.
        tokio::time::sleep(every).await;
    }
    (serving, other)
}
