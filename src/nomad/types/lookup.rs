//! Cluster-wide lookups: prefix search (`POST /v1/search`), the gateway's own ACL token
//! (`GET /v1/acl/token/self`), volumes (`/v1/volumes`, `/v1/volume/{csi,host}/:id`) and
//! scaling policies (`/v1/scaling/policies`, `/v1/scaling/policy/:id`).

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use super::null_default;

/// What `POST /v1/search` asks (`structs.SearchRequest`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SearchRequest {
    pub prefix: String,
    /// `all`, `jobs`, `allocs`, `nodes`, `evals`, `deployment`, `namespaces`...
    pub context: String,
}

/// Per context, the matching IDs (at most 20 each) and whether there were more
/// (`structs.SearchResponse`; Nomad's `Truncations` is `map[Context]bool`, which the
/// documentation's sample prints as strings).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SearchResponse {
    #[serde(deserialize_with = "null_default")]
    pub matches: BTreeMap<String, Option<Vec<String>>>,
    #[serde(deserialize_with = "truncations")]
    pub truncations: BTreeMap<String, bool>,
}

fn truncations<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, bool>, D::Error> {
    let raw: Option<BTreeMap<String, Value>> = Option::deserialize(d)?;
    Ok(raw
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| {
            let truncated = v.as_bool().unwrap_or_else(|| v.as_str() == Some("true"));
            (k, truncated)
        })
        .collect())
}

/// An ACL token as Nomad shows it (`structs.ACLToken`); the secret is never read.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AclToken {
    #[serde(rename = "AccessorID")]
    pub accessor_id: String,
    pub name: String,
    /// `client` or `management`.
    #[serde(rename = "Type")]
    pub token_type: String,
    #[serde(deserialize_with = "null_default")]
    pub policies: Vec<String>,
    #[serde(deserialize_with = "null_default")]
    pub roles: Vec<AclTokenRole>,
    pub global: bool,
    pub create_time: Option<String>,
    pub expiration_time: Option<String>,
}

/// A role linked to a token (`structs.ACLTokenRoleLink`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AclTokenRole {
    #[serde(rename = "ID")]
    pub id: String,
    pub name: String,
}

/// A CSI volume in a list (`structs.CSIVolListStub`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CsiVolumeStub {
    #[serde(rename = "ID")]
    pub id: String,
    pub name: String,
    pub namespace: String,
    #[serde(rename = "ExternalID")]
    pub external_id: String,
    pub access_mode: String,
    pub attachment_mode: String,
    pub current_readers: u64,
    pub current_writers: u64,
    pub schedulable: bool,
    #[serde(rename = "PluginID")]
    pub plugin_id: String,
    pub provider: String,
    pub nodes_healthy: u64,
    pub nodes_expected: u64,
    pub controllers_healthy: u64,
    pub controllers_expected: u64,
}

/// One CSI volume (`structs.CSIVolume`), with the allocations that claim it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CsiVolume {
    #[serde(flatten)]
    pub stub: CsiVolumeStub,
    pub capacity: i64,
    #[serde(deserialize_with = "null_default")]
    pub requested_capabilities: Vec<VolumeCapability>,
    #[serde(deserialize_with = "null_default")]
    pub allocations: Vec<VolumeAllocation>,
}

/// An access and attachment mode a volume was asked for.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct VolumeCapability {
    pub access_mode: String,
    pub attachment_mode: String,
}

/// An allocation that uses a volume (an allocation stub: only what is shown is read).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct VolumeAllocation {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "JobID")]
    pub job_id: String,
    #[serde(rename = "NodeID")]
    pub node_id: String,
    pub task_group: String,
    pub client_status: String,
}

/// A dynamic host volume in a list (`structs.HostVolumeStub`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct HostVolumeStub {
    #[serde(rename = "ID")]
    pub id: String,
    pub name: String,
    pub namespace: String,
    #[serde(rename = "PluginID")]
    pub plugin_id: String,
    pub node_pool: String,
    #[serde(rename = "NodeID")]
    pub node_id: String,
    /// `pending`, `ready` or `unavailable`.
    pub state: String,
    pub capacity_bytes: i64,
}

/// One dynamic host volume (`structs.HostVolume`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct HostVolume {
    #[serde(flatten)]
    pub stub: HostVolumeStub,
    pub host_path: String,
    pub requested_capacity_min_bytes: i64,
    pub requested_capacity_max_bytes: i64,
    #[serde(deserialize_with = "null_default")]
    pub requested_capabilities: Vec<VolumeCapability>,
    #[serde(deserialize_with = "null_default")]
    pub allocations: Vec<VolumeAllocation>,
}

/// What a scaling policy scales (`Target`: Namespace, Job, Group, and Task for vertical
/// policies).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ScalingTarget {
    pub namespace: String,
    pub job: String,
    pub group: String,
    pub task: String,
}

/// A scaling policy in a list (`structs.ScalingPolicyListStub`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ScalingPolicyStub {
    #[serde(rename = "ID")]
    pub id: String,
    pub enabled: bool,
    /// `horizontal`, or `vertical_cpu` / `vertical_mem` (Nomad Enterprise).
    #[serde(rename = "Type")]
    pub policy_type: String,
    pub target: ScalingTarget,
}

/// One scaling policy (`structs.ScalingPolicy`): its bounds and the autoscaler's policy
/// document.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ScalingPolicy {
    #[serde(flatten)]
    pub stub: ScalingPolicyStub,
    pub min: Option<i64>,
    pub max: i64,
    #[serde(deserialize_with = "null_default")]
    pub policy: BTreeMap<String, Value>,
}
