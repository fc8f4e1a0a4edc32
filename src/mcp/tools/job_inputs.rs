//! The arguments of the job tools: their schemars schemas (a description on every
//! field) are the tools' input schemas.

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
    pub job_id: String,
    #[serde(default)]
    pub namespace: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListJobsInput {
    #[serde(default)]
    pub namespace: Option<String>,
    /// Only jobs whose ID starts with this.
    #[serde(default)]
    pub prefix: Option<String>,
    /// Only jobs in this status: `pending`, `running` or `dead`.
    #[serde(default)]
    pub status: Option<String>,
    /// Only jobs of this type: `service`, `batch`, `system` or `sysbatch`.
    #[serde(default, rename = "type")]
    pub job_type: Option<String>,
    #[serde(default)]
    pub cursor: Option<String>,
    #[serde(default)]
    #[schemars(range(min = 1, max = 200))]
    pub limit: Option<u32>,
}

/// A port the task listens on.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PortInput {
    /// Name used by health checks and services.
    pub label: String,
    /// The port inside the container; defaults to the host port Nomad picks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<u16>,
    /// A fixed host port; without it Nomad picks a free one.
    #[serde(default, rename = "static", skip_serializing_if = "Option::is_none")]
    pub static_port: Option<u16>,
}

/// An HTTP health check.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HealthCheckInput {
    /// Path to GET.
    pub path: String,
    /// Port label (default: the first port).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<String>,
    /// Seconds between checks (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_seconds: Option<u32>,
    /// Timeout seconds (default 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u32>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateJobInput {
    /// Letters, digits, `.`, `_`, `-` (at most 128); an existing job is updated.
    pub job_id: String,
    /// A display name; defaults to the ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `service` (default), `batch` or `system`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub job_type: Option<String>,
    /// Datacenters to run in (default: all).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub datacenters: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// A Docker image (or `command`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// A command to run instead of an image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// `exec` (default) or `raw_exec`, for `command`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    /// Arguments to the entrypoint or command.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// Instances (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 1000))]
    pub count: Option<u32>,
    /// MHz per instance (default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 10, max = 256000))]
    pub cpu: Option<u32>,
    /// MB per instance (default 256).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 10, max = 1048576))]
    pub memory: Option<u32>,
    /// Ports the task listens on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<PortInput>,
    /// Environment variables.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// An HTTP health check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check: Option<HealthCheckInput>,
    /// Seconds to follow it before answering (at most 300).
    #[serde(default, skip_serializing)]
    pub wait: Option<u64>,
    /// Retries with this key change nothing again.
    #[serde(default, skip_serializing)]
    pub idempotency_key: Option<String>,
    /// Change the job only if its `job_modify_index` is still this (0: only if new).
    #[serde(default, skip_serializing)]
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
    pub job: Option<Value>,
    /// Or the job as text: JSON, or HCL2 that Nomad parses.
    #[serde(default)]
    pub definition: Option<String>,
    /// HCL2 variables, as `-var name=value` would give them.
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
    /// Overrides the job's own namespace.
    #[serde(default)]
    pub namespace: Option<String>,
    /// Seconds to follow it before answering (at most 300).
    #[serde(default)]
    pub wait: Option<u64>,
    /// Retries with this key change nothing again.
    #[serde(default, skip_serializing)]
    pub idempotency_key: Option<String>,
    /// Change the job only if its `job_modify_index` is still this (0: only if new).
    #[serde(default, skip_serializing)]
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
    pub job: Option<Value>,
    /// Or the job as text: JSON, or HCL2 that Nomad parses.
    #[serde(default)]
    pub definition: Option<String>,
    /// HCL2 variables.
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
    /// Overrides the job's own namespace.
    #[serde(default)]
    pub namespace: Option<String>,
}
