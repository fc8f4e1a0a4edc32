//! Logging and tracing: `tracing` to stdout (text or JSON), and OpenTelemetry spans that
//! are exported over OTLP when an endpoint is configured.
//!
//! Spans always get OpenTelemetry ids, exporter or not, so every log line inside a request
//! carries the trace id that Tempo (or a `traceparent` from the caller) knows it by.

use std::collections::HashMap;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig, WithTonicConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::{LogFormat, OtlpProtocol, OtlpSettings, TelemetrySettings};

/// Keeps the tracer provider alive; [`Telemetry::shutdown`] flushes buffered spans.
pub struct Telemetry {
    provider: SdkTracerProvider,
}

fn exporter(otlp: &OtlpSettings) -> anyhow::Result<opentelemetry_otlp::SpanExporter> {
    let builder = opentelemetry_otlp::SpanExporter::builder();
    let exporter = match otlp.protocol {
        OtlpProtocol::HttpProtobuf => {
            let headers: HashMap<String, String> = otlp
                .headers
                .iter()
                .map(|(name, value)| (name.clone(), value.expose().to_string()))
                .collect();
            builder
                .with_http()
                .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
                .with_endpoint(&otlp.traces_endpoint)
                .with_headers(headers)
                .build()?
        }
        OtlpProtocol::Grpc => {
            let mut metadata = tonic::metadata::MetadataMap::new();
            for (name, value) in &otlp.headers {
                let key: tonic::metadata::MetadataKey<tonic::metadata::Ascii> = name.parse()?;
                metadata.insert(key, value.expose().parse()?);
            }
            builder
                .with_tonic()
                .with_endpoint(&otlp.traces_endpoint)
                .with_metadata(metadata)
                .build()?
        }
    };
    Ok(exporter)
}

/// Installs the global subscriber. Call once, inside the Tokio runtime (the gRPC exporter
/// needs it).
pub fn init(settings: &TelemetrySettings) -> anyhow::Result<Telemetry> {
    let resource = Resource::builder()
        .with_service_name(settings.service_name.clone())
        .with_attribute(opentelemetry::KeyValue::new(
            "service.version",
            env!("CARGO_PKG_VERSION"),
        ))
        .build();
    let mut provider = SdkTracerProvider::builder().with_resource(resource);
    if let Some(otlp) = &settings.otlp {
        provider = provider.with_batch_exporter(exporter(otlp)?);
    }
    let provider = provider.build();
    let tracer = provider.tracer("nomad-gateway");
    // The filter sits on the log layer only: a span the log level hides must still reach
    // OpenTelemetry, or it would have no trace id (see STACK.md, trap 5).
    let filter = EnvFilter::try_new(log_filter(&settings.log_filter))?;
    let fmt = match settings.log_format {
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_target(false)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .flatten_event(true)
            .boxed(),
    };
    // OpenTelemetry gets every span but only the events worth a span event (warnings and
    // errors): libraries emit debug and trace events on every request, and turning each
    // into a span event cost a fifth of the CPU per call. Busy/idle times and thread
    // attributes are left out for the same reason (docs/benchmarks.md). Not a per-layer
    // filter: with one on this layer, the log layer intermittently lost the request span's
    // fields (tokio-rs/tracing-opentelemetry#257 describes the same interaction).
    let otel = SpansAndWarnings(
        tracing_opentelemetry::layer()
            .with_tracer(tracer)
            .with_tracked_inactivity(false)
            .with_threads(false),
    );
    tracing_subscriber::registry()
        .with(fmt.with_filter(filter))
        .with(otel)
        .try_init()?;
    if let Some(otlp) = &settings.otlp {
        tracing::info!(otlp.endpoint = %otlp.traces_endpoint, "exporting traces over OTLP");
    }
    Ok(Telemetry { provider })
}

impl Telemetry {
    /// Flushes and stops the exporter. Blocking; runs off the async workers.
    pub async fn shutdown(self) {
        let provider = self.provider;
        let flushed = tokio::task::spawn_blocking(move || provider.shutdown()).await;
        if let Ok(Err(error)) = flushed {
            eprintln!("trace export did not flush cleanly: {error}");
        }
    }
}

/// The OpenTelemetry layer with events below WARN left out; everything else is passed on,
/// `downcast_raw` included (it is how `OpenTelemetrySpanExt::context` finds the span data).
struct SpansAndWarnings<L>(L);

