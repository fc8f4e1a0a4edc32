//! `find_problems`: what is wrong across a namespace (or every namespace the caller may
//! read) and the cluster's nodes, in one call, most severe first, each with the call to
//! make next.
//!
//! One read of each list (jobs, allocations, blocked evaluations, deployments, nodes),
//! sent together, then one finding per thing that is wrong, never two for one cause:
//! a job's allocations make at most one finding (a crash loop, else failed allocations,
//! else lost ones); allocations lost with a node that is down belong to that node's
//! finding; a job whose placement is blocked is not also "pending" or "lost"; only a job's latest
//! deployment counts; a node makes at most one finding (down, else draining, else
//! ineligible).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::page::bounded_limit;
use super::{Principal, Service, ServiceError};
use crate::nomad::QueryOptions;
use crate::nomad::types::{Allocation, Deployment, Evaluation, JobListStub, NodeListStub};
use crate::operations::placement::{GroupAsk, explain};
use crate::service::policy::Access;

/// Findings an answer holds by default, and at most.
pub const DEFAULT_FINDINGS: usize = 20;
pub const MAX_FINDINGS: usize = 100;
/// Task restarts across the allocations of a job's current version that make a crash
/// loop: Nomad's default restart policy gives a task 2 restarts before its allocation
/// fails and is rescheduled, so a loop shows as 2 restarts or more, spread over several
/// allocations once they are rescheduled.
pub const CRASH_LOOP_RESTARTS: u64 = 2;
/// An allocation pending (not started) longer than this is stuck.
pub const PENDING_FOR_NS: i64 = 5 * 60 * 1_000_000_000;

/// How bad a finding is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Work is lost or a rollout failed.
    Critical,
    /// Work does not run as asked.
    High,
    /// Something waits, or capacity is reduced.
    Medium,
    /// Worth knowing.
    Low,
}

/// One thing that is wrong.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Problem {
    pub severity: Severity,
    /// `node_down`, `deployment_failed`, `crash_loop`, `allocations_failed`,
    /// `placement_blocked`, `deployment_stuck`, `allocations_lost`,
    /// `deployment_awaiting_promotion`, `allocations_pending`, `node_draining`,
    /// `node_ineligible`.
    pub kind: String,
    /// What it is about: `job web` or `node worker-3`.
    pub subject: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_id: Option<String>,
    /// What is wrong, in a sentence.
    pub message: String,
    /// The call to make next (a tool with its arguments; the REST route says the same).
    pub next_step: String,
}

/// How much was looked at.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Scanned {
    pub jobs: u64,
    pub allocations: u64,
    pub blocked_evaluations: u64,
    pub deployments: u64,
    pub nodes: u64,
}

/// What `find_problems` found.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct ProblemReport {
    pub namespace: String,
    /// Most severe first; at most `limit`.
    pub problems: Vec<Problem>,
    /// How many were found in all.
    pub total: u64,
    pub scanned: Scanned,
}

/// What the analysis reads.
#[derive(Debug, Default)]
pub struct ClusterView {
    pub jobs: Vec<JobListStub>,
    pub allocations: Vec<Allocation>,
    pub blocked: Vec<Evaluation>,
    pub deployments: Vec<Deployment>,
    pub nodes: Vec<NodeListStub>,
    /// What the groups of jobs with a blocked evaluation ask for, by namespace and job, to
    /// put numbers in the placement sentences.
    pub asks: BTreeMap<(String, String), BTreeMap<String, GroupAsk>>,
}

fn call(tool: &str, args: serde_json::Value) -> String {
    format!("{tool} {args}")
}

fn job_call(tool: &str, namespace: &str, job_id: &str) -> String {
    call(
        tool,
        serde_json::json!({"job_id": job_id, "namespace": namespace}),
    )
}

/// The findings in `view` at time `now` (Unix nanoseconds), most severe first.
pub fn analyze(view: &ClusterView, now: i64) -> Vec<Problem> {
    let mut found = Vec::new();
    let down: BTreeSet<&str> = view
        .nodes
        .iter()
        .filter(|n| n.status == "down")
        .map(|n| n.id.as_str())
        .collect();
    nodes(view, &mut found);
    let blocked = blocked_jobs(view, &mut found);
    deployments(view, now, &mut found);
    allocations(view, &down, &blocked, now, &mut found);
    pending(view, &blocked, &mut found);
    fold_unhealthy_deployments(&mut found);
    found.sort_by(|a, b| {
        (a.severity, kind_rank(&a.kind), &a.subject).cmp(&(
            b.severity,
            kind_rank(&b.kind),
            &b.subject,
        ))
    });
    found
}

