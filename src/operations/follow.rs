//! One look at Nomad for one operation: where it stands now, in plain words, and what to
//! block on until the next change.

use std::collections::BTreeMap;
use std::time::Duration;

use super::model::{Facts, GroupProgress, Progress, State};
use crate::db::operations::OperationRow;
use crate::nomad::types::{Allocation, Deployment, Evaluation};
use crate::nomad::{NomadClient, NomadError, QueryOptions};
use crate::operations::placement::{asks_of, explain};

/// Where an operation stands after a look.
#[derive(Debug, Clone, PartialEq)]
pub struct Look {
    pub state: State,
    pub message: String,
    pub groups: BTreeMap<String, GroupProgress>,
    pub deployment_id: Option<String>,
    pub job_version: Option<u64>,
    /// What changes next, to block on.
    pub next: Next,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    Evaluation(String, u64),
    Deployment(String, u64),
    Allocations(String, u64),
    Node(String, u64),
    /// Nomad did not answer: look again after a pause.
    Retry,
    Nothing,
}

fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

/// What a look needs besides the row.
pub struct Follower<'a> {
    pub nomad: &'a NomadClient,
    pub row: &'a OperationRow,
    pub facts: Facts,
    pub groups: BTreeMap<String, GroupProgress>,
    pub job_version: Option<u64>,
}

