//! Call deadlines, two contracts by the shape of the call.
//!
//! A call whose request is one message (unary, server-streaming) must produce its response
//! within `REQUEST_TIMEOUT_MS`, or the client's `grpc-timeout` when that is shorter. For a
//! server stream that is the time to its response headers: its messages then flow for as long
//! as the client reads them, as with tonic's own deadline, which this replaces.
//!
//! A client-streaming (or bidirectional) call has no whole-call deadline of the server's: a
//! long import that keeps sending is alive, however long it takes. It is cut when no request
//! message has arrived for `STREAM_IDLE_TIMEOUT_MS`: a client gone silent, or a handler that
//! stopped reading (a stalled database holds the stream back). After the client's last
//! message the handler has that long again to answer. A `grpc-timeout` the client sent still
//! bounds the whole call. Either way the call ends with DEADLINE_EXCEEDED.

use std::{
    collections::HashSet,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use futures::future::BoxFuture;
use http_body::Frame;
use prost::Message;
use prost_types::FileDescriptorSet;
use tokio::time::Instant;
use tonic::{Status, body::Body, codegen::Bytes};

/// The deadlines of a server's calls.
#[derive(Debug, Clone)]
pub struct Deadlines {
    /// A unary or server-streaming call's time to its response.
    pub request: Duration,
    /// The longest silence between two messages of a client stream.
    pub stream_idle: Duration,
    /// Paths (`/package.Service/Method`) of the methods whose requests are streams.
    client_streams: HashSet<String>,
}

impl Deadlines {
    /// The deadlines for the methods of `services` in the encoded `descriptor_set`.
    pub fn new(
        request: Duration,
        stream_idle: Duration,
        descriptor_set: &[u8],
        services: &[&str],
    ) -> anyhow::Result<Self> {
        let set = FileDescriptorSet::decode(descriptor_set).map_err(|err| {
            anyhow::anyhow!("the service's descriptor set does not decode: {err}")
        })?;
        let mut client_streams = HashSet::new();
        for file in &set.file {
            for service in &file.service {
                let name = format!("{}.{}", file.package(), service.name());
                if services.contains(&name.as_str()) {
                    client_streams.extend(
                        service
                            .method
                            .iter()
                            .filter(|m| m.client_streaming())
                            .map(|m| format!("/{name}/{}", m.name())),
                    );
                }
            }
        }
        Ok(Self {
            request,
            stream_idle,
            client_streams,
        })
    }
}

/// Applies [`Deadlines`] to every call.
#[derive(Clone)]
pub struct DeadlineLayer(Arc<Deadlines>);

impl DeadlineLayer {
    pub fn new(deadlines: Deadlines) -> Self {
        Self(Arc::new(deadlines))
    }
}

impl<S> tower::Layer<S> for DeadlineLayer {
    type Service = Deadlined<S>;
    fn layer(&self, inner: S) -> Self::Service {
        Deadlined {
            inner,
            deadlines: self.0.clone(),
        }
    }
}

/// The service behind a [`DeadlineLayer`].
#[derive(Clone)]
pub struct Deadlined<S> {
    inner: S,
    deadlines: Arc<Deadlines>,
}

impl<S> tower::Service<http::Request<Body>> for Deadlined<S>
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
        let started = Instant::now();
        let client = client_timeout(request.headers()).map(|timeout| started + timeout);
        let ready = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, ready);
        if !self.deadlines.client_streams.contains(request.uri().path()) {
            let deadline = started + self.deadlines.request;
            let deadline = client.map_or(deadline, |client| client.min(deadline));
            let call = inner.call(request);
            return Box::pin(async move {
                match tokio::time::timeout_at(deadline, call).await {
                    Ok(response) => response,
                    Err(_) => Ok(exceeded("the call's deadline expired")),
                }
            });
        }
        let last_message = Arc::new(LastMessage::new(started));
        let request = request.map(|body| {
            Body::new(Watched {
                inner: body,
                last_message: last_message.clone(),
            })
        });
        let call = inner.call(request);
        let idle = self.deadlines.stream_idle;
        Box::pin(async move {
            tokio::pin!(call);
            loop {
                let idle_end = last_message.at() + idle;
                let next = client.map_or(idle_end, |client| client.min(idle_end));
                // The call first: a message it reads now counts before the timer is judged.
                tokio::select! {
                    biased;
                    response = &mut call => return response,
                    () = tokio::time::sleep_until(next) => {
                        if client.is_some_and(|client| client <= Instant::now()) {
                            return Ok(exceeded("the call's deadline expired"));
                        }
                        if last_message.at() + idle <= Instant::now() {
                            return Ok(exceeded(&format!(
                                "no message of the request stream for {} ms",
                                idle.as_millis()
                            )));
                        }
                    }
                }
            }
        })
    }
}

/// DEADLINE_EXCEEDED, as a response.
fn exceeded(message: &str) -> http::Response<Body> {
    Status::deadline_exceeded(message).into_http()
}

/// When the last message of a request stream arrived (its start until the first), shared
/// between the request body that sees it and the call that is cut without one.
struct LastMessage {
    started: Instant,
    /// Milliseconds from `started`.
    after: AtomicU64,
}

impl LastMessage {
    fn new(started: Instant) -> Self {
        Self {
            started,
            after: AtomicU64::new(0),
        }
    }

    fn now(&self) {
        let after = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.after.fetch_max(after, Ordering::Relaxed);
    }

    fn at(&self) -> Instant {
        self.started + Duration::from_millis(self.after.load(Ordering::Relaxed))
    }
}

/// A request body that records when each of its frames (and its end) arrived.
struct Watched {
    inner: Body,
    last_message: Arc<LastMessage>,
}

