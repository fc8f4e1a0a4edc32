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
            "List a job's evaluations, newest first: status, trigger, and in words why allocations \
             could not be placed. Use it when a job stays pending.",
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
            "Show an evaluation (write tools return one): status, the deployment it started, \
             queued allocations and why any could not be placed.",
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
pub struct EvaluationRef {
    /// The evaluation's ID.
    pub eval_id: String,
    #[serde(default)]
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
