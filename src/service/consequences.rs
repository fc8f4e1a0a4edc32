//! What a destructive change would do, in one sentence a person can agree to before it
//! runs ("Stop job web in prod: its 3 running allocations stop."). Read from Nomad as the
//! caller: the caller must be allowed the change itself (a refusal here is the change's
//! refusal, audited as such), and no budget is spent, since the change spends its own.

use std::collections::BTreeSet;

use super::policy::Access;
use super::{Principal, Service, ServiceError};
use crate::nomad::QueryOptions;

/// A change that a person should agree to first.
#[derive(Debug, Clone)]
pub enum Change {
    StopJob {
        job_id: String,
        namespace: Option<String>,
        purge: bool,
    },
    RevertJob {
        job_id: String,
        namespace: Option<String>,
        version: u64,
    },
    StopAllocation {
        alloc_id: String,
        namespace: Option<String>,
    },
    SignalAllocation {
        alloc_id: String,
        namespace: Option<String>,
        signal: String,
        task: Option<String>,
    },
    FailDeployment {
        deployment_id: String,
        namespace: Option<String>,
    },
    SetAllocationHealth {
        deployment_id: String,
        namespace: Option<String>,
        healthy: usize,
        unhealthy: usize,
    },
    DrainNode {
        node_id: String,
        deadline_seconds: Option<u64>,
        ignore_system_jobs: bool,
        cancel: bool,
    },
    PurgeNode {
        node_id: String,
    },
    DeleteVariable {
        path: String,
        namespace: Option<String>,
    },
    CancelOperation {
        operation_id: String,
    },
}

impl Change {
    /// The namespace the caller named, for a change inside one (`Some(None)`: the
    /// gateway's default); `None` for nodes and operations, which belong to none.
    fn namespace(&self) -> Option<Option<&str>> {
        match self {
            Change::StopJob { namespace, .. }
            | Change::RevertJob { namespace, .. }
            | Change::StopAllocation { namespace, .. }
            | Change::SignalAllocation { namespace, .. }
            | Change::FailDeployment { namespace, .. }
            | Change::SetAllocationHealth { namespace, .. }
            | Change::DeleteVariable { namespace, .. } => Some(namespace.as_deref()),
            Change::DrainNode { .. }
            | Change::PurgeNode { .. }
            | Change::CancelOperation { .. } => None,
        }
    }

