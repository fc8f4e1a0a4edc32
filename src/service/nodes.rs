//! Client nodes: list (filtered), read, drain, cordon/uncordon, labels, purge; node pools.

use super::guard::WriteCall;
use crate::service::policy::Access;
use std::collections::BTreeMap;
use std::time::Duration;

use futures::StreamExt;
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

/// Nodes read at most to filter by metadata.
const MAX_META_READS: usize = 200;

/// What a node list keeps: every filter given must match (case-sensitive, as Nomad).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct NodeFilter {
    /// `ready`, `down`, `initializing` or `disconnected`.
    pub status: Option<String>,
    /// The node pool.
    pub pool: Option<String>,
    /// The node class.
    pub class: Option<String>,
    pub datacenter: Option<String>,
    /// A metadata label as `key=value`.
    pub meta: Option<String>,
}

impl NodeFilter {
    fn admits(&self, row: &NodeRow) -> bool {
        let is = |wanted: &Option<String>, actual: &str| {
            wanted
                .as_deref()
                .is_none_or(|w| w.is_empty() || w == actual)
        };
        is(&self.status, &row.status)
            && is(&self.pool, &row.node_pool)
            && is(&self.class, &row.node_class)
            && is(&self.datacenter, &row.datacenter)
    }

    fn meta_pair(&self) -> Result<Option<(String, String)>, ServiceError> {
        match self.meta.as_deref().filter(|m| !m.is_empty()) {
            None => Ok(None),
            Some(pair) => match pair.split_once('=') {
                Some((key, value)) if !key.trim().is_empty() => {
                    Ok(Some((key.trim().to_string(), value.to_string())))
                }
                _ => Err(invalid(
                    "meta",
                    format!("'{pair}' is not key=value, e.g. rack=r12"),
                )),
            },
        }
    }
}

/// A node pool with how many nodes it holds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct NodePoolRow {
    pub name: String,
    pub description: String,
    pub meta: std::collections::BTreeMap<String, String>,
    /// The pool's own scheduler algorithm (`binpack`, `spread`), when it sets one.
    pub scheduler_algorithm: Option<String>,
    /// Client nodes in it (`all` holds every node).
    pub nodes: u64,
    pub ready_nodes: u64,
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
    /// The client nodes that pass every filter given.
    pub async fn list_nodes(
        &self,
        who: &Principal,
        filter: &NodeFilter,
        page: &PageRequest,
    ) -> Result<Page<NodeRow>, ServiceError> {
        self.allow(who, Access::ClusterRead, None, "list_nodes")
            .await?;
        let meta = filter.meta_pair()?;
        let nodes = self
            .nomad
            .list_nodes(true, &QueryOptions::default())
            .await
            .map_err(|e| ServiceError::from_nomad(e, || "no nodes".to_string()))?
            .value;
        let mut rows: Vec<NodeRow> = nodes
            .into_iter()
            .map(NodeRow::from)
            .filter(|row| filter.admits(row))
            .collect();
        if let Some((key, value)) = meta {
            // A node's metadata is not in Nomad's node list: the candidates are read,
            // a few at a time.
            if rows.len() > MAX_META_READS {
                return Err(invalid(
                    "meta",
                    format!(
                        "{} nodes would have to be read to filter by metadata; narrow them first with status, pool, class or datacenter (at most {MAX_META_READS})",
                        rows.len()
                    ),
                ));
            }
            let ids: Vec<String> = rows.iter().map(|row| row.id.clone()).collect();
            let reads = ids.into_iter().map(|id| {
                let (key, value) = (key.clone(), value.clone());
                async move {
                    let node = self.read_node(&id).await?;
                    Ok::<bool, ServiceError>(node.meta.get(&key) == Some(&value))
                }
            });
            let keep: Vec<Result<bool, ServiceError>> =
                futures::stream::iter(reads).buffered(8).collect().await;
            let keep = keep.into_iter().collect::<Result<Vec<bool>, _>>()?;
            let mut keep = keep.into_iter();
            rows.retain(|_| keep.next().unwrap_or(false));
        }
        page.of(rows)
    }

    /// The node pools, with how many of the listed nodes each holds.
    pub async fn list_node_pools(
        &self,
        who: &Principal,
        page: &PageRequest,
    ) -> Result<Page<NodePoolRow>, ServiceError> {
        self.allow(who, Access::ClusterRead, None, "list_node_pools")
            .await?;
        page.limit()?;
        page.offset()?;
        let unreachable = |e| ServiceError::from_nomad(e, || "no node pools".to_string());
        let (pools, nodes) = futures::future::join(
            self.nomad.list_node_pools(),
            self.nomad.list_nodes(false, &QueryOptions::default()),
        )
        .await;
        let nodes = nodes.map_err(unreachable)?.value;
        let rows = pools
            .map_err(unreachable)?
            .into_iter()
            .map(|pool| {
                let members = nodes
                    .iter()
                    .filter(|n| pool.name == "all" || n.node_pool == pool.name);
                let (count, ready) = members.fold((0, 0), |(c, r), n| {
                    (c + 1, r + u64::from(n.status == "ready"))
                });
                NodePoolRow {
                    scheduler_algorithm: pool
                        .scheduler_configuration
                        .map(|c| c.scheduler_algorithm)
                        .filter(|a| !a.is_empty()),
                    name: pool.name,
                    description: pool.description,
                    meta: pool.meta,
                    nodes: count,
                    ready_nodes: ready,
                }
            })
            .collect();
        page.of(rows)
    }

    /// Removes a node from Nomad's state at once, as if it had never registered: its
    /// allocations are lost and replaced elsewhere. A node that is still running
    /// registers again on its next heartbeat.
    pub async fn purge_node(&self, who: &Principal, id: &str) -> Result<NodeChange, ServiceError> {
        let call = WriteCall::node("purge_node", serde_json::json!({"node_id": id}));
        self.audited(who, call, async {
            self.read_node(id).await?;
            let answer = self
                .nomad
                .purge_node(id)
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
