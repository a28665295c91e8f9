//! Per-caller limits, after the auth gate: one principal that calls too fast or holds too
//! many streams gets RESOURCE_EXHAUSTED with a `google.rpc.RetryInfo` (and a `QuotaFailure`
//! naming the limit), while the others are still served. The process-wide cap of
//! [`super::admission`] stays as the last guard.
//!
//! - **Rate**: a token bucket per (principal, method group), [`bucket`]. The group of a
//!   method follows from its contract and its access rule, so a new method needs no extra
//!   declaration: a client-streaming method is an **import**; a method whose rule's scope
//!   ends in `.read` is a **read** (WatchNotices too: opening a stream is a read); any other
//!   is a **write**. `RATE_LIMIT_READS`, `RATE_LIMIT_WRITES`, `RATE_LIMIT_IMPORTS`.
//! - **Streams**: a server-streaming method (WatchNotices, reflection) holds a slot of the
//!   principal's and of the process's stream caps for as long as its response body lives,
//!   [`streams`]: `WATCH_STREAMS_PER_PRINCIPAL`, `WATCH_STREAMS_MAX`.
//!
//! Anonymous calls (the public methods: health, public reflection) carry no principal and
//! are not limited here; the global cap covers them.

mod bucket;
pub mod config;
mod streams;

use std::{
    collections::HashMap,
    sync::Arc,
    task::{Context, Poll},
    time::{Duration, Instant},
};

use futures::future::BoxFuture;
use prost::Message;
use prost_types::FileDescriptorSet;
use tonic::{Code, Status, body::Body};
use tonic_types::{ErrorDetails, StatusExt};

use self::{bucket::Buckets, config::LimitsConfig, streams::StreamCaps};
pub use self::{
    config::{RateLimit, Reflection},
    streams::Full,
};
use super::{admission::CallerLabel, held};
use crate::auth::{AccessPolicy, Identity, Principal, Rule};

/// The retry delay a refused stream is told: streams end at their client's pace, so this is
/// a hint to come back later, not a promise of a free slot.
pub const STREAM_RETRY: Duration = Duration::from_secs(10);

/// Reflection's one method, a stream.
const REFLECTION_INFO: &str = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo";

/// Which rate limit a method counts against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Group {
    Reads,
    Writes,
    Imports,
}

impl Group {
    fn name(self) -> &'static str {
        match self {
            Group::Reads => "reads",
            Group::Writes => "writes",
            Group::Imports => "imports",
        }
    }
}

/// What the limits know of one method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MethodClass {
    pub group: Group,
    /// A server stream: it takes a stream slot for its life.
    pub stream: bool,
}

/// The limits of one process.
pub struct Limits {
    methods: HashMap<String, MethodClass>,
    rates: HashMap<Group, Buckets<Identity>>,
    streams: StreamCaps<Identity>,
}

impl Limits {
    /// The limits of `config` over the methods of `services` in `descriptor_set`, grouped by
    /// their rules in `policy`.
    pub fn new(
        config: &LimitsConfig,
        descriptor_set: &[u8],
        services: &[&str],
        policy: &AccessPolicy,
    ) -> anyhow::Result<Self> {
        let rates = [
            (Group::Reads, config.reads),
            (Group::Writes, config.writes),
            (Group::Imports, config.imports),
        ]
        .into_iter()
        .filter_map(|(group, limit)| limit.0.map(|rate| (group, Buckets::new(rate))))
        .collect();
        Ok(Self {
            methods: classify(descriptor_set, services, policy)?,
            rates,
            streams: StreamCaps::new(config.streams_per_principal, config.streams_max),
        })
    }

    /// The class of a call to `path`: from the contract, or a read for what the platform
    /// serves itself (reflection is a stream).
    pub fn class(&self, path: &str) -> MethodClass {
        self.methods.get(path).copied().unwrap_or(MethodClass {
            group: Group::Reads,
            stream: path == REFLECTION_INFO,
        })
    }

    /// Admits one call of `who` to `path` at `now`: the stream slot it must hold if it is a
    /// stream, or the RESOURCE_EXHAUSTED to answer with.
    pub fn admit(
        &self,
        path: &str,
        who: &Identity,
        now: Instant,
    ) -> Result<Option<streams::Slot<Identity>>, Status> {
        let class = self.class(path);
        if let Some(buckets) = self.rates.get(&class.group) {
            buckets.take(who, now).map_err(|wait| {
                let rate = buckets.rate();
                resource_exhausted(
                    format!(
                        "{who} is calling faster than its limit for {} ({rate}); retry in {} ms",
                        class.group.name(),
                        wait.as_millis().max(1)
                    ),
                    wait,
                    who.to_string(),
                    format!(
                        "{}: {rate} (calls/unit,burst) per principal",
                        class.group.name()
                    ),
                )
            })?;
        }
        if !class.stream {
            return Ok(None);
        }
        self.streams.open(who).map(Some).map_err(|full| {
            let (whose, cap) = match full {
                Full::Principal(cap) => (format!("{who} holds"), cap),
                Full::Process(cap) => ("this server holds".to_string(), cap),
            };
            resource_exhausted(
                format!(
                    "{whose} {cap} open streams, the most allowed; close one (or retry later, \
                     or on another replica)"
                ),
                STREAM_RETRY,
                who.to_string(),
                format!("open streams: {cap}"),
            )
        })
    }
}

