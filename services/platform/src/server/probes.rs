//! Health in plaintext beside a TLS listener, for kubelet's gRPC probes, which speak no TLS.
//!
//! With TLS on and `GRPC_HEALTH_ADDR` set, the health service (and nothing else: no
//! reflection, no API) is also served without TLS on that address, so a Deployment's
//! `grpc:` probes check that port. Health is public on the TLS port too; what a prober
//! learns here is no more than SERVING or NOT_SERVING.

use std::net::SocketAddr;

use anyhow::Context;
use tokio::net::TcpListener;
use tonic::transport::Server;
use tonic_health::pb::health_server::{Health, HealthServer};

use super::incoming::without_delay;
use crate::config::vars;

/// Binds `address` now (a taken port stops start-up) and returns the server to run beside
/// the main one; it runs until dropped.
pub(super) async fn serve(
    address: SocketAddr,
    health: HealthServer<impl Health>,
) -> anyhow::Result<impl Future<Output = anyhow::Result<()>>> {
    let listener = TcpListener::bind(address)
        .await
        .with_context(|| format!("binding {} {address}", vars::GRPC_HEALTH_ADDR))?;
    tracing::info!(%address, "health served in plaintext for probes");
    Ok(async move {
        Server::builder()
            .add_service(health)
            .serve_with_incoming(without_delay(listener))
            .await?;
        anyhow::bail!("the plaintext health listener stopped")
    })
}
