//! Jobs: list, read, create from the simplified spec, submit a full job, plan, diagnose.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Ctx, Kind, Line, Summary, ToolDef, define, define_list};
use crate::mcp::progress::operation_text;
use crate::service::diagnose::Diagnosis;
use crate::service::jobs::{JobOverview, JobRow, ListJobsRequest, WriteResult};
use crate::service::policy::Access;
use crate::service::spec::CreateJobSpec;
use crate::service::submit::{PlanResult, SubmitJobRequest};
use crate::service::{FieldError, ServiceError};

pub fn tools() -> Vec<ToolDef> {
    vec![
        define_list(
            "list_jobs",
            "List jobs",
            "List the jobs in a Nomad namespace (or every namespace with `*`), optionally filtered \
             by ID prefix, status and type. Use it to find a job's exact ID before calling other \
             tools. Returns one page of rows (ID, type, status, allocation counts per state); pass \
             `next_cursor` back as `cursor` to get the next page.",
            Access::Read,
            |ctx: Ctx, input: ListJobsInput| async move {
                let request = ListJobsRequest {
                    namespace: input.namespace,
                    prefix: input.prefix,
                    status: input.status,
                    job_type: input.job_type,
                    cursor: input.cursor,
                    limit: input.limit,
                };
                ctx.service.list_jobs(&ctx.who, request).await
            },
        ),
        define(
            "get_job",
            "Get a job's status",
            "Show one job: its status, version, task groups with desired and actual allocation \
             counts, and its latest deployment. Use it to check whether a job is healthy after a \
             change; use diagnose_job when something is wrong and you need to know why.",
            Kind::Read,
            Access::Read,
            |ctx: Ctx, input: JobRef| async move {
                let namespace = input.namespace.as_deref();
                ctx.service
                    .get_job(&ctx.who, &input.job_id, namespace)
                    .await
            },
        ),
        define(
            "create_job",
            "Create a job from an image or command",
            "Create (or update) a job from a short specification: a Docker image or an \
             exec/raw_exec command, with count, CPU, memory, ports, environment and an optional \
             HTTP health check; the gateway fills in restart and update defaults. Prefer it to \
             submit_job for simple services and batch jobs. Returns the evaluation Nomad created; \
             with `wait` it follows the rollout and says where it ended.",
            Kind::Idempotent,
            Access::Write,
            |ctx: Ctx, input: CreateJobInput| async move {
                let spec = input.spec()?;
                let service = ctx.writing(input.idempotency_key.clone(), input.expected_version);
                ctx.write(&service, input.wait, service.create_job(&ctx.who, spec))
                    .await
            },
        ),
        define(
            "submit_job",
            "Submit a full job definition",
            "Register (create or update) a job from a complete Nomad job: JSON in `job`, or JSON \
             or HCL2 text in `definition` (HCL2 is parsed by Nomad, with `variables`). Use it for \
             jobs the short create_job form cannot express; run plan_job first to see what would \
             change. Returns the evaluation; with `wait` it follows the rollout.",
            Kind::Idempotent,
            Access::Write,
            |ctx: Ctx, input: SubmitInput| async move {
                let service = ctx.writing(input.idempotency_key.clone(), input.expected_version);
                let wait = input.wait;
                ctx.write(
                    &service,
                    wait,
                    service.submit_job(&ctx.who, input.request()),
                )
                .await
            },
        ),
        define(
            "plan_job",
            "Plan a job change (dry run)",
            "Show what submitting a job would do without changing anything: the diff against the \
             running version, the allocations Nomad would create, update or stop per group, and \
             in plain sentences why any group could not be placed. Takes the same job as \
             submit_job.",
            Kind::Read,
            Access::Read,
            |ctx: Ctx, input: PlanInput| async move {
                let request = SubmitJobRequest {
                    job: input.job,
                    definition: input.definition,
                    variables: input.variables,
                    namespace: input.namespace,
                };
                ctx.service.plan_job(&ctx.who, request).await
            },
        ),
        define(
            "diagnose_job",
            "Diagnose a failing job",
            "Explain why a job is not healthy: placement failures (not enough CPU or memory, \
             constraints), blocked evaluations, failed tasks with their last events and log \
             lines, and the state of the latest deployment, followed by concrete next steps. Use \
             it first when a job is pending, failing or restarting.",
            Kind::Read,
            Access::Read,
            |ctx: Ctx, input: JobRef| async move {
                let namespace = input.namespace.as_deref();
                ctx.service
                    .diagnose_job(&ctx.who, &input.job_id, namespace)
                    .await
            },
        ),
    ]
}

