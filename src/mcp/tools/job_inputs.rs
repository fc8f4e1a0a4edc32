//! The arguments of the job tools: their schemars schemas (descriptions and examples on
//! every field) are the tools' input schemas.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::service::spec::CreateJobSpec;
use crate::service::submit::SubmitJobRequest;
use crate::service::{FieldError, ServiceError};

/// A job in a namespace.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JobRef {
    /// The job's ID, exactly as list_jobs shows it.
    #[schemars(example = &"web")]
    pub job_id: String,
    /// The Nomad namespace; the gateway's default when left out.
    #[serde(default)]
    #[schemars(example = &"default")]
    pub namespace: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListJobsInput {
    /// A namespace, or `*` for every namespace; the gateway's default when left out.
    #[serde(default)]
    #[schemars(example = &"*")]
    pub namespace: Option<String>,
    /// Only jobs whose ID starts with this.
    #[serde(default)]
    #[schemars(example = &"web")]
    pub prefix: Option<String>,
    /// Only jobs in this status: `pending`, `running` or `dead`.
    #[serde(default)]
    #[schemars(example = &"running")]
    pub status: Option<String>,
    /// Only jobs of this type: `service`, `batch`, `system` or `sysbatch`.
    #[serde(default, rename = "type")]
    #[schemars(example = &"service")]
    pub job_type: Option<String>,
    /// The `next_cursor` of the previous page; leave it out for the first page.
    #[serde(default)]
    #[schemars(example = &"web-api")]
    pub cursor: Option<String>,
    /// How many per page (default 50, at most 200).
    #[serde(default)]
    #[schemars(example = 20, range(min = 1, max = 200))]
    pub limit: Option<u32>,
}

/// A port the task listens on.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PortInput {
    /// Name used by health checks and services.
    #[schemars(example = &"http")]
    pub label: String,
    /// The port inside the container; defaults to the host port Nomad picks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = 8080)]
    pub to: Option<u16>,
    /// A fixed host port; without it Nomad picks a free one.
    #[serde(default, rename = "static", skip_serializing_if = "Option::is_none")]
    #[schemars(example = 8080)]
    pub static_port: Option<u16>,
}

/// An HTTP health check.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HealthCheckInput {
    /// Path to GET.
    #[schemars(example = &"/health")]
    pub path: String,
    /// Label of the port to check; defaults to the first port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = &"http")]
    pub port: Option<String>,
    /// Seconds between checks (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = 10)]
    pub interval_seconds: Option<u32>,
    /// Seconds before a check counts as failed (default 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = 2)]
    pub timeout_seconds: Option<u32>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateJobInput {
    /// The job's ID: letters, digits, `.`, `_`, `-`; at most 128 characters. An existing
    /// job with this ID is updated.
    #[schemars(example = &"web")]
    pub job_id: String,
    /// A display name; defaults to the ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = &"web")]
    pub name: Option<String>,
    /// `service` (default; keeps running), `batch` (runs to completion) or `system` (one
    /// per node).
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    #[schemars(example = &"service")]
    pub job_type: Option<String>,
    /// Datacenters to run in; every datacenter when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(example = vec!["dc1"])]
    pub datacenters: Vec<String>,
    /// The Nomad namespace; the gateway's default when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = &"default")]
    pub namespace: Option<String>,
    /// A Docker image; or give `command` instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = &"nginx:1.27")]
    pub image: Option<String>,
    /// A command for the exec or raw_exec driver, instead of `image`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = &"/usr/local/bin/worker")]
    pub command: Option<String>,
    /// Driver for `command`: `exec` (default, isolated) or `raw_exec`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = &"exec")]
    pub driver: Option<String>,
    /// Arguments to the image's entrypoint or to the command.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(example = vec!["--port", "8080"])]
    pub args: Vec<String>,
    /// Instances to run (default 1, at most 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = 2, range(min = 1, max = 1000))]
    pub count: Option<u32>,
    /// CPU per instance in MHz (default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = 200, range(min = 10, max = 256000))]
    pub cpu: Option<u32>,
    /// Memory per instance in MB (default 256).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = 256, range(min = 10, max = 1048576))]
    pub memory: Option<u32>,
    /// Ports the task listens on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(example = serde_json::json!([{"label": "http", "to": 8080}]))]
    pub ports: Vec<PortInput>,
    /// Environment variables of the task.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(example = serde_json::json!({"LOG_LEVEL": "info"}))]
    pub env: BTreeMap<String, String>,
    /// An HTTP health check on one of the ports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = serde_json::json!({"path": "/health", "port": "http"}))]
    pub health_check: Option<HealthCheckInput>,
    /// Seconds to follow the rollout before answering (at most 300; 0 or absent answers at
    /// once). Progress notifications are sent meanwhile when the call has a progress token.
    /// The answer's `operation` then says where it stands.
    #[serde(default, skip_serializing)]
    #[schemars(example = 60)]
    pub wait: Option<u64>,
    /// A retry with this key returns the first answer and changes nothing; another
    /// request with a used key is refused.
    #[serde(default, skip_serializing)]
    #[schemars(example = &"deploy-web-2026-11-30")]
    pub idempotency_key: Option<String>,
    /// Change the job only if its `job_modify_index` is still this (0: only if it does
    /// not exist yet); otherwise the call fails naming the current version.
    #[serde(default, skip_serializing)]
    #[schemars(example = 42)]
    pub expected_version: Option<u64>,
}

