//! Evaluations and the placement metrics that explain why allocations were not placed.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::null_default;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct Evaluation {
    #[serde(rename = "ID")]
    pub id: String,
    pub namespace: String,
    pub priority: i64,
    #[serde(rename = "Type")]
    pub eval_type: String,
    pub triggered_by: String,
    #[serde(rename = "JobID")]
    pub job_id: String,
    #[serde(rename = "NodeID")]
    pub node_id: String,
    #[serde(rename = "DeploymentID")]
    pub deployment_id: String,
    pub status: String,
    pub status_description: String,
    pub blocked_eval: String,
    pub next_eval: String,
    pub previous_eval: String,
    #[serde(rename = "FailedTGAllocs", deserialize_with = "null_default")]
    pub failed_tg_allocs: BTreeMap<String, AllocMetric>,
    #[serde(deserialize_with = "null_default")]
    pub queued_allocations: BTreeMap<String, u64>,
    #[serde(deserialize_with = "null_default")]
    pub related_evals: Vec<serde_json::Value>,
    pub create_index: u64,
    pub modify_index: u64,
    pub create_time: i64,
    pub modify_time: i64,
}

/// Why a task group could not be placed (`structs.AllocMetric`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct AllocMetric {
    pub nodes_evaluated: u64,
    pub nodes_filtered: u64,
    pub nodes_in_pool: u64,
    /// Ready nodes per datacenter.
    #[serde(deserialize_with = "null_default")]
    pub nodes_available: BTreeMap<String, u64>,
    #[serde(deserialize_with = "null_default")]
    pub class_filtered: BTreeMap<String, u64>,
    #[serde(deserialize_with = "null_default")]
    pub constraint_filtered: BTreeMap<String, u64>,
    pub nodes_exhausted: u64,
    #[serde(deserialize_with = "null_default")]
    pub class_exhausted: BTreeMap<String, u64>,
    /// Resource name ("memory", "cpu", "network: ...") to the number of nodes short of it.
    #[serde(deserialize_with = "null_default")]
    pub dimension_exhausted: BTreeMap<String, u64>,
    #[serde(deserialize_with = "null_default")]
    pub quota_exhausted: Vec<String>,
    pub coalesced_failures: u64,
    pub allocation_time: i64,
}
