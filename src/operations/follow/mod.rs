//! One look at Nomad for one operation: where it stands now, in plain words, and what to
//! block on until the next change.

use std::collections::BTreeMap;
use std::time::Duration;

use super::model::{Facts, GroupProgress, Progress, State};
use crate::db::operations::OperationRow;
use crate::nomad::types::Evaluation;
use crate::nomad::{NomadClient, NomadError, QueryOptions};
use crate::operations::placement::{asks_of, explain};
use settle::{Goal, goal_of};

mod deployment;
mod settle;

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
            "promote" | "fail" | "resume" | "unblock" | "set-health" => {
                match self.facts.deployment_id.clone() {
                    Some(id) => self.deployment(&id).await,
                    None => self.look(State::Succeeded, "done", Next::Nothing),
                }
            }
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
                let (job_id, job) = match self.operation_job(eval).await {
                    Ok(found) => found,
                    Err(look) => return look,
                };
                let (goal, desired) = goal_of(&job);
                self.allocations_settled(&job_id, goal, desired).await
            }
            _ => {
                let (job_id, job) = match self.operation_job(eval).await {
                    Ok(found) => found,
                    Err(look) => return look,
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

    /// The operation's job as Nomad has it now, or the look that ends the operation
    /// (the job is gone) or waits for Nomad.
    async fn operation_job(
        &self,
        eval: &Evaluation,
    ) -> Result<(String, crate::nomad::types::Job), Look> {
        let job_id = self
            .row
            .job_id
            .clone()
            .unwrap_or_else(|| eval.job_id.clone());
        match self.nomad.read_job(&job_id, &self.options()).await {
            Ok(job) => Ok((job_id, job.value)),
            Err(NomadError::NotFound { .. }) => Err(self.look(
                State::Superseded,
                format!("job '{job_id}' is gone (stopped and purged meanwhile)"),
                Next::Nothing,
            )),
            Err(e) => Err(self.unreachable(&e)),
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
            .job_versions(job_id, false, None, &self.options())
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
