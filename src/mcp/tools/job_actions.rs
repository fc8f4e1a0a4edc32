//! Steering jobs: stop, restart, scale, dispatch, force an evaluation, versions, revert.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

use super::{Ctx, Kind, Line, Summary, ToolDef, define, define_list};
use crate::mcp::progress::operation_text;
use crate::service::PageRequest;
use crate::service::consequences::Change;
use crate::service::control::{
    DispatchRequest, DispatchResult, RestartMode, RestartResult, ScaleRequest,
};
use crate::service::lookup::ScalingPolicyRow;
use crate::service::policy::Access;
use crate::service::timeline::JobTimeline;
use crate::service::versions::{JobVersion, VersionComparison};

pub fn tools() -> Vec<ToolDef> {
    vec![
        define(
            "stop_job",
            "Stop a job",
            "Stop all of a job's allocations. `purge` also removes the job now instead of at \
             garbage collection (its history is lost). revert_job or a new submit brings it back.",
            Kind::Destructive { idempotent: true },
            Access::Write,
            |ctx: Ctx, input: StopJobInput| async move {
                let namespace = input.namespace.as_deref();
                let service = ctx.writing(input.idempotency_key.clone(), None);
                let stop = service.stop_job(&ctx.who, &input.job_id, namespace, input.purge);
                ctx.write(&service, input.wait, stop).await
            },
        )
        .asks(|i: StopJobInput| Change::StopJob {
            job_id: i.job_id,
            namespace: i.namespace,
            purge: i.purge,
        }),
        define(
            "restart_job",
            "Restart a job",
            "Restart a job's tasks: `in_place` (default) restarts every running allocation where \
             it runs, all at once; `redeploy` makes a new version that Nomad rolls out by its \
             update strategy.",
            Kind::Write,
            Access::Write,
            |ctx: Ctx, input: RestartInput| async move {
                let namespace = input.namespace.as_deref();
                let service = ctx.writing(input.idempotency_key.clone(), None);
                let restart =
                    service.restart_job(&ctx.who, &input.job_id, namespace, input.mode.into());
                ctx.write(&service, input.wait, restart).await
            },
        ),
        define(
            "scale_job",
            "Scale a job's task group",
            "Set how many allocations of a task group run (`group` may be left out when there is \
             one). 0 stops the group but keeps the job.",
            Kind::Idempotent,
            Access::Write,
            |ctx: Ctx, input: ScaleInput| async move {
                let namespace = input.namespace.as_deref();
                let request = ScaleRequest {
                    group: input.group,
                    count: input.count,
                    message: input.message,
                };
                let service = ctx.writing(input.idempotency_key.clone(), None);
                let scale = service.scale_job(&ctx.who, &input.job_id, namespace, request);
                ctx.write(&service, input.wait, scale).await
            },
        ),
        define(
            "dispatch_job",
            "Dispatch a parameterized job",
            "Start one run of a parameterized batch job with an optional payload and metadata: a \
             new child job per call unless `idempotency_token` repeats. Answers the child job's \
             ID.",
            Kind::Write,
            Access::Write,
            |ctx: Ctx, input: DispatchInput| async move {
                let namespace = input.namespace.as_deref();
                let request = DispatchRequest {
                    payload: input.payload,
                    meta: input.meta,
                    idempotency_token: input.idempotency_token,
                };
                let service = ctx.writing(input.idempotency_key.clone(), None);
                let dispatch = service.dispatch_job(&ctx.who, &input.job_id, namespace, request);
                ctx.write(&service, input.wait, dispatch).await
            },
        ),
        define(
            "force_evaluate_job",
            "Re-evaluate a job",
            "Ask the scheduler to look at a job again, e.g. after adding capacity for allocations \
             that could not be placed; `force_reschedule` replaces failed allocations now.",
            Kind::Write,
            Access::Write,
            |ctx: Ctx, input: EvaluateInput| async move {
                let namespace = input.namespace.as_deref();
                let service = ctx.writing(input.idempotency_key.clone(), None);
                let evaluate = service.force_evaluate_job(
                    &ctx.who,
                    &input.job_id,
                    namespace,
                    input.force_reschedule,
                );
                ctx.write(&service, input.wait, evaluate).await
            },
        ),
        define_list(
            "list_job_versions",
            "List a job's versions",
            "List the versions Nomad keeps of a job, newest first, with whether each was stable; \
             `changes` adds what each changed from the one before. Use it to pick a version for \
             revert_job.",
            Access::Read,
            |ctx: Ctx, input: VersionsInput| async move {
                let namespace = input.namespace.as_deref();
                let page = PageRequest::new(input.cursor, input.limit);
                ctx.service
                    .list_job_versions(&ctx.who, &input.job_id, namespace, input.changes, &page)
                    .await
            },
        ),
        define(
            "job_timeline",
            "What happened to a job",
            "What happened to a job since `since` (default 1h): versions, evaluations, allocations \
             placed and ended, task events and deployments, oldest first.",
            Kind::Read,
            Access::Read,
            |ctx: Ctx, input: TimelineInput| async move {
                ctx.service
                    .job_timeline(
                        &ctx.who,
                        &input.job_id,
                        input.namespace.as_deref(),
                        input.since.as_deref(),
                        input.limit,
                    )
                    .await
            },
        ),
        define(
            "compare_job_versions",
            "Compare two versions of a job",
            "Say in words what version `to` (default: current) changes from version `from`, e.g. \
             \"group web, task server: image nginx:1.25 → nginx:1.27\". Use it before revert_job.",
            Kind::Read,
            Access::Read,
            |ctx: Ctx, input: CompareInput| async move {
                ctx.service
                    .compare_job_versions(
                        &ctx.who,
                        &input.job_id,
                        input.namespace.as_deref(),
                        Some(input.from),
                        input.to,
                    )
                    .await
            },
        ),
        define(
            "revert_job",
            "Revert a job to an earlier version",
            "Roll a job back to an earlier version (see list_job_versions): Nomad registers it as \
             a new version and rolls it out, replacing what runs now.",
            Kind::Destructive { idempotent: true },
            Access::Write,
            |ctx: Ctx, input: RevertInput| async move {
                let namespace = input.namespace.as_deref();
                let service = ctx.writing(input.idempotency_key.clone(), None);
                let revert = service.revert_job(&ctx.who, &input.job_id, namespace, input.version);
                ctx.write(&service, input.wait, revert).await
            },
        )
        .asks(|i: RevertInput| Change::RevertJob {
            job_id: i.job_id,
            namespace: i.namespace,
            version: i.version,
        }),
        define_list(
            "list_scaling_policies",
            "List scaling policies",
            "List the autoscaler's scaling policies in a namespace (`*`: all), or of one job: \
             group (and task), enabled, min, max and the policy document.",
            Access::Read,
            |ctx: Ctx, input: ScalingPoliciesInput| async move {
                let page = PageRequest::new(input.cursor, input.limit);
                ctx.service
                    .list_scaling_policies(
                        &ctx.who,
                        input.job_id.as_deref(),
                        input.namespace.as_deref(),
                        &page,
                    )
                    .await
            },
        ),
    ]
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScalingPoliciesInput {
    /// Only this job's policies.
    #[serde(default)]
    pub job_id: Option<String>,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub cursor: Option<String>,
    #[serde(default)]
    #[schemars(range(min = 1, max = 200))]
    pub limit: Option<u32>,
}

impl Line for ScalingPolicyRow {
    fn line(&self) -> String {
        let target = match &self.task {
            Some(task) => format!("{}/{}/{task}", self.job_id, self.group),
            None => format!("{}/{}", self.job_id, self.group),
        };
        let bounds = match (self.min, self.max) {
            (Some(min), Some(max)) => format!(" {min}..{max}"),
            (None, Some(max)) => format!(" ..{max}"),
            _ => String::new(),
        };
        format!(
            "{} {target} ({}): {}{bounds}, {}",
            self.id,
            self.namespace,
            self.policy_type,
            if self.enabled { "enabled" } else { "disabled" }
        )
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StopJobInput {
    /// The job's ID.
    pub job_id: String,
    #[serde(default)]
    pub namespace: Option<String>,
    /// Also remove the job from Nomad at once (its versions and history are lost).
    #[serde(default)]
    pub purge: bool,
    /// Seconds to follow it before answering (at most 300).
    #[serde(default)]
    pub wait: Option<u64>,
    /// Retries with this key change nothing again.
    #[serde(default, skip_serializing)]
    pub idempotency_key: Option<String>,
}

/// How restart_job restarts.
#[derive(Debug, Default, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RestartModeInput {
    /// Restart the tasks of every running allocation where it runs, all at once.
    #[default]
    InPlace,
    /// Re-register the job so Nomad replaces allocations batch by batch.
    Redeploy,
}

impl From<RestartModeInput> for RestartMode {
    fn from(mode: RestartModeInput) -> Self {
        match mode {
            RestartModeInput::InPlace => RestartMode::InPlace,
            RestartModeInput::Redeploy => RestartMode::Redeploy,
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RestartInput {
    /// The job's ID.
    pub job_id: String,
    #[serde(default)]
    pub namespace: Option<String>,
    /// `in_place` (default) or `redeploy`.
    #[serde(default)]
    pub mode: RestartModeInput,
    /// Seconds to follow it before answering (at most 300).
    #[serde(default)]
    pub wait: Option<u64>,
    /// Retries with this key change nothing again.
    #[serde(default, skip_serializing)]
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScaleInput {
    /// The job's ID.
    pub job_id: String,
    #[serde(default)]
    pub namespace: Option<String>,
    /// The task group; may be left out when the job has one group.
    #[serde(default)]
    pub group: Option<String>,
    /// The new number of allocations (0 to 1000).
    #[schemars(range(min = 0, max = 1000))]
    pub count: i64,
    /// A note recorded with the scaling event in Nomad.
    #[serde(default)]
    pub message: Option<String>,
    /// Seconds to follow it before answering (at most 300).
    #[serde(default)]
    pub wait: Option<u64>,
    /// Retries with this key change nothing again.
    #[serde(default, skip_serializing)]
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DispatchInput {
    /// The parameterized job's ID.
    pub job_id: String,
    #[serde(default)]
    pub namespace: Option<String>,
    /// Payload as UTF-8 text (at most 16 KiB), when the job takes one.
    #[serde(default)]
    pub payload: Option<String>,
    /// Metadata the job declares in its `parameterized` block.
    #[serde(default)]
    pub meta: BTreeMap<String, String>,
    /// Repeating a dispatch with the same token returns the first child job instead of
    /// starting another.
    #[serde(default)]
    pub idempotency_token: Option<String>,
    /// Seconds to follow it before answering (at most 300).
    #[serde(default)]
    pub wait: Option<u64>,
    /// Retries with this key change nothing again.
    #[serde(default, skip_serializing)]
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EvaluateInput {
    /// The job's ID.
    pub job_id: String,
    #[serde(default)]
    pub namespace: Option<String>,
    /// Replace failed allocations now instead of after their reschedule delay.
    #[serde(default)]
    pub force_reschedule: bool,
    /// Seconds to follow it before answering (at most 300).
    #[serde(default)]
    pub wait: Option<u64>,
    /// Retries with this key change nothing again.
    #[serde(default, skip_serializing)]
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VersionsInput {
    /// The job's ID.
    pub job_id: String,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub cursor: Option<String>,
    #[serde(default)]
    #[schemars(range(min = 1, max = 200))]
    pub limit: Option<u32>,
    /// Also say what each version changed from the one before.
    #[serde(default)]
    pub changes: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TimelineInput {
    /// The job's ID.
    pub job_id: String,
    #[serde(default)]
    pub namespace: Option<String>,
    /// How far back: `30m`, `1h` (default), `2d`; at most `7d`.
    #[serde(default)]
    pub since: Option<String>,
    /// Entries at most (default 100, at most 500); the latest are kept.
    #[serde(default)]
    #[schemars(range(min = 1, max = 500))]
    pub limit: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CompareInput {
    /// The job's ID.
    pub job_id: String,
    #[serde(default)]
    pub namespace: Option<String>,
    /// The version to compare against (list_job_versions shows them).
    pub from: u64,
    /// The version whose changes are told; the current one when left out.
    #[serde(default)]
    pub to: Option<u64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RevertInput {
    /// The job's ID.
    pub job_id: String,
    #[serde(default)]
    pub namespace: Option<String>,
    /// The version to go back to, from list_job_versions.
    pub version: u64,
    /// Seconds to follow it before answering (at most 300).
    #[serde(default)]
    pub wait: Option<u64>,
    /// Retries with this key change nothing again.
    #[serde(default, skip_serializing)]
    pub idempotency_key: Option<String>,
}

impl Summary for RestartResult {
    fn summary(&self) -> String {
        match self.mode {
            RestartMode::InPlace => format!(
                "Restarted the tasks of {} allocation(s) of job '{}' in place.{}",
                self.restarted_allocations.len(),
                self.job_id,
                operation_text(&self.operation, &self.not_followed)
            ),
            RestartMode::Redeploy => format!(
                "Job '{}' is being redeployed (evaluation {}).{}",
                self.job_id,
                self.eval_id.as_deref().unwrap_or("none"),
                operation_text(&self.operation, &self.not_followed)
            ),
        }
    }
}

impl Summary for DispatchResult {
    fn summary(&self) -> String {
        format!(
            "Dispatched child job '{}' in namespace '{}'.{}",
            self.dispatched_job_id,
            self.namespace,
            operation_text(&self.operation, &self.not_followed)
        )
    }
}

impl Line for JobVersion {
    fn line(&self) -> String {
        let head = format!(
            "v{}{} submitted {} (modify index {})",
            self.version,
            if self.stable { " (stable)" } else { "" },
            self.submitted_at.as_deref().unwrap_or("?"),
            self.job_modify_index
        );
        match &self.changes {
            None => head,
            Some(changes) if changes.is_empty() => format!("{head}: no change Nomad compares"),
            Some(changes) => format!("{head}:\n  {}", changes.join("\n  ")),
        }
    }
}

impl Summary for JobTimeline {
    fn summary(&self) -> String {
        if self.entries.is_empty() {
            return format!(
                "Nothing happened to job '{}' in namespace '{}' since {}.",
                self.job_id, self.namespace, self.since
            );
        }
        let mut lines = vec![format!(
            "Job '{}' in namespace '{}' since {}:",
            self.job_id, self.namespace, self.since
        )];
        if (self.entries.len() as u64) < self.total {
            lines.push(format!(
                "({} earlier entries left out; raise `limit` or narrow `since`)",
                self.total - self.entries.len() as u64
            ));
        }
        lines.extend(
            self.entries
                .iter()
                .map(|e| format!("{} {} {}: {}", e.at, e.kind, e.subject, e.message)),
        );
        lines.join("\n")
    }
}

impl Summary for VersionComparison {
    fn summary(&self) -> String {
        let head = format!(
            "Job '{}' version {} compared with version {}",
            self.job_id, self.to_version, self.from_version
        );
        if self.changes.is_empty() {
            format!("{head}: no difference.")
        } else {
            format!("{head}:\n{}", self.changes.join("\n"))
        }
    }
}
