//! Nodes: list (filtered), read, drain, scheduling eligibility, metadata, purge; pools.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Ctx, Kind, Line, Summary, ToolDef, define, define_list};
use crate::mcp::progress::operation_text;
use crate::service::PageRequest;
use crate::service::consequences::Change;
use crate::service::nodes::{
    DrainRequest, NodeChange, NodeDetail, NodeFilter, NodePoolRow, NodeRow,
};
use crate::service::policy::Access;

pub fn tools() -> Vec<ToolDef> {
    vec![
        define_list(
            "list_nodes",
            "List client nodes",
            "List client nodes, optionally by status, pool, class, datacenter or a `meta` \
             label: datacenter, pool, class, status, eligibility, draining, CPU and memory.",
            Access::Read,
            |ctx: Ctx, input: ListNodesInput| async move {
                let page = PageRequest::new(input.cursor, input.limit);
                let filter = NodeFilter {
                    status: input.status,
                    pool: input.pool,
                    class: input.class,
                    datacenter: input.datacenter,
                    meta: input.meta,
                };
                ctx.service.list_nodes(&ctx.who, &filter, &page).await
            },
        ),
        define_list(
            "list_node_pools",
            "List node pools",
            "List the node pools with their description, metadata, scheduler algorithm and how \
             many nodes (ready) each holds.",
            Access::Read,
            |ctx: Ctx, input: super::PageInput| async move {
                let page = PageRequest::new(input.cursor, input.limit);
                ctx.service.list_node_pools(&ctx.who, &page).await
            },
        ),
        define(
            "get_node",
            "Get a node",
            "Show a client node: status, eligibility, drain, address, metadata and main attributes \
             (OS, kernel, CPU, drivers).",
            Kind::Read,
            Access::Read,
            |ctx: Ctx, input: NodeRef| async move {
                ctx.service.get_node(&ctx.who, &input.node_id).await
            },
        ),
        define(
            "drain_node",
            "Drain a node",
            "Drain a client node: no new work, and its allocations move elsewhere within the \
             deadline (default 1h); `cancel` ends a drain. Check with list_nodes that others have \
             room.",
            Kind::Destructive { idempotent: true },
            Access::NodesWrite,
            |ctx: Ctx, input: DrainInput| async move {
                let request = DrainRequest {
                    deadline_seconds: input.deadline_seconds,
                    ignore_system_jobs: input.ignore_system_jobs,
                    cancel: input.cancel,
                };
                let service = ctx.writing(input.idempotency_key.clone(), None);
                let drain = service.drain_node(&ctx.who, &input.node_id, request);
                ctx.write(&service, input.wait, drain).await
            },
        )
        .asks(|i: DrainInput| Change::DrainNode {
            node_id: i.node_id,
            deadline_seconds: i.deadline_seconds,
            ignore_system_jobs: i.ignore_system_jobs,
            cancel: i.cancel,
        }),
        define(
            "set_node_eligibility",
            "Set a node's scheduling eligibility",
            "Make a client node eligible or ineligible for new allocations; unlike drain_node, \
             what runs there stays. Use it before maintenance or for a suspect node.",
            Kind::Idempotent,
            Access::NodesWrite,
            |ctx: Ctx, input: EligibilityInput| async move {
                ctx.service
                    .set_node_eligibility(&ctx.who, &input.node_id, input.eligible)
                    .await
            },
        ),
        define(
            "set_node_meta",
            "Set or remove node metadata",
            "Set or remove (null value) a client node's dynamic metadata, which job constraints \
             read. Answers the node's metadata after the change.",
            Kind::Idempotent,
            Access::NodesWrite,
            |ctx: Ctx, input: MetaInput| async move {
                let meta = ctx
                    .service
                    .set_node_meta(&ctx.who, &input.node_id, input.meta)
                    .await?;
                Ok(NodeMeta {
                    node_id: input.node_id,
                    meta,
                })
            },
        ),
        define(
            "purge_node",
            "Purge a node",
            "Remove a node that is gone for good from Nomad's state at once: its allocations are \
             lost and replaced elsewhere. A node still running registers again.",
            Kind::Destructive { idempotent: true },
            Access::NodesWrite,
            |ctx: Ctx, input: PurgeInput| async move {
                let service = ctx.writing(input.idempotency_key.clone(), None);
                let purge = service.purge_node(&ctx.who, &input.node_id);
                ctx.write(&service, input.wait, purge).await
            },
        )
        .asks(|i: PurgeInput| Change::PurgeNode { node_id: i.node_id }),
    ]
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PurgeInput {
    /// The node's full ID.
    pub node_id: String,
    /// Seconds to follow the replacements before answering (at most 300).
    #[serde(default)]
    pub wait: Option<u64>,
    /// Retries with this key change nothing again.
    #[serde(default, skip_serializing)]
    pub idempotency_key: Option<String>,
}

impl Line for NodePoolRow {
    fn line(&self) -> String {
        let description = if self.description.is_empty() {
            String::new()
        } else {
            format!(": {}", self.description)
        };
        format!(
            "{} ({} node(s), {} ready){description}",
            self.name, self.nodes, self.ready_nodes
        )
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListNodesInput {
    /// `ready`, `down`, `initializing` or `disconnected`.
    #[serde(default)]
    pub status: Option<String>,
    /// Node pool.
    #[serde(default)]
    pub pool: Option<String>,
    /// Node class.
    #[serde(default)]
    pub class: Option<String>,
    /// Datacenter.
    #[serde(default)]
    pub datacenter: Option<String>,
    /// A metadata label as `key=value`.
    #[serde(default)]
    pub meta: Option<String>,
    #[serde(default)]
    pub cursor: Option<String>,
    #[serde(default)]
    #[schemars(range(min = 1, max = 200))]
    pub limit: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NodeRef {
    /// The node's full ID (list_nodes shows it).
    pub node_id: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DrainInput {
    /// The node's full ID.
    pub node_id: String,
    /// Seconds the allocations have to migrate before they are stopped (default 3600, at
    /// most 604800; 0 stops them at once).
    #[serde(default)]
    #[schemars(range(max = 604800))]
    pub deadline_seconds: Option<u64>,
    /// Leave system jobs' allocations on the node.
    #[serde(default)]
    pub ignore_system_jobs: bool,
    /// End a drain instead of starting one.
    #[serde(default)]
    pub cancel: bool,
    /// Seconds to follow it before answering (at most 300).
    #[serde(default)]
    pub wait: Option<u64>,
    /// Retries with this key change nothing again.
    #[serde(default, skip_serializing)]
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EligibilityInput {
    /// The node's full ID.
    pub node_id: String,
    /// `true` to accept new allocations, `false` to refuse them.
    pub eligible: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MetaInput {
    /// The node's full ID.
    pub node_id: String,
    /// Labels to set; a null value removes the key.
    pub meta: BTreeMap<String, Option<String>>,
}

/// One page of client nodes.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NodeMeta {
    pub node_id: String,
    /// The node's labels after the change.
    pub meta: BTreeMap<String, String>,
}

fn line(n: &NodeRow) -> String {
    format!(
        "{} {} ({}, pool {}): {}, {}{}",
        n.id,
        n.name,
        n.datacenter,
        n.node_pool,
        n.status,
        n.eligibility,
        if n.draining { ", draining" } else { "" }
    )
}

impl Line for NodeRow {
    fn line(&self) -> String {
        line(self)
    }
}

impl Summary for NodeDetail {
    fn summary(&self) -> String {
        format!("Node {} at {}", line(&self.summary), self.address)
    }
}

impl Summary for NodeChange {
    fn summary(&self) -> String {
        format!(
            "Node {} updated ({} evaluation(s) created).{}",
            self.node_id,
            self.eval_ids.len(),
            operation_text(&self.operation, &self.not_followed)
        )
    }
}

impl Summary for NodeMeta {
    fn summary(&self) -> String {
        let labels: Vec<String> = self.meta.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!("Node {} labels: {}", self.node_id, labels.join(", "))
    }
}
