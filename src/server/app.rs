//! The one place the application is assembled: the HTTP routes and the MCP routes as
//! siblings, inside the layers every request runs through. Tests drive this very router.

use axum::Router;

use crate::state::AppState;

pub fn router(state: AppState) -> Router {
    let routes = crate::http::routes().merge(crate::mcp::router(&state));
    crate::http::layered(routes, state)
}
