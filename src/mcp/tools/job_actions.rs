//! Steering jobs: stop, restart, scale, dispatch, force an evaluation, versions, revert.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

use super::{Ctx, Kind, Line, Summary, ToolDef, define, define_list};
use crate::mcp::progress::operation_text;
use crate::service::PageRequest;
use crate::service::control::{
    DispatchRequest, DispatchResult, RestartMode, RestartResult, ScaleRequest,
};
use crate::service::policy::Access;
use crate::service::timeline::JobTimeline;
use crate::service::versions::{JobVersion, VersionComparison};

pub fn tools() -> Vec<ToolDef> {
    vec![
        define(
            "stop_job",
            "Stop a job",
            "Stop a job: Nomad stops all of its allocations. With `purge` the job is also removed \
             at once instead of being garbage-collected later (its history is lost). Use \
             revert_job or submit the job again to bring it back. With `wait` it follows until no \
             allocation runs.",
            Kind::Destructive { idempotent: true },
            Access::Write,
            |ctx: Ctx, input: StopJobInput| async move {
                let namespace = input.namespace.as_deref();
                let service = ctx.writing(input.idempotency_key.clone(), None);
                let stop = service.stop_job(&ctx.who, &input.job_id, namespace, input.purge);
                ctx.write(&service, input.wait, stop).await
            },
        ),
        define(
            "restart_job",
            "Restart a job",
            "Restart a job's tasks. `in_place` (default) restarts the tasks of every running \
             allocation where it runs, all at once (brief downtime). `redeploy` creates a new \
             job version so Nomad replaces allocations batch by batch following the job's update \
             strategy (health checks, auto-revert); with `wait` it follows that deployment.",
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
            "Set how many allocations of a task group run. `group` may be left out when the job \
             has one group. Scaling to 0 stops the group's allocations but keeps the job. Returns \
             the evaluation; with `wait` it follows until the new count runs.",
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
            "Start one run of a parameterized batch job with an optional payload and metadata. \
             Each call creates a new child job unless the same `idempotency_token` was used \
             before. Returns the child job's ID; with `wait` it follows the run.",
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
            "Ask the scheduler to look at a job again, e.g. after adding capacity for a job whose \
             allocations could not be placed. With `force_reschedule` failed allocations are \
             replaced now instead of after their reschedule delay.",
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
            "List the versions Nomad keeps of a job, newest first, with whether each was stable \
             (deployed healthy); with `changes`, what each changed from the one before \
             (\"group web: Count 2 → 3\"). Use it to see what changed and to pick the version \
             for revert_job.",
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
            "Tell what happened to a job in a window (`since`, default 1h, at most 7d): versions \
             submitted, evaluations, allocations placed and ended, task events (started, \
             exited with code 1, restarting...) and deployments, oldest first. Use it for \
             \"what happened to web in the last hour?\".",
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
            "Say what a job's version `to` (the current one when left out) changes relative to \
             version `from`, one line per change (\"group web, task server: image nginx:1.25 → \
             nginx:1.27\"). Use it before revert_job to see what going back would undo.",
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
            "Roll a job back to one of its earlier versions (see list_job_versions); Nomad \
             registers it as a new version and rolls it out, replacing what runs now. With `wait` \
             it follows the rollout.",
            Kind::Destructive { idempotent: true },
            Access::Write,
            |ctx: Ctx, input: RevertInput| async move {
                let namespace = input.namespace.as_deref();
                let service = ctx.writing(input.idempotency_key.clone(), None);
                let revert = service.revert_job(&ctx.who, &input.job_id, namespace, input.version);
                ctx.write(&service, input.wait, revert).await
            },
        ),
    ]
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StopJobInput {
    /// The job's ID.
    #[schemars(example = &"web")]
    pub job_id: String,
    /// The Nomad namespace; the gateway's default when left out.
    #[serde(default)]
    #[schemars(example = &"default")]
    pub namespace: Option<String>,
    /// Also remove the job from Nomad at once (its versions and history are lost).
    #[serde(default)]
    #[schemars(example = false)]
    pub purge: bool,
    /// Seconds to follow the stop before answering (at most 300; 0 or absent answers at once).
    /// The answer's `operation` then says where it stands.
    #[serde(default)]
    #[schemars(example = 30)]
    pub wait: Option<u64>,
    /// A retry with this key returns the first answer and changes nothing; another
    /// request with a used key is refused.
    #[serde(default, skip_serializing)]
    #[schemars(example = &"deploy-web-2026-11-30")]
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
    #[schemars(example = &"web")]
    pub job_id: String,
    /// The Nomad namespace; the gateway's default when left out.
    #[serde(default)]
    #[schemars(example = &"default")]
    pub namespace: Option<String>,
    /// `in_place` (default) or `redeploy`.
    #[serde(default)]
    #[schemars(example = &"redeploy")]
    pub mode: RestartModeInput,
    /// Seconds to follow a redeploy before answering (at most 300).
    /// The answer's `operation` then says where it stands.
    #[serde(default)]
    #[schemars(example = 60)]
    pub wait: Option<u64>,
    /// A retry with this key returns the first answer and changes nothing; another
    /// request with a used key is refused.
    #[serde(default, skip_serializing)]
    #[schemars(example = &"deploy-web-2026-11-30")]
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScaleInput {
    /// The job's ID.
    #[schemars(example = &"web")]
    pub job_id: String,
    /// The Nomad namespace; the gateway's default when left out.
    #[serde(default)]
    #[schemars(example = &"default")]
    pub namespace: Option<String>,
    /// The task group; may be left out when the job has one group.
    #[serde(default)]
    #[schemars(example = &"web")]
    pub group: Option<String>,
    /// The new number of allocations (0 to 1000).
    #[schemars(example = 3, range(min = 0, max = 1000))]
    pub count: i64,
    /// A note recorded with the scaling event in Nomad.
    #[serde(default)]
    #[schemars(example = &"more traffic expected")]
    pub message: Option<String>,
    /// Seconds to follow the change before answering (at most 300).
    /// The answer's `operation` then says where it stands.
    #[serde(default)]
    #[schemars(example = 60)]
    pub wait: Option<u64>,
    /// A retry with this key returns the first answer and changes nothing; another
    /// request with a used key is refused.
    #[serde(default, skip_serializing)]
    #[schemars(example = &"deploy-web-2026-11-30")]
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DispatchInput {
    /// The parameterized job's ID.
    #[schemars(example = &"report")]
    pub job_id: String,
    /// The Nomad namespace; the gateway's default when left out.
    #[serde(default)]
    #[schemars(example = &"default")]
    pub namespace: Option<String>,
    /// Payload as UTF-8 text (at most 16 KiB), when the job takes one.
    #[serde(default)]
    #[schemars(example = &"{\"month\": \"2026-10\"}")]
    pub payload: Option<String>,
    /// Metadata the job declares in its `parameterized` block.
    #[serde(default)]
    #[schemars(example = serde_json::json!({"customer": "acme"}))]
    pub meta: BTreeMap<String, String>,
    /// Repeating a dispatch with the same token returns the first child job instead of
    /// starting another.
    #[serde(default)]
    #[schemars(example = &"report-2026-10")]
    pub idempotency_token: Option<String>,
    /// Seconds to follow the run before answering (at most 300).
    /// The answer's `operation` then says where it stands.
    #[serde(default)]
    #[schemars(example = 60)]
    pub wait: Option<u64>,
    /// A retry with this key returns the first answer and changes nothing; another
    /// request with a used key is refused.
    #[serde(default, skip_serializing)]
    #[schemars(example = &"deploy-web-2026-11-30")]
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EvaluateInput {
    /// The job's ID.
    #[schemars(example = &"web")]
    pub job_id: String,
    /// The Nomad namespace; the gateway's default when left out.
    #[serde(default)]
    #[schemars(example = &"default")]
    pub namespace: Option<String>,
    /// Replace failed allocations now instead of after their reschedule delay.
    #[serde(default)]
    #[schemars(example = true)]
    pub force_reschedule: bool,
    /// Seconds to wait for the operation (the evaluation, then the job's allocations
    /// running again) before answering (at most 300).
    /// The answer's `operation` then says where it stands.
    #[serde(default)]
    #[schemars(example = 30)]
    pub wait: Option<u64>,
    /// A retry with this key returns the first answer and changes nothing; another
    /// request with a used key is refused.
    #[serde(default, skip_serializing)]
    #[schemars(example = &"evaluate-web-2026-11-30")]
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VersionsInput {
    /// The job's ID.
    #[schemars(example = &"web")]
    pub job_id: String,
    /// The Nomad namespace; the gateway's default when left out.
    #[serde(default)]
    #[schemars(example = &"default")]
    pub namespace: Option<String>,
    /// The `next_cursor` of the previous page; leave out for the first page.
    #[serde(default)]
    #[schemars(example = &"50")]
    pub cursor: Option<String>,
    /// Versions per page (default 50, at most 200).
    #[serde(default)]
    #[schemars(example = 10, range(min = 1, max = 200))]
    pub limit: Option<u32>,
    /// Also say what each version changed from the one before.
    #[serde(default)]
    #[schemars(example = true)]
    pub changes: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TimelineInput {
    /// The job's ID.
    #[schemars(example = &"web")]
    pub job_id: String,
    /// The Nomad namespace; the gateway's default when left out.
    #[serde(default)]
    #[schemars(example = &"default")]
    pub namespace: Option<String>,
    /// How far back: `30m`, `1h` (default), `2d`; at most `7d`.
    #[serde(default)]
    #[schemars(example = &"1h")]
    pub since: Option<String>,
    /// Entries at most (default 100, at most 500); the latest are kept.
    #[serde(default)]
    #[schemars(example = 100, range(min = 1, max = 500))]
    pub limit: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CompareInput {
    /// The job's ID.
    #[schemars(example = &"web")]
    pub job_id: String,
    /// The Nomad namespace; the gateway's default when left out.
    #[serde(default)]
    #[schemars(example = &"default")]
    pub namespace: Option<String>,
    /// The version to compare against (list_job_versions shows them).
    #[schemars(example = 2)]
    pub from: u64,
    /// The version whose changes are told; the current one when left out.
    #[serde(default)]
    #[schemars(example = 4)]
    pub to: Option<u64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RevertInput {
    /// The job's ID.
    #[schemars(example = &"web")]
    pub job_id: String,
    /// The Nomad namespace; the gateway's default when left out.
    #[serde(default)]
    #[schemars(example = &"default")]
    pub namespace: Option<String>,
    /// The version to go back to, from list_job_versions.
    #[schemars(example = 3)]
    pub version: u64,
    /// Seconds to follow the rollout before answering (at most 300).
    /// The answer's `operation` then says where it stands.
    #[serde(default)]
    #[schemars(example = 60)]
    pub wait: Option<u64>,
    /// A retry with this key returns the first answer and changes nothing; another
    /// request with a used key is refused.
    #[serde(default, skip_serializing)]
    #[schemars(example = &"deploy-web-2026-11-30")]
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
