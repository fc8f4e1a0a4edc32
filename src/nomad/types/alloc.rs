//! Allocations, their task states and task events, and log frames.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::null_default;

/// An allocation; list endpoints send a subset of these fields, which read as defaults.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct Allocation {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "EvalID")]
    pub eval_id: String,
    pub name: String,
    pub namespace: String,
    #[serde(rename = "NodeID")]
    pub node_id: String,
    pub node_name: String,
    #[serde(rename = "JobID")]
    pub job_id: String,
    pub job_version: u64,
    pub task_group: String,
    pub desired_status: String,
    pub desired_description: String,
    pub client_status: String,
    pub client_description: String,
    #[serde(deserialize_with = "null_default")]
    pub task_states: BTreeMap<String, TaskState>,
    #[serde(rename = "DeploymentID")]
    pub deployment_id: String,
    pub deployment_status: Option<AllocDeploymentStatus>,
    #[serde(rename = "FollowupEvalID")]
    pub followup_eval_id: String,
    pub previous_allocation: String,
    pub next_allocation: String,
    pub create_index: u64,
    pub modify_index: u64,
    pub create_time: i64,
    pub modify_time: i64,
    /// Per task, what it reserved (Nomad marks it deprecated but still sends it with the
    /// allocation; its job's task resources say the same).
    #[serde(deserialize_with = "null_default")]
    pub task_resources: BTreeMap<String, super::Resources>,
}

/// `GET /v1/client/allocation/:id/stats` (`cstructs.AllocResourceUsage`): what the
/// allocation and each of its tasks use now, as its client measures it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct AllocResourceUsage {
    pub resource_usage: ResourceUsage,
    #[serde(deserialize_with = "null_default")]
    pub tasks: BTreeMap<String, TaskResourceUsage>,
    pub timestamp: i64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct TaskResourceUsage {
    pub resource_usage: ResourceUsage,
    pub timestamp: i64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct ResourceUsage {
    pub memory_stats: MemoryStats,
    pub cpu_stats: CpuStats,
}

/// Bytes; `Measured` names the fields the task driver fills in.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct MemoryStats {
    #[serde(rename = "RSS")]
    pub rss: u64,
    pub cache: u64,
    pub swap: u64,
    pub usage: u64,
    pub max_usage: u64,
    #[serde(deserialize_with = "null_default")]
    pub measured: Vec<String>,
}

/// `TotalTicks` is MHz used; `Percent` is of one core.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct CpuStats {
    pub total_ticks: f64,
    pub percent: f64,
    pub throttled_periods: u64,
    pub throttled_time: u64,
    #[serde(deserialize_with = "null_default")]
    pub measured: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct AllocDeploymentStatus {
    pub healthy: Option<bool>,
    pub timestamp: Option<String>,
    pub canary: bool,
    pub modify_index: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct TaskState {
    pub state: String,
    pub failed: bool,
    pub restarts: u64,
    pub last_restart: Option<String>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub events: Vec<TaskEvent>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct TaskEvent {
    #[serde(rename = "Type")]
    pub event_type: String,
    /// Unix nanoseconds.
    pub time: i64,
    pub display_message: String,
    pub message: String,
    pub fails_task: bool,
    pub exit_code: i64,
    pub signal: i64,
    pub restart_reason: String,
    pub setup_error: String,
    pub driver_error: String,
    pub driver_message: String,
    pub kill_error: String,
    pub kill_reason: String,
    pub download_error: String,
    pub validation_error: String,
    pub failed_sibling: String,
}
