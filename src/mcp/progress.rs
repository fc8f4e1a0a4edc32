//! Progress for write tools: with `wait`, a tool follows what its change set off (the
//! evaluation, then the deployment or the allocations; a node's drain) for a bounded time,
//! sends a progress notification at every step when the client asked for them (a
//! `progressToken`), and reports where things ended.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use rmcp::model::{ProgressNotificationParam, ProgressToken};
use rmcp::service::{Peer, RoleServer};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::tools::Ctx;
use crate::service::jobs::AllocationCounts;

/// The longest a tool waits, whatever the caller asks.
pub const MAX_WAIT_SECONDS: u64 = 300;
const POLL: Duration = Duration::from_millis(500);

/// Where a client wants progress notifications, if it asked for them.
#[derive(Default)]
pub struct Progress {
    target: Option<(Peer<RoleServer>, ProgressToken)>,
    step: AtomicU32,
}

impl Progress {
    pub fn new(peer: Peer<RoleServer>, token: Option<ProgressToken>) -> Progress {
        Progress {
            target: token.map(|t| (peer, t)),
            step: AtomicU32::new(0),
        }
    }

    /// Sends one notification (a no-op without a progress token).
    pub async fn report(&self, message: &str) {
        let Some((peer, token)) = &self.target else {
            return;
        };
        let step = self.step.fetch_add(1, Ordering::Relaxed) + 1;
        let param = ProgressNotificationParam::new(token.clone(), f64::from(step))
            .with_message(message.to_string());
        if let Err(error) = peer.notify_progress(param).await {
            tracing::debug!(%error, "progress notification not delivered");
        }
    }
}

/// Where a followed change ended, or stood when the wait was over.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Outcome {
    /// True when the change reached a final state within the wait (which may be a
    /// failure: see `state`); false when the wait ran out first.
    pub settled: bool,
    /// `running`, `stopped`, `complete`, `successful`, `failed`, `blocked`, `pending`,
    /// `drained`, `draining`, `cancelled`.
    pub state: String,
    /// One sentence on where things stand.
    pub message: String,
    /// The evaluation's final status, when one was followed.
    pub evaluation_status: Option<String>,
    /// The deployment's status, when the change started one.
    pub deployment_status: Option<String>,
    /// The job's allocations by state at the end.
    pub allocations: Option<AllocationCounts>,
    /// Per group, why allocations could not be placed.
    pub placement_failures: BTreeMap<String, Vec<String>>,
    /// How long the tool waited, in milliseconds.
    pub waited_ms: u64,
}

/// What to follow after a write.
pub enum Follow {
    /// The job's allocations should run (or, for batch jobs, finish).
    JobRunning { job_id: String },
    /// The job's allocations should stop.
    JobStopped { job_id: String },
    /// Only the evaluation.
    Evaluation,
    /// A deployment until it is promoted, succeeds or fails.
    Deployment { id: String },
    /// A node until its drain is over.
    NodeDrain { id: String },
}

struct Step {
    done: bool,
    state: String,
    message: String,
}

/// The bounded wait: `None` when the caller did not ask to wait.
pub fn wait_for(seconds: Option<u64>) -> Option<Duration> {
    seconds
        .filter(|s| *s > 0)
        .map(|s| Duration::from_secs(s.min(MAX_WAIT_SECONDS)))
}

fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

impl Ctx {
    /// Puts a tracked write's operation into its result after `follow`: its state once
    /// the operation watcher has recorded the end too (a few seconds of grace when the
    /// change settled), so a write with `wait` answers its operation's final state, as the
    /// REST API does.
    pub async fn attach_operation<R: crate::service::tracking::Tracked>(
        &self,
        result: &mut R,
        outcome: &Option<Outcome>,
    ) {
        let (Some(id), Some(outcome)) = (result.operation_id(), outcome.as_ref()) else {
            return;
        };
        let grace = if outcome.settled {
            Duration::from_secs(5)
        } else {
            Duration::ZERO
        };
        if let Ok(operation) = self
            .service
            .wait_operation(&self.who, &id, grace, true, None)
            .await
        {
            result.set_operation(operation);
        }
    }

