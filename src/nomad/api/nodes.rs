//! `/v1/nodes`, `/v1/node/:node_id/...`, node pools and dynamic node metadata.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::nomad::client::{Call, NomadClient, segment};
use crate::nomad::error::NomadError;
use crate::nomad::query::{QueryOptions, Response};
use crate::nomad::types::{Allocation, Node, NodeListStub, NodePool, NodeWriteResponse};

/// How to drain a node (`api.DrainSpec`).
#[derive(Debug, Clone, Copy)]
pub struct DrainSpec {
    /// Allocations still running after this are stopped (zero: at once); `None` waits
    /// forever.
    pub deadline: Option<Duration>,
    pub ignore_system_jobs: bool,
}

fn node_call(operation: &'static str, template: &'static str, id: &str, suffix: &str) -> Call {
    Call {
        operation,
        template,
        path: format!("/v1/node/{}{suffix}", segment(id)),
    }
}

impl NomadClient {
    /// Nodes; `resources` adds each node's total and reserved resources.
    pub async fn list_nodes(
        &self,
        resources: bool,
        options: &QueryOptions,
    ) -> Result<Response<Vec<NodeListStub>>, NomadError> {
        let call = Call {
            operation: "list nodes",
            template: "/v1/nodes",
            path: "/v1/nodes".into(),
        };
        self.get(call, options, &[("resources", resources.to_string())])
            .await
    }

    pub async fn read_node(
        &self,
        id: &str,
        options: &QueryOptions,
    ) -> Result<Response<Node>, NomadError> {
        self.get(
            node_call("read the node", "/v1/node/{node_id}", id, ""),
            options,
            &[],
        )
        .await
    }

    pub async fn node_allocations(
        &self,
        id: &str,
        options: &QueryOptions,
    ) -> Result<Response<Vec<Allocation>>, NomadError> {
        let call = node_call(
            "list the node's allocations",
            "/v1/node/{node_id}/allocations",
            id,
            "/allocations",
        );
        self.get(call, options, &[]).await
    }

    /// Starts a drain, or cancels one with `spec = None`.
    pub async fn drain_node(
        &self,
        id: &str,
        spec: Option<DrainSpec>,
        mark_eligible: bool,
        message: &str,
    ) -> Result<NodeWriteResponse, NomadError> {
        let drain = spec.map(|s| {
            // Nanoseconds; zero means no deadline and a negative one a force drain
            // (`DrainStrategy.DeadlineTime` in `nomad/structs/structs.go`; `nomad node
            // drain -force` sends -1s).
            let deadline = match s.deadline {
                None => 0,
                Some(d) if d.is_zero() => -1_000_000_000,
                Some(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
            };
            json!({ "Deadline": deadline, "IgnoreSystemJobs": s.ignore_system_jobs })
        });
        let body = json!({
            "NodeID": id,
            "DrainSpec": drain.unwrap_or(Value::Null),
            "MarkEligible": mark_eligible,
            "Meta": { "message": message },
        });
        let call = node_call("drain the node", "/v1/node/{node_id}/drain", id, "/drain");
        self.write(
            call,
            Method::POST,
            &QueryOptions::default(),
            &[],
            Some(&body),
        )
        .await
    }

    /// Marks the node eligible or ineligible for new placements (uncordon / cordon).
    pub async fn set_node_eligibility(
        &self,
        id: &str,
        eligible: bool,
    ) -> Result<NodeWriteResponse, NomadError> {
        let eligibility = if eligible { "eligible" } else { "ineligible" };
        let body = json!({ "NodeID": id, "Eligibility": eligibility });
        let call = node_call(
            "change the node's eligibility",
            "/v1/node/{node_id}/eligibility",
            id,
            "/eligibility",
        );
        self.write(
            call,
            Method::POST,
            &QueryOptions::default(),
            &[],
            Some(&body),
        )
        .await
    }

    /// Sets dynamic node metadata; a `None` value removes the key.
    pub async fn set_node_meta(
        &self,
        id: &str,
        meta: &BTreeMap<String, Option<String>>,
    ) -> Result<Value, NomadError> {
        let body = json!({ "NodeID": id, "Meta": meta });
        let call = Call {
            operation: "set the node's metadata",
            template: "/v1/client/metadata",
            path: "/v1/client/metadata".into(),
        };
        let extra = [("node_id", id.to_string())];
        self.write(
            call,
            Method::POST,
            &QueryOptions::default(),
            &extra,
            Some(&body),
        )
        .await
    }

    /// The node pools (the built-in `all` and `default` included).
    pub async fn list_node_pools(&self) -> Result<Vec<NodePool>, NomadError> {
        let call = Call {
            operation: "list node pools",
            template: "/v1/node/pools",
            path: "/v1/node/pools".into(),
        };
        Ok(self.get(call, &QueryOptions::default(), &[]).await?.value)
    }

    /// Removes a node from the servers' state at once (`nodePurge`): its allocations are
    /// lost and rescheduled.
    pub async fn purge_node(&self, id: &str) -> Result<NodeWriteResponse, NomadError> {
        let call = node_call("purge the node", "/v1/node/{node_id}/purge", id, "/purge");
        self.write(
            call,
            Method::POST,
            &QueryOptions::default(),
            &[],
            None::<&()>,
        )
        .await
    }
}
