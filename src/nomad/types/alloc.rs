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