const KINDS: [&str; 11] = [
    "node_down",
    "deployment_failed",
    "crash_loop",
    "allocations_failed",
    "placement_blocked",
    "deployment_stuck",
    "allocations_lost",
    "deployment_awaiting_promotion",
    "allocations_pending",
    "node_draining",
    "node_ineligible",
];

fn kind_rank(kind: &str) -> usize {
    KINDS.iter().position(|k| *k == kind).unwrap_or(KINDS.len())
}

/// A deployment that failed on its unhealthy allocations and the crash loop or failed
/// allocations behind it are one cause: one finding, at the deployment's severity.
fn fold_unhealthy_deployments(found: &mut Vec<Problem>) {
    let mut folded = Vec::new();
    for i in 0..found.len() {
        let d = &found[i];
        if d.kind != "deployment_failed" || !d.message.contains("unhealthy allocations") {
            continue;
        }
        let same_job = |p: &Problem| {
            (p.kind == "crash_loop" || p.kind == "allocations_failed")
                && p.namespace == d.namespace
                && p.job_id == d.job_id
        };
        if let Some(j) = found.iter().position(same_job) {
            folded.push((i, j));
        }
    }
    for &(i, j) in &folded {
        let deployment = found[i].message.clone();
        let cause = &mut found[j];
        cause.severity = cause.severity.min(Severity::Critical);
        cause.message = format!("{}; {deployment}", cause.message);
    }
    let drop: BTreeSet<usize> = folded.into_iter().map(|(i, _)| i).collect();
    let mut index = 0;
    found.retain(|_| {
        index += 1;
        !drop.contains(&(index - 1))
    });
}

