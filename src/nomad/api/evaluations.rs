//! `/v1/evaluations` and `/v1/evaluation/:eval_id`.

use crate::nomad::client::{Call, NomadClient, segment};
use crate::nomad::error::NomadError;
use crate::nomad::query::{QueryOptions, Response};
use crate::nomad::types::{Allocation, Evaluation};

impl NomadClient {
    pub async fn list_evaluations(
        &self,
        options: &QueryOptions,
    ) -> Result<Response<Vec<Evaluation>>, NomadError> {
        let call = Call {
            operation: "list evaluations",
            template: "/v1/evaluations",
            path: "/v1/evaluations".into(),
        };
        self.get(call, options, &[]).await
    }

    /// One evaluation with its related ones (the blocked follow-up, the previous one).
    pub async fn read_evaluation(
        &self,
        id: &str,
        options: &QueryOptions,
    ) -> Result<Response<Evaluation>, NomadError> {
        let call = Call {
            operation: "read the evaluation",
            template: "/v1/evaluation/{eval_id}",
            path: format!("/v1/evaluation/{}", segment(id)),
        };
        self.get(call, options, &[("related", "true".to_string())])
            .await
    }

    pub async fn evaluation_allocations(
        &self,
        id: &str,
        options: &QueryOptions,
    ) -> Result<Response<Vec<Allocation>>, NomadError> {
        let call = Call {
            operation: "list the evaluation's allocations",
            template: "/v1/evaluation/{eval_id}/allocations",
            path: format!("/v1/evaluation/{}/allocations", segment(id)),
        };
        self.get(call, options, &[]).await
    }
}
