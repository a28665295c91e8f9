//! Accepted connections after their TLS handshake, each with the identity of its client.
//!
//! One task accepts TCP connections (with `TCP_NODELAY`, as the plaintext listener) and
//! starts a handshake task per connection, so a slow or silent client holds up no other.
//! A handshake that fails (a plaintext client, a client without a certificate or with one
//! from another CA) or takes longer than [`HANDSHAKE_TIMEOUT`] is logged and the connection
//! dropped; the listener goes on. A finished one is handed to tonic as a [`TlsConnection`],
//! whose [`TlsPeer`] tonic puts into the extensions of every request on it: the access
//! policy reads the client certificate's principal from there.

use std::{
    io,
    net::SocketAddr,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use futures::{Stream, StreamExt};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::mpsc,
};
use tokio_rustls::{TlsAcceptor, server::TlsStream};
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::server::Connected;
use x509_parser::{certificate::X509Certificate, extensions::GeneralName, prelude::FromDer};

use super::ServerTls;
use crate::{
    auth::{CertPrincipals, ClientCertificate, certs::DNS_PREFIX},
    server::incoming::without_delay,
};

/// Longest a client may take to finish its handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Who is at the other end of a TLS connection; in the extensions of each of its requests.
#[derive(Clone, Debug)]
pub struct TlsPeer {
    pub remote_addr: Option<SocketAddr>,
    /// The client's verified certificate (mutual TLS only).
    pub certificate: Option<Arc<ClientCertificate>>,
}

/// A server-side TLS connection whose handshake has finished.
pub struct TlsConnection {
    stream: TlsStream<TcpStream>,
    peer: TlsPeer,
}

impl Connected for TlsConnection {
    type ConnectInfo = TlsPeer;

    fn connect_info(&self) -> TlsPeer {
        self.peer.clone()
    }
}

/// The connections accepted on `listener`, after their handshake. Ends (and closes the
/// listener) when the stream is dropped.
pub fn incoming(
    listener: TcpListener,
    tls: ServerTls,
) -> impl Stream<Item = io::Result<TlsConnection>> {
    let (sender, receiver) = mpsc::channel(64);
    tokio::spawn(accept(listener, tls, sender));
    ReceiverStream::new(receiver)
}

async fn accept(
    listener: TcpListener,
    tls: ServerTls,
    connections: mpsc::Sender<io::Result<TlsConnection>>,
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

async fn handshake(tcp: TcpStream, tls: &ServerTls) -> Option<TlsConnection> {
    let remote_addr = tcp.peer_addr().ok();
    let acceptor = TlsAcceptor::from(tls.current.current());
    let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(err)) => {
            tracing::info!(peer = ?remote_addr, "TLS handshake refused: {err}");
            return None;
        }
        Err(_) => {
            tracing::info!(peer = ?remote_addr, "TLS handshake timed out");
            return None;
        }
    };
    let certificate = stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|chain| chain.first())
        .map(|leaf| Arc::new(identify(leaf, &tls.principals)));
    Some(TlsConnection {
        stream,
        peer: TlsPeer {
            remote_addr,
            certificate,
        },
    })
}

/// The names of a verified client certificate and the principal they map to.
fn identify(leaf: &[u8], principals: &CertPrincipals) -> ClientCertificate {
    principals.resolve(san_names(leaf))
}

/// The SPIFFE ID of a certificate alone when it has one, else its DNS names as `dns:NAME`.
pub(crate) fn san_names(der: &[u8]) -> Vec<String> {
    let Ok((_, cert)) = X509Certificate::from_der(der) else {
        return Vec::new();
    };
    let Ok(Some(san)) = cert.subject_alternative_name() else {
        return Vec::new();
    };
    let names = &san.value.general_names;
    let spiffe = names.iter().find_map(|name| match name {
        GeneralName::URI(uri) if uri.starts_with("spiffe://") => Some(uri.to_string()),
        _ => None,
    });
    match spiffe {
        Some(id) => vec![id],
        None => names
            .iter()
            .filter_map(|name| match name {
                GeneralName::DNSName(dns) => Some(format!("{DNS_PREFIX}{dns}")),
                _ => None,
            })
            .collect(),
    }
}

impl AsyncRead for TlsConnection {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsConnection {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}
