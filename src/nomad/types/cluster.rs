//! Cluster-wide reads: namespaces, agent members, and event stream batches.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::null_default;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct Namespace {
    pub name: String,
    pub description: String,
    pub quota: String,
    #[serde(deserialize_with = "null_default")]
    pub meta: BTreeMap<String, String>,
    pub create_index: u64,
    pub modify_index: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct AgentMembers {
    pub server_name: String,
    pub server_region: String,
    #[serde(rename = "ServerDC")]
    pub server_dc: String,
    #[serde(deserialize_with = "null_default")]
    pub members: Vec<AgentMember>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct AgentMember {
    pub name: String,
    pub addr: String,
    pub port: u16,
    pub status: String,
    #[serde(deserialize_with = "null_default")]
    pub tags: BTreeMap<String, String>,
}

/// `/v1/agent/self`: the gateway reads the member and passes the rest through.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct AgentSelf {
    pub member: AgentMember,
    pub config: serde_json::Value,
    pub stats: serde_json::Value,
}

/// One line of `/v1/event/stream`; a heartbeat is a line `{}` with no events.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct EventBatch {
    pub index: u64,
    #[serde(deserialize_with = "null_default")]
    pub events: Vec<Event>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct Event {
    pub topic: String,
    #[serde(rename = "Type")]
    pub event_type: String,
    pub key: String,
    pub namespace: String,
    #[serde(deserialize_with = "null_default")]
    pub filter_keys: Vec<String>,
    pub index: u64,
    pub payload: serde_json::Value,
}
