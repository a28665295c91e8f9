//! The tower layer that writes the audit records of a gRPC server's calls.
//!
//! It is the outermost layer, so it sees admission's shedding and the access gate's refusals
//! as well as the handlers'. It reads the outcome from the response headers: a unary call,
//! and any call refused before its first message, carries its status there. A failed call's
//! status message (what the caller was told; never a credential) goes into the detail when
//! the handler named no subject. A stream that fails later
//! carries it in the trailers and is recorded as the OK it started with (an audited read's
//! stream is recorded when it is opened).

use std::{
    collections::BTreeSet,
    sync::Arc,
    task::{Context, Poll},
};

use futures::future::BoxFuture;
use serde_json::Value;
use tonic::{
    Code, Status,
    body::Body,
    transport::server::{TcpConnectInfo, TlsConnectInfo},
};

use super::{AuditLog, Subject, writer::Record};
use crate::{auth::AccessPolicy, error::code_name};

/// What every call of the layer shares.
struct Shared {
    log: AuditLog,
    /// The gRPC paths recorded on every call, not only when refused.
    reads: BTreeSet<String>,
    /// Names the caller of a call (the same tokens the gate checks).
    policy: AccessPolicy,
}

/// Records refusals and audited reads in `log`.
#[derive(Clone)]
pub struct AuditLayer(Arc<Shared>);

impl AuditLayer {
    pub fn new(log: AuditLog, reads: BTreeSet<String>, policy: AccessPolicy) -> Self {
        Self(Arc::new(Shared { log, reads, policy }))
    }
}

impl<S> tower::Layer<S> for AuditLayer {
    type Service = Audited<S>;
    fn layer(&self, inner: S) -> Self::Service {
        Audited {
            inner,
            shared: self.0.clone(),
        }
    }
}

/// The service behind an [`AuditLayer`].
#[derive(Clone)]
pub struct Audited<S> {
    inner: S,
    shared: Arc<Shared>,
}

/// Codes that mean the caller was turned away.
fn is_refusal(code: Code) -> bool {
    matches!(
        code,
        Code::Unauthenticated | Code::PermissionDenied | Code::ResourceExhausted
    )
}

impl<S> tower::Service<http::Request<Body>> for Audited<S>
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
        let at = chrono::Utc::now();
        let method = request.uri().path().to_string();
        let read = self.shared.reads.contains(&method);
        // The connection: plain TCP, or TLS over TCP with the client's verified certificate
        // chain under mutual TLS (kept, a shared pointer, to name a refused caller by it).
        let extensions = request.extensions();
        let (tcp, peer_certs) = match extensions.get::<TlsConnectInfo<TcpConnectInfo>>() {
            Some(tls) => (Some(tls.get_ref()), tls.peer_certs()),
            None => (extensions.get::<TcpConnectInfo>(), None),
        };
        let peer = tcp
            .and_then(TcpConnectInfo::remote_addr)
            .map(|addr| addr.to_string());
        // Only the header is kept (to name the caller afterwards), never written anywhere.
        let mut credentials = http::HeaderMap::new();
        if let Some(value) = request.headers().get(http::header::AUTHORIZATION) {
            credentials.insert(http::header::AUTHORIZATION, value.clone());
        }
        let shared = self.shared.clone();
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await?;
            let status = Status::from_header_map(response.headers());
            let code = status.as_ref().map_or(Code::Ok, Status::code);
            let refused = is_refusal(code);
            if !refused && !read {
                return Ok(response);
            }
            let subject = response.extensions().get::<Subject>().cloned();
            let (uscc, detail) = subject.map_or((None, Value::Null), |s| (s.uscc, s.detail));
            let record = Record {
                at,
                method,
                principal: shared
                    .policy
                    .identify(&credentials, peer_certs.as_deref().map(Vec::as_slice))
                    .map_or_else(|| "anonymous".to_string(), |who| who.to_string()),
                peer,
                code: code_name(code).to_string(),
                uscc,
                detail: match (detail, &status) {
                    (Value::Null, Some(status)) if code != Code::Ok => {
                        serde_json::json!({ "message": status.message() })
                    }
                    (Value::Null, _) => Value::Object(Default::default()),
                    (detail, _) => detail,
                },
            };
            if shared.log.try_record(record).is_ok() {
                return Ok(response);
            }
            shared.log.count_dropped();
            if refused {
                tracing::warn!("audit: queue full; a refusal went unrecorded");
                return Ok(response);
            }
            // An audited read that cannot be recorded is not shown.
            Ok(
                Status::unavailable("the audit log is not keeping up; try again shortly")
                    .into_http(),
            )
        })
    }
}
