//! Resources: read-only views an MCP client can attach as context. The job list, one job
//! (`nomad://jobs/{namespace}/{job_id}`), the nodes, one node and the cluster's status,
//! each read through the same service function as the matching tool.

use rmcp::model::{
    CacheScope, ErrorCode, ErrorData, ProtocolVersion, ReadResourceResult, Resource,
    ResourceContents, ResourceTemplate,
};
use serde::Serialize;

use super::tools::{Ctx, error_text};
use crate::service::ServiceError;
use crate::service::jobs::ListJobsRequest;
use crate::service::watch::ResourceUri;

const JSON: &str = "application/json";

pub fn list() -> Vec<Resource> {
    vec![
        Resource::new("nomad://jobs", "jobs")
            .with_title("Jobs")
            .with_description("The first page of jobs in the gateway's default namespace")
            .with_mime_type(JSON),
        Resource::new("nomad://nodes", "nodes")
            .with_title("Client nodes")
            .with_description("Every client node with status, eligibility and drain state")
            .with_mime_type(JSON),
        Resource::new("nomad://cluster/status", "cluster-status")
            .with_title("Cluster status")
            .with_description("Leader, servers, nodes by status, capacity and jobs by status")
            .with_mime_type(JSON),
    ]
}

pub fn templates() -> Vec<ResourceTemplate> {
    vec![
        ResourceTemplate::new("nomad://jobs/{namespace}", "jobs-in-namespace")
            .with_title("Jobs in a namespace")
            .with_description("The first page of jobs in one namespace (`*` for all)")
            .with_mime_type(JSON),
        ResourceTemplate::new("nomad://jobs/{namespace}/{job_id}", "job")
            .with_title("A job")
            .with_description("One job's status, groups and latest deployment")
            .with_mime_type(JSON),
        ResourceTemplate::new("nomad://nodes/{node_id}", "node")
            .with_title("A client node")
            .with_description("One node's status, eligibility, metadata and attributes")
            .with_mime_type(JSON),
    ]
}

/// Reads one resource; an unknown URI or a missing object is a JSON-RPC "resource not
/// found" error, any other failure an internal error with the service's message.
pub async fn read(ctx: &Ctx, uri: &str) -> Result<ReadResourceResult, ErrorData> {
    let default_namespace = ctx.service.nomad().default_namespace();
    let Some(resource) = ResourceUri::parse(uri, default_namespace) else {
        return Err(unknown(uri));
    };
    let value = match resource {
        ResourceUri::Jobs(namespace) => {
            let request = ListJobsRequest {
                namespace: Some(namespace.unwrap_or_else(|| "*".into())),
                ..Default::default()
            };
            json(ctx.service.list_jobs(&ctx.who, request).await)
        }
        ResourceUri::Job { namespace, job_id } => json(
            ctx.service
                .get_job(&ctx.who, &job_id, Some(&namespace))
                .await,
        ),
        ResourceUri::Nodes => json(
            ctx.service
                .list_nodes(
                    &ctx.who,
                    &crate::service::nodes::NodeFilter::default(),
                    &crate::service::PageRequest::default(),
                )
                .await,
        ),
        ResourceUri::Node(node_id) => json(ctx.service.get_node(&ctx.who, &node_id).await),
        ResourceUri::Cluster => json(ctx.service.get_cluster_status(&ctx.who).await),
    };
    match value {
        // Live Nomad state, seen through the caller's namespaces: stale at once, and for
        // this caller only (SEP-2549).
        Ok(text) => Ok(ReadResourceResult::new(vec![
            ResourceContents::text(text, uri).with_mime_type(JSON),
        ])
        .with_ttl_ms(0)
        .with_cache_scope(CacheScope::Private)),
        Err(ServiceError::NotFound(message)) => Err(ErrorData::resource_not_found(
            message,
            Some(serde_json::json!({ "uri": uri })),
        )),
        Err(error) => Err(ErrorData::internal_error(error_text(&error), None)),
    }
}

fn json<T: Serialize>(result: Result<T, ServiceError>) -> Result<String, ServiceError> {
    result.map(|v| serde_json::to_string_pretty(&v).unwrap_or_default())
}

/// "Resource not found" in the code of the caller's revision: `-32602` (invalid params) from
/// 2026-07-28 on (SEP-2164), `-32002` before, as those revisions say.
pub fn not_found_code(mut error: ErrorData, version: Option<ProtocolVersion>) -> ErrorData {
    let modern = version.is_some_and(|v| v.as_str() >= ProtocolVersion::V_2026_07_28.as_str());
    if modern && error.code == ErrorCode::RESOURCE_NOT_FOUND {
        error.code = ErrorCode::INVALID_PARAMS;
    }
    error
}

fn unknown(uri: &str) -> ErrorData {
    ErrorData::resource_not_found(
        format!(
            "no resource '{uri}'; resources/list and resources/templates/list show what exists"
        ),
        Some(serde_json::json!({ "uri": uri })),
    )
}

#[cfg(test)]
mod code_tests {
    use super::*;

    #[test]
    fn not_found_keeps_the_code_of_the_callers_revision() {
        let code = |v: Option<ProtocolVersion>| not_found_code(unknown("nomad://x"), v).code;
        assert_eq!(
            code(Some(ProtocolVersion::V_2026_07_28)),
            ErrorCode::INVALID_PARAMS
        );
        assert_eq!(
            code(Some(ProtocolVersion::V_2025_06_18)),
            ErrorCode::RESOURCE_NOT_FOUND
        );
        assert_eq!(code(None), ErrorCode::RESOURCE_NOT_FOUND);
        let other = ErrorData::internal_error("boom", None);
        assert_eq!(
            not_found_code(other, Some(ProtocolVersion::V_2026_07_28)).code,
            ErrorCode::INTERNAL_ERROR
        );
    }
}