impl http_body::Body for Watched {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if polled.is_ready() {
            self.last_message.now();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// The client's `grpc-timeout` header (`<digits><unit>`, unit one of H M S m u n), if it
/// sent a valid one; an invalid one is ignored, as tonic did.
fn client_timeout(headers: &http::HeaderMap) -> Option<Duration> {
    let value = headers.get("grpc-timeout")?.to_str().ok()?;
    if value.len() < 2 || value.len() > 9 {
        return None;
    }
    let (digits, unit) = value.split_at(value.len() - 1);
    let amount: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(amount.checked_mul(3600)?),
        "M" => Duration::from_secs(amount.checked_mul(60)?),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use futures::StreamExt;
    use http_body::Body as _;
    use tokio::sync::mpsc;
    use tower::{Layer, ServiceExt};

    use super::*;

    const IMPORT: &str = "/haicheng.census.v1.CensusService/ImportReturns";
    const SUBMIT: &str = "/haicheng.census.v1.CensusService/SubmitReturn";

    fn deadlines() -> Deadlines {
        Deadlines {
            request: Duration::from_secs(30),
            stream_idle: Duration::from_secs(10),
            client_streams: HashSet::from([IMPORT.to_string()]),
        }
    }

    /// A handler that reads its request body to the end and answers with the bytes it read.
    fn reader() -> impl tower::Service<
        http::Request<Body>,
        Response = http::Response<Body>,
        Error = Infallible,
        Future = impl Send,
    > + Clone
    + Send
    + 'static {
        tower::service_fn(|request: http::Request<Body>| async move {
            let mut body = request.into_body();
            let mut read = 0usize;
            while let Some(frame) =
                std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await
            {
                match frame {
                    Ok(frame) => read += frame.data_ref().map_or(0, |d| d.len()),
                    Err(status) => return Ok(status.into_http()),
                }
            }
            Ok::<_, Infallible>(http::Response::new(Body::new(http_body_util::Full::new(
                Bytes::from(read.to_string()),
            ))))
        })
    }

    /// A request on `path` whose body is what the test sends on the returned channel.
    fn streamed(path: &str) -> (mpsc::Sender<Bytes>, http::Request<Body>) {
        let (tx, rx) = mpsc::channel::<Bytes>(1);
        let stream = tokio_stream::wrappers::ReceiverStream::new(rx)
            .map(|bytes| Ok::<_, Status>(Frame::data(bytes)));
        let body = Body::new(http_body_util::StreamBody::new(stream));
        let request = http::Request::builder().uri(path).body(body).unwrap();
        (tx, request)
    }

    fn grpc_status(response: &http::Response<Body>) -> Option<&str> {
        response
            .headers()
            .get("grpc-status")
            .and_then(|v| v.to_str().ok())
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_stream_that_keeps_sending_outlives_the_request_deadline() {
        let service = DeadlineLayer::new(deadlines()).layer(reader());
        let (tx, request) = streamed(IMPORT);
        let call = tokio::spawn(service.oneshot(request));
        // Ten minutes of messages 9 s apart: twenty request deadlines, never an idle one.
        for _ in 0..(600 / 9) {
            tx.send(Bytes::from_static(b"row")).await.unwrap();
            tokio::time::advance(Duration::from_secs(9)).await;
        }
        drop(tx);
        let response = call.await.unwrap().unwrap();
        assert_eq!(grpc_status(&response), None, "the call was cut");
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_stream_gone_silent_is_cut_with_deadline_exceeded() {
        let service = DeadlineLayer::new(deadlines()).layer(reader());
        let (tx, request) = streamed(IMPORT);
        let call = tokio::spawn(service.oneshot(request));
        tx.send(Bytes::from_static(b"row")).await.unwrap();
        // The sender stays open and silent; paused time runs to the idle deadline.
        let response = call.await.unwrap().unwrap();
        assert_eq!(grpc_status(&response), Some("4"));
        drop(tx);
    }

    #[tokio::test(start_paused = true)]
    async fn a_unary_call_keeps_the_request_deadline_and_a_shorter_client_one() {
        let service = DeadlineLayer::new(deadlines()).layer(reader());
        // A unary call whose body never ends is cut at the request deadline.
        let (tx, request) = streamed(SUBMIT);
        let response = service.clone().oneshot(request).await.unwrap();
        assert_eq!(grpc_status(&response), Some("4"));
        drop(tx);
        // A client stream whose client asked for 1 s is cut then, though it is not idle yet.
        let (tx, mut request) = streamed(IMPORT);
        request
            .headers_mut()
            .insert("grpc-timeout", http::HeaderValue::from_static("1S"));
        let call = tokio::spawn(service.oneshot(request));
        tx.send(Bytes::from_static(b"row")).await.unwrap();
        let response = call.await.unwrap().unwrap();
        assert_eq!(grpc_status(&response), Some("4"));
    }

    #[test]
    fn the_client_timeout_header_is_read_in_every_unit() {
        let header = |value: &'static str| {
            let mut headers = http::HeaderMap::new();
            headers.insert("grpc-timeout", http::HeaderValue::from_static(value));
            client_timeout(&headers)
        };
        assert_eq!(header("2H"), Some(Duration::from_secs(7200)));
        assert_eq!(header("3M"), Some(Duration::from_secs(180)));
        assert_eq!(header("30S"), Some(Duration::from_secs(30)));
        assert_eq!(header("250m"), Some(Duration::from_millis(250)));
        assert_eq!(header("7u"), Some(Duration::from_micros(7)));
        assert_eq!(header("9n"), Some(Duration::from_nanos(9)));
        assert_eq!(header("5x"), None);
        assert_eq!(header("S"), None);
        assert_eq!(header("123456789S"), None);
    }
}
