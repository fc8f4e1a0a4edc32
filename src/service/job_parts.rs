//! Reads of a job's parts (`/v1/job/:job_id/allocations`, `/evaluations`,
//! `/deployments`, `/deployment`, `/summary`, `/versions`), judged as Nomad means them.
//!
//! Nomad 1.11.2 (`command/agent/job_endpoint.go`) answers the lists of a job it does not
//! have with `[]` and its latest deployment with `null`, status 200: jobAllocations,
//! jobEvaluations and jobDeployments turn a nil list into an empty one, jobLatestDeployment
//! returns the RPC's `Deployment` as it is, and the RPCs behind them (`nomad/job_endpoint.go`)
//! read by job ID without looking the job up. An existing job without a deployment gets the
//! same `null`. Only the summary ("job not found") and the versions ("job versions not
//! found") answer 404 for a missing job. So:
//!
//! - an empty list, or no deployment, is an answer; whether the job exists is asked of
//!   `/v1/job/:job_id` when the caller must be told (an empty list of a job that is not
//!   there is "job not found", as the job's own read says it);
//! - a 404 from a part is never taken for a missing job by itself: the job is read, and
//!   "job not found" is said only when that read says so; for a job that exists the error
//!   names the part that answered 404 (a proxy or a path rule in front of Nomad, or a
//!   job purged between the two reads).

use super::jobs::not_found;
use super::{Service, ServiceError};
use crate::nomad::NomadError;

impl Service {
    /// A list under the job: the items; when there are none, the job is read so that a job
    /// that does not exist is "job not found" (Nomad answers `[]` for it).
    pub(super) async fn job_list<T>(
        &self,
        job_id: &str,
        namespace: &str,
        part: &str,
        answer: Result<Vec<T>, NomadError>,
    ) -> Result<Vec<T>, ServiceError> {
        match answer {
            Ok(items) if !items.is_empty() => Ok(items),
            Ok(items) => {
                self.read_job(job_id, namespace).await?;
                Ok(items)
            }
            Err(error) => Err(self.job_part_failed(job_id, namespace, part, error).await),
        }
    }

    /// A failed read of one of the job's parts as the caller should see it. A 404 asks the
    /// job itself: "job not found" when it is gone, otherwise an error naming `part`.
    pub(super) async fn job_part_failed(
        &self,
        job_id: &str,
        namespace: &str,
        part: &str,
        error: NomadError,
    ) -> ServiceError {
        if !matches!(error, NomadError::NotFound { .. }) {
            return ServiceError::from_nomad(error, not_found(job_id, namespace));
        }
        match self.read_job(job_id, namespace).await {
            Err(missing) => missing,
            Ok(_) => part_missing(job_id, namespace, part, &error),
        }
    }
}

/// The error for a part that answered 404 although its job exists.
pub(super) fn part_missing(
    job_id: &str,
    namespace: &str,
    part: &str,
    error: &NomadError,
) -> ServiceError {
    ServiceError::NomadFailed(format!(
        "job '{job_id}' exists in namespace '{namespace}', but Nomad answered 404 for its \
         {part} ({error}); a proxy or path rule in front of Nomad may refuse that path, or the \
         job was removed meanwhile"
    ))
}
