//! The simplified job specification behind `create_job`: the few fields most jobs need,
//! validated field by field and translated into a Nomad job with sensible defaults.
//!
//! Durations in Nomad's JSON are nanoseconds (`api.Job` encodes `time.Duration` as int64).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::FieldError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobType {
    #[default]
    Service,
    Batch,
    System,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CommandDriver {
    #[default]
    Exec,
    RawExec,
}

/// A port the task listens on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PortSpec {
    /// Name used by health checks and services (`http`).
    pub label: String,
    /// The port inside the container; defaults to the host port Nomad picks.
    #[serde(default)]
    pub to: Option<u16>,
    /// A fixed host port; without it Nomad picks a free one.
    #[serde(default, rename = "static")]
    pub static_port: Option<u16>,
}

/// An HTTP health check, registered with Nomad's built-in service discovery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HealthCheck {
    /// Path to GET, e.g. `/health`.
    pub path: String,
    /// Label of the port to check; defaults to the first port.
    #[serde(default)]
    pub port: Option<String>,
    /// Seconds between checks (default 10).
    #[serde(default)]
    pub interval_seconds: Option<u32>,
    /// Seconds before a check counts as failed (default 2).
    #[serde(default)]
    pub timeout_seconds: Option<u32>,
}

/// The simplified specification.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateJobSpec {
    #[schema(pattern = "^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")]
    pub job_id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, rename = "type")]
    pub job_type: JobType,
    #[serde(default)]
    pub datacenters: Vec<String>,
    #[serde(default)]
    pub namespace: Option<String>,
    /// A Docker image (`nginx:1.27`); or give `command` instead.
    #[serde(default)]
    pub image: Option<String>,
    /// A command for the exec or raw_exec driver.
    #[serde(default)]
    pub command: Option<String>,
    #[serde(default)]
    pub driver: Option<CommandDriver>,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    #[schema(minimum = 1, maximum = 1000)]
    pub count: Option<u32>,
    /// CPU in MHz.
    #[serde(default)]
    #[schema(minimum = 10, maximum = 256000)]
    pub cpu: Option<u32>,
    /// Memory in MB.
    #[serde(default)]
    #[schema(minimum = 10, maximum = 1048576)]
    pub memory: Option<u32>,
    #[serde(default)]
    pub ports: Vec<PortSpec>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default)]
    pub health_check: Option<HealthCheck>,
}

pub const DEFAULT_CPU_MHZ: u32 = 100;
pub const DEFAULT_MEMORY_MB: u32 = 256;
const MAX_COUNT: u32 = 1000;
pub(super) const SECOND_NS: u64 = 1_000_000_000;

struct Checker(Vec<FieldError>);

impl Checker {
    fn fail(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
    }

    fn range(&mut self, field: &str, value: Option<u32>, min: u32, max: u32, unit: &str) {
        if let Some(v) = value.filter(|v| *v < min || *v > max) {
            self.fail(
                field,
                format!("{v} is out of range; use {min} to {max} {unit}"),
            );
        }
    }
}

