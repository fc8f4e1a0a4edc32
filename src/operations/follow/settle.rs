//! Whether a job's allocations reached what the change wanted (running, finished,
//! stopped), and whether a node's drain is over.

use std::collections::BTreeMap;

use super::deployment::reasons;
use super::{Follower, Look, Next};
use crate::nomad::types::Allocation;
use crate::nomad::{NomadError, QueryOptions};
use crate::operations::model::{GroupProgress, State};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Goal {
    /// Every allocation the job wants runs.
    Running,
    /// Every allocation finished (batch jobs, dispatches).
    Finished,
    /// Every allocation stopped.
    Stopped,
}

/// What a job's allocations should reach: batch jobs finish; a service job runs its
/// groups' counts, a system job one per node (no count to compare with).
pub(super) fn goal_of(job: &crate::nomad::types::Job) -> (Goal, Option<u64>) {
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
    pub(super) async fn allocations_settled(
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

    pub(super) async fn drain(&mut self) -> Look {
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
