//! Nodes: list, read, drain, scheduling eligibility, metadata.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Ctx, Kind, Line, Summary, ToolDef, define, define_list};
use crate::mcp::progress::operation_text;
use crate::service::PageRequest;
use crate::service::nodes::{DrainRequest, NodeChange, NodeDetail, NodeRow};
use crate::service::policy::Access;

pub fn tools() -> Vec<ToolDef> {
    vec![
        define_list(
            "list_nodes",
            "List client nodes",
            "List the cluster's client nodes: datacenter, pool, class, status, scheduling \
             eligibility, whether each is draining, and its CPU and memory. Paginated with \
             `cursor`.",
            Access::Read,
            |ctx: Ctx, input: ListNodesInput| async move {
                let page = PageRequest::new(input.cursor, input.limit);
                ctx.service.list_nodes(&ctx.who, &page).await
            },
        ),
        define(
            "get_node",
            "Get a node",
            "Show one client node: status, eligibility, drain strategy, address, metadata and \
             the interesting attributes (OS, kernel, CPU, drivers).",
            Kind::Read,
            Access::Read,
            |ctx: Ctx, input: NodeRef| async move {
                ctx.service.get_node(&ctx.who, &input.node_id).await
            },
        ),
        define(
            "drain_node",
            "Drain a node",
            "Drain a client node: it stops taking new work and its allocations migrate to other \
             nodes within the deadline (default 1 hour); `cancel` ends a drain. Check first with \
             list_nodes that the others have room. With `wait` it follows the drain.",
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
        ),
        define(
            "set_node_eligibility",
            "Set a node's scheduling eligibility",
            "Mark a client node eligible or ineligible for new allocations. Ineligible keeps what \
             runs there (unlike drain_node); use it before maintenance or to keep new work off a \
             suspect node.",
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
            "Set or remove a client node's dynamic metadata labels (used by job constraints). A \
             null value removes the key. Returns the node's labels after the change.",
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
    ]
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListNodesInput {
    /// The `next_cursor` of the previous page; leave out for the first page.
    #[serde(default)]
    #[schemars(example = &"50")]
    pub cursor: Option<String>,
    /// Nodes per page (default 50, at most 200).
    #[serde(default)]
    #[schemars(example = 20, range(min = 1, max = 200))]
    pub limit: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NodeRef {
    /// The node's full ID (list_nodes shows it).
    #[schemars(example = &"f7a1b2c3-d4e5-4f60-8172-93a4b5c6d7e8")]
    pub node_id: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DrainInput {
    /// The node's full ID.
    #[schemars(example = &"f7a1b2c3-d4e5-4f60-8172-93a4b5c6d7e8")]
    pub node_id: String,
    /// Seconds the allocations have to migrate before they are stopped (default 3600, at
    /// most 604800).
    #[serde(default)]
    #[schemars(example = 600, range(max = 604800))]
    pub deadline_seconds: Option<u64>,
    /// Leave system jobs' allocations on the node.
    #[serde(default)]
    #[schemars(example = true)]
    pub ignore_system_jobs: bool,
    /// End a drain instead of starting one.
    #[serde(default)]
    #[schemars(example = false)]
    pub cancel: bool,
    /// Seconds to follow the drain before answering (at most 300).
    /// The answer's `operation` then says where it stands.
    #[serde(default)]
    #[schemars(example = 120)]
    pub wait: Option<u64>,
    /// A retry with this key returns the first answer and changes nothing; another
    /// request with a used key is refused.
    #[serde(default, skip_serializing)]
    #[schemars(example = &"deploy-web-2026-11-30")]
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EligibilityInput {
    /// The node's full ID.
    #[schemars(example = &"f7a1b2c3-d4e5-4f60-8172-93a4b5c6d7e8")]
    pub node_id: String,
    /// `true` to accept new allocations, `false` to refuse them.
    #[schemars(example = false)]
    pub eligible: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MetaInput {
    /// The node's full ID.
    #[schemars(example = &"f7a1b2c3-d4e5-4f60-8172-93a4b5c6d7e8")]
    pub node_id: String,
    /// Labels to set; a null value removes the key.
    #[schemars(example = serde_json::json!({"rack": "r12", "maintenance": null}))]
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
