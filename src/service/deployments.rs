//! Deployments: list per job, read, promote canaries, fail, pause and resume, unblock, and
//! set allocation health by hand.

use super::guard::WriteCall;
use crate::service::policy::Access;
use serde::{Deserialize, Serialize};

use super::jobs::DeploymentBrief;
use std::future::Future;

use super::jobs::invalid;
use super::{Page, PageRequest, Principal, Service, ServiceError};
use crate::nomad::types::DeploymentWriteResponse;
use crate::nomad::{NomadError, QueryOptions};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct DeploymentChange {
    pub deployment_id: String,
    pub eval_id: Option<String>,
    /// Set when failing the deployment rolled the job back to this version.
    pub reverted_to_version: Option<u64>,
    /// The operation that follows this change (`GET /api/v1/operations/{id}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation_id: Option<String>,
    /// With `wait`: the operation as it stood when the wait ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<crate::operations::Operation>,
    /// With `wait`, when the write could not be followed: why (the gateway\'s database
    /// was unavailable, so the write has no tracked operation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_followed: Option<String>,
    /// For a change that is complete once Nomad answered (a pause): what it did, so its
    /// operation ends at once instead of following the deployment.
    #[serde(skip)]
    pub done: Option<String>,
}

fn change(id: &str, answer: DeploymentWriteResponse) -> DeploymentChange {
    DeploymentChange {
        deployment_id: id.to_string(),
        eval_id: Some(answer.eval_id).filter(|e| !e.is_empty()),
        reverted_to_version: answer.reverted_job_version,
        operation_id: None,
        operation: None,
        not_followed: None,
        done: None,
    }
}

fn deployment_not_found(id: &str) -> impl FnOnce() -> String {
    let message = format!("deployment '{id}' not found");
    move || message
}

