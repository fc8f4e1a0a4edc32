//! Logs and traces: the log format and level, and the OpenTelemetry exporter.

use url::Url;

use super::{ConfigError, Secret, Sources, text};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtlpProtocol {
    Grpc,
    HttpProtobuf,
}

#[derive(Debug, Clone)]
pub struct OtlpSettings {
    /// The traces endpoint as given (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is used as is;
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` gets `/v1/traces` appended for http/protobuf, as the
    /// OpenTelemetry specification says).
    pub traces_endpoint: String,
    pub protocol: OtlpProtocol,
    pub headers: Vec<(String, Secret)>,
}

#[derive(Debug, Clone)]
pub struct TelemetrySettings {
    pub log_filter: String,
    pub log_format: LogFormat,
    pub service_name: String,
    pub otlp: Option<OtlpSettings>,
}

pub(super) fn telemetry_settings(s: &Sources) -> Result<TelemetrySettings, ConfigError> {
    let log_format = match s
        .get("GATEWAY_LOG_FORMAT")
        .map(|t| t.trim().to_ascii_lowercase())
    {
        None => LogFormat::Text,
        Some(t) if t == "text" => LogFormat::Text,
        Some(t) if t == "json" => LogFormat::Json,
        Some(t) => {
            return Err(ConfigError::new(
                "GATEWAY_LOG_FORMAT",
                format!("'{t}' is not a log format; use text or json"),
            ));
        }
    };
    let log_filter = text(s, "RUST_LOG").unwrap_or_else(|| "info".to_string());
    tracing_subscriber::EnvFilter::try_new(&log_filter).map_err(|e| {
        ConfigError::new(
            "RUST_LOG",
            format!("'{log_filter}' is not a log filter: {e}"),
        )
    })?;
    Ok(TelemetrySettings {
        log_filter,
        log_format,
        service_name: text(s, "OTEL_SERVICE_NAME").unwrap_or_else(|| "nomad-gateway".to_string()),
        otlp: otlp_settings(s)?,
    })
}

fn otlp_settings(s: &Sources) -> Result<Option<OtlpSettings>, ConfigError> {
    let protocol = match s.get("OTEL_EXPORTER_OTLP_PROTOCOL").map(str::trim) {
        // The OpenTelemetry specification makes http/protobuf the default protocol.
        None | Some("http/protobuf") => OtlpProtocol::HttpProtobuf,
        Some("grpc") => OtlpProtocol::Grpc,
        Some(other) => {
            return Err(ConfigError::new(
                "OTEL_EXPORTER_OTLP_PROTOCOL",
                format!("'{other}' is not supported; use grpc or http/protobuf"),
            ));
        }
    };
    let (key, endpoint) = match (
        text(s, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
        text(s, "OTEL_EXPORTER_OTLP_ENDPOINT"),
    ) {
        (Some(e), _) => ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", e),
        (None, Some(base)) if protocol == OtlpProtocol::HttpProtobuf => (
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("{}/v1/traces", base.trim_end_matches('/')),
        ),
        (None, Some(base)) => ("OTEL_EXPORTER_OTLP_ENDPOINT", base),
        (None, None) => return Ok(None),
    };
    if Url::parse(&endpoint)
        .map(|u| !matches!(u.scheme(), "http" | "https"))
        .unwrap_or(true)
    {
        return Err(ConfigError::new(
            key,
            format!("'{endpoint}' is not an http:// or https:// URL"),
        ));
    }
    let headers = match s.get("OTEL_EXPORTER_OTLP_HEADERS") {
        None => Vec::new(),
        Some(list) => list
            .split(',')
            .filter(|p| !p.trim().is_empty())
            .map(|pair| {
                let (name, value) = pair.split_once('=').ok_or_else(|| {
                    ConfigError::new(
                        "OTEL_EXPORTER_OTLP_HEADERS",
                        "use name=value pairs separated by commas",
                    )
                })?;
                Ok((name.trim().to_string(), Secret::new(value.trim())))
            })
            .collect::<Result<_, ConfigError>>()?,
    };
    Ok(Some(OtlpSettings {
        traces_endpoint: endpoint,
        protocol,
        headers,
    }))
}
