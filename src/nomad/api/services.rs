//! `/v1/services`, `/v1/service/:service_name` and `/v1/allocation/:alloc_id/checks`.

use crate::nomad::client::{Call, NomadClient, segment};
use crate::nomad::error::NomadError;
use crate::nomad::query::{QueryOptions, Response};
use crate::nomad::types::{AllocCheckResults, ServiceListStub, ServiceRegistration};

impl NomadClient {
    /// The services of a namespace (`*` for all the token may read): names with tags.
    /// A namespace without services answers `[]`.
    pub async fn list_services(
        &self,
        options: &QueryOptions,
    ) -> Result<Response<Vec<ServiceListStub>>, NomadError> {
        let call = Call {
            operation: "list services",
            template: "/v1/services",
            path: "/v1/services".into(),
        };
        self.get(call, options, &[]).await
    }

    /// The registered instances of one service in a namespace. Nomad answers `[]`, not
    /// 404, for a name nothing registered (`command/agent/service_registration_endpoint.go`).
    pub async fn read_service(
        &self,
        name: &str,
        options: &QueryOptions,
    ) -> Result<Response<Vec<ServiceRegistration>>, NomadError> {
        let call = Call {
            operation: "read the service",
            template: "/v1/service/{service_name}",
            path: format!("/v1/service/{}", segment(name)),
        };
        self.get(call, options, &[]).await
    }

    /// The latest results of an allocation's Nomad service checks, asked of its client
    /// through the servers; `null` (no results) reads as empty. 404 for an unknown
    /// allocation or a client the servers cannot reach.
    pub async fn allocation_checks(
        &self,
        alloc_id: &str,
        options: &QueryOptions,
    ) -> Result<AllocCheckResults, NomadError> {
        let call = Call {
            operation: "read the allocation's checks",
            template: "/v1/allocation/{alloc_id}/checks",
            path: format!("/v1/allocation/{}/checks", segment(alloc_id)),
        };
        let answer: Response<Option<AllocCheckResults>> = self.get(call, options, &[]).await?;
        Ok(answer.value.unwrap_or_default())
    }
}
