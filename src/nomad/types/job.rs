//! Jobs: list stubs, the job itself (as far as the gateway reads it), summaries,
//! versions, scale status, and the answers to writes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{AllocMetric, Evaluation, null_default};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct JobListStub {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "ParentID")]
    pub parent_id: String,
    pub name: String,
    pub namespace: String,
    #[serde(deserialize_with = "null_default")]
    pub datacenters: Vec<String>,
    #[serde(rename = "Type")]
    pub job_type: String,
    pub priority: i64,
    pub periodic: bool,
    pub parameterized_job: bool,
    pub stop: bool,
    pub status: String,
    pub status_description: String,
    pub job_summary: Option<JobSummary>,
    pub create_index: u64,
    pub modify_index: u64,
    pub job_modify_index: u64,
    pub submit_time: i64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct JobSummary {
    #[serde(rename = "JobID")]
    pub job_id: String,
    pub namespace: String,
    #[serde(deserialize_with = "null_default")]
    pub summary: BTreeMap<String, TaskGroupSummary>,
    pub children: Option<JobChildrenSummary>,
    pub create_index: u64,
    pub modify_index: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct TaskGroupSummary {
    pub queued: u64,
    pub complete: u64,
    pub failed: u64,
    pub running: u64,
    pub starting: u64,
    pub lost: u64,
    pub unknown: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct JobChildrenSummary {
    pub pending: u64,
    pub running: u64,
    pub dead: u64,
}

/// A job as read back from Nomad. The gateway submits jobs as raw JSON, so this keeps
/// only what it reports on; `Meta`, driver `Config` and the rest stay loosely typed.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct Job {
    #[serde(rename = "ID", deserialize_with = "null_default")]
    pub id: String,
    #[serde(rename = "ParentID", deserialize_with = "null_default")]
    pub parent_id: String,
    #[serde(deserialize_with = "null_default")]
    pub name: String,
    #[serde(deserialize_with = "null_default")]
    pub namespace: String,
    #[serde(deserialize_with = "null_default")]
    pub region: String,
    #[serde(rename = "Type", deserialize_with = "null_default")]
    pub job_type: String,
    #[serde(deserialize_with = "null_default")]
    pub priority: i64,
    #[serde(deserialize_with = "null_default")]
    pub datacenters: Vec<String>,
    #[serde(deserialize_with = "null_default")]
    pub node_pool: String,
    #[serde(deserialize_with = "null_default")]
    pub task_groups: Vec<TaskGroup>,
    #[serde(deserialize_with = "null_default")]
    pub meta: BTreeMap<String, String>,
    pub parameterized_job: Option<serde_json::Value>,
    pub periodic: Option<serde_json::Value>,
    #[serde(deserialize_with = "null_default")]
    pub dispatched: bool,
    #[serde(deserialize_with = "null_default")]
    pub stop: bool,
    #[serde(deserialize_with = "null_default")]
    pub stable: bool,
    #[serde(deserialize_with = "null_default")]
    pub status: String,
    #[serde(deserialize_with = "null_default")]
    pub status_description: String,
    #[serde(deserialize_with = "null_default")]
    pub version: u64,
    #[serde(deserialize_with = "null_default")]
    pub submit_time: i64,
    #[serde(deserialize_with = "null_default")]
    pub create_index: u64,
    #[serde(deserialize_with = "null_default")]
    pub modify_index: u64,
    #[serde(deserialize_with = "null_default")]
    pub job_modify_index: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct TaskGroup {
    #[serde(deserialize_with = "null_default")]
    pub name: String,
    #[serde(deserialize_with = "null_default")]
    pub count: i64,
    #[serde(deserialize_with = "null_default")]
    pub tasks: Vec<Task>,
    pub update: Option<serde_json::Value>,
    pub restart_policy: Option<serde_json::Value>,
    #[serde(deserialize_with = "null_default")]
    pub meta: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct Task {
    #[serde(deserialize_with = "null_default")]
    pub name: String,
    #[serde(deserialize_with = "null_default")]
    pub driver: String,
    #[serde(deserialize_with = "null_default")]
    pub config: BTreeMap<String, serde_json::Value>,
    #[serde(deserialize_with = "null_default")]
    pub env: BTreeMap<String, String>,
    pub resources: Option<Resources>,
    #[serde(deserialize_with = "null_default")]
    pub meta: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct Resources {
    #[serde(rename = "CPU")]
    pub cpu: Option<i64>,
    pub cores: Option<i64>,
    #[serde(rename = "MemoryMB")]
    pub memory_mb: Option<i64>,
    #[serde(rename = "MemoryMaxMB")]
    pub memory_max_mb: Option<i64>,
    #[serde(rename = "DiskMB")]
    pub disk_mb: Option<i64>,
}

/// The answer to register, deregister, scale, revert, evaluate and dispatch.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct JobWriteResponse {
    #[serde(rename = "EvalID")]
    pub eval_id: String,
    pub eval_create_index: u64,
    pub job_modify_index: u64,
    pub warnings: String,
    /// Dispatch only: the child job that was created.
    #[serde(rename = "DispatchedJobID")]
    pub dispatched_job_id: String,
    pub job_create_index: u64,
    pub index: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct JobPlanResponse {
    pub annotations: Option<serde_json::Value>,
    #[serde(rename = "FailedTGAllocs", deserialize_with = "null_default")]
    pub failed_tg_allocs: BTreeMap<String, AllocMetric>,
    pub job_modify_index: u64,
    #[serde(deserialize_with = "null_default")]
    pub created_evals: Vec<Evaluation>,
    pub diff: Option<serde_json::Value>,
    pub next_periodic_launch: Option<String>,
    pub warnings: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct JobVersions {
    #[serde(deserialize_with = "null_default")]
    pub versions: Vec<Job>,
    #[serde(deserialize_with = "null_default")]
    pub diffs: Vec<serde_json::Value>,
}
