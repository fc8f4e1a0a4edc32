//! The application state shared by every request handler.

use std::ops::Deref;
use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;
use sea_orm::DatabaseConnection;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::nomad::NomadClient;
use crate::service::Service;

/// Cheap to clone: one `Arc` over [`App`].
#[derive(Clone)]
pub struct AppState(Arc<App>);

pub struct App {
    /// The configuration read at start.
    pub config: Config,
    /// The database pool (Postgres or SQLite).
    pub db: DatabaseConnection,
    /// The Nomad API client.
    pub nomad: NomadClient,
    /// The operations, shared by the REST handlers and the MCP tools.
    pub service: Service,
    /// Renders `/metrics`.
    pub metrics: PrometheusHandle,
    /// Cancelled when a stop signal arrives: `/readyz` turns 503 while everything else goes
    /// on for `GATEWAY_SHUTDOWN_DELAY`.
    pub draining: CancellationToken,
    /// Cancelled when the drain starts (after the delay): long-lived streams end, background
    /// tasks stop, the listener closes.
    pub shutdown: CancellationToken,
    /// Checks credentials on every request.
    pub auth: Arc<crate::auth::Authenticator>,
    /// The built-in OAuth authorization server (`GATEWAY_OAUTH=builtin`).
    pub oauth: Option<Arc<crate::service::oauth::AuthorizationServer>>,
    /// This replica among the others on the same database, and the bus between them.
    pub cluster: Arc<crate::db::cluster::Cluster>,
}

impl AppState {
    pub fn new(app: App) -> Self {
        AppState(Arc::new(app))
    }
}

impl Deref for AppState {
    type Target = App;

    fn deref(&self) -> &App {
        &self.0
    }
}
