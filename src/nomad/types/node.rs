//! Client nodes: list stubs, the full node, and the answers to drain and eligibility.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::null_default;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct NodeListStub {
    #[serde(rename = "ID")]
    pub id: String,
    pub name: String,
    pub address: String,
    pub datacenter: String,
    pub node_class: String,
    pub node_pool: String,
    pub version: String,
    pub drain: bool,
    pub scheduling_eligibility: String,
    pub status: String,
    pub status_description: String,
    /// Present with `?resources=true`.
    pub node_resources: Option<NodeResources>,
    pub reserved_resources: Option<NodeReservedResources>,
    pub create_index: u64,
    pub modify_index: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct Node {
    #[serde(rename = "ID")]
    pub id: String,
    pub name: String,
    #[serde(rename = "HTTPAddr")]
    pub http_addr: String,
    pub datacenter: String,
    pub node_class: String,
    pub node_pool: String,
    pub drain: bool,
    pub drain_strategy: Option<serde_json::Value>,
    pub scheduling_eligibility: String,
    pub status: String,
    pub status_description: String,
    #[serde(deserialize_with = "null_default")]
    pub attributes: BTreeMap<String, String>,
    #[serde(deserialize_with = "null_default")]
    pub meta: BTreeMap<String, String>,
    pub node_resources: Option<NodeResources>,
    pub reserved_resources: Option<NodeReservedResources>,
    pub create_index: u64,
    pub modify_index: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct NodeResources {
    pub cpu: CpuResources,
    pub memory: MemoryResources,
    pub disk: DiskResources,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct NodeReservedResources {
    pub cpu: CpuResources,
    pub memory: MemoryResources,
    pub disk: DiskResources,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct CpuResources {
    pub cpu_shares: i64,
    pub total_cpu_cores: i64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct MemoryResources {
    #[serde(rename = "MemoryMB")]
    pub memory_mb: i64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct DiskResources {
    #[serde(rename = "DiskMB")]
    pub disk_mb: i64,
}

/// The answer to drain and eligibility updates.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct NodeWriteResponse {
    #[serde(rename = "EvalIDs", deserialize_with = "null_default")]
    pub eval_ids: Vec<String>,
    pub eval_create_index: u64,
    pub node_modify_index: u64,
    pub index: u64,
}

/// A node pool (`structs.NodePool`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct NodePool {
    pub name: String,
    pub description: String,
    #[serde(deserialize_with = "null_default")]
    pub meta: std::collections::BTreeMap<String, String>,
    pub scheduler_configuration: Option<NodePoolSchedulerConfiguration>,
}

/// A pool's own scheduler settings (`structs.NodePoolSchedulerConfiguration`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct NodePoolSchedulerConfiguration {
    pub scheduler_algorithm: String,
}
