//! `job_timeline`: what happened to one job in a window ("web in the last hour"): its
//! versions, evaluations, allocations and their task events, and its deployments, in
//! time order.
//!
//! Nomad's deployments carry no times (`structs.Deployment` has indexes only), so a
//! deployment stands at the creation of the first evaluation that names it, or else at
//! the submission of the job version it rolls out, and says where it stands now.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::allocations::describe_event;
use super::jobs::invalid;
use super::page::bounded_limit;
use super::{Principal, Service, ServiceError};
use crate::nomad::types::{Allocation, Deployment, Evaluation, Job};
use crate::service::policy::Access;

/// The window by default, and at most.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(3600);
pub const MAX_WINDOW: Duration = Duration::from_secs(7 * 86_400);
/// Entries an answer holds by default, and at most (the latest are kept).
pub const DEFAULT_ENTRIES: usize = 100;
pub const MAX_ENTRIES: usize = 500;

/// One thing that happened.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct TimelineEntry {
    /// RFC 3339.
    pub at: String,
    /// `version`, `evaluation`, `allocation`, `task` or `deployment`.
    pub kind: String,
    /// The object's ID (short for allocations, evaluations and deployments).
    pub subject: String,
    pub message: String,
}

/// A job's timeline.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct JobTimeline {
    pub job_id: String,
    pub namespace: String,
    /// The start of the window (RFC 3339).
    pub since: String,
    /// Oldest first.
    pub entries: Vec<TimelineEntry>,
    /// Entries in the window in all; when more than shown, the earliest were left out.
    pub total: u64,
}

struct Raw {
    at: i64,
    kind: &'static str,
    subject: String,
    message: String,
}

