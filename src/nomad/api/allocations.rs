//! `/v1/allocations`, `/v1/allocation/:alloc_id`, and the client allocation restart, signal
//! and resource usage.

use reqwest::Method;
use serde::Deserialize;
use serde_json::json;

use crate::nomad::client::{Call, NomadClient, segment};
use crate::nomad::error::NomadError;
use crate::nomad::query::{QueryOptions, Response};
use crate::nomad::types::{AllocResourceUsage, Allocation};

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct AllocStopResponse {
    #[serde(rename = "EvalID")]
    pub eval_id: String,
    pub index: u64,
}

impl NomadClient {
    pub async fn list_allocations(
        &self,
        options: &QueryOptions,
    ) -> Result<Response<Vec<Allocation>>, NomadError> {
        let call = Call {
            operation: "list allocations",
            template: "/v1/allocations",
            path: "/v1/allocations".into(),
        };
        self.get(call, options, &[]).await
    }

    pub async fn read_allocation(
        &self,
        id: &str,
        options: &QueryOptions,
    ) -> Result<Response<Allocation>, NomadError> {
        let call = Call {
            operation: "read the allocation",
            template: "/v1/allocation/{alloc_id}",
            path: format!("/v1/allocation/{}", segment(id)),
        };
        self.get(call, options, &[]).await
    }

    /// Stops the allocation; Nomad replaces it if the job still wants it.
    pub async fn stop_allocation(
        &self,
        id: &str,
        options: &QueryOptions,
    ) -> Result<AllocStopResponse, NomadError> {
        let call = Call {
            operation: "stop the allocation",
            template: "/v1/allocation/{alloc_id}/stop",
            path: format!("/v1/allocation/{}/stop", segment(id)),
        };
        self.write(call, Method::POST, options, &[], None::<&()>)
            .await
    }

    /// Restarts one task, or every task with `task = None`, in place on its node.
    pub async fn restart_allocation(
        &self,
        id: &str,
        task: Option<&str>,
        options: &QueryOptions,
    ) -> Result<(), NomadError> {
        let body = match task {
            Some(task) => json!({ "TaskName": task }),
            None => json!({ "AllTasks": true }),
        };
        let call = Call {
            operation: "restart the allocation",
            template: "/v1/client/allocation/{alloc_id}/restart",
            path: format!("/v1/client/allocation/{}/restart", segment(id)),
        };
        let _: serde_json::Value = self
            .write(call, Method::POST, options, &[], Some(&body))
            .await?;
        Ok(())
    }

    /// What the allocation's tasks use now, asked of its client through the servers.
    pub async fn allocation_stats(
        &self,
        alloc_id: &str,
        options: &QueryOptions,
    ) -> Result<AllocResourceUsage, NomadError> {
        let call = Call {
            operation: "read the allocation's resource usage",
            template: "/v1/client/allocation/{alloc_id}/stats",
            path: format!("/v1/client/allocation/{}/stats", segment(alloc_id)),
        };
        Ok(self.get(call, options, &[]).await?.value)
    }

    /// Sends a signal to one task of the allocation, or to all of them (`task` empty).
    pub async fn signal_allocation(
        &self,
        alloc_id: &str,
        signal: &str,
        task: Option<&str>,
        options: &QueryOptions,
    ) -> Result<(), NomadError> {
        let call = Call {
            operation: "signal the allocation",
            template: "/v1/client/allocation/{alloc_id}/signal",
            path: format!("/v1/client/allocation/{}/signal", segment(alloc_id)),
        };
        let body = serde_json::json!({ "Signal": signal, "Task": task.unwrap_or_default() });
        let _: serde::de::IgnoredAny = self
            .write(call, Method::POST, options, &[], Some(&body))
            .await?;
        Ok(())
    }
}
