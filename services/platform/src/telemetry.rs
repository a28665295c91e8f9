//! Telemetry: JSON logs that carry the trace id, OpenTelemetry traces and metrics, and the
//! W3C trace context carried across gRPC metadata and Kafka headers.
//!
//! Traces and metrics always go through the OpenTelemetry SDK, so spans get real trace ids
//! (logs and propagated headers need them); they leave the process only when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set.

use std::{collections::HashMap, fmt, sync::OnceLock};

use opentelemetry::{
    Context, KeyValue, global,
    propagation::{Extractor, Injector},
    trace::{TraceContextExt, TracerProvider as _},
};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::{
    Resource, metrics::SdkMeterProvider, propagation::TraceContextPropagator,
    trace::SdkTracerProvider,
};
use serde_json::{Map, Value};
use tracing::{Event, Subscriber, field::Field};
use tracing_subscriber::{
    EnvFilter,
    fmt::{FmtContext, FormatEvent, FormatFields, format::Writer},
    layer::SubscriberExt,
    registry::LookupSpan,
    util::SubscriberInitExt,
};

/// Keeps the providers alive; [`Telemetry::shutdown`] flushes what is buffered.
pub struct Telemetry {
    tracer_provider: SdkTracerProvider,
    meter_provider: SdkMeterProvider,
}

impl Telemetry {
    /// Installs the global subscriber, tracer and meter providers and the W3C propagator.
    /// Call once per process; a second call keeps the first installation and says so.
    pub fn init(
        service_name: &'static str,
        otlp_endpoint: Option<&str>,
        log_filter: Option<&str>,
    ) -> anyhow::Result<Self> {
        global::set_text_map_propagator(TraceContextPropagator::new());
        let resource = Resource::builder().with_service_name(service_name).build();

        let mut traces = SdkTracerProvider::builder().with_resource(resource.clone());
        let mut metrics = SdkMeterProvider::builder().with_resource(resource);
        if let Some(endpoint) = otlp_endpoint {
            let span_exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .with_endpoint(endpoint)
                .build()?;
            let metric_exporter = opentelemetry_otlp::MetricExporter::builder()
                .with_tonic()
                .with_endpoint(endpoint)
                .build()?;
            traces = traces.with_batch_exporter(span_exporter);
            metrics = metrics.with_periodic_exporter(metric_exporter);
        }
        let tracer_provider = traces.build();
        let meter_provider = metrics.build();
        global::set_tracer_provider(tracer_provider.clone());
        global::set_meter_provider(meter_provider.clone());

        let filter = EnvFilter::try_new(log_filter.unwrap_or("info"))
            .map_err(|err| anyhow::anyhow!("RUST_LOG is invalid: {err}"))?;
        let installed = tracing_subscriber::registry()
            .with(filter)
            .with(tracing_opentelemetry::layer().with_tracer(tracer_provider.tracer(service_name)))
            .with(tracing_subscriber::fmt::layer().event_format(JsonWithTraceId))
            .try_init();
        if installed.is_err() {
            tracing::debug!("a tracing subscriber was already installed; keeping it");
        }
        Ok(Self {
            tracer_provider,
            meter_provider,
        })
    }

    /// Flushes spans and metrics still buffered; the last step of a graceful shutdown.
    pub fn shutdown(&self) {
        if let Err(err) = self.tracer_provider.force_flush() {
            eprintln!("telemetry: flushing traces failed: {err}");
        }
        let _ = self.meter_provider.force_flush();
        let _ = self.tracer_provider.shutdown();
        let _ = self.meter_provider.shutdown();
    }
}

/// For tests: telemetry installed once per process, without export, so spans have ids.
pub fn init_for_tests() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let telemetry = Telemetry::init("test", None, Some("info")).expect("test telemetry");
        // The providers must outlive every test of the process.
        std::mem::forget(telemetry);
    });
}

/// The trace id of the active span, as 32 hex digits, or `None` outside any trace.
pub fn current_trace_id() -> Option<String> {
    let context = Context::current();
    let span_context = context.span().span_context().clone();
    span_context
        .is_valid()
        .then(|| span_context.trace_id().to_string())
}

/// W3C trace context headers (`traceparent`, `tracestate`) of the active span.
pub fn inject_current() -> HashMap<String, String> {
    let mut carrier = HashMap::new();
    global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&Context::current(), &mut carrier)
    });
    carrier
}

/// The remote context carried by a set of headers (gRPC metadata, Kafka headers).
pub fn extract(carrier: &dyn Extractor) -> Context {
    global::get_text_map_propagator(|propagator| propagator.extract(carrier))
}

/// Makes `span` a child of the trace carried by `carrier`; a missing or bad header leaves it a root.
pub fn set_remote_parent(span: &tracing::Span, carrier: &dyn Extractor) {
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    let parent = extract(carrier);
    if parent.span().span_context().is_valid() {
        let _ = span.set_parent(parent);
    }
}

/// Adapts HTTP headers (gRPC metadata travels as HTTP/2 headers) to the propagator.
pub struct HeaderExtractor<'a>(pub &'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|name| name.as_str()).collect()
    }
}

/// Adds the active trace context to outgoing gRPC calls (use with `InterceptedService`).
#[derive(Clone, Copy, Debug, Default)]
pub struct PropagateContext;

impl tonic::service::Interceptor for PropagateContext {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        struct MetadataInjector<'a>(&'a mut tonic::metadata::MetadataMap);
        impl Injector for MetadataInjector<'_> {
            fn set(&mut self, key: &str, value: String) {
                if let (Ok(key), Ok(value)) = (
                    tonic::metadata::MetadataKey::from_bytes(key.as_bytes()),
                    value.parse(),
                ) {
                    self.0.insert(key, value);
                }
            }
        }
        global::get_text_map_propagator(|propagator| {
            propagator.inject_context(
                &Context::current(),
                &mut MetadataInjector(request.metadata_mut()),
            )
        });
        Ok(request)
    }
}

/// A metric attribute, shortened for call sites.
pub fn attr(key: &'static str, value: impl Into<opentelemetry::Value>) -> KeyValue {
    KeyValue::new(key, value)
}

/// One JSON object per line: time, level, target, message and fields, span name, and the
/// OpenTelemetry trace and span ids so a log line leads to its trace.
struct JsonWithTraceId;

impl<S, N> FormatEvent<S, N> for JsonWithTraceId
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let metadata = event.metadata();
        let mut line = Map::new();
        line.insert("time".into(), chrono::Utc::now().to_rfc3339().into());
        line.insert("level".into(), metadata.level().as_str().into());
        line.insert("target".into(), metadata.target().into());
        let mut fields = FieldsToJson(Map::new());
        event.record(&mut fields);
        line.extend(fields.0);
        if let Some(span) = ctx.lookup_current() {
            line.insert("span".into(), span.name().into());
        }
        // The OpenTelemetry layer activates the entered span's context on this thread.
        let context = Context::current();
        let span_context = context.span().span_context().clone();
        if span_context.is_valid() {
            line.insert(
                "trace_id".into(),
                span_context.trace_id().to_string().into(),
            );
            line.insert("span_id".into(), span_context.span_id().to_string().into());
        }
        writeln!(writer, "{}", Value::Object(line))
    }
}

struct FieldsToJson(Map<String, Value>);

impl tracing::field::Visit for FieldsToJson {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().into(), format!("{value:?}").into());
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), value.into());
    }
}