impl<S, L> tracing_subscriber::Layer<S> for SpansAndWarnings<L>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    L: tracing_subscriber::Layer<S>,
{
    fn on_register_dispatch(&self, subscriber: &tracing::Dispatch) {
        self.0.on_register_dispatch(subscriber);
    }
    fn on_layer(&mut self, subscriber: &mut S) {
        self.0.on_layer(subscriber);
    }
    fn register_callsite(
        &self,
        metadata: &'static tracing::Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        self.0.register_callsite(metadata)
    }
    fn enabled(
        &self,
        metadata: &tracing::Metadata<'_>,
        ctx: tracing_subscriber::layer::Context<'_, S>,
    ) -> bool {
        self.0.enabled(metadata, ctx)
    }
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        self.0.on_new_span(attrs, id, ctx);
    }
    fn on_record(
        &self,
        span: &tracing::span::Id,
        values: &tracing::span::Record<'_>,
        ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        self.0.on_record(span, values, ctx);
    }
    fn on_follows_from(
        &self,
        span: &tracing::span::Id,
        follows: &tracing::span::Id,
        ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        self.0.on_follows_from(span, follows, ctx);
    }
    fn on_event(&self, event: &tracing::Event<'_>, ctx: tracing_subscriber::layer::Context<'_, S>) {
        if *event.metadata().level() <= tracing::Level::WARN {
            self.0.on_event(event, ctx);
        }
    }
    fn on_enter(&self, id: &tracing::span::Id, ctx: tracing_subscriber::layer::Context<'_, S>) {
        self.0.on_enter(id, ctx);
    }
    fn on_exit(&self, id: &tracing::span::Id, ctx: tracing_subscriber::layer::Context<'_, S>) {
        self.0.on_exit(id, ctx);
    }
    fn on_close(&self, id: tracing::span::Id, ctx: tracing_subscriber::layer::Context<'_, S>) {
        self.0.on_close(id, ctx);
    }
    fn on_id_change(
        &self,
        old: &tracing::span::Id,
        new: &tracing::span::Id,
        ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        self.0.on_id_change(old, new, ctx);
    }
    unsafe fn downcast_raw(&self, id: std::any::TypeId) -> Option<*const ()> {
        if id == std::any::TypeId::of::<Self>() {
            return Some(self as *const Self as *const ());
        }
        // SAFETY: forwarded unchanged; the inner layer answers for its own types.
        unsafe { self.0.downcast_raw(id) }
    }
}

/// The log filter as `RUST_LOG` gives it, except that rmcp stays at `info` under a
/// `debug` or `trace` filter that does not name it: its debug events print whole MCP
/// messages (`service.rs`: "received request" with `?request`, "response message" with
/// `?result`), so tool arguments and answers, variable values among them, would reach the
/// log. Naming `rmcp` in `RUST_LOG` turns that on deliberately.
fn log_filter(text: &str) -> String {
    let verbose = EnvFilter::try_new(text)
        .ok()
        .and_then(|f| f.max_level_hint())
        .is_some_and(|level| level > tracing::level_filters::LevelFilter::INFO);
    if verbose && !text.contains("rmcp") {
        format!("{text},rmcp=info")
    } else {
        text.to_string()
    }
}

/// Makes `span` continue the W3C trace context in `fields` (`traceparent` and
/// `tracestate`, as an HTTP request's headers or an MCP request's `_meta` carry them), when
/// they hold a valid one.
pub fn continue_trace(span: &tracing::Span, fields: &dyn opentelemetry::propagation::Extractor) {
    use opentelemetry::propagation::TextMapPropagator;
    use opentelemetry::trace::TraceContextExt;
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    // From an empty context: `extract` would fall back to the current one (the span the
    // caller runs in) and make it the parent when the carrier has no trace.
    let parent = opentelemetry_sdk::propagation::TraceContextPropagator::new()
        .extract_with_context(&opentelemetry::Context::new(), fields);
    if parent.span().span_context().is_valid() {
        // Fails only when the span is disabled, and then there is nothing to continue.
        let _ = span.set_parent(parent);
    }
}

#[cfg(test)]
mod filter_tests {
    #[test]
    fn rmcp_stays_at_info_unless_named() {
        assert_eq!(super::log_filter("info"), "info");
        assert_eq!(super::log_filter("warn"), "warn");
        assert_eq!(super::log_filter("debug"), "debug,rmcp=info");
        assert_eq!(
            super::log_filter("info,nomad_gateway=trace"),
            "info,nomad_gateway=trace,rmcp=info"
        );
        assert_eq!(super::log_filter("debug,rmcp=debug"), "debug,rmcp=debug");
    }
}