    /// Follows a change for at most `wait`, reporting each new step.
    pub async fn follow(
        &self,
        follow: Follow,
        namespace: &str,
        eval_id: Option<&str>,
        wait: Duration,
    ) -> Outcome {
        let started = Instant::now();
        let deadline = started + wait;
        let mut outcome = Outcome {
            settled: false,
            state: "pending".into(),
            message: String::new(),
            evaluation_status: None,
            deployment_status: None,
            allocations: None,
            placement_failures: BTreeMap::new(),
            waited_ms: 0,
        };
        let mut last = String::new();
        loop {
            let step = self.step(&follow, namespace, eval_id, &mut outcome).await;
            if step.message != last {
                self.progress.report(&step.message).await;
                last = step.message.clone();
            }
            outcome.state = step.state;
            outcome.message = step.message;
            outcome.settled = step.done;
            if step.done || Instant::now() + POLL > deadline {
                break;
            }
            tokio::time::sleep(POLL).await;
        }
        outcome.waited_ms = started.elapsed().as_millis() as u64;
        if !outcome.settled {
            outcome.message = format!(
                "{} (still in progress after {}s; call the matching get_ tool to check again)",
                outcome.message,
                wait.as_secs()
            );
        }
        outcome
    }

    async fn step(
        &self,
        follow: &Follow,
        namespace: &str,
        eval_id: Option<&str>,
        outcome: &mut Outcome,
    ) -> Step {
        if let Some(eval_id) = eval_id {
            match self
                .service
                .get_evaluation(&self.who, eval_id, Some(namespace))
                .await
            {
                Ok(eval) => {
                    outcome.evaluation_status = Some(eval.status.clone());
                    outcome.placement_failures = eval.placement_failures.clone();
                    let failures: Vec<String> = eval
                        .placement_failures
                        .values()
                        .flatten()
                        .cloned()
                        .collect();
                    match eval.status.as_str() {
                        "pending" => {
                            return pending(format!(
                                "evaluation {} is waiting for the scheduler",
                                short(eval_id)
                            ));
                        }
                        "failed" | "canceled" | "cancelled" => {
                            return Step {
                                done: true,
                                state: "failed".into(),
                                message: format!(
                                    "evaluation {} {}: {}",
                                    short(eval_id),
                                    eval.status,
                                    eval.status_description
                                ),
                            };
                        }
                        "blocked" => {
                            return Step {
                                done: true,
                                state: "blocked".into(),
                                message: format!(
                                    "evaluation {} is blocked: {}",
                                    short(eval_id),
                                    failures.join("; ")
                                ),
                            };
                        }
                        _ if !failures.is_empty() => {
                            return Step {
                                done: true,
                                state: "blocked".into(),
                                message: format!(
                                    "some allocations could not be placed: {}",
                                    failures.join("; ")
                                ),
                            };
                        }
                        _ => {}
                    }
                }
                Err(error) => return pending(format!("evaluation not readable yet: {error}")),
            }
        }
        match follow {
            Follow::Evaluation => Step {
                done: true,
                state: "complete".into(),
                message: "the scheduler processed the change".into(),
            },
            Follow::JobRunning { job_id } => self.job_running(job_id, namespace, outcome).await,
            Follow::JobStopped { job_id } => self.job_stopped(job_id, namespace, outcome).await,
            Follow::Deployment { id } => self.deployment(id, namespace, outcome).await,
            Follow::NodeDrain { id } => self.node_drain(id).await,
        }
    }