impl Service {
    pub async fn list_deployments(
        &self,
        who: &Principal,
        job_id: &str,
        namespace: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<DeploymentBrief>, ServiceError> {
        self.with_job_hint(job_id, namespace, async move {
            self.allow(
                who,
                Access::Read,
                Some(&self.namespace(namespace)),
                "list_deployments",
            )
            .await?;
            let namespace = self.namespace(namespace);
            let answer = self
                .nomad
                .job_deployments(job_id, &self.in_namespace(&namespace))
                .await
                .map(|r| r.value);
            let mut deployments = self
                .job_list(job_id, &namespace, "deployments", answer)
                .await?;
            deployments.sort_by_key(|d| std::cmp::Reverse(d.create_index));
            page.of(deployments.into_iter().map(DeploymentBrief::from).collect())
        })
        .await
    }

    pub async fn get_deployment(
        &self,
        who: &Principal,
        id: &str,
        namespace: Option<&str>,
    ) -> Result<DeploymentBrief, ServiceError> {
        self.allow(
            who,
            Access::Read,
            Some(&self.namespace(namespace)),
            "get_deployment",
        )
        .await?;
        let namespace = self.namespace(namespace);
        Ok(self.read_deployment(id, &namespace).await?.into())
    }

    /// A deployment, only when it belongs to `namespace` (Nomad finds ids in any).
    pub(super) async fn read_deployment(
        &self,
        id: &str,
        namespace: &str,
    ) -> Result<crate::nomad::types::Deployment, ServiceError> {
        let deployment = self
            .nomad
            .read_deployment(id, &self.in_namespace(namespace))
            .await
            .map_err(|e| ServiceError::from_nomad(e, deployment_not_found(id)))?
            .value;
        if deployment.namespace != namespace {
            return Err(ServiceError::NotFound(deployment_not_found(id)()));
        }
        Ok(deployment)
    }

    /// One write to a deployment, audited: `checked` (the request's own validation) first,
    /// then the deployment is read (so one of another namespace is "not found"), then
    /// `send` asks Nomad. `done` says what the change did when it is complete once Nomad
    /// answered, so its operation ends at once.
    #[allow(clippy::too_many_arguments)]
    async fn deployment_write<F, Fut>(
        &self,
        who: &Principal,
        operation: &'static str,
        id: &str,
        namespace: &str,
        arguments: serde_json::Value,
        checked: Result<(), ServiceError>,
        done: Option<String>,
        send: F,
    ) -> Result<DeploymentChange, ServiceError>
    where
        F: FnOnce(QueryOptions) -> Fut,
        Fut: Future<Output = Result<DeploymentWriteResponse, NomadError>>,
    {
        let call = WriteCall::in_namespace(operation, namespace, arguments);
        self.audited(who, call, async {
            checked?;
            self.read_deployment(id, namespace).await?;
            let answer = send(self.in_namespace(namespace))
                .await
                .map_err(|e| ServiceError::from_nomad(e, deployment_not_found(id)))?;
            Ok(DeploymentChange {
                done,
                ..change(id, answer)
            })
        })
        .await
    }

    /// Promotes the canaries of every group, or of the named groups.
    pub async fn promote_deployment(
        &self,
        who: &Principal,
        id: &str,
        namespace: Option<&str>,
        groups: &[String],
    ) -> Result<DeploymentChange, ServiceError> {
        let namespace = self.namespace(namespace);
        let arguments = serde_json::json!({"deployment_id": id, "groups": groups});
        self.deployment_write(
            who,
            "promote_deployment",
            id,
            &namespace,
            arguments,
            Ok(()),
            None,
            |o| async move { self.nomad.promote_deployment(id, groups, &o).await },
        )
        .await
    }

    pub async fn fail_deployment(
        &self,
        who: &Principal,
        id: &str,
        namespace: Option<&str>,
    ) -> Result<DeploymentChange, ServiceError> {
        let namespace = self.namespace(namespace);
        let arguments = serde_json::json!({"deployment_id": id});
        self.deployment_write(
            who,
            "fail_deployment",
            id,
            &namespace,
            arguments,
            Ok(()),
            None,
            |o| async move { self.nomad.fail_deployment(id, &o).await },
        )
        .await
    }

    /// Pauses a running deployment (no more placements until it resumes), or resumes a
    /// paused one (`resume`).
    pub async fn pause_deployment(
        &self,
        who: &Principal,
        id: &str,
        namespace: Option<&str>,
        resume: bool,
    ) -> Result<DeploymentChange, ServiceError> {
        let namespace = self.namespace(namespace);
        let (operation, done) = if resume {
            ("resume_deployment", None)
        } else {
            ("pause_deployment", Some(format!("deployment {id} paused")))
        };
        let arguments = serde_json::json!({"deployment_id": id});
        self.deployment_write(
            who,
            operation,
            id,
            &namespace,
            arguments,
            Ok(()),
            done,
            |o| async move { self.nomad.pause_deployment(id, !resume, &o).await },
        )
        .await
    }

    /// Lets a multiregion deployment that waits on its other regions go on.
    pub async fn unblock_deployment(
        &self,
        who: &Principal,
        id: &str,
        namespace: Option<&str>,
    ) -> Result<DeploymentChange, ServiceError> {
        let namespace = self.namespace(namespace);
        let arguments = serde_json::json!({"deployment_id": id});
        self.deployment_write(
            who,
            "unblock_deployment",
            id,
            &namespace,
            arguments,
            Ok(()),
            None,
            |o| async move { self.nomad.unblock_deployment(id, &o).await },
        )
        .await
    }

    /// Marks allocations of a deployment healthy or unhealthy by hand, e.g. when their
    /// checks cannot pass yet; an unhealthy one fails the deployment as a failed check
    /// would (and rolls back with auto-revert).
    pub async fn set_allocation_health(
        &self,
        who: &Principal,
        id: &str,
        namespace: Option<&str>,
        healthy: &[String],
        unhealthy: &[String],
    ) -> Result<DeploymentChange, ServiceError> {
        let namespace = self.namespace(namespace);
        let arguments =
            serde_json::json!({"deployment_id": id, "healthy": healthy, "unhealthy": unhealthy});
        let checked = if healthy.is_empty() && unhealthy.is_empty() {
            Err(invalid(
                "healthy",
                "name at least one allocation in healthy or unhealthy",
            ))
        } else if let Some(both) = healthy.iter().find(|a| unhealthy.contains(a)) {
            Err(invalid(
                "unhealthy",
                format!("allocation '{both}' is in both healthy and unhealthy"),
            ))
        } else {
            Ok(())
        };
        self.deployment_write(
            who,
            "set_allocation_health",
            id,
            &namespace,
            arguments,
            checked,
            None,
            |o| async move {
                self.nomad
                    .set_allocation_health(id, healthy, unhealthy, &o)
                    .await
            },
        )
        .await
    }
}