/// RFC 3339 with milliseconds: several things happen within one second.
fn at(nanos: i64) -> String {
    chrono::DateTime::from_timestamp(nanos / 1_000_000_000, (nanos % 1_000_000_000) as u32)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

fn short(id: &str) -> String {
    id.get(..8).unwrap_or(id).to_string()
}

fn versions(jobs: &[Job], out: &mut Vec<Raw>) {
    for job in jobs {
        out.push(Raw {
            at: job.submit_time,
            kind: "version",
            subject: format!("v{}", job.version),
            message: format!(
                "version {} submitted{}",
                job.version,
                if job.stable { " (stable)" } else { "" }
            ),
        });
    }
}

fn evaluations(evals: &[Evaluation], out: &mut Vec<Raw>) {
    for e in evals {
        let why = if e.status_description.is_empty() {
            String::new()
        } else {
            format!(": {}", e.status_description)
        };
        let blocked = if e.failed_tg_allocs.is_empty() {
            String::new()
        } else {
            let groups: Vec<&str> = e.failed_tg_allocs.keys().map(String::as_str).collect();
            format!("; could not place group(s) {}", groups.join(", "))
        };
        out.push(Raw {
            at: e.create_time,
            kind: "evaluation",
            subject: short(&e.id),
            message: format!(
                "evaluation triggered by {} is {}{why}{blocked}",
                e.triggered_by, e.status
            ),
        });
    }
}

fn allocations(allocs: &[Allocation], out: &mut Vec<Raw>) {
    for a in allocs {
        out.push(Raw {
            at: a.create_time,
            kind: "allocation",
            subject: short(&a.id),
            message: format!(
                "allocation {} of version {} placed on node {}{}",
                a.name,
                a.job_version,
                a.node_name,
                if a.previous_allocation.is_empty() {
                    String::new()
                } else {
                    format!(" to replace {}", short(&a.previous_allocation))
                }
            ),
        });
        if matches!(a.client_status.as_str(), "complete" | "failed" | "lost") {
            let why = if a.client_description.is_empty() {
                String::new()
            } else {
                format!(": {}", a.client_description)
            };
            out.push(Raw {
                at: a.modify_time,
                kind: "allocation",
                subject: short(&a.id),
                message: format!("allocation {} is {}{why}", a.name, a.client_status),
            });
        }
        for (task, state) in &a.task_states {
            for event in &state.events {
                let line = describe_event(event);
                let exit = line
                    .exit_code
                    .filter(|_| !line.message.contains("Exit Code"))
                    .map(|c| format!(" (exit code {c})"))
                    .unwrap_or_default();
                out.push(Raw {
                    at: event.time,
                    kind: "task",
                    subject: short(&a.id),
                    message: format!("task {task}: {}: {}{exit}", line.event_type, line.message),
                });
            }
        }
    }
}

fn deployments(deployments: &[Deployment], evals: &[Evaluation], jobs: &[Job], out: &mut Vec<Raw>) {
    for d in deployments {
        let created = evals
            .iter()
            .filter(|e| e.deployment_id == d.id && e.create_time > 0)
            .map(|e| e.create_time)
            .min()
            .or_else(|| {
                jobs.iter()
                    .find(|j| j.version == d.job_version)
                    .map(|j| j.submit_time)
            })
            .unwrap_or(0);
        let progress: Vec<String> = d
            .task_groups
            .iter()
            .map(|(g, s)| {
                format!(
                    "group {g} {} of {} healthy",
                    s.healthy_allocs, s.desired_total
                )
            })
            .collect();
        out.push(Raw {
            at: created,
            kind: "deployment",
            subject: short(&d.id),
            message: format!(
                "deployment of version {} started; now {}: {} ({})",
                d.job_version,
                d.status,
                d.status_description,
                progress.join(", ")
            ),
        });
    }
}

impl Service {
    /// What happened to a job within `since` (a duration such as `1h`; default 1 hour, at
    /// most 7 days), oldest first, at most `limit` entries (the latest are kept).
    pub async fn job_timeline(
        &self,
        who: &Principal,
        job_id: &str,
        namespace: Option<&str>,
        since: Option<&str>,
        limit: Option<u32>,
    ) -> Result<JobTimeline, ServiceError> {
        self.with_job_hint(job_id, namespace, async move {
            let namespace = self.namespace(namespace);
            self.allow(who, Access::Read, Some(&namespace), "job_timeline")
                .await?;
            let window = match since {
                None => DEFAULT_WINDOW,
                Some(text) => crate::config::parse_duration(text)
                    .map_err(|e| invalid("since", e))
                    .and_then(|w| {
                        if w.is_zero() || w > MAX_WINDOW {
                            Err(invalid("since", "use a window from 1s to 7d, such as 1h"))
                        } else {
                            Ok(w)
                        }
                    })?,
            };
            let limit = bounded_limit(limit, DEFAULT_ENTRIES, MAX_ENTRIES)?;
            let options = self.in_namespace(&namespace);
            let (versions_read, evals, allocs, deploys) = tokio::join!(
                self.nomad.job_versions(job_id, false, None, &options),
                self.nomad.job_evaluations(job_id, &options),
                self.nomad.job_allocations(job_id, true, &options),
                self.nomad.job_deployments(job_id, &options),
            );
            // The versions answer 404 for a job Nomad does not have.
            let jobs = match versions_read {
                Ok(v) => v.value.versions,
                Err(e) => {
                    return Err(self
                        .job_part_failed(job_id, &namespace, "versions", e)
                        .await);
                }
            };
            let part = |what: &'static str| {
                let namespace = namespace.clone();
                move || format!("the {what} of job '{job_id}' in namespace '{namespace}' not found")
            };
            let evals = evals
                .map_err(|e| ServiceError::from_nomad(e, part("evaluations")))?
                .value;
            let allocs = allocs
                .map_err(|e| ServiceError::from_nomad(e, part("allocations")))?
                .value;
            let deploys = deploys
                .map_err(|e| ServiceError::from_nomad(e, part("deployments")))?
                .value;
            let mut raw = Vec::new();
            versions(&jobs, &mut raw);
            evaluations(&evals, &mut raw);
            allocations(&allocs, &mut raw);
            deployments(&deploys, &evals, &jobs, &mut raw);
            let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX);
            let start = now.saturating_sub(window.as_nanos().min(i64::MAX as u128) as i64);
            raw.retain(|r| r.at >= start && r.at > 0);
            raw.sort_by_key(|r| r.at);
            let total = raw.len() as u64;
            let skip = raw.len().saturating_sub(limit);
            let entries = raw
                .into_iter()
                .skip(skip)
                .map(|r| TimelineEntry {
                    at: at(r.at),
                    kind: r.kind.into(),
                    subject: r.subject,
                    message: r.message,
                })
                .collect();
            Ok(JobTimeline {
                job_id: job_id.to_string(),
                namespace,
                since: at(start),
                entries,
                total,
            })
        })
        .await
    }
}