/// RESOURCE_EXHAUSTED with a RetryInfo (`retry`: when to come back) and a QuotaFailure
/// (`subject`: whose limit; `quota`: which), as every limit answers.
pub fn resource_exhausted(
    message: impl Into<String>,
    retry: Duration,
    subject: impl Into<String>,
    quota: impl Into<String>,
) -> Status {
    let mut details = ErrorDetails::with_retry_info(Some(retry));
    details.add_quota_failure_violation(subject, quota);
    Status::with_error_details(Code::ResourceExhausted, message, details)
}

/// Every method of `services` with its group and whether it is a server stream.
fn classify(
    descriptor_set: &[u8],
    services: &[&str],
    policy: &AccessPolicy,
) -> anyhow::Result<HashMap<String, MethodClass>> {
    let set = FileDescriptorSet::decode(descriptor_set)
        .map_err(|err| anyhow::anyhow!("the service's descriptor set does not decode: {err}"))?;
    let mut methods = HashMap::new();
    for file in &set.file {
        for service in &file.service {
            let name = format!("{}.{}", file.package(), service.name());
            if !services.contains(&name.as_str()) {
                continue;
            }
            for method in &service.method {
                let path = format!("/{name}/{}", method.name());
                let scope = match policy.rule_for(&path) {
                    Some(Rule::Scope(scope) | Rule::ScopeOrEnterprise(scope)) => Some(*scope),
                    Some(Rule::Public) | None => None,
                };
                let group = if method.client_streaming() {
                    Group::Imports
                } else if scope.is_some_and(|s| s.ends_with(".read")) {
                    Group::Reads
                } else {
                    Group::Writes
                };
                let stream = method.server_streaming();
                methods.insert(path, MethodClass { group, stream });
            }
        }
    }
    Ok(methods)
}

/// Applies [`Limits`] to every call that carries a principal.
#[derive(Clone)]
pub struct LimitsLayer(Arc<Limits>);

impl LimitsLayer {
    pub fn new(limits: Limits) -> Self {
        Self(Arc::new(limits))
    }
}

impl<S> tower::Layer<S> for LimitsLayer {
    type Service = Limited<S>;
    fn layer(&self, inner: S) -> Self::Service {
        Limited {
            inner,
            limits: self.0.clone(),
        }
    }
}

/// The service behind a [`LimitsLayer`].
#[derive(Clone)]
pub struct Limited<S> {
    inner: S,
    limits: Arc<Limits>,
}