/// A job in a namespace.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JobRef {
    /// The job's ID, exactly as list_jobs shows it.
    #[schemars(example = &"web")]
    pub job_id: String,
    /// The Nomad namespace; the gateway's default namespace when left out.
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
    /// The Nomad namespace; the gateway's default namespace when left out.
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
    #[serde(default, skip_serializing)]
    #[schemars(example = 60)]
    pub wait: Option<u64>,
    /// Retrying with the same key returns the first call's answer (and operation) without
    /// changing anything again; a different request with a used key is refused.
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
    fn spec(&self) -> Result<CreateJobSpec, ServiceError> {
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
    #[serde(default)]
    #[schemars(example = 60)]
    pub wait: Option<u64>,
    /// Retrying with the same key returns the first call's answer (and operation) without
    /// changing anything again; a different request with a used key is refused.
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
    fn request(self) -> SubmitJobRequest {
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

impl Summary for WriteResult {
    fn summary(&self) -> String {
        let r = self;
        let eval = r
            .eval_id
            .as_deref()
            .map(|e| format!("; evaluation {e}"))
            .unwrap_or_default();
        let warnings = if r.warnings.is_empty() {
            String::new()
        } else {
            format!(" Warnings: {}.", r.warnings.join("; "))
        };
        format!(
            "Job '{}' in namespace '{}' registered (modify index {}){eval}.{warnings}{}",
            r.job_id,
            r.namespace,
            r.job_modify_index,
            operation_text(&r.operation, &r.not_followed)
        )
    }
}

impl Line for JobRow {
    fn line(&self) -> String {
        format!(
            "{} ({}, {}, namespace {}): {} running, {} failed",
            self.id,
            self.job_type,
            self.status,
            self.namespace,
            self.allocations.running,
            self.allocations.failed
        )
    }
}

impl Summary for JobOverview {
    fn summary(&self) -> String {
        let groups: Vec<String> = self
            .groups
            .iter()
            .map(|g| {
                format!(
                    "{}: {} of {} running ({} starting, {} queued, {} failed)",
                    g.name,
                    g.allocations.running,
                    g.desired,
                    g.allocations.starting,
                    g.allocations.queued,
                    g.allocations.failed
                )
            })
            .collect();
        let deployment = self
            .latest_deployment
            .as_ref()
            .map(|d| format!(" Latest deployment {} is {}.", d.id, d.status))
            .unwrap_or_default();
        format!(
            "Job '{}' ({}, namespace {}) is {}{}, version {}. Groups: {}.{deployment}",
            self.id,
            self.job_type,
            self.namespace,
            self.status,
            if self.stop { " (stopped)" } else { "" },
            self.version,
            groups.join("; ")
        )
    }
}

impl Summary for PlanResult {
    fn summary(&self) -> String {
        let changes: Vec<String> = self
            .changes
            .iter()
            .map(|(group, c)| {
                let parts: Vec<String> = c
                    .iter()
                    .filter(|(_, n)| **n > 0)
                    .map(|(k, n)| format!("{n} {}", k.to_lowercase()))
                    .collect();
                format!(
                    "{group}: {}",
                    if parts.is_empty() {
                        "no change".into()
                    } else {
                        parts.join(", ")
                    }
                )
            })
            .collect();
        let failures: Vec<String> = self
            .placement_failures
            .values()
            .flatten()
            .cloned()
            .collect();
        let mut text = format!(
            "Plan for job '{}' in namespace '{}': {}.",
            self.job_id,
            self.namespace,
            if changes.is_empty() {
                "nothing to change".into()
            } else {
                changes.join("; ")
            }
        );
        if !failures.is_empty() {
            text.push_str(&format!(" Would not fit: {}.", failures.join("; ")));
        }
        text
    }
}

impl Summary for Diagnosis {
    fn summary(&self) -> String {
        let findings = if self.findings.is_empty() {
            "no problem found".to_string()
        } else {
            self.findings.join("; ")
        };
        format!(
            "Job '{}' ({}): {}. Next: {}",
            self.job_id,
            self.status,
            findings,
            self.next_steps.join("; ")
        )
    }
}
