//! Jobs: list, read, create from the simplified spec, submit a full job, plan, diagnose.

use super::job_inputs::{CreateJobInput, JobRef, ListJobsInput, PlanInput, SubmitInput};
use super::{Ctx, Kind, Line, Summary, ToolDef, define, define_list};
use crate::mcp::progress::operation_text;
use crate::service::diagnose::Diagnosis;
use crate::service::jobs::{JobOverview, JobRow, ListJobsRequest, WriteResult};
use crate::service::policy::Access;
use crate::service::submit::{PlanResult, SubmitJobRequest};

pub fn tools() -> Vec<ToolDef> {
    vec![
        define_list(
            "list_jobs",
            "List jobs",
            "List jobs in a namespace (`*`: all), filtered by ID prefix, status or type: ID, type, \
             status, allocations per state. Use it to find a job's exact ID.",
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
            "Show a job: status, version, task groups with desired and actual allocation counts, \
             latest deployment. Use it to check health after a change; diagnose_job says why it is \
             unhealthy.",
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
            "Create or update a job from a Docker image or an exec command, with count, CPU, \
             memory, ports, env and an HTTP check; the gateway adds restart and update defaults. \
             Prefer it to submit_job for simple jobs.",
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
            "Create or update a job from a full Nomad job: JSON in `job`, or JSON or HCL2 text in \
             `definition`. For what create_job cannot express; plan_job first shows what would \
             change.",
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
            "Dry run of submit_job: the diff against the running version, the allocations Nomad \
             would create, update or stop per group, and in words why a group could not be placed.",
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
            "Explain why a job is unhealthy: placement failures, blocked evaluations, failed tasks \
             with their last events and log lines, the latest deployment, then next steps. Use it \
             first when a job is pending or failing.",
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
        if !self.job_changes.is_empty() {
            text.push_str(&format!(
                "\nWhat changes in the job:\n{}",
                self.job_changes.join("\n")
            ));
        }
        if !failures.is_empty() {
            text.push_str(&format!("\nWould not fit: {}.", failures.join("; ")));
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
