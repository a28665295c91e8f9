//! A TCP proxy that puts a fault between two parts on command: a service and PostgreSQL, a
//! service and the broker (which must then advertise the proxy's port, [`crate::Broker`]), or
//! a client and a service.
//!
//! It forwards bytes both ways until told otherwise ([`FaultProxy::set`]): add latency to
//! every chunk, stop forwarding (connections stay open and silent, as behind a dead switch),
//! swallow the replies (the request reaches the server, whose answer never comes back: "the
//! commit succeeded but the caller saw a timeout"), or cut connections now and then.
//! [`FaultProxy::reset`] cuts every open connection at once.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::watch,
    task::JoinHandle,
};

/// What the proxy does to the bytes it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fault {
    /// Forwards both ways.
    #[default]
    None,
    /// Holds each chunk this long before forwarding it, both ways.
    Latency(Duration),
    /// Forwards nothing and accepts no new connection's bytes: the peer is silent.
    Stop,
    /// Forwards requests (client to upstream) and drops every reply.
    SwallowReplies,
    /// Forwards with `latency` and resets a connection on every `reset_every`-th chunk it
    /// carries (counted over all connections), as a slow, lossy link does.
    Lossy { latency: Duration, reset_every: u64 },
}

/// The running proxy: listening on [`addr`](Self::addr), forwarding to its upstream.
pub struct FaultProxy {
    addr: SocketAddr,
    fault: watch::Sender<Fault>,
    /// Bumped by [`reset`](Self::reset): every connection opened before it ends.
    resets: watch::Sender<u64>,
    stats: Arc<Stats>,
    accept: JoinHandle<()>,
}

#[derive(Default)]
struct Stats {
    connections: AtomicU64,
    chunks: AtomicU64,
    resets: AtomicU64,
}

const CHUNK: usize = 16 * 1024;

impl FaultProxy {
    /// Listens on a free loopback port and forwards every connection to `upstream`.
    pub async fn start(upstream: SocketAddr) -> std::io::Result<Self> {
        Self::start_on(0, upstream).await
    }

