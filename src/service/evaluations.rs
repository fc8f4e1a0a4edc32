//! Evaluations: the scheduler's decisions, with placement failures in plain words.

use crate::service::policy::Access;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Page, PageRequest, Principal, Service, ServiceError, timestamp};
use crate::nomad::types::Evaluation;
use crate::operations::placement::{GroupAsk, asks_of, explain};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct EvaluationSummary {
    pub id: String,
    pub job_id: String,
    pub namespace: String,
    pub status: String,
    pub status_description: String,
    pub triggered_by: String,
    /// Set when placements failed: the blocked evaluation that waits for room.
    pub blocked_eval: Option<String>,
    pub deployment_id: Option<String>,
    /// Per task group, why allocations could not be placed.
    pub placement_failures: BTreeMap<String, Vec<String>>,
    /// Allocations still waiting per group.
    pub queued_allocations: BTreeMap<String, u64>,
    pub created_at: Option<String>,
}

fn non_empty(text: &str) -> Option<String> {
    Some(text.to_string()).filter(|t| !t.is_empty())
}

pub fn summarize(eval: &Evaluation, asks: &BTreeMap<String, GroupAsk>) -> EvaluationSummary {
    EvaluationSummary {
        id: eval.id.clone(),
        job_id: eval.job_id.clone(),
        namespace: eval.namespace.clone(),
        status: eval.status.clone(),
        status_description: eval.status_description.clone(),
        triggered_by: eval.triggered_by.clone(),
        blocked_eval: non_empty(&eval.blocked_eval),
        deployment_id: non_empty(&eval.deployment_id),
        placement_failures: eval
            .failed_tg_allocs
            .iter()
            .map(|(group, metric)| {
                (
                    group.clone(),
                    explain(group, metric, asks.get(group).copied().unwrap_or_default()),
                )
            })
            .collect(),
        queued_allocations: eval
            .queued_allocations
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(g, n)| (g.clone(), *n))
            .collect(),
        created_at: timestamp(eval.create_time),
    }
}

impl Service {
    /// What each task group of a job asks for, to put numbers in placement sentences.
    pub(super) async fn group_asks(
        &self,
        job_id: &str,
        namespace: &str,
    ) -> BTreeMap<String, GroupAsk> {
        match self.read_job(job_id, namespace).await {
            Ok(job) => asks_of(&job),
            Err(_) => BTreeMap::new(),
        }
    }

    /// A job's evaluations, newest first.
    pub async fn list_evaluations(
        &self,
        who: &Principal,
        job_id: &str,
        namespace: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<EvaluationSummary>, ServiceError> {
        self.with_job_hint(job_id, namespace, async move {
            self.allow(
                who,
                Access::Read,
                Some(&self.namespace(namespace)),
                "list_evaluations",
            )
            .await?;
            page.of(self
                .job_evaluations(job_id, &self.namespace(namespace))
                .await?)
        })
        .await
    }

    /// A job's evaluations, newest first, for a caller already allowed in `namespace`.
    pub(super) async fn job_evaluations(
        &self,
        job_id: &str,
        namespace: &str,
    ) -> Result<Vec<EvaluationSummary>, ServiceError> {
        let answer = self
            .nomad
            .job_evaluations(job_id, &self.in_namespace(namespace))
            .await
            .map(|r| r.value);
        let mut evals = self
            .job_list(job_id, namespace, "evaluations", answer)
            .await?;
        evals.sort_by_key(|e| std::cmp::Reverse((e.create_index, e.create_time)));
        let asks = self.group_asks(job_id, namespace).await;
        Ok(evals.iter().map(|e| summarize(e, &asks)).collect())
    }

    pub async fn get_evaluation(
        &self,
        who: &Principal,
        eval_id: &str,
        namespace: Option<&str>,
    ) -> Result<EvaluationSummary, ServiceError> {
        self.allow(
            who,
            Access::Read,
            Some(&self.namespace(namespace)),
            "get_evaluation",
        )
        .await?;
        let namespace = self.namespace(namespace);
        let eval = self
            .nomad
            .read_evaluation(eval_id, &self.in_namespace(&namespace))
            .await
            .map_err(|e| {
                ServiceError::from_nomad(e, || format!("evaluation '{eval_id}' not found"))
            })?
            .value;
        if eval.namespace != namespace {
            return Err(ServiceError::NotFound(format!(
                "evaluation '{eval_id}' not found in namespace '{namespace}'"
            )));
        }
        let asks = self.group_asks(&eval.job_id, &eval.namespace).await;
        Ok(summarize(&eval, &asks))
    }
}