    fn job_id(&self) -> Option<&str> {
        match self {
            Change::StopJob { job_id, .. } | Change::RevertJob { job_id, .. } => Some(job_id),
            _ => None,
        }
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

fn is_live(client_status: &str, desired_status: &str) -> bool {
    desired_status == "run" && matches!(client_status, "running" | "pending")
}

impl Service {
    /// The sentence describing `change`, for a person to confirm. `operation` is the name
    /// the change's refusal is recorded under.
    pub async fn consequences(
        &self,
        who: &Principal,
        operation: &'static str,
        change: &Change,
    ) -> Result<String, ServiceError> {
        match change {
            Change::StopJob {
                job_id,
                namespace,
                purge,
            } => {
                let namespace = self.namespace(namespace.as_deref());
                self.permit(who, Access::Write, Some(&namespace), operation)?;
                // One request: the summary's counts (404 for a job Nomad does not have).
                let options = self.in_namespace(&namespace);
                let summary = self.nomad.job_summary(job_id, &options);
                let summary = self
                    .with_job_hint(job_id, Some(&namespace), async {
                        summary.await.map_err(|e| {
                            ServiceError::from_nomad(e, || {
                                format!("job '{job_id}' not found in namespace '{namespace}'")
                            })
                        })
                    })
                    .await?
                    .value;
                let live: u64 = summary
                    .summary
                    .values()
                    .map(|group| group.running + group.starting)
                    .sum();
                let mut text = format!("Stop job {job_id} in {namespace}: ");
                text.push_str(&match live {
                    0 => "none of its allocations is running".to_string(),
                    1 => "its 1 running allocation stops".to_string(),
                    n => format!("its {n} running allocations stop"),
                });
                if *purge {
                    text.push_str("; the job is purged too, and its history is lost");
                }
                text.push('.');
                Ok(text)
            }
            Change::RevertJob {
                job_id,
                namespace,
                version,
            } => {
                let namespace = self.namespace(namespace.as_deref());
                self.permit(who, Access::Write, Some(&namespace), operation)?;
                let job = self
                    .with_job_hint(job_id, Some(&namespace), self.read_job(job_id, &namespace))
                    .await?;
                let live = self.live_allocations(job_id, &namespace).await?;
                Ok(format!(
                    "Revert job {job_id} in {namespace} from version {} to version {version}: \
                     Nomad rolls version {version} out over its {}.",
                    job.version,
                    plural(live, "running allocation", "running allocations")
                ))
            }
            Change::StopAllocation {
                alloc_id,
                namespace,
            } => {
                let namespace = self.namespace(namespace.as_deref());
                self.permit(who, Access::Write, Some(&namespace), operation)?;
                let alloc = self.read_allocation(who, alloc_id, &namespace).await?;
                Ok(format!(
                    "Stop allocation {} ({}, {}) of job {} in {namespace} on node {}: Nomad \
                     places a replacement if the job still wants one.",
                    short(&alloc.id),
                    alloc.name,
                    alloc.client_status,
                    alloc.job_id,
                    alloc.node_name
                ))
            }
            Change::SignalAllocation {
                alloc_id,
                namespace,
                signal,
                task,
            } => {
                let namespace = self.namespace(namespace.as_deref());
                self.permit(who, Access::Write, Some(&namespace), operation)?;
                let alloc = self.read_allocation(who, alloc_id, &namespace).await?;
                let tasks = match task {
                    Some(task) => format!("task {task}"),
                    None => format!(
                        "every task ({})",
                        alloc
                            .task_states
                            .keys()
                            .cloned()
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                };
                Ok(format!(
                    "Send {signal} to {tasks} of allocation {} ({}) of job {} in {namespace}.",
                    short(&alloc.id),
                    alloc.name,
                    alloc.job_id
                ))
            }
            Change::FailDeployment {
                deployment_id,
                namespace,
            } => {
                let namespace = self.namespace(namespace.as_deref());
                self.permit(who, Access::Write, Some(&namespace), operation)?;
                let deployment = self.read_deployment(deployment_id, &namespace).await?;
                let reverts = deployment.task_groups.values().any(|g| g.auto_revert);
                Ok(format!(
                    "Fail deployment {} of job {} in {namespace} (version {}, {}): its rollout \
                     stops{}.",
                    short(&deployment.id),
                    deployment.job_id,
                    deployment.job_version,
                    deployment.status,
                    if reverts {
                        " and Nomad rolls the job back to its last stable version"
                    } else {
                        "; without auto-revert, what was placed stays"
                    }
                ))
            }
            Change::SetAllocationHealth {
                deployment_id,
                namespace,
                healthy,
                unhealthy,
            } => {
                let namespace = self.namespace(namespace.as_deref());
                self.permit(who, Access::Write, Some(&namespace), operation)?;
                let deployment = self.read_deployment(deployment_id, &namespace).await?;
                let mut text = format!(
                    "In deployment {} of job {} in {namespace}, mark {} healthy and {} unhealthy",
                    short(&deployment.id),
                    deployment.job_id,
                    plural(*healthy, "allocation", "allocations"),
                    unhealthy
                );
                if *unhealthy > 0 {
                    text.push_str(": an unhealthy one fails the deployment");
                }
                text.push('.');
                Ok(text)
            }
            Change::DrainNode {
                node_id,
                deadline_seconds,
                ignore_system_jobs,
                cancel,
            } => {
                self.permit(who, Access::NodesWrite, None, operation)?;
                let node = self.read_node(node_id).await?;
                let name = format!("{} ({})", node.name, short(&node.id));
                if *cancel {
                    return Ok(format!(
                        "Cancel the drain of node {name}: what has not moved yet stays."
                    ));
                }
                let allocs = self
                    .nomad
                    .node_allocations(&node.id, &QueryOptions::default())
                    .await
                    .map_err(|e| {
                        ServiceError::from_nomad(e, || format!("node '{node_id}' not found"))
                    })?
                    .value;
                let live: Vec<_> = allocs
                    .iter()
                    .filter(|a| is_live(&a.client_status, &a.desired_status))
                    .collect();
                let jobs: BTreeSet<&str> = live.iter().map(|a| a.job_id.as_str()).collect();
                let mut text = format!("Drain node {name}: ");
                if live.is_empty() {
                    text.push_str("no allocation runs on it; it takes no new work");
                } else {
                    // The drain's own default (`drain_node`): an hour.
                    let deadline = deadline_seconds.unwrap_or(3600);
                    let moved = if deadline == 0 {
                        "stop at once"
                    } else {
                        "move elsewhere"
                    };
                    text.push_str(&format!(
                        "its {} ({} {}) {moved}",
                        plural(live.len(), "running allocation", "running allocations"),
                        if jobs.len() == 1 { "job" } else { "jobs" },
                        jobs.into_iter().collect::<Vec<_>>().join(", "),
                    ));
                    if deadline > 0 {
                        text.push_str(&format!(
                            "; whatever is left after {} is stopped",
                            crate::config::format_duration(std::time::Duration::from_secs(
                                deadline
                            ))
                        ));
                    }
                    if *ignore_system_jobs {
                        text.push_str("; system jobs stay");
                    }
                }
                text.push('.');
                Ok(text)
            }
            Change::PurgeNode { node_id } => {
                self.permit(who, Access::NodesWrite, None, operation)?;
                let node = self.read_node(node_id).await?;
                Ok(format!(
                    "Purge node {} ({}, {}) from the cluster: Nomad forgets it, and its \
                     allocations are marked lost.",
                    node.name,
                    short(&node.id),
                    node.status
                ))
            }
            Change::DeleteVariable { path, namespace } => {
                let namespace = self.namespace(namespace.as_deref());
                self.permit(who, Access::VariablesWrite, Some(&namespace), operation)?;
                Ok(format!(
                    "Delete variable {path} in {namespace}: its items are gone for good."
                ))
            }
            Change::CancelOperation { operation_id } => {
                let op = self.get_operation(who, operation_id).await?;
                let what = match (&op.job_id, &op.node_id) {
                    (Some(job), _) => format!(
                        " of job {job} in {}",
                        op.namespace.as_deref().unwrap_or("default")
                    ),
                    (None, Some(node)) => format!(" of node {}", short(node)),
                    _ => String::new(),
                };
                Ok(format!(
                    "Cancel operation {} ({}{what}, {}): its deployment is failed, its \
                     dispatched job stopped or its drain cancelled.",
                    short(&op.id),
                    op.kind,
                    op.state.as_str()
                ))
            }
        }
    }

    /// How many of a job's allocations run or are about to.
    async fn live_allocations(&self, job_id: &str, namespace: &str) -> Result<usize, ServiceError> {
        let allocs = self
            .nomad
            .job_allocations(job_id, false, &self.in_namespace(namespace))
            .await
            .map_err(|e| {
                ServiceError::from_nomad(e, || {
                    format!("job '{job_id}' not found in namespace '{namespace}'")
                })
            })?
            .value;
        Ok(allocs
            .iter()
            .filter(|a| is_live(&a.client_status, &a.desired_status))
            .count())
    }
}

/// How a person answered a confirmation, as the audit log records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// They agreed; the call runs.
    Accepted,
    /// They said no.
    Declined,
    /// They dismissed the question.
    Cancelled,
    /// No answer came in time, or the answer was unreadable.
    Unanswered,
    /// The client cannot ask, and the gateway runs the call anyway (`GATEWAY_MCP_CONFIRM=ask`).
    NotAsked,
    /// The client cannot ask, and the gateway refuses (`GATEWAY_MCP_CONFIRM=require`).
    Refused,
}

impl Answer {
    pub fn as_str(self) -> &'static str {
        match self {
            Answer::Accepted => "accepted",
            Answer::Declined => "declined",
            Answer::Cancelled => "cancelled",
            Answer::Unanswered => "unanswered",
            Answer::NotAsked => "not_asked",
            Answer::Refused => "refused",
        }
    }

    /// Whether the call goes ahead.
    pub fn runs(self) -> bool {
        matches!(self, Answer::Accepted | Answer::NotAsked)
    }
}

/// What a person was asked to confirm: the tool, its change and arguments, the sentence
/// (`None` when nobody could be asked) and how it was asked.
pub struct Confirmation<'a> {
    pub tool: &'static str,
    pub change: &'a Change,
    pub arguments: &'a serde_json::Map<String, serde_json::Value>,
    pub asked: Option<&'a str>,
    pub via: &'static str,
}

impl Service {
    /// Records a confirmation and its answer (operation `confirm`), and waits until the
    /// event is durable: the call it lets run is audited on its own.
    pub async fn record_confirmation(
        &self,
        who: &Principal,
        about: Confirmation<'_>,
        answer: Answer,
    ) {
        let Some(audit) = self.guard.audit() else {
            return;
        };
        let Confirmation {
            tool,
            change,
            arguments,
            asked,
            via,
        } = about;
        let entry = super::audit::Entry {
            operation: "confirm",
            namespace: change.namespace().map(|named| self.namespace(named)),
            job_id: change.job_id().map(String::from),
            arguments: serde_json::json!({
                "tool": tool,
                "answer": answer.as_str(),
                "via": via,
                "asked": asked,
                "arguments": super::audit::redact(serde_json::Value::Object(arguments.clone())),
            }),
            outcome: if answer.runs() {
                super::audit::Outcome::Ok
            } else {
                super::audit::Outcome::Refused
            },
            message: asked.map(String::from),
            eval_id: None,
            duration: std::time::Duration::ZERO,
        };
        match audit.reserve() {
            Ok(slot) => slot.record(who, entry).await,
            Err(_) => audit.record_refusal(who, entry).await,
        }
    }
}
