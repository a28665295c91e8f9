//! Admission: a process-wide cap on calls in flight that sheds the excess at once with
//! RESOURCE_EXHAUSTED (queueing would only turn overload into timeouts), and the request
//! metrics. Health checks are never shed, so probes keep telling the truth under load.
//!
//! A call holds its permit until its response body has ended or been dropped ([`held`]), not
//! only until its headers are ready: an open stream counts against the cap for its whole life.
//! The cap is therefore also the last guard on open streams; the per-principal and
//! per-process stream caps of [`super::limits`] are below it (start-up checks
//! `WATCH_STREAMS_MAX < MAX_CONCURRENT_REQUESTS`), so streams never take every permit.

use std::{
    sync::Arc,
    task::{Context, Poll},
    time::Instant,
};

use futures::future::BoxFuture;
use opentelemetry::metrics::{Counter, Histogram};
use tokio::sync::Semaphore;
use tonic::{Status, body::Body};

use super::held;
use crate::telemetry::attr;

/// Who made a call, as the request metrics label it (`rpc.principal`): put in the response's
/// extensions by the layer that knows the caller (the per-caller limits, after the access
/// check); a call refused before that, or to a public method, is `anonymous`.
#[derive(Clone, Debug)]
pub struct CallerLabel(pub String);

#[derive(Clone)]
pub struct AdmissionLayer(Arc<Shared>);

struct Shared {
    permits: Arc<Semaphore>,
    requests: Counter<u64>,
    duration: Histogram<f64>,
}

impl AdmissionLayer {
    pub fn new(max_in_flight: usize) -> Self {
        let meter = opentelemetry::global::meter("platform.grpc");
        Self(Arc::new(Shared {
            permits: Arc::new(Semaphore::new(max_in_flight)),
            requests: meter
                .u64_counter("rpc.server.requests")
                .with_description("gRPC calls by method and code")
                .build(),
            duration: meter
                .f64_histogram("rpc.server.duration")
                .with_unit("s")
                .build(),
        }))
    }
}

