//! Deployments: list a job's, read one, promote canaries, fail a rollout.

use schemars::JsonSchema;
use serde::Deserialize;

use super::{Ctx, Kind, Line, Summary, ToolDef, define, define_list};
use crate::mcp::progress::operation_text;
use crate::service::PageRequest;
use crate::service::deployments::DeploymentChange;
use crate::service::jobs::DeploymentBrief;
use crate::service::policy::Access;

pub fn tools() -> Vec<ToolDef> {
    vec![
        define_list(
            "list_deployments",
            "List a job's deployments",
            "List a job's deployments (rollouts of new versions), newest first, with per group \
             how many allocations are placed, healthy and unhealthy. Paginated with `cursor`.",
            Access::Read,
            |ctx: Ctx, input: ListDeploymentsInput| async move {
                let namespace = input.namespace.as_deref();
                let page = PageRequest::new(input.cursor, input.limit);
                ctx.service
                    .list_deployments(&ctx.who, &input.job_id, namespace, &page)
                    .await
            },
        ),
        define(
            "get_deployment",
            "Get a deployment",
            "Show one deployment: its status and description, and per group the desired, \
             placed, healthy and unhealthy allocations. Use it to watch a rollout.",
            Kind::Read,
            Access::Read,
            |ctx: Ctx, input: DeploymentRef| async move {
                ctx.service
                    .get_deployment(&ctx.who, &input.deployment_id, input.namespace.as_deref())
                    .await
            },
        ),
        define(
            "promote_deployment",
            "Promote a deployment's canaries",
            "Promote the canaries of a deployment (all groups, or the ones named) so the rollout \
             replaces the remaining old allocations. Do it once the canaries are healthy. With \
             `wait` it follows the deployment.",
            Kind::Idempotent,
            Access::Write,
            |ctx: Ctx, input: PromoteInput| async move {
                let service = ctx.writing(input.idempotency_key.clone(), None);
                let promote = service.promote_deployment(
                    &ctx.who,
                    &input.deployment_id,
                    input.namespace.as_deref(),
                    &input.groups,
                );
                ctx.write(&service, input.wait, promote).await
            },
        ),
        define(
            "fail_deployment",
            "Fail a deployment",
            "Mark a running deployment as failed: the rollout stops and, when the job has \
             auto-revert, Nomad rolls back to the last stable version. Use it to abort a bad \
             rollout. With `wait` it follows what happens next.",
            Kind::Destructive { idempotent: true },
            Access::Write,
            |ctx: Ctx, input: FailInput| async move {
                let service = ctx.writing(input.idempotency_key.clone(), None);
                let namespace = input.namespace.as_deref();
                let fail = service.fail_deployment(&ctx.who, &input.deployment_id, namespace);
                ctx.write(&service, input.wait, fail).await
            },
        ),
    ]
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListDeploymentsInput {
    /// The job's ID.
    #[schemars(example = &"web")]
    pub job_id: String,
    /// The Nomad namespace; the gateway's default when left out.
    #[serde(default)]
    #[schemars(example = &"default")]
    pub namespace: Option<String>,
    /// The `next_cursor` of the previous page; leave out for the first page.
    #[serde(default)]
    #[schemars(example = &"50")]
    pub cursor: Option<String>,
    /// Deployments per page (default 50, at most 200).
    #[serde(default)]
    #[schemars(example = 10, range(min = 1, max = 200))]
    pub limit: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeploymentRef {
    /// The deployment's ID (get_job shows the latest).
    #[schemars(example = &"d2b4c6e8-1a3c-4e5f-8a9b-0c1d2e3f4a5b")]
    pub deployment_id: String,
    /// The Nomad namespace; the gateway's default when left out.
    #[serde(default)]
    #[schemars(example = &"default")]
    pub namespace: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PromoteInput {
    /// The deployment's ID.
    #[schemars(example = &"d2b4c6e8-1a3c-4e5f-8a9b-0c1d2e3f4a5b")]
    pub deployment_id: String,
    /// The Nomad namespace; the gateway's default when left out.
    #[serde(default)]
    #[schemars(example = &"default")]
    pub namespace: Option<String>,
    /// Promote only these groups' canaries; every group when empty.
    #[serde(default)]
    #[schemars(example = vec!["web"])]
    pub groups: Vec<String>,
    /// Seconds to follow the deployment before answering (at most 300).
    /// The answer's `operation` then says where it stands.
    #[serde(default)]
    #[schemars(example = 60)]
    pub wait: Option<u64>,
    /// A retry with this key returns the first answer and changes nothing; another
    /// request with a used key is refused.
    #[serde(default, skip_serializing)]
    #[schemars(example = &"deploy-web-2026-11-30")]
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FailInput {
    /// The deployment's ID.
    #[schemars(example = &"d2b4c6e8-1a3c-4e5f-8a9b-0c1d2e3f4a5b")]
    pub deployment_id: String,
    /// The Nomad namespace; the gateway's default when left out.
    #[serde(default)]
    #[schemars(example = &"default")]
    pub namespace: Option<String>,
    /// Seconds to follow what happens next before answering (at most 300).
    /// The answer's `operation` then says where it stands.
    #[serde(default)]
    #[schemars(example = 30)]
    pub wait: Option<u64>,
    /// A retry with this key returns the first answer and changes nothing; another
    /// request with a used key is refused.
    #[serde(default, skip_serializing)]
    #[schemars(example = &"deploy-web-2026-11-30")]
    pub idempotency_key: Option<String>,
}

fn line(d: &DeploymentBrief) -> String {
    let groups: Vec<String> = d
        .groups
        .iter()
        .map(|(name, g)| format!("{name} {}/{} healthy", g.healthy, g.desired))
        .collect();
    format!(
        "{} (version {}) {}: {} [{}]",
        d.id,
        d.job_version,
        d.status,
        d.description,
        groups.join(", ")
    )
}

impl Line for DeploymentBrief {
    fn line(&self) -> String {
        line(self)
    }
}

impl Summary for DeploymentBrief {
    fn summary(&self) -> String {
        format!("Deployment {}", line(self))
    }
}

impl Summary for DeploymentChange {
    fn summary(&self) -> String {
        let reverted = self
            .reverted_to_version
            .map(|v| format!("; the job reverts to version {v}"))
            .unwrap_or_default();
        format!(
            "Deployment {} updated{reverted}.{}",
            self.deployment_id,
            operation_text(&self.operation, &self.not_followed)
        )
    }
}
