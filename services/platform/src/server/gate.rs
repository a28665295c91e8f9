//! One tower layer for the checks made on every call before any handler runs: a [`Gate`]
//! either answers the call itself with a status, or lets it through (having, perhaps, added
//! to its extensions). The served-methods check and the access policy are both gates.

use std::{
    sync::Arc,
    task::{Context, Poll},
};

use futures::future::BoxFuture;
use tonic::{Status, body::Body};

/// A check of each call.
pub trait Gate: Send + Sync + 'static {
    /// `Err(status)` answers the call with `status`; `Ok` passes it on.
    fn check(&self, request: &mut http::Request<Body>) -> Result<(), Status>;
}

/// Applies a [`Gate`] to every call.
pub struct GateLayer<G>(Arc<G>);

impl<G> GateLayer<G> {
    pub fn new(gate: G) -> Self {
        Self(Arc::new(gate))
    }
}

impl<G> Clone for GateLayer<G> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<S, G> tower::Layer<S> for GateLayer<G> {
    type Service = Gated<S, G>;
    fn layer(&self, inner: S) -> Self::Service {
        Gated {
            inner,
            gate: self.0.clone(),
        }
    }
}

/// The service behind a [`GateLayer`].
pub struct Gated<S, G> {
    inner: S,
    gate: Arc<G>,
}

impl<S: Clone, G> Clone for Gated<S, G> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            gate: self.gate.clone(),
        }
    }
}

impl<S, G> tower::Service<http::Request<Body>> for Gated<S, G>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    G: Gate,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<Body>) -> Self::Future {
        if let Err(status) = self.gate.check(&mut request) {
            return Box::pin(async move { Ok(status.into_http()) });
        }
        // The clone that was polled ready serves this call (tower's usual swap).
        let ready = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, ready);
        Box::pin(inner.call(request))
    }
}
