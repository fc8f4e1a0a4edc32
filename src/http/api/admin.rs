//! Administration: API keys and the audit log (scope `admin`).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{JsonBody, PathParams, QueryParams};
use super::{ApiResult, Problems};
use crate::http::Caller;
use crate::http::error::ApiError;
use crate::service::admin::{AuditQuery, AuditRecord, CreateKeyRequest, CreatedKey, KeyRow};
use crate::service::{Page, PageRequest};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_api_keys, create_api_key))
        .routes(routes!(revoke_api_key))
        .routes(routes!(search_audit))
}

/// List API keys
///
/// Every key with its prefix, owner, scopes and namespaces; never a secret.
#[utoipa::path(
    get,
    path = "/api/v1/api-keys",
    tag = "admin",
    params(PageRequest),
    responses((status = 200, description = "A page of the keys", body = Page<KeyRow>), Problems)
)]
async fn list_api_keys(
    State(state): State<AppState>,
    Caller(who): Caller,
    QueryParams(page): QueryParams<PageRequest>,
) -> ApiResult<Page<KeyRow>> {
    Ok(Json(state.service.list_api_keys(&who, &page).await?))
}

/// Create an API key
///
/// The answer holds the key itself; it is shown only this once.
#[utoipa::path(
    post,
    path = "/api/v1/api-keys",
    tag = "admin",
    request_body = CreateKeyRequest,
    responses((status = 201, description = "Created; store the key now", body = CreatedKey), Problems)
)]
async fn create_api_key(
    State(state): State<AppState>,
    Caller(who): Caller,
    JsonBody(request): JsonBody<CreateKeyRequest>,
) -> Result<(StatusCode, Json<CreatedKey>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(state.service.create_api_key(&who, request).await?),
    ))
}

/// Revoke an API key
///
/// Takes effect on every replica within a few seconds.
#[utoipa::path(
    delete,
    path = "/api/v1/api-keys/{key_id}",
    tag = "admin",
    params(("key_id" = String, Path, description = "The key's id (a UUID)")),
    responses((status = 204, description = "Revoked"), Problems)
)]
async fn revoke_api_key(
    State(state): State<AppState>,
    Caller(who): Caller,
    PathParams(key_id): PathParams<String>,
) -> Result<StatusCode, ApiError> {
    state.service.revoke_api_key(&who, &key_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Search the audit log
///
/// Newest first: every write attempt and every refused call.
#[utoipa::path(
    get,
    path = "/api/v1/audit",
    tag = "admin",
    params(AuditQuery),
    responses((status = 200, description = "A page of matching events", body = Page<AuditRecord>), Problems)
)]
async fn search_audit(
    State(state): State<AppState>,
    Caller(who): Caller,
    QueryParams(query): QueryParams<AuditQuery>,
) -> ApiResult<Page<AuditRecord>> {
    Ok(Json(state.service.search_audit(&who, query).await?))
}
