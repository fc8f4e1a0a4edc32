//! Evaluations: the scheduler's decisions about a job, with placement failures explained.

use schemars::JsonSchema;
use serde::Deserialize;

use super::{Ctx, Kind, Line, Summary, ToolDef, define, define_list};
use crate::service::PageRequest;
use crate::service::evaluations::EvaluationSummary;
use crate::service::policy::Access;

pub fn tools() -> Vec<ToolDef> {
    vec![
        define_list(
            "list_evaluations",
            "List a job's evaluations",
            "List the scheduler's evaluations of a job, newest first: status, what triggered \
             each, and in plain sentences why allocations could not be placed. Use it when a job \
             stays pending. Paginated with `cursor`.",
            Access::Read,
            |ctx: Ctx, input: ListEvaluationsInput| async move {
                let namespace = input.namespace.as_deref();
                let page = PageRequest::new(input.cursor, input.limit);
                ctx.service
                    .list_evaluations(&ctx.who, &input.job_id, namespace, &page)
                    .await
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
    /// The Nomad namespace; the gateway's default when left out.
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
    pub limit: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EvaluationRef {
    /// The evaluation's ID.
    #[schemars(example = &"a1f3c2d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d")]
    pub eval_id: String,
    /// The Nomad namespace; the gateway's default when left out.
    #[serde(default)]
    #[schemars(example = &"default")]
    pub namespace: Option<String>,
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

impl Line for EvaluationSummary {
    fn line(&self) -> String {
        line(self)
    }
}

impl Summary for EvaluationSummary {
    fn summary(&self) -> String {
        format!("Evaluation of job '{}': {}", self.job_id, line(self))
    }
}
