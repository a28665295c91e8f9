//! The status codes tonic's codec answers with, corrected to what the gRPC status-code guide
//! says a caller should see:
//!
//! - a request that cannot be decoded is the caller's fault: INVALID_ARGUMENT, not INTERNAL
//!   (tonic answers INTERNAL "failed to decode Protobuf message");
//! - a message over the size limit is RESOURCE_EXHAUSTED, not OUT_OF_RANGE (tonic's
//!   "Error, decoded/encoded message length too large").
//!
//! The status is in the response headers when the call failed before its first message
//! (unary calls, a bad request) and in the trailers otherwise (a response too large to
//! send); both are corrected. The message is kept.

use std::{
    pin::Pin,
    task::{Context, Poll},
};

use futures::future::BoxFuture;
use http::HeaderMap;
use http_body::Frame;
use tonic::{Code, Status, body::Body, codegen::Bytes};

/// The corrected code of a status from tonic's codec, if it needs one.
fn corrected(status: &Status) -> Option<Code> {
    let message = status.message();
    match status.code() {
        Code::Internal if message.starts_with("failed to decode Protobuf message") => {
            Some(Code::InvalidArgument)
        }
        Code::OutOfRange if message.contains("message length too large") => {
            Some(Code::ResourceExhausted)
        }
        _ => None,
    }
}

/// Rewrites the grpc-status in `headers` (response headers or trailers) where needed.
fn correct(headers: &mut HeaderMap) {
    let Some(status) = Status::from_header_map(headers) else {
        return;
    };
    if let Some(code) = corrected(&status) {
        let fixed = Status::with_details(code, status.message(), status.details().to_vec().into());
        // Fails only for a message that cannot be a header, which the original already was.
        let _ = fixed.add_header(headers);
    }
}

#[derive(Clone, Default)]
pub struct StatusCodesLayer;

impl<S> tower::Layer<S> for StatusCodesLayer {
    type Service = StatusCodes<S>;
    fn layer(&self, inner: S) -> Self::Service {
        StatusCodes { inner }
    }
}

#[derive(Clone)]
pub struct StatusCodes<S> {
    inner: S,
}

impl<S> tower::Service<http::Request<Body>> for StatusCodes<S>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let response = self.inner.call(request);
        Box::pin(async move {
            let (mut parts, body) = response.await?.into_parts();
            correct(&mut parts.headers);
            Ok(http::Response::from_parts(
                parts,
                Body::new(CorrectedTrailers(body)),
            ))
        })
    }
}

/// A response body whose trailers get [`correct`]ed.
struct CorrectedTrailers(Body);

impl http_body::Body for CorrectedTrailers {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        Pin::new(&mut self.0).poll_frame(cx).map(|frame| {
            frame.map(|frame| {
                frame.map(|mut frame| {
                    if let Some(trailers) = frame.trailers_mut() {
                        correct(trailers);
                    }
                    frame
                })
            })
        })
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.0.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use http_body::Body as _;
    use tower::{Layer, ServiceExt};

    use super::*;

    /// A body of nothing but trailers, as a stream whose response was too large ends.
    struct TrailersOnly(Option<HeaderMap>);

    impl http_body::Body for TrailersOnly {
        type Data = Bytes;
        type Error = Status;
        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
            Poll::Ready(self.0.take().map(|t| Ok(Frame::trailers(t))))
        }
    }

    #[tokio::test]
    async fn the_code_in_the_trailers_is_corrected_too() {
        let inner = tower::service_fn(|_: http::Request<Body>| async {
            let mut trailers = HeaderMap::new();
            Status::out_of_range("Error, encoded message length too large: found 9 bytes")
                .add_header(&mut trailers)
                .unwrap();
            Ok::<_, Infallible>(http::Response::new(Body::new(TrailersOnly(Some(trailers)))))
        });
        let response = StatusCodesLayer
            .layer(inner)
            .oneshot(http::Request::new(Body::empty()))
            .await
            .unwrap();
        let mut body = response.into_body();
        let frame = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx))
            .await
            .unwrap()
            .unwrap();
        let trailers = frame.into_trailers().unwrap();
        let status = Status::from_header_map(&trailers).unwrap();
        assert_eq!(status.code(), Code::ResourceExhausted);
    }

    fn rewritten(status: Status) -> (Code, String) {
        let mut headers = HeaderMap::new();
        status.add_header(&mut headers).unwrap();
        correct(&mut headers);
        let after = Status::from_header_map(&headers).unwrap();
        (after.code(), after.message().to_string())
    }

    #[test]
    fn codec_errors_get_the_codes_of_the_guide_and_others_are_kept() {
        let decode = "failed to decode Protobuf message: invalid wire type";
        assert_eq!(
            rewritten(Status::internal(decode)),
            (Code::InvalidArgument, decode.to_string())
        );
        let too_large =
            "Error, decoded message length too large: found 9 bytes, the limit is: 4 bytes";
        assert_eq!(
            rewritten(Status::out_of_range(too_large)),
            (Code::ResourceExhausted, too_large.to_string())
        );
        for kept in [
            Status::internal("internal error; quote trace id 0af7"),
            Status::out_of_range("period 2031 is in the future"),
            Status::not_found("enterprise 91210300 not found"),
        ] {
            let code = kept.code();
            assert_eq!(rewritten(kept).0, code);
        }
    }
}
