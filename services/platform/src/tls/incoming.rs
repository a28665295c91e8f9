//! Accepted connections after their TLS handshake.
//!
//! One task accepts TCP connections (with `TCP_NODELAY`, as the plaintext listener) and
//! starts a handshake task per connection, so a slow or silent client holds up no other.
//! A handshake that fails (a plaintext client, a client without a certificate or with one
//! from another CA) or takes longer than [`HANDSHAKE_TIMEOUT`] is logged and the connection
//! dropped; the listener goes on. A finished one is handed to tonic as the rustls stream it
//! is, so tonic's own connection info applies: `Request::remote_addr` and
//! `Request::peer_certs` work as with tonic's TLS, and the access policy reads the client
//! certificate from there ([`crate::auth::CertPrincipals::identify`]).

use std::{io, time::Duration};

use futures::{Stream, StreamExt};
use tokio::{
    net::{TcpListener, TcpStream},
    sync::mpsc,
};
use tokio_rustls::{TlsAcceptor, server::TlsStream};
use tokio_stream::wrappers::ReceiverStream;

use super::ServerTls;
use crate::server::incoming::without_delay;

/// Longest a client may take to finish its handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The connections accepted on `listener`, after their handshake. Ends (and closes the
/// listener) when the stream is dropped.
pub fn incoming(
    listener: TcpListener,
    tls: ServerTls,
) -> impl Stream<Item = io::Result<TlsStream<TcpStream>>> {
    let (sender, receiver) = mpsc::channel(64);
    tokio::spawn(accept(listener, tls, sender));
    ReceiverStream::new(receiver)
}

async fn accept(
    listener: TcpListener,
    tls: ServerTls,
    connections: mpsc::Sender<io::Result<TlsStream<TcpStream>>>,
) {
    let mut accepted = Box::pin(without_delay(listener));
    loop {
        let next = tokio::select! {
            _ = connections.closed() => return,
            next = accepted.next() => next,
        };
        let tcp = match next {
            None => return,
            Some(Err(err)) => {
                // tonic logs and goes on, as it does with its own listener.
                if connections.send(Err(err)).await.is_err() {
                    return;
                }
                continue;
            }
            Some(Ok(tcp)) => tcp,
        };
        let (tls, connections) = (tls.clone(), connections.clone());
        tokio::spawn(async move {
            if let Some(connection) = handshake(tcp, &tls).await {
                // The server may have stopped meanwhile: the connection is then dropped.
                let _ = connections.send(Ok(connection)).await;
            }
        });
    }
}

async fn handshake(tcp: TcpStream, tls: &ServerTls) -> Option<TlsStream<TcpStream>> {
    let remote_addr = tcp.peer_addr().ok();
    let acceptor = TlsAcceptor::from(tls.current.current());
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
        Ok(Ok(stream)) => Some(stream),
        Ok(Err(err)) => {
            tracing::info!(peer = ?remote_addr, "TLS handshake refused: {err}");
            None
        }
        Err(_) => {
            tracing::info!(peer = ?remote_addr, "TLS handshake timed out");
            None
        }
    }
}
