//! A response body that holds something (an admission permit, a stream slot) for as long as
//! the call lasts: until its last frame has been sent, or until it is dropped because the
//! client went away. A stream's handler returns as soon as its headers are ready, so a guard
//! dropped with the handler's future would let any number of open streams through.

use std::{
    pin::Pin,
    task::{Context, Poll},
};

use http_body::Frame;
use tonic::{Status, body::Body, codegen::Bytes};

/// `body`, holding `guard` until it ends or is dropped.
pub fn hold<G: Send + 'static>(response: http::Response<Body>, guard: G) -> http::Response<Body> {
    let (parts, body) = response.into_parts();
    http::Response::from_parts(
        parts,
        Body::new(Held {
            body,
            guard: Some(guard),
        }),
    )
}

struct Held<G> {
    body: Body,
    /// Released at the end of the body: the last frame, an error, or the drop.
    guard: Option<G>,
}

impl<G: Send + 'static> http_body::Body for Held<G> {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        let ended = match &polled {
            Poll::Ready(None | Some(Err(_))) => true,
            // gRPC's trailers are the last frame.
            Poll::Ready(Some(Ok(frame))) => frame.is_trailers() || self.body.is_end_stream(),
            Poll::Pending => false,
        };
        if ended {
            self.guard = None;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

// `Held` is never pinned structurally: its fields are moved freely.
impl<G> Unpin for Held<G> {}

#[cfg(test)]
mod tests {
    use std::sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    };

    use http_body::Body as _;

    use super::*;

    /// Counts itself in `open` while alive.
    struct Slot(Arc<AtomicUsize>);

    impl Slot {
        fn new(open: &Arc<AtomicUsize>) -> Self {
            open.fetch_add(1, Ordering::SeqCst);
            Self(open.clone())
        }
    }

    impl Drop for Slot {
        fn drop(&mut self) {
            self.0.fetch_sub(1, Ordering::SeqCst);
        }
    }

    async fn next_frame(body: &mut Body) -> Option<Result<Frame<Bytes>, Status>> {
        std::future::poll_fn(|cx| Pin::new(&mut *body).poll_frame(cx)).await
    }

    #[tokio::test]
    async fn the_guard_lives_until_the_last_frame() {
        let open = Arc::new(AtomicUsize::new(0));
        let frames = futures::stream::iter([
            Ok(Frame::data(Bytes::from_static(b"one"))),
            Ok(Frame::trailers(http::HeaderMap::new())),
        ]);
        let body = Body::new(http_body_util_stream(frames));
        let response = hold(http::Response::new(body), Slot::new(&open));
        let mut body = response.into_body();
        assert_eq!(open.load(Ordering::SeqCst), 1);
        assert!(next_frame(&mut body).await.unwrap().unwrap().is_data());
        assert_eq!(open.load(Ordering::SeqCst), 1, "held while the body runs");
        assert!(next_frame(&mut body).await.unwrap().unwrap().is_trailers());
        assert_eq!(open.load(Ordering::SeqCst), 0, "released by the trailers");
    }

    #[tokio::test]
    async fn a_body_dropped_midway_releases_the_guard() {
        let open = Arc::new(AtomicUsize::new(0));
        let never_ends = futures::stream::pending::<Result<Frame<Bytes>, Status>>();
        let response = hold(
            http::Response::new(Body::new(http_body_util_stream(never_ends))),
            Slot::new(&open),
        );
        assert_eq!(open.load(Ordering::SeqCst), 1);
        drop(response);
        assert_eq!(open.load(Ordering::SeqCst), 0);
    }

    /// A body from a stream of frames (what `http_body_util::StreamBody` does).
    fn http_body_util_stream<S>(frames: S) -> impl http_body::Body<Data = Bytes, Error = Status>
    where
        S: futures::Stream<Item = Result<Frame<Bytes>, Status>> + Send + Unpin + 'static,
    {
        struct Frames<S>(S);
        impl<S> http_body::Body for Frames<S>
        where
            S: futures::Stream<Item = Result<Frame<Bytes>, Status>> + Unpin,
        {
            type Data = Bytes;
            type Error = Status;
            fn poll_frame(
                mut self: Pin<&mut Self>,
                cx: &mut Context<'_>,
            ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
                futures::Stream::poll_next(Pin::new(&mut self.0), cx)
            }
        }
        Frames(frames)
    }
}