fn nodes(view: &ClusterView, found: &mut Vec<Problem>) {
    for node in &view.nodes {
        let lost: BTreeSet<&str> = view
            .allocations
            .iter()
            .filter(|a| a.node_id == node.id && a.client_status == "lost")
            .map(|a| a.job_id.as_str())
            .collect();
        let (severity, kind, message) = if node.status == "down" {
            let lost = if lost.is_empty() {
                String::new()
            } else {
                format!(
                    "; allocations of {} were lost with it",
                    lost.iter()
                        .map(|j| format!("job {j}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            (
                Severity::Critical,
                "node_down",
                format!("node {} ({}) is down{lost}", node.name, node.datacenter),
            )
        } else if node.drain {
            // What keeps the drain going: Nomad's drainer leaves batch allocations to
            // finish and moves a service group's only as fast as its `migrate` block lets.
            let mut staying: BTreeMap<&str, usize> = BTreeMap::new();
            for a in view.allocations.iter().filter(|a| {
                a.node_id == node.id
                    && a.desired_status == "run"
                    && matches!(a.client_status.as_str(), "pending" | "running")
            }) {
                *staying.entry(a.job_id.as_str()).or_default() += 1;
            }
            let still = if staying.is_empty() {
                "its allocations are moving away".to_string()
            } else {
                format!(
                    "{} allocation(s) still run on it ({})",
                    staying.values().sum::<usize>(),
                    staying
                        .keys()
                        .map(|j| format!("job {j}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            (
                Severity::Medium,
                "node_draining",
                format!(
                    "node {} ({}) is draining: {still}",
                    node.name, node.datacenter
                ),
            )
        } else if node.scheduling_eligibility == "ineligible" {
            (
                Severity::Low,
                "node_ineligible",
                format!(
                    "node {} ({}) takes no new allocations (ineligible)",
                    node.name, node.datacenter
                ),
            )
        } else {
            continue;
        };
        found.push(Problem {
            severity,
            kind: kind.into(),
            subject: format!("node {}", node.name),
            namespace: None,
            job_id: None,
            node_id: Some(node.id.clone()),
            message,
            next_step: call("get_node", serde_json::json!({"node_id": node.id})),
        });
    }
}

/// One finding per job whose latest blocked evaluation could not place; the jobs.
fn blocked_jobs(view: &ClusterView, found: &mut Vec<Problem>) -> BTreeSet<(String, String)> {
    let mut latest: BTreeMap<(String, String), &Evaluation> = BTreeMap::new();
    for eval in view.blocked.iter().filter(|e| e.status == "blocked") {
        let key = (eval.namespace.clone(), eval.job_id.clone());
        if latest
            .get(&key)
            .is_none_or(|e| e.create_index < eval.create_index)
        {
            latest.insert(key, eval);
        }
    }
    for ((namespace, job_id), eval) in &latest {
        let asks = view.asks.get(&(namespace.clone(), job_id.clone()));
        let groups: Vec<String> = eval
            .failed_tg_allocs
            .iter()
            .map(|(group, metric)| {
                let ask = asks.and_then(|a| a.get(group)).copied().unwrap_or_default();
                let reasons = explain(group, metric, ask);
                format!("group {group}: {}", reasons.join("; "))
            })
            .collect();
        let mut why = if groups.is_empty() {
            "waiting for resources".to_string()
        } else {
            groups.join("; ")
        };
        // Lost allocations waiting for this placement are the same cause.
        let lost = view
            .allocations
            .iter()
            .filter(|a| &a.namespace == namespace && &a.job_id == job_id)
            .filter(|a| a.client_status == "lost" && a.next_allocation.is_empty())
            .count();
        if lost > 0 {
            why.push_str(&format!("; {lost} lost allocation(s) wait for it"));
        }
        found.push(Problem {
            severity: Severity::High,
            kind: "placement_blocked".into(),
            subject: format!("job {job_id}"),
            namespace: Some(namespace.clone()),
            job_id: Some(job_id.clone()),
            node_id: None,
            message: format!("job {job_id} cannot place all its allocations: {why}"),
            next_step: job_call("diagnose_job", namespace, job_id),
        });
    }
    latest.into_keys().collect()
}

fn deployments(view: &ClusterView, now: i64, found: &mut Vec<Problem>) {
    let mut latest: BTreeMap<(&str, &str), &Deployment> = BTreeMap::new();
    for d in &view.deployments {
        let key = (d.namespace.as_str(), d.job_id.as_str());
        if latest
            .get(&key)
            .is_none_or(|l| l.create_index < d.create_index)
        {
            latest.insert(key, d);
        }
    }
    for ((namespace, job_id), d) in latest {
        let short = d.id.get(..8).unwrap_or(&d.id);
        let progress: Vec<String> = d
            .task_groups
            .iter()
            .map(|(g, s)| {
                format!(
                    "group {g}: {} of {} healthy",
                    s.healthy_allocs, s.desired_total
                )
            })
            .collect();
        // Short of what the group needs, as Nomad's deployment watcher counts it
        // (`shouldFail` in `nomad/deploymentwatcher/deployment_watcher.go`): enough
        // healthy canaries while awaiting promotion, else every allocation.
        let late = d.task_groups.values().any(|s| {
            let short = if s.desired_canaries > 0 && !s.promoted {
                s.healthy_allocs < s.desired_canaries
            } else {
                s.healthy_allocs < s.desired_total
            };
            short
                && s.require_progress_by
                    .as_deref()
                    .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                    .and_then(|t| t.timestamp_nanos_opt())
                    .is_some_and(|by| by > 0 && by < now)
        });
        let awaiting = d.task_groups.values().any(|s| {
            s.desired_canaries > 0 && !s.promoted && s.healthy_allocs >= s.desired_canaries
        });
        let (severity, kind, message) = match d.status.as_str() {
            "failed" => (
                Severity::Critical,
                "deployment_failed",
                format!(
                    "the latest deployment {short} of job {job_id} (version {}) failed: {}",
                    d.job_version, d.status_description
                ),
            ),
            "running" | "paused" | "blocked" | "pending" if late => (
                Severity::High,
                "deployment_stuck",
                format!(
                    "deployment {short} of job {job_id} is {}past its progress deadline ({})",
                    if d.status == "paused" {
                        "paused and "
                    } else {
                        ""
                    },
                    progress.join(", ")
                ),
            ),
            "running" | "paused" if awaiting => (
                Severity::Medium,
                "deployment_awaiting_promotion",
                format!(
                    "deployment {short} of job {job_id} waits for its healthy canaries to be promoted ({})",
                    progress.join(", ")
                ),
            ),
            _ => continue,
        };
        found.push(Problem {
            severity,
            kind: kind.into(),
            subject: format!("job {job_id}"),
            namespace: Some(namespace.to_string()),
            job_id: Some(job_id.to_string()),
            node_id: None,
            message,
            next_step: call(
                "get_deployment",
                serde_json::json!({"deployment_id": d.id, "namespace": namespace}),
            ),
        });
    }
}

/// At most one finding per job from its allocations: a crash loop, else failed
/// allocations not replaced, else allocations lost elsewhere than on a down node (unless
/// a blocked placement waits for them: that finding says so), else allocations pending.
fn allocations(
    view: &ClusterView,
    down: &BTreeSet<&str>,
    blocked: &BTreeSet<(String, String)>,
    now: i64,
    found: &mut Vec<Problem>,
) {
    let mut by_job: BTreeMap<(&str, &str), Vec<&Allocation>> = BTreeMap::new();
    for a in &view.allocations {
        by_job
            .entry((a.namespace.as_str(), a.job_id.as_str()))
            .or_default()
            .push(a);
    }
    // A stopped job's allocations are over on purpose.
    let stopped: BTreeSet<(&str, &str)> = view
        .jobs
        .iter()
        .filter(|j| j.stop)
        .map(|j| (j.namespace.as_str(), j.id.as_str()))
        .collect();
    // A system job runs one allocation per node: one lost with its node is never replaced
    // elsewhere (the node's own finding names it while the node is down).
    let per_node: BTreeSet<(&str, &str)> = view
        .jobs
        .iter()
        .filter(|j| matches!(j.job_type.as_str(), "system" | "sysbatch"))
        .map(|j| (j.namespace.as_str(), j.id.as_str()))
        .collect();
    for ((namespace, job_id), allocs) in by_job {
        if stopped.contains(&(namespace, job_id)) {
            continue;
        }
        // Restarts of the current version's tasks, in allocations still wanted or failed.
        let version = allocs.iter().map(|a| a.job_version).max().unwrap_or(0);
        let current = || {
            allocs.iter().filter(move |a| {
                a.job_version == version
                    && (a.desired_status == "run" || a.client_status == "failed")
            })
        };
        let restarts: u64 = current()
            .flat_map(|a| a.task_states.values())
            .map(|s| s.restarts)
            .sum();
        let crash = (restarts >= CRASH_LOOP_RESTARTS)
            .then(|| {
                current()
                    .flat_map(|a| a.task_states.iter().map(move |(t, s)| (*a, t, s)))
                    .max_by_key(|(a, _, s)| (s.restarts, a.create_index))
            })
            .flatten();
        let failed_in_loop = current().filter(|a| a.client_status == "failed").count();
        let failed: Vec<&&Allocation> = allocs
            .iter()
            .filter(|a| a.client_status == "failed" && a.next_allocation.is_empty())
            .collect();
        let lost: Vec<&&Allocation> = allocs
            .iter()
            .filter(|a| {
                a.client_status == "lost"
                    && a.next_allocation.is_empty()
                    && !down.contains(a.node_id.as_str())
                    && !per_node.contains(&(namespace, job_id))
            })
            .collect();
        let is_blocked = blocked.contains(&(namespace.to_string(), job_id.to_string()));
        let stuck: Vec<&&Allocation> = allocs
            .iter()
            .filter(|a| {
                a.client_status == "pending"
                    && a.desired_status == "run"
                    && a.create_time > 0
                    && now - a.create_time > PENDING_FOR_NS
            })
            .collect();
        let (severity, kind, message, next_step) = if let Some((alloc, task, _)) = crash {
            (
                Severity::High,
                "crash_loop",
                format!(
                    "job {job_id} is crash-looping: its tasks restarted {restarts} times{} (the latest: task {task} of allocation {})",
                    if failed_in_loop == 0 {
                        String::new()
                    } else {
                        format!(" and {failed_in_loop} allocation(s) failed")
                    },
                    short(&alloc.id),
                ),
                job_call("diagnose_job", namespace, job_id),
            )
        } else if let Some(first) = failed.first() {
            (
                Severity::High,
                "allocations_failed",
                format!(
                    "job {job_id} has {} failed allocation(s) that were not replaced (the latest: {})",
                    failed.len(),
                    short(&first.id)
                ),
                job_call("diagnose_job", namespace, job_id),
            )
        } else if let Some(first) = lost.first()
            && !is_blocked
        {
            (
                Severity::Medium,
                "allocations_lost",
                format!(
                    "job {job_id} has {} lost allocation(s) not replaced (on node {})",
                    lost.len(),
                    first.node_name
                ),
                job_call("diagnose_job", namespace, job_id),
            )
        } else if let Some(first) = stuck.first()
            && !is_blocked
        {
            (
                Severity::Medium,
                "allocations_pending",
                format!(
                    "job {job_id} has {} allocation(s) placed but not started for over 5 minutes (such as {} on node {})",
                    stuck.len(),
                    short(&first.id),
                    first.node_name
                ),
                call(
                    "get_allocation",
                    serde_json::json!({"alloc_id": first.id, "namespace": namespace}),
                ),
            )
        } else {
            continue;
        };
        found.push(Problem {
            severity,
            kind: kind.into(),
            subject: format!("job {job_id}"),
            namespace: Some(namespace.to_string()),
            job_id: Some(job_id.to_string()),
            node_id: None,
            message,
            next_step,
        });
    }
}

/// Jobs whose summary counts queued allocations, unless a blocked evaluation already
/// said why (the scheduler queues what it cannot place).
fn pending(view: &ClusterView, blocked: &BTreeSet<(String, String)>, found: &mut Vec<Problem>) {
    for job in &view.jobs {
        if job.stop || blocked.contains(&(job.namespace.clone(), job.id.clone())) {
            continue;
        }
        let queued: u64 = job
            .job_summary
            .as_ref()
            .map(|s| s.summary.values().map(|g| g.queued).sum())
            .unwrap_or(0);
        if queued == 0 {
            continue;
        }
        found.push(Problem {
            severity: Severity::Medium,
            kind: "allocations_pending".into(),
            subject: format!("job {}", job.id),
            namespace: Some(job.namespace.clone()),
            job_id: Some(job.id.clone()),
            node_id: None,
            message: format!(
                "job {} has {queued} allocation(s) queued, not yet placed",
                job.id
            ),
            next_step: job_call("diagnose_job", &job.namespace, &job.id),
        });
    }
}

fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

impl Service {
    /// What is wrong in a namespace (`*`: every namespace the caller may read) and on the
    /// cluster's nodes, most severe first, at most `limit` findings.
    pub async fn find_problems(
        &self,
        who: &Principal,
        namespace: Option<&str>,
        limit: Option<u32>,
    ) -> Result<ProblemReport, ServiceError> {
        let namespace = self.namespace(namespace);
        self.allow(who, Access::Read, Some(&namespace), "find_problems")
            .await?;
        let limit = bounded_limit(limit, DEFAULT_FINDINGS, MAX_FINDINGS)?;
        let options = self.in_namespace(&namespace);
        let blocked = QueryOptions {
            filter: Some("Status == \"blocked\"".into()),
            ..options.clone()
        };
        let cluster = QueryOptions::default();
        let (jobs, allocations, evaluations, deployments, nodes) = tokio::join!(
            self.nomad.list_jobs(&options),
            self.nomad.list_allocations(&options),
            self.nomad.list_evaluations(&blocked),
            self.nomad.list_deployments(&options),
            self.nomad.list_nodes(false, &cluster),
        );
        let missing = |what: &'static str| {
            let namespace = namespace.clone();
            move || format!("{what} of namespace '{namespace}' not found")
        };
        let allowed = |ns: &str| who.namespaces.allows(ns);
        let mut view = ClusterView {
            jobs: jobs
                .map_err(|e| ServiceError::from_nomad(e, missing("jobs")))?
                .value,
            allocations: allocations
                .map_err(|e| ServiceError::from_nomad(e, missing("allocations")))?
                .value,
            blocked: evaluations
                .map_err(|e| ServiceError::from_nomad(e, missing("evaluations")))?
                .value,
            deployments: deployments
                .map_err(|e| ServiceError::from_nomad(e, missing("deployments")))?
                .value,
            nodes: nodes
                .map_err(|e| ServiceError::from_nomad(e, missing("nodes")))?
                .value,
            asks: BTreeMap::new(),
        };
        view.jobs.retain(|j| allowed(&j.namespace));
        view.allocations.retain(|a| allowed(&a.namespace));
        // The filter is Nomad's; an older Nomad (or one that ignores it) answers them all.
        view.blocked
            .retain(|e| allowed(&e.namespace) && e.status == "blocked");
        view.deployments.retain(|d| allowed(&d.namespace));
        // The asks of the jobs whose placement is blocked (a few), read together.
        let blocked_jobs: BTreeSet<(String, String)> = view
            .blocked
            .iter()
            .map(|e| (e.namespace.clone(), e.job_id.clone()))
            .take(MAX_FINDINGS)
            .collect();
        let asks =
            futures::future::join_all(blocked_jobs.into_iter().map(|(ns, job)| async move {
                let asks = self.group_asks(&job, &ns).await;
                ((ns, job), asks)
            }))
            .await;
        view.asks = asks.into_iter().collect();
        let scanned = Scanned {
            jobs: view.jobs.len() as u64,
            allocations: view.allocations.len() as u64,
            blocked_evaluations: view.blocked.len() as u64,
            deployments: view.deployments.len() as u64,
            nodes: view.nodes.len() as u64,
        };
        let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX);
        let mut problems = analyze(&view, now);
        let total = problems.len() as u64;
        problems.truncate(limit);
        Ok(ProblemReport {
            namespace,
            problems,
            total,
            scanned,
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn from<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> T {
        serde_json::from_value(value).unwrap()
    }

    const NOW: i64 = 2_000_000_000_000_000_000;

    fn alloc(
        id: &str,
        job: &str,
        node: &str,
        status: &str,
        restarts: u64,
        created: i64,
    ) -> Allocation {
        from(
            json!({"ID": id, "Namespace": "default", "JobID": job, "NodeID": node,
            "NodeName": format!("n-{node}"), "JobVersion": 0, "TaskGroup": "g",
            "DesiredStatus": if status == "failed" || status == "lost" { "stop" } else { "run" },
            "ClientStatus": status, "CreateTime": created, "CreateIndex": 1,
            "TaskStates": {"t": {"State": "running", "Restarts": restarts}}}),
        )
    }

    fn kinds(view: &ClusterView) -> Vec<(String, String)> {
        analyze(view, NOW)
            .into_iter()
            .map(|p| (p.kind, p.subject))
            .collect()
    }

    #[test]
    fn each_finding_of_a_view_is_made_once() {
        let view = ClusterView {
            nodes: vec![
                from(
                    json!({"ID": "down1", "Name": "down1", "Status": "down", "SchedulingEligibility": "eligible"}),
                ),
                from(
                    json!({"ID": "drain1", "Name": "drain1", "Status": "ready", "Drain": true, "SchedulingEligibility": "ineligible"}),
                ),
                from(
                    json!({"ID": "ok1", "Name": "ok1", "Status": "ready", "SchedulingEligibility": "eligible"}),
                ),
            ],
            allocations: vec![
                // Lost with the down node: that node's finding, not the job's.
                alloc("a1", "gone", "down1", "lost", 0, NOW),
                // Lost on a node that is up (a disconnect), not replaced.
                alloc("a2", "flaky", "ok1", "lost", 0, NOW),
                // Failed once without restarts, not replaced.
                alloc("a3", "broken", "ok1", "failed", 0, NOW),
                // Placed ten minutes ago and still not started.
                alloc("a4", "slow", "ok1", "pending", 0, NOW - 600_000_000_000),
                // Pending for a minute: not yet a problem.
                alloc("a5", "fresh", "ok1", "pending", 0, NOW - 60_000_000_000),
            ],
            deployments: vec![
                from(
                    json!({"ID": "d-old", "Namespace": "default", "JobID": "late", "Status": "failed", "CreateIndex": 1}),
                ),
                from(
                    json!({"ID": "d-new", "Namespace": "default", "JobID": "late", "Status": "running", "CreateIndex": 2,
                    "TaskGroups": {"g": {"DesiredTotal": 2, "HealthyAllocs": 1, "RequireProgressBy": "2020-01-01T00:00:00Z"}}}),
                ),
            ],
            jobs: vec![from(
                json!({"ID": "queued", "Namespace": "default", "Status": "pending",
                "JobSummary": {"Summary": {"g": {"Queued": 2}}}}),
            )],
            ..ClusterView::default()
        };
        assert_eq!(
            kinds(&view),
            [
                ("node_down".to_string(), "node down1".to_string()),
                ("allocations_failed".into(), "job broken".into()),
                ("deployment_stuck".into(), "job late".into()),
                ("allocations_lost".into(), "job flaky".into()),
                ("allocations_pending".into(), "job queued".into()),
                ("allocations_pending".into(), "job slow".into()),
                ("node_draining".into(), "node drain1".into()),
            ]
        );
        let found = analyze(&view, NOW);
        assert!(
            found[0].message.contains("job gone"),
            "{}",
            found[0].message
        );
        assert!(
            found[2].message.contains("group g: 1 of 2 healthy"),
            "{}",
            found[2].message
        );
        assert!(
            found[5].next_step.starts_with("get_allocation "),
            "{}",
            found[5].next_step
        );
    }

    #[test]
    fn lost_allocations_waiting_for_a_blocked_placement_are_one_finding() {
        let mut lost = alloc("a1", "stranded", "gone-node", "lost", 0, NOW);
        lost.next_allocation = String::new();
        let view = ClusterView {
            allocations: vec![lost],
            blocked: vec![from(
                json!({"ID": "e1", "Namespace": "default", "JobID": "stranded", "Status": "blocked",
                "CreateIndex": 5, "FailedTGAllocs": {"g": {"NodesEvaluated": 0}}}),
            )],
            ..ClusterView::default()
        };
        let found = analyze(&view, NOW);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].kind, "placement_blocked");
        assert!(
            found[0]
                .message
                .ends_with("; 1 lost allocation(s) wait for it"),
            "{}",
            found[0].message
        );
    }

    #[test]
    fn a_deployment_is_stuck_when_the_watcher_would_fail_it_or_is_paused() {
        let deployment =
            |id: &str, job: &str, status: &str, group: serde_json::Value| -> Deployment {
                from(
                    json!({"ID": id, "Namespace": "default", "JobID": job, "Status": status,
                "CreateIndex": 1, "TaskGroups": {"g": group}}),
                )
            };
        let past = "2020-01-01T00:00:00Z";
        let view = ClusterView {
            deployments: vec![
                // Paused past its deadline: Nomad's watcher leaves it so.
                deployment(
                    "d1",
                    "held",
                    "paused",
                    json!({"DesiredTotal": 2, "HealthyAllocs": 0, "RequireProgressBy": past}),
                ),
                // Healthy canaries awaiting promotion are not late, whatever the deadline.
                deployment(
                    "d2",
                    "canary",
                    "running",
                    json!({"DesiredTotal": 3, "DesiredCanaries": 1,
                    "HealthyAllocs": 1, "RequireProgressBy": past}),
                ),
                // An unhealthy canary past the deadline is.
                deployment(
                    "d3",
                    "bad",
                    "running",
                    json!({"DesiredTotal": 3, "DesiredCanaries": 1,
                    "HealthyAllocs": 0, "RequireProgressBy": past}),
                ),
            ],
            ..ClusterView::default()
        };
        let found = analyze(&view, NOW);
        let kinds: Vec<(&str, &str)> = found
            .iter()
            .map(|p| (p.kind.as_str(), p.subject.as_str()))
            .collect();
        assert_eq!(
            kinds,
            [
                ("deployment_stuck", "job bad"),
                ("deployment_stuck", "job held"),
                ("deployment_awaiting_promotion", "job canary"),
            ]
        );
        assert!(
            found[1]
                .message
                .contains("is paused and past its progress deadline"),
            "{}",
            found[1].message
        );
        assert!(!found[0].message.contains("paused"), "{}", found[0].message);
    }

    #[test]
    fn a_stopped_jobs_lost_or_failed_allocations_are_no_problem() {
        let view = ClusterView {
            allocations: vec![
                alloc("a1", "old", "ok1", "lost", 0, NOW),
                alloc("a2", "old", "ok1", "failed", 0, NOW),
            ],
            jobs: vec![from(
                json!({"ID": "old", "Namespace": "default", "Status": "dead", "Stop": true}),
            )],
            ..ClusterView::default()
        };
        assert!(analyze(&view, NOW).is_empty());
    }

    #[test]
    fn a_system_jobs_allocation_lost_with_a_purged_node_is_no_problem() {
        let view = ClusterView {
            allocations: vec![alloc("a1", "agent", "purged", "lost", 0, NOW)],
            jobs: vec![from(
                json!({"ID": "agent", "Namespace": "default", "Type": "system", "Status": "running"}),
            )],
            ..ClusterView::default()
        };
        assert!(analyze(&view, NOW).is_empty());
    }

    #[test]
    fn a_quiet_cluster_has_no_finding() {
        let view = ClusterView {
            nodes: vec![from(
                json!({"ID": "n", "Name": "n", "Status": "ready", "SchedulingEligibility": "eligible"}),
            )],
            allocations: vec![alloc("a", "web", "n", "running", 1, NOW)],
            ..ClusterView::default()
        };
        assert!(analyze(&view, NOW).is_empty());
    }
}
