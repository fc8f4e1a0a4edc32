//! Nomad-native services (`provider = "nomad"`) and the results of their checks.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::null_default;

/// One namespace's services in `GET /v1/services` (`structs.ServiceRegistrationListStub`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct ServiceListStub {
    pub namespace: String,
    #[serde(deserialize_with = "null_default")]
    pub services: Vec<ServiceStub>,
}

/// A service name with the tags its instances carry (`structs.ServiceRegistrationStub`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct ServiceStub {
    pub service_name: String,
    #[serde(deserialize_with = "null_default")]
    pub tags: Vec<String>,
}

/// One registered instance of a service (`structs.ServiceRegistration`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct ServiceRegistration {
    #[serde(rename = "ID")]
    pub id: String,
    pub service_name: String,
    pub namespace: String,
    #[serde(rename = "NodeID")]
    pub node_id: String,
    pub datacenter: String,
    #[serde(rename = "JobID")]
    pub job_id: String,
    #[serde(rename = "AllocID")]
    pub alloc_id: String,
    #[serde(deserialize_with = "null_default")]
    pub tags: Vec<String>,
    pub address: String,
    pub port: u64,
    pub create_index: u64,
    pub modify_index: u64,
}

/// The latest run of one Nomad service check (`structs.CheckQueryResult`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct CheckQueryResult {
    #[serde(rename = "ID")]
    pub id: String,
    /// `healthiness` or `readiness` (`on_update = "ignore"`).
    pub mode: String,
    /// `success`, `failure` or `pending`.
    pub status: String,
    /// The HTTP status of an HTTP check (left out by Nomad when 0).
    pub status_code: u16,
    pub output: String,
    /// Unix seconds.
    pub timestamp: i64,
    /// The allocation's name (`example.cache[0]`).
    pub group: String,
    /// The task of a task-level service; empty for a group service.
    pub task: String,
    /// The name of the service the check belongs to.
    pub service: String,
    /// The check's name.
    pub check: String,
}

/// `GET /v1/allocation/:alloc_id/checks`: check ID → result. Nomad answers `null` when the
/// allocation's client keeps no results (no Nomad check, not started, or stopped).
pub type AllocCheckResults = BTreeMap<String, CheckQueryResult>;
