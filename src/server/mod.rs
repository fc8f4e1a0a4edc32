//! Running the gateway: open the database, build the app, bind, serve over HTTP or HTTPS,
//! and shut down gracefully on SIGTERM/SIGINT.

pub mod app;
mod conn;
pub mod tls;

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, ConfigError};
use crate::nomad::NomadClient;
use crate::state::{App, AppState};

/// Why `serve` stopped early: a configuration problem (exit code 2) or anything else.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Runtime(#[from] anyhow::Error),
}

/// Everything that needs checking before binding: TLS material and the Nomad TLS files.
/// Used by `serve` and `config check` alike.
pub fn preflight(config: &Config) -> Result<Option<tls::Loaded>, ConfigError> {
    crate::crypto::install_provider();
    NomadClient::new(&config.nomad)?;
    config.tls.as_ref().map(tls::load).transpose()
}

/// Builds the shared state: database (migrated), Nomad client, metrics.
pub async fn build_state(
    config: Config,
    shutdown: CancellationToken,
) -> Result<AppState, ServeError> {
    let nomad = NomadClient::new(&config.nomad)?;
    let db = crate::db::connect(&config.database)
        .await
        .context("opening the database")?;
    crate::db::migrate(&db)
        .await
        .context("migrating the database")?;
    let cluster = crate::db::cluster::Cluster::join(db.clone(), shutdown.clone())
        .await
        .context("joining the other replicas on the database")?;
    let audit = crate::service::audit::Audit::start(
        db.clone(),
        config.auth.audit_queue,
        &config.auth.audit_spool,
        config.server.shutdown_timeout,
    )
    .map_err(|e| ConfigError::new("GATEWAY_AUDIT_SPOOL", e.to_string()))?;
    let guard = crate::service::Guard::new(&config.auth, audit.clone(), db.clone());
    let oauth = config
        .oauth
        .builtin
        .then(|| {
            crate::service::oauth::AuthorizationServer::new(
                db.clone(),
                config.oauth.clone(),
                &config.auth,
                &config.server.public_url,
                Some(audit.clone()),
            )
            .map(std::sync::Arc::new)
        })
        .transpose()?;
    if let Some(oauth) = &oauth {
        oauth.spawn_sweeper(shutdown.clone());
    }
    let operations = crate::operations::Operations::new(
        db.clone(),
        nomad.clone(),
        crate::operations::Settings {
            retention: config.operations.retention,
            lease: config.operations.lease,
        },
    );
    operations.spawn(shutdown.clone());
    let auth = crate::auth::Authenticator::new(
        config.auth.clone(),
        config.server.public_url.clone(),
        db.clone(),
        Some(audit),
        oauth.clone(),
        shutdown.clone(),
    );
    if config.auth.enabled {
        crate::service::keys::bootstrap_admin_key(&db)
            .await
            .map_err(anyhow::Error::msg)?;
    } else {
        tracing::warn!(
            "authentication is off (GATEWAY_AUTH=off): every caller on this loopback listener acts as the local operator"
        );
    }
    Ok(AppState::new(App {
        config,
        db,
        service: crate::service::Service::with_guard(nomad.clone(), guard)
            .with_operations(operations),
        nomad,
        metrics: crate::http::metrics_recorder(),
        draining: CancellationToken::new(),
        oauth,
        shutdown,
        auth,
        cluster,
    }))
}

/// Runs until SIGTERM/SIGINT, then drains within `GATEWAY_SHUTDOWN_TIMEOUT`.
pub async fn serve(config: Config) -> Result<(), ServeError> {
    let tls = preflight(&config)?;
    let shutdown = CancellationToken::new();
    let listen = config.server.listen;
    let stopping = Stopping {
        delay: config.server.shutdown_delay,
        drain: config.server.shutdown_timeout,
    };
    let tls_settings = config.tls.clone();
    let server_settings = config.server.clone();
    let acceptor = conn::Limited::new(server_settings.max_connections);
    let state = build_state(config, shutdown.clone()).await?;
    let public_url = state.config.server.public_url.to_string();
    let app = app::router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();

    let listener = std::net::TcpListener::bind(listen)
        .with_context(|| format!("cannot listen on {listen} (GATEWAY_LISTEN)"))?;
    listener
        .set_nonblocking(true)
        .context("configuring the listener")?;
    let local = listener.local_addr().context("reading the bound address")?;
    let handle = axum_server::Handle::new();
    tokio::spawn(wait_for_signal(
        handle.clone(),
        state.draining.clone(),
        shutdown.clone(),
        stopping,
    ));

    match (tls, tls_settings) {
        (Some(loaded), Some(settings)) => {
            tls::spawn_reloader(settings, &loaded, shutdown.clone());
            tracing::info!(listen = %local, public_url, "serving HTTPS");
            let mut server = axum_server::from_tcp_rustls(listener, loaded.config)
                .context("starting the HTTPS server")?
                .map(|tls| tls.acceptor(acceptor));
            conn::configure(&mut server, &server_settings);
            server
                .handle(handle)
                .serve(app)
                .await
                .context("serving HTTPS")?;
        }
        _ => {
            tracing::info!(listen = %local, public_url, "serving HTTP");
            let mut server = axum_server::from_tcp(listener)
                .context("starting the HTTP server")?
                .acceptor(acceptor);
            conn::configure(&mut server, &server_settings);
            server
                .handle(handle)
                .serve(app)
                .await
                .context("serving HTTP")?;
        }
    }
    shutdown.cancel();
    state.cluster.leave().await;
    if let Some(operations) = state.service.operations() {
        operations.wait_stopped(Duration::from_secs(10)).await;
    }
    // Last: the requests that ran during the drain have queued their events by now.
    if let Some(audit) = state.service.audit() {
        audit.finish(Duration::from_secs(10)).await;
    }
    tracing::info!("stopped");
    Ok(())
}

/// The two phases after a stop signal: `GATEWAY_SHUTDOWN_DELAY` and `GATEWAY_SHUTDOWN_TIMEOUT`.
#[derive(Debug, Clone, Copy)]
struct Stopping {
    delay: Duration,
    drain: Duration,
}

/// On SIGTERM or SIGINT: mark the gateway draining (readiness 503) and go on serving for the
/// delay (a second signal ends it), then stop accepting, end the streams, let in-flight
/// requests finish, and cut what is left at the drain deadline.
async fn wait_for_signal(
    handle: axum_server::Handle<SocketAddr>,
    draining: CancellationToken,
    shutdown: CancellationToken,
    stopping: Stopping,
) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot install signal handlers; stop the gateway with SIGKILL");
        return;
    };
    let name = tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    };
    draining.cancel();
    if !stopping.delay.is_zero() {
        tracing::info!(
            signal = name,
            delay_ms = stopping.delay.as_millis() as u64,
            "draining: readiness answers 503, serving on until the delay ends (a second signal ends it now)"
        );
        tokio::select! {
            _ = tokio::time::sleep(stopping.delay) => {}
            _ = term.recv() => tracing::info!(signal = "SIGTERM", "second signal: the delay ends"),
            _ = int.recv() => tracing::info!(signal = "SIGINT", "second signal: the delay ends"),
        }
    }
    tracing::info!(
        signal = name,
        drain_ms = stopping.drain.as_millis() as u64,
        "shutting down"
    );
    shutdown.cancel();
    handle.graceful_shutdown(Some(stopping.drain));
}
