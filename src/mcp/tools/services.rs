//! Where it runs: Nomad-native services, one service's instances and their health, an
//! allocation's check results.

use schemars::JsonSchema;
use serde::Deserialize;

use super::{Ctx, Kind, Line, Summary, ToolDef, define, define_list};
use crate::service::PageRequest;
use crate::service::policy::Access;
use crate::service::services::{AllocationChecks, CheckStatus, Health, ServiceDetail, ServiceRow};

pub fn tools() -> Vec<ToolDef> {
    vec![
        define_list(
            "list_services",
            "List services",
            "List the Nomad-native services registered in a namespace (`*`: all you may read), \
             with their tags. get_service shows where one runs.",
            Access::Read,
            |ctx: Ctx, input: ListServicesInput| async move {
                let page = PageRequest::new(input.cursor, input.limit);
                ctx.service
                    .list_services(&ctx.who, input.namespace.as_deref(), &page)
                    .await
            },
        ),
        define(
            "get_service",
            "Get a service",
            "Show where a Nomad-native service runs: per instance the address and port, \
             allocation, node, job, and its health checks (the first 20 allocations' checks).",
            Kind::Read,
            Access::Read,
            |ctx: Ctx, input: ServiceRef| async move {
                ctx.service
                    .get_service(&ctx.who, &input.service_name, input.namespace.as_deref())
                    .await
            },
        ),
        define(
            "get_allocation_checks",
            "Get an allocation's checks",
            "Show the latest result of each Nomad service check of an allocation: status, mode, \
             output (capped) and when it ran. Use it to see why an instance is unhealthy.",
            Kind::Read,
            Access::Read,
            |ctx: Ctx, input: AllocationChecksInput| async move {
                ctx.service
                    .get_allocation_checks(&ctx.who, &input.alloc_id, input.namespace.as_deref())
                    .await
            },
        ),
    ]
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListServicesInput {
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub cursor: Option<String>,
    #[serde(default)]
    #[schemars(range(min = 1, max = 200))]
    pub limit: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceRef {
    /// The service's name (list_services shows them).
    pub service_name: String,
    #[serde(default)]
    pub namespace: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AllocationChecksInput {
    /// The allocation's full ID (get_service and list_allocations show it).
    pub alloc_id: String,
    #[serde(default)]
    pub namespace: Option<String>,
}

impl Line for ServiceRow {
    fn line(&self) -> String {
        if self.tags.is_empty() {
            format!("{} (namespace {})", self.name, self.namespace)
        } else {
            format!(
                "{} (namespace {}) tags {}",
                self.name,
                self.namespace,
                self.tags.join(", ")
            )
        }
    }
}

fn health_word(health: Option<Health>) -> &'static str {
    match health {
        Some(Health::Passing) => "passing",
        Some(Health::Failing) => "failing",
        Some(Health::Pending) => "pending",
        Some(Health::Unchecked) => "no checks",
        None => "checks not read",
    }
}

fn check_line(c: &CheckStatus) -> String {
    format!("check '{}' {}: {}", c.name, c.status, c.output)
}

impl Summary for ServiceDetail {
    fn summary(&self) -> String {
        let h = &self.health;
        let mut lines = vec![format!(
            "Service '{}' in namespace '{}': {} instance(s); {} passing, {} failing, {} pending, {} without checks, {} not read.",
            self.name,
            self.namespace,
            self.instance_count,
            h.passing,
            h.failing,
            h.pending,
            h.unchecked,
            h.not_read
        )];
        for i in &self.instances {
            let failing: Vec<String> = i
                .checks
                .iter()
                .flatten()
                .filter(|c| c.status != "success")
                .map(check_line)
                .collect();
            let detail = if failing.is_empty() {
                String::new()
            } else {
                format!(" ({})", failing.join("; "))
            };
            lines.push(format!(
                "{}:{} alloc {} on node {} (job {}, {}): {}{detail}",
                i.address,
                i.port,
                i.alloc_id,
                i.node_id,
                i.job_id,
                i.datacenter,
                health_word(i.health)
            ));
        }
        if let Some(note) = &self.checks_note {
            lines.push(format!("Note: {note}."));
        }
        lines.join("\n")
    }
}

impl Summary for AllocationChecks {
    fn summary(&self) -> String {
        if self.checks.is_empty() {
            return format!(
                "Allocation {} of job '{}' has no check results (no Nomad service check, not started yet, or stopped).",
                self.alloc_id, self.job_id
            );
        }
        let lines: Vec<String> = self
            .checks
            .iter()
            .map(|c| format!("service '{}' {}", c.service, check_line(c)))
            .collect();
        format!(
            "Checks of allocation {} of job '{}':\n{}",
            self.alloc_id,
            self.job_id,
            lines.join("\n")
        )
    }
}
