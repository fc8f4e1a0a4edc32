//! TLS termination: builds the rustls server configuration from PEM files and swaps in a
//! new one when the files change (polled) or on SIGHUP, keeping open connections alive.

use std::path::Path;
use std::sync::Arc;

use axum_server::tls_rustls::RustlsConfig;
use rustls::RootCertStore;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_util::sync::CancellationToken;

use crate::config::{ClientAuth, ConfigError, TlsSettings};

/// ALPN: HTTP/2 first, HTTP/1.1 for older clients and load-balancer health checks.
const ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// The bytes a configuration was built from, to notice when the files change.
#[derive(Clone, PartialEq, Eq)]
struct Material {
    cert: Vec<u8>,
    key: Vec<u8>,
    client_ca: Option<Vec<u8>>,
}

fn read(variable: &str, path: &Path) -> Result<Vec<u8>, ConfigError> {
    std::fs::read(path)
        .map_err(|e| ConfigError::new(variable, format!("cannot read {}: {e}", path.display())))
}

fn read_material(settings: &TlsSettings) -> Result<Material, ConfigError> {
    Ok(Material {
        cert: read("GATEWAY_TLS_CERT", &settings.cert)?,
        key: read("GATEWAY_TLS_KEY", &settings.key)?,
        client_ca: match &settings.client_ca {
            Some(path) => Some(read("GATEWAY_TLS_CLIENT_CA", path)?),
            None => None,
        },
    })
}

fn certificates(
    variable: &str,
    path: &Path,
    pem: &[u8],
) -> Result<Vec<CertificateDer<'static>>, ConfigError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            ConfigError::new(
                variable,
                format!("{} is not valid PEM: {e}", path.display()),
            )
        })?;
    if certs.is_empty() {
        return Err(ConfigError::new(
            variable,
            format!(
                "{} contains no PEM certificate (-----BEGIN CERTIFICATE-----)",
                path.display()
            ),
        ));
    }
    Ok(certs)
}

fn build(settings: &TlsSettings, material: &Material) -> Result<rustls::ServerConfig, ConfigError> {
    let chain = certificates("GATEWAY_TLS_CERT", &settings.cert, &material.cert)?;
    let key = PrivateKeyDer::from_pem_slice(&material.key).map_err(|e| {
        ConfigError::new(
            "GATEWAY_TLS_KEY",
            format!(
                "{} holds no usable private key (PKCS#8, PKCS#1 or SEC1 PEM): {e}",
                settings.key.display()
            ),
        )
    })?;
    let builder = rustls::ServerConfig::builder();
    let builder = match (&settings.client_ca, &material.client_ca) {
        (Some(path), Some(pem)) => {
            let mut roots = RootCertStore::empty();
            for cert in certificates("GATEWAY_TLS_CLIENT_CA", path, pem)? {
                roots.add(cert).map_err(|e| {
                    ConfigError::new(
                        "GATEWAY_TLS_CLIENT_CA",
                        format!("{}: unusable CA certificate: {e}", path.display()),
                    )
                })?;
            }
            let verifier = WebPkiClientVerifier::builder(Arc::new(roots));
            let verifier = match settings.client_auth {
                ClientAuth::Optional => verifier.allow_unauthenticated(),
                ClientAuth::Required => verifier,
            };
            let verifier = verifier.build().map_err(|e| {
                ConfigError::new("GATEWAY_TLS_CLIENT_CA", format!("{}: {e}", path.display()))
            })?;
            builder.with_client_cert_verifier(verifier)
        }
        _ => builder.with_no_client_auth(),
    };
    let mut config = builder.with_single_cert(chain, key).map_err(|e| match e {
        rustls::Error::InconsistentKeys(_) => ConfigError::new(
            "GATEWAY_TLS_KEY",
            format!(
                "{} does not match the certificate in {}",
                settings.key.display(),
                settings.cert.display()
            ),
        ),
        other => ConfigError::new(
            "GATEWAY_TLS_CERT",
            format!("{}: {other}", settings.cert.display()),
        ),
    })?;
    config.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
    Ok(config)
}

/// The configuration in service plus the file contents it was built from, so the
/// reloader compares against exactly what was loaded (not a later read that could
/// already see a replacement).
pub struct Loaded {
    pub config: RustlsConfig,
    material: Material,
}

/// Loads the certificate, key and client CA, checking that they fit together.
pub fn load(settings: &TlsSettings) -> Result<Loaded, ConfigError> {
    let material = read_material(settings)?;
    let config = build(settings, &material)?;
    Ok(Loaded {
        config: RustlsConfig::from_config(Arc::new(config)),
        material,
    })
}

/// Watches the files and reloads `live` when they change (every `reload_interval`) or
/// when the process gets SIGHUP. A replacement that does not load is logged and the
/// certificate in service stays; handshakes already done are never touched, because
/// rustls reads the configuration only when a connection starts.
pub fn spawn_reloader(settings: TlsSettings, loaded: &Loaded, shutdown: CancellationToken) {
    let live = loaded.config.clone();
    let mut last = Some(loaded.material.clone());
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(settings.reload_interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut hangup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        {
            Ok(signal) => Some(signal),
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGHUP; certificates reload on the timer only");
                None
            }
        };
        loop {
            let forced = tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = ticker.tick() => false,
                Some(()) = async { match hangup.as_mut() { Some(s) => s.recv().await, None => std::future::pending().await } } => true,
            };
            reload_once(&settings, &live, &mut last, forced);
        }
    });
}

fn reload_once(
    settings: &TlsSettings,
    live: &RustlsConfig,
    last: &mut Option<Material>,
    forced: bool,
) {
    let material = match read_material(settings) {
        Ok(m) => m,
        Err(error) => {
            // Often a renewal in progress; the next tick tries again.
            tracing::error!(%error, "TLS files unreadable; keeping the certificate in service");
            metrics::counter!("gateway_tls_reloads_total", "outcome" => "failed").increment(1);
            return;
        }
    };
    if !forced && last.as_ref() == Some(&material) {
        return;
    }
    let outcome = match build(settings, &material) {
        Ok(config) => {
            live.reload_from_config(Arc::new(config));
            tracing::info!(tls.cert = %settings.cert.display(), forced, "TLS certificate reloaded");
            "reloaded"
        }
        Err(error) => {
            tracing::error!(%error, "new TLS files do not load; keeping the certificate in service");
            "failed"
        }
    };
    metrics::counter!("gateway_tls_reloads_total", "outcome" => outcome).increment(1);
    *last = Some(material);
}
