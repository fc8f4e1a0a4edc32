//! The authentication layer and the caller extractor: `auth::Authenticator` says who is
//! calling; this puts the `Principal` into the request's extensions, or answers 401 (with
//! the `WWW-Authenticate` challenge), 429, or 503 when the database cannot check the key.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Json, Response};

use super::ApiError;
use crate::auth::{AuthError, Presented};
use crate::service::policy::Principal;
use crate::state::AppState;

/// The middleware: puts the caller's `Principal` into the request or refuses it.
pub async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let client_addr = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string());
    let presented = Presented {
        path: request.uri().path(),
        query: request.uri().query(),
        headers: request.headers(),
        client_addr,
    };
    match state.auth.authenticate(presented).await {
        Ok(None) => next.run(request).await,
        Ok(Some(principal)) => {
            tracing::Span::current().record("caller", principal.subject.as_str());
            request.extensions_mut().insert(principal);
            next.run(request).await
        }
        Err(error) => ApiError::from_auth(error, &state.auth).into_response(),
    }
}

impl ApiError {
    fn from_auth(error: AuthError, auth: &crate::auth::Authenticator) -> ApiError {
        match error {
            AuthError::Refused {
                message,
                invalid_token,
            } => ApiError::Unauthorized {
                message,
                challenge: auth.challenge(invalid_token),
            },
            AuthError::TooManyFailures {
                message,
                retry_after,
            } => ApiError::TooManyRequests {
                message,
                retry_after: retry_after.as_secs().max(1),
            },
            error @ AuthError::Unavailable(_) => ApiError::DatabaseUnavailable(error.to_string()),
        }
    }
}

/// The caller, for REST handlers.
pub struct Caller(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .map(Caller)
            .ok_or(ApiError::Internal)
    }
}

/// `/.well-known/oauth-protected-resource` (RFC 9728).
pub async fn resource_metadata(State(state): State<AppState>) -> Response {
    Json(state.auth.resource_metadata()).into_response()
}
