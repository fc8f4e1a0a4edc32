//! `diagnose_job`: why is this job not healthy? Reads the job, its evaluations, its
//! allocations and its latest deployment, and says in plain sentences what is wrong and
//! what to try next.

use crate::service::policy::Access;
use serde::{Deserialize, Serialize};

use super::allocations::{EventLine, describe_event};
use super::jobs::DeploymentBrief;
use super::logs::{LogStream, LogsRequest};
use super::{Principal, Service, ServiceError};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct FailedTask {
    pub alloc_id: String,
    pub task: String,
    pub state: String,
    pub restarts: u64,
    pub events: Vec<EventLine>,
    /// The last lines of the task's stderr (or stdout when stderr is empty).
    pub last_log_lines: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Diagnosis {
    pub job_id: String,
    pub namespace: String,
    pub status: String,
    /// `true` when nothing looks wrong.
    pub healthy: bool,
    /// What is wrong, most important first.
    pub findings: Vec<String>,
    pub blocked_evaluations: Vec<String>,
    pub failed_tasks: Vec<FailedTask>,
    pub deployment: Option<DeploymentBrief>,
    pub next_steps: Vec<String>,
}

const LOG_LINES: usize = 20;
const FAILED_ALLOCS: usize = 3;

impl Service {
    pub async fn diagnose_job(
        &self,
        who: &Principal,
        job_id: &str,
        namespace: Option<&str>,
    ) -> Result<Diagnosis, ServiceError> {
        self.with_job_hint(job_id, namespace, async move {
            self.allow(
                who,
                Access::Read,
                Some(&self.namespace(namespace)),
                "diagnose_job",
            ).await?;
            // One call, one unit of budget: the parts are read without asking again.
            let overview = self.job_overview(job_id, &self.namespace(namespace)).await?;
            let namespace = overview.namespace.clone();
            let options = self.in_namespace(&namespace);
            let evals = self.job_evaluations(job_id, &namespace).await?;
            let allocs = match self.nomad.job_allocations(job_id, false, &options).await {
                Ok(allocs) => allocs.value,
                Err(e) => {
                    return Err(self
                        .job_part_failed(job_id, &namespace, "allocations", e)
                        .await);
                }
            };

            let mut findings = Vec::new();
            let mut next_steps = Vec::new();
            if overview.stop {
                findings.push(format!("job '{job_id}' is stopped"));
                next_steps.push(
                    "submit the job again (or revert to a stable version) to start it".to_string(),
                );
            }
            // The newest evaluation that could not place allocations tells why.
            if let Some(eval) = evals.iter().find(|e| !e.placement_failures.is_empty()) {
                for sentences in eval.placement_failures.values() {
                    findings.extend(sentences.iter().cloned());
                }
                next_steps.push(
                    "lower the group's cpu/memory, add capacity in the job's datacenters, or relax its constraints; then run force_evaluate_job".to_string(),
                );
            }
            let blocked: Vec<String> = evals
                .iter()
                .filter(|e| e.status == "blocked")
                .map(|e| e.id.clone())
                .collect();
            if !blocked.is_empty() {
                findings.push(format!(
                    "{} evaluation(s) blocked, waiting for resources",
                    blocked.len()
                ));
            }

            let mut failed_tasks = Vec::new();
            let mut failed_allocs: Vec<_> = allocs
                .iter()
                .filter(|a| a.client_status == "failed")
                .collect();
            failed_allocs.sort_by_key(|a| std::cmp::Reverse(a.create_index));
            for stub in failed_allocs.iter().take(FAILED_ALLOCS) {
                let alloc = self.read_allocation(who, &stub.id, &namespace).await?;
                for (task, state) in alloc.task_states.iter().filter(|(_, s)| s.failed) {
                    let events: Vec<EventLine> = state
                        .events
                        .iter()
                        .rev()
                        .take(6)
                        .rev()
                        .map(describe_event)
                        .collect();
                    let last_log_lines = self
                        .last_failure_lines(who, job_id, &namespace, &alloc.id, task)
                        .await;
                    failed_tasks.push(FailedTask {
                        alloc_id: alloc.id.clone(),
                        task: task.clone(),
                        state: state.state.clone(),
                        restarts: state.restarts,
                        events,
                        last_log_lines,
                    });
                }
            }
            if let Some(first) = failed_tasks.first() {
                let exit = first
                    .events
                    .iter()
                    .rev()
                    .find_map(|e| e.exit_code.filter(|c| *c != 0));
                let why = first
                    .events
                    .iter()
                    .rev()
                    .find(|e| !e.message.is_empty())
                    .map(|e| e.message.clone())
                    .unwrap_or_default();
                let exit = exit
                    .map(|c| format!(" with exit code {c}"))
                    .unwrap_or_default();
                findings.push(format!(
                    "{} failed allocation(s); task '{}' failed{exit} after {} restart(s): {why}",
                    failed_allocs.len(),
                    first.task,
                    first.restarts
                ));
                next_steps.push(format!(
                    "read the task's logs (get_job_logs with alloc_id {}) and fix the command, image or configuration; then submit a new version",
                    first.alloc_id
                ));
            }
            if let Some(deployment) = overview
                .latest_deployment
                .as_ref()
                .filter(|d| d.status == "failed" || d.status == "running")
            {
                let unhealthy: u64 = deployment.groups.values().map(|g| g.unhealthy).sum();
                let healthy: u64 = deployment.groups.values().map(|g| g.healthy).sum();
                let desired: u64 = deployment.groups.values().map(|g| g.desired).sum();
                findings.push(format!(
                    "deployment {} is {}: {healthy} of {desired} allocations healthy, {unhealthy} unhealthy ({})",
                    deployment.id, deployment.status, deployment.description
                ));
                if deployment.status == "failed" {
                    next_steps.push(
                        "revert_job to the last stable version if the new version is at fault"
                            .to_string(),
                    );
                }
            }
            let healthy = findings.is_empty();
            if healthy {
                next_steps.push("nothing to do: every group has its allocations running".to_string());
            }
            Ok(Diagnosis {
                job_id: job_id.to_string(),
                namespace,
                status: overview.status.clone(),
                healthy,
                findings,
                blocked_evaluations: blocked,
                failed_tasks,
                deployment: overview.latest_deployment,
                next_steps,
            })
        })
        .await
    }

    /// The last lines of stderr, or of stdout when stderr is empty; none when unreadable
    /// (a diagnosis should not fail because a log is gone).
    async fn last_failure_lines(
        &self,
        who: &Principal,
        job_id: &str,
        namespace: &str,
        alloc_id: &str,
        task: &str,
    ) -> Vec<String> {
        for stream in [LogStream::Stderr, LogStream::Stdout] {
            let request = LogsRequest {
                alloc_id: Some(alloc_id.to_string()),
                task: Some(task.to_string()),
                stream,
                lines: Some(LOG_LINES),
                max_bytes: Some(16 * 1024),
            };
            if let Ok(logs) = self
                .get_job_logs(who, job_id, Some(namespace), request)
                .await
                && !logs.lines.is_empty()
            {
                return logs.lines;
            }
        }
        Vec::new()
    }
}
