//! Traces: the server span reaches an OTLP receiver and continues the caller's trace.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;

use crate::support::{Gateway, TestDb, base_env, set};

/// An OTLP/HTTP receiver (`POST /v1/traces`, protobuf) that keeps every span it gets.
pub async fn otlp_receiver() -> (String, Arc<Mutex<Vec<(String, Span)>>>) {
    let spans: Arc<Mutex<Vec<(String, Span)>>> = Arc::default();
    let store = spans.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |body: axum::body::Bytes| {
            let store = store.clone();
            async move {
                let request = ExportTraceServiceRequest::decode(body).expect("OTLP protobuf");
                for resource in request.resource_spans {
                    let service = resource
                        .resource
                        .iter()
                        .flat_map(|r| r.attributes.iter())
                        .find(|kv| kv.key == "service.name")
                        .and_then(|kv| kv.value.as_ref())
                        .map(|v| format!("{v:?}"))
                        .unwrap_or_default();
                    for scope in resource.scope_spans {
                        for span in scope.spans {
                            store.lock().unwrap().push((service.clone(), span));
                        }
                    }
                }
                ""
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), spans)
}

/// An OTLP/gRPC receiver (the collector's `TraceService`) that keeps every span it gets.
async fn otlp_grpc_receiver() -> (String, Arc<Mutex<Vec<(String, Span)>>>) {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
    use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
        TraceService, TraceServiceServer,
    };

    struct Receiver(Arc<Mutex<Vec<(String, Span)>>>);

    #[tonic::async_trait]
    impl TraceService for Receiver {
        async fn export(
            &self,
            request: tonic::Request<ExportTraceServiceRequest>,
        ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
            for resource in request.into_inner().resource_spans {
                for scope in resource.scope_spans {
                    for span in scope.spans {
                        self.0.lock().unwrap().push((String::new(), span));
                    }
                }
            }
            Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
        }
    }

    let spans: Arc<Mutex<Vec<(String, Span)>>> = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let service = TraceServiceServer::new(Receiver(spans.clone()));
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
            .await
            .unwrap()
    });
    (format!("http://{addr}"), spans)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn server_span_continues_the_incoming_traceparent() {
    let db = TestDb::new().await;
    let (endpoint, spans) = otlp_receiver().await;
    let mut env = base_env(&db);
    set(&mut env, "OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint);
    set(&mut env, "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf");
    set(&mut env, "OTEL_SERVICE_NAME", "gateway-under-test");
    // Health checks log at debug, so they do not drown the log at the default level.
    set(&mut env, "RUST_LOG", "info,nomad_gateway=debug");
    let mut gateway = Gateway::start(&env);

    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let parent_id = "00f067aa0ba902b7";
    let response = reqwest::Client::new()
        .get(gateway.url("/healthz"))
        .header("traceparent", format!("00-{trace_id}-{parent_id}-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // The trace id is on the request's log line too.
    gateway.wait_for_log(trace_id, Duration::from_secs(5)).await;

    // Shutdown flushes the batch exporter.
    gateway.signal("TERM");
    assert!(gateway.wait_exit(Duration::from_secs(15)).await.success());

    let spans = spans.lock().unwrap();
    let (service, span) = spans
        .iter()
        .find(|(_, s)| s.name == "GET /healthz")
        .unwrap_or_else(|| {
            panic!(
                "no server span exported; got {:?}",
                spans.iter().map(|(_, s)| &s.name).collect::<Vec<_>>()
            )
        });
    assert!(service.contains("gateway-under-test"), "{service}");
    assert_eq!(hex(&span.trace_id), trace_id);
    assert_eq!(hex(&span.parent_span_id), parent_id);
    assert_eq!(span.kind, 2, "SPAN_KIND_SERVER");
    let status = span
        .attributes
        .iter()
        .find(|kv| kv.key == "http.response.status_code")
        .and_then(|kv| kv.value.as_ref())
        .map(|v| format!("{v:?}"));
    assert!(
        status.is_some_and(|s| s.contains("200")),
        "{:?}",
        span.attributes
    );
}

#[tokio::test]
async fn spans_are_exported_over_grpc_too() {
    let db = TestDb::new().await;
    let (endpoint, spans) = otlp_grpc_receiver().await;
    let mut env = base_env(&db);
    set(&mut env, "OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint);
    set(&mut env, "OTEL_EXPORTER_OTLP_PROTOCOL", "grpc");
    let mut gateway = Gateway::start(&env);

    let trace_id = "0af7651916cd43dd8448eb211c80319c";
    let response = reqwest::Client::new()
        .get(gateway.url("/readyz"))
        .header("traceparent", format!("00-{trace_id}-b7ad6b7169203331-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    gateway.signal("TERM");
    assert!(gateway.wait_exit(Duration::from_secs(15)).await.success());

    let spans = spans.lock().unwrap();
    let span = spans
        .iter()
        .map(|(_, s)| s)
        .find(|s| s.name == "GET /readyz")
        .unwrap_or_else(|| {
            panic!(
                "no server span over gRPC; got {:?}",
                spans.iter().map(|(_, s)| &s.name).collect::<Vec<_>>()
            )
        });
    assert_eq!(hex(&span.trace_id), trace_id);
    assert_eq!(
        span.status.as_ref().map(|s| s.code),
        Some(2),
        "a 503 marks the span as an error"
    );
}
