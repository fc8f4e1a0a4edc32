//! The cluster: status and capacity, what is wrong across it, namespaces, recent events.

use schemars::JsonSchema;
use serde::Deserialize;

use super::{Ctx, Kind, Line, PageInput, Summary, ToolDef, define, define_list};
use crate::service::PageRequest;
use crate::service::cluster::{ClusterStatus, EventRow, EventsRequest, NamespaceRow};
use crate::service::policy::Access;
use crate::service::problems::ProblemReport;

pub fn tools() -> Vec<ToolDef> {
    vec![
        define(
            "get_cluster_status",
            "Get the cluster's status",
            "Show the Nomad cluster at a glance: the leader and servers, client nodes by status, \
             CPU and memory capacity against what running allocations reserve, and jobs by \
             status. Use it to check whether there is room before adding work.",
            Kind::Read,
            Access::Read,
            |ctx: Ctx, _input: NoInput| async move { ctx.service.get_cluster_status(&ctx.who).await },
        ),
        define(
            "find_problems",
            "Find problems across the cluster",
            "Find what is wrong in a namespace (`*`: every namespace you may read) and on the \
             cluster's nodes, in one call: nodes down, draining or ineligible, failed or stuck \
             deployments and canaries awaiting promotion, crash loops, failed or lost \
             allocations, placements blocked for lack of room, allocations queued or not \
             starting. Most severe first, one finding per cause, each with the call to make \
             next. Start here when asked \"what is wrong?\".",
            Kind::Read,
            Access::Read,
            |ctx: Ctx, input: ProblemsInput| async move {
                ctx.service
                    .find_problems(&ctx.who, input.namespace.as_deref(), input.limit)
                    .await
            },
        ),
        define_list(
            "list_namespaces",
            "List namespaces",
            "List the Nomad namespaces with their descriptions. Every tool that takes \
             `namespace` accepts these names.",
            Access::Read,
            |ctx: Ctx, input: PageInput| async move {
                let page = PageRequest::new(input.cursor, input.limit);
                ctx.service.list_namespaces(&ctx.who, &page).await
            },
        ),
        define_list(
            "recent_events",
            "Recent cluster events",
            "Show the most recent events of Nomad's event stream (job registered, allocation \
             updated, deployment status, node events...), optionally only some topics, one \
             namespace or one job. Use it to see what just happened.",
            Access::Read,
            |ctx: Ctx, input: EventsInput| async move {
                let request = EventsRequest {
                    topics: input.topics,
                    namespace: input.namespace,
                    job_id: input.job_id,
                    cursor: input.cursor,
                    limit: input.limit,
                };
                ctx.service.recent_events(&ctx.who, request).await
            },
        ),
    ]
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProblemsInput {
    /// A namespace, or `*` for all you may read; the gateway's default when left out.
    #[serde(default)]
    #[schemars(example = &"*")]
    pub namespace: Option<String>,
    /// Findings to return at most (default 20, at most 100); `total` counts them all.
    #[serde(default)]
    #[schemars(example = 20, range(min = 1, max = 100))]
    pub limit: Option<u32>,
}

impl Summary for ProblemReport {
    fn summary(&self) -> String {
        let s = &self.scanned;
        let scanned = format!(
            "{} jobs, {} allocations, {} deployments, {} nodes",
            s.jobs, s.allocations, s.deployments, s.nodes
        );
        if self.problems.is_empty() {
            return format!(
                "No problem found in namespace '{}' ({scanned} looked at).",
                self.namespace
            );
        }
        let mut lines = vec![format!(
            "{} problem(s) in namespace '{}' ({scanned} looked at), most severe first:",
            self.total, self.namespace
        )];
        for p in &self.problems {
            lines.push(format!(
                "[{}] {}. Next: {}",
                serde_json::to_value(p.severity)
                    .ok()
                    .and_then(|v| v.as_str().map(String::from))
                    .unwrap_or_default(),
                p.message,
                p.next_step
            ));
        }
        if (self.problems.len() as u64) < self.total {
            lines.push(format!(
                "({} more; call again with a higher limit)",
                self.total - self.problems.len() as u64
            ));
        }
        lines.join("\n")
    }
}

/// This tool takes no arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoInput {}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EventsInput {
    /// Topics: `Job`, `Allocation`, `Deployment`, `Evaluation`, `Node`; every topic when
    /// empty.
    #[serde(default)]
    #[schemars(example = vec!["Job", "Deployment"])]
    pub topics: Vec<String>,
    /// A namespace, or `*` for all; the gateway's default when left out.
    #[serde(default)]
    #[schemars(example = &"default")]
    pub namespace: Option<String>,
    /// Only events about this job.
    #[serde(default)]
    #[schemars(example = &"web")]
    pub job_id: Option<String>,
    /// How many per page, newest first (default 50, at most 200).
    #[serde(default)]
    #[schemars(example = 20, range(min = 1, max = 200))]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page: older events than it.
    #[serde(default)]
    #[schemars(example = &"1234")]
    pub cursor: Option<String>,
}

impl Summary for ClusterStatus {
    fn summary(&self) -> String {
        let nodes: Vec<String> = self
            .nodes_by_status
            .iter()
            .map(|(s, n)| format!("{n} {s}"))
            .collect();
        let jobs: Vec<String> = self
            .jobs_by_status
            .iter()
            .map(|(s, n)| format!("{n} {s}"))
            .collect();
        let c = &self.capacity;
        format!(
            "Region {}, leader {}, {} server(s). Nodes: {}. CPU {}/{} MHz and memory {}/{} MB reserved. Jobs: {}.",
            self.region,
            self.leader,
            self.servers.len(),
            nodes.join(", "),
            c.cpu_mhz_allocated,
            c.cpu_mhz_total,
            c.memory_mb_allocated,
            c.memory_mb_total,
            if jobs.is_empty() {
                "none".into()
            } else {
                jobs.join(", ")
            }
        )
    }
}

impl Line for NamespaceRow {
    fn line(&self) -> String {
        match self.description.as_str() {
            "" => self.name.clone(),
            description => format!("{}: {description}", self.name),
        }
    }
}

impl Line for EventRow {
    fn line(&self) -> String {
        format!(
            "#{} {} {} {} ({})",
            self.index, self.topic, self.event_type, self.key, self.namespace
        )
    }
}
