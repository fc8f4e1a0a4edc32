//! Deployments: list a job's, read one, promote canaries, fail a rollout.

use schemars::JsonSchema;
use serde::Deserialize;

use super::{Ctx, Kind, Line, Summary, ToolDef, define, define_list};
use crate::mcp::progress::operation_text;
use crate::service::PageRequest;
use crate::service::consequences::Change;
use crate::service::deployments::DeploymentChange;
use crate::service::jobs::DeploymentBrief;
use crate::service::policy::Access;

pub fn tools() -> Vec<ToolDef> {
    vec![
        define_list(
            "list_deployments",
            "List a job's deployments",
            "List a job's deployments (rollouts of a version), newest first, with per group the \
             allocations placed, healthy and unhealthy.",
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
            "Show a deployment: status and description, and per group the desired, placed, healthy \
             and unhealthy allocations. Use it to watch a rollout.",
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
            "Promote a deployment's canaries (all groups, or those named) so the rollout replaces \
             the remaining old allocations. Do it once the canaries are healthy.",
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
            "Mark a running deployment failed to abort a bad rollout: it stops and, with \
             auto-revert, Nomad rolls back to the last stable version.",
            Kind::Destructive { idempotent: true },
            Access::Write,
            |ctx: Ctx, input: FailInput| async move {
                let service = ctx.writing(input.idempotency_key.clone(), None);
                let namespace = input.namespace.as_deref();
                let fail = service.fail_deployment(&ctx.who, &input.deployment_id, namespace);
                ctx.write(&service, input.wait, fail).await
            },
        )
        .asks(|i: FailInput| Change::FailDeployment {
            deployment_id: i.deployment_id,
            namespace: i.namespace,
        }),
        define(
            "pause_deployment",
            "Pause or resume a deployment",
            "Pause a running deployment (nothing more is placed; what runs stays), or resume a \
             paused one with `resume`.",
            Kind::Idempotent,
            Access::Write,
            |ctx: Ctx, input: PauseInput| async move {
                let service = ctx.writing(input.idempotency_key.clone(), None);
                let namespace = input.namespace.as_deref();
                let id = &input.deployment_id;
                let pause = service.pause_deployment(&ctx.who, id, namespace, input.resume);
                ctx.write(&service, input.wait, pause).await
            },
        ),
        define(
            "unblock_deployment",
            "Unblock a deployment",
            "Let a multiregion deployment that waits on its other regions go on (Nomad refuses it \
             for other deployments).",
            Kind::Idempotent,
            Access::Write,
            |ctx: Ctx, input: FailInput| async move {
                let service = ctx.writing(input.idempotency_key.clone(), None);
                let namespace = input.namespace.as_deref();
                let id = &input.deployment_id;
                let unblock = service.unblock_deployment(&ctx.who, id, namespace);
                ctx.write(&service, input.wait, unblock).await
            },
        ),
        define(
            "set_allocation_health",
            "Set allocation health by hand",
            "Mark allocations of a running deployment healthy, or unhealthy (which fails the \
             deployment and, with auto-revert, rolls it back).",
            Kind::Destructive { idempotent: true },
            Access::Write,
            |ctx: Ctx, input: HealthInput| async move {
                let service = ctx.writing(input.idempotency_key.clone(), None);
                let namespace = input.namespace.as_deref();
                let id = &input.deployment_id;
                let set = service.set_allocation_health(
                    &ctx.who,
                    id,
                    namespace,
                    &input.healthy,
                    &input.unhealthy,
                );
                ctx.write(&service, input.wait, set).await
            },
        )
        .asks(|i: HealthInput| Change::SetAllocationHealth {
            deployment_id: i.deployment_id,
            namespace: i.namespace,
            healthy: i.healthy.len(),
            unhealthy: i.unhealthy.len(),
        }),
    ]
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PauseInput {
    /// The deployment's ID.
    pub deployment_id: String,
    /// Resume a paused deployment instead.
    #[serde(default)]
    pub resume: bool,
    #[serde(default)]
    pub namespace: Option<String>,
    /// Seconds to follow a resumed deployment before answering (at most 300).
    #[serde(default)]
    pub wait: Option<u64>,
    /// Retries with this key change nothing again.
    #[serde(default, skip_serializing)]
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HealthInput {
    /// The deployment's ID.
    pub deployment_id: String,
    /// Allocation IDs to mark healthy.
    #[serde(default)]
    pub healthy: Vec<String>,
    /// Allocation IDs to mark unhealthy.
    #[serde(default)]
    pub unhealthy: Vec<String>,
    #[serde(default)]
    pub namespace: Option<String>,
    /// Seconds to follow it before answering (at most 300).
    #[serde(default)]
    pub wait: Option<u64>,
    /// Retries with this key change nothing again.
    #[serde(default, skip_serializing)]
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListDeploymentsInput {
    /// The job's ID.
    pub job_id: String,
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
pub struct DeploymentRef {
    /// The deployment's ID (get_job shows the latest).
    pub deployment_id: String,
    #[serde(default)]
    pub namespace: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PromoteInput {
    /// The deployment's ID.
    pub deployment_id: String,
    #[serde(default)]
    pub namespace: Option<String>,
    /// Promote only these groups' canaries; every group when empty.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Seconds to follow it before answering (at most 300).
    #[serde(default)]
    pub wait: Option<u64>,
    /// Retries with this key change nothing again.
    #[serde(default, skip_serializing)]
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FailInput {
    /// The deployment's ID.
    pub deployment_id: String,
    #[serde(default)]
    pub namespace: Option<String>,
    /// Seconds to follow it before answering (at most 300).
    #[serde(default)]
    pub wait: Option<u64>,
    /// Retries with this key change nothing again.
    #[serde(default, skip_serializing)]
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
