//! Cluster-wide reads: leader, peers, agent, members, namespaces, regions.

use std::time::Duration;

use crate::nomad::client::{Call, NomadClient};
use crate::nomad::error::NomadError;
use crate::nomad::query::{QueryOptions, Response};
use crate::nomad::types::{AgentMembers, AgentSelf, Namespace};

fn call(operation: &'static str, path: &'static str) -> Call {
    Call {
        operation,
        template: path,
        path: path.to_string(),
    }
}

impl NomadClient {
    /// `GET /v1/status/leader`: the RPC address of the leader. `timeout` bounds the whole
    /// call, retries included, so readiness answers promptly.
    pub async fn leader(&self, timeout: Duration) -> Result<String, NomadError> {
        let options = QueryOptions::default();
        let work = self.get::<String>(
            call("read the cluster leader", "/v1/status/leader"),
            &options,
            &[],
        );
        match tokio::time::timeout(timeout, work).await {
            Ok(result) => result.map(|r| r.value),
            Err(_) => Err(NomadError::Unavailable {
                operation: "read the cluster leader",
                addr: self.addr().to_string(),
                reason: format!("no answer within {} ms", timeout.as_millis()),
            }),
        }
    }

    pub async fn peers(&self) -> Result<Vec<String>, NomadError> {
        let response = self
            .get(
                call("list the Raft peers", "/v1/status/peers"),
                &QueryOptions::default(),
                &[],
            )
            .await?;
        Ok(response.value)
    }

    pub async fn agent_self(&self) -> Result<AgentSelf, NomadError> {
        let response = self
            .get(
                call("read the agent", "/v1/agent/self"),
                &QueryOptions::default(),
                &[],
            )
            .await?;
        Ok(response.value)
    }

    pub async fn agent_members(&self) -> Result<AgentMembers, NomadError> {
        let response = self
            .get(
                call("list the server members", "/v1/agent/members"),
                &QueryOptions::default(),
                &[],
            )
            .await?;
        Ok(response.value)
    }

    pub async fn regions(&self) -> Result<Vec<String>, NomadError> {
        let response = self
            .get(
                call("list regions", "/v1/regions"),
                &QueryOptions::default(),
                &[],
            )
            .await?;
        Ok(response.value)
    }

    pub async fn list_namespaces(
        &self,
        options: &QueryOptions,
    ) -> Result<Response<Vec<Namespace>>, NomadError> {
        self.get(call("list namespaces", "/v1/namespaces"), options, &[])
            .await
    }
}
