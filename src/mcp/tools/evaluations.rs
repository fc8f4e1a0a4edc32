//! Evaluations: the scheduler's decisions about a job, with placement failures explained.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Ctx, Kind, Summary, ToolDef, define};
use crate::service::evaluations::EvaluationSummary;
use crate::service::policy::Access;

pub fn tools() -> Vec<ToolDef> {
    vec![
        define(
            "list_evaluations",
            "List a job's evaluations",
            "List the scheduler's evaluations of a job, newest first: status, what triggered \
             each, and in plain sentences why allocations could not be placed. Use it when a job \
             stays pending. Paginated with `cursor`.",
            Kind::Read,
            Access::Read,
            |ctx: Ctx, input: ListEvaluationsInput| async move {
                let namespace = input.namespace.as_deref();
                let evaluations = match ctx
                    .service
                    .list_evaluations(&ctx.who, &input.job_id, namespace)
                    .await
                {
                    Ok(e) => e,
                    Err(e) => return Err(ctx.explain_job_error(e, &input.job_id, namespace).await),
                };
                let page = super::page(evaluations, input.cursor.as_deref(), input.limit)?;
                Ok(EvaluationList {
                    job_id: input.job_id,
                    evaluations: page.items,
                    total: page.total,
                    next_cursor: page.next_cursor,
                })
            },
        ),
        define(
            "get_evaluation",
            "Get an evaluation",
            "Show one evaluation by ID (write tools return one): its status, the deployment it \
             started, queued allocations and why any could not be placed.",
            Kind::Read,
            Access::Read,
            |ctx: Ctx, input: EvaluationRef| async move {
                ctx.service
                    .get_evaluation(&ctx.who, &input.eval_id, input.namespace.as_deref())
                    .await
            },
        ),
    ]
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListEvaluationsInput {
    /// The job's ID.
    #[schemars(example = &"web")]
    pub job_id: String,
    /// The Nomad namespace; the gateway's default namespace when left out.
    #[serde(default)]
    #[schemars(example = &"default")]
    pub namespace: Option<String>,
    /// The `next_cursor` of the previous page; leave out for the first page.
    #[serde(default)]
    #[schemars(example = &"50")]
    pub cursor: Option<String>,
    /// Evaluations per page (default 50, at most 200).
    #[serde(default)]
    #[schemars(example = 10, range(min = 1, max = 200))]
    pub limit: Option<usize>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EvaluationRef {
    /// The evaluation's ID.
    #[schemars(example = &"a1f3c2d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d")]
    pub eval_id: String,
    /// The Nomad namespace; the gateway's default namespace when left out.
    #[serde(default)]
    #[schemars(example = &"default")]
    pub namespace: Option<String>,
}

/// One page of a job's evaluations, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EvaluationList {
    pub job_id: String,
    pub evaluations: Vec<EvaluationSummary>,
    /// How many evaluations there are in all.
    pub total: usize,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

fn line(e: &EvaluationSummary) -> String {
    let failures: Vec<String> = e.placement_failures.values().flatten().cloned().collect();
    let failures = if failures.is_empty() {
        String::new()
    } else {
        format!("; not placed: {}", failures.join("; "))
    };
    format!(
        "{} {} (triggered by {}){failures}",
        e.id, e.status, e.triggered_by
    )
}

impl Summary for EvaluationList {
    fn summary(&self) -> String {
        if self.evaluations.is_empty() {
            return format!("Job '{}' has no evaluations.", self.job_id);
        }
        self.evaluations
            .iter()
            .map(line)
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Summary for EvaluationSummary {
    fn summary(&self) -> String {
        format!("Evaluation of job '{}': {}", self.job_id, line(self))
    }
}
