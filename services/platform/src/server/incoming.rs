//! Accepted connections with `TCP_NODELAY`.
//!
//! tonic applies its `tcp_nodelay` setting only to listeners it binds itself, not to an
//! incoming stream; without it a small response (a file read, a health check) can wait
//! 40 ms for the client's delayed ACK (Nagle's algorithm).

use std::io;

use futures::{Stream, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_stream::wrappers::TcpListenerStream;

/// The connections accepted on `listener`, each with `TCP_NODELAY` set.
pub fn without_delay(listener: TcpListener) -> impl Stream<Item = io::Result<TcpStream>> {
    TcpListenerStream::new(listener).map(|accepted| {
        let stream = accepted?;
        stream.set_nodelay(true)?;
        Ok(stream)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_accepted_socket_has_nodelay() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let mut incoming = Box::pin(without_delay(listener));
        for _ in 0..2 {
            let _client = TcpStream::connect(address).await.unwrap();
            let accepted = incoming.next().await.unwrap().unwrap();
            assert!(accepted.nodelay().unwrap());
        }
    }
}