    /// Listens on `port` of loopback (0: a free one) and forwards to `upstream`.
    pub async fn start_on(port: u16, upstream: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let addr = listener.local_addr()?;
        let (fault, _) = watch::channel(Fault::None);
        let (resets, _) = watch::channel(0);
        let stats = Arc::new(Stats::default());
        let accept = tokio::spawn(accept_loop(
            listener,
            upstream,
            fault.clone(),
            resets.clone(),
            stats.clone(),
        ));
        Ok(Self {
            addr,
            fault,
            resets,
            stats,
            accept,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// From now on, every connection (open or new) suffers `fault`.
    pub fn set(&self, fault: Fault) {
        self.fault.send_replace(fault);
    }

    /// Cuts every open connection; new ones are accepted as before.
    pub fn reset(&self) {
        self.resets.send_modify(|n| *n += 1);
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.stats.connections.load(Ordering::Relaxed)
    }

    /// Connections the proxy cut ([`reset`](Self::reset) or [`Fault::Lossy`]).
    pub fn resets(&self) -> u64 {
        self.stats.resets.load(Ordering::Relaxed)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.reset();
    }
}

async fn accept_loop(
    listener: TcpListener,
    upstream: SocketAddr,
    fault: watch::Sender<Fault>,
    resets: watch::Sender<u64>,
    stats: Arc<Stats>,
) {
    while let Ok((client, _)) = listener.accept().await {
        stats.connections.fetch_add(1, Ordering::Relaxed);
        let (fault, resets, stats) = (fault.subscribe(), resets.subscribe(), stats.clone());
        tokio::spawn(async move {
            // An upstream that is away is a refused connection for the client too.
            let Ok(server) = TcpStream::connect(upstream).await else {
                return;
            };
            connection(client, server, fault, resets, stats).await;
        });
    }
}

/// Carries one connection until either side closes it or the proxy cuts it.
async fn connection(
    client: TcpStream,
    server: TcpStream,
    fault: watch::Receiver<Fault>,
    mut resets: watch::Receiver<u64>,
    stats: Arc<Stats>,
) {
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let upstream = pump(
        client_read,
        server_write,
        fault.clone(),
        Direction::Request,
        stats.clone(),
    );
    let downstream = pump(
        server_read,
        client_write,
        fault,
        Direction::Reply,
        stats.clone(),
    );
    resets.mark_unchanged();
    let cut = tokio::select! {
        end = upstream => end,
        end = downstream => end,
        _ = resets.changed() => End::Cut,
    };
    if cut == End::Cut {
        stats.resets.fetch_add(1, Ordering::Relaxed);
    }
    // The halves drop here and both sockets close: each peer sees its connection gone.
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Request,
    Reply,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Closed,
    Cut,
}

/// Copies `from` to `to` chunk by chunk, applying the fault in force to each chunk.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut fault: watch::Receiver<Fault>,
    direction: Direction,
    stats: Arc<Stats>,
) -> End {
    let mut buffer = vec![0u8; CHUNK];
    loop {
        // A stopped link neither reads nor writes: the sender's buffers fill, as they would.
        while *fault.borrow_and_update() == Fault::Stop {
            if fault.changed().await.is_err() {
                return End::Closed;
            }
        }
        let read = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => return End::Closed,
            Ok(n) => n,
        };
        let chunk = stats.chunks.fetch_add(1, Ordering::Relaxed) + 1;
        let current = *fault.borrow();
        match current {
            Fault::None | Fault::Stop => {}
            Fault::Latency(latency) => tokio::time::sleep(latency).await,
            Fault::SwallowReplies if direction == Direction::Reply => continue,
            Fault::SwallowReplies => {}
            Fault::Lossy {
                latency,
                reset_every,
            } => {
                tokio::time::sleep(latency).await;
                if reset_every > 0 && chunk.is_multiple_of(reset_every) {
                    return End::Cut;
                }
            }
        }
        let stopped = *fault.borrow() == Fault::Stop;
        if stopped {
            // Stopped while this chunk waited: it is held until the link is back.
            while *fault.borrow_and_update() == Fault::Stop {
                if fault.changed().await.is_err() {
                    return End::Closed;
                }
            }
        }
        if to.write_all(&buffer[..read]).await.is_err() {
            return End::Closed;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An upstream that answers every chunk it reads with the same bytes.
    async fn echo() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buffer = [0u8; 1024];
                    while let Ok(n) = socket.read(&mut buffer).await {
                        if n == 0 || socket.write_all(&buffer[..n]).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        addr
    }

    async fn round_trip(socket: &mut TcpStream, bytes: &[u8]) -> std::io::Result<Vec<u8>> {
        socket.write_all(bytes).await?;
        let mut reply = vec![0u8; bytes.len()];
        socket.read_exact(&mut reply).await?;
        Ok(reply)
    }

    #[tokio::test]
    async fn it_forwards_until_told_to_stop_and_again_after() {
        let proxy = FaultProxy::start(echo().await).await.unwrap();
        let mut socket = TcpStream::connect(proxy.addr()).await.unwrap();
        assert_eq!(round_trip(&mut socket, b"ping").await.unwrap(), b"ping");

        proxy.set(Fault::Stop);
        socket.write_all(b"held").await.unwrap();
        let mut reply = [0u8; 4];
        let silent =
            tokio::time::timeout(Duration::from_millis(300), socket.read_exact(&mut reply)).await;
        assert!(silent.is_err(), "nothing comes back while stopped");

        proxy.set(Fault::None);
        socket.read_exact(&mut reply).await.unwrap();
        assert_eq!(
            &reply, b"held",
            "the held bytes arrive once the link is back"
        );
    }

    #[tokio::test]
    async fn swallowed_replies_never_reach_the_client_but_requests_reach_the_server() {
        let upstream = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy = FaultProxy::start(upstream.local_addr().unwrap())
            .await
            .unwrap();
        let mut client = TcpStream::connect(proxy.addr()).await.unwrap();
        let (mut server, _) = upstream.accept().await.unwrap();
        proxy.set(Fault::SwallowReplies);

        client.write_all(b"commit").await.unwrap();
        let mut request = [0u8; 6];
        server.read_exact(&mut request).await.unwrap();
        assert_eq!(&request, b"commit");
        server.write_all(b"done").await.unwrap();
        let mut reply = [0u8; 4];
        let lost =
            tokio::time::timeout(Duration::from_millis(300), client.read_exact(&mut reply)).await;
        assert!(lost.is_err(), "the reply was swallowed");
    }

    #[tokio::test]
    async fn a_reset_cuts_open_connections_and_new_ones_are_served() {
        let proxy = FaultProxy::start(echo().await).await.unwrap();
        let mut socket = TcpStream::connect(proxy.addr()).await.unwrap();
        assert_eq!(round_trip(&mut socket, b"one").await.unwrap(), b"one");
        proxy.reset();
        let mut byte = [0u8; 1];
        let read = socket.read(&mut byte).await;
        assert!(matches!(read, Ok(0) | Err(_)), "cut: {read:?}");
        assert_eq!(proxy.resets(), 1);

        let mut again = TcpStream::connect(proxy.addr()).await.unwrap();
        assert_eq!(round_trip(&mut again, b"two").await.unwrap(), b"two");
        assert_eq!(proxy.connections(), 2);
    }

    #[tokio::test]
    async fn a_lossy_link_cuts_every_nth_chunk() {
        let proxy = FaultProxy::start(echo().await).await.unwrap();
        proxy.set(Fault::Lossy {
            latency: Duration::from_millis(1),
            reset_every: 3,
        });
        let mut socket = TcpStream::connect(proxy.addr()).await.unwrap();
        // Chunks 1 and 2 (request, reply) pass; the third is cut.
        assert_eq!(round_trip(&mut socket, b"a").await.unwrap(), b"a");
        let cut = round_trip(&mut socket, b"b").await;
        assert!(cut.is_err(), "the third chunk cut the connection");
        assert_eq!(proxy.resets(), 1);
    }
}
