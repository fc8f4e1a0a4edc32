//! The HTTP transport: its routes (health, metrics, the REST API with its OpenAPI
//! document), the layers every request runs through, and the problem documents.

mod api;
mod authn;
pub mod error;
mod health;
mod limits;
mod metrics;
mod oauth;
mod observe;
pub mod origin;
mod page;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{Method, Uri};
use axum::routing::get;
use utoipa_swagger_ui::SwaggerUi;

pub use authn::Caller;
pub use error::{ApiError, Problem};
pub use metrics::recorder as metrics_recorder;
pub use observe::REQUEST_ID;

use crate::state::AppState;

/// The HTTP routes: health, metrics, the REST API with its OpenAPI document and UI, and
/// the OAuth protected resource metadata.
pub fn routes() -> Router<AppState> {
    let (api, openapi) = api::router().split_for_parts();
    let document = document(&openapi);
    drop(openapi);
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics::render))
        .merge(api)
        .route(
            "/openapi.json",
            get(move || {
                let json = document.clone();
                async move { ([(http::header::CONTENT_TYPE, "application/json")], json) }
            }),
        )
        // The UI (vendored assets) under /docs, reading the document above.
        .merge(SwaggerUi::new("/docs").config(utoipa_swagger_ui::Config::from("/openapi.json")))
        .route(
            "/.well-known/oauth-protected-resource",
            get(authn::resource_metadata),
        )
        .route(
            "/.well-known/oauth-protected-resource/mcp",
            get(authn::resource_metadata),
        )
        .merge(oauth::routes())
}

/// The OpenAPI document, serialised once. The built `OpenApi` value is some 7 MiB of maps
/// and schemas (most of an idle gateway's heap, measured with heaptrack); its JSON is
/// 0.3 MB, and the value is dropped once this is made.
fn document(openapi: &utoipa::openapi::OpenApi) -> axum::body::Bytes {
    // Its maps are keyed by strings, so serialising cannot fail (tests/gateway/openapi.rs).
    axum::body::Bytes::from(serde_json::to_vec(openapi).expect("the OpenAPI document serialises"))
}

/// Wraps the whole application (every transport's routes) in the layers every request
/// runs through, outermost first: `observe` (request id, span, metrics), `limits` (body
/// cap, response deadline), authentication; plus the 404 and 405 problem documents.
pub fn layered(routes: Router<AppState>, state: AppState) -> Router {
    let limits = limits::Limits {
        body_bytes: state.config.server.body_limit,
        body_timeout: state.config.server.body_timeout,
        request_timeout: state.config.server.request_timeout,
    };
    let server = &state.config.server;
    let public = std::sync::Arc::new(origin::Public::new(
        &server.public_url,
        &server.cors_origins,
    ));
    routes
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(limits.body_bytes))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            authn::authenticate,
        ))
        .layer(axum::middleware::from_fn_with_state(
            limits,
            limits::enforce,
        ))
        .layer(axum::middleware::from_fn_with_state(
            public.clone(),
            origin::check,
        ))
        .layer(tower::util::option_layer(public.cors()))
        .layer(axum::middleware::from_fn(observe::observe))
        .with_state(state)
}

async fn not_found(uri: Uri) -> ApiError {
    ApiError::NotFound(format!(
        "no route for {}; the REST API lives under /api/v1",
        uri.path()
    ))
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::MethodNotAllowed(format!("{} does not accept {method}", uri.path()))
}
