//! `POST /v1/search`, `GET /v1/acl/token/self`, `/v1/volumes` with `/v1/volume/csi/:id`
//! and `/v1/volume/host/:id`, `/v1/scaling/policies` with `/v1/scaling/policy/:id`.

use reqwest::Method;

use crate::nomad::client::{Call, NomadClient, segment};
use crate::nomad::error::NomadError;
use crate::nomad::query::{QueryOptions, Response};
use crate::nomad::types::{
    AclToken, CsiVolume, CsiVolumeStub, HostVolume, HostVolumeStub, ScalingPolicy,
    ScalingPolicyStub, SearchRequest, SearchResponse,
};

impl NomadClient {
    /// IDs that start with `prefix` in one context (or `all`), in the namespace of
    /// `options` (`*`: every namespace the token may read). A read sent as a POST
    /// (`command/agent/search_endpoint.go`); Nomad keeps 20 per context.
    pub async fn search(
        &self,
        request: &SearchRequest,
        options: &QueryOptions,
    ) -> Result<SearchResponse, NomadError> {
        let call = Call {
            operation: "search by prefix",
            template: "/v1/search",
            path: "/v1/search".into(),
        };
        self.write(call, Method::POST, options, &[], Some(request))
            .await
    }

    /// The token the gateway itself sends Nomad, as Nomad knows it.
    pub async fn token_self(&self) -> Result<AclToken, NomadError> {
        let call = Call {
            operation: "read the gateway's own ACL token",
            template: "/v1/acl/token/self",
            path: "/v1/acl/token/self".into(),
        };
        Ok(self.get(call, &QueryOptions::default(), &[]).await?.value)
    }

    /// The CSI volumes of a namespace (`*`: all the token may list).
    pub async fn list_csi_volumes(
        &self,
        options: &QueryOptions,
    ) -> Result<Response<Vec<CsiVolumeStub>>, NomadError> {
        let call = Call {
            operation: "list CSI volumes",
            template: "/v1/volumes",
            path: "/v1/volumes".into(),
        };
        self.get(call, options, &[("type", "csi".into())]).await
    }

    /// The dynamic host volumes of a namespace (`*`: all the token may list).
    pub async fn list_host_volumes(
        &self,
        options: &QueryOptions,
    ) -> Result<Response<Vec<HostVolumeStub>>, NomadError> {
        let call = Call {
            operation: "list host volumes",
            template: "/v1/volumes",
            path: "/v1/volumes".into(),
        };
        self.get(call, options, &[("type", "host".into())]).await
    }

    pub async fn read_csi_volume(
        &self,
        id: &str,
        options: &QueryOptions,
    ) -> Result<CsiVolume, NomadError> {
        let call = Call {
            operation: "read the CSI volume",
            template: "/v1/volume/csi/{volume_id}",
            path: format!("/v1/volume/csi/{}", segment(id)),
        };
        Ok(self.get(call, options, &[]).await?.value)
    }

    pub async fn read_host_volume(
        &self,
        id: &str,
        options: &QueryOptions,
    ) -> Result<HostVolume, NomadError> {
        let call = Call {
            operation: "read the host volume",
            template: "/v1/volume/host/{volume_id}",
            path: format!("/v1/volume/host/{}", segment(id)),
        };
        Ok(self.get(call, options, &[]).await?.value)
    }

    /// The scaling policies of a namespace, of one job when `job` is given.
    pub async fn list_scaling_policies(
        &self,
        job: Option<&str>,
        options: &QueryOptions,
    ) -> Result<Response<Vec<ScalingPolicyStub>>, NomadError> {
        let call = Call {
            operation: "list scaling policies",
            template: "/v1/scaling/policies",
            path: "/v1/scaling/policies".into(),
        };
        let extra: Vec<(&'static str, String)> = job
            .map(|j| vec![("job", j.to_string())])
            .unwrap_or_default();
        self.get(call, options, &extra).await
    }

    pub async fn read_scaling_policy(
        &self,
        id: &str,
        options: &QueryOptions,
    ) -> Result<ScalingPolicy, NomadError> {
        let call = Call {
            operation: "read the scaling policy",
            template: "/v1/scaling/policy/{policy_id}",
            path: format!("/v1/scaling/policy/{}", segment(id)),
        };
        Ok(self.get(call, options, &[]).await?.value)
    }
}