impl<S> tower::Layer<S> for AdmissionLayer {
    type Service = Admission<S>;
    fn layer(&self, inner: S) -> Self::Service {
        Admission {
            inner,
            shared: self.0.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Admission<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> tower::Service<http::Request<Body>> for Admission<S>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let method = request.uri().path().to_string();
        let shared = self.shared.clone();
        let permit = if method.starts_with("/grpc.health.v1.") {
            None
        } else {
            match shared.permits.clone().try_acquire_owned() {
                Ok(permit) => Some(permit),
                Err(_) => {
                    shared.requests.add(
                        1,
                        &[
                            attr("rpc.method", method),
                            attr("rpc.grpc.status_code", "RESOURCE_EXHAUSTED"),
                        ],
                    );
                    let status = Status::resource_exhausted(
                        "the server is at its concurrency limit; retry with backoff",
                    );
                    return Box::pin(async move { Ok(status.into_http()) });
                }
            }
        };
        let ready = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, ready);
        Box::pin(async move {
            let started = Instant::now();
            let response = inner.call(request).await;
            // The grpc-status of a unary error is in the headers; streams report theirs in trailers.
            let code = match &response {
                Ok(r) => r
                    .headers()
                    .get("grpc-status")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("0")
                    .to_string(),
                Err(_) => "transport".to_string(),
            };
            let principal = response
                .as_ref()
                .ok()
                .and_then(|r| r.extensions().get::<CallerLabel>())
                .map_or_else(|| "anonymous".to_string(), |label| label.0.clone());
            let attrs = [
                attr("rpc.method", method),
                attr("rpc.grpc.status_code", code),
                attr("rpc.principal", principal),
            ];
            shared.requests.add(1, &attrs);
            shared
                .duration
                .record(started.elapsed().as_secs_f64(), &attrs);
            Ok(match (response?, permit) {
                (response, Some(permit)) => held::hold(response, permit),
                (response, None) => response,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use std::{convert::Infallible, sync::Arc};

    use http_body::Body as _;
    use tokio::sync::Notify;
    use tonic::codegen::Bytes;
    use tower::{Layer, ServiceExt};

    use super::*;

    fn request(path: &str) -> http::Request<Body> {
        http::Request::builder()
            .uri(path)
            .body(Body::empty())
            .unwrap()
    }

    fn grpc_status(response: &http::Response<Body>) -> Option<&str> {
        response
            .headers()
            .get("grpc-status")
            .and_then(|v| v.to_str().ok())
    }

    #[tokio::test]
    async fn calls_beyond_the_limit_are_shed_and_health_never_is() {
        // A file read that holds its permit until the test lets it go.
        let (entered, release) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
        let held = {
            let (entered, release) = (entered.clone(), release.clone());
            tower::service_fn(move |request: http::Request<Body>| {
                let (entered, release) = (entered.clone(), release.clone());
                async move {
                    if request.uri().path().ends_with("/GetEnterpriseFile") {
                        entered.notify_one();
                        release.notified().await;
                    }
                    Ok::<_, Infallible>(http::Response::new(Body::empty()))
                }
            })
        };
        let service = AdmissionLayer::new(1).layer(held);

        let first = tokio::spawn(service.clone().oneshot(request(
            "/haicheng.census.v1.CensusService/GetEnterpriseFile",
        )));
        entered.notified().await;
        let shed = service
            .clone()
            .oneshot(request("/haicheng.census.v1.CensusService/ListEnterprises"))
            .await
            .unwrap();
        assert_eq!(grpc_status(&shed), Some("8"), "RESOURCE_EXHAUSTED");
        let health = service
            .clone()
            .oneshot(request("/grpc.health.v1.Health/Check"))
            .await
            .unwrap();
        assert_eq!(
            grpc_status(&health),
            None,
            "health passes while the limit is reached"
        );

        release.notify_one();
        let admitted = first.await.unwrap().unwrap();
        assert_eq!(grpc_status(&admitted), None);
        drop(admitted); // its body held the permit
        let after = service
            .clone()
            .oneshot(request("/haicheng.census.v1.CensusService/ListEnterprises"))
            .await
            .unwrap();
        assert_eq!(
            grpc_status(&after),
            None,
            "the permit is returned after the call"
        );
    }

    #[tokio::test]
    async fn an_open_stream_holds_its_permit_until_its_body_ends_or_is_dropped() {
        // Every call answers at once with headers and a body that ends only when told to.
        let streams = tower::service_fn(|_: http::Request<Body>| async {
            let (end, ended) = tokio::sync::oneshot::channel::<()>();
            let body = futures::stream::once(async move {
                let _ = ended.await;
                Ok::<_, Status>(http_body::Frame::trailers(http::HeaderMap::new()))
            });
            let response = http::Response::new(Body::new(FrameStream(Box::pin(body))));
            Ok::<_, Infallible>((response, end))
        });
        let (ends_tx, mut ends) = tokio::sync::mpsc::unbounded_channel();
        let streams = tower::ServiceExt::map_response(streams, move |(response, end)| {
            let _ = ends_tx.send(end);
            response
        });
        let service = AdmissionLayer::new(2).layer(streams);
        let watch = || {
            service
                .clone()
                .oneshot(request("/haicheng.policy.v1.NoticeService/WatchNotices"))
        };

        let first = watch().await.unwrap();
        let second = watch().await.unwrap();
        assert_eq!(grpc_status(&first), None);
        assert_eq!(grpc_status(&second), None);
        let shed = watch().await.unwrap();
        assert_eq!(
            grpc_status(&shed),
            Some("8"),
            "two open streams hold both permits"
        );

        // The first ends (its trailers sent); the client of the second goes away.
        let (end_first, _end_second) = (ends.recv().await.unwrap(), ends.recv().await.unwrap());
        end_first.send(()).unwrap();
        let mut body = first.into_body();
        let last = std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await;
        assert!(last.unwrap().unwrap().is_trailers());
        let third = watch().await.unwrap();
        assert_eq!(
            grpc_status(&third),
            None,
            "the ended stream gave its permit back"
        );
        assert_eq!(grpc_status(&watch().await.unwrap()), Some("8"));
        drop(second);
        assert_eq!(
            grpc_status(&watch().await.unwrap()),
            None,
            "a dropped stream gave its permit back"
        );
    }

    /// A body from a stream of frames.
    struct FrameStream(
        std::pin::Pin<
            Box<dyn futures::Stream<Item = Result<http_body::Frame<Bytes>, Status>> + Send>,
        >,
    );

    impl http_body::Body for FrameStream {
        type Data = Bytes;
        type Error = Status;
        fn poll_frame(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Status>>> {
            self.0.as_mut().poll_next(cx)
        }
    }
}
