//! Allocations: list per job, one allocation with task states and recent events,
//! restart and stop; and task logs.

use super::guard::WriteCall;
use crate::service::policy::Access;
use serde::{Deserialize, Serialize};

use super::{Page, PageRequest, Principal, Service, ServiceError, timestamp};
use crate::nomad::types::{Allocation, TaskEvent};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct AllocationRow {
    pub id: String,
    pub name: String,
    pub job_id: String,
    pub job_version: u64,
    pub task_group: String,
    pub node_id: String,
    pub node_name: String,
    pub desired_status: String,
    pub client_status: String,
    /// `true`/`false` once the deployment judged it; absent before.
    pub healthy: Option<bool>,
    pub created_at: Option<String>,
}

impl From<&Allocation> for AllocationRow {
    fn from(a: &Allocation) -> Self {
        AllocationRow {
            id: a.id.clone(),
            name: a.name.clone(),
            job_id: a.job_id.clone(),
            job_version: a.job_version,
            task_group: a.task_group.clone(),
            node_id: a.node_id.clone(),
            node_name: a.node_name.clone(),
            desired_status: a.desired_status.clone(),
            client_status: a.client_status.clone(),
            healthy: a.deployment_status.as_ref().and_then(|d| d.healthy),
            created_at: timestamp(a.create_time),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct EventLine {
    pub time: Option<String>,
    #[serde(rename = "type")]
    pub event_type: String,
    pub message: String,
    pub exit_code: Option<i64>,
}

/// The words Nomad's own UI shows for an event: the display message when set, else the
/// most specific error field.
pub fn describe_event(e: &TaskEvent) -> EventLine {
    let message = [
        &e.display_message,
        &e.driver_error,
        &e.setup_error,
        &e.validation_error,
        &e.download_error,
        &e.kill_error,
        &e.restart_reason,
        &e.message,
    ]
    .into_iter()
    .find(|m| !m.is_empty())
    .cloned()
    .unwrap_or_default();
    EventLine {
        time: timestamp(e.time),
        event_type: e.event_type.clone(),
        message,
        exit_code: (e.event_type == "Terminated").then_some(e.exit_code),
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct TaskStatus {
    pub name: String,
    pub state: String,
    pub failed: bool,
    pub restarts: u64,
    /// The most recent events, oldest first (at most 10).
    pub events: Vec<EventLine>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct AllocationDetail {
    #[serde(flatten)]
    pub summary: AllocationRow,
    pub namespace: String,
    pub eval_id: String,
    pub desired_description: String,
    pub client_description: String,
    pub tasks: Vec<TaskStatus>,
}

const RECENT_EVENTS: usize = 10;

pub fn task_statuses(alloc: &Allocation) -> Vec<TaskStatus> {
    alloc
        .task_states
        .iter()
        .map(|(name, state)| {
            let skip = state.events.len().saturating_sub(RECENT_EVENTS);
            TaskStatus {
                name: name.clone(),
                state: state.state.clone(),
                failed: state.failed,
                restarts: state.restarts,
                events: state.events.iter().skip(skip).map(describe_event).collect(),
            }
        })
        .collect()
}

impl Service {
    pub async fn list_allocations(
        &self,
        who: &Principal,
        job_id: &str,
        namespace: Option<&str>,
        all_versions: bool,
        page: &PageRequest,
    ) -> Result<Page<AllocationRow>, ServiceError> {
        self.with_job_hint(job_id, namespace, async move {
            self.allow(
                who,
                Access::Read,
                Some(&self.namespace(namespace)),
                "list_allocations",
            )
            .await?;
            let namespace = self.namespace(namespace);
            let answer = self
                .nomad
                .job_allocations(job_id, all_versions, &self.in_namespace(&namespace))
                .await
                .map(|r| r.value);
            let allocations = self
                .job_list(job_id, &namespace, "allocations", answer)
                .await?;
            page.of(allocations.iter().map(AllocationRow::from).collect())
        })
        .await
    }

    pub(super) async fn read_allocation(
        &self,
        who: &Principal,
        alloc_id: &str,
        namespace: &str,
    ) -> Result<Allocation, ServiceError> {
        let missing = || format!("allocation '{alloc_id}' not found in namespace '{namespace}'");
        let alloc = self
            .nomad
            .read_allocation(alloc_id, &self.in_namespace(namespace))
            .await
            .map_err(|e| ServiceError::from_nomad(e, missing))?
            .value;
        // Nomad finds an allocation by id in any namespace; the caller was allowed this
        // namespace only (or, with `*`, their own namespaces), so one from elsewhere does
        // not exist for them.
        let elsewhere = if namespace == "*" {
            !who.namespaces.allows(&alloc.namespace)
        } else {
            alloc.namespace != namespace
        };
        if elsewhere {
            return Err(ServiceError::NotFound(missing()));
        }
        Ok(alloc)
    }

    pub async fn get_allocation(
        &self,
        who: &Principal,
        alloc_id: &str,
        namespace: Option<&str>,
    ) -> Result<AllocationDetail, ServiceError> {
        self.allow(
            who,
            Access::Read,
            Some(&self.namespace(namespace)),
            "get_allocation",
        )
        .await?;
        let namespace = self.namespace(namespace);
        let alloc = self.read_allocation(who, alloc_id, &namespace).await?;
        Ok(AllocationDetail {
            summary: AllocationRow::from(&alloc),
            namespace: alloc.namespace.clone(),
            eval_id: alloc.eval_id.clone(),
            desired_description: alloc.desired_description.clone(),
            client_description: alloc.client_description.clone(),
            tasks: task_statuses(&alloc),
        })
    }

    /// Restarts the allocation's tasks in place (one task, or all).
    pub async fn restart_allocation(
        &self,
        who: &Principal,
        alloc_id: &str,
        namespace: Option<&str>,
        task: Option<&str>,
    ) -> Result<(), ServiceError> {
        let namespace = self.namespace(namespace);
        let call = WriteCall::in_namespace(
            "restart_allocation",
            &namespace,
            serde_json::json!({"alloc_id": alloc_id, "task": task}),
        );
        self.audited(who, call, async {
            self.read_allocation(who, alloc_id, &namespace).await?;
            self.nomad
                .restart_allocation(alloc_id, task, &self.in_namespace(&namespace))
                .await
                .map_err(|e| {
                    ServiceError::from_nomad(e, || {
                        format!("allocation '{alloc_id}' not found in namespace '{namespace}'")
                    })
                })
        })
        .await
    }

    /// Sends a signal (`SIGHUP`, `SIGUSR1`...) to one task of the allocation, or to all.
    /// Audited; Nomad records it as a `Signaling` task event.
    pub async fn signal_allocation(
        &self,
        who: &Principal,
        alloc_id: &str,
        namespace: Option<&str>,
        signal: &str,
        task: Option<&str>,
    ) -> Result<(), ServiceError> {
        let namespace = self.namespace(namespace);
        let call = WriteCall::in_namespace(
            "signal_allocation",
            &namespace,
            serde_json::json!({"alloc_id": alloc_id, "signal": signal, "task": task}),
        );
        self.audited(who, call, async {
            let valid = signal.len() <= 16
                && signal.starts_with("SIG")
                && signal[3..].chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
                && signal.len() > 3;
            if !valid {
                return Err(super::jobs::invalid(
                    "signal",
                    format!("'{signal}' is not a signal name; use one such as SIGHUP, SIGUSR1 or SIGTERM"),
                ));
            }
            let alloc = self.read_allocation(who, alloc_id, &namespace).await?;
            if let Some(task) = task
                && !alloc.task_states.is_empty()
                && !alloc.task_states.contains_key(task)
            {
                let tasks: Vec<&str> = alloc.task_states.keys().map(String::as_str).collect();
                return Err(super::jobs::invalid(
                    "task",
                    format!("allocation '{alloc_id}' has no task '{task}'; its tasks: {}", tasks.join(", ")),
                ));
            }
            self.nomad
                .signal_allocation(alloc_id, signal, task, &self.in_namespace(&namespace))
                .await
                .map_err(|e| {
                    ServiceError::from_nomad(e, || {
                        format!("allocation '{alloc_id}' not found in namespace '{namespace}'")
                    })
                })
        })
        .await
    }

    /// What each task of an allocation uses now (CPU in MHz, memory in bytes) against what
    /// it reserved, from the allocation's client.
    pub async fn get_allocation_usage(
        &self,
        who: &Principal,
        alloc_id: &str,
        namespace: Option<&str>,
    ) -> Result<AllocationUsage, ServiceError> {
        let namespace = self.namespace(namespace);
        self.allow(who, Access::Read, Some(&namespace), "get_allocation_usage")
            .await?;
        let alloc = self.read_allocation(who, alloc_id, &namespace).await?;
        let stats = self
            .nomad
            .allocation_stats(&alloc.id, &self.in_namespace(&alloc.namespace))
            .await
            .map_err(|e| {
                ServiceError::from_nomad(e, || {
                    format!("the usage of allocation '{alloc_id}' is not available: its client may be down or it was garbage-collected")
                })
            })?;
        let tasks = stats
            .tasks
            .iter()
            .map(|(name, usage)| {
                let reserved = alloc.task_resources.get(name);
                let cpu_reserved = reserved.and_then(|r| r.cpu).filter(|c| *c > 0);
                let memory_reserved = reserved.and_then(|r| r.memory_mb).filter(|m| *m > 0);
                let memory = &usage.resource_usage.memory_stats;
                let cpu = &usage.resource_usage.cpu_stats;
                // RSS when the driver measures it, else the cgroup's usage.
                let memory_bytes = if memory.measured.iter().any(|m| m == "RSS") || memory.rss > 0 {
                    memory.rss
                } else {
                    memory.usage
                };
                TaskUsage {
                    task: name.clone(),
                    cpu_mhz: (cpu.total_ticks * 10.0).round() / 10.0,
                    cpu_mhz_reserved: cpu_reserved,
                    cpu_percent_of_reserved: cpu_reserved
                        .map(|r| (cpu.total_ticks / r as f64 * 1000.0).round() / 10.0),
                    cpu_throttled_periods: cpu.throttled_periods,
                    memory_bytes,
                    memory_max_bytes: memory.max_usage,
                    memory_mb_reserved: memory_reserved,
                    memory_percent_of_reserved: memory_reserved.map(|r| {
                        (memory_bytes as f64 / (r as f64 * 1024.0 * 1024.0) * 1000.0).round() / 10.0
                    }),
                }
            })
            .collect::<Vec<_>>();
        let note = if alloc.client_status != "running" {
            Some(format!(
                "the allocation is {}: its tasks use nothing now",
                alloc.client_status
            ))
        } else {
            tasks
                .iter()
                .filter(|t| t.memory_percent_of_reserved.is_some_and(|p| p >= 90.0))
                .map(|t| {
                    format!(
                        "task {} uses {}% of its memory: near its limit, it may be killed (OOM); raise memory",
                        t.task,
                        t.memory_percent_of_reserved.unwrap_or_default()
                    )
                })
                .next()
        };
        Ok(AllocationUsage {
            alloc_id: alloc.id,
            namespace: alloc.namespace,
            job_id: alloc.job_id,
            node_id: alloc.node_id,
            client_status: alloc.client_status,
            measured_at: timestamp(stats.timestamp),
            tasks,
            note,
        })
    }

    /// Stops the allocation; the scheduler places a replacement if the job still wants one.
    /// A tracked write (`reschedule`): its operation ends when the job's allocations run
    /// again.
    pub async fn stop_allocation(
        &self,
        who: &Principal,
        alloc_id: &str,
        namespace: Option<&str>,
    ) -> Result<AllocationStop, ServiceError> {
        let namespace = self.namespace(namespace);
        let call = WriteCall::in_namespace(
            "stop_allocation",
            &namespace,
            serde_json::json!({"alloc_id": alloc_id}),
        );
        self.audited(who, call, async {
            let alloc = self.read_allocation(who, alloc_id, &namespace).await?;
            let answer = self
                .nomad
                .stop_allocation(alloc_id, &self.in_namespace(&namespace))
                .await
                .map_err(|e| {
                    ServiceError::from_nomad(e, || {
                        format!("allocation '{alloc_id}' not found in namespace '{namespace}'")
                    })
                })?;
            Ok(AllocationStop {
                alloc_id: alloc_id.to_string(),
                job_id: alloc.job_id,
                namespace: namespace.clone(),
                eval_id: Some(answer.eval_id).filter(|e| !e.is_empty()),
                operation_id: None,
                operation: None,
                not_followed: None,
            })
        })
        .await
    }
}

/// What one task uses now against what it reserved.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct TaskUsage {
    pub task: String,
    /// CPU used, in MHz.
    pub cpu_mhz: f64,
    pub cpu_mhz_reserved: Option<i64>,
    pub cpu_percent_of_reserved: Option<f64>,
    /// Periods the kernel held the task back for using more CPU than it may.
    pub cpu_throttled_periods: u64,
    /// Memory used (resident set), in bytes.
    pub memory_bytes: u64,
    /// The most it has used, in bytes.
    pub memory_max_bytes: u64,
    pub memory_mb_reserved: Option<i64>,
    pub memory_percent_of_reserved: Option<f64>,
}

/// An allocation's resource usage, per task.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct AllocationUsage {
    pub alloc_id: String,
    pub namespace: String,
    pub job_id: String,
    pub node_id: String,
    pub client_status: String,
    pub measured_at: Option<String>,
    pub tasks: Vec<TaskUsage>,
    /// What stands out: a task near its memory limit, or an allocation not running.
    pub note: Option<String>,
}

/// A stopped allocation.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AllocationStop {
    pub alloc_id: String,
    /// The allocation's job.
    pub job_id: String,
    pub namespace: String,
    /// The evaluation that places a replacement, when the job still wants one.
    pub eval_id: Option<String>,
    /// The operation that follows this change (`GET /api/v1/operations/{id}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation_id: Option<String>,
    /// With `wait`: the operation as it stood when the wait ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<crate::operations::Operation>,
    /// With `wait`, when the write could not be followed: why (the gateway's database
    /// was unavailable, so the write has no tracked operation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_followed: Option<String>,
}