impl<'a> Follower<'a> {
    pub fn new(nomad: &'a NomadClient, row: &'a OperationRow) -> Follower<'a> {
        let progress = Progress::of(row);
        Follower {
            nomad,
            row,
            facts: progress.facts,
            groups: progress.groups,
            job_version: row.job_version.map(|v| v as u64),
        }
    }

    fn options(&self) -> QueryOptions {
        QueryOptions::namespace(self.row.namespace.clone().unwrap_or_default())
    }

    fn look(&self, state: State, message: impl Into<String>, next: Next) -> Look {
        Look {
            state,
            message: message.into(),
            groups: self.groups.clone(),
            deployment_id: self.row.deployment_id.clone(),
            job_version: self.job_version,
            next,
        }
    }

    fn unreachable(&self, error: &NomadError) -> Look {
        let state = State::parse(&self.row.state).unwrap_or(State::Pending);
        let message = format!(
            "{} (Nomad did not answer: {error}; trying again)",
            self.row.message.clone().unwrap_or_default()
        );
        self.look(state, message, Next::Retry)
    }

    /// Looks at Nomad once.
    pub async fn step(mut self) -> Look {
        if let Some(done) = self.facts.done.clone() {
            return self.look(State::Succeeded, done, Next::Nothing);
        }
        match self.row.kind.as_str() {
            "promote" | "fail" => match self.facts.deployment_id.clone() {
                Some(id) => self.deployment(&id).await,
                None => self.look(State::Succeeded, "done", Next::Nothing),
            },
            "drain" => self.drain().await,
            _ => {
                if let Some(eval_id) = self.facts.eval_id.clone() {
                    match self.evaluation(&eval_id).await {
                        Ok((eval, index)) => {
                            if let Some(look) = self.judge_evaluation(&eval, index).await {
                                return look;
                            }
                            self.after_evaluation(&eval).await
                        }
                        Err(e) => self.unreachable(&e),
                    }
                } else {
                    self.look(
                        State::Succeeded,
                        "Nomad made no evaluation: nothing to follow",
                        Next::Nothing,
                    )
                }
            }
        }
    }

    async fn evaluation(&self, id: &str) -> Result<(Evaluation, u64), NomadError> {
        let response = self.nomad.read_evaluation(id, &self.options()).await?;
        Ok((response.value, response.meta.last_index))
    }

    /// A pending, failed or blocked evaluation settles the look.
    async fn judge_evaluation(&mut self, eval: &Evaluation, index: u64) -> Option<Look> {
        match eval.status.as_str() {
            "pending" => Some(self.look(
                State::Evaluating,
                format!(
                    "evaluation {} is waiting for the scheduler",
                    short(&eval.id)
                ),
                Next::Evaluation(eval.id.clone(), index),
            )),
            "failed" | "canceled" | "cancelled" => Some(self.look(
                State::Failed,
                format!(
                    "evaluation {} {}: {}",
                    short(&eval.id),
                    eval.status,
                    eval.status_description
                ),
                Next::Nothing,
            )),
            _ if !eval.failed_tg_allocs.is_empty() => {
                let job_id = eval.job_id.clone();
                let asks = match self.nomad.read_job(&job_id, &self.options()).await {
                    Ok(job) => asks_of(&job.value),
                    Err(_) => BTreeMap::new(),
                };
                let reasons: Vec<String> = eval
                    .failed_tg_allocs
                    .iter()
                    .flat_map(|(group, metric)| {
                        explain(group, metric, asks.get(group).copied().unwrap_or_default())
                    })
                    .collect();
                Some(self.look(
                    State::Failed,
                    format!(
                        "placement failed, the evaluation is blocked: {}",
                        reasons.join("; ")
                    ),
                    Next::Nothing,
                ))
            }
            "blocked" => Some(self.look(
                State::Failed,
                format!(
                    "evaluation {} is blocked: {}",
                    short(&eval.id),
                    eval.status_description
                ),
                Next::Nothing,
            )),
            _ => None,
        }
    }

    async fn after_evaluation(&mut self, eval: &Evaluation) -> Look {
        let options = self.options();
        match self.row.kind.as_str() {
            "stop" => {
                let job_id = self.row.job_id.clone().unwrap_or_default();
                self.allocations_settled(&job_id, Goal::Stopped, None).await
            }
            "dispatch" => {
                let child = self.facts.dispatched_job_id.clone().unwrap_or_default();
                self.allocations_settled(&child, Goal::Finished, None).await
            }
            // A new evaluation of the same version (forced, or after an allocation was
            // stopped): its deployment may be long over, so what counts is that the job's
            // allocations run (or finish) again.
            "evaluate" | "reschedule" => {
                let job_id = self
                    .row
                    .job_id
                    .clone()
                    .unwrap_or_else(|| eval.job_id.clone());
                let job = match self.nomad.read_job(&job_id, &options).await {
                    Ok(job) => job.value,
                    Err(NomadError::NotFound { .. }) => {
                        return self.look(
                            State::Superseded,
                            format!("job '{job_id}' is gone (stopped and purged meanwhile)"),
                            Next::Nothing,
                        );
                    }
                    Err(e) => return self.unreachable(&e),
                };
                let (goal, desired) = goal_of(&job);
                self.allocations_settled(&job_id, goal, desired).await
            }
            _ => {
                let job_id = self
                    .row
                    .job_id
                    .clone()
                    .unwrap_or_else(|| eval.job_id.clone());
                let job = match self.nomad.read_job(&job_id, &options).await {
                    Ok(job) => job.value,
                    Err(NomadError::NotFound { .. }) => {
                        return self.look(
                            State::Superseded,
                            format!("job '{job_id}' is gone (stopped and purged meanwhile)"),
                            Next::Nothing,
                        );
                    }
                    Err(e) => return self.unreachable(&e),
                };
                if self.job_version.is_none() {
                    match self.our_version(&job_id, eval).await {
                        Ok(version) => self.job_version = version,
                        Err(e) => return self.unreachable(&e),
                    }
                }
                let ours = self.job_version;
                // The deployment this change started: the one of its job version (Nomad
                // leaves the evaluation's DeploymentID empty for registrations).
                let deployment = match self.row.deployment_id.clone() {
                    Some(id) => Some(id),
                    None if !eval.deployment_id.is_empty() => Some(eval.deployment_id.clone()),
                    None => match self.nomad.job_deployments(&job_id, &options).await {
                        Ok(list) => list
                            .value
                            .into_iter()
                            .filter(|d| Some(d.job_version) == ours)
                            .max_by_key(|d| d.create_index)
                            .map(|d| d.id),
                        Err(e) => return self.unreachable(&e),
                    },
                };
                let look = match deployment {
                    Some(id) => self.deployment(&id).await,
                    None => {
                        let (goal, desired) = goal_of(&job);
                        self.allocations_settled(&job_id, goal, desired).await
                    }
                };
                match ours {
                    Some(version) if !look.state.is_final() && job.version > version => self.look(
                        State::Superseded,
                        format!(
                            "job '{job_id}' changed again (now version {}) before version {version} finished rolling out",
                            job.version
                        ),
                        Next::Nothing,
                    ),
                    _ => look,
                }
            }
        }
    }

    /// The job version a write made: the one with the write's modify index, or else the
    /// newest one registered no later than the write's evaluation (Nomad stores the job and
    /// creates its evaluation in one step).
    async fn our_version(
        &self,
        job_id: &str,
        eval: &Evaluation,
    ) -> Result<Option<u64>, NomadError> {
        let versions = self
            .nomad
            .job_versions(job_id, false, &self.options())
            .await?
            .value
            .versions;
        if let Some(index) = self.facts.job_modify_index.filter(|i| *i > 0)
            && let Some(v) = versions.iter().find(|v| v.job_modify_index == index)
        {
            return Ok(Some(v.version));
        }
        Ok(versions
            .iter()
            .filter(|v| v.job_modify_index <= eval.create_index)
            .map(|v| v.version)
            .max())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Goal {
    /// Every allocation the job wants runs.
    Running,
    /// Every allocation finished (batch jobs, dispatches).
    Finished,
    /// Every allocation stopped.
    Stopped,
}

/// What a job's allocations should reach: batch jobs finish; a service job runs its
/// groups' counts, a system job one per node (no count to compare with).
fn goal_of(job: &crate::nomad::types::Job) -> (Goal, Option<u64>) {
    if job.job_type == "batch" || job.job_type == "sysbatch" {
        return (Goal::Finished, None);
    }
    let desired = (job.job_type == "service")
        .then(|| job.task_groups.iter().map(|g| g.count.max(0) as u64).sum());
    (Goal::Running, desired)
}

fn terminal(a: &Allocation) -> bool {
    matches!(a.client_status.as_str(), "complete" | "failed" | "lost")
}

impl Follower<'_> {
    async fn deployment(&mut self, id: &str) -> Look {
        let (deployment, index): (Deployment, u64) =
            match self.nomad.read_deployment(id, &self.options()).await {
                Ok(d) => (d.value, d.meta.last_index),
                Err(e) => return self.unreachable(&e),
            };
        self.groups = deployment
            .task_groups
            .iter()
            .map(|(name, g)| {
                let progress = GroupProgress {
                    desired: g.desired_total,
                    placed: g.placed_allocs,
                    healthy: g.healthy_allocs,
                    unhealthy: g.unhealthy_allocs,
                };
                (name.clone(), progress)
            })
            .collect();
        if self.job_version.is_none() && self.row.kind != "promote" && self.row.kind != "fail" {
            self.job_version = Some(deployment.job_version);
        }
        let desired: u64 = self.groups.values().map(|g| g.desired).sum();
        let healthy: u64 = self.groups.values().map(|g| g.healthy).sum();
        let unhealthy: u64 = self.groups.values().map(|g| g.unhealthy).sum();
        let mut look = self.look(State::Deploying, String::new(), Next::Nothing);
        look.deployment_id = Some(id.to_string());
        let kind = self.row.kind.as_str();
        match deployment.status.as_str() {
            "successful" => {
                look.state = State::Succeeded;
                look.message = format!(
                    "deployment {} successful: {healthy} of {desired} allocations healthy",
                    short(id)
                );
            }
            "failed" if kind == "fail" => {
                look.state = State::Succeeded;
                look.message = format!("deployment {} failed on request", short(id));
                if let Some(v) = self.facts.reverted_to_version {
                    look.message
                        .push_str(&format!("; the job went back to version {v}"));
                }
            }
            "failed" => {
                look.state = State::Failed;
                let reasons = self.failure_reasons(id).await;
                look.message = format!(
                    "deployment failed: {unhealthy} of {desired} allocations unhealthy{}{} ({})",
                    if reasons.is_empty() { "" } else { "; " },
                    reasons.join("; "),
                    deployment.status_description
                );
            }
            "cancelled" => {
                let newer = deployment.status_description.contains("newer version")
                    || deployment.status_description.contains("stopped");
                look.state = if newer {
                    State::Superseded
                } else {
                    State::Cancelled
                };
                look.message = format!(
                    "deployment {} cancelled: {}",
                    short(id),
                    deployment.status_description
                );
            }
            status => {
                look.message = format!(
                    "deployment {} {status}: {healthy} of {desired} allocations healthy, {unhealthy} unhealthy",
                    short(id)
                );
                if !deployment.status_description.is_empty() {
                    look.message
                        .push_str(&format!(" ({})", deployment.status_description));
                }
                look.next = Next::Deployment(id.to_string(), index);
            }
        }
        look
    }

    /// Why allocations of a deployment failed: each task's exit, in words.
    async fn failure_reasons(&self, deployment_id: &str) -> Vec<String> {
        match self
            .nomad
            .deployment_allocations(deployment_id, &self.options())
            .await
        {
            Ok(allocs) => reasons(&allocs.value),
            Err(_) => Vec::new(),
        }
    }

    async fn allocations_settled(
        &mut self,
        job_id: &str,
        goal: Goal,
        desired: Option<u64>,
    ) -> Look {
        let response = match self
            .nomad
            .job_allocations(job_id, false, &self.options())
            .await
        {
            Ok(r) => r,
            Err(NomadError::NotFound { .. }) if goal == Goal::Stopped => {
                return self.look(
                    State::Succeeded,
                    format!("job '{job_id}' is stopped and purged"),
                    Next::Nothing,
                );
            }
            Err(e) => return self.unreachable(&e),
        };
        let index = response.meta.last_index;
        let mut allocs = response.value;
        if goal == Goal::Running {
            allocs.retain(|a| a.desired_status == "run");
            if let Some(v) = self.job_version {
                allocs.retain(|a| a.job_version == v);
            }
        }
        let mut groups: BTreeMap<String, GroupProgress> = BTreeMap::new();
        for a in &allocs {
            let g = groups.entry(a.task_group.clone()).or_default();
            g.desired += 1;
            g.placed += 1;
            match a.client_status.as_str() {
                "running" | "complete" => g.healthy += 1,
                "failed" | "lost" => g.unhealthy += 1,
                _ => {}
            }
        }
        if goal != Goal::Stopped {
            self.groups = groups;
        }
        let total = allocs.len();
        let failed: Vec<&Allocation> = allocs
            .iter()
            .filter(|a| a.client_status == "failed" || a.client_status == "lost")
            .collect();
        let running = allocs
            .iter()
            .filter(|a| a.client_status == "running")
            .count();
        let next = Next::Allocations(job_id.to_string(), index);
        match goal {
            Goal::Stopped => {
                let live = allocs.iter().filter(|a| !terminal(a)).count();
                if live == 0 {
                    self.look(
                        State::Succeeded,
                        format!("job '{job_id}' is stopped; no allocation runs"),
                        Next::Nothing,
                    )
                } else {
                    self.look(
                        State::Deploying,
                        format!("job '{job_id}' is stopping: {live} allocation(s) still live"),
                        next,
                    )
                }
            }
            Goal::Finished => {
                let done = allocs.iter().filter(|a| terminal(a)).count();
                if total > 0 && done == total {
                    if failed.is_empty() {
                        self.look(
                            State::Succeeded,
                            format!("job '{job_id}' finished: {total} allocation(s) complete"),
                            Next::Nothing,
                        )
                    } else {
                        let owned: Vec<Allocation> = failed.into_iter().cloned().collect();
                        let reasons = reasons(&owned);
                        self.look(
                            State::Failed,
                            format!(
                                "job '{job_id}' failed: {} of {total} allocation(s) failed{}{}",
                                owned.len(),
                                if reasons.is_empty() { "" } else { "; " },
                                reasons.join("; ")
                            ),
                            Next::Nothing,
                        )
                    }
                } else {
                    self.look(
                        State::Deploying,
                        format!(
                            "job '{job_id}' is running: {done} of {total} allocation(s) finished, {running} running"
                        ),
                        next,
                    )
                }
            }
            Goal::Running => {
                let pending = allocs
                    .iter()
                    .filter(|a| a.client_status == "pending")
                    .count();
                if total > 0 && pending == 0 && running == 0 && !failed.is_empty() {
                    let owned: Vec<Allocation> = failed.into_iter().cloned().collect();
                    let reasons = reasons(&owned);
                    self.look(
                        State::Failed,
                        format!(
                            "job '{job_id}' failed: {} of {total} allocation(s) failed{}{}",
                            owned.len(),
                            if reasons.is_empty() { "" } else { "; " },
                            reasons.join("; ")
                        ),
                        Next::Nothing,
                    )
                } else if pending == 0 && running as u64 >= desired.unwrap_or(total as u64) {
                    self.look(
                        State::Succeeded,
                        format!(
                            "job '{job_id}' is running: {running} of {} allocation(s) running",
                            desired.unwrap_or(total as u64)
                        ),
                        Next::Nothing,
                    )
                } else {
                    self.look(
                        State::Deploying,
                        format!(
                            "job '{job_id}' is starting: {running} of {} allocation(s) running, {pending} pending",
                            desired.unwrap_or(total as u64)
                        ),
                        next,
                    )
                }
            }
        }
    }

    async fn drain(&mut self) -> Look {
        let id = self.facts.node_id.clone().unwrap_or_default();
        match self.nomad.read_node(&id, &QueryOptions::default()).await {
            Ok(node) if node.value.drain => self.look(
                State::Deploying,
                format!("node {} is draining its allocations", node.value.name),
                Next::Node(id, node.meta.last_index),
            ),
            Ok(node) => self.look(
                State::Succeeded,
                format!("node {} is drained", node.value.name),
                Next::Nothing,
            ),
            Err(e) => self.unreachable(&e),
        }
    }
}

