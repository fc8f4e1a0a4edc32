//! Client nodes: list, read, drain, cordon/uncordon, labels.

use super::guard::WriteCall;
use crate::service::policy::Access;
use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::jobs::invalid;
use super::{Page, PageRequest, Principal, Service, ServiceError};
use crate::nomad::types::{Node, NodeListStub};
use crate::nomad::{DrainSpec, QueryOptions};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct NodeRow {
    pub id: String,
    pub name: String,
    pub datacenter: String,
    pub node_pool: String,
    pub node_class: String,
    pub status: String,
    /// `eligible` or `ineligible` (cordoned).
    pub eligibility: String,
    pub draining: bool,
    pub cpu_mhz: Option<i64>,
    pub memory_mb: Option<i64>,
}

impl From<NodeListStub> for NodeRow {
    fn from(n: NodeListStub) -> Self {
        NodeRow {
            cpu_mhz: n.node_resources.as_ref().map(|r| r.cpu.cpu_shares),
            memory_mb: n.node_resources.as_ref().map(|r| r.memory.memory_mb),
            id: n.id,
            name: n.name,
            datacenter: n.datacenter,
            node_pool: n.node_pool,
            node_class: n.node_class,
            status: n.status,
            eligibility: n.scheduling_eligibility,
            draining: n.drain,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct NodeDetail {
    #[serde(flatten)]
    pub summary: NodeRow,
    pub address: String,
    pub meta: BTreeMap<String, String>,
    pub drain_strategy: Option<serde_json::Value>,
    /// Selected attributes (kernel, OS, CPU, driver versions).
    pub attributes: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DrainRequest {
    /// Stop remaining allocations after this many seconds (default: 1 hour). 0 drains at once.
    #[serde(default)]
    #[schema(maximum = 604800)]
    pub deadline_seconds: Option<u64>,
    /// Leave system jobs running on the node.
    #[serde(default)]
    pub ignore_system_jobs: bool,
    /// Cancel a drain in progress instead of starting one.
    #[serde(default)]
    pub cancel: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct NodeChange {
    pub node_id: String,
    pub eval_ids: Vec<String>,
    /// The operation that follows this change (`GET /api/v1/operations/{id}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation_id: Option<String>,
    /// With `wait`: the operation as it stood when the wait ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<crate::operations::Operation>,
    /// With `wait`, when the write could not be followed: why (the gateway\'s database
    /// was unavailable, so the write has no tracked operation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_followed: Option<String>,
}

fn node_not_found(id: &str) -> impl FnOnce() -> String {
    let message = format!("node '{id}' not found");
    move || message
}

fn interesting(key: &str) -> bool {
    key.starts_with("kernel.")
        || key.starts_with("os.")
        || key.starts_with("cpu.")
        || key.starts_with("driver.")
        || key == "unique.hostname"
}

impl Service {
    pub async fn list_nodes(
        &self,
        who: &Principal,
        page: &PageRequest,
    ) -> Result<Page<NodeRow>, ServiceError> {
        self.allow(who, Access::ClusterRead, None, "list_nodes")
            .await?;
        let nodes = self
            .nomad
            .list_nodes(true, &QueryOptions::default())
            .await
            .map_err(|e| ServiceError::from_nomad(e, || "no nodes".to_string()))?
            .value;
        page.of(nodes.into_iter().map(NodeRow::from).collect())
    }

    /// A node by id or unique id prefix, as the Nomad CLI accepts.
    pub(super) async fn read_node(&self, id: &str) -> Result<Node, ServiceError> {
        Ok(self
            .nomad
            .read_node(id, &QueryOptions::default())
            .await
            .map_err(|e| ServiceError::from_nomad(e, node_not_found(id)))?
            .value)
    }

    pub async fn get_node(&self, who: &Principal, id: &str) -> Result<NodeDetail, ServiceError> {
        self.allow(who, Access::ClusterRead, None, "get_node")
            .await?;
        let node = self.read_node(id).await?;
        let summary = NodeRow {
            id: node.id.clone(),
            name: node.name.clone(),
            datacenter: node.datacenter.clone(),
            node_pool: node.node_pool.clone(),
            node_class: node.node_class.clone(),
            status: node.status.clone(),
            eligibility: node.scheduling_eligibility.clone(),
            draining: node.drain,
            cpu_mhz: node.node_resources.as_ref().map(|r| r.cpu.cpu_shares),
            memory_mb: node.node_resources.as_ref().map(|r| r.memory.memory_mb),
        };
        Ok(NodeDetail {
            summary,
            address: node.http_addr,
            meta: node.meta,
            drain_strategy: node.drain_strategy,
            attributes: node
                .attributes
                .into_iter()
                .filter(|(k, _)| interesting(k))
                .collect(),
        })
    }

    pub async fn drain_node(
        &self,
        who: &Principal,
        id: &str,
        request: DrainRequest,
    ) -> Result<NodeChange, ServiceError> {
        let call = WriteCall::node(
            "drain_node",
            serde_json::json!({"node_id": id, "request": request}),
        );
        self.audited(who, call, async {
            if request.deadline_seconds.is_some_and(|s| s > 7 * 86_400) {
                return Err(invalid("deadline_seconds", "use at most 604800 (7 days)"));
            }
            let spec = (!request.cancel).then(|| DrainSpec {
                deadline: Some(Duration::from_secs(
                    request.deadline_seconds.unwrap_or(3600),
                )),
                ignore_system_jobs: request.ignore_system_jobs,
            });
            let message = if request.cancel {
                "drain cancelled through nomad-gateway"
            } else {
                "drained through nomad-gateway"
            };
            let answer = self
                .nomad
                .drain_node(id, spec, request.cancel, message)
                .await
                .map_err(|e| ServiceError::from_nomad(e, node_not_found(id)))?;
            Ok(NodeChange {
                node_id: id.to_string(),
                eval_ids: answer.eval_ids,
                operation_id: None,
                operation: None,
                not_followed: None,
            })
        })
        .await
    }

    /// Cordon (`eligible = false`) or uncordon a node.
    pub async fn set_node_eligibility(
        &self,
        who: &Principal,
        id: &str,
        eligible: bool,
    ) -> Result<NodeChange, ServiceError> {
        let call = WriteCall::node(
            "set_node_eligibility",
            serde_json::json!({"node_id": id, "eligible": eligible}),
        );
        self.audited(who, call, async {
            let answer = self
                .nomad
                .set_node_eligibility(id, eligible)
                .await
                .map_err(|e| ServiceError::from_nomad(e, node_not_found(id)))?;
            Ok(NodeChange {
                node_id: id.to_string(),
                eval_ids: answer.eval_ids,
                operation_id: None,
                operation: None,
                not_followed: None,
            })
        })
        .await
    }

    /// Sets node labels (dynamic metadata); a `null` value removes a key.
    pub async fn set_node_meta(
        &self,
        who: &Principal,
        id: &str,
        meta: BTreeMap<String, Option<String>>,
    ) -> Result<BTreeMap<String, String>, ServiceError> {
        let call = WriteCall::node(
            "set_node_meta",
            serde_json::json!({"node_id": id, "meta": meta}),
        );
        self.audited(who, call, async {
            if meta.is_empty() {
                return Err(invalid(
                    "meta",
                    "give at least one key; a null value removes the key",
                ));
            }
            if let Some(bad) = meta
                .keys()
                .find(|k| k.is_empty() || k.contains(char::is_whitespace))
            {
                return Err(invalid(
                    &format!("meta.{bad}"),
                    "keys are non-empty and contain no spaces",
                ));
            }
            let answer = self
                .nomad
                .set_node_meta(id, &meta)
                .await
                .map_err(|e| ServiceError::from_nomad(e, node_not_found(id)))?;
            Ok(serde_json::from_value(answer["Meta"].clone()).unwrap_or_default())
        })
        .await
    }
}