    async fn job_running(&self, job_id: &str, namespace: &str, outcome: &mut Outcome) -> Step {
        let job = match self
            .service
            .get_job(&self.who, job_id, Some(namespace))
            .await
        {
            Ok(job) => job,
            Err(error) => return pending(format!("job '{job_id}' not readable yet: {error}")),
        };
        let mut counts = AllocationCounts::default();
        for g in &job.groups {
            counts.queued += g.allocations.queued;
            counts.starting += g.allocations.starting;
            counts.running += g.allocations.running;
            counts.failed += g.allocations.failed;
            counts.complete += g.allocations.complete;
            counts.lost += g.allocations.lost;
        }
        let desired: i64 = job.groups.iter().map(|g| g.desired).sum();
        outcome.allocations = Some(counts.clone());
        if let Some(d) = job
            .latest_deployment
            .as_ref()
            .filter(|d| d.job_version == job.version)
        {
            outcome.deployment_status = Some(d.status.clone());
            let healthy: u64 = d.groups.values().map(|g| g.healthy).sum();
            let wanted: u64 = d.groups.values().map(|g| g.desired).sum();
            let unhealthy: u64 = d.groups.values().map(|g| g.unhealthy).sum();
            let message = format!(
                "deployment {} {}: {healthy} of {wanted} allocations healthy, {unhealthy} unhealthy",
                short(&d.id),
                d.status
            );
            return match d.status.as_str() {
                "successful" => Step {
                    done: true,
                    state: "running".into(),
                    message,
                },
                "failed" | "cancelled" => Step {
                    done: true,
                    state: d.status.clone(),
                    message: format!("{message} ({}); diagnose_job explains why", d.description),
                },
                _ => pending(message),
            };
        }
        let message = format!(
            "job '{job_id}' is {}: {} running, {} starting, {} queued, {} failed, {} complete of {desired} wanted",
            job.status,
            counts.running,
            counts.starting,
            counts.queued,
            counts.failed,
            counts.complete
        );
        let settled = counts.queued == 0
            && counts.starting == 0
            && (counts.running + counts.complete + counts.failed) as i64 >= desired;
        if !settled {
            return pending(message);
        }
        let state = if counts.failed > 0 && counts.running == 0 {
            "failed"
        } else if job.job_type == "batch" && counts.running == 0 {
            "complete"
        } else {
            "running"
        };
        Step {
            done: true,
            state: state.into(),
            message,
        }
    }

    async fn job_stopped(&self, job_id: &str, namespace: &str, outcome: &mut Outcome) -> Step {
        match self
            .service
            .get_job(&self.who, job_id, Some(namespace))
            .await
        {
            Ok(job) => {
                let mut counts = AllocationCounts::default();
                for g in &job.groups {
                    counts.queued += g.allocations.queued;
                    counts.starting += g.allocations.starting;
                    counts.running += g.allocations.running;
                    counts.failed += g.allocations.failed;
                    counts.complete += g.allocations.complete;
                    counts.lost += g.allocations.lost;
                }
                outcome.allocations = Some(counts.clone());
                let live = counts.running + counts.starting + counts.queued;
                if live == 0 {
                    Step {
                        done: true,
                        state: "stopped".into(),
                        message: format!("job '{job_id}' is stopped; no allocation runs"),
                    }
                } else {
                    pending(format!(
                        "job '{job_id}' is stopping: {live} allocation(s) still live"
                    ))
                }
            }
            // Purged: the job is gone, which is as stopped as it gets.
            Err(crate::service::ServiceError::NotFound(_)) => Step {
                done: true,
                state: "stopped".into(),
                message: format!("job '{job_id}' is stopped and purged"),
            },
            Err(error) => pending(format!("job '{job_id}' not readable: {error}")),
        }
    }

    async fn deployment(&self, id: &str, namespace: &str, outcome: &mut Outcome) -> Step {
        match self
            .service
            .get_deployment(&self.who, id, Some(namespace))
            .await
        {
            Ok(d) => {
                outcome.deployment_status = Some(d.status.clone());
                let healthy: u64 = d.groups.values().map(|g| g.healthy).sum();
                let wanted: u64 = d.groups.values().map(|g| g.desired).sum();
                let message = format!(
                    "deployment {} {}: {healthy} of {wanted} allocations healthy ({})",
                    short(id),
                    d.status,
                    d.description
                );
                match d.status.as_str() {
                    "successful" | "failed" | "cancelled" => Step {
                        done: true,
                        state: d.status.clone(),
                        message,
                    },
                    _ => pending(message),
                }
            }
            Err(error) => pending(format!("deployment {} not readable: {error}", short(id))),
        }
    }

    async fn node_drain(&self, id: &str) -> Step {
        match self.service.get_node(&self.who, id).await {
            Ok(node) if node.summary.draining => pending(format!(
                "node {} is draining its allocations",
                node.summary.name
            )),
            Ok(node) => Step {
                done: true,
                state: "drained".into(),
                message: format!(
                    "node {} is not draining (eligibility: {})",
                    node.summary.name, node.summary.eligibility
                ),
            },
            Err(error) => pending(format!("node {} not readable: {error}", short(id))),
        }
    }
}

fn pending(message: String) -> Step {
    Step {
        done: false,
        state: "pending".into(),
        message,
    }
}
