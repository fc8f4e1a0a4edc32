//! The cluster: status and capacity, what is wrong across it, namespaces, recent events.

use schemars::JsonSchema;
use serde::Deserialize;

use super::{Ctx, Kind, Line, PageInput, Summary, ToolDef, define, define_list};
use crate::service::PageRequest;
use crate::service::cluster::{ClusterStatus, EventRow, EventsRequest, NamespaceRow};
use crate::service::lookup::{NomadIdentity, SearchResult};
use crate::service::policy::Access;
use crate::service::problems::ProblemReport;

pub fn tools() -> Vec<ToolDef> {
    vec![
        define(
            "get_cluster_status",
            "Get the cluster's status",
            "The cluster at a glance: leader and servers, nodes by status, CPU and memory capacity \
             against reservations, jobs by status. Use it to check there is room before adding \
             work.",
            Kind::Read,
            Access::Read,
            |ctx: Ctx, _input: NoInput| async move { ctx.service.get_cluster_status(&ctx.who).await },
        ),
        define(
            "find_problems",
            "Find problems across the cluster",
            "Find what is wrong in a namespace (`*`: all) and on the nodes: nodes down or \
             draining, failing or stuck deployments, crash loops, failed or lost allocations, \
             blocked placements. Most severe first, each with the next call.",
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
            "List the Nomad namespaces with their descriptions; every `namespace` argument takes \
             these names.",
            Access::Read,
            |ctx: Ctx, input: PageInput| async move {
                let page = PageRequest::new(input.cursor, input.limit);
                ctx.service.list_namespaces(&ctx.who, &page).await
            },
        ),
        define_list(
            "recent_events",
            "Recent cluster events",
            "Show the latest events of Nomad's event stream (jobs, allocations, deployments, \
             nodes), optionally for some topics, one namespace or one job. Use it to see what just \
             happened.",
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
        define(
            "search_ids",
            "Find objects by ID prefix",
            "Find the jobs, allocations, nodes, evaluations, deployments and more whose ID starts \
             with `prefix`: the quickest way from a fragment of an ID to the object.",
            Kind::Read,
            Access::Read,
            |ctx: Ctx, input: SearchInput| async move {
                ctx.service
                    .search_ids(
                        &ctx.who,
                        &input.prefix,
                        input.context.as_deref(),
                        input.namespace.as_deref(),
                    )
                    .await
            },
        ),
        define(
            "get_nomad_identity",
            "The gateway's Nomad token",
            "Show the gateway's own Nomad token: type, policies, roles, expiry (or that ACLs are \
             off). Use it when Nomad refuses the gateway something.",
            Kind::Read,
            Access::ClusterRead,
            |ctx: Ctx, _input: NoInput| async move { ctx.service.nomad_identity(&ctx.who).await },
        ),
    ]
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchInput {
    /// The first characters of an ID.
    pub prefix: String,
    /// `jobs`, `allocs`, `nodes`, `evals`, `deployment`, `variables`... (default: `all`).
    #[serde(default)]
    pub context: Option<String>,
    #[serde(default)]
    pub namespace: Option<String>,
}

impl Summary for SearchResult {
    fn summary(&self) -> String {
        if self.matches.is_empty() {
            return format!("Nothing's ID starts with '{}'.", self.prefix);
        }
        self.matches
            .iter()
            .map(|m| {
                let more = if m.truncated {
                    " (more: give a longer prefix)"
                } else {
                    ""
                };
                let open = m
                    .open_with
                    .as_ref()
                    .map(|c| format!("; open with {c}"))
                    .unwrap_or_default();
                format!("{}: {}{more}{open}", m.context, m.ids.join(", "))
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Summary for NomadIdentity {
    fn summary(&self) -> String {
        let name = self.name.as_deref().unwrap_or("unnamed");
        let expiry = match &self.expires_at {
            Some(at) => format!(" It expires at {at}."),
            None if self.acl_enabled => " It does not expire.".into(),
            None => String::new(),
        };
        if self.acl_enabled {
            format!("Token '{name}': {}.{expiry}", self.summary)
        } else {
            format!("{}.", self.summary)
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProblemsInput {
    #[serde(default)]
    pub namespace: Option<String>,
    /// Findings to return at most (default 20, at most 100); `total` counts them all.
    #[serde(default)]
    #[schemars(range(min = 1, max = 100))]
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
    pub topics: Vec<String>,
    #[serde(default)]
    pub namespace: Option<String>,
    /// Only events about this job.
    #[serde(default)]
    pub job_id: Option<String>,
    #[serde(default)]
    #[schemars(range(min = 1, max = 200))]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page: it goes on where that page ended.
    #[serde(default)]
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