impl CreateJobInput {
    /// The service's spec, through serde so its own field checks apply.
    pub(super) fn spec(&self) -> Result<CreateJobSpec, ServiceError> {
        let value = serde_json::to_value(self).map_err(|e| invalid("job", e.to_string()))?;
        serde_path_to_error::deserialize(value)
            .map_err(|e| invalid(&e.path().to_string(), e.inner().to_string()))
    }
}

fn invalid(field: &str, message: String) -> ServiceError {
    ServiceError::Validation(vec![FieldError {
        field: field.to_string(),
        message,
    }])
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitInput {
    /// The job as a Nomad JSON object (bare, or wrapped as `{"Job": {...}}`).
    #[serde(default)]
    #[schemars(example = serde_json::json!({"ID": "web", "Type": "service", "TaskGroups": [{"Name": "web", "Count": 1, "Tasks": [{"Name": "web", "Driver": "docker", "Config": {"image": "nginx:1.27"}}]}]}))]
    pub job: Option<Value>,
    /// Or the job as text: JSON, or HCL2 that Nomad parses.
    #[serde(default)]
    #[schemars(example = &"job \"web\" { group \"web\" { task \"web\" { driver = \"docker\" config { image = \"nginx:1.27\" } } } }")]
    pub definition: Option<String>,
    /// HCL2 variables, as `-var name=value` would give them.
    #[serde(default)]
    #[schemars(example = serde_json::json!({"image": "nginx:1.27"}))]
    pub variables: BTreeMap<String, String>,
    /// Overrides the job's own namespace.
    #[serde(default)]
    #[schemars(example = &"default")]
    pub namespace: Option<String>,
    /// Seconds to follow the rollout before answering (at most 300; 0 or absent answers at
    /// once). Progress notifications are sent meanwhile when the call has a progress token.
    /// The answer's `operation` then says where it stands.
    #[serde(default)]
    #[schemars(example = 60)]
    pub wait: Option<u64>,
    /// A retry with this key returns the first answer and changes nothing; another
    /// request with a used key is refused.
    #[serde(default, skip_serializing)]
    #[schemars(example = &"deploy-web-2026-11-30")]
    pub idempotency_key: Option<String>,
    /// Change the job only if its `job_modify_index` is still this (0: only if it does
    /// not exist yet); otherwise the call fails naming the current version.
    #[serde(default, skip_serializing)]
    #[schemars(example = 42)]
    pub expected_version: Option<u64>,
}

impl SubmitInput {
    pub(super) fn request(self) -> SubmitJobRequest {
        SubmitJobRequest {
            job: self.job,
            definition: self.definition,
            variables: self.variables,
            namespace: self.namespace,
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanInput {
    /// The job as a Nomad JSON object (bare, or wrapped as `{"Job": {...}}`).
    #[serde(default)]
    #[schemars(example = serde_json::json!({"ID": "web", "TaskGroups": [{"Name": "web", "Count": 3}]}))]
    pub job: Option<Value>,
    /// Or the job as text: JSON, or HCL2 that Nomad parses.
    #[serde(default)]
    #[schemars(example = &"job \"web\" { group \"web\" { count = 3 } }")]
    pub definition: Option<String>,
    /// HCL2 variables.
    #[serde(default)]
    #[schemars(example = serde_json::json!({"count": "3"}))]
    pub variables: BTreeMap<String, String>,
    /// Overrides the job's own namespace.
    #[serde(default)]
    #[schemars(example = &"default")]
    pub namespace: Option<String>,
}