/// Job ids, port labels: what Nomad accepts everywhere without quoting surprises.
fn is_identifier(text: &str, max: usize) -> bool {
    !text.is_empty()
        && text.len() <= max
        && text
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

impl CreateJobSpec {
    /// Every problem at once, so a caller can fix them in one go.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut check = Checker(Vec::new());
        if !is_identifier(&self.job_id, 128) {
            check.fail(
                "job_id",
                "must be 1 to 128 characters of letters, digits, '-', '_' or '.', starting with a letter or digit",
            );
        }
        if self
            .name
            .as_deref()
            .is_some_and(|n| n.trim().is_empty() || n.len() > 256)
        {
            check.fail("name", "must be 1 to 256 characters when given");
        }
        if self
            .namespace
            .as_deref()
            .is_some_and(|n| !is_identifier(n, 128))
        {
            check.fail(
                "namespace",
                "must be a Nomad namespace name (letters, digits, '-', '_', '.')",
            );
        }
        for (i, dc) in self.datacenters.iter().enumerate() {
            if dc.trim().is_empty() || dc.contains(char::is_whitespace) {
                check.fail(
                    format!("datacenters[{i}]"),
                    "must be a datacenter name or a glob such as dc* or *",
                );
            }
        }
        match (&self.image, &self.command) {
            (Some(_), Some(_)) => check.fail(
                "command",
                "give either image (Docker) or command (exec/raw_exec), not both",
            ),
            (None, None) => check.fail(
                "image",
                "is required unless command is given; e.g. nginx:1.27",
            ),
            (Some(image), None)
                if image.trim().is_empty() || image.contains(char::is_whitespace) =>
            {
                check.fail(
                    "image",
                    "must be an image reference such as nginx:1.27 or ghcr.io/org/app:v2",
                )
            }
            (None, Some(command)) if command.trim().is_empty() => {
                check.fail("command", "must not be empty")
            }
            _ => {}
        }
        if self.driver.is_some() && self.command.is_none() {
            check.fail(
                "driver",
                "applies only with command; images always run on the docker driver",
            );
        }
        check.range("count", self.count, 1, MAX_COUNT, "instances");
        if self.job_type == JobType::System && self.count.is_some_and(|c| c != 1) {
            check.fail(
                "count",
                "system jobs run one instance on every eligible node; leave count out",
            );
        }
        check.range("cpu", self.cpu, 10, 256_000, "MHz");
        check.range("memory", self.memory, 10, 1_048_576, "MB");
        self.validate_ports(&mut check);
        for key in self.env.keys() {
            let valid = key
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                check.fail(format!("env.{key}"), "environment variable names use letters, digits and '_', not starting with a digit");
            }
        }
        self.validate_health_check(&mut check);
        if check.0.is_empty() {
            Ok(())
        } else {
            Err(check.0)
        }
    }

    fn validate_ports(&self, check: &mut Checker) {
        let mut seen = std::collections::BTreeSet::new();
        for (i, port) in self.ports.iter().enumerate() {
            if !is_identifier(&port.label, 64) || port.label.contains('.') {
                check.fail(
                    format!("ports[{i}].label"),
                    "must be letters, digits, '-' or '_' (e.g. http)",
                );
            } else if !seen.insert(port.label.as_str()) {
                check.fail(
                    format!("ports[{i}].label"),
                    format!("'{}' is used twice", port.label),
                );
            }
            if port.to == Some(0) {
                check.fail(format!("ports[{i}].to"), "must be 1 to 65535");
            }
            if port.static_port == Some(0) {
                check.fail(
                    format!("ports[{i}].static"),
                    "must be 1 to 65535; leave it out for a dynamic port",
                );
            }
        }
    }

    fn validate_health_check(&self, check: &mut Checker) {
        let Some(health) = &self.health_check else {
            return;
        };
        if self.job_type == JobType::Batch {
            check.fail(
                "health_check",
                "batch jobs run to completion; health checks apply to service and system jobs",
            );
        }
        if !health.path.starts_with('/') {
            check.fail("health_check.path", "must start with '/', e.g. /health");
        }
        match &health.port {
            Some(label) if !self.ports.iter().any(|p| &p.label == label) => check.fail(
                "health_check.port",
                format!("'{label}' is not one of the ports' labels"),
            ),
            None if self.ports.is_empty() => {
                check.fail("health_check", "needs a port: add one under ports")
            }
            _ => {}
        }
        if let Some(interval) = health.interval_seconds.filter(|s| *s == 0 || *s > 3600) {
            check.fail(
                "health_check.interval_seconds",
                format!("{interval} is out of range; use 1 to 3600"),
            );
        }
        if let Some(timeout) = health.timeout_seconds.filter(|s| *s == 0 || *s > 300) {
            check.fail(
                "health_check.timeout_seconds",
                format!("{timeout} is out of range; use 1 to 300"),
            );
        }
    }
}
