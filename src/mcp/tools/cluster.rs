//! The cluster: status and capacity, namespaces, recent events.

use schemars::JsonSchema;
use serde::Deserialize;

use super::{Ctx, Kind, Line, PageInput, Summary, ToolDef, define, define_list};
use crate::service::PageRequest;
use crate::service::cluster::{ClusterStatus, EventRow, EventsRequest, NamespaceRow};
use crate::service::policy::Access;

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
