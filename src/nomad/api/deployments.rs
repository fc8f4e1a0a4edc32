//! `/v1/deployments` and `/v1/deployment/...`.

use reqwest::Method;
use serde_json::json;

use crate::nomad::client::{Call, NomadClient, segment};
use crate::nomad::error::NomadError;
use crate::nomad::query::{QueryOptions, Response};
use crate::nomad::types::{Allocation, Deployment, DeploymentWriteResponse};

impl NomadClient {
    pub async fn list_deployments(
        &self,
        options: &QueryOptions,
    ) -> Result<Response<Vec<Deployment>>, NomadError> {
        let call = Call {
            operation: "list deployments",
            template: "/v1/deployments",
            path: "/v1/deployments".into(),
        };
        self.get(call, options, &[]).await
    }

    pub async fn read_deployment(
        &self,
        id: &str,
        options: &QueryOptions,
    ) -> Result<Response<Deployment>, NomadError> {
        let call = Call {
            operation: "read the deployment",
            template: "/v1/deployment/{deployment_id}",
            path: format!("/v1/deployment/{}", segment(id)),
        };
        self.get(call, options, &[]).await
    }

    pub async fn deployment_allocations(
        &self,
        id: &str,
        options: &QueryOptions,
    ) -> Result<Response<Vec<Allocation>>, NomadError> {
        let call = Call {
            operation: "list the deployment's allocations",
            template: "/v1/deployment/allocations/{deployment_id}",
            path: format!("/v1/deployment/allocations/{}", segment(id)),
        };
        self.get(call, options, &[]).await
    }

    /// Promotes canaries: of every group (`groups` empty) or of the named ones.
    pub async fn promote_deployment(
        &self,
        id: &str,
        groups: &[String],
        options: &QueryOptions,
    ) -> Result<DeploymentWriteResponse, NomadError> {
        let body = if groups.is_empty() {
            json!({ "DeploymentID": id, "All": true })
        } else {
            json!({ "DeploymentID": id, "Groups": groups })
        };
        let call = Call {
            operation: "promote the deployment",
            template: "/v1/deployment/promote/{deployment_id}",
            path: format!("/v1/deployment/promote/{}", segment(id)),
        };
        self.write(call, Method::POST, options, &[], Some(&body))
            .await
    }

    /// Marks the deployment failed; with auto-revert Nomad rolls the job back.
    pub async fn fail_deployment(
        &self,
        id: &str,
        options: &QueryOptions,
    ) -> Result<DeploymentWriteResponse, NomadError> {
        let call = Call {
            operation: "fail the deployment",
            template: "/v1/deployment/fail/{deployment_id}",
            path: format!("/v1/deployment/fail/{}", segment(id)),
        };
        self.write(call, Method::POST, options, &[], None::<&()>)
            .await
    }

    /// Pauses (`pause`) or resumes a deployment (`command/agent/deployment_endpoint.go`
    /// deploymentPause: `{DeploymentID, Pause}`).
    pub async fn pause_deployment(
        &self,
        id: &str,
        pause: bool,
        options: &QueryOptions,
    ) -> Result<DeploymentWriteResponse, NomadError> {
        let call = Call {
            operation: if pause {
                "pause the deployment"
            } else {
                "resume the deployment"
            },
            template: "/v1/deployment/pause/{deployment_id}",
            path: format!("/v1/deployment/pause/{}", segment(id)),
        };
        let body = json!({ "DeploymentID": id, "Pause": pause });
        self.write(call, Method::POST, options, &[], Some(&body))
            .await
    }

    /// Unblocks a multiregion deployment waiting on its other regions.
    pub async fn unblock_deployment(
        &self,
        id: &str,
        options: &QueryOptions,
    ) -> Result<DeploymentWriteResponse, NomadError> {
        let call = Call {
            operation: "unblock the deployment",
            template: "/v1/deployment/unblock/{deployment_id}",
            path: format!("/v1/deployment/unblock/{}", segment(id)),
        };
        let body = json!({ "DeploymentID": id });
        self.write(call, Method::POST, options, &[], Some(&body))
            .await
    }

    /// Marks allocations of a deployment healthy or unhealthy by hand
    /// (`deploymentAllocHealth`: `{DeploymentID, HealthyAllocationIDs,
    /// UnhealthyAllocationIDs}`).
    pub async fn set_allocation_health(
        &self,
        id: &str,
        healthy: &[String],
        unhealthy: &[String],
        options: &QueryOptions,
    ) -> Result<DeploymentWriteResponse, NomadError> {
        let call = Call {
            operation: "set the health of the deployment's allocations",
            template: "/v1/deployment/allocation-health/{deployment_id}",
            path: format!("/v1/deployment/allocation-health/{}", segment(id)),
        };
        let body = json!({
            "DeploymentID": id,
            "HealthyAllocationIDs": healthy,
            "UnhealthyAllocationIDs": unhealthy,
        });
        self.write(call, Method::POST, options, &[], Some(&body))
            .await
    }
}