impl<S> tower::Service<http::Request<Body>> for Limited<S>
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
        // For the request metrics (admission's layer, outside the access check).
        let caller = request
            .extensions()
            .get::<Principal>()
            .map(|principal| CallerLabel(principal.identity.metric_label()));
        let admitted = match request.extensions().get::<Principal>() {
            None => Ok(None),
            Some(principal) => {
                self.limits
                    .admit(request.uri().path(), &principal.identity, Instant::now())
            }
        };
        let slot = match admitted {
            Ok(slot) => slot,
            Err(status) => {
                tracing::debug!(status = %status.message(), "call refused by a per-caller limit");
                let mut response = status.into_http();
                if let Some(caller) = caller {
                    response.extensions_mut().insert(caller);
                }
                return Box::pin(async move { Ok(response) });
            }
        };
        // The clone that was polled ready serves this call (tower's usual swap).
        let ready = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, ready);
        Box::pin(async move {
            let mut response = inner.call(request).await?;
            if let Some(caller) = caller {
                response.extensions_mut().insert(caller);
            }
            Ok(match slot {
                Some(slot) => held::hold(response, slot),
                None => response,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::auth::{Department, TokenTable, scopes};

    const CENSUS: &str = "haicheng.census.v1.CensusService";
    const NOTICES: &str = "haicheng.policy.v1.NoticeService";

    fn department(d: Department) -> Identity {
        Identity::Department(d)
    }

    fn limits(config: &[(&str, &str)]) -> Limits {
        let lookup = crate::config::lookup_in(config);
        let config = crate::PlatformConfig::from_lookup("t", 1, lookup).unwrap();
        let policy = AccessPolicy::new(TokenTable::development())
            .allow(&format!("/{CENSUS}/"), Rule::Scope(scopes::CENSUS_WRITE))
            .allow(
                &format!("/{CENSUS}/GetEnterpriseFile"),
                Rule::ScopeOrEnterprise(scopes::CENSUS_READ),
            )
            .allow(&format!("/{NOTICES}/"), Rule::Scope(scopes::NOTICES_READ))
            .allow(
                &format!("/{NOTICES}/AcknowledgeNotice"),
                Rule::Scope(scopes::NOTICES_ACK),
            );
        Limits::new(
            &config.limits,
            haicheng_proto::FILE_DESCRIPTOR_SET,
            &[CENSUS, NOTICES],
            &policy,
        )
        .unwrap()
    }

    #[test]
    fn methods_are_grouped_by_their_contract_and_rule() {
        let limits = limits(&[]);
        let class = |path: &str| limits.class(path);
        let read = MethodClass {
            group: Group::Reads,
            stream: false,
        };
        assert_eq!(class(&format!("/{CENSUS}/GetEnterpriseFile")), read);
        assert_eq!(
            class(&format!("/{CENSUS}/SubmitReturn")).group,
            Group::Writes
        );
        assert_eq!(
            class(&format!("/{CENSUS}/ImportReturns")).group,
            Group::Imports
        );
        assert_eq!(
            class(&format!("/{NOTICES}/WatchNotices")),
            MethodClass {
                group: Group::Reads,
                stream: true
            }
        );
        assert_eq!(
            class(&format!("/{NOTICES}/AcknowledgeNotice")).group,
            Group::Writes
        );
        assert!(class(REFLECTION_INFO).stream);
        let streams: BTreeSet<&str> = limits
            .methods
            .iter()
            .filter(|(_, c)| c.stream)
            .map(|(p, _)| p.as_str())
            .collect();
        assert_eq!(
            streams,
            BTreeSet::from(["/haicheng.policy.v1.NoticeService/WatchNotices"])
        );
    }

    #[test]
    fn one_principal_over_its_rate_is_refused_with_retry_info_and_another_is_not() {
        let limits = limits(&[("RATE_LIMIT_READS", "1/h,2")]);
        let read = format!("/{CENSUS}/GetEnterpriseFile");
        let (finance, tax) = (department(Department::Finance), department(Department::Tax));
        let now = Instant::now();
        for _ in 0..2 {
            assert!(limits.admit(&read, &finance, now).is_ok());
        }
        let refused = limits.admit(&read, &finance, now).err().unwrap();
        assert_eq!(refused.code(), Code::ResourceExhausted);
        let retry = refused.get_details_retry_info().expect("a RetryInfo");
        assert_eq!(retry.retry_delay, Some(Duration::from_secs(3600)));
        let quota = refused.get_details_quota_failure().expect("a QuotaFailure");
        assert_eq!(quota.violations[0].subject, "department:finance");
        assert!(refused.message().contains("reads"), "{}", refused.message());

        assert!(
            limits.admit(&read, &tax, now).is_ok(),
            "tax has its own bucket"
        );
        let write = format!("/{CENSUS}/SubmitReturn");
        assert!(
            limits.admit(&write, &finance, now).is_ok(),
            "writes have their own limit"
        );
    }

    #[test]
    fn streams_are_capped_per_principal_and_per_process_until_their_slots_go() {
        let limits = limits(&[
            ("WATCH_STREAMS_PER_PRINCIPAL", "2"),
            ("WATCH_STREAMS_MAX", "3"),
        ]);
        let watch = format!("/{NOTICES}/WatchNotices");
        let list = format!("/{NOTICES}/ListNotices");
        let (finance, tax, commerce) = (
            department(Department::Finance),
            department(Department::Tax),
            department(Department::Commerce),
        );
        let now = Instant::now();
        let open = |who: &Identity| limits.admit(&watch, who, now);
        let first = open(&finance).unwrap().expect("a slot");
        let _second = open(&finance).unwrap().expect("a slot");
        let refused = open(&finance).err().unwrap();
        assert_eq!(refused.code(), Code::ResourceExhausted);
        assert_eq!(
            refused.get_details_retry_info().unwrap().retry_delay,
            Some(STREAM_RETRY)
        );
        assert!(
            limits.admit(&list, &finance, now).unwrap().is_none(),
            "unary calls need no slot"
        );
        let _tax = open(&tax).unwrap();
        let refused = open(&commerce).err().unwrap();
        assert!(
            refused.message().contains("this server"),
            "{}",
            refused.message()
        );
        drop(first);
        assert!(open(&commerce).is_ok(), "the slot was given back");
    }
}