/// Per failed allocation, why its tasks failed: exit codes, driver errors, the last event.
fn reasons(allocs: &[Allocation]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for alloc in allocs {
        let unhealthy = alloc
            .deployment_status
            .as_ref()
            .and_then(|d| d.healthy)
            .is_some_and(|h| !h);
        if alloc.client_status != "failed" && !unhealthy {
            continue;
        }
        for (task, state) in &alloc.task_states {
            let events = || state.events.iter().rev();
            let driver = events().find(|e| !e.driver_error.is_empty());
            let exit = events().find(|e| e.event_type == "Terminated" && e.exit_code != 0);
            let gave_up = events()
                .find(|e| e.fails_task || e.event_type == "Not Restarting")
                .map(|e| {
                    if e.display_message.is_empty() {
                        e.message.clone()
                    } else {
                        e.display_message.clone()
                    }
                })
                .filter(|m| !m.is_empty());
            let reason = match (driver, exit) {
                (Some(e), _) => Some(format!("task '{task}' failed to start: {}", e.driver_error)),
                (None, Some(e)) => Some(format!("task '{task}' exited with code {}", e.exit_code)),
                (None, None) => gave_up.clone().map(|m| format!("task '{task}': {m}")),
            };
            let reason = match (reason, gave_up) {
                (Some(r), Some(m)) if !r.contains(&m) => Some(format!("{r} ({m})")),
                (r, _) => r,
            };
            if let Some(reason) = reason.filter(|r| !out.contains(r)) {
                out.push(reason);
            }
        }
    }
    out
}

/// How long one blocking query may wait.
pub fn block_for(lease: Duration) -> Duration {
    (lease / 3).clamp(Duration::from_millis(500), Duration::from_secs(10))
}

/// Blocks until what `next` names changes (or the wait passes).
pub async fn wait_change(nomad: &NomadClient, namespace: &str, next: &Next, wait: Duration) {
    let options = |index: u64| QueryOptions::namespace(namespace).blocking(index, wait);
    let _ = match next {
        Next::Evaluation(id, index) => nomad.read_evaluation(id, &options(*index)).await.map(drop),
        Next::Deployment(id, index) => nomad.read_deployment(id, &options(*index)).await.map(drop),
        Next::Allocations(job, index) => nomad
            .job_allocations(job, false, &options(*index))
            .await
            .map(drop),
        Next::Node(id, index) => nomad
            .read_node(id, &QueryOptions::default().blocking(*index, wait))
            .await
            .map(drop),
        Next::Retry => {
            tokio::time::sleep(Duration::from_secs(2)).await;
            Ok(())
        }
        Next::Nothing => Ok(()),
    };
}
